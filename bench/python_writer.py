#!/usr/bin/env python3
"""The writer of logship, in Python: what a typical Python forwarder does with a CloudWatch Logs
subscription delivery, for the bench of billed Lambda duration at real network latency. It takes
a direct event ({"awslogs": {"data": ...}}) or a Kinesis event ({"Records": [{"kinesis": {"data":
...}}, ...]}), each data the base64 of the gzip of a subscription document; skips control
messages and empty messages; writes every log event to TARGET_LOG_GROUP, in the stream
"OWNER/LOGGROUP/LOGSTREAM" (':' and '*' as '_', at most 512 characters), the message as it is
(MESSAGE_FORMAT=raw, the default) or as the compact JSON {"owner","logGroup","logStream","id",
"timestamp","message"} (MESSAGE_FORMAT=envelope).

Events are grouped per stream across every record of the invocation, sorted by timestamp
(stable), and cut into PutLogEvents batches under the service's rules (10,000 events, 1,048,576
bytes counted as UTF-8 message bytes + 26 per event, 24 hours from first to last event). The
batches go out one after another, streams one after another, through ONE boto3 `logs` client
built at import time (as a Python Lambda builds it, outside the handler), with boto3's default
retries. On ResourceNotFoundException it creates the group and the stream (either may already
exist) and sends the batch again. The endpoint is AWS_ENDPOINT_URL if set, the region AWS_REGION
or AWS_DEFAULT_REGION (us-east-1 if neither).

The handler answers None to a direct event and {"batchItemFailures": []} to a Kinesis event, and
prints one JSON line per invocation to stdout:
    {"message": "invocation summary", "events": N, "requests": R, "bytes": B}
N the events sent, R the PutLogEvents calls made (a batch sent again after creating its stream
counts twice; boto3's own retries are not seen), B their bytes as the quota counts them.

With --lambda, it is that function as a Lambda process: the loop a Python runtime runs (GET
/next, the handler, POST /response, or POST /error on an exception) against
AWS_LAMBDA_RUNTIME_API, for the measure harness to time exactly as it times the Rust binary.
With EVENT.json instead, it runs the handler once on that event and prints the summary.
usage: python_writer.py EVENT.json
       python_writer.py --lambda"""
import base64, gzip, http.client, json, os, sys, traceback

import boto3

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_MESSAGE_BYTES = MAX_BATCH_BYTES - EVENT_OVERHEAD
MAX_BATCH_SPAN_MS = 24 * 60 * 60 * 1000
MAX_STREAM_NAME = 512

TARGET_LOG_GROUP = os.environ.get("TARGET_LOG_GROUP", "")
ENVELOPE = os.environ.get("MESSAGE_FORMAT", "raw") == "envelope"

logs = boto3.client("logs",
                    region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                    endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


def stream_name(owner, group, stream):
    return ("%s/%s/%s" % (owner, group, stream)).replace(":", "_").replace("*", "_")[:MAX_STREAM_NAME]


def collect(data, streams):
    """One subscription document (base64 of gzip of JSON): its events, appended to their stream's
    list in `streams` as (timestamp, message, size)."""
    doc = json.loads(gzip.decompress(base64.b64decode(data)))
    if doc.get("messageType") != "DATA_MESSAGE":
        return
    owner, group, stream = doc["owner"], doc["logGroup"], doc["logStream"]
    events = streams.setdefault((TARGET_LOG_GROUP, stream_name(owner, group, stream)), [])
    for e in doc["logEvents"]:
        message = e["message"]
        if not message:
            continue
        if ENVELOPE:
            message = json.dumps({"owner": owner, "logGroup": group, "logStream": stream,
                                  "id": e["id"], "timestamp": e["timestamp"], "message": message},
                                 separators=(",", ":"), ensure_ascii=False)
        size = len(message.encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            message = message.encode("utf-8")[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
            size = len(message.encode("utf-8"))
        events.append((e["timestamp"], message, size))


def batches(events):
    """The events of one stream, sorted by timestamp, cut into batches PutLogEvents accepts."""
    events = sorted(events, key=lambda e: e[0])
    batch, batch_bytes = [], 0
    for e in events:
        cost = e[2] + EVENT_OVERHEAD
        if batch and (len(batch) == MAX_BATCH_EVENTS or batch_bytes + cost > MAX_BATCH_BYTES
                      or e[0] - batch[0][0] > MAX_BATCH_SPAN_MS):
            yield batch, batch_bytes
            batch, batch_bytes = [], 0
        batch.append(e)
        batch_bytes += cost
    if batch:
        yield batch, batch_bytes


def create(group, stream):
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass


def handler(event, context=None):
    if not TARGET_LOG_GROUP:
        raise ValueError("TARGET_LOG_GROUP is not set")
    streams = {}
    if "awslogs" in event:
        collect(event["awslogs"]["data"], streams)
        answer = None
    elif "Records" in event:
        for record in event["Records"]:
            collect(record["kinesis"]["data"], streams)
        answer = {"batchItemFailures": []}
    else:
        raise ValueError("neither a CloudWatch Logs nor a Kinesis event")
    events = requests = sent_bytes = 0
    for (group, stream), stream_events in streams.items():
        for batch, batch_bytes in batches(stream_events):
            log_events = [{"timestamp": t, "message": m} for t, m, _ in batch]
            requests += 1
            try:
                logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=log_events)
            except logs.exceptions.ResourceNotFoundException:
                create(group, stream)
                requests += 1
                logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=log_events)
            events += len(batch)
            sent_bytes += batch_bytes
    print(json.dumps({"message": "invocation summary", "events": events, "requests": requests,
                      "bytes": sent_bytes}), flush=True)
    return answer


def runtime_loop():
    """What awslambdaric does around a handler, on one kept-alive connection: the event's body
    in, json.loads, the handler, json.dumps, the answer's body out; an exception posted as the
    invocation's error."""
    conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        r = conn.getresponse()
        body = r.read()
        request_id = r.getheader("Lambda-Runtime-Aws-Request-Id")
        try:
            answer = json.dumps(handler(json.loads(body))).encode()
            path = "/2018-06-01/runtime/invocation/%s/response" % request_id
            headers = {"Content-Type": "application/json"}
        except Exception as e:
            traceback.print_exc()
            sys.stderr.flush()
            answer = json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)}).encode()
            path = "/2018-06-01/runtime/invocation/%s/error" % request_id
            headers = {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": "Unhandled"}
        conn.request("POST", path, body=answer, headers=headers)
        conn.getresponse().read()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        event = json.loads(f.read())
    handler(event)


if __name__ == "__main__":
    runtime_loop() if sys.argv[1:] == ["--lambda"] else main()
