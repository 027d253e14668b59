//! An in-process AWS Lambda Runtime API, so the real function binaries run exactly as under a
//! `provided.al2023` custom runtime: they long-poll `/next`, get the event with the same headers
//! Lambda sends, and post their result to `/response` or `/error`.
//!
//! What `lambda_runtime` 1.5 (client `lambda_runtime_api_client` 1.1) sends, and what this server
//! answers (see the crate sources for the details this mirrors):
//! - `GET /2018-06-01/runtime/invocation/next`, `User-Agent: aws-lambda-rust/1.1.1` (the *client*
//!   crate's version). No client-side timeout: the poll may wait forever. It reads
//!   `Lambda-Runtime-Aws-Request-Id` and `Lambda-Runtime-Deadline-Ms` with `expect` (their absence
//!   panics the runtime), and never looks at the status code except that debug builds skip a 204
//!   and exit on a 5xx. A transport error on `/next` ends the runtime (`run` returns `Err`).
//! - `POST .../invocation/{id}/response`: body `serde_json::to_vec(&result)`, **no
//!   Content-Type**. A non-2xx answer is only logged ("Lambda Runtime API returned non-200").
//! - `POST .../invocation/{id}/error`: body `{"errorType","errorMessage"}`, header
//!   `Lambda-Runtime-Function-Error-Type: unhandled`. `errorType` is a Rust type name of a
//!   *reference*, e.g. `&lambda_runtime::deserializer::DeserializeError` for an event that does
//!   not deserialize (its message ends in a newline), `&alloc::boxed::Box<dyn core::any::Any +
//!   core::marker::Send>` for a handler panic (message `Lambda panicked: ...`).
//! - `POST .../init/error` only in the SnapStart lifecycle (`AWS_LAMBDA_INITIALIZATION_TYPE=
//!   snap-start`); an ordinary init failure (main returning `Err` before `run`) posts nothing,
//!   the process just exits.
//!
//! Connections are HTTP/1.1 keep-alive from a hyper pool (one idle connection).

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header,
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    sync::{Notify, oneshot},
    task::{JoinHandle, JoinSet},
};

const PREFIX: &str = "/2018-06-01/runtime";
/// Lambda's synchronous response limit; bigger responses fail the invocation, as in AWS.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// How long a queued invocation may wait for the function to poll `/next`. Lambda's init limit
/// is 10 s; a debug binary on a busy 2-core machine gets more.
pub const PICKUP_LIMIT: Duration = Duration::from_secs(30);
/// Slack after the deadline before `invoke` gives up (debug builds on a loaded machine).
pub const GRACE: Duration = Duration::from_secs(5);
/// Requests kept for failure messages.
const LOG_LIMIT: usize = 200;

/// The outcome of one invocation, as the caller of `Invoke` would see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// The function posted to `/response`: the body as it came (read it with
    /// [`Invocation::response`]).
    Response(Bytes),
    /// The function posted to `/error` (or the response was over [`MAX_RESPONSE_BYTES`]:
    /// `Function.ResponseSizeTooLarge`, as Lambda reports it).
    Error {
        error_type: String,
        error_message: String,
    },
}

impl Invocation {
    /// The response as JSON (a body that is not JSON becomes a JSON string); panics with the
    /// error if the function failed.
    #[track_caller]
    pub fn response(self) -> Value {
        let body = self.response_bytes();
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    }

    /// The response body as the function sent it; panics with the error if the function failed.
    #[track_caller]
    pub fn response_bytes(self) -> Bytes {
        match self {
            Invocation::Response(body) => body,
            Invocation::Error {
                error_type,
                error_message,
            } => panic!("the invocation failed: {error_type}: {error_message}"),
        }
    }

    /// `(errorType, errorMessage)`; panics with the response if the function succeeded.
    #[track_caller]
    pub fn error(self) -> (String, String) {
        match self {
            Invocation::Error {
                error_type,
                error_message,
            } => (error_type, error_message),
            Invocation::Response(body) => panic!(
                "expected an invocation error, got response {}",
                String::from_utf8_lossy(&body)
            ),
        }
    }
}

struct Queued {
    id: String,
    body: Bytes,
    timeout: Duration,
}

struct Pending {
    picked_up: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Sender<Invocation>>,
    /// When `/next` handed the invocation out.
    handed_out: Option<Instant>,
}

