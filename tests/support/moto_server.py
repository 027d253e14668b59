"""A strict, scriptable moto server for logship's tests.

Why this exists instead of plain `moto_server`:

* moto emulates CloudWatch Logs well enough for our functions, but it does not enforce the
  PutLogEvents limits that shape a shipper's batching (10,000 events, 1,048,576 bytes counted as
  UTF-8 message bytes + 26 per event, event size, 24 h span, empty batches). A shipper that breaks
  them would pass against moto and fail in AWS. The `StrictLogs` middleware below checks every
  PutLogEvents request against the real rules and answers `InvalidParameterException` without
  forwarding it, the way the service would.
* Tests need to see what was sent (how many requests, how big, which were refused, which calls
  in which order): `GET /_logship/stats` reports every PutLogEvents request and every API call.
* Tests need to provoke what the real service does and moto does not: throttling and server
  errors, a `rejectedLogEventsInfo`, Logs Insights queries that stay `Running` for a while.
  `POST /_logship/faults` scripts the next N answers of an operation, most without them
  reaching moto. moto also lacks StopQuery (it answers 500) and query definitions: this front
  answers them itself.
* moto's Logs Insights is too lenient and too simple for a client that pages: it validates no
  StartQuery parameter, ignores `limit` and `queryLanguage`, reports no statistics and answers
  every row at once. The front validates StartQuery, pages GetQueryResults and counts statistics
  as the CloudWatch Logs API reference describes (below).
* The server must die with the test process, even one killed with SIGKILL that runs no cleanup:
  it exits as soon as its stdin reaches EOF, so the parent just keeps the pipe open.

Launch protocol (the Rust test harness relies on it exactly):

    .venv/bin/python tests/support/moto_server.py [--port N]      # N = 0 (default): any free port

binds 127.0.0.1, prints exactly one line `LISTENING http://127.0.0.1:PORT` to stdout once it
accepts connections, then prints nothing more to stdout. Give it a *piped* stdin and keep the
pipe open: a null or closed stdin makes it exit at once. Request logging is off unless --verbose
(so an unread stderr pipe cannot fill up and stall it); errors still go to stderr.

Endpoints added next to moto's own (moto's `POST /moto-api/reset` still resets moto's state,
and makes the front forget moto's Logs Insights queries too; query definitions stay):

    GET    /_logship/stats[?logGroupName=G][&target=OP]
                                             {"violations": [...], "putLogEvents": [...],
                                              "calls": [...]}
    DELETE /_logship/stats                   forget recorded requests, calls and violations
    POST   /_logship/faults                  a fault (below); answers {"faults": [pending...]}
    GET    /_logship/faults                  {"faults": [...]}: faults still pending
    DELETE /_logship/faults                  drop pending faults
    POST   /_logship/latency                 a modelled round trip (below); answers {"latency": [...]}
    GET    /_logship/latency                 {"latency": [...]}: the round trips in force
    DELETE /_logship/latency                 back to no added latency

Stats. `putLogEvents` has one entry per PutLogEvents request, in the order answered:
{"logGroupName", "logStreamName", "events", "bytes" (as the quota counts them), "status",
"errorType", "rejectedLogEventsInfo"}; `violations` one per refused rule: {"logGroupName",
"logStreamName", "rule", "message"}. `calls` has one entry per API call (any request with an
X-Amz-Target, whatever the service, and any query-protocol call such as STS AssumeRole or IAM,
whose operation is its `Action` and whose request is its form fields), in arrival order, once
answered:

    {"target": "StopQuery",                  the operation name
     "request": {"queryId": "..."},          the JSON request body as sent ({} if it is not an
                                             object); a PutLogEvents request's `logEvents` is
                                             replaced by its count ("logEvents": 3)
     "status": 200, "errorType": null,       what the client was answered
     "faulted": false,                       true if a scripted fault shaped the answer
     "arrivedMs": 1234.5,                    when the call arrived and when it was answered, in
     "answeredMs": 1265.1,                   ms of one monotonic clock (AWS JSON calls only):
                                             how many calls were in flight at once
     "queryId": "..."}                       a StartQuery answered 200 only: the id it answered,
                                             so a test can follow each query to its results

`target=OP` keeps the calls of that operation (an operation name, or a full X-Amz-Target such
as `Logs_20140328.StopQuery` to tell services apart); `putLogEvents` and `violations` stay only
if OP is PutLogEvents. `logGroupName=G` keeps puts and violations of group G, and the calls
about G: `logGroupName` G, or G in `logGroupNames` or `logGroupIdentifiers` (names or ARNs), or
a `queryLanguage` SQL request whose `queryString` reads G in its FROM clause.

Latency. `{"baseMs": 30, "perMbMs": 10, "jitterMs": 5, "target": "PutLogEvents", "logGroupName":
G}` (all but baseMs optional; no target: every operation; no group: every call) answers each
matching call after 30 ms + 10 ms per MB (10^6 bytes) of its request body + up to 5 ms, waited
outside every lock so that concurrent calls overlap as they do in AWS. The first rule that
matches applies. Scope it to your groups: tests share one server.

`"sink": true` (a PutLogEvents rule with a logGroupName only) is for benches of waiting time:
the emulator's own work, serialised behind moto's lock and CPython's, would otherwise be timed
as the network's. A matching PutLogEvents (its group and stream read from the text before
`logEvents`, the events not parsed) is answered 200 `{}` after the modelled round trip, without
moto and without the strictness checks; it is recorded in `putLogEvents` (its `events` and
`bytes` counted when the stats are read) and in `calls` with `"sink": true` and a `request` of
the group and stream only. Nothing is stored: what the function wrote cannot be read back. Tests
of correctness never use it.

Faults. A fault is answered to the next `count` (default 1) requests it matches, first-posted
fault first, before the strictness checks run and without waiting for moto:

    {"target": "PutLogEvents",               operation name, or the full X-Amz-Target
                                             (`Logs_20140328.PutLogEvents`)
     "count": 3,                             optional, default 1
     "logGroupName": G,                      optional: only requests about G (as for stats:
                                             logGroupName, logGroupNames, logGroupIdentifiers,
                                             a SQL query's FROM clause)
     "logStreamName": S,                     optional: only requests whose logStreamName is S
     "match": {"queryId": "q-1"},            optional: every field must equal the request's
                                             top-level field of that name, or be in it if the
                                             request's field is a list
     ...and one of three kinds:
     "status": 400, "errorType": "ThrottlingException", "message": optional
                                             an error (400-599, the default kind, status 400);
                                             errorType defaults to ThrottlingException for 4xx,
                                             ServiceUnavailableException for 5xx
     "status": 200, "body": {...}            this JSON answered with 200 (Content-Type
                                             application/x-amz-json-1.1), e.g. a GetQueryResults
                                             {"status": "Running", "results": [], ...}
     "rejectedLogEventsInfo": {...}          PutLogEvents only: the put goes on to moto and its
                                             200 answer carries this (moto never says `expired`)
    }

Scope every fault (group, or `match` on an id only your test knows): tests share one server.
A typical Logs Insights script: StartQuery `{"target": "StartQuery", "logGroupName": G,
"status": 200, "body": {"queryId": "q-G-1"}}` (or a LimitExceededException for it), then
GetQueryResults / StopQuery faults with `"match": {"queryId": "q-G-1"}`.

ListTagsForResource of a log group that does not exist in its ARN's account and region is
answered 400 ResourceNotFoundException, as the API reference says (moto answers it with no
tags, which a reader cannot tell from an untagged group).

Logs Insights as moto and this front answer it, unless scripted (a scripted fault is answered
before any of this: no validation, and a fault's body verbatim):

* StartQuery is validated as the service does, each refusal a 400 InvalidParameterException
  naming the culprit: `queryLanguage` CWLI (the default), SQL or PPL. CWLI and PPL name their
  log groups in exactly one of `logGroupName`, `logGroupNames`, `logGroupIdentifiers` (the
  lists 1 to 50 entries); an identifier ARN must not end in `*` (the reference: "Don't include
  an * at the end"), and (our decision, the reference is silent) identifiers are all names or
  all ARNs. SQL names its groups in the query string, never in parameters (the reference: "you
  specify the log group names inside the querystring"; our decision: any of the three
  parameters with SQL is refused): every quoted name or ARN of FROM
  `logGroups(logGroupIdentifier: ['/a', "arn:...:log-group:/b"])`, or a plain FROM `/a` (JOIN
  likewise); a SQL query naming no group is a MalformedQueryException. `limit` is 1 to 100,000
  for CWLI, 1 to 10,000 for SQL and PPL, 10,000 if absent.
* moto runs the query at once. CWLI query strings go to moto as they are: only `fields`, `sort`
  and `limit` are understood, anything else (`filter`, `stats`, ...) is ignored. The front does
  not interpret SQL or PPL: SQL and PPL queries return every event of their groups in the range,
  oldest first (moto runs `fields @timestamp, @message, @logStream, @log | sort @timestamp asc`).
  Groups reach moto as `logGroupNames` (ARNs as names). The front remembers each query moto
  started: its language, limit, groups, time range, and its statistics, counted when it ran over
  the events moto stores: `recordsMatched` = `recordsScanned` = the events of its groups with
  startTime * 1000 <= timestamp <= endTime * 1000 (moto's rule), before any `limit`, as the
  service reports them; `bytesScanned` = their UTF-8 message bytes.
* GetQueryResults is `Complete` at once, with `queryLanguage` and `statistics` (numbers as the
  service sends them, 25000.0). The first one asks moto for every row, once, cut to the query's
  limit; the front keeps the rows of the 16 queries last read (an evicted query is asked of
  moto again). Logs Insights QL results come in pages of `maxItems` rows (1 to 10,000, default
  10,000), with a `nextToken` only while more rows follow; a request without one reads the first
  page again. A token is opaque, bound to its query and valid for an hour; an unknown, expired or
  other query's token is a 400 InvalidParameterException. SQL and PPL results are never paged:
  every row (at most 10,000) in one answer, whatever `maxItems` says (still validated). Rows are
  moto's: `@ptr` first and `@timestamp` as epoch milliseconds ("1795319074391", where the service
  says "2026-11-22 03:44:34.391"). A queryId moto did not start (or forgot at a reset) is
  answered 400 ResourceNotFoundException (moto would crash with a 500).
* StopQuery is answered 200 {"success": true} whatever the queryId.

Query definitions, which moto lacks, are kept by the front, global to the server (tests use
unique names; neither a moto reset nor `DELETE /_logship/stats` clears them), and recorded in
`calls` like any call. PutQueryDefinition: `name` (1-255) and `queryString` (1-10,000) required,
`queryLanguage` (CWLI default, SQL, PPL), `logGroupNames`, `parameters` (at most 20 objects with
a `name`, kept as given); with `queryDefinitionId` it replaces that definition entirely (what
the update omits is gone, as in the service; an unknown id is a ResourceNotFoundException),
else it creates one with a new uuid; answers {"queryDefinitionId"}. DescribeQueryDefinitions:
definitions ordered by name then id, `queryDefinitionNamePrefix` a case-sensitive prefix,
`queryLanguage` only that language (our decision: without it, every language), `maxResults` 1
to 1,000 (default 1,000) a page, `nextToken` opaque, bound to the prefix and language, valid
24 hours; each entry has `logGroupNames` and `parameters` only if it has any.
DeleteQueryDefinition: {"success": true}, an unknown id a ResourceNotFoundException.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import logging
import os
import random
import re
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wsgi import get_input_stream

from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.models import LogsBackend, logs_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

# --- The real PutLogEvents limits ---------------------------------------------------------------

LOGS_TARGET_PREFIX = "Logs_20140328."
PUT_LOG_EVENTS = LOGS_TARGET_PREFIX + "PutLogEvents"
START_QUERY = LOGS_TARGET_PREFIX + "StartQuery"
GET_QUERY_RESULTS = LOGS_TARGET_PREFIX + "GetQueryResults"
STOP_QUERY = LOGS_TARGET_PREFIX + "StopQuery"
PUT_QUERY_DEFINITION = LOGS_TARGET_PREFIX + "PutQueryDefinition"
LIST_TAGS_FOR_RESOURCE = LOGS_TARGET_PREFIX + "ListTagsForResource"
DESCRIBE_QUERY_DEFINITIONS = LOGS_TARGET_PREFIX + "DescribeQueryDefinitions"
DELETE_QUERY_DEFINITION = LOGS_TARGET_PREFIX + "DeleteQueryDefinition"

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
MAX_EVENT_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 60 * 60 * 1000

AMZ_JSON = "application/x-amz-json-1.1"


class Violation(Exception):
    """A PutLogEvents request the real service would refuse: `rule` is a stable short name."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


