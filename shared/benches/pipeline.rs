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
//!   receiver does for a direct delivery short of the network;
//! - `redact-all`: the same with the receiver configured `REDACT=all` (issue 13), on the same
//!   payloads, which hold addresses and emails to redact;
//! - `clean` and `clean-redact-all`: both on the clean payloads (`gen_payloads.py --clean`, in
//!   `<target>/bench-payloads-clean` or `$LOGSHIP_CLEAN_PAYLOADS`), where redaction has nothing
//!   to do; skipped, with a note, when there are none.
//!
//! Before criterion, a summary (median of 7 rounds each, and the best round of the full
//! pipeline) prints every figure and the pipeline as a fraction of the gunzip floor, so one run
//! gives the ratios. With and without `REDACT=all` take turns, round after round (15 each, on
//! the bench payloads and on the clean ones), and the cost of redaction is the best of one
//! against the best of the other, so that other load on the machine falls on both alike. The
//! summary also says whether `REDACT=all` changed any request body: until the receiver redacts,
//! it ignores the variable and the redact-all figures are the plain pipeline's.
//! `-- --summary-only` prints the summary and skips criterion.

use std::fs;
use std::hash::{DefaultHasher, Hasher};
use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use criterion::{Criterion, Throughput};
use logship::batch;
use logship::config::ReceiverConfig;
use logship::decode::{self, DecodeLimits, Scratch, decode_data};
use logship::doc::SharedDoc;
use logship::receiver::{self, Summary, Targets};

mod common;
use common::{clean_payloads, payloads};

/// Rounds of each side of a redaction pair (without, with `REDACT=all`), taken in turns.
const PAIR_ROUNDS: usize = 15;

/// The payloads as Lambda delivers them (base64 text), their gzip bytes, and the decompressed
/// size in total.
struct Inputs {
    b64: Vec<Vec<u8>>,
    gz: Vec<Vec<u8>>,
    json_bytes: usize,
    events: usize,
}

fn inputs(required: bool) -> Option<Inputs> {
    Some(inputs_of(&payloads(required)?))
}

fn inputs_of(files: &[PathBuf]) -> Inputs {
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
    Inputs {
        b64,
        gz,
        json_bytes,
        events,
    }
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
    pipeline_each(inputs, config, scratch, body, |b| wire += b.len());
    wire
}

/// [`pipeline`], handing each request body to `each`.
fn pipeline_each(
    inputs: &Inputs,
    config: &ReceiverConfig,
    scratch: &mut Scratch,
    body: &mut Vec<u8>,
    mut each: impl FnMut(&[u8]),
) {
    for d in &inputs.b64 {
        let mut targets = Targets::new();
        let mut summary = Summary::default();
        let doc = decode_route(d, config, scratch, &mut targets, &mut summary);
        for b in receiver::batches(targets) {
            let mut events = b.events;
            for range in batch::plan(&mut events) {
                batch::request_body(&b.group, &b.stream, &events[range], body);
                each(body);
            }
            // As the writer does once the requests are sent.
            batch::release(events);
        }
        scratch.recycle(doc);
    }
}

/// A digest of every request body the pipeline writes with `config`, and their bytes in total.
fn bodies(inputs: &Inputs, config: &ReceiverConfig) -> (u64, usize) {
    let mut h = DefaultHasher::new();
    let mut bytes = 0;
    let (mut scratch, mut body) = (Scratch::default(), Vec::new());
    pipeline_each(inputs, config, &mut scratch, &mut body, |b| {
        h.write(b);
        bytes += b.len();
    });
    (h.finish(), bytes)
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
    config_with(&[])
}

/// The receiver configured `REDACT=all`. Until the receiver knows `REDACT`, it ignores it, as
/// it does any variable it does not read.
fn redact_all_config() -> ReceiverConfig {
    config_with(&[("REDACT", "all")])
}

