//! The subscription receiver against the local CloudWatch Logs emulator, through the real SDK.
//!
//! moto stands in for CloudWatch Logs; its strict front (tests/support/moto_server.py) refuses
//! any PutLogEvents request that breaks a real service limit and records it, so every test
//! here also checks every request it caused against the limits.

use logship::batch::{self, LogEvent};
use logship::config::ReceiverConfig;
use logship::receiver::{Receiver, ReceiverError, Summary};
use logship::retry::Deadline;
use logship::writer::{WriteContext, Writer};
use logship_tests::moto::{Moto, read_all};
use logship_tests::payloads::{self, now_ms};
use logship_tests::unique;
use serde_json::{Value, json};
use std::time::Duration;

async fn receiver(vars: &[(&str, &str)]) -> Receiver {
    let config = ReceiverConfig::from_lookup(logship_tests::env(vars)).unwrap();
    let writer = Writer::new(Moto::shared().client().await, config.common.writer.clone());
    Receiver::new(config, writer)
}

/// An invocation's answer, read back as a `Value`, and its accounting.
struct Outcome {
    result: Result<Value, ReceiverError>,
    summary: Summary,
}

/// The receiver as the runtime drives it: the event as JSON text in, the answer as JSON text.
trait Invoke {
    async fn invoke(&self, event: Value, ctx: WriteContext) -> Outcome;
}

impl Invoke for Receiver {
    async fn invoke(&self, event: Value, ctx: WriteContext) -> Outcome {
        let text = serde_json::value::to_raw_value(&event).unwrap();
        let out = self.handle(&text, ctx).await;
        Outcome {
            result: out
                .result
                .map(|answer| serde_json::from_str(answer.get()).expect("the answer is JSON")),
            summary: out.summary,
        }
    }
}

/// An invocation at `now` with 30 s to go.
fn at(now: i64) -> WriteContext {
    WriteContext {
        now_ms: now,
        deadline: Deadline::after(Duration::from_secs(30)),
    }
}

fn assert_conserved(s: &Summary) {
    assert!(
        s.is_conserved(),
        "events in = shipped + dropped + rejected + failed: {s:#?}"
    );
}

async fn messages(group: &str, stream: &str) -> Vec<String> {
    read_all(&Moto::shared().client().await, group, stream)
        .await
        .into_iter()
        .map(|(_, m)| m)
        .collect()
}

/// A record (base64 of gzip) of two events from `/aws/lambda/a` / `stream`: "<stream> one" and
/// "<stream> two", just before `now`.
fn two_events(stream: &str, now: i64) -> String {
    payloads::encode(&payloads::document(
        "/aws/lambda/a",
        stream,
        &[
            (now - 5, format!("{stream} one")),
            (now - 4, format!("{stream} two")),
        ],
    ))
}

fn doc_messages(doc: &Value) -> Vec<String> {
    doc["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn direct_sample_is_shipped_and_read_back() {
    let target = unique("/central/direct");
    let r = receiver(&[("TARGET_LOG_GROUP", &target)]).await;
    let event = payloads::sample("direct.json");
    let doc = &payloads::documents(&event)[0];
    let Outcome { result, summary } = r.invoke(event.clone(), at(now_ms())).await;
    assert_eq!(result.unwrap(), Value::Null);
    let stream = format!(
        "{}/{}/{}",
        doc["owner"].as_str().unwrap(),
        doc["logGroup"].as_str().unwrap(),
        doc["logStream"].as_str().unwrap()
    )
    .replace([':', '*'], "_");
    assert_eq!(messages(&target, &stream).await, doc_messages(doc));
    assert_eq!(summary.shipped as usize, doc_messages(doc).len());
    assert_eq!(summary.requests, 1);
    assert_conserved(&summary);
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn control_message_is_dropped_and_counted() {
    let target = unique("/central/control");
    let r = receiver(&[("TARGET_LOG_GROUP", &target)]).await;
    let Outcome { result, summary } = r
        .invoke(payloads::sample("control-message.json"), at(now_ms()))
        .await;
    assert_eq!(result.unwrap(), Value::Null);
    assert_eq!(
        (
            summary.control_messages,
            summary.dropped.control_message,
            summary.shipped,
            summary.requests
        ),
        (1, 1, 0, 0)
    );
    assert_conserved(&summary);
    let groups = Moto::shared()
        .client()
        .await
        .describe_log_groups()
        .log_group_name_prefix(&target)
        .send()
        .await
        .unwrap();
    assert!(
        groups.log_groups().is_empty(),
        "a control message creates nothing"
    );
}

#[tokio::test]
async fn kinesis_sample_ships_every_record() {
    let target = unique("/central/kinesis");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logGroup}"),
    ])
    .await;
    let event = payloads::sample("kinesis.json");
    let docs = payloads::documents(&event);
    assert!(docs.len() >= 2);
    let Outcome { result, summary } = r.invoke(event, at(now_ms())).await;
    assert_eq!(result.unwrap(), json!({"batchItemFailures": []}));
    let mut expected = std::collections::BTreeMap::<String, Vec<(i64, String)>>::new();
    for d in &docs {
        for e in d["logEvents"].as_array().unwrap() {
            expected
                .entry(d["logGroup"].as_str().unwrap().to_string())
                .or_default()
                .push((
                    e["timestamp"].as_i64().unwrap(),
                    e["message"].as_str().unwrap().to_string(),
                ));
        }
    }
    for (group, mut events) in expected {
        events.sort_by_key(|e| e.0);
        assert_eq!(
            read_all(&Moto::shared().client().await, &target, &group).await,
            events,
            "stream {group}"
        );
    }
    assert_conserved(&summary);
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn kinesis_reports_exactly_the_records_that_fail() {
    let target = unique("/central/kinesis-partial");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
    ])
    .await;
    let now = now_ms();
    let good = |s: &str| two_events(s, now);
    let not_gzip = payloads::b64(b"{\"messageType\":\"DATA_MESSAGE\"}");
    let event = payloads::kinesis(&[good("s0"), "%%%not base64%%%".into(), good("s2"), not_gzip]);
    let seqs: Vec<String> = event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kinesis"]["sequenceNumber"].as_str().unwrap().to_string())
        .collect();
    let Outcome { result, summary } = r.invoke(event, at(now)).await;
    assert_eq!(
        result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": seqs[1]}, {"itemIdentifier": seqs[3]}]})
    );
    assert_eq!(messages(&target, "s0").await, ["s0 one", "s0 two"]);
    assert_eq!(messages(&target, "s2").await, ["s2 one", "s2 two"]);
    assert_eq!(
        (
            summary.payloads,
            summary.payloads_failed,
            summary.records_failed,
            summary.shipped
        ),
        (4, 2, 2, 4)
    );
    assert_conserved(&summary);
}

