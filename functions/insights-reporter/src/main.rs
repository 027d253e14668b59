//! insights-reporter: scheduled CloudWatch Logs Insights queries, republished as log events and
//! as Embedded Metric Format metrics. All logic lives in `logship::insights`; this file wires.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use logship::emf::MetricRecord;
use logship::failure;
use logship::insights::query::QueryRunner;
use logship::insights::{MetricLines, Reporter, ReporterConfig};
use logship::writer::{WriteContext, Writer};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logship::alloc::keep_freed_memory();
    tracing::init_default_subscriber();
    // Configuration errors stop the function at init, naming the variable
    // (errorType InvalidConfiguration).
    let config = failure::checked_config(ReporterConfig::from_env()).await?;
    // Queries run as the function itself; rows are written as TARGET_ROLE_ARN, to
    // TARGET_REGION, when they are set.
    let (client, target) = logship::aws::own_and_target_clients(&config.common).await;
    let writer = Writer::new(target, config.common.writer.clone());
    // Rows' EMF records are printed as each page is read, not held to the end.
    let print = MetricLines(std::sync::Arc::new(|line: &str| println!("{line}")));
    let reporter = Reporter::new(config, QueryRunner::new(client), writer).with_metric_lines(print);
    let reporter = &reporter;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let common = &reporter.config().common;
        let ctx = WriteContext::for_invocation(event.context.deadline, common.deadline_margin);
        let outcome = reporter.handle(event.payload, ctx).await;
        outcome.summary.log();
        // The function's own counters (rows' records went out as their pages were read).
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