struct State {
    function_arn: String,
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    pending: Mutex<HashMap<String, Pending>>,
    first_next_at: OnceLock<Instant>,
    next_polls: AtomicUsize,
    init_error: Mutex<Option<Value>>,
    log: Mutex<VecDeque<String>>,
    durations: Mutex<Vec<Duration>>,
}

impl State {
    fn record(&self, line: String) {
        let mut log = lock(&self.log);
        log.push_back(line);
        if log.len() > LOG_LIMIT {
            log.pop_front();
        }
    }
}

/// The Runtime API server. Its tasks (listener and connections) are aborted on drop, which a
/// function still polling `/next` sees as a transport error: it exits.
pub struct RuntimeApi {
    state: Arc<State>,
    address: String,
    server: JoinHandle<()>,
    grace: Duration,
}

impl RuntimeApi {
    /// Binds 127.0.0.1 on a free port; the function is `logship-test`.
    pub async fn start() -> RuntimeApi {
        Self::start_named("logship-test").await
    }

    /// Binds 127.0.0.1 on a free port; `function_name` only shapes the invoked-function ARN.
    pub async fn start_named(function_name: &str) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API on 127.0.0.1:0");
        let address = listener.local_addr().expect("local_addr").to_string();
        let state = Arc::new(State {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            pending: Mutex::new(HashMap::new()),
            first_next_at: OnceLock::new(),
            durations: Mutex::new(Vec::new()),
            next_polls: AtomicUsize::new(0),
            init_error: Mutex::new(None),
            log: Mutex::new(VecDeque::new()),
        });
        let server = tokio::spawn(serve(listener, state.clone()));
        RuntimeApi {
            state,
            address,
            server,
            grace: GRACE,
        }
    }

    /// `127.0.0.1:PORT`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// Invokes the function synchronously (`RequestResponse`): queues `event` for `/next` and
    /// waits for its `/response` or `/error`. The deadline header is pickup time + `timeout`
    /// (Lambda's clock starts when the runtime receives the event, not during init).
    ///
    /// Panics if the function does not poll within [`PICKUP_LIMIT`], or does not answer within
    /// `timeout` + [`GRACE`] after pickup; the message carries the requests seen so far.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Invocation {
        let body = serde_json::to_vec(&event).expect("serialize the event");
        self.invoke_bytes(body.into(), timeout).await
    }

    /// [`RuntimeApi::invoke`] with the event's JSON text, as it goes on the wire.
    pub async fn invoke_bytes(&self, body: Bytes, timeout: Duration) -> Invocation {
        let id = request_id();
        let (picked_tx, picked_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        lock(&self.state.pending).insert(
            id.clone(),
            Pending {
                picked_up: Some(picked_tx),
                done: Some(done_tx),
                handed_out: None,
            },
        );
        lock(&self.state.queue).push_back(Queued {
            id: id.clone(),
            body,
            timeout,
        });
        self.state.queued.notify_waiters();

        if tokio::time::timeout(PICKUP_LIMIT, picked_rx).await.is_err() {
            let mut queue = lock(&self.state.queue);
            if let Some(pos) = queue.iter().position(|q| q.id == id) {
                queue.remove(pos);
                drop(queue);
                lock(&self.state.pending).remove(&id);
                panic!(
                    "invocation {id}: the function did not poll /next within {PICKUP_LIMIT:?} \
                     (not running? crashed at init?)\n{}",
                    self.diagnostics()
                );
            }
        }

        match tokio::time::timeout(timeout + self.grace, done_rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                lock(&self.state.pending).remove(&id);
                panic!(
                    "invocation {id}: no /response or /error within the {timeout:?} timeout + \
                     {:?} after the function picked it up (hung? crashed mid-invocation?)\n{}",
                    self.grace,
                    self.diagnostics()
                );
            }
        }
    }

    /// Each completed invocation's duration as Lambda bills it: from `/next` handing the event
    /// out to the `/response` (or `/error`) body fully received. Time between invocations
    /// (this server queueing the next event, its caller checking answers) is not in it.
    pub fn durations(&self) -> Vec<Duration> {
        lock(&self.state.durations).clone()
    }

    /// When the first `GET /next` arrived: the end of the function's init (cold start).
    pub fn first_next_at(&self) -> Option<Instant> {
        self.state.first_next_at.get().copied()
    }

    /// The body of `POST /runtime/init/error`, if one arrived.
    pub fn init_error(&self) -> Option<Value> {
        lock(&self.state.init_error).clone()
    }

    /// `GET /next` requests received so far (including one still waiting).
    pub fn next_polls(&self) -> usize {
        self.state.next_polls.load(Ordering::Relaxed)
    }

    /// The last requests served, as `METHOD path -> status [User-Agent]`, oldest first.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state.log).iter().cloned().collect()
    }

    fn diagnostics(&self) -> String {
        let requests = self.requests();
        format!(
            "Runtime API {}: {} GET /next so far, init error: {}, last requests:\n  {}",
            self.address,
            self.next_polls(),
            self.init_error()
                .map_or_else(|| "none".to_string(), |v| v.to_string()),
            if requests.is_empty() {
                "(none)".to_string()
            } else {
                requests.join("\n  ")
            }
        )
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every connection task.
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let state = state.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            // Errors here are a function closing its connection (e.g. killed mid-poll).
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Resp = Response<Full<Bytes>>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let resp = route(&state, req, &method, &path).await;
    state.record(format!(
        "{method} {path} -> {} [{agent}]",
        resp.status().as_u16()
    ));
    Ok(resp)
}

