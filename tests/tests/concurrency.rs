//! The writer at the service's real latency: requests of one stream and of many in flight
//! together under one bound (`WRITE_CONCURRENCY`), fewer while the service throttles, a missing
//! group or stream created once. Through the real SDK, against the emulator with its latency
//! model (`Moto::latency`): each test's PutLogEvents take a modelled round trip, so requests
//! that are sent together are seen in flight together (the front records when each call
//! arrived and when it was answered). No test here times anything: they count calls and what
//! overlapped, and that every event was written exactly once.

use std::time::{Duration, Instant};

use logship::batch::LogEvent;
use logship::retry::{Backoff, Deadline};
use logship::writer::{Session, StreamBatch, WriteContext, WriteReport, Writer, WriterOptions};
use logship_tests::moto::most_in_flight;
use logship_tests::payloads::now_ms;
use logship_tests::{Moto, read_all, unique};
use serde_json::{Value, json};

async fn writer(concurrency: usize) -> Writer {
    let options = WriterOptions {
        write_concurrency: concurrency,
        ..WriterOptions::default()
    };
    // A client of its own (its own connection pool), sized as a function sizes it.
    let config = logship::aws::config_loader_for(concurrency)
        .endpoint_url(Moto::shared().endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    let client = aws_sdk_cloudwatchlogs::Client::new(&config);
    Writer::new(client, options).with_backoff(Backoff {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(100),
    })
}

fn ctx() -> WriteContext {
    WriteContext {
        now_ms: now_ms(),
        deadline: Deadline::after(Duration::from_secs(60)),
    }
}

/// `n` events of 1,000 bytes (1,026 as the quota counts them: 1,022 fill a request), one
/// millisecond apart, each naming its index.
fn events(n: usize, origin: u32) -> Vec<LogEvent> {
    numbered(now_ms() - n as i64, 0..n, origin)
}

/// Events `range` of such a sequence, event `i` at `t0 + i` milliseconds.
fn numbered(t0: i64, range: std::ops::Range<usize>, origin: u32) -> Vec<LogEvent> {
    range
        .map(|i| LogEvent {
            timestamp: t0 + i as i64,
            message: format!("event {i:06} {}", "x".repeat(987)).into(),
            origin,
        })
        .collect()
}

fn batch(group: &str, stream: &str, events: Vec<LogEvent>) -> StreamBatch {
    StreamBatch {
        group: group.into(),
        stream: stream.into(),
        events,
        source_tags: None,
    }
}

async fn puts(group: &str) -> Vec<serde_json::Value> {
    Moto::shared()
        .calls(Some("PutLogEvents"), Some(group))
        .await
}

/// Every event read back once, in order.
async fn assert_read_back(group: &str, stream: &str, n: usize) {
    let got = read_all(&Moto::shared().client().await, group, stream).await;
    assert_eq!(got.len(), n, "{group}/{stream}");
    for (i, (_, m)) in got.iter().enumerate() {
        assert!(
            m.starts_with(&format!("event {i:06} ")),
            "event {i} is {m:.20}"
        );
    }
}

fn assert_all_written(r: &WriteReport, n: u64) {
    assert_eq!(
        (r.written, r.failed, r.rejected.total(), r.error.as_ref()),
        (n, 0, 0, None),
        "{r:#?}"
    );
}

#[tokio::test]
async fn one_streams_requests_are_in_flight_together() {
    let moto = Moto::shared();
    let group = unique("/logship/concurrency/one-stream");
    moto.create(&group, &["s"]).await;
    moto.latency(json!({"baseMs": 150, "target": "PutLogEvents", "logGroupName": group}))
        .await;
    // 6,000 events of 1,000 bytes: 6 requests of at most 1 MiB.
    let w = writer(8).await;
    let report = w
        .write_all(vec![batch(&group, "s", events(6_000, 0))], ctx())
        .await;
    assert_all_written(&report, 6_000);
    let calls = puts(&group).await;
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert_eq!(report.requests, 6);
    assert_eq!(
        most_in_flight(&calls),
        6,
        "all six requests of the stream in flight at once"
    );
    assert_read_back(&group, "s", 6_000).await;
    moto.assert_no_violations(&group).await;
}

#[tokio::test]
async fn write_concurrency_bounds_every_request_of_a_write_across_streams() {
    let moto = Moto::shared();
    for (limit, group) in [
        (3, unique("/logship/concurrency/bound-3")),
        (8, unique("/logship/concurrency/bound-8")),
    ] {
        let streams: Vec<String> = (0..12).map(|i| format!("s{i:02}")).collect();
        let names: Vec<&str> = streams.iter().map(String::as_str).collect();
        moto.create(&group, &names).await;
        moto.latency(json!({"baseMs": 60, "target": "PutLogEvents", "logGroupName": group}))
            .await;
        // 12 streams of 2 requests each (2,000 events of 1,000 bytes): 24 requests.
        let batches = streams
            .iter()
            .enumerate()
            .map(|(i, s)| batch(&group, s, events(2_000, i as u32)))
            .collect();
        let w = writer(limit).await;
        let report = w.write_all(batches, ctx()).await;
        assert_all_written(&report, 12 * 2_000);
        let calls = puts(&group).await;
        assert_eq!(calls.len(), 24);
        assert_eq!(
            most_in_flight(&calls),
            limit,
            "WRITE_CONCURRENCY {limit}: never more in flight, and reached"
        );
        for s in &streams {
            assert_read_back(&group, s, 2_000).await;
        }
        moto.assert_no_violations(&group).await;
    }
}

#[tokio::test]
async fn a_missing_group_and_its_streams_are_each_created_once() {
    let moto = Moto::shared();
    let group = unique("/logship/concurrency/create-once");
    moto.latency(json!({"baseMs": 80, "target": "PutLogEvents", "logGroupName": group}))
        .await;
    // Three streams of a group that does not exist, 4 requests each (4,000 events of 1,000
    // bytes): 12 requests, 8 of them sent at once to meet ResourceNotFound.
    let batches = (0..3)
        .map(|i| batch(&group, &format!("s{i}"), events(4_000, i)))
        .collect();
    let w = writer(8).await;
    let report = w.write_all(batches, ctx()).await;
    assert_all_written(&report, 3 * 4_000);
    assert_eq!((report.created_groups, report.created_streams), (1, 3));
    let creates = |op: &'static str| {
        let group = group.clone();
        async move { moto.calls(Some(op), Some(&group)).await }
    };
    let groups = creates("CreateLogGroup").await;
    assert_eq!(groups.len(), 1, "CreateLogGroup once: {groups:?}");
    let streams = creates("CreateLogStream").await;
    // Each stream: the first CreateLogStream meets the missing group, the second creates it.
    for s in ["s0", "s1", "s2"] {
        let mine: Vec<_> = streams
            .iter()
            .filter(|c| c["request"]["logStreamName"] == s)
            .collect();
        assert!(
            (1..=2).contains(&mine.len()),
            "CreateLogStream {s} once (after one ResourceNotFound for the group at most): {mine:?}"
        );
        assert_eq!(mine.last().unwrap()["status"], 200, "{mine:?}");
    }
    let calls = puts(&group).await;
    let missing = calls
        .iter()
        .filter(|c| c["errorType"] == "ResourceNotFoundException")
        .count();
    assert!(missing >= 3, "each stream met ResourceNotFound: {calls:?}");
    assert_eq!(
        calls.len() - missing,
        12,
        "then each request was sent once more"
    );
    for s in ["s0", "s1", "s2"] {
        assert_read_back(&group, s, 4_000).await;
    }
    moto.assert_no_violations(&group).await;
}

