//! The subscription receiver: the three ways a CloudWatch Logs subscription reaches Lambda,
//! and what is shipped from each.
//!
//! - Direct delivery `{"awslogs":{"data":…}}`: every event is written, or the invocation fails
//!   so Lambda retries it and then sends it to the on-failure destination.
//! - Kinesis Data Streams `{"Records":[{"kinesis":{"data":…}}]}`: the partial batch response
//!   names exactly the records that could not be decoded or shipped.
//! - Firehose data transformation `{"invocationId":…,"records":[…]}`: each record becomes
//!   newline-delimited JSON returned to Firehose (`Ok`), `Dropped` or `ProcessingFailed`.
//!   Firehose delivers the result to its own destination; nothing is written to CloudWatch
//!   Logs on this path (that would duplicate on every Firehose retry). A record is read by its
//!   content ([`decode::firehose`]): gzip as CloudWatch Logs sends it, the plain documents
//!   Firehose's decompression leaves, or the message text its message extraction leaves.
//! - SQS `{"Records":[{"messageId":…,"body":…}]}` of Lambda on-failure records ([`replay`]):
//!   each record's original delivery is shipped again; the partial batch response names
//!   exactly the messages that still fail.
//!
//! Every event is accounted for in the [`Summary`]:
//! `events_in = shipped + dropped + rejected + failed`.

pub mod replay;
pub mod tags;

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::batch::LogEvent;
use crate::config::{MessageFormat, ReceiverConfig, Source};
use crate::decode::{
    self, DecodeError, FirehoseContent, MessageType, Scratch, SubscriptionLogEvent,
    SubscriptionPayload,
};
use crate::doc::SharedDoc;
use crate::emf::{MetricRecord, Unit};
use crate::failure::{ErrorType, Typed};
use crate::json::{self, EscapedStr, EscapedString, JsonText, Message};
use crate::writer::{Rejected, StreamBatch, WriteContext, WriteError, WriteReport, Writer};

/// Lambda's limit on a synchronous invocation's response (the bytes AWS names in the error):
/// a Firehose answer past it cannot be delivered, so it is not built.
pub const LAMBDA_RESPONSE_LIMIT_BYTES: usize = 6_291_556;

/// Which of the accepted event shapes an invocation carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Shape {
    Direct,
    Kinesis,
    Firehose,
    /// Replay: an SQS event of the on-failure queue's records.
    Sqs,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Direct => "direct",
            Shape::Kinesis => "kinesis",
            Shape::Firehose => "firehose",
            Shape::Sqs => "sqs",
        }
    }
}

/// The shapes the receiver accepts, for error messages.
pub const ACCEPTED_SHAPES: &str = "a CloudWatch Logs subscription delivery {\"awslogs\":{\"data\":\"<base64 gzip>\"}}, \
a Kinesis Data Streams event {\"Records\":[{\"kinesis\":{\"data\":…,\"sequenceNumber\":…}}]}, \
a Firehose data-transformation event {\"invocationId\":…,\"records\":[{\"recordId\":…,\"data\":…}]}, \
or an SQS event of Lambda on-failure records to replay {\"Records\":[{\"messageId\":…,\"body\":…}]}";

/// Why an invocation failed. Lambda retries a failed direct delivery and then sends it to the
/// on-failure destination / DLQ.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("unrecognised event ({0}); accepted shapes: {ACCEPTED_SHAPES}")]
    UnknownShape(String),
    #[error("malformed {shape:?} event: {message}")]
    Malformed { shape: Shape, message: String },
    #[error("cannot decode the subscription payload: {0}")]
    Decode(#[from] DecodeError),
    #[error(
        "the Firehose answer would exceed Lambda's response limit ({limit} bytes); lower the delivery stream's Lambda buffer size (0.2 MB keeps log payloads well inside it)"
    )]
    AnswerTooLarge { limit: usize },
    #[error(
        "the envelopes of the payload from {log_source} would take more than MAX_DECODED_BYTES ({limit} bytes): every event repeats the source's names; the payload is failed whole (MESSAGE_FORMAT=raw ships its messages as they are)"
    )]
    EnvelopesTooLarge { limit: usize, log_source: String },
    #[error(
        "the redacted messages of the payload from {log_source} would take more than MAX_DECODED_BYTES ({limit} bytes): a REDACT_RULES replacement longer than what it replaces grows the text at every match; the payload is failed whole"
    )]
    RedactedTooLarge { limit: usize, log_source: String },
    #[error(
        "{failed} of {events} events were not written ({written} written, {rejected} rejected): {cause}"
    )]
    Write {
        events: u64,
        written: u64,
        rejected: u64,
        failed: u64,
        cause: WriteError,
    },
}

impl Typed for ReceiverError {
    fn error_type(&self) -> ErrorType {
        match self {
            ReceiverError::UnknownShape(_) | ReceiverError::Malformed { .. } => {
                ErrorType::InvalidEvent
            }
            ReceiverError::Decode(e) => e.error_type(),
            ReceiverError::EnvelopesTooLarge { .. } | ReceiverError::RedactedTooLarge { .. } => {
                ErrorType::PayloadTooLarge
            }
            ReceiverError::AnswerTooLarge { .. } => ErrorType::ResponseTooLarge,
            ReceiverError::Write { cause, .. } => cause.error_type(),
        }
    }
}

/// Events dropped on purpose, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dropped {
    /// Events of `CONTROL_MESSAGE` payloads (CloudWatch Logs' health checks).
    pub control_message: u64,
    /// Not matching `INCLUDE_PATTERN`, or matching `EXCLUDE_PATTERN`.
    pub filtered: u64,
    /// From the function's own log group or the target group: shipping them would loop.
    pub loop_guard: u64,
    /// Empty messages, which the service refuses.
    pub empty: u64,
    /// Left out by `SAMPLE_RULES` ([`crate::sample`]).
    pub sampled: u64,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.control_message + self.filtered + self.loop_guard + self.empty + self.sampled
    }

    /// Adds `EventsDropped` and one metric per reason to an EMF record.
    pub fn metrics(&self, record: MetricRecord) -> MetricRecord {
        let c = |v: u64| v as f64;
        record
            .metric("EventsDropped", c(self.total()), Unit::Count)
            .metric(
                "EventsDroppedControlMessage",
                c(self.control_message),
                Unit::Count,
            )
            .metric("EventsDroppedFiltered", c(self.filtered), Unit::Count)
            .metric("EventsDroppedLoopGuard", c(self.loop_guard), Unit::Count)
            .metric("EventsDroppedEmpty", c(self.empty), Unit::Count)
            .metric("EventsDroppedSampled", c(self.sampled), Unit::Count)
    }
}

/// One invocation's accounting, logged as one structured line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub shape: Option<Shape>,
    /// Subscription payloads (documents) seen, and how many could not be decoded.
    pub payloads: u64,
    pub payloads_failed: u64,
    pub control_messages: u64,
    /// Log events in decoded payloads.
    pub events_in: u64,
    /// Written to CloudWatch Logs (direct, Kinesis) or returned to Firehose.
    pub shipped: u64,
    pub dropped: Dropped,
    pub rejected: Rejected,
    /// Not written because a request failed: the invocation or their record failed.
    pub failed: u64,
    /// Events split to fit the 1 MB event limit.
    pub split: u64,
    /// Events shipped with something redacted, and the replacements of each detector or
    /// rule (`REDACT`, `REDACT_RULES`), by name.
    pub redacted: u64,
    pub redactions: std::collections::BTreeMap<String, u64>,
    /// Retried calls and throttling answers from CloudWatch Logs.
    pub retries: u64,
    pub throttles: u64,
    /// Bytes shipped (as the service counts them for CloudWatch Logs; NDJSON bytes for Firehose).
    pub bytes: u64,
    pub requests: u64,
    /// Kinesis records or Firehose records that failed.
    pub records_failed: u64,
    /// Source groups whose tags could not be read for `PROPAGATE_SOURCE_TAGS` (another
    /// account's, usually): their new groups got `TARGET_TAGS` only.
    pub source_tags_unreadable: u64,
}

impl Summary {
    /// The conservation law every invocation obeys.
    pub fn is_conserved(&self) -> bool {
        self.events_in == self.shipped + self.dropped.total() + self.rejected.total() + self.failed
    }

    fn add_write(&mut self, r: &WriteReport) {
        self.shipped += r.written;
        self.rejected.add(&r.rejected);
        self.failed += r.failed;
        self.split += r.split;
        self.retries += r.retries;
        self.throttles += r.throttles;
        self.bytes += r.bytes;
        self.requests += r.requests;
    }

    /// Adds this invocation's counters to an EMF record.
    pub fn metrics(&self, record: MetricRecord) -> MetricRecord {
        let c = |v: u64| v as f64;
        let record = record
            .metric("Payloads", c(self.payloads), Unit::Count)
            .metric("PayloadsFailed", c(self.payloads_failed), Unit::Count)
            .metric("EventsIn", c(self.events_in), Unit::Count)
            .metric("EventsShipped", c(self.shipped), Unit::Count);
        let record = self.rejected.metrics(self.dropped.metrics(record));
        record
            .metric("EventsFailed", c(self.failed), Unit::Count)
            .metric("EventsSplit", c(self.split), Unit::Count)
            .metric("EventsRedacted", c(self.redacted), Unit::Count)
            .metric("PutLogEventsRequests", c(self.requests), Unit::Count)
            .metric("BytesShipped", c(self.bytes), Unit::Bytes)
            .metric("Retries", c(self.retries), Unit::Count)
            .metric("Throttles", c(self.throttles), Unit::Count)
            .metric("RecordsFailed", c(self.records_failed), Unit::Count)
    }

