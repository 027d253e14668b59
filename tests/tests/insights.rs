//! The insights-reporter against the local emulator, through the real SDK. moto answers
//! `fields | sort | limit` queries and is `Complete` at once; the emulator's front scripts what
//! moto cannot do: queries still Running, terminal failures, LimitExceeded, StopQuery.

use std::time::Duration;

use logship::failure::Typed;
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

/// The messages of the rows republished to `group`/`stream`, in the order they were stored.
async fn republished(group: &str, stream: &str) -> Vec<String> {
    read_all(&Moto::shared().client().await, group, stream)
        .await
        .iter()
        .map(|(_, m)| {
            serde_json::from_str::<Value>(m).unwrap()["@message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// `n` events evenly over `w`, oldest first: `e00000`, `e00001`, …
fn spread(w: Window, n: i64) -> Vec<(i64, String)> {
    (0..n)
        .map(|i| (w.start_ms + i * (w.len_ms() / n), format!("e{i:05}")))
        .collect()
}

/// The StartQuery requests whose parameters or query string name `group`.
async fn starts(group: &str) -> Vec<Value> {
    Moto::shared()
        .calls(Some("StartQuery"), None)
        .await
        .into_iter()
        .filter(|c| c["request"].to_string().contains(group))
        .map(|c| c["request"].clone())
        .collect()
}

/// GetQueryResults calls for `query_id`: (the request's nextToken, rows answered).
async fn result_calls(query_id: &str) -> Vec<Value> {
    Moto::shared()
        .calls(Some("GetQueryResults"), None)
        .await
        .into_iter()
        .filter(|c| c["request"]["queryId"] == json!(query_id))
        .map(|c| c["request"].clone())
        .collect()
}

#[tokio::test]
async fn a_result_of_25000_rows_is_read_page_by_page_and_republished_once_in_order() {
    let (w, scheduled) = last_window();
    let events = spread(w, 25_000);
    let group = source(&events).await;
    let target = unique("/logship/insights/pages");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = json!({"name": "all", "query": "fields @timestamp, @message | sort @timestamp asc", "logGroups": [group], "window": "5m", "scheduledTime": scheduled});
    let o = r.handle(spec, within(60)).await;
    assert_eq!((o.summary.splits, o.summary.pages), (0, 3));
    let answer = ok(o);
    let q = &answer["queries"][0];
    assert_eq!(
        (
            q["rows"].clone(),
            q["pages"].clone(),
            q["language"].clone(),
            q.get("queryIds")
        ),
        (json!(25_000), json!(3), json!("cwli"), None)
    );
    let started = starts(&group).await;
    assert_eq!(started.len(), 1, "one StartQuery: {started:#?}");
    assert_eq!(
        (
            started[0]["queryLanguage"].clone(),
            started[0]["limit"].clone(),
            started[0]["logGroupNames"].clone()
        ),
        (json!("CWLI"), json!(100_000), json!([group]))
    );
    let gets = result_calls(q["queryId"].as_str().unwrap()).await;
    let tokens = gets.iter().filter(|g| g.get("nextToken").is_some()).count();
    assert_eq!(
        tokens, 2,
        "pages 2 and 3 by token, each read once: {gets:#?}"
    );
    assert!(gets.iter().all(|g| g["maxItems"] == 10_000));
    let want: Vec<String> = events.iter().map(|e| e.1.clone()).collect();
    assert_eq!(
        republished(&target, "all").await,
        want,
        "every row once, in order"
    );
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn a_result_that_reaches_the_specs_limit_splits_the_window_until_nothing_is_cut_off() {
    let (w, scheduled) = last_window();
    // 15,000 events, evenly over the window: the first query returns 10,000 (the spec's
    // limit), each half returns 7,500.
    let events = spread(w, 15_000);
    let group = source(&events).await;
    let target = unique("/logship/insights/split");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = json!({"name": "all", "query": "fields @timestamp, @message | sort @timestamp asc", "limit": 10_000, "logGroups": [group], "window": "5m", "scheduledTime": scheduled});
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
    assert!(starts(&group).await.iter().all(|s| s["limit"] == 10_000));
    let want: Vec<String> = events.iter().map(|e| e.1.clone()).collect();
    assert_eq!(
        republished(&target, "all").await,
        want,
        "every event exactly once, in order"
    );
    Moto::shared().assert_no_violations(&target).await;
}

#[tokio::test]
async fn pages_that_may_fill_the_limit_are_counted_first_then_read_again() {
    let (w, scheduled) = last_window();
    // 15,000 events match (recordsMatched 15,000 is not below the spec's limit of 12,000), but
    // the query keeps 11,000: the pages are counted (10,000 + 1,000), the result does not fill
    // the limit, so they are read again from the start and republished, and nothing is split.
    let events = spread(w, 15_000);
    let group = source(&events).await;
    let target = unique("/logship/insights/reread");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let spec = json!({"name": "capped", "query": "fields @timestamp, @message | sort @timestamp asc | limit 11000", "limit": 12_000,
                      "logGroups": [group], "window": "5m", "scheduledTime": scheduled});
    let o = r.handle(spec, within(60)).await;
    assert_eq!(
        (o.summary.splits, o.summary.pages, o.summary.rows),
        (0, 4, 11_000)
    );
    let answer = ok(o);
    let q = &answer["queries"][0];
    let tokens: Vec<bool> = result_calls(q["queryId"].as_str().unwrap())
        .await
        .iter()
        .map(|g| g.get("nextToken").is_some())
        .collect();
    assert_eq!(
        tokens,
        [false, true, false, true],
        "Complete, counted page 2, then pages 1 and 2 again"
    );
    let want: Vec<String> = events[..11_000].iter().map(|e| e.1.clone()).collect();
    assert_eq!(republished(&target, "capped").await, want);
}

#[tokio::test]
async fn a_streamed_result_that_fills_the_limit_anyway_is_reported_truncated() {
    // recordsMatched says the result cannot fill the limit (a query returns at most a row per
    // matched record), so its pages are republished as they come; if they fill it anyway, the
    // answer says rows may be missing rather than splitting after the fact.
    let group = unique("/logship/insights/streamed");
    let id = unique("q-streamed");
    let row = |v: &str| json!([{"field": "n", "value": v}]);
    let stats = json!({"recordsMatched": 1.0, "recordsScanned": 1.0, "bytesScanned": 1.0});
    script(&group, &id, &[
        json!({"status": "Complete", "statistics": stats, "results": [row("1"), row("2")], "nextToken": "p2"}),
        json!({"status": "Complete", "statistics": stats, "results": [row("3"), row("4")]}),
    ]).await;
    let target = unique("/logship/insights/streamed-out");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let answer = ok(r.handle(json!({"name": "streamed", "query": "fields n", "limit": 4, "logGroups": [group], "window": "5m"}), within(30)).await);
    let q = &answer["queries"][0];
    assert_eq!(
        (
            q["rows"].clone(),
            q["pages"].clone(),
            q["truncatedWindows"].clone(),
            q.get("queryIds")
        ),
        (json!(4), json!(2), json!(1), None)
    );
    assert_eq!(
        read_all(&Moto::shared().client().await, &target, "streamed")
            .await
            .len(),
        4
    );
}

#[tokio::test]
async fn sql_names_its_groups_in_from_and_splits_at_10000_rows() {
    let (w, scheduled) = last_window();
    let events = spread(w, 12_000);
    let group = source(&events).await;
    let target = unique("/logship/insights/sql");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let query = format!(
        "SELECT `@timestamp`, `@message` FROM `logGroups(logGroupIdentifier: ['{group}'])` ORDER BY `@timestamp` ASC"
    );
    let spec = json!({"name": "sql", "language": "sql", "query": query, "window": "5m", "scheduledTime": scheduled});
    let o = r.handle(spec, within(60)).await;
    assert_eq!(o.summary.splits, 1, "10,000 rows is a full SQL result");
    let answer = ok(o);
    let q = &answer["queries"][0];
    assert_eq!(
        (q["rows"].clone(), q["language"].clone(), q["pages"].clone()),
        (json!(12_000), json!("sql"), json!(3))
    );
    let started = starts(&group).await;
    assert_eq!(started.len(), 3);
    for s in &started {
        assert_eq!(
            (s["queryLanguage"].clone(), s["limit"].clone()),
            (json!("SQL"), json!(10_000))
        );
        for p in ["logGroupName", "logGroupNames", "logGroupIdentifiers"] {
            assert!(s.get(p).is_none(), "SQL sends no {p}: {s}");
        }
    }
    let gets = result_calls(q["queryIds"][1].as_str().unwrap()).await;
    assert!(
        gets.iter()
            .all(|g| g.get("nextToken").is_none() && g.get("maxItems").is_none()),
        "SQL results do not page: {gets:#?}"
    );
    let want: Vec<String> = events.iter().map(|e| e.1.clone()).collect();
    assert_eq!(republished(&target, "sql").await, want);
}

#[tokio::test]
async fn ppl_queries_its_log_groups_by_arn() {
    let (w, scheduled) = last_window();
    let events = spread(w, 30);
    let group = source(&events).await;
    let target = unique("/logship/insights/ppl");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    // As CloudFormation's GetAtt and the console give it: with `:*`, which StartQuery refuses.
    let arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}");
    let spec = json!({"name": "ppl", "language": "ppl", "query": "fields `@timestamp`, `@message` | sort `@timestamp`",
                      "logGroups": [format!("{arn}:*")], "window": "5m", "scheduledTime": scheduled});
    let answer = ok(r.handle(spec, within(60)).await);
    let q = &answer["queries"][0];
    assert_eq!(
        (q["rows"].clone(), q["language"].clone(), q["pages"].clone()),
        (json!(30), json!("ppl"), json!(1))
    );
    let started = starts(&group).await;
    assert_eq!(
        (
            started[0]["queryLanguage"].clone(),
            started[0]["limit"].clone(),
            started[0]["logGroupIdentifiers"].clone(),
            started[0].get("logGroupNames")
        ),
        (json!("PPL"), json!(10_000), json!([arn]), None)
    );
    assert_eq!(republished(&target, "ppl").await.len(), 30);
}

#[tokio::test]
async fn log_groups_by_arn_in_logs_insights_ql() {
    let (w, scheduled) = last_window();
    let a = source(&spread(w, 3)).await;
    let b = source(&spread(w, 4)).await;
    let target = unique("/logship/insights/arns");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let arn = |g: &str| format!("arn:aws:logs:us-east-1:123456789012:log-group:{g}");
    let spec = json!({"name": "arns", "query": "fields @timestamp, @message", "logGroups": [arn(&a), format!("{}:*", arn(&b))], "window": "5m", "scheduledTime": scheduled});
    let answer = ok(r.handle(spec, within(60)).await);
    assert_eq!(answer["queries"][0]["rows"], 7);
    assert_eq!(
        starts(&a).await[0]["logGroupIdentifiers"],
        json!([arn(&a), arn(&b)])
    );
    let mixed = json!({"name": "mixed", "query": "fields @message", "logGroups": [arn(&a), b], "window": "5m"});
    let err = r.handle(mixed, within(5)).await.result.unwrap_err();
    assert_eq!(err.error_type(), logship::failure::ErrorType::InvalidEvent);
    assert_eq!(
        err.to_string(),
        "invalid query spec: logGroups: mixes 1 ARNs with 1 names; list every log group by name or every one by ARN"
    );
}

async fn put_definition(
    name: &str,
    query: &str,
    groups: &[&str],
    parameters: &[(&str, Option<&str>)],
) -> String {
    let client = Moto::shared().client().await;
    let mut req = client.put_query_definition().name(name).query_string(query);
    for g in groups {
        req = req.log_group_names(*g);
    }
    for (p, d) in parameters {
        let mut b = aws_sdk_cloudwatchlogs::types::QueryParameter::builder().name(*p);
        if let Some(d) = d {
            b = b.default_value(*d);
        }
        req = req.parameters(b.build().unwrap());
    }
    req.send()
        .await
        .unwrap()
        .query_definition_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_saved_query_runs_by_its_exact_name_with_its_groups_and_parameters() {
    let (w, scheduled) = last_window();
    let group = source(&spread(w, 10)).await;
    let other = source(&spread(w, 2)).await;
    let name = unique("saved-errors");
    // A longer name with the same prefix, and the query proper: exact match picks the second.
    put_definition(
        &format!("{name}-by-service"),
        "fields @message",
        &[&other],
        &[],
    )
    .await;
    put_definition(
        &name,
        "fields @timestamp, @message | sort @timestamp asc | limit {{n}}",
        &[&group],
        &[("n", Some("3"))],
    )
    .await;
    let target = unique("/logship/insights/saved");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let answer = ok(r.handle(json!({"name": "saved", "queryDefinition": name, "window": "5m", "scheduledTime": scheduled}), within(60)).await);
    let q = &answer["queries"][0];
    assert_eq!(
        (q["rows"].clone(), q["queryDefinition"].clone()),
        (json!(3), json!(name)),
        "the default n = 3"
    );
    let s = &starts(&group).await[0];
    assert_eq!(
        (
            s["queryString"].clone(),
            s["logGroupNames"].clone(),
            s["queryLanguage"].clone()
        ),
        (
            json!("fields @timestamp, @message | sort @timestamp asc | limit 3"),
            json!([group]),
            json!("CWLI")
        )
    );
    let describes = Moto::shared()
        .calls(Some("DescribeQueryDefinitions"), None)
        .await;
    assert!(
        describes
            .iter()
            .any(|d| d["request"]["queryDefinitionNamePrefix"] == json!(name))
    );
    // The spec's log groups and parameter values win over the saved query's.
    let answer = ok(r.handle(json!({"name": "saved-5", "queryDefinition": name, "parameters": {"n": 5}, "logGroups": [other], "window": "5m", "scheduledTime": scheduled}), within(60)).await);
    assert_eq!(answer["queries"][0]["rows"], 2, "other holds 2 events");
    assert_eq!(
        republished(&target, "saved").await,
        ["e00000", "e00001", "e00002"]
    );
}

#[tokio::test]
async fn an_unknown_or_ambiguous_saved_query_is_an_error_naming_it() {
    let name = unique("saved-missing");
    put_definition(&format!("{name}-2"), "fields @message", &["/g"], &[]).await;
    let r = reporter(&[("TARGET_LOG_GROUP", "/logship/insights/unused")]).await;
    let o = r
        .handle(
            json!({"name": "missing", "queryDefinition": name, "window": "5m"}),
            within(10),
        )
        .await;
    let err = o.result.unwrap_err();
    assert_eq!(err.error_type(), logship::failure::ErrorType::InvalidEvent);
    assert_eq!(
        err.to_string(),
        format!(
            "1 of 1 queries failed: missing: queryDefinition: no saved query is named {name:?} (names that start so: \"{name}-2\")"
        )
    );
    assert!(starts(&name).await.is_empty());
    let twice = unique("saved-twice");
    let a = put_definition(&twice, "fields @message", &["/g"], &[]).await;
    let b = put_definition(&twice, "fields @message", &["/g"], &[]).await;
    let err = r
        .handle(
            json!({"name": "twice", "queryDefinition": twice, "window": "5m"}),
            within(10),
        )
        .await
        .result
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "queryDefinition: 2 saved queries are named {twice:?}"
        )),
        "{err}"
    );
    assert!(err.contains(&a) && err.contains(&b), "{err}");
}

#[tokio::test]
async fn forty_specs_still_running_never_exceed_query_concurrency() {
    let groups: Vec<String> = (0..40).map(|_| unique("/logship/insights/busy")).collect();
    let ids: Vec<String> = (0..40).map(|i| unique(&format!("q-busy-{i}"))).collect();
    for (g, id) in groups.iter().zip(&ids) {
        let complete = json!({"status": "Complete", "statistics": {"recordsMatched": 1.0, "recordsScanned": 1.0, "bytesScanned": 10.0},
                              "results": [[{"field": "service", "value": g}]]});
        script(
            g,
            id,
            &[
                status("Scheduled"),
                status("Running"),
                status("Running"),
                complete,
            ],
        )
        .await;
    }
    let target = unique("/logship/insights/busy-out");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let specs: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| json!({"name": format!("busy-{i}"), "query": "stats count(*) by service", "logGroups": [g], "window": "5m"}))
        .collect();
    let answer = ok(r.handle(json!({"queries": specs}), within(120)).await);
    assert_eq!(answer["queries"].as_array().unwrap().len(), 40);
    // Replay the calls in arrival order: a query runs from its StartQuery to its Complete, the
    // fourth GetQueryResults answer scripted for it.
    let (mut running, mut most) = (0, 0);
    let mut polls: std::collections::HashMap<String, u32> = Default::default();
    for c in Moto::shared().calls(None, None).await {
        match c["target"].as_str() {
            Some("StartQuery")
                if groups
                    .iter()
                    .any(|g| c["request"]["logGroupNames"] == json!([g])) =>
            {
                running += 1;
                most = most.max(running);
            }
            Some("GetQueryResults") => {
                let id = c["request"]["queryId"].as_str().unwrap_or_default();
                if ids.iter().any(|i| i == id) {
                    let n = polls.entry(id.to_string()).or_default();
                    *n += 1;
                    if *n == 4 {
                        running -= 1;
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(polls.len(), 40);
    assert!(polls.values().all(|n| *n == 4), "{polls:?}");
    assert_eq!(most, 10, "QUERY_CONCURRENCY (10) at once, never more");
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
            "invalid query spec: QUERY_NAME: required for scheduled events, but not set",
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

#[tokio::test]
async fn two_hundred_specs_start_ten_at_a_time_and_limit_exceeded_is_retried_not_stormed() {
    let (w, scheduled) = last_window();
    let group = source(&[(w.start_ms + 5, "one".into())]).await;
    Moto::shared()
        .fault(json!({"target": "StartQuery", "logGroupName": group, "status": 400, "errorType": "LimitExceededException",
                      "message": "Account maximum query concurrency limit of [100] reached.", "count": 5}))
        .await;
    let target = unique("/logship/insights/storm");
    let r = reporter(&[("TARGET_LOG_GROUP", &target)]).await;
    let specs: Vec<Value> = (0..200)
        .map(|i| json!({"name": format!("s{i:03}"), "query": "fields @timestamp, @message", "logGroups": [group], "window": "5m", "scheduledTime": scheduled}))
        .collect();
    let o = r.handle(json!({"queries": specs}), within(120)).await;
    assert_eq!((o.summary.queries, o.summary.rows), (200, 200));
    let answer = ok(o);
    assert!(
        answer["queries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["rows"] == 1)
    );
    let calls = Moto::shared().calls(None, None).await;
    let starts: Vec<&Value> = calls
        .iter()
        .filter(|c| c["target"] == "StartQuery" && c["request"]["logGroupNames"] == json!([group]))
        .collect();
    let refused = starts
        .iter()
        .filter(|c| c["errorType"] == "LimitExceededException")
        .count();
    assert_eq!(
        (starts.len(), refused),
        (205, 5),
        "one StartQuery per spec, plus one per LimitExceeded answer"
    );
    // In flight: from a StartQuery's answer to its query's (single) GetQueryResults.
    let ids: std::collections::HashSet<&str> = starts
        .iter()
        .filter_map(|c| c["queryId"].as_str())
        .collect();
    assert_eq!(ids.len(), 200);
    let (mut running, mut most) = (0i32, 0);
    for c in &calls {
        match c["target"].as_str() {
            Some("StartQuery") if c["queryId"].as_str().is_some_and(|id| ids.contains(id)) => {
                running += 1;
                most = most.max(running);
            }
            Some("GetQueryResults")
                if c["request"]["queryId"]
                    .as_str()
                    .is_some_and(|id| ids.contains(id)) =>
            {
                running -= 1
            }
            _ => {}
        }
    }
    assert!(most <= 10, "{most} queries at once");
}
