//! The process-level figures of the performance work (issue 6): cold start, peak RSS, the
//! Firehose path through the real binary, artifact sizes. The in-process pipeline MB/s are the
//! criterion bench's (`cargo bench -p logship --bench pipeline`); budgets are checked by
//! `bench/run.sh`, not here: this prints figures, one per line, `name value unit`.
//!
//! ```sh
//! cargo build --release --bins
//! LOGSHIP_BIN_DIR=target/release cargo run --release -p logship-tests --example measure -- all
//! ```
//!
//! What: `cold-start`, `rss`, `firehose`, `python-firehose`, `sizes` or `all` (the default:
//! all but `python-firehose`), several allowed.
//! Options: `--runs N` (cold starts per function, 5), `--rounds N` (Firehose rounds, 5),
//! `--records N` (Firehose records per invocation, 4). Progress and notes go to stderr.
//!
//! - **cold start**: from just before the process is spawned to the first `GET /next` the
//!   Runtime API receives, per function, each run a fresh process and Runtime API; the
//!   functions get their required variables and an endpoint nothing listens on (init makes no
//!   call). Also `subscription-receiver-target-role`: the receiver with `TARGET_ROLE_ARN` and
//!   `TARGET_REGION` set, whose role is assumed at the first write, not at init.
//! - **rss**: the `subscription-receiver` shipping one direct delivery whose event is just under
//!   the 1 MB asynchronous payload limit (made by `bench/gen_payloads.py`, so its timestamps
//!   are fresh) to the emulator; `VmHWM` after init and after the invocation. Then the same
//!   payload in a second process whose `INCLUDE_PATTERN` keeps nothing: the decoding (and
//!   filtering) part of the peak, without the SDK and the requests.
//! - **firehose**: the `subscription-receiver` answering Firehose transformation events built
//!   from `target/bench-payloads` (20 × 2,000 events of `bench/gen_payloads.py`, generated if
//!   missing or older than the generator), `--records` payloads per event; one warm-up
//!   invocation, then `--rounds` rounds over every event. MB/s of decompressed JSON over the
//!   wall time of the invoke round trips (event bytes out, answer bytes back; the answers are
//!   parsed and checked after the clock stops), over Lambda's billed duration (event handed out
//!   on `/next` → answer fully received), and over the function's own CPU time
//!   (`/proc/<pid>/stat`).
//! - **python-firehose**: the same, figures named `python_firehose.*`, with the function being
//!   `bench/python_firehose.py --lambda` (`python3` from `PATH`): the Python implementation of
//!   the transformation as a Python Lambda runs it, timed by the same harness in the same way.
//! - **latency**: shipping at the service's real latency. The emulator's latency model answers
//!   each PutLogEvents of the run's group after `BENCH_LATENCY_BASE_MS` (30) + `BENCH_LATENCY_PER_MB_MS`
//!   (10) per MB of its body, concurrent calls overlapping, as a sink (answered without moto,
//!   whose work, one call at a time, would be timed as waiting; the tests check what is
//!   written, the bench how long it takes); the `subscription-receiver` ships
//!   `direct_1mb` (the ~1 MB direct delivery of `rss`), the same with `MESSAGE_FORMAT=envelope`,
//!   `kinesis_12` (a Kinesis batch of 12 records from 12 source streams, the first 12 of
//!   `target/bench-payloads`) and `kinesis_shared` (the 20 payloads as the records of 2 source
//!   streams in turn, each stream's events in time order across its records: records that share
//!   their streams, whose whole requests leave while the next records are decoded). Each case: one warm-up invocation, then
//!   `--rounds` timed ones; the median billed duration (event handed out on `/next` → answer
//!   received), the function's CPU time per invocation, and the requests and bytes the emulator
//!   accepted. Then each case again with a round trip of 0 (`.local`): what the delivery costs
//!   when the network is free. Figures `latency.<case>.{modelled,local}.*`.
//! - **python-latency**: the same cases with the latency model, the function being
//!   `bench/python_writer.py --lambda` (boto3, one request after another): `python_latency.*`.
//! - **tls**: what a fresh connection costs the first request, in this process through the
//!   SDK client the functions use (hyper + rustls/ring): `bench/tls_server.py` answers `{}` over
//!   HTTPS (a self-signed P-256 certificate, trusted by the client) and over plain HTTP, both
//!   HTTP/1.1 with keep-alive. `--runs` fresh clients each way, each sending two PutLogEvents;
//!   the medians of the first (connection made) and the second (kept alive) request, wall and
//!   CPU time; the handshake is the first HTTPS request less the first plain one.
//! - **sizes**: bytes of `target/lambda-arm64/<fn>/bootstrap` (`make build-arm64`) when present,
//!   and of the binaries in `LOGSHIP_BIN_DIR` (`target/release`).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use logship_tests::{Invocation, LambdaProcess, Moto, RuntimeApi, payloads, unique};
use serde_json::{Value, json};