    /// One EMF record per detector or rule that replaced anything: `Redactions`, with the
    /// name as the `Rule` dimension beside `base`'s (a rule's count is a metric of its own
    /// without a metric name per rule, which alarms and dashboards could not know).
    pub fn redaction_metrics<'s>(
        &'s self,
        base: impl Fn() -> MetricRecord + 's,
    ) -> impl Iterator<Item = MetricRecord> + 's {
        self.redactions
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(move |(rule, n)| {
                base()
                    .dimension("Rule", rule)
                    .metric("Redactions", *n as f64, Unit::Count)
            })
    }

    /// The replacements by rule as one field of the summary line: `email=3,ipv4=1`.
    fn redactions_field(&self) -> String {
        let mut out = String::new();
        for (rule, n) in self.redactions.iter().filter(|(_, n)| **n > 0) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(rule);
            out.push('=');
            out.push_str(itoa::Buffer::new().format(*n));
        }
        out
    }

    /// Adds a payload's replacements by rule ([`crate::redact::Counts`]).
    fn add_redactions(&mut self, config: &ReceiverConfig, counts: &[u64]) {
        if let Some(r) = &config.redactor {
            for (rule, n) in r.rules().iter().zip(counts).filter(|(_, n)| **n > 0) {
                *self.redactions.entry(rule.name().to_owned()).or_default() += n;
            }
        }
    }

    /// Logs the summary as one structured line (JSON under `AWS_LAMBDA_LOG_FORMAT=JSON`).
    pub fn log(&self) {
        tracing::info!(
            shape = self.shape.map_or("unknown", Shape::as_str),
            payloads = self.payloads,
            payloads_failed = self.payloads_failed,
            control_messages = self.control_messages,
            events_in = self.events_in,
            shipped = self.shipped,
            dropped = self.dropped.total(),
            dropped_control_message = self.dropped.control_message,
            dropped_filtered = self.dropped.filtered,
            dropped_loop_guard = self.dropped.loop_guard,
            dropped_empty = self.dropped.empty,
            dropped_sampled = self.dropped.sampled,
            rejected = self.rejected.total(),
            rejected_too_old = self.rejected.too_old,
            rejected_too_new = self.rejected.too_new,
            rejected_expired = self.rejected.expired,
            failed = self.failed,
            split = self.split,
            redacted_events = self.redacted,
            redactions = %self.redactions_field(),
            retries = self.retries,
            throttles = self.throttles,
            bytes = self.bytes,
            requests = self.requests,
            records_failed = self.records_failed,
            source_tags_unreadable = self.source_tags_unreadable,
            conserved = self.is_conserved(),
            "invocation summary"
        );
    }
}

/// What an invocation produced: the answer for Lambda (or the error) and its accounting.
/// The answer is JSON text, serialised once here; the runtime sends it as it is.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<JsonText, ReceiverError>,
    pub summary: Summary,
}

// The event shapes, read straight from the event's JSON text. Strings borrow from it (base64
// holds nothing to unescape); `Cow` still takes an escaped `\/` from an unusual producer.

#[derive(Deserialize)]
struct DirectEvent<'a> {
    #[serde(borrow)]
    awslogs: AwsLogs<'a>,
}

#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
struct KinesisEvent<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<KinesisEventRecord<'a>>,
}

#[derive(Deserialize)]
struct KinesisEventRecord<'a> {
    #[serde(borrow)]
    kinesis: KinesisRecord<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KinesisRecord<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(borrow)]
    sequence_number: Cow<'a, str>,
}

#[derive(Deserialize)]
struct SqsEvent<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<SqsMessage<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SqsMessage<'a> {
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    /// An on-failure record's JSON, as text (escaped in the event, so usually a copy).
    #[serde(borrow)]
    body: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirehoseEvent<'a> {
    #[serde(borrow)]
    records: Vec<FirehoseRecord<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirehoseRecord<'a> {
    #[serde(borrow)]
    record_id: Cow<'a, str>,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// An event read in its shape.
enum Event<'a> {
    Direct(DirectEvent<'a>),
    Kinesis(KinesisEvent<'a>),
    Firehose(FirehoseEvent<'a>),
    Sqs(SqsEvent<'a>),
}

/// Every shape's fields at once: a well-formed event of any shape is read in one pass over its
/// JSON (a Firehose or Kinesis event is megabytes of base64, and each pass scans all of it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyEvent<'a> {
    #[serde(borrow)]
    awslogs: Option<AwsLogs<'a>>,
    #[serde(rename = "Records", borrow)]
    kinesis_records: Option<Vec<KinesisEventRecord<'a>>>,
    #[serde(borrow)]
    records: Option<Vec<FirehoseRecord<'a>>>,
    invocation_id: Option<IgnoredAny>,
    delivery_stream_arn: Option<IgnoredAny>,
}

/// Reads an event in its shape, told by its top-level keys as [`detect`] tells it. One pass
/// when every field it has is well-formed; otherwise the shape first ([`detect_raw`]), then that
/// shape's fields, so that the error says which of the two is wrong.
fn read_event(event: &RawValue) -> Result<Event<'_>, ReceiverError> {
    if let Ok(any) = serde_json::from_str::<AnyEvent<'_>>(event.get()) {
        let firehose = any.invocation_id.is_some() || any.delivery_stream_arn.is_some();
        if let Some(awslogs) = any.awslogs {
            return Ok(Event::Direct(DirectEvent { awslogs }));
        } else if let Some(records) = any.kinesis_records {
            return Ok(Event::Kinesis(KinesisEvent { records }));
        } else if let Some(records) = any.records.filter(|_| firehose) {
            return Ok(Event::Firehose(FirehoseEvent { records }));
        }
    }
    Ok(match detect_raw(event)? {
        Shape::Direct => Event::Direct(from_raw(Shape::Direct, event)?),
        Shape::Kinesis => Event::Kinesis(from_raw(Shape::Kinesis, event)?),
        Shape::Firehose => Event::Firehose(from_raw(Shape::Firehose, event)?),
        Shape::Sqs => Event::Sqs(from_raw(Shape::Sqs, event)?),
    })
}

/// The top-level keys that tell the shapes apart; values are skipped, not built.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Peek {
    awslogs: Option<IgnoredAny>,
    #[serde(rename = "Records")]
    batch_records: Option<Vec<PeekRecord>>,
    records: Option<IgnoredAny>,
    invocation_id: Option<IgnoredAny>,
    delivery_stream_arn: Option<IgnoredAny>,
}

/// What tells a Kinesis record from an SQS message (Lambda never mixes them in one batch).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeekRecord {
    event_source: Option<String>,
    body: Option<IgnoredAny>,
}

impl PeekRecord {
    fn is_sqs(&self) -> bool {
        self.event_source.as_deref() == Some("aws:sqs") || self.body.is_some()
    }
}

/// Tells the shape of an event from its JSON text, without building it.
pub fn detect_raw(event: &RawValue) -> Result<Shape, ReceiverError> {
    if let Ok(p) = serde_json::from_str::<Peek>(event.get()) {
        if p.awslogs.is_some() {
            return Ok(Shape::Direct);
        } else if let Some(records) = p.batch_records {
            return Ok(match records.first() {
                Some(r) if r.is_sqs() => Shape::Sqs,
                _ => Shape::Kinesis,
            });
        } else if p.records.is_some()
            && (p.invocation_id.is_some() || p.delivery_stream_arn.is_some())
        {
            return Ok(Shape::Firehose);
        }
    }
    // Not one of ours: build it to say what it is.
    match serde_json::from_str::<Value>(event.get()) {
        Ok(v) => detect(&v),
        Err(e) => Err(ReceiverError::UnknownShape(format!(
            "the event is not JSON: {e}"
        ))),
    }
}

