//! What the benches share: the generated payloads and a counting allocator.
//!
//! The payloads (`bench/gen_payloads.py`, 20 × 2,000 events) are generated into
//! `<target>/bench-payloads` when missing or older than the generator; a bench decodes or
//! reads them outside anything it times. The clean set (`gen_payloads.py --clean`: the same
//! events with nothing a redactor would find) goes to `<target>/bench-payloads-clean` the same
//! way, or is read from `$LOGSHIP_CLEAN_PAYLOADS` when that names a directory.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::{env, fs};

pub const PAYLOADS: usize = 20;
pub const EVENTS_PER_PAYLOAD: usize = 2_000;

// ---- counting allocator --------------------------------------------------------------------

/// The system allocator, counting every allocation and the bytes requested (a `realloc`
/// counts as one allocation of its new size).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method hands its arguments to the system allocator unchanged and returns what it
// returns; counting touches only atomics and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller's promises to this method are the ones `System` asks for.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller's promises to this method are the ones `System` asks for.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: the caller's promises to this method are the ones `System` asks for.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's promises to this method are the ones `System` asks for.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes made by `f` (this thread is the only one running).
pub fn count_allocs<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    let out = f();
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    (out, a1 - a0, b1 - b0)
}

// ---- inputs ----------------------------------------------------------------------------------

pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("shared/ has a parent")
        .to_path_buf()
}

fn payload_dir(root: &Path, name: &str) -> PathBuf {
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(|t| root.join(t))
        .unwrap_or_else(|| root.join("target"));
    target.join(name)
}

fn payload_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("payload-") && n.ends_with(".b64"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// True when a payload was made before the generator last changed: it is made again.
fn outdated(files: &[PathBuf], generator: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    modified(generator).is_some_and(|g| files.iter().any(|f| modified(f).is_none_or(|t| t < g)))
}

/// The payload files, generated first when missing or outdated. `None` when the generator is
/// missing and `required` is false (test mode).
pub fn payloads(required: bool) -> Option<Vec<PathBuf>> {
    generated("bench-payloads", &[], required, "bench")
}

/// The clean payload files (`gen_payloads.py --clean`): those in `$LOGSHIP_CLEAN_PAYLOADS` when
/// it is set (never generated there), else `<target>/bench-payloads-clean`, generated first when
/// missing or outdated. `None`, with a note on stderr, when there are none and the generator is
/// missing or the directory named is empty: the figures of the clean set are extras, and their
/// absence is reported by whoever reads them (`bench/run.sh`).
pub fn clean_payloads() -> Option<Vec<PathBuf>> {
    if let Some(dir) = env::var_os("LOGSHIP_CLEAN_PAYLOADS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        let files = payload_files(&dir);
        if files.is_empty() {
            eprintln!(
                "clean payloads skipped: no payload-*.b64 in LOGSHIP_CLEAN_PAYLOADS={} \
                 (make them with bench/gen_payloads.py DIR --clean)",
                dir.display()
            );
            return None;
        }
        return Some(files);
    }
    generated(
        "bench-payloads-clean",
        &["--clean"],
        false,
        "figures of the clean payloads",
    )
}

/// The files of `<target>/<name>`, generated with `gen_payloads.py <dir> N EVENTS <args>` first
/// when missing or outdated; `skipped` names what goes without them.
fn generated(name: &str, args: &[&str], required: bool, skipped: &str) -> Option<Vec<PathBuf>> {
    let root = workspace_root();
    let dir = payload_dir(&root, name);
    let files = payload_files(&dir);
    let generator = root.join("bench/gen_payloads.py");
    if files.len() >= PAYLOADS && !outdated(&files, &generator) {
        return Some(files);
    }
    if !generator.is_file() {
        let msg = format!(
            "payload generator not found at {}, and no payload-*.b64 files in {}",
            generator.display(),
            dir.display()
        );
        if required {
            panic!("{msg}");
        }
        eprintln!("{skipped} skipped: {msg}");
        return None;
    }
    // Generate beside the final directory and rename, so an interrupted run leaves no partial set.
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let status = Command::new("python3")
        .arg(&generator)
        .arg(&tmp)
        .arg(PAYLOADS.to_string())
        .arg(EVENTS_PER_PAYLOAD.to_string())
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", generator.display()));
    assert!(
        status.success(),
        "python3 {} {} {PAYLOADS} {EVENTS_PER_PAYLOAD} {} failed: {status}",
        generator.display(),
        tmp.display(),
        args.join(" ")
    );
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp, &dir)
        .unwrap_or_else(|e| panic!("cannot move {} to {}: {e}", tmp.display(), dir.display()));
    let how = if args.is_empty() {
        String::new()
    } else {
        format!(" ({})", args.join(" "))
    };
    println!(
        "generated {PAYLOADS} payloads × {EVENTS_PER_PAYLOAD} events into {}{how}",
        dir.display()
    );
    Some(payload_files(&dir))
}
