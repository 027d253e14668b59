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
import threading
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


def logs_client(url: str) -> Any:
    """A boto3 Logs client that neither validates parameters itself nor retries."""
    config = Config(parameter_validation=False, retries={"mode": "standard", "total_max_attempts": 1})
    return boto3.client("logs", endpoint_url=url, config=config, **CREDS)


@pytest.fixture()
def logs(endpoint: str) -> Any:
    """A boto3 Logs client of the shared server (see `logs_client`)."""
    return logs_client(endpoint)


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
    assert complete["status"] == "Complete" and complete["queryLanguage"] == "CWLI"
    # moto reports no statistics: the front counts them (every event in range, before `limit 5`).
    assert complete["statistics"] == {"recordsMatched": 7.0, "recordsScanned": 7.0, "bytesScanned": 14.0}
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
    assert calls(endpoint, f"target=StartQuery&logGroupName={group}")[-1]["queryId"] == query_id
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
    assert mine[4]["queryId"] == query_id, "a StartQuery's record carries the id it answered"
    assert all("queryId" not in c for c in mine if c["target"] != "StartQuery")

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


def test_moto_crashes_are_answered_500_and_recorded(endpoint: str, logs: Any, group: str) -> None:
    marker = f"fields @message | limit x{uuid.uuid4().hex}"
    # A limit that is not a number: moto's query parser raises (the service would say
    # MalformedQueryException).
    assert error_of(lambda: logs.start_query(logGroupName=group, queryString=marker, **window()))[0] == 500
    seen = [c for c in calls(endpoint, "target=StartQuery") if c["request"].get("queryString") == marker]
    assert [(c["status"], c["errorType"], c["faulted"]) for c in seen] == [(500, None, False)]


# --- Logs Insights paging, limits, languages ------------------------------------------------------

ASC = "fields @timestamp, @message | sort @timestamp asc"
ACCOUNT_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:"


def start(logs: Any, **params: Any) -> str:
    """A StartQuery over `window()`; its queryId."""
    return logs.start_query(**params, **window())["queryId"]


def messages_of(answer: dict[str, Any]) -> list[str]:
    return [row["@message"] for row in results(answer)]


def new_group(logs: Any, name: str) -> str:
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    return name


def test_results_come_in_pages_like_the_service(logs: Any, group: str) -> None:
    t = now_ms() - 120_000
    messages = [f"m{i:05d}" for i in range(25_000)]
    for first in range(0, len(messages), 10_000):
        put(logs, group, [{"timestamp": t + i, "message": messages[i]}
                          for i in range(first, min(first + 10_000, len(messages)))])
    query_id = start(logs, logGroupName=group, queryString=ASC, limit=100_000)

    pages = [logs.get_query_results(queryId=query_id)]
    while "nextToken" in pages[-1]:
        pages.append(logs.get_query_results(queryId=query_id, nextToken=pages[-1]["nextToken"]))
    assert [len(page["results"]) for page in pages] == [10_000, 10_000, 5_000]
    assert [m for page in pages for m in messages_of(page)] == messages
    for page in pages:
        assert page["status"] == "Complete" and page["queryLanguage"] == "CWLI"
        assert page["statistics"] == {"recordsMatched": 25_000.0, "recordsScanned": 25_000.0,
                                      "bytesScanned": float(sum(len(m) for m in messages))}

    # From the start again; an earlier token still reads its page (within its hour).
    again = logs.get_query_results(queryId=query_id)
    assert results(again) == results(pages[0]) and again["nextToken"] != pages[0]["nextToken"]
    assert results(logs.get_query_results(queryId=query_id, nextToken=pages[0]["nextToken"])) == results(pages[1])
    # maxItems sets the page size, page by page.
    small = logs.get_query_results(queryId=query_id, maxItems=3)
    assert messages_of(small) == messages[:3]
    following = logs.get_query_results(queryId=query_id, maxItems=4, nextToken=small["nextToken"])
    assert messages_of(following) == messages[3:7]
    for bad in (0, 10_001):
        status, code, message = error_of(lambda: logs.get_query_results(queryId=query_id, maxItems=bad))
        assert (status, code) == (400, "InvalidParameterException") and "maxItems" in message

    # A token is this front's, for its own query only.
    other = start(logs, logGroupName=group, queryString=ASC, limit=20)
    assert error_of(lambda: logs.get_query_results(queryId=other, nextToken=small["nextToken"]))[:2] == (
        400, "InvalidParameterException"
    )
    assert error_of(lambda: logs.get_query_results(queryId=query_id, nextToken="bm9wZQ"))[:2] == (
        400, "InvalidParameterException"
    )
    # Without `limit`, the service's 10,000 rows: one full page; recordsMatched still counts all.
    default = logs.get_query_results(queryId=start(logs, logGroupName=group, queryString=ASC))
    assert len(default["results"]) == 10_000 and "nextToken" not in default
    assert default["statistics"]["recordsMatched"] == 25_000.0


