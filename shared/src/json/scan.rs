//! The string scan, written once for every instruction set and instantiated for each: how an
//! instruction set finds a block's quotes, backslashes and control characters is all it brings
//! ([`Specials`], [`Blocks`]); the 64-byte block loop, the escapes carried from one block to the
//! next ([`escapes`]) and the escape-at-a-time scan are the same for all, so a fix here holds
//! for every one of them.

use super::escape::decode_u;
use super::text::EscapedStr;

/// How a string scan finds, in a block of bytes, the ones it must look at: quotes, backslashes
/// and control characters. Everything else in a JSON string is copied as it is.
pub(super) trait Specials {
    /// Bytes per block.
    const WIDTH: usize;
    /// log2 of the mask bits per byte: byte `k` of the block owns mask bits `k << SHIFT` up to
    /// `(k + 1) << SHIFT`, and is flagged when any of them is set (SWAR sets its high bit,
    /// SSE2 its one bit, NEON all four).
    const SHIFT: u32;
    /// The mask of the block at `b[i..i + WIDTH]`, which the caller has checked is in bounds.
    fn mask(b: &[u8], i: usize) -> u64;
}

/// Odd bit positions of a 64-byte block's mask.
pub(super) const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// Which bytes of a 64-byte block are escaped, and which backslashes escape them, from its
/// backslashes and `carry` (1 when the previous block ended in a backslash that escapes this
/// block's first byte). Runs of backslashes pair up from their start: `\\\\` is two escaped
/// backslashes, `\\\\\"` two and an escaped quote. Subtraction finds every run's start and
/// parity at once (simdjson's escape scanner, Langdale and Lemire 2019).
#[inline(always)]
pub(super) fn escapes(backslash: u64, carry: u64) -> (u64, u64) {
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
pub(super) struct Masks {
    pub(super) quote: u64,
    pub(super) backslash: u64,
    pub(super) control: u64,
}

/// How [`scan_blocks`] reads a 64-byte block into its [`Masks`].
pub(super) trait Blocks: Specials {
    /// # Safety
    /// The CPU has the instructions the implementation uses (beyond its target's baseline:
    /// only [`Avx2`](super::x86_64::avx2::Avx2)'s).
    unsafe fn masks(block: &[u8; 64]) -> Masks;
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
pub(super) unsafe fn scan_blocks<B: Blocks>(
    s: &str,
    start: usize,
) -> Option<(usize, EscapedStr<'_>)> {
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
pub(super) fn scan_with<B: Specials>(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    scan_from::<B>(s, start, start, 0)
}

/// The string scan an escape at a time, resumed at `from` (outside any escape) with `saved`
/// bytes saved before it.
pub(super) fn scan_from<B: Specials>(
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

/// # Safety
/// As [`Blocks::masks`]: the CPU has what `B` uses.
#[inline(always)]
pub(super) unsafe fn only_quote_escapes_in<B: Blocks>(b: &[u8]) -> bool {
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