/// `TARGET_LOG_GROUP=/central` and the variables of `extra`, as the function reads them.
fn config_with(extra: &[(&str, &str)]) -> ReceiverConfig {
    ReceiverConfig::from_lookup(|k| {
        if k == "TARGET_LOG_GROUP" {
            return Some("/central".to_string());
        }
        extra
            .iter()
            .find(|(v, _)| *v == k)
            .map(|(_, x)| x.to_string())
    })
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

/// [`rates`] of `a` and of `b` over `rounds` rounds each, taken in turns (a b, b a, a b, ...)
/// after one untimed call of each: whatever else the machine does falls on both alike.
fn interleaved(
    inputs: &Inputs,
    rounds: usize,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> ((f64, f64), (f64, f64)) {
    a();
    b();
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    let timed = |f: &mut dyn FnMut(), out: &mut Vec<f64>| {
        let t = Instant::now();
        f();
        out.push(inputs.json_bytes as f64 / t.elapsed().as_secs_f64() / 1e6);
    };
    for i in 0..rounds {
        if i % 2 == 0 {
            timed(&mut a, &mut ra);
            timed(&mut b, &mut rb);
        } else {
            timed(&mut b, &mut rb);
            timed(&mut a, &mut ra);
        }
    }
    let median_best = |mut r: Vec<f64>| {
        r.sort_by(f64::total_cmp);
        (r[r.len() / 2], r[r.len() - 1])
    };
    (median_best(ra), median_best(rb))
}

/// The median of [`rates`].
fn mbps(inputs: &Inputs, rounds: usize, f: impl FnMut()) -> f64 {
    rates(inputs, rounds, f).0
}

fn summary(inputs: &Inputs, clean: Option<&Inputs>) {
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
    redaction_summary(inputs, clean);
}

/// The summary's redaction lines: `REDACT=all` against the plain pipeline on the bench payloads
/// and on the clean ones, each pair in turns.
fn redaction_summary(inputs: &Inputs, clean: Option<&Inputs>) {
    let (cfg, redact) = (config(), redact_all_config());
    let (mut s1, mut b1, mut s2, mut b2) = (
        Scratch::default(),
        Vec::new(),
        Scratch::default(),
        Vec::new(),
    );
    let mut pair = |inputs: &Inputs, rounds: usize| {
        interleaved(
            inputs,
            rounds,
            || {
                black_box(pipeline(inputs, &cfg, &mut s1, &mut b1));
            },
            || {
                black_box(pipeline(inputs, &redact, &mut s2, &mut b2));
            },
        )
    };
    let cost = |plain: f64, redacted: f64| (plain / redacted - 1.0) * 100.0;
    let line = |what: &str, rate: f64| println!("{what:<36}{rate:.1} MB/s");

    let ((_, plain_best), (red, red_best)) = pair(inputs, PAIR_ROUNDS);
    line("rust redact-all pipeline", red);
    line("rust redact-all pipeline best", red_best);
    println!(
        "redaction cost on bench payloads    {:.1} % (best of {PAIR_ROUNDS} against best of \
         {PAIR_ROUNDS}, in turns)",
        cost(plain_best, red_best)
    );
    let (plain_bodies, redacted_bodies) = (bodies(inputs, &cfg), bodies(inputs, &redact));
    if plain_bodies == redacted_bodies {
        println!(
            "note: REDACT=all changed no request body of the bench payloads: this build does not \
             redact, and every redact-all figure is the plain pipeline's"
        );
    } else {
        println!(
            "REDACT=all rewrote the bench payloads' request bodies: {} -> {} bytes",
            plain_bodies.1, redacted_bodies.1
        );
    }

    let Some(clean) = clean else {
        println!("clean payloads: none (see above); the clean figures are not measured");
        return;
    };
    let ((c, c_best), (cr, cr_best)) = pair(clean, PAIR_ROUNDS);
    println!(
        "input     {} clean payloads, {} events, {:.1} MB of decompressed JSON",
        clean.b64.len(),
        clean.events,
        clean.json_bytes as f64 / 1e6
    );
    line("rust clean pipeline", c);
    line("rust clean pipeline best", c_best);
    line("rust clean redact-all pipeline", cr);
    line("rust clean redact-all pipeline best", cr_best);
    println!(
        "redaction cost on clean payloads    {:.1} % (best of {PAIR_ROUNDS} against best of \
         {PAIR_ROUNDS}, in turns; medians {:.1} %)",
        cost(c_best, cr_best),
        cost(c, cr)
    );
    let (plain_bodies, redacted_bodies) = (bodies(clean, &cfg), bodies(clean, &redact));
    if plain_bodies != redacted_bodies {
        println!(
            "warning: REDACT=all changed request bodies of the clean payloads ({} -> {} bytes): \
             the redactor finds something in them (see bench/gen_payloads.py --clean)",
            plain_bodies.1, redacted_bodies.1
        );
    }
}

fn main() {
    // As the binaries do: freed memory stays for the next round (see logship::alloc).
    logship::alloc::keep_freed_memory();
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let Some(inputs) = inputs(benchmarking) else {
        return;
    };
    // The clean set only when benchmarking: `cargo test` runs the rest once, as a smoke test.
    let clean = if benchmarking {
        clean_payloads().map(|f| inputs_of(&f))
    } else {
        None
    };
    if benchmarking {
        summary(&inputs, clean.as_ref());
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
    let redact = redact_all_config();
    g.bench_function("redact-all", |b| {
        b.iter(|| pipeline(&inputs, &redact, &mut scratch, &mut body))
    });
    if let Some(clean) = &clean {
        g.throughput(Throughput::Bytes(clean.json_bytes as u64));
        g.bench_function("clean", |b| {
            b.iter(|| pipeline(clean, &cfg, &mut scratch, &mut body))
        });
        g.bench_function("clean-redact-all", |b| {
            b.iter(|| pipeline(clean, &redact, &mut scratch, &mut body))
        });
    }
    g.finish();
    c.final_summary();
}
