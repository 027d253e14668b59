//! End to end: the built `insights-reporter` binary under the Lambda Runtime API, reaching the
//! emulator only through `AWS_ENDPOINT_URL`, invoked with the files in `events/`.

use std::time::{Duration, Instant};

use logship::insights::spec::{Window, rfc3339};
use logship_tests::payloads::{now_ms, read_json};
use logship_tests::{Function, Moto, read_all, unique, workspace_root};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

async fn start(env: &[(&str, &str)]) -> Function {
    let mut all = vec![("AWS_LAMBDA_FUNCTION_NAME", "logship-test")];
    all.extend_from_slice(env);
    Function::start("insights-reporter", &all).await
}

fn sample(name: &str) -> Value {
    read_json(&workspace_root().join("events").join(name))
}

#[tokio::test]
async fn spec_and_scheduled_event_samples_through_the_runtime_api() {
    // A source group with events in the last whole 5-minute window (delay 0 here).
    let scheduled = now_ms();
    let w = Window::aligned(scheduled, Duration::from_secs(300), Duration::ZERO);
    let source = unique("/logship/e2e/insights-src");
    Moto::shared().create(&source, &["web-1"]).await;
    let client = Moto::shared().client().await;
    let events: Vec<(i64, String)> = ["12", "30", "ERROR not a number"]
        .iter()
        .enumerate()
        .map(|(i, m)| (w.start_ms + 1000 * i as i64, m.to_string()))
        .collect();
    Moto::shared().put(&source, "web-1", &events).await;
    let reports = unique("/logship/e2e/reports");
    let f = start(&[
        ("TARGET_LOG_GROUP", &reports),
        ("QUERY_NAME", "scheduled-errors"),
        (
            "QUERY_STRING",
            "fields @timestamp, @message | sort @timestamp asc",
        ),
        ("QUERY_LOG_GROUPS", &source),
        ("QUERY_WINDOW", "5m"),
        ("QUERY_DELAY", "1m"),
    ])
    .await;

    // The spec sample, pointed at the test's groups and time; `errors` comes from @message here
    // (moto's Insights understands only fields | sort | limit).
    let mut spec = sample("insights-spec.json");
    spec["logGroups"] = json!([source]);
    spec["scheduledTime"] = json!(rfc3339(scheduled));
    spec["delay"] = json!("0s");
    spec["query"] = json!("fields @timestamp, @message, @logStream | sort @timestamp asc");
    spec["target"]["logGroup"] = json!(reports);
    spec["metrics"]["values"] = json!(["@message"]);
    let answer = f.api.invoke(spec, TIMEOUT).await.response();
    let q = &answer["queries"][0];
    assert_eq!(
        (q["name"].clone(), q["status"].clone(), q["rows"].clone()),
        (json!("errors-by-service"), json!("Complete"), json!(3))
    );
    assert_eq!(q["windowStart"], json!(rfc3339(w.start_ms)));
    let got = read_all(&client, &reports, "errors-by-service").await;
    assert_eq!(got.len(), 3);
    let emf: Vec<Value> = f
        .process
        .json_lines()
        .into_iter()
        .filter(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "logship/reports")
        .collect();
    assert_eq!(emf.len(), 2, "two numeric rows; the third is skipped");
    assert_eq!(
        (emf[0]["@message"].clone(), emf[0]["@logStream"].clone()),
        (json!(12.0), json!("web-1"))
    );

    // The scheduled-event sample: the spec comes from QUERY_*, the window from the event's time.
    let answer = f
        .api
        .invoke(sample("insights-scheduled-event.json"), TIMEOUT)
        .await
        .response();
    let q = &answer["queries"][0];
    assert_eq!(q["name"], "scheduled-errors");
    assert_eq!(
        (q["windowStart"].clone(), q["windowEnd"].clone()),
        (json!("2026-11-22T00:55:00Z"), json!("2026-11-22T01:00:00Z"))
    );

    // A bad spec: an invocation error naming the field.
    let (error_type, message) = f
        .api
        .invoke(
            json!({"name": "x", "query": "q", "logGroups": [source], "window": "soon"}),
            TIMEOUT,
        )
        .await
        .error();
    assert!(
        message.starts_with("invalid query spec: window: \"soon\" is not a duration"),
        "{message}"
    );
    assert_eq!(error_type, "InvalidEvent");

    let summaries = f.summaries();
    assert_eq!(summaries.len(), 3);
    assert!(summaries.iter().all(|s| s["conserved"] == true));
}

