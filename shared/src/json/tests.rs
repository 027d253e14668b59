//! The escaped-text types against serde_json, and every scan of the build held to the others:
//! each instruction set's masks byte by byte, its block scan against the escape-at-a-time and
//! SWAR scans, and all of them against serde_json.

use proptest::prelude::*;

use super::scan::{
    Blocks, ODD_BITS, Specials, escapes, only_quote_escapes_in, scan_blocks, scan_with,
};
use super::swar::{Swar, control_bytes, eq_bytes};
use super::*;
use crate::doc::SharedDoc;

#[cfg(target_arch = "aarch64")]
use super::aarch64::neon::Neon;
#[cfg(target_arch = "x86_64")]
use super::x86_64::{
    avx2::Avx2,
    sse2::{Sse2, scan_sse2},
};

#[test]
fn raw_value_marker_is_serde_jsons() {
    let text = r#"{"records":[{"recordId":"a\u00fc","data":"QQ=="}],"n":[1, 2.5e3]}"#;
    let ours = serde_json::to_vec(&JsonText::new(text.to_owned())).unwrap();
    assert_eq!(ours, text.as_bytes(), "written verbatim, as RawValue is");
    let theirs = serde_json::value::RawValue::from_string(text.to_owned()).unwrap();
    assert_eq!(ours, serde_json::to_vec(&theirs).unwrap());
    // Inside another value too (the runtime's error bodies are not ours, but be exact).
    let nested = serde_json::to_string(&serde_json::json!({"k": 1})).unwrap();
    assert_eq!(
        serde_json::to_string(&vec![JsonText::new(nested.clone())]).unwrap(),
        format!("[{nested}]")
    );
}

