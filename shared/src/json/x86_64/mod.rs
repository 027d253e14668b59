//! The x86-64 scans: SSE2, which every x86-64 has, and AVX2, which most have and the dispatch
//! takes when the CPU says so.

pub(super) mod avx2;
pub(super) mod sse2;
