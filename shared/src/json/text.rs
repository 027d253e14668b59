//! The escaped-text types: the content of a JSON string kept escaped, with the length of the
//! text it stands for ([`EscapedStr`]; owned, [`EscapedString`]; sharing the decoded document,
//! [`Message`]), and JSON text this crate wrote ([`JsonText`]).

use std::borrow::Cow;
use std::fmt;

use super::dispatch::scan_string;
use super::escape::{escape_into, unescape, unescaped_len_slow};
use crate::doc::{Refs, SharedDoc};

/// The content of a JSON string, between its quotes, escapes kept, and the length of the text
/// it stands for. Borrowed from a decoded document.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EscapedStr<'a> {
    pub(super) escaped: &'a str,
    pub(super) len: usize,
}

/// Why an escaped string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonStrError {
    #[error("expected a JSON string, found {0}")]
    NotAString(String),
    #[error("lone surrogate in \\u escape at byte {0}")]
    LoneSurrogate(usize),
    #[error("invalid escape at byte {0}")]
    InvalidEscape(usize),
}

impl<'a> EscapedStr<'a> {
    /// From a raw JSON value serde_json has validated (`"…"` with its quotes, as
    /// `serde_json::value::RawValue::get` returns it).
    pub fn from_raw_json(raw: &'a str) -> Result<Self, JsonStrError> {
        let inner = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .filter(|_| raw.len() >= 2)
            .ok_or_else(|| JsonStrError::NotAString(raw.chars().take(40).collect::<String>()))?;
        // serde_json has checked the string but for surrogate pairs; the scan checks those too
        // and counts the length. When it refuses, the careful path says where and why.
        match scan_string(raw, 1) {
            Some((end, s)) if end == raw.len() - 1 => Ok(s),
            _ => Err(unescaped_len_slow(inner)
                .err()
                .unwrap_or(JsonStrError::InvalidEscape(0))),
        }
    }

    /// From the raw text of a JSON number: digits, sign, dot and exponent need no escaping.
    pub fn from_raw_number(raw: &'a str) -> Self {
        Self {
            escaped: raw,
            len: raw.len(),
        }
    }

    /// `text` escaped into `buf` (cleared first) as [`escape_into`] escapes it, for text that
    /// did not come as a JSON string: a line of the messages Firehose's message extraction left.
    pub fn escaping(text: &str, buf: &'a mut String) -> Self {
        buf.clear();
        escape_into(text, buf);
        let buf: &'a String = buf;
        Self {
            escaped: buf,
            len: text.len(),
        }
    }

    /// Escaped content as it is and the length of its text, which the caller knows (a
    /// redacted message the redactor wrote escaped).
    pub(crate) fn from_parts(escaped: &'a str, len: usize) -> Self {
        debug_assert_eq!(unescape(escaped).len(), len, "{escaped:?}");
        Self { escaped, len }
    }

    /// The escaped content, without quotes.
    pub fn escaped(&self) -> &'a str {
        self.escaped
    }

    /// UTF-8 bytes of the text.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text; borrowed when the content holds no escape.
    pub fn text(&self) -> Cow<'a, str> {
        unescape(self.escaped)
    }
}

impl fmt::Debug for EscapedStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped)
    }
}

impl PartialEq<str> for EscapedStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.len == other.len() && self.text() == other
    }
}

impl PartialEq<&str> for EscapedStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

/// An owned [`EscapedStr`] of text made here: a redacted message.
#[derive(Clone, PartialEq, Eq)]
pub struct EscapedString {
    escaped: String,
    len: usize,
}

impl EscapedString {
    /// Escapes `text`.
    pub fn from_text(text: &str) -> Self {
        let mut escaped = String::with_capacity(text.len() + 8);
        escape_into(text, &mut escaped);
        Self {
            escaped,
            len: text.len(),
        }
    }

    /// Escaped content as it is and the length of its text, which the caller knows (the
    /// redactor rewrites escaped text without unescaping it).
    pub(crate) fn from_parts(escaped: String, len: usize) -> Self {
        debug_assert_eq!(unescape(&escaped).len(), len, "{escaped:?}");
        Self { escaped, len }
    }

    pub fn as_escaped(&self) -> EscapedStr<'_> {
        EscapedStr {
            escaped: &self.escaped,
            len: self.len,
        }
    }
}

impl fmt::Debug for EscapedString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_escaped().fmt(f)
    }
}

/// An owned [`EscapedStr`]: the message of a log event on its way to PutLogEvents.
///
/// The escaped text lives in a shared buffer: the messages of one payload are ranges of the
/// decoded document itself ([`Message::within`]), so routing a payload copies no message and
/// allocates nothing per event. A message made from text has a buffer of its own.
#[derive(Clone)]
pub struct Message {
    pub(super) buf: SharedDoc,
    start: u32,
    end: u32,
    len: usize,
}

impl Message {
    /// Escapes `text`.
    pub fn from_text(text: &str) -> Self {
        Self::from(EscapedString::from_text(text))
    }

