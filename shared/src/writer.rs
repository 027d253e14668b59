//! The writer: log events into a log group and stream through PutLogEvents.
//!
//! It owns the service contract end to end: events the service would reject for their age are
//! counted, not sent; oversize events are split; the rest is packed by [`crate::batch::plan`]
//! into the fewest requests the rules allow; a missing group or stream is created on the first
//! `ResourceNotFoundException` (no DescribeLogStreams round trip before writing); whatever the
//! service still reports in `rejectedLogEventsInfo` is counted per reason.
//!
//! Transient failures (throttling, 5xx, connection errors) are retried by the SDK's standard
//! retry strategy — exponential backoff with jitter — configured in [`crate::aws`].

use std::collections::BTreeSet;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, SdkError};
use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError;
use aws_sdk_cloudwatchlogs::operation::create_log_stream::CreateLogStreamError;
use aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsError;
use aws_sdk_cloudwatchlogs::types::{InputLogEvent, RejectedLogEventsInfo};
use serde::Serialize;

use crate::batch::{self, LogEvent, Rejection};

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
}

/// What one [`Writer::write`] did. Event counts are in input events: an event split into
/// parts counts once, as written only when all its parts were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
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
    /// Groups and streams this call created.
    pub created_groups: u64,
    pub created_streams: u64,
    /// `origin`s of the events that were not written, so callers can fail exactly those inputs.
    #[serde(skip)]
    pub failed_origins: BTreeSet<u32>,
    /// Why the first failed request failed.
    #[serde(skip)]
    pub error: Option<WriteError>,
}

impl WriteReport {
    pub fn add(&mut self, other: WriteReport) {
        self.written += other.written;
        self.rejected.add(&other.rejected);
        self.failed += other.failed;
        self.split += other.split;
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.created_groups += other.created_groups;
        self.created_streams += other.created_streams;
        self.failed_origins.extend(other.failed_origins);
        if self.error.is_none() {
            self.error = other.error;
        }
    }
}

/// Why a request to CloudWatch Logs failed, after the SDK's retries.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("PutLogEvents to {group} / {stream} failed: {message}")]
    PutLogEvents {
        group: String,
        stream: String,
        message: String,
    },
    #[error("CreateLogGroup {group} failed: {message}")]
    CreateLogGroup { group: String, message: String },
    #[error("CreateLogStream {group} / {stream} failed: {message}")]
    CreateLogStream {
        group: String,
        stream: String,
        message: String,
    },
}

/// Settings for groups the writer creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterOptions {
    /// `TARGET_RETENTION_DAYS`: retention set on groups the writer creates.
    pub retention_days: Option<i32>,
    /// `TARGET_KMS_KEY_ARN`: KMS key for groups the writer creates.
    pub kms_key_arn: Option<String>,
}

/// Writes log events through one SDK client, built once per container and shared by every
/// invocation.
#[derive(Debug, Clone)]
pub struct Writer {
    client: Client,
    options: WriterOptions,
}

impl Writer {
    pub fn new(client: Client, options: WriterOptions) -> Self {
        Self { client, options }
    }