#[tokio::test]
async fn kinesis_records_whose_writes_fail_are_reported() {
    // The emulator's fault front refuses this group's PutLogEvents once with a non-retryable
    // error: exactly the records whose events were in that request are reported.
    let target = unique("/central/kinesis-writefail");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
    ])
    .await;
    let now = now_ms();
    let rec = |s: &str| {
        payloads::encode(&payloads::document(
            "/aws/lambda/a",
            s,
            &[(now, format!("{s} event"))],
        ))
    };
    let event = payloads::kinesis(&[rec("ok-before"), rec("refused"), rec("ok-after")]);
    let seq = event["Records"][1]["kinesis"]["sequenceNumber"].clone();
    // Create the streams first, so the fault hits the write of the "refused" stream only.
    Moto::shared()
        .create(&target, &["ok-before", "refused", "ok-after"])
        .await;
    Moto::shared()
        .fault(json!({"target": "PutLogEvents", "logGroupName": target, "logStreamName": "refused", "status": 400, "errorType": "InvalidParameterException", "count": 1}))
        .await;
    let Outcome { result, summary } = r.invoke(event, at(now)).await;
    assert_eq!(
        result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": seq}]})
    );
    assert_eq!(
        (summary.shipped, summary.failed, summary.records_failed),
        (2, 1, 1)
    );
    assert_eq!(messages(&target, "ok-before").await, ["ok-before event"]);
    assert!(messages(&target, "refused").await.is_empty());
    assert_conserved(&summary);
}

/// An on-failure record's body (JSON text) for a direct delivery of `data`.
fn failed_delivery(data: &str) -> String {
    payloads::on_failure_record(&json!({"awslogs": {"data": data}})).to_string()
}

