//! Decoding CloudWatch Logs subscription payloads: base64 → gzip → JSON.
//!
//! A subscription filter delivers the same document three ways (directly to Lambda as
//! `awslogs.data`, as a Kinesis Data Streams record, as a Firehose record): the gzip of a JSON
//! object with `messageType`, `owner`, `logGroup`, `logStream`, `subscriptionFilters` and
//! `logEvents`. See "Using CloudWatch Logs subscription filters" in the CloudWatch Logs user
//! guide for the format.
//!
//! Everything here is pure and bounded: the inflater never produces more than
//! [`DecodeLimits::max_decoded_bytes`], so a gzip bomb costs at most that much memory, and no
//! input makes these functions panic.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;

use crate::doc::SharedDoc;
use crate::failure::{ErrorType, Typed};
use crate::json::{EscapedStr, JsonStrError};

pub(crate) mod document_reader;
pub mod firehose;

pub use firehose::{FirehoseContent, decode_firehose_record};

/// Default for `MAX_DECODED_BYTES`: 32 MiB. CloudWatch Logs invokes Lambda asynchronously
/// (payload ≤ 1 MB) and a Kinesis or Firehose record is ≤ 1 MiB; log text compresses 5–20×, so
/// 32 MiB holds every legitimate payload with room to spare and still fits a 128 MB function.
pub const DEFAULT_MAX_DECODED_BYTES: usize = 32 * 1024 * 1024;

/// What a decoder may spend on one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The most bytes gzip may inflate to; past this the payload is refused.
    pub max_decoded_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
        }
    }
}

/// Why a payload could not be decoded. Each variant names the cause; `Schema` also names the
/// source group/stream when the document got far enough to tell.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("payload is not valid base64: {0}")]
    Base64(String),
    #[error("payload is not gzip (expected magic bytes 1f 8b, found {found})")]
    NotGzip { found: String },
    #[error("gzip stream is truncated (unexpected end after {decoded} decoded bytes)")]
    TruncatedGzip { decoded: usize },
    #[error("gzip stream is corrupt: {0}")]
    CorruptGzip(String),
    #[error("payload inflates past MAX_DECODED_BYTES ({limit} bytes); refused")]
    TooLarge { limit: usize },
    /// A member after the first is damaged: which one, and where it starts.
    #[error("gzip member {number} (at byte {offset}): {cause}")]
    InMember {
        number: usize,
        offset: usize,
        cause: Box<DecodeError>,
    },
    #[error(
        "gzip stream has {len} bytes after member {member} (at byte {offset}, found {found}) that are not another member; refused"
    )]
    TrailingData {
        member: usize,
        offset: usize,
        len: usize,
        found: String,
    },
    #[error("record is empty: no gzip, no subscription document, no message text")]
    EmptyRecord,
    #[error("record is neither gzip (magic bytes 1f 8b) nor UTF-8 text (found {found}: {cause})")]
    NotGzipOrText { found: String, cause: String },
    #[error("record holds {len} bytes of text, past MAX_DECODED_BYTES ({limit} bytes); refused")]
    PlainTooLarge { len: usize, limit: usize },
    /// A document after the first of a record cannot be read: which one, and where it starts
    /// in the record's (inflated) text.
    #[error("document {number} of the record (at byte {offset}): {cause}")]
    InDocument {
        number: usize,
        offset: usize,
        cause: Box<DecodeError>,
    },
    #[error(
        "payload holds more than one subscription document: more text from byte {at}; a direct or Kinesis payload carries exactly one"
    )]
    AfterDocument { at: usize },
    #[error("payload is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("payload is not a CloudWatch Logs subscription document{source_hint}: {message}")]
    Schema {
        message: String,
        source_hint: SourceHint,
    },
}

impl Typed for DecodeError {
    /// Past the limit is a size problem (raise `MAX_DECODED_BYTES`, or it was a bomb); the rest
    /// is a payload that is not what a subscription sends.
    fn error_type(&self) -> ErrorType {
        match self {
            DecodeError::TooLarge { .. } | DecodeError::PlainTooLarge { .. } => {
                ErrorType::PayloadTooLarge
            }
            DecodeError::InMember { cause, .. } | DecodeError::InDocument { cause, .. } => {
                cause.error_type()
            }
            _ => ErrorType::PayloadDecodeError,
        }
    }
}

