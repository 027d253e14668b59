//! The writer: log events into log groups and streams through PutLogEvents.
//!
//! It owns the service contract end to end: events the service would reject for their age are
//! counted, not sent; oversize events are split; the rest is packed by [`crate::batch::plan`]
//! into the fewest requests the rules allow; a missing group or stream is created on the first
//! `ResourceNotFoundException` (no DescribeLogStreams round trip before writing — which is also
//! how a group or stream deleted while the container is warm comes back); whatever the service
//! still reports in `rejectedLogEventsInfo` is counted per reason. Every call is retried within
//! the invocation's deadline by [`crate::retry`]. Requests of one stream and of different streams
//! are in flight together, up to `WRITE_CONCURRENCY` ([`concurrency`]); a [`Session`] starts
//! them while the rest of its input is still being read ([`session`]).
//!
//! Every input event ends up in exactly one of `written`, `rejected` or `failed`, and the
//! `origin`s of failed events are reported so a caller can fail exactly those inputs.

mod concurrency;
mod create;
mod session;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::SdkError;
use aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsError;
use aws_sdk_cloudwatchlogs::types::RejectedLogEventsInfo;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde::Serialize;

use crate::batch::{self, LogEvent, Rejection};
use crate::emf::{MetricRecord, Unit};
use crate::failure::{ErrorType, Typed};
use crate::retry::{self, Backoff, Deadline, RetryError, RetryStats};

pub use concurrency::{Concurrency, DEFAULT_WRITE_CONCURRENCY, MAX_WRITE_CONCURRENCY, Permit};
use create::Creations;
pub use session::Session;

/// Replaces a PutLogEvents request's body (the SDK serialised the group and stream only) with
/// `body` from [`batch::request_body`]. Runs before signing, so the signature covers it.
fn with_body(body: bytes::Bytes) -> impl Fn(&mut HttpRequest) + Send + Sync + 'static {
    move |req: &mut HttpRequest| {
        req.headers_mut()
            .insert("content-length", body.len().to_string());
        *req.body_mut() = SdkBody::from(body.clone());
    }
}

/// Counts of events the service refused (or would have), per the reasons of
/// `rejectedLogEventsInfo`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// Older than 14 days.
    pub too_old: u64,
    /// More than 2 hours in the future.
    pub too_new: u64,
    /// Older than the target group's retention period.
    pub expired: u64,
}

impl Rejected {
    pub fn total(&self) -> u64 {
        self.too_old + self.too_new + self.expired
    }

    pub fn add(&mut self, other: &Rejected) {
        self.too_old += other.too_old;
        self.too_new += other.too_new;
        self.expired += other.expired;
    }

    /// Adds `EventsRejected` and one metric per reason to an EMF record.
    pub fn metrics(&self, record: MetricRecord) -> MetricRecord {
        let c = |v: u64| v as f64;
        record
            .metric("EventsRejected", c(self.total()), Unit::Count)
            .metric("EventsRejectedTooOld", c(self.too_old), Unit::Count)
            .metric("EventsRejectedTooNew", c(self.too_new), Unit::Count)
            .metric("EventsRejectedExpired", c(self.expired), Unit::Count)
    }
}

/// What a write did. Event counts are in input events: an event split into parts counts once,
/// as written only when all its parts were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Input events the service accepted.
    pub written: u64,
    /// Input events the service rejected (or would have, for their timestamp).
    pub rejected: Rejected,
    /// Input events not written because a request failed; see `failed_origins`.
    pub failed: u64,
    /// Input events that had to be split to fit the 1 MB event limit.
    pub split: u64,
    /// PutLogEvents requests that succeeded.
    pub requests: u64,
    /// Bytes as the service counts them (message + 26 per event) in successful requests.
    pub bytes: u64,
    /// Retried attempts and throttling answers, over every call.
    pub retries: u64,
    pub throttles: u64,
    /// Groups and streams this write created.
    pub created_groups: u64,
    pub created_streams: u64,
    /// `origin`s of the events that were not written, so callers can fail exactly those inputs.
    pub failed_origins: BTreeSet<u32>,
    /// Why the first failed request failed.
    pub error: Option<WriteError>,
}

