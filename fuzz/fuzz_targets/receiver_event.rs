//! Whole Lambda events of every shape through the receiver: see `logship::fuzzing::receiver_event`.
//! The property lives in the crate, where the ordinary suite replays `fuzz/regressions/receiver_event/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logship::fuzzing::receiver_event(data));
