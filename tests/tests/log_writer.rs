//! The writer and the log-writer function against the local CloudWatch Logs emulator, through
//! the real SDK, with faults scripted in the emulator's front (throttling, 5xx, rejected
//! events). The front also refuses, and records, any request that breaks a PutLogEvents limit.

use std::time::{Duration, Instant};

use logship::batch::{self, LogEvent};
use logship::log_writer::{LogWriter, LogWriterConfig, Outcome};
use logship::retry::{Backoff, Deadline};
use logship::writer::{WriteContext, Writer};
use logship_tests::payloads::now_ms;
use logship_tests::{Moto, read_all, unique};
use serde_json::{Value, json};

async fn log_writer(vars: &[(&str, &str)]) -> LogWriter {
    let config = LogWriterConfig::from_lookup(logship_tests::env(vars)).unwrap();
    // Short backoff: the fault tests retry many times within a few seconds.
    let backoff = Backoff {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
    };
    let writer = Writer::new(Moto::shared().client().await, config.common.writer.clone())
        .with_backoff(backoff);
    LogWriter::new(config, writer)
}

fn within(secs: u64) -> WriteContext {
    WriteContext {
        now_ms: now_ms(),
        deadline: Deadline::after(Duration::from_secs(secs)),
    }
}

async fn read(group: &str, stream: &str) -> Vec<(i64, String)> {
    read_all(&Moto::shared().client().await, group, stream).await
}

fn conserved(o: &Outcome) {
    assert!(
        o.summary.is_conserved(),
        "events in = written + rejected + failed: {:#?}",
        o.summary
    );
}

#[tokio::test]
async fn thirty_thousand_events_in_random_order_over_twenty_hours_read_back_once_in_order() {
    let group = unique("/logship/writer/bulk");
    let w = log_writer(&[]).await;
    let now = now_ms();
    let mut rng = fastrand::Rng::with_seed(30_000);
    let span = 20 * 3600 * 1000i64;
    let events: Vec<(i64, String)> = (0..30_000)
        .map(|i| {
            (
                now - rng.i64(0..span),
                format!("event {i:05} {}", "x".repeat(rng.usize(0..200))),
            )
        })
        .collect();
    let body: Vec<Value> = events
        .iter()
        .map(|(t, m)| json!({"timestamp": t, "message": m}))
        .collect();
    let o = w
        .handle(
            json!({"logGroup": group, "logStream": "bulk", "events": body}),
            within(60),
        )
        .await;
    let answer = o.result.as_ref().unwrap().clone();
    conserved(&o);
    assert_eq!(answer["written"], 30_000);
    assert_eq!(answer["split"], 0);
    assert_eq!(
        answer["rejected"],
        json!({"tooOld": 0, "tooNew": 0, "expired": 0})
    );
    // The fewest requests the rules allow for these events (bytes decide here: ~4 MB).
    let mut planned: Vec<LogEvent> = events
        .iter()
        .map(|(t, m)| LogEvent {
            timestamp: *t,
            message: m.as_str().into(),
            origin: 0,
        })
        .collect();
    planned.sort_by_key(|e| e.timestamp);
    assert_eq!(answer["requests"], batch::lower_bound(&planned) as u64);
    let got = read(&group, "bulk").await;
    assert_eq!(got.len(), 30_000, "exactly once");
    assert!(got.windows(2).all(|p| p[0].0 <= p[1].0), "in order");
    let mut want = events.clone();
    want.sort_by_key(|e| e.0); // stable: arrival order among equal timestamps
    assert_eq!(got, want);
    Moto::shared().assert_no_violations(&group).await;
}

const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[tokio::test]
async fn created_groups_get_retention_kms_key_and_tags_and_defaults_come_from_the_environment() {
    let group = unique("/logship/writer/retention");
    let w = log_writer(&[
        ("TARGET_LOG_GROUP", &group),
        ("TARGET_LOG_STREAM", "default"),
        ("TARGET_RETENTION_DAYS", "7"),
        ("TARGET_KMS_KEY_ARN", KMS_KEY),
        ("TARGET_TAGS", "team=payments, cost-center=cc:42"),
    ])
    .await;
    let o = w
        .handle(
            json!({"events": ["bare message", {"message": "with default time"}]}),
            within(30),
        )
        .await;
    assert_eq!(o.result.unwrap()["written"], 2);
    let client = Moto::shared().client().await;
    let groups = client
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(7));
    assert_eq!(groups.log_groups()[0].kms_key_id(), Some(KMS_KEY));
    let tags =
        logship_tests::moto::tags_of(&client, groups.log_groups()[0].log_group_arn().unwrap())
            .await;
    assert_eq!(
        tags,
        [("cost-center", "cc:42"), ("team", "payments")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    );
    let got = read(&group, "default").await;
    assert_eq!(
        got.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["bare message", "with default time"]
    );
    assert!(
        got.iter().all(|(t, _)| (now_ms() - t).abs() < 60_000),
        "timestamps default to now"
    );
}

