//! Redaction: no match survives, JSON stays JSON: see `logship::fuzzing::redaction`.
//! The property lives in the crate, where the ordinary suite replays `fuzz/regressions/redaction/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logship::fuzzing::redaction(data));
