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

use std::borrow::Cow;
use std::fmt;

use crate::doc::{Refs, SharedDoc};

/// The content of a JSON string, between its quotes, escapes kept, and the length of the text
/// it stands for. Borrowed from a decoded document.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EscapedStr<'a> {
    escaped: &'a str,
    len: usize,
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
    buf: SharedDoc,
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

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `w` that equals `c`, exactly (no false positives from borrows).
#[inline(always)]
fn eq_bytes(w: u64, c: u8) -> u64 {
    let t = w ^ (LO * c as u64);
    !(((t & !HI).wrapping_add(!HI)) | t) & HI
}

/// The high bit of every byte of `w` below 0x20 (a control character JSON must escape).
#[inline(always)]
fn control_bytes(w: u64) -> u64 {
    !((w & !HI).wrapping_add(LO * 0x60)) & !w & HI
}

#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// How a string scan finds, in a block of bytes, the ones it must look at: quotes, backslashes
/// and control characters. Everything else in a JSON string is copied as it is.
trait Specials {
    /// Bytes per block.
    const WIDTH: usize;
    /// log2 of the mask bits per byte: byte `k` of the block owns mask bits `k << SHIFT` up to
    /// `(k + 1) << SHIFT`, and is flagged when any of them is set (SWAR sets its high bit,
    /// SSE2 its one bit, NEON all four).
    const SHIFT: u32;
    /// The mask of the block at `b[i..i + WIDTH]`, which the caller has checked is in bounds.
    fn mask(b: &[u8], i: usize) -> u64;
}

/// Eight bytes in a `u64`, on any target: the portable scan, and the tests' second opinion on
/// the SSE2 and NEON ones.
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
struct Swar;

impl Specials for Swar {
    const WIDTH: usize = 8;
    const SHIFT: u32 = 3;

    #[inline(always)]
    fn mask(b: &[u8], i: usize) -> u64 {
        let w = word(b, i);
        eq_bytes(w, b'"') | eq_bytes(w, b'\\') | control_bytes(w)
    }
}

/// Thirty-two bytes in two SSE2 registers (every x86-64 has SSE2), one mask bit per byte.
#[cfg(target_arch = "x86_64")]
struct Sse2;

#[cfg(target_arch = "x86_64")]
impl Specials for Sse2 {
    const WIDTH: usize = 32;
    const SHIFT: u32 = 0;

    #[inline(always)]
    fn mask(b: &[u8], i: usize) -> u64 {
        use std::arch::x86_64::*;
        let block: &[u8; 32] = b[i..i + 32].try_into().expect("32 bytes");
        // SAFETY: `block` holds 32 bytes, so the loads at 0 and 16 read in bounds (unaligned
        // loads); SSE2, all these intrinsics need, is part of the x86-64 baseline.
        let half = |at: usize| unsafe {
            let [quote, backslash, control] =
                sse2_specials(_mm_loadu_si128(block.as_ptr().add(at).cast()));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32 as u64
        };
        half(0) | (half(16) << 16)
    }
}

/// The quotes, backslashes and control characters of 16 bytes, as SSE2 compare masks (0xFF
/// bytes): what both x86-64 scans look for.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sse2_specials(v: std::arch::x86_64::__m128i) -> [std::arch::x86_64::__m128i; 3] {
    use std::arch::x86_64::*;
    // SAFETY: SSE2, all these intrinsics need, is part of the x86-64 baseline.
    unsafe {
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned v <= 0x1F: max(v, 0x1F) is 0x1F exactly then.
        let low = _mm_set1_epi8(0x1F);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
        [quote, backslash, control]
    }
}

/// Sixteen bytes in a NEON register (every aarch64 has NEON, Graviton included), four mask bits
/// per byte: NEON has no `movemask`, and narrowing each 16-bit lane by 4 bits packs the 16
/// compare bytes into 64 bits in one instruction.
#[cfg(target_arch = "aarch64")]
struct Neon;

#[cfg(target_arch = "aarch64")]
impl Specials for Neon {
    const WIDTH: usize = 16;
    const SHIFT: u32 = 2;

    #[inline(always)]
    fn mask(b: &[u8], i: usize) -> u64 {
        use std::arch::aarch64::*;
        let block: &[u8; 16] = b[i..i + 16].try_into().expect("16 bytes");
        // SAFETY: `block` holds the 16 bytes the load reads; NEON, all these intrinsics need,
        // is part of the aarch64 baseline.
        unsafe {
            let [quote, backslash, control] = neon_specials(vld1q_u8(block.as_ptr()));
            let any = vorrq_u8(vorrq_u8(quote, backslash), control);
            let nibbles = vshrn_n_u16::<4>(vreinterpretq_u16_u8(any));
            vget_lane_u64::<0>(vreinterpret_u64_u8(nibbles))
        }
    }
}

