//! The receiver's pipeline, stage by stage, against the floor of gunzip itself, on the
//! generated payloads (`bench/gen_payloads.py`, 20 × 2,000 events).
//!
//! ```sh
//! cargo bench -p logship --bench pipeline              # summary table, then criterion
//! cargo bench -p logship --bench pipeline -- --quick
//! ```
//!
//! All figures are MB/s of decompressed JSON on one core (the bench is single-threaded):
//! - `gunzip/zlib-rs` and `gunzip/libdeflate`: inflating alone, the floor any pipeline pays;
//! - `decode`: base64 → bounded gunzip → JSON with borrowed strings (`logship::decode`);
//! - `pipeline`: decode → filter/route (`logship::receiver::route`) → batches
//!   (`batch::plan`) → serialised PutLogEvents request bodies (`batch::request_body`): all the
//!   receiver does for a direct delivery short of the network.
//!
//! Before criterion, a summary (median of 7 rounds each, and the best round of the full
//! pipeline) prints every figure and the pipeline as a fraction of the gunzip floor, so one run
//! gives the ratios. `-- --summary-only` prints the summary and skips criterion.

use std::fs;
use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine as _;
use criterion::{Criterion, Throughput};
use logship::batch;
use logship::config::ReceiverConfig;
use logship::decode::{self, DecodeLimits, Scratch, decode_data};
use logship::doc::SharedDoc;
use logship::receiver::{self, Summary, Targets};

mod common;
use common::payloads;

/// The payloads as Lambda delivers them (base64 text), their gzip bytes, and the decompressed
/// size in total.
struct Inputs {
    b64: Vec<Vec<u8>>,
    gz: Vec<Vec<u8>>,
    json_bytes: usize,
    events: usize,
}

fn inputs(required: bool) -> Option<Inputs> {
    let files = payloads(required)?;
    let b64: Vec<Vec<u8>> = files.iter().map(|p| fs::read(p).unwrap()).collect();
    let gz: Vec<Vec<u8>> = b64
        .iter()
        .map(|d| base64::engine::general_purpose::STANDARD.decode(d).unwrap())
        .collect();
    let mut json_bytes = 0;
    let mut events = 0;
    let mut scratch = Scratch::default();
    for d in &b64 {
        let p = decode_data(d, DecodeLimits::default(), &mut scratch).unwrap();
        events += p.log_events.len();
        drop(p);
        json_bytes += scratch.json.len();
    }
    Some(Inputs {
        b64,
        gz,
        json_bytes,
        events,
    })
}

fn gunzip_zlib_rs(inputs: &Inputs, out: &mut Vec<u8>) {
    for g in &inputs.gz {
        out.clear();
        flate2::read::GzDecoder::new(&g[..])
            .read_to_end(out)
            .unwrap();
        black_box(&out);
    }
}

fn gunzip_libdeflate(inputs: &Inputs, d: &mut libdeflater::Decompressor, out: &mut Vec<u8>) {
    for g in &inputs.gz {
        let n = g.len();
        let isize = u32::from_le_bytes([g[n - 4], g[n - 3], g[n - 2], g[n - 1]]) as usize;
        out.resize(isize, 0);
        let got = d.gzip_decompress(g, out).unwrap();
        black_box(&out[..got]);
    }
}

fn decode(inputs: &Inputs, scratch: &mut Scratch) {
    for d in &inputs.b64 {
        let p = decode_data(d, DecodeLimits::default(), scratch).unwrap();
        black_box(p.log_events.len());
    }
}

/// Everything the receiver does with a direct delivery but the network: returns request bytes.
fn pipeline(
    inputs: &Inputs,
    config: &ReceiverConfig,
    scratch: &mut Scratch,
    body: &mut Vec<u8>,
) -> usize {
    let mut wire = 0;
    for d in &inputs.b64 {
        let mut targets = Targets::new();
        let mut summary = Summary::default();
        let doc = decode_route(d, config, scratch, &mut targets, &mut summary);
        for b in receiver::batches(targets) {
            let mut events = b.events;
            for range in batch::plan(&mut events) {
                batch::request_body(&b.group, &b.stream, &events[range], body);
                wire += body.len();
            }
            // As the writer does once the requests are sent.
            batch::release(events);
        }
        scratch.recycle(doc);
    }
    wire
}

/// One payload decoded and routed as the receiver does it for a direct delivery or a Kinesis
/// record: into a document of its own, which the routed messages share (handed back with
/// `Scratch::recycle` once they are gone, as the receiver does after writing).
fn decode_route(
    d: &[u8],
    config: &ReceiverConfig,
    scratch: &mut Scratch,
    targets: &mut Targets,
    summary: &mut Summary,
) -> SharedDoc {
    let doc = decode::decode_document(d, config.limits, scratch).unwrap();
    let p = decode::parse_text(&doc).unwrap();
    receiver::route(config, &doc, &p, 0, targets, summary).unwrap();
    drop(p);
    doc
}

/// The routed events of every payload (group, stream, events), for timing the later stages alone.
fn routed(inputs: &Inputs, config: &ReceiverConfig) -> Vec<logship::writer::StreamBatch> {
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for d in &inputs.b64 {
        let mut targets = Targets::new();
        decode_route(
            d,
            config,
            &mut scratch,
            &mut targets,
            &mut Summary::default(),
        );
        out.extend(receiver::batches(targets));
    }
    out
}

