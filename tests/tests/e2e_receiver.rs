//! End to end: the built `subscription-receiver` binary, run as Lambda runs a custom runtime
//! (the Runtime API and the `AWS_LAMBDA_*` variables), reaching the emulator only through the
//! SDK's standard `AWS_ENDPOINT_URL`, invoked with the files in `events/`.

use std::time::Duration;

use logship_tests::payloads::{self, now_ms};
use logship_tests::{Function, LambdaProcess, Moto, RuntimeApi, read_all, unique};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

async fn start(env: &[(&str, &str)]) -> Function {
    Function::start("subscription-receiver", env).await
}

fn conserved(s: &Value) -> bool {
    let n = |k: &str| {
        s[k].as_u64()
            .unwrap_or_else(|| panic!("summary field {k} missing: {s}"))
    };
    n("events_in") == n("shipped") + n("dropped") + n("rejected") + n("failed")
        && s["conserved"] == true
}

#[tokio::test]
async fn every_sample_shape_through_the_runtime_api() {
    let target = unique("/central/e2e");
    let f = start(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logGroup}"),
    ])
    .await;

    // Direct delivery: shipped, read back.
    let direct = payloads::sample("direct.json");
    let doc = payloads::documents(&direct).remove(0);
    assert_eq!(f.api.invoke(direct, TIMEOUT).await.response(), Value::Null);
    let got = read_all(
        &Moto::shared().client().await,
        &target,
        doc["logGroup"].as_str().unwrap(),
    )
    .await;
    let want: Vec<(i64, String)> = doc["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["timestamp"].as_i64().unwrap(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want_sorted = want.clone();
    want_sorted.sort_by_key(|e| e.0);
    assert_eq!(got, want_sorted);

    // Control message: accepted, nothing shipped.
    assert_eq!(
        f.api
            .invoke(payloads::sample("control-message.json"), TIMEOUT)
            .await
            .response(),
        Value::Null
    );

    // Kinesis: partial batch response with no failures; every record's events read back.
    let kinesis = payloads::sample("kinesis.json");
    let docs = payloads::documents(&kinesis);
    assert_eq!(
        f.api.invoke(kinesis, TIMEOUT).await.response(),
        json!({"batchItemFailures": []})
    );
    for d in &docs {
        let got = read_all(
            &Moto::shared().client().await,
            &target,
            d["logGroup"].as_str().unwrap(),
        )
        .await;
        for e in d["logEvents"].as_array().unwrap() {
            assert!(
                got.iter().any(|(t, m)| Some(*t) == e["timestamp"].as_i64()
                    && Some(m.as_str()) == e["message"].as_str()),
                "{e} read back"
            );
        }
    }

    // Firehose: every record answered.
    let firehose = payloads::sample("firehose.json");
    let n = firehose["records"].as_array().unwrap().len();
    let out = f.api.invoke(firehose, TIMEOUT).await.response();
    assert_eq!(out["records"].as_array().unwrap().len(), n);
    assert!(
        out["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["result"] == "Ok" || r["result"] == "Dropped")
    );

    // Firehose with its own decompression on: plain JSON records, answered the same way.
    let decompressed = payloads::sample("firehose-decompressed.json");
    let docs = payloads::documents(&decompressed);
    let out = f.api.invoke(decompressed, TIMEOUT).await.response();
    let records = out["records"].as_array().unwrap();
    assert_eq!(records.len(), docs.len());
    for (r, d) in records.iter().zip(&docs) {
        assert_eq!(r["result"], "Ok");
        assert_eq!(ndjson(r).len(), d["logEvents"].as_array().unwrap().len());
    }

    // Replay of the on-failure queue: the failed delivery is shipped again; the Kinesis
    // batch's record and the broken body are the batch item failures.
    let replay = payloads::sample("replay-sqs.json");
    let ids: Vec<Value> = replay["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].clone())
        .collect();
    let replayed = payloads::documents(&replay).remove(0);
    assert_eq!(
        f.api.invoke(replay, TIMEOUT).await.response(),
        json!({"batchItemFailures": [{"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}]})
    );
    let got = read_all(
        &Moto::shared().client().await,
        &target,
        replayed["logGroup"].as_str().unwrap(),
    )
    .await;
    for e in replayed["logEvents"].as_array().unwrap() {
        assert!(
            got.iter().any(|(t, m)| Some(*t) == e["timestamp"].as_i64()
                && Some(m.as_str()) == e["message"].as_str()),
            "{e} replayed and read back"
        );
    }

    // An unknown shape is an invocation error naming the accepted shapes.
    let (error_type, message) = f
        .api
        .invoke(json!({"detail-type": "Scheduled Event"}), TIMEOUT)
        .await
        .error();
    assert_eq!(error_type, "InvalidEvent", "{message}");
    assert!(message.contains("accepted shapes"), "{message}");

    let s = f.summaries();
    assert_eq!(s.len(), 7, "one summary per invocation: {s:#?}");
    assert!(s.iter().all(conserved), "{s:#?}");
    assert_eq!(s[1]["control_messages"], 1);
    Moto::shared().assert_no_violations(&target).await;
}

/// A Firehose answer record's NDJSON lines, read back.
fn ndjson(record: &Value) -> Vec<Value> {
    let text = String::from_utf8(payloads::unb64(record["data"].as_str().unwrap())).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn firehose_records_firehose_already_decompressed_through_the_runtime_api() {
    let f = start(&[("TARGET_LOG_GROUP", "/central/unused")]).await;
    let now = now_ms();
    let a = payloads::document(
        "/aws/lambda/a",
        "sa",
        &[(now, "a one".into()), (now + 1, "a \"two\" ü".into())],
    );
    let b = payloads::document("/aws/ecs/b", "sb", &[(now + 2, "b one".into())]);
    let b_text = b.to_string();
    let junk_after_gzip = {
        let mut bytes = payloads::gzip(a.to_string().as_bytes());
        bytes.extend_from_slice(b"junk");
        payloads::b64(&bytes)
    };
    let event = payloads::firehose(&[
        // Firehose's decompression on: one document, plain.
        payloads::plain(std::slice::from_ref(&a), ""),
        // Two plain documents, whitespace around and between.
        payloads::b64(format!("\n{a}\r\n\n  {b}\n").as_bytes()),
        // Two gzip members, one document each.
        payloads::members(&[a.clone(), b.clone()]),
        // Firehose's message extraction on as well: the messages alone, a line each.
        payloads::extracted(&[
            "START RequestId: 1 Version: $LATEST",
            "{\"level\":\"INFO\",\"msg\":\"order received\"}",
            "",
            "Zahlung für Bestellung 42 – ✓",
        ]),
        // A second document cut short: the record fails whole, the first is not shipped.
        payloads::b64(format!("{a}\n{}", &b_text[..b_text.len() - 4]).as_bytes()),
        // Bytes after a gzip member that are not one.
        junk_after_gzip,
    ]);
    let out = f.api.invoke(event.clone(), TIMEOUT).await.response();
    let records = out["records"].as_array().unwrap();
    let results: Vec<&str> = records
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "Ok",
            "Ok",
            "Ok",
            "Ok",
            "ProcessingFailed",
            "ProcessingFailed"
        ]
    );
    for (r, sent) in records.iter().zip(event["records"].as_array().unwrap()) {
        assert_eq!(r["recordId"], sent["recordId"]);
    }
    // Document lines: the envelope of each event, in order.
    let line = |doc: &Value, i: usize| {
        let e = &doc["logEvents"][i];
        json!({"owner": doc["owner"], "logGroup": doc["logGroup"], "logStream": doc["logStream"],
               "id": e["id"], "timestamp": e["timestamp"], "message": e["message"]})
    };
    let a_lines = vec![line(&a, 0), line(&a, 1)];
    let ab_lines = vec![line(&a, 0), line(&a, 1), line(&b, 0)];
    assert_eq!(ndjson(&records[0]), a_lines);
    assert_eq!(ndjson(&records[1]), ab_lines);
    assert_eq!(ndjson(&records[2]), ab_lines);
    // Extracted lines: the message alone; the empty line dropped.
    assert_eq!(
        ndjson(&records[3]),
        [
            json!({"message": "START RequestId: 1 Version: $LATEST"}),
            json!({"message": "{\"level\":\"INFO\",\"msg\":\"order received\"}"}),
            json!({"message": "Zahlung für Bestellung 42 – ✓"}),
        ]
    );
    // A failed record goes back as it came, for Firehose's error output.
    for i in [4, 5] {
        assert_eq!(records[i]["data"], event["records"][i]["data"]);
    }
    // The function says why, naming the document and the bytes.
    let warnings: Vec<String> = f
        .process
        .json_lines()
        .iter()
        .filter(|l| l["level"] == "WARN")
        .map(|l| {
            l["fields"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("document 2 of the record (at byte")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("4 bytes after member 1")),
        "{warnings:?}"
    );
    // Every event accounted for: the failed records' events were never counted in.
    let s = f.summaries();
    assert_eq!(s.len(), 1, "{s:#?}");
    let s = &s[0];
    assert!(conserved(s), "{s}");
    assert_eq!(s["shape"], "firehose");
    assert_eq!(s["events_in"], 2 + 3 + 3 + 4);
    assert_eq!(s["shipped"], 2 + 3 + 3 + 3);
    assert_eq!(s["dropped_empty"], 1);
    assert_eq!(
        (&s["records_failed"], &s["payloads_failed"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(s["requests"], 0, "nothing written to CloudWatch Logs");
}

#[tokio::test]
async fn gzip_bomb_is_refused_with_bounded_memory_and_the_function_keeps_serving() {
    let target = unique("/central/bomb");
    let f = start(&[("TARGET_LOG_GROUP", &target), ("TARGET_LOG_STREAM", "s")]).await;
    // 1 GiB of zeros inflates from ~1 MB of gzip: 32× the default MAX_DECODED_BYTES.
    let bomb = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            e.write_all(&chunk).unwrap();
        }
        e.finish().unwrap()
    };
    assert!(bomb.len() < 2 << 20);
    let (error_type, message) = f
        .api
        .invoke(json!({"awslogs": {"data": payloads::b64(&bomb)}}), TIMEOUT)
        .await
        .error();
    assert!(
        message.contains("MAX_DECODED_BYTES (33554432 bytes)"),
        "{message}"
    );
    assert_eq!(error_type, "PayloadTooLarge");
    let peak_mib = f.process.peak_rss_kib() / 1024;
    // The 32 MiB output buffer, the ~2.7 MB event and its decoded copy, the runtime: far
    // below the 1 GiB the bomb would inflate to.
    eprintln!("peak RSS after a 1 GiB gzip bomb: {peak_mib} MiB");
    assert!(peak_mib < 96, "peak RSS {peak_mib} MiB");
    assert!(f.process.is_running());
    // Still serving.
    let now = now_ms();
    let ok = payloads::direct(&payloads::document(
        "/aws/lambda/a",
        "s",
        &[(now, "after the bomb".into())],
    ));
    assert_eq!(f.api.invoke(ok, TIMEOUT).await.response(), Value::Null);
    assert_eq!(
        read_all(&Moto::shared().client().await, &target, "s").await,
        vec![(now, "after the bomb".to_string())]
    );
}

#[tokio::test]
async fn missing_configuration_fails_init_naming_the_variable() {
    let api = RuntimeApi::start().await;
    let process = LambdaProcess::spawn(
        "subscription-receiver",
        &api.address(),
        &[("AWS_ENDPOINT_URL", Moto::shared().endpoint())],
    );
    let status = process
        .wait_exit(TIMEOUT)
        .await
        .expect("the function exits at init");
    assert!(!status.success());
    let all = [process.stdout_lines(), process.stderr_lines()]
        .concat()
        .join("\n");
    assert!(
        all.contains("TARGET_LOG_GROUP is required but not set"),
        "{all}"
    );
    // Reported to the Runtime API as Lambda asks of a runtime, with its stable type.
    assert_eq!(
        api.init_error(),
        Some(json!({"errorType": "InvalidConfiguration",
                    "errorMessage": "TARGET_LOG_GROUP is required but not set"}))
    );
}

/// One invocation's `(errorType, errorMessage)`, with `timeout` as Lambda's deadline.
async fn failure(f: &Function, event: Value, timeout: Duration) -> (String, String) {
    f.api.invoke(event, timeout).await.error()
}

#[tokio::test]
async fn every_failure_cause_has_its_own_stable_error_type() {
    let target = unique("/central/error-types");
    let f = start(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
        ("DEADLINE_MARGIN_MS", "500"),
    ])
    .await;
    let now = now_ms();
    let one = |stream: &str| {
        payloads::direct(&payloads::document(
            "/aws/lambda/app",
            stream,
            &[(now, format!("to {stream}"))],
        ))
    };
    let moto = Moto::shared();
    moto.fault(
        json!({"target": "PutLogEvents", "logGroupName": target, "logStreamName": "denied",
                      "status": 400, "errorType": "AccessDeniedException",
                      "message": "not authorized to perform logs:PutLogEvents"}),
    )
    .await;
    moto.fault(
        json!({"target": "PutLogEvents", "logGroupName": target, "logStreamName": "throttled",
                      "status": 400, "errorType": "ThrottlingException", "count": 100_000}),
    )
    .await;
    // Many small events from long-named sources: the Firehose answer would pass 6 MB.
    let long_group = format!("/aws/lambda/{}", "g".repeat(480));
    let small: Vec<(i64, String)> = (0..3_000).map(|i| (now, format!("m{i}"))).collect();
    let big = payloads::encode(&payloads::document(&long_group, &"s".repeat(500), &small));
    let zeros = payloads::gzip(&vec![0u8; 40 << 20]);

    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"detail-type": "Scheduled Event"}),
            "InvalidEvent",
            "accepted shapes",
        ),
        (
            json!({"awslogs": {"data": 7}}),
            "InvalidEvent",
            "malformed Direct event",
        ),
        (
            json!({"awslogs": {"data": "%%%"}}),
            "PayloadDecodeError",
            "not valid base64",
        ),
        (
            json!({"awslogs": {"data": payloads::b64(&payloads::gzip(b"{not json"))}}),
            "PayloadDecodeError",
            "not valid JSON",
        ),
        (
            json!({"awslogs": {"data": payloads::b64(&zeros)}}),
            "PayloadTooLarge",
            "MAX_DECODED_BYTES",
        ),
        (
            payloads::firehose(&[big.clone(), big.clone(), big]),
            "ResponseTooLarge",
            "Lambda's response limit (6291556 bytes)",
        ),
        (one("denied"), "WriteFailed", "AccessDeniedException"),
    ];
    for (event, want_type, want_text) in cases {
        let (error_type, message) = failure(&f, event, TIMEOUT).await;
        assert_eq!(error_type, want_type, "{message}");
        assert!(message.contains(want_text), "{want_type}: {message}");
    }
    // Throttled until Lambda's deadline (3 s here, less the 500 ms margin).
    let (error_type, message) = failure(&f, one("throttled"), Duration::from_secs(3)).await;
    assert_eq!(error_type, "DeadlineExceeded", "{message}");
    assert!(message.contains("deadline came after"), "{message}");
    // The function still serves, and every invocation kept its accounts.
    assert_eq!(
        f.api.invoke(one("fine"), TIMEOUT).await.response(),
        Value::Null
    );
    let s = f.summaries();
    assert_eq!(s.len(), 9, "{s:#?}");
    assert!(s.iter().all(conserved), "{s:#?}");
}

#[tokio::test]
async fn envelopes_past_the_limit_are_payload_too_large() {
    let f = start(&[
        ("TARGET_LOG_GROUP", "/central/unused"),
        ("MESSAGE_FORMAT", "envelope"),
        ("MAX_DECODED_BYTES", "100000"),
    ])
    .await;
    let now = now_ms();
    let events: Vec<(i64, String)> = (0..400).map(|i| (now, format!("m{i}"))).collect();
    let doc = payloads::document(&format!("/aws/lambda/{}", "g".repeat(480)), "s", &events);
    let (error_type, message) = failure(&f, payloads::direct(&doc), TIMEOUT).await;
    assert_eq!(error_type, "PayloadTooLarge", "{message}");
    assert!(message.contains("envelopes"), "{message}");
}

#[tokio::test]
async fn write_concurrency_bounds_a_kinesis_batchs_requests_and_records_share_their_streams_requests()
 {
    let moto = Moto::shared();
    let target = unique("/central/write-concurrency");
    moto.create(&target, &["a", "b", "c"]).await;
    moto.latency(json!({"baseMs": 100, "target": "PutLogEvents", "logGroupName": target}))
        .await;
    let f = start(&[
        ("TARGET_LOG_GROUP", &target),
        ("TARGET_LOG_STREAM", "{logStream}"),
        ("WRITE_CONCURRENCY", "2"),
    ])
    .await;
    // Four records of source stream `a` (600 events of 1,000 bytes each: 1,022 fill a
    // request), then one record each of `b` and `c`.
    let now = now_ms();
    let t0 = now - 60_000;
    let message = |s: &str, i: usize| format!("{s} {i:05} {}", "x".repeat(992));
    let record = |s: &str, range: std::ops::Range<usize>| {
        let events: Vec<(i64, String)> = range.map(|i| (t0 + i as i64, message(s, i))).collect();
        payloads::encode(&payloads::document("/aws/lambda/app", s, &events))
    };
    let mut datas: Vec<String> = (0..4)
        .map(|r| record("a", r * 600..(r + 1) * 600))
        .collect();
    datas.push(record("b", 0..50));
    datas.push(record("c", 0..50));
    let answer = f
        .api
        .invoke(payloads::kinesis(&datas), TIMEOUT)
        .await
        .response();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let calls = moto.calls(Some("PutLogEvents"), Some(&target)).await;
    // The fewest requests: `a`'s 2,400 events in 3 (its records share them), `b` and `c` one
    // each; never more than 2 in flight, and 2 at the end of the batch (three left to send).
    let per_stream = |s: &str| {
        calls
            .iter()
            .filter(|c| c["request"]["logStreamName"] == s)
            .count()
    };
    assert_eq!(
        (per_stream("a"), per_stream("b"), per_stream("c")),
        (3, 1, 1),
        "{calls:?}"
    );
    assert_eq!(logship_tests::moto::most_in_flight(&calls), 2, "{calls:?}");
    let client = moto.client().await;
    for (s, n) in [("a", 2_400), ("b", 50), ("c", 50)] {
        let got = read_all(&client, &target, s).await;
        let want: Vec<(i64, String)> = (0..n).map(|i| (t0 + i as i64, message(s, i))).collect();
        assert!(
            got == want,
            "{s}: {} events read back, in order: {}",
            got.len(),
            got.len() == n
        );
    }
    let s = &f.summaries()[0];
    assert!(conserved(s), "{s}");
    assert_eq!(
        (s["shipped"].as_u64(), s["requests"].as_u64()),
        (Some(2_500), Some(5)),
        "{s}"
    );
    moto.assert_no_violations(&target).await;
}

#[tokio::test]
async fn a_write_concurrency_out_of_range_fails_init_naming_the_variable() {
    for bad in ["0", "65", "eight"] {
        let f = start(&[("TARGET_LOG_GROUP", "/g"), ("WRITE_CONCURRENCY", bad)]).await;
        let init = f.failed_init(TIMEOUT).await;
        assert_eq!(init["errorType"], "InvalidConfiguration", "{init}");
        let message = init["errorMessage"].as_str().unwrap();
        assert!(
            message.contains("WRITE_CONCURRENCY") && message.contains("from 1 to 64"),
            "{message}"
        );
    }
}