/// The quotes, backslashes and control characters of 16 bytes, as NEON compare masks (0xFF
/// bytes): what both aarch64 scans look for.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn neon_specials(v: std::arch::aarch64::uint8x16_t) -> [std::arch::aarch64::uint8x16_t; 3] {
    use std::arch::aarch64::*;
    // SAFETY: NEON, all these intrinsics need, is part of the aarch64 baseline.
    unsafe {
        [
            vceqq_u8(v, vdupq_n_u8(b'"')),
            vceqq_u8(v, vdupq_n_u8(b'\\')),
            vcleq_u8(v, vdupq_n_u8(0x1F)),
        ]
    }
}

/// Scans the JSON string whose content starts at `s[start]` (just after its opening quote),
/// checking it as serde_json checks a string it reads as text: no control character, only
/// JSON's escapes, `\u` with four hex digits and surrogates in pairs. Returns the index of the
/// closing quote and the content, or `None` when the string is invalid or not closed.
///
/// One pass, 64 bytes at a time ([`scan_blocks`]): masks of a block's quotes, backslashes and
/// control characters (AVX2 or SSE2 on x86-64, NEON on aarch64, `u64` words elsewhere) give
/// its escapes, its closing quote and the bytes its escapes save all at once, so the `\"` or
/// `\\` every few bytes of a JSON-in-JSON message costs no branch of its own. The length is
/// counted on the way. The last bytes, and blocks with `\u` escapes, go an escape at a time
/// ([`scan_from`]).
#[inline]
pub(crate) fn scan_string(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    #[cfg(target_arch = "x86_64")]
    {
        // Today's x86-64 servers have AVX2 and POPCNT, but the x86-64 baseline has neither
        // (without POPCNT, counting a block's escapes is a dozen instructions): detected once,
        // then a cached bit test per string.
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU has AVX2 and POPCNT, checked just now.
            return unsafe { scan_avx2(s, start) };
        }
        scan_sse2(s, start)
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: NEON is part of the aarch64 baseline.
    return unsafe { scan_blocks::<Neon>(s, start) };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    // SAFETY: plain integer arithmetic.
    return unsafe { scan_blocks::<Swar>(s, start) };
}

/// [`scan_blocks`] with AVX2 masks and the POPCNT instruction.
///
/// # Safety
/// The CPU has AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn scan_avx2(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    // SAFETY: the caller's.
    unsafe { scan_blocks::<Avx2>(s, start) }
}

/// [`scan_blocks`] on the x86-64 baseline.
#[cfg(target_arch = "x86_64")]
fn scan_sse2(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    // SAFETY: SSE2 is part of the x86-64 baseline.
    unsafe { scan_blocks::<Sse2>(s, start) }
}

/// Odd bit positions of a 64-byte block's mask.
const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// Which bytes of a 64-byte block are escaped, and which backslashes escape them, from its
/// backslashes and `carry` (1 when the previous block ended in a backslash that escapes this
/// block's first byte). Runs of backslashes pair up from their start: `\\\\` is two escaped
/// backslashes, `\\\\\"` two and an escaped quote. Subtraction finds every run's start and
/// parity at once (simdjson's escape scanner, Langdale and Lemire 2019).
#[inline(always)]
fn escapes(backslash: u64, carry: u64) -> (u64, u64) {
    let potential = backslash & !carry;
    // Runs that start on an even bit come out of the subtraction set, odd ones clear; the XOR
    // with the odd bits then leaves the escaping backslashes and the bytes after runs.
    let code = (((potential << 1) | ODD_BITS).wrapping_sub(potential)) ^ ODD_BITS;
    let escaped = code ^ (backslash | carry);
    let escape = code & backslash;
    (escaped, escape)
}

/// The quotes, backslashes and control characters of a 64-byte block, one bit per byte
/// (byte `k` is bit `k`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    control: u64,
}

/// How [`scan_blocks`] reads a 64-byte block into its [`Masks`].
trait Blocks: Specials {
    /// # Safety
    /// The CPU has the instructions the implementation uses (beyond its target's baseline:
    /// only [`Avx2`]'s).
    unsafe fn masks(block: &[u8; 64]) -> Masks;
}

impl Blocks for Swar {
    #[inline(always)]
    unsafe fn masks(block: &[u8; 64]) -> Masks {
        // The high bits of a word's flagged bytes, gathered into one byte by a multiply that
        // moves byte k's bit to bit 56 + k (no two partial products overlap, so no carries).
        let gather = |m: u64| (m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        let mut m = Masks::default();
        for k in 0..8 {
            let w = word(block, 8 * k);
            m.quote |= gather(eq_bytes(w, b'"')) << (8 * k);
            m.backslash |= gather(eq_bytes(w, b'\\')) << (8 * k);
            m.control |= gather(control_bytes(w)) << (8 * k);
        }
        m
    }
}

#[cfg(target_arch = "x86_64")]
impl Blocks for Sse2 {
    #[inline(always)]
    unsafe fn masks(block: &[u8; 64]) -> Masks {
        use std::arch::x86_64::*;
        let mut m = Masks::default();
        for k in 0..4 {
            // SAFETY: bytes 16k..16k + 16 of the 64-byte block (an unaligned load); SSE2, all
            // these intrinsics need, is part of the x86-64 baseline.
            unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
                let [quote, backslash, control] = sse2_specials(v).map(|x| _mm_movemask_epi8(x));
                m.quote |= (quote as u32 as u64) << (16 * k);
                m.backslash |= (backslash as u32 as u64) << (16 * k);
                m.control |= (control as u32 as u64) << (16 * k);
            }
        }
        m
    }
}