def event_size(message: str) -> int:
    """Bytes an event counts for in AWS's quota: UTF-8 message bytes plus 26."""
    return len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES


def put_names(body: bytes) -> dict[str, Any] | None:
    """A PutLogEvents body's `logGroupName` and `logStreamName`, read from the text before its
    `logEvents` (every SDK writes the names first) without parsing the events; None when that
    text is not such an object."""
    at = body.find(b'"logEvents"')
    if at <= 0:
        return None
    head = body[:at].rstrip().rstrip(b",")
    try:
        names = json.loads(head + b"}")
    except ValueError:
        return None
    if not isinstance(names, dict) or not isinstance(names.get("logGroupName"), str):
        return None
    return {k: names[k] for k in ("logGroupName", "logStreamName") if isinstance(names.get(k), str)}


def batch_size(events: Iterable[dict[str, Any]]) -> int:
    """Bytes a batch counts for; tolerant of malformed events (they count as empty)."""
    total = 0
    for event in events:
        message = event.get("message") if isinstance(event, dict) else None
        total += event_size(message if isinstance(message, str) else "")
    return total


def check_put_log_events(request: dict[str, Any]) -> None:
    """Raise `Violation` for the first real PutLogEvents rule that `request` breaks."""
    events = request.get("logEvents")
    if not isinstance(events, list):
        raise Violation("malformedRequest", "logEvents must be a list of log events")
    if not events:
        raise Violation("emptyBatch", "logEvents must contain at least 1 event (got 0)")
    if len(events) > MAX_BATCH_EVENTS:
        raise Violation(
            "tooManyEvents",
            f"batch has {len(events)} log events, more than the maximum of {MAX_BATCH_EVENTS}",
        )
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise Violation("malformedRequest", f"logEvents[{index}] is not an object")
        message, timestamp = event.get("message"), event.get("timestamp")
        if not isinstance(message, str):
            raise Violation("malformedRequest", f"logEvents[{index}].message is not a string")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise Violation("malformedRequest", f"logEvents[{index}].timestamp is not an integer")
        if not message:
            raise Violation("emptyMessage", f"logEvents[{index}].message is empty (minimum length 1)")
        size = event_size(message)
        if size > MAX_EVENT_BYTES:
            raise Violation(
                "eventTooLarge",
                f"logEvents[{index}] is {size} bytes (UTF-8 message + {EVENT_OVERHEAD_BYTES}), "
                f"more than the maximum of {MAX_EVENT_BYTES}",
            )
    total = batch_size(events)
    if total > MAX_BATCH_BYTES:
        raise Violation(
            "batchTooLarge",
            f"Upload too large: {total} bytes (sum of UTF-8 messages + {EVENT_OVERHEAD_BYTES} "
            f"per event) exceeds limit of {MAX_BATCH_BYTES}",
        )
    for index in range(1, len(events)):
        before, after = events[index - 1]["timestamp"], events[index]["timestamp"]
        if after < before:
            raise Violation(
                "notChronological",
                "Log events in a single PutLogEvents request must be in chronological order: "
                f"logEvents[{index}].timestamp {after} < logEvents[{index - 1}].timestamp {before}",
            )
    span = events[-1]["timestamp"] - events[0]["timestamp"]
    if span > MAX_BATCH_SPAN_MS:
        raise Violation(
            "spanTooLong",
            f"The batch of log events spans {span} ms, more than the maximum of "
            f"{MAX_BATCH_SPAN_MS} ms (24 hours)",
        )


