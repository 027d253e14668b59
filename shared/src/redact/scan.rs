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
//! | `ipv6` | such a run with `::`, 7 colons, or 6 colons and 3 dots |
//! | `card` | 13 digits in a run with single spaces or dashes between them |
//! | `aws-access-key` | `AKIA` or `ASIA` |
//! | `jwt` | `eyJ` |
//! | `bearer` | `bearer`, any case |
//! | `aws-secret` | `secret`, any case (the label holds it) |
//!
//! A `\u` escape of printable ASCII or a tab can stand for any of them, so a message with one is
//! searched by every detector; so is one whose text has one (a JSON message's own escape,
//! `\\u` here). The escape of any other character is, to every detector, what that character
//! is: none of theirs (they match printable ASCII and tabs only). The pass is linear: every run is measured once,
//! however it is built.

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

/// What the pass needs of a 64-byte block, a bit per byte (bit `i` is byte `i`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Masks {
    /// Where a literal trigger may start or end, checked on the bytes themselves
    /// ([`literal`]): `@`; `\\` before `u`; `A` two before `I` (`AKIA`, `ASIA`); `J` (`eyJ`);
    /// `b` three before `r` (`bearer`) and `s`, `c`, `r` at 0, 2, 3 (`secret`), either case.
    literal: u64,
    digit: u64,
    dot: u64,
    colon: u64,
    /// A space or a dash: what may separate a card's digits.
    sep: u64,
}

impl Masks {
    /// Byte `w[i]`'s bits, set at bit `at`: [`masks_portable`]'s rule, bytes past `w` zeros.
    #[inline(always)]
    fn classify(&mut self, w: &[u8], i: usize, at: u32) {
        let byte = |k: usize| w.get(i + k).copied().unwrap_or(0);
        let (b, lower) = (byte(0), byte(0) | 0x20);
        let literal = b == b'@'
            || (b == b'\\' && byte(1) == b'u')
            || (b == b'A' && byte(2) == b'I')
            || b == b'J'
            || (lower == b'b' && byte(3) | 0x20 == b'r')
            || (lower == b's' && byte(2) | 0x20 == b'c' && byte(3) | 0x20 == b'r');
        self.literal |= u64::from(literal) << at;
        self.digit |= u64::from(b.is_ascii_digit()) << at;
        self.dot |= u64::from(b == b'.') << at;
        self.colon |= u64::from(b == b':') << at;
        self.sep |= u64::from(b == b' ' || b == b'-') << at;
    }

    /// Every mask moved down `d` bits (bit `k` becomes bit `k - d`).
    fn down(self, d: usize) -> Self {
        let down = |x: u64| x.checked_shr(d as u32).unwrap_or(0);
        Self {
            literal: down(self.literal),
            digit: down(self.digit),
            dot: down(self.dot),
            colon: down(self.colon),
            sep: down(self.sep),
        }
    }
}

/// How many bytes past a block the classifiers read: the literal triggers look 3 ahead.
const LOOKAHEAD: usize = 3;

/// What a classifier reads: a block and the [`LOOKAHEAD`] bytes after it.
const WINDOW: usize = 64 + LOOKAHEAD;

/// A block's masks, a byte at a time: the reference, and the code on targets without a SIMD
/// version. `w` is the block and the [`LOOKAHEAD`] bytes after it (zeros past the text).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn masks_portable(w: &[u8; WINDOW]) -> Masks {
    let mut m = Masks::default();
    for i in 0..64 {
        m.classify(w, i, i as u32);
    }
    m
}