/// Two AVX2 registers of 32 bytes: half the loads, compares and movemasks of [`Sse2`]. Only
/// reached through [`scan_avx2`], once the CPU is known to have AVX2.
#[cfg(target_arch = "x86_64")]
struct Avx2;

/// The escape-at-a-time scan after an AVX2 block scan hands over: SSE2's.
#[cfg(target_arch = "x86_64")]
impl Specials for Avx2 {
    const WIDTH: usize = Sse2::WIDTH;
    const SHIFT: u32 = Sse2::SHIFT;

    #[inline(always)]
    fn mask(b: &[u8], i: usize) -> u64 {
        Sse2::mask(b, i)
    }
}

#[cfg(target_arch = "x86_64")]
impl Blocks for Avx2 {
    #[inline(always)]
    unsafe fn masks(block: &[u8; 64]) -> Masks {
        use std::arch::x86_64::*;
        let mut m = Masks::default();
        for k in 0..2 {
            // SAFETY: bytes 32k..32k + 32 of the 64-byte block (an unaligned load); the
            // caller has checked that the CPU has AVX2.
            unsafe {
                let v = _mm256_loadu_si256(block.as_ptr().add(32 * k).cast());
                let low = _mm256_set1_epi8(0x1F);
                let quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
                let backslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8));
                let control = _mm256_cmpeq_epi8(_mm256_max_epu8(v, low), low);
                m.quote |= (_mm256_movemask_epi8(quote) as u32 as u64) << (32 * k);
                m.backslash |= (_mm256_movemask_epi8(backslash) as u32 as u64) << (32 * k);
                m.control |= (_mm256_movemask_epi8(control) as u32 as u64) << (32 * k);
            }
        }
        m
    }
}

#[cfg(target_arch = "aarch64")]
impl Blocks for Neon {
    #[inline(always)]
    unsafe fn masks(block: &[u8; 64]) -> Masks {
        use std::arch::aarch64::*;
        // SAFETY: four 16-byte loads inside the 64-byte block; NEON, all these intrinsics
        // need, is part of the aarch64 baseline.
        unsafe {
            let v: [uint8x16_t; 4] = std::array::from_fn(|k| vld1q_u8(block.as_ptr().add(16 * k)));
            // No movemask on NEON: each compare byte keeps its own bit of 1..=128, and three
            // rounds of pairwise adds pack the 64 bytes into 64 bits, byte k at bit k.
            let weights: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
            let weights = vld1q_u8(weights.as_ptr());
            let bits = |c: [uint8x16_t; 4]| {
                let t: [uint8x16_t; 4] = std::array::from_fn(|k| vandq_u8(c[k], weights));
                let s = vpaddq_u8(vpaddq_u8(t[0], t[1]), vpaddq_u8(t[2], t[3]));
                vgetq_lane_u64::<0>(vreinterpretq_u64_u8(vpaddq_u8(s, s)))
            };
            let specials = v.map(neon_specials);
            Masks {
                quote: bits(specials.map(|c| c[0])),
                backslash: bits(specials.map(|c| c[1])),
                control: bits(specials.map(|c| c[2])),
            }
        }
    }
}

/// The string scan, 64 bytes at a time without looking at escapes one by one: the escaped
/// bytes and escaping backslashes of a whole block come from its masks ([`escapes`]), the
/// first unescaped quote closes the string, and every escaping backslash before it saves a
/// byte. Only escapes other than `\"` and `\\` (`\n`, `\t`, … in JSON-in-JSON messages) are
/// looked at, to check them; a `\u` escape, an invalid one and the last bytes (under 64) go to
/// [`scan_from`], which resumes where this left off.
///
/// # Safety
/// As [`Blocks::masks`]: the CPU has what `B` uses.
#[inline(always)]
unsafe fn scan_blocks<B: Blocks>(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    let b = s.as_bytes();
    let mut i = start;
    let mut saved = 0usize;
    let mut carry = 0u64;
    while let Some(block) = b.get(i..i + 64) {
        let block: &[u8; 64] = block.try_into().expect("64 bytes");
        // SAFETY: the caller's.
        let m = unsafe { B::masks(block) };
        let (escaped, escape) = escapes(m.backslash, carry);
        let closing = m.quote & !escaped;
        // The bits below the closing quote; all of them when the string goes on.
        let inside = closing.wrapping_sub(1) & !closing;
        if m.control & inside != 0 {
            return None;
        }
        let mut others = escaped & inside & !(m.quote | m.backslash);
        while others != 0 {
            if !SIMPLE_ESCAPE[block[others.trailing_zeros() as usize] as usize] {
                // From this block's start, or from the backslash ending the previous block
                // (counted there, so not counted twice).
                let from = i - carry as usize;
                return scan_from::<B>(s, start, from, saved - carry as usize);
            }
            others &= others - 1;
        }
        saved += (escape & inside).count_ones() as usize;
        if closing != 0 {
            let end = i + closing.trailing_zeros() as usize;
            return Some((
                end,
                EscapedStr {
                    escaped: &s[start..end],
                    len: end - start - saved,
                },
            ));
        }
        carry = escape >> 63;
        i += 64;
    }
    scan_from::<B>(s, start, i - carry as usize, saved - carry as usize)
}