/// Tells the shape of an event from its top-level keys.
pub fn detect(event: &Value) -> Result<Shape, ReceiverError> {
    let Value::Object(map) = event else {
        return Err(ReceiverError::UnknownShape(format!(
            "the event is a JSON {}, not an object",
            kind(event)
        )));
    };
    if map.contains_key("awslogs") {
        Ok(Shape::Direct)
    } else if let Some(records) = map.get("Records") {
        let first = records.as_array().and_then(|r| r.first());
        let sqs = first.is_some_and(|r| {
            r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
                || r.get("body").is_some()
        });
        Ok(if sqs { Shape::Sqs } else { Shape::Kinesis })
    } else if map.contains_key("records")
        && (map.contains_key("invocationId") || map.contains_key("deliveryStreamArn"))
    {
        Ok(Shape::Firehose)
    } else {
        let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
        Err(ReceiverError::UnknownShape(format!(
            "top-level keys {keys:?}"
        )))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Events bound for each target stream, in arrival order.
pub type Targets = HashMap<(String, String), Vec<LogEvent>>;

/// Each target group's source (owner, log group), for `PROPAGATE_SOURCE_TAGS`.
pub type Sources = HashMap<String, (String, String)>;

/// The tags target groups get from their sources (`None`: unreadable), by group.
type GroupTags = HashMap<String, Option<std::sync::Arc<crate::writer::Tags>>>;

/// The writer's input for `targets`.
pub fn batches(targets: Targets) -> Vec<StreamBatch> {
    targets
        .into_iter()
        .map(|((group, stream), events)| StreamBatch {
            group,
            stream,
            events,
            source_tags: None,
        })
        .collect()
}

/// The receiver: configuration, writer and decoding buffers, built once per container.
#[derive(Debug)]
pub struct Receiver {
    config: ReceiverConfig,
    writer: Writer,
    /// With `PROPAGATE_SOURCE_TAGS`: the sources' tags, read with the function's own client.
    source_tags: Option<tags::SourceTags>,
    /// Kept from one invocation to the next: the multi-MB inflated document is not allocated
    /// and zero-filled again each time. Locked only while decoding (never across a write).
    scratch: std::sync::Mutex<Scratch>,
}

impl Receiver {
    pub fn new(config: ReceiverConfig, writer: Writer) -> Self {
        Self {
            config,
            writer,
            source_tags: None,
            scratch: Default::default(),
        }
    }

    /// Reads the sources' tags with `own` (the function's own client, not the target's) when
    /// `PROPAGATE_SOURCE_TAGS` is on.
    pub fn with_source_tags(mut self, own: aws_sdk_cloudwatchlogs::Client) -> Self {
        if self.config.propagate_source_tags {
            self.source_tags = Some(tags::SourceTags::new(own));
        }
        self
    }

    /// The writer's input for `targets`: with `PROPAGATE_SOURCE_TAGS`, each batch carries its
    /// source's tags (looked up in a boxed future: the lookup's state stays off the handler's
    /// when propagation is off, as it is by default). `known` holds the tags of the groups
    /// already looked up in this invocation: a group is looked up once, for its first source.
    async fn batches(
        &self,
        targets: Targets,
        sources: &Sources,
        known: &mut GroupTags,
        ctx: WriteContext,
        summary: &mut Summary,
    ) -> Vec<StreamBatch> {
        if self.source_tags.is_none() {
            return batches(targets);
        }
        Box::pin(self.tagged_batches(targets, sources, known, ctx, summary)).await
    }

    /// The batches for `targets`, each with its source's tags.
    async fn tagged_batches(
        &self,
        targets: Targets,
        sources: &Sources,
        known: &mut GroupTags,
        ctx: WriteContext,
        summary: &mut Summary,
    ) -> Vec<StreamBatch> {
        let mut out = batches(targets);
        let Some(source_tags) = &self.source_tags else {
            return out;
        };
        for (group, (owner, source)) in sources {
            if known.contains_key(group) {
                continue;
            }
            let t = source_tags
                .of(
                    owner,
                    source,
                    ctx.deadline,
                    &mut summary.source_tags_unreadable,
                )
                .await;
            known.insert(group.clone(), t);
        }
        for b in &mut out {
            b.source_tags = known.get(b.group.as_str()).cloned().flatten();
        }
        out
    }

    fn scratch(&self) -> std::sync::MutexGuard<'_, Scratch> {
        // A panic while decoding cannot leave the buffers in a state that matters: they are
        // overwritten before they are read.
        self.scratch.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    /// A decode error with the redaction rules applied to its text: serde's schema errors
    /// quote a value of the wrong type, and the text is logged and returned to Lambda.
    fn scrub(&self, e: DecodeError) -> DecodeError {
        match (&self.config.redactor, e) {
            (
                Some(r),
                DecodeError::Schema {
                    message,
                    source_hint,
                },
            ) => DecodeError::Schema {
                message: r.scrub(&message).into_owned(),
                source_hint,
            },
            (_, e) => e,
        }
    }

    /// Handles one invocation (the event's JSON text); writes happen within `ctx`'s deadline.
    pub async fn handle(&self, event: &RawValue, ctx: WriteContext) -> Outcome {
        let mut summary = Summary::default();
        let result = match read_event(event) {
            Err(e) => {
                if let ReceiverError::Malformed { shape, .. } = e {
                    summary.shape = Some(shape);
                }
                Err(e)
            }
            Ok(Event::Direct(e)) => {
                summary.shape = Some(Shape::Direct);
                self.direct(e, ctx, &mut summary).await
            }
            Ok(Event::Kinesis(e)) => {
                summary.shape = Some(Shape::Kinesis);
                self.kinesis(e, ctx, &mut summary).await
            }
            Ok(Event::Firehose(e)) => {
                summary.shape = Some(Shape::Firehose);
                self.firehose(e, event.get().len(), &mut summary)
            }
            Ok(Event::Sqs(e)) => {
                summary.shape = Some(Shape::Sqs);
                self.replay(e, ctx, &mut summary).await
            }
        };
        Outcome { result, summary }
    }

    async fn direct(
        &self,
        e: DirectEvent<'_>,
        ctx: WriteContext,
        summary: &mut Summary,
    ) -> Result<JsonText, ReceiverError> {
        summary.payloads = 1;
        let mut targets = Targets::new();
        let mut sources = Sources::new();
        let decoded = self.decode_and_route(
            e.awslogs.data.as_bytes(),
            0,
            &mut targets,
            &mut sources,
            summary,
        );
        let doc = match decoded {
            Ok(doc) => doc,
            Err(err) => {
                summary.payloads_failed = 1;
                return Err(err);
            }
        };
        let batches = self
            .batches(targets, &sources, &mut GroupTags::new(), ctx, summary)
            .await;
        let report = self.writer.write_all(batches, ctx).await;
        self.scratch().recycle(doc);
        summary.add_write(&report);
        match report.error {
            None => Ok(JsonText::new("null".into())),
            Some(cause) => Err(ReceiverError::Write {
                events: report.written + report.rejected.total() + report.failed,
                written: report.written,
                rejected: report.rejected.total(),
                failed: report.failed,
                cause,
            }),
        }
    }

    /// One subscription payload (`data`, base64) decoded and routed into `targets`. Returns
    /// the document, for [`Scratch::recycle`] once its messages are written.
    fn decode_and_route(
        &self,
        data: &[u8],
        origin: u32,
        targets: &mut Targets,
        sources: &mut Sources,
        summary: &mut Summary,
    ) -> Result<SharedDoc, ReceiverError> {
        let doc = decode::decode_document(data, self.config.limits, &mut self.scratch())
            .map_err(|e| self.scrub(e))?;
        let payload = decode::parse_text(&doc).map_err(|e| self.scrub(e))?;
        route(&self.config, &doc, &payload, origin, targets, summary)?;
        if self.source_tags.is_some() && payload.message_type != MessageType::Control {
            let src = Source {
                owner: &payload.owner,
                log_group: &payload.log_group,
                log_stream: &payload.log_stream,
            };
            let (group, _) = self.config.target(src);
            // A group several sources share gets the first one's tags.
            sources
                .entry(group)
                .or_insert_with(|| (payload.owner.to_string(), payload.log_group.to_string()));
        }
        drop(payload);
        Ok(doc)
    }

    async fn kinesis(
        &self,
        e: KinesisEvent<'_>,
        ctx: WriteContext,
        summary: &mut Summary,
    ) -> Result<JsonText, ReceiverError> {
        let items = e.records.iter().map(|r| {
            let data = Ok(Cow::Borrowed(&*r.kinesis.data));
            (&*r.kinesis.sequence_number, data)
        });
        Ok(self.batch(Shape::Kinesis, items, ctx, summary).await)
    }

    /// Replay: each SQS message's on-failure record ([`replay::payload_of`]) is shipped again,
    /// the messages together as a Kinesis batch's records are.
    async fn replay(
        &self,
        e: SqsEvent<'_>,
        ctx: WriteContext,
        summary: &mut Summary,
    ) -> Result<JsonText, ReceiverError> {
        let items = e.records.iter().map(|m| {
            let data = replay::payload_of(&m.body).map_err(|e| e.to_string());
            (&*m.message_id, data)
        });
        Ok(self.batch(Shape::Sqs, items, ctx, summary).await)
    }

    /// A batch of subscription payloads, each with its item id (a Kinesis sequence number, an
    /// SQS message id) or why it has none: each payload decoded and routed in turn, its streams
    /// given to one write [`Session`](crate::writer::Session), which sends whole requests while
    /// the next payloads are decoded and the rest at the end. The partial batch response names
    /// exactly the items not written.
    async fn batch<'a, 'd>(
        &self,
        shape: Shape,
        items: impl ExactSizeIterator<Item = (&'a str, Result<Cow<'d, str>, String>)>,
        ctx: WriteContext,
        summary: &mut Summary,
    ) -> JsonText {
        let mut session = self.writer.session(ctx);
        let mut sources = Sources::new();
        let mut known = GroupTags::new();
        let mut ids = Vec::with_capacity(items.len());
        let mut failed = vec![false; items.len()];
        let mut docs = Vec::with_capacity(items.len());
        for (i, (id, data)) in items.enumerate() {
            summary.payloads += 1;
            ids.push(id);
            let mut targets = Targets::new();
            sources.clear();
            let routed = data.and_then(|data| {
                self.decode_and_route(
                    data.as_bytes(),
                    i as u32,
                    &mut targets,
                    &mut sources,
                    summary,
                )
                .map_err(|e| e.to_string())
            });
            match routed {
                Ok(doc) => docs.push(doc),
                Err(error) => {
                    summary.payloads_failed += 1;
                    failed[i] = true;
                    tracing::warn!(
                        shape = shape.as_str(),
                        item = id,
                        error,
                        "batch item cannot be shipped; reporting it in batchItemFailures"
                    );
                }
            }
            for b in self
                .batches(targets, &sources, &mut known, ctx, summary)
                .await
            {
                session.add(b);
            }
            session.pump().await;
        }
        let report = session.finish().await;
        {
            let mut scratch = self.scratch();
            docs.into_iter().for_each(|doc| scratch.recycle(doc));
        }
        summary.add_write(&report);
        for origin in &report.failed_origins {
            failed[*origin as usize] = true;
        }
        batch_item_failures(&ids, &failed, summary)
    }

    /// The Firehose answer, written as JSON text directly: each record's NDJSON lines are
    /// base64-encoded into it as they are written ([`Base64Lines`]).
    ///
    /// A record is read by its content ([`decode::decode_firehose_record`]): gzip or plain
    /// subscription documents, each shipped by [`firehose_lines`], or the message text
    /// Firehose's message extraction left, shipped by [`firehose_text_lines`]. A record is
    /// answered whole or not at all: when one of its documents cannot be read, what its earlier
    /// documents wrote and counted is taken back and the record is `ProcessingFailed`, with a
    /// warning naming the document and why.
    fn firehose(
        &self,
        e: FirehoseEvent<'_>,
        event_bytes: usize,
        summary: &mut Summary,
    ) -> Result<JsonText, ReceiverError> {
        let mut scratch = self.scratch();
        let mut stage = String::new();
        let b64 = &base64_simd::STANDARD;
        // The answer is 4/3 of the NDJSON, itself a little more than the JSON inflated, which
        // is 5-20 times the gzip: reserve for the usual case at once (untouched capacity costs
        // no memory) so that the multi-MB answer is not copied as it grows.
        let mut answer = String::with_capacity(
            event_bytes
                .saturating_mul(12)
                .min(LAMBDA_RESPONSE_LIMIT_BYTES),
        );
        answer.push_str("{\"records\":[");
        for (i, rec) in e.records.iter().enumerate() {
            summary.payloads += 1;
            if i > 0 {
                answer.push(',');
            }
            answer.push_str("{\"recordId\":");
            json::write_str(&rec.record_id, &mut answer);
            let decoded = decode::decode_firehose_record(
                rec.data.as_bytes(),
                self.config.limits,
                &mut scratch,
            );
            let shipped = decoded.and_then(|content| {
                // `data` before `result`: the NDJSON is encoded into the answer as it is
                // written, and whether any line remains is known only at its end. What was
                // counted and written before the record, to take back if it fails part-way.
                let (mark, counted) = (answer.len(), summary.clone());
                answer.push_str(",\"data\":\"");
                // What base64 of the NDJSON may take of what is left of the limit.
                let budget = LAMBDA_RESPONSE_LIMIT_BYTES.saturating_sub(answer.len()) / 4 * 3;
                let mut out = Base64Lines::new(&mut stage, &mut answer);
                let lines = match content {
                    FirehoseContent::Documents(docs) => {
                        firehose_documents(&self.config, docs, summary, &mut out, budget)
                    }
                    FirehoseContent::Messages(messages) => Ok(firehose_text_lines(
                        &self.config,
                        messages,
                        summary,
                        &mut out,
                        budget,
                    )),
                };
                match lines {
                    Ok(lines) => Ok(lines.map(|n| (n, out.finish()))),
                    Err(err) => {
                        // Lines still staged go with the stage, cleared for the next record.
                        answer.truncate(mark);
                        *summary = counted;
                        Err(err)
                    }
                }
            });
            match shipped {
                Err(err) => {
                    let err = self.scrub(err);
                    summary.payloads_failed += 1;
                    summary.records_failed += 1;
                    tracing::warn!(record_id = %rec.record_id, error = %err, "Firehose record cannot be decoded; ProcessingFailed");
                    answer.push_str(",\"result\":\"ProcessingFailed\",\"data\":\"");
                    b64.encode_append(base64_decode_lossy(&rec.data), &mut answer);
                    answer.push_str("\"}");
                }
                Ok(None) => {
                    // Nothing is answered: every event not dropped on purpose failed, and
                    // Firehose retries the batch or sends it to its error output.
                    summary.shipped = 0;
                    summary.bytes = 0;
                    summary.failed = summary.events_in - summary.dropped.total();
                    summary.records_failed = e.records.len() as u64;
                    return Err(ReceiverError::AnswerTooLarge {
                        limit: LAMBDA_RESPONSE_LIMIT_BYTES,
                    });
                }
                Ok(Some((lines, bytes))) => {
                    summary.shipped += lines;
                    summary.bytes += bytes as u64;
                    answer.push_str(if lines == 0 {
                        "\",\"result\":\"Dropped\"}"
                    } else {
                        "\",\"result\":\"Ok\"}"
                    });
                }
            }
        }
        answer.push_str("]}");
        Ok(JsonText::new(answer))
    }
}

/// What [`Receiver::route_event`] made of an event: everything [`Receiver::handle`] does but
/// the writes.
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Debug, Default)]
pub struct Routed {
    /// Direct, Kinesis and SQS events: the events bound for each target stream, each with its
    /// item's index as origin.
    pub targets: Targets,
    /// Kinesis and SQS events: the items that could not be decoded or routed, by index.
    pub failed_items: Vec<bool>,
    /// Firehose events: the answer.
    pub answer: Option<JsonText>,
    /// The documents the messages point into, for [`Receiver::recycle`].
    docs: Vec<SharedDoc>,
}

