//! SSE2, part of the x86-64 baseline: what every x86-64 scans with when it has no AVX2. The
//! escape-at-a-time scan reads 32 bytes in two registers, the block scan 64 in four; the AVX2
//! scan hands its last bytes over to this one's escape-at-a-time scan.

use crate::json::scan::{Blocks, Masks, Specials, scan_blocks};
use crate::json::text::EscapedStr;

/// Thirty-two bytes in two SSE2 registers (every x86-64 has SSE2), one mask bit per byte.
pub(in crate::json) struct Sse2;

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

/// [`scan_blocks`] on the x86-64 baseline.
pub(in crate::json) fn scan_sse2(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    // SAFETY: SSE2 is part of the x86-64 baseline.
    unsafe { scan_blocks::<Sse2>(s, start) }
}
