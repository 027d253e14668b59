//! subscription-receiver: CloudWatch Logs subscription payloads (direct, Kinesis Data Streams,
//! Firehose) into a target log group. All logic lives in `logship::receiver`; this file wires.

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::tracing;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use logship::config::ReceiverConfig;
use logship::receiver::Receiver;
use logship::writer::Writer;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Configuration errors stop the function at init, naming the variable.
    let config = ReceiverConfig::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let writer = Writer::new(logship::aws::logs_client().await, config.writer.clone());
    let receiver = Receiver::new(config, writer);
    let receiver = &receiver;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = receiver.handle(event.payload, now_ms()).await;
        outcome.summary.log();
        outcome.result.map_err(Error::from)
    }))
    .await
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
