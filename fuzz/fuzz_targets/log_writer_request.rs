//! The log-writer's request parsing on arbitrary bytes: JSON or not, any shape, a request or
//! an error, never a crash; what it accepts names a group and a stream, and every event carries
//! the message's origin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logship::log_writer::{LogWriterConfig, parse_request};

const NOW_MS: i64 = 1_795_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let config = LogWriterConfig::from_lookup(|k| match k {
        "TARGET_LOG_GROUP" => Some("/fuzz/default".into()),
        _ => None,
    })
    .expect("a valid configuration");
    if let Ok(req) = parse_request(&doc, &config, NOW_MS, 7) {
        assert!(!req.log_group.is_empty() && !req.log_stream.is_empty());
        for e in &req.events {
            assert_eq!(e.origin, 7);
        }
    }
});