const FUNCTIONS: [&str; 3] = ["subscription-receiver", "log-writer", "insights-reporter"];
/// Lambda's asynchronous invocation payload limit (the whole event).
const ASYNC_PAYLOAD_LIMIT: usize = 1_048_576;
/// What the RSS payload's event aims at: just under the limit, with room for the JSON wrapper.
const RSS_EVENT_TARGET: usize = 1_040_000;
/// Nothing answers here: init must not call anything, and the Firehose path writes nothing.
const NOWHERE: &str = "http://127.0.0.1:9";
const TIMEOUT: Duration = Duration::from_secs(60);

struct Options {
    what: Vec<String>,
    runs: usize,
    rounds: usize,
    records: usize,
}

fn options() -> Options {
    let mut o = Options {
        what: Vec::new(),
        runs: 5,
        rounds: 5,
        records: 4,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or_else(|| usage(&format!("{name} wants a positive number")))
        };
        match a.as_str() {
            "--runs" => o.runs = number("--runs"),
            "--rounds" => o.rounds = number("--rounds"),
            "--records" => o.records = number("--records"),
            "cold-start" | "rss" | "firehose" | "python-firehose" | "sizes" | "latency"
            | "python-latency" | "tls" => o.what.push(a),
            "all" => o.what.extend(
                ["sizes", "cold-start", "rss", "firehose"]
                    .iter()
                    .map(|s| s.to_string()),
            ),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if o.what.is_empty() {
        o.what.extend(
            ["sizes", "cold-start", "rss", "firehose"]
                .iter()
                .map(|s| s.to_string()),
        );
    }
    o
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("measure: {problem}");
    }
    eprintln!(
        "usage: measure [cold-start|rss|firehose|python-firehose|latency|python-latency|tls|sizes|all]... [--runs N] [--rounds N] [--records N]\n\
         (LOGSHIP_BIN_DIR=target/release, built by `cargo build --release --bins`)"
    );
    std::process::exit(2)
}

/// One figure, machine-readable.
fn figure(name: &str, value: impl std::fmt::Display, unit: &str) {
    println!("{name} {value} {unit}");
}

