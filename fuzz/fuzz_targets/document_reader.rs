//! The one-pass subscription document reader against serde_json, on arbitrary bytes: where it
//! reads a document, serde_json reads the same one; where it does not, the text is serde_json's
//! to read or refuse (the receiver then asks serde_json).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logship::fuzzing::{fast_parse, serde_parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(fast) = fast_parse(text) {
        match serde_parse(text) {
            Ok(reference) => assert_eq!(fast, reference, "the readers differ on {text:?}"),
            Err(e) => panic!("the fast reader took what serde_json refuses ({e}): {text:?}"),
        }
    }
});
