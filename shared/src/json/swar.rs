//! The portable scan: eight bytes at a time in a `u64`, SIMD within a register (SWAR), with
//! nothing but integer arithmetic, so on any target. It is what targets other than x86-64 and
//! aarch64 scan with, and the second opinion the tests and fuzz targets hold the SSE2, AVX2 and
//! NEON scans to. (memchr calls its portable code `generic`; this one is named for how it
//! works.) Its byte tests also find what [`escape_into`](super::escape_into) must escape.

use super::scan::{Blocks, Masks, Specials};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `w` that equals `c`, exactly (no false positives from borrows).
#[inline(always)]
pub(super) fn eq_bytes(w: u64, c: u8) -> u64 {
    let t = w ^ (LO * c as u64);
    !(((t & !HI).wrapping_add(!HI)) | t) & HI
}

/// The high bit of every byte of `w` below 0x20 (a control character JSON must escape).
#[inline(always)]
pub(super) fn control_bytes(w: u64) -> u64 {
    !((w & !HI).wrapping_add(LO * 0x60)) & !w & HI
}

#[inline(always)]
pub(super) fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Eight bytes in a `u64`, on any target: the portable scan, and the tests' second opinion on
/// the SSE2 and NEON ones.
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
pub(super) struct Swar;

impl Specials for Swar {
    const WIDTH: usize = 8;
    const SHIFT: u32 = 3;

    #[inline(always)]
    fn mask(b: &[u8], i: usize) -> u64 {
        let w = word(b, i);
        eq_bytes(w, b'"') | eq_bytes(w, b'\\') | control_bytes(w)
    }
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