impl WriteReport {
    /// Input events accounted for.
    pub fn events(&self) -> u64 {
        self.written + self.rejected.total() + self.failed
    }

    pub fn add(&mut self, other: WriteReport) {
        self.written += other.written;
        self.rejected.add(&other.rejected);
        self.failed += other.failed;
        self.split += other.split;
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.retries += other.retries;
        self.throttles += other.throttles;
        self.created_groups += other.created_groups;
        self.created_streams += other.created_streams;
        self.failed_origins.extend(other.failed_origins);
        if self.error.is_none() {
            self.error = other.error;
        }
    }

    /// Adds this report's counters to an EMF record.
    pub fn metrics(&self, record: MetricRecord) -> MetricRecord {
        let c = |v: u64| v as f64;
        let record = record.metric("EventsWritten", c(self.written), Unit::Count);
        self.rejected
            .metrics(record)
            .metric("EventsFailed", c(self.failed), Unit::Count)
            .metric("EventsSplit", c(self.split), Unit::Count)
            .metric("PutLogEventsRequests", c(self.requests), Unit::Count)
            .metric("BytesWritten", c(self.bytes), Unit::Bytes)
            .metric("Retries", c(self.retries), Unit::Count)
            .metric("Throttles", c(self.throttles), Unit::Count)
    }

    fn add_retries(&mut self, stats: RetryStats) {
        self.retries += stats.retries;
        self.throttles += stats.throttles;
    }
}

/// Why a request to CloudWatch Logs failed for good: a permanent error, or the deadline came
/// first.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("PutLogEvents to {group} / {stream} failed: {cause}")]
    PutLogEvents {
        group: String,
        stream: String,
        cause: Cause,
    },
    #[error("CreateLogGroup {group} failed: {cause}")]
    CreateLogGroup { group: String, cause: Cause },
    #[error("CreateLogStream {group} / {stream} failed: {cause}")]
    CreateLogStream {
        group: String,
        stream: String,
        cause: Cause,
    },
}

impl WriteError {
    pub fn cause(&self) -> &Cause {
        match self {
            WriteError::PutLogEvents { cause, .. }
            | WriteError::CreateLogGroup { cause, .. }
            | WriteError::CreateLogStream { cause, .. } => cause,
        }
    }
}

impl Typed for WriteError {
    /// A refusal is `WriteFailed`; running out of time while retrying is `DeadlineExceeded`
    /// (more time, or less throttling, would have written the events); a target role that
    /// could not be assumed is `AssumeRoleFailed`.
    fn error_type(&self) -> ErrorType {
        match self.cause() {
            Cause::Refused(_) => ErrorType::WriteFailed,
            Cause::Deadline(_) => ErrorType::DeadlineExceeded,
            Cause::AssumeRole(_) => ErrorType::AssumeRoleFailed,
        }
    }
}

/// Why a call to CloudWatch Logs gave up, in words: the service refused it, the invocation's
/// deadline came while it was being retried, or no credentials for `TARGET_ROLE_ARN` could be
/// had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    Refused(String),
    Deadline(String),
    AssumeRole(String),
}

impl Cause {
    /// `e` told as the answer to `call` (a call made on the way, such as PutRetentionPolicy).
    fn of_call<E: std::error::Error + 'static>(call: &str, e: RetryError<E>) -> Self {
        match Cause::from(e) {
            Cause::Refused(m) => Cause::Refused(format!("{call}: {m}")),
            Cause::Deadline(m) => Cause::Deadline(format!("{call}: {m}")),
            Cause::AssumeRole(m) => Cause::AssumeRole(m),
        }
    }
}

