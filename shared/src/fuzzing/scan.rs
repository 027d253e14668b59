//! The crate's inner readers and scanners, which its API does not otherwise show, and their
//! references: the one-pass document reader beside serde_json, every JSON string scan beside a
//! byte-at-a-time reading of RFC 8259.

use crate::decode::{DecodeError, SubscriptionPayload};
use crate::json::EscapedStr;

/// The one-pass subscription document reader: `None` where it leaves the text to serde_json.
pub fn fast_parse(text: &str) -> Option<SubscriptionPayload<'_>> {
    crate::decode::document_reader::parse(text)
}

/// The reference reader, serde_json.
pub fn serde_parse(text: &str) -> Result<SubscriptionPayload<'_>, DecodeError> {
    crate::decode::parse_payload_serde(text)
}

/// A string scan's answer: the closing quote's index, the escaped content and the length of
/// the text it stands for.
pub type Scanned<'a> = Option<(usize, &'a str, usize)>;

/// Every string scan this build and CPU have, by name (see `json::every_scan`).
pub fn every_scan(s: &str, start: usize) -> Vec<(&'static str, Scanned<'_>)> {
    crate::json::every_scan(s, start)
        .into_iter()
        .map(|(name, r)| {
            (
                name,
                r.map(|(end, e): (usize, EscapedStr<'_>)| (end, e.escaped(), e.len())),
            )
        })
        .collect()
}

/// Every `only_quote_escapes` this build and CPU have, by name.
pub fn every_only_quote_escapes(escaped: &str) -> Vec<(&'static str, bool)> {
    crate::json::every_only_quote_escapes(escaped)
}

/// The string scan's specification, a byte at a time: from `start` (just after an opening
/// quote), JSON string content up to the closing quote — no control character, the escapes of
/// RFC 8259, a `\u` high surrogate followed by a `\u` low one. The closing quote's index and the
/// UTF-8 length of the text the content stands for; `None` if invalid or not closed.
pub fn scan_reference(s: &str, start: usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = b.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    };
    let (mut i, mut len) = (start, 0usize);
    loop {
        match *b.get(i)? {
            b'"' => return Some((i, len)),
            b'\\' => match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                    len += 1;
                    i += 2;
                }
                b'u' => {
                    let u = hex4(i + 2)?;
                    let (c, used) = match u {
                        0xD800..=0xDBFF => {
                            if b.get(i + 6..i + 8)? != b"\\u" {
                                return None;
                            }
                            let low = hex4(i + 8)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return None;
                            }
                            let c = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
                            (char::from_u32(c)?, 12)
                        }
                        0xDC00..=0xDFFF => return None,
                        _ => (char::from_u32(u)?, 6),
                    };
                    len += c.len_utf8();
                    i += used;
                }
                _ => return None,
            },
            c if c < 0x20 => return None,
            _ => {
                len += 1;
                i += 1;
            }
        }
    }
}

/// The JSON string scans (64-byte blocks of each instruction set the CPU has, SWAR words, an
/// escape at a time, the dispatched one) against [`scan_reference`], on arbitrary bytes from
/// every start offset in the first 64 (so blocks meet the text at every alignment); and the
/// escape masks' `only_quote_escapes` of each instruction set against one another.
pub fn string_scan(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for start in (0..=s.len().min(64)).filter(|&i| s.is_char_boundary(i)) {
        let want = scan_reference(s, start);
        for (name, got) in every_scan(s, start) {
            let got_end_len = got.map(|(end, _, len)| (end, len));
            assert_eq!(got_end_len, want, "{name} from {start} on {s:?}");
            if let Some((end, escaped, _)) = got {
                assert_eq!(escaped, &s[start..end], "{name} from {start} on {s:?}");
            }
        }
        // What a scan accepts is escaped text: every implementation of the escape check agrees.
        if let Some((end, _)) = want {
            let escaped = &s[start..end];
            let all = every_only_quote_escapes(escaped);
            let first = all[0].1;
            for (name, got) in &all {
                assert_eq!(*got, first, "only_quote_escapes: {name} on {escaped:?}");
            }
        }
    }
}
