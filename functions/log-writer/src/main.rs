//! log-writer: log events from any caller (direct invocation, SQS) into a log group and
//! stream. All logic lives in `logship::log_writer`; this file wires.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use logship::emf::MetricRecord;
use logship::failure;
use logship::log_writer::{LogWriter, LogWriterConfig};
use logship::writer::{WriteContext, Writer};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logship::alloc::keep_freed_memory();
    tracing::init_default_subscriber();
    // Configuration errors stop the function at init, naming the variable
    // (errorType InvalidConfiguration).
    let config = failure::checked_config(LogWriterConfig::from_env()).await?;
    // Writes go as TARGET_ROLE_ARN, to TARGET_REGION, when they are set (assumed lazily).
    let writer = Writer::new(
        logship::aws::writer_client(&config.common).await,
        config.common.writer.clone(),
    );
    let function = LogWriter::new(config, writer);
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let common = &function.config().common;
        let ctx = WriteContext::for_invocation(event.context.deadline, common.deadline_margin);
        let outcome = function.handle(event.payload, ctx).await;
        outcome.summary.log();
        outcome
            .summary
            .report
            .metrics(
                MetricRecord::new(&common.metrics_namespace)
                    .dimension("FunctionName", &common.function_name),
            )
            .emit(ctx.now_ms);
        outcome.result.map_err(failure::diagnostic)
    }))
    .await
}
