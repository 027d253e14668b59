//! logship: the logic of the three Lambda functions, by domain.
//!
//! - [`decode`]: subscription payloads (base64 → bounded gzip → JSON), pure.
//! - [`batch`]: the PutLogEvents rules and the packing of events into requests, pure.
//! - [`writer`]: PutLogEvents through the SDK — creation of what is missing, rejected events.
//! - [`config`]: environment, name templates and the service's naming rules.
//! - [`receiver`]: the subscription receiver — event shapes, filtering, enrichment, summary.
//! - [`aws`]: the SDK client, built once per container.
//!
//! The binaries under `functions/` only wire these together.

pub mod aws;
pub mod batch;
pub mod config;
pub mod decode;
pub mod receiver;
pub mod writer;