/// A block's masks, 16 bytes per instruction (SSE2, part of every x86-64); as
/// [`masks_portable`].
#[cfg(target_arch = "x86_64")]
fn masks_sse2(w: &[u8; WINDOW]) -> Masks {
    use std::arch::x86_64::*;
    let mut m = Masks::default();
    for k in 0..4 {
        // SAFETY: SSE2 is in the x86-64 baseline, so these intrinsics are always available;
        // the loads read bytes 16k+j..16k+j+16 of `w` for k, j ≤ 3, within its 67 (unaligned
        // loads allowed).
        let [literal, digit, dot, colon, sep] = unsafe {
            let p = w.as_ptr().add(16 * k);
            let load = |j: usize| _mm_loadu_si128(p.add(j).cast());
            let (v0, v1, v2, v3) = (load(0), load(1), load(2), load(3));
            let lower = |v: __m128i| _mm_or_si128(v, _mm_set1_epi8(0x20));
            let eq = |v: __m128i, c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            let (or, and) = (
                |a: __m128i, b: __m128i| _mm_or_si128(a, b),
                |a: __m128i, b: __m128i| _mm_and_si128(a, b),
            );
            let l0 = lower(v0);
            let literal = or(
                or(
                    or(eq(v0, b'@'), and(eq(v0, b'\\'), eq(v1, b'u'))),
                    or(and(eq(v0, b'A'), eq(v2, b'I')), eq(v0, b'J')),
                ),
                or(
                    and(eq(l0, b'b'), eq(lower(v3), b'r')),
                    and(and(eq(l0, b's'), eq(lower(v2), b'c')), eq(lower(v3), b'r')),
                ),
            );
            // Signed compares: bytes from 0x80 up are negative, so never digits.
            let digit = and(
                _mm_cmpgt_epi8(v0, _mm_set1_epi8(b'0' as i8 - 1)),
                _mm_cmplt_epi8(v0, _mm_set1_epi8(b'9' as i8 + 1)),
            );
            let mask = |x: __m128i| u64::from(_mm_movemask_epi8(x) as u16);
            [
                mask(literal),
                mask(digit),
                mask(eq(v0, b'.')),
                mask(eq(v0, b':')),
                mask(or(eq(v0, b' '), eq(v0, b'-'))),
            ]
        };
        let at = 16 * k;
        m.literal |= literal << at;
        m.digit |= digit << at;
        m.dot |= dot << at;
        m.colon |= colon << at;
        m.sep |= sep << at;
    }
    m
}

/// A block's masks, 32 bytes per instruction (AVX2); as [`masks_portable`].
///
/// # Safety
/// The CPU must have AVX2 ([`candidates`] checks it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn masks_avx2(w: &[u8; WINDOW]) -> Masks {
    use std::arch::x86_64::*;
    let mut m = Masks::default();
    for k in 0..2 {
        // SAFETY: the caller has checked AVX2; the loads read bytes 32k+j..32k+j+32 of `w` for
        // k ≤ 1, j ≤ 3, within its 67 (unaligned loads allowed).
        let [literal, digit, dot, colon, sep] = unsafe {
            let p = w.as_ptr().add(32 * k);
            let load = |j: usize| _mm256_loadu_si256(p.add(j).cast());
            let (v0, v1, v2, v3) = (load(0), load(1), load(2), load(3));
            let lower = |v: __m256i| _mm256_or_si256(v, _mm256_set1_epi8(0x20));
            let eq = |v: __m256i, c: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8));
            let (or, and) = (
                |a: __m256i, b: __m256i| _mm256_or_si256(a, b),
                |a: __m256i, b: __m256i| _mm256_and_si256(a, b),
            );
            let l0 = lower(v0);
            let literal = or(
                or(
                    or(eq(v0, b'@'), and(eq(v0, b'\\'), eq(v1, b'u'))),
                    or(and(eq(v0, b'A'), eq(v2, b'I')), eq(v0, b'J')),
                ),
                or(
                    and(eq(l0, b'b'), eq(lower(v3), b'r')),
                    and(and(eq(l0, b's'), eq(lower(v2), b'c')), eq(lower(v3), b'r')),
                ),
            );
            // Signed compares: bytes from 0x80 up are negative, so never digits.
            let digit = and(
                _mm256_cmpgt_epi8(v0, _mm256_set1_epi8(b'0' as i8 - 1)),
                _mm256_cmpgt_epi8(_mm256_set1_epi8(b'9' as i8 + 1), v0),
            );
            let mask = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32);
            [
                mask(literal),
                mask(digit),
                mask(eq(v0, b'.')),
                mask(eq(v0, b':')),
                mask(or(eq(v0, b' '), eq(v0, b'-'))),
            ]
        };
        let at = 32 * k;
        m.literal |= literal << at;
        m.digit |= digit << at;
        m.dot |= dot << at;
        m.colon |= colon << at;
        m.sep |= sep << at;
    }
    m
}