#[tokio::test]
async fn too_old_and_too_new_are_counted_and_the_rest_written() {
    let group = unique("/logship/writer/window");
    let w = log_writer(&[]).await;
    let now = now_ms();
    let day = 86_400_000;
    let events = json!([
        {"timestamp": now - 20 * day, "message": "old"},
        {"timestamp": now - 15 * day, "message": "old too"},
        {"timestamp": now - 1000, "message": "fine"},
        {"timestamp": now + 3 * 3600 * 1000, "message": "from the future"},
    ]);
    let o = w
        .handle(
            json!({"logGroup": group, "logStream": "w", "events": events}),
            within(30),
        )
        .await;
    conserved(&o);
    assert_eq!(
        o.result.unwrap(),
        json!({"written": 1, "requests": 1, "split": 0, "rejected": {"tooOld": 2, "tooNew": 1, "expired": 0}})
    );
    assert_eq!(
        read(&group, "w").await,
        vec![(now - 1000, "fine".to_string())]
    );
}

#[tokio::test]
async fn rejected_log_events_info_from_the_service_is_counted_per_reason() {
    let group = unique("/logship/writer/expired");
    Moto::shared().create(&group, &["e"]).await;
    // The service says: the first two expired (older than the group's retention), the last is
    // too new. moto never reports `expired`; the front scripts the service's answer.
    Moto::shared()
        .fault(json!({"target": "PutLogEvents", "logGroupName": group, "rejectedLogEventsInfo": {"expiredLogEventEndIndex": 2, "tooNewLogEventStartIndex": 4}}))
        .await;
    let now = now_ms();
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"timestamp": now - 5 + i, "message": format!("e{i}")}))
        .collect();
    let o = LogWriterOutcome::of(
        log_writer(&[])
            .await
            .handle(
                json!({"logGroup": group, "logStream": "e", "events": events}),
                within(30),
            )
            .await,
    );
    assert_eq!(
        o.answer,
        json!({"written": 2, "requests": 1, "split": 0, "rejected": {"tooOld": 0, "tooNew": 1, "expired": 2}})
    );
}

/// The answer of a successful outcome, after checking conservation.
struct LogWriterOutcome {
    answer: Value,
}

impl LogWriterOutcome {
    fn of(o: Outcome) -> Self {
        conserved(&o);
        Self {
            answer: o.result.unwrap(),
        }
    }
}

#[tokio::test]
async fn an_event_of_one_and_a_half_megabytes_is_split_and_reassembles() {
    let group = unique("/logship/writer/split");
    let w = log_writer(&[]).await;
    let now = now_ms();
    let big: String = (0..1_500_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let events =
        json!([{"timestamp": now - 1, "message": "small"}, {"timestamp": now, "message": big}]);
    let o = LogWriterOutcome::of(
        w.handle(
            json!({"logGroup": group, "logStream": "s", "events": events}),
            within(30),
        )
        .await,
    );
    assert_eq!(o.answer["written"], 2);
    assert_eq!(o.answer["split"], 1);
    let got = read(&group, "s").await;
    assert_eq!(got.len(), 3);
    let parts: String = got[1..]
        .iter()
        .enumerate()
        .map(|(i, (_, m))| m.strip_prefix(&format!("[part {}/2] ", i + 1)).unwrap())
        .collect();
    assert_eq!(parts, big);
    Moto::shared().assert_no_violations(&group).await;
}

#[tokio::test]
async fn a_group_deleted_while_warm_is_recreated() {
    let group = unique("/logship/writer/deleted");
    let w = log_writer(&[("TARGET_RETENTION_DAYS", "14")]).await;
    let first = LogWriterOutcome::of(
        w.handle(
            json!({"logGroup": group, "logStream": "s", "events": ["before"]}),
            within(30),
        )
        .await,
    );
    assert_eq!(first.answer["written"], 1);
    Moto::shared()
        .client()
        .await
        .delete_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    let o = w
        .handle(
            json!({"logGroup": group, "logStream": "s", "events": ["after"]}),
            within(30),
        )
        .await;
    conserved(&o);
    assert_eq!(o.result.unwrap()["written"], 1);
    assert_eq!(o.summary.report.created_groups, 1);
    assert_eq!(
        read(&group, "s")
            .await
            .iter()
            .map(|e| e.1.as_str())
            .collect::<Vec<_>>(),
        ["after"]
    );
    let groups = Moto::shared()
        .client()
        .await
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.log_groups()[0].retention_in_days(),
        Some(14),
        "recreated with its retention"
    );
}

