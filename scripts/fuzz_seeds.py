#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from the samples in events/: writes DIR/<target>/<name>
files (DIR is fuzz/seeds in `make fuzz`). Read-only seeds beside each target's own growing
corpus: the subscription payloads' base64 data (decode_data), their documents (document_reader),
their messages as JSON string content up to the closing quote (string_scan), and the
log-writer's requests, direct and SQS bodies (log_writer_request); whole receiver events, as
they are and as their documents for the target to wrap in each shape (receiver_event, see
shared/src/fuzzing/receiver.rs for the selector byte); and every message with each escape
style, and secrets of every detector (redaction, see shared/src/fuzzing/redaction.rs).
usage: fuzz_seeds.py DIR"""
import base64, gzip, hashlib, json, pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
out = pathlib.Path(sys.argv[1])
TARGETS = ("decode_data", "document_reader", "string_scan", "log_writer_request",
           "receiver_event", "redaction")
seeds = {t: [] for t in TARGETS}
# Secrets of each detector (REDACT) and a custom rule's (shared/src/fuzzing/redaction.rs), in
# plain text and in a JSON message.
SECRETS = ["bob@example.org", "10.0.0.1", "2001:db8::1:2", "4111 1111 1111 1111",
           "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig",
           "Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA",
           "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "TICKET-12345"]
for i, secret in enumerate(SECRETS):
    for text in (f"user {secret} done", json.dumps({"m": secret, "n": [1, 4111111111111111]})):
        seeds["redaction"].append(bytes([i % 5]) + text.encode())
        seeds["redaction"].append(bytes([0x80 | i % 5]) + text.encode())


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
    if path.name.startswith("insights"):
        continue
    # The event as it is, under each configuration; then its documents, wrapped by the target.
    for config in range(4):
        seeds["receiver_event"].append(bytes([config << 3]) + path.read_bytes())
    docs = []
    for data in subscription_data(event):
        seeds["decode_data"].append(data.encode())
        raw = base64.b64decode(data)
        try:
            text = gzip.decompress(raw)
        except OSError:
            text = raw  # Firehose records already decompressed
        seeds["document_reader"].append(text)
        docs.append(text)
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        for e in doc.get("logEvents", []) if isinstance(doc, dict) else []:
            seeds["string_scan"].append(json.dumps(e.get("message", ""))[1:].encode())
            message = e.get("message", "")
            if isinstance(message, str):
                for style in range(5):
                    seeds["redaction"].append(bytes([style]) + message.encode())
    if docs:
        for shape in range(1, 7):
            seeds["receiver_event"].append(
                bytes([shape | (shape % 4) << 3]) + b"\xff".join(docs))

for target, items in seeds.items():
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    for item in items:
        (d / hashlib.sha1(item).hexdigest()).write_bytes(item)
    print(f"{target}: {len(items)} seeds")