/// `logGroup`/`logStream` of a document that failed the schema, for the error message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceHint {
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
}

impl fmt::Display for SourceHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.log_group, &self.log_stream) {
            (Some(g), Some(s)) => write!(f, " (source {g} / {s})"),
            (Some(g), None) => write!(f, " (source {g})"),
            (None, Some(s)) => write!(f, " (source stream {s})"),
            (None, None) => Ok(()),
        }
    }
}

/// `messageType` of a subscription document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MessageType {
    /// Log events to ship.
    #[serde(rename = "DATA_MESSAGE")]
    Data,
    /// A health check CloudWatch Logs sends when a subscription is created; nothing to ship.
    #[serde(rename = "CONTROL_MESSAGE")]
    Control,
}

/// A decoded subscription document. Strings borrow from the inflated buffer where the JSON
/// holds them unescaped, so decoding does not allocate per event for most messages.
/// Unknown fields (`policyLevel` from account-level subscription policies, future additions)
/// are tolerated.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPayload<'a> {
    pub message_type: MessageType,
    #[serde(borrow)]
    pub owner: Cow<'a, str>,
    #[serde(borrow)]
    pub log_group: Cow<'a, str>,
    #[serde(borrow)]
    pub log_stream: Cow<'a, str>,
    #[serde(borrow, default)]
    pub subscription_filters: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    pub log_events: Vec<SubscriptionLogEvent<'a>>,
}

/// One log event of a subscription document. `id` and `message` stay JSON-escaped, as they
/// are in the document: they leave as JSON too (see [`crate::json`]).
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct SubscriptionLogEvent<'a> {
    /// The event id: a string from CloudWatch Logs, a number from some emulators; both kept
    /// as text.
    #[serde(borrow, deserialize_with = "string_or_number")]
    pub id: EscapedStr<'a>,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    #[serde(borrow, deserialize_with = "escaped_string")]
    pub message: EscapedStr<'a>,
}

/// Base64 (standard alphabet, as Lambda, Kinesis and Firehose use) to bytes. base64-simd
/// does the work (SIMD chosen at run time; already linked for the SDK); a refusal is explained
/// by the scalar decoder, which names the offending byte.
///
/// SIMD decodes faster than memory delivers text that is not in cache (a record deserialised
/// long before it is decoded, the rest of a batch): alone, it waited on loads most of the time
/// and ran at ~3 GB/s on such text, ~7 GB/s once the text is asked for ahead of the decoder
/// ([`B64_CHUNK`]). That was 7 % of the pipeline bench's time before, 2 % after (perf).
pub fn decode_base64(data: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    out.reserve(data.len() / 4 * 3);
    if decode_base64_ahead(data, out) {
        return Ok(());
    }
    out.clear();
    let err = base64::engine::general_purpose::STANDARD
        .decode_vec(data, out)
        .err()
        .map_or_else(|| "not canonical base64".to_string(), |e| e.to_string());
    out.clear();
    Err(DecodeError::Base64(err))
}

/// Base64 text decoded per call to base64-simd, while the cache lines [`B64_AHEAD`] bytes
/// further on are prefetched. A multiple of 4: base64 decodes four characters at a time, so the
/// chunks decode to what the whole does, provided padding ends only the last one.
const B64_CHUNK: usize = 1024;
/// How far ahead of the decoder the text is prefetched: about what memory delivers while a
/// chunk decodes (1–4 KB measured, 2 KB best).
const B64_AHEAD: usize = 2048;

/// [`decode_base64`]'s fast path: `data` decoded [`B64_CHUNK`] at a time with the text ahead
/// prefetched; `false` for anything base64-simd refuses, or padding before the last chunk
/// (valid within a chunk, not in the middle of the whole).
fn decode_base64_ahead(data: &[u8], out: &mut Vec<u8>) -> bool {
    prefetch(&data[..data.len().min(B64_AHEAD)]);
    let mut chunks = data.chunks(B64_CHUNK).enumerate().peekable();
    while let Some((k, chunk)) = chunks.next() {
        let ahead = (k * B64_CHUNK + B64_AHEAD).min(data.len());
        prefetch(&data[ahead..(ahead + B64_CHUNK).min(data.len())]);
        let before = out.len();
        if base64_simd::STANDARD.decode_append(chunk, out).is_err() {
            return false;
        }
        if chunks.peek().is_some() && out.len() - before != B64_CHUNK / 4 * 3 {
            return false;
        }
    }
    true
}