fn raw(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

#[test]
fn masks_are_exact() {
    for c in 0..=255u8 {
        let w = u64::from_le_bytes([c, b'\\', c, b'"', 0x1f, 0x20, 0x7f, 0xff]);
        for (k, byte) in w.to_le_bytes().iter().enumerate() {
            let bit = 0x80u64 << (8 * k);
            assert_eq!(eq_bytes(w, b'\\') & bit != 0, *byte == b'\\', "{c} {k}");
            assert_eq!(control_bytes(w) & bit != 0, *byte < 0x20, "{c} {k}");
        }
    }
}

#[test]
fn lengths_and_text_of_escapes() {
    for (json, text) in [
        (r#""plain""#, "plain"),
        (r#""a\"b\\c\/d\n\t\r\b\f""#, "a\"b\\c/d\n\t\r\u{8}\u{c}"),
        (r#""\\\\\\\\\\\\\\\\\\""#, "\\\\\\\\\\\\\\\\\\"),
        (r#""12345678\"""#, "12345678\""),
        (r#""1234567\"x""#, "1234567\"x"),
        (r#""123456\"xy""#, "123456\"xy"),
        (r#""\u00fc \u20ac \ud83d\ude00 \u0041""#, "ü € 😀 A"),
        (r#""""#, ""),
    ] {
        let s = EscapedStr::from_raw_json(json).unwrap();
        assert_eq!(s.len(), text.len(), "{json}");
        assert_eq!(s.text(), text, "{json}");
        assert_eq!(s, text);
        assert_eq!(Message::from_escaped(s), text);
    }
}

#[test]
fn messages_within_a_document_share_it() {
    let doc = SharedDoc::new(r#"{"a":"x\"y","b":"","c":"plain"}"#.to_owned());
    let strings: Vec<EscapedStr<'_>> = [(6, 10), (17, 17), (24, 29)]
        .iter()
        .map(|&(start, end)| EscapedStr::from_raw_json(&doc[start - 1..end + 1]).unwrap())
        .collect();
    let mut refs = doc.refs(4);
    let got: Vec<Message> = strings
        .iter()
        .map(|s| Message::within(&mut refs, *s).expect("inside the document"))
        .collect();
    assert_eq!(got, ["x\"y".into(), "".into(), Message::from_text("plain")]);
    assert_eq!(got[0].len(), 3);
    assert_eq!(got[0].escaped(), r#"x\"y"#);
    assert!(got.iter().all(|m| SharedDoc::ptr_eq(&m.buf, &doc)));
    // A string from elsewhere is not within it, and takes no reference.
    let other = r#""x\"y""#.to_owned();
    let elsewhere = EscapedStr::from_raw_json(&other).unwrap();
    assert!(Message::within(&mut refs, elsewhere).is_none());
    // Once the references are taken, none is made: the caller copies instead.
    let last = Message::within(&mut refs, strings[0]).expect("the fourth reference");
    assert!(Message::within(&mut refs, strings[0]).is_none());
    drop(refs);
    Message::release(got);
    let doc = doc
        .try_into_string()
        .expect_err("one message still holds it");
    drop(last);
    assert_eq!(
        doc.try_into_string().unwrap(),
        r#"{"a":"x\"y","b":"","c":"plain"}"#
    );
}

#[test]
fn lone_surrogates_and_non_strings_are_refused() {
    assert_eq!(
        EscapedStr::from_raw_json(r#""x\ud83d""#),
        Err(JsonStrError::LoneSurrogate(1))
    );
    assert_eq!(
        EscapedStr::from_raw_json(r#""\ude00x""#),
        Err(JsonStrError::LoneSurrogate(0))
    );
    assert_eq!(
        EscapedStr::from_raw_json(r#""\ud83d\u0041""#),
        Err(JsonStrError::LoneSurrogate(0))
    );
    assert!(matches!(
        EscapedStr::from_raw_json("42"),
        Err(JsonStrError::NotAString(_))
    ));
    assert!(matches!(
        EscapedStr::from_raw_json("\""),
        Err(JsonStrError::NotAString(_))
    ));
}

#[test]
fn escaping_matches_serde_json() {
    for text in [
        "",
        "plain text of some length",
        "q\"b\\n\nt\tr\rc\u{1}\u{1f}\u{7f} ü 😀",
        "{\"level\":\"INFO\",\"msg\":\"x\"}",
    ] {
        let mut out = String::new();
        write_str(text, &mut out);
        assert_eq!(out, raw(text));
        assert_eq!(Message::from_text(text).text(), text);
    }
}

/// `scan_string` on a whole JSON string literal: the content, or None. The portable
/// SWAR scan (what aarch64 runs) must agree with the one this target runs.
fn scan(literal: &str) -> Option<EscapedStr<'_>> {
    let (end, s) = both_scans(literal, 1)?;
    assert_eq!(end, literal.len() - 1, "{literal}: the closing quote");
    Some(s)
}

fn both_scans(s: &str, start: usize) -> Option<(usize, EscapedStr<'_>)> {
    let ours = scan_string(s, start);
    assert_eq!(
        scan_with::<Swar>(s, start),
        ours,
        "the escape-at-a-time SWAR scan and this target's scan differ on {s:?}"
    );
    // SAFETY: SWAR is plain arithmetic.
    let swar = unsafe { scan_blocks::<Swar>(s, start) };
    assert_eq!(
        swar, ours,
        "the 64-byte SWAR scan and this target's scan differ on {s:?}"
    );
    // Without AVX2 (the test machine has it, so `ours` was the AVX2 scan).
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        scan_sse2(s, start),
        ours,
        "SSE2 and AVX2 scans differ on {s:?}"
    );
    ours
}

/// [`escapes`] byte by byte: a backslash not itself escaped escapes the next byte.
fn escapes_slowly(backslash: u64, carry: u64) -> (u64, u64) {
    let (mut escaped, mut escape) = (carry, 0);
    for k in 0..64 {
        if escaped & (1 << k) == 0 && backslash & (1 << k) != 0 {
            escape |= 1 << k;
            if k < 63 {
                escaped |= 1 << (k + 1);
            }
        }
    }
    (escaped, escape)
}

#[test]
fn escapes_of_every_backslash_run() {
    // Runs of every length at every offset, and sparse and dense random blocks, each with
    // and without an escape carried in.
    let mut blocks = vec![0, !0, ODD_BITS, !ODD_BITS];
    for len in 1..=64 {
        for at in 0..=64 - len {
            blocks.push((u64::MAX >> (64 - len)) << at);
        }
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blocks.push(x);
        blocks.push(x & x.rotate_left(5));
    }
    for bs in blocks {
        for carry in [0, 1] {
            assert_eq!(
                escapes(bs, carry),
                escapes_slowly(bs, carry),
                "{bs:#x} {carry}"
            );
        }
    }
}

/// Every byte value at every offset of a 64-byte block: its bit set in exactly the masks
/// it belongs to.
fn block_masks_are_exact<B: Blocks>() {
    let bytes: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    for i in 0..=bytes.len() - 64 {
        // SAFETY: the callers check that the CPU has what `B` uses.
        let m = unsafe { B::masks(bytes[i..i + 64].try_into().unwrap()) };
        for k in 0..64 {
            let c = bytes[i + k];
            let bit = |mask: u64| mask & (1 << k) != 0;
            assert_eq!(bit(m.quote), c == b'"', "byte {c:#x} at {k}");
            assert_eq!(bit(m.backslash), c == b'\\', "byte {c:#x} at {k}");
            assert_eq!(bit(m.control), c < 0x20, "byte {c:#x} at {k}");
        }
    }
}

#[test]
fn masks_of_64_byte_blocks_are_exact() {
    block_masks_are_exact::<Swar>();
    #[cfg(target_arch = "x86_64")]
    {
        block_masks_are_exact::<Sse2>();
        if std::arch::is_x86_feature_detected!("avx2") {
            block_masks_are_exact::<Avx2>();
        }
    }
    #[cfg(target_arch = "aarch64")]
    block_masks_are_exact::<Neon>();
}

/// Every byte value at every offset of a block: flagged exactly when it is a quote, a
/// backslash or a control character, by all of its mask bits or the SWAR high bit.
fn mask_is_exact<B: Specials>() {
    let bytes: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    let per_byte = 1u32 << B::SHIFT;
    let all = (1u64 << per_byte) - 1;
    for i in 0..=bytes.len() - B::WIDTH {
        let m = B::mask(&bytes, i);
        for k in 0..B::WIDTH {
            let c = bytes[i + k];
            let special = c == b'"' || c == b'\\' || c < 0x20;
            let bits = (m >> (k as u32 * per_byte)) & all;
            let high = 1u64 << (per_byte - 1);
            assert!(bits == 0 || bits == high || bits == all, "{bits:#x}");
            assert_eq!(bits != 0, special, "byte {c:#x} at {k}");
        }
        if (B::WIDTH << B::SHIFT) < 64 {
            assert_eq!(m >> (B::WIDTH << B::SHIFT), 0);
        }
    }
}

#[test]
fn block_masks_flag_exactly_quotes_backslashes_and_controls() {
    mask_is_exact::<Swar>();
    #[cfg(target_arch = "x86_64")]
    mask_is_exact::<Sse2>();
    #[cfg(target_arch = "aarch64")]
    mask_is_exact::<Neon>();
}

#[test]
fn escapes_at_every_block_boundary() {
    // An escape at each offset of the first two 64-byte blocks (and so of every smaller
    // one), the quote at each offset after it.
    for pre in 0..140 {
        for post in 0..40 {
            for escape in [
                r#"\""#,
                r#"\\"#,
                r#"\\\""#,
                r#"\\\\"#,
                r#"\n"#,
                r#"\u00fc"#,
                r#"\ud83d\ude00"#,
            ] {
                let literal = format!(
                    "\"{}{escape}{}\"{}",
                    "a".repeat(pre),
                    "b".repeat(post),
                    " ".repeat(40)
                );
                let text: String = serde_json::Deserializer::from_str(&literal)
                    .into_iter::<String>()
                    .next()
                    .unwrap()
                    .unwrap();
                let (end, s) = both_scans(&literal, 1).expect(&literal);
                assert_eq!(end, literal.len() - 41, "{literal}");
                assert_eq!((s.len(), s.text().into_owned()), (text.len(), text));
            }
        }
    }
}

#[test]
fn scan_agrees_with_serde_on_hand_picked_strings() {
    for literal in [
        r#""""#,
        r#""plain""#,
        r#""a\"b\\c\/d\n\t\r\b\f""#,
        r#""12345678\"""#,
        r#""1234567\"x""#,
        r#""123456\"xy""#,
        r#""\u00fc \u20AC \ud83d\ude00 \u0041""#,
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\u+123""#,
        r#""\u12""#,
        r#""\x""#,
        "\"tab\there\"",
        "\"nul\u{0}\"",
        r#""unterminated"#,
        r#""ends with backslash\"#,
        r#""12345678901234\"#,
    ] {
        let serde = serde_json::from_str::<String>(literal).ok();
        let ours = std::panic::catch_unwind(|| scan(literal)).ok().flatten();
        assert_eq!(
            ours.map(|s| (s.len(), s.text().into_owned())),
            serde.map(|t| (t.len(), t)),
            "{literal}"
        );
    }
}

proptest! {
    /// Escaped content with quotes and backslashes every few bytes, or a tab, a newline or
    /// a `\u` escape among them: yes in the first case, no in the second.
    #[test]
    fn only_quote_escapes_says_yes_to_quote_escapes_only(
        text in "[a\"\\\\é\t\n\u{1}]{0,150}",
        unicode in any::<bool>(),
    ) {
        let mut escaped = String::new();
        escape_into(&text, &mut escaped);
        if unicode {
            escaped = escaped.replacen('a', "\\u0061", 1);
        }
        let others = text.contains(['\t', '\n', '\u{1}']) || escaped.contains("\\u0061");
        prop_assert_eq!(only_quote_escapes(&escaped), !others, "{}", escaped);
        // SAFETY: SSE2 is in the x86-64 baseline.
        #[cfg(target_arch = "x86_64")]
        prop_assert_eq!(unsafe { only_quote_escapes_in::<Sse2>(escaped.as_bytes()) }, !others);
        // SAFETY: SWAR is plain arithmetic.
        prop_assert_eq!(unsafe { only_quote_escapes_in::<Swar>(escaped.as_bytes()) }, !others);
    }
}

proptest! {
    #[test]
    fn scan_agrees_with_serde(
        body in "([a-z\"\\\\/ \t\u{1}é😀]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-FdD]{4}){0,150}",
        tail in "[a-z\"]{0,3}",
        after in "[a-z\", ]{0,40}",
    ) {
        // Random, often invalid string bodies: where serde_json reads a string, the scan
        // reads the same text and length; where serde refuses, so does the scan. Text
        // after the string puts its end inside a block rather than in the scalar tail.
        let literal = format!("\"{body}{tail}{after}");
        let serde = serde_json::Deserializer::from_str(&literal)
            .into_iter::<String>()
            .next()
            .and_then(Result::ok);
        let ours = both_scans(&literal, 1).map(|(end, s)| (end, s.len(), s.text().into_owned()));
        match serde {
            Some(t) => {
                let (end, len, text) = ours.expect("serde read it");
                prop_assert_eq!(&literal[end..end + 1], "\"");
                prop_assert_eq!(len, t.len());
                prop_assert_eq!(text, t);
            }
            None => prop_assert!(ours.is_none(), "serde refused {literal:?}, scan read {ours:?}"),
        }
    }

    #[test]
    fn any_text_round_trips(text in "(\\PC|[\"\\\\\n\t\u{1}\u{7f}é€😀]){0,80}") {
        // serde_json's escaping (what an emulator or another writer produces) and ours
        // both read back as the text, with the service's length.
        let theirs = raw(&text);
        let s = EscapedStr::from_raw_json(&theirs).unwrap();
        prop_assert_eq!(s.len(), text.len());
        prop_assert_eq!(s.text(), text.as_str());
        let m = Message::from_text(&text);
        prop_assert_eq!(&format!("\"{}\"", m.escaped()), &theirs);
        prop_assert_eq!(m.len(), text.len());
        let mut buf = String::from("left over");
        let e = EscapedStr::escaping(&text, &mut buf);
        prop_assert_eq!(format!("\"{}\"", e.escaped()), theirs);
        prop_assert_eq!((e.len(), e.text()), (text.len(), text.as_str().into()));
    }

    #[test]
    fn ascii_escaped_input_reads_back(text in "(\\PC|[\"\\\\\n\t\u{1}é€😀]){0,80}") {
        // Python's json.dumps (ensure_ascii) writes every non-ASCII character as \u.
        let mut ascii = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => ascii.push_str("\\\""),
                '\\' => ascii.push_str("\\\\"),
                c if (c as u32) < 0x20 || !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        ascii.push_str(&format!("\\u{u:04x}"));
                    }
                }
                c => ascii.push(c),
            }
        }
        ascii.push('"');
        let s = EscapedStr::from_raw_json(&ascii).unwrap();
        prop_assert_eq!(s.len(), text.len());
        prop_assert_eq!(s.text(), text.as_str());
    }
}
