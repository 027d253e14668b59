//! End to end: the built `log-writer` binary under the Lambda Runtime API, reaching the
//! emulator only through `AWS_ENDPOINT_URL`, invoked with the files in `events/`.

use std::time::{Duration, Instant};

use logship_tests::payloads::read_json;
use logship_tests::{Function, Moto, read_all, unique, workspace_root};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

async fn start(env: &[(&str, &str)]) -> Function {
    Function::start("log-writer", env).await
}

/// A sample from `events/`, with every request's `logGroup` moved to `group` (tests share one
/// emulator). Bodies that are not JSON are left as they are.
fn sample(name: &str, group: &str) -> Value {
    let mut event = read_json(&workspace_root().join("events").join(name));
    if let Some(records) = event.get_mut("Records").and_then(Value::as_array_mut) {
        for r in records {
            if let Ok(mut body) = serde_json::from_str::<Value>(r["body"].as_str().unwrap()) {
                body["logGroup"] = json!(group);
                r["body"] = json!(body.to_string());
            }
        }
    } else {
        event["logGroup"] = json!(group);
    }
    event
}

fn messages(got: &[(i64, String)]) -> Vec<&str> {
    got.iter().map(|e| e.1.as_str()).collect()
}

/// The EMF records the function printed, checked against the specification's shape.
fn emf_records(f: &Function) -> Vec<Value> {
    let records: Vec<Value> = f
        .process
        .json_lines()
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .collect();
    for r in &records {
        let d = &r["_aws"]["CloudWatchMetrics"][0];
        assert!(r["_aws"]["Timestamp"].is_i64(), "{r}");
        assert_eq!(d["Namespace"], "logship");
        assert_eq!(d["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(r["FunctionName"], "logship-test");
        for m in d["Metrics"].as_array().unwrap() {
            assert!(
                r[m["Name"].as_str().unwrap()].is_number(),
                "{m} has a value in {r}"
            );
        }
    }
    records
}

#[tokio::test]
async fn direct_and_sqs_samples_through_the_runtime_api() {
    let group = unique("/logship/e2e/writer");
    let f = start(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "logship-test"),
        ("TARGET_RETENTION_DAYS", "30"),
    ])
    .await;

    let direct = sample("log-writer-direct.json", &group);
    let n = direct["events"].as_array().unwrap().len();
    let answer = f.api.invoke(direct.clone(), TIMEOUT).await.response();
    assert_eq!(
        answer,
        json!({"written": n, "requests": 1, "split": 0, "rejected": {"tooOld": 0, "tooNew": 0, "expired": 0}})
    );
    let got = read_all(
        &Moto::shared().client().await,
        &group,
        direct["logStream"].as_str().unwrap(),
    )
    .await;
    assert_eq!(got.len(), n);
    assert_eq!(
        got[2].1,
        direct["events"][2].as_str().unwrap(),
        "a bare string is a message"
    );

    let sqs = sample("log-writer-sqs.json", &group);
    let malformed = sqs["Records"][2]["messageId"].clone();
    let answer = f.api.invoke(sqs, TIMEOUT).await.response();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": malformed}]})
    );
    let got = read_all(&Moto::shared().client().await, &group, "billing-worker").await;
    assert_eq!(
        messages(&got),
        [
            "invoice INV-2026-1188 generated",
            "invoice INV-2026-1188 emailed",
            "nightly ledger reconciled: 0 differences"
        ]
    );

    // Invalid input: an invocation error naming the field.
    let (error_type, message) = f.api.invoke(json!({"logGroup": group, "logStream": "s", "events": [{"timestamp": "noon", "message": "m"}]}), TIMEOUT).await.error();
    assert!(
        message.starts_with("invalid request: events[0].timestamp: must be a number"),
        "{message}"
    );
    assert_eq!(error_type, "InvalidEvent");

    // A write the service refuses for good: WriteFailed, naming the call and the answer.
    Moto::shared()
        .fault(
            json!({"target": "PutLogEvents", "logGroupName": group, "logStreamName": "denied",
                      "status": 400, "errorType": "AccessDeniedException"}),
        )
        .await;
    let (error_type, message) = f
        .api
        .invoke(
            json!({"logGroup": group, "logStream": "denied", "events": ["a"]}),
            TIMEOUT,
        )
        .await
        .error();
    assert_eq!(error_type, "WriteFailed", "{message}");
    // The function's log group has it too, searchable by type.
    let logged: Vec<Value> = f
        .process
        .json_lines()
        .into_iter()
        .filter(|l| l["fields"]["message"] == "invocation failed")
        .map(|l| l["fields"].clone())
        .collect();
    assert_eq!(
        logged.last(),
        Some(
            &json!({"message": "invocation failed", "error_type": "WriteFailed", "error": message})
        )
    );
    assert!(
        message.starts_with(
            "1 of 1 events were not written (0 written, 0 rejected): PutLogEvents to "
        ) && message.contains("AccessDeniedException"),
        "{message}"
    );

    let summaries = f.summaries();
    assert_eq!(summaries.len(), 4);
    assert!(
        summaries.iter().all(|s| s["conserved"] == true),
        "{summaries:#?}"
    );
    let emf = emf_records(&f);
    assert_eq!(emf.len(), 4, "one EMF record per invocation");
    assert_eq!(emf[0]["EventsWritten"], json!(n as f64));
    assert_eq!(emf[1]["EventsWritten"], json!(3.0));
    let groups = Moto::shared()
        .client()
        .await
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(30));
    Moto::shared().assert_no_violations(&group).await;
}

#[tokio::test]
async fn the_lambda_deadline_bounds_the_retries_and_the_function_answers_in_time() {
    let group = unique("/logship/e2e/writer-deadline");
    Moto::shared().create(&group, &["s"]).await;
    Moto::shared().fault(json!({"target": "PutLogEvents", "logGroupName": group, "status": 400, "errorType": "ThrottlingException", "count": 100_000})).await;
    let f = start(&[("DEADLINE_MARGIN_MS", "500")]).await;
    let started = Instant::now();
    // Lambda's deadline 3 s after pickup: the function must give up and answer before it.
    let (error_type, message) = f
        .api
        .invoke(
            json!({"logGroup": group, "logStream": "s", "events": ["a", "b"]}),
            Duration::from_secs(3),
        )
        .await
        .error();
    let took = started.elapsed();
    assert!(
        message.starts_with("2 of 2 events were not written (0 written, 0 rejected)"),
        "{message}"
    );
    assert!(message.contains("deadline"), "{message}");
    assert_eq!(error_type, "DeadlineExceeded");
    assert!(
        took < Duration::from_secs(3),
        "answered before Lambda's deadline: {took:?}"
    );
    assert!(f.process.is_running(), "the function keeps serving");
    let summary = f.summaries().remove(0);
    assert_eq!(
        (summary["failed"].clone(), summary["conserved"].clone()),
        (json!(2), json!(true))
    );
    assert!(summary["throttles"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn an_invalid_variable_fails_init_as_invalid_configuration() {
    let f = start(&[("TARGET_RETENTION_DAYS", "13")]).await;
    let init = f.failed_init(TIMEOUT).await;
    assert_eq!(init["errorType"], "InvalidConfiguration", "{init}");
    assert!(
        init["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("TARGET_RETENTION_DAYS: \"13\" is not one of the retention periods"),
        "{init}"
    );
}