/// Asks for every cache line of `bytes` to be brought in, without waiting for any: a hint the
/// CPU may drop, which never faults.
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    for at in (0..bytes.len()).step_by(64) {
        let line = bytes[at..].as_ptr();
        // SAFETY: `line` points into `bytes`; a prefetch reads nothing the program sees and
        // does not fault (SSE, part of the x86-64 baseline).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(line.cast());
        }
        // SAFETY: as above; `prfm` is in every aarch64, and only hints.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) line, options(nostack, readonly, preserves_flags));
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let _ = line;
    }
}

/// Inflates a gzip stream into `out`: every member of it, never more than
/// `limits.max_decoded_bytes` in total.
///
/// A gzip stream may hold several members one after another, and decompresses to the
/// concatenation of their contents (RFC 1952, 2.2; what `gzip -d` and Python's `gzip` do).
/// CloudWatch Logs sends one member per payload, but a stream of several is still gzip, and
/// reading only the first would lose the rest without a word: every member is inflated, and
/// bytes after a member that do not start another are refused, naming where they are
/// ([`DecodeError::TrailingData`]).
///
/// The output is sized from the gzip trailer (ISIZE, the uncompressed length mod 2^32) but
/// capped at the limit: a lying trailer can neither make us over-allocate nor under-check.
/// libdeflate does the work in one call when the stream is one member whose trailer's size is
/// within the limit and true. It cannot say where a member ends: given several, it inflates the
/// first and ignores the rest. So it is used only when no second member can follow: when no
/// gzip header (`1f 8b 08`, reserved flags clear) appears past where the first member could end
/// (by chance ~1 in 2^27 positions of compressed data: those streams take the streaming path,
/// only slower). Otherwise the streaming zlib-rs inflater reads member after member, stopped one
/// byte past what the limit leaves, and decodes or names the fault.
pub fn gunzip_bounded(
    gz: &[u8],
    limits: DecodeLimits,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    if !is_gzip(gz) {
        out.clear();
        return Err(DecodeError::NotGzip { found: hex(gz) });
    }
    let limit = limits.max_decoded_bytes;
    // ISIZE, the trailer's uncompressed length mod 2^32 (a member is at least 18 bytes). Of the
    // last member: of the whole stream's only member on the fast path.
    let isize = (gz.len() >= GZIP_MIN_MEMBER).then(|| {
        let n = gz.len();
        u32::from_le_bytes([gz[n - 4], gz[n - 3], gz[n - 2], gz[n - 1]]) as usize
    });
    if let Some(isize) = isize.filter(|n| *n <= limit && !may_hold_a_second_member(gz)) {
        // Fast path: libdeflate inflates the whole member in one call into exactly the size
        // the trailer declares (≈3× zlib-rs on log payloads, see benches/pipeline.rs), and
        // checks the CRC and the size. Memory is bounded by the limit either way. What the
        // buffer held before is overwritten, so only its growth is zero-filled.
        out.truncate(isize);
        out.resize(isize, 0);
        let inflated = INFLATER.with(|d| d.borrow_mut().gzip_decompress(gz, out));
        if matches!(inflated, Ok(got) if got == isize) {
            return Ok(());
        }
        // A trailer that lies, a damaged stream, bytes after the member: the streaming
        // inflater below says exactly what is wrong (or decodes what libdeflate would not).
    }
    inflate_members(gz, limit, isize, out)
}

/// The smallest gzip member: a 10-byte header, an empty deflate block, the 8-byte trailer.
const GZIP_MIN_MEMBER: usize = 18;

/// Whether `bytes` start like gzip (ID1 ID2, RFC 1952).
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Up to the first four bytes, in hex, for an error message; `nothing` for none.
fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing".into();
    }
    bytes
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a second gzip member could start anywhere after the first could end: a member header
/// (`1f 8b`, CM 8 = deflate, the reserved FLG bits clear) at or past byte 18. `false` proves
/// that the stream holds one member (and maybe bytes that are not one).
fn may_hold_a_second_member(gz: &[u8]) -> bool {
    let Some(rest) = gz.get(GZIP_MIN_MEMBER..) else {
        return false;
    };
    memchr::memmem::find_iter(rest, &[0x1f, 0x8b, 0x08])
        .any(|at| rest.get(at + 3).is_none_or(|flg| flg & 0xe0 == 0))
}

