//! Batching benchmarks: `batch::plan` and `batch::split_oversize` on the generated CloudWatch
//! Logs payloads (`bench/gen_payloads.py`), plus allocation counts.
//!
//! ```sh
//! cargo bench -p logship --bench batching              # ~25 s on 2 cores
//! cargo bench -p logship --bench batching -- --quick   # shorter
//! cargo bench -p logship --bench batching -- plan/shuffled
//! ```
//!
//! The payloads (20 × 2,000 events) are generated into `<target>/bench-payloads` when missing
//! or older than the generator, and decoded once, outside anything timed. Only the call under
//! test is timed: inputs are cloned in `iter_batched`'s setup, outputs dropped after the clock
//! stops. Before criterion runs, one call per case is made under a counting allocator and its
//! allocations are printed.
//!
//! Under `cargo test --all-targets` (criterion's test mode) every case runs once, as a smoke
//! test; there a missing generator skips the bench instead of failing it.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;
use std::{env, fs};

use criterion::{BatchSize, Criterion, Throughput};
use logship::batch::{self, LogEvent};
use logship::decode::{DecodeLimits, Scratch, decode_data};
use logship::json::Message;

/// The writer's integration-test shape: this many events at random times over `SPREAD_MS`.
const SPREAD_EVENTS: usize = 30_000;
const SPREAD_MS: i64 = 20 * 60 * 60 * 1000;
/// Size of the message `split_oversize` is timed on.
const OVERSIZE_BYTES: usize = 1_500_000;
const SEED: u64 = 42;

mod common;
use common::{EVENTS_PER_PAYLOAD, count_allocs, payloads};

/// Every event of every payload, in arrival order; `origin` is the payload's index.
fn decode_all(files: &[PathBuf]) -> Vec<LogEvent> {
    let mut scratch = Scratch::default();
    let mut events = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc = decode_data(data.trim_ascii(), DecodeLimits::default(), &mut scratch)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (delete the directory to regenerate)",
                    path.display()
                )
            });
        events.extend(doc.log_events.into_iter().map(|e| LogEvent {
            timestamp: e.timestamp,
            message: Message::from_escaped(e.message),
            origin: i as u32,
        }));
    }
    events
}

struct Case {
    name: &'static str,
    events: Vec<LogEvent>,
}

impl Case {
    fn message_bytes(&self) -> u64 {
        self.events.iter().map(|e| e.message.len() as u64).sum()
    }
}

fn cases(decoded: &[LogEvent]) -> Vec<Case> {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut shuffled = decoded.to_vec();
    rng.shuffle(&mut shuffled);
    let t0 = decoded.first().map_or(0, |e| e.timestamp);
    let spread = (0..SPREAD_EVENTS)
        .map(|i| LogEvent {
            timestamp: t0 + rng.i64(0..SPREAD_MS),
            message: decoded[i % decoded.len()].message.clone(),
            origin: (i / EVENTS_PER_PAYLOAD) as u32,
        })
        .collect();
    vec![
        Case {
            name: "in-order",
            events: decoded.to_vec(),
        },
        Case {
            name: "shuffled",
            events: shuffled,
        },
        Case {
            name: "spread-20h",
            events: spread,
        },
    ]
}

/// A 1.5 MB message made of the generated messages, one per line.
fn oversize_event(decoded: &[LogEvent]) -> LogEvent {
    let mut message = String::with_capacity(OVERSIZE_BYTES + 64 * 1024);
    for e in decoded.iter().cycle() {
        if message.len() >= OVERSIZE_BYTES {
            break;
        }
        message.push_str(&e.message.text());
        message.push('\n');
    }
    let mut end = OVERSIZE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    LogEvent {
        timestamp: decoded[0].timestamp,
        message: message.into(),
        origin: 0,
    }
}

// ---- allocation table ------------------------------------------------------------------------

fn print_allocations(cases: &[Case], oversize: &LogEvent) {
    let row = |name: &str, n: usize, out: String, allocs: u64, bytes: u64| {
        println!(
            "alloc  {name:<16} events={n:<6} {out:<13} allocs={allocs:<3} \
             allocs/1k events={:<8.3} bytes/event={:<10.2} bytes={bytes}",
            allocs as f64 * 1000.0 / n as f64,
            bytes as f64 / n as f64,
        );
    };
    for case in cases {
        let mut events = case.events.clone();
        let (batches, allocs, bytes) = count_allocs(|| batch::plan(&mut events));
        let out = format!("requests={}", batches.len());
        row(
            &format!("plan/{}", case.name),
            events.len(),
            out,
            allocs,
            bytes,
        );
    }
    let (parts, allocs, bytes) = count_allocs(|| batch::split_oversize(oversize));
    let parts = parts.expect("the oversize event is split");
    let out = format!("parts={}", parts.len());
    row("split/1.5MB", 1, out, allocs, bytes);
}

// ---- benchmarks ------------------------------------------------------------------------------

fn bench_plan(c: &mut Criterion, cases: &[Case]) {
    let mut g = c.benchmark_group("plan");
    for case in cases {
        // Reported as events/s and as message bytes/s.
        g.throughput(Throughput::ElementsAndBytes {
            elements: case.events.len() as u64,
            bytes: case.message_bytes(),
        });
        g.bench_function(case.name, |b| {
            b.iter_batched(
                || case.events.clone(),
                |mut events| {
                    let batches = batch::plan(black_box(&mut events));
                    (events, batches)
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn bench_split(c: &mut Criterion, oversize: &LogEvent) {
    let mut g = c.benchmark_group("split");
    g.throughput(Throughput::ElementsAndBytes {
        elements: 1,
        bytes: oversize.message.len() as u64,
    });
    g.bench_function("1.5MB", |b| {
        b.iter_with_large_drop(|| batch::split_oversize(black_box(oversize)))
    });
    g.finish();
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not (criterion's test mode).
    let benchmarking = env::args().any(|a| a == "--bench");
    let Some(files) = payloads(benchmarking) else {
        return;
    };
    let decoded = decode_all(&files);
    let cases = cases(&decoded);
    let oversize = oversize_event(&decoded);
    let bytes: u64 = cases[0].message_bytes();
    println!(
        "input  {} payloads, {} events, {} message bytes ({:.0} B/event), in time order: {}",
        files.len(),
        decoded.len(),
        bytes,
        bytes as f64 / decoded.len() as f64,
        decoded.is_sorted_by_key(|e| e.timestamp),
    );
    print_allocations(&cases, &oversize);

    let mut c = Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
        .configure_from_args();
    bench_plan(&mut c, &cases);
    bench_split(&mut c, &oversize);
    c.final_summary();
}
