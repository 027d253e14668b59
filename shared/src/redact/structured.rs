//! A message that is JSON, redacted string by string so that it stays JSON.
//!
//! Each string (keys too: a key can be an address) is unescaped, redacted as plain text and, if
//! anything matched, written back escaped; a number with a match in it (a card written as a
//! number) becomes a JSON string of the redacted text. Everything else is copied as it is, so
//! keys keep their order and the text its spacing.

use std::borrow::Cow;

use serde::de::IgnoredAny;

use super::scan::Mask;
use super::{INLINE_RULES, Redactor, per_rule};
use crate::json;

/// Whether `text` is one JSON value (what the walk below relies on).
pub fn is_json(text: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(text).is_ok()
}

/// A string of the message the walk cannot read: serde_json skips a lone `\u` surrogate
/// ([`is_json`] accepts it), [`json::scan_string`] refuses it. The message is then redacted as
/// plain text: stopping there shipped the rest unread (`{"m":"\udddd bob@example.org"}` kept
/// its address: the `redaction` fuzz target's finding 5).
#[derive(Debug)]
pub struct Unreadable;

/// `text` (valid JSON: [`is_json`]) with its strings and numbers redacted; `None` when nothing
/// matched; [`Unreadable`] (nothing counted) when a string cannot be read.
pub fn redact(
    r: &Redactor,
    text: &str,
    mask: Mask,
    counts: &mut [u64],
) -> Result<Option<String>, Unreadable> {
    // The counts as they were, to take back on `Unreadable`.
    let (mut inline, mut heap) = ([0; INLINE_RULES], Vec::new());
    let counted = per_rule(&mut inline, &mut heap, counts.iter().copied());
    let b = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut changed = false;
    // The key whose value comes next: a label and its secret are two strings in JSON.
    let mut key: Option<Cow<'_, str>> = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // Valid JSON (`is_json`): every string is closed, but one may hold a lone
                // surrogate.
                let Some((end, content)) = json::scan_string(text, i + 1) else {
                    counts.copy_from_slice(counted);
                    return Err(Unreadable);
                };
                let is_key = b[(end + 1).min(b.len())..]
                    .iter()
                    .find(|c| !c.is_ascii_whitespace())
                    == Some(&b':');
                // The pass again, on this string: most of a JSON message's strings need no
                // search, nor unescaping but for a key a label could be.
                let here = r.string_mask(content, mask);
                let label = r.json_pairs(mask);
                let inner = if here != 0 || r.custom || label {
                    content.text()
                } else {
                    Cow::Borrowed("")
                };
                let red = match key.take() {
                    Some(k) if !is_key && label => r
                        .json_pair(&k, &inner, counts)
                        .map(str::to_owned)
                        .or_else(|| r.redact_some(&inner, here, counts)),
                    _ => r.redact_some(&inner, here, counts),
                };
                if let Some(red) = red {
                    out.push_str(&text[copied..i]);
                    json::write_str(&red, &mut out);
                    copied = (end + 1).min(b.len());
                    changed = true;
                }
                if is_key && label {
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
                let number = &text[i..end];
                let here = r.string_mask(json::EscapedStr::from_raw_number(number), mask);
                if let Some(red) = r.redact_some(number, here, counts) {
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
        return Ok(None);
    }
    out.push_str(&text[copied..]);
    Ok(Some(out))
}