def test_start_query_limit_truncates(endpoint: str, logs: Any, group: str) -> None:
    put(logs, group, [{"timestamp": now_ms() - 2 * 3_600_000, "message": "before the window"}])
    events = at_now([f"m{i}" for i in range(7)])
    put(logs, group, events)

    answer = logs.get_query_results(queryId=start(logs, logGroupName=group, queryString=ASC, limit=3))
    assert messages_of(answer) == ["m0", "m1", "m2"]
    # recordsMatched: every event in the time range, before the limit, and only those.
    assert answer["statistics"] == {"recordsMatched": 7.0, "recordsScanned": 7.0, "bytesScanned": 14.0}
    # The query string's own limit applies too.
    answer = logs.get_query_results(queryId=start(logs, logGroupName=group, queryString=QUERY, limit=6))
    assert messages_of(answer) == ["m0", "m1", "m2", "m3", "m4"]
    assert answer["statistics"]["recordsMatched"] == 7.0
    started = calls(endpoint, f"logGroupName={group}&target=StartQuery")
    assert [c["request"]["limit"] for c in started] == [3, 6]  # recorded as sent


@pytest.mark.parametrize("language,top", [("CWLI", 100_000), ("SQL", 10_000), ("PPL", 10_000)])
def test_limit_range_per_language(logs: Any, group: str, language: str, top: int) -> None:
    if language == "SQL":
        params: dict[str, Any] = {"queryString": f"SELECT * FROM `{group}`"}
    else:
        params = {"logGroupName": group, "queryString": "fields @message"}
    for bad in (0, top + 1):
        status, code, message = error_of(lambda: start(logs, queryLanguage=language, limit=bad, **params))
        assert (status, code) == (400, "InvalidParameterException")
        assert "limit" in message and str(bad) in message
    start(logs, queryLanguage=language, limit=top, **params)


def test_query_language_is_validated_and_recorded(endpoint: str, logs: Any, group: str) -> None:
    status, code, message = error_of(
        lambda: start(logs, queryLanguage="KQL", logGroupName=group, queryString="fields @message")
    )
    assert (status, code) == (400, "InvalidParameterException") and "KQL" in message
    ppl = start(logs, queryLanguage="PPL", logGroupName=group, queryString="fields `@message`")
    cwli = start(logs, logGroupName=group, queryString="fields @message")

    started = calls(endpoint, f"logGroupName={group}&target=StartQuery")
    assert [(c["request"].get("queryLanguage"), c["status"]) for c in started] == [
        ("KQL", 400), ("PPL", 200), (None, 200)
    ]
    assert logs.get_query_results(queryId=ppl)["queryLanguage"] == "PPL"
    assert logs.get_query_results(queryId=cwli)["queryLanguage"] == "CWLI"  # the default


