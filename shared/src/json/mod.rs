//! JSON string contents kept escaped, from the subscription document to the PutLogEvents body.
//!
//! A log message arrives as a JSON string inside the decoded subscription document and leaves
//! as a JSON string inside a PutLogEvents request body (or a Firehose NDJSON line). Both are
//! JSON: the escaped text between the quotes can travel as it is, so the pipeline never
//! unescapes a message only to escape it again. That is most of the work a forwarder does per
//! byte on real logs, where JSON-in-JSON messages carry an escape every few characters.
//!
//! What the service counts is the *unescaped* UTF-8 length ([`EscapedStr::len`]); it is
//! computed by counting escape sequences, a block of bytes at a time. A message is unescaped only
//! when something must read its text: an include/exclude filter, an envelope that embeds a
//! JSON message, splitting an oversize event.
//!
//! Validity: an [`EscapedStr`] is only made from text serde_json has already accepted as a JSON
//! string (control characters and escape syntax checked) or by escaping text here; the length
//! scan adds the one check serde_json's raw mode skips, that `\u` surrogates come in pairs.
//!
//! # Layout
//!
//! The string scan is the receiver's hot loop, and it is written for several instruction sets.
//! As memchr lays out its `arch/` modules, each instruction set has a file of its own
//! (`x86_64/sse2.rs`, `x86_64/avx2.rs`, `aarch64/neon.rs`): its intrinsics, the `unsafe` they
//! need and why each use holds are read and reviewed together, under one `cfg`. Beside them:
//!
//! - `scan`: the scan itself, generic over the instruction set (the 64-byte block loop, the
//!   escapes carried from block to block, the escape-at-a-time scan), written once for all;
//! - `swar`: the portable instruction set, a `u64` at a time: other targets' scan, and the
//!   tests' second opinion on the others;
//! - `dispatch`: which scan runs on this CPU ([`only_quote_escapes`] and the string scan), the
//!   one place that asks;
//! - `text`: the escaped-text types ([`EscapedStr`], [`EscapedString`], [`Message`],
//!   [`JsonText`]), and `escape`: escaping and unescaping ([`escape_into`], [`unescape`]).
//!
//! Everything callers use is re-exported here, at the paths it always had.

mod dispatch;
mod escape;
mod scan;
mod swar;
mod text;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(test)]
mod tests;

pub use dispatch::only_quote_escapes;
pub(crate) use dispatch::scan_string;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use dispatch::{every_only_quote_escapes, every_scan};
pub use escape::{escape_into, unescape, write_str};
pub use text::{EscapedStr, EscapedString, JsonStrError, JsonText, Message};
