//! What the fuzz targets (`fuzz/`) hold, as functions of the fuzzer's bytes: each target is one
//! call of the function of its name, which panics where the property fails. Here rather than in
//! the targets so that the ordinary suite replays the reproducers kept in `fuzz/regressions/`
//! (`tests` below) on every build the suite runs on, under qemu's aarch64 (`make test-arm64`,
//! NEON) too. With the `fuzzing` feature (and in this crate's tests) only: the functions never
//! enable it.

mod receiver;
mod redaction;
mod scan;

pub use receiver::receiver_event;
pub use redaction::redaction;
pub use scan::{
    Scanned, every_only_quote_escapes, every_scan, fast_parse, scan_reference, serde_parse,
    string_scan,
};

use crate::decode::{DecodeError, DecodeLimits, Scratch, decode_data as decode};
use crate::log_writer::{LogWriterConfig, parse_request};

/// `decode_data` on arbitrary bytes (base64 → bounded gunzip → the document reader): an error
/// or a document, never a crash, and never more inflated than the limit.
pub fn decode_data(data: &[u8]) {
    /// Small, so that a bomb meets the limit quickly; the bound is what is checked.
    const LIMIT: usize = 1 << 20;
    let limits = DecodeLimits {
        max_decoded_bytes: LIMIT,
    };
    let mut scratch = Scratch::default();
    let result = decode(data, limits, &mut scratch);
    if let Err(DecodeError::TooLarge { limit }) = &result {
        assert_eq!(*limit, LIMIT);
    }
    drop(result);
    assert!(
        scratch.json.len() <= LIMIT,
        "inflated {} bytes past the {LIMIT}-byte limit",
        scratch.json.len()
    );
}

/// The one-pass subscription document reader against serde_json, on arbitrary bytes: where it
/// reads a document, serde_json reads the same one; where it does not, the text is serde_json's
/// to read or refuse (the receiver then asks serde_json).
pub fn document_reader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(fast) = fast_parse(text) {
        match serde_parse(text) {
            Ok(reference) => assert_eq!(fast, reference, "the readers differ on {text:?}"),
            Err(e) => panic!("the fast reader took what serde_json refuses ({e}): {text:?}"),
        }
    }
}

/// The log-writer's request parsing on arbitrary bytes: JSON or not, any shape, a request or
/// an error, never a crash; what it accepts names a group and a stream, and every event carries
/// the message's origin.
pub fn log_writer_request(data: &[u8]) {
    const NOW_MS: i64 = 1_795_000_000_000;
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
}

/// A target's property: panics on an input that breaks it.
pub type Property = fn(&[u8]);

/// Every target, by name, as `fuzz/fuzz_targets/` names them.
pub const TARGETS: [(&str, Property); 6] = [
    ("decode_data", decode_data),
    ("document_reader", document_reader),
    ("string_scan", string_scan),
    ("log_writer_request", log_writer_request),
    ("receiver_event", receiver_event),
    ("redaction", redaction),
];

#[cfg(test)]
mod tests {
    use super::TARGETS;

    /// Every input kept in `fuzz/regressions/<target>/` (what a campaign found, and a
    /// minimised corpus of what it covered) holds its target's property on this build and CPU.
    #[test]
    fn the_fuzz_regressions_hold() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
        for (name, check) in TARGETS {
            let dir = root.join(name);
            let mut inputs: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|f| f.unwrap().path())
                .collect();
            inputs.sort();
            assert!(!inputs.is_empty(), "{}: no input", dir.display());
            for input in inputs {
                let data = std::fs::read(&input).unwrap();
                let caught = std::panic::catch_unwind(|| check(&data));
                assert!(caught.is_ok(), "{name}: {} fails", input.display());
            }
        }
    }
}