def test_sql_reads_its_groups_from_its_from_clause(endpoint: str, logs: Any, group: str) -> None:
    other = new_group(logs, f"{group}-b")
    t = now_ms() - 60_000
    put(logs, group, [{"timestamp": t, "message": "a0"}, {"timestamp": t + 2, "message": "a2"}])
    put(logs, other, [{"timestamp": t + 1, "message": "b1"}])

    # Names and ARNs, either quotes, keywords in any case; the rest of the SQL is not interpreted.
    sources = f"""['{group}', "{ACCOUNT_ARN}{other}"]"""
    query = f"select `@message` from `LOGGROUPS(logGroupIdentifier: {sources})` where 1 = 0"
    answer = logs.get_query_results(queryId=start(logs, queryLanguage="SQL", queryString=query), maxItems=1)
    assert answer["queryLanguage"] == "SQL" and "nextToken" not in answer  # never paged
    rows = results(answer)
    assert list(rows[0]) == ["@ptr", "@timestamp", "@message", "@logStream", "@log"]
    assert [(r["@message"], r["@log"], r["@logStream"]) for r in rows] == [
        ("a0", group, "s"), ("b1", other, "s"), ("a2", group, "s")
    ]
    assert answer["statistics"]["recordsMatched"] == 3.0
    simple = f"SELECT * FROM `{other}`"
    simple_id = start(logs, queryLanguage="SQL", queryString=simple)
    assert messages_of(logs.get_query_results(queryId=simple_id)) == ["b1"]
    # The stats and faults' logGroupName finds SQL queries by their FROM clause.
    started = calls(endpoint, f"logGroupName={other}&target=StartQuery")
    assert [c["request"]["queryString"] for c in started] == [query, simple]

    for params in ({"logGroupName": group}, {"logGroupNames": [group]}, {"logGroupIdentifiers": [group]}):
        status, code, message = error_of(lambda: start(logs, queryLanguage="SQL", queryString=simple, **params))
        assert (status, code) == (400, "InvalidParameterException") and "query string" in message
    assert error_of(lambda: start(logs, queryLanguage="SQL", queryString="SELECT 1"))[:2] == (
        400, "MalformedQueryException"
    )


def test_ppl_is_answered_in_one_page(logs: Any, group: str) -> None:
    put(logs, group, at_now([f"m{i}" for i in range(12)]))
    query_id = start(logs, queryLanguage="PPL", logGroupIdentifiers=[ACCOUNT_ARN + group],
                     queryString="fields `@message` | head 3")
    answer = logs.get_query_results(queryId=query_id, maxItems=5)
    assert answer["queryLanguage"] == "PPL" and "nextToken" not in answer
    assert messages_of(answer) == [f"m{i}" for i in range(12)]  # every event, oldest first
    assert error_of(lambda: logs.get_query_results(queryId=query_id, maxItems=0))[:2] == (
        400, "InvalidParameterException"
    )


def test_log_group_parameters_are_validated(logs: Any, group: str) -> None:
    other = new_group(logs, f"{group}-b")
    refused = [
        ({}, "exactly one"),
        ({"logGroupName": group, "logGroupNames": [group]}, "exactly one"),
        ({"logGroupNames": []}, "1 to 50"),
        ({"logGroupNames": [group] * 51}, "1 to 50"),
        ({"logGroupIdentifiers": [group, ACCOUNT_ARN + other]}, "all log group names or all ARNs"),
        ({"logGroupIdentifiers": [ACCOUNT_ARN + group + ":*"]}, "ends in *"),
    ]
    for language in ("CWLI", "PPL"):
        for params, words in refused:
            status, code, message = error_of(
                lambda: start(logs, queryLanguage=language, queryString="fields @message", **params)
            )
            assert (status, code) == (400, "InvalidParameterException") and words in message, params
    # All ARNs, or all names, are fine.
    start(logs, logGroupIdentifiers=[ACCOUNT_ARN + group, ACCOUNT_ARN + other], queryString="fields @message")
    start(logs, logGroupIdentifiers=[group, other], queryString="fields @message")