fn sqs(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"messageId": format!("msg-{i}"), "receiptHandle": format!("rh-{i}"), "body": b,
                   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
                   "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:logship-writer", "awsRegion": "us-east-1"})
        })
        .collect();
    json!({"Records": records})
}

#[tokio::test]
async fn sqs_reports_exactly_the_malformed_message() {
    let group = unique("/logship/writer/sqs");
    let w = log_writer(&[("TARGET_LOG_GROUP", &group)]).await;
    let ok = |s: &str, m: &str| json!({"logStream": s, "events": [m]}).to_string();
    let event = sqs(&[
        ok("a", "one"),
        "{not json".into(),
        ok("a", "two"),
        ok("b", "three"),
        json!({"logStream": "b", "events": []}).to_string(),
    ]);
    let o = w.handle(event, within(30)).await;
    conserved(&o);
    assert_eq!(
        o.result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "msg-1"}, {"itemIdentifier": "msg-4"}]})
    );
    assert_eq!(
        (
            o.summary.messages,
            o.summary.invalid,
            o.summary.report.written
        ),
        (5, 2, 3)
    );
    assert_eq!(
        o.summary.report.requests, 2,
        "messages for the same stream share a request"
    );
    assert_eq!(
        read(&group, "a")
            .await
            .iter()
            .map(|e| e.1.as_str())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(
        read(&group, "b")
            .await
            .iter()
            .map(|e| e.1.as_str())
            .collect::<Vec<_>>(),
        ["three"]
    );
}

#[tokio::test]
async fn throttling_bursts_and_server_errors_are_retried_and_every_event_written_once() {
    let group = unique("/logship/writer/faults");
    Moto::shared().create(&group, &["f"]).await;
    let moto = Moto::shared();
    moto.fault(json!({"target": "PutLogEvents", "logGroupName": group, "status": 400, "errorType": "ThrottlingException", "count": 4})).await;
    moto.fault(json!({"target": "PutLogEvents", "logGroupName": group, "status": 500, "errorType": "InternalFailure", "count": 2})).await;
    moto.fault(json!({"target": "PutLogEvents", "logGroupName": group, "status": 503, "count": 1}))
        .await;
    let now = now_ms();
    // Two requests' worth (10,001 events): faults hit the first and the second.
    let events: Vec<Value> = (0..10_001)
        .map(|i| json!({"timestamp": now - 10_001 + i, "message": format!("m{i}")}))
        .collect();
    let o = log_writer(&[])
        .await
        .handle(
            json!({"logGroup": group, "logStream": "f", "events": events}),
            within(30),
        )
        .await;
    conserved(&o);
    assert_eq!(o.result.unwrap()["written"], 10_001);
    let seen = moto.stats(Some(&group)).await;
    assert_eq!(
        (o.summary.report.retries, o.summary.report.throttles),
        (7, 4),
        "{seen:#}"
    );
    let got = read(&group, "f").await;
    assert_eq!(got.len(), 10_001, "every event exactly once");
    let puts = moto.stats(Some(&group)).await["putLogEvents"]
        .as_array()
        .unwrap()
        .clone();
    // The two requests are in flight together: the answers are recorded as they finish, in an
    // order the scheduler picks; the faults are each answered once.
    let mut statuses: Vec<u64> = puts.iter().map(|p| p["status"].as_u64().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 400, 400, 400, 400, 500, 500, 503]);
}

