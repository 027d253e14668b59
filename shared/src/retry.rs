//! Retries bounded by the invocation's deadline.
//!
//! The SDK's own retries are switched off (see [`crate::aws`]): they know nothing of Lambda's
//! deadline, so a throttling burst could run an invocation into its timeout, and Lambda would
//! kill it without a word on what was written. Here every call is retried on throttling, 5xx,
//! `ServiceUnavailableException`, timeouts and connection errors, with exponential backoff and
//! full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog), and never past the
//! [`Deadline`]: when the next wait or attempt would cross it, the caller gets
//! [`RetryError::Deadline`] and fails the invocation with an account of what it wrote.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

/// A point in time no call may run past: the Lambda deadline minus a safety margin that leaves
/// time to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

/// Default margin kept between the last call and Lambda's deadline (`DEADLINE_MARGIN_MS`).
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(1_000);

impl Deadline {
    pub fn at(at: Instant) -> Self {
        Self { at }
    }

    pub fn after(d: Duration) -> Self {
        Self {
            at: Instant::now() + d,
        }
    }

    /// From the Lambda context's deadline (epoch milliseconds), less `margin`.
    ///
    /// Lambda sends epoch milliseconds. Not every local emulator does: cargo-lambda's sends the
    /// function's timeout, a duration (`600000`). A value that cannot be a date of this century
    /// is taken as such a duration from now, so the function behaves the same under both.
    pub fn from_epoch_ms(deadline_ms: u64, margin: Duration) -> Self {
        const YEAR_2001_MS: u64 = 978_307_200_000;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let deadline_ms = if deadline_ms < YEAR_2001_MS {
            now_ms + deadline_ms
        } else {
            deadline_ms
        };
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(margin);
        Self::after(left)
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn instant(&self) -> Instant {
        self.at
    }
}

/// Exponential backoff with full jitter: attempt `n` waits a random time in
/// `[0, min(cap, base · 2^n))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The wait before retry number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << n.min(20)).min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Counters of one or more retried calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryStats {
    /// Attempts after the first.
    pub retries: u64,
    /// Responses that were throttling errors.
    pub throttles: u64,
}

/// What a failed error means for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Throttled: retry after a backoff.
    Throttle,
    /// 5xx, ServiceUnavailable, timeout, connection or response error: retry after a backoff.
    Transient,
    /// Anything else: the same request would fail the same way.
    Permanent,
}

/// Error codes the service uses for throttling.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
];

/// Classifies an SDK error.
pub fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Class {
    match err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            if THROTTLING_CODES.contains(&code) || ctx.raw().status().as_u16() == 429 {
                Class::Throttle
            } else if code == "ServiceUnavailableException"
                || code == "InternalFailure"
                || ctx.raw().status().is_server_error()
            {
                Class::Transient
            } else {
                Class::Permanent
            }
        }
        // The target role could not be assumed: STS said no, or could not be reached. Its
        // answer is the reason; the invocation fails now, and Lambda's retry tries STS again.
        SdkError::DispatchFailure(_) if could_not_assume(err).is_some() => Class::Permanent,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Class::Transient
        }
        _ => Class::Permanent,
    }
}

/// The target role that could not be assumed, if that is why `err` happened (the SDK reports
/// a credentials provider's failure as a dispatch failure, the provider's error among its
/// sources).
pub fn could_not_assume<E>(err: &SdkError<E, HttpResponse>) -> Option<&crate::aws::CouldNotAssume> {
    let SdkError::DispatchFailure(d) = err else {
        return None;
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = d
        .as_connector_error()
        .map(|c| c as &(dyn std::error::Error + 'static));
    while let Some(e) = source {
        if let Some(c) = e.downcast_ref::<crate::aws::CouldNotAssume>() {
            return Some(c);
        }
        source = e.source();
    }
    None
}

/// Why a retried call gave up. (As large as the SDK's own error, which the SDK returns
/// unboxed too; boxing it would only cost the callers their pattern matches.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum RetryError<E> {
    /// A permanent error, as the service answered it.
    Failed(SdkError<E, HttpResponse>),
    /// The deadline came before a success; `last` says what the last attempt met.
    Deadline { attempts: u32, last: String },
}

impl<E: std::error::Error + 'static> std::fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryError::Failed(e) => write!(f, "{}", DisplayErrorContext(e)),
            RetryError::Deadline { attempts, last } => {
                write!(
                    f,
                    "the invocation's deadline came after {attempts} attempts (last: {last})"
                )
            }
        }
    }
}

