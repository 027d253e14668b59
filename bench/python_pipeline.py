#!/usr/bin/env python3
"""The Python reference for logship's receiver pipeline: what a Python forwarder does with a
direct delivery before it calls PutLogEvents, timed on the same payloads as the Rust bench.

usage: bench/python_pipeline.py PAYLOAD_DIR [ROUNDS]
       (PAYLOAD_DIR holds payload-*.b64 from bench/gen_payloads.py; ROUNDS defaults to 3)

Per payload (the base64 text of event["awslogs"]["data"]):
  base64 -> gunzip -> json.loads of the subscription document; control messages skipped;
  the events' timestamp and message, empty messages dropped (the service refuses them);
  sorted by timestamp (list.sort, stable); cut greedily into PutLogEvents requests of at most
  10,000 events, 1,048,576 bytes (UTF-8 bytes of each message + 26) and 24 hours;
  each request's body made as botocore's JSON serializer makes it, json.dumps(body) with its
  defaults, encoded as UTF-8: {"logGroupName": "/central", "logStreamName":
  "<owner>/<group>/<stream>", "logEvents": [{"timestamp": ..., "message": ...}, ...]}
  (logship's default target names; ':' and '*' in the stream name become '_').

Not done, as the Rust pipeline bench does not do them either: sending the requests (no
botocore client, signing, retries or HTTP); splitting messages over 1 MB (the generated payloads
have none); include/exclude patterns; the 14-day / 2-hour age checks.

Also timed: Python's gunzip alone (gzip.decompress of every payload's bytes, base64 decoded
beforehand), the floor of any pipeline that inflates with zlib.

Every figure is MB/s of decompressed JSON (the documents' size after gunzip, the unit the Rust
bench uses) on one core. Each of the two loops runs once untimed (warm-up), then ROUNDS timed
rounds over every payload; printed, in the form bench/run.sh reads:

  python gunzip-only        <median of the rounds> MB/s
  python full pipeline      <median of the rounds> MB/s
  python full pipeline best <best round> MB/s

Before timing, the requests of one round are checked against the limits above, and their count
and size are printed on an `input` line.
"""
import base64
import gzip
import json
import statistics
import sys
import time
from operator import itemgetter
from pathlib import Path

TARGET_LOG_GROUP = "/central"
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 60 * 60 * 1000
_STREAM_NAME_UNSAFE = str.maketrans(":*", "__")


def batches(events):
    """Consecutive runs of the time-sorted `events` that fit one PutLogEvents request each."""
    batch, size = [], 0
    for event in events:
        n = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD_BYTES
        if batch and (len(batch) == MAX_BATCH_EVENTS or size + n > MAX_BATCH_BYTES
                      or event["timestamp"] - batch[0]["timestamp"] > MAX_BATCH_SPAN_MS):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += n
    if batch:
        yield batch


def forward(data, scrub=None):
    """The PutLogEvents request bodies (bytes) for one payload's base64 text. `scrub`, when given,
    rewrites each non-empty message before the batches are cut (bench/python_redact.py)."""
    doc = json.loads(gzip.decompress(base64.b64decode(data)))
    if doc["messageType"] != "DATA_MESSAGE":
        return []
    stream = "%s/%s/%s" % (doc["owner"], doc["logGroup"], doc["logStream"])
    stream = stream.translate(_STREAM_NAME_UNSAFE)
    if scrub is None:
        events = [{"timestamp": e["timestamp"], "message": e["message"]} for e in doc["logEvents"] if e["message"]]
    else:
        events = [{"timestamp": e["timestamp"], "message": scrub(e["message"])} for e in doc["logEvents"] if e["message"]]
    events.sort(key=itemgetter("timestamp"))
    return [json.dumps({"logGroupName": TARGET_LOG_GROUP, "logStreamName": stream, "logEvents": batch}).encode("utf-8")
            for batch in batches(events)]


def check(datas, scrub=None):
    """The requests of one round against the limits; returns (requests, events, body bytes)."""
    requests = events = body_bytes = 0
    for data in datas:
        for body in forward(data, scrub):
            sent = json.loads(body)["logEvents"]
            stamps = [e["timestamp"] for e in sent]
            assert stamps == sorted(stamps), "events out of order"
            assert len(sent) <= MAX_BATCH_EVENTS
            assert sum(len(e["message"].encode("utf-8")) + EVENT_OVERHEAD_BYTES for e in sent) <= MAX_BATCH_BYTES
            assert stamps[-1] - stamps[0] <= MAX_BATCH_SPAN_MS
            requests += 1
            events += len(sent)
            body_bytes += len(body)
    return requests, events, body_bytes


def rates(rounds, json_bytes, run):
    """MB/s of decompressed JSON of each of `rounds` timed calls of `run`, after one untimed."""
    run()
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        run()
        out.append(json_bytes / (time.perf_counter() - t) / 1e6)
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    files = sorted(Path(sys.argv[1]).glob("payload-*.b64"))
    if not files:
        sys.exit("no payload-*.b64 in %s (make them with bench/gen_payloads.py)" % sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) == 3 else 3
    datas = [f.read_text().strip() for f in files]
    gzipped = [base64.b64decode(d) for d in datas]
    json_bytes = sum(len(gzip.decompress(g)) for g in gzipped)
    requests, events, body_bytes = check(datas)
    print("input     %d payloads, %d events, %.1f MB of decompressed JSON -> %d requests, %.1f MB of request bodies"
          % (len(datas), events, json_bytes / 1e6, requests, body_bytes / 1e6))

    def gunzip_all():
        for g in gzipped:
            gzip.decompress(g)

    def pipeline_all():
        for d in datas:
            forward(d)

    gunzip = rates(rounds, json_bytes, gunzip_all)
    pipeline = rates(rounds, json_bytes, pipeline_all)
    print("python gunzip-only        %.1f MB/s" % statistics.median(gunzip))
    print("python full pipeline      %.1f MB/s" % statistics.median(pipeline))
    print("python full pipeline best %.1f MB/s" % max(pipeline))


if __name__ == "__main__":
    main()
