//! Text escaped as JSON string content and unescaped back, both as serde_json does them, and
//! the careful byte-at-a-time reading that names what a scan refused.

use std::borrow::Cow;

use super::swar::{control_bytes, eq_bytes, word};
use super::text::JsonStrError;

/// Byte by byte, with `\u` escapes decoded (a surrogate pair is one 4-byte character; a lone
/// surrogate is refused, as serde_json refuses it when it reads the string as text): names the
/// fault [`scan_string`](super::scan_string) found.
pub(super) fn unescaped_len_slow(escaped: &str) -> Result<usize, JsonStrError> {
    let b = escaped.as_bytes();
    let mut len = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            len += 1;
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'u') => {
                let (c, used) = decode_u(b, i)?;
                len += c.len_utf8();
                i += used;
            }
            Some(_) => {
                len += 1;
                i += 2;
            }
            None => return Err(JsonStrError::InvalidEscape(i)),
        }
    }
    Ok(len)
}

/// Decodes the `\uXXXX` (or surrogate pair `\uXXXX\uXXXX`) at `b[i..]`: the character and the
/// bytes it used.
pub(super) fn decode_u(b: &[u8], i: usize) -> Result<(char, usize), JsonStrError> {
    let hex = |at: usize| -> Result<u32, JsonStrError> {
        let digits = b
            .get(at..at + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or(JsonStrError::InvalidEscape(at))?;
        Ok(digits
            .iter()
            .fold(0, |v, d| (v << 4) | (*d as char).to_digit(16).unwrap_or(0)))
    };
    let hi = hex(i + 2)?;
    match hi {
        0xD800..=0xDBFF => {
            if b.get(i + 6) != Some(&b'\\') || b.get(i + 7) != Some(&b'u') {
                return Err(JsonStrError::LoneSurrogate(i));
            }
            let lo = hex(i + 8)?;
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return Err(JsonStrError::LoneSurrogate(i));
            }
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            Ok((char::from_u32(c).ok_or(JsonStrError::LoneSurrogate(i))?, 12))
        }
        0xDC00..=0xDFFF => Err(JsonStrError::LoneSurrogate(i)),
        c => Ok((char::from_u32(c).ok_or(JsonStrError::InvalidEscape(i))?, 6)),
    }
}

/// The text of valid JSON string content. Borrowed when there is nothing to unescape.
pub fn unescape(escaped: &str) -> Cow<'_, str> {
    let b = escaped.as_bytes();
    let Some(first) = b.iter().position(|&c| c == b'\\') else {
        return Cow::Borrowed(escaped);
    };
    let mut out = String::with_capacity(b.len());
    out.push_str(&escaped[..first]);
    let mut i = first;
    while i < b.len() {
        if b[i] != b'\\' {
            // Copy the run up to the next escape in one go (a run never splits a character:
            // it ends at an ASCII backslash or at the end).
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\\')
                .map_or(b.len(), |p| i + p);
            out.push_str(&escaped[i..end]);
            i = end;
            continue;
        }
        let (c, used) = match b.get(i + 1) {
            Some(b'"') => ('"', 2),
            Some(b'\\') => ('\\', 2),
            Some(b'/') => ('/', 2),
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            // Validity was established when the string was made; a malformed escape cannot
            // reach here, but it must not panic either: it is kept as it is.
            Some(b'u') => decode_u(b, i).unwrap_or(('\u{FFFD}', 2)),
            _ => ('\\', 1),
        };
        out.push(c);
        i += used;
    }
    Cow::Owned(out)
}

/// Appends `text` escaped as JSON string content (no quotes), as serde_json escapes it:
/// `"`, `\` and control characters; everything else, non-ASCII included, as it is.
pub fn escape_into(text: &str, out: &mut String) {
    let b = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let flush = |out: &mut String, from: usize, to: usize| out.push_str(&text[from..to]);
    while i < b.len() {
        if i + 8 <= b.len() {
            let w = word(b, i);
            let m = eq_bytes(w, b'"') | eq_bytes(w, b'\\') | control_bytes(w);
            if m == 0 {
                i += 8;
                continue;
            }
            i += (m.trailing_zeros() >> 3) as usize;
        } else if !needs_escape(b[i]) {
            i += 1;
            continue;
        }
        // b[i] needs escaping (ASCII, so i is a character boundary).
        flush(out, start, i);
        match b[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            c => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c >> 4) as usize] as char);
                out.push(HEX[(c & 0xf) as usize] as char);
            }
        }
        i += 1;
        start = i;
    }
    flush(out, start, b.len());
}

#[inline]
fn needs_escape(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// Appends `s` as a JSON string, quotes included.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    escape_into(s, out);
    out.push('"');
}