def test_query_definitions(endpoint: str, logs: Any) -> None:
    prefix = f"def-{uuid.uuid4().hex[:8]}-"
    put_definition = logs.put_query_definition
    b = put_definition(name=prefix + "b", queryString="fields @message")["queryDefinitionId"]
    a = put_definition(name=prefix + "a", queryString="fields @timestamp", logGroupNames=["/x"],
                       queryLanguage="CWLI")["queryDefinitionId"]
    c = put_definition(name=prefix + "c", queryString="SELECT 1", queryLanguage="SQL",
                       parameters=[{"name": "n", "defaultValue": "3"}])["queryDefinitionId"]
    # An update replaces the whole definition (b had no parameters; now it has, and a new name).
    assert put_definition(queryDefinitionId=b, name=prefix + "b2", queryString="fields `@message`",
                          queryLanguage="PPL", parameters=[{"name": "p", "description": "d"}]
                          )["queryDefinitionId"] == b

    def describe(**params: Any) -> dict[str, Any]:
        return logs.describe_query_definitions(queryDefinitionNamePrefix=prefix, **params)

    listed = describe()["queryDefinitions"]
    assert [(d["queryDefinitionId"], d["name"], d["queryLanguage"]) for d in listed] == [
        (a, prefix + "a", "CWLI"), (b, prefix + "b2", "PPL"), (c, prefix + "c", "SQL")
    ]
    assert listed[0]["logGroupNames"] == ["/x"] and "parameters" not in listed[0]
    assert "logGroupNames" not in listed[1] and listed[1]["parameters"] == [{"name": "p", "description": "d"}]
    assert listed[2]["parameters"] == [{"name": "n", "defaultValue": "3"}]
    assert all(abs(d["lastModified"] - now_ms()) < 60_000 for d in listed)

    first = describe(maxResults=2)
    assert [d["queryDefinitionId"] for d in first["queryDefinitions"]] == [a, b]
    second = describe(maxResults=2, nextToken=first["nextToken"])
    assert [d["queryDefinitionId"] for d in second["queryDefinitions"]] == [c] and "nextToken" not in second
    # A token is bound to its prefix and language; an unknown one is refused.
    for params in ({"queryLanguage": "SQL"}, {}):
        token = first["nextToken"] if params else "bm9wZQ"
        assert error_of(lambda: describe(nextToken=token, **params))[:2] == (400, "InvalidParameterException")
    assert [d["queryDefinitionId"] for d in describe(queryLanguage="SQL")["queryDefinitions"]] == [c]
    assert logs.describe_query_definitions(queryDefinitionNamePrefix=prefix.upper())["queryDefinitions"] == []
    for bad in (0, 1_001):
        status, code, message = error_of(lambda: describe(maxResults=bad))
        assert (status, code) == (400, "InvalidParameterException") and "maxResults" in message

    unknown = str(uuid.uuid4())
    assert error_of(lambda: put_definition(queryDefinitionId=unknown, name=prefix + "z", queryString="x"))[:2] == (
        400, "ResourceNotFoundException"
    )
    assert error_of(lambda: put_definition(name=prefix + "z", queryString=""))[:2] == (
        400, "InvalidParameterException"
    )
    assert error_of(lambda: put_definition(name=prefix + "z", queryString="x", queryLanguage="KQL"))[:2] == (
        400, "InvalidParameterException"
    )
    assert logs.delete_query_definition(queryDefinitionId=a)["success"] is True
    assert error_of(lambda: logs.delete_query_definition(queryDefinitionId=a))[:2] == (
        400, "ResourceNotFoundException"
    )
    assert [d["queryDefinitionId"] for d in describe()["queryDefinitions"]] == [b, c]

    puts = [c for c in calls(endpoint, "target=PutQueryDefinition") if c["request"]["name"].startswith(prefix)]
    assert [(c["status"], c["errorType"]) for c in puts] == [(200, None)] * 4 + [
        (400, "ResourceNotFoundException"), (400, "InvalidParameterException"), (400, "InvalidParameterException")
    ]
    assert not any(c["faulted"] for c in puts)
    assert puts[2]["request"]["queryLanguage"] == "SQL"


