#!/usr/bin/env python3
"""CloudWatch Logs subscription payloads for logship's benches: realistic, deterministic.

usage: bench/gen_payloads.py OUTDIR [N] [EVENTS] [--seed SEED] [--start-ms MS] [--clean]

Writes OUTDIR/payload-000.b64 ... (N payloads, 20 by default, of EVENTS log events each, 2,000
by default). Each file holds what Lambda finds in event["awslogs"]["data"] (and what a Kinesis
or Firehose record carries): the base64 text, no newline, of the gzip of a subscription document

    {"messageType":"DATA_MESSAGE","owner":...,"logGroup":...,"logStream":...,
     "subscriptionFilters":[...],"logEvents":[{"id":...,"timestamp":...,"message":...},...]}

written the way CloudWatch Logs writes it: compact, keys in that order, text as UTF-8 with only
quotes, backslashes and control characters escaped. Other payload-*.b64 files in OUTDIR are
removed, so that OUTDIR holds exactly this set. A summary goes to stderr.

The payloads come from three kinds of log source, taking turns (payload i is of kind i % 3):

  lambda  a Python Lambda function (/aws/lambda/...): per invocation START, END and REPORT
          lines (INIT_START and Init Duration on cold starts, an XRAY line when traced), the
          runtime's tab-separated log lines, Powertools-style JSON logs (non-ASCII kept as
          UTF-8), now and then an unhandled exception (the runtime's [ERROR] line and traceback,
          indented with no-break spaces) or a logged exception inside a JSON log;
  web     a Python web service on ECS (/ecs/...): combined-format access log lines (quoted
          request, referrer and user agent, percent-encoded queries), structlog-style JSON
          (non-ASCII as \\uXXXX escapes), plain logging lines, ANSI-coloured worker lines, and
          multi-line Django tracebacks, chained ones included;
  jvm     a Spring Boot service on ECS: logback pattern lines, Tomcat access lines, Java stack
          traces (tab-indented frames, "Caused by:", "... n common frames omitted"), and
          DEBUG dumps of JSON request bodies of several KB.

Messages carry names, places, prices and search terms in several scripts (accents, Cyrillic,
Greek, CJK, Arabic, emoji outside the BMP), quotes and backslashes, so the documents have the
escapes and multi-byte text real ones have. Event sizes run from ~50 B (END lines) to ~5 KB
(stack traces, request dumps); ids are 56-digit numbers with the timestamp in their high bits,
as CloudWatch Logs' are.

Timestamps run forward without going back, across payloads too (payload i+1 starts after
payload i ends), at the rates such sources log: the payloads in name order are the events in
time order. They start at --start-ms (default: one hour ago, so that PutLogEvents accepts them)
and the dates inside messages agree with them. Everything else is fixed by --seed (and each
payload depends only on the seed, its index and the start time, its first k events on nothing
else): with --start-ms given, the output is the same byte for byte on every run.

--clean writes the same payloads with nothing a redactor would find, for measuring what
redaction costs when it has nothing to do (bench/run.sh puts them in target/bench-payloads-clean):
the same sources, events, timestamps and random draws, with
  - client addresses (IPv4 and IPv6) written as host names (dsl5103fe.net, v6-1a2b...net);
  - email addresses written as plain user names ("username": "zoë", "username": "cust_3f9a0c1d");
  - four-part version numbers in user agents cut to three (Chrome/131.0.0.0 -> Chrome/131.0.0),
    as anything written like an IPv4 address is one to a redactor;
  - any run of 13 or more digits (spaces or dashes between them allowed), which a card detector
    would look at and which hex ids and UUIDs make (527 in the default 20 x 2,000, mostly request
    ids like 698fa607-5604-4559-968c-...), broken by a letter in place of one digit (same length).
Every clean message is then checked against detectors for IPv4 (the Datadog Forwarder's
REDACT_IP pattern), IPv6, email (REDACT_EMAIL's pattern), AWS access key ids, labelled 40-character
secrets, JWTs, bearer credentials and card-like digit runs; the generator fails if one matches.
What stays as the service writes it: the runtime ARN of INIT_START lines
(arn:aws:lambda:eu-west-1::runtime:...), whose "1::" is no address to the IPv6 check. The same
events differ in a third of their messages; the JSON is 0.1 % smaller, and the non-ASCII messages
and escapes are the same. Without --clean the output is what it always was.
"""
import argparse
import base64
import gzip
import json
import math
import os
import random
import re
import sys
import time
from datetime import datetime, timezone

