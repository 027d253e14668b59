#!/usr/bin/env bash
# make test, after the build and lint steps: cfn-lint, the emulator front's own tests, every
# cargo test; then one closing line counting them all.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log" "$log.demo"' EXIT
cfn-lint template.yaml
echo "cfn-lint template.yaml: no errors"
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
passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: $passed passed, $failed failed"