#[cfg(any(test, feature = "fuzzing"))]
impl Receiver {
    /// A receiver for paths that never write (Firehose, [`Receiver::route_event`]): its
    /// client points nowhere.
    pub fn offline(config: ReceiverConfig) -> Self {
        let client = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
        );
        let writer = Writer::new(client, config.common.writer.clone());
        Receiver::new(config, writer)
    }

    /// [`Receiver::handle`] without a write and without I/O, for the fuzz targets: the event
    /// read in its shape, each subscription payload decoded and routed as `handle` does
    /// ([`Receiver::decode_and_route`], [`replay::payload_of`]), a Firehose event answered
    /// ([`Receiver::firehose`] writes nothing). Nothing is shipped yet, so
    /// `summary.events_in = routed + dropped` where `handle` would write (Firehose: the whole
    /// conservation law).
    pub fn route_event(&self, event: &RawValue) -> (Result<Routed, ReceiverError>, Summary) {
        let mut summary = Summary::default();
        let mut routed = Routed::default();
        let mut sources = Sources::new();
        let mut items = |summary: &mut Summary, items: Vec<Result<Cow<'_, str>, String>>| {
            summary.payloads = items.len() as u64;
            for (i, data) in items.into_iter().enumerate() {
                let ok = data.and_then(|data| {
                    self.decode_and_route(
                        data.as_bytes(),
                        i as u32,
                        &mut routed.targets,
                        &mut sources,
                        summary,
                    )
                    .map_err(|e| e.to_string())
                });
                summary.payloads_failed += u64::from(ok.is_err());
                routed.failed_items.push(ok.is_err());
                routed.docs.extend(ok.ok());
            }
        };
        let result = match read_event(event) {
            Err(e) => {
                if let ReceiverError::Malformed { shape, .. } = e {
                    summary.shape = Some(shape);
                }
                Err(e)
            }
            Ok(Event::Direct(e)) => {
                summary.shape = Some(Shape::Direct);
                summary.payloads = 1;
                let data = e.awslogs.data.as_bytes();
                match self.decode_and_route(
                    data,
                    0,
                    &mut routed.targets,
                    &mut sources,
                    &mut summary,
                ) {
                    Ok(doc) => {
                        routed.docs.push(doc);
                        Ok(())
                    }
                    Err(e) => {
                        summary.payloads_failed = 1;
                        Err(e)
                    }
                }
            }
            Ok(Event::Kinesis(e)) => {
                summary.shape = Some(Shape::Kinesis);
                let data = e
                    .records
                    .iter()
                    .map(|r| Ok(Cow::Borrowed(&*r.kinesis.data)));
                items(&mut summary, data.collect());
                Ok(())
            }
            Ok(Event::Sqs(e)) => {
                summary.shape = Some(Shape::Sqs);
                let data = e
                    .records
                    .iter()
                    .map(|m| replay::payload_of(&m.body).map_err(|e| e.to_string()));
                items(&mut summary, data.collect());
                Ok(())
            }
            Ok(Event::Firehose(e)) => {
                summary.shape = Some(Shape::Firehose);
                self.firehose(e, event.get().len(), &mut summary)
                    .map(|answer| routed.answer = Some(answer))
            }
        };
        (result.map(|()| routed), summary)
    }

    /// Gives `routed`'s documents back to the decoding buffers once its events are dropped, as
    /// `handle` does after its writes: the next event is decoded into a used buffer.
    pub fn recycle(&self, routed: Routed) {
        let Routed { targets, docs, .. } = routed;
        targets.into_values().for_each(crate::batch::release);
        let mut scratch = self.scratch();
        docs.into_iter().for_each(|doc| scratch.recycle(doc));
    }
}

/// The partial batch response `{"batchItemFailures":[{"itemIdentifier":…}]}` of a Kinesis or
/// SQS batch: the ids of the `failed` items, in the batch's order.
fn batch_item_failures(ids: &[&str], failed: &[bool], summary: &mut Summary) -> JsonText {
    let mut text = String::from("{\"batchItemFailures\":[");
    let mut n = 0;
    for (id, _) in ids.iter().zip(failed).filter(|(_, f)| **f) {
        if n > 0 {
            text.push(',');
        }
        text.push_str("{\"itemIdentifier\":");
        json::write_str(id, &mut text);
        text.push('}');
        n += 1;
    }
    text.push_str("]}");
    summary.records_failed = n;
    JsonText::new(text)
}

/// Filters and formats one decoded payload's events into `targets` (by target group and
/// stream), tagging them with `origin` and counting in `summary` what it drops. Pure: no I/O.
/// Messages stay JSON-escaped ([`Message`]): as they came, they are ranges of `doc`, the
/// document `payload` was read from (`decode::decode_document`); an envelope is built around
/// them.
///
/// Envelopes are new text, and each repeats the source's names: a document of tiny events
/// from long-named sources inflates ~30 times. Past `MAX_DECODED_BYTES` of them the payload
/// is refused whole ([`ReceiverError::EnvelopesTooLarge`]) and left as if never routed, nothing
/// in `targets` or `summary`, like a payload that cannot be decoded.
pub fn route(
    config: &ReceiverConfig,
    doc: &SharedDoc,
    payload: &SubscriptionPayload<'_>,
    origin: u32,
    targets: &mut Targets,
    summary: &mut Summary,
) -> Result<(), ReceiverError> {
    let counted = summary.clone();
    let Some((src, group, stream)) = target(config, payload, summary) else {
        return Ok(());
    };
    let key = (group, stream);
    let events = targets.entry(key.clone()).or_default();
    let routed_before = events.len();
    let limit = config.limits.max_decoded_bytes;
    let mut counts = redaction_counts(config);
    // New text (envelopes, redacted messages): refused past the limit, see above.
    let mut bytes = 0usize;
    let mut too_large = None;
    match config.message_format {
        MessageFormat::Raw => {
            // The kept messages, escaped as they came, where they are in the document: a
            // reference to it for each, taken at once.
            events.reserve(payload.log_events.len());
            let mut refs = doc.refs(payload.log_events.len());
            // The payload's redacted messages, escaped, one after another in one buffer (not
            // two allocations each), and where each goes once the buffer is complete.
            let mut redacted = String::new();
            let mut places = Vec::new();
            for ev in &payload.log_events {
                // Both readers borrow every message from the document; a copy only if one ever
                // did not.
                let original = |refs: &mut _| {
                    Message::within(refs, ev.message)
                        .unwrap_or_else(|| Message::from_escaped(ev.message))
                };
                let message = match decide(config, ev, summary, &mut counts, &mut redacted) {
                    None => continue,
                    Some(Content::Original) => original(&mut refs),
                    Some(Content::Redacted { at, len }) => {
                        bytes += at.len();
                        if bytes > limit {
                            too_large = Some(ReceiverError::RedactedTooLarge {
                                limit,
                                log_source: log_source(payload),
                            });
                            break;
                        }
                        places.push((events.len(), at, len));
                        // In its place until then: the original.
                        original(&mut refs)
                    }
                };
                events.push(LogEvent {
                    timestamp: ev.timestamp,
                    message,
                    origin,
                });
            }
            if too_large.is_none() && !places.is_empty() {
                let shared = SharedDoc::new(redacted);
                let mut refs = shared.refs(places.len());
                for (i, range, len) in places {
                    events[i].message =
                        Message::at(&mut refs, range.clone(), len).unwrap_or_else(|| {
                            Message::from(EscapedString::from_parts(shared[range].to_owned(), len))
                        });
                }
            }
        }
        MessageFormat::Envelope => {
            let prefix = envelope_prefix(src);
            let (mut text, mut redacted) = (String::new(), String::new());
            for ev in &payload.log_events {
                redacted.clear();
                let Some(content) = decide(config, ev, summary, &mut counts, &mut redacted) else {
                    continue;
                };
                text.clear();
                envelope_into(&prefix, ev, content.redacted(&redacted), true, &mut text);
                let message = Message::from_text(&text);
                bytes += message.escaped().len();
                if bytes > limit {
                    too_large = Some(ReceiverError::EnvelopesTooLarge {
                        limit,
                        log_source: log_source(payload),
                    });
                    break;
                }
                events.push(LogEvent {
                    timestamp: ev.timestamp,
                    message,
                    origin,
                });
            }
        }
    }
    if let Some(err) = too_large {
        let refused: Vec<LogEvent> = events.drain(routed_before..).collect();
        crate::batch::release(refused);
        if events.is_empty() {
            targets.remove(&key);
        }
        *summary = counted;
        return Err(err);
    }
    summary.add_redactions(config, &counts);
    Ok(())
}

