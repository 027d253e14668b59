//! The built-in detectors of `REDACT`: what each matches, as a pattern and a check of what the
//! pattern cannot say (a Luhn digit, a valid address), with examples the tests hold them to.
//!
//! Patterns are ASCII-only (`[0-9]`, not `\d`): the regex crate's DFAs then never fall back to
//! slower engines on non-ASCII text, and no detector matches digits of other scripts that no
//! card or address is written in. Boundaries the regex crate cannot express without
//! look-around (a digit before an IPv4 address, say) are checked around each match instead.

use std::net::Ipv6Addr;

/// The check of a match: given the text and the match's range, the range to replace, or
/// `None` when it is not one after all.
pub type Check = fn(&str, usize, usize) -> Option<(usize, usize)>;

/// A pattern written out: given the text and a start, the end of its match there, if any.
pub type At = fn(&[u8], usize) -> Option<usize>;

/// One built-in detector.
#[derive(Debug, Clone, Copy)]
pub struct Detector {
    /// The name in `REDACT`, in metrics and in the default replacement `[REDACTED:<name>]`.
    pub name: &'static str,
    /// What it matches, for the README's table.
    pub matches: &'static str,
    /// The regular expression (the regex crate's syntax).
    pub pattern: &'static str,
    /// The capture group replaced, when only part of a match is the secret (a label before a
    /// secret is kept); 0 for the whole match.
    pub group: usize,
    /// The check of a match the pattern cannot make: given the text and the match's range,
    /// the range to replace, or `None` when it is not one after all.
    pub check: Check,
    /// Whether the pattern can match a `"` or a `\` (a label's quotes). Any other detector
    /// finds the same matches, and its check the same neighbours, in escaped text whose only
    /// escapes are `\"` and `\\` as in the text itself, so it runs on that text as it is
    /// ([`crate::redact::Redactor::redact_escaped`]).
    pub quotes: bool,
    /// The pattern's leftmost-first match starting at a byte, written out: the end of the
    /// match, if there is one. For short texts (an address run the pass found) the regex
    /// crate's setup of each search costs more than the search; a test holds this to
    /// `pattern`.
    pub at: Option<At>,
    /// In a JSON message the label is a key and the secret its string value, two strings:
    /// a key matching this (whole) and a value matching `json_value` (whole) is a match too.
    pub json_key: Option<&'static str>,
    pub json_value: Option<&'static str>,
    /// Texts and what they become with this detector alone, and texts it leaves alone: the
    /// README's examples, and the tests'.
    pub examples: &'static [(&'static str, &'static str)],
    pub counterexamples: &'static [&'static str],
}