#[tokio::test]
async fn a_deadline_that_runs_out_during_retries_fails_with_an_account() {
    let group = unique("/logship/writer/deadline");
    Moto::shared().create(&group, &["d"]).await;
    let w = log_writer(&[]).await;
    // One request goes through, then throttling without end.
    let now = now_ms();
    let first = LogWriterOutcome::of(w.handle(json!({"logGroup": group, "logStream": "d", "events": [{"timestamp": now, "message": "early"}]}), within(30)).await);
    assert_eq!(first.answer["written"], 1);
    Moto::shared().fault(json!({"target": "PutLogEvents", "logGroupName": group, "status": 400, "errorType": "ThrottlingException", "count": 100_000})).await;
    let started = Instant::now();
    let o = w
        .handle(
            json!({"logGroup": group, "logStream": "d", "events": ["a", "b", "c"]}),
            within(2),
        )
        .await;
    let took = started.elapsed();
    conserved(&o);
    let err = o.result.unwrap_err().to_string();
    assert!(
        err.starts_with("3 of 3 events were not written (0 written, 0 rejected): PutLogEvents to"),
        "{err}"
    );
    assert!(
        err.contains("deadline came after") && err.contains("ThrottlingException"),
        "{err}"
    );
    assert!(
        took < Duration::from_millis(2_500),
        "stopped at the deadline, took {took:?}"
    );
    assert!(o.summary.report.throttles >= 3, "{:#?}", o.summary.report);
    // SQS: the message whose events were throttled to the deadline is reported failed.
    let ok = json!({"logGroup": unique("/logship/writer/deadline-ok"), "logStream": "s", "events": ["fine"]}).to_string();
    let stuck = json!({"logGroup": group, "logStream": "d", "events": ["stuck"]}).to_string();
    let o = w.handle(sqs(&[ok, stuck]), within(2)).await;
    conserved(&o);
    assert_eq!(
        o.result.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "msg-1"}]})
    );
    assert_eq!(
        read(&group, "d")
            .await
            .iter()
            .map(|e| e.1.as_str())
            .collect::<Vec<_>>(),
        ["early"]
    );
}

#[tokio::test]
async fn invalid_requests_name_the_field() {
    let w = log_writer(&[("TARGET_LOG_GROUP", "/logship/writer/unused")]).await;
    for (event, expected) in [
        (
            json!({"logStream": "s", "events": [{"timestamp": "x", "message": "m"}]}),
            "invalid request: events[0].timestamp: must be a number",
        ),
        (
            json!({"logStream": "s", "events": [{"timestamp": 1}]}),
            "invalid request: events[0].message: required",
        ),
        (
            json!({"logStream": "s", "events": []}),
            "invalid request: events: empty batch",
        ),
        (
            json!({"logGroup": "has space", "logStream": "s", "events": ["m"]}),
            "invalid request: logGroup: \"has space\": ' ' is not allowed",
        ),
        (
            json!({"events": ["m"]}),
            "invalid request: logStream: not given, and TARGET_LOG_STREAM is not set",
        ),
    ] {
        let o = w.handle(event.clone(), within(5)).await;
        let err = o.result.unwrap_err().to_string();
        assert!(err.starts_with(expected), "{event}: {err}");
        assert_eq!((o.summary.invalid, o.summary.report.requests), (1, 0));
    }
}

#[tokio::test]
async fn an_sqs_batch_whose_stream_fails_part_way_reports_every_message_not_written() {
    let group = unique("/logship/writer/sqs-session");
    let other = unique("/logship/writer/sqs-session-b");
    let moto = Moto::shared();
    moto.create(&group, &["a"]).await;
    // The stream's first request is refused for good. When the function hears so depends on
    // the machine (`tests/tests/concurrency.rs` checks that nothing leaves afterwards); whatever
    // was or was not sent, a message is reported exactly when some of its events were not
    // written.
    moto.fault(
        json!({"target": "PutLogEvents", "logGroupName": group, "status": 400,
                      "errorType": "AccessDeniedException", "count": 1}),
    )
    .await;
    let w = log_writer(&[("TARGET_LOG_GROUP", &group)]).await;
    // Six messages of 400 events of 1,000 bytes for stream `a` (1,022 fill a request: its
    // first two whole requests leave while later messages are read), then one for `b`.
    let now = now_ms();
    let text = |m: usize, i: usize| format!("m{m} {i:03} {}", "x".repeat(992));
    let mut bodies: Vec<String> = (0..6)
        .map(|m| {
            let events: Vec<Value> = (0..400)
                .map(|i| json!({"timestamp": now - 60_000 + (m * 400 + i) as i64, "message": text(m, i)}))
                .collect();
            json!({"logStream": "a", "events": events}).to_string()
        })
        .collect();
    bodies.push(json!({"logGroup": other, "logStream": "b", "events": ["fine"]}).to_string());
    let o = w.handle(sqs(&bodies), within(30)).await;
    conserved(&o);
    let answer = o.result.unwrap();
    let reported: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    let written: std::collections::HashSet<String> = read(&group, "a")
        .await
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        written.len() as u64 + 1,
        o.summary.report.written,
        "each event written once"
    );
    assert!(o.summary.report.failed >= 1_022, "{:#?}", o.summary.report);
    for m in 0..6 {
        let all_written = (0..400).all(|i| written.contains(&text(m, i)));
        let id = format!("msg-{m}");
        assert_eq!(
            reported.contains(&id.as_str()),
            !all_written,
            "{id}: reported exactly when some of its events were not written ({reported:?})"
        );
    }
    assert!(!reported.contains(&"msg-6"), "{reported:?}");
    assert_eq!(read(&other, "b").await.len(), 1);
}
