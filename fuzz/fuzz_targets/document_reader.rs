//! The one-pass document reader against serde_json: see `logship::fuzzing::document_reader`.
//! The property lives in the crate, where the ordinary suite replays `fuzz/regressions/document_reader/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logship::fuzzing::document_reader(data));
