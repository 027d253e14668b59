//! A message that is JSON, redacted string by string so that it stays JSON.
//!
//! Each string (keys too: a key can be an address) is unescaped, redacted as plain text and, if
//! anything matched, written back escaped; a number with a match in it (a card written as a
//! number) becomes a JSON string of the redacted text. Everything else is copied as it is, so
//! keys keep their order and the text its spacing.

use serde::de::IgnoredAny;

use super::Redactor;
use super::scan::Mask;
use crate::json;

/// Whether `text` is one JSON value (what the walk below relies on).
pub fn is_json(text: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(text).is_ok()
}

/// `text` (valid JSON: [`is_json`]) with its strings and numbers redacted; `None` when nothing
/// matched.
pub fn redact(r: &Redactor, text: &str, mask: Mask, counts: &mut [u64]) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut changed = false;
    // The key whose value comes next: a label and its secret are two strings in JSON.
    let mut key: Option<std::borrow::Cow<'_, str>> = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // Valid JSON (`is_json`): every string is closed.
                let Some((end, content)) = json::scan_string(text, i + 1) else {
                    break;
                };
                let inner = content.text();
                let is_key = b[(end + 1).min(b.len())..]
                    .iter()
                    .find(|c| !c.is_ascii_whitespace())
                    == Some(&b':');
                let red = match key.take() {
                    Some(k) if !is_key => r
                        .json_pair(&k, &inner, counts)
                        .map(str::to_owned)
                        .or_else(|| r.redact_masked(&inner, mask, None, counts)),
                    _ => r.redact_masked(&inner, mask, None, counts),
                };
                if let Some(red) = red {
                    out.push_str(&text[copied..i]);
                    json::write_str(&red, &mut out);
                    copied = (end + 1).min(b.len());
                    changed = true;
                }
                if is_key {
                    key = Some(inner);
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                key = None;
                let end = b[i..]
                    .iter()
                    .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(b.len(), |p| i + p);
                if let Some(red) = r.redact_masked(&text[i..end], mask, None, counts) {
                    out.push_str(&text[copied..i]);
                    json::write_str(&red, &mut out);
                    copied = end;
                    changed = true;
                }
                i = end;
            }
            b'{' | b'[' => {
                key = None;
                i += 1;
            }
            _ => i += 1,
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}