/// `group / stream` of a payload, for errors.
fn log_source(payload: &SubscriptionPayload<'_>) -> String {
    format!("{} / {}", payload.log_group, payload.log_stream)
}

/// The Firehose form of one decoded payload: one envelope line per event shipped, each ending
/// in a newline (so records concatenate), written to `out`. The same filters and drops as
/// [`route`]. Returns the number of lines, or `None` as soon as the NDJSON passes `budget`
/// bytes: each line repeats the source's names, so a document of many small events can
/// inflate many times over, and an answer past Lambda's limit is not worth the memory.
fn firehose_lines(
    config: &ReceiverConfig,
    payload: &SubscriptionPayload<'_>,
    summary: &mut Summary,
    out: &mut Base64Lines<'_>,
    budget: usize,
) -> Option<u64> {
    let Some((src, _, _)) = target(config, payload, summary) else {
        return Some(0);
    };
    let prefix = envelope_prefix(src);
    let mut lines = 0;
    let mut counts = redaction_counts(config);
    let mut redacted = String::new();
    for ev in &payload.log_events {
        redacted.clear();
        let Some(content) = decide(config, ev, summary, &mut counts, &mut redacted) else {
            continue;
        };
        envelope_into(&prefix, ev, content.redacted(&redacted), false, out.stage);
        out.stage.push('\n');
        lines += 1;
        if out.len() > budget {
            return None;
        }
        out.line_done();
    }
    summary.add_redactions(config, &counts);
    Some(lines)
}

/// The Firehose form of a record's subscription documents: [`firehose_lines`] for each, one
/// after another into `out`. The total of lines, `None` past `budget` (as [`firehose_lines`]),
/// or the error of the first document that cannot be read (the caller takes back what the
/// documents before it wrote and counted: a record is answered whole or not at all).
fn firehose_documents(
    config: &ReceiverConfig,
    docs: decode::firehose::Documents<'_>,
    summary: &mut Summary,
    out: &mut Base64Lines<'_>,
    budget: usize,
) -> Result<Option<u64>, DecodeError> {
    let mut lines = 0;
    for doc in docs {
        match firehose_lines(config, &doc?, summary, out, budget) {
            Some(n) => lines += n,
            None => return Ok(None),
        }
    }
    Ok(Some(lines))
}

/// The Firehose form of a record of extracted messages (Firehose's message extraction left only
/// each log event's `message`, one per line, see [`decode::firehose`]): one line
/// `{"message":…}` per message shipped, ending in a newline, written to `out`. The owner, log
/// group, log stream, id and timestamp are not in the record, so they are not in the line
/// either (nothing is made up); for the same reason the loop guard cannot apply.
///
/// Each line is an event: counted in `events_in`, and shipped or dropped by the same
/// per-message decision as a document's events ([`decide`]; an empty line is `dropped.empty`),
/// so the summary's conservation law holds for these records too, and redaction and sampling
/// apply. The event [`decide`] sees has no timestamp (0) and its message for an id: only its
/// message is known. Returns the number of lines,
/// or `None` as soon as the NDJSON passes `budget` bytes.
fn firehose_text_lines<'m>(
    config: &ReceiverConfig,
    messages: impl Iterator<Item = &'m str>,
    summary: &mut Summary,
    out: &mut Base64Lines<'_>,
    budget: usize,
) -> Option<u64> {
    let (mut escaped, mut redacted) = (String::new(), String::new());
    let mut lines = 0;
    let mut counts = redaction_counts(config);
    for text in messages {
        summary.events_in += 1;
        let message = EscapedStr::escaping(text, &mut escaped);
        // No id: the message stands for it, so sampling is still a pure function of the
        // event (the same line is kept or left out on every retry).
        let ev = SubscriptionLogEvent {
            id: message,
            timestamp: 0,
            message,
        };
        redacted.clear();
        let Some(content) = decide(config, &ev, summary, &mut counts, &mut redacted) else {
            continue;
        };
        let message = content.redacted(&redacted).unwrap_or(ev.message);
        out.stage.push_str("{\"message\":\"");
        out.stage.push_str(message.escaped());
        out.stage.push_str("\"}\n");
        lines += 1;
        if out.len() > budget {
            return None;
        }
        out.line_done();
    }
    summary.add_redactions(config, &counts);
    Some(lines)
}

/// NDJSON lines base64-encoded into the answer a few KB at a time, as they are written: the
/// staged text is still in cache when it is encoded, and a record's NDJSON (up to 4.5 MB) is
/// never whole in memory. Chunks of whole 3-byte groups encode to exactly the base64 of the
/// whole; the last chunk, at [`Base64Lines::finish`], carries the padding.
struct Base64Lines<'a> {
    stage: &'a mut String,
    answer: &'a mut String,
    /// NDJSON bytes already encoded.
    encoded: usize,
}

impl<'a> Base64Lines<'a> {
    /// Staged bytes past which whole groups are encoded.
    const FLUSH_AT: usize = 16 * 1024;

    fn new(stage: &'a mut String, answer: &'a mut String) -> Self {
        stage.clear();
        Self {
            stage,
            answer,
            encoded: 0,
        }
    }

    /// NDJSON bytes written so far.
    fn len(&self) -> usize {
        self.encoded + self.stage.len()
    }

    /// After each whole line. A line ends in `}\n`, so the at most 2 bytes kept back for the
    /// next group are ASCII and the split is on a character boundary.
    fn line_done(&mut self) {
        if self.stage.len() >= Self::FLUSH_AT {
            let whole = self.stage.len() / 3 * 3;
            base64_simd::STANDARD.encode_append(&self.stage.as_bytes()[..whole], self.answer);
            self.encoded += whole;
            self.stage.drain(..whole);
        }
    }

    /// Encodes what is left; returns the NDJSON's length.
    fn finish(self) -> usize {
        base64_simd::STANDARD.encode_append(self.stage.as_bytes(), self.answer);
        let len = self.encoded + self.stage.len();
        self.stage.clear();
        len
    }
}

/// The source of `payload` and the target its events go to; `None` (counted as dropped) when
/// none of them may be shipped: a control message, or a loop.
fn target<'p>(
    config: &ReceiverConfig,
    payload: &'p SubscriptionPayload<'_>,
    summary: &mut Summary,
) -> Option<(Source<'p>, String, String)> {
    let n = payload.log_events.len() as u64;
    summary.events_in += n;
    if payload.message_type == MessageType::Control {
        summary.control_messages += 1;
        summary.dropped.control_message += n;
        return None;
    }
    let src = Source {
        owner: &payload.owner,
        log_group: &payload.log_group,
        log_stream: &payload.log_stream,
    };
    let (group, stream) = config.target(src);
    if payload.log_group == group.as_str()
        || config.own_log_group.as_deref() == Some(&payload.log_group)
    {
        summary.dropped.loop_guard += n;
        tracing::warn!(source = %payload.log_group, target = %group, events = n, "events from the function's own log group or the target group are dropped: shipping them would loop");
        return None;
    }
    Some((src, group, stream))
}

/// What becomes of an event that is shipped.
#[derive(Debug, PartialEq, Eq)]
enum Content {
    /// Its message as it came (escaped, byte for byte).
    Original,
    /// Its message with something redacted: escaped, at `at` of the buffer [`decide`] wrote
    /// it to, `len` bytes of text.
    Redacted {
        at: std::ops::Range<usize>,
        len: usize,
    },
}

impl Content {
    /// The redacted message, if any, in `buf` (the buffer [`decide`] wrote it to).
    fn redacted<'b>(&self, buf: &'b str) -> Option<EscapedStr<'b>> {
        match self {
            Content::Original => None,
            Content::Redacted { at, len } => Some(EscapedStr::from_parts(&buf[at.clone()], *len)),
        }
    }
}

/// A zero count per redaction rule of `config` (none without `REDACT`/`REDACT_RULES`), for
/// one payload's replacements ([`Summary::add_redactions`]).
fn redaction_counts(config: &ReceiverConfig) -> crate::redact::Counts {
    config
        .redactor
        .as_ref()
        .map(|r| r.counts())
        .unwrap_or_default()
}