#[tokio::test]
async fn throttling_halves_the_requests_in_flight_and_every_event_is_still_written_once() {
    let moto = Moto::shared();
    let group = unique("/logship/concurrency/throttled");
    moto.create(&group, &["s"]).await;
    // A round trip long enough that requests let through together overlap even when the
    // machine is busy (at 60 ms, a loaded CI machine once spread the 4 let through after the
    // halving so that only 3 overlapped).
    moto.latency(json!({"baseMs": 200, "target": "PutLogEvents", "logGroupName": group}))
        .await;
    // The first 8 requests, sent together, are throttled together: one burst, one halving.
    moto.fault(
        json!({"target": "PutLogEvents", "logGroupName": group, "count": 8,
                      "errorType": "ThrottlingException"}),
    )
    .await;
    // 12,000 events of 1,000 bytes: 12 requests.
    let w = writer(8).await;
    let report = w
        .write_all(vec![batch(&group, "s", events(12_000, 0))], ctx())
        .await;
    assert_all_written(&report, 12_000);
    assert_eq!(report.throttles, 8);
    assert_eq!(report.requests, 12);
    assert_eq!(
        w.concurrency().lowest(),
        4,
        "one burst of throttling halves the limit once"
    );
    let calls = puts(&group).await;
    let throttled: Vec<_> = calls.iter().filter(|c| c["faulted"] == true).collect();
    assert_eq!(throttled.len(), 8);
    // After the burst, fewer in flight: 4, growing by one after 4 successes and by one more
    // after 5 (12 successes in all): never more than 6 of the requests that arrived after the
    // last throttling answer overlapped.
    let last_throttle = throttled
        .iter()
        .map(|c| c["answeredMs"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let after: Vec<_> = calls
        .iter()
        .filter(|c| c["arrivedMs"].as_f64().unwrap() > last_throttle)
        .cloned()
        .collect();
    assert_eq!(
        after.len(),
        12,
        "every request sent again, or for the first time"
    );
    let most = most_in_flight(&after);
    assert!(
        (4..=6).contains(&most),
        "4 to 6 in flight after the halving: {most}"
    );
    assert_read_back(&group, "s", 12_000).await;
    moto.assert_no_violations(&group).await;
}

/// Pumps `session` as a function does between records, until the front has answered `n`
/// PutLogEvents of `group`; returns those calls.
async fn pump_until_answered(session: &mut Session<'_>, group: &str, n: usize) -> Vec<Value> {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        session.pump().await;
        let calls = puts(group).await;
        if calls.len() >= n {
            return calls;
        }
        assert!(
            Instant::now() < give_up,
            "{} of {n} requests answered after 30 s of pumping",
            calls.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_sessions_whole_requests_leave_while_its_input_is_read_and_the_rest_waits() {
    let moto = Moto::shared();
    let group = unique("/logship/concurrency/session");
    moto.create(&group, &["s"]).await;
    moto.latency(json!({"baseMs": 80, "target": "PutLogEvents", "logGroupName": group}))
        .await;
    let w = writer(8).await;
    let t0 = now_ms() - 10_000;
    let mut session = w.session(ctx());
    // A first record: 2,500 events, two whole requests (1,022 each) and 456 over.
    session.add(batch(&group, "s", numbered(t0, 0..2_500, 0)));
    let calls = pump_until_answered(&mut session, &group, 2).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        most_in_flight(&calls),
        2,
        "the two whole requests in flight together"
    );
    // What did not fill a request stays, however long the input takes.
    for _ in 0..10 {
        session.pump().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        puts(&group).await.len(),
        2,
        "456 events do not make a request"
    );
    // A second record: 1,000 more (1,456 waiting): one whole request leaves.
    session.add(batch(&group, "s", numbered(t0, 2_500..3_500, 1)));
    pump_until_answered(&mut session, &group, 3).await;
    // The end of the input: the 434 left go in one request, the fewest for 3,500 events.
    let report = session.finish().await;
    assert_all_written(&report, 3_500);
    assert_eq!(report.requests, 4);
    assert_eq!(puts(&group).await.len(), 4);
    assert_read_back(&group, "s", 3_500).await;
    moto.assert_no_violations(&group).await;
}

#[tokio::test]
async fn a_later_part_reaching_back_to_an_earlier_parts_milliseconds_is_sent_after_it() {
    let moto = Moto::shared();
    let group = unique("/logship/concurrency/session-order");
    moto.create(&group, &["s"]).await;
    moto.latency(json!({"baseMs": 150, "target": "PutLogEvents", "logGroupName": group}))
        .await;
    let w = writer(8).await;
    let t0 = now_ms() - 10_000;
    let mut session = w.session(ctx());
    // 2,100 events: two whole requests leave (to t0 + 2,043), 56 stay.
    session.add(batch(&group, "s", numbered(t0, 0..2_100, 0)));
    session.pump().await;
    // Before they are answered, a second record brings 1,100 events of the milliseconds the
    // first requests hold (t0 + 100 on): the whole request they make must arrive after.
    let mut late = numbered(t0, 100..1_200, 1);
    for e in &mut late {
        e.message = format!("late {}", e.message.text()).into();
    }
    session.add(batch(&group, "s", late));
    session.pump().await;
    let report = session.finish().await;
    assert_all_written(&report, 3_200);
    let mut calls = puts(&group).await;
    assert_eq!(calls.len(), 4, "{calls:?}");
    let ms = |c: &Value, k: &str| c[k].as_f64().unwrap();
    calls.sort_by(|a, b| ms(a, "arrivedMs").total_cmp(&ms(b, "arrivedMs")));
    assert!(
        ms(&calls[2], "arrivedMs") >= ms(&calls[0], "answeredMs").max(ms(&calls[1], "answeredMs")),
        "the late part was sent while the parts it reaches back to were in flight: {calls:?}"
    );
    let got = read_all(&moto.client().await, &group, "s").await;
    assert_eq!(got.len(), 3_200);
    // Of each millisecond, the event of the first record before the late one.
    for pair in got.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert!(
                pair[1].1.starts_with("late ") && !pair[0].1.starts_with("late "),
                "{:.20} then {:.20}",
                pair[0].1,
                pair[1].1
            );
        }
    }
    moto.assert_no_violations(&group).await;
}

#[tokio::test]
async fn once_a_sessions_request_is_refused_for_good_nothing_more_of_its_stream_is_sent() {
    let moto = Moto::shared();
    let group = unique("/logship/concurrency/session-stop");
    moto.create(&group, &["s", "t"]).await;
    moto.fault(
        json!({"target": "PutLogEvents", "logGroupName": group, "status": 400,
                      "errorType": "AccessDeniedException", "count": 1}),
    )
    .await;
    let w = writer(8).await;
    let t0 = now_ms() - 10_000;
    let mut session = w.session(ctx());
    // Two whole requests of `s` leave together; one is refused, the other written.
    session.add(batch(&group, "s", numbered(t0, 0..2_500, 0)));
    let give_up = Instant::now() + Duration::from_secs(30);
    while session.finished().error.is_none() {
        assert!(Instant::now() < give_up, "the refusal not heard in 30 s");
        session.pump().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Heard: another whole request's worth of `s`, and its rest, are never sent; `t` still is.
    session.add(batch(&group, "s", numbered(t0, 2_500..3_500, 1)));
    session.add(batch(&group, "t", numbered(t0, 0..10, 2)));
    session.pump().await;
    let report = session.finish().await;
    assert_eq!(
        (report.written, report.failed, report.requests),
        (1_022 + 10, 3_500 - 1_022, 2),
        "{report:#?}"
    );
    assert_eq!(report.failed_origins, [0, 1].into(), "{report:#?}");
    assert!(
        report
            .error
            .as_ref()
            .is_some_and(|e| e.to_string().contains("AccessDenied")),
        "{report:#?}"
    );
    let calls = moto.calls(Some("PutLogEvents"), Some(&group)).await;
    let to = |s: &str| {
        calls
            .iter()
            .filter(|c| c["request"]["logStreamName"] == s)
            .count()
    };
    assert_eq!((to("s"), to("t")), (2, 1), "{calls:?}");
    assert_eq!(
        read_all(&moto.client().await, &group, "s").await.len(),
        1_022
    );
}
