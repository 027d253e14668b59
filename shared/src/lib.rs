//! logship: the logic of the three Lambda functions, by domain.
//!
//! - [`decode`]: subscription payloads (base64 → bounded gzip → JSON), pure.
//! - [`json`]: messages kept JSON-escaped from the payload to the request body, with their length.
//! - [`doc`]: the decoded document the messages point into, reference-counted in bulk.
//! - [`batch`]: the PutLogEvents rules and the packing of events into requests, pure.
//! - [`writer`]: PutLogEvents through the SDK — creation of what is missing, rejected events.
//! - [`failure`]: the stable `errorType` of each failure cause, as Lambda reports it.
//! - [`emf`]: CloudWatch metrics as Embedded Metric Format log lines.
//! - [`log_writer`]: the log-writer function — its input contract, direct and SQS.
//! - [`insights`]: the insights-reporter — query specs, aligned windows, Insights queries.
//! - [`config`]: environment, name templates and the service's naming rules.
//! - [`receiver`]: the subscription receiver — event shapes, filtering, enrichment, summary.
//! - [`redact`]: secrets and personal data replaced before anything leaves (`REDACT`).
//! - [`sample`]: deterministic sampling by event id (`SAMPLE_RULES`).
//! - [`retry`]: retries with backoff and full jitter, bounded by the invocation's deadline.
//! - [`aws`]: the SDK client, built once per container.
//! - [`alloc`]: the allocator's settings for a Lambda process.
//!
//! The binaries under `functions/` only wire these together.
//!
//! Unsafe code (SIMD scans, the decoded document's bulk reference counts, the allocator's
//! settings) says why it holds at every site: an unsafe operation inside an `unsafe fn` needs
//! its own block and its own `// SAFETY:` comment, and `make lint` refuses a block without one
//! (the workspace's `[workspace.lints]`).

pub mod alloc;
pub mod aws;
pub mod batch;
pub mod config;
pub mod decode;
pub mod doc;
pub mod emf;
pub mod failure;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod insights;
pub mod json;
pub mod log_writer;
pub mod receiver;
pub mod redact;
pub mod retry;
pub mod sample;
pub mod writer;
