"""Checks of the Python test support, run with `.venv/bin/python -m pytest tests/support`.

Why: the Rust tests trust moto_server.py to refuse exactly what CloudWatch Logs refuses, to count
what it was sent and to die with its parent; they trust kinesis_subscription.py and
events/samples.py to produce what AWS produces. If any of that were wrong, the Rust tests would
pass or fail for the wrong reason, so it is pinned down here with an independent client (boto3).
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVER = HERE / "moto_server.py"
KINESIS_SCRIPT = HERE / "kinesis_subscription.py"
SAMPLES = ROOT / "events" / "samples.py"

CREDS = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}


# --- The server ---------------------------------------------------------------------------------


def launch(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    if not ready:
        proc.kill()
        pytest.fail("moto_server.py printed nothing within 30 s")
    line = proc.stdout.readline().decode()
    match = re.fullmatch(r"LISTENING (http://127\.0\.0\.1:(\d+))\n", line)
    assert match, f"unexpected first line: {line!r}"
    return proc, match.group(1)


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    proc, url = launch()
    yield url
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


@pytest.fixture()
def logs(endpoint: str) -> Any:
    """A boto3 Logs client that neither validates parameters itself nor retries."""
    config = Config(parameter_validation=False, retries={"mode": "standard", "total_max_attempts": 1})
    return boto3.client("logs", endpoint_url=endpoint, config=config, **CREDS)


@pytest.fixture()
def group(logs: Any) -> str:
    """A fresh log group with a stream called `s`; tests share the server, not groups."""
    name = f"/test/{uuid.uuid4().hex[:12]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    return name


def now_ms() -> int:
    return int(time.time() * 1000)


def http(endpoint: str, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(endpoint + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def stats(endpoint: str, group: str) -> dict[str, Any]:
    status, document = http(endpoint, f"/_logship/stats?logGroupName={group}")
    assert status == 200
    return document


def put(logs: Any, group: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    return logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)


def error_of(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    err = caught.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


# --- PutLogEvents strictness ----------------------------------------------------------------------


def test_valid_put_is_stored_and_counted(endpoint: str, logs: Any, group: str) -> None:
    t = now_ms() - 1_000
    events = [{"timestamp": t, "message": "hello"}, {"timestamp": t + 1, "message": "grüß dich ✓"}]
    put(logs, group, events)

    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["hello", "grüß dich ✓"]
    assert stats(endpoint, group) == {
        "violations": [],
        "putLogEvents": [
            {
                "logGroupName": group,
                "logStreamName": "s",
                "events": 2,
                "bytes": (5 + 26) + (len("grüß dich ✓".encode()) + 26),
                "status": 200,
                "errorType": None,
                "rejectedLogEventsInfo": None,
            }
        ],
    }


def at_now(messages: list[str]) -> list[dict[str, Any]]:
    t = now_ms() - 60_000
    return [{"timestamp": t + i, "message": m} for i, m in enumerate(messages)]


VIOLATIONS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "emptyBatch": lambda: [],
    "tooManyEvents": lambda: at_now(["x"] * 10_001),
    "batchTooLarge": lambda: at_now(["a" * 600_000, "b" * 600_000]),
    "emptyMessage": lambda: at_now(["fine", ""]),
    "eventTooLarge": lambda: at_now(["a" * (1_048_576 - 26 + 1)]),
    "notChronological": lambda: [
        {"timestamp": now_ms() - 1_000, "message": "later"},
        {"timestamp": now_ms() - 2_000, "message": "earlier"},
    ],
    "spanTooLong": lambda: [
        {"timestamp": now_ms() - 86_400_000 - 2_000, "message": "old"},
        {"timestamp": now_ms() - 1_000, "message": "new"},
    ],
    "malformedRequest": lambda: [{"timestamp": "yesterday", "message": "x"}],
}


@pytest.mark.parametrize("rule", VIOLATIONS)
def test_violation_is_refused_and_recorded(endpoint: str, logs: Any, group: str, rule: str) -> None:
    events = VIOLATIONS[rule]()
    status, code, message = error_of(lambda: put(logs, group, events))
    assert (status, code) == (400, "InvalidParameterException")

    # Nothing reached moto.
    assert logs.get_log_events(logGroupName=group, logStreamName="s")["events"] == []
    recorded = stats(endpoint, group)
    assert recorded["violations"] == [
        {"logGroupName": group, "logStreamName": "s", "rule": rule, "message": message}
    ]
    assert [(p["events"], p["status"], p["errorType"]) for p in recorded["putLogEvents"]] == [
        (len(events), 400, "InvalidParameterException")
    ]


def test_violation_messages_carry_the_numbers(logs: Any, group: str) -> None:
    _, _, message = error_of(lambda: put(logs, group, at_now(["x"] * 10_001)))
    assert "10001" in message and "10000" in message
    _, _, message = error_of(lambda: put(logs, group, at_now(["a" * 600_000, "b" * 600_000])))
    assert "1200052" in message and "1048576" in message


def test_limits_themselves_are_allowed(endpoint: str, logs: Any, group: str) -> None:
    put(logs, group, at_now(["x"] * 10_000))
    put(logs, group, at_now(["a" * (1_048_576 - 26)]))  # one event of exactly 1 MiB
    put(logs, group, at_now(["a" * 524_262, "b" * 524_262]))  # a batch of exactly 1 MiB
    t = now_ms() - 1_000
    put(logs, group, [{"timestamp": t - 86_400_000, "message": "a"}, {"timestamp": t, "message": "b"}])
    put(logs, group, [{"timestamp": t, "message": "same"}, {"timestamp": t, "message": "time"}])

    recorded = stats(endpoint, group)
    assert recorded["violations"] == []
    assert [p["bytes"] for p in recorded["putLogEvents"]][:3] == [270_000, 1_048_576, 1_048_576]
    assert {p["status"] for p in recorded["putLogEvents"]} == {200}


def test_moto_answers_pass_through(endpoint: str, logs: Any, group: str) -> None:
    status, code, _ = error_of(
        lambda: logs.put_log_events(logGroupName=group + "-missing", logStreamName="s", logEvents=at_now(["x"]))
    )
    assert (status, code) == (400, "ResourceNotFoundException")
    assert stats(endpoint, group + "-missing")["putLogEvents"][0]["errorType"] == "ResourceNotFoundException"

    # Too old for CloudWatch Logs: moto accepts the call and reports the rejection.
    answer = put(logs, group, [{"timestamp": now_ms() - 15 * 86_400_000, "message": "stale"}])
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    assert stats(endpoint, group)["putLogEvents"][-1]["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}


# --- Statistics and faults ------------------------------------------------------------------------


def test_stats_cover_every_group_in_arrival_order(endpoint: str, logs: Any, group: str) -> None:
    put(logs, group, at_now(["one"]))
    error_of(lambda: put(logs, group, []))
    put(logs, group, at_now(["two", "three"]))
    assert [(p["events"], p["status"]) for p in stats(endpoint, group)["putLogEvents"]] == [
        (1, 200), (0, 400), (2, 200)
    ]
    status, everything = http(endpoint, "/_logship/stats")
    assert status == 200
    mine = [p for p in everything["putLogEvents"] if p["logGroupName"] == group]
    assert mine == stats(endpoint, group)["putLogEvents"]


def test_concurrent_puts_are_all_stored(endpoint: str, logs: Any, group: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    t = now_ms() - 10_000

    def one(i: int) -> None:
        client = boto3.client("logs", endpoint_url=endpoint, **CREDS)
        put(client, group, [{"timestamp": t + i, "message": f"m{i}-{j}"} for j in range(50)])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(40)))
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True, limit=10_000)
    assert len(got["events"]) == 40 * 50
    assert len(stats(endpoint, group)["putLogEvents"]) == 40


def test_scripted_faults(endpoint: str, logs: Any, group: str) -> None:
    other = f"{group}-other"
    status, _ = http(endpoint, "/_logship/faults", "POST",
                     {"target": "PutLogEvents", "status": 400, "errorType": "ThrottlingException",
                      "count": 2, "logGroupName": group})
    assert status == 200
    http(endpoint, "/_logship/faults", "POST", {"target": "PutLogEvents", "status": 503, "logGroupName": group})
    http(endpoint, "/_logship/faults", "POST",
         {"target": "Logs_20140328.CreateLogStream", "status": 500, "logGroupName": other})

    assert error_of(lambda: put(logs, group, at_now(["a"])))[:2] == (400, "ThrottlingException")
    assert error_of(lambda: put(logs, group, at_now(["b"])))[:2] == (400, "ThrottlingException")
    assert error_of(lambda: put(logs, group, at_now(["c"])))[:2] == (503, "ServiceUnavailableException")
    put(logs, group, at_now(["d"]))

    logs.create_log_group(logGroupName=other)
    assert error_of(lambda: logs.create_log_stream(logGroupName=other, logStreamName="s"))[:2] == (
        500, "ServiceUnavailableException"
    )
    logs.create_log_stream(logGroupName=other, logStreamName="s")

    got = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert [e["message"] for e in got] == ["d"]  # faulted requests never reached moto
    assert [(p["status"], p["errorType"]) for p in stats(endpoint, group)["putLogEvents"]] == [
        (400, "ThrottlingException"), (400, "ThrottlingException"),
        (503, "ServiceUnavailableException"), (200, None),
    ]
    pending = http(endpoint, "/_logship/faults")[1]["faults"]
    assert [f for f in pending if f["logGroupName"] in (group, other)] == []


def test_scripted_rejected_info_is_answered_after_moto_stores(endpoint: str, logs: Any, group: str) -> None:
    """A `rejectedLogEventsInfo` fault lets the put through and rewrites only the answer."""
    http(endpoint, "/_logship/faults", "POST",
         {"target": "PutLogEvents", "logGroupName": group, "rejectedLogEventsInfo": {"expiredLogEventEndIndex": 1}})
    answer = put(logs, group, at_now(["a", "b"]))
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert len(logs.get_log_events(logGroupName=group, logStreamName="s")["events"]) == 2
    assert stats(endpoint, group)["putLogEvents"][-1]["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    # Used up: the next put answers as moto does.
    assert "rejectedLogEventsInfo" not in put(logs, group, at_now(["c"]))


def test_bad_fault_specs_are_refused(endpoint: str) -> None:
    for spec in ({}, {"target": "PutLogEvents", "status": 200}, {"target": "PutLogEvents", "count": 0}):
        status, answer = http(endpoint, "/_logship/faults", "POST", spec)
        assert status == 400 and answer["error"]


def test_unknown_control_path(endpoint: str) -> None:
    assert http(endpoint, "/_logship/nope")[0] == 404


# --- Process lifetime -----------------------------------------------------------------------------


def test_exits_when_stdin_closes_and_honours_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc, url = launch("--port", str(port))
    assert url == f"http://127.0.0.1:{port}"
    assert http(url, "/_logship/stats")[0] == 200
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == b""  # nothing but the one line on stdout


# --- kinesis_subscription.py ----------------------------------------------------------------------


def test_kinesis_subscription_event_from_moto(endpoint: str, tmp_path: Path) -> None:
    messages = ["plain", '{"level":"info"}', "multi\nline", "Zahlung für Bestellung 42 – ✓"]
    messages_file = tmp_path / "messages.json"
    messages_file.write_text(json.dumps(messages))
    name = uuid.uuid4().hex[:8]
    out = subprocess.run(
        [sys.executable, str(KINESIS_SCRIPT), "--endpoint", endpoint, "--log-group", f"/k/{name}",
         "--log-stream", "s", "--kinesis-stream", f"k-{name}", "--messages-file", str(messages_file),
         "--batch-size", "3"],
        check=True, capture_output=True, timeout=60,
    ).stdout
    event = json.loads(out)
    records = event["Records"]
    assert len(records) == 2  # one Kinesis record per PutLogEvents call
    payloads = []
    for record in records:
        assert record["eventSource"] == "aws:kinesis"
        assert record["eventSourceARN"] == f"arn:aws:kinesis:us-east-1:123456789012:stream/k-{name}"
        assert record["eventID"] == f"shardId-000000000000:{record['kinesis']['sequenceNumber']}"
        assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
        payloads.append(json.loads(gzip.decompress(base64.b64decode(record["kinesis"]["data"]))))
    for payload in payloads:
        assert payload["messageType"] == "DATA_MESSAGE"
        assert payload["logGroup"] == f"/k/{name}" and payload["logStream"] == "s"
        assert payload["owner"] == "123456789012"
        assert payload["subscriptionFilters"] == ["ship-to-kinesis"]
    got = [e for p in payloads for e in p["logEvents"]]
    assert [e["message"] for e in got] == messages
    stamps = [e["timestamp"] for e in got]
    assert stamps == list(range(stamps[0], stamps[0] + len(messages)))
    assert all(isinstance(e["id"], int) for e in got)  # moto's ids are numbers, AWS's strings


# --- events/samples.py ----------------------------------------------------------------------------


def load_samples() -> Any:
    spec = importlib.util.spec_from_file_location("samples", SAMPLES)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expanded(samples: Any, path: Path) -> Any:
    """A sample file with every embedded payload decoded (gzip bytes may differ by zlib)."""
    event = json.loads(path.read_text(encoding="utf-8"))
    for slot, key in samples.data_slots(event):
        slot[key] = samples.decode(slot[key])[0]
    return event


SAMPLE_FILES = ["direct.json", "control-message.json", "kinesis.json", "firehose.json"]


def test_committed_samples_match_the_generator(tmp_path: Path) -> None:
    samples = load_samples()
    samples.generate(tmp_path)
    for name in SAMPLE_FILES:
        assert expanded(samples, tmp_path / name) == expanded(samples, ROOT / "events" / name), name


def test_sample_contents() -> None:
    samples = load_samples()
    direct = expanded(samples, ROOT / "events" / "direct.json")["awslogs"]["data"]
    assert direct["logGroup"] == "/aws/lambda/orders-api"
    assert re.fullmatch(r"2026/11/22/\[\$LATEST\][0-9a-f]{32}", direct["logStream"])
    assert all(re.fullmatch(r"\d{56}", e["id"]) for e in direct["logEvents"])
    assert len(direct["logEvents"]) == 8
    control = expanded(samples, ROOT / "events" / "control-message.json")["awslogs"]["data"]
    assert control["messageType"] == "CONTROL_MESSAGE"
    kinesis = [r["kinesis"]["data"] for r in expanded(samples, ROOT / "events" / "kinesis.json")["Records"]]
    assert [p["logGroup"] for p in kinesis] == ["/aws/lambda/orders-api", "/aws/ecs/payments", "/aws/lambda/inventory-sync"]
    assert [p.get("policyLevel") for p in kinesis] == [None, None, "ACCOUNT_LEVEL_POLICY"]
    firehose = [r["data"]["messageType"] for r in expanded(samples, ROOT / "events" / "firehose.json")["records"]]
    assert firehose == ["DATA_MESSAGE", "DATA_MESSAGE", "CONTROL_MESSAGE"]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_restamp_moves_newest_to_a_minute_ago(name: str, tmp_path: Path) -> None:
    samples = load_samples()
    out = tmp_path / name
    now = 1_900_000_000_000
    subprocess.run([sys.executable, str(SAMPLES), "restamp", str(ROOT / "events" / name), str(out),
                    "--now-ms", str(now)], check=True, timeout=30)
    before, after = expanded(samples, ROOT / "events" / name), expanded(samples, out)

    def stamps(event: Any) -> list[int]:
        return [e["timestamp"] for slot, key in samples.data_slots(event) for e in slot[key]["logEvents"]]

    old, new = stamps(before), stamps(after)
    assert max(new) == now - 60_000
    offset = new[0] - old[0]
    assert [t + offset for t in old] == new  # gaps kept

    def without_stamps(event: Any) -> Any:
        for slot, key in samples.data_slots(event):
            for e in slot[key]["logEvents"]:
                e.pop("timestamp")
        return event

    assert without_stamps(before) == without_stamps(after)  # nothing else changed


def test_decode_prints_every_payload() -> None:
    out = subprocess.run([sys.executable, str(SAMPLES), "decode", str(ROOT / "events" / "kinesis.json")],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    assert out.count('"messageType": "DATA_MESSAGE"') == 3
    assert "Zahlung für Bestellung" in out