/// `x` with bit `i` set when bit `i + n` is: what follows `n` bytes later. Bits past the block
/// are not known and count as set (a look too many, never one too few).
fn ahead(x: u64, n: u32) -> u64 {
    (x >> n) | !(u64::MAX >> n)
}

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

/// The detectors whose every match lies in an address run: all of their matches are in the
/// runs [`candidates_in`] reports for them.
pub const ADDRESSES: Mask = IPV4 | IPV6;

/// Most address runs [`Runs`] holds; a message with more is searched whole.
const MAX_RUNS: usize = 8;

/// The address runs (the longest stretches of `0-9 a-f A-F . :` around a place the pass looked
/// at) that may hold an IPv4 or IPv6 address, each with the detectors of [`ADDRESSES`] it may
/// hold: an address is letters, digits, dots and colons only, and none of those is ever
/// escaped, so every match of those detectors lies within one of these ranges of the escaped
/// text, and they search nothing else.
#[derive(Debug, Default, Clone)]
pub struct Runs {
    at: [(u32, u32, Mask); MAX_RUNS],
    len: usize,
    /// More runs than fit, or a pass cut short: search whole.
    whole: bool,
}

impl Runs {
    fn push(&mut self, start: usize, end: usize, mask: Mask) {
        match (self.at.get_mut(self.len), u32::try_from(end)) {
            (Some(slot), Ok(end)) => {
                // `start` ≤ `end`.
                *slot = (start as u32, end, mask);
                self.len += 1;
            }
            _ => self.whole = true,
        }
    }

    /// The ranges of the escaped text where the detector `bit` (one of [`ADDRESSES`]) may
    /// match, in order; `None` when it must search the whole text.
    pub fn of(&self, bit: Mask) -> Option<impl Iterator<Item = std::ops::Range<usize>> + '_> {
        (bit != 0 && bit & ADDRESSES == bit && !self.whole).then(|| {
            self.at[..self.len]
                .iter()
                .filter(move |r| r.2 & bit != 0)
                .map(|r| r.0 as usize..r.1 as usize)
        })
    }
}

/// The address run around the digit at `i` (not before `*measured`, where the last one
/// measured ended): [`IPV4`] when it holds 3 dots, [`IPV6`] when it holds `::` or 7 colons.
fn address(e: &[u8], i: usize, measured: &mut usize, runs: &mut Runs) -> Mask {
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
    // Compressed (`::`), written out (7 colons), or written out with an IPv4 tail (6 colons
    // and the tail's 3 dots).
    if double || colons >= 7 || (colons >= 6 && dots >= 3) {
        mask |= IPV6;
    }
    if mask != 0 {
        runs.push(start, end, mask);
    }
    mask
}

/// The detectors that could match the message whose escaped text is `e`.
///
/// A block of 64 bytes at a time: its bytes' classes as bit masks (`masks_*`), from which bit
/// operations find the few places worth a look: a literal trigger (`@`, `AKIA`, `eyJ`,
/// `bearer`, `key`, `\\u`), a run of address characters with 3 dots between digits close
/// together or with `::` or 7 colons close together, 13 bytes in a row of digits and single
/// separators between digits (a card run). A neighbour in the next block counts as a match (a
/// look too many, never one too few); one in the previous block is known.
pub fn candidates(e: &[u8]) -> Mask {
    candidates_in(e, &mut Runs::default())
}

