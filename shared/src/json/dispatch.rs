//! Which scan runs on this CPU, decided here and nowhere else. On x86-64 at run time: AVX2 when
//! the CPU has it (and POPCNT, for the string scan), SSE2 otherwise; `is_x86_feature_detected!`
//! asks the CPU once and caches the answer, so each later check is a load and a bit test. On
//! aarch64, NEON; on other targets, SWAR: both at compile time. With the `fuzzing` feature, also
//! every scan the build and CPU have, for the fuzz targets to hold to one another.

use super::scan::only_quote_escapes_in;
#[cfg(any(not(target_arch = "x86_64"), test, feature = "fuzzing"))]
use super::scan::scan_blocks;
#[cfg(any(test, feature = "fuzzing"))]
use super::scan::scan_from;
#[cfg(any(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    test,
    feature = "fuzzing"
))]
use super::swar::Swar;
use super::text::EscapedStr;

#[cfg(target_arch = "aarch64")]
use super::aarch64::neon::Neon;
#[cfg(target_arch = "x86_64")]
use super::x86_64::{
    avx2::{only_quote_escapes_avx2, scan_avx2},
    sse2::{Sse2, scan_sse2},
};

/// Scans the JSON string whose content starts at `s[start]` (just after its opening quote),
/// checking it as serde_json checks a string it reads as text: no control character, only
/// JSON's escapes, `\u` with four hex digits and surrogates in pairs. Returns the index of the
/// closing quote and the content, or `None` when the string is invalid or not closed.
///
/// One pass, 64 bytes at a time ([`scan_blocks`](super::scan::scan_blocks)): masks of a
/// block's quotes, backslashes and control characters (AVX2 or SSE2 on x86-64, NEON on aarch64,
/// `u64` words elsewhere) give its escapes, its closing quote and the bytes its escapes save all
/// at once, so the `\"` or `\\` every few bytes of a JSON-in-JSON message costs no branch of
/// its own. The length is counted on the way. The last bytes, and blocks with `\u` escapes, go
/// an escape at a time ([`scan_from`](super::scan::scan_from)).
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

/// Whether every escape of escaped content is `\"` or `\\`: then the text differs from it only
/// where it has a quote or a backslash, each written as that character after a backslash.
///
/// 64 bytes at a time with the string scan's masks and [`escapes`](super::scan::escapes): a
/// JSON-in-JSON message has an escape every few bytes, too many to look at one by one.
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
