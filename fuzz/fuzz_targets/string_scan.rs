//! The JSON string scans (64-byte blocks of each instruction set the CPU has, SWAR words, an
//! escape at a time, the dispatched one) against the byte-by-byte reference, on arbitrary bytes
//! from every start offset in the first 64 (so blocks meet the text at every alignment); and
//! the escape masks' `only_quote_escapes` of each instruction set against one another.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logship::fuzzing::{every_only_quote_escapes, every_scan, scan_reference};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for start in (0..=s.len().min(64)).filter(|&i| s.is_char_boundary(i)) {
        let want = scan_reference(s, start);
        for (name, got) in every_scan(s, start) {
            let got_end_len = got.map(|(end, _, len)| (end, len));
            assert_eq!(got_end_len, want, "{name} from {start} on {s:?}");
            if let Some((end, escaped, _)) = got {
                assert_eq!(escaped, &s[start..end], "{name} from {start} on {s:?}");
            }
        }
        // What a scan accepts is escaped text: every implementation of the escape check agrees.
        if let Some((end, _)) = want {
            let escaped = &s[start..end];
            let all = every_only_quote_escapes(escaped);
            let first = all[0].1;
            for (name, got) in &all {
                assert_eq!(*got, first, "only_quote_escapes: {name} on {escaped:?}");
            }
        }
    }
});