#[tokio::test]
async fn a_query_still_running_at_the_lambda_deadline_is_stopped_and_reported() {
    let group = unique("/logship/e2e/insights-slow");
    let id = unique("q-e2e-slow");
    let moto = Moto::shared();
    moto.fault(json!({"target": "StartQuery", "logGroupName": group, "status": 200, "body": {"queryId": id}})).await;
    moto.fault(json!({"target": "GetQueryResults", "match": {"queryId": id}, "status": 200, "body": {"status": "Running", "results": []}, "count": 100_000})).await;
    let f = start(&[
        ("TARGET_LOG_GROUP", "/logship/e2e/unused"),
        ("DEADLINE_MARGIN_MS", "500"),
    ])
    .await;
    let started = Instant::now();
    let (error_type, message) = f.api.invoke(json!({"name": "slow", "query": "fields @message", "logGroups": [group], "window": "1h"}), Duration::from_secs(3)).await.error();
    assert_eq!(error_type, "DeadlineExceeded", "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered before Lambda's deadline: {:?}",
        started.elapsed()
    );
    assert_eq!(
        message,
        format!(
            "1 of 1 queries failed: slow: the invocation's deadline came while query {id} was Running; StopQuery sent"
        )
    );
    assert!(
        moto.calls(Some("StopQuery"), None)
            .await
            .iter()
            .any(|c| c["request"]["queryId"] == json!(id))
    );
    assert!(f.process.is_running());
}

#[tokio::test]
async fn failed_queries_and_refused_writes_have_their_own_error_types() {
    let moto = Moto::shared();
    let reports = unique("/logship/e2e/insights-types");
    let f = start(&[("TARGET_LOG_GROUP", &reports)]).await;
    let spec = |name: &str, group: &str| json!({"name": name, "query": "fields @timestamp, @message", "logGroups": [group], "window": "5m"});

    // The query ends Failed: QueryFailed, naming the query id and the status.
    let failed = unique("/logship/e2e/insights-failed");
    let id = unique("q-e2e-failed");
    moto.fault(json!({"target": "StartQuery", "logGroupName": failed, "status": 200, "body": {"queryId": id}})).await;
    moto.fault(json!({"target": "GetQueryResults", "match": {"queryId": id}, "status": 200, "body": {"status": "Failed", "results": []}})).await;
    let (error_type, message) = f.api.invoke(spec("failed", &failed), TIMEOUT).await.error();
    assert_eq!(error_type, "QueryFailed", "{message}");
    assert_eq!(
        message,
        format!("1 of 1 queries failed: failed: query {id} ended with status Failed")
    );

    // StartQuery refused (a malformed query): QueryFailed.
    let malformed = unique("/logship/e2e/insights-malformed");
    moto.fault(json!({"target": "StartQuery", "logGroupName": malformed, "status": 400, "errorType": "MalformedQueryException"})).await;
    let (error_type, message) = f
        .api
        .invoke(spec("malformed", &malformed), TIMEOUT)
        .await
        .error();
    assert_eq!(error_type, "QueryFailed", "{message}");
    assert!(
        message.contains("StartQuery failed") && message.contains("MalformedQueryException"),
        "{message}"
    );

    // The query completes, but its rows cannot be republished: WriteFailed.
    let denied = unique("/logship/e2e/insights-denied");
    // One complete row, whose write to the "denied" stream is refused.
    let complete_but_denied = |id: String| {
        let (denied, reports) = (denied.clone(), reports.clone());
        async move {
            moto.fault(json!({"target": "StartQuery", "logGroupName": denied, "status": 200, "body": {"queryId": id}})).await;
            moto.fault(json!({"target": "GetQueryResults", "match": {"queryId": id}, "status": 200,
                              "body": {"status": "Complete", "results": [[{"field": "@message", "value": "row"}]]}})).await;
            moto.fault(
                json!({"target": "PutLogEvents", "logGroupName": reports, "logStreamName": "denied",
                              "status": 400, "errorType": "AccessDeniedException"}),
            )
            .await;
        }
    };
    complete_but_denied(unique("q-e2e-denied")).await;
    let (error_type, message) = f.api.invoke(spec("denied", &denied), TIMEOUT).await.error();
    assert_eq!(error_type, "WriteFailed", "{message}");
    assert!(
        message.contains("1 of 1 rows were not republished")
            && message.contains("AccessDeniedException"),
        "{message}"
    );

    // Two queries failing for different causes: the first one's type, every cause named.
    complete_but_denied(unique("q-e2e-denied-2")).await;
    moto.fault(json!({"target": "StartQuery", "logGroupName": malformed, "status": 400, "errorType": "MalformedQueryException"})).await;
    let both = json!({"queries": [spec("denied", &denied), spec("malformed", &malformed)]});
    let (error_type, message) = f.api.invoke(both, TIMEOUT).await.error();
    assert_eq!(error_type, "WriteFailed", "{message}");
    assert!(
        message.starts_with("2 of 2 queries failed: denied: 1 of 1 rows were not republished")
            && message.contains("; malformed: StartQuery failed"),
        "{message}"
    );

    assert!(f.summaries().iter().all(|s| s["conserved"] == true));
    assert!(f.process.is_running());
}