impl<E: std::error::Error + 'static> From<RetryError<E>> for Cause {
    fn from(e: RetryError<E>) -> Self {
        match &e {
            RetryError::Failed(f) => match crate::retry::could_not_assume(f) {
                Some(c) => Cause::AssumeRole(c.to_string()),
                None => Cause::Refused(e.to_string()),
            },
            RetryError::Deadline { .. } => Cause::Deadline(e.to_string()),
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Refused(m) | Cause::Deadline(m) | Cause::AssumeRole(m) => f.write_str(m),
        }
    }
}

/// Tags, by key.
pub type Tags = std::collections::BTreeMap<String, String>;

/// A created group's tags: its source's (`PROPAGATE_SOURCE_TAGS`), then `TARGET_TAGS`, which
/// win where both name a key.
pub fn merged(source: Option<&Tags>, target: &Tags) -> Tags {
    let mut tags = source.cloned().unwrap_or_default();
    tags.extend(target.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags
}

/// Where a request goes, and the tags its group gets should the writer create it.
#[derive(Debug, Clone, Copy)]
struct Place<'a> {
    group: &'a str,
    stream: &'a str,
    tags: &'a Tags,
}

/// How the writer writes, and settings for groups it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// `WRITE_CONCURRENCY` (1–[`MAX_WRITE_CONCURRENCY`], default
    /// [`DEFAULT_WRITE_CONCURRENCY`]): PutLogEvents requests in flight at once, of one stream
    /// and of all, per container.
    pub write_concurrency: usize,
    /// `TARGET_RETENTION_DAYS`: retention set on groups the writer creates.
    pub retention_days: Option<i32>,
    /// `TARGET_KMS_KEY_ARN`: KMS key for groups the writer creates.
    pub kms_key_arn: Option<String>,
    /// `TARGET_TAGS`: tags of groups the writer creates (CreateLogGroup `tags`), e.g. for cost
    /// allocation. Groups that exist already are left as they are.
    pub tags: Tags,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            write_concurrency: DEFAULT_WRITE_CONCURRENCY,
            retention_days: None,
            kms_key_arn: None,
            tags: Tags::new(),
        }
    }
}

/// The time frame of one invocation's writes.
#[derive(Debug, Clone, Copy)]
pub struct WriteContext {
    /// Epoch milliseconds, for the service's 14 days / 2 hours window.
    pub now_ms: i64,
    /// No call runs past this.
    pub deadline: Deadline,
}

impl WriteContext {
    /// For a Lambda invocation whose deadline (epoch milliseconds) is `deadline_ms`, keeping
    /// `margin` to answer.
    pub fn for_invocation(deadline_ms: u64, margin: std::time::Duration) -> Self {
        Self {
            now_ms: epoch_ms(),
            deadline: Deadline::from_epoch_ms(deadline_ms, margin),
        }
    }
}

/// Milliseconds since the epoch, now.
pub fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Events bound for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamBatch {
    pub group: String,
    pub stream: String,
    pub events: Vec<LogEvent>,
    /// Tags for the group if the writer creates it, beside `TARGET_TAGS` (which win): the
    /// source group's, with `PROPAGATE_SOURCE_TAGS`.
    pub source_tags: Option<std::sync::Arc<Tags>>,
}

/// Writes log events through one SDK client, built once per container and shared by every
/// invocation.
#[derive(Debug, Clone)]
pub struct Writer {
    client: Client,
    options: WriterOptions,
    backoff: Backoff,
    /// Every request in flight, of every stream, holds one of its permits.
    concurrency: Arc<Concurrency>,
}

/// What one request did: its answer, or why it failed (`None`: not sent, an earlier request of
/// its stream having failed for good), and its own counters (retries, creations).
struct Sent {
    answer: Result<Option<RejectedLogEventsInfo>, Option<WriteError>>,
    report: WriteReport,
}

