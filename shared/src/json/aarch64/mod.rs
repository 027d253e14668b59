//! The aarch64 scan: NEON, which every aarch64 has.

pub(super) mod neon;