/// Whether `ev` is shipped, and with what message; counts it as dropped when not. In order:
/// empty messages, `INCLUDE_PATTERN`/`EXCLUDE_PATTERN` and `SAMPLE_RULES` on the message as it
/// came, then redaction of what is shipped. The text is unescaped only when one of them must
/// read it. A redacted message is appended to `redacted` (a route's buffer for all of a
/// payload's).
fn decide(
    config: &ReceiverConfig,
    ev: &SubscriptionLogEvent<'_>,
    summary: &mut Summary,
    counts: &mut [u64],
    redacted: &mut String,
) -> Option<Content> {
    if ev.message.is_empty() {
        summary.dropped.empty += 1;
        return None;
    }
    if config.filters() || config.sampler.is_some() {
        let text = ev.message.text();
        if config.filters() && !config.keeps(&text) {
            summary.dropped.filtered += 1;
            return None;
        }
        if let Some(sampler) = &config.sampler
            && !sampler.keeps(&ev.id.text(), &text)
        {
            summary.dropped.sampled += 1;
            return None;
        }
    }
    let Some(redactor) = &config.redactor else {
        return Some(Content::Original);
    };
    let start = redacted.len();
    Some(
        match redactor.redact_escaped_into(ev.message, counts, redacted) {
            None => Content::Original,
            // A custom rule with an empty replacement can leave nothing, and the service
            // refuses empty messages: dropped as any empty message is.
            Some(0) => {
                redacted.truncate(start);
                summary.dropped.empty += 1;
                return None;
            }
            Some(len) => {
                summary.redacted += 1;
                Content::Redacted {
                    at: start..redacted.len(),
                    len,
                }
            }
        },
    )
}

/// `{"owner":…,"logGroup":…,"logStream":…,"id":"` — the part of every envelope a payload's
/// events share, escaped once per payload.
pub fn envelope_prefix(src: Source<'_>) -> String {
    let mut p = String::with_capacity(64 + src.log_group.len() + src.log_stream.len());
    p.push_str("{\"owner\":");
    json::write_str(src.owner, &mut p);
    p.push_str(",\"logGroup\":");
    json::write_str(src.log_group, &mut p);
    p.push_str(",\"logStream\":");
    json::write_str(src.log_stream, &mut p);
    p.push_str(",\"id\":\"");
    p
}

/// Appends the envelope object of `ev` (after [`envelope_prefix`]): source `owner`, `logGroup`,
/// `logStream`, event `id`, `timestamp` and `message`, compact JSON. The id and message are
/// copied escaped, as they came, unless the message was redacted (`redacted` is what it became).
/// With `embed_json`, a message that is itself a JSON object is embedded as an object (so Logs
/// Insights and downstream tools see its fields; redaction keeps such a message an object),
/// otherwise it is a string.
pub fn envelope_into(
    prefix: &str,
    ev: &SubscriptionLogEvent<'_>,
    redacted: Option<EscapedStr<'_>>,
    embed_json: bool,
    out: &mut String,
) {
    let message = redacted.unwrap_or(ev.message);
    out.push_str(prefix);
    out.push_str(ev.id.escaped());
    out.push_str("\",\"timestamp\":");
    out.push_str(itoa::Buffer::new().format(ev.timestamp));
    out.push_str(",\"message\":");
    let text = embed_json.then(|| message.text());
    match text.as_deref().map(str::trim) {
        Some(t)
            if t.starts_with('{')
                && t.ends_with('}')
                && serde_json::from_str::<&RawValue>(t).is_ok() =>
        {
            out.push_str(t)
        }
        _ => {
            out.push('"');
            out.push_str(message.escaped());
            out.push('"');
        }
    }
    out.push('}');
}

fn from_raw<'a, T: Deserialize<'a>>(shape: Shape, event: &'a RawValue) -> Result<T, ReceiverError> {
    serde_json::from_str(event.get()).map_err(|e| ReceiverError::Malformed {
        shape,
        message: e.to_string(),
    })
}

