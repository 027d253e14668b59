//! What a Firehose record's `data` holds, told by its content.
//!
//! A CloudWatch Logs subscription filter sends Firehose the same record it sends Lambda and
//! Kinesis: the gzip of one subscription document. Firehose can change it before a data
//! transformation Lambda sees it ("Decompression of CloudWatch Logs" and "Extract message after
//! decompression of CloudWatch Logs" in the Amazon Data Firehose developer guide; processor types
//! `Decompression` and `CloudWatchLogProcessing` with `DataMessageExtraction`):
//!
//! - decompression on: the document as plain JSON, no longer gzip;
//! - message extraction on as well: only the `message` of each log event, the metadata (owner,
//!   log group, log stream, ids, timestamps) removed, the messages one after another. The
//!   guide's example shows them one per line and names no other delimiter, so a line is the
//!   unit here.
//!
//! Firehose runs these processors before the Lambda one (the order of the API's processor
//! types; what users see: with decompression on, the transformation gets plain JSON).
//!
//! So after base64 a record is read as one of:
//!
//! - **gzip** (magic `1f 8b`): every member inflated ([`super::gunzip_bounded`]), the text one or
//!   more subscription documents. CloudWatch Logs never gzips anything else, so text that is not
//!   documents is an error here.
//! - **plain subscription documents**: text whose first JSON value is an object with a
//!   `messageType` key ([`holds_documents`]). One or more documents one after another, any JSON
//!   whitespace before, between and after. Every one is read, or the record fails naming the
//!   first that cannot be ([`DecodeError::InDocument`]): never part of a record.
//! - **extracted messages**: any other UTF-8 text. Each line (ended by `\n`, the last one may be
//!   unended) is one message. A message that itself spanned lines (a stack trace) arrives as
//!   several lines and is shipped as several: the lines are all that is left to tell them apart.
//!   A line that is a JSON object is a message like any other; only an object with `messageType`
//!   at the start of the record makes it documents (an object with `messageType` that fails the
//!   schema is an error, not a message).
//!
//! A plain record, like an inflated one, is bounded by `MAX_DECODED_BYTES`.

use super::{
    DecodeError, DecodeLimits, Scratch, SubscriptionPayload, decode_base64, document_reader,
    gunzip_bounded, hex, is_gzip, not_utf8, parse_payload_serde,
};

/// The content of a Firehose record, read by [`decode_firehose_record`].
#[derive(Debug)]
pub enum FirehoseContent<'a> {
    /// One or more subscription documents: from gzip, or left as plain JSON by Firehose's
    /// decompression.
    Documents(Documents<'a>),
    /// The message text Firehose's message extraction left: one message per line.
    Messages(Messages<'a>),
}

/// base64 → (bounded gunzip of every member | plain text) → what the record holds, decoded
/// into `scratch.json` (its buffers reused from one record to the next).
pub fn decode_firehose_record<'s>(
    data: &[u8],
    limits: DecodeLimits,
    scratch: &'s mut Scratch,
) -> Result<FirehoseContent<'s>, DecodeError> {
    decode_base64(data, &mut scratch.gz)?;
    if scratch.gz.is_empty() {
        return Err(DecodeError::EmptyRecord);
    }
    if is_gzip(&scratch.gz) {
        gunzip_bounded(&scratch.gz, limits, &mut scratch.json)?;
        let text = std::str::from_utf8(&scratch.json).map_err(not_utf8)?;
        return Ok(FirehoseContent::Documents(Documents::new(text)));
    }
    let limit = limits.max_decoded_bytes;
    if scratch.gz.len() > limit {
        return Err(DecodeError::PlainTooLarge {
            len: scratch.gz.len(),
            limit,
        });
    }
    // The text goes where inflated text goes; the other buffer is kept for the next record.
    std::mem::swap(&mut scratch.gz, &mut scratch.json);
    let text = std::str::from_utf8(&scratch.json).map_err(|e| DecodeError::NotGzipOrText {
        found: hex(&scratch.json),
        cause: e.to_string(),
    })?;
    Ok(if holds_documents(text) {
        FirehoseContent::Documents(Documents::new(text))
    } else {
        FirehoseContent::Messages(Messages::new(text))
    })
}

/// JSON's whitespace (RFC 8259): what may come before, between and after documents.
const JSON_WS: [char; 4] = [' ', '\t', '\n', '\r'];