fn note(text: &str) {
    eprintln!("measure: {text}");
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn main() {
    // The harness's own allocations (multi-MB answers) must not page-fault on every
    // invocation either: that would be timed as the function's.
    logship::alloc::keep_freed_memory();
    let o = options();
    // The runner starts a binary with the current directory set to the binary's own directory
    // (as Lambda does), so a relative LOGSHIP_BIN_DIR must be made absolute first.
    if let Some(dir) = std::env::var_os("LOGSHIP_BIN_DIR").filter(|d| !d.is_empty())
        && Path::new(&dir).is_relative()
    {
        let absolute = std::env::current_dir()
            .expect("current directory")
            .join(dir);
        // SAFETY: no other thread exists yet (the runtime is built below).
        unsafe { std::env::set_var("LOGSHIP_BIN_DIR", absolute) };
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(run(o));
}

async fn run(o: Options) {
    if std::env::var_os("LOGSHIP_BIN_DIR").is_none() && o.what.iter().any(|w| w != "sizes") {
        note(
            "LOGSHIP_BIN_DIR is not set: the binaries are looked up in target/debug — set it to \
             target/release to measure release builds",
        );
    }
    for what in &o.what {
        match what.as_str() {
            "sizes" => sizes(),
            "cold-start" => cold_start(o.runs).await,
            "rss" => rss().await,
            "firehose" => firehose(Runner::Rust, o.rounds, o.records).await,
            "python-firehose" => firehose(Runner::Python, o.rounds, o.records).await,
            "latency" => latency(Runner::Rust, o.rounds).await,
            "python-latency" => latency(Runner::Python, o.rounds).await,
            "tls" => tls(o.runs).await,
            _ => unreachable!(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Artifact sizes

fn sizes() {
    let root = logship_tests::workspace_root();
    for f in FUNCTIONS {
        let arm = root.join("target/lambda-arm64").join(f).join("bootstrap");
        match std::fs::metadata(&arm) {
            Ok(m) => figure(&format!("size.arm64.{f}"), m.len(), "bytes"),
            Err(_) => note(&format!(
                "{} missing (make build-arm64): arm64 size not measured",
                arm.display()
            )),
        }
        let host = host_binary(f);
        match std::fs::metadata(&host) {
            Ok(m) => figure(&format!("size.host.{f}"), m.len(), "bytes"),
            Err(_) => note(&format!(
                "{} missing: host size not measured",
                host.display()
            )),
        }
    }
}

/// `$LOGSHIP_BIN_DIR/<name>` (made absolute in `main`), else `<workspace>/target/release`.
fn host_binary(name: &str) -> PathBuf {
    let root = logship_tests::workspace_root();
    match std::env::var_os("LOGSHIP_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join(name),
        None => root.join("target/release").join(name),
    }
}

// ---------------------------------------------------------------------------------------------
// Cold start

/// The writer's target settings of the `-target-role` cold starts: a role to assume and a
/// region. The role is assumed at the first write, never at init (nothing listens at the
/// endpoint: an init that called STS would fail or hang).
const TARGET_ROLE: [(&str, &str); 2] = [
    (
        "TARGET_ROLE_ARN",
        "arn:aws:iam::111122223333:role/logship-central-writer",
    ),
    ("TARGET_REGION", "eu-west-1"),
];

async fn cold_start(runs: usize) {
    let cases = FUNCTIONS
        .iter()
        .map(|f| (*f, f.to_string(), &[][..]))
        .chain([(
            "subscription-receiver",
            "subscription-receiver-target-role".to_string(),
            &TARGET_ROLE[..],
        )]);
    for (f, name, env) in cases {
        let mut ms = Vec::with_capacity(runs);
        for _ in 0..runs {
            ms.push(one_cold_start(f, env).await.as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let f = name;
        figure(
            &format!("cold_start.{f}.median"),
            format!("{:.2}", median(&ms)),
            "ms",
        );
        figure(
            &format!("cold_start.{f}.min"),
            format!("{:.2}", ms[0]),
            "ms",
        );
        figure(
            &format!("cold_start.{f}.max"),
            format!("{:.2}", ms[ms.len() - 1]),
            "ms",
        );
    }
}

async fn one_cold_start(function: &str, extra: &[(&str, &str)]) -> Duration {
    let api = RuntimeApi::start_named(function).await;
    let mut env = vec![
        ("AWS_ENDPOINT_URL", NOWHERE),
        ("TARGET_LOG_GROUP", "/logship/bench/cold-start"),
    ];
    env.extend_from_slice(extra);
    let started = Instant::now();
    let process = LambdaProcess::spawn(function, &api.address(), &env);
    loop {
        if let Some(at) = api.first_next_at() {
            return at.duration_since(started);
        }
        if let Some(status) = process.exit_status() {
            panic!(
                "{function} exited during init ({status}):\n{}",
                process.stdout_lines().join("\n")
            );
        }
        if started.elapsed() > Duration::from_secs(10) {
            panic!("{function} did not poll /next within 10 s");
        }
        // The instant is taken by the server when the request arrives: polling only ends the wait.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------------
// Peak RSS

async fn rss() {
    let (event, events) = rss_event();
    let body = serde_json::to_vec(&event).expect("serialise");
    let data = event["awslogs"]["data"].as_str().expect("awslogs.data");
    let decompressed = payloads::gunzip(&payloads::unb64(data)).len();
    figure("rss.payload.event_bytes", body.len(), "bytes");
    figure("rss.payload.events", events, "events");
    figure("rss.payload.decompressed_bytes", decompressed, "bytes");
    note(&format!(
        "a {} B direct delivery ({events} events, {decompressed} B of JSON); starting the emulator",
        body.len()
    ));

    let moto = Moto::shared();
    let target = unique("/logship/bench/rss");
    let api = RuntimeApi::start_named("subscription-receiver").await;
    let process = LambdaProcess::spawn(
        "subscription-receiver",
        &api.address(),
        &[
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("TARGET_LOG_GROUP", &target),
        ],
    );
    wait_for_init(&api, &process).await;
    figure("rss.after_init", mib(process.peak_rss_kib()), "MiB");
    let started = Instant::now();
    let outcome = api.invoke(event.clone(), TIMEOUT).await;
    let took = started.elapsed();
    let peak = process.peak_rss_kib();
    if let Invocation::Error {
        error_type,
        error_message,
    } = &outcome
    {
        panic!("the 1 MB delivery failed: {error_type}: {error_message}");
    }
    let summary = last_summary(&process);
    let stats = moto.stats(Some(&target)).await;
    let accepted: u64 = stats["putLogEvents"]
        .as_array()
        .map(|puts| {
            puts.iter()
                .filter(|p| p["status"] == 200)
                .filter_map(|p| p["events"].as_u64())
                .sum()
        })
        .unwrap_or(0);
    figure("rss.peak", mib(peak), "MiB");
    figure("rss.peak_kib", peak, "KiB");
    figure(
        "rss.invoke_ms",
        format!("{:.0}", took.as_secs_f64() * 1e3),
        "ms",
    );
    figure("rss.events_in", &summary["events_in"], "events");
    figure("rss.events_shipped", &summary["shipped"], "events");
    figure("rss.events_accepted_by_emulator", accepted, "events");
    figure("rss.requests", &summary["requests"], "requests");
    if summary["shipped"].as_u64() != Some(events as u64) || summary["conserved"] != true {
        note(&format!("not every event was shipped: {summary}"));
    }
    drop(process);
    drop(api);

    // The same payload, every event filtered out: decoding and filtering, no SDK, no request.
    let api = RuntimeApi::start_named("subscription-receiver").await;
    let process = LambdaProcess::spawn(
        "subscription-receiver",
        &api.address(),
        &[
            ("AWS_ENDPOINT_URL", NOWHERE),
            ("TARGET_LOG_GROUP", &target),
            ("INCLUDE_PATTERN", r"[^\s\S]"),
        ],
    );
    wait_for_init(&api, &process).await;
    let outcome = api.invoke(event, TIMEOUT).await;
    if let Invocation::Error {
        error_type,
        error_message,
    } = &outcome
    {
        panic!("the decode-only run failed: {error_type}: {error_message}");
    }
    let summary = last_summary(&process);
    figure("rss.decode_only.peak", mib(process.peak_rss_kib()), "MiB");
    figure(
        "rss.decode_only.events_filtered",
        &summary["dropped_filtered"],
        "events",
    );
}

/// A direct-delivery event just under the 1 MB limit, made by `bench/gen_payloads.py` (fresh
/// timestamps: within the last hour) with as many events as fit; and its event count.
fn rss_event() -> (Value, usize) {
    let dir = logship_tests::workspace_root()
        .join("target/bench-rss")
        .join(std::process::id().to_string());
    let mut events = 2_000;
    for _ in 0..6 {
        let data = generate(&dir, 1, events).remove(0);
        let event = json!({"awslogs": {"data": data}});
        let size = event.to_string().len();
        if (RSS_EVENT_TARGET * 97 / 100..=ASYNC_PAYLOAD_LIMIT).contains(&size) {
            let _ = std::fs::remove_dir_all(&dir);
            return (event, events);
        }
        // Bytes per event are nearly constant: scale to the target.
        events = ((events as f64) * RSS_EVENT_TARGET as f64 / size as f64) as usize;
    }
    panic!("could not size a payload to ~1 MB");
}

/// The payload generator, `bench/gen_payloads.py`.
fn generator() -> PathBuf {
    logship_tests::workspace_root().join("bench/gen_payloads.py")
}

/// Runs `bench/gen_payloads.py DIR N EVENTS` and returns the payloads (base64 text).
fn generate(dir: &Path, n: usize, events: usize) -> Vec<String> {
    let generator = generator();
    assert!(generator.is_file(), "{} is missing", generator.display());
    let _ = std::fs::remove_dir_all(dir);
    let status = Command::new("python3")
        .arg(&generator)
        .arg(dir)
        .arg(n.to_string())
        .arg(events.to_string())
        .status()
        .unwrap_or_else(|e| panic!("python3 {}: {e}", generator.display()));
    assert!(status.success(), "{} failed: {status}", generator.display());
    read_payloads(dir)
}

/// True when a payload in `dir` was made before the generator last changed.
fn outdated(dir: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(changed) = modified(&generator()) else {
        return false;
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "b64"))
        .any(|p| modified(&p).is_none_or(|t| t < changed))
}

fn read_payloads(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "b64"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
                .trim()
                .to_owned()
        })
        .collect()
}

async fn wait_for_init(api: &RuntimeApi, process: &LambdaProcess) {
    let started = Instant::now();
    while api.first_next_at().is_none() {
        if let Some(status) = process.exit_status() {
            panic!(
                "the function exited during init ({status}):\n{}",
                process.stdout_lines().join("\n")
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no /next within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The fields of the last `invocation summary` line the function logged.
fn last_summary(process: &LambdaProcess) -> Value {
    process
        .json_lines()
        .into_iter()
        .rev()
        .find(|l| l["fields"]["message"] == "invocation summary")
        .map(|l| l["fields"].clone())
        .unwrap_or_else(|| {
            panic!(
                "no invocation summary in the function's output:\n{}",
                process.stdout_lines().join("\n")
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Firehose path

/// Which implementation of the Firehose transformation runs as the function.
#[derive(Clone, Copy, PartialEq)]
enum Runner {
    /// The release `subscription-receiver`.
    Rust,
    /// `bench/python_firehose.py --lambda`.
    Python,
}

/// The payloads of `target/bench-payloads` (base64), made by `bench/gen_payloads.py` (20 ×
/// 2,000 events) if missing or older than the generator.
fn bench_payloads() -> Vec<String> {
    let dir = logship_tests::workspace_root().join("target/bench-payloads");
    let datas = if dir.is_dir() && !outdated(&dir) {
        read_payloads(&dir)
    } else {
        Vec::new()
    };
    if !datas.is_empty() {
        return datas;
    }
    note(
        "target/bench-payloads is missing, empty or older than bench/gen_payloads.py: \
         generating 20 payloads × 2000 events",
    );
    generate(&dir, 20, 2_000)
}

async fn firehose(runner: Runner, rounds: usize, per_event: usize) {
    let datas = bench_payloads();
    let decompressed: usize = datas
        .iter()
        .map(|d| payloads::gunzip(&payloads::unb64(d)).len())
        .sum();
    let events: Vec<Value> = datas.chunks(per_event).map(payloads::firehose).collect();

    let api = RuntimeApi::start_named("subscription-receiver").await;
    let env = [
        ("AWS_ENDPOINT_URL", NOWHERE),
        ("TARGET_LOG_GROUP", "/logship/bench/firehose"),
    ];
    let (process, prefix) = match runner {
        Runner::Rust => (
            LambdaProcess::spawn("subscription-receiver", &api.address(), &env),
            "firehose",
        ),
        Runner::Python => {
            let script = logship_tests::workspace_root().join("bench/python_firehose.py");
            let script = script.to_str().expect("a UTF-8 path");
            (
                LambdaProcess::spawn_command(
                    Path::new("python3"),
                    &[script, "--lambda"],
                    "python-firehose",
                    &api.address(),
                    &env,
                ),
                "python_firehose",
            )
        }
    };
    let name = |figure: &str| format!("{prefix}.{figure}");
    wait_for_init(&api, &process).await;

    // Warm-up, and a check that every record is answered Ok.
    let warm = api.invoke(events[0].clone(), TIMEOUT).await.response();
    let records = warm["records"].as_array().expect("records");
    assert_eq!(
        records.len(),
        events[0]["records"].as_array().unwrap().len()
    );
    assert!(
        records.iter().all(|r| r["result"] == "Ok"),
        "a record was not Ok: {}",
        records
            .iter()
            .map(|r| r["result"].to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    check_ndjson(&datas[0], &records[0]);

    // Timed: the event bytes go out and the answer bytes come back, as with Lambda; the
    // harness neither serialises events nor parses answers while the clock runs.
    let bodies: Vec<bytes::Bytes> = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().into())
        .collect();
    // Only the last round's answers are kept (for the checks after the clock stops): keeping
    // every one would have the harness touch fresh memory on each invocation.
    let mut answers = Vec::with_capacity(bodies.len());
    let mut out_bytes = 0usize;
    let cpu_before = cpu_seconds(process.pid());
    let billed_before = api.durations().len();
    let started = Instant::now();
    for round in 0..rounds {
        for body in &bodies {
            let answer = api
                .invoke_bytes(body.clone(), TIMEOUT)
                .await
                .response_bytes();
            out_bytes += answer.len();
            if round + 1 == rounds {
                answers.push(answer);
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(process.pid()) - cpu_before;
    let billed: f64 = api.durations()[billed_before..]
        .iter()
        .map(Duration::as_secs_f64)
        .sum();
    let mut answered = 0usize;
    let mut data_bytes = 0usize;
    for body in answers {
        let out: Value = serde_json::from_slice(&body).expect("the answer is JSON");
        let recs = out["records"].as_array().expect("records");
        assert!(recs.iter().all(|r| r["result"] == "Ok"));
        answered += recs.len();
        data_bytes += recs
            .iter()
            .filter_map(|r| r["data"].as_str())
            .map(str::len)
            .sum::<usize>();
    }
    let total = (decompressed * rounds) as f64;
    assert_eq!(
        answered,
        datas.len(),
        "every record of the last round answered"
    );
    figure(&name("mbps"), format!("{:.1}", total / wall / 1e6), "MB/s");
    figure(
        &name("billed_mbps"),
        format!("{:.1}", total / billed / 1e6),
        "MB/s",
    );
    if cpu > 0.0 {
        figure(
            &name("cpu_mbps"),
            format!("{:.1}", total / cpu / 1e6),
            "MB/s",
        );
    }
    figure(&name("decompressed_bytes_per_round"), decompressed, "bytes");
    figure(&name("invocations"), events.len() * rounds, "invocations");
    figure(
        &name("response_base64_bytes_per_round"),
        data_bytes,
        "bytes",
    );
    figure(
        &name("response_bytes_per_round"),
        out_bytes / rounds,
        "bytes",
    );
    figure(
        &name("invoke_ms"),
        format!("{:.2}", wall * 1e3 / (events.len() * rounds) as f64),
        "ms",
    );
    figure(&name("peak_rss"), mib(process.peak_rss_kib()), "MiB");
}

/// Panics unless `answer` (a Firehose response record) holds exactly the NDJSON logship
/// promises for the payload `data`: one compact line per event, `owner`, `logGroup`,
/// `logStream`, `id`, `timestamp`, `message`, in arrival order — so what is timed is the
/// transformation the Python implementation does too.
fn check_ndjson(data: &str, answer: &Value) {
    let doc = payloads::decode(data);
    let s = |v: &Value| v.to_string();
    let want: String = doc["logEvents"]
        .as_array()
        .expect("logEvents")
        .iter()
        .filter(|e| e["message"] != "")
        .map(|e| {
            format!(
                "{{\"owner\":{},\"logGroup\":{},\"logStream\":{},\"id\":{},\"timestamp\":{},\"message\":{}}}\n",
                s(&doc["owner"]),
                s(&doc["logGroup"]),
                s(&doc["logStream"]),
                s(&e["id"]),
                s(&e["timestamp"]),
                s(&e["message"]),
            )
        })
        .collect();
    let got = payloads::unb64(answer["data"].as_str().expect("data"));
    let got = String::from_utf8(got).expect("UTF-8 NDJSON");
    if got != want {
        let (n, (g, w)) = got
            .lines()
            .zip(want.lines())
            .enumerate()
            .find(|(_, (g, w))| g != w)
            .unwrap_or((0, ("(lengths differ)", "")));
        panic!("the Firehose answer is not the expected NDJSON; line {n}:\n got {g}\nwant {w}");
    }
}

// ---------------------------------------------------------------------------------------------
// Shipping at the service's latency

/// `name`'s value in the environment, else `default`.
fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The function a latency case runs in: the release receiver, or the Python reference writer.
fn spawn_writer(runner: Runner, api: &RuntimeApi, env: &[(&str, &str)]) -> LambdaProcess {
    match runner {
        Runner::Rust => LambdaProcess::spawn("subscription-receiver", &api.address(), env),
        Runner::Python => {
            let script = logship_tests::workspace_root().join("bench/python_writer.py");
            let script = script.to_str().expect("a UTF-8 path");
            LambdaProcess::spawn_command(
                Path::new("python3"),
                &[script, "--lambda"],
                "python-writer",
                &api.address(),
                env,
            )
        }
    }
}

/// `datas` (subscription payloads) as the records of `streams` source streams in turn, each
/// stream's events one millisecond apart from one record to the next, as a source stream's
/// deliveries follow each other: records that share their target streams.
fn sharing_streams(datas: &[String], streams: usize) -> Vec<String> {
    let mut clock = vec![payloads::now_ms() - 3_600_000; streams];
    datas
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let mut doc = payloads::decode(data);
            let s = i % streams;
            doc["logGroup"] = json!("/aws/lambda/shared");
            doc["logStream"] = json!(format!("shared-{s}"));
            for e in doc["logEvents"].as_array_mut().into_iter().flatten() {
                e["timestamp"] = json!(clock[s]);
                clock[s] += 1;
            }
            payloads::encode(&doc)
        })
        .collect()
}

async fn latency(runner: Runner, rounds: usize) {
    let base_ms = env_f64("BENCH_LATENCY_BASE_MS", 30.0);
    let per_mb_ms = env_f64("BENCH_LATENCY_PER_MB_MS", 10.0);
    let prefix = match runner {
        Runner::Rust => "latency",
        Runner::Python => "python_latency",
    };
    // A full request's round trip: the unit the waiting budget counts in.
    figure(
        &format!("{prefix}.round_trip_ms"),
        format!("{:.1}", base_ms + per_mb_ms * 1_048_576.0 / 1e6),
        "ms",
    );
    let (direct, _) = rss_event();
    let datas = bench_payloads();
    assert!(datas.len() >= 12, "12 bench payloads");
    let kinesis = payloads::kinesis(&datas[..12]);
    let shared = payloads::kinesis(&sharing_streams(&datas, 2));
    let moto = Moto::shared();
    let cases = [
        ("direct_1mb", &direct, "raw"),
        ("direct_1mb_envelope", &direct, "envelope"),
        ("kinesis_12", &kinesis, "raw"),
        ("kinesis_shared", &shared, "raw"),
    ];
    // Python runs with the model only: the comparison is at the same latency.
    let modes: &[bool] = match runner {
        Runner::Rust => &[true, false],
        Runner::Python => &[true],
    };
    for (case, event, format) in cases {
        for &modelled in modes {
            let group = unique(&format!("/logship/bench/latency/{case}"));
            // A sink: the emulator answers after the round trip without doing moto's work,
            // which it does one call at a time and would be timed as waiting.
            let (base, per_mb) = if modelled {
                (base_ms, per_mb_ms)
            } else {
                (0.0, 0.0)
            };
            moto.latency(json!({"baseMs": base, "perMbMs": per_mb, "sink": true,
                                "target": "PutLogEvents", "logGroupName": group}))
                .await;
            let api = RuntimeApi::start_named("subscription-receiver").await;
            let process = spawn_writer(
                runner,
                &api,
                &[
                    ("AWS_ENDPOINT_URL", moto.endpoint()),
                    ("TARGET_LOG_GROUP", &group),
                    ("MESSAGE_FORMAT", format),
                ],
            );
            wait_for_init(&api, &process).await;
            let body: bytes::Bytes = serde_json::to_vec(event).unwrap().into();
            let invoke = async || match api.invoke_bytes(body.clone(), TIMEOUT).await {
                Invocation::Error {
                    error_type,
                    error_message,
                } => panic!("{prefix} {case}: {error_type}: {error_message}"),
                answer => drop(answer.response_bytes()),
            };
            // One warm-up invocation (connections made, buffers grown).
            invoke().await;
            let cpu_before = cpu_seconds(process.pid());
            let from = api.durations().len();
            for _ in 0..rounds {
                invoke().await;
            }
            let cpu_ms = (cpu_seconds(process.pid()) - cpu_before) * 1e3 / rounds as f64;
            let mut billed: Vec<f64> = api.durations()[from..]
                .iter()
                .map(|d| d.as_secs_f64() * 1e3)
                .collect();
            billed.sort_by(f64::total_cmp);
            let puts = moto.stats(Some(&group)).await["putLogEvents"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let ok: Vec<&Value> = puts.iter().filter(|p| p["status"] == 200).collect();
            let per = |field: &str| {
                ok.iter().filter_map(|p| p[field].as_u64()).sum::<u64>() / (rounds as u64 + 1)
            };
            let mode = if modelled { "modelled" } else { "local" };
            let name = |f: &str| format!("{prefix}.{case}.{mode}.{f}");
            figure(&name("billed_ms"), format!("{:.1}", median(&billed)), "ms");
            figure(&name("cpu_ms"), format!("{cpu_ms:.1}"), "ms");
            figure(
                &name("requests"),
                ok.len() as u64 / (rounds as u64 + 1),
                "requests",
            );
            figure(&name("bytes"), per("bytes"), "bytes");
            figure(&name("events"), per("events"), "events");
            drop(process);
            drop(api);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The first request's TLS handshake

/// `bench/tls_server.py`, stopped (its stdin closed, then killed) when dropped.
struct TlsServer {
    child: std::process::Child,
    https_port: u16,
    http_port: u16,
    cert: PathBuf,
}

impl TlsServer {
    fn start() -> TlsServer {
        use std::io::BufRead as _;
        let script = logship_tests::workspace_root().join("bench/tls_server.py");
        let dir = logship_tests::workspace_root().join("target/bench-tls");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 bench/tls_server.py");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("its first line");
        let parts: Vec<&str> = line.split_whitespace().collect();
        let server = TlsServer {
            https_port: parts.first().and_then(|p| p.parse().ok()).unwrap_or(0),
            http_port: parts.get(1).and_then(|p| p.parse().ok()).unwrap_or(0),
            cert: PathBuf::from(parts.get(2).copied().unwrap_or_default()),
            child,
        };
        assert!(
            server.https_port > 0 && server.http_port > 0,
            "tls_server.py said {line:?}"
        );
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU time of this process, all threads, in seconds (getrusage: microseconds,
/// where /proc's clock ticks are 10 ms).
fn own_cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct getrusage fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF is a valid `who`.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0;
    if !ok {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A fresh client (its own connection pool) of the endpoint, as the functions build theirs.
async fn fresh_client(endpoint: &str, pem: Option<&[u8]>) -> aws_sdk_cloudwatchlogs::Client {
    use aws_smithy_http_client::tls;
    let mut http = aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(logship::writer::DEFAULT_WRITE_CONCURRENCY)
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ));
    if let Some(pem) = pem {
        let trust = tls::TrustStore::empty().with_pem_certificate(pem.to_vec());
        http = http.tls_context(
            tls::TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .expect("a TLS context"),
        );
    }
    let config = logship::aws::config_loader()
        .http_client(http.build_https())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    aws_sdk_cloudwatchlogs::Client::new(&config)
}

/// One small PutLogEvents: (wall ms, CPU ms of this process).
async fn timed_put(client: &aws_sdk_cloudwatchlogs::Client) -> (f64, f64) {
    let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp(payloads::now_ms())
        .message("m")
        .build()
        .expect("an event");
    let (cpu, started) = (own_cpu_seconds(), Instant::now());
    client
        .put_log_events()
        .log_group_name("/logship/bench/tls")
        .log_stream_name("s")
        .log_events(event)
        .send()
        .await
        .expect("the stand-in endpoint answers");
    (
        started.elapsed().as_secs_f64() * 1e3,
        (own_cpu_seconds() - cpu) * 1e3,
    )
}

async fn tls(runs: usize) {
    let server = TlsServer::start();
    let pem = std::fs::read(&server.cert).expect("the certificate");
    let mut first: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
    let mut warm: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
    // At least 20 runs: medians need numbers.
    for _ in 0..runs.max(20) {
        for (k, (endpoint, pem)) in [
            (
                format!("https://localhost:{}", server.https_port),
                Some(&pem[..]),
            ),
            (format!("http://localhost:{}", server.http_port), None),
        ]
        .into_iter()
        .enumerate()
        {
            let client = fresh_client(&endpoint, pem).await;
            first[k].push(timed_put(&client).await);
            warm[k].push(timed_put(&client).await);
        }
    }
    let med = |v: &[(f64, f64)], cpu: bool| {
        let mut x: Vec<f64> = v.iter().map(|p| if cpu { p.1 } else { p.0 }).collect();
        x.sort_by(f64::total_cmp);
        median(&x)
    };
    for (k, scheme) in ["https", "http"].into_iter().enumerate() {
        figure(
            &format!("tls.{scheme}.first_request_ms"),
            format!("{:.2}", med(&first[k], false)),
            "ms",
        );
        figure(
            &format!("tls.{scheme}.warm_request_ms"),
            format!("{:.2}", med(&warm[k], false)),
            "ms",
        );
    }
    figure(
        "tls.handshake_ms",
        format!("{:.2}", med(&first[0], false) - med(&first[1], false)),
        "ms",
    );
    figure(
        "tls.handshake_cpu_ms",
        format!("{:.2}", med(&first[0], true) - med(&first[1], true)),
        "ms",
    );
    figure("tls.runs", first[0].len(), "runs");
    drop(server);
}

/// utime + stime of a process, in seconds (clock ticks of /proc/<pid>/stat).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}
