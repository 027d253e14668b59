#!/usr/bin/env python3
"""The Firehose transformation of subscription-receiver, in Python: what a Python forwarder does
per Firehose event. For each record: base64 -> gunzip -> JSON -> one NDJSON line per event
(owner, logGroup, logStream, id, timestamp, message; compact JSON, UTF-8, as logship writes it;
empty messages skipped) -> base64; `Dropped` for control messages or when no line remains,
`ProcessingFailed` when undecodable.

Timed as the binary is timed under the Runtime API: from the event's JSON text to the response's
JSON text (json.loads of the event and json.dumps of the answer included, as the Python Lambda
runtime does them), RECORDS payloads per event, one warm-up event, then ROUNDS rounds over every
event. Prints MB/s of decompressed JSON, the way python_pipeline.py does.

With --lambda instead, it is that function as a Lambda process: the loop a Python runtime runs
(GET /next, the handler, POST /response) against AWS_LAMBDA_RUNTIME_API, for the measure harness
(`measure python-firehose`) to time exactly as it times the Rust binary, Runtime API and all.
usage: python_firehose.py PAYLOAD_DIR [ROUNDS] [RECORDS]
       python_firehose.py --lambda"""
import base64, binascii, glob, gzip, http.client, json, os, sys, time, zlib


def transform(record):
    try:
        doc = json.loads(gzip.decompress(base64.b64decode(record["data"], validate=True)))
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError):
        return {"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]}
    lines = []
    if doc.get("messageType") == "DATA_MESSAGE":
        owner, group, stream = doc["owner"], doc["logGroup"], doc["logStream"]
        for e in doc["logEvents"]:
            if not e["message"]:
                continue
            lines.append(json.dumps({"owner": owner, "logGroup": group, "logStream": stream,
                                     "id": e["id"], "timestamp": e["timestamp"], "message": e["message"]},
                                    separators=(",", ":"), ensure_ascii=False))
    if not lines:
        return {"recordId": record["recordId"], "result": "Dropped", "data": ""}
    ndjson = ("\n".join(lines) + "\n").encode()
    return {"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(ndjson).decode()}


def handler(event):
    return {"records": [transform(r) for r in event["records"]]}


def invoke(body):
    return json.dumps(handler(json.loads(body)))


def runtime_loop():
    """What awslambdaric does around a handler, on one kept-alive connection: the event's body
    in, json.loads, the handler, json.dumps, the answer's body out."""
    conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        r = conn.getresponse()
        body = r.read()
        request_id = r.getheader("Lambda-Runtime-Aws-Request-Id")
        answer = invoke(body).encode()
        conn.request("POST", "/2018-06-01/runtime/invocation/%s/response" % request_id, body=answer,
                     headers={"Content-Type": "application/json"})
        conn.getresponse().read()


def firehose_event(datas):
    return json.dumps({"invocationId": "0b9a1b0e-5d43-4f8e-8f86-2b2c5c8c3b9a",
                       "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/central-logs",
                       "region": "us-east-1",
                       "records": [{"recordId": "4954698668313554428650745793632162567570019247115678515%d" % i,
                                    "approximateArrivalTimestamp": 1795000000123, "data": d}
                                   for i, d in enumerate(datas)]})


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    files = sorted(glob.glob(sys.argv[1] + "/*.b64"))
    if not files:
        sys.exit("no payload-*.b64 in %s (make them with bench/gen_payloads.py)" % sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    datas = [open(f).read().strip() for f in files]
    total = sum(len(gzip.decompress(base64.b64decode(d))) for d in datas) * rounds
    events = [firehose_event(datas[i:i + per]) for i in range(0, len(datas), per)]
    answer = json.loads(invoke(events[0]))
    assert all(r["result"] == "Ok" for r in answer["records"]), [r["result"] for r in answer["records"]]
    t = time.perf_counter()
    for _ in range(rounds):
        for e in events:
            invoke(e)
    t_firehose = time.perf_counter() - t
    print("python firehose      %.1f MB/s" % (total / t_firehose / 1e6))


if __name__ == "__main__":
    runtime_loop() if sys.argv[1:] == ["--lambda"] else main()
