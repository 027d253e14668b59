//! The log-writer's request parsing: see `logship::fuzzing::log_writer_request`.
//! The property lives in the crate, where the ordinary suite replays `fuzz/regressions/log_writer_request/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logship::fuzzing::log_writer_request(data));