/// [`candidates`], and where in `e` the detectors of [`ADDRESSES`] may match (`runs`, empty
/// first).
pub fn candidates_in(e: &[u8], runs: &mut Runs) -> Mask {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU has both features, just checked (the standard library caches
            // what it detects).
            return unsafe { candidates_avx2(e, runs) };
        }
        scan_blocks(e, runs, masks_sse2)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        scan_blocks(e, runs, masks_portable)
    }
}

/// [`scan_blocks`] with the AVX2 classifier inlined, the whole loop compiled for AVX2 and
/// POPCNT (bit counts are one instruction there, about fifteen without).
///
/// # Safety
/// The CPU must have AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn candidates_avx2(e: &[u8], runs: &mut Runs) -> Mask {
    // SAFETY: this function runs only where the CPU has AVX2 (its caller's promise).
    scan_blocks(e, runs, |w| unsafe { masks_avx2(w) })
}

/// The pass, with `masks` classifying each block (inlined into each caller, so each gets the
/// code of its own target features).
#[inline(always)]
fn scan_blocks(e: &[u8], runs: &mut Runs, masks: impl Fn(&[u8; WINDOW]) -> Masks) -> Mask {
    let mut mask = 0;
    let (mut address_end, mut card_end) = (0, 0);
    let (mut prev, mut prev_card, mut prev_quad) = (Masks::default(), 0u64, 0u64);
    for base in (0..e.len()).step_by(64) {
        let m = match e.get(base..base + WINDOW) {
            Some(w) => masks(w.try_into().expect("WINDOW bytes")),
            None => last_masks(e, base, &masks),
        };
        let mut literals = m.literal;
        while literals != 0 {
            let i = base + literals.trailing_zeros() as usize;
            literals &= literals - 1;
            match literal(e, i) {
                Some(ALL) => {
                    runs.whole = true;
                    return ALL;
                }
                Some(bit) => mask |= bit,
                None => {}
            }
        }
        let prev_digit = (m.digit << 1) | (prev.digit >> 63);
        let next_digit = ahead(m.digit, 1);
        // Looking back over this block and the last (whose bits are known), at the last dot
        // of a dotted quad (a dot between digits with two more such before it, each 2-4 bytes
        // from the next), the second colon of `::`, and the last colon of a chain of 7 each
        // 2-5 bytes from the next (an address written out whole). Each is worked out only
        // when the two blocks hold enough dots or colons for one.
        let behind = |x: u128, from: u32, to: u32| (from..=to).fold(0, |a, n| a | (x << n));
        let pair = |now: u64, before: u64| (u128::from(now) << 64) | u128::from(before);
        let quad_dot = m.dot & prev_digit & next_digit;
        let v4 = if quad_dot.count_ones() + prev_quad.count_ones() >= 3 {
            let w = pair(quad_dot, prev_quad);
            let second = w & behind(w, 2, 4);
            ((w & behind(second, 2, 4)) >> 64) as u64
        } else {
            0
        };
        let mut v6 = m.colon & ((m.colon << 1) | (prev.colon >> 63));
        if m.colon.count_ones() + prev.colon.count_ones() >= 7 {
            let w = pair(m.colon, prev.colon);
            // Colons 2-5 bytes after another: a chain of 7 has 6. JSON's colons (after keys)
            // are seldom that close, so this is where most blocks with 7 stop.
            let linked = w & behind(w, 2, 5);
            if linked.count_ones() >= 6 {
                let mut chain = linked;
                for _ in 0..5 {
                    chain = w & behind(chain, 2, 5);
                }
                v6 |= (chain >> 64) as u64;
            }
        }
        let mut address_at = v4 | v6;
        while address_at != 0 {
            let i = base + address_at.trailing_zeros() as usize;
            address_at &= address_at - 1;
            if i >= address_end {
                mask |= address(e, i, &mut address_end, runs);
            }
        }
        // Bit i of `r13`: bytes i-12..=i are all digits or separators between digits.
        let card = m.digit | (m.sep & prev_digit & next_digit);
        if mask & CARD == 0 && m.digit.count_ones() + prev.digit.count_ones() >= 13 {
            let w = pair(card, prev_card);
            let r2 = w & (w << 1);
            let r4 = r2 & (r2 << 2);
            let r8 = r4 & (r4 << 4);
            let mut card_at = ((r8 & (r8 << 5)) >> 64) as u64;
            let digits = pair(m.digit, prev.digit);
            while card_at != 0 {
                let j = 64 + card_at.trailing_zeros();
                // The run through bit j of the two blocks: counted here when it starts and ends
                // within them (its digits are the card's), walked byte by byte otherwise.
                let below = !w & ((1u128 << j) - 1);
                let above = !w & !((1u128 << j) - 1);
                if below != 0 && above != 0 {
                    let (start, end) = (128 - below.leading_zeros(), above.trailing_zeros());
                    let run = (u128::MAX >> (128 - (end - start))) << start;
                    if (digits & run).count_ones() >= 13 {
                        mask |= CARD;
                    }
                    // Its other bits are the same run.
                    card_at &= u64::MAX.checked_shl(end - 64).unwrap_or(0);
                } else {
                    let i = base + (j - 64) as usize;
                    card_at &= card_at - 1;
                    if i >= card_end {
                        mask |= card_run(e, i, &mut card_end);
                    }
                }
            }
        }
        prev = m;
        prev_card = card;
        prev_quad = quad_dot;
    }
    mask
}