/// The streaming inflater: every member of `gz`, one after another, into `out`, stopped one
/// byte past `limit` in total. `isize` (the last member's trailer) sizes the first reservation.
fn inflate_members(
    gz: &[u8],
    limit: usize,
    isize: Option<usize>,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    out.clear();
    if let Some(isize) = isize {
        out.reserve(isize.min(limit) + 1);
    }
    let mut rest = gz;
    let mut number = 1;
    loop {
        let offset = gz.len() - rest.len();
        let in_member = |cause: DecodeError| {
            if number == 1 {
                cause
            } else {
                DecodeError::InMember {
                    number,
                    offset,
                    cause: Box::new(cause),
                }
            }
        };
        // `take`: one byte past what the limit leaves tells "exactly at the limit" from "over
        // it". The decoder reads its member and stops there: `into_inner` is what follows.
        let left = (limit - out.len()) as u64;
        let mut reader = flate2::bufread::GzDecoder::new(rest).take(left + 1);
        match reader.read_to_end(out) {
            Ok(_) if out.len() > limit => {
                out.clear();
                out.shrink_to(limit);
                return Err(DecodeError::TooLarge { limit });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(in_member(DecodeError::TruncatedGzip { decoded: out.len() }));
            }
            Err(e) => return Err(in_member(DecodeError::CorruptGzip(e.to_string()))),
        }
        rest = reader.into_inner().into_inner();
        if rest.is_empty() {
            return Ok(());
        }
        if !is_gzip(rest) {
            return Err(DecodeError::TrailingData {
                member: number,
                offset: gz.len() - rest.len(),
                len: rest.len(),
                found: hex(rest),
            });
        }
        number += 1;
    }
}

thread_local! {
    /// libdeflate's decompressor holds ~30 KB of tables; one per thread, reused.
    static INFLATER: std::cell::RefCell<libdeflater::Decompressor> = std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// Parses an inflated subscription document. UTF-8 is checked once for the whole document
/// (far cheaper than serde_json's check of every string it borrows).
pub fn parse_payload(json: &[u8]) -> Result<SubscriptionPayload<'_>, DecodeError> {
    parse_text(std::str::from_utf8(json).map_err(not_utf8)?)
}

fn not_utf8(e: std::str::Utf8Error) -> DecodeError {
    DecodeError::InvalidJson(format!("not UTF-8: {e}"))
}

/// [`parse_payload`] of a document already known to be UTF-8: exactly one document, as a
/// direct delivery, a Kinesis record and a replayed delivery carry (only a Firehose record may
/// hold several, [`decode_firehose_record`]). Text after the document is refused, naming where
/// it starts ([`DecodeError::AfterDocument`]): several documents, e.g. from several gzip
/// members, are not read in part.
pub fn parse_text(text: &str) -> Result<SubscriptionPayload<'_>, DecodeError> {
    if let Some(doc) = document_reader::parse(text) {
        return Ok(doc);
    }
    // Not a document the one-pass reader takes: serde_json reads it or says what is wrong.
    parse_payload_serde(text).map_err(|e| match firehose::after_first_document(text) {
        Some(at) => DecodeError::AfterDocument { at },
        None => e,
    })
}

/// The reference reader (serde_json): the judge of what [`document_reader`] does not take, and
/// of [`document_reader`] itself in the tests.
pub(crate) fn parse_payload_serde(text: &str) -> Result<SubscriptionPayload<'_>, DecodeError> {
    let json = text.as_bytes();
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            DecodeError::Schema {
                message: e.to_string(),
                source_hint: source_hint(json),
            }
        } else {
            DecodeError::InvalidJson(e.to_string())
        }
    })
}

