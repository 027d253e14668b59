//! The SDK client, built once per container (in `main`) and shared by every invocation.
//!
//! Endpoint, region and credentials come from the SDK's standard sources — in Lambda the
//! execution role's variables, on a laptop `AWS_ENDPOINT_URL` pointing at the local emulator.
//! Nothing here adds endpoint flags of its own.

use aws_config::BehaviorVersion;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudwatchlogs::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Connecting to CloudWatch Logs takes milliseconds; one that takes seconds is better retried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The SDK configuration loader every client starts from. One HTTP client (hyper + rustls with
/// ring) instead of the SDK's default stack: the same TLS to AWS, a third less to compile and
/// to load at cold start. The SDK's retries are off: [`crate::retry`] retries with the
/// invocation's deadline in view.
pub fn config_loader() -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
}

/// Loads the shared SDK configuration from the standard sources. Credentials are resolved
/// lazily, on the first request — nothing slow runs in init.
pub async fn sdk_config() -> aws_config::SdkConfig {
    config_loader().load().await
}

/// A CloudWatch Logs client on [`sdk_config`].
pub async fn logs_client() -> Client {
    Client::new(&sdk_config().await)
}