OWNER = "210987654321"
REGION = "eu-west-1"
SUBSCRIPTION_FILTERS = ["logship-central"]


# ---- shared vocabulary -----------------------------------------------------------------------

PEOPLE = ["Zoë Ångström", "José Núñez", "Maëlle Lefèvre", "Łukasz Wójcik", "Ayşe Yılmaz",
          "Νίκος Παπαδόπουλος", "Иван Петров", "山田 太郎", "김민준", "محمد علي", "Priya Raghunathan",
          "Emma Smith", "Liam O'Brien", 'Chloé "Coco" Martin', "Søren Ødegaard", "Nguyễn Văn An"]
CITIES = ["Malmö", "Zürich", "São Paulo", "Kraków", "Москва", "東京", "서울", "Αθήνα", "Reykjavík",
          "Dublin", "Austin", "Düsseldorf", "Montréal", "القاهرة", "Ho Chi Minh City"]
PRODUCTS = ["Café crème 250 g", "Trail runner 👟 size 42", 'Tee "Logo" XL', "Kaffeebohnen – Äthiopien",
            "抹茶ラテ 6-pack", "Thé vert 🍵 bio", "Gift card 🎁 €50", 'Mug "C:\\Users\\me"',
            "Crème brûlée torch", "Smørrebrød board", "Ручка шариковая", "Organic quinoa 1 kg",
            "Wireless earbuds (2nd gen)", "Yoga mat ½ inch", "Résumé paper A4 × 500"]
SEARCHES = ["café near me", "東京 ラーメン", 'size:42 "trail"', "C:\\Program Files", "50% off",
            "naïve résumé", "зимняя куртка", "gift ideas 🎄", "back pack", "ñandú plush",
            "usb-c <hub>", "a&b 'quoted'"]
CURRENCIES = [("EUR", "€"), ("USD", "$"), ("GBP", "£"), ("JPY", "¥"), ("SEK", "kr ")]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.39 Mobile Safari/537.36",
    "ELB-HealthChecker/2.0", "python-requests/2.32.3", "curl/8.11.0", "okhttp/4.12.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
]
# --clean: the same agents without a four-part version (Chrome/131.0.0.0 reads as an IPv4 address).
USER_AGENTS_CLEAN = [ua.replace("Chrome/131.0.0.0", "Chrome/131.0.0") for ua in USER_AGENTS]
HOST_PREFIX = {81: "dsl", 89: "cab", 176: "fib", 185: "mob", 203: "sat", 92: "lte"}


def pick(rng, weighted):
    """One item of [(weight, item), ...]."""
    r = rng.random() * sum(w for w, _ in weighted)
    for w, item in weighted:
        r -= w
        if r < 0:
            return item
    return weighted[-1][1]


def uuid4(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) & 3], h[17:20], h[20:])


def hexid(rng, digits):
    return "%0*x" % (digits, rng.getrandbits(4 * digits))