/// Every built-in detector, in the order they run. The order matters only where two could
/// match the same text: a secret after its label before anything inside it, a bearer token or
/// JWT before the email or address that might sit in it, IPv6 (whose last part may be IPv4)
/// before IPv4, and cards last (their digits could sit inside any of the others).
pub const DETECTORS: &[Detector] = &[
    Detector {
        name: "aws-secret",
        matches: "a 40-character AWS secret access key after a key-like label (`aws_secret_access_key`, `SecretAccessKey`, `secret_key`, …) and `=` or `:`; the label is kept",
        pattern: r#"(?i-u:(?:aws)?[_.-]?secret[_.-]?(?:access[_.-]?)?key)["']?[ \t]*(?:=>|=|:)[ \t]*["']?([A-Za-z0-9/+]{40})"#,
        group: 1,
        check: not_followed_by_base64,
        quotes: true,
        at: None,
        json_key: Some(r"^(?i-u:(?:aws)?[_.-]?secret[_.-]?(?:access[_.-]?)?key)$"),
        json_value: Some(r"^[A-Za-z0-9/+]{40}$"),
        examples: &[
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key = [REDACTED:aws-secret]",
            ),
            (
                r#"{"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
                r#"{"SecretAccessKey":"[REDACTED:aws-secret]"}"#,
            ),
        ],
        counterexamples: &[
            "aws_secret_access_key = short",
            "secret_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYTOOLONG",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY without a label",
        ],
    },
    Detector {
        name: "aws-access-key",
        matches: "an AWS access key id: `AKIA` (long-term) or `ASIA` (temporary) and 16 more capitals or digits",
        pattern: r"(?:AKIA|ASIA)[A-Z0-9]{16}",
        group: 0,
        check: alnum_bounded,
        quotes: false,
        at: None,
        json_key: None,
        json_value: None,
        examples: &[
            (
                "key AKIAIOSFODNN7EXAMPLE used",
                "key [REDACTED:aws-access-key] used",
            ),
            ("ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws-access-key]"),
        ],
        counterexamples: &[
            "AKIAIOSFODNN7EXAMPL",
            "XAKIAIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN7EXAMPLE1",
        ],
    },
    Detector {
        name: "jwt",
        matches: "a JSON Web Token: three base64url parts, the first two JSON objects (`eyJ…`), the signature possibly empty",
        pattern: r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
        group: 0,
        check: token_bounded,
        quotes: false,
        at: None,
        json_key: None,
        json_value: None,
        examples: &[
            (
                "token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c;",
                "token=[REDACTED:jwt];",
            ),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "[REDACTED:jwt]"),
        ],
        counterexamples: &["eyJhbGciOiJIUzI1NiJ9", "eyJ.eyJ.x"],
    },
    Detector {
        name: "bearer",
        matches: "the credential after `Bearer` (any case, as in `Authorization: Bearer …`): 8 or more token characters (RFC 6750's b64token); `Bearer` is kept",
        pattern: r"(?i-u:bearer)[ \t]+([A-Za-z0-9._~+/-]{8,}=*)",
        group: 1,
        check: bearer_bounded,
        quotes: false,
        at: None,
        json_key: None,
        json_value: None,
        examples: &[
            (
                "Authorization: Bearer mF_9.B5f-4.1JqM",
                "Authorization: Bearer [REDACTED:bearer]",
            ),
            (
                "bearer 2YotnFZFEjr1zCsicMWpAA==",
                "bearer [REDACTED:bearer]",
            ),
        ],
        counterexamples: &[
            "the bearer of bad news",
            "Bearer short",
            "unbearer 2YotnFZFEjr1zCsicMWpAA",
        ],
    },
    Detector {
        name: "email",
        matches: "an email address: `local@domain` with an ASCII local part of letters, digits and `._%+-`, and a dotted domain ending in 2 or more letters",
        pattern: r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}",
        group: 0,
        check: email_bounded,
        quotes: false,
        at: None,
        json_key: None,
        json_value: None,
        examples: &[
            ("from bob@example.org:", "from [REDACTED:email]:"),
            ("first.last+tag@mail.example.co.uk", "[REDACTED:email]"),
        ],
        counterexamples: &["user@localhost", "@example.org", "bob@example", "x@1.2.3.4"],
    },
    Detector {
        name: "ipv6",
        matches: "an IPv6 address, compressed or not, an IPv4 tail allowed, with at least three groups written and a decimal digit (so `::1`, `fe80::1`, `std::vec` and `Add::add` are not)",
        pattern: r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}",
        group: 0,
        check: ipv6_check,
        quotes: false,
        at: None,
        json_key: None,
        json_value: None,
        examples: &[
            (
                "client 2001:db8::8a2e:370:7334 port",
                "client [REDACTED:ipv6] port",
            ),
            (
                "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:443",
                "[[REDACTED:ipv6]]:443",
            ),
            ("::ffff:192.0.2.128", "[REDACTED:ipv6]"),
            ("0:0:0:0:0:ffff:192.0.2.1", "[REDACTED:ipv6]"),
            (
                "at fe80::1c2a:3bff:fe4d:5e6f: refused",
                "at [REDACTED:ipv6]: refused",
            ),
        ],
        counterexamples: &[
            "12:34:56",
            "::1",
            "fe80::1",
            "std::vector",
            "Add::add",
            "2001:db8",
        ],
    },
    Detector {
        name: "ipv4",
        matches: "a dotted-quad IPv4 address, each part 0–255, not inside a longer dotted or digit run (so `1.2.3` and `10.0.19041.1` are not)",
        pattern: r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
        group: 0,
        check: ipv4_bounded,
        quotes: false,
        at: Some(ipv4_at),
        json_key: None,
        json_value: None,
        examples: &[
            ("from 192.0.2.1:8080", "from [REDACTED:ipv4]:8080"),
            ("10.0.0.255.", "[REDACTED:ipv4]."),
        ],
        counterexamples: &[
            "1.2.3",
            "256.1.1.1",
            "10.0.19041.1",
            "1.2.3.4.5",
            "v1.2.3.4a",
        ],
    },
    Detector {
        name: "card",
        matches: "a payment card number: 13–19 digits, single spaces or dashes allowed between them, starting with 2–6 (every major network's range; epoch milliseconds start with 1), Luhn-valid only",
        pattern: r"[2-6](?:[ -]?[0-9]){12,18}",
        group: 0,
        check: card_check,
        quotes: false,
        at: None,
        json_key: None,
        json_value: None,
        examples: &[
            ("card 4111111111111111 ok", "card [REDACTED:card] ok"),
            ("4111 1111 1111 1111", "[REDACTED:card]"),
            ("5500-0000-0000-0004", "[REDACTED:card]"),
            ("amex 378282246310005.", "amex [REDACTED:card]."),
        ],
        counterexamples: &[
            "4111111111111112",
            "1700000000000",
            "4111 1111 1111 1111 1",
            "41111111111111110",
            "9111111111111111",
            "527395777117 1.2.3",
            "1.4111111111111111",
        ],
    },
];

