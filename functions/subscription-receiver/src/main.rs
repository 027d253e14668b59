//! subscription-receiver: CloudWatch Logs subscription payloads (direct, Kinesis Data Streams,
//! Firehose) into a target log group. All logic lives in `logship::receiver`; this file wires.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use logship::config::ReceiverConfig;
use logship::emf::MetricRecord;
use logship::failure;
use logship::receiver::Receiver;
use logship::writer::{WriteContext, Writer};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logship::alloc::keep_freed_memory();
    tracing::init_default_subscriber();
    // Configuration errors stop the function at init, naming the variable
    // (errorType InvalidConfiguration).
    let config = failure::checked_config(ReceiverConfig::from_env()).await?;
    // Writes go as TARGET_ROLE_ARN, to TARGET_REGION, when they are set (assumed lazily);
    // sources' tags (PROPAGATE_SOURCE_TAGS) are read as the function itself.
    let (own, target) = logship::aws::own_and_target_clients(&config.common).await;
    let writer = Writer::new(target, config.common.writer.clone());
    let receiver = Receiver::new(config, writer).with_source_tags(own);
    let receiver = &receiver;
    // The event is taken as JSON text and the answer given as JSON text: the receiver reads
    // the shape it needs straight from the bytes and writes its answer once.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            let common = &receiver.config().common;
            let ctx = WriteContext::for_invocation(event.context.deadline, common.deadline_margin);
            let outcome = receiver.handle(&event.payload, ctx).await;
            outcome.summary.log();
            let base = || {
                MetricRecord::new(&common.metrics_namespace)
                    .dimension("FunctionName", &common.function_name)
            };
            outcome.summary.metrics(base()).emit(ctx.now_ms);
            for record in outcome.summary.redaction_metrics(base) {
                record.emit(ctx.now_ms);
            }
            outcome.result.map_err(failure::diagnostic)
        },
    ))
    .await
}