#[tokio::test]
async fn replay_ships_on_failure_records_and_reports_exactly_the_ones_that_still_fail() {
    let target = unique("/central/replay");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
    ])
    .await;
    let now = now_ms();
    let kinesis_info = json!({"requestContext": {"requestId": "r-k", "condition": "RetryAttemptsExhausted"},
        "KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "1",
                             "endSequenceNumber": "9", "batchSize": 3,
                             "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}});
    let event = payloads::sqs(&[
        failed_delivery(&two_events("first", now)),
        "{\"requestPayload\": trunc".to_string(),
        failed_delivery("%%%not base64%%%"),
        kinesis_info.to_string(),
        failed_delivery(&two_events("second", now)),
        json!({"unrelated": true}).to_string(),
    ]);
    let Outcome { result, summary } = r.invoke(event, at(now)).await;
    assert_eq!(
        result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"},
                                     {"itemIdentifier": "m-3"}, {"itemIdentifier": "m-5"}]})
    );
    assert_eq!(messages(&target, "first").await, ["first one", "first two"]);
    assert_eq!(
        messages(&target, "second").await,
        ["second one", "second two"]
    );
    assert_eq!(summary.shape, Some(logship::receiver::Shape::Sqs));
    assert_eq!(
        (
            summary.payloads,
            summary.payloads_failed,
            summary.records_failed,
            summary.events_in,
            summary.shipped
        ),
        (6, 4, 4, 4, 4)
    );
    assert_conserved(&summary);
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn replayed_records_whose_writes_fail_are_the_only_failures() {
    let target = unique("/central/replay-writefail");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
    ])
    .await;
    let now = now_ms();
    Moto::shared().create(&target, &["ok", "refused"]).await;
    Moto::shared()
        .fault(json!({"target": "PutLogEvents", "logGroupName": target, "logStreamName": "refused", "status": 400, "errorType": "InvalidParameterException", "count": 1}))
        .await;
    let event = payloads::sqs(&[
        failed_delivery(&two_events("ok", now)),
        failed_delivery(&two_events("refused", now)),
    ]);
    let Outcome { result, summary } = r.invoke(event.clone(), at(now)).await;
    assert_eq!(
        result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]})
    );
    assert_eq!(
        (summary.shipped, summary.failed, summary.records_failed),
        (2, 2, 1)
    );
    assert_conserved(&summary);
    // The queue redelivers the failed message; now it goes through.
    let again = json!({"Records": [event["Records"][1].clone()]});
    let Outcome { result, summary } = r.invoke(again, at(now)).await;
    assert_eq!(result.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(summary.shipped, 2);
    assert_eq!(
        messages(&target, "refused").await,
        ["refused one", "refused two"]
    );
}

#[tokio::test]
async fn direct_delivery_fails_the_invocation_when_a_write_fails() {
    let target = unique("/central/direct-writefail");
    let r = receiver(&[("TARGET_LOG_GROUP", &target), ("TARGET_LOG_STREAM", "s")]).await;
    Moto::shared().create(&target, &["s"]).await;
    Moto::shared()
        .fault(json!({"target": "PutLogEvents", "logGroupName": target, "status": 400, "errorType": "InvalidParameterException", "count": 1}))
        .await;
    let now = now_ms();
    let doc = payloads::document(
        "/aws/lambda/a",
        "s",
        &[(now - 1, "a".into()), (now, "b".into())],
    );
    let Outcome { result, summary } = r.invoke(payloads::direct(&doc), at(now)).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with("2 of 2 events were not written (0 written, 0 rejected): PutLogEvents to"),
        "{err}"
    );
    assert!(err.contains("InvalidParameterException"), "{err}");
    assert_eq!(summary.failed, 2);
    assert_conserved(&summary);
}

#[tokio::test]
async fn firehose_sample_transforms_records() {
    firehose_sample_is_transformed("firehose.json").await;
}

/// Firehose's own "decompress CloudWatch Logs records" on: the records are plain JSON, and are
/// answered as the gzip ones are.
#[tokio::test]
async fn firehose_decompressed_sample_transforms_records() {
    firehose_sample_is_transformed("firehose-decompressed.json").await;
}

async fn firehose_sample_is_transformed(sample: &str) {
    let target = unique("/central/firehose");
    let r = receiver(&[("TARGET_LOG_GROUP", &target)]).await;
    let event = payloads::sample(sample);
    let ids: Vec<String> = event["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["recordId"].as_str().unwrap().to_string())
        .collect();
    let docs = payloads::documents(&event);
    assert_eq!(docs.len(), ids.len(), "one document per record");
    let Outcome { result, summary } = r.invoke(event, at(now_ms())).await;
    let out = result.unwrap();
    let records = out["records"].as_array().unwrap();
    assert_eq!(records.len(), ids.len());
    for ((rec, id), doc) in records.iter().zip(&ids).zip(&docs) {
        assert_eq!(rec["recordId"], json!(id));
        if doc["messageType"] == "CONTROL_MESSAGE" {
            assert_eq!(rec["result"], "Dropped");
            continue;
        }
        assert_eq!(rec["result"], "Ok");
        let text = String::from_utf8(payloads::unb64(rec["data"].as_str().unwrap())).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let events = doc["logEvents"].as_array().unwrap();
        assert_eq!(lines.len(), events.len());
        for (line, e) in lines.iter().zip(events) {
            assert_eq!(line["owner"], doc["owner"]);
            assert_eq!(line["logGroup"], doc["logGroup"]);
            assert_eq!(line["logStream"], doc["logStream"]);
            assert_eq!(line["id"], e["id"]);
            assert_eq!(line["timestamp"], e["timestamp"]);
            assert_eq!(line["message"], e["message"]);
        }
    }
    assert_eq!(
        summary.requests, 0,
        "Firehose output goes back to Firehose, not to CloudWatch Logs"
    );
    assert_conserved(&summary);
    let groups = Moto::shared()
        .client()
        .await
        .describe_log_groups()
        .log_group_name_prefix(&target)
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty());
}

