//! moto's server as CloudWatch Logs, behind `tests/support/moto_server.py`, which adds a strict
//! middleware (PutLogEvents rules moto does not enforce) and `GET /_logship/stats`.
//!
//! The script's contract: its first stdout line is exactly `LISTENING http://127.0.0.1:PORT`,
//! and it exits when its stdin closes. The second part is what stops the shared server: statics
//! are never dropped, but the kernel closes our end of the pipe when the test process exits,
//! however it exits.

use std::{
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use aws_config::Region;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::{Client, config::Credentials, error::DisplayErrorContext};
use hyper::Method;
use serde_json::Value;

pub use crate::unique;
use crate::{capture::Capture, http};

/// How long the emulator may take to print its LISTENING line (it answers in ~1 s when idle).
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// A running emulator. Non-static instances are stopped on drop.
pub struct Moto {
    child: Mutex<Child>,
    /// Held only so the script's stdin stays open: closing it is the script's signal to exit.
    stdin: Mutex<Option<ChildStdin>>,
    endpoint: String,
    /// Kept draining so the emulator never blocks on a full pipe; bounded.
    _stdout: Capture,
    stderr: Capture,
}

impl Moto {
    /// Starts a fresh emulator (`$LOGSHIP_PYTHON` or `<workspace>/.venv/bin/python`) and waits
    /// for it to listen. Panics, with what the script said on stderr, if it does not within
    /// 30 s: a missing emulator is a failure, never a skip.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// [`Moto::start`] with extra environment for the emulator, e.g.
    /// `INITIAL_NO_AUTH_ACTION_COUNT`: after that many calls moto checks every request's
    /// SigV4 signature and the caller's IAM policies.
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let root = crate::workspace_root();
        let python = python();
        let script = root.join("tests/support/moto_server.py");
        if python.components().count() > 1 && !python.exists() {
            panic!(
                "no Python at {}: create the venv (python3 -m venv .venv && .venv/bin/pip install \
                 -r requirements-dev.txt, or `make venv`) or set LOGSHIP_PYTHON",
                python.display()
            );
        }
        assert!(
            script.is_file(),
            "the emulator script {} is missing",
            script.display()
        );
        let mut child = Command::new(&python)
            .arg(&script)
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("PYTHONUNBUFFERED", "1")
            // boto3 (inside moto) wants AWS_DEFAULT_REGION; keep the developer's setup out.
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL")
            .envs(env.iter().copied())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start the emulator: {} {}: {e}",
                    python.display(),
                    script.display()
                )
            });
        let stdin = child.stdin.take();
        let stdout = Capture::start(
            child.stdout.take().expect("piped stdout"),
            "moto stdout".into(),
            Some(1_000),
        );
        let stderr = Capture::start(
            child.stderr.take().expect("piped stderr"),
            "moto stderr".into(),
            Some(1_000),
        );

        let started = Instant::now();
        let endpoint = loop {
            if let Some(first) = stdout.lines().into_iter().next() {
                match first.strip_prefix("LISTENING ") {
                    Some(url) if url.starts_with("http://127.0.0.1:") => break url.to_owned(),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!(
                            "the emulator's first stdout line should be `LISTENING \
                             http://127.0.0.1:PORT`, it was {first:?}; stderr:\n{}",
                            stderr.tail(60).join("\n")
                        );
                    }
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the emulator ({} {}) exited before listening ({status}); stderr:\n{}",
                    python.display(),
                    script.display(),
                    stderr.tail(60).join("\n")
                );
            }
            if started.elapsed() > STARTUP_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the emulator did not print LISTENING within {STARTUP_LIMIT:?}; stderr:\n{}",
                    stderr.tail(60).join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        Moto {
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            endpoint,
            _stdout: stdout,
            stderr,
        }
    }

    /// One emulator per test binary, started on first use. Tests share it, so each uses its own
    /// log group names (see [`crate::unique`]) and never resets it.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// `http://127.0.0.1:PORT`, for the SDK and for the functions' `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The emulator's latest stderr lines (request log, tracebacks), for failure messages.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        self.stderr.tail(n)
    }

    /// A CloudWatch Logs client for the emulator, configured as the functions configure theirs
    /// (`logship::aws::config_loader`: one hyper + rustls/ring client, SDK retries off) plus
    /// dummy static credentials, us-east-1 and the emulator's endpoint. Build one per test: its
    /// connection pool lives on the runtime that first uses it, and each `#[tokio::test]` has
    /// its own runtime.
    pub async fn client(&self) -> Client {
        let config = logship::aws::config_loader()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(self.endpoint())
            .load()
            .await;
        Client::new(&config)
    }

    /// `GET /_logship/stats[?logGroupName=..]`: `{"violations": [...], "putLogEvents":
    /// [{"logGroupName","logStreamName","events","bytes","status"}], "calls": [...]}` as
    /// recorded by the strict middleware (see [`Moto::calls`] for `calls`).
    pub async fn stats(&self, log_group: Option<&str>) -> Value {
        self.stats_where(&[("logGroupName", log_group)]).await
    }

    /// The API calls the emulator answered, in arrival order (`GET
    /// /_logship/stats[?target=..][&logGroupName=..]`, its `calls`): each `{"target":
    /// "StopQuery", "request": {..the JSON request body..}, "status": 200, "errorType": null,
    /// "faulted": false, "arrivedMs": .., "answeredMs": ..}` (see [`most_in_flight`]), a
    /// PutLogEvents `request` with `"logEvents"` replaced by its count, and
    /// `faulted` true when a scripted fault shaped the answer. `target` keeps one operation
    /// (`StopQuery`, or a full X-Amz-Target); `log_group` keeps the calls whose `logGroupName`
    /// is it or whose `logGroupNames` / `logGroupIdentifiers` hold it (so not GetQueryResults or
    /// StopQuery, which carry only a `queryId`: filter those by target and `request.queryId`).
    pub async fn calls(&self, target: Option<&str>, log_group: Option<&str>) -> Vec<Value> {
        let stats = self
            .stats_where(&[("target", target), ("logGroupName", log_group)])
            .await;
        match stats.get("calls") {
            Some(Value::Array(calls)) => calls.clone(),
            _ => panic!("stats without a `calls` array: {stats}"),
        }
    }

    /// `GET /_logship/stats` with the given query parameters (those that are `Some`).
    async fn stats_where(&self, filters: &[(&str, Option<&str>)]) -> Value {
        let query: Vec<String> = filters
            .iter()
            .filter_map(|(name, value)| {
                value.map(|v| format!("{name}={}", http::encode_query_value(v)))
            })
            .collect();
        let path = if query.is_empty() {
            "/_logship/stats".to_owned()
        } else {
            format!("/_logship/stats?{}", query.join("&"))
        };
        let reply = http::request(&self.endpoint, Method::GET, &path, b"").await;
        let body = String::from_utf8_lossy(&reply.body);
        assert!(
            reply.status.is_success(),
            "GET {}{path}: {}: {body}",
            self.endpoint,
            reply.status
        );
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {}{path}: not JSON ({e}): {body}", self.endpoint))
    }

    /// Scripts the next response(s) of an operation (`POST /_logship/faults`), e.g.
    /// `{"target": "PutLogEvents", "status": 400, "errorType": "ThrottlingException",
    /// "count": 3, "logGroupName": G}`, or a 200 answered without moto:
    /// `{"target": "GetQueryResults", "status": 200, "body": {"status": "Running", ..},
    /// "match": {"queryId": Q}}` (`match`: request fields that must be equal, or held by a
    /// list field). Always scope it with `logGroupName` (which also matches StartQuery's
    /// `logGroupNames` / `logGroupIdentifiers`) or a `match` on an id only your test knows: the
    /// server is shared. Returns the faults still pending; panics if the spec is refused.
    pub async fn fault(&self, spec: Value) -> Value {
        let reply = http::request(
            &self.endpoint,
            Method::POST,
            "/_logship/faults",
            spec.to_string().as_bytes(),
        )
        .await;
        let body = String::from_utf8_lossy(&reply.body);
        assert!(
            reply.status.is_success(),
            "POST /_logship/faults {spec}: {}: {body}",
            reply.status
        );
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("POST /_logship/faults: not JSON ({e}): {body}"))
    }

    /// Adds a modelled round trip (`POST /_logship/latency`), e.g. `{"baseMs": 30, "perMbMs":
    /// 10, "target": "PutLogEvents", "logGroupName": G}`: each matching call is answered after
    /// 30 ms + 10 ms per MB of its body, concurrent calls overlapping as in AWS. Always scope it
    /// to a group only your test writes: the server is shared, and rules are never removed
    /// (removing them all would take another test's away).
    pub async fn latency(&self, spec: Value) {
        assert!(
            spec.get("logGroupName").is_some_and(Value::is_string),
            "scope a latency rule to a group of your own: {spec}"
        );
        let reply = http::request(
            &self.endpoint,
            Method::POST,
            "/_logship/latency",
            spec.to_string().as_bytes(),
        )
        .await;
        assert!(
            reply.status.is_success(),
            "POST /_logship/latency {spec}: {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }

    /// Puts `(timestamp, message)` events into `group`/`stream` (which must exist), sorted and
    /// in requests within PutLogEvents' limits (10,000 events, 1 MiB): test data for the
    /// functions to find.
    pub async fn put(&self, group: &str, stream: &str, events: &[(i64, String)]) {
        let client = self.client().await;
        let mut sorted = events.to_vec();
        sorted.sort_by_key(|e| e.0);
        let mut chunks = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, (_, m)) in sorted.iter().enumerate() {
            let size = m.len() + 26;
            if i - start == 10_000 || bytes + size > 1_048_576 {
                chunks.push(&sorted[start..i]);
                (start, bytes) = (i, 0);
            }
            bytes += size;
        }
        chunks.push(&sorted[start..]);
        for chunk in chunks.into_iter().filter(|c| !c.is_empty()) {
            let batch = chunk
                .iter()
                .map(|(t, m)| {
                    InputLogEvent::builder()
                        .timestamp(*t)
                        .message(m)
                        .build()
                        .unwrap()
                })
                .collect();
            client
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(batch))
                .send()
                .await
                .unwrap();
        }
    }

    /// Creates `group` and its `streams` (a test that scripts faults on their writes wants them
    /// in place first, so the faults meet PutLogEvents rather than the creation path).
    pub async fn create(&self, group: &str, streams: &[&str]) {
        let client = self.client().await;
        client
            .create_log_group()
            .log_group_name(group)
            .send()
            .await
            .unwrap();
        for s in streams {
            client
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(*s)
                .send()
                .await
                .unwrap();
        }
    }

    /// Panics, listing them, if the strict middleware saw any PutLogEvents rule broken for
    /// `log_group` (batch size, event size, span, order...).
    pub async fn assert_no_violations(&self, log_group: &str) {
        let stats = self.stats(Some(log_group)).await;
        let all = stats["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("stats without a `violations` array: {stats}"));
        // The server filters by group already; this also holds if it ever does not.
        let mine: Vec<&Value> = all
            .iter()
            .filter(|v| {
                v.get("logGroupName")
                    .and_then(Value::as_str)
                    .is_none_or(|g| g == log_group)
            })
            .collect();
        assert!(
            mine.is_empty(),
            "{} PutLogEvents violation(s) in {log_group}:\n{}",
            mine.len(),
            serde_json::to_string_pretty(&mine).unwrap_or_default()
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // EOF first (the script's own way out), then make sure.
        drop(self.stdin.get_mut().map(Option::take));
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The Python that runs the emulator and the support scripts: `$LOGSHIP_PYTHON` (a path, or a
/// name looked up on PATH) or `<workspace>/.venv/bin/python`.
pub fn python() -> PathBuf {
    std::env::var_os("LOGSHIP_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join(".venv/bin/python"))
}

/// The tags of the resource `arn` (ListTagsForResource), by key.
pub async fn tags_of(client: &Client, arn: &str) -> std::collections::BTreeMap<String, String> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListTagsForResource {arn}: {}", DisplayErrorContext(&e)));
    out.tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Every event of a stream, oldest first, as `(timestamp ms, message)`: GetLogEvents from the
/// head, following `nextForwardToken` until it comes back unchanged (the documented end).
pub async fn read_all(client: &Client, group: &str, stream: &str) -> Vec<(i64, String)> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    // A bound, so a misbehaving emulator fails the test instead of hanging it.
    for _ in 0..10_000 {
        let page = client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "GetLogEvents {group} / {stream}: {}",
                    DisplayErrorContext(&e)
                )
            });
        events.extend(page.events().iter().map(|e| {
            (
                e.timestamp().unwrap_or_default(),
                e.message().unwrap_or_default().to_owned(),
            )
        }));
        let next = page.next_forward_token().map(str::to_owned);
        if next.is_none() || next == token {
            return events;
        }
        token = next;
    }
    panic!("GetLogEvents {group} / {stream}: still paging after 10,000 pages");
}

/// The most calls in flight at once among `calls` (records of [`Moto::calls`], with their
/// `arrivedMs` and `answeredMs`): a call answered exactly when another arrives does not overlap
/// it.
pub fn most_in_flight(calls: &[Value]) -> usize {
    let ms = |c: &Value, k: &str| {
        c[k].as_f64()
            .unwrap_or_else(|| panic!("a call record without {k}: {c}"))
    };
    // +1 at arrival, -1 at answer; answers first among equal times.
    let mut edges: Vec<(f64, i32)> = calls
        .iter()
        .flat_map(|c| [(ms(c, "arrivedMs"), 1), (ms(c, "answeredMs"), -1)])
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }

    #[tokio::test]
    async fn round_trip_stats_and_faults() {
        let moto = Moto::shared();
        assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
        let client = moto.client().await;
        let group = unique("/logship/selftest");
        moto.create(&group, &["s"]).await;
        assert!(read_all(&client, &group, "s").await.is_empty());

        // More than one GetLogEvents page (moto pages at 10,000), to exercise the token loop.
        let now = now_ms();
        let n = 10_500;
        for chunk in (0..n).collect::<Vec<i64>>().chunks(5_000) {
            let events = chunk
                .iter()
                .map(|i| {
                    InputLogEvent::builder()
                        .timestamp(now - n + i)
                        .message(format!("event {i}"))
                        .build()
                        .unwrap()
                })
                .collect();
            client
                .put_log_events()
                .log_group_name(&group)
                .log_stream_name("s")
                .set_log_events(Some(events))
                .send()
                .await
                .unwrap();
        }
        let all = read_all(&client, &group, "s").await;
        assert_eq!(all.len(), n as usize);
        assert_eq!(all[0], (now - n, "event 0".to_string()));
        assert_eq!(all[10_499].1, "event 10499");

        let stats = moto.stats(Some(&group)).await;
        let puts = stats["putLogEvents"].as_array().unwrap();
        assert_eq!(puts.len(), 3, "{stats}");
        assert_eq!(puts[0]["events"], 5_000);
        moto.assert_no_violations(&group).await;

        // A scripted fault answers the next PutLogEvents of this group only.
        moto.fault(json!({"target": "PutLogEvents", "logGroupName": group,
                          "status": 400, "errorType": "ThrottlingException", "count": 1}))
            .await;
        let err = client
            .put_log_events()
            .log_group_name(&group)
            .log_stream_name("s")
            .log_events(
                InputLogEvent::builder()
                    .timestamp(now)
                    .message("x")
                    .build()
                    .unwrap(),
            )
            .customize()
            .config_override(
                aws_sdk_cloudwatchlogs::Config::builder()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .unwrap_err();
        assert!(
            DisplayErrorContext(&err)
                .to_string()
                .contains("ThrottlingException"),
            "{}",
            DisplayErrorContext(&err)
        );
    }

    #[tokio::test]
    async fn scripted_insights_answers_and_the_call_log() {
        let moto = Moto::shared();
        let client = moto.client().await;
        let group = unique("/logship/selftest-insights");
        moto.create(&group, &[]).await;
        let query_id = format!("q-{group}-1");
        let started_body = json!({"queryId": query_id});
        moto.fault(json!({"target": "StartQuery", "logGroupName": group,
                          "status": 200, "body": started_body}))
            .await;
        let statistics = json!({"recordsMatched": 0, "recordsScanned": 10, "bytesScanned": 100});
        let running_body = json!({"status": "Running", "results": [], "statistics": statistics});
        let only_mine = json!({"queryId": query_id});
        moto.fault(json!({"target": "GetQueryResults", "match": only_mine,
                          "status": 200, "body": running_body}))
            .await;

        let started = client
            .start_query()
            .log_group_identifiers(&group)
            .start_time(now_ms() / 1000 - 3600)
            .end_time(now_ms() / 1000)
            .query_string("fields @timestamp, @message")
            .send()
            .await
            .unwrap();
        assert_eq!(started.query_id(), Some(query_id.as_str()));
        let running = client
            .get_query_results()
            .query_id(&query_id)
            .send()
            .await
            .unwrap();
        assert_eq!(running.status().map(|s| s.as_str()), Some("Running"));
        assert_eq!(
            running.statistics().map(|s| s.records_scanned()),
            Some(10.0)
        );
        // moto has no StopQuery; the front answers it.
        let stopped = client
            .stop_query()
            .query_id(&query_id)
            .send()
            .await
            .unwrap();
        assert!(stopped.success());

        let mine = moto.calls(None, Some(&group)).await;
        let targets: Vec<&str> = mine.iter().filter_map(|c| c["target"].as_str()).collect();
        assert_eq!(targets, ["CreateLogGroup", "StartQuery"], "{mine:?}");
        assert_eq!(mine[1]["faulted"], true);
        assert_eq!(mine[1]["request"]["logGroupIdentifiers"], json!([group]));
        let stops: Vec<Value> = moto
            .calls(Some("StopQuery"), None)
            .await
            .into_iter()
            .filter(|c| c["request"]["queryId"] == query_id.as_str())
            .map(|mut c| {
                // When it arrived and was answered: in order, then set aside.
                let (arrived, answered) = (c["arrivedMs"].as_f64(), c["answeredMs"].as_f64());
                assert!(arrived.is_some() && arrived <= answered, "{c}");
                let times = c.as_object_mut().unwrap();
                times.remove("arrivedMs");
                times.remove("answeredMs");
                c
            })
            .collect();
        assert_eq!(
            stops,
            [
                json!({"target": "StopQuery", "request": {"queryId": query_id}, "status": 200,
                    "errorType": null, "faulted": false})
            ]
        );
    }

    #[tokio::test]
    async fn violations_fail_the_assertion() {
        let moto = Moto::shared();
        let client = moto.client().await;
        let group = unique("/logship/selftest-violation");
        moto.create(&group, &["s"]).await;
        // An empty batch: moto would accept it, AWS refuses it.
        let _ = client
            .put_log_events()
            .log_group_name(&group)
            .log_stream_name("s")
            .set_log_events(Some(vec![]))
            .send()
            .await;
        let failed = tokio::spawn(async move { Moto::shared().assert_no_violations(&group).await })
            .await
            .unwrap_err();
        assert!(failed.is_panic());
    }

    #[test]
    fn a_private_instance_stops_on_drop() {
        let moto = Moto::start();
        let pid = moto.child.lock().unwrap().id();
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        drop(moto);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
