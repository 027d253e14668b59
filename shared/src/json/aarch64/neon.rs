//! NEON, part of the aarch64 baseline (Graviton included): what every aarch64 scans with, 16
//! bytes in a register for the escape-at-a-time scan, 64 in four for the block scan. Having no
//! entry points of its own, it is instantiated by the dispatch (`scan_blocks::<Neon>`).

use crate::json::scan::{Blocks, Masks, Specials};

/// Sixteen bytes in a NEON register (every aarch64 has NEON, Graviton included), four mask bits
/// per byte: NEON has no `movemask`, and narrowing each 16-bit lane by 4 bits packs the 16
/// compare bytes into 64 bits in one instruction.
pub(in crate::json) struct Neon;

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
