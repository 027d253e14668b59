//! The insights-reporter against the local emulator, through the real SDK. moto answers
//! `fields | sort | limit` queries and is `Complete` at once; the emulator's front scripts what
//! moto cannot do: queries still Running, terminal failures, LimitExceeded, StopQuery.

use std::time::Duration;

use logship::insights::query::{Poll, QueryRunner};
use logship::insights::spec::{Window, rfc3339};
use logship::insights::{Outcome, Reporter, ReporterConfig};
use logship::retry::{Backoff, Deadline};
use logship::writer::{WriteContext, Writer};
use logship_tests::payloads::now_ms;
use logship_tests::{Moto, read_all, unique};
use serde_json::{Value, json};

const FIVE_MIN: Duration = Duration::from_secs(300);

async fn reporter(vars: &[(&str, &str)]) -> Reporter {
    let config = ReporterConfig::from_lookup(logship_tests::env(vars)).unwrap();
    let client = Moto::shared().client().await;
    let backoff = Backoff {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
    };
    let poll = Poll {
        first: Duration::from_millis(20),
        max: Duration::from_millis(100),
    };
    let writer = Writer::new(client.clone(), config.common.writer.clone()).with_backoff(backoff);
    Reporter::new(
        config,
        QueryRunner::new(client).with_timing(backoff, poll),
        writer,
    )
}

fn within(secs: u64) -> WriteContext {
    WriteContext {
        now_ms: now_ms(),
        deadline: Deadline::after(Duration::from_secs(secs)),
    }
}

/// A source group holding `(timestamp, message)` events.
async fn source(events: &[(i64, String)]) -> String {
    let group = unique("/logship/insights/src");
    Moto::shared().create(&group, &["app"]).await;
    Moto::shared().put(&group, "app", events).await;
    group
}

/// The last whole 5-minute window, and a scheduled time that selects it.
fn last_window() -> (Window, String) {
    let scheduled = now_ms();
    let w = Window::aligned(scheduled, FIVE_MIN, Duration::ZERO);
    (w, rfc3339(scheduled))
}

fn ok(o: Outcome) -> Value {
    assert!(
        o.summary.is_conserved(),
        "rows = written + rejected + failed: {:#?}",
        o.summary
    );
    o.result.unwrap()
}

