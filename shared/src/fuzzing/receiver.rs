//! The receiver on whole Lambda events of each shape: direct, Kinesis, Firehose (gzip and
//! plain records) and the SQS replay of on-failure records, read and routed as `handle` reads
//! and routes them, without the writes ([`Receiver::route_event`]).
//!
//! The fuzzer's bytes are an event two ways. Either the event's JSON text itself, so that the
//! reading of shapes and their errors is fuzzed; or documents the target wraps as Lambda does:
//! gzip and base64 (or base64 alone, as Firehose's own decompression leaves them), in the
//! records of one shape. Random bytes are almost never valid gzip of base64 inside JSON, so
//! only the second way reaches routing, filtering, redaction and the Firehose answer with
//! what the fuzzer writes.

use std::sync::OnceLock;

use base64::Engine;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::{MAX_NAME_LEN, ReceiverConfig};
use crate::failure::Typed;
use crate::json;
use crate::receiver::{Receiver, ReceiverError, Routed, Summary};

/// The configurations the target runs, chosen by the fuzzer. Between them: raw and envelope
/// messages, every filter, sampling, the loop guard, redaction (the built-in detectors, a
/// custom rule), targets named from the source, and a small `MAX_DECODED_BYTES`.
const CONFIGS: [&[(&str, &str)]; 4] = [
    &[("TARGET_LOG_GROUP", "/central/{owner}")],
    &[
        ("TARGET_LOG_GROUP", "/central/{logGroup}"),
        ("TARGET_LOG_STREAM", "{logGroup}:{logStream}*"),
        ("MESSAGE_FORMAT", "envelope"),
        ("REDACT", "all"),
    ],
    &[
        ("TARGET_LOG_GROUP", "/central"),
        ("INCLUDE_PATTERN", "[a-z]"),
        ("EXCLUDE_PATTERN", "DEBUG"),
        (
            "SAMPLE_RULES",
            r#"[{"match":"INFO","keep":0.5},{"match":"","keep":0.9}]"#,
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/logship"),
        ("REDACT", "email,ipv4,card"),
    ],
    &[
        ("TARGET_LOG_GROUP", "{logStream}"),
        (
            "REDACT_RULES",
            r#"[{"name":"ticket","pattern":"TICKET-[0-9]{3,}"}]"#,
        ),
        ("MAX_DECODED_BYTES", "65536"),
    ],
];

/// Whether configuration `i` ships messages as they came (not in envelopes).
fn raw_messages(i: usize) -> bool {
    !CONFIGS[i].contains(&("MESSAGE_FORMAT", "envelope"))
}

/// A receiver per configuration, built once: its writer is never called.
fn receivers() -> &'static [Receiver] {
    static R: OnceLock<Vec<Receiver>> = OnceLock::new();
    R.get_or_init(|| {
        CONFIGS
            .iter()
            .map(|vars| {
                let config = ReceiverConfig::from_lookup(|k| {
                    vars.iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| v.to_string())
                })
                .expect("a valid configuration");
                Receiver::offline(config)
            })
            .collect()
    })
}

/// The most records an event built from the fuzzer's documents has.
const MAX_RECORDS: usize = 64;

/// The first byte picks the shape (low 3 bits) and the configuration (the next 2). Shapes 0 and
/// 7: the rest is the event's text. Otherwise the rest, split at each `0xFF` (a byte UTF-8
/// never has), is the documents, each gzipped and base64-encoded into a record of the shape:
/// 1 direct (the first document), 2 Kinesis, 3 Firehose, 4 Firehose with base64 only, 5 SQS
/// replay of on-failure records, 6 Kinesis records some of which are not base64.
pub fn receiver_event(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let config = usize::from(selector >> 3) % CONFIGS.len();
    let docs: Vec<&[u8]> = rest.split(|&b| b == 0xFF).take(MAX_RECORDS).collect();
    let text = match selector & 7 {
        1 => direct(docs[0]),
        2 => kinesis(&docs, false),
        3 => firehose(&docs, true),
        4 => firehose(&docs, false),
        5 => sqs(&docs),
        6 => kinesis(&docs, true),
        _ => match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        },
    };
    let Ok(event) = serde_json::from_str::<&RawValue>(&text) else {
        // Lambda hands the function JSON only.
        return;
    };
    let receiver = &receivers()[config];
    let (result, summary) = receiver.route_event(event);
    match result {
        Ok(routed) => {
            check(receiver, config, event, &routed, &summary);
            receiver.recycle(routed);
        }
        Err(e) => check_error(&e, &summary),
    }
}

