"""Have moto itself produce a CloudWatch Logs -> Kinesis subscription event.

Why: our decoder must read what CloudWatch Logs writes to Kinesis, not merely what our own
encoder writes. This script drives an independent implementation (moto's Logs subscription
delivery) end to end with boto3: it creates a Kinesis stream, a log group and stream, a
subscription filter to the Kinesis stream, puts the given messages as log events, reads back every
record moto delivered to the shard, and prints ONE JSON document to stdout: a Lambda Kinesis Data
Streams event, shaped exactly as Lambda delivers it.

    python tests/support/kinesis_subscription.py --endpoint URL --log-group G --log-stream S \
        --kinesis-stream K --messages-file F [--batch-size N]

F is a JSON list of strings. The events get timestamps a little before now, 1 ms apart. All
messages go in one PutLogEvents call (one Kinesis record) unless --batch-size splits them.
The Kinesis stream must be new (its records are read from TRIM_HORIZON); an existing log group or
log stream is reused. Dummy credentials and us-east-1 are used unless the environment sets them.

What moto delivers (5.2.5): one record per PutLogEvents call whose data is gzip of compact JSON
{"logEvents": [{"id": <int>, "timestamp": <int ms>, "message": <str>}], "logGroup", "logStream",
"messageType": "DATA_MESSAGE", "owner": "123456789012", "subscriptionFilters": [<filter name>]}
-- note `id` is a small integer counter there, where AWS sends a 56-digit string.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from typing import Any

ACCOUNT = "123456789012"
FILTER_NAME = "ship-to-kinesis"
CWL_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/cwl-to-kinesis"
LAMBDA_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lambda-kinesis"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--log-group", required=True)
    parser.add_argument("--log-stream", required=True)
    parser.add_argument("--kinesis-stream", required=True)
    parser.add_argument("--messages-file", required=True, help="JSON list of message strings")
    parser.add_argument(
        "--batch-size", type=int, default=0, help="events per PutLogEvents call (0: all in one)"
    )
    return parser.parse_args(argv)


def load_messages(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        messages = json.load(handle)
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        raise SystemExit(f"{path}: expected a JSON list of strings")
    if not messages:
        raise SystemExit(f"{path}: no messages")
    return messages


def wait_active(kinesis: Any, stream: str, timeout_s: float = 30.0) -> str:
    """Poll (boto3's waiter sleeps 10 s between polls) until ACTIVE; return the stream ARN."""
    deadline = time.monotonic() + timeout_s
    while True:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary["StreamARN"]
        if time.monotonic() > deadline:
            raise SystemExit(f"Kinesis stream {stream} not ACTIVE after {timeout_s} s")
        time.sleep(0.1)


def ignore_existing(call: Any, **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except call.__self__.exceptions.ResourceAlreadyExistsException:
        pass


def read_shard(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    shard_id = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        if not page["Records"]:
            break
        records.extend(page["Records"])
        iterator = page.get("NextShardIterator")
    return [{"shardId": shard_id, **r} for r in records]


def lambda_event(records: list[dict[str, Any]], stream_arn: str, region: str) -> dict[str, Any]:
    """The Kinesis event exactly as Lambda hands it to a function."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{r['shardId']}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": LAMBDA_ROLE_ARN,
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    messages = load_messages(args.messages_file)
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1")),
    ):
        os.environ.setdefault(name, value)
    region = os.environ["AWS_DEFAULT_REGION"]

    import boto3  # after the environment is set; also keeps --help fast

    logs = boto3.client("logs", endpoint_url=args.endpoint, region_name=region)
    kinesis = boto3.client("kinesis", endpoint_url=args.endpoint, region_name=region)

    kinesis.create_stream(StreamName=args.kinesis_stream, ShardCount=1)
    stream_arn = wait_active(kinesis, args.kinesis_stream)

    ignore_existing(logs.create_log_group, logGroupName=args.log_group)
    ignore_existing(logs.create_log_stream, logGroupName=args.log_group, logStreamName=args.log_stream)
    logs.put_subscription_filter(
        logGroupName=args.log_group,
        filterName=FILTER_NAME,
        filterPattern="",
        destinationArn=stream_arn,
        roleArn=CWL_ROLE_ARN,
    )

    first_ms = int(time.time() * 1000) - 5_000 - len(messages)
    events = [{"timestamp": first_ms + i, "message": m} for i, m in enumerate(messages)]
    batch = args.batch_size if args.batch_size > 0 else len(events)
    for start in range(0, len(events), batch):
        answer = logs.put_log_events(
            logGroupName=args.log_group,
            logStreamName=args.log_stream,
            logEvents=events[start : start + batch],
        )
        if answer.get("rejectedLogEventsInfo"):
            raise SystemExit(f"events rejected: {answer['rejectedLogEventsInfo']}")

    records = read_shard(kinesis, args.kinesis_stream)
    if not records:
        raise SystemExit("moto delivered no Kinesis records")
    json.dump(lambda_event(records, stream_arn, region), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
