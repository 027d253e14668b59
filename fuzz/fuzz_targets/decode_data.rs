//! `decode_data` on arbitrary bytes, bounded: see `logship::fuzzing::decode_data`.
//! The property lives in the crate, where the ordinary suite replays `fuzz/regressions/decode_data/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logship::fuzzing::decode_data(data));
