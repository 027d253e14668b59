#!/usr/bin/env python3
"""Sample CloudWatch Logs subscription events for logship: generate, restamp, decode.

Why: the functions receive CloudWatch Logs subscription payloads three ways -- directly from a
subscription filter (`{"awslogs": {"data": ...}}`), through Kinesis Data Streams and through a
Firehose data transformation -- as base64 of gzip of JSON; and a fourth way when failed
deliveries are replayed: an SQS event of Lambda on-failure records, each body holding the
original delivery in `requestPayload`. A Firehose stream with its own "decompress CloudWatch
Logs records" turned on hands the transformation the plain JSON instead, base64 only
(firehose-decompressed.json). These samples are realistic
(56-digit event ids, Lambda START/END/REPORT lines, JSON app logs, an access log line, a multi-line
traceback, non-ASCII text, an account-level policy payload, a control message) so that the demo,
`cargo lambda invoke --data-file` and the end-to-end tests all read the same, readable files.

    python events/samples.py generate [--out-dir DIR]      # rewrite the sample files (deterministic)
    python events/samples.py restamp IN OUT [--now-ms MS]  # shift event times to just before now
    python events/samples.py decode IN                      # print the embedded payloads

`generate` uses fixed timestamps from 2026-11-22T01:00:00Z and fixed seeds, so the files only
change when this script does. CloudWatch Logs refuses events older than 14 days, hence `restamp`:
it moves every log event of a file by one common offset so that the newest is now - 60 s (gaps
kept), re-encodes the payloads and leaves every other field as it was. OUT may be `-` (stdout).

Standard library only, so any python3 runs it.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ACCOUNT = "123456789012"
REGION = "us-east-1"
BASE_MS = int(datetime(2026, 11, 22, 1, 0, 0, tzinfo=timezone.utc).timestamp() * 1000)
EVENTS_DIR = Path(__file__).resolve().parent
FILTER = "ship-to-central"
CONTROL_TEXT = "CWL CONTROL MESSAGE: Checking health of destination Firehose."

# --- Encoding ----------------------------------------------------------------------------------


def encode(payload: dict[str, Any], ascii_only: bool = False) -> str:
    """base64(gzip(compact JSON)), as CloudWatch Logs sends it. mtime=0 keeps it deterministic."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def encode_plain(payload: dict[str, Any], ascii_only: bool = False) -> str:
    """base64(compact JSON): a record once Firehose's own decompression has run, no gzip."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def decode(data: str) -> tuple[dict[str, Any], bool, bool]:
    """The payload, whether its JSON was pure ASCII and whether it was gzip (so re-encoding can
    keep both)."""
    raw = base64.b64decode(data)
    gzipped = raw[:2] == b"\x1f\x8b"
    if gzipped:
        raw = gzip.decompress(raw)
    return json.loads(raw), raw.isascii(), gzipped


# --- Realistic content -------------------------------------------------------------------------


def digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(n - 1))


def hex32(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def events(rng: random.Random, timed: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"id": digits(rng, 56), "timestamp": ms, "message": msg} for ms, msg in timed]


def data_message(
    group: str, stream: str, log_events: list[dict[str, Any]], filters: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": filters,
        "logEvents": log_events,
        **extra,
    }


def control_message(ms: int) -> dict[str, Any]:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": ms, "message": CONTROL_TEXT}],
    }


def orders_api(rng: random.Random, start_ms: int, order_id: int) -> dict[str, Any]:
    """One Python Lambda invocation of orders-api: 8 events of every kind we must survive."""
    req = uid(rng)
    t = start_ms
    app_log = {
        "level": "INFO",
        "timestamp": iso(t + 14),
        "requestId": req,
        "service": "orders-api",
        "message": "order received",
        "orderId": order_id,
        "amountCents": 1999,
        "currency": "EUR",
    }
    warn_log = {
        "level": "WARNING",
        "timestamp": iso(t + 88),
        "requestId": req,
        "service": "orders-api",
        "message": "payment provider slow",
        "latencyMs": 1873,
    }
    traceback = (
        f"[ERROR]\t{iso(t + 95)}\t{req}\tPayment declined for order {order_id}\n"
        "Traceback (most recent call last):\n"
        '  File "/var/task/app.py", line 31, in handler\n'
        "    receipt = charge(order)\n"
        '  File "/var/task/payments.py", line 12, in charge\n'
        "    raise PaymentDeclined(order.id, reason=\"insufficient_funds\")\n"
        f"payments.PaymentDeclined: ({order_id}, 'insufficient_funds')\n"
    )
    timed = [
        (t, f"START RequestId: {req} Version: $LATEST\n"),
        (t + 14, json.dumps(app_log, separators=(",", ":"))),
        (t + 15, f'10.0.3.17 - - [{datetime.fromtimestamp((t + 15) / 1000, tz=timezone.utc):%d/%b/%Y:%H:%M:%S +0000}] '
                 f'"POST /orders/{order_id}/pay HTTP/1.1" 402 87 "-" "okhttp/4.12.0"\n'),
        (t + 88, json.dumps(warn_log, separators=(",", ":"))),
        (t + 95, traceback),
        (t + 96, f"Zahlung für Bestellung {order_id} – ✓ (Rückerstattung ausgelöst, 19,99 €)"),
        (t + 102, f"END RequestId: {req}\n"),
        (
            t + 102,
            f"REPORT RequestId: {req}\tDuration: 101.87 ms\tBilled Duration: 102 ms\t"
            "Memory Size: 256 MB\tMax Memory Used: 81 MB\tInit Duration: 412.66 ms\t\n",
        ),
    ]
    stream = f"2026/11/22/[$LATEST]{hex32(rng)}"
    return data_message("/aws/lambda/orders-api", stream, events(rng, timed), [FILTER])


def signup_api(rng: random.Random, start_ms: int) -> dict[str, Any]:
    """One invocation of a sign-up function that logs what it must not (the Content control
    sample, events/direct-secrets.json): an address and a client IP in a text line, a JSON log
    written by a Go library (which escapes < and > as \\u003c and \\u003e) with an address,
    a card number and an IPv6 client, a bearer JWT, an access key pair in a config dump, and
    an order id for a custom rule. Every value is a documentation one (RFC 5737 / 3849 addresses,
    AWS's example keys, a test card number)."""
    req = uid(rng)
    t = start_ms
    go_log = (
        '{"level":"info","ts":"%s","msg":"new account \\u003czoe.martin@example.com\\u003e",'
        '"card":"4242 4242 4242 4242","client_ip":"2001:db8:85a3::8a2e:370:7334","plan":"pro"}'
    ) % iso(t + 40)
    timed = [
        (t, f"START RequestId: {req} Version: $LATEST\n"),
        (t + 12, f"[INFO]\t{iso(t + 12)}\t{req}\tsign-up from 203.0.113.9 for zoe.martin@example.com\n"),
        (t + 40, go_log),
        (t + 55, f"[WARN]\t{iso(t + 55)}\t{req}\tretrying GET /v1/profile with Authorization: Bearer "
                 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ6b2UifQ.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n"),
        (t + 61, f"[ERROR]\t{iso(t + 61)}\t{req}\tclient config: region=eu-west-1 "
                 "aws_access_key_id=AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
        (t + 70, f"[INFO]\t{iso(t + 70)}\t{req}\twelcome order o-482913 queued (version 1.2.3, 12:00:01)\n"),
        (t + 71, f"END RequestId: {req}\n"),
        (t + 71, f"REPORT RequestId: {req}\tDuration: 70.12 ms\tBilled Duration: 71 ms\t"
                 "Memory Size: 256 MB\tMax Memory Used: 77 MB\t\n"),
    ]
    stream = f"2026/11/22/[$LATEST]{hex32(rng)}"
    return data_message("/aws/lambda/signup-api", stream, events(rng, timed), [FILTER])


def ecs_payments(rng: random.Random, start_ms: int) -> dict[str, Any]:
    """A Go service on ECS writing JSON lines (awslogs driver): a second source group."""
    task = hex32(rng)
    lines = [
        {"time": iso(start_ms), "level": "INFO", "msg": "payment authorized", "order_id": 41,
         "amount": "42.50", "currency": "EUR", "latency_ms": 87},
        {"time": iso(start_ms + 230), "level": "ERROR", "msg": "card declined", "order_id": 42,
         "amount": "19.99", "currency": "EUR", "decline_code": "insufficient_funds"},
        {"time": iso(start_ms + 1450), "level": "INFO", "msg": "refund issued", "order_id": 42,
         "amount": "19.99", "currency": "EUR", "note": "Rückerstattung"},
    ]
    timed = [(start_ms + off, json.dumps(line, separators=(",", ":")))
             for off, line in zip((0, 230, 1450), lines)]
    return data_message("/aws/ecs/payments", f"payments/payments-api/{task}", events(rng, timed), [FILTER])


def account_policy(rng: random.Random, start_ms: int) -> dict[str, Any]:
    """A payload delivered by an account-level subscription filter policy (adds policyLevel)."""
    req = uid(rng)
    timed = [
        (start_ms, f"START RequestId: {req} Version: 7\n"),
        (start_ms + 3, f"[INFO]\t{iso(start_ms + 3)}\t{req}\tsynced 118 SKUs from warehouse eu-central\n"),
        (start_ms + 41, f"END RequestId: {req}\n"),
        (
            start_ms + 41,
            f"REPORT RequestId: {req}\tDuration: 40.12 ms\tBilled Duration: 41 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 64 MB\t\n",
        ),
    ]
    stream = f"2026/11/22/[7]{hex32(rng)}"
    return data_message(
        "/aws/lambda/inventory-sync", stream, events(rng, timed), ["central-account-policy"],
        policyLevel="ACCOUNT_LEVEL_POLICY",
    )


# --- Envelopes ---------------------------------------------------------------------------------


def direct_event(payload: dict[str, Any]) -> dict[str, Any]:
    return {"awslogs": {"data": encode(payload)}}


def kinesis_event(rng: random.Random, payloads: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/central-logs"
    records = []
    for arrival_ms, payload in payloads:
        seq = digits(rng, 56)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": hex32(rng),
                    "sequenceNumber": seq,
                    "data": encode(payload),
                    "approximateArrivalTimestamp": arrival_ms / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{seq}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/lambda-kinesis",
                "awsRegion": REGION,
                "eventSourceARN": stream_arn,
            }
        )
    return {"Records": records}


def firehose_event(
    rng: random.Random, payloads: list[tuple[int, dict[str, Any]]], decompressed: bool = False
) -> dict[str, Any]:
    """A Firehose data-transformation event; `decompressed`: as a stream with Firehose's own
    decompression of CloudWatch Logs records on hands it over (plain JSON, base64 only)."""
    encoding = encode_plain if decompressed else encode
    stream = "central-logs-decompressed" if decompressed else "central-logs"
    return {
        "invocationId": uid(rng),
        "deliveryStreamArn": f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{stream}",
        "region": REGION,
        "records": [
            {"recordId": digits(rng, 56), "approximateArrivalTimestamp": arrival_ms, "data": encoding(payload)}
            for arrival_ms, payload in payloads
        ],
    }


def on_failure_record(rng: random.Random, failed_ms: int, request_payload: dict[str, Any]) -> dict[str, Any]:
    """What Lambda sends an asynchronous invocation's on-failure destination after its retries."""
    return {
        "version": "1.0",
        "timestamp": iso(failed_ms),
        "requestContext": {
            "requestId": uid(rng),
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:logship-subscription-receiver:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": request_payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorType": "DeadlineExceeded",
            "errorMessage": "8 of 8 events were not written (0 written, 0 rejected): PutLogEvents to "
                            "/logship/central / orders-api failed: the invocation's deadline came after 31 "
                            "attempts (last: ThrottlingException: Rate exceeded)",
        },
    }


def kinesis_failure_record(rng: random.Random, failed_ms: int) -> dict[str, Any]:
    """What a Kinesis event source mapping sends its on-failure destination: no records, only where."""
    return {
        "requestContext": {
            "requestId": uid(rng),
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:logship-subscription-receiver",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": iso(failed_ms),
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": digits(rng, 56),
            "endSequenceNumber": digits(rng, 56),
            "approximateArrivalOfFirstRecord": iso(failed_ms - 3_600_000),
            "approximateArrivalOfLastRecord": iso(failed_ms - 3_590_000),
            "batchSize": 3,
            "streamArn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/central-logs",
        },
    }


def sqs_event(rng: random.Random, bodies: list[tuple[int, str]]) -> dict[str, Any]:
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:logship-ReceiverFailures"
    return {
        "Records": [
            {
                "messageId": uid(rng),
                "receiptHandle": "AQEB" + hex32(rng) + hex32(rng),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(sent_ms),
                    "SenderId": "AIDAEXAMPLEEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": str(sent_ms + 2_000),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode("utf-8")).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue,
                "awsRegion": REGION,
            }
            for sent_ms, body in bodies
        ]
    }


def generate(out_dir: Path) -> list[Path]:
    rng = random.Random(20261122)
    files = {
        "direct.json": direct_event(orders_api(rng, BASE_MS, 42)),
        "control-message.json": direct_event(control_message(BASE_MS + 5_000)),
        "kinesis.json": kinesis_event(
            rng,
            [
                (BASE_MS + 61_250, orders_api(rng, BASE_MS + 60_000, 43)),
                (BASE_MS + 62_977, ecs_payments(rng, BASE_MS + 61_000)),
                (BASE_MS + 63_410, account_policy(rng, BASE_MS + 62_500)),
            ],
        ),
        "firehose.json": firehose_event(
            rng,
            [
                (BASE_MS + 121_400, orders_api(rng, BASE_MS + 120_000, 44)),
                (BASE_MS + 123_090, ecs_payments(rng, BASE_MS + 121_500)),
                (BASE_MS + 123_500, control_message(BASE_MS + 123_000)),
            ],
        ),
        # A replay of the on-failure queue: a failed direct delivery (shipped again), a Kinesis
        # batch's record (no events to replay) and a body that is not JSON.
        "replay-sqs.json": sqs_event(
            rng,
            [
                (BASE_MS + 3_700_000, compact(on_failure_record(
                    rng, BASE_MS + 3_600_000, direct_event(orders_api(rng, BASE_MS + 180_000, 45))))),
                (BASE_MS + 3_700_500, compact(kinesis_failure_record(rng, BASE_MS + 3_600_500))),
                (BASE_MS + 3_701_000, "{\"requestPayload\": truncated"),
            ],
        ),
        # Last, so that the files above keep the random values they had before it.
        "firehose-decompressed.json": firehose_event(
            rng,
            [
                (BASE_MS + 241_400, orders_api(rng, BASE_MS + 240_000, 46)),
                (BASE_MS + 243_090, ecs_payments(rng, BASE_MS + 241_500)),
                (BASE_MS + 243_700, account_policy(rng, BASE_MS + 242_500)),
            ],
            decompressed=True,
        ),
        # Content control (README): secrets the receiver redacts with REDACT=all. A generator
        # of its own, so the samples above stay as they are.
        "direct-secrets.json": direct_event(signup_api(random.Random(20261130), BASE_MS + 7_200_000)),
    }
    written = []
    for name, event in files.items():
        path = out_dir / name
        write_json(path, event)
        written.append(path)
    return written


# --- Reading any of the shapes -----------------------------------------------------------------


def compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


class BodyData:
    """`requestPayload.awslogs` of an on-failure record in an SQS message body (JSON text): read
    and written through, so restamping rewrites the body."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    @staticmethod
    def of(record: dict[str, Any]) -> "BodyData | None":
        try:
            body = json.loads(record["body"])
            body["requestPayload"]["awslogs"]["data"]
        except (ValueError, KeyError, TypeError):
            return None
        return BodyData(record)

    def __getitem__(self, key: str) -> Any:
        return json.loads(self.record["body"])["requestPayload"]["awslogs"][key]

    def __setitem__(self, key: str, value: Any) -> None:
        body = json.loads(self.record["body"])
        body["requestPayload"]["awslogs"][key] = value
        self.record["body"] = compact(body)


def data_slots(event: Any) -> Iterator[tuple[Any, str]]:
    """(container, key) of every base64 payload in a direct, Kinesis, Firehose or SQS (replay)
    event; SQS bodies that carry no delivery are skipped."""
    if isinstance(event, dict) and isinstance(event.get("awslogs"), dict):
        yield event["awslogs"], "data"
    elif isinstance(event, dict) and isinstance(event.get("Records"), list):
        for record in event["Records"]:
            if "body" in record:
                slot = BodyData.of(record)
                if slot is not None:
                    yield slot, "data"
            else:
                yield record["kinesis"], "data"
    elif isinstance(event, dict) and isinstance(event.get("records"), list):
        for record in event["records"]:
            yield record, "data"
    else:
        raise SystemExit("not a direct ({awslogs}), Kinesis or SQS ({Records}) or Firehose ({records}) event")


def restamp(event: dict[str, Any], now_ms: int) -> int:
    """Shift every log event by one offset so the newest is now - 60 s; returns the offset."""
    slots = [(slot, key, *decode(slot[key])) for slot, key in data_slots(event)]
    stamps = [e["timestamp"] for _, _, payload, _, _ in slots for e in payload.get("logEvents", [])]
    if not stamps:
        return 0
    offset = (now_ms - 60_000) - max(stamps)
    for slot, key, payload, ascii_only, gzipped in slots:
        for log_event in payload.get("logEvents", []):
            log_event["timestamp"] += offset
        slot[key] = (encode if gzipped else encode_plain)(payload, ascii_only)
    return offset


def read_json(path: str) -> Any:
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_json(path: Path | str, document: Any) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")


# --- Command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="rewrite the deterministic sample files")
    gen.add_argument("--out-dir", type=Path, default=EVENTS_DIR)
    rst = commands.add_parser("restamp", help="move a file's events to just before now")
    rst.add_argument("input")
    rst.add_argument("output")
    rst.add_argument("--now-ms", type=int, default=None, help="'now' in epoch ms (default: clock)")
    dec = commands.add_parser("decode", help="print every embedded payload")
    dec.add_argument("input")
    args = parser.parse_args(argv)

    if args.command == "generate":
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for path in generate(args.out_dir):
            print(f"wrote {path}", file=sys.stderr)
    elif args.command == "restamp":
        event = read_json(args.input)
        now_ms = args.now_ms if args.now_ms is not None else int(time.time() * 1000)
        restamp(event, now_ms)
        write_json(args.output, event)
    elif args.command == "decode":
        for slot, key in data_slots(read_json(args.input)):
            print(json.dumps(decode(slot[key])[0], indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