# --- Recording and fault scripts ---------------------------------------------------------------


def operation(target: str) -> str:
    """The operation name of an X-Amz-Target: `Logs_20140328.StopQuery` -> `StopQuery`."""
    return target.rsplit(".", 1)[-1]


def full_target(target: str) -> str:
    """An operation name as a CloudWatch Logs X-Amz-Target; full targets are kept as they are."""
    return target if "." in target else LOGS_TARGET_PREFIX + target


def target_matches(wanted: str, target: str) -> bool:
    """Whether a filter (`StopQuery` or a full `Logs_20140328.StopQuery`) selects `target`."""
    return wanted == target if "." in wanted else wanted == operation(target)


def group_of_identifier(identifier: Any) -> Any:
    """A logGroupIdentifiers entry as a group name: a name stays itself, an ARN
    (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME`, possibly with a trailing `:*`) gives NAME."""
    if isinstance(identifier, str) and identifier.startswith("arn:") and ":log-group:" in identifier:
        name = identifier.split(":log-group:", 1)[1]
        return name[:-2] if name.endswith(":*") else name
    return identifier


# A SQL query's sources: FROM `logGroups(logGroupIdentifier: ['/a', "arn:...:log-group:/b"])`,
# or simply FROM `/a` (JOIN likewise); keywords in any case.
SQL_GROUP_LIST = re.compile(r"logGroupIdentifiers?\s*:\s*\[([^\]]*)\]", re.IGNORECASE)
SQL_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
SQL_SIMPLE_SOURCE = re.compile(r"\b(?:FROM|JOIN)\s+`([^`]+)`", re.IGNORECASE)
SQL_LOG_GROUPS_FUNCTION = re.compile(r"\s*logGroups\s*\(", re.IGNORECASE)


def sql_log_groups(query: str) -> list[str]:
    """The log group names a SQL query reads, in order of first mention: every quoted entry of
    every `logGroupIdentifier: [...]` (names, or ARNs given as their names), and every simple
    backquoted source (FROM `/aws/lambda/a`). SQL queries name their groups there, not in
    StartQuery's parameters."""
    found: list[str] = []
    for listing in SQL_GROUP_LIST.finditer(query):
        for quoted in SQL_QUOTED.finditer(listing.group(1)):
            found.append(quoted.group(1) if quoted.group(1) is not None else quoted.group(2))
    for source in SQL_SIMPLE_SOURCE.finditer(query):
        if not SQL_LOG_GROUPS_FUNCTION.match(source.group(1)):
            found.append(source.group(1).strip())
    return list(dict.fromkeys(group_of_identifier(entry) for entry in found if entry.strip()))


def names_group(request: dict[str, Any], group: str) -> bool:
    """Whether a request is about `group`: its `logGroupName` is it, or its `logGroupNames` or
    `logGroupIdentifiers` (names or ARNs) list it, as StartQuery's do, or it is a SQL request
    (`queryLanguage` SQL) whose query string reads it (see `sql_log_groups`)."""
    if request.get("logGroupName") == group:
        return True
    names = request.get("logGroupNames")
    if isinstance(names, list) and group in names:
        return True
    identifiers = request.get("logGroupIdentifiers")
    if isinstance(identifiers, list) and any(group_of_identifier(i) == group for i in identifiers):
        return True
    query = request.get("queryString")
    is_sql = request.get("queryLanguage") == "SQL" and isinstance(query, str)
    return is_sql and group in sql_log_groups(query)