/// `doc` as CloudWatch Logs sends it: gzip, then base64. One deflate state, reset for each
/// document: a new one zero-fills hundreds of KB, most of an execution's time under ASan.
fn gzip_base64(doc: &[u8]) -> String {
    thread_local! {
        static DEFLATE: std::cell::RefCell<flate2::Compress> =
            std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), false));
    }
    // RFC 1952: magic, deflate, no flags, no time, no extra flags, unknown OS; the raw deflate
    // stream; its CRC-32 and length, little-endian.
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    gz.reserve(doc.len() + doc.len() / 8 + 64);
    DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        deflate
            .compress_vec(doc, &mut gz, flate2::FlushCompress::Finish)
            .expect("deflate into memory");
        assert_eq!(
            deflate.total_in(),
            doc.len() as u64,
            "room for the whole stream"
        );
    });
    let mut crc = flate2::Crc::new();
    crc.update(doc);
    gz.extend_from_slice(&crc.sum().to_le_bytes());
    gz.extend_from_slice(&(doc.len() as u32).to_le_bytes());
    base64(&gz)
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn direct(doc: &[u8]) -> String {
    format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, gzip_base64(doc))
}

/// A Kinesis event; with `some_not_base64`, a document starting `!` is put in as it is (a
/// record that is not a subscription payload at all).
fn kinesis(docs: &[&[u8]], some_not_base64: bool) -> String {
    let records: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let data = match doc.strip_prefix(b"!") {
                Some(raw) if some_not_base64 => json_string(&String::from_utf8_lossy(raw)),
                _ => format!("\"{}\"", gzip_base64(doc)),
            };
            format!(
                r#"{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"p","sequenceNumber":"4959{i:052}","data":{data},"approximateArrivalTimestamp":1795000000.5}},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000000:4959{i:052}","eventName":"aws:kinesis:record","awsRegion":"us-east-1"}}"#
            )
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

/// A Firehose transformation event: records of gzip (as CloudWatch Logs sends them) or of the
/// document alone (Firehose's own decompression on).
fn firehose(docs: &[&[u8]], gzip: bool) -> String {
    let records: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let data = if gzip { gzip_base64(doc) } else { base64(doc) };
            format!(
                r#"{{"recordId":"r{i}","approximateArrivalTimestamp":1795000000000,"data":"{data}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"invocationId":"i","deliveryStreamArn":"arn:aws:firehose:us-east-1:123456789012:deliverystream/d","region":"us-east-1","records":[{}]}}"#,
        records.join(",")
    )
}

/// An SQS event of Lambda on-failure records, each carrying a direct delivery of a document.
fn sqs(docs: &[&[u8]]) -> String {
    let records: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let body = format!(
                r#"{{"version":"1.0","timestamp":"2026-11-22T01:00:00.000Z","requestContext":{{"requestId":"req-{i}","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:r:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3}},"requestPayload":{},"responseContext":{{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"}}}}"#,
                direct(doc)
            );
            format!(
                r#"{{"messageId":"m{i}","receiptHandle":"h","body":{},"attributes":{{}},"messageAttributes":{{}},"eventSource":"aws:sqs","awsRegion":"us-east-1"}}"#,
                json_string(&body)
            )
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// What a routed event holds, whatever the input.
fn check(receiver: &Receiver, config: usize, event: &RawValue, routed: &Routed, summary: &Summary) {
    let redactor = receiver.config().redactor.as_ref();
    let mut events = 0u64;
    for ((group, stream), batch) in &routed.targets {
        // Names the service takes.
        assert!(
            (1..=MAX_NAME_LEN).contains(&group.len())
                && group
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_/#".contains(&b)),
            "log group {group:?}"
        );
        assert!(
            (1..=MAX_NAME_LEN).contains(&stream.len()) && !stream.contains([':', '*']),
            "log stream {stream:?}"
        );
        for e in batch {
            events += 1;
            let escaped = e.message.escaped();
            // Valid JSON string content, of the length it says, never empty.
            let text: String = serde_json::from_str(&format!("\"{escaped}\""))
                .unwrap_or_else(|err| panic!("not JSON string content ({err}): {escaped:?}"));
            assert_eq!(text.len(), e.message.len(), "{escaped:?}");
            assert!(!text.is_empty(), "an empty message routed");
            assert_eq!(json::unescape(escaped), text);
            let items = routed.failed_items.len().max(1);
            assert!(
                (e.origin as usize) < items,
                "origin {} of {items}",
                e.origin
            );
            if raw_messages(config) {
                if let Some(r) = redactor {
                    no_match_survives(r, &text);
                }
            } else if let (Some(r), Value::String(m)) = (redactor, &envelope(&text)["message"]) {
                no_match_survives(r, m);
            }
        }
    }
    if let Some(answer) = &routed.answer {
        let event: Value = serde_json::from_str(event.get()).expect("JSON");
        firehose_answer(answer.get(), &event["records"], redactor, summary);
        assert!(summary.is_conserved(), "{summary:?}");
    } else {
        // Nothing is written yet: every event is routed, or dropped with its reason.
        assert_eq!(
            summary.events_in,
            events + summary.dropped.total(),
            "{summary:?}"
        );
    }
    if routed.answer.is_none() {
        // A direct delivery that fails is an error; a batch's items fail one by one.
        let failed = routed.failed_items.iter().filter(|f| **f).count() as u64;
        assert_eq!(summary.payloads_failed, failed, "{summary:?}");
    }
}

/// An error names its cause and has a type; nothing was written, so it is not a write's; the
/// accounting of an event refused whole counts no event.
fn check_error(e: &ReceiverError, summary: &Summary) {
    assert!(!e.to_string().is_empty());
    assert!(!e.error_type().as_str().is_empty());
    assert!(!matches!(e, ReceiverError::Write { .. }), "{e}");
    if matches!(
        e,
        ReceiverError::UnknownShape(_) | ReceiverError::Malformed { .. }
    ) {
        assert_eq!(summary.events_in, 0, "{summary:?}");
    }
}

/// What the receiver ships of a message holds no match of a redaction rule (a JSON message's
/// strings, when it is still JSON: one that was not is redacted as plain text).
fn no_match_survives(r: &crate::redact::Redactor, text: &str) {
    let json = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
        && serde_json::from_str::<Value>(text).is_ok();
    super::redaction::assert_redacted(r, text, json);
}

/// An envelope: a JSON object with the source's names, the event's id and timestamp, and the
/// message (a string, or the message's own JSON object).
fn envelope(text: &str) -> Value {
    let v: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("an envelope is not JSON ({e}): {text:?}"));
    let object = v.as_object().unwrap_or_else(|| panic!("{text:?}"));
    for key in [
        "owner",
        "logGroup",
        "logStream",
        "id",
        "timestamp",
        "message",
    ] {
        assert!(object.contains_key(key), "{key} missing from {text:?}");
    }
    v
}

/// The Firehose answer: JSON, a record for each record in their order, each `Ok` with NDJSON
/// lines (one per event shipped), `Dropped`, or `ProcessingFailed`.
fn firehose_answer(
    answer: &str,
    asked: &Value,
    redactor: Option<&crate::redact::Redactor>,
    summary: &Summary,
) {
    let v: Value = serde_json::from_str(answer)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {answer:?}"));
    let records = v["records"].as_array().expect("records");
    let asked = asked.as_array().expect("the event's records");
    assert_eq!(records.len(), asked.len());
    assert_eq!(records.len() as u64, summary.payloads);
    let (mut lines, mut failed) = (0u64, 0u64);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["recordId"], asked[i]["recordId"]);
        let data = r["data"].as_str().expect("data");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 data");
        failed += u64::from(r["result"] == "ProcessingFailed");
        match r["result"].as_str() {
            Some("Ok") => {
                let ndjson = String::from_utf8(bytes).expect("UTF-8 NDJSON");
                assert!(ndjson.ends_with('\n'), "{ndjson:?}");
                for line in ndjson.lines() {
                    lines += 1;
                    let v: Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("a line is not JSON ({e}): {line:?}"));
                    let message = &v["message"];
                    match (redactor, message) {
                        (Some(r), Value::String(m)) => no_match_survives(r, m),
                        (Some(r), Value::Object(_)) => no_match_survives(r, &message.to_string()),
                        (_, Value::String(_) | Value::Object(_)) => {}
                        _ => panic!("no message in {line:?}"),
                    }
                }
            }
            Some("Dropped") => assert!(bytes.is_empty()),
            Some("ProcessingFailed") => {}
            other => panic!("result {other:?}"),
        }
    }
    assert_eq!(lines, summary.shipped, "{summary:?}");
    assert_eq!(failed, summary.payloads_failed, "{summary:?}");
}