/// Whether plain text is subscription documents rather than extracted messages: its first JSON
/// value is an object with a top-level `messageType` key. When the text starts like an object
/// but the reader cannot tell (malformed JSON, nesting past serde_json's limit), a
/// `"messageType":` anywhere makes it documents, so that a damaged document is refused, naming
/// why, instead of being shipped as lines of text.
pub fn holds_documents(text: &str) -> bool {
    let at = text.len() - text.trim_start_matches(JSON_WS).len();
    if !text[at..].starts_with('{') {
        return false;
    }
    document_reader::object_has_key(text, at, "messageType").unwrap_or_else(|| {
        let bytes = text.as_bytes();
        memchr::memmem::find_iter(bytes, b"\"messageType\"").any(|k| {
            let after = &text[k + "\"messageType\"".len()..];
            after.trim_start_matches(JSON_WS).starts_with(':')
        })
    })
}

/// The subscription documents of a record's text, one after another, each read as it is asked
/// for (one at a time in memory, as a single document is). Yields every document, or the
/// documents before the first that cannot be read and then its error, and nothing after it.
/// Text with no document at all yields serde_json's error for it.
#[derive(Debug)]
pub struct Documents<'a> {
    text: &'a str,
    /// Where the next document may start.
    at: usize,
    /// Documents read so far.
    read: usize,
    done: bool,
}

impl<'a> Documents<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            at: 0,
            read: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Documents<'a> {
    type Item = Result<SubscriptionPayload<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.text.len() - self.text[self.at..].trim_start_matches(JSON_WS).len();
        if start == self.text.len() && self.read > 0 {
            self.done = true;
            return None;
        }
        self.read += 1;
        match document_at(self.text, start) {
            Ok((doc, end)) => {
                self.at = end;
                Some(Ok(doc))
            }
            Err(cause) => {
                self.done = true;
                // The first document's error is the record's, as for a single document.
                Some(Err(if self.read == 1 {
                    cause
                } else {
                    DecodeError::InDocument {
                        number: self.read,
                        offset: start,
                        cause: Box::new(cause),
                    }
                }))
            }
        }
    }
}

/// The document that starts at `start`, and the byte past it: the one-pass reader when it takes
/// it, else serde_json finds the value's end and reads it or says what is wrong.
fn document_at(text: &str, start: usize) -> Result<(SubscriptionPayload<'_>, usize), DecodeError> {
    if let Some(read) = document_reader::parse_at(text, start) {
        return Ok(read);
    }
    let rest = &text[start..];
    let mut values =
        serde_json::Deserializer::from_str(rest).into_iter::<&serde_json::value::RawValue>();
    match values.next() {
        Some(Ok(raw)) => {
            let end = start + values.byte_offset();
            parse_payload_serde(raw.get()).map(|doc| (doc, end))
        }
        Some(Err(e)) => Err(DecodeError::InvalidJson(e.to_string())),
        // Only whitespace: what serde_json says of a value that is not there.
        None => Err(DecodeError::InvalidJson(
            serde_json::from_str::<serde::de::IgnoredAny>(rest)
                .err()
                .map_or_else(|| "no document".into(), |e| e.to_string()),
        )),
    }
}

/// Where the text after the first document of `text` starts, when there is one and something
/// other than whitespace follows it: why a direct or Kinesis payload that holds a document is
/// still refused.
pub(super) fn after_first_document(text: &str) -> Option<usize> {
    let start = text.len() - text.trim_start_matches(JSON_WS).len();
    let (_, end) = document_at(text, start).ok()?;
    let rest = text[end..].trim_start_matches(JSON_WS);
    (!rest.is_empty()).then(|| text.len() - rest.len())
}

/// The messages of a record Firehose's message extraction left: its lines, without their
/// `\n`. A `\n` ends a line; the text after the last one, when there is any, is the last line.
/// An empty line is an empty message (counted and dropped by the receiver, as CloudWatch Logs
/// refuses empty messages). A `\r` before the `\n` is kept: it is part of the message.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    lines: std::str::SplitTerminator<'a, char>,
}

