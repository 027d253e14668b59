//! Building and re-stamping subscription payloads in the tests — with flate2 and serde_json
//! directly, not with logship's decoder, so the tests do not check the decoder against itself.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// A DATA_MESSAGE document with the given `(timestamp, message)` events.
pub fn document(log_group: &str, log_stream: &str, events: &[(i64, String)]) -> Value {
    let log_events: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, (t, m))| json!({"id": format!("{:056}", 36_000_000_000_000_000u64 + i as u64), "timestamp": t, "message": m}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["ship-to-central"],
        "logEvents": log_events,
    })
}

/// The base64 of the gzip of a document: what `awslogs.data` and Kinesis/Firehose `data` carry.
pub fn encode(doc: &Value) -> String {
    b64(&gzip(doc.to_string().as_bytes()))
}

pub fn decode(data: &str) -> Value {
    serde_json::from_slice(&gunzip(&unb64(data))).unwrap()
}

/// A Firehose record's `data` once Firehose's own "decompress CloudWatch Logs records" has run:
/// the base64 of the documents' plain JSON, `separator` between them, no gzip.
pub fn plain(docs: &[Value], separator: &str) -> String {
    let texts: Vec<String> = docs.iter().map(Value::to_string).collect();
    b64(texts.join(separator).as_bytes())
}

/// The base64 of a gzip stream of several members, one per document: still one gzip stream.
pub fn members(docs: &[Value]) -> String {
    let bytes: Vec<u8> = docs
        .iter()
        .flat_map(|d| gzip(d.to_string().as_bytes()))
        .collect();
    b64(&bytes)
}

/// A Firehose record's `data` once Firehose's message extraction has run: the messages alone,
/// one per line.
pub fn extracted(messages: &[&str]) -> String {
    let text: String = messages.iter().map(|m| format!("{m}\n")).collect();
    b64(text.as_bytes())
}

/// A direct-delivery event.
pub fn direct(doc: &Value) -> Value {
    json!({"awslogs": {"data": encode(doc)}})
}

/// A Kinesis Data Streams event with one record per `data` (already base64), sequence numbers
/// `49590338271490256608559692538361571095921575989136588898 + i`.
pub fn kinesis(datas: &[String]) -> Value {
    let records: Vec<Value> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let seq = format!("4959033827149025660855969253836157109592157598913658{:04}", 8898 + i);
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": seq, "data": d,
                            "approximateArrivalTimestamp": 1_795_000_000.123},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/central-logs"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// A Firehose data-transformation event with one record per `data` (already base64).
pub fn firehose(datas: &[String]) -> Value {
    let records: Vec<Value> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| json!({"recordId": format!("4954698668313554428650745793632162567570019247115678515{i}"), "approximateArrivalTimestamp": 1_795_000_000_123i64, "data": d}))
        .collect();
    json!({"invocationId": "0b9a1b0e-5d43-4f8e-8f86-2b2c5c8c3b9a", "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/central-logs", "region": "us-east-1", "records": records})
}

/// Every embedded payload's `data` of an event of any shape, with a setter to replace it.
fn for_each_data(event: &mut Value, mut f: impl FnMut(&mut Value)) {
    if let Some(d) = event.pointer_mut("/awslogs/data") {
        f(d);
    }
    for key in ["Records", "records"] {
        if let Some(Value::Array(recs)) = event.get_mut(key) {
            for r in recs {
                if let Some(d) = r.pointer_mut("/kinesis/data") {
                    f(d);
                } else if let Some(d) = r.get_mut("data") {
                    f(d);
                } else if let Some(Value::String(body)) = r.get_mut("body") {
                    // An SQS message (replay): the on-failure record's original delivery.
                    let Ok(mut record) = serde_json::from_str::<Value>(body) else {
                        continue;
                    };
                    if let Some(d) = record.pointer_mut("/requestPayload/awslogs/data") {
                        f(d);
                        *body = record.to_string();
                    }
                }
            }
        }
    }
}

/// A Lambda on-failure invocation record of `request_payload`, as an asynchronous
/// invocation's on-failure destination receives it after the retries.
pub fn on_failure_record(request_payload: &Value) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2026-11-30T10:00:00.000Z",
        "requestContext": {"requestId": "5a3cbd0c-0a3f-4d0e-9c1e-2f6f2d0c6d1a",
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:logship-subscription-receiver:$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": request_payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "DeadlineExceeded", "errorMessage": "..."}
    })
}

/// An SQS event with one message per body, message ids `m-<i>`.
pub fn sqs(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({"messageId": format!("m-{i}"), "receiptHandle": format!("rh-{i}"), "body": body,
                   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795300000000"},
                   "messageAttributes": {}, "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:logship-ReceiverFailures",
                   "awsRegion": "us-east-1"})
        })
        .collect();
    json!({ "Records": records })
}

/// The documents a `data` field carries, if it decodes (base64 → gzip, every member, or plain
/// text as Firehose's decompression leaves it → one or more JSON documents with a
/// `messageType`), and whether it was gzip.
fn try_decode(data: &Value) -> Option<(Vec<Value>, bool)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data.as_str()?)
        .ok()?;
    let gzipped = raw.starts_with(&[0x1f, 0x8b]);
    let text = if gzipped {
        let mut out = Vec::new();
        MultiGzDecoder::new(&raw[..]).read_to_end(&mut out).ok()?;
        out
    } else {
        raw
    };
    let docs = serde_json::Deserializer::from_slice(&text)
        .into_iter::<Value>()
        .collect::<Result<Vec<Value>, _>>()
        .ok()?;
    (!docs.is_empty() && docs.iter().all(|d| d.get("messageType").is_some()))
        .then_some((docs, gzipped))
}

/// The documents embedded in an event of any shape (undecodable ones skipped), in order.
pub fn documents(event: &Value) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut e = event.clone();
    for_each_data(&mut e, |d| {
        docs.extend(try_decode(d).map(|(d, _)| d).unwrap_or_default())
    });
    docs
}

/// Loads a sample from `events/` and shifts every log event's timestamp by one common offset
/// so the newest is `now − 60 s`: the samples carry fixed dates, which CloudWatch Logs refuses
/// once they are more than 14 days old.
pub fn sample(name: &str) -> Value {
    let path = crate::workspace_root().join("events").join(name);
    restamp(read_json(&path), now_ms() - 60_000)
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn restamp(mut event: Value, newest: i64) -> Value {
    let max = documents(&event)
        .iter()
        .flat_map(|d| d["logEvents"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["timestamp"].as_i64())
        .max();
    let Some(max) = max else { return event };
    let shift = newest - max;
    // Records of one document are re-encoded as they came (gzip or plain); others are left as
    // they are (only the Firehose path, which writes nothing to CloudWatch Logs, takes them).
    for_each_data(&mut event, |d| {
        let Some((docs, gzipped)) = try_decode(d) else {
            return;
        };
        let Ok([mut doc]) = <[Value; 1]>::try_from(docs) else {
            return;
        };
        if let Some(Value::Array(evs)) = doc.get_mut("logEvents") {
            for e in evs {
                if let Some(t) = e["timestamp"].as_i64() {
                    e["timestamp"] = json!(t + shift);
                }
            }
        }
        *d = Value::String(if gzipped {
            encode(&doc)
        } else {
            plain(&[doc], "")
        });
    });
    event
}