async fn route(state: &State, req: Request<Incoming>, method: &Method, path: &str) -> Resp {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return not_found(path);
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(state).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = (*id).to_owned();
            match read_body(req).await {
                Ok(body) => respond(state, &id, body),
                Err(resp) => resp,
            }
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let id = (*id).to_owned();
            let header_type = error_type_header(&req);
            match read_body(req).await {
                Ok(body) => fail(state, &id, body, header_type),
                Err(resp) => resp,
            }
        }
        (&Method::POST, ["init", "error"]) => {
            let header_type = error_type_header(&req);
            match read_body(req).await {
                Ok(body) => {
                    let (error_type, error_message) = parse_error(&body, header_type);
                    *lock(&state.init_error) = Some(serde_json::from_slice(&body).unwrap_or_else(
                        |_| json!({"errorType": error_type, "errorMessage": error_message}),
                    ));
                    accepted()
                }
                Err(resp) => resp,
            }
        }
        (
            _,
            ["invocation", "next"] | ["invocation", _, "response" | "error"] | ["init", "error"],
        ) => json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"errorType": "MethodNotAllowed", "errorMessage": format!("{method} {path}")}),
        ),
        _ => not_found(path),
    }
}

/// The long poll: waits until an invocation is queued, then hands it out with Lambda's headers.
async fn next(state: &State) -> Resp {
    state.first_next_at.get_or_init(Instant::now);
    state.next_polls.fetch_add(1, Ordering::Relaxed);
    let queued = loop {
        // Register interest before looking, so a push between the look and the wait is not lost.
        let notified = state.queued.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(q) = lock(&state.queue).pop_front() {
            break q;
        }
        // Cancel-safe: if the function hangs up mid-poll, hyper drops this future; nothing popped.
        notified.await;
    };
    if let Some(p) = lock(&state.pending).get_mut(&queued.id) {
        p.handed_out = Some(Instant::now());
        if let Some(tx) = p.picked_up.take() {
            let _ = tx.send(());
        }
    }
    let deadline = SystemTime::now() + queued.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Lambda-Runtime-Aws-Request-Id", &queued.id)
        .header("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string())
        .header("Lambda-Runtime-Invoked-Function-Arn", &state.function_arn)
        .header("Lambda-Runtime-Trace-Id", trace_id())
        .body(Full::new(queued.body))
        .expect("valid /next response")
}

fn respond(state: &State, id: &str, body: Bytes) -> Resp {
    if body.len() > MAX_RESPONSE_BYTES {
        let outcome = Invocation::Error {
            error_type: "Function.ResponseSizeTooLarge".into(),
            error_message: format!(
                "Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                body.len()
            ),
        };
        return match complete(state, id, outcome) {
            true => json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"errorType": "RequestEntityTooLarge",
                       "errorMessage": format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).")}),
            ),
            false => invalid_id(id),
        };
    }
    match complete(state, id, Invocation::Response(body)) {
        true => accepted(),
        false => invalid_id(id),
    }
}

fn fail(state: &State, id: &str, body: Bytes, header_type: Option<String>) -> Resp {
    let (error_type, error_message) = parse_error(&body, header_type);
    match complete(
        state,
        id,
        Invocation::Error {
            error_type,
            error_message,
        },
    ) {
        true => accepted(),
        false => invalid_id(id),
    }
}

