//! `decode_data` on arbitrary bytes (base64 → bounded gunzip → the document reader): an error
//! or a document, never a crash, and never more inflated than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logship::decode::{DecodeError, DecodeLimits, Scratch, decode_data};

/// Small, so that a bomb meets the limit quickly; the bound is what is checked.
const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decoded_bytes: LIMIT,
    };
    let mut scratch = Scratch::default();
    let result = decode_data(data, limits, &mut scratch);
    if let Err(DecodeError::TooLarge { limit }) = &result {
        assert_eq!(*limit, LIMIT);
    }
    drop(result);
    assert!(
        scratch.json.len() <= LIMIT,
        "inflated {} bytes past the {LIMIT}-byte limit",
        scratch.json.len()
    );
});
