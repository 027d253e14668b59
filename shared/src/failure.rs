//! How a failed invocation is reported to Lambda: one stable `errorType` per cause.
//!
//! Lambda records a function error as `{"errorType", "errorMessage"}`. The `errorType` is
//! what the console, the function's log group, an on-failure destination's
//! `responsePayload`, and Step Functions' `Retry` / `Catch` (`ErrorEquals`) match on, so it is
//! part of the contract: a cause keeps its name from release to release, and different causes
//! have different names. The message says the details (and may change wording).
//!
//! lambda_runtime would otherwise name every error after the Rust type it was boxed as
//! (`&alloc::boxed::Box<dyn core::error::Error + …>`), and it reports no error at all for a
//! failed init: the process just exits. [`diagnostic`] gives the runtime our name, and
//! [`report_init_error`] posts an init failure to the Runtime API's `/init/error` the way the
//! Runtime API specifies, so a bad variable shows up as `InvalidConfiguration` too.

use std::fmt;

use lambda_runtime::Diagnostic;

/// Every `errorType` logship reports. The names are stable; see the README's table for what
/// Lambda does next with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorType {
    /// A variable is missing or invalid; the function cannot start (reported at init).
    InvalidConfiguration,
    /// The event is not one of the shapes the function accepts, or breaks its contract (a
    /// log-writer request or a query spec with a bad field). Retrying the same event fails
    /// the same way.
    InvalidEvent,
    /// A subscription payload is not base64, not gzip, truncated, corrupt, not JSON, or not a
    /// subscription document.
    PayloadDecodeError,
    /// A subscription payload inflates past `MAX_DECODED_BYTES`, or its envelopes would.
    PayloadTooLarge,
    /// The answer would pass Lambda's 6 MB response limit (a Firehose batch too large).
    ResponseTooLarge,
    /// CloudWatch Logs refused a write for good (access denied, an invalid parameter, a KMS
    /// key it cannot use, …); the message names the call, the group, the stream and the answer.
    WriteFailed,
    /// A Logs Insights query could not be started, failed, was cancelled or timed out, or its
    /// results could not be read.
    QueryFailed,
    /// The invocation's deadline (less `DEADLINE_MARGIN_MS`) came while calls were still being
    /// retried (throttling, 5xx) or a query was still running.
    DeadlineExceeded,
    /// `TARGET_ROLE_ARN` could not be assumed (STS refused, or could not be reached); the
    /// message names the role and STS's answer. Nothing was written.
    AssumeRoleFailed,
}

impl ErrorType {
    /// Every type, in the order of the README's table.
    pub const ALL: [ErrorType; 9] = [
        ErrorType::InvalidConfiguration,
        ErrorType::InvalidEvent,
        ErrorType::PayloadDecodeError,
        ErrorType::PayloadTooLarge,
        ErrorType::ResponseTooLarge,
        ErrorType::WriteFailed,
        ErrorType::QueryFailed,
        ErrorType::DeadlineExceeded,
        ErrorType::AssumeRoleFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidConfiguration => "InvalidConfiguration",
            ErrorType::InvalidEvent => "InvalidEvent",
            ErrorType::PayloadDecodeError => "PayloadDecodeError",
            ErrorType::PayloadTooLarge => "PayloadTooLarge",
            ErrorType::ResponseTooLarge => "ResponseTooLarge",
            ErrorType::WriteFailed => "WriteFailed",
            ErrorType::QueryFailed => "QueryFailed",
            ErrorType::DeadlineExceeded => "DeadlineExceeded",
            ErrorType::AssumeRoleFailed => "AssumeRoleFailed",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows which [`ErrorType`] it is reported as.
pub trait Typed: std::error::Error {
    fn error_type(&self) -> ErrorType;
}

/// The runtime's report of `error`: its stable type and its message. Also logged as one
/// structured line (`invocation failed`, with `error_type` and `error`): a custom runtime's
/// error is not written to the function's log group by Lambda, and the alarms' runbook
/// searches it there.
pub fn diagnostic<E: Typed>(error: E) -> Diagnostic {
    tracing::error!(error_type = %error.error_type(), error = %error, "invocation failed");
    Diagnostic {
        error_type: error.error_type().as_str().to_owned(),
        error_message: error.to_string(),
    }
}

/// The configuration read at init, passed through; an error is logged, reported to the
/// Runtime API ([`report_init_error`]) and returned, for `main` to exit with.
pub async fn checked_config<T, E: Typed>(config: Result<T, E>) -> Result<T, E> {
    if let Err(e) = &config {
        tracing::error!(error = %e, error_type = %e.error_type(), "invalid configuration");
        report_init_error(e).await;
    }
    config
}

/// The Runtime API's path for a failed init.
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// Reports a failed init to the Runtime API (`POST /runtime/init/error`, the error type in
/// `Lambda-Runtime-Function-Error-Type` and the body), as the Runtime API asks a runtime to
/// before it exits. Best effort: the caller exits with the error either way, and the log line
/// it wrote names the cause. Outside Lambda (`AWS_LAMBDA_RUNTIME_API` unset) nothing is sent.
pub async fn report_init_error<E: Typed>(error: &E) {
    let Some(api) = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .filter(|a| !a.is_empty())
    else {
        return;
    };
    let Ok(uri) = format!("http://{api}").parse() else {
        tracing::warn!(
            api,
            "AWS_LAMBDA_RUNTIME_API is not an address; init error not reported"
        );
        return;
    };
    let error_type = error.error_type().as_str();
    let body = serde_json::json!({"errorType": error_type, "errorMessage": error.to_string()});
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri(INIT_ERROR_PATH)
        .header("Lambda-Runtime-Function-Error-Type", error_type)
        .header("Content-Type", "application/json")
        .body(lambda_runtime_api_client::body::Body::from(
            body.to_string(),
        ));
    let sent = match (
        request,
        lambda_runtime_api_client::Client::builder()
            .with_endpoint(uri)
            .build(),
    ) {
        (Ok(request), Ok(client)) => client.call(request).await.map(|_| ()),
        (Err(e), _) => Err(e.into()),
        (_, Err(e)) => Err(e.into()),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "the init error could not be reported to the Runtime API");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_stable() {
        let names: Vec<&str> = ErrorType::ALL.iter().map(|t| t.as_str()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        // The contract: these exact strings (Step Functions and alarms match on them).
        assert_eq!(
            names,
            [
                "InvalidConfiguration",
                "InvalidEvent",
                "PayloadDecodeError",
                "PayloadTooLarge",
                "ResponseTooLarge",
                "WriteFailed",
                "QueryFailed",
                "DeadlineExceeded",
                "AssumeRoleFailed"
            ]
        );
        for t in ErrorType::ALL {
            assert_eq!(format!("{t:?}"), t.as_str());
        }
    }
}