/// Hands the outcome to the waiting `invoke`; false for an unknown or already answered id.
fn complete(state: &State, id: &str, outcome: Invocation) -> bool {
    let Some(pending) = lock(&state.pending).remove(id) else {
        return false;
    };
    if let Some(at) = pending.handed_out {
        lock(&state.durations).push(at.elapsed());
    }
    if let Some(tx) = pending.done {
        let _ = tx.send(outcome);
    }
    true
}

fn parse_error(body: &[u8], header_type: Option<String>) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let error_type = field("errorType")
        .or(header_type)
        .unwrap_or_else(|| "Unknown".into());
    let error_message =
        field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, error_message)
}

fn error_type_header(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Resp> {
    match req.into_body().collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(json_response(
            StatusCode::BAD_REQUEST,
            json!({"errorType": "InvalidRequestBody", "errorMessage": e.to_string()}),
        )),
    }
}

fn accepted() -> Resp {
    json_response(StatusCode::ACCEPTED, json!({"status": "OK"}))
}

fn invalid_id(id: &str) -> Resp {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"errorType": "InvalidRequestID", "errorMessage": format!("Invalid request ID: {id}")}),
    )
}

fn not_found(path: &str) -> Resp {
    json_response(
        StatusCode::NOT_FOUND,
        json!({"errorType": "NotFound", "errorMessage": format!("no such Runtime API path: {path}")}),
    )
}

fn json_response(status: StatusCode, body: Value) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

/// A UUID v4, the shape of Lambda's request ids.
fn request_id() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap())
            .collect()
    };
    let variant = ['8', '9', 'a', 'b'][fastrand::usize(..4)];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        hex(3),
        hex(12)
    )
}