fn config() -> ReceiverConfig {
    ReceiverConfig::from_lookup(|k| (k == "TARGET_LOG_GROUP").then(|| "/central".to_string()))
        .unwrap()
}

/// MB/s of decompressed JSON over `rounds` runs of `f`: the median, and the best. On a shared
/// machine other load only ever slows a CPU-bound loop, so the best run is the least disturbed
/// one; `bench/run.sh` compares best against best, Rust and Python alike.
fn rates(inputs: &Inputs, rounds: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up
    let mut rates: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            inputs.json_bytes as f64 / t.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], rates[rates.len() - 1])
}

/// The median of [`rates`].
fn mbps(inputs: &Inputs, rounds: usize, f: impl FnMut()) -> f64 {
    rates(inputs, rounds, f).0
}

fn summary(inputs: &Inputs) {
    let cfg = config();
    let mut out = Vec::new();
    let mut d = libdeflater::Decompressor::new();
    let mut scratch = Scratch::default();
    let mut body = Vec::new();
    let zlib = mbps(inputs, 7, || gunzip_zlib_rs(inputs, &mut out));
    let libdeflate = mbps(inputs, 7, || gunzip_libdeflate(inputs, &mut d, &mut out));
    let dec = mbps(inputs, 7, || decode(inputs, &mut scratch));
    let (pipe, pipe_best) = rates(inputs, 7, || {
        black_box(pipeline(inputs, &cfg, &mut scratch, &mut body));
    });
    // Stage by stage, in ms per MB of decompressed JSON (they add up to the pipeline's).
    let ms_per_mb = |rate: f64| 1000.0 / rate;
    let route_rate = mbps(inputs, 7, || {
        for d in &inputs.b64 {
            let mut targets = Targets::new();
            let doc = decode_route(d, &cfg, &mut scratch, &mut targets, &mut Summary::default());
            black_box(targets);
            scratch.recycle(doc);
        }
    });
    let streams = routed(inputs, &cfg);
    let clone_rate = mbps(inputs, 7, || {
        black_box(streams.clone());
    });
    let plan_rate = mbps(inputs, 7, || {
        for b in streams.clone() {
            let mut events = b.events;
            black_box(batch::plan(&mut events));
        }
    });
    let planned: Vec<_> = streams
        .iter()
        .map(|b| {
            let mut e = b.events.clone();
            let r = batch::plan(&mut e);
            (b, e, r)
        })
        .collect();
    let body_rate = mbps(inputs, 7, || {
        for (b, e, ranges) in &planned {
            for r in ranges {
                batch::request_body(&b.group, &b.stream, &e[r.clone()], &mut body);
                black_box(body.len());
            }
        }
    });
    println!(
        "input     {} payloads, {} events, {:.1} MB of decompressed JSON",
        inputs.b64.len(),
        inputs.events,
        inputs.json_bytes as f64 / 1e6
    );
    println!("rust gunzip-only zlib-rs    {zlib:.1} MB/s");
    println!("rust gunzip-only libdeflate {libdeflate:.1} MB/s");
    println!("rust decode                 {dec:.1} MB/s");
    println!("rust full pipeline          {pipe:.1} MB/s");
    println!("rust full pipeline best     {pipe_best:.1} MB/s");
    println!(
        "stages (ms per MB): decode {:.2}, route {:.2}, plan {:.2}, request bodies {:.2}",
        ms_per_mb(dec),
        ms_per_mb(route_rate) - ms_per_mb(dec),
        (ms_per_mb(plan_rate) - ms_per_mb(clone_rate)).max(0.0),
        ms_per_mb(body_rate)
    );
    println!(
        "pipeline / gunzip floor     {:.2} (of zlib-rs) {:.2} (of libdeflate)",
        pipe / zlib,
        pipe / libdeflate
    );
}

fn main() {
    // As the binaries do: freed memory stays for the next round (see logship::alloc).
    logship::alloc::keep_freed_memory();
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let Some(inputs) = inputs(benchmarking) else {
        return;
    };
    if benchmarking {
        summary(&inputs);
    }
    // `-- --summary-only`: the summary alone, for bench/run.sh's alternating runs.
    if std::env::args().any(|a| a == "--summary-only") {
        return;
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(inputs.json_bytes as u64));
    let mut out = Vec::new();
    g.bench_function("gunzip/zlib-rs", |b| {
        b.iter(|| gunzip_zlib_rs(&inputs, &mut out))
    });
    let mut d = libdeflater::Decompressor::new();
    g.bench_function("gunzip/libdeflate", |b| {
        b.iter(|| gunzip_libdeflate(&inputs, &mut d, &mut out))
    });
    let mut scratch = Scratch::default();
    g.bench_function("decode", |b| b.iter(|| decode(&inputs, &mut scratch)));
    let cfg = config();
    let mut body = Vec::new();
    g.bench_function("full", |b| {
        b.iter(|| pipeline(&inputs, &cfg, &mut scratch, &mut body))
    });
    g.finish();
    c.final_summary();
}
