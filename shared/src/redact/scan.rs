//! One cheap pass over a message, as it travels (JSON-escaped), that says which built-in
//! detectors could match it. The detectors' regular expressions then run only for those: on
//! most log lines, none, and the message is neither unescaped nor searched.
//!
//! Each detector has a condition every one of its matches meets and the escaped text shows
//! as it is (letters, digits, `.`, `:`, `@`, `-` and spaces are never escaped):
//!
//! | detector | condition |
//! |---|---|
//! | `email` | an `@` |
//! | `ipv4` | a run of address characters (`0-9 a-f A-F . :`) with a digit and 3 dots |
//! | `ipv6` | such a run with a digit and `::` or 7 colons |
//! | `card` | 13 digits in a run with single spaces or dashes between them |
//! | `aws-access-key` | `AKIA` or `ASIA` |
//! | `jwt` | `eyJ` |
//! | `bearer` | `bearer`, any case |
//! | `aws-secret` | `key`, any case (the label ends with it) |
//!
//! A `\u` escape can stand for any character, so a message with one is searched by every
//! detector; so is one whose text has a `\u` (a JSON message's own escape, `\\u` here). The pass is linear: every run is measured once, however it is built.

use super::detectors::DETECTORS;

/// Bit `i`: `DETECTORS[i]` may match.
pub type Mask = u32;

/// Every detector.
pub const ALL: Mask = (1 << DETECTORS.len()) - 1;

/// The bit of the detector named `name` (a name of [`DETECTORS`]; checked by the tests).
const fn bit(name: &str) -> Mask {
    let mut i = 0;
    while i < DETECTORS.len() {
        if eq(DETECTORS[i].name.as_bytes(), name.as_bytes()) {
            return 1 << i;
        }
        i += 1;
    }
    panic!("no such detector")
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const SECRET: Mask = bit("aws-secret");
const KEY: Mask = bit("aws-access-key");
const JWT: Mask = bit("jwt");
const BEARER: Mask = bit("bearer");
const EMAIL: Mask = bit("email");
const IPV6: Mask = bit("ipv6");
const IPV4: Mask = bit("ipv4");
const CARD: Mask = bit("card");

/// The bytes the pass stops at; every other byte is skipped.
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    let others = b"\\@AJbByY";
    let mut k = 0;
    while k < others.len() {
        t[others[k] as usize] = true;
        k += 1;
    }
    t
};

fn is_address(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// `s` starts with `word` (lowercase ASCII), any case.
fn starts_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len()
        && s.iter()
            .zip(word)
            .all(|(a, w)| a.to_ascii_lowercase() == *w)
}

/// The address run around the digit at `i` (not before `*measured`, where the last one
/// measured ended): [`IPV4`] when it holds 3 dots, [`IPV6`] when it holds `::` or 7 colons.
fn address(e: &[u8], i: usize, measured: &mut usize) -> Mask {
    let mut start = i;
    while start > *measured && is_address(e[start - 1]) {
        start -= 1;
    }
    let mut end = start;
    let (mut dots, mut colons, mut double) = (0, 0, false);
    while end < e.len() && is_address(e[end]) {
        match e[end] {
            b'.' => dots += 1,
            b':' => {
                colons += 1;
                double |= end > start && e[end - 1] == b':';
            }
            _ => {}
        }
        end += 1;
    }
    *measured = end;
    let mut mask = 0;
    if dots >= 3 {
        mask |= IPV4;
    }
    if double || colons >= 7 {
        mask |= IPV6;
    }
    mask
}

/// The detectors that could match the message whose escaped text is `e`.
pub fn candidates(e: &[u8]) -> Mask {
    let mut mask = 0;
    // The end of the last address run measured: a digit before it is in that run.
    let mut address_end = 0;
    let mut i = 0;
    while i < e.len() {
        let b = e[i];
        if !STOP[b as usize] {
            i += 1;
            continue;
        }
        match b {
            b'\\' => {
                // `\\u`: a `\u` escape in the text itself, as in a JSON message (its strings'
                // escapes are escaped once more here).
                if e.get(i + 1) == Some(&b'u')
                    || (e.get(i + 1) == Some(&b'\\') && e.get(i + 2) == Some(&b'u'))
                {
                    return ALL;
                }
                i += 2;
                continue;
            }
            b'@' => mask |= EMAIL,
            b'A' => {
                if e[i + 1..].starts_with(b"KIA") || e[i + 1..].starts_with(b"SIA") {
                    mask |= KEY;
                }
            }
            b'J' => {
                if i >= 2 && &e[i - 2..i] == b"ey" {
                    mask |= JWT;
                }
            }
            b'b' | b'B' => {
                if starts_ci(&e[i + 1..], b"earer") {
                    mask |= BEARER;
                }
            }
            b'y' | b'Y' => {
                if i >= 2 && starts_ci(&e[i - 2..], b"ke") {
                    mask |= SECRET;
                }
            }
            _ => {
                // A digit: the card run from it (digits, single spaces or dashes between them),
                // and where its first digits end.
                let mut digits = 0;
                let mut first_end = None;
                let mut j = i;
                while j < e.len() {
                    if e[j].is_ascii_digit() {
                        digits += 1;
                        j += 1;
                    } else {
                        first_end.get_or_insert(j);
                        if matches!(e[j], b' ' | b'-')
                            && e.get(j + 1).is_some_and(u8::is_ascii_digit)
                        {
                            j += 1;
                        } else {
                            break;
                        }
                    }
                }
                if digits >= 13 {
                    mask |= CARD;
                }
                // An address run is measured only where the digits touch an address character
                // other than a digit (most numbers in logs do not), and once per run.
                let first_end = first_end.unwrap_or(j);
                let touches = |k: Option<&u8>| k.is_some_and(|&b| !b.is_ascii_digit() && is_address(b));
                if i >= address_end
                    && (touches(e.get(first_end)) || touches(i.checked_sub(1).map(|k| &e[k])))
                {
                    mask |= address(e, i, &mut address_end);
                }
                i = j;
                continue;
            }
        }
        i += 1;
    }
    mask
}
