//! Every JSON string scan against the byte-by-byte reference: see `logship::fuzzing::string_scan`.
//! The property lives in the crate, where the ordinary suite replays `fuzz/regressions/string_scan/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logship::fuzzing::string_scan(data));