/// The string scan an escape at a time, a block of [`Specials::WIDTH`] bytes at a time, from
/// the start: the tests' second opinion on [`scan_blocks`].
#[cfg(test)]
fn scan_with<B: Specials>(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    scan_from::<B>(s, start, start, 0)
}

/// The string scan an escape at a time, resumed at `from` (outside any escape) with `saved`
/// bytes saved before it.
fn scan_from<B: Specials>(
    s: &str,
    start: usize,
    from: usize,
    saved: usize,
) -> Option<(usize, EscapedStr<'_>)> {
    let b = s.as_bytes();
    let n = b.len();
    let mut i = from;
    // Bytes the escapes take beyond the text they stand for.
    let mut saved = saved;
    let done = |end: usize, saved: usize| {
        (
            end,
            EscapedStr {
                escaped: &s[start..end],
                len: end - start - saved,
            },
        )
    };
    // The mask bits of a backslash and the byte it escapes.
    let pair_bits: u64 = (1 << (2 << B::SHIFT)) - 1;
    'blocks: loop {
        if i + B::WIDTH <= n {
            let mut m = B::mask(b, i);
            while m != 0 {
                let k = (m.trailing_zeros() >> B::SHIFT) as usize;
                let at = i + k;
                match b[at] {
                    b'"' => return Some(done(at, saved)),
                    b'\\' => {
                        // A table, not a `match`: the compiler makes a jump table of the
                        // latter, and its indirect jump mispredicts on mixed escapes.
                        let e = *b.get(at + 1)?;
                        if SIMPLE_ESCAPE[e as usize] {
                            saved += 1;
                            if k + 2 > B::WIDTH {
                                // The escaped byte starts the next block.
                                i = at + 2;
                                continue 'blocks;
                            }
                            // Clear the backslash and the byte it escapes.
                            m &= !(pair_bits << (k << B::SHIFT));
                        } else if e == b'u' {
                            let (c, used) = decode_u(b, at).ok()?;
                            saved += used - c.len_utf8();
                            i = at + used;
                            continue 'blocks;
                        } else {
                            return None;
                        }
                    }
                    _ => return None, // a control character
                }
            }
            i += B::WIDTH;
        } else {
            match *b.get(i)? {
                b'"' => return Some(done(i, saved)),
                b'\\' => match *b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                        saved += 1;
                        i += 2;
                    }
                    b'u' => {
                        let (c, used) = decode_u(b, i).ok()?;
                        saved += used - c.len_utf8();
                        i += used;
                    }
                    _ => return None,
                },
                c if c < 0x20 => return None,
                _ => i += 1,
            }
        }
    }
}

/// Every scan this build has, on `s` from `start`, by name: the dispatched one, the 64-byte
/// block scans of each instruction set the CPU has, and the escape-at-a-time scan. The fuzz
/// targets hold them to one another and to a byte-by-byte reference.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn every_scan(
    s: &str,
    start: usize,
) -> Vec<(&'static str, Option<(usize, EscapedStr<'_>)>)> {
    // SAFETY: SWAR is plain integer arithmetic.
    let mut all = vec![
        ("dispatched", scan_string(s, start)),
        ("swar blocks", unsafe { scan_blocks::<Swar>(s, start) }),
        (
            "swar escape at a time",
            scan_from::<Swar>(s, start, start, 0),
        ),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        all.push(("sse2 blocks", unsafe { scan_blocks::<Sse2>(s, start) }));
        all.push((
            "sse2 escape at a time",
            scan_from::<Sse2>(s, start, start, 0),
        ));
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU has AVX2 and POPCNT, checked just now.
            all.push(("avx2 blocks", unsafe { scan_avx2(s, start) }));
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of the aarch64 baseline.
        all.push(("neon blocks", unsafe { scan_blocks::<Neon>(s, start) }));
        all.push((
            "neon escape at a time",
            scan_from::<Neon>(s, start, start, 0),
        ));
    }
    all
}

