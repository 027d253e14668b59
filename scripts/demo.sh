#!/usr/bin/env bash
# make demo: the subscription receiver on cargo-lambda's runtime emulator, shipping the samples
# in events/ into the local CloudWatch Logs emulator, then what landed. No AWS account needed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.venv/bin:$PATH"
work="$root/.demo"
rm -rf "$work" && mkdir -p "$work"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# 1. The CloudWatch Logs emulator on a free loopback port; it exits when its stdin closes.
setsid bash -c 'tail -f /dev/null | exec .venv/bin/python tests/support/moto_server.py' >"$work/moto.out" 2>"$work/moto.err" &
pids+=($!)
for _ in $(seq 1 300); do grep -q LISTENING "$work/moto.out" 2>/dev/null && break; sleep 0.1; done
endpoint=$(sed -n 's/^LISTENING //p' "$work/moto.out")
[ -n "$endpoint" ] || { echo "emulator did not start:"; cat "$work/moto.err"; exit 1; }
echo "CloudWatch Logs emulator: $endpoint"

# 2. The function under cargo-lambda's Runtime API emulator, configured like template.yaml with
#    the Content control parameters on: Redact=all and the README's custom rule.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cargo build -p subscription-receiver --quiet
export AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
       AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
       TARGET_LOG_GROUP=/logship/demo/central TARGET_LOG_STREAM='{logGroup}/{logStream}' \
       REDACT=all REDACT_RULES='[{"name":"order-id","pattern":"o-[0-9]{6}","replacement":"o-XXXXXX"}]'
setsid cargo lambda watch --invoke-port "$port" --ignore-changes -p subscription-receiver >"$work/watch.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done

# 3. Every sample, re-stamped to now (CloudWatch Logs refuses events older than 14 days).
for sample in direct control-message kinesis firehose firehose-decompressed replay-sqs direct-secrets; do
  python3 events/samples.py restamp "events/$sample.json" "$work/$sample.json"
  echo
  echo "--- cargo lambda invoke --data-file events/$sample.json"
  cargo lambda invoke subscription-receiver --invoke-port "$port" --data-file "$work/$sample.json" >"$work/$sample.out.json"
  if [ "${sample%%-*}" = firehose ]; then
    # Firehose gets NDJSON back, base64-encoded: show each record's result and first line.
    python3 -c 'import base64, json, sys
for r in json.load(open(sys.argv[1]))["records"]:
    lines = base64.b64decode(r["data"]).decode().splitlines()
    print(r["result"], "%d lines" % len(lines), (lines[0][:140] + " ...") if lines else "")' "$work/$sample.out.json"
  else
    cat "$work/$sample.out.json"; echo
  fi
done

# 4. What landed.
echo
echo "=== what landed in /logship/demo/central"
python3 scripts/show_logs.py --endpoint "$endpoint" --log-group-prefix /logship/demo/central
echo
echo "=== redacted before they left the function (events/direct-secrets.json)"
python3 scripts/show_logs.py --endpoint "$endpoint" --log-group-prefix /logship/demo/central >"$work/landed.txt"
grep -F '[REDACTED:' "$work/landed.txt" || { echo "no redacted line landed"; exit 1; }
if grep -E 'zoe\.martin@example\.com|AKIAIOSFODNN7EXAMPLE|4242 4242 4242 4242|o-482913' "$work/landed.txt"; then
  echo "a secret of events/direct-secrets.json landed unredacted"; exit 1
fi
echo
echo "=== the function's summary lines"
grep -o '"message":"invocation summary".*' "$work/watch.log" || grep "invocation summary" "$work/watch.log" || true