/// An X-Ray trace header as Lambda passes it: `Root=1-<epoch hex>-<24 hex>;Parent=..;Sampled=0`.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "Root=1-{secs:08x}-{:024x};Parent={:016x};Sampled=0",
        fastrand::u128(..) >> 32,
        fastrand::u64(..)
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Conn, request};

    const UA: (&str, &str) = ("User-Agent", "aws-lambda-rust/1.1.1");

    #[tokio::test]
    async fn serves_next_response_and_error_over_one_keep_alive_connection() {
        let api = RuntimeApi::start_named("fn-under-test").await;
        assert!(api.first_next_at().is_none());
        let addr = api.address();

        // Plays lambda_runtime: one pooled connection, poll, answer, poll again.
        let client = tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await;
            for round in 0..2 {
                let next = conn
                    .send(
                        Method::GET,
                        "/2018-06-01/runtime/invocation/next",
                        &[UA],
                        vec![],
                    )
                    .await;
                assert_eq!(next.status, StatusCode::OK);
                let h = &next.headers;
                let id = h["lambda-runtime-aws-request-id"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let deadline: u128 = h["lambda-runtime-deadline-ms"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                assert!(
                    deadline > now + 2_000 && deadline <= now + 3_100,
                    "{deadline} vs {now}"
                );
                assert_eq!(
                    h["lambda-runtime-invoked-function-arn"],
                    "arn:aws:lambda:us-east-1:123456789012:function:fn-under-test"
                );
                assert!(
                    h["lambda-runtime-trace-id"]
                        .to_str()
                        .unwrap()
                        .starts_with("Root=1-")
                );
                let event: Value = serde_json::from_slice(&next.body).unwrap();
                assert_eq!(event["round"], round);
                let answer = if round == 0 {
                    conn.send(
                        Method::POST,
                        &format!("/2018-06-01/runtime/invocation/{id}/response"),
                        &[UA],
                        br#"{"ok":true}"#.to_vec(),
                    )
                    .await
                } else {
                    conn.send(
                        Method::POST,
                        &format!("/2018-06-01/runtime/invocation/{id}/error"),
                        &[UA, ("Lambda-Runtime-Function-Error-Type", "unhandled")],
                        br#"{"errorType":"&my::Error","errorMessage":"boom"}"#.to_vec(),
                    )
                    .await
                };
                assert_eq!(answer.status, StatusCode::ACCEPTED);
                // Answering twice is refused, as Lambda does.
                let again = conn
                    .send(
                        Method::POST,
                        &format!("/2018-06-01/runtime/invocation/{id}/response"),
                        &[UA],
                        b"{}".to_vec(),
                    )
                    .await;
                assert_eq!(again.status, StatusCode::BAD_REQUEST);
            }
        });

        let first = api
            .invoke(json!({"round": 0}), Duration::from_secs(3))
            .await;
        assert_eq!(first.response(), json!({"ok": true}));
        assert_eq!(
            api.durations().len(),
            1,
            "the completed invocation's billed duration is recorded"
        );
        let second = api
            .invoke(json!({"round": 1}), Duration::from_secs(3))
            .await;
        assert_eq!(
            second.error(),
            ("&my::Error".to_string(), "boom".to_string())
        );
        client.await.unwrap();
        assert!(api.first_next_at().is_some());
        assert_eq!(api.next_polls(), 2);
        assert!(
            api.requests()
                .iter()
                .all(|r| r.ends_with("[aws-lambda-rust/1.1.1]")),
            "{:?}",
            api.requests()
        );
    }

    #[tokio::test]
    async fn a_poll_waits_for_the_invocation() {
        let api = RuntimeApi::start().await;
        let addr = api.address();
        let poller = tokio::spawn(async move {
            let next = request(
                &addr,
                Method::GET,
                "/2018-06-01/runtime/invocation/next",
                b"",
            )
            .await;
            let id = next.headers["lambda-runtime-aws-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            // A non-JSON body is passed through as a string.
            request(
                &addr,
                Method::POST,
                &format!("/2018-06-01/runtime/invocation/{id}/response"),
                b"plain",
            )
            .await
            .status
        });
        // Let the poll arrive first (the usual order: function up, then invoke).
        while api.first_next_at().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let out = api.invoke(json!({}), Duration::from_secs(2)).await;
        assert_eq!(out.clone().response(), json!("plain"));
        assert_eq!(out, Invocation::Response(Bytes::from_static(b"plain")));
        assert_eq!(poller.await.unwrap(), StatusCode::ACCEPTED);
    }

    #[tokio::test]
    async fn init_error_unknown_ids_and_paths() {
        let api = RuntimeApi::start().await;
        let addr = api.address();
        assert!(api.init_error().is_none());
        let r = request(
            &addr,
            Method::POST,
            "/2018-06-01/runtime/init/error",
            br#"{"errorType":"Runtime.InitError","errorMessage":"no TARGET_LOG_GROUP"}"#,
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert_eq!(
            api.init_error(),
            Some(json!({"errorType":"Runtime.InitError","errorMessage":"no TARGET_LOG_GROUP"}))
        );
        let r = request(
            &addr,
            Method::POST,
            "/2018-06-01/runtime/invocation/nope/response",
            b"{}",
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = request(&addr, Method::GET, "/2018-06-01/runtime/whatever", b"").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = request(
            &addr,
            Method::POST,
            "/2018-06-01/runtime/invocation/next",
            b"",
        )
        .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn oversized_responses_fail_like_lambda() {
        let api = RuntimeApi::start().await;
        let addr = api.address();
        let client = tokio::spawn(async move {
            let next = request(
                &addr,
                Method::GET,
                "/2018-06-01/runtime/invocation/next",
                b"",
            )
            .await;
            let id = next.headers["lambda-runtime-aws-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let big = format!("\"{}\"", "x".repeat(MAX_RESPONSE_BYTES));
            request(
                &addr,
                Method::POST,
                &format!("/2018-06-01/runtime/invocation/{id}/response"),
                big.as_bytes(),
            )
            .await
            .status
        });
        let (error_type, _) = api.invoke(json!({}), Duration::from_secs(5)).await.error();
        assert_eq!(error_type, "Function.ResponseSizeTooLarge");
        assert_eq!(client.await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    #[should_panic(expected = "no /response or /error within")]
    async fn invoke_panics_when_the_function_never_answers() {
        let mut api = RuntimeApi::start().await;
        api.grace = Duration::from_millis(50);
        let addr = api.address();
        let _poller = tokio::spawn(async move {
            request(
                &addr,
                Method::GET,
                "/2018-06-01/runtime/invocation/next",
                b"",
            )
            .await
        });
        api.invoke(json!({}), Duration::from_millis(10)).await;
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.as_bytes()[14], b'4');
        assert_eq!(
            id.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
    }
}
