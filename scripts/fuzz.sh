#!/usr/bin/env bash
# make fuzz: every fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS (60) each, with libFuzzer
# under AddressSanitizer (cargo-fuzz on the nightly toolchain), seeded from events/
# (scripts/fuzz_seeds.py). `scripts/fuzz.sh smoke` (make test): FUZZ_SMOKE_SECONDS (5) each.
# Installs cargo-fuzz, pinned, into .tools/ when it is missing. Each target's corpus grows in
# fuzz/corpus/<target>; a crash stops the run, its input kept in fuzz/artifacts/<target>/ (once
# fixed, copy it into fuzz/regressions/<target>/, which the ordinary suite replays). One line
# per target: runs, seconds, coverage. Each run also reads fuzz/regressions/<target>/.
# `scripts/fuzz.sh minimise`, after a campaign: each target's corpus, seeds and regressions
# merged into the fewest inputs with the same coverage (libFuzzer's -merge=1), which become
# fuzz/regressions/<target>/ (the inputs kept from findings, named finding-*, stay).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_FUZZ_VERSION=0.13.2
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
seconds=${FUZZ_SECONDS:-60}
if [ "${1:-}" = smoke ]; then
  seconds=${FUZZ_SMOKE_SECONDS:-5}
fi
if ! .tools/bin/cargo-fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root .tools --quiet
fi
export PATH="$PWD/.tools/bin:$PATH"
rm -rf fuzz/seeds
python3 scripts/fuzz_seeds.py fuzz/seeds >/dev/null
mkdir -p target/fuzz
start=$SECONDS
build() { (cd fuzz && cargo "+$TOOLCHAIN" fuzz build >"../target/fuzz/build$1.log" 2>&1); }
# What a failed build said, short enough to be read at the end of a CI log: each error with
# the lines after it (a link's command line cut to its start), then the disk and memory left.
# A link's failure shows only as "could not compile ... due to 1 previous error" otherwise.
failed_build() {
  grep -E -A12 '^error' "$1" | cut -c1-300 | head -60
  df -h . | tail -1 | awk '{print "fuzz: disk " $4 " free of " $2}'
  free -m | awk '/^Mem:/ {print "fuzz: memory " $7 " MiB available of " $2}'
}
if ! build ""; then
  # Once more, one job at a time: two instrumented links at once each hold a binary of about
  # 130 MB. A second failure is the build's own.
  failed_build target/fuzz/build.log
  echo "fuzz: the build failed; once more, one job at a time"
  if ! CARGO_BUILD_JOBS=1 build "-again"; then
    failed_build target/fuzz/build-again.log
    echo "fuzz: the targets do not build ($TOOLCHAIN)"
    exit 1
  fi
fi
echo "fuzz: targets built with AddressSanitizer ($(rustc "+$TOOLCHAIN" --version), cargo-fuzz $CARGO_FUZZ_VERSION) in $((SECONDS - start)) s"
if [ "${1:-}" = minimise ]; then
  for target in $(cd fuzz && cargo "+$TOOLCHAIN" fuzz list); do
    merged="target/fuzz/merged/$target"
    rm -rf "$merged" && mkdir -p "$merged" "fuzz/corpus/$target"
    (cd fuzz && cargo "+$TOOLCHAIN" fuzz run "$target" "../$merged" "corpus/$target" \
        "seeds/$target" "regressions/$target" -- -merge=1 -rss_limit_mb=2048 -timeout=10) \
      >"target/fuzz/$target.merge.log" 2>&1
    cp fuzz/regressions/"$target"/finding-* "$merged"/ 2>/dev/null || true
    rm -rf "fuzz/regressions/$target" && cp -r "$merged" "fuzz/regressions/$target"
    echo "fuzz $target: $(ls "fuzz/regressions/$target" | wc -l) inputs kept, $(du -sk "fuzz/regressions/$target" | cut -f1) KB"
  done
  exit 0
fi
for target in $(cd fuzz && cargo "+$TOOLCHAIN" fuzz list); do
  mkdir -p "fuzz/corpus/$target"
  log="target/fuzz/$target.log"
  # -rss_limit_mb: a hostile payload must not grow memory; -timeout: nor take seconds.
  if (cd fuzz && cargo "+$TOOLCHAIN" fuzz run "$target" "corpus/$target" "seeds/$target" \
        "regressions/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1) >"$log" 2>&1; then
    runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo "?")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    echo "fuzz $target: $runs runs in $seconds s, $cov, corpus $(ls "fuzz/corpus/$target" | wc -l) inputs, no crash"
  else
    grep -E 'panicked|ERROR: AddressSanitizer|SUMMARY|Test unit written|out-of-memory|timeout' "$log" | head -20
    echo "fuzz $target: FAILED (log $log; the input is in fuzz/artifacts/$target/)"
    exit 1
  fi
done