impl Writer {
    pub fn new(client: Client, options: WriterOptions) -> Self {
        let concurrency = Arc::new(Concurrency::new(options.write_concurrency));
        Self {
            client,
            options,
            backoff: Backoff::default(),
            concurrency,
        }
    }

    /// Replaces the retry backoff (tests shorten it).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The bound on requests in flight, and what throttling has done to it.
    pub fn concurrency(&self) -> &Concurrency {
        &self.concurrency
    }

    /// Writes several streams at once: every request of every stream is sent as soon as one of
    /// the `WRITE_CONCURRENCY` permits is free. The report sums the streams'.
    pub async fn write_all(&self, batches: Vec<StreamBatch>, ctx: WriteContext) -> WriteReport {
        let mut session = self.session(ctx);
        batches.into_iter().for_each(|b| session.add(b));
        session.finish().await
    }

    /// Writes `events` (any order) to `group`/`stream`. Never returns without accounting for
    /// every event: the report's `written + rejected + failed` is the number of input events.
    ///
    /// The future is boxed: the writer's state machine (batches × retries × creation) is deep,
    /// and callers nest it further (several streams, several queries); a box here keeps their
    /// types shallow enough for the compiler.
    pub fn write<'a>(
        &'a self,
        group: &'a str,
        stream: &'a str,
        events: Vec<LogEvent>,
        ctx: WriteContext,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = WriteReport> + Send + 'a>> {
        Box::pin(async move {
            let creations = Creations::default();
            let stop = AtomicBool::new(false);
            self.write_stream(&creations, group, stream, events, None, &stop, ctx)
                .await
        })
    }

    /// `stop` is the stream's: set once a request of it fails for good, it keeps the requests
    /// not yet sent (of this write_stream, and of the stream's later parts in a session) from
    /// being sent.
    #[allow(clippy::too_many_arguments)]
    async fn write_stream(
        &self,
        creations: &Creations,
        group: &str,
        stream: &str,
        events: Vec<LogEvent>,
        source_tags: Option<&Tags>,
        stop: &AtomicBool,
        ctx: WriteContext,
    ) -> WriteReport {
        // The tags of the group, should this write create it.
        let tags = match source_tags {
            None => std::borrow::Cow::Borrowed(&self.options.tags),
            Some(t) => std::borrow::Cow::Owned(merged(Some(t), &self.options.tags)),
        };
        let mut report = WriteReport::default();
        let mut sendable = Vec::with_capacity(events.len());
        let mut any_split = false;
        // `sendable` holds (input index, event); the parts of a split event share the index.
        for (i, e) in events.into_iter().enumerate() {
            match batch::rejection(e.timestamp, ctx.now_ms) {
                Some(Rejection::TooOld) => report.rejected.too_old += 1,
                Some(Rejection::TooNew) => report.rejected.too_new += 1,
                None => match batch::split_oversize(&e) {
                    None => sendable.push((i as u32, e)),
                    Some(parts) => {
                        report.split += 1;
                        any_split = true;
                        sendable.extend(parts.into_iter().map(|p| (i as u32, p)));
                    }
                },
            }
        }
        if sendable.is_empty() {
            return report;
        }
        // Stable sort: arrival order (and so part order) kept among equal timestamps. `plan`
        // sorts again; on sorted input that is one linear pass.
        sendable.sort_by_key(|(_, e)| e.timestamp);
        let (ids, mut events): (Vec<u32>, Vec<LogEvent>) = sendable.into_iter().unzip();
        let batches = batch::plan(&mut events);
        let place = Place {
            group,
            stream,
            tags: &tags,
        };
        // The stream's requests are in flight together, each sorted and within every rule on
        // its own (the service no longer orders one stream's requests: no sequence tokens).
        // Requests that share a millisecond at their boundary (the parts of a split event, a
        // burst logged within one millisecond) go one after another, in a chain: a reader sees
        // events of one timestamp in the order they were ingested, and so in the order logged.
        // Once a request fails for good, those not yet sent are not: they would meet the same
        // error or the same lack of time.
        // Each request owns its events, and frees them once its body is made: a request in
        // flight holds its body, not its events as well.
        let origins: Vec<u32> = events.iter().map(|e| e.origin).collect();
        let sizes: Vec<u64> = batches
            .iter()
            .map(|r| events[r.clone()].iter().map(|e| e.size() as u64).sum())
            .collect();
        let chain_lengths: Vec<usize> = chains(&events, &batches).map(<[_]>::len).collect();
        let mut requests = into_requests(events, &batches).into_iter();
        let chained: Vec<Vec<Vec<LogEvent>>> = chain_lengths
            .iter()
            .map(|&n| requests.by_ref().take(n).collect())
            .collect();
        let sends = chained.into_iter().map(|chain| async move {
            let mut sent = Vec::with_capacity(chain.len());
            for events in chain {
                sent.push(
                    self.send(creations, place, events, stop, ctx.deadline)
                        .await,
                );
            }
            sent
        });
        let sent = futures_util::future::join_all(sends).await;
        let mut outcome = vec![Outcome::Written; ids.len()];
        let mut not_written = 0;
        for ((range, size), sent) in batches.iter().zip(&sizes).zip(sent.into_iter().flatten()) {
            report.add(sent.report);
            match sent.answer {
                Ok(info) => {
                    report.requests += 1;
                    report.bytes += size;
                    if let Some(info) = info {
                        mark_rejected(&info, &mut outcome[range.clone()]);
                    }
                }
                Err(error) => {
                    not_written += 1;
                    outcome[range.clone()]
                        .iter_mut()
                        .for_each(|o| *o = Outcome::Failed);
                    if report.error.is_none() {
                        report.error = error;
                    }
                }
            }
        }
        if let Some(e) = &report.error {
            tracing::warn!(group, stream, error = %e, requests_not_written = not_written, requests = batches.len(), "write failed");
        }
        // Fold per-part outcomes into per-input-event counts: a split event is written only if
        // every part was; otherwise it is failed (or rejected, if a part was rejected).
        let mut per_event: Vec<(u32, Outcome, u32)> = ids
            .iter()
            .zip(&outcome)
            .zip(&origins)
            .map(|((id, o), origin)| (*id, *o, *origin))
            .collect();
        if any_split {
            per_event.sort_by_key(|(id, _, _)| *id);
            per_event.dedup_by(|b, a| {
                let same = a.0 == b.0;
                if same {
                    a.1 = a.1.worst(b.1);
                }
                same
            });
        }
        for (_, o, origin) in per_event {
            match o {
                Outcome::Written => report.written += 1,
                Outcome::TooOld => report.rejected.too_old += 1,
                Outcome::TooNew => report.rejected.too_new += 1,
                Outcome::Expired => report.rejected.expired += 1,
                Outcome::Failed => {
                    report.failed += 1;
                    report.failed_origins.insert(origin);
                }
            }
        }
        if report.rejected.total() > 0 {
            tracing::warn!(
                group,
                stream,
                too_old = report.rejected.too_old,
                too_new = report.rejected.too_new,
                expired = report.rejected.expired,
                "events rejected for their timestamp"
            );
        }
        report
    }

    /// One request, once a permit is free: sent (with its retries and any creation), or not
    /// sent if `stop` says an earlier request of the stream failed for good meanwhile.
    async fn send(
        &self,
        creations: &Creations,
        place: Place<'_>,
        events: Vec<LogEvent>,
        stop: &AtomicBool,
        deadline: Deadline,
    ) -> Sent {
        let mut report = WriteReport::default();
        // The body is made once a permit is free, so that the bodies in memory are those of
        // the requests in flight.
        let permit = self.concurrency.acquire().await;
        if stop.load(Ordering::Relaxed) {
            batch::release(events);
            return Sent {
                answer: Err(None),
                report,
            };
        }
        // The body is serialised once, here, with the messages copied as they are (they are
        // kept JSON-escaped), and every attempt sends it: the SDK still resolves the endpoint,
        // signs, sends and parses the answer, but does not build and escape every event again.
        let mut body = Vec::new();
        batch::request_body(place.group, place.stream, &events, &mut body);
        // Done with the events: their messages' references to the decoded documents go back a
        // run at a time, not one atomic operation each.
        batch::release(events);
        let mut stats = RetryStats::default();
        let first = Mutex::new(Some(permit));
        let answer = self
            .put_batch(
                creations,
                place,
                body.into(),
                &first,
                deadline,
                &mut stats,
                &mut report,
            )
            .await;
        report.add_retries(stats);
        if answer.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        Sent {
            answer: answer.map_err(Some),
            report,
        }
    }

    /// One PutLogEvents request (its `body` from [`batch::request_body`]), creating the group
    /// and/or stream on ResourceNotFound.
    ///
    /// Each attempt holds a permit while it is in flight (the first one `first`, taken before
    /// the body was made), and none while it waits to be retried: a throttled request's retry
    /// queues behind the requests waiting, under the lowered limit, rather than adding to the
    /// burst. The attempt tells the [`Concurrency`] how it went before it gives its permit
    /// back, so a lowered limit applies to the next request let through.
    #[allow(clippy::too_many_arguments)]
    async fn put_batch(
        &self,
        creations: &Creations,
        place: Place<'_>,
        body: bytes::Bytes,
        first: &Mutex<Option<Permit<'_>>>,
        deadline: Deadline,
        stats: &mut RetryStats,
        report: &mut WriteReport,
    ) -> Result<Option<RejectedLogEventsInfo>, WriteError> {
        let Place { group, stream, .. } = place;
        let put_err = |e: RetryError<PutLogEventsError>| WriteError::PutLogEvents {
            group: group.into(),
            stream: stream.into(),
            cause: e.into(),
        };
        let concurrency = &*self.concurrency;
        let put = || {
            let sent = self
                .client
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .customize()
                .mutate_request(with_body(body.clone()))
                .send();
            async move {
                let taken = first.lock().unwrap_or_else(|e| e.into_inner()).take();
                let permit = match taken {
                    Some(p) => p,
                    None => concurrency.acquire().await,
                };
                let epoch = concurrency.epoch();
                let answer = sent.await;
                match &answer {
                    Ok(_) => concurrency.succeeded(),
                    Err(e) if retry::classify(e) == retry::Class::Throttle => {
                        concurrency.throttled(epoch)
                    }
                    Err(_) => {}
                }
                drop(permit);
                answer
            }
        };
        match retry::retry(deadline, self.backoff, stats, put).await {
            Ok(out) => Ok(out.rejected_log_events_info().cloned()),
            Err(RetryError::Failed(SdkError::ServiceError(e)))
                if matches!(e.err(), PutLogEventsError::ResourceNotFoundException(_)) =>
            {
                self.create_stream(creations, place, deadline, stats, report)
                    .await?;
                match retry::retry(deadline, self.backoff, stats, put).await {
                    Ok(out) => Ok(out.rejected_log_events_info().cloned()),
                    Err(e) => Err(put_err(e)),
                }
            }
            Err(e) => Err(put_err(e)),
        }
    }
}