#[tokio::test]
async fn firehose_undecodable_record_is_processing_failed() {
    let r = receiver(&[("TARGET_LOG_GROUP", "/central/unused")]).await;
    let now = now_ms();
    let all_filtered = payloads::encode(&payloads::document(
        "/aws/lambda/a",
        "s",
        &[(now, "DEBUG noise".into())],
    ));
    let event = payloads::firehose(&[payloads::b64(&payloads::gzip(b"not json")), all_filtered]);
    let r2 = receiver(&[
        ("TARGET_LOG_GROUP", "/central/unused"),
        ("EXCLUDE_PATTERN", "^DEBUG"),
    ])
    .await;
    let Outcome { result, summary } = r2.invoke(event.clone(), at(now)).await;
    let out = result.unwrap();
    assert_eq!(out["records"][0]["result"], "ProcessingFailed");
    assert_eq!(out["records"][1]["result"], "Dropped");
    assert_eq!((summary.records_failed, summary.dropped.filtered), (1, 1));
    assert_conserved(&summary);
    let Outcome { result, .. } = r.invoke(event, at(now)).await;
    assert_eq!(result.unwrap()["records"][1]["result"], "Ok");
}

#[tokio::test]
async fn firehose_answer_past_lambdas_limit_fails_the_invocation_unbuilt() {
    // Many small events from a source with long names: every NDJSON line repeats the names,
    // so ~1 MB of gzip becomes far more than the 6 MB Lambda can answer.
    let r = receiver(&[("TARGET_LOG_GROUP", "/central/unused")]).await;
    let now = now_ms();
    let group = format!("/aws/lambda/{}", "g".repeat(480));
    let stream = "s".repeat(500);
    let events: Vec<(i64, String)> = (0..3_000).map(|i| (now, format!("m{i}"))).collect();
    let data = payloads::encode(&payloads::document(&group, &stream, &events));
    let event = payloads::firehose(&[data.clone(), data.clone(), data]);
    let Outcome { result, summary } = r.invoke(event, at(now)).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("Lambda's response limit (6291556 bytes)") && err.contains("buffer size"),
        "{err}"
    );
    assert_eq!((summary.shipped, summary.bytes), (0, 0));
    assert_eq!(summary.records_failed, 3);
    assert!(summary.failed > 0);
    assert_conserved(&summary);
    // A record that fits is answered as usual by the same receiver.
    let small = payloads::encode(&payloads::document(&group, &stream, &events[..10]));
    let Outcome { result, .. } = r.invoke(payloads::firehose(&[small]), at(now)).await;
    assert_eq!(result.unwrap()["records"][0]["result"], "Ok");
}

#[tokio::test]
async fn templates_and_sanitising_name_the_targets() {
    let base = unique("/central/tpl");
    let r = receiver(&[
        (
            "TARGET_LOG_GROUP",
            &format!("{base}/{{owner}}/{{logGroup}}"),
        ),
        ("TARGET_LOG_STREAM", "src:{logStream}*"),
    ])
    .await;
    let now = now_ms();
    let doc = payloads::document(
        "/aws/ecs/pay ments",
        "web:1/[$LATEST]*x",
        &[(now, "hello".into())],
    );
    let Outcome { result, summary } = r.invoke(payloads::direct(&doc), at(now)).await;
    result.unwrap();
    assert_conserved(&summary);
    let group = format!("{base}/123456789012//aws/ecs/pay_ments");
    let groups = Moto::shared()
        .client()
        .await
        .describe_log_groups()
        .log_group_name_prefix(&base)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = groups
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name())
        .collect();
    assert_eq!(names, [group.as_str()]);
    assert_eq!(messages(&group, "src_web_1/[$LATEST]_x_").await, ["hello"]);
}

