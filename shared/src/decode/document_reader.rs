//! A single-pass reader for the subscription document, the receiver's hot loop.
//!
//! serde_json reads the document correctly but slowly for what it is: every message is a
//! string full of escapes (JSON-in-JSON logs), scanned once by serde_json and once more for its
//! length. This reader scans each string once ([`json::scan_string`]), keeps it escaped and
//! counts its length on the way, and parses the few fields the document has by hand.
//!
//! It accepts a subset of what [`super::parse_payload`]'s serde path accepts, never more, and
//! reads it the same: any key order, whitespace, unknown fields (skipped, validated), ids as
//! strings or numbers. Whatever it does not take — an error, an escaped key, a duplicate field,
//! an integer it would have to think about — makes it return `None`, and the serde path decides
//! (and names the error). Tests compare the two on generated and mutated documents.

use std::borrow::Cow;

use super::{MessageType, SubscriptionLogEvent, SubscriptionPayload};
use crate::json::{self, EscapedStr};

/// serde_json's default nesting limit; deeper unknown values are left to it (it refuses them).
const MAX_DEPTH: usize = 128;

/// Reads `text` as a subscription document, or returns `None` for the serde path to decide.
pub(crate) fn parse(text: &str) -> Option<SubscriptionPayload<'_>> {
    let (doc, end) = parse_at(text, 0)?;
    let mut r = Reader { s: text, i: end };
    r.ws();
    (r.i == text.len()).then_some(doc)
}

/// Reads the subscription document that starts at byte `at` of `text` (whitespace before it
/// skipped), and the byte just past it; or `None` for the serde path to decide. What follows
/// the document is not looked at: a record may hold several one after another.
pub(super) fn parse_at(text: &str, at: usize) -> Option<(SubscriptionPayload<'_>, usize)> {
    let mut r = Reader { s: text, i: at };
    let doc = r.document()?;
    Some((doc, r.i))
}

/// Whether the JSON object that starts at byte `at` of `text` (whitespace before it skipped)
/// has the top-level key `key`, as serde_json would read the key (escapes undone). It stops at
/// that key: the rest of the object is not read. `None` when the text is not an object as far
/// as this reader can tell before finding the key (malformed, or nested past [`MAX_DEPTH`]).
pub(super) fn object_has_key(text: &str, at: usize, key: &str) -> Option<bool> {
    let mut r = Reader { s: text, i: at };
    r.eat(b'{')?;
    r.ws();
    if r.peek()? == b'}' {
        return Some(false);
    }
    loop {
        let k = r.string()?;
        r.eat(b':')?;
        if k.text() == key {
            return Some(true);
        }
        r.skip(1)?;
        r.ws();
        match r.peek()? {
            b',' => r.i += 1,
            b'}' => return Some(false),
            _ => return None,
        }
    }
}

/// Fills an empty slot. A field seen twice is an error for serde (and ambiguous): refused.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.is_none().then(|| *slot = Some(value))
}

