#!/usr/bin/env python3
"""The Python reference for redaction: bench/python_pipeline.py's pipeline with the Datadog
Forwarder's scrubbing (REDACT_IP and REDACT_EMAIL) applied to every message, timed beside the
same pipeline without it, in one run, on the same payloads as the Rust bench.

usage: bench/python_redact.py PAYLOAD_DIR [ROUNDS]
       (PAYLOAD_DIR holds payload-*.b64 from bench/gen_payloads.py, with or without --clean;
       ROUNDS defaults to 3)

The pipeline is python_pipeline.forward itself (base64, gunzip, json.loads, empty messages
dropped, sorted, cut into PutLogEvents requests, bodies as botocore writes them). With
redaction, each non-empty message goes through the forwarder's two default rules before the
batches are cut (so request sizes are those of the redacted text), the way the forwarder's
DatadogScrubber.scrub applies its rules: `regex.sub(placeholder, text)` for each rule in turn.

  REDACT_IP     \\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}          -> xxx.xxx.xxx.xxx
  REDACT_EMAIL  [a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\\.[a-zA-Z0-9-.]+  -> xxxxx@xxxxx.com

Source of the patterns and placeholders: DataDog/datadog-serverless-functions,
aws/logs_monitoring/settings.py (SCRUBBING_RULE_CONFIGS), applied by
aws/logs_monitoring/logs/datadog_scrubber.py (DatadogScrubber.scrub). The forwarder itself runs
the rules over each batch's serialised text (logs/datadog_http_client.py scrubs the joined JSON
array of a batch); the reference applies them per message, the method the budget is stated in
(issue 13: `re.sub` per rule per message), and prints the per-batch variant beside it, over
each request body, for information.

The variants take turns within each round (plain, per message, per body), after one untimed
warm-up each, so that other load on the machine falls on all of them alike. Every figure is MB/s
of decompressed JSON on one core; printed, in the form bench/run.sh reads:

  python full pipeline                        <median of the rounds> MB/s
  python full pipeline best                   <best round> MB/s
  python pipeline + redact ip,email           <median> MB/s
  python pipeline + redact ip,email best      <best> MB/s
  python pipeline + redact ip,email per body  <median> MB/s   (for information)
  python redaction cost                       <percent> % (medians: time with / time without - 1)

Before timing, the redacted requests of one round are checked against the PutLogEvents limits,
and what the rules match is counted (an `input` and a `matches` line).
"""
import base64
import gzip
import json
import re
import statistics
import sys
import time
from pathlib import Path

# The script's directory is on sys.path: the pipeline is the one the other budgets use.
from python_pipeline import check, forward

# The Datadog Forwarder's REDACT_IP and REDACT_EMAIL rules (see the docstring for where from).
RULES = [
    (re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"), "xxx.xxx.xxx.xxx"),
    (re.compile(r"[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+"), "xxxxx@xxxxx.com"),
]


def scrub(text):
    """Every rule over `text`, in turn, as DatadogScrubber.scrub does."""
    for regex, placeholder in RULES:
        text = regex.sub(placeholder, text)
    return text


def interleaved(rounds, json_bytes, runs):
    """MB/s of decompressed JSON for each of `runs` (name -> callable), over `rounds` rounds in
    which every run takes its turn; one untimed call of each first."""
    for run in runs.values():
        run()
    out = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t = time.perf_counter()
            run()
            out[name].append(json_bytes / (time.perf_counter() - t) / 1e6)
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    files = sorted(Path(sys.argv[1]).glob("payload-*.b64"))
    if not files:
        sys.exit("no payload-*.b64 in %s (make them with bench/gen_payloads.py)" % sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) == 3 else 3
    datas = [f.read_text().strip() for f in files]
    json_bytes = sum(len(gzip.decompress(base64.b64decode(d))) for d in datas)

    requests, events, body_bytes = check(datas, scrub)
    print("input     %d payloads, %d events, %.1f MB of decompressed JSON -> %d requests, %.1f MB of "
          "redacted request bodies" % (len(datas), events, json_bytes / 1e6, requests, body_bytes / 1e6))
    counts, touched = [0] * len(RULES), 0
    for d in datas:
        for e in json.loads(gzip.decompress(base64.b64decode(d)))["logEvents"]:
            hit = False
            for i, (regex, _) in enumerate(RULES):
                n = len(regex.findall(e["message"]))
                counts[i] += n
                hit = hit or n > 0
            touched += hit
    print("matches   %d ip, %d email, in %d of %d messages" % (counts[0], counts[1], touched, events))

    def plain():
        for d in datas:
            forward(d)

    def per_message():
        for d in datas:
            forward(d, scrub)

    def per_body():
        for d in datas:
            for body in forward(d):
                scrub(body.decode("utf-8"))

    r = interleaved(rounds, json_bytes, {"plain": plain, "message": per_message, "body": per_body})
    med = {k: statistics.median(v) for k, v in r.items()}
    print("python full pipeline                        %.1f MB/s" % med["plain"])
    print("python full pipeline best                   %.1f MB/s" % max(r["plain"]))
    print("python pipeline + redact ip,email           %.1f MB/s" % med["message"])
    print("python pipeline + redact ip,email best      %.1f MB/s" % max(r["message"]))
    print("python pipeline + redact ip,email per body  %.1f MB/s" % med["body"])
    print("python redaction cost                       %.0f %%" % ((med["plain"] / med["message"] - 1) * 100))


if __name__ == "__main__":
    main()