/// [`only_quote_escapes`] of each instruction set the CPU has, by name.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn every_only_quote_escapes(escaped: &str) -> Vec<(&'static str, bool)> {
    let b = escaped.as_bytes();
    // SAFETY: SWAR is plain integer arithmetic.
    let mut all = vec![
        ("dispatched", only_quote_escapes(escaped)),
        ("swar", unsafe { only_quote_escapes_in::<Swar>(b) }),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        all.push(("sse2", unsafe { only_quote_escapes_in::<Sse2>(b) }));
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just now.
            all.push(("avx2", unsafe { only_quote_escapes_avx2(b) }));
        }
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: NEON is part of the aarch64 baseline.
    all.push(("neon", unsafe { only_quote_escapes_in::<Neon>(b) }));
    all
}

/// The escapes that stand for one byte: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`.
const SIMPLE_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    let simple = b"\"\\/bfnrt";
    while k < simple.len() {
        t[simple[k] as usize] = true;
        k += 1;
    }
    t
};

/// Byte by byte, with `\u` escapes decoded (a surrogate pair is one 4-byte character; a lone
/// surrogate is refused, as serde_json refuses it when it reads the string as text): names the
/// fault [`scan_string`] found.
fn unescaped_len_slow(escaped: &str) -> Result<usize, JsonStrError> {
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
fn decode_u(b: &[u8], i: usize) -> Result<(char, usize), JsonStrError> {
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

/// Whether every escape of escaped content is `\"` or `\\`: then the text differs from it only
/// where it has a quote or a backslash, each written as that character after a backslash.
///
/// 64 bytes at a time with the string scan's masks and [`escapes`]: a JSON-in-JSON message has
/// an escape every few bytes, too many to look at one by one.
pub fn only_quote_escapes(escaped: &str) -> bool {
    let b = escaped.as_bytes();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just now.
            return unsafe { only_quote_escapes_avx2(b) };
        }
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { only_quote_escapes_in::<Sse2>(b) }
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: NEON is part of the aarch64 baseline.
    return unsafe { only_quote_escapes_in::<Neon>(b) };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    // SAFETY: plain integer arithmetic.
    return unsafe { only_quote_escapes_in::<Swar>(b) };
}

/// [`only_quote_escapes_in`] with AVX2 masks.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn only_quote_escapes_avx2(b: &[u8]) -> bool {
    // SAFETY: the caller's.
    unsafe { only_quote_escapes_in::<Avx2>(b) }
}

