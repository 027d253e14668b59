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
    recorded = stats(endpoint, group)
    assert [c["target"] for c in recorded.pop("calls")] == [
        "CreateLogGroup", "CreateLogStream", "PutLogEvents", "GetLogEvents"
    ]
    assert recorded == {
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
    for spec in (
        {},
        {"target": "PutLogEvents", "status": 200},
        {"target": "PutLogEvents", "count": 0},
        {"target": "GetQueryResults", "body": ["not", "an", "object"]},
        {"target": "GetQueryResults", "status": 400, "body": {"status": "Running"}},
        {"target": "PutLogEvents", "body": {}, "rejectedLogEventsInfo": {"expiredLogEventEndIndex": 0}},
        {"target": "GetQueryResults", "rejectedLogEventsInfo": {"expiredLogEventEndIndex": 0}},
        {"target": "StopQuery", "match": ["queryId", "q-1"]},
        {"target": "StopQuery", "match": []},
    ):
        status, answer = http(endpoint, "/_logship/faults", "POST", spec)
        assert status == 400 and answer["error"]


def test_unknown_control_path(endpoint: str) -> None:
    assert http(endpoint, "/_logship/nope")[0] == 404


# --- Logs Insights ------------------------------------------------------------------------------

QUERY = "fields @timestamp, @message | sort @timestamp asc | limit 5"
RUNNING = {
    "status": "Running",
    "results": [],
    "statistics": {"recordsMatched": 0.0, "recordsScanned": 10.0, "bytesScanned": 100.0},
}


def fault(endpoint: str, spec: dict[str, Any]) -> None:
    status, answer = http(endpoint, "/_logship/faults", "POST", spec)
    assert status == 200, answer


def calls(endpoint: str, query: str) -> list[dict[str, Any]]:
    status, document = http(endpoint, f"/_logship/stats?{query}")
    assert status == 200
    return document["calls"]


def window() -> dict[str, int]:
    """StartQuery's time range (epoch seconds) around now."""
    now = int(time.time())
    return {"startTime": now - 3600, "endTime": now + 60}


def results(answer: dict[str, Any]) -> list[dict[str, str]]:
    return [{cell["field"]: cell["value"] for cell in row} for row in answer["results"]]


def test_scripted_running_then_moto_complete(endpoint: str, logs: Any, group: str) -> None:
    events = at_now([f"m{i}" for i in range(7)])
    put(logs, group, events)
    query_id = logs.start_query(logGroupName=group, queryString=QUERY, **window())["queryId"]
    fault(endpoint, {"target": "GetQueryResults", "status": 200, "body": RUNNING, "count": 2,
                     "match": {"queryId": query_id}})

    polls = [logs.get_query_results(queryId=query_id) for _ in range(3)]
    for answer in polls[:2]:
        assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
        assert {k: v for k, v in answer.items() if k != "ResponseMetadata"} == RUNNING
    complete = polls[2]
    assert complete["status"] == "Complete"
    assert "statistics" not in complete  # moto never reports statistics
    # moto: @ptr first, @timestamp as epoch milliseconds (the service writes "2026-11-22 03:44:34.391").
    rows = results(complete)
    assert all(list(row) == ["@ptr", "@timestamp", "@message"] for row in rows)
    assert [(row["@timestamp"], row["@message"]) for row in rows] == [
        (str(e["timestamp"]), e["message"]) for e in events[:5]
    ]
    seen = [c for c in calls(endpoint, "target=GetQueryResults") if c["request"] == {"queryId": query_id}]
    assert [(c["status"], c["faulted"]) for c in seen] == [(200, True), (200, True), (200, False)]


def test_start_query_limit_exceeded_scoped_by_group(endpoint: str, logs: Any, group: str) -> None:
    other = f"{group}-other"
    logs.create_log_group(logGroupName=other)
    fault(endpoint, {"target": "StartQuery", "logGroupName": group, "status": 400,
                     "errorType": "LimitExceededException", "count": 2})

    logs.start_query(logGroupNames=[other], queryString=QUERY, **window())  # not scoped: moto answers
    assert error_of(lambda: logs.start_query(logGroupName=group, queryString=QUERY, **window()))[:2] == (
        400, "LimitExceededException"
    )
    assert error_of(
        lambda: logs.start_query(logGroupIdentifiers=[group], queryString=QUERY, **window())
    )[:2] == (400, "LimitExceededException")
    # Used up. An ARN identifier reaches moto as a name (moto itself reads only logGroupName(s)).
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    query_id = logs.start_query(logGroupIdentifiers=[arn], queryString=QUERY, **window())["queryId"]
    assert logs.get_query_results(queryId=query_id)["status"] == "Complete"
    # As the service: identifiers exclude the other two ways of naming groups.
    both = {"logGroupName": group, "logGroupIdentifiers": [group]}
    assert error_of(lambda: logs.start_query(queryString=QUERY, **both, **window()))[:2] == (
        400, "InvalidParameterException"
    )

    mine = calls(endpoint, f"logGroupName={group}&target=StartQuery")
    assert [(c["status"], c["errorType"], c["faulted"]) for c in mine] == [
        (400, "LimitExceededException", True), (400, "LimitExceededException", True), (200, None, False),
        (400, "InvalidParameterException", False),
    ]
    assert mine[2]["request"]["logGroupIdentifiers"] == [arn]  # recorded as sent


def test_scripted_query_lifecycle_and_stop_query(endpoint: str, logs: Any, group: str) -> None:
    query_id = f"q-{group}-1"
    fault(endpoint, {"target": "StartQuery", "logGroupName": group, "status": 200, "body": {"queryId": query_id}})
    fault(endpoint, {"target": "GetQueryResults", "status": 200, "body": RUNNING, "match": {"queryId": query_id}})
    fault(endpoint, {"target": "StopQuery", "status": 400, "errorType": "InvalidParameterException",
                     "message": "Query is not running", "match": {"queryId": query_id}})

    assert logs.start_query(logGroupName=group, queryString=QUERY, **window())["queryId"] == query_id
    assert logs.get_query_results(queryId=query_id)["status"] == "Running"
    assert error_of(lambda: logs.stop_query(queryId=query_id)) == (
        400, "InvalidParameterException", "Query is not running"
    )
    # Unscripted: StopQuery is answered by the front (moto has none), an unknown id is not found.
    assert logs.stop_query(queryId=query_id)["success"] is True
    assert error_of(lambda: logs.get_query_results(queryId=query_id))[:2] == (400, "ResourceNotFoundException")

    # A real (moto) query can be stopped too.
    real = logs.start_query(logGroupName=group, queryString=QUERY, **window())["queryId"]
    assert logs.stop_query(queryId=real)["success"] is True


def test_calls_are_recorded_in_order_and_filterable(endpoint: str, logs: Any, group: str) -> None:
    put(logs, group, at_now(["a", "b", "c"]))
    error_of(lambda: put(logs, group, []))
    query_id = logs.start_query(logGroupNames=[group], queryString=QUERY, **window())["queryId"]
    logs.get_query_results(queryId=query_id)
    fault(endpoint, {"target": "StopQuery", "status": 503, "match": {"queryId": query_id}})
    error_of(lambda: logs.stop_query(queryId=query_id))
    logs.stop_query(queryId=query_id)

    status, everything = http(endpoint, "/_logship/stats")
    assert status == 200
    mine = [c for c in everything["calls"]
            if names_group_or_query(c["request"], group, query_id)]
    assert [(c["target"], c["status"], c["errorType"], c["faulted"]) for c in mine] == [
        ("CreateLogGroup", 200, None, False),
        ("CreateLogStream", 200, None, False),
        ("PutLogEvents", 200, None, False),
        ("PutLogEvents", 400, "InvalidParameterException", False),
        ("StartQuery", 200, None, False),
        ("GetQueryResults", 200, None, False),
        ("StopQuery", 503, "ServiceUnavailableException", True),
        ("StopQuery", 200, None, False),
    ]
    assert mine[2]["request"] == {"logGroupName": group, "logStreamName": "s", "logEvents": 3}
    assert mine[3]["request"]["logEvents"] == 0
    assert mine[4]["request"]["logGroupNames"] == [group] and mine[4]["request"]["queryString"] == QUERY

    # By group: calls naming it (logGroupName or logGroupNames), not those naming only a queryId.
    by_group = calls(endpoint, f"logGroupName={group}")
    assert [c["target"] for c in by_group] == [c["target"] for c in mine[:5]]
    # By operation, by name or full target; puts and violations are PutLogEvents only.
    for target in ("StopQuery", "Logs_20140328.StopQuery"):
        status, document = http(endpoint, f"/_logship/stats?target={target}")
        assert document["putLogEvents"] == [] and document["violations"] == []
        assert [c for c in document["calls"] if c["request"] == {"queryId": query_id}] == mine[6:]
        assert {c["target"] for c in document["calls"]} == {"StopQuery"}
    puts = http(endpoint, f"/_logship/stats?target=PutLogEvents&logGroupName={group}")[1]
    assert [c["target"] for c in puts["calls"]] == ["PutLogEvents", "PutLogEvents"]
    assert len(puts["putLogEvents"]) == 2 and len(puts["violations"]) == 1
    assert calls(endpoint, f"target=StopQuery&logGroupName={group}") == []


def names_group_or_query(request: dict[str, Any], group: str, query_id: str) -> bool:
    return group in (request.get("logGroupName"), *request.get("logGroupNames", [])) or (
        request.get("queryId") == query_id
    )


def test_match_on_list_fields(endpoint: str, logs: Any, group: str) -> None:
    other = f"{group}-other"
    logs.create_log_group(logGroupName=other)
    # A value matches a list that holds it, or a list equal to it.
    fault(endpoint, {"target": "StartQuery", "status": 200, "body": {"queryId": f"{group}-in"},
                     "match": {"logGroupNames": group}})
    fault(endpoint, {"target": "StartQuery", "status": 200, "body": {"queryId": f"{group}-eq"},
                     "match": {"logGroupNames": [other, group], "queryString": QUERY}})
    # Not matched: the field is absent (logGroupName is not logGroupNames), or the value differs.
    fault(endpoint, {"target": "StartQuery", "status": 200, "body": {"queryId": f"{group}-never"},
                     "match": {"logGroupNames": other, "limit": 7}})

    def start(**groups: Any) -> str:
        return logs.start_query(queryString=QUERY, **groups, **window())["queryId"]

    single = start(logGroupName=group)
    assert single not in (f"{group}-in", f"{group}-eq", f"{group}-never")  # moto's own id
    assert start(logGroupNames=[other, group]) == f"{group}-in"
    assert start(logGroupNames=[other, group]) == f"{group}-eq"
    assert start(logGroupNames=[other], limit=8) != f"{group}-never"

    # The logGroupName filter also finds a group inside logGroupNames.
    fault(endpoint, {"target": "StartQuery", "logGroupName": group, "status": 200,
                     "body": {"queryId": f"{group}-by"}})
    assert start(logGroupNames=[other, group]) == f"{group}-by"

    pending = http(endpoint, "/_logship/faults")[1]["faults"]
    left = [f for f in pending if (f["body"] or {}).get("queryId", "").startswith(group)]
    assert [(f["body"], f["match"], f["count"]) for f in left] == [
        ({"queryId": f"{group}-never"}, {"logGroupNames": other, "limit": 7}, 1)
    ]


def test_moto_crashes_are_answered_500_and_recorded(endpoint: str, logs: Any) -> None:
    marker = f"fields @message, {uuid.uuid4().hex}"
    # No group at all: moto's StartQuery raises (the service would say InvalidParameterException).
    assert error_of(lambda: logs.start_query(queryString=marker, **window()))[0] == 500
    seen = [c for c in calls(endpoint, "target=StartQuery") if c["request"].get("queryString") == marker]
    assert [(c["status"], c["errorType"], c["faulted"]) for c in seen] == [(500, None, False)]


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


SAMPLE_FILES = ["direct.json", "control-message.json", "kinesis.json", "firehose.json",
                "firehose-decompressed.json", "direct-secrets.json"]


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
    # Firehose's own decompression on: each record is a document's plain JSON, base64 only.
    raw = json.loads((ROOT / "events" / "firehose-decompressed.json").read_text(encoding="utf-8"))
    for record in raw["records"]:
        plain = base64.b64decode(record["data"])
        assert plain[:2] != b"\x1f\x8b" and json.loads(plain)["messageType"] == "DATA_MESSAGE"
    decompressed = [r["data"]["logGroup"]
                    for r in expanded(samples, ROOT / "events" / "firehose-decompressed.json")["records"]]
    assert decompressed == ["/aws/lambda/orders-api", "/aws/ecs/payments", "/aws/lambda/inventory-sync"]


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
