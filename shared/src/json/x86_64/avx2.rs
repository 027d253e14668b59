//! AVX2 (with POPCNT for the block scan), beyond the x86-64 baseline: a 64-byte block in two
//! registers, half the loads, compares and movemasks of SSE2. Its entry points are compiled
//! for AVX2 (`#[target_feature]`) and `unsafe`: the dispatch calls them once it has seen that
//! the CPU has what they use.

use super::sse2::Sse2;
use crate::json::scan::{Blocks, Masks, Specials, only_quote_escapes_in, scan_blocks};
use crate::json::text::EscapedStr;

/// Two AVX2 registers of 32 bytes: half the loads, compares and movemasks of [`Sse2`]. Only
/// reached through [`scan_avx2`], once the CPU is known to have AVX2.
pub(in crate::json) struct Avx2;

/// The escape-at-a-time scan after an AVX2 block scan hands over: SSE2's.
impl Specials for Avx2 {
    const WIDTH: usize = Sse2::WIDTH;
    const SHIFT: u32 = Sse2::SHIFT;

    #[inline(always)]
    fn mask(b: &[u8], i: usize) -> u64 {
        Sse2::mask(b, i)
    }
}

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

/// [`scan_blocks`] with AVX2 masks and the POPCNT instruction.
///
/// # Safety
/// The CPU has AVX2 and POPCNT.
#[target_feature(enable = "avx2,popcnt")]
pub(in crate::json) unsafe fn scan_avx2(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    // SAFETY: the caller's.
    unsafe { scan_blocks::<Avx2>(s, start) }
}

/// [`only_quote_escapes_in`] with AVX2 masks.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
pub(in crate::json) unsafe fn only_quote_escapes_avx2(b: &[u8]) -> bool {
    // SAFETY: the caller's.
    unsafe { only_quote_escapes_in::<Avx2>(b) }
}