    /// Writes `events` (any order) to `group`/`stream` as of `now_ms`. Never returns early on
    /// a failed request without accounting for every event: the report's `written + rejected +
    /// failed` equals the number of input events.
    pub async fn write(
        &self,
        group: &str,
        stream: &str,
        events: Vec<LogEvent>,
        now_ms: i64,
    ) -> WriteReport {
        let mut report = WriteReport::default();
        let mut sendable = Vec::with_capacity(events.len());
        // Parts of a split event share its index in `parts_of`, so it counts as one event.
        let mut parts_of: Vec<u32> = Vec::new();
        for (i, e) in events.into_iter().enumerate() {
            match batch::rejection(e.timestamp, now_ms) {
                Some(Rejection::TooOld) => report.rejected.too_old += 1,
                Some(Rejection::TooNew) => report.rejected.too_new += 1,
                None => match batch::split_oversize(&e) {
                    None => sendable.push((i as u32, e)),
                    Some(parts) => {
                        report.split += 1;
                        parts_of.push(i as u32);
                        sendable.extend(parts.into_iter().map(|p| (i as u32, p)));
                    }
                },
            }
        }
        if sendable.is_empty() {
            return report;
        }
        // Sort by timestamp keeping arrival order (and so part order) among equals.
        sendable.sort_by_key(|(_, e)| e.timestamp);
        let (ids, mut events): (Vec<u32>, Vec<LogEvent>) = sendable.into_iter().unzip();
        let batches = batch::plan(&mut events); // already sorted: plan's stable sort keeps it
        let mut outcome = vec![Outcome::Written; ids.len()];
        let mut failed_from = None;
        for (n, range) in batches.iter().enumerate() {
            match self
                .put_batch(group, stream, &events[range.clone()], &mut report)
                .await
            {
                Ok(info) => {
                    report.requests += 1;
                    report.bytes += events[range.clone()]
                        .iter()
                        .map(|e| e.size() as u64)
                        .sum::<u64>();
                    if let Some(info) = info {
                        mark_rejected(&info, &mut outcome[range.clone()]);
                    }
                }
                Err(e) => {
                    tracing::warn!(group, stream, error = %e, "PutLogEvents failed; the events of this and later requests are not written");
                    report.error = Some(e);
                    failed_from = Some(n);
                    break;
                }
            }
        }
        if let Some(n) = failed_from {
            for range in &batches[n..] {
                outcome[range.clone()]
                    .iter_mut()
                    .for_each(|o| *o = Outcome::Failed);
            }
        }
        // Fold per-part outcomes into per-input-event counts: a split event is written only if
        // every part was; otherwise it counts as failed (or rejected, if a part was rejected).
        let mut per_event: Vec<(u32, Outcome, u32)> = Vec::with_capacity(ids.len());
        for (k, id) in ids.iter().enumerate() {
            let origin = events[k].origin;
            per_event.push((*id, outcome[k], origin));
        }
        if !parts_of.is_empty() {
            per_event.sort_by_key(|(id, _, _)| *id);
            per_event.dedup_by(|b, a| {
                if a.0 == b.0 {
                    a.1 = a.1.worst(b.1);
                    true
                } else {
                    false
                }
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
        report
    }

    /// One PutLogEvents request, creating the group and/or stream on ResourceNotFound.
    async fn put_batch(
        &self,
        group: &str,
        stream: &str,
        events: &[LogEvent],
        report: &mut WriteReport,
    ) -> Result<Option<RejectedLogEventsInfo>, WriteError> {
        // Built per attempt: the common path sends once, and only a missing stream sends twice.
        let input = || -> Vec<InputLogEvent> {
            events
                .iter()
                .map(|e| {
                    InputLogEvent::builder()
                        .timestamp(e.timestamp)
                        .message(e.message.clone())
                        .build()
                        .expect("timestamp and message are set")
                })
                .collect()
        };
        let mut created = false;
        loop {
            let sent = self
                .client
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(input()))
                .send()
                .await;
            match sent {
                Ok(out) => return Ok(out.rejected_log_events_info().cloned()),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), PutLogEventsError::ResourceNotFoundException(_))
                        && !created =>
                {
                    self.create_stream(group, stream, report).await?;
                    created = true;
                }
                Err(e) => {
                    return Err(WriteError::PutLogEvents {
                        group: group.into(),
                        stream: stream.into(),
                        message: DisplayErrorContext(&e).to_string(),
                    });
                }
            }
        }
    }

    /// CreateLogStream; if the group is missing too, CreateLogGroup first. A concurrent
    /// container creating the same resource (ResourceAlreadyExists) is success.
    async fn create_stream(
        &self,
        group: &str,
        stream: &str,
        report: &mut WriteReport,
    ) -> Result<(), WriteError> {
        for attempt in 0..2 {
            match self
                .client
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await
            {
                Ok(_) => {
                    report.created_streams += 1;
                    tracing::info!(group, stream, "created log stream");
                    return Ok(());
                }
                Err(SdkError::ServiceError(e))
                    if matches!(
                        e.err(),
                        CreateLogStreamError::ResourceAlreadyExistsException(_)
                    ) =>
                {
                    return Ok(());
                }
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), CreateLogStreamError::ResourceNotFoundException(_))
                        && attempt == 0 =>
                {
                    self.create_group(group, report).await?;
                }
                Err(e) => {
                    return Err(WriteError::CreateLogStream {
                        group: group.into(),
                        stream: stream.into(),
                        message: DisplayErrorContext(&e).to_string(),
                    });
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    async fn create_group(&self, group: &str, report: &mut WriteReport) -> Result<(), WriteError> {
        let err = |e: &dyn std::error::Error| WriteError::CreateLogGroup {
            group: group.into(),
            message: DisplayErrorContext(e).to_string(),
        };
        match self
            .client
            .create_log_group()
            .log_group_name(group)
            .set_kms_key_id(self.options.kms_key_arn.clone())
            .send()
            .await
        {
            Ok(_) => {
                report.created_groups += 1;
                tracing::info!(group, "created log group");
                if let Some(days) = self.options.retention_days {
                    self.client
                        .put_retention_policy()
                        .log_group_name(group)
                        .retention_in_days(days)
                        .send()
                        .await
                        .map_err(|e| err(&e))?;
                }
                Ok(())
            }
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err(),
                    CreateLogGroupError::ResourceAlreadyExistsException(_)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(err(&e)),
        }
    }
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
