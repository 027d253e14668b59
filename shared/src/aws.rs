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

/// The SDK configuration loader every client starts from, its pool sized for the default
/// `WRITE_CONCURRENCY` (see [`config_loader_for`]).
pub fn config_loader() -> aws_config::ConfigLoader {
    config_loader_for(crate::writer::DEFAULT_WRITE_CONCURRENCY)
}

/// The SDK configuration loader, keeping up to `connections` idle connections per host.
///
/// One HTTP client (hyper + rustls with ring) instead of the SDK's default stack: the same TLS
/// to AWS, a third less to compile and to load at cold start. Connections are kept alive
/// between requests and between invocations (hyper's pool: idle ones closed after 90 s), up to
/// the writer's concurrency per host, so a warm container's next burst of `WRITE_CONCURRENCY`
/// requests finds its connections made, and pays no TCP and TLS handshakes. The SDK's retries
/// are off: [`crate::retry`] retries with the invocation's deadline in view.
///
/// No connection is made during init: init is billed like an invocation (custom runtimes
/// always were; every runtime since August 2025), so a handshake there costs what it costs in
/// the first invocation, for one connection of the several a burst needs, and a connection
/// made at init may be closed by the service before a provisioned or idle container's first
/// invocation. See docs/performance.md, "Connections".
pub fn config_loader_for(connections: usize) -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(connections.max(1))
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

/// [`sdk_config`] with a pool sized for `common`'s `WRITE_CONCURRENCY`.
async fn sdk_config_for(common: &crate::config::CommonConfig) -> aws_config::SdkConfig {
    config_loader_for(common.writer.write_concurrency)
        .load()
        .await
}

/// A CloudWatch Logs client on [`sdk_config`].
pub async fn logs_client() -> Client {
    Client::new(&sdk_config().await)
}

/// The writer's client: [`target_client`] on the standard configuration.
pub async fn writer_client(common: &crate::config::CommonConfig) -> Client {
    own_and_target_clients(common).await.1
}

/// The function's own client (the reporter queries with it) and the writer's, on one
/// standard configuration.
pub async fn own_and_target_clients(common: &crate::config::CommonConfig) -> (Client, Client) {
    let own = sdk_config_for(common).await;
    let target = target_client(&own, &common.target, &common.function_name).await;
    (Client::new(&own), target)
}

/// The client that writes to the target: the function's own ([`logs_client`]'s configuration)
/// unless `TARGET_ROLE_ARN` or `TARGET_REGION` say otherwise.
///
/// With a role, credentials come from STS AssumeRole through aws-config's provider, with the
/// function's own credentials; the client's identity cache keeps them and refreshes them before
/// they expire, so a warm container does not call STS per invocation. Nothing is called here:
/// the role is assumed at the first write, so cold start does not wait for STS.
pub async fn target_client(
    own: &aws_config::SdkConfig,
    target: &crate::config::TargetAccess,
    function_name: &str,
) -> Client {
    if target.role_arn.is_none() && target.region.is_none() {
        return Client::new(own);
    }
    let mut config = own.to_builder();
    if let Some(region) = &target.region {
        config = config.region(aws_config::Region::new(region.clone()));
    }
    if let Some(role) = &target.role_arn {
        let mut assume = aws_config::sts::AssumeRoleProvider::builder(role.clone())
            .session_name(crate::config::TargetAccess::session_name(function_name))
            .configure(own);
        if let Some(id) = &target.external_id {
            assume = assume.external_id(id.clone());
        }
        let provider = AssumedRole {
            role_arn: role.clone(),
            inner: assume.build().await,
        };
        config = config.credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        );
    }
    Client::new(&config.build())
}

/// AssumeRole credentials whose errors name the role: a write that cannot get credentials
/// fails saying which role could not be assumed, and why.
#[derive(Debug)]
struct AssumedRole {
    role_arn: String,
    inner: aws_config::sts::AssumeRoleProvider,
}

impl aws_credential_types::provider::ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            self.inner.provide_credentials().await.map_err(|e| {
                aws_credential_types::provider::error::CredentialsError::provider_error(
                    CouldNotAssume {
                        role_arn: self.role_arn.clone(),
                        reason: aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e).to_string(),
                    },
                )
            })
        })
    }
}

/// Why the target role could not be assumed. [`crate::retry`] finds it in an SDK error's
/// sources: such a write is not retried within the invocation, and fails as
/// `AssumeRoleFailed`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("could not assume TARGET_ROLE_ARN {role_arn}: {reason}")]
pub struct CouldNotAssume {
    pub role_arn: String,
    pub reason: String,
}
