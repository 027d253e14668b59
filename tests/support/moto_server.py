"""A strict, scriptable moto server for logship's tests.

Why this exists instead of plain `moto_server`:

* moto emulates CloudWatch Logs well enough for our functions, but it does not enforce the
  PutLogEvents limits that shape a shipper's batching (10,000 events, 1,048,576 bytes counted as
  UTF-8 message bytes + 26 per event, event size, 24 h span, empty batches). A shipper that breaks
  them would pass against moto and fail in AWS. The `StrictLogs` middleware below checks every
  PutLogEvents request against the real rules and answers `InvalidParameterException` without
  forwarding it, the way the service would.
* Tests need to see what was sent (how many requests, how big, which were refused):
  `GET /_logship/stats[?logGroupName=G]` reports every PutLogEvents request in arrival order.
* Tests need to provoke throttling and server errors: `POST /_logship/faults` scripts the next N
  responses for an operation, without them reaching moto.
* The server must die with the test process, even one killed with SIGKILL that runs no cleanup:
  it exits as soon as its stdin reaches EOF, so the parent just keeps the pipe open.

Launch protocol (the Rust test harness relies on it exactly):

    .venv/bin/python tests/support/moto_server.py [--port N]      # N = 0 (default): any free port

binds 127.0.0.1, prints exactly one line `LISTENING http://127.0.0.1:PORT` to stdout once it
accepts connections, then prints nothing more to stdout. Give it a *piped* stdin and keep the
pipe open: a null or closed stdin makes it exit at once. Request logging is off unless --verbose
(so an unread stderr pipe cannot fill up and stall it); errors still go to stderr.

Endpoints added next to moto's own (moto's `POST /moto-api/reset` still resets moto's state):

    GET    /_logship/stats[?logGroupName=G]  {"violations": [...], "putLogEvents": [...]}
    DELETE /_logship/stats                   forget recorded requests and violations
    POST   /_logship/faults                  {"target": "PutLogEvents", "status": 400,
                                              "errorType": "ThrottlingException", "count": 3,
                                              "message": optional, "logGroupName": optional}
    GET    /_logship/faults                  faults still pending
    DELETE /_logship/faults                  drop pending faults

A fault's `target` is the operation name (`PutLogEvents`) or the full X-Amz-Target
(`Logs_20140328.PutLogEvents`). `errorType` defaults to ThrottlingException for 4xx and
ServiceUnavailableException for 5xx. With `logGroupName` (and `logStreamName`), only requests
for that group (and stream) match (so tests sharing one server can each script their own). Faults are consumed in the order they
were posted, before the strictness checks run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

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


class Stats:
    """Every PutLogEvents request and every violation, in arrival order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._violations: list[dict[str, Any]] = []
        self._puts: list[dict[str, Any]] = []

    def record_put(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._puts.append(record)

    def record_violation(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._violations.append(record)

    def snapshot(self, log_group: str | None = None) -> dict[str, Any]:
        with self._lock:
            violations, puts = list(self._violations), list(self._puts)
        if log_group is not None:
            violations = [v for v in violations if v["logGroupName"] == log_group]
            puts = [p for p in puts if p["logGroupName"] == log_group]
        return {"violations": violations, "putLogEvents": puts}

    def clear(self) -> None:
        with self._lock:
            self._violations.clear()
            self._puts.clear()


@dataclass
class Fault:
    """One scripted error answer, used for the next `remaining` matching requests."""

    target: str  # full X-Amz-Target, e.g. Logs_20140328.PutLogEvents
    status: int
    error_type: str
    message: str
    remaining: int
    log_group: str | None = None
    log_stream: str | None = None
    # With `rejected` (a rejectedLogEventsInfo object) the request goes on to moto and succeeds,
    # and the answer carries this rejectedLogEventsInfo: the service's way of saying some events
    # were refused (e.g. `expiredLogEventEndIndex`, which moto never reports).
    rejected: dict[str, Any] | None = None

    def matches(self, target: str, log_group: str | None, log_stream: str | None = None) -> bool:
        return (
            self.remaining > 0
            and self.target == target
            and (self.log_group is None or self.log_group == log_group)
            and (self.log_stream is None or self.log_stream == log_stream)
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
        }

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> "Fault":
        target = spec.get("target")
        if not isinstance(target, str) or not target:
            raise ValueError("target must be an operation name such as PutLogEvents")
        if "." not in target:
            target = LOGS_TARGET_PREFIX + target
        rejected = spec.get("rejectedLogEventsInfo")
        if rejected is not None and not isinstance(rejected, dict):
            raise ValueError("rejectedLogEventsInfo must be an object")
        status = spec.get("status", 200 if rejected is not None else 400)
        if rejected is not None and status != 200:
            raise ValueError("a rejectedLogEventsInfo fault answers 200")
        if rejected is None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400-599)")
        default_type = "ThrottlingException" if status < 500 else "ServiceUnavailableException"
        error_type = spec.get("errorType") or default_type
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        message = spec.get("message") or {
            "ThrottlingException": "Rate exceeded",
            "ServiceUnavailableException": "The service is unavailable. Please try again later.",
        }.get(error_type, f"Injected {error_type}")
        log_group = spec.get("logGroupName")
        if log_group is not None and not isinstance(log_group, str):
            raise ValueError("logGroupName must be a string")
        log_stream = spec.get("logStreamName")
        if log_stream is not None and not isinstance(log_stream, str):
            raise ValueError("logStreamName must be a string")
        return cls(target, status, str(error_type), str(message), count, log_group, log_stream, rejected)


class FaultScript:
    """Pending faults, consumed first-posted first (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, target: str, log_group: str | None, log_stream: str | None = None) -> Fault | None:
        """The fault to answer this request with, if one is scripted; uses up one of its count."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(target, log_group, log_stream):
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
        """An AWS JSON API call: scripted fault, else strictness checks, else moto."""
        request = parse_json_object(body)
        log_group = request.get("logGroupName") if isinstance(request.get("logGroupName"), str) else None
        is_put = target == PUT_LOG_EVENTS
        events = request.get("logEvents") if isinstance(request.get("logEvents"), list) else []

        def record_put(status: int, error_type: str | None, rejected: Any = None) -> None:
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

        log_stream = request.get("logStreamName") if isinstance(request.get("logStreamName"), str) else None
        fault = self.faults.take(target, log_group, log_stream)
        if fault is not None and fault.rejected is None:
            record_put(fault.status, fault.error_type)
            return aws_error(start_response, fault.status, fault.error_type, fault.message)

        if not is_put:
            with self.serial:
                return self.forward_buffered(environ, start_response)[1]

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
            record_put(400, "InvalidParameterException")
            return aws_error(start_response, 400, "InvalidParameterException", violation.message)

        rewrite = None
        if fault is not None:
            rejected = fault.rejected
            rewrite = lambda answer: {**answer, "rejectedLogEventsInfo": rejected}  # noqa: E731
        with self.serial:
            status, chunks = self.forward_buffered(environ, start_response, rewrite)
            answer = parse_json_object(b"".join(chunks))
            error_type = answer.get("__type") if status >= 400 else None
            record_put(status, error_type, answer.get("rejectedLogEventsInfo"))
        return chunks

    # -- helpers --

    @staticmethod
    def buffer_body(environ: dict[str, Any]) -> bytes:
        """Read the whole request body and put it back so moto can read it again."""
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body

    def forward_buffered(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        rewrite: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> tuple[int, list[bytes]]:
        """Call moto, learning its status code; the (small) answer body is buffered, and a 200
        answer's JSON may be rewritten (Content-Length follows)."""
        seen: dict[str, Any] = {}

        def spy(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return lambda _data: None  # WSGI's write(); moto returns its body instead

        result = self.app(environ, spy)
        try:
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status_line = seen.get("status", "500 Error")
        code = int(status_line.split(" ", 1)[0])
        headers = seen.get("headers", [])
        if rewrite is not None and code == 200:
            chunks = [json.dumps(rewrite(parse_json_object(b"".join(chunks)))).encode("utf-8")]
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(chunks[0]))))
        start_response(status_line, headers)
        return code, chunks

    def control(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_logship/stats":
            if method == "GET":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                group = query.get("logGroupName", [None])[0]
                return json_response(start_response, 200, self.stats.snapshot(group))
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