def xray_trace_id(rng, ms):
    return "1-%08x-%s" % (ms // 1000, hexid(rng, 24))


def utc(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def iso_ms(ms):
    return utc(ms).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def clf_time(ms):
    return utc(ms).strftime("%d/%b/%Y:%H:%M:%S +0000")


def money(rng):
    code, sign = rng.choice(CURRENCIES)
    if code == "JPY":
        return code, sign, "%d" % rng.randrange(100, 200_000)
    return code, sign, "%d.%02d" % divmod(rng.randrange(100, 2_000_00), 100)


def client_ip(rng, clean=False):
    """A client address; with `clean`, a host name made of the same random draws."""
    if rng.random() < 0.08:
        groups = (rng.randrange(1 << 16), rng.randrange(1 << 16), rng.randrange(1 << 16))
        return ("v6-%04x%04x%04x.net" if clean else "2001:db8:%x:%x::%x") % groups
    octets = (rng.choice([81, 89, 176, 185, 203, 92]), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    if clean:
        return "%s%02x%02x%02x.net" % (HOST_PREFIX[octets[0]], octets[1], octets[2], octets[3])
    return "%d.%d.%d.%d" % octets


def user_agent(rng, clean=False):
    return rng.choice(USER_AGENTS_CLEAN if clean else USER_AGENTS)


def query_string(rng):
    from urllib.parse import quote
    return "q=%s&page=%d" % (quote(rng.choice(SEARCHES)), rng.randrange(1, 9))


def python_traceback(rng, frames, exc, indent="  "):
    """A Python traceback of `frames` as (file, function, code) tuples, ending in `exc`."""
    lines = ["Traceback (most recent call last):"]
    for file, func, code in frames:
        lines.append('%sFile "%s", line %d, in %s' % (indent, file, rng.randrange(12, 900), func))
        lines.append(indent * 2 + code)
    lines.append(exc)
    return "\n".join(lines)


# ---- lambda: a Python Lambda function --------------------------------------------------------

LAMBDA_FUNCTIONS = ["checkout-api", "order-events-consumer", "image-thumbnailer", "invoice-mailer"]
LAMBDA_APP_FRAMES = [
    ("/var/task/app/handler.py", "lambda_handler", "return process(event, context)"),
    ("/var/task/app/handler.py", "process", "order = build_order(record['body'])"),
    ("/var/task/app/orders.py", "build_order", "lines = [parse_line(l) for l in payload['lines']]"),
    ("/var/task/app/orders.py", "<listcomp>", "lines = [parse_line(l) for l in payload['lines']]"),
    ("/var/task/app/orders.py", "parse_line", "qty = int(line['qty'])"),
    ("/var/task/app/store.py", "put_order", "table.put_item(Item=item, ConditionExpression=cond)"),
    ("/var/lang/lib/python3.12/site-packages/botocore/client.py", "_api_call",
     "return self._make_api_call(operation_name, kwargs)"),
    ("/var/lang/lib/python3.12/site-packages/botocore/client.py", "_make_api_call",
     "raise error_class(parsed_response, operation_name)"),
]
LAMBDA_ERRORS = [
    "KeyError: 'sku'",
    "ValueError: invalid literal for int() with base 10: '2×'",
    "botocore.errorfactory.ConditionalCheckFailedException: An error occurred "
    "(ConditionalCheckFailedException) when calling the PutItem operation: The conditional request failed",
    "TypeError: unsupported operand type(s) for +: 'Decimal' and 'float'",
    "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in position 17: invalid continuation byte",
]


class LambdaSource:
    def __init__(self, rng, index, day_ms, clean=False):
        self.rng = rng  # nothing of this source's needs cleaning but the digit runs (see clean_message)
        self.function = LAMBDA_FUNCTIONS[index % len(LAMBDA_FUNCTIONS)]
        self.service = self.function.split("-")[0]
        self.memory = rng.choice([256, 512, 1024])
        self.log_group = "/aws/lambda/" + self.function
        self.log_stream = "%s/[$LATEST]%s" % (utc(day_ms).strftime("%Y/%m/%d"), hexid(rng, 32))
        self.arn = "arn:aws:lambda:%s:%s:function:%s" % (REGION, OWNER, self.function)
        self.cold = True

    def events(self, t):
        """(timestamp, message) of invocation after invocation, from time t (ms)."""
        rng = self.rng
        while True:
            rid = uuid4(rng)
            traced = rng.random() < 0.3
            trace = xray_trace_id(rng, t)
            cold, self.cold = self.cold or rng.random() < 0.004, False
            init_ms = 0.0
            if cold:
                yield t, "INIT_START Runtime Version: python:3.12.v41\tRuntime Version ARN: arn:aws:lambda:%s::runtime:%s\n" % (
                    REGION, hexid(rng, 64))
                init_ms = rng.uniform(280, 1400)
                t += int(init_ms)
            start = t
            yield t, "START RequestId: %s Version: $LATEST\n" % rid
            for _ in range(min(int(rng.expovariate(1 / 2.6)), 14)):
                t += int(rng.expovariate(1 / 18))
                yield t, self.app_line(rid, trace, t, cold)
            failed = rng.random() < 0.012
            if failed:
                t += rng.randrange(1, 30)
                frames = LAMBDA_APP_FRAMES[:rng.randrange(3, len(LAMBDA_APP_FRAMES) + 1)]
                exc = rng.choice(LAMBDA_ERRORS)
                yield t, "[ERROR] %s\n%s\n" % (exc, python_traceback(rng, frames, exc, indent="\u00a0\u00a0"))
            t += rng.randrange(0, 4)
            yield t, "END RequestId: %s\n" % rid
            duration = max(t - start, 0) + rng.random() * 3
            report = "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t" % (
                rid, duration, math.ceil(duration + init_ms), self.memory, rng.randrange(70, self.memory // 2))
            if cold:
                report += "Init Duration: %.2f ms\t" % init_ms
            if traced:
                report += "\nXRAY TraceId: %s\tSegmentId: %s\tSampled: true\t" % (trace, hexid(rng, 16))
            yield t, report + "\n"
            t += int(rng.expovariate(1 / 260))

    def app_line(self, rid, trace, t, cold):
        rng = self.rng
        if rng.random() < 0.45:
            level = pick(rng, [(80, "INFO"), (12, "WARNING"), (8, "DEBUG")])
            text = pick(rng, [
                (3, lambda: "Received %d records from queue %s-prod (approximate age %d ms)" % (
                    rng.randrange(1, 11), self.service, rng.randrange(5, 4000))),
                (3, lambda: "Loaded order ord_%s for %s (%s)" % (hexid(rng, 12), rng.choice(PEOPLE), rng.choice(CITIES))),
                (2, lambda: "DynamoDB PutItem %s-prod took %.1f ms (%d WCU)" % (
                    self.service, rng.uniform(3, 90), rng.randrange(1, 6))),
                (1, lambda: "Retrying POST https://payments.internal/v1/charges after HTTP 503 (attempt %d/3)" % rng.randrange(1, 4)),
            ])()
            return "[%s]\t%s\t%s\t%s\n" % (level, iso_ms(t), rid, text)
        code, sign, amount = money(rng)
        record = {
            "level": pick(rng, [(85, "INFO"), (10, "WARNING"), (5, "ERROR")]),
            "location": "%s:%d" % (rng.choice(["process", "build_order", "put_order", "notify"]), rng.randrange(20, 400)),
            "message": pick(rng, [(3, "Order accepted"), (2, "Payment authorized"), (1, "Inventory reserved"),
                                  (1, "Customer notified"), (1, "Slow downstream call")]),
            "timestamp": utc(t).strftime("%Y-%m-%d %H:%M:%S,") + "%03d+0000" % (t % 1000),
            "service": self.service,
            "cold_start": cold,
            "function_name": self.function,
            "function_memory_size": str(self.memory),
            "function_arn": self.arn,
            "function_request_id": rid,
            "xray_trace_id": trace,
            "order_id": "ord_" + hexid(rng, 12),
            "customer": {"name": rng.choice(PEOPLE), "city": rng.choice(CITIES)},
            "amount": {"value": amount, "currency": code, "display": sign + amount},
            "items": [rng.choice(PRODUCTS) for _ in range(rng.randrange(1, 4))],
        }
        if record["level"] == "ERROR":
            exc = rng.choice(LAMBDA_ERRORS)
            record["exception"] = python_traceback(rng, LAMBDA_APP_FRAMES[1:rng.randrange(3, 7)], exc)
            record["exception_name"] = exc.split(":")[0].rsplit(".", 1)[-1]
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


# ---- web: a Python web service on ECS --------------------------------------------------------

WEB_ROUTES = [(30, "GET", "/api/v2/products"), (12, "GET", "/api/v2/products/%d"), (10, "GET", "/api/v2/search?%s"),
              (8, "POST", "/api/v2/cart/items"), (5, "DELETE", "/api/v2/cart/items/%d"), (4, "POST", "/api/v2/checkout"),
              (9, "GET", "/static/js/app.%s.js"), (6, "GET", "/healthz"), (3, "GET", "/account/orders?page=%d"),
              (2, "GET", "/favicon.ico")]
WEB_FRAMES = [
    ("/usr/local/lib/python3.12/site-packages/django/core/handlers/exception.py", "inner",
     "response = get_response(request)"),
    ("/usr/local/lib/python3.12/site-packages/django/core/handlers/base.py", "_get_response",
     "response = wrapped_callback(request, *callback_args, **callback_kwargs)"),
    ("/usr/local/lib/python3.12/site-packages/django/views/decorators/csrf.py", "_view_wrapper",
     "return view_func(request, *args, **kwargs)"),
    ("/app/shop/views/checkout.py", "post", "order = services.place_order(request.user, cart)"),
    ("/app/shop/services.py", "place_order", "total = sum(line.price * line.qty for line in cart.lines)"),
    ("/app/shop/services.py", "<genexpr>", "total = sum(line.price * line.qty for line in cart.lines)"),
    ("/app/shop/pricing.py", "price", 'return Decimal(row["price"]).quantize(CENTS, rounding=ROUND_HALF_EVEN)'),
]


class WebSource:
    def __init__(self, rng, index, day_ms, clean=False):
        self.rng = rng
        self.clean = clean
        self.log_group = "/ecs/storefront"
        self.log_stream = "web/app/%s" % hexid(rng, 32)

    def events(self, t):
        rng = self.rng
        while True:
            t += int(rng.expovariate(1 / 9))
            k = rng.random()
            if k < 0.55:
                yield t, self.access_line(t)
            elif k < 0.87:
                yield t, self.structlog_line(t)
            elif k < 0.96:
                level, logger, text = pick(rng, [
                    (3, ("WARNING", "django.request", "Not Found: /wp-login.php")),
                    (3, ("INFO", "shop.cache", "cache miss for catalog:%s (%d keys)" % (hexid(rng, 8), rng.randrange(1, 40)))),
                    (2, ("WARNING", "shop.views", "Slow render of catalog/list.html: %d ms" % rng.randrange(300, 2500))),
                    (1, ("ERROR", "shop.payments", 'Gateway answered "card_declined" for order %d (%s)' % (
                        rng.randrange(10**6), rng.choice(PEOPLE)))),
                ])
                yield t, "%s %s,%03d %s %s" % (level, utc(t).strftime("%Y-%m-%d %H:%M:%S"), t % 1000, logger, text)
            elif k < 0.988:
                colour = rng.choice(["\x1b[32m", "\x1b[33m", "\x1b[36m"])
                yield t, "[%s: %sINFO\x1b[0m/ForkPoolWorker-%d] Task shop.tasks.send_receipt[%s] succeeded in %.4fs: None" % (
                    utc(t).strftime("%Y-%m-%d %H:%M:%S,") + "%03d" % (t % 1000), colour, rng.randrange(1, 9), uuid4(rng),
                    rng.uniform(0.01, 3))
            else:
                yield t, self.traceback(t)

    def access_line(self, t):
        rng = self.rng
        method, path = pick(rng, [(w, (m, p)) for w, m, p in WEB_ROUTES])
        if "%d" in path:
            path %= rng.randrange(1, 100_000)
        elif "?%s" in path:
            path %= query_string(rng)
        elif "%s" in path:
            path %= hexid(rng, 8)
        status = pick(rng, [(80, 200), (5, 201), (3, 204), (3, 304), (2, 400), (1, 401), (3, 404), (1, 429),
                            (1, 500), (1, 502)])
        size = 0 if status in (204, 304) else int(rng.lognormvariate(7.5, 1.2))
        referer = rng.choice(['"-"', '"https://shop.example.com/"', '"https://shop.example.com/c/shoes?sort=price"',
                              '"https://www.google.com/"'])
        return '%s - - [%s] "%s %s HTTP/1.1" %d %d %s "%s" %.3f' % (
            client_ip(rng, self.clean), clf_time(t), method, path, status, size, referer, user_agent(rng, self.clean),
            rng.lognormvariate(-3.5, 1.0))

    def structlog_line(self, t):
        rng = self.rng
        event = pick(rng, [
            (4, lambda: {"event": "cart updated", "sku": "SKU-%05d" % rng.randrange(10**5), "qty": rng.randrange(1, 5),
                         "title": rng.choice(PRODUCTS)}),
            (3, lambda: {"event": "search", "query": rng.choice(SEARCHES), "results": rng.randrange(0, 500),
                         "took_ms": round(rng.uniform(2, 180), 2)}),
            (2, lambda: {"event": "order placed", "order_id": rng.randrange(10**6), "customer": rng.choice(PEOPLE),
                         "ship_to": rng.choice(CITIES), "total": "%s %s" % money(rng)[1:]}),
            (1, lambda: {"event": "login failed", "username": rng.choice(PEOPLE).split()[0].lower()
                         + ("" if self.clean else "@example.com"), "reason": "bad password"}),
        ])()
        event.update({"request_id": uuid4(rng), "user_id": rng.randrange(10**7), "level": pick(rng, [(9, "info"), (1, "warning")]),
                      "logger": "shop." + rng.choice(["cart", "search", "orders", "auth"]),
                      "timestamp": utc(t).strftime("%Y-%m-%dT%H:%M:%S.") + "%03d%03dZ" % (t % 1000, rng.randrange(1000))})
        return json.dumps(event)

    def traceback(self, t):
        rng = self.rng
        head = "ERROR %s,%03d django.request Internal Server Error: /api/v2/checkout" % (
            utc(t).strftime("%Y-%m-%d %H:%M:%S"), t % 1000)
        first = python_traceback(rng, WEB_FRAMES[3:], "decimal.InvalidOperation: [<class 'decimal.ConversionSyntax'>]")
        if rng.random() < 0.5:
            return head + "\n" + first
        second = python_traceback(rng, WEB_FRAMES[:rng.randrange(4, len(WEB_FRAMES) + 1)],
                                  "shop.errors.PricingError: could not price cart %d for %s" % (
                                      rng.randrange(10**6), rng.choice(PEOPLE)))
        return "%s\n%s\n\nDuring handling of the above exception, another exception occurred:\n\n%s" % (head, first, second)


# ---- jvm: a Spring Boot service on ECS -------------------------------------------------------

JVM_FRAMES = [
    "com.example.payments.ledger.LedgerService.post(LedgerService.java:%d)",
    "com.example.payments.ledger.LedgerService$$SpringCGLIB$$0.post(<generated>)",
    "com.example.payments.api.PaymentController.capture(PaymentController.java:%d)",
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:%d)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:%d)",
    "org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:%d)",
    "org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:%d)",
    "org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:%d)",
    "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:%d)",
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:%d)",
    "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:%d)",
    "org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:%d)",
    "org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:%d)",
    "org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:%d)",
    "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:%d)",
    "java.base/java.lang.Thread.run(Thread.java:%d)",
]


class JvmSource:
    def __init__(self, rng, index, day_ms, clean=False):
        self.rng = rng
        self.clean = clean
        self.log_group = "/ecs/payments"
        self.log_stream = "payments/api/%s" % hexid(rng, 32)

    def line(self, t, level, logger, text):
        return "%s.%03d %5s 1 --- [nio-8080-exec-%d] %-40s : %s" % (
            utc(t).strftime("%Y-%m-%d %H:%M:%S"), t % 1000, level, self.rng.randrange(1, 40), logger, text)

    def events(self, t):
        rng = self.rng
        while True:
            t += int(rng.expovariate(1 / 11))
            k = rng.random()
            if k < 0.3:
                yield t, '%s - - [%s] "%s HTTP/1.1" %d %d %d' % (
                    client_ip(rng, self.clean), clf_time(t), rng.choice(["POST /v1/payments", "POST /v1/payments/%s/capture" % hexid(rng, 16),
                                                             "GET /v1/payments/%s" % hexid(rng, 16), "GET /actuator/health"]),
                    pick(rng, [(85, 200), (8, 201), (4, 402), (2, 409), (1, 500)]), rng.randrange(2, 4000), rng.randrange(1, 400))
            elif k < 0.93:
                code, sign, amount = money(rng)
                yield t, self.line(t, *pick(rng, [
                    (4, ("INFO", "c.e.payments.api.PaymentController", "Authorized payment pay_%s for %s%s (card •••• %04d, %s)" % (
                        hexid(rng, 16), sign, amount, rng.randrange(10**4), rng.choice(CITIES)))),
                    (3, ("INFO", "c.e.payments.ledger.LedgerService", "Captured pay_%s: %s %s, risk score %.3f" % (
                        hexid(rng, 16), amount, code, rng.random()))),
                    (1, ("WARN", "com.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Connection is not available, request "
                         "timed out after 30000ms (total=20, active=20, idle=0, waiting=%d)" % rng.randrange(1, 60))),
                    (1, ("WARN", "c.e.payments.fraud.RiskScorer", 'Rejected payment for "%s": 3-D Secure challenge failed' % (
                        rng.choice(PEOPLE)))),
                ]))
            elif k < 0.985:
                yield t, self.line(t, "DEBUG", "o.s.web.client.RestTemplate", "Writing [%s] as \"application/json\"" % json.dumps(
                    self.request_body(), ensure_ascii=False))
            else:
                yield t, self.stack_trace(t)

    def request_body(self):
        rng = self.rng
        code = money(rng)[0]
        # Drawn in the order the dict literal of the default set draws them.
        merchant, reference = "m_%s" % hexid(rng, 10), uuid4(rng)
        customer = {"name": rng.choice(PEOPLE), "city": rng.choice(CITIES)}
        if self.clean:
            customer["username"] = "cust_%s" % hexid(rng, 8)
        else:
            customer["email"] = "%s@example.org" % hexid(rng, 8)
        return {"merchant": merchant, "reference": reference, "currency": code, "customer": customer,
                "lines": [{"sku": "SKU-%05d" % rng.randrange(10**5), "title": rng.choice(PRODUCTS),
                           "qty": rng.randrange(1, 4), "price": money(rng)[2]} for _ in range(rng.randrange(2, 60))]}

    def stack_trace(self, t):
        rng = self.rng
        frames = JVM_FRAMES[:rng.randrange(6, len(JVM_FRAMES) + 1)]
        lines = [self.line(t, "ERROR", "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                           "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception"),
                 "", "java.lang.IllegalStateException: ledger entry pay_%s already posted" % hexid(rng, 16)]
        lines += ["\tat " + f % rng.randrange(30, 1200) if "%d" in f else "\tat " + f for f in frames]
        if rng.random() < 0.6:
            lines.append("Caused by: org.springframework.dao.DuplicateKeyException: PreparedStatementCallback; "
                         "ERROR: duplicate key value violates unique constraint \"ledger_entry_pkey\"")
            lines += ["\tat " + f % rng.randrange(30, 1200) if "%d" in f else "\tat " + f for f in frames[:4]]
            lines.append("\t... %d common frames omitted" % (len(frames) - 1))
        return "\n".join(lines)


SOURCES = [LambdaSource, WebSource, JvmSource]


# ---- --clean: what a redactor must not find -----------------------------------------------------

# What the clean set is checked against: every pattern is at least as eager as a redactor's. The
# IPv4 and email patterns are the Datadog Forwarder's REDACT_IP and REDACT_EMAIL rules
# (DataDog/datadog-serverless-functions, aws/logs_monitoring/settings.py, SCRUBBING_RULE_CONFIGS).
REDACTABLE = [
    ("ipv4", re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")),
    ("ipv6", re.compile(r"(?i)(?<![\w.:-])(?=[0-9a-f:]*::|(?:[0-9a-f]{1,4}:){7}[0-9a-f])"
                        r"(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w.:])")),
    ("email", re.compile(r"[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+")),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("aws-secret", re.compile(r"(?i)(?:secret|password|passwd|token|api[_-]?key|access[_-]?key)[\"' ]*[:=][\"' ]*"
                              r"[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")),
    ("bearer", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")),
    ("card", re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}")),  # any 13+ digits, Luhn-valid or not
]
CARD_LIKE = dict(REDACTABLE)["card"]


def _break_digit_run(m):
    """The run with its seventh digit replaced by a letter (a hex digit: ids stay hex)."""
    run, seen = list(m.group(0)), 0
    for i, c in enumerate(run):
        if c.isdigit():
            seen += 1
            if seen == 7:
                run[i] = "abcdefabcd"[int(c)]
                break
    return "".join(run)


def clean_message(message):
    """`message` with no run of 13+ digits; raises if anything else redactable is left in it."""
    while True:
        fixed = CARD_LIKE.sub(_break_digit_run, message)
        if fixed == message:
            break
        message = fixed
    for name, pattern in REDACTABLE:
        m = pattern.search(message)
        if m:
            raise AssertionError("--clean left a %s match %r in %r" % (name, m.group(0), message[:300]))
    return message


# ---- payloads --------------------------------------------------------------------------------

def event_id(ts, stream_key, seq):
    """A 56-digit event id with the timestamp in its high bits, like CloudWatch Logs' own."""
    return "%056d" % ((ts << 144) | (stream_key << 32) | seq)


def payload_document(seed, index, n_events, start_ms, clean=False):
    """The subscription document of payload `index` and its last timestamp."""
    rng = random.Random("logship-bench/%s/%d" % (seed, index))
    source = SOURCES[index % len(SOURCES)](rng, index, start_ms, clean)
    stream_key = rng.getrandbits(112)
    events = []
    for seq, (ts, message) in zip(range(n_events), source.events(start_ms)):
        if clean:
            message = clean_message(message)
        events.append({"id": event_id(ts, stream_key, seq), "timestamp": ts, "message": message})
    doc = {"messageType": "DATA_MESSAGE", "owner": OWNER, "logGroup": source.log_group,
           "logStream": source.log_stream, "subscriptionFilters": SUBSCRIPTION_FILTERS, "logEvents": events}
    return doc, (events[-1]["timestamp"] if events else start_ms)


def encode(doc):
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return text, base64.b64encode(gzip.compress(text, compresslevel=6, mtime=0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     usage="%(prog)s OUTDIR [N] [EVENTS] [--seed SEED] [--start-ms MS] [--clean]")
    parser.add_argument("outdir")
    parser.add_argument("n", nargs="?", type=int, default=20, help="payloads (20)")
    parser.add_argument("events", nargs="?", type=int, default=2000, help="log events per payload (2000)")
    parser.add_argument("--seed", default="42", help="fixes every message, id and size (42)")
    parser.add_argument("--start-ms", type=int, default=None,
                        help="timestamp of the first event, ms since the epoch (default: one hour ago)")
    parser.add_argument("--clean", action="store_true",
                        help="the same payloads with nothing a redactor would find (addresses, emails, ...)")
    args = parser.parse_args()
    if args.n < 1 or args.events < 1:
        parser.error("N and EVENTS must be positive")
    start = args.start_ms if args.start_ms is not None else int(time.time() * 1000) - 3_600_000

    os.makedirs(args.outdir, exist_ok=True)
    width = max(3, len(str(args.n - 1)))
    names, json_bytes, gz_bytes, b64_bytes, events = [], 0, 0, 0, 0
    t = last = start
    for i in range(args.n):
        doc, last = payload_document(args.seed, i, args.events, t, args.clean)
        t = last + 1000 + (i * 7919) % 4000  # the next source's first event, a few seconds on
        text, data = encode(doc)
        name = "payload-%0*d.b64" % (width, i)
        # Written aside and renamed once all are written: readers never see half a set.
        with open(os.path.join(args.outdir, "." + name + ".tmp"), "wb") as f:
            f.write(data)
        names.append(name)
        events += len(doc["logEvents"])
        json_bytes += len(text)
        gz_bytes += len(base64.b64decode(data))
        b64_bytes += len(data)
    for name in names:
        os.replace(os.path.join(args.outdir, "." + name + ".tmp"), os.path.join(args.outdir, name))
    for name in os.listdir(args.outdir):
        if name.startswith("payload-") and name.endswith(".b64") and name not in names:
            os.remove(os.path.join(args.outdir, name))
    print("gen_payloads: %d%s payloads x %d events into %s: %d events, %.1f MB of JSON (%.0f B/event), "
          "%.2f MB gzip, %.2f MB base64, %s .. %s" % (
              args.n, " clean" if args.clean else "", args.events, args.outdir, events, json_bytes / 1e6, json_bytes / events, gz_bytes / 1e6,
              b64_bytes / 1e6, iso_ms(start), iso_ms(last)), file=sys.stderr)


if __name__ == "__main__":
    main()