#[tokio::test]
async fn rows_are_republished_and_read_back() {
    let (w, scheduled) = last_window();
    let inside: Vec<(i64, String)> = (0..20)
        .map(|i| (w.start_ms + 1000 * i, format!("in window {i}")))
        .collect();
    let mut all = inside.clone();
    all.push((w.start_ms - 1, "just before the window".into()));
    all.push((w.end_ms, "first instant of the next window".into()));
    let group = source(&all).await;
    let target = unique("/logship/insights/reports");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = json!({"name": "recent-events", "query": "fields @timestamp, @message | sort @timestamp asc | limit 100",
                      "logGroups": [group], "window": "5m", "scheduledTime": scheduled});
    let answer = ok(r.handle(spec, within(30)).await);
    let q = &answer["queries"][0];
    assert_eq!(q["name"], "recent-events");
    assert_eq!(q["status"], "Complete");
    assert_eq!(
        q["rows"], 20,
        "the window is [start, end): neither neighbour's event"
    );
    assert_eq!(
        (
            q["windowStart"].as_str().unwrap(),
            q["windowEnd"].as_str().unwrap()
        ),
        (rfc3339(w.start_ms).as_str(), rfc3339(w.end_ms).as_str())
    );
    assert!(q["queryId"].as_str().is_some_and(|id| !id.is_empty()));
    for k in ["recordsMatched", "recordsScanned", "bytesScanned"] {
        assert!(q[k].is_number(), "{k}");
    }
    let got = read_all(&Moto::shared().client().await, &target, "recent-events").await;
    assert_eq!(got.len(), 20);
    for ((t, m), (want_t, want_m)) in got.iter().zip(&inside) {
        let row: Value = serde_json::from_str(m).unwrap();
        assert_eq!(t, want_t, "stamped with the row's @timestamp");
        assert_eq!(row["@message"], json!(want_m));
        assert_eq!(row["query"], "recent-events");
        assert_eq!(row["windowStart"], q["windowStart"]);
        assert_eq!(row["windowEnd"], q["windowEnd"]);
        assert!(row.get("@ptr").is_none());
    }
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn windows_align_and_a_retry_covers_the_same_one() {
    let group = source(&[(now_ms() - 1000, "x".into())]).await;
    let target = unique("/logship/insights/align");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = |t: &str| json!({"name": "n", "query": "fields @message", "logGroups": [group], "window": "5m", "delay": "1m", "scheduledTime": t});
    let first = ok(r.handle(spec("2026-11-22T01:05:00Z"), within(30)).await);
    let retry = ok(r.handle(spec("2026-11-22T01:05:00Z"), within(30)).await);
    let late = ok(r.handle(spec("2026-11-22T01:05:59Z"), within(30)).await);
    let next = ok(r.handle(spec("2026-11-22T01:10:00Z"), within(30)).await);
    let win = |a: &Value| {
        (
            a["queries"][0]["windowStart"].as_str().unwrap().to_string(),
            a["queries"][0]["windowEnd"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        win(&first),
        ("2026-11-22T00:55:00Z".into(), "2026-11-22T01:00:00Z".into())
    );
    assert_eq!(win(&retry), win(&first));
    assert_eq!(win(&late), win(&first));
    assert_eq!(
        win(&next),
        ("2026-11-22T01:00:00Z".into(), "2026-11-22T01:05:00Z".into()),
        "the next run's window starts where this one ends"
    );
    // StartQuery received exactly those ranges: [start, end] in seconds.
    let starts: Vec<(i64, i64)> = Moto::shared()
        .calls(Some("StartQuery"), Some(&group))
        .await
        .iter()
        .map(|c| {
            (
                c["request"]["startTime"].as_i64().unwrap(),
                c["request"]["endTime"].as_i64().unwrap(),
            )
        })
        .collect();
    let t0 = 1_795_308_900; // 2026-11-22T00:55:00Z
    assert_eq!(
        starts,
        [
            (t0, t0 + 300),
            (t0, t0 + 300),
            (t0, t0 + 300),
            (t0 + 300, t0 + 600)
        ]
    );
}

#[tokio::test]
async fn a_full_result_splits_the_window_until_nothing_is_cut_off() {
    let (w, scheduled) = last_window();
    // 15,000 events, evenly over the window: the first query returns 10,000 (moto honours
    // `limit 10000`), each half returns 7,500.
    let events: Vec<(i64, String)> = (0..15_000)
        .map(|i| (w.start_ms + i * (w.len_ms() / 15_000), format!("e{i:05}")))
        .collect();
    let group = source(&events).await;
    let target = unique("/logship/insights/split");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = json!({"name": "all", "query": "fields @timestamp, @message | sort @timestamp asc | limit 10000", "logGroups": [group], "window": "5m", "scheduledTime": scheduled});
    let o = r.handle(spec, within(60)).await;
    assert_eq!(o.summary.splits, 1);
    let answer = ok(o);
    let q = &answer["queries"][0];
    assert_eq!(q["rows"], 15_000);
    assert_eq!(
        q["queryIds"].as_array().unwrap().len(),
        3,
        "the full query, then each half"
    );
    let got = read_all(&Moto::shared().client().await, &target, "all").await;
    let messages: Vec<String> = got
        .iter()
        .map(|(_, m)| {
            serde_json::from_str::<Value>(m).unwrap()["@message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: Vec<String> = events.iter().map(|e| e.1.clone()).collect();
    assert_eq!(messages, want, "every event exactly once, in order");
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn metrics_follow_the_embedded_metric_format() {
    let (w, scheduled) = last_window();
    let group = source(&[
        (w.start_ms + 1000, "17".into()),
        (w.start_ms + 2000, "25.5".into()),
        (w.start_ms + 3000, "not a number".into()),
    ])
    .await;
    let target = unique("/logship/insights/emf");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = json!({"name": "latency", "query": "fields @timestamp, @message, @logStream | sort @timestamp asc", "logGroups": [group],
                      "window": "5m", "scheduledTime": scheduled,
                      "metrics": {"namespace": "Orders/Latency", "dimensions": ["@logStream"], "values": ["@message"]}});
    let o = r.handle(spec, within(30)).await;
    assert_eq!(
        (o.summary.metric_records, o.summary.metric_values_skipped),
        (2, 1)
    );
    let records: Vec<Value> = o
        .metrics
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    ok(o);
    assert_eq!(records.len(), 2);
    for (r, value) in records.iter().zip([17.0, 25.5]) {
        // The specification: an `_aws` member with Timestamp and CloudWatchMetrics directives;
        // every dimension and metric a member of the root object.
        let aws = &r["_aws"];
        assert_eq!(aws["Timestamp"], json!(w.start_ms));
        let d = &aws["CloudWatchMetrics"].as_array().unwrap()[0];
        assert_eq!(d["Namespace"], "Orders/Latency");
        assert_eq!(d["Dimensions"], json!([["@logStream"]]));
        assert_eq!(d["Metrics"], json!([{"Name": "@message", "Unit": "None"}]));
        assert_eq!(r["@logStream"], "app");
        assert_eq!(r["@message"], json!(value));
        assert_eq!(r["query"], "latency");
    }
}

/// Scripts StartQuery for `group` to answer `query_id`, then GetQueryResults for it.
async fn script(group: &str, query_id: &str, results: &[Value]) {
    let moto = Moto::shared();
    moto.fault(json!({"target": "StartQuery", "logGroupName": group, "status": 200, "body": {"queryId": query_id}})).await;
    for body in results {
        moto.fault(json!({"target": "GetQueryResults", "match": {"queryId": query_id}, "status": 200, "body": body})).await;
    }
}

fn status(s: &str) -> Value {
    json!({"status": s, "results": [], "statistics": {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}})
}

#[tokio::test]
async fn a_query_running_for_several_polls_completes() {
    let group = unique("/logship/insights/running");
    let target = unique("/logship/insights/running-out");
    let id = unique("q-running");
    let complete = json!({"status": "Complete", "statistics": {"recordsMatched": 1.0, "recordsScanned": 42.0, "bytesScanned": 4200.0},
                          "results": [[{"field": "service", "value": "billing"}, {"field": "errors", "value": "3"}, {"field": "@ptr", "value": "xyz"}]]});
    script(
        &group,
        &id,
        &[
            status("Scheduled"),
            status("Running"),
            status("Running"),
            status("Running"),
            complete,
        ],
    )
    .await;
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let o = r.handle(json!({"name": "errors-by-service", "query": "stats count(*) as errors by service", "logGroups": [group], "window": "5m"}), within(30)).await;
    assert_eq!(o.summary.polls, 5);
    let answer = ok(o);
    let q = &answer["queries"][0];
    assert_eq!(
        (
            q["queryId"].as_str().unwrap(),
            q["rows"].clone(),
            q["recordsScanned"].clone(),
            q["bytesScanned"].clone()
        ),
        (id.as_str(), json!(1), json!(42.0), json!(4200.0))
    );
    let got = read_all(&Moto::shared().client().await, &target, "errors-by-service").await;
    let row: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(
        (
            row["service"].clone(),
            row["errors"].clone(),
            row.get("@ptr")
        ),
        (json!("billing"), json!("3"), None)
    );
    assert_eq!(
        Moto::shared()
            .calls(Some("GetQueryResults"), None)
            .await
            .iter()
            .filter(|c| c["request"]["queryId"] == json!(id))
            .count(),
        5
    );
}

#[tokio::test]
async fn every_terminal_failure_fails_the_invocation_with_status_and_query_id() {
    for s in ["Failed", "Cancelled", "Timeout", "Unknown"] {
        let group = unique("/logship/insights/fail");
        let id = unique(&format!("q-{s}"));
        script(&group, &id, &[status("Running"), status(s)]).await;
        let r = reporter(&[("TARGET_LOG_GROUP", "/logship/insights/unused")]).await;
        let o = r.handle(json!({"name": "doomed", "query": "fields @message", "logGroups": [group], "window": "5m"}), within(30)).await;
        let err = o.result.unwrap_err().to_string();
        assert_eq!(
            err,
            format!("1 of 1 queries failed: doomed: query {id} ended with status {s}")
        );
        assert_eq!(o.summary.queries_failed, 1);
    }
}

#[tokio::test]
async fn limit_exceeded_on_start_is_retried_then_succeeds() {
    let (w, scheduled) = last_window();
    let group = source(&[(w.start_ms + 5, "after the queue cleared".into())]).await;
    let target = unique("/logship/insights/limit");
    Moto::shared()
        .fault(json!({"target": "StartQuery", "logGroupName": group, "status": 400, "errorType": "LimitExceededException", "message": "Account maximum query concurrency limit of [30] reached.", "count": 3}))
        .await;
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let o = r.handle(json!({"name": "n", "query": "fields @message", "logGroups": [group], "window": "5m", "scheduledTime": scheduled}), within(30)).await;
    assert_eq!(
        o.summary.report.throttles, 0,
        "the writer saw no throttling"
    );
    let answer = ok(o);
    assert_eq!(answer["queries"][0]["rows"], 1);
    let starts: Vec<Value> = Moto::shared()
        .calls(Some("StartQuery"), Some(&group))
        .await
        .iter()
        .map(|c| c["status"].clone())
        .collect();
    assert_eq!(starts, [json!(400), json!(400), json!(400), json!(200)]);
}

#[tokio::test]
async fn a_deadline_that_arrives_while_running_stops_the_query() {
    let group = unique("/logship/insights/deadline");
    let id = unique("q-deadline");
    script(&group, &id, &[]).await;
    Moto::shared().fault(json!({"target": "GetQueryResults", "match": {"queryId": id}, "status": 200, "body": status("Running"), "count": 100_000})).await;
    let r = reporter(&[("TARGET_LOG_GROUP", "/logship/insights/unused")]).await;
    let started = std::time::Instant::now();
    let o = r.handle(json!({"name": "slow", "query": "fields @message", "logGroups": [group], "window": "1h"}), within(2)).await;
    let err = o.result.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "1 of 1 queries failed: slow: the invocation's deadline came while query {id} was Running; StopQuery sent"
        )
    );
    assert!(
        started.elapsed() < Duration::from_millis(2_600),
        "gave up at the deadline: {:?}",
        started.elapsed()
    );
    let stops = Moto::shared().calls(Some("StopQuery"), None).await;
    assert!(
        stops
            .iter()
            .any(|c| c["request"]["queryId"] == json!(id) && c["status"] == 200),
        "StopQuery sent for {id}: {stops:#?}"
    );
}

#[tokio::test]
async fn several_queries_run_at_once_and_bad_specs_name_the_field() {
    let (w, scheduled) = last_window();
    let a = source(&[(w.start_ms + 1, "a1".into())]).await;
    let b = source(&[(w.start_ms + 2, "b1".into()), (w.start_ms + 3, "b2".into())]).await;
    let target = unique("/logship/insights/many");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = |n: &str, g: &str| json!({"name": n, "query": "fields @message", "logGroups": [g], "window": "5m", "scheduledTime": scheduled});
    let answer = ok(r
        .handle(
            json!({"queries": [spec("qa", &a), spec("qb", &b)]}),
            within(30),
        )
        .await);
    let rows: Vec<(String, u64)> = answer["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["name"].as_str().unwrap().to_string(),
                q["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("qa".to_string(), 1), ("qb".to_string(), 2)]);
    for (event, expected) in [
        (
            json!({"queries": [spec("ok", &a), {"name": "x", "query": "q", "logGroups": [], "window": "5m"}]}),
            "invalid query spec: queries[1].logGroups: must name at least one log group",
        ),
        (
            json!({"name": "x", "query": "q", "logGroups": ["/g"], "window": "fortnight"}),
            "invalid query spec: window: \"fortnight\" is not a duration",
        ),
        (
            json!({"detail-type": "Scheduled Event", "time": "2026-11-22T01:05:00Z"}),
            "invalid query spec: QUERY_LOG_GROUPS: required for scheduled events, but not set",
        ),
        (json!({"hello": 1}), "unrecognised event"),
    ] {
        let err = r
            .handle(event.clone(), within(5))
            .await
            .result
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(expected), "{event}: {err}");
    }
}