def same_json(a: Any, b: Any) -> bool:
    """JSON equality (Python's == would also take `true` for `1`)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def field_matches(request: dict[str, Any], name: str, value: Any) -> bool:
    """A `match` entry: the request's top-level field `name` equals `value`, or is a list holding
    it."""
    if name not in request:
        return False
    got = request[name]
    return same_json(got, value) or (isinstance(got, list) and any(same_json(g, value) for g in got))


class Stats:
    """Every PutLogEvents request, every violation and every API call (thread-safe).

    Puts and violations are kept in the order they were answered (for the calls that reach moto,
    the order moto applied them in). Calls are kept in arrival order: each takes a sequence number
    when it arrives and is recorded once answered, so a snapshot lists the answered calls in the
    order they arrived (a call still in flight is not listed yet).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[dict[str, Any]] = []
        self._puts: list[dict[str, Any]] = []
        self._calls: list[tuple[int, str, dict[str, Any]]] = []  # (arrival, X-Amz-Target, record)
        self._arrivals = itertools.count()

    def arrival(self) -> int:
        with self._lock:
            return next(self._arrivals)

    def record_put(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._puts.append(record)

    def record_violation(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._violations.append(record)

    def record_call(self, arrival: int, target: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append((arrival, target, record))

    def snapshot(self, log_group: str | None = None, target: str | None = None) -> dict[str, Any]:
        with self._lock:
            # Sink puts are counted now, not while their calls were answered (see Latency).
            for put in self._puts:
                body = put.pop("_body", None)
                if body is not None:
                    events = parse_json_object(body).get("logEvents")
                    events = events if isinstance(events, list) else []
                    put["events"], put["bytes"] = len(events), batch_size(events)
            violations, puts, calls = list(self._violations), list(self._puts), list(self._calls)
        calls.sort(key=lambda call: call[0])
        if target is not None:
            calls = [c for c in calls if target_matches(target, c[1])]
            if not target_matches(target, PUT_LOG_EVENTS):
                violations, puts = [], []
        if log_group is not None:
            violations = [v for v in violations if v["logGroupName"] == log_group]
            puts = [p for p in puts if p["logGroupName"] == log_group]
            calls = [c for c in calls if names_group(c[2]["request"], log_group)]
        return {"violations": violations, "putLogEvents": puts, "calls": [c[2] for c in calls]}

    def clear(self) -> None:
        with self._lock:
            self._violations.clear()
            self._puts.clear()
            self._calls.clear()


@dataclass
class Fault:
    """One scripted answer, used for the next `remaining` matching requests."""

    target: str  # full X-Amz-Target, e.g. Logs_20140328.PutLogEvents
    status: int
    error_type: str | None  # None for the 200 kinds
    message: str | None
    remaining: int
    log_group: str | None = None
    log_stream: str | None = None
    # With `rejected` (a rejectedLogEventsInfo object) the request goes on to moto and succeeds,
    # and the answer carries this rejectedLogEventsInfo: the service's way of saying some events
    # were refused (e.g. `expiredLogEventEndIndex`, which moto never reports).
    rejected: dict[str, Any] | None = None
    # With `body`, the answer is this JSON document with status 200, and the request never
    # reaches moto (e.g. GetQueryResults `{"status": "Running", ...}`, which moto never says).
    body: dict[str, Any] | None = None
    # Top-level request fields that must match (see `field_matches`), e.g. {"queryId": "q-1"}.
    match: dict[str, Any] = field(default_factory=dict)

    def matches(self, target: str, request: dict[str, Any]) -> bool:
        return (
            self.remaining > 0
            and self.target == target
            and (self.log_group is None or names_group(request, self.log_group))
            and (self.log_stream is None or request.get("logStreamName") == self.log_stream)
            and all(field_matches(request, k, v) for k, v in self.match.items())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "status": self.status,
            "errorType": self.error_type,
            "message": self.message,
            "count": self.remaining,
            "logGroupName": self.log_group,
            "logStreamName": self.log_stream,
            "rejectedLogEventsInfo": self.rejected,
            "body": self.body,
            "match": self.match,
        }

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> "Fault":
        target = spec.get("target")
        if not isinstance(target, str) or not target:
            raise ValueError("target must be an operation name such as PutLogEvents")
        target = full_target(target)
        rejected = spec.get("rejectedLogEventsInfo")
        if rejected is not None and not isinstance(rejected, dict):
            raise ValueError("rejectedLogEventsInfo must be an object")
        if rejected is not None and target != PUT_LOG_EVENTS:
            raise ValueError("rejectedLogEventsInfo is a PutLogEvents answer")
        body = spec.get("body")
        if body is not None and not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        if body is not None and rejected is not None:
            raise ValueError("a fault has either a body or a rejectedLogEventsInfo, not both")
        success = rejected is not None or body is not None
        status = spec.get("status", 200 if success else 400)
        if success and status != 200:
            raise ValueError("a body or rejectedLogEventsInfo fault answers 200")
        is_error_status = isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599
        if not success and not is_error_status:
            raise ValueError(
                "status must be an HTTP error status (400-599), or 200 with a body or a "
                "rejectedLogEventsInfo"
            )
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        match = spec.get("match")
        match = {} if match is None else match
        if not isinstance(match, dict):
            raise ValueError("match must be an object of request fields and values")
        log_group = spec.get("logGroupName")
        if log_group is not None and not isinstance(log_group, str):
            raise ValueError("logGroupName must be a string")
        log_stream = spec.get("logStreamName")
        if log_stream is not None and not isinstance(log_stream, str):
            raise ValueError("logStreamName must be a string")
        error_type = message = None
        if not success:
            default_type = "ThrottlingException" if status < 500 else "ServiceUnavailableException"
            error_type = str(spec.get("errorType") or default_type)
            message = str(
                spec.get("message")
                or {
                    "ThrottlingException": "Rate exceeded",
                    "ServiceUnavailableException": "The service is unavailable. Please try again later.",
                }.get(error_type, f"Injected {error_type}")
            )
        return cls(target, status, error_type, message, count, log_group, log_stream, rejected, body, match)


class FaultScript:
    """Pending faults, consumed first-posted first (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, target: str, request: dict[str, Any]) -> Fault | None:
        """The fault to answer this request with, if one is scripted; uses up one of its count."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(target, request):
                    fault.remaining -= 1
                    taken = Fault(**{**fault.__dict__, "remaining": 1})
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return taken
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


# --- Logs Insights and query definitions ----------------------------------------------------------

QUERY_LANGUAGES = ("CWLI", "SQL", "PPL")
DEFAULT_QUERY_LANGUAGE = "CWLI"
GROUP_PARAMETERS = ("logGroupName", "logGroupNames", "logGroupIdentifiers")
MAX_QUERY_GROUPS = 50
# StartQuery's `limit`: "The maximum limit is 100,000 ... only supported for Logs Insights QL
# and is currently not supported for PPL and SQL"; without one the service returns 10,000 rows.
MAX_QUERY_LIMIT = {"CWLI": 100_000, "SQL": 10_000, "PPL": 10_000}
DEFAULT_QUERY_LIMIT = 10_000
# GetQueryResults' `maxItems`, and the page size without one.
MAX_RESULTS_PAGE = 10_000
# How long a nextToken is honoured: GetQueryResults' (1 hour) and DescribeQueryDefinitions' (24 h).
RESULTS_TOKEN_TTL_S = 60 * 60
DEFINITIONS_TOKEN_TTL_S = 24 * 60 * 60
# Tokens remembered at most (the oldest are forgotten first, then answered as unknown).
MAX_TOKENS = 10_000
# Queries whose rows the front keeps at once (the least recently read are dropped first, and
# fetched from moto again if read again).
MAX_CACHED_RESULTS = 16
MAX_DEFINITIONS_PAGE = 1_000
MAX_DEFINITION_PARAMETERS = 20
# What moto runs for a SQL or PPL query, whose language the front does not interpret.
EVERY_EVENT_QUERY = "fields @timestamp, @message, @logStream, @log | sort @timestamp asc"

Clock = Callable[[], float]


class ApiError(Exception):
    """A request the front answers with an AWS error itself (validation, unknown resource)."""

    def __init__(self, error_type: str, message: str, status: int = 400):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


def is_int(value: Any) -> bool:
    """A JSON integer (JSON's `true` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_param(request: dict[str, Any], name: str, low: int, high: int, default: int | None) -> int | None:
    """An optional integer parameter within [low, high]; `default` if absent."""
    value = request.get(name)
    if value is None:
        return default
    if not is_int(value) or not low <= value <= high:
        raise invalid(f"{name} {json.dumps(value)} is out of range: an integer from {low} to {high}")
    return value


def text_param(request: dict[str, Any], name: str, high: int, required: bool) -> str | None:
    """A string parameter of 1 to `high` characters; None if absent and not `required`."""
    value = request.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= high:
        raise invalid(f"{name} must be a string of 1 to {high} characters (got {json.dumps(value)})")
    return value


def language_param(request: dict[str, Any], default: str | None) -> str | None:
    """`queryLanguage`: CWLI, SQL or PPL; `default` if absent."""
    value = request.get("queryLanguage")
    if value is None:
        return default
    if value not in QUERY_LANGUAGES:
        raise invalid(f"queryLanguage {json.dumps(value)} is not one of {', '.join(QUERY_LANGUAGES)}")
    return value


def seconds_param(value: Any) -> int | None:
    """startTime / endTime as moto reads them (an integer, or None where moto would not filter)."""
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def check_identifiers(identifiers: list[str]) -> None:
    """logGroupIdentifiers: ARNs without a trailing `*` (the API reference says "Don't include an
    * at the end"), and (our decision, the reference is silent) not names and ARNs mixed."""
    arns = [i for i in identifiers if i.startswith("arn:")]
    for arn in arns:
        if arn.endswith("*"):
            raise invalid(f"logGroupIdentifiers: {arn!r} ends in *; give the log group ARN without it")
    if arns and len(arns) != len(identifiers):
        raise invalid("logGroupIdentifiers must be all log group names or all ARNs")


def parameter_groups(request: dict[str, Any]) -> list[str]:
    """The log group names a CWLI or PPL StartQuery names: exactly one of its three parameters."""
    given = [name for name in GROUP_PARAMETERS if request.get(name) is not None]
    if len(given) != 1:
        raise invalid("Specify exactly one of logGroupName, logGroupNames or logGroupIdentifiers")
    name = given[0]
    value = request[name]
    if name == "logGroupName":
        if not isinstance(value, str) or not value:
            raise invalid("logGroupName must be a log group name")
        return [value]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_QUERY_GROUPS:
        count = len(value) if isinstance(value, list) else "not a list"
        raise invalid(f"{name} must list 1 to {MAX_QUERY_GROUPS} log groups (got {count})")
    if not all(isinstance(entry, str) and entry for entry in value):
        raise invalid(f"{name} must list log groups as non-empty strings")
    if name == "logGroupIdentifiers":
        check_identifiers(value)
    return [group_of_identifier(entry) for entry in value]


def sql_groups(request: dict[str, Any]) -> list[str]:
    """The log group names of a SQL StartQuery, from its FROM clause, never from parameters."""
    if any(request.get(name) is not None for name in GROUP_PARAMETERS):
        raise invalid(
            "SQL queries name their log groups in the query string (FROM "
            "`logGroups(logGroupIdentifier: [...])`), not in logGroupName/logGroupNames/"
            "logGroupIdentifiers"
        )
    query = request.get("queryString")
    groups = sql_log_groups(query) if isinstance(query, str) else []
    if not groups:
        raise ApiError(
            "MalformedQueryException",
            "The SQL query names no log group: FROM `logGroups(logGroupIdentifier: ['name-or-arn', ...])` "
            "or FROM `log-group-name`",
        )
    return groups


@dataclass
class QueryPlan:
    """A StartQuery, validated: what the front runs in moto and remembers about it."""

    language: str
    limit: int  # rows returned at most (StartQuery's `limit`, or the default 10,000)
    groups: list[str]  # log group names
    start_time: int | None  # epoch seconds
    end_time: int | None

    @classmethod
    def of(cls, request: dict[str, Any]) -> "QueryPlan":
        """Validate a StartQuery as the service would (raises ApiError)."""
        language = language_param(request, DEFAULT_QUERY_LANGUAGE)
        assert language is not None
        groups = sql_groups(request) if language == "SQL" else parameter_groups(request)
        limit = int_param(request, "limit", 1, MAX_QUERY_LIMIT[language], DEFAULT_QUERY_LIMIT)
        assert limit is not None
        start, end = seconds_param(request.get("startTime")), seconds_param(request.get("endTime"))
        return cls(language, limit, groups, start, end)

    def moto_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """What moto is asked: the groups as `logGroupNames` (moto reads no logGroupIdentifiers),
        and for SQL and PPL, which moto cannot run, every event of the groups, oldest first."""
        asked = {k: v for k, v in request.items() if k not in GROUP_PARAMETERS}
        asked["logGroupNames"] = self.groups
        if self.language != "CWLI":
            asked["queryString"] = EVERY_EVENT_QUERY
        return asked


def in_range(timestamp: int, start: int | None, end: int | None) -> bool:
    """moto's query time filter: epoch-ms `timestamp` within [start, end] seconds, inclusive
    (a missing or zero bound does not filter, as in moto)."""
    return (not start or timestamp >= start * 1000) and (not end or timestamp <= end * 1000)


CREDENTIAL_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")


LOG_GROUP_ARN = re.compile(r"^arn:[^:]+:logs:([^:]+):([0-9]{12}):log-group:([^:]+?)(:\*)?$")


def check_tagged_log_group_exists(request: dict[str, Any]) -> None:
    """ListTagsForResource of a log group that does not exist (in its ARN's account and region)
    is ResourceNotFoundException, as the API reference says; moto answers it with no tags, so
    a reader could not tell a missing or foreign group from an untagged one."""
    match = LOG_GROUP_ARN.match(str(request.get("resourceArn", "")))
    if match is None:
        return
    region, account, name = match.group(1), match.group(2), match.group(3)
    backends = dict.get(logs_backends, account)
    backend = dict.get(backends, region) if backends is not None else None
    if backend is None or name not in backend.groups:
        raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")


def credential_region(environ: dict[str, Any]) -> str | None:
    """The region of a SigV4 request's credential scope (`Credential=AKID/DATE/REGION/logs/...`)."""
    match = CREDENTIAL_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else None


def moto_backend_of_query(query_id: str, region: str | None) -> LogsBackend | None:
    """moto's Logs backend that ran `query_id`: the default account's in the request's region,
    else whichever existing backend knows it (no backend is created by looking)."""
    account = dict.get(logs_backends, DEFAULT_ACCOUNT_ID)
    backend = dict.get(account, region) if account is not None and region else None
    if backend is not None and query_id in backend.queries:
        return backend
    for _, _, candidate in logs_backends.iter_backends():
        if query_id in getattr(candidate, "queries", {}):
            return candidate  # type: ignore[no-any-return]
    return None


def query_statistics(backend: LogsBackend | None, query_id: str) -> dict[str, float]:
    """GetQueryResults' statistics of a query moto ran, counted over moto's stored events as the
    service counts them: every event of the query's groups in its time range, before any `limit`
    (recordsMatched = recordsScanned: moto runs no filter; bytesScanned: UTF-8 message bytes)."""
    matched = scanned_bytes = 0
    query = backend.queries.get(query_id) if backend is not None else None
    if query is not None:
        assert backend is not None
        for name in dict.fromkeys(query.log_group_names):
            group = backend.groups.get(name)
            for stream in group.streams.values() if group is not None else ():
                for event in stream.events:
                    if in_range(event.timestamp, query.start_time, query.end_time):
                        matched += 1
                        scanned_bytes += len(event.message.encode("utf-8"))
    return {
        "recordsMatched": float(matched),
        "recordsScanned": float(matched),
        "bytesScanned": float(scanned_bytes),
    }


class TokenBook:
    """The opaque paging tokens the front issued, each bound to what it pages (a query id, a
    filter), with the position it continues at and its issue time (thread-safe). A token is
    urlsafe base64 of its binding, position and a random nonce: opaque to clients, and never
    trusted for what it says (only tokens found here are honoured)."""

    def __init__(self, ttl_s: float, clock: Clock):
        self._lock = threading.Lock()
        self._ttl_s = ttl_s
        self._clock = clock
        self._tokens: OrderedDict[str, tuple[Any, Any, float]] = OrderedDict()

    def issue(self, binding: Any, position: Any) -> str:
        raw = json.dumps([binding, position, secrets.token_hex(8)]).encode("utf-8")
        token = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        with self._lock:
            self._tokens[token] = (binding, position, self._clock())
            while len(self._tokens) > MAX_TOKENS:
                self._tokens.popitem(last=False)
        return token

    def redeem(self, token: Any, binding: Any) -> Any:
        """The position `token` continues at; InvalidParameterException if this front did not
        issue it, issued it for another binding, or issued it longer than its validity ago."""
        with self._lock:
            entry = self._tokens.get(token) if isinstance(token, str) else None
        if entry is None or entry[0] != binding:
            raise invalid(f"The next token {json.dumps(token)} is not valid for this request")
        if self._clock() - entry[2] > self._ttl_s:
            raise invalid("The next token has expired")
        return entry[1]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


@dataclass
class InsightsQuery:
    """What the front remembers of a query moto ran (moto keeps only its rows)."""

    plan: QueryPlan
    statistics: dict[str, float]


class Insights:
    """The Logs Insights queries moto ran, their rows once read and their page tokens
    (thread-safe). Forgotten with moto's state (`POST /moto-api/reset`)."""

    def __init__(self, clock: Clock):
        self._lock = threading.Lock()
        self._queries: dict[str, InsightsQuery] = {}
        self._rows: OrderedDict[str, list[Any]] = OrderedDict()
        self.tokens = TokenBook(RESULTS_TOKEN_TTL_S, clock)

    def remember(self, query_id: str, query: InsightsQuery) -> None:
        with self._lock:
            self._queries[query_id] = query

    def query(self, query_id: Any) -> InsightsQuery | None:
        with self._lock:
            return self._queries.get(query_id) if isinstance(query_id, str) else None

    def rows(self, query_id: str) -> list[Any] | None:
        """A query's rows if still cached (they are then the most recently read)."""
        with self._lock:
            rows = self._rows.get(query_id)
            if rows is not None:
                self._rows.move_to_end(query_id)
            return rows

    def keep_rows(self, query_id: str, rows: list[Any]) -> None:
        with self._lock:
            self._rows[query_id] = rows
            self._rows.move_to_end(query_id)
            while len(self._rows) > MAX_CACHED_RESULTS:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._queries.clear()
            self._rows.clear()
        self.tokens.clear()


@dataclass
class QueryDefinition:
    """A saved query (PutQueryDefinition), as DescribeQueryDefinitions lists it."""

    query_definition_id: str
    name: str
    query_string: str
    language: str
    log_group_names: list[str]
    parameters: list[dict[str, Any]]
    last_modified: int  # epoch ms

    def sort_key(self) -> tuple[str, str]:
        return (self.name, self.query_definition_id)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "queryDefinitionId": self.query_definition_id,
            "name": self.name,
            "queryString": self.query_string,
            "lastModified": self.last_modified,
        }
        if self.log_group_names:
            document["logGroupNames"] = self.log_group_names
        document["queryLanguage"] = self.language
        if self.parameters:
            document["parameters"] = self.parameters
        return document


def named_object(value: Any) -> bool:
    """A query definition parameter: an object with a non-empty `name`."""
    return isinstance(value, dict) and isinstance(value.get("name"), str) and bool(value["name"])


def definition_not_found(definition_id: Any) -> ApiError:
    return ApiError("ResourceNotFoundException", f"Query definition {definition_id!r} does not exist")


class QueryDefinitions:
    """Saved queries, which moto lacks: PutQueryDefinition, DescribeQueryDefinitions and
    DeleteQueryDefinition are answered here (thread-safe). Global to the server: neither
    `DELETE /_logship/stats` nor moto's reset clears them."""

    def __init__(self, clock: Clock):
        self._lock = threading.Lock()
        self._clock = clock
        self._definitions: dict[str, QueryDefinition] = {}
        self.tokens = TokenBook(DEFINITIONS_TOKEN_TTL_S, clock)

    def call(self, target: str, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to one of the three operations (raises ApiError)."""
        if target == PUT_QUERY_DEFINITION:
            return self.put(request)
        if target == DESCRIBE_QUERY_DEFINITIONS:
            return self.describe(request)
        return self.delete(request)

    def put(self, request: dict[str, Any]) -> dict[str, Any]:
        """Create, or with `queryDefinitionId` replace (every field, as the service does: what the
        update leaves out is gone), a definition."""
        name = text_param(request, "name", 255, required=True)
        query_string = text_param(request, "queryString", 10_000, required=True)
        language = language_param(request, DEFAULT_QUERY_LANGUAGE)
        definition_id = text_param(request, "queryDefinitionId", 256, required=False)
        groups = request.get("logGroupNames")
        groups = [] if groups is None else groups
        if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
            raise invalid("logGroupNames must be a list of log group names")
        parameters = request.get("parameters")
        parameters = [] if parameters is None else parameters
        if (
            not isinstance(parameters, list)
            or len(parameters) > MAX_DEFINITION_PARAMETERS
            or not all(named_object(p) for p in parameters)
        ):
            limit = MAX_DEFINITION_PARAMETERS
            raise invalid(f"parameters must be a list of at most {limit} objects, each with a name")
        assert name is not None and query_string is not None and language is not None
        with self._lock:
            if definition_id is not None and definition_id not in self._definitions:
                raise definition_not_found(definition_id)
            definition_id = definition_id or str(uuid.uuid4())
            modified = int(self._clock() * 1000)
            self._definitions[definition_id] = QueryDefinition(
                definition_id, name, query_string, language, groups, parameters, modified
            )
        return {"queryDefinitionId": definition_id}

    def describe(self, request: dict[str, Any]) -> dict[str, Any]:
        """Definitions ordered by name then id, filtered by name prefix (case-sensitive) and, if
        given, language (our decision: without queryLanguage every language is listed), paged."""
        prefix = text_param(request, "queryDefinitionNamePrefix", 255, required=False) or ""
        language = language_param(request, None)
        page = int_param(request, "maxResults", 1, MAX_DEFINITIONS_PAGE, MAX_DEFINITIONS_PAGE)
        assert page is not None
        binding = [prefix, language]
        after = None
        if request.get("nextToken") is not None:
            after = tuple(self.tokens.redeem(request["nextToken"], binding))
        with self._lock:
            chosen = sorted(
                (
                    d
                    for d in self._definitions.values()
                    if d.name.startswith(prefix) and language in (None, d.language)
                ),
                key=QueryDefinition.sort_key,
            )
            if after is not None:
                chosen = [d for d in chosen if d.sort_key() > after]
            listed = [d.to_json() for d in chosen[:page]]
        answer: dict[str, Any] = {"queryDefinitions": listed}
        if len(chosen) > page:
            answer["nextToken"] = self.tokens.issue(binding, list(chosen[page - 1].sort_key()))
        return answer

    def delete(self, request: dict[str, Any]) -> dict[str, Any]:
        definition_id = text_param(request, "queryDefinitionId", 256, required=True)
        with self._lock:
            if self._definitions.pop(definition_id or "", None) is None:
                raise definition_not_found(definition_id)
        return {"success": True}


# --- The middleware ----------------------------------------------------------------------------

StartResponse = Callable[..., Any]


def json_response(
    start_response: StartResponse,
    status: int,
    document: Any,
    content_type: str = "application/json",
    extra_headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    body = json.dumps(document).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(
        status, "Service Unavailable" if status == 503 else "Error"
    )
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra_headers]
    start_response(f"{status} {reason}", headers)
    return [body]


def aws_error(start_response: StartResponse, status: int, error_type: str, message: str) -> list[bytes]:
    """An error the way an awsJson1_1 service sends it (both SDK styles find the type)."""
    return json_response(
        start_response,
        status,
        {"__type": error_type, "message": message},
        content_type=AMZ_JSON,
        extra_headers=[("x-amzn-ErrorType", error_type), ("x-amzn-RequestId", str(uuid.uuid4()))],
    )


def aws_answer(start_response: StartResponse, document: dict[str, Any]) -> list[bytes]:
    """A successful awsJson1_1 answer."""
    request_id = [("x-amzn-RequestId", str(uuid.uuid4()))]
    return json_response(start_response, 200, document, content_type=AMZ_JSON, extra_headers=request_id)


def status_code(status_line: str) -> int:
    return int(status_line.split(" ", 1)[0])


def moto_error_type(code: int, headers: list[tuple[str, str]], chunks: list[bytes]) -> str | None:
    """The error type of a moto answer (`__type`, else the x-amzn-ErrorType header), None for a
    success or an answer that names none (moto's own 500s are HTML)."""
    if code < 400:
        return None
    error_type = parse_json_object(b"".join(chunks)).get("__type")
    if isinstance(error_type, str) and error_type:
        return error_type
    for name, value in headers:
        if name.lower() == "x-amzn-errortype" and value:
            return value.split(":", 1)[0]
    return None


@dataclass
class Latency:
    """A modelled round trip: each matching call is answered after `base_ms` + `per_mb_ms` per MB
    (10^6 bytes) of its request body + a uniform `jitter_ms`. Against the emulator a call takes
    about a millisecond; in AWS tens. Benches and tests that measure waiting set one, scoped to
    their groups; ordinary tests have none."""

    base_ms: float
    per_mb_ms: float = 0.0
    jitter_ms: float = 0.0
    target: str | None = None  # an operation name or full X-Amz-Target; None: every operation
    log_group: str | None = None  # only calls about this group (as for faults)
    sink: bool = False  # PutLogEvents answered without moto or checks (benches; see the doc)

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> "Latency":
        def number(name: str, default: float) -> float:
            value = spec.get(name, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number of milliseconds >= 0, got {value!r}")
            return float(value)

        if "baseMs" not in spec:
            raise ValueError("baseMs is required")
        target = spec.get("target")
        group = spec.get("logGroupName")
        if target is not None and not isinstance(target, str):
            raise ValueError("target must be an operation name")
        if group is not None and not isinstance(group, str):
            raise ValueError("logGroupName must be a string")
        unknown = set(spec) - {"baseMs", "perMbMs", "jitterMs", "target", "logGroupName", "sink"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        sink = spec.get("sink", False)
        if not isinstance(sink, bool):
            raise ValueError("sink must be true or false")
        if sink and (target is None or not target_matches(target, PUT_LOG_EVENTS) or group is None):
            raise ValueError("sink is for a PutLogEvents rule with a logGroupName")
        return cls(number("baseMs", 0), number("perMbMs", 0), number("jitterMs", 0), target, group, sink)

    def to_json(self) -> dict[str, Any]:
        return {"baseMs": self.base_ms, "perMbMs": self.per_mb_ms, "jitterMs": self.jitter_ms,
                "target": self.target, "logGroupName": self.log_group, "sink": self.sink}

    def applies(self, target: str, request: dict[str, Any]) -> bool:
        return (self.target is None or target_matches(self.target, target)) and (
            self.log_group is None or names_group(request, self.log_group)
        )

    def seconds(self, body_bytes: int) -> float:
        jitter = random.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0
        return (self.base_ms + self.per_mb_ms * body_bytes / 1e6 + jitter) / 1000


class LatencyModel:
    """The latencies in force (thread-safe); the first that applies to a call is waited."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Latency] = []

    def add(self, rule: Latency) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in self._rules]

    def sink(self, target: str, names: dict[str, Any]) -> Latency | None:
        """The sink rule for a PutLogEvents whose group and stream are `names`, if one is set."""
        with self._lock:
            rule = next((r for r in self._rules if r.applies(target, names)), None)
        return rule if rule is not None and rule.sink else None

    def wait(self, target: str, request: dict[str, Any], body_bytes: int) -> None:
        """Sleep the call's modelled round trip, outside every lock: calls overlap as in AWS."""
        with self._lock:
            rule = next((r for r in self._rules if r.applies(target, request)), None)
        if rule is not None:
            time.sleep(rule.seconds(body_bytes))


class StrictLogs:
    """WSGI middleware in front of moto: fault injection, PutLogEvents rules, statistics.

    Each concern is one step of `api_call`, so new behaviour (more rules, more fault kinds,
    latency) slots in without touching moto's app.
    """

    def __init__(self, app: Callable[..., Any], clock: Clock = time.time):
        self.app = app
        self.stats = Stats()
        self.faults = FaultScript()
        self.latency = LatencyModel()
        # `clock` (epoch seconds) dates page tokens and query definitions; tests may fake it.
        self.insights = Insights(clock)
        self.definitions = QueryDefinitions(clock)
        # moto's Logs backend is not thread-safe (its own TODO says so); one call into moto at a
        # time also makes the recorded order the order moto applied the calls in. Scripted
        # faults never reach moto and are answered at once, without waiting for the lock.
        self.serial = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_logship/"):
            return self.control(environ, start_response, path)

        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target:
            if path == "/moto-api/reset":
                # moto forgets its queries: so does the front (query definitions are the front's
                # own, and stay).
                self.insights.clear()
            if environ.get("REQUEST_METHOD") == "POST" and environ.get("CONTENT_TYPE", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                return self.query_protocol_call(environ, start_response)
            return self.app(environ, start_response)
        body = self.buffer_body(environ)
        return self.api_call(environ, start_response, target, body)

    def api_call(
        self, environ: dict[str, Any], start_response: StartResponse, target: str, body: bytes
    ) -> Iterable[bytes]:
        """An AWS JSON API call: scripted fault, else emulation or strictness checks, else moto.
        Every call is recorded (`calls`), every PutLogEvents also in `putLogEvents`."""
        arrival = self.stats.arrival()
        arrived_ms = time.monotonic() * 1000
        if target == PUT_LOG_EVENTS:
            names = put_names(body)
            sink = self.latency.sink(target, names) if names else None
            if sink is not None:
                time.sleep(sink.seconds(len(body)))
                put = {**names, "events": None, "bytes": None, "status": 200, "errorType": None,
                       "rejectedLogEventsInfo": None, "_body": body}
                self.stats.record_put(put)
                self.stats.record_call(arrival, target, {
                    "target": operation(target), "request": names, "status": 200, "errorType": None,
                    "faulted": False, "sink": True, "arrivedMs": round(arrived_ms, 3),
                    "answeredMs": round(time.monotonic() * 1000, 3)})
                return aws_answer(start_response, {})
        request = parse_json_object(body)
        log_group = request.get("logGroupName") if isinstance(request.get("logGroupName"), str) else None
        is_put = target == PUT_LOG_EVENTS
        events = request.get("logEvents") if isinstance(request.get("logEvents"), list) else []

        def record(
            status: int, error_type: str | None, faulted: bool, rejected: Any = None, query_id: Any = None
        ) -> None:
            summary = request
            if is_put and "logEvents" in request:
                summary = {**request, "logEvents": len(events)}
            call = {
                "target": operation(target),
                "request": summary,
                "status": status,
                "errorType": error_type,
                "faulted": faulted,
                "arrivedMs": round(arrived_ms, 3),
                "answeredMs": round(time.monotonic() * 1000, 3),
            }
            if target == START_QUERY and status == 200:
                call["queryId"] = query_id
            self.stats.record_call(arrival, target, call)
            if is_put:
                self.stats.record_put(
                    {
                        "logGroupName": log_group,
                        "logStreamName": request.get("logStreamName"),
                        "events": len(events),
                        "bytes": batch_size(events),
                        "status": status,
                        "errorType": error_type,
                        "rejectedLogEventsInfo": rejected,
                    }
                )

        self.latency.wait(target, request, len(body))
        fault = self.faults.take(target, request)
        if fault is not None and fault.body is not None:
            record(200, None, True, fault.body.get("rejectedLogEventsInfo"), fault.body.get("queryId"))
            return aws_answer(start_response, fault.body)
        if fault is not None and fault.rejected is None:
            assert fault.error_type is not None and fault.message is not None
            record(fault.status, fault.error_type, True)
            return aws_error(start_response, fault.status, fault.error_type, fault.message)

        if target == STOP_QUERY:
            # moto does not implement StopQuery (it answers 500).
            record(200, None, False)
            return aws_answer(start_response, {"success": True})

        try:
            if target in (PUT_QUERY_DEFINITION, DESCRIBE_QUERY_DEFINITIONS, DELETE_QUERY_DEFINITION):
                answer = self.definitions.call(target, request)  # moto has none of them
            elif target == GET_QUERY_RESULTS:
                answer = self.query_results(environ, request)
            elif target == LIST_TAGS_FOR_RESOURCE:
                check_tagged_log_group_exists(request)
                answer = None
            elif target == START_QUERY:
                status_line, headers, chunks = self.start_query(environ, request)
                code = status_code(status_line)
                started = parse_json_object(b"".join(chunks)).get("queryId")
                record(code, moto_error_type(code, headers, chunks), False, query_id=started)
                start_response(status_line, headers)
                return chunks
            else:
                answer = None
        except ApiError as err:
            record(err.status, err.error_type, False)
            return aws_error(start_response, err.status, err.error_type, err.message)
        if answer is not None:
            record(200, None, False)
            return aws_answer(start_response, answer)

        if not is_put:
            with self.serial:
                status_line, headers, chunks = self.call_moto(environ)
            code = status_code(status_line)
            record(code, moto_error_type(code, headers, chunks), False)
            start_response(status_line, headers)
            return chunks

        try:
            check_put_log_events(request)
        except Violation as violation:
            self.stats.record_violation(
                {
                    "logGroupName": log_group,
                    "logStreamName": request.get("logStreamName"),
                    "rule": violation.rule,
                    "message": violation.message,
                }
            )
            record(400, "InvalidParameterException", False)
            return aws_error(start_response, 400, "InvalidParameterException", violation.message)

        rewrite = None
        if fault is not None:
            rejected = fault.rejected
            rewrite = lambda answer: {**answer, "rejectedLogEventsInfo": rejected}  # noqa: E731
        with self.serial:
            status_line, headers, chunks = self.call_moto(environ, rewrite)
            code = status_code(status_line)
            answer = parse_json_object(b"".join(chunks))
            error_type = moto_error_type(code, headers, chunks)
            record(code, error_type, fault is not None, answer.get("rejectedLogEventsInfo"))
        start_response(status_line, headers)
        return chunks

    def query_protocol_call(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """A query-protocol call (STS, IAM: `Action=...` in a form body), passed to moto as it is
        and recorded in `calls` like the JSON ones: the operation is the `Action`, the request
        the form's fields (a `Password` or secret never appears in the STS and IAM calls the
        tests make), the error type the XML answer's `Code`."""
        arrival = self.stats.arrival()
        form = {k: v[0] for k, v in parse_qs(self.buffer_body(environ).decode("utf-8", "replace")).items()}
        action = form.pop("Action", "")
        form.pop("Version", None)
        with self.serial:
            status_line, headers, chunks = self.call_moto(environ)
        code = status_code(status_line)
        error_type = None
        if code >= 400:
            found = re.search(rb"<Code>([^<]+)</Code>", b"".join(chunks))
            error_type = found.group(1).decode() if found else None
        self.stats.record_call(
            arrival,
            action,
            {"target": action, "request": form, "status": code, "errorType": error_type, "faulted": False},
        )
        start_response(status_line, headers)
        return chunks

    # -- Logs Insights --

    def start_query(
        self, environ: dict[str, Any], request: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """Validate a StartQuery (raises ApiError), have moto run it (see `QueryPlan.moto_request`)
        and remember the query moto started, with its statistics counted under the same lock,
        over the events moto ran it on. moto's answer is returned as it is."""
        plan = QueryPlan.of(request)
        asked = plan.moto_request(request)
        if asked != request:
            # The body moto reads is no longer the one the client signed: with signatures
            # checked (INITIAL_NO_AUTH_ACTION_COUNT), only a Logs Insights QL query naming its
            # groups in `logGroupNames` reaches moto unchanged and passes the check.
            self.replace_body(environ, asked)
        with self.serial:
            status_line, headers, chunks = self.call_moto(environ)
            query_id = parse_json_object(b"".join(chunks)).get("queryId")
            if status_code(status_line) == 200 and isinstance(query_id, str):
                backend = moto_backend_of_query(query_id, credential_region(environ))
                statistics = query_statistics(backend, query_id)
                self.insights.remember(query_id, InsightsQuery(plan, statistics))
        return status_line, headers, chunks

    def query_results(self, environ: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """GetQueryResults of a query moto ran, paged as the service pages them (raises ApiError):
        Logs Insights QL by `maxItems` (default and maximum 10,000) with a `nextToken` while more
        rows follow; SQL and PPL in one answer."""
        max_items = int_param(request, "maxItems", 1, MAX_RESULTS_PAGE, None)
        query_id = request.get("queryId")
        query = self.insights.query(query_id)
        if query is None:
            raise ApiError("ResourceNotFoundException", f"Query {query_id!r} does not exist")
        offset = 0
        if request.get("nextToken") is not None:
            offset = self.insights.tokens.redeem(request["nextToken"], query_id)
        rows = self.insights.rows(query_id)
        if rows is None:
            rows = self.moto_rows(environ, query_id, query.plan)
            self.insights.keep_rows(query_id, rows)
        answer: dict[str, Any] = {
            "status": "Complete",
            "queryLanguage": query.plan.language,
            "statistics": dict(query.statistics),
        }
        if query.plan.language != "CWLI":
            answer["results"] = rows
            return answer
        end = offset + (max_items or MAX_RESULTS_PAGE)
        answer["results"] = rows[offset:end]
        if end < len(rows):
            answer["nextToken"] = self.insights.tokens.issue(query_id, end)
        return answer

    def moto_rows(self, environ: dict[str, Any], query_id: str, plan: QueryPlan) -> list[Any]:
        """A query's rows, asked of moto once (its GetQueryResults has every row, `@ptr` first),
        cut to the query's limit. moto forgot the query (reset): ResourceNotFoundException.
        moto reads the client's own request (it ignores `maxItems` and `nextToken`), so a
        signature check (INITIAL_NO_AUTH_ACTION_COUNT) still applies to it; the pages after the
        first are the front's and are not checked."""
        with self.serial:
            # moto raises KeyError for a queryId it does not know: expected, not logged.
            status_line, _, chunks = self.call_moto(environ, log_crash=False)
        rows = parse_json_object(b"".join(chunks)).get("results")
        if status_code(status_line) != 200 or not isinstance(rows, list):
            raise ApiError("ResourceNotFoundException", f"Query {query_id!r} does not exist")
        return rows[: min(plan.limit, MAX_QUERY_LIMIT[plan.language])]

    # -- helpers --

    @staticmethod
    def buffer_body(environ: dict[str, Any]) -> bytes:
        """Read the whole request body and put it back so moto can read it again."""
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body

    @staticmethod
    def replace_body(environ: dict[str, Any], request: dict[str, Any]) -> None:
        """Make moto read `request` instead of the body the client sent."""
        body = json.dumps(request).encode("utf-8")
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))

    def call_moto(
        self,
        environ: dict[str, Any],
        rewrite: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        log_crash: bool = True,
    ) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """Call moto: its status line, headers and (small, buffered) body. A 200 answer's JSON may
        be rewritten (Content-Length follows). A crash of moto's is a 500, its traceback logged
        to stderr if `log_crash`. The caller starts the response."""
        seen: dict[str, Any] = {}

        def spy(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return lambda _data: None  # WSGI's write(); moto returns its body instead

        try:
            result = self.app(environ, spy)
            try:
                chunks = list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:  # moto's app runs in debug mode: its crashes propagate to here
            # As werkzeug's server would: the traceback to stderr, an HTML 500 to the client.
            if log_crash:
                traceback.print_exc(file=sys.stderr)
            crash = InternalServerError()
            seen = {"status": crash.get_response().status, "headers": crash.get_headers(environ)}
            chunks = [crash.get_body(environ).encode("utf-8")]
        status_line = seen.get("status", "500 Error")
        headers = seen.get("headers", [])
        if rewrite is not None and status_code(status_line) == 200:
            chunks = [json.dumps(rewrite(parse_json_object(b"".join(chunks)))).encode("utf-8")]
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(chunks[0]))))
        return status_line, headers, chunks

    def control(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_logship/stats":
            if method == "GET":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                group = query.get("logGroupName", [None])[0]
                target = query.get("target", [None])[0]
                return json_response(start_response, 200, self.stats.snapshot(group, target))
            if method == "DELETE":
                self.stats.clear()
                return json_response(start_response, 200, {})
        elif path == "/_logship/latency":
            if method == "GET":
                return json_response(start_response, 200, {"latency": self.latency.describe()})
            if method == "DELETE":
                self.latency.clear()
                return json_response(start_response, 200, {})
            if method == "POST":
                try:
                    rule = Latency.from_json(parse_json_object(self.buffer_body(environ)))
                except ValueError as err:
                    return json_response(start_response, 400, {"error": str(err)})
                self.latency.add(rule)
                return json_response(start_response, 200, {"latency": self.latency.describe()})
        elif path == "/_logship/faults":
            if method == "GET":
                return json_response(start_response, 200, {"faults": self.faults.pending()})
            if method == "DELETE":
                self.faults.clear()
                return json_response(start_response, 200, {})
            if method == "POST":
                spec = parse_json_object(self.buffer_body(environ))
                try:
                    fault = Fault.from_json(spec)
                except ValueError as err:
                    return json_response(start_response, 400, {"error": str(err)})
                self.faults.add(fault)
                return json_response(start_response, 200, {"faults": self.faults.pending()})
        else:
            return json_response(start_response, 404, {"error": f"no such endpoint: {path}"})
        return json_response(start_response, 405, {"error": f"{method} not allowed on {path}"})


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or {} if it is not one (moto then answers as it would)."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


# --- Process lifetime --------------------------------------------------------------------------


def exit_when_stdin_closes() -> None:
    """Block until stdin reaches EOF (the parent died or closed the pipe), then exit hard."""
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(0)


def create_server(port: int = 0, clock: Clock = time.time) -> tuple[BaseWSGIServer, StrictLogs]:
    """moto's app as moto's own server builds it (moto/server.py), behind the front, bound to
    127.0.0.1:`port` (0: any free port) and not serving yet. Tests may run one in-process to
    drive its `clock`."""
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True  # type: ignore[attr-defined]
    front = StrictLogs(moto_app, clock)
    server = make_server("127.0.0.1", port, front, threaded=True, request_handler=MotoRequestHandler)
    return server, front


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server, _ = create_server(args.port)
    port = server.server_port
    # moto builds some URLs (SQS queue URLs, ...) from MOTO_PORT; tell it the real one.
    os.environ["MOTO_PORT"] = str(port)

    threading.Thread(target=exit_when_stdin_closes, name="stdin-watch", daemon=True).start()

    # The socket is bound and listening since make_server: connections queue until served.
    sys.stdout.write(f"LISTENING http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