/// Calls `op` until it succeeds, fails permanently, or the deadline comes.
pub async fn retry<T, E, F, Fut>(
    deadline: Deadline,
    backoff: Backoff,
    stats: &mut RetryStats,
    op: F,
) -> Result<T, RetryError<E>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    retry_classified(deadline, backoff, stats, classify, op).await
}

/// [`retry`] with the caller's classification: an operation may know more errors worth
/// waiting out (StartQuery's `LimitExceededException`: too many concurrent queries).
pub async fn retry_classified<T, E, F, Fut>(
    deadline: Deadline,
    backoff: Backoff,
    stats: &mut RetryStats,
    classify: impl Fn(&SdkError<E, HttpResponse>) -> Class,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempts = 0u32;
    // What the previous attempt met: the deadline can pass during the wait after it (the wait
    // is shorter than the time left, but the clock goes on), and the error should still say
    // why the calls were being retried.
    let mut previous: Option<String> = None;
    loop {
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Err(RetryError::Deadline {
                attempts,
                last: previous.unwrap_or_else(|| "no time left for an attempt".into()),
            });
        }
        attempts += 1;
        let last = match tokio::time::timeout(remaining, op()).await {
            Err(_) => {
                // Cut off by the deadline: still say what the calls were being retried for.
                let last = match previous {
                    Some(p) => format!("the attempt was still running; the one before met {p}"),
                    None => "the attempt was still running".into(),
                };
                return Err(RetryError::Deadline { attempts, last });
            }
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => match classify(&e) {
                Class::Permanent => return Err(RetryError::Failed(e)),
                class => {
                    if class == Class::Throttle {
                        stats.throttles += 1;
                    }
                    DisplayErrorContext(&e).to_string()
                }
            },
        };
        let wait = backoff.delay(attempts - 1);
        if wait >= deadline.remaining() {
            return Err(RetryError::Deadline { attempts, last });
        }
        tracing::debug!(attempt = attempts, wait_ms = wait.as_millis() as u64, error = %last, "retrying");
        tokio::time::sleep(wait).await;
        stats.retries += 1;
        previous = Some(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_full_jitter() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for n in 0..30 {
            let ceiling = Duration::from_millis(100u64.saturating_mul(1 << n.min(20)))
                .min(Duration::from_secs(1));
            for _ in 0..50 {
                assert!(b.delay(n) < ceiling.max(Duration::from_nanos(1)));
            }
        }
        // Full jitter: waits spread over the whole range, not around the ceiling.
        let small = (0..1000)
            .filter(|_| b.delay(10) < Duration::from_millis(250))
            .count();
        assert!((150..350).contains(&small), "{small}");
    }

    /// The deadline cuts an attempt off while it runs (a slow answer): the error still says
    /// what the attempt before it met, which is why the calls were being retried.
    #[tokio::test]
    async fn a_deadline_during_an_attempt_still_names_the_error_before_it() {
        use aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsError;
        let mut calls = 0;
        let mut stats = RetryStats::default();
        let backoff = Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
        };
        let result: Result<(), RetryError<PutLogEventsError>> = retry_classified(
            Deadline::after(Duration::from_millis(300)),
            backoff,
            &mut stats,
            |_| Class::Throttle,
            || {
                calls += 1;
                let first = calls == 1;
                async move {
                    if first {
                        Err(SdkError::construction_failure(
                            "ThrottlingException: slow down",
                        ))
                    } else {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Ok(())
                    }
                }
            },
        )
        .await;
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains("the attempt was still running; the one before met")
                && err.contains("slow down"),
            "{err}"
        );
        assert_eq!((calls, stats.throttles), (2, 1));
    }

    #[test]
    fn deadline_from_the_lambda_context() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = Deadline::from_epoch_ms(now_ms + 10_000, Duration::from_secs(1));
        let left = d.remaining();
        assert!(
            left <= Duration::from_secs(9) && left > Duration::from_millis(8_500),
            "{left:?}"
        );
        assert!(
            Deadline::from_epoch_ms(now_ms - 5, Duration::ZERO)
                .remaining()
                .is_zero()
        );
        // cargo-lambda's emulator sends the timeout itself: 10 minutes from now.
        let d = Deadline::from_epoch_ms(600_000, Duration::from_secs(1)).remaining();
        assert!(
            d <= Duration::from_secs(599) && d > Duration::from_secs(598),
            "{d:?}"
        );
    }
}