/// The original record bytes for a ProcessingFailed answer (Firehose keeps the source record
/// in its error output either way); empty when the data was not base64 at all.
fn base64_decode_lossy(data: &str) -> Vec<u8> {
    let mut out = Vec::new();
    match decode::decode_base64(data.as_bytes(), &mut out) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn envelope_config(max_decoded_bytes: &str) -> ReceiverConfig {
        let vars = [
            ("TARGET_LOG_GROUP", "/central"),
            ("MESSAGE_FORMAT", "envelope"),
            ("MAX_DECODED_BYTES", max_decoded_bytes),
        ];
        ReceiverConfig::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    /// A document of `n` one-character events from a source whose names are `name_len` long.
    fn tiny_events(n: usize, name_len: usize) -> SharedDoc {
        let group = format!("/aws/lambda/{}", "g".repeat(name_len));
        let stream = "s".repeat(name_len);
        let events: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"id":"{i}","timestamp":{},"message":"x"}}"#,
                    1_700_000_000_000u64 + i as u64
                )
            })
            .collect();
        SharedDoc::new(format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"{group}","logStream":"{stream}","subscriptionFilters":[],"logEvents":[{}]}}"#,
            events.join(",")
        ))
    }

    #[test]
    fn envelopes_past_max_decoded_bytes_refuse_the_payload_and_leave_nothing_routed() {
        let config = envelope_config("65536");
        let mut targets = Targets::new();
        let mut summary = Summary::default();
        // Within the limit: routed.
        let small = tiny_events(10, 400);
        let payload = decode::parse_text(&small).unwrap();
        route(&config, &small, &payload, 0, &mut targets, &mut summary).unwrap();
        assert_eq!(targets.values().map(Vec::len).sum::<usize>(), 10);
        let (targets_before, summary_before) = (targets.clone(), summary.clone());
        // Same source, 40 KB of document, about 1 MB of envelopes: refused, and what was
        // routed before is as it was.
        let big = tiny_events(1_000, 400);
        assert!(
            big.len() < 65_536,
            "the document itself is within the limit"
        );
        let payload = decode::parse_text(&big).unwrap();
        let err = route(&config, &big, &payload, 1, &mut targets, &mut summary).unwrap_err();
        assert!(
            matches!(&err, ReceiverError::EnvelopesTooLarge { limit: 65_536, log_source } if log_source.starts_with("/aws/lambda/ggg")),
            "{err}"
        );
        assert!(
            err.to_string().contains("MAX_DECODED_BYTES (65536 bytes)"),
            "{err}"
        );
        assert_eq!(targets, targets_before);
        assert_eq!(summary, summary_before);
        // A new target is not left behind empty either.
        let mut fresh = Targets::new();
        let mut fresh_summary = Summary::default();
        assert!(route(&config, &big, &payload, 0, &mut fresh, &mut fresh_summary).is_err());
        assert!(fresh.is_empty());
        assert_eq!(fresh_summary, Summary::default());
    }

    /// An event read in one pass as [`read_event`] reads it, and shape first then fields as
    /// before it: the shape and the records, or the error.
    fn read_both_ways(text: &str) -> [Result<(Shape, Vec<String>), String>; 2] {
        let raw = RawValue::from_string(text.to_owned()).unwrap();
        let data = |ev: Event<'_>| match ev {
            Event::Direct(e) => (Shape::Direct, vec![e.awslogs.data.into_owned()]),
            Event::Kinesis(e) => (
                Shape::Kinesis,
                e.records
                    .into_iter()
                    .map(|r| r.kinesis.data.into_owned())
                    .collect(),
            ),
            Event::Firehose(e) => (
                Shape::Firehose,
                e.records.into_iter().map(|r| r.data.into_owned()).collect(),
            ),
            Event::Sqs(e) => (
                Shape::Sqs,
                e.records.into_iter().map(|m| m.body.into_owned()).collect(),
            ),
        };
        let two_pass = detect_raw(&raw).and_then(|shape| {
            Ok(match shape {
                Shape::Direct => Event::Direct(from_raw(shape, &raw)?),
                Shape::Kinesis => Event::Kinesis(from_raw(shape, &raw)?),
                Shape::Firehose => Event::Firehose(from_raw(shape, &raw)?),
                Shape::Sqs => Event::Sqs(from_raw(shape, &raw)?),
            })
        });
        [read_event(&raw), two_pass].map(|r| r.map(data).map_err(|e| e.to_string()))
    }

    #[test]
    fn events_are_read_in_one_pass_as_shape_then_fields_read_them() {
        let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
        let mut texts: Vec<String> = [
            "direct.json",
            "kinesis.json",
            "firehose.json",
            "firehose-decompressed.json",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(samples.join(f)).unwrap())
        .collect();
        let k = r#"[{"kinesis":{"data":"eA==","sequenceNumber":"1"}}]"#;
        let f = r#"[{"recordId":"r","data":"eA=="}]"#;
        texts.extend([
            // Each shape with the other shapes' keys beside it, well-formed or not.
            format!(r#"{{"awslogs":{{"data":"eA=="}},"Records":{k}}}"#),
            r#"{"awslogs":{"data":"eA=="},"Records":"not records"}"#.to_string(),
            format!(r#"{{"Records":{k},"records":5,"invocationId":"i"}}"#),
            format!(r#"{{"records":{f},"invocationId":"i","region":"eu-west-1"}}"#),
            format!(r#"{{"records":{f},"deliveryStreamArn":"arn"}}"#),
            format!(r#"{{"awslogs":null,"records":{f},"invocationId":"i"}}"#),
            // Not one of the shapes, or one with a bad field.
            format!(r#"{{"records":{f}}}"#),
            r#"{"awslogs":null}"#.to_string(),
            r#"{"awslogs":5}"#.to_string(),
            r#"{"awslogs":{"data":"a"},"awslogs":{"data":"b"}}"#.to_string(),
            r#"{"records":[{"recordId":"r"}],"invocationId":"i"}"#.to_string(),
            r#"{"Records":[{"kinesis":{"data":"eA=="}}]}"#.to_string(),
            // SQS messages (replay), well-formed or not.
            r#"{"Records":[{"messageId":"m","body":"{}","eventSource":"aws:sqs"}]}"#.to_string(),
            r#"{"Records":[{"messageId":"m","body":"{}"}],"awslogs":null}"#.to_string(),
            r#"{"Records":[{"eventSource":"aws:sqs","messageId":"m"}]}"#.to_string(),
            r#"{"Records":[{"messageId":"m","body":7}]}"#.to_string(),
            std::fs::read_to_string(samples.join("replay-sqs.json")).unwrap(),
            r#"[1,2]"#.to_string(),
            r#"{}"#.to_string(),
        ]);
        for text in &texts {
            let [one, two] = read_both_ways(text);
            assert_eq!(one, two, "{text}");
        }
        // The samples are read in one pass, each as its shape.
        for (text, shape) in texts.iter().zip([
            Shape::Direct,
            Shape::Kinesis,
            Shape::Firehose,
            Shape::Firehose,
        ]) {
            assert!(serde_json::from_str::<AnyEvent<'_>>(text).is_ok(), "{text}");
            let [one, _] = read_both_ways(text);
            assert_eq!(one.unwrap().0, shape);
        }
        let replay = std::fs::read_to_string(samples.join("replay-sqs.json")).unwrap();
        let [replay, _] = read_both_ways(&replay);
        assert_eq!(replay.unwrap().0, Shape::Sqs);
    }

    fn config(vars: &[(&str, &str)]) -> ReceiverConfig {
        ReceiverConfig::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    /// A document from `/aws/lambda/app` of these (id, message) events, messages as JSON
    /// string content (escaped).
    fn doc_of(events: &[(&str, &str)]) -> SharedDoc {
        let events: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(i, (id, m))| {
                format!(
                    r#"{{"id":"{id}","timestamp":{},"message":"{m}"}}"#,
                    1_700_000_000_000u64 + i as u64
                )
            })
            .collect();
        SharedDoc::new(format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/app","logStream":"s","subscriptionFilters":[],"logEvents":[{}]}}"#,
            events.join(",")
        ))
    }

    fn routed(config: &ReceiverConfig, doc: &SharedDoc) -> (Vec<LogEvent>, Summary) {
        let payload = decode::parse_text(doc).unwrap();
        let mut targets = Targets::new();
        let mut summary = Summary::default();
        route(config, doc, &payload, 0, &mut targets, &mut summary).unwrap();
        let events: Vec<LogEvent> = targets.into_values().flatten().collect();
        // Every event routed or dropped with a reason (shipped is counted once written).
        assert_eq!(
            summary.events_in,
            events.len() as u64 + summary.dropped.total(),
            "{summary:?}"
        );
        (events, summary)
    }

    #[test]
    fn raw_messages_are_redacted_as_stored_and_the_rest_left_byte_for_byte() {
        let doc = doc_of(&[
            ("1", r#"login bob\u0040example.org from 192.0.2.1"#),
            ("2", r#"nothing \"here\" caf\u00e9"#),
            (
                "3",
                r#"{\"user\":\"amy\\u0040example.org\",\"n\":4111111111111111}"#,
            ),
            ("4", ""),
        ]);
        let c = config(&[("TARGET_LOG_GROUP", "/c"), ("REDACT", "email,ipv4,card")]);
        let (events, summary) = routed(&c, &doc);
        let texts: Vec<String> = events
            .iter()
            .map(|e| e.message.text().into_owned())
            .collect();
        assert_eq!(
            texts,
            [
                "login [REDACTED:email] from [REDACTED:ipv4]",
                "nothing \"here\" café",
                r#"{"user":"[REDACTED:email]","n":"[REDACTED:card]"}"#,
            ]
        );
        // Unredacted: the very bytes of the document, not a copy; lengths as the service
        // counts them.
        assert_eq!(events[1].message.escaped(), r#"nothing \"here\" caf\u00e9"#);
        assert!(doc.contains(events[1].message.escaped()));
        for e in &events {
            assert_eq!(e.message.len(), e.message.text().len());
        }
        assert_eq!(summary.redacted, 2);
        assert_eq!(summary.dropped.empty, 1);
        assert_eq!(
            summary.redactions,
            [
                ("card".to_string(), 1),
                ("email".to_string(), 2),
                ("ipv4".to_string(), 1)
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(summary.redactions_field(), "card=1,email=2,ipv4=1");
        let record = summary
            .redaction_metrics(|| MetricRecord::new("logship"))
            .map(|r| r.to_json(0).unwrap())
            .collect::<Vec<_>>();
        assert_eq!(record.len(), 3);
        assert!(
            record[1].contains(r#""Rule":"email""#) && record[1].contains(r#""Redactions":2"#),
            "{}",
            record[1]
        );
    }

    #[test]
    fn filters_see_the_original_and_envelopes_keep_embedded_json_an_object() {
        let doc = doc_of(&[
            (
                "1",
                r#"{\"user\":\"bob@example.org\",\"k\":[\"10.0.0.1\"]}"#,
            ),
            ("2", "INFO bob@example.org"),
            ("3", "DEBUG amy@example.org"),
        ]);
        let c = config(&[
            ("TARGET_LOG_GROUP", "/c"),
            ("MESSAGE_FORMAT", "envelope"),
            ("REDACT", "all"),
            ("INCLUDE_PATTERN", "bob@example"),
        ]);
        let (events, summary) = routed(&c, &doc);
        assert_eq!(events.len(), 2);
        assert_eq!(summary.dropped.filtered, 1);
        let envelope: Value = serde_json::from_str(&events[0].message.text()).unwrap();
        assert_eq!(
            envelope["message"],
            serde_json::json!({"user": "[REDACTED:email]", "k": ["[REDACTED:ipv4]"]})
        );
        let envelope: Value = serde_json::from_str(&events[1].message.text()).unwrap();
        assert_eq!(envelope["message"], "INFO [REDACTED:email]");
        assert_eq!(summary.redacted, 2);
    }

    #[test]
    fn sampled_out_events_are_counted_and_the_decision_follows_the_id() {
        let ids: Vec<String> = (0..2000)
            .map(|i| format!("3678145896378456441234567890{i:028}"))
            .collect();
        let events: Vec<(&str, &str)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    id.as_str(),
                    if i % 2 == 0 { "DEBUG x" } else { "GET /health" },
                )
            })
            .collect();
        let doc = doc_of(&events);
        let c = config(&[
            ("TARGET_LOG_GROUP", "/c"),
            (
                "SAMPLE_RULES",
                r#"[{"match":"DEBUG","keep":0.25},{"match":"GET /health","keep":0}]"#,
            ),
        ]);
        let (kept, summary) = routed(&c, &doc);
        assert_eq!(summary.dropped.sampled + kept.len() as u64, 2000);
        assert!(kept.iter().all(|e| e.message.text() == "DEBUG x"));
        // Binomial(1000, 0.25): mean 250, sd 13.7.
        assert!(
            (kept.len() as f64 - 250.0).abs() < 5.0 * 13.7,
            "{}",
            kept.len()
        );
        // The same events again (a retry, another container): the same ones kept.
        let (again, _) = routed(&c, &doc_of(&events));
        assert_eq!(
            kept.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
            again.iter().map(|e| e.timestamp).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_message_redaction_leaves_empty_is_dropped_as_empty() {
        let doc = doc_of(&[("1", "o-123456"), ("2", "keep o-654321")]);
        let c = config(&[
            ("TARGET_LOG_GROUP", "/c"),
            (
                "REDACT_RULES",
                r#"[{"name":"id","pattern":"o-[0-9]{6}","replacement":""}]"#,
            ),
        ]);
        let (events, summary) = routed(&c, &doc);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message.text(), "keep ");
        assert_eq!((summary.dropped.empty, summary.redacted), (1, 1));
    }

    #[test]
    fn redaction_that_grows_past_the_limit_refuses_the_payload() {
        let doc = doc_of(&[("1", &"x".repeat(2000)), ("2", "y")]);
        let c = config(&[
            ("TARGET_LOG_GROUP", "/c"),
            ("MAX_DECODED_BYTES", "10000"),
            (
                "REDACT_RULES",
                r#"[{"name":"x","pattern":"x","replacement":"0123456789"}]"#,
            ),
        ]);
        let payload = decode::parse_text(&doc).unwrap();
        let mut targets = Targets::new();
        let mut summary = Summary::default();
        let err = route(&c, &doc, &payload, 0, &mut targets, &mut summary).unwrap_err();
        assert!(
            matches!(err, ReceiverError::RedactedTooLarge { limit: 10_000, .. }),
            "{err}"
        );
        assert_eq!(err.error_type(), ErrorType::PayloadTooLarge);
        assert!(targets.is_empty());
        assert_eq!(summary, Summary::default());
    }

    /// A receiver for the Firehose path: its writer is never called there.
    fn firehose_receiver(vars: &[(&str, &str)]) -> Receiver {
        Receiver::offline(config(vars))
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A DATA_MESSAGE document from `group` / `s` with one event per message.
    fn doc(group: &str, messages: &[&str]) -> String {
        let events: Vec<String> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                format!(
                    r#"{{"id":"{group}-{i}","timestamp":{},"message":{}}}"#,
                    1_700_000_000_000u64 + i as u64,
                    serde_json::to_string(m).unwrap()
                )
            })
            .collect();
        format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"{group}","logStream":"s","subscriptionFilters":["f"],"logEvents":[{}]}}"#,
            events.join(",")
        )
    }

    /// One record's answer: its result, and its NDJSON lines read back.
    #[derive(Debug, PartialEq)]
    struct Answered {
        result: String,
        lines: Vec<Value>,
    }

    /// The Firehose answer to records of `datas` (bytes, base64-encoded here), read back, and
    /// the summary; the summary is conserved either way.
    fn firehose_answer(
        r: &Receiver,
        datas: &[Vec<u8>],
    ) -> (Result<Vec<Answered>, ReceiverError>, Summary) {
        let records: Vec<Value> = datas
            .iter()
            .enumerate()
            .map(|(i, d)| serde_json::json!({"recordId": format!("r{i}"), "data": b64(d)}))
            .collect();
        let event = serde_json::json!({"invocationId": "i", "records": records}).to_string();
        let raw = RawValue::from_string(event).unwrap();
        let Ok(Event::Firehose(e)) = read_event(&raw) else {
            panic!("a Firehose event")
        };
        let mut summary = Summary::default();
        let result = r.firehose(e, raw.get().len(), &mut summary).map(|answer| {
            let v: Value = serde_json::from_str(answer.get()).unwrap();
            v["records"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, rec)| {
                    assert_eq!(rec["recordId"], format!("r{i}"));
                    let data = rec["data"].as_str().unwrap();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .unwrap();
                    let result = rec["result"].as_str().unwrap().to_string();
                    if result == "ProcessingFailed" {
                        assert_eq!(bytes, datas[i], "the record as it came");
                        return Answered {
                            result,
                            lines: vec![],
                        };
                    }
                    let text = String::from_utf8(bytes).unwrap();
                    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
                    Answered {
                        result,
                        lines: text
                            .lines()
                            .map(|l| serde_json::from_str(l).unwrap())
                            .collect(),
                    }
                })
                .collect()
        });
        assert!(summary.is_conserved(), "{summary:#?}");
        (result, summary)
    }

    /// `(logGroup, id, message)` of document lines.
    fn events_of(lines: &[Value]) -> Vec<(String, String, String)> {
        lines
            .iter()
            .map(|l| {
                (
                    l["logGroup"].as_str().unwrap().to_string(),
                    l["id"].as_str().unwrap().to_string(),
                    l["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn ev(group: &str, i: usize, message: &str) -> (String, String, String) {
        (
            group.to_string(),
            format!("{group}-{i}"),
            message.to_string(),
        )
    }

    #[test]
    fn firehose_records_of_plain_and_gzip_documents_answer_the_same_lines() {
        let r = firehose_receiver(&[("TARGET_LOG_GROUP", "/central")]);
        let a = doc("/a", &["one", "two \"q\" ü"]);
        let b = doc("/b", &["three"]);
        let two = format!("{a}\n{b}\n");
        let datas = vec![
            gz(a.as_bytes()),
            a.clone().into_bytes(),
            two.clone().into_bytes(),
            gz(two.as_bytes()),
            [gz(a.as_bytes()), gz(b.as_bytes())].concat(),
            [
                gz(a.as_bytes()),
                gz(b.as_bytes()),
                gz(doc("/c", &["four"]).as_bytes()),
            ]
            .concat(),
        ];
        let (answer, summary) = firehose_answer(&r, &datas);
        let answer = answer.unwrap();
        let one = vec![ev("/a", 0, "one"), ev("/a", 1, "two \"q\" ü")];
        let both = [one.clone(), vec![ev("/b", 0, "three")]].concat();
        let three = [both.clone(), vec![ev("/c", 0, "four")]].concat();
        for (rec, want) in answer.iter().zip([&one, &one, &both, &both, &both, &three]) {
            assert_eq!(rec.result, "Ok");
            assert_eq!(&events_of(&rec.lines), want);
        }
        // A plain record's lines are the gzip record's, byte for byte.
        assert_eq!(answer[0], answer[1]);
        assert_eq!(summary.events_in, 2 + 2 + 3 + 3 + 3 + 4);
        assert_eq!(summary.shipped, summary.events_in);
        assert_eq!((summary.payloads, summary.records_failed), (6, 0));
    }

    #[test]
    fn a_record_whose_later_document_cannot_be_read_is_failed_whole_and_counted_as_never_read() {
        let r = firehose_receiver(&[("TARGET_LOG_GROUP", "/central")]);
        let a = doc("/a", &["one", "two"]);
        let b = doc("/b", &["three"]);
        let broken = format!("{a}\n{}", &b[..b.len() - 3]);
        let not_a_member = [gz(a.as_bytes()), b"junk".to_vec()].concat();
        let datas = vec![
            gz(b.as_bytes()),
            broken.clone().into_bytes(),
            gz(broken.as_bytes()),
            not_a_member,
            gz(b.as_bytes()),
        ];
        let (answer, summary) = firehose_answer(&r, &datas);
        let answer = answer.unwrap();
        let results: Vec<&str> = answer.iter().map(|a| a.result.as_str()).collect();
        assert_eq!(
            results,
            [
                "Ok",
                "ProcessingFailed",
                "ProcessingFailed",
                "ProcessingFailed",
                "Ok"
            ]
        );
        assert_eq!(events_of(&answer[4].lines), [ev("/b", 0, "three")]);
        // What the first document of a failed record wrote and counted was taken back.
        assert_eq!((summary.events_in, summary.shipped), (2, 2));
        assert_eq!((summary.payloads, summary.payloads_failed), (5, 3));
        assert_eq!(summary.records_failed, 3);
    }

    #[test]
    fn firehose_message_text_ships_a_line_per_message_through_the_same_filters() {
        let r = firehose_receiver(&[
            ("TARGET_LOG_GROUP", "/central"),
            ("EXCLUDE_PATTERN", "^DEBUG"),
        ]);
        let text = "START RequestId: 1\n{\"level\":\"INFO\",\"msg\":\"x\"}\n\nDEBUG noise\ntab\there \"q\" ü\r\nlast";
        let datas = vec![
            text.as_bytes().to_vec(),
            b"DEBUG only\n\n".to_vec(),
            b"\n".to_vec(),
        ];
        let (answer, summary) = firehose_answer(&r, &datas);
        let answer = answer.unwrap();
        assert_eq!(answer[0].result, "Ok");
        assert_eq!(
            answer[0].lines,
            [
                serde_json::json!({"message": "START RequestId: 1"}),
                serde_json::json!({"message": "{\"level\":\"INFO\",\"msg\":\"x\"}"}),
                serde_json::json!({"message": "tab\there \"q\" ü\r"}),
                serde_json::json!({"message": "last"}),
            ]
        );
        // Every line filtered or empty: the record is dropped, and each line is accounted for.
        assert_eq!(
            (answer[1].result.as_str(), answer[2].result.as_str()),
            ("Dropped", "Dropped")
        );
        assert_eq!(summary.events_in, 6 + 2 + 1);
        assert_eq!(summary.shipped, 4);
        assert_eq!((summary.dropped.filtered, summary.dropped.empty), (2, 3));
        // INCLUDE_PATTERN too.
        let r = firehose_receiver(&[
            ("TARGET_LOG_GROUP", "/central"),
            ("INCLUDE_PATTERN", "^keep"),
        ]);
        let (answer, summary) = firehose_answer(&r, &[b"keep 1\ndrop\nkeep 2\n".to_vec()]);
        assert_eq!(
            answer.unwrap()[0].lines,
            [
                serde_json::json!({"message": "keep 1"}),
                serde_json::json!({"message": "keep 2"})
            ]
        );
        assert_eq!((summary.shipped, summary.dropped.filtered), (2, 1));
    }

    #[test]
    fn extracted_message_lines_are_redacted_and_sampled_by_their_text() {
        let r = firehose_receiver(&[
            ("TARGET_LOG_GROUP", "/central"),
            ("REDACT", "email,card"),
            ("SAMPLE_RULES", r#"[{"match":"^DEBUG","keep":0.5}]"#),
        ]);
        let mut text = String::from("login bob@example.org\n{\"card\":4111111111111111}\n");
        for i in 0..400 {
            text.push_str(&format!("DEBUG step {i}\n"));
        }
        let (answer, summary) = firehose_answer(&r, &[text.clone().into_bytes()]);
        let lines = answer.unwrap().remove(0).lines;
        assert_eq!(
            lines[0],
            serde_json::json!({"message": "login [REDACTED:email]"})
        );
        assert_eq!(
            lines[1],
            serde_json::json!({"message": "{\"card\":\"[REDACTED:card]\"}"})
        );
        let kept = lines.len() as u64 - 2;
        assert_eq!(summary.dropped.sampled, 400 - kept);
        // Binomial(400, 0.5): within 5 standard deviations (10) of 200.
        assert!((kept as f64 - 200.0).abs() < 50.0, "{kept}");
        assert_eq!((summary.redacted, summary.events_in), (2, 402));
        // The same record again keeps the same lines.
        let (again, _) = firehose_answer(&r, &[text.into_bytes()]);
        assert_eq!(again.unwrap().remove(0).lines, lines);
    }

    #[test]
    fn several_documents_of_one_record_share_the_answers_size_budget() {
        // Three documents of many small events from a long-named source in one record: each
        // fits, together their NDJSON passes what Lambda can answer.
        let r = firehose_receiver(&[("TARGET_LOG_GROUP", "/central")]);
        let group = format!("/aws/lambda/{}", "g".repeat(480));
        let messages: Vec<String> = (0..2_000).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        let one = doc(&group, &refs).replace(
            "\"logStream\":\"s\"",
            &format!("\"logStream\":\"{}\"", "s".repeat(500)),
        );
        let (answer, _) = firehose_answer(&r, &[one.clone().into_bytes()]);
        assert_eq!(answer.unwrap()[0].result, "Ok", "one document fits");
        let three = format!("{one}\n{one}\n{one}\n");
        let (answer, summary) = firehose_answer(&r, &[three.into_bytes()]);
        assert!(
            matches!(answer, Err(ReceiverError::AnswerTooLarge { .. })),
            "{answer:?}"
        );
        assert_eq!((summary.shipped, summary.bytes), (0, 0));
        assert!(summary.failed > 0);
        assert_eq!(summary.records_failed, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn lines_encoded_in_chunks_are_the_base64_of_the_whole(
            lines in proptest::collection::vec("\\PC{0,400}", 0..300),
            before in "[a-z]{0,5}",
        ) {
            // Multi-byte text of any length, past several flushes: the answer holds exactly
            // the base64 of the NDJSON, after whatever it held before.
            let mut stage = String::new();
            let mut answer = before.clone();
            let mut whole = String::new();
            let mut out = Base64Lines::new(&mut stage, &mut answer);
            for l in &lines {
                out.stage.push_str(l);
                out.stage.push_str("}\n");
                whole.push_str(l);
                whole.push_str("}\n");
                prop_assert_eq!(out.len(), whole.len());
                out.line_done();
            }
            prop_assert_eq!(out.finish(), whole.len());
            let expected = base64::engine::general_purpose::STANDARD.encode(whole.as_bytes());
            prop_assert_eq!(&answer[..before.len()], before.as_str());
            prop_assert_eq!(&answer[before.len()..], expected.as_str());
            prop_assert!(stage.is_empty());
        }
    }
}