struct Reader<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// Skips whitespace and consumes `c`.
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string, escapes kept.
    fn string(&mut self) -> Option<EscapedStr<'a>> {
        self.eat(b'"')?;
        let (end, s) = json::scan_string(self.s, self.i)?;
        self.i = end + 1;
        Some(s)
    }

    /// A string as text: borrowed unless it holds escapes.
    fn text(&mut self) -> Option<Cow<'a, str>> {
        self.string().map(|s| s.text())
    }

    /// An object key followed by its colon. Keys with escapes are left to serde.
    fn key(&mut self) -> Option<&'a str> {
        let k = self.string()?;
        if k.escaped().contains('\\') {
            return None;
        }
        self.eat(b':')?;
        Some(k.escaped())
    }

    /// Calls `field` for each key of an object (at the opening brace).
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.list(b'{', b'}', |r| {
            let k = r.key()?;
            field(r, k)
        })
    }

    /// Calls `item` for each element of an array (at the opening bracket).
    fn array(&mut self, item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.list(b'[', b']', item)
    }

    /// `open`, `item`s separated by commas, `close`: an object's or an array's frame.
    fn list(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The raw text of a JSON number, checked against JSON's grammar.
    fn number(&mut self) -> Option<&'a str> {
        self.ws();
        let b = self.bytes();
        let start = self.i;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.i = i;
        Some(&self.s[start..i])
    }

    /// An i64 written as a plain integer (what serde_json reads as i64). Anything else —
    /// fractions, exponents, overflow — goes to serde.
    fn integer(&mut self) -> Option<i64> {
        self.ws();
        let b = self.bytes();
        let negative = b.get(self.i) == Some(&b'-');
        let mut i = self.i + negative as usize;
        let first = i;
        // Eighteen digits cannot overflow (10^18 < 2^63): no checks for them, which is every
        // millisecond timestamp; a longer number goes on checked.
        let mut small: u64 = 0;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit() && i - first < 18) {
            small = small * 10 + (d - b'0') as u64;
            i += 1;
        }
        // Accumulated negatively: i64::MIN has no positive counterpart.
        let mut v = -(small as i64);
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            v = v.checked_mul(10)?.checked_sub((d - b'0') as i64)?;
            i += 1;
        }
        let digits = i - first;
        // serde_json reads `-0` as the float -0.0, which is not an i64.
        if digits == 0 || (digits > 1 && b[first] == b'0') || (negative && v == 0) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = b.get(i) {
            return None;
        }
        self.i = i;
        if negative { Some(v) } else { v.checked_neg() }
    }

    /// Skips any JSON value, checking it.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|r, _| r.skip(depth + 1)),
            b'[' => self.array(|r| r.skip(depth + 1)),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.number().map(drop),
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.s[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    fn document(&mut self) -> Option<SubscriptionPayload<'a>> {
        let mut message_type = None;
        let mut owner = None;
        let mut log_group = None;
        let mut log_stream = None;
        let mut filters: Option<Vec<Cow<'a, str>>> = None;
        let mut events: Option<Vec<SubscriptionLogEvent<'a>>> = None;
        self.object(|r, key| match key {
            "messageType" => {
                let t = match r.string()?.escaped() {
                    "DATA_MESSAGE" => MessageType::Data,
                    "CONTROL_MESSAGE" => MessageType::Control,
                    _ => return None,
                };
                once(&mut message_type, t)
            }
            "owner" => once(&mut owner, r.text()?),
            "logGroup" => once(&mut log_group, r.text()?),
            "logStream" => once(&mut log_stream, r.text()?),
            "subscriptionFilters" => {
                let mut v = Vec::new();
                r.array(|r| {
                    v.push(r.text()?);
                    Some(())
                })?;
                once(&mut filters, v)
            }
            "logEvents" => {
                // Events run ~150–400 bytes of JSON: size the vector once.
                let mut v = Vec::with_capacity((r.s.len() - r.i) / 160);
                r.array(|r| {
                    v.push(r.event()?);
                    Some(())
                })?;
                once(&mut events, v)
            }
            _ => r.skip(1),
        })?;
        Some(SubscriptionPayload {
            message_type: message_type?,
            owner: owner?,
            log_group: log_group?,
            log_stream: log_stream?,
            subscription_filters: filters.unwrap_or_default(),
            log_events: events?,
        })
    }

    fn event(&mut self) -> Option<SubscriptionLogEvent<'a>> {
        let start = self.i;
        if let Some(ev) = self.event_as_written() {
            return Some(ev);
        }
        self.i = start;
        let (mut id, mut timestamp, mut message) = (None, None, None);
        self.object(|r, key| match key {
            "id" => once(&mut id, r.id()?),
            "timestamp" => once(&mut timestamp, r.integer()?),
            "message" => once(&mut message, r.string()?),
            _ => r.skip(2),
        })?;
        Some(SubscriptionLogEvent {
            id: id?,
            timestamp: timestamp?,
            message: message?,
        })
    }

    /// The event as CloudWatch Logs writes it — `{"id":…,"timestamp":…,"message":…}`, in
    /// this order, any whitespace — read without scanning and matching its keys. Anything else
    /// returns `None` and [`Reader::event`] reads it field by field.
    fn event_as_written(&mut self) -> Option<SubscriptionLogEvent<'a>> {
        self.eat(b'{')?;
        self.known_key(b"\"id\"")?;
        let id = self.id()?;
        self.eat(b',')?;
        self.known_key(b"\"timestamp\"")?;
        let timestamp = self.integer()?;
        self.eat(b',')?;
        self.known_key(b"\"message\"")?;
        let message = self.string()?;
        self.eat(b'}')?;
        Some(SubscriptionLogEvent {
            id,
            timestamp,
            message,
        })
    }

    /// The quoted key `quoted` and its colon.
    fn known_key(&mut self, quoted: &[u8]) -> Option<()> {
        self.ws();
        self.bytes()[self.i..]
            .starts_with(quoted)
            .then(|| self.i += quoted.len())?;
        self.eat(b':')
    }

    /// An event id: a string, or a number kept as its text.
    fn id(&mut self) -> Option<EscapedStr<'a>> {
        self.ws();
        match self.peek()? {
            b'"' => self.string(),
            _ => self.number().map(EscapedStr::from_raw_number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde(text: &str) -> Option<SubscriptionPayload<'_>> {
        super::super::parse_payload_serde(text).ok()
    }

    /// The fast reader never takes what serde refuses, and reads what it takes the same.
    fn agree(text: &str) -> Result<(), TestCaseError> {
        if let Some(fast) = parse(text) {
            let reference = serde(text);
            prop_assert!(reference.is_some(), "fast took what serde refuses: {text}");
            prop_assert_eq!(Some(fast), reference, "{}", text);
        }
        Ok(())
    }

    fn quoted(text: &str, ascii: bool) -> String {
        if !ascii {
            return serde_json::to_string(text).unwrap();
        }
        // As Python's json.dumps writes it: every non-ASCII character as \u escapes.
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' => out.push_str("\\/"),
                c if (c as u32) < 0x20 || !c.is_ascii() => {
                    for u in c.encode_utf16(&mut [0u16; 2]) {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    prop_compose! {
        fn event()(
            id_number in any::<bool>(),
            id in 0u64..u64::MAX,
            timestamp in any::<i64>(),
            message in "(\\PC|[\"\\\\/\n\t\u{1}{}:,é€😀]){0,60}",
            extra in prop::option::of("x[a-z]{1,5}"),
            ascii in any::<bool>(),
            order in 0usize..6,
            ws in "[ \n\t\r]{0,2}",
        ) -> String {
            let id = if id_number { id.to_string() } else { format!("\"{id}\"") };
            let mut fields = vec![
                format!("\"id\":{ws}{id}"),
                format!("\"timestamp\"{ws}:{timestamp}"),
                format!("\"message\":{}", quoted(&message, ascii)),
            ];
            fields.rotate_left(order % 3);
            if order >= 3 {
                fields.swap(0, 1);
            }
            if let Some(k) = extra {
                fields.push(format!("{ws}\"{k}\":{{\"nested\":[1,-2.5e3,true,null,\"x\"]}}"));
            }
            format!("{{{ws}{}{ws}}}", fields.join(","))
        }
    }

    prop_compose! {
        fn document()(
            events in prop::collection::vec(event(), 0..12),
            control in any::<bool>(),
            group in "(\\PC|[/\"\\\\]){1,20}",
            ascii in any::<bool>(),
            policy in any::<bool>(),
            order in 0usize..7,
            ws in "[ \n]{0,2}",
        ) -> String {
            let mut fields = vec![
                format!("\"messageType\":\"{}\"", if control { "CONTROL_MESSAGE" } else { "DATA_MESSAGE" }),
                "\"owner\":\"123456789012\"".to_string(),
                format!("\"logGroup\":{}", quoted(&group, ascii)),
                format!("\"logStream\":{ws}{}", quoted("2026/11/22/[$LATEST]abc", ascii)),
                "\"subscriptionFilters\":[\"a\",\"b\"]".to_string(),
                format!("\"logEvents\":[{ws}{}]", events.join(&format!(",{ws}"))),
            ];
            fields.rotate_left(order);
            if policy {
                fields.insert(order % 6, "\"policyLevel\":\"ACCOUNT_LEVEL_POLICY\"".into());
            }
            format!("{ws}{{{}}}{ws}", fields.join(","))
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn valid_documents_are_read_as_serde_reads_them(doc in document()) {
            let fast = parse(&doc);
            prop_assert!(fast.is_some(), "the fast reader refused a valid document: {}", doc);
            agree(&doc)?;
        }

        #[test]
        fn a_document_is_read_from_where_it_starts_to_where_it_ends(
            doc in document(),
            before in "[a-z ]{0,5}",
            after in "\\PC{0,20}",
        ) {
            // Whatever comes before (skipped by `at`) and after (not looked at), the document
            // reads as it reads alone, and ends at its closing brace.
            let text = format!("{before}{doc}{after}");
            let (read, end) = parse_at(&text, before.len()).expect("a valid document");
            prop_assert_eq!(Some(read), parse(&doc));
            prop_assert_eq!(&text[before.len()..end], doc.trim_end());
            prop_assert_eq!(object_has_key(&text, before.len(), "messageType"), Some(true));
            prop_assert_eq!(object_has_key(&text, before.len(), "nope"), Some(false));
        }

        #[test]
        fn damaged_documents_are_refused_or_read_as_serde_reads_them(
            doc in document(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 1..4),
        ) {
            let mut bytes = doc.into_bytes();
            for (at, kind, byte) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                // Structural bytes are the interesting ones.
                const STRUCTURAL: &[u8] = b"{}[]\",:\\ 0-.eu";
                let b = STRUCTURAL[byte as usize % STRUCTURAL.len()];
                match kind {
                    0 => bytes[i] = b,
                    1 => bytes.insert(i, b),
                    2 => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i),
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                agree(&text)?;
            }
        }
    }

    #[test]
    fn hand_picked_documents() {
        let base = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[EV]}"#;
        for (events, fast_reads) in [
            (r#"{"id":"1","timestamp":5,"message":"m"}"#, true),
            (r#"{"id":1,"timestamp":-5,"message":"m"}"#, true),
            (r#"{"id":-1.5e3,"timestamp":5,"message":"m"}"#, true),
            (r#"{"id":"1","timestamp":5.0,"message":"m"}"#, false),
            (r#"{"id":"1","timestamp":1e3,"message":"m"}"#, false),
            (
                r#"{"id":"1","timestamp":9223372036854775808,"message":"m"}"#,
                false,
            ),
            (
                r#"{"id":"1","timestamp":5,"message":"m","message":"n"}"#,
                false,
            ),
            (r#"{"id":"1","timestamp":5}"#, false),
            (r#"{"id":"1","timestamp":5,"message":null}"#, false),
            (r#"{"id":"1","timestamp":5,"mess\u0061ge":"m"}"#, false),
            (r#"{"id":true,"timestamp":5,"message":"m"}"#, false),
            (r#"{"id":"1","timestamp":05,"message":"m"}"#, false),
            (r#"{"id":"1","timestamp":-,"message":"m"}"#, false),
            (r#"{"id":"1","timestamp":-0,"message":"m"}"#, false),
            (r#"{"id":"1","timestamp":0,"message":"m"}"#, true),
            (
                r#"{"id":"1","timestamp":999999999999999999,"message":"m"}"#,
                true,
            ),
            (
                r#"{"id":"1","timestamp":-1000000000000000000,"message":"m"}"#,
                true,
            ),
            (
                r#"{"id":"1","timestamp":99999999999999999999,"message":"m"}"#,
                false,
            ),
            (
                r#"{"id":"1","timestamp":000000000000000000001,"message":"m"}"#,
                false,
            ),
            (
                r#"{"id":"1","timestamp":-9223372036854775808,"message":"m"}"#,
                true,
            ),
            (
                r#"{"id":"1","timestamp":9223372036854775807,"message":"m"}"#,
                true,
            ),
            (
                r#"{"id":"1","timestamp":-9223372036854775809,"message":"m"}"#,
                false,
            ),
            (r#"{"id":"1","timestamp":5,"message":"m",}"#, false),
            (r#"{"id":"1","timestamp":5,"message":"\ud800"}"#, false),
        ] {
            let doc = base.replace("EV", events);
            assert_eq!(parse(&doc).is_some(), fast_reads, "{doc}");
            if let Some(fast) = parse(&doc) {
                assert_eq!(Some(fast), serde(&doc), "{doc}");
            }
        }
        let deep = format!(
            r#"{{"x":{}1{},"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","logEvents":[]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(parse(&deep).is_none());
        assert!(parse(r#"{"messageType":"DATA_MESSAGE"} x"#).is_none());
    }
}