#[tokio::test]
async fn an_invalid_variable_fails_init_as_invalid_configuration() {
    let f = start(&[("DEADLINE_MARGIN_MS", "later")]).await;
    let init = f.failed_init(TIMEOUT).await;
    assert_eq!(init["errorType"], "InvalidConfiguration", "{init}");
    assert!(
        init["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("DEADLINE_MARGIN_MS"),
        "{init}"
    );
}

/// The built function republishes a window of 100,000 rows of about 1 KB: the result reaches
/// the Logs Insights QL maximum, so its pages are counted, not republished, and each half of the
/// window is queried and republished page by page. Every row once, in order, and the function's
/// peak RSS stays within the budget of a 128 MB function's half.
#[tokio::test]
async fn a_window_of_100000_rows_of_1_kb_splits_and_stays_within_64_mb() {
    const ROWS: i64 = 100_000;
    let scheduled = now_ms();
    let w = Window::aligned(scheduled, Duration::from_secs(3600), Duration::ZERO);
    let source = unique("/logship/e2e/insights-big");
    Moto::shared().create(&source, &["app"]).await;
    let pad = "x".repeat(1000);
    let events: Vec<(i64, String)> = (0..ROWS)
        .map(|i| {
            (
                w.start_ms + i * (w.len_ms() / ROWS),
                format!("r{i:06} {pad}"),
            )
        })
        .collect();
    Moto::shared().put(&source, "app", &events).await;
    let reports = unique("/logship/e2e/insights-big-out");
    let f = start(&[("TARGET_LOG_GROUP", &reports)]).await;
    let spec = json!({"name": "big", "query": "fields @timestamp, @message | sort @timestamp asc", "logGroups": [source],
                      "window": "1h", "scheduledTime": rfc3339(scheduled)});
    let answer = f
        .api
        .invoke(spec, Duration::from_secs(600))
        .await
        .response();
    let peak_kib = f.process.peak_rss_kib();
    let q = &answer["queries"][0];
    assert_eq!(
        (
            q["rows"].clone(),
            q["queryIds"].as_array().map(Vec::len),
            q["pages"].clone()
        ),
        (json!(ROWS), Some(3), json!(21)),
        "10 pages counted, then each half's pages: 6 for the first (50,001 rows: the range is \
         inclusive of its end second, whose row belongs to the second half), 5 for the second: {answer}"
    );
    println!(
        "peak RSS republishing {ROWS} rows of 1 KB: {} KiB",
        peak_kib
    );
    assert!(
        peak_kib <= 64 * 1024,
        "peak RSS {peak_kib} KiB is over the 64 MiB budget"
    );
    let got = read_all(&Moto::shared().client().await, &reports, "big").await;
    assert_eq!(got.len(), ROWS as usize);
    for (i, (t, m)) in got.iter().enumerate() {
        let row: Value = serde_json::from_str(m).unwrap();
        assert_eq!(
            (*t, row["@message"].as_str().unwrap()),
            (events[i].0, events[i].1.as_str()),
            "row {i}"
        );
    }
    let summaries = f.summaries();
    assert_eq!(
        (
            summaries[0]["rows"].clone(),
            summaries[0]["written"].clone(),
            summaries[0]["conserved"].clone()
        ),
        (json!(ROWS), json!(ROWS), json!(true))
    );
}

/// The samples of each spec form (SQL, PPL, a saved query, ARNs) through the built binary,
/// pointed at a test group and the last whole window.
#[tokio::test]
async fn the_sql_ppl_saved_query_and_arn_samples_through_the_runtime_api() {
    let scheduled = now_ms();
    let source = unique("/logship/e2e/insights-forms");
    Moto::shared().create(&source, &["app"]).await;
    // Two events in the last whole 5-minute window; each sample runs over that window.
    let five = Window::aligned(scheduled, Duration::from_secs(300), Duration::ZERO);
    let events: Vec<(i64, String)> = (0..2)
        .map(|i| (five.start_ms + 1000 * i, format!("ERROR e{i}")))
        .collect();
    Moto::shared().put(&source, "app", &events).await;
    let reports = unique("/logship/e2e/insights-forms-out");
    let f = start(&[("TARGET_LOG_GROUP", &reports)]).await;
    let client = Moto::shared().client().await;
    let definition = unique("errors-by-service");
    client
        .put_query_definition()
        .name(&definition)
        .query_string(
            "fields @timestamp, @message | filter @message like /{{level}}/ | sort @timestamp asc",
        )
        .log_group_names(&source)
        .parameters(
            aws_sdk_cloudwatchlogs::types::QueryParameter::builder()
                .name("level")
                .default_value("WARN")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{source}");
    for (file, language, pages) in [
        ("insights-sql.json", "sql", 1),
        ("insights-ppl.json", "ppl", 1),
        ("insights-saved-query.json", "cwli", 1),
        ("insights-arns.json", "cwli", 1),
    ] {
        let mut spec = sample(file);
        spec["scheduledTime"] = json!(rfc3339(scheduled));
        spec["delay"] = json!("0s");
        spec["window"] = json!("5m");
        spec["target"] = json!({"logGroup": reports, "logStream": file});
        if let Some(q) = spec["query"].as_str() {
            spec["query"] = json!(q.replace("/aws/lambda/orders-api", &source));
        }
        if spec.get("logGroups").is_some() {
            spec["logGroups"] = if file == "insights-arns.json" {
                json!([format!("{arn}:*")])
            } else {
                json!([source])
            };
        }
        if spec.get("queryDefinition").is_some() {
            spec["queryDefinition"] = json!(definition);
        }
        let answer = f.api.invoke(spec, TIMEOUT).await.response();
        let q = &answer["queries"][0];
        assert_eq!(
            (q["rows"].clone(), q["language"].clone(), q["pages"].clone()),
            (json!(2), json!(language), json!(pages)),
            "{file}: {answer}"
        );
        assert_eq!(read_all(&client, &reports, file).await.len(), 2, "{file}");
    }
    let starts: Vec<Value> = Moto::shared()
        .calls(Some("StartQuery"), Some(&source))
        .await
        .into_iter()
        .map(|c| c["request"].clone())
        .collect();
    let languages: Vec<&str> = starts
        .iter()
        .map(|s| s["queryLanguage"].as_str().unwrap())
        .collect();
    assert_eq!(languages, ["SQL", "PPL", "CWLI", "CWLI"]);
    assert_eq!(
        starts[2]["queryString"],
        json!("fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp asc"),
        "the sample's parameter value replaces the saved default"
    );
    assert_eq!(starts[3]["logGroupIdentifiers"], json!([arn]));
    assert!(f.summaries().iter().all(|s| s["conserved"] == true));
}