/// The detector named `name`.
pub fn by_name(name: &str) -> Option<&'static Detector> {
    DETECTORS.iter().find(|d| d.name == name)
}

fn byte_before(text: &str, at: usize) -> Option<u8> {
    at.checked_sub(1).map(|i| text.as_bytes()[i])
}

fn byte_at(text: &str, at: usize) -> Option<u8> {
    text.as_bytes().get(at).copied()
}

/// Not inside a longer run of letters and digits.
fn alnum_bounded(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    (!alnum(byte_before(text, start)) && !alnum(byte_at(text, end))).then_some((start, end))
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A JWT not glued to more token characters before it (the pattern takes all after).
fn token_bounded(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    (!byte_before(text, start).is_some_and(is_b64url)).then_some((start, end))
}

/// A secret that ends where the base64 ends: 41 characters are not a 40-character secret.
fn not_followed_by_base64(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    (!byte_at(text, end).is_some_and(b64)).then_some((start, end))
}

/// `Bearer` starting a word (the match's start is the `b`; the range is the credential's).
fn bearer_bounded(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    // `start` is the credential; walk back over the blanks and the word `bearer`.
    let before = text[..start].trim_end_matches([' ', '\t']);
    let word_start = before.len().checked_sub(6)?;
    (!byte_before(text, word_start).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some((start, end))
}

/// An address not glued to more address characters before it, and a domain that ends at a
/// non-label character.
///
/// The start matters after a match this check refused: the search goes on from that match's
/// end, inside the run it cut, and finds an address starting mid-run there. Replacing that one
/// would cut the run short, and what the first match cut would then end at the replacement: an
/// address of the shipped text (the `redaction` fuzz target's finding 2, kept in
/// `fuzz/regressions/redaction/`).
fn email_bounded(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let label = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    (!byte_before(text, start).is_some_and(local) && !byte_at(text, end).is_some_and(label))
        .then_some((start, end))
}

/// The IPv4 pattern at `b[i..]`, as a backtracking matcher (the regex crate's leftmost-first)
/// finds it: each part's alternatives in the pattern's order (`25[0-5]`, `2[0-4][0-9]`,
/// `1[0-9][0-9]`, then `[1-9]?[0-9]`, two digits before one), the first that lets the rest
/// match.
fn ipv4_at(b: &[u8], i: usize) -> Option<usize> {
    let digit = |k: usize, lo: u8, hi: u8| b.get(k).is_some_and(|c| (lo..=hi).contains(c));
    // Where each alternative of a part starting at `k` ends, in the pattern's order.
    let ends = |k: usize| {
        [
            (b.get(k) == Some(&b'2') && b.get(k + 1) == Some(&b'5') && digit(k + 2, b'0', b'5'))
                .then_some(k + 3),
            (b.get(k) == Some(&b'2') && digit(k + 1, b'0', b'4') && digit(k + 2, b'0', b'9'))
                .then_some(k + 3),
            (b.get(k) == Some(&b'1') && digit(k + 1, b'0', b'9') && digit(k + 2, b'0', b'9'))
                .then_some(k + 3),
            (digit(k, b'1', b'9') && digit(k + 1, b'0', b'9')).then_some(k + 2),
            digit(k, b'0', b'9').then_some(k + 1),
        ]
    };
    fn part(
        b: &[u8],
        k: usize,
        n: usize,
        ends: &dyn Fn(usize) -> [Option<usize>; 5],
    ) -> Option<usize> {
        ends(k).into_iter().flatten().find_map(|end| match n {
            3 => Some(end),
            _ => (b.get(end) == Some(&b'.'))
                .then(|| part(b, end + 1, n + 1, ends))
                .flatten(),
        })
    }
    part(b, i, 0, &ends)
}

/// A dotted quad that is not part of a longer dotted or digit run.
fn ipv4_bounded(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
    let before = byte_before(text, start);
    if digit(before) || before.is_some_and(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    if before == Some(b'.') && digit(byte_before(text, start - 1)) {
        return None;
    }
    let after = byte_at(text, end);
    if digit(after) || after.is_some_and(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    if after == Some(b'.') && digit(byte_at(text, end + 1)) {
        return None;
    }
    Some((start, end))
}

/// A valid IPv6 address (the standard library's parser says) with at least three groups
/// written (an IPv4 tail counting two) and a decimal digit, not glued to more address characters.
fn ipv6_check(text: &str, start: usize, mut end: usize) -> Option<(usize, usize)> {
    let hexish = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if byte_before(text, start).is_some_and(|b| hexish(b) || b == b':' || b == b'.') {
        return None;
    }
    // The pattern is greedy: a colon that ends a sentence ("at 2001:db8::1: refused") is not
    // part of the address.
    if byte_at(text, end).is_some_and(|b| hexish(b) || b == b':') {
        return None;
    }
    let candidate = &text[start..end];
    if candidate.ends_with(':') && !candidate.ends_with("::") {
        end -= 1;
    }
    let candidate = &text[start..end];
    candidate.parse::<Ipv6Addr>().ok()?;
    // An IPv4 tail stands for two groups.
    let groups: usize = candidate
        .split(':')
        .filter(|g| !g.is_empty())
        .map(|g| if g.contains('.') { 2 } else { 1 })
        .sum();
    (groups >= 3 && candidate.bytes().any(|b| b.is_ascii_digit())).then_some((start, end))
}

/// 13–19 digits that pass the Luhn check, not inside a longer run of digits or letters.
fn card_check(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let glued = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if glued(byte_before(text, start)) || glued(byte_at(text, end)) {
        return None;
    }
    // "4111 1111 1111 1111-5", "…1111 1.5": a separator or a decimal point and more digits
    // after, or a number and a point before: part of something longer.
    let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
    if matches!(byte_at(text, end), Some(b' ' | b'-' | b'.' | b','))
        && digit(byte_at(text, end + 1))
    {
        return None;
    }
    if matches!(byte_before(text, start), Some(b'.' | b','))
        && digit(start.checked_sub(1).and_then(|s| byte_before(text, s)))
    {
        return None;
    }
    luhn(text[start..end].bytes().filter(u8::is_ascii_digit)).then_some((start, end))
}

/// The Luhn check (ISO/IEC 7812-1) over digits, most significant first.
pub fn luhn(digits: impl DoubleEndedIterator<Item = u8>) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}