/// # Safety
/// As [`Blocks::masks`]: the CPU has what `B` uses.
#[inline(always)]
unsafe fn only_quote_escapes_in<B: Blocks>(b: &[u8]) -> bool {
    let mut carry = 0;
    let mut blocks = b.chunks_exact(64);
    for block in blocks.by_ref() {
        // SAFETY: the caller's.
        let m = unsafe { B::masks(block.try_into().expect("64 bytes")) };
        let (escaped, escape) = escapes(m.backslash, carry);
        if escaped & !(m.quote | m.backslash) != 0 {
            return false;
        }
        carry = escape >> 63;
    }
    let mut escaping = carry != 0;
    for &c in blocks.remainder() {
        if escaping && !matches!(c, b'"' | b'\\') {
            return false;
        }
        escaping = !escaping && c == b'\\';
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn raw_value_marker_is_serde_jsons() {
        let text = r#"{"records":[{"recordId":"a\u00fc","data":"QQ=="}],"n":[1, 2.5e3]}"#;
        let ours = serde_json::to_vec(&JsonText::new(text.to_owned())).unwrap();
        assert_eq!(ours, text.as_bytes(), "written verbatim, as RawValue is");
        let theirs = serde_json::value::RawValue::from_string(text.to_owned()).unwrap();
        assert_eq!(ours, serde_json::to_vec(&theirs).unwrap());
        // Inside another value too (the runtime's error bodies are not ours, but be exact).
        let nested = serde_json::to_string(&serde_json::json!({"k": 1})).unwrap();
        assert_eq!(
            serde_json::to_string(&vec![JsonText::new(nested.clone())]).unwrap(),
            format!("[{nested}]")
        );
    }

    fn raw(text: &str) -> String {
        serde_json::to_string(text).unwrap()
    }

    #[test]
    fn masks_are_exact() {
        for c in 0..=255u8 {
            let w = u64::from_le_bytes([c, b'\\', c, b'"', 0x1f, 0x20, 0x7f, 0xff]);
            for (k, byte) in w.to_le_bytes().iter().enumerate() {
                let bit = 0x80u64 << (8 * k);
                assert_eq!(eq_bytes(w, b'\\') & bit != 0, *byte == b'\\', "{c} {k}");
                assert_eq!(control_bytes(w) & bit != 0, *byte < 0x20, "{c} {k}");
            }
        }
    }

    #[test]
    fn lengths_and_text_of_escapes() {
        for (json, text) in [
            (r#""plain""#, "plain"),
            (r#""a\"b\\c\/d\n\t\r\b\f""#, "a\"b\\c/d\n\t\r\u{8}\u{c}"),
            (r#""\\\\\\\\\\\\\\\\\\""#, "\\\\\\\\\\\\\\\\\\"),
            (r#""12345678\"""#, "12345678\""),
            (r#""1234567\"x""#, "1234567\"x"),
            (r#""123456\"xy""#, "123456\"xy"),
            (r#""\u00fc \u20ac \ud83d\ude00 \u0041""#, "ü € 😀 A"),
            (r#""""#, ""),
        ] {
            let s = EscapedStr::from_raw_json(json).unwrap();
            assert_eq!(s.len(), text.len(), "{json}");
            assert_eq!(s.text(), text, "{json}");
            assert_eq!(s, text);
            assert_eq!(Message::from_escaped(s), text);
        }
    }

    #[test]
    fn messages_within_a_document_share_it() {
        let doc = SharedDoc::new(r#"{"a":"x\"y","b":"","c":"plain"}"#.to_owned());
        let strings: Vec<EscapedStr<'_>> = [(6, 10), (17, 17), (24, 29)]
            .iter()
            .map(|&(start, end)| EscapedStr::from_raw_json(&doc[start - 1..end + 1]).unwrap())
            .collect();
        let mut refs = doc.refs(4);
        let got: Vec<Message> = strings
            .iter()
            .map(|s| Message::within(&mut refs, *s).expect("inside the document"))
            .collect();
        assert_eq!(got, ["x\"y".into(), "".into(), Message::from_text("plain")]);
        assert_eq!(got[0].len(), 3);
        assert_eq!(got[0].escaped(), r#"x\"y"#);
        assert!(got.iter().all(|m| SharedDoc::ptr_eq(&m.buf, &doc)));
        // A string from elsewhere is not within it, and takes no reference.
        let other = r#""x\"y""#.to_owned();
        let elsewhere = EscapedStr::from_raw_json(&other).unwrap();
        assert!(Message::within(&mut refs, elsewhere).is_none());
        // Once the references are taken, none is made: the caller copies instead.
        let last = Message::within(&mut refs, strings[0]).expect("the fourth reference");
        assert!(Message::within(&mut refs, strings[0]).is_none());
        drop(refs);
        Message::release(got);
        let doc = doc
            .try_into_string()
            .expect_err("one message still holds it");
        drop(last);
        assert_eq!(
            doc.try_into_string().unwrap(),
            r#"{"a":"x\"y","b":"","c":"plain"}"#
        );
    }

    #[test]
    fn lone_surrogates_and_non_strings_are_refused() {
        assert_eq!(
            EscapedStr::from_raw_json(r#""x\ud83d""#),
            Err(JsonStrError::LoneSurrogate(1))
        );
        assert_eq!(
            EscapedStr::from_raw_json(r#""\ude00x""#),
            Err(JsonStrError::LoneSurrogate(0))
        );
        assert_eq!(
            EscapedStr::from_raw_json(r#""\ud83d\u0041""#),
            Err(JsonStrError::LoneSurrogate(0))
        );
        assert!(matches!(
            EscapedStr::from_raw_json("42"),
            Err(JsonStrError::NotAString(_))
        ));
        assert!(matches!(
            EscapedStr::from_raw_json("\""),
            Err(JsonStrError::NotAString(_))
        ));
    }

    #[test]
    fn escaping_matches_serde_json() {
        for text in [
            "",
            "plain text of some length",
            "q\"b\\n\nt\tr\rc\u{1}\u{1f}\u{7f} ü 😀",
            "{\"level\":\"INFO\",\"msg\":\"x\"}",
        ] {
            let mut out = String::new();
            write_str(text, &mut out);
            assert_eq!(out, raw(text));
            assert_eq!(Message::from_text(text).text(), text);
        }
    }

    /// `scan_string` on a whole JSON string literal: the content, or None. The portable
    /// SWAR scan (what aarch64 runs) must agree with the one this target runs.
    fn scan(literal: &str) -> Option<EscapedStr<'_>> {
        let (end, s) = both_scans(literal, 1)?;
        assert_eq!(end, literal.len() - 1, "{literal}: the closing quote");
        Some(s)
    }

    fn both_scans(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
        let ours = scan_string(s, start);
        assert_eq!(
            scan_with::<Swar>(s, start),
            ours,
            "the escape-at-a-time SWAR scan and this target's scan differ on {s:?}"
        );
        // SAFETY: SWAR is plain arithmetic.
        let swar = unsafe { scan_blocks::<Swar>(s, start) };
        assert_eq!(
            swar, ours,
            "the 64-byte SWAR scan and this target's scan differ on {s:?}"
        );
        // Without AVX2 (the test machine has it, so `ours` was the AVX2 scan).
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            scan_sse2(s, start),
            ours,
            "SSE2 and AVX2 scans differ on {s:?}"
        );
        ours
    }

    /// [`escapes`] byte by byte: a backslash not itself escaped escapes the next byte.
    fn escapes_slowly(backslash: u64, carry: u64) -> (u64, u64) {
        let (mut escaped, mut escape) = (carry, 0);
        for k in 0..64 {
            if escaped & (1 << k) == 0 && backslash & (1 << k) != 0 {
                escape |= 1 << k;
                if k < 63 {
                    escaped |= 1 << (k + 1);
                }
            }
        }
        (escaped, escape)
    }

    #[test]
    fn escapes_of_every_backslash_run() {
        // Runs of every length at every offset, and sparse and dense random blocks, each with
        // and without an escape carried in.
        let mut blocks = vec![0, !0, ODD_BITS, !ODD_BITS];
        for len in 1..=64 {
            for at in 0..=64 - len {
                blocks.push((u64::MAX >> (64 - len)) << at);
            }
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            blocks.push(x);
            blocks.push(x & x.rotate_left(5));
        }
        for bs in blocks {
            for carry in [0, 1] {
                assert_eq!(
                    escapes(bs, carry),
                    escapes_slowly(bs, carry),
                    "{bs:#x} {carry}"
                );
            }
        }
    }

    /// Every byte value at every offset of a 64-byte block: its bit set in exactly the masks
    /// it belongs to.
    fn block_masks_are_exact<B: Blocks>() {
        let bytes: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for i in 0..=bytes.len() - 64 {
            // SAFETY: the callers check that the CPU has what `B` uses.
            let m = unsafe { B::masks(bytes[i..i + 64].try_into().unwrap()) };
            for k in 0..64 {
                let c = bytes[i + k];
                let bit = |mask: u64| mask & (1 << k) != 0;
                assert_eq!(bit(m.quote), c == b'"', "byte {c:#x} at {k}");
                assert_eq!(bit(m.backslash), c == b'\\', "byte {c:#x} at {k}");
                assert_eq!(bit(m.control), c < 0x20, "byte {c:#x} at {k}");
            }
        }
    }

    #[test]
    fn masks_of_64_byte_blocks_are_exact() {
        block_masks_are_exact::<Swar>();
        #[cfg(target_arch = "x86_64")]
        {
            block_masks_are_exact::<Sse2>();
            if std::arch::is_x86_feature_detected!("avx2") {
                block_masks_are_exact::<Avx2>();
            }
        }
        #[cfg(target_arch = "aarch64")]
        block_masks_are_exact::<Neon>();
    }

    /// Every byte value at every offset of a block: flagged exactly when it is a quote, a
    /// backslash or a control character, by all of its mask bits or the SWAR high bit.
    fn mask_is_exact<B: Specials>() {
        let bytes: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        let per_byte = 1u32 << B::SHIFT;
        let all = (1u64 << per_byte) - 1;
        for i in 0..=bytes.len() - B::WIDTH {
            let m = B::mask(&bytes, i);
            for k in 0..B::WIDTH {
                let c = bytes[i + k];
                let special = c == b'"' || c == b'\\' || c < 0x20;
                let bits = (m >> (k as u32 * per_byte)) & all;
                let high = 1u64 << (per_byte - 1);
                assert!(bits == 0 || bits == high || bits == all, "{bits:#x}");
                assert_eq!(bits != 0, special, "byte {c:#x} at {k}");
            }
            if (B::WIDTH << B::SHIFT) < 64 {
                assert_eq!(m >> (B::WIDTH << B::SHIFT), 0);
            }
        }
    }

    #[test]
    fn block_masks_flag_exactly_quotes_backslashes_and_controls() {
        mask_is_exact::<Swar>();
        #[cfg(target_arch = "x86_64")]
        mask_is_exact::<Sse2>();
        #[cfg(target_arch = "aarch64")]
        mask_is_exact::<Neon>();
    }

    #[test]
    fn escapes_at_every_block_boundary() {
        // An escape at each offset of the first two 64-byte blocks (and so of every smaller
        // one), the quote at each offset after it.
        for pre in 0..140 {
            for post in 0..40 {
                for escape in [
                    r#"\""#,
                    r#"\\"#,
                    r#"\\\""#,
                    r#"\\\\"#,
                    r#"\n"#,
                    r#"\u00fc"#,
                    r#"\ud83d\ude00"#,
                ] {
                    let literal = format!(
                        "\"{}{escape}{}\"{}",
                        "a".repeat(pre),
                        "b".repeat(post),
                        " ".repeat(40)
                    );
                    let text: String = serde_json::Deserializer::from_str(&literal)
                        .into_iter::<String>()
                        .next()
                        .unwrap()
                        .unwrap();
                    let (end, s) = both_scans(&literal, 1).expect(&literal);
                    assert_eq!(end, literal.len() - 41, "{literal}");
                    assert_eq!((s.len(), s.text().into_owned()), (text.len(), text));
                }
            }
        }
    }

    #[test]
    fn scan_agrees_with_serde_on_hand_picked_strings() {
        for literal in [
            r#""""#,
            r#""plain""#,
            r#""a\"b\\c\/d\n\t\r\b\f""#,
            r#""12345678\"""#,
            r#""1234567\"x""#,
            r#""123456\"xy""#,
            r#""\u00fc \u20AC \ud83d\ude00 \u0041""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\u+123""#,
            r#""\u12""#,
            r#""\x""#,
            "\"tab\there\"",
            "\"nul\u{0}\"",
            r#""unterminated"#,
            r#""ends with backslash\"#,
            r#""12345678901234\"#,
        ] {
            let serde = serde_json::from_str::<String>(literal).ok();
            let ours = std::panic::catch_unwind(|| scan(literal)).ok().flatten();
            assert_eq!(
                ours.map(|s| (s.len(), s.text().into_owned())),
                serde.map(|t| (t.len(), t)),
                "{literal}"
            );
        }
    }

    proptest! {
        /// Escaped content with quotes and backslashes every few bytes, or a tab, a newline or
        /// a `\u` escape among them: yes in the first case, no in the second.
        #[test]
        fn only_quote_escapes_says_yes_to_quote_escapes_only(
            text in "[a\"\\\\é\t\n\u{1}]{0,150}",
            unicode in any::<bool>(),
        ) {
            let mut escaped = String::new();
            escape_into(&text, &mut escaped);
            if unicode {
                escaped = escaped.replacen('a', "\\u0061", 1);
            }
            let others = text.contains(['\t', '\n', '\u{1}']) || escaped.contains("\\u0061");
            prop_assert_eq!(only_quote_escapes(&escaped), !others, "{}", escaped);
            // SAFETY: SSE2 is in the x86-64 baseline.
            #[cfg(target_arch = "x86_64")]
            prop_assert_eq!(unsafe { only_quote_escapes_in::<Sse2>(escaped.as_bytes()) }, !others);
            // SAFETY: SWAR is plain arithmetic.
            prop_assert_eq!(unsafe { only_quote_escapes_in::<Swar>(escaped.as_bytes()) }, !others);
        }
    }

    proptest! {
        #[test]
        fn scan_agrees_with_serde(
            body in "([a-z\"\\\\/ \t\u{1}é😀]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-FdD]{4}){0,150}",
            tail in "[a-z\"]{0,3}",
            after in "[a-z\", ]{0,40}",
        ) {
            // Random, often invalid string bodies: where serde_json reads a string, the scan
            // reads the same text and length; where serde refuses, so does the scan. Text
            // after the string puts its end inside a block rather than in the scalar tail.
            let literal = format!("\"{body}{tail}{after}");
            let serde = serde_json::Deserializer::from_str(&literal)
                .into_iter::<String>()
                .next()
                .and_then(Result::ok);
            let ours = both_scans(&literal, 1).map(|(end, s)| (end, s.len(), s.text().into_owned()));
            match serde {
                Some(t) => {
                    let (end, len, text) = ours.expect("serde read it");
                    prop_assert_eq!(&literal[end..end + 1], "\"");
                    prop_assert_eq!(len, t.len());
                    prop_assert_eq!(text, t);
                }
                None => prop_assert!(ours.is_none(), "serde refused {literal:?}, scan read {ours:?}"),
            }
        }

        #[test]
        fn any_text_round_trips(text in "(\\PC|[\"\\\\\n\t\u{1}\u{7f}é€😀]){0,80}") {
            // serde_json's escaping (what an emulator or another writer produces) and ours
            // both read back as the text, with the service's length.
            let theirs = raw(&text);
            let s = EscapedStr::from_raw_json(&theirs).unwrap();
            prop_assert_eq!(s.len(), text.len());
            prop_assert_eq!(s.text(), text.as_str());
            let m = Message::from_text(&text);
            prop_assert_eq!(&format!("\"{}\"", m.escaped()), &theirs);
            prop_assert_eq!(m.len(), text.len());
            let mut buf = String::from("left over");
            let e = EscapedStr::escaping(&text, &mut buf);
            prop_assert_eq!(format!("\"{}\"", e.escaped()), theirs);
            prop_assert_eq!((e.len(), e.text()), (text.len(), text.as_str().into()));
        }

        #[test]
        fn ascii_escaped_input_reads_back(text in "(\\PC|[\"\\\\\n\t\u{1}é€😀]){0,80}") {
            // Python's json.dumps (ensure_ascii) writes every non-ASCII character as \u.
            let mut ascii = String::from("\"");
            for c in text.chars() {
                match c {
                    '"' => ascii.push_str("\\\""),
                    '\\' => ascii.push_str("\\\\"),
                    c if (c as u32) < 0x20 || !c.is_ascii() => {
                        let mut units = [0u16; 2];
                        for u in c.encode_utf16(&mut units) {
                            ascii.push_str(&format!("\\u{u:04x}"));
                        }
                    }
                    c => ascii.push(c),
                }
            }
            ascii.push('"');
            let s = EscapedStr::from_raw_json(&ascii).unwrap();
            prop_assert_eq!(s.len(), text.len());
            prop_assert_eq!(s.text(), text.as_str());
        }
    }
}
