#!/usr/bin/env bash
# make test, after the build and lint steps: cfn-lint, SAM CLI's own validation and build of the
# template, the emulator front's own tests, every cargo test, a smoke run of every fuzz target;
# then one closing line counting them all.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
sam_build=$(mktemp -d)
trap 'rm -rf "$log" "$log.demo" "$log.sam" "$sam_build"' EXIT
cfn-lint template.yaml templates/*.yaml
echo "cfn-lint template.yaml templates/*.yaml: no errors"
# SAM CLI itself (the pinned .venv-sam, reading samconfig.toml as a user's sam does): its
# validation (Fn::ForEach expanded, the SAM transform, cfn-lint), then the whole sam build, as
# `make sam-build` runs it, into a scratch directory.
sam_version=$(.venv-sam/bin/sam --version)
start=$SECONDS
if scripts/sam.sh validate >"$log.sam" 2>&1; then
  echo "sam validate and sam validate --lint ($sam_version): template.yaml is valid, lint clean ($((SECONDS - start)) s)"
else
  cat "$log.sam"
  echo "sam validate failed ($sam_version)"
  exit 1
fi
start=$SECONDS
if scripts/sam.sh build "$sam_build" >"$log.sam" 2>&1; then
  echo "sam build ($sam_version): $(grep -c ': arm64, ' "$log.sam") arm64 bootstraps ($(grep ': arm64, ' "$log.sam" | sed -E 's|.*/([^/]+)/bootstrap: .*|\1|' | paste -sd ' ')) ($((SECONDS - start)) s)"
else
  cat "$log.sam"
  echo "sam build failed ($sam_version)"
  exit 1
fi
rm -f "$log.sam"
# The demo too: the receiver under cargo-lambda's own Runtime API emulator (whose deadline
# header differs from Lambda's), every sample, against the local emulator.
if scripts/demo.sh >"$log.demo" 2>&1; then
  echo "make demo: every sample invoked under cargo lambda watch, and its events landed"
else
  cat "$log.demo"
  echo "make demo failed"
  exit 1
fi
rm -f "$log.demo"
.venv/bin/python -m pytest -q tests/support | tee -a "$log"
cargo test --workspace --all-targets --locked 2>&1 | tee -a "$log"
# A short run of every fuzz target under AddressSanitizer (make fuzz runs them longer).
scripts/fuzz.sh smoke
passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: $passed passed, $failed failed"