# A second server in this process, whose clock the test drives.


def load_module(name: str, path: Path) -> Any:
    """A script imported as a module (registered first: its dataclasses look themselves up)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def local() -> Iterator[tuple[str, list[float]]]:
    """A front served by a thread of this process: its URL, and its clock ([epoch seconds])."""
    module = load_module("moto_server_in_process", SERVER)
    clock = [time.time()]
    server, _ = module.create_server(0, clock=lambda: clock[0])
    serve = lambda: server.serve_forever(poll_interval=0.05)  # noqa: E731 (a quick shutdown)
    thread = threading.Thread(target=serve, name="local-moto", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", clock
    finally:
        server.shutdown()
        server.server_close()


def test_tokens_expire_and_reset_forgets_queries(local: tuple[str, list[float]]) -> None:
    url, clock = local
    logs = logs_client(url)
    group = new_group(logs, "/local/g")
    put(logs, group, at_now(["a", "b", "c"]))
    query_id = start(logs, logGroupName=group, queryString=ASC)
    token = logs.get_query_results(queryId=query_id, maxItems=1)["nextToken"]
    for name in ("q-1", "q-2"):
        logs.put_query_definition(name=name, queryString="fields @message")
    definitions_token = logs.describe_query_definitions(maxResults=1)["nextToken"]

    clock[0] += 3_600  # an hour: still valid
    assert messages_of(logs.get_query_results(queryId=query_id, maxItems=1, nextToken=token)) == ["b"]
    clock[0] += 1
    assert error_of(lambda: logs.get_query_results(queryId=query_id, nextToken=token)) == (
        400, "InvalidParameterException", "The next token has expired"
    )
    assert messages_of(logs.get_query_results(queryId=query_id)) == ["a", "b", "c"]  # from the start
    assert len(logs.describe_query_definitions(maxResults=1, nextToken=definitions_token)["queryDefinitions"]) == 1
    clock[0] += 24 * 3_600
    assert error_of(lambda: logs.describe_query_definitions(maxResults=1, nextToken=definitions_token))[:2] == (
        400, "InvalidParameterException"
    )

    # moto's reset: its queries are gone from the front too; query definitions stay.
    assert http(url, "/moto-api/reset", "POST")[0] == 200
    assert error_of(lambda: logs.get_query_results(queryId=query_id))[:2] == (400, "ResourceNotFoundException")
    assert [d["name"] for d in logs.describe_query_definitions()["queryDefinitions"]] == ["q-1", "q-2"]


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


def test_list_tags_for_resource_of_a_missing_group_is_not_found(logs: Any, group: str) -> None:
    # `group` exists (the fixture made it); tag it, then read the tags by ARN.
    logs.tag_resource(resourceArn=f"arn:aws:logs:us-east-1:123456789012:log-group:{group}", tags={"team": "a"})
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    # A group that does not exist, here or in another account: ResourceNotFoundException (moto
    # alone answers it with no tags).
    for missing in (
        f"arn:aws:logs:us-east-1:123456789012:log-group:{group}-missing",
        f"arn:aws:logs:us-east-1:999999999999:log-group:{group}",
    ):
        assert error_of(lambda: logs.list_tags_for_resource(resourceArn=missing))[:2] == (
            400,
            "ResourceNotFoundException",
        )


def latency(endpoint: str, spec: dict[str, Any] | None) -> tuple[int, Any]:
    """POST a latency rule (None: DELETE every rule)."""
    if spec is None:
        return http(endpoint, "/_logship/latency", method="DELETE")
    return http(endpoint, "/_logship/latency", method="POST", body=spec)


def test_latency_is_per_call_scoped_and_overlaps(endpoint: str, logs: Any, group: str) -> None:
    import concurrent.futures
    import time as clock

    status, document = latency(endpoint, {"baseMs": 300, "perMbMs": 1000, "target": "PutLogEvents", "logGroupName": group})
    assert status == 200 and document["latency"][-1]["baseMs"] == 300
    try:
        started = clock.monotonic()
        put(logs, group, at_now(["a"]))
        one = clock.monotonic() - started
        assert 0.3 <= one < 1.0, one
        # 500 KB more in the body: 500 ms more (1,000 ms per MB).
        started = clock.monotonic()
        put(logs, group, at_now(["x" * 500_000]))
        assert clock.monotonic() - started >= 0.8
        # Four calls at once overlap: about one round trip, not four.
        started = clock.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: put(logs, group, at_now([f"c{i}"])), range(4)))
        assert clock.monotonic() - started < 1.0
        # ... and their call records say so: each arrived before the others were answered.
        calls = stats(endpoint, group)["calls"][-4:]
        assert [c["target"] for c in calls] == ["PutLogEvents"] * 4
        assert max(c["arrivedMs"] for c in calls) < min(c["answeredMs"] for c in calls), calls
        assert all(c["answeredMs"] - c["arrivedMs"] >= 300 for c in calls), calls
        # Another group, or another operation, is not delayed.
        started = clock.monotonic()
        logs.describe_log_streams(logGroupName=group)
        assert clock.monotonic() - started < 0.3
    finally:
        assert latency(endpoint, None)[0] == 200
    started = clock.monotonic()
    put(logs, group, at_now(["b"]))
    assert clock.monotonic() - started < 0.3
    assert http(endpoint, "/_logship/latency")[1] == {"latency": []}
    for bad in ({}, {"baseMs": -1}, {"baseMs": "30"}, {"baseMs": 1, "speed": 2}, {"baseMs": 1, "target": 3}):
        assert latency(endpoint, bad)[0] == 400, bad


def test_a_sink_answers_puts_after_the_round_trip_without_moto_and_counts_them_later(
    endpoint: str, logs: Any
) -> None:
    import time as clock

    group = f"/test/sink-{uuid.uuid4().hex[:12]}"  # never created: a sink does not look
    rule = {"baseMs": 200, "target": "PutLogEvents", "logGroupName": group, "sink": True}
    status, document = latency(endpoint, rule)
    assert status == 200 and document["latency"][-1]["sink"] is True
    started = clock.monotonic()
    events = at_now(["é" * 10, "b"])
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
    assert clock.monotonic() - started >= 0.2
    got = stats(endpoint, group)
    assert got["putLogEvents"] == [
        {"logGroupName": group, "logStreamName": "s", "events": 2, "bytes": 20 + 26 + 1 + 26,
         "status": 200, "errorType": None, "rejectedLogEventsInfo": None}
    ]
    (call,) = got["calls"]
    assert call["sink"] is True and call["request"] == {"logGroupName": group, "logStreamName": "s"}
    # Nothing stored: the group does not exist in moto.
    assert error_of(lambda: logs.get_log_events(logGroupName=group, logStreamName="s"))[1] == (
        "ResourceNotFoundException"
    )
    for bad in (
        {"baseMs": 1, "sink": True},  # no target, no group
        {"baseMs": 1, "target": "PutLogEvents", "sink": True},  # no group
        {"baseMs": 1, "target": "CreateLogStream", "logGroupName": group, "sink": True},
        {"baseMs": 1, "target": "PutLogEvents", "logGroupName": group, "sink": "yes"},
    ):
        assert latency(endpoint, bad)[0] == 400, bad