impl<'a> Messages<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            lines: text.split_terminator('\n'),
        }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.lines.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{MessageType, parse_payload};
    use crate::failure::Typed;
    use base64::Engine as _;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use proptest::prelude::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn doc(group: &str, messages: &[&str]) -> String {
        let events: Vec<String> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                format!(
                    r#"{{"id":"{i}","timestamp":{},"message":{}}}"#,
                    1_700_000_000_000u64 + i as u64,
                    serde_json::to_string(m).unwrap()
                )
            })
            .collect();
        format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"{group}","logStream":"s","subscriptionFilters":["f"],"logEvents":[{}]}}"#,
            events.join(",")
        )
    }

    /// What a record decodes to: each document's group and messages, or the message text's
    /// lines; the first error ends it.
    #[derive(Debug, PartialEq)]
    enum Read {
        Docs(Vec<(String, Vec<String>)>, Option<String>),
        Lines(Vec<String>),
    }

    fn read(data: &[u8], limit: usize) -> Result<Read, DecodeError> {
        let mut s = Scratch::default();
        let limits = DecodeLimits {
            max_decoded_bytes: limit,
        };
        Ok(
            match decode_firehose_record(b64(data).as_bytes(), limits, &mut s)? {
                FirehoseContent::Documents(docs) => {
                    let mut read = Vec::new();
                    let mut error = None;
                    for d in docs {
                        match d {
                            Ok(p) => read.push((
                                p.log_group.to_string(),
                                p.log_events
                                    .iter()
                                    .map(|e| e.message.text().into_owned())
                                    .collect(),
                            )),
                            Err(e) => error = Some(e.to_string()),
                        }
                    }
                    Read::Docs(read, error)
                }
                FirehoseContent::Messages(lines) => {
                    Read::Lines(lines.map(str::to_string).collect())
                }
            },
        )
    }

    const MB: usize = 1 << 20;

    fn docs(list: &[(&str, &[&str])]) -> Read {
        Read::Docs(
            list.iter()
                .map(|(g, m)| (g.to_string(), m.iter().map(|m| m.to_string()).collect()))
                .collect(),
            None,
        )
    }

    #[test]
    fn gzip_records_hold_one_or_more_documents_in_one_or_more_members() {
        let a = doc("/a", &["one", "two"]);
        let b = doc("/b", &["three"]);
        let c = doc("/c", &[]);
        let want = docs(&[("/a", &["one", "two"]), ("/b", &["three"])]);
        // One document, as CloudWatch Logs sends it.
        assert_eq!(
            read(&gz(a.as_bytes()), MB).unwrap(),
            docs(&[("/a", &["one", "two"])])
        );
        // Two documents in one member, whitespace between or none.
        for sep in ["", "\n", " \r\n\t "] {
            let text = format!("{a}{sep}{b}\n");
            assert_eq!(read(&gz(text.as_bytes()), MB).unwrap(), want, "{sep:?}");
        }
        // One document per member: two and three members.
        let two: Vec<u8> = [gz(a.as_bytes()), gz(b.as_bytes())].concat();
        assert_eq!(read(&two, MB).unwrap(), want);
        let three: Vec<u8> = [gz(a.as_bytes()), gz(b.as_bytes()), gz(c.as_bytes())].concat();
        assert_eq!(
            read(&three, MB).unwrap(),
            docs(&[("/a", &["one", "two"]), ("/b", &["three"]), ("/c", &[])])
        );
        // A document split across members is one document: members concatenate.
        let (x, y) = a.split_at(40);
        let split: Vec<u8> = [gz(x.as_bytes()), gz(y.as_bytes())].concat();
        assert_eq!(read(&split, MB).unwrap(), docs(&[("/a", &["one", "two"])]));
        // Gzip that holds text and not documents: CloudWatch Logs never sends that.
        let e = read(&gz(b"just text\n"), MB).unwrap();
        assert!(
            matches!(&e, Read::Docs(d, Some(err)) if d.is_empty() && err.contains("not valid JSON")),
            "{e:?}"
        );
        let e = read(&gz(b"  \n"), MB).unwrap();
        assert!(
            matches!(&e, Read::Docs(d, Some(err)) if d.is_empty() && err.contains("EOF while parsing")),
            "{e:?}"
        );
    }

    #[test]
    fn plain_records_hold_documents_with_any_whitespace_around_them() {
        let a = doc("/a", &["one", "two"]);
        let b = doc("/b", &["three"]);
        assert_eq!(
            read(a.as_bytes(), MB).unwrap(),
            docs(&[("/a", &["one", "two"])])
        );
        let want = docs(&[("/a", &["one", "two"]), ("/b", &["three"])]);
        for (before, between, after) in [
            ("", "", ""),
            ("\n", "\n", "\n"),
            (" \t\r\n", "\r\n\r\n  ", "\n\n\n"),
        ] {
            let text = format!("{before}{a}{between}{b}{after}");
            assert_eq!(read(text.as_bytes(), MB).unwrap(), want, "{text:?}");
        }
        // Pretty-printed, `messageType` after other keys (as the Firehose guide shows a
        // decompressed record), an escaped key: still documents.
        let pretty = serde_json::to_string_pretty(&serde_json::json!({
            "owner": "111111111111", "logGroup": "CloudTrail/logs", "logStream": "s",
            "subscriptionFilters": ["Destination"], "messageType": "DATA_MESSAGE",
            "logEvents": [{"id": "1", "timestamp": 1432826855000u64, "message": "{\"eventVersion\":\"1.03\"}"}]
        }))
        .unwrap();
        assert_eq!(
            read(pretty.as_bytes(), MB).unwrap(),
            docs(&[("CloudTrail/logs", &["{\"eventVersion\":\"1.03\"}"])])
        );
        let escaped = a.replacen("messageType", "message\\u0054ype", 1);
        assert_eq!(
            read(escaped.as_bytes(), MB).unwrap(),
            docs(&[("/a", &["one", "two"])])
        );
        // A control message reads as one.
        let control = a.replace("DATA_MESSAGE", "CONTROL_MESSAGE");
        let mut s = Scratch::default();
        let data = b64(control.as_bytes());
        let FirehoseContent::Documents(mut d) =
            decode_firehose_record(data.as_bytes(), DecodeLimits::default(), &mut s).unwrap()
        else {
            panic!("documents")
        };
        assert_eq!(
            d.next().unwrap().unwrap().message_type,
            MessageType::Control
        );
        assert!(d.next().is_none());
    }

    #[test]
    fn a_document_that_cannot_be_read_fails_the_record_naming_it() {
        let a = doc("/a", &["one"]);
        let b = doc("/b", &["two"]);
        let at = a.len() + 1;
        let cases = [
            // Malformed second document.
            (format!("{a}\n{}", &b[..b.len() - 2]), "not valid JSON"),
            // A second document that fails the schema (it names its source).
            (
                format!("{a}\n{}", b.replace("\"timestamp\":", "\"time\":")),
                "missing field `timestamp`",
            ),
            // Not a document after one: text, an array, an object without `messageType`.
            (format!("{a}\ntrailing text"), "not valid JSON"),
            (
                format!("{a}\n\"a string\""),
                "not a CloudWatch Logs subscription document",
            ),
            (format!("{a}\n[1,2]"), ": payload is"),
            (format!("{a}\n{{\"a\":1}}"), "missing field `messageType`"),
            // A separator that is not whitespace.
            (format!("{a},{b}"), "not valid JSON"),
        ];
        for (text, cause) in cases {
            for data in [text.as_bytes().to_vec(), gz(text.as_bytes())] {
                let Read::Docs(got, Some(err)) = read(&data, MB).unwrap() else {
                    panic!("{text}: documents with an error")
                };
                assert_eq!(got.len(), 1, "{text}: the first is read");
                let at = if text.as_bytes()[a.len()] == b',' {
                    a.len()
                } else {
                    at
                };
                assert!(
                    err.starts_with(&format!("document 2 of the record (at byte {at})"))
                        && err.contains(cause),
                    "{text}: {err}"
                );
            }
        }
        let e = read(
            format!("{a}\n{}", b.replace("\"timestamp\":", "\"time\":")).as_bytes(),
            MB,
        )
        .unwrap();
        assert!(format!("{e:?}").contains("(source /b / s)"), "{e:?}");
        // A first document that cannot be read is named as the record's own error.
        let Read::Docs(got, Some(err)) = read(
            r#"{"messageType":"DATA_MESSAGE","owner":"1"}"#.as_bytes(),
            MB,
        )
        .unwrap() else {
            panic!("documents")
        };
        assert!(got.is_empty());
        assert!(
            err.starts_with("payload is not a CloudWatch Logs subscription document"),
            "{err}"
        );
        // Broken JSON that says `messageType`: a damaged document, not a message.
        let Read::Docs(_, Some(err)) = read(
            br#"{"owner":"1", "messageType": "DATA_MESSAGE", "logEvents": [ oops"#,
            MB,
        )
        .unwrap() else {
            panic!("documents")
        };
        assert!(err.contains("not valid JSON"), "{err}");
        let truncated = &a[..a.len() / 2];
        assert!(
            matches!(read(truncated.as_bytes(), MB).unwrap(), Read::Docs(d, Some(_)) if d.is_empty())
        );
    }

    #[test]
    fn message_text_is_read_one_message_per_line() {
        let text = "START RequestId: 1 Version: $LATEST\n{\"level\":\"INFO\",\"msg\":\"order received\"}\n\nZahlung für Bestellung 42 – ✓\r\nlast line, no newline";
        assert_eq!(
            read(text.as_bytes(), MB).unwrap(),
            Read::Lines(vec![
                "START RequestId: 1 Version: $LATEST".into(),
                "{\"level\":\"INFO\",\"msg\":\"order received\"}".into(),
                "".into(),
                "Zahlung für Bestellung 42 – ✓\r".into(),
                "last line, no newline".into(),
            ])
        );
        // A record of JSON messages, an object first: messages (no `messageType`), even when
        // the first spans lines; a `{` that is not JSON; only newlines.
        for (text, lines) in [
            ("{\"a\":1}\n{\"b\":2}\n", vec!["{\"a\":1}", "{\"b\":2}"]),
            ("{\n\"a\": 1\n}\n", vec!["{", "\"a\": 1", "}"]),
            ("{timestamp} INFO x\n", vec!["{timestamp} INFO x"]),
            ("\n\n", vec!["", ""]),
            ("  indented\n", vec!["  indented"]),
            (
                "{\"messageType\" is a word here\n",
                vec!["{\"messageType\" is a word here"],
            ),
        ] {
            assert_eq!(
                read(text.as_bytes(), MB).unwrap(),
                Read::Lines(lines.into_iter().map(String::from).collect()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn what_is_neither_gzip_nor_text_is_refused_and_every_record_is_bounded() {
        let err = |data: &[u8], limit| read(data, limit).unwrap_err();
        assert_eq!(err(b"", MB), DecodeError::EmptyRecord);
        let e = err(&[0x00, 0xff, 0xfe, 0x10, 0x20], MB);
        assert!(
            e.to_string()
                .starts_with("record is neither gzip (magic bytes 1f 8b) nor UTF-8 text (found 00 ff fe 10: invalid utf-8"),
            "{e}"
        );
        let a = doc("/a", &["one"]);
        assert_eq!(
            err(a.as_bytes(), a.len() - 1),
            DecodeError::PlainTooLarge {
                len: a.len(),
                limit: a.len() - 1
            }
        );
        assert!(read(a.as_bytes(), a.len()).is_ok(), "at the limit is fine");
        let long = "x".repeat(2000);
        assert_eq!(
            err(long.as_bytes(), 1999).error_type(),
            crate::failure::ErrorType::PayloadTooLarge
        );
        assert_eq!(
            err(&gz(a.as_bytes()), a.len() - 1),
            DecodeError::TooLarge { limit: a.len() - 1 }
        );
        let mut s = Scratch::default();
        let e = decode_firehose_record(b"!", DecodeLimits::default(), &mut s).unwrap_err();
        assert!(e.to_string().contains("not valid base64"), "{e}");
    }

    #[test]
    fn only_an_object_with_message_type_first_makes_documents() {
        for (text, documents) in [
            ("{\"messageType\":\"DATA_MESSAGE\"}", true),
            ("  \n{\"owner\":\"1\",\"messageType\":5}", true),
            ("{\"owner\":{\"messageType\":1}}", false),
            ("{\"a\":\"messageType\"}", false),
            ("[{\"messageType\":1}]", false),
            ("text {\"messageType\":1}", false),
            ("{\"a\":[1,\"messageType\":", true),
            ("{\"a\":[1, oops", false),
            ("", false),
        ] {
            assert_eq!(holds_documents(text), documents, "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn documents_one_after_another_are_all_read(
            messages in prop::collection::vec(prop::collection::vec("\\PC{0,30}", 0..4), 1..5),
            seps in prop::collection::vec("[ \t\r\n]{0,3}", 6),
            gzipped in any::<bool>(),
        ) {
            let texts: Vec<String> = messages
                .iter()
                .enumerate()
                .map(|(i, m)| doc(&format!("/g{i}"), &m.iter().map(String::as_str).collect::<Vec<_>>()))
                .collect();
            let mut text = seps[0].clone();
            for (i, t) in texts.iter().enumerate() {
                text.push_str(t);
                text.push_str(&seps[i + 1]);
            }
            let data = if gzipped { gz(text.as_bytes()) } else { text.into_bytes() };
            let want = Read::Docs(
                texts.iter().map(|t| {
                    let p = parse_payload(t.as_bytes()).unwrap();
                    (p.log_group.to_string(), p.log_events.iter().map(|e| e.message.text().into_owned()).collect())
                }).collect(),
                None,
            );
            prop_assert_eq!(read(&data, MB).unwrap(), want);
        }

        #[test]
        fn lines_of_text_are_the_messages(
            lines in prop::collection::vec("[^\n{ \t\r]\\PC{0,40}|", 1..20),
            ended in any::<bool>(),
        ) {
            let mut text = lines.join("\n");
            if ended {
                text.push('\n');
            }
            let mut want = lines.clone();
            // An unended empty last line is no line at all.
            if !ended && want.last().is_some_and(String::is_empty) {
                want.pop();
            }
            prop_assume!(!text.is_empty());
            prop_assert_eq!(read(text.as_bytes(), MB).unwrap(), Read::Lines(want));
        }
    }
}
