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
  reaching moto. moto also lacks StopQuery (it answers 500): this front answers it itself.
* The server must die with the test process, even one killed with SIGKILL that runs no cleanup:
  it exits as soon as its stdin reaches EOF, so the parent just keeps the pipe open.

Launch protocol (the Rust test harness relies on it exactly):

    .venv/bin/python tests/support/moto_server.py [--port N]      # N = 0 (default): any free port

binds 127.0.0.1, prints exactly one line `LISTENING http://127.0.0.1:PORT` to stdout once it
accepts connections, then prints nothing more to stdout. Give it a *piped* stdin and keep the
pipe open: a null or closed stdin makes it exit at once. Request logging is off unless --verbose
(so an unread stderr pipe cannot fill up and stall it); errors still go to stderr.

Endpoints added next to moto's own (moto's `POST /moto-api/reset` still resets moto's state):

    GET    /_logship/stats[?logGroupName=G][&target=OP]
                                             {"violations": [...], "putLogEvents": [...],
                                              "calls": [...]}
    DELETE /_logship/stats                   forget recorded requests, calls and violations
    POST   /_logship/faults                  a fault (below); answers {"faults": [pending...]}
    GET    /_logship/faults                  {"faults": [...]}: faults still pending
    DELETE /_logship/faults                  drop pending faults

Stats. `putLogEvents` has one entry per PutLogEvents request, in the order answered:
{"logGroupName", "logStreamName", "events", "bytes" (as the quota counts them), "status",
"errorType", "rejectedLogEventsInfo"}; `violations` one per refused rule: {"logGroupName",
"logStreamName", "rule", "message"}. `calls` has one entry per API call (any request with an
X-Amz-Target, whatever the service), in arrival order, once answered:

    {"target": "StopQuery",                  the operation name
     "request": {"queryId": "..."},          the JSON request body as sent ({} if it is not an
                                             object); a PutLogEvents request's `logEvents` is
                                             replaced by its count ("logEvents": 3)
     "status": 200, "errorType": null,       what the client was answered
     "faulted": false}                       true if a scripted fault shaped the answer

`target=OP` keeps the calls of that operation (an operation name, or a full X-Amz-Target such
as `Logs_20140328.StopQuery` to tell services apart); `putLogEvents` and `violations` stay only
if OP is PutLogEvents. `logGroupName=G` keeps puts and violations of group G, and the calls
about G: `logGroupName` G, or G in `logGroupNames` or `logGroupIdentifiers` (names or ARNs).

Faults. A fault is answered to the next `count` (default 1) requests it matches, first-posted
fault first, before the strictness checks run and without waiting for moto:

    {"target": "PutLogEvents",               operation name, or the full X-Amz-Target
                                             (`Logs_20140328.PutLogEvents`)
     "count": 3,                             optional, default 1
     "logGroupName": G,                      optional: only requests about G (as for stats:
                                             logGroupName, logGroupNames, logGroupIdentifiers)
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

Logs Insights as moto and this front answer it, unless scripted: StartQuery runs the query at
once (only `fields`, `sort` and `limit` are understood; anything else, `filter` and `stats`
included, is ignored); `logGroupIdentifiers` are passed to moto as `logGroupNames`.
GetQueryResults is `Complete` at once, with no `statistics`, `@ptr` first in every row and
`@timestamp` as epoch milliseconds ("1795319074391", where the service says
"2026-11-22 03:44:34.391"); an unknown queryId is answered 400 ResourceNotFoundException (moto
would crash with a 500). StopQuery is answered 200 {"success": true} whatever the queryId.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import threading
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import make_server
from werkzeug.wsgi import get_input_stream

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


def names_group(request: dict[str, Any], group: str) -> bool:
    """Whether a request is about `group`: its `logGroupName` is it, or its `logGroupNames` or
    `logGroupIdentifiers` (names or ARNs) list it, as StartQuery's do."""
    if request.get("logGroupName") == group:
        return True
    names = request.get("logGroupNames")
    if isinstance(names, list) and group in names:
        return True
    identifiers = request.get("logGroupIdentifiers")
    return isinstance(identifiers, list) and any(group_of_identifier(i) == group for i in identifiers)


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


class StrictLogs:
    """WSGI middleware in front of moto: fault injection, PutLogEvents rules, statistics.

    Each concern is one step of `api_call`, so new behaviour (more rules, more fault kinds,
    latency) slots in without touching moto's app.
    """

    def __init__(self, app: Callable[..., Any]):
        self.app = app
        self.stats = Stats()
        self.faults = FaultScript()
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
            return self.app(environ, start_response)
        body = self.buffer_body(environ)
        return self.api_call(environ, start_response, target, body)

    def api_call(
        self, environ: dict[str, Any], start_response: StartResponse, target: str, body: bytes
    ) -> Iterable[bytes]:
        """An AWS JSON API call: scripted fault, else emulation or strictness checks, else moto.
        Every call is recorded (`calls`), every PutLogEvents also in `putLogEvents`."""
        arrival = self.stats.arrival()
        request = parse_json_object(body)
        log_group = request.get("logGroupName") if isinstance(request.get("logGroupName"), str) else None
        is_put = target == PUT_LOG_EVENTS
        events = request.get("logEvents") if isinstance(request.get("logEvents"), list) else []

        def record(status: int, error_type: str | None, faulted: bool, rejected: Any = None) -> None:
            summary = request
            if is_put and "logEvents" in request:
                summary = {**request, "logEvents": len(events)}
            self.stats.record_call(
                arrival,
                target,
                {
                    "target": operation(target),
                    "request": summary,
                    "status": status,
                    "errorType": error_type,
                    "faulted": faulted,
                },
            )
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

        fault = self.faults.take(target, request)
        if fault is not None and fault.body is not None:
            record(200, None, True, fault.body.get("rejectedLogEventsInfo"))
            return aws_answer(start_response, fault.body)
        if fault is not None and fault.rejected is None:
            assert fault.error_type is not None and fault.message is not None
            record(fault.status, fault.error_type, True)
            return aws_error(start_response, fault.status, fault.error_type, fault.message)

        if target == STOP_QUERY:
            # moto does not implement StopQuery (it answers 500).
            record(200, None, False)
            return aws_answer(start_response, {"success": True})

        if target == START_QUERY and "logGroupIdentifiers" in request:
            # moto reads only logGroupName / logGroupNames (identifiers alone make it answer 500).
            if "logGroupName" in request or "logGroupNames" in request:
                message = "Specify only one of logGroupName, logGroupNames or logGroupIdentifiers"
                record(400, "InvalidParameterException", False)
                return aws_error(start_response, 400, "InvalidParameterException", message)
            identifiers = request["logGroupIdentifiers"]
            if isinstance(identifiers, list):
                identifiers = [group_of_identifier(i) for i in identifiers]
            self.replace_body(environ, {**request, "logGroupNames": identifiers})

        if not is_put:
            with self.serial:
                # moto raises KeyError for a GetQueryResults queryId it does not know: expected.
                status_line, headers, chunks = self.call_moto(environ, log_crash=target != GET_QUERY_RESULTS)
            code = status_code(status_line)
            if target == GET_QUERY_RESULTS and code == 500:
                message = f"Query {request.get('queryId')!r} does not exist"
                record(400, "ResourceNotFoundException", False)
                return aws_error(start_response, 400, "ResourceNotFoundException", message)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # As moto's own server does (moto/server.py), with our middleware in front.
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True  # type: ignore[attr-defined]
    server = make_server(
        "127.0.0.1",
        args.port,
        StrictLogs(moto_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
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