/// `events` cut into the requests of `batches` (consecutive ranges covering them, in order).
fn into_requests(
    mut events: Vec<LogEvent>,
    batches: &[std::ops::Range<usize>],
) -> Vec<Vec<LogEvent>> {
    // From the end, so that each split moves only the request it takes.
    let mut requests: Vec<Vec<LogEvent>> = batches
        .iter()
        .rev()
        .map(|r| events.split_off(r.start.min(events.len())))
        .collect();
    requests.reverse();
    requests
}

/// `batches` (consecutive ranges of `events`, sorted by timestamp) cut into chains, in order:
/// a batch whose first event has its predecessor's last timestamp joins its predecessor's chain.
fn chains<'a>(
    events: &'a [LogEvent],
    batches: &'a [std::ops::Range<usize>],
) -> impl Iterator<Item = &'a [std::ops::Range<usize>]> + 'a {
    batches.chunk_by(move |a, b| {
        a.end > a.start
            && b.end > b.start
            && events[a.end - 1].timestamp == events[b.start].timestamp
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Written,
    TooOld,
    TooNew,
    Expired,
    Failed,
}

impl Outcome {
    /// For the parts of a split event: failed beats rejected beats written.
    fn worst(self, other: Outcome) -> Outcome {
        let rank = |o: Outcome| match o {
            Outcome::Written => 0,
            Outcome::TooOld | Outcome::TooNew | Outcome::Expired => 1,
            Outcome::Failed => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// Applies `rejectedLogEventsInfo` to one request's events: indices below
/// `expiredLogEventEndIndex` expired, below `tooOldLogEventEndIndex` too old (both exclusive),
/// from `tooNewLogEventStartIndex` on too new (inclusive).
fn mark_rejected(info: &RejectedLogEventsInfo, outcome: &mut [Outcome]) {
    let n = outcome.len();
    let clamp = |v: Option<i32>| v.map(|v| (v.max(0) as usize).min(n));
    if let Some(end) = clamp(info.too_old_log_event_end_index()) {
        outcome[..end].iter_mut().for_each(|o| *o = Outcome::TooOld);
    }
    if let Some(end) = clamp(info.expired_log_event_end_index()) {
        outcome[..end]
            .iter_mut()
            .for_each(|o| *o = Outcome::Expired);
    }
    if let Some(start) = clamp(info.too_new_log_event_start_index()) {
        outcome[start..]
            .iter_mut()
            .for_each(|o| *o = Outcome::TooNew);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_sharing_a_millisecond_at_their_boundary_are_chained() {
        let ev = |timestamp: i64| LogEvent {
            timestamp,
            message: "m".into(),
            origin: 0,
        };
        // Timestamps by request: [1,2] [2,3] [4] [5,5] [5] [6].
        let events: Vec<LogEvent> = [1, 2, 2, 3, 4, 5, 5, 5, 6].into_iter().map(ev).collect();
        let batches = vec![0..2, 2..4, 4..5, 5..7, 7..8, 8..9];
        let got: Vec<Vec<std::ops::Range<usize>>> =
            chains(&events, &batches).map(|c| c.to_vec()).collect();
        assert_eq!(
            got,
            vec![vec![0..2, 2..4], vec![4..5], vec![5..7, 7..8], vec![8..9]]
        );
        assert_eq!(chains(&events, &[]).count(), 0);
        let requests = into_requests(events, &batches);
        let got: Vec<Vec<i64>> = requests
            .iter()
            .map(|r| r.iter().map(|e| e.timestamp).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![1, 2],
                vec![2, 3],
                vec![4],
                vec![5, 5],
                vec![5],
                vec![6]
            ]
        );
    }

    #[test]
    fn rejected_indices_follow_the_api_reference() {
        let info = RejectedLogEventsInfo::builder()
            .too_old_log_event_end_index(3)
            .expired_log_event_end_index(1)
            .too_new_log_event_start_index(8)
            .build();
        let mut o = vec![Outcome::Written; 10];
        mark_rejected(&info, &mut o);
        use Outcome::*;
        assert_eq!(
            o,
            vec![
                Expired, TooOld, TooOld, Written, Written, Written, Written, Written, TooNew,
                TooNew
            ]
        );
        // Hostile indices are clamped, never out of bounds.
        let info = RejectedLogEventsInfo::builder()
            .too_old_log_event_end_index(99)
            .too_new_log_event_start_index(-4)
            .build();
        let mut o = vec![Outcome::Written; 3];
        mark_rejected(&info, &mut o);
        assert_eq!(o, vec![TooNew; 3]);
    }
}