/// The masks of the block at `e[base..]`, which ends the text within [`WINDOW`] bytes, as if
/// zeros followed it. A text that long is classified in its last `WINDOW` bytes, where they
/// lie, moved down to `base`, and its last [`LOOKAHEAD`] bytes (whose look ahead runs past the
/// text) a byte at a time: copying the end into a zeroed window instead costs a copy, and
/// reading it back across two stores stalls (about a tenth of the pass, on log lines of a few
/// hundred bytes). A shorter text is copied all the same.
#[inline(always)]
fn last_masks(e: &[u8], base: usize, masks: impl Fn(&[u8; WINDOW]) -> Masks) -> Masks {
    let Some(from) = e.len().checked_sub(WINDOW) else {
        let mut window = [0u8; WINDOW];
        window[..e.len() - base].copy_from_slice(&e[base..]);
        return masks(&window);
    };
    // `from` < `base` (the block's window runs past the text).
    let mut m = masks(e[from..].try_into().expect("WINDOW bytes")).down(base - from);
    for i in e.len() - LOOKAHEAD..e.len() {
        if let Some(at) = i.checked_sub(base).filter(|at| *at < 64) {
            m.classify(e, i, at as u32);
        }
    }
    m
}

/// The literal trigger at `e[i]` (a bit of [`Masks::literal`]), if one is there: the
/// detector's bit, or [`ALL`] for a `\\u` escape.
fn literal(e: &[u8], i: usize) -> Option<Mask> {
    let after = &e[i + 1..];
    match e[i] {
        // `\\\\u` (a `\\u` escape in the text itself, as in a JSON message: its strings'
        // escapes are escaped once more here) is found at its second backslash.
        b'\\' => ascii_escape(after).then_some(ALL),
        b'@' => Some(EMAIL),
        b'A' => (after.starts_with(b"KIA") || after.starts_with(b"SIA")).then_some(KEY),
        b'J' => (i >= 2 && &e[i - 2..i] == b"ey").then_some(JWT),
        b'b' | b'B' => starts_ci(after, b"earer").then_some(BEARER),
        b's' | b'S' => starts_ci(after, b"ecret").then_some(SECRET),
        _ => None,
    }
}

/// Whether `after` (what follows a backslash) is a `\\u` escape of printable ASCII or a tab (or
/// one that cannot be read): those may stand for a character a detector matches. Detectors
/// match nothing else, so the escape of any other character (`\\u00e9`, a surrogate, the ESC of
/// a colour code) is to them what the character is, a byte that is none of theirs.
fn ascii_escape(after: &[u8]) -> bool {
    if after.first() != Some(&b'u') {
        return false;
    }
    match after.get(1..5).and_then(|h| std::str::from_utf8(h).ok()) {
        // A tab (a blank between `Bearer` and its token) or printable ASCII.
        Some(hex) => {
            u32::from_str_radix(hex, 16).map_or(true, |c| c == 0x09 || (0x20..0x7f).contains(&c))
        }
        None => true,
    }
}

