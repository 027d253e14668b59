//! Redaction on arbitrary text, held to what `REDACT` promises: what it ships has no match
//! left, a JSON message stays JSON, and the message redacted as logship holds it (JSON-escaped,
//! rewritten still escaped where it can be) is the text redacted as text.

use std::sync::OnceLock;

use serde_json::Value;

use crate::json::{self, EscapedStr};
use crate::redact::Redactor;

/// A custom rule beside every detector: custom rules run on every message, and send every one
/// through the unescaped path.
const CUSTOM_RULES: &str = r#"[{"name":"ticket","pattern":"TICKET-[0-9]{3,}"}]"#;

/// `REDACT=all`, and the same with [`CUSTOM_RULES`].
fn redactors() -> &'static [Redactor; 2] {
    static R: OnceLock<[Redactor; 2]> = OnceLock::new();
    R.get_or_init(|| {
        let built = |rules| Redactor::from_config(Some("all"), rules).unwrap().unwrap();
        [built(None), built(Some(CUSTOM_RULES))]
    })
}

/// `text` JSON-escaped the ways producers write it (by `style`): serde_json's escapes; with
/// `/` as `\/`; with `e` as `\u0065` once; with every non-ASCII character as `\u` escapes
/// (surrogate pairs past the BMP); with `@` as `\u0040`.
pub(crate) fn escaped(text: &str, style: u8) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut e_done = false;
    for c in text.chars() {
        match (style % 5, c) {
            (1, '/') => out.push_str("\\/"),
            (2, 'e') if !e_done => {
                out.push_str("\\u0065");
                e_done = true;
            }
            (3, c) if !c.is_ascii() => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            (4, '@') => out.push_str("\\u0040"),
            (_, c) if c >= ' ' && c != '"' && c != '\\' => out.push(c),
            _ => {
                let quoted = serde_json::to_string(&c).expect("a char serialises");
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
    }
    out
}

/// The first byte picks the escapes ([`escaped`], low bits) and the rules (`0x80`: with a
/// custom rule); the rest, as UTF-8, is the message.
pub fn redaction(data: &[u8]) {
    let Some((&style, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let r = &redactors()[usize::from(style >> 7)];

    // The text redacted as text: the reference.
    let mut want_counts = r.counts();
    let want = r.redact_message(text, &mut want_counts);
    let shipped = want.as_deref().unwrap_or(text);

    // No match survives: no rule's own regex finds anything in what is shipped.
    let json = is_json_message(text);
    assert_redacted(r, shipped, json);

    // A JSON message stays JSON.
    if json && let Err(e) = serde_json::from_str::<Value>(shipped) {
        panic!("a JSON message is no longer JSON ({e}): {text:?} became {shipped:?}");
    }

    // As logship holds it: escaped, redacted from the escaped text.
    let raw = format!("\"{}\"", escaped(text, style));
    let message = EscapedStr::from_raw_json(&raw).expect("serde_json's escapes are JSON");
    assert_eq!(message.len(), text.len(), "{raw:?}");
    let mut got_counts = r.counts();
    let got = r.redact_escaped(message, &mut got_counts);
    assert_eq!(got.is_some(), want.is_some(), "{text:?} escaped as {raw:?}");
    assert_eq!(got_counts, want_counts, "{text:?} escaped as {raw:?}");
    if let Some(got) = got {
        let got = got.as_escaped();
        // Valid JSON string content, standing for the text redacted, of the length it says.
        let read: String = serde_json::from_str(&format!("\"{}\"", got.escaped()))
            .unwrap_or_else(|e| panic!("not JSON string content ({e}): {:?}", got.escaped()));
        assert_eq!(read, shipped, "{text:?} escaped as {raw:?}");
        assert_eq!(got.len(), read.len(), "{:?}", got.escaped());
        assert_eq!(json::unescape(got.escaped()), shipped);
    }
}

/// Whether the redactor takes `text` for a JSON message (an object or an array), which it
/// redacts string by string.
fn is_json_message(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
        && serde_json::from_str::<Value>(text).is_ok()
}

/// No rule of `r` finds anything in `shipped` ([`crate::redact::Rule::finds`]): in the whole
/// text, or in a JSON message (`json`) in each key, string and integer, and no key and string
/// are a rule's label and secret.
pub(crate) fn assert_redacted(r: &Redactor, shipped: &str, json: bool) {
    let found = |text: &str| {
        for rule in r.rules() {
            if let Some(at) = rule.finds(text) {
                panic!(
                    "{} survives redaction: {:?} in {shipped:?}",
                    rule.name(),
                    &text[at]
                );
            }
        }
    };
    if !json {
        return found(shipped);
    }
    fn walk(v: &Value, key: Option<&str>, r: &Redactor, found: &dyn Fn(&str)) {
        match v {
            Value::String(s) => {
                found(s);
                if let Some(rule) = key.and_then(|k| r.rules().iter().find(|r| r.finds_pair(k, s)))
                {
                    panic!("{} survives redaction: {key:?}: {s:?}", rule.name());
                }
            }
            Value::Number(n) if n.is_i64() || n.is_u64() => found(&n.to_string()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, None, r, found)),
            Value::Object(map) => {
                for (k, v) in map {
                    found(k);
                    walk(v, Some(k), r, found);
                }
            }
            _ => {}
        }
    }
    let v: Value = serde_json::from_str(shipped)
        .unwrap_or_else(|e| panic!("a JSON message is no longer JSON ({e}): {shipped:?}"));
    walk(&v, None, r, &found);
}
