#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from the samples in events/: writes DIR/<target>/<name>
files (DIR is fuzz/seeds in `make fuzz`). Read-only seeds beside each target's own growing
corpus: the subscription payloads' base64 data (decode_data), their documents (document_reader),
their messages as JSON string content up to the closing quote (string_scan), and the
log-writer's requests, direct and SQS bodies (log_writer_request).
usage: fuzz_seeds.py DIR"""
import base64, gzip, hashlib, json, pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
out = pathlib.Path(sys.argv[1])
seeds = {t: [] for t in ("decode_data", "document_reader", "string_scan", "log_writer_request")}


def subscription_data(event):
    """The base64 subscription payloads an event carries, whatever its shape."""
    if "awslogs" in event:
        yield event["awslogs"]["data"]
    for r in event.get("Records", []) or event.get("records", []):
        if "kinesis" in r:
            yield r["kinesis"]["data"]
        elif "data" in r:
            yield r["data"]


for path in sorted((root / "events").glob("*.json")):
    event = json.loads(path.read_text())
    if path.name.startswith("log-writer"):
        bodies = [r["body"] for r in event.get("Records", [])] or [json.dumps(event)]
        seeds["log_writer_request"] += [b.encode() for b in bodies]
        continue
    for data in subscription_data(event):
        seeds["decode_data"].append(data.encode())
        raw = base64.b64decode(data)
        try:
            text = gzip.decompress(raw)
        except OSError:
            text = raw  # Firehose records already decompressed
        seeds["document_reader"].append(text)
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        for e in doc.get("logEvents", []) if isinstance(doc, dict) else []:
            seeds["string_scan"].append(json.dumps(e.get("message", ""))[1:].encode())

for target, items in seeds.items():
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    for item in items:
        (d / hashlib.sha1(item).hexdigest()).write_bytes(item)
    print(f"{target}: {len(items)} seeds")