#[tokio::test]
async fn malformed_payloads_fail_with_their_cause() {
    let r = receiver(&[("TARGET_LOG_GROUP", "/central/malformed")]).await;
    let now = now_ms();
    let full = payloads::gzip(
        payloads::document("/aws/lambda/src", "s", &[(now, "m".into())])
            .to_string()
            .as_bytes(),
    );
    let cases: Vec<(Value, &str)> = vec![
        (json!({"awslogs": {"data": "***"}}), "not valid base64"),
        (
            json!({"awslogs": {"data": payloads::b64(b"plain text")}}),
            "not gzip",
        ),
        (
            json!({"awslogs": {"data": payloads::b64(&full[..full.len() - 9])}}),
            "truncated",
        ),
        (
            json!({"awslogs": {"data": payloads::b64(&payloads::gzip(b"{\"messageType\": DATA"))}}),
            "not valid JSON",
        ),
        (
            json!({"awslogs": {"data": payloads::b64(&payloads::gzip(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/src","logStream":"s9","logEvents":[{"id":"1","message":"no timestamp"}]}"#))}}),
            "missing field `timestamp`",
        ),
        (
            json!({"awslogs": {"data": 42}}),
            "malformed Direct event: invalid type: integer `42`, expected a string",
        ),
        (json!({"awslogs": {}}), "missing field `data`"),
        (
            json!({"hello": "world"}),
            "unrecognised event (top-level keys [\"hello\"]); accepted shapes",
        ),
        (json!([1, 2]), "the event is a JSON array"),
        (
            json!({"Records": [{"kinesis": {"data": "x"}}]}),
            "missing field `sequenceNumber`",
        ),
    ];
    for (event, expected) in cases {
        let Outcome { result, summary } = r.invoke(event.clone(), at(now)).await;
        let err = result.expect_err(&event.to_string()).to_string();
        assert!(err.contains(expected), "{event}: {err}");
        assert_eq!(summary.shipped, 0);
        assert_conserved(&summary);
    }
    // Schema errors name the source when the document got that far.
    let e = json!({"awslogs": {"data": payloads::b64(&payloads::gzip(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/src","logStream":"s9","logEvents":"no"}"#))}});
    assert!(
        r.invoke(e, at(now))
            .await
            .result
            .unwrap_err()
            .to_string()
            .contains("(source /aws/lambda/src / s9)")
    );
}

#[tokio::test]
async fn gzip_members_are_read_whole_and_a_delivery_holds_one_document() {
    // A payload is a gzip stream: every member of it is read. A direct delivery or a Kinesis
    // record carries one document: split across members it is shipped, two documents are
    // refused naming why (never the first alone).
    let target = unique("/central/members");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
    ])
    .await;
    let now = now_ms();
    let doc = |stream: &str| {
        payloads::document(
            "/aws/lambda/a",
            stream,
            &[
                (now - 2, format!("{stream} one")),
                (now - 1, format!("{stream} two")),
            ],
        )
    };
    let split = |stream: &str| {
        let text = doc(stream).to_string();
        let (a, b) = text.split_at(text.len() / 2);
        payloads::b64(&[payloads::gzip(a.as_bytes()), payloads::gzip(b.as_bytes())].concat())
    };
    let two = payloads::members(&[doc("x"), doc("y")]);

    let Outcome { result, summary } = r
        .invoke(json!({"awslogs": {"data": split("direct")}}), at(now))
        .await;
    assert_eq!(result.unwrap(), Value::Null);
    assert_eq!(
        messages(&target, "direct").await,
        ["direct one", "direct two"]
    );
    assert_conserved(&summary);

    let Outcome { result, summary } = r.invoke(json!({"awslogs": {"data": two}}), at(now)).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("more than one subscription document") && err.contains("exactly one"),
        "{err}"
    );
    assert_eq!((summary.events_in, summary.shipped), (0, 0));
    assert_conserved(&summary);

    let event = payloads::kinesis(&[split("kinesis"), payloads::members(&[doc("k1"), doc("k2")])]);
    let seq = event["Records"][1]["kinesis"]["sequenceNumber"].clone();
    let Outcome { result, summary } = r.invoke(event, at(now)).await;
    assert_eq!(
        result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": seq}]})
    );
    assert_eq!(
        messages(&target, "kinesis").await,
        ["kinesis one", "kinesis two"]
    );
    assert_conserved(&summary);
}

#[tokio::test]
async fn envelopes_past_max_decoded_bytes_fail_their_record_only() {
    // A document of tiny events from a long-named source is small, but each envelope repeats
    // the names: past MAX_DECODED_BYTES of them the record fails whole (Kinesis retries it),
    // the others are shipped, and memory stays bounded.
    let target = unique("/central/envelope-cap");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
        ("MESSAGE_FORMAT", "envelope"),
        ("MAX_DECODED_BYTES", "262144"),
    ])
    .await;
    let now = now_ms();
    let good = |s: &str| two_events(s, now);
    let long_group = format!("/aws/lambda/{}", "g".repeat(490));
    let long_stream = "s".repeat(500);
    let tiny: Vec<(i64, String)> = (0..1_500)
        .map(|i| (now - 10, format!("{}", i % 10)))
        .collect();
    let hostile_doc = payloads::document(&long_group, &long_stream, &tiny);
    assert!(
        hostile_doc.to_string().len() < 262_144,
        "the document is within the limit"
    );
    let event = payloads::kinesis(&[good("s0"), payloads::encode(&hostile_doc), good("s2")]);
    let hostile_seq = event["Records"][1]["kinesis"]["sequenceNumber"].clone();
    let Outcome { result, summary } = r.invoke(event, at(now)).await;
    assert_eq!(
        result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": hostile_seq}]})
    );
    assert_eq!(messages(&target, "s0").await.len(), 2);
    assert_eq!(messages(&target, "s2").await.len(), 2);
    assert_eq!(
        (
            summary.payloads,
            summary.payloads_failed,
            summary.records_failed,
            summary.events_in,
            summary.shipped
        ),
        (3, 1, 1, 4, 4)
    );
    assert_conserved(&summary);
    // Delivered directly, the invocation fails naming the cause (Lambda retries, then the DLQ).
    let Outcome { result, summary } = r.invoke(payloads::direct(&hostile_doc), at(now)).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("MAX_DECODED_BYTES (262144 bytes)"), "{err}");
    assert!(err.contains(&long_group), "{err}");
    assert_eq!(
        (summary.payloads_failed, summary.events_in, summary.shipped),
        (1, 0, 0)
    );
    assert_conserved(&summary);
}

#[tokio::test]
async fn filters_loop_guard_and_envelope() {
    let target = unique("/central/filters");
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "all"),
        ("INCLUDE_PATTERN", "ERROR|WARN"),
        ("EXCLUDE_PATTERN", "healthcheck"),
        ("MESSAGE_FORMAT", "envelope"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/logship-receiver"),
    ])
    .await;
    let now = now_ms();
    let doc = payloads::document(
        "/aws/lambda/orders",
        "s1",
        &[
            (now - 3, r#"{"level":"ERROR","msg":"boom"}"#.into()),
            (now - 2, "INFO fine".into()),
            (now - 1, "WARN healthcheck slow".into()),
            (now, "WARN disk 91%".into()),
            (now, "".into()),
        ],
    );
    let own = payloads::document(
        "/aws/lambda/logship-receiver",
        "x",
        &[(now, "ERROR in receiver".into())],
    );
    let looped = payloads::document(&target, "y", &[(now, "ERROR shipped before".into())]);
    let event = payloads::kinesis(&[
        payloads::encode(&doc),
        payloads::encode(&own),
        payloads::encode(&looped),
    ]);
    let Outcome { result, summary } = r.invoke(event, at(now)).await;
    assert_eq!(result.unwrap(), json!({"batchItemFailures": []}));
    let got: Vec<Value> = messages(&target, "all")
        .await
        .iter()
        .map(|m| serde_json::from_str(m).unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0]["message"],
        json!({"level": "ERROR", "msg": "boom"}),
        "a JSON message is embedded as an object"
    );
    assert_eq!(got[0]["logGroup"], "/aws/lambda/orders");
    assert_eq!(got[0]["owner"], "123456789012");
    assert_eq!(got[0]["logStream"], "s1");
    assert_eq!(got[0]["timestamp"], json!(now - 3));
    assert!(got[0]["id"].is_string());
    assert_eq!(got[1]["message"], "WARN disk 91%");
    assert_eq!(
        (
            summary.shipped,
            summary.dropped.filtered,
            summary.dropped.empty,
            summary.dropped.loop_guard
        ),
        (2, 2, 1, 2)
    );
    assert_conserved(&summary);
}

#[tokio::test]
async fn twenty_five_thousand_events_out_of_order_over_more_than_a_day() {
    let target = unique("/central/bulk");
    let r = receiver(&[("TARGET_LOG_GROUP", &target), ("TARGET_LOG_STREAM", "bulk")]).await;
    let now = now_ms();
    let span = 30 * 3600 * 1000i64; // 30 h: more than one request's 24 h
    let mut rng = fastrand::Rng::with_seed(7);
    let events: Vec<(i64, String)> = (0..25_000)
        .map(|i| {
            (
                now - rng.i64(0..span),
                format!("event {i:05} {}", "é".repeat(rng.usize(0..40))),
            )
        })
        .collect();
    let doc = payloads::document("/aws/lambda/bulk", "s", &events);
    let Outcome { result, summary } = r.invoke(payloads::direct(&doc), at(now)).await;
    result.unwrap();
    assert_eq!(summary.shipped, 25_000);
    assert_conserved(&summary);
    let mut expected: Vec<(usize, &(i64, String))> = events.iter().enumerate().collect();
    expected.sort_by_key(|(i, e)| (e.0, *i)); // chronological, arrival order among equals
    let got = read_all(&Moto::shared().client().await, &target, "bulk").await;
    assert_eq!(got.len(), 25_000, "every event read back exactly once");
    assert!(
        got.windows(2).all(|w| w[0].0 <= w[1].0),
        "read back in order"
    );
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want: Vec<(i64, String)> = expected.iter().map(|(_, e)| (*e).clone()).collect();
    want.sort();
    assert_eq!(got_sorted, want);
    // The fewest requests: the plan meets the lower bound of the rules for this workload.
    let mut evs: Vec<LogEvent> = events
        .iter()
        .map(|(t, m)| LogEvent {
            timestamp: *t,
            message: m.as_str().into(),
            origin: 0,
        })
        .collect();
    let plan = batch::plan(&mut evs);
    assert_eq!(summary.requests as usize, plan.len());
    assert_eq!(plan.len(), batch::lower_bound(&evs));
    // The plan's requests went out together (WRITE_CONCURRENCY): those that met the stream
    // missing were refused, one CreateLogStream made it, and each was sent again.
    let stats = Moto::shared().stats(Some(&target)).await;
    let puts = stats["putLogEvents"].as_array().unwrap();
    let refused = puts.iter().filter(|p| p["status"] != 200).count();
    assert!(
        (1..=plan.len()).contains(&refused),
        "{refused} of {} requests refused",
        plan.len()
    );
    assert_eq!(puts.len() - refused, plan.len(), "then the plan, once");
    // The group was missing too: one CreateLogStream met that, one created the stream.
    let created = Moto::shared()
        .calls(Some("CreateLogStream"), Some(&target))
        .await;
    let statuses: Vec<&Value> = created.iter().map(|c| &c["status"]).collect();
    assert_eq!(statuses, [400, 200], "{created:?}");
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn oversize_event_is_split_and_reassembles() {
    let target = unique("/central/split");
    let r = receiver(&[("TARGET_LOG_GROUP", &target), ("TARGET_LOG_STREAM", "big")]).await;
    let now = now_ms();
    let big: String = (0..1_500_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let doc = payloads::document(
        "/aws/lambda/a",
        "s",
        &[(now - 1, "before".into()), (now, big.clone())],
    );
    let Outcome { result, summary } = r.invoke(payloads::direct(&doc), at(now)).await;
    result.unwrap();
    assert_eq!((summary.shipped, summary.split), (2, 1));
    assert_conserved(&summary);
    let got = messages(&target, "big").await;
    assert_eq!(got[0], "before");
    assert_eq!(got.len(), 3);
    let joined: String = got[1..]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.strip_prefix(&format!("[part {}/2] ", i + 1))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(joined, big);
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn too_old_and_too_new_are_rejected_and_counted() {
    let target = unique("/central/window");
    let r = receiver(&[("TARGET_LOG_GROUP", &target), ("TARGET_LOG_STREAM", "w")]).await;
    let now = now_ms();
    let day = 86_400_000;
    let doc = payloads::document(
        "/aws/lambda/a",
        "s",
        &[
            (now - 15 * day, "old".into()),
            (now, "ok".into()),
            (now + 3 * 3600 * 1000, "future".into()),
        ],
    );
    let Outcome { result, summary } = r.invoke(payloads::direct(&doc), at(now)).await;
    result.unwrap();
    assert_eq!(
        (
            summary.shipped,
            summary.rejected.too_old,
            summary.rejected.too_new
        ),
        (1, 1, 1)
    );
    assert_conserved(&summary);
    assert_eq!(messages(&target, "w").await, ["ok"]);
}

#[tokio::test]
async fn existing_group_missing_stream_is_created() {
    let target = unique("/central/existing");
    Moto::shared().create(&target, &[]).await;
    let r = receiver(&[("TARGET_LOG_GROUP", &target), ("TARGET_LOG_STREAM", "s")]).await;
    let now = now_ms();
    let Outcome { result, .. } = r
        .invoke(
            payloads::direct(&payloads::document(
                "/aws/lambda/a",
                "s",
                &[(now, "one".into())],
            )),
            at(now),
        )
        .await;
    result.unwrap();
    // A second invocation finds both in place: no creation, one request.
    let Outcome { result, summary } = r
        .invoke(
            payloads::direct(&payloads::document(
                "/aws/lambda/a",
                "s",
                &[(now, "two".into())],
            )),
            at(now),
        )
        .await;
    result.unwrap();
    assert_eq!(summary.requests, 1);
    assert_eq!(messages(&target, "s").await, ["one", "two"]);
}

#[tokio::test]
async fn payloads_made_by_the_emulator_itself_decode_and_ship() {
    // moto implements subscription filters to Kinesis: it writes real gzip subscription
    // records. Decoding those checks our decoder against an implementation we did not write.
    let moto = Moto::shared();
    let source = unique("/aws/lambda/moto-source");
    let target = unique("/central/from-moto");
    let kinesis_stream = unique("cwl").replace('/', "-");
    let messages_in: Vec<String> = (0..20)
        .map(|i| format!("moto event {i} ✓ {{\"n\":{i}}}"))
        .collect();
    let dir = std::env::temp_dir().join(unique("moto-msgs").replace('/', "_"));
    std::fs::write(&dir, serde_json::to_string(&messages_in).unwrap()).unwrap();
    let out = std::process::Command::new(logship_tests::moto::python())
        .arg(logship_tests::workspace_root().join("tests/support/kinesis_subscription.py"))
        .args([
            "--endpoint",
            moto.endpoint(),
            "--log-group",
            &source,
            "--log-stream",
            "app",
            "--kinesis-stream",
            &kinesis_stream,
            "--messages-file",
        ])
        .arg(&dir)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&dir);
    assert!(
        out.status.success(),
        "kinesis_subscription.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let event: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        !event["Records"].as_array().unwrap().is_empty(),
        "moto delivered records"
    );
    let r = receiver(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logGroup}/{logStream}"),
    ])
    .await;
    let Outcome { result, summary } = r.invoke(event, at(now_ms())).await;
    assert_eq!(result.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(summary.shipped, 20);
    assert_conserved(&summary);
    assert_eq!(
        messages(&target, &format!("{source}/app")).await,
        messages_in
    );
}

#[tokio::test]
async fn throttling_is_retried_and_every_event_written_once() {
    let target = unique("/central/throttled");
    let r = receiver(&[("TARGET_LOG_GROUP", &target), ("TARGET_LOG_STREAM", "t")]).await;
    Moto::shared().create(&target, &["t"]).await;
    Moto::shared()
        .fault(json!({"target": "PutLogEvents", "logGroupName": target, "status": 400, "errorType": "ThrottlingException", "count": 2}))
        .await;
    let now = now_ms();
    let doc = payloads::document(
        "/aws/lambda/a",
        "s",
        &[(now - 1, "first".into()), (now, "second".into())],
    );
    let Outcome { result, summary } = r.invoke(payloads::direct(&doc), at(now)).await;
    result.unwrap();
    assert_eq!((summary.shipped, summary.requests), (2, 1));
    assert_conserved(&summary);
    assert_eq!(messages(&target, "t").await, ["first", "second"]);
    let puts = Moto::shared().stats(Some(&target)).await["putLogEvents"]
        .as_array()
        .unwrap()
        .clone();
    let errors: Vec<_> = puts.iter().map(|p| p["errorType"].clone()).collect();
    assert_eq!(
        errors,
        [
            json!("ThrottlingException"),
            json!("ThrottlingException"),
            Value::Null
        ]
    );
}

/// `PROPAGATE_SOURCE_TAGS`: a group the receiver creates gets its source's tags and
/// `TARGET_TAGS` (which win); a source whose tags cannot be read (another account's) is counted
/// and its group gets `TARGET_TAGS` alone; each source's tags are read once per container.
#[tokio::test]
async fn created_groups_get_their_sources_tags() {
    let client = Moto::shared().client().await;
    let source = unique("/logship/tagged/orders");
    client
        .create_log_group()
        .log_group_name(&source)
        .tags("team", "orders")
        .tags("env", "prod")
        .send()
        .await
        .unwrap();
    let prefix = unique("/logship/propagated");
    let config = ReceiverConfig::from_lookup(logship_tests::env(&[
        ("TARGET_LOG_GROUP", &format!("{prefix}{{logGroup}}")),
        ("TARGET_TAGS", "team=central,shipped-by=logship"),
        ("PROPAGATE_SOURCE_TAGS", "true"),
    ]))
    .unwrap();
    let writer = Writer::new(client.clone(), config.common.writer.clone());
    let r = Receiver::new(config, writer).with_source_tags(client.clone());
    let now = now_ms();
    let doc = payloads::document(&source, "s", &[(now - 1000, "hello".into())]);
    let mut foreign =
        payloads::document("/aws/lambda/elsewhere", "s", &[(now - 1000, "hi".into())]);
    foreign["owner"] = json!("999999999999");
    let event = payloads::kinesis(&[payloads::encode(&doc), payloads::encode(&foreign)]);
    let o = r.invoke(event.clone(), at(now)).await;
    assert_conserved(&o.summary);
    assert_eq!(
        (o.summary.shipped, o.summary.source_tags_unreadable),
        (2, 1),
        "shipped either way; the foreign source's tags cannot be read"
    );
    let tags_of = |group: String| {
        let client = client.clone();
        async move {
            let arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}");
            logship_tests::moto::tags_of(&client, &arn).await
        }
    };
    let want = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(
        tags_of(format!("{prefix}{source}")).await,
        want(&[
            ("env", "prod"),
            ("shipped-by", "logship"),
            ("team", "central")
        ])
    );
    assert_eq!(
        tags_of(format!("{prefix}/aws/lambda/elsewhere")).await,
        want(&[("shipped-by", "logship"), ("team", "central")])
    );
    // Again, warm: no second ListTagsForResource for either source.
    let o = r.invoke(event, at(now)).await;
    assert_eq!(
        o.summary.source_tags_unreadable, 1,
        "still counted, from the cache"
    );
    let reads = Moto::shared()
        .calls(Some("ListTagsForResource"), None)
        .await
        .into_iter()
        .filter(|c| {
            let arn = c["request"]["resourceArn"].as_str().unwrap_or_default();
            arn.ends_with(&format!(":log-group:{source}")) || arn.contains(":999999999999:")
        })
        .count();
    assert_eq!(reads, 2, "one read per source per container");
}