/// base64 → gzip → JSON in one call, with caller-owned scratch buffers reused across records.
/// Returns the document borrowing from `scratch.json`.
pub fn decode_data<'s>(
    data: &[u8],
    limits: DecodeLimits,
    scratch: &'s mut Scratch,
) -> Result<SubscriptionPayload<'s>, DecodeError> {
    decode_base64(data, &mut scratch.gz)?;
    gunzip_bounded(&scratch.gz, limits, &mut scratch.json)?;
    parse_payload(&scratch.json)
}

/// base64 → bounded gunzip → UTF-8 check, as [`decode_data`], into a document of its own (read
/// it with [`parse_text`]). The messages routed from it share it instead of being copied out
/// (`json::Message::within`), so it lives as long as they do: the scratch buffer it was
/// inflated into goes with it, and comes back with [`Scratch::recycle`] once they are written
/// (a fresh buffer would be zero-filled and page-faulted in again for every record).
pub fn decode_document(
    data: &[u8],
    limits: DecodeLimits,
    scratch: &mut Scratch,
) -> Result<SharedDoc, DecodeError> {
    decode_base64(data, &mut scratch.gz)?;
    gunzip_bounded(&scratch.gz, limits, &mut scratch.json)?;
    match String::from_utf8(std::mem::take(&mut scratch.json)) {
        Ok(text) => Ok(SharedDoc::new(text)),
        Err(e) => {
            let err = not_utf8(e.utf8_error());
            scratch.json = e.into_bytes();
            Err(err)
        }
    }
}

/// Buffers reused from one record to the next, so a Firehose batch does not allocate two fresh
/// buffers per record. A routed document ([`decode_document`]) takes `json` with it until it
/// is recycled after the write, so the records of a Kinesis batch each inflate into a buffer of
/// their own, and the next invocation reuses the largest.
#[derive(Debug, Default)]
pub struct Scratch {
    pub gz: Vec<u8>,
    pub json: Vec<u8>,
}

impl Scratch {
    /// Takes back the buffer of a [`decode_document`] document once nothing else holds it
    /// (the larger of it and the current one is kept).
    pub fn recycle(&mut self, doc: SharedDoc) {
        if let Ok(text) = doc.try_into_string() {
            let buf = text.into_bytes();
            if buf.capacity() > self.json.capacity() {
                self.json = buf;
            }
        }
    }
}

/// Best effort: the `logGroup` and `logStream` of a document that failed the schema.
fn source_hint(json: &[u8]) -> SourceHint {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Partial {
        log_group: Option<serde_json::Value>,
        log_stream: Option<serde_json::Value>,
    }
    let text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    match serde_json::from_slice::<Partial>(json) {
        Ok(p) => SourceHint {
            log_group: text(p.log_group),
            log_stream: text(p.log_stream),
        },
        Err(_) => SourceHint::default(),
    }
}

/// A JSON string, borrowed escaped from the document (serde_json validates it while it skips
/// it; [`EscapedStr::from_raw_json`] adds the surrogate check and the length).
fn escaped_string<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<EscapedStr<'a>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    EscapedStr::from_raw_json(raw.get()).map_err(|e| match e {
        JsonStrError::NotAString(found) => {
            de::Error::custom(format_args!("invalid type: {found}, expected a string"))
        }
        other => de::Error::custom(other),
    })
}