    /// `s` where it lies in `doc`, sharing `doc` (nothing copied); `None` when `s` is not a
    /// slice of `doc` or ends past 4 GiB into it. Takes one of the references `doc` holds
    /// (a payload's messages take theirs at once: [`SharedDoc::refs`]).
    pub fn within(doc: &mut Refs<'_>, s: EscapedStr<'_>) -> Option<Self> {
        let text: &str = doc.doc();
        let base = text.as_ptr() as usize;
        let at = (s.escaped.as_ptr() as usize).checked_sub(base)?;
        let end = at.checked_add(s.escaped.len())?;
        if end > text.len() {
            return None;
        }
        let (start, end) = (u32::try_from(at).ok()?, u32::try_from(end).ok()?);
        Some(Self {
            buf: doc.take()?,
            start,
            end,
            len: s.len,
        })
    }

    /// The escaped text at `range` of `doc`, standing for `len` bytes of text (a payload's
    /// redacted messages share one buffer); takes one of the references `doc` holds.
    pub fn at(doc: &mut Refs<'_>, range: std::ops::Range<usize>, len: usize) -> Option<Self> {
        let text: &str = doc.doc();
        let escaped = text.get(range.clone())?;
        debug_assert_eq!(unescape(escaped).len(), len);
        let (start, end) = (
            u32::try_from(range.start).ok()?,
            u32::try_from(range.end).ok()?,
        );
        Some(Self {
            buf: doc.take()?,
            start,
            end,
            len,
        })
    }

    /// Drops messages, giving their references back in runs ([`crate::doc::release`]): the
    /// messages of a batch come from few documents.
    pub fn release(messages: impl IntoIterator<Item = Message>) {
        crate::doc::release(messages.into_iter().map(|m| m.buf));
    }

    /// Copies an escaped string as it is.
    pub fn from_escaped(s: EscapedStr<'_>) -> Self {
        Self::whole(s.escaped.to_owned(), s.len)
    }

    fn whole(escaped: String, len: usize) -> Self {
        let end = u32::try_from(escaped.len()).expect("a message under 4 GiB");
        Self {
            buf: SharedDoc::new(escaped),
            start: 0,
            end,
            len,
        }
    }

    pub fn as_escaped(&self) -> EscapedStr<'_> {
        EscapedStr {
            escaped: self.escaped(),
            len: self.len,
        }
    }

    /// The escaped content, without quotes: what goes between the quotes on the wire.
    pub fn escaped(&self) -> &str {
        &self.buf[self.start as usize..self.end as usize]
    }

    /// UTF-8 bytes of the text, as the service counts them.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text.
    pub fn text(&self) -> Cow<'_, str> {
        unescape(self.escaped())
    }
}

impl Default for Message {
    fn default() -> Self {
        Self::whole(String::new(), 0)
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.escaped() == other.escaped()
    }
}

impl Eq for Message {}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

impl From<EscapedString> for Message {
    fn from(s: EscapedString) -> Self {
        Self::whole(s.escaped, s.len)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::from_text(text)
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::from_text(&text)
    }
}

impl PartialEq<str> for Message {
    fn eq(&self, other: &str) -> bool {
        self.as_escaped() == *other
    }
}

impl PartialEq<&str> for Message {
    fn eq(&self, other: &&str) -> bool {
        self.as_escaped() == **other
    }
}

/// JSON text this crate wrote, handed to the Lambda runtime as an answer.
///
/// The runtime serialises an answer with `serde_json::to_vec`. A `Box<RawValue>` would do, but
/// `RawValue::from_string` parses the whole text first: a Firehose answer is up to 6 MB of
/// base64 in a structure this crate wrote, and that parse was about 12 % of an invocation. This
/// type serialises the way `RawValue` does (a struct named by serde_json's raw-value marker,
/// which its serializer writes out verbatim) without the parse. Debug builds still parse every
/// answer ([`JsonText::new`]), so the tests check each one; `raw_value_marker_is_serde_jsons`
/// pins the marker so that a serde_json release that changes it fails the build's tests rather
/// than a deployed function.
#[derive(Clone, PartialEq, Eq)]
pub struct JsonText(String);

/// The struct name and field serde_json's serializer writes verbatim (`serde_json::raw::TOKEN`,
/// what `RawValue`'s own `Serialize` uses). Only serde_json's serializer gives it that meaning:
/// a [`JsonText`] is for the runtime's `serde_json::to_vec`, not for other formats.
const RAW_VALUE_MARKER: &str = "$serde_json::private::RawValue";

impl JsonText {
    /// Text known to be one JSON value, because the caller wrote it.
    pub fn new(text: String) -> Self {
        debug_assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok(),
            "not JSON: {text:.200}"
        );
        Self(text)
    }

    pub fn get(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonText({:.200})", self.0)
    }
}

impl serde::Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct(RAW_VALUE_MARKER, 1)?;
        s.serialize_field(RAW_VALUE_MARKER, self.0.as_str())?;
        s.end()
    }
}