/// The card run (digits, single spaces or dashes between them) through `e[i]`, not before
/// `*measured` (where the last one measured ended): [`CARD`] when one of its stretches of digits
/// and single separators holds 13 digits.
fn card_run(e: &[u8], i: usize, measured: &mut usize) -> Mask {
    let in_run = |b: u8| b.is_ascii_digit() || b == b' ' || b == b'-';
    let mut j = i;
    while j > *measured && in_run(e[j - 1]) {
        j -= 1;
    }
    let (mut digits, mut best) = (0, 0);
    while j < e.len() && in_run(e[j]) {
        if e[j].is_ascii_digit() {
            digits += 1;
            best = best.max(digits);
        } else if !(j > 0
            && e[j - 1].is_ascii_digit()
            && e.get(j + 1).is_some_and(u8::is_ascii_digit))
        {
            digits = 0;
        }
        j += 1;
    }
    *measured = j;
    if best >= 13 { CARD } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs of digits found where they start and end, across block edges: 13 digits with
    /// single separators are a card run wherever they sit, 12 or a date and an hour never.
    #[test]
    fn card_runs_at_every_offset() {
        for at in 0..140 {
            for (run, card) in [
                ("4111111111111", true),
                ("4111 1111 1111 1111", true),
                ("4-1-1-1-1-1-1-1-1-1-1-1-1", true),
                ("411111111111", false),
                ("2026-11-30 12:34:56", false),
                ("4111  1111 1111 1111", false),
            ] {
                let text = format!("{}{run}{}", "x".repeat(at), " y".repeat(40));
                let found = candidates(text.as_bytes()) & CARD != 0;
                assert_eq!(found, card, "{run:?} at {at}");
            }
        }
    }

    /// The last block of a text, classified where the text lies, has the masks of a copy with
    /// zeros after it, at every length and with every classifier.
    #[test]
    fn last_blocks_agree_with_a_padded_copy() {
        let alphabet = b"0189.: -\\@AIJbBrRkKyYuxe";
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..300 {
            for _ in 0..8 {
                let e: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                for base in (0..len).step_by(64).filter(|b| b + WINDOW > len) {
                    let mut padded = [0u8; WINDOW];
                    padded[..len - base].copy_from_slice(&e[base..]);
                    let want = masks_portable(&padded);
                    assert_eq!(last_masks(&e, base, masks_portable), want, "{len} {base}");
                    #[cfg(target_arch = "x86_64")]
                    {
                        assert_eq!(last_masks(&e, base, masks_sse2), want, "{len} {base}");
                        if std::arch::is_x86_feature_detected!("avx2") {
                            // SAFETY: the CPU has AVX2, just checked.
                            let avx2 = |w: &[u8; WINDOW]| unsafe { masks_avx2(w) };
                            assert_eq!(last_masks(&e, base, avx2), want, "{len} {base}");
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Every version of the block classifier this machine can run gives the portable one's
        /// masks (AVX2 and SSE2 here; NEON is not written yet: arm64 runs the portable one).
        #[test]
        fn masks_agree_with_the_portable_reference(
            block in proptest::collection::vec(
                prop_oneof![any::<u8>(), proptest::sample::select(b"0189.: -\\@AIJbBrRkKyYu".to_vec())],
                WINDOW,
            ),
        ) {
            let block: [u8; WINDOW] = block.try_into().unwrap();
            // Elsewhere only the portable classifier exists: nothing to compare.
            #[cfg(not(target_arch = "x86_64"))]
            let _ = block;
            #[cfg(target_arch = "x86_64")]
            {
                prop_assert_eq!(masks_sse2(&block), masks_portable(&block));
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, just checked.
                    prop_assert_eq!(unsafe { masks_avx2(&block) }, masks_portable(&block));
                }
            }
        }
    }
}