fn string_or_number<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<EscapedStr<'a>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?.get();
    match raw.as_bytes().first() {
        Some(b'"') => EscapedStr::from_raw_json(raw).map_err(de::Error::custom),
        Some(b'-' | b'0'..=b'9') => Ok(EscapedStr::from_raw_number(raw)),
        _ => Err(de::Error::custom(format_args!(
            "invalid type: {}, expected a string or a number",
            raw.chars().take(40).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    const DOC: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/a",
        "logStream":"s1","subscriptionFilters":["f"],"policyLevel":"ACCOUNT_LEVEL_POLICY",
        "logEvents":[{"id":"3600","timestamp":1700000000000,"message":"plain"},
                     {"id":42,"timestamp":1700000000001,"message":"esc \"q\" \u00fc"}]}"#;

    #[test]
    fn decodes_a_document_tolerating_unknown_fields_and_numeric_ids() {
        let mut s = Scratch::default();
        let p = decode_data(
            b64(&gz(DOC.as_bytes())).as_bytes(),
            DecodeLimits::default(),
            &mut s,
        )
        .unwrap();
        assert_eq!(p.message_type, MessageType::Data);
        assert_eq!(p.log_group, "/aws/lambda/a");
        assert_eq!(p.log_events.len(), 2);
        assert_eq!(p.log_events[0].message.escaped(), "plain");
        assert_eq!(p.log_events[1].id, "42");
        assert_eq!(p.log_events[1].message, "esc \"q\" ü");
        assert_eq!(
            p.log_events[1].message.escaped(),
            r#"esc \"q\" \u00fc"#,
            "kept escaped"
        );
        assert_eq!(p.log_events[1].message.len(), "esc \"q\" ü".len());
    }

    #[test]
    fn a_document_takes_the_scratch_buffer_and_recycling_gives_it_back() {
        let mut s = Scratch::default();
        let data = b64(&gz(DOC.as_bytes()));
        let doc = decode_document(data.as_bytes(), DecodeLimits::default(), &mut s).unwrap();
        assert_eq!(&*doc, DOC);
        assert_eq!(
            parse_text(&doc).unwrap(),
            parse_payload(DOC.as_bytes()).unwrap()
        );
        assert_eq!(s.json.capacity(), 0, "the document owns the buffer");
        // Still shared (a message not yet written): kept by its holder, not taken back.
        let held = doc.clone();
        s.recycle(doc);
        assert_eq!(s.json.capacity(), 0);
        s.recycle(held);
        assert!(s.json.capacity() >= DOC.len());
        // Not UTF-8: refused, and the buffer stays in the scratch.
        let bad = b64(&gz(b"{\"a\":\"\xff\"}"));
        let err = decode_document(bad.as_bytes(), DecodeLimits::default(), &mut s).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        assert!(s.json.capacity() >= DOC.len());
    }

    #[test]
    fn each_malformed_input_names_its_cause() {
        let mut s = Scratch::default();
        let l = DecodeLimits::default();
        let err = |d: &[u8], s: &mut Scratch| decode_data(d, l, s).unwrap_err().to_string();
        assert!(err(b"!!not base64!!", &mut s).contains("not valid base64"));
        assert!(
            err(b64(b"{\"plain\":\"json\"}").as_bytes(), &mut s)
                .contains("not gzip (expected magic bytes 1f 8b, found 7b 22 70 6c)")
        );
        assert!(err(b"", &mut s).contains("found nothing"));
        let full = gz(DOC.as_bytes());
        assert!(err(b64(&full[..full.len() / 2]).as_bytes(), &mut s).contains("truncated"));
        let mut corrupt = full.clone();
        corrupt[12] ^= 0xff;
        corrupt[13] ^= 0xff;
        let e = err(b64(&corrupt).as_bytes(), &mut s);
        assert!(e.contains("corrupt") || e.contains("truncated"), "{e}");
        assert!(err(b64(&gz(b"{not json")).as_bytes(), &mut s).contains("not valid JSON"));
        let e = err(
            b64(&gz(
                br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s"}"#,
            ))
            .as_bytes(),
            &mut s,
        );
        assert!(
            e.contains("missing field `logEvents`") && e.contains("(source /g / s)"),
            "{e}"
        );
        let e = err(b64(&gz(br#"{"messageType":"NOPE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[]}"#)).as_bytes(), &mut s);
        assert!(e.contains("unknown variant `NOPE`"), "{e}");
    }

    #[test]
    fn base64_decoded_a_chunk_at_a_time_is_the_whole_decoded() {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut out = Vec::new();
        let chunk_bytes = B64_CHUNK / 4 * 3;
        for n in [
            0,
            1,
            2,
            3,
            chunk_bytes - 1,
            chunk_bytes,
            chunk_bytes + 1,
            2 * chunk_bytes + 2,
            5000,
        ] {
            let bytes: Vec<u8> = (0..n).map(|k| (k * 7 + 3) as u8).collect();
            decode_base64(engine.encode(&bytes).as_bytes(), &mut out).unwrap();
            assert_eq!(out, bytes, "{n} bytes");
        }
        // Padding that ends the first chunk but not the text: each chunk alone is base64, the
        // whole is not.
        let first = engine.encode(vec![1u8; chunk_bytes - 1]);
        assert!(first.len() == B64_CHUNK && first.ends_with('='));
        let text = first + &engine.encode(b"more");
        assert!(engine.decode(&text).is_err());
        let err = decode_base64(text.as_bytes(), &mut out).unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
        assert!(out.is_empty());
        // A bad byte in a later chunk is named where it is.
        let mut bad = engine.encode(vec![9u8; 3000]).into_bytes();
        bad[2500] = b'!';
        let err = decode_base64(&bad, &mut out).unwrap_err().to_string();
        assert!(
            err.contains("not valid base64") && err.contains("2500"),
            "{err}"
        );
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        let bomb = gz(&vec![b' '; 4 * 1024 * 1024]);
        let mut s = Scratch::default();
        let limits = DecodeLimits {
            max_decoded_bytes: 1024 * 1024,
        };
        let e = decode_data(b64(&bomb).as_bytes(), limits, &mut s).unwrap_err();
        assert_eq!(e, DecodeError::TooLarge { limit: 1024 * 1024 });
        assert!(e.to_string().contains("MAX_DECODED_BYTES (1048576 bytes)"));
        assert!(
            s.json.capacity() <= 2 * 1024 * 1024 + 64,
            "capacity {}",
            s.json.capacity()
        );
        // Exactly at the limit is fine.
        let exact = gz(&vec![b' '; 1024 * 1024]);
        gunzip_bounded(&exact, limits, &mut s.json).unwrap();
        assert_eq!(s.json.len(), 1024 * 1024);
    }
    fn members(parts: &[&[u8]]) -> Vec<u8> {
        parts.iter().flat_map(|p| gz(p)).collect()
    }

    #[test]
    fn every_gzip_member_is_inflated() {
        let mut out = Vec::new();
        let l = DecodeLimits::default();
        // Two and three members, of different sizes and of the same size and content (which
        // libdeflate alone took for one member, the rest ignored).
        for parts in [
            &[&b"first "[..], b"second member"][..],
            &[b"first ", b"second"],
            &[b"same", b"same"],
            &[b"a", b"bb", b"ccc"],
            &[b"", b"after an empty member", b""],
        ] {
            gunzip_bounded(&members(parts), l, &mut out).unwrap();
            assert_eq!(out, parts.concat(), "{parts:?}");
        }
        // One member whose compressed bytes hold what looks like a second member's header
        // (stored, not compressed): read by the streaming path, the same.
        let stored = {
            let mut e = GzEncoder::new(Vec::new(), Compression::none());
            e.write_all(b"text \x1f\x8b\x08\x00 more text").unwrap();
            e.finish().unwrap()
        };
        assert!(may_hold_a_second_member(&stored));
        gunzip_bounded(&stored, l, &mut out).unwrap();
        assert_eq!(out, b"text \x1f\x8b\x08\x00 more text");
        assert!(!may_hold_a_second_member(&gz(DOC.as_bytes())));
    }

    #[test]
    fn the_limit_bounds_all_members_together() {
        let part = vec![b'x'; 400 * 1024];
        let three = members(&[&part, &part, &part]);
        let mut out = Vec::new();
        let at = |n: usize| DecodeLimits {
            max_decoded_bytes: n,
        };
        // Each member is within the limit, the three are not.
        let e = gunzip_bounded(&three, at(1024 * 1024), &mut out).unwrap_err();
        assert_eq!(e, DecodeError::TooLarge { limit: 1024 * 1024 });
        assert!(out.capacity() <= 1024 * 1024 + 64, "{}", out.capacity());
        // Exactly at the limit is fine.
        gunzip_bounded(&three, at(3 * 400 * 1024), &mut out).unwrap();
        assert_eq!(out.len(), 3 * 400 * 1024);
        let e = gunzip_bounded(&three, at(3 * 400 * 1024 - 1), &mut out).unwrap_err();
        assert_eq!(e.error_type(), ErrorType::PayloadTooLarge);
    }

    #[test]
    fn bytes_after_a_member_that_are_not_one_are_refused_naming_them() {
        let mut out = Vec::new();
        let l = DecodeLimits::default();
        let one = gz(b"first ");
        let mut junk = one.clone();
        junk.extend_from_slice(b"junk");
        let e = gunzip_bounded(&junk, l, &mut out).unwrap_err();
        assert_eq!(
            e,
            DecodeError::TrailingData {
                member: 1,
                offset: one.len(),
                len: 4,
                found: "6a 75 6e 6b".into()
            }
        );
        assert!(
            e.to_string()
                .contains(&format!("4 bytes after member 1 (at byte {}", one.len())),
            "{e}"
        );
        // Zeros after the second member.
        let mut padded = members(&[b"a", b"b"]);
        let at = padded.len();
        padded.extend_from_slice(&[0; 16]);
        let e = gunzip_bounded(&padded, l, &mut out)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!(
                "16 bytes after member 2 (at byte {at}, found 00 00 00 00)"
            )),
            "{e}"
        );
        // A second member cut short, or damaged, is named as the second.
        let two = members(&[b"first ", DOC.as_bytes()]);
        let e = gunzip_bounded(&two[..two.len() - 5], l, &mut out).unwrap_err();
        assert!(
            matches!(&e, DecodeError::InMember { number: 2, offset, cause }
                if *offset == one.len() && matches!(**cause, DecodeError::TruncatedGzip { .. })),
            "{e}"
        );
        assert!(
            e.to_string().starts_with(&format!(
                "gzip member 2 (at byte {}): gzip stream is truncated",
                one.len()
            )),
            "{e}"
        );
        let mut crc = two.clone();
        let n = crc.len();
        crc[n - 6] ^= 0xff;
        let e = gunzip_bounded(&crc, l, &mut out).unwrap_err().to_string();
        assert!(
            e.starts_with("gzip member 2") && e.contains("corrupt"),
            "{e}"
        );
        // A lone gzip magic after a member: a second member with nothing in it.
        let mut magic = one.clone();
        magic.extend_from_slice(&[0x1f, 0x8b]);
        let e = gunzip_bounded(&magic, l, &mut out).unwrap_err().to_string();
        assert!(e.starts_with("gzip member 2"), "{e}");
    }

    #[test]
    fn a_direct_or_kinesis_payload_is_read_from_every_member_and_holds_one_document() {
        let mut s = Scratch::default();
        let l = DecodeLimits::default();
        // One document split across members: all of it is read.
        let (x, y) = DOC.split_at(100);
        let split = b64(&members(&[x.as_bytes(), y.as_bytes()]));
        let doc = decode_document(split.as_bytes(), l, &mut s).unwrap();
        assert_eq!(
            parse_text(&doc).unwrap(),
            parse_payload(DOC.as_bytes()).unwrap()
        );
        // Two documents (two members, or one): refused, naming where the second starts, never
        // read in part.
        for (text, at) in [
            (format!("{DOC}{DOC}"), DOC.len()),
            (format!("{DOC}\n {DOC}\n"), DOC.len() + 2),
        ] {
            let (first, second) = text.split_at(DOC.len());
            let data = b64(&members(&[first.as_bytes(), second.as_bytes()]));
            let doc = decode_document(data.as_bytes(), l, &mut s).unwrap();
            let e = parse_text(&doc).unwrap_err();
            assert_eq!(e, DecodeError::AfterDocument { at });
            assert!(
                e.to_string().contains(&format!("more text from byte {at}")),
                "{e}"
            );
            assert_eq!(e.error_type(), ErrorType::PayloadDecodeError);
        }
        // Text after a document that is not one is refused the same way; text that is not a
        // document at all keeps serde_json's own account.
        let e = parse_text(&format!("{DOC} x")).unwrap_err();
        assert_eq!(e, DecodeError::AfterDocument { at: DOC.len() + 1 });
        let e = parse_text("{\"messageType\":\"DATA_MESSAGE\"} x").unwrap_err();
        assert!(e.to_string().contains("missing field `owner`"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn members_inflate_to_their_concatenation_within_the_limit(
            parts in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000), 1..5),
            limit in 0usize..6000,
        ) {
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let stream = members(&refs);
            let whole = parts.concat();
            let mut out = Vec::new();
            let got = gunzip_bounded(&stream, DecodeLimits { max_decoded_bytes: limit }, &mut out);
            if whole.len() <= limit {
                proptest::prop_assert_eq!(got, Ok(()));
                proptest::prop_assert_eq!(out, whole);
            } else {
                proptest::prop_assert_eq!(got, Err(DecodeError::TooLarge { limit }));
            }
        }
    }
}
