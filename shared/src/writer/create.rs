//! Creating a missing group or stream, once per write however many of its requests met
//! `ResourceNotFoundException` at the same time.
//!
//! The writer does not look before it writes (no DescribeLogStreams round trip): a request to
//! a stream that does not exist is answered ResourceNotFound, and the stream (and its group,
//! if that is missing too) is created then. Requests of one stream are in flight together
//! ([`super::concurrency`]), so several can meet ResourceNotFound at once; the first creates,
//! the others wait for its outcome and send again. CreateLogStream and CreateLogGroup have
//! their own, small, per-account quotas: one call each is also the polite number.
//!
//! A [`Creations`] lives for one write (an invocation's batch), so a group or stream deleted
//! while the container is warm is created again by the next invocation that meets it missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatchlogs::error::SdkError;
use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError;
use aws_sdk_cloudwatchlogs::operation::create_log_stream::CreateLogStreamError;
use tokio::sync::OnceCell;

use super::{Cause, Place, Tags, WriteError, WriteReport, Writer};
use crate::retry::{self, Deadline, RetryError, RetryStats};

/// The outcome of one creation, shared by every request that waited for it.
type Once = Arc<OnceCell<Result<(), WriteError>>>;

/// The groups and streams one write has created, or is creating.
#[derive(Debug, Default)]
pub(super) struct Creations {
    streams: Mutex<HashMap<(String, String), Once>>,
    groups: Mutex<HashMap<String, Once>>,
}

impl Creations {
    fn cell<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Once>>, key: K) -> Once {
        // Nothing panics while the map is held, so a poisoned lock is used as it is.
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key).or_default().clone()
    }
}

impl Writer {
    /// Creates `place`'s stream (and its group if missing) unless this write already did or is
    /// doing so; then waits for that outcome. Counts and retries go to the report of the
    /// request that made the calls.
    pub(super) async fn create_stream(
        &self,
        creations: &Creations,
        place: Place<'_>,
        deadline: Deadline,
        stats: &mut RetryStats,
        report: &mut WriteReport,
    ) -> Result<(), WriteError> {
        let once = Creations::cell(
            &creations.streams,
            (place.group.to_owned(), place.stream.to_owned()),
        );
        once.get_or_init(|| self.create_stream_now(creations, place, deadline, stats, report))
            .await
            .clone()
    }

    /// Creates `group` unless this write already did or is doing so; then waits for that
    /// outcome.
    async fn create_group(
        &self,
        creations: &Creations,
        group: &str,
        tags: &Tags,
        deadline: Deadline,
        stats: &mut RetryStats,
        report: &mut WriteReport,
    ) -> Result<(), WriteError> {
        let once = Creations::cell(&creations.groups, group.to_owned());
        once.get_or_init(|| self.create_group_now(group, tags, deadline, stats, report))
            .await
            .clone()
    }

    /// CreateLogStream; if the group is missing too, CreateLogGroup first. A concurrent
    /// container creating the same resource (ResourceAlreadyExists) is success.
    async fn create_stream_now(
        &self,
        creations: &Creations,
        place: Place<'_>,
        deadline: Deadline,
        stats: &mut RetryStats,
        report: &mut WriteReport,
    ) -> Result<(), WriteError> {
        let Place {
            group,
            stream,
            tags,
        } = place;
        let err = |e: RetryError<CreateLogStreamError>| WriteError::CreateLogStream {
            group: group.into(),
            stream: stream.into(),
            cause: e.into(),
        };
        let create = || {
            self.client
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
        };
        let missing_group = match retry::retry(deadline, self.backoff, stats, create).await {
            Ok(_) => false,
            Err(RetryError::Failed(SdkError::ServiceError(e)))
                if matches!(
                    e.err(),
                    CreateLogStreamError::ResourceAlreadyExistsException(_)
                ) =>
            {
                return Ok(());
            }
            Err(RetryError::Failed(SdkError::ServiceError(e)))
                if matches!(e.err(), CreateLogStreamError::ResourceNotFoundException(_)) =>
            {
                true
            }
            Err(e) => return Err(err(e)),
        };
        if missing_group {
            self.create_group(creations, group, tags, deadline, stats, report)
                .await?;
            match retry::retry(deadline, self.backoff, stats, create).await {
                Ok(_) => {}
                Err(RetryError::Failed(SdkError::ServiceError(e)))
                    if matches!(
                        e.err(),
                        CreateLogStreamError::ResourceAlreadyExistsException(_)
                    ) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(err(e)),
            }
        }
        report.created_streams += 1;
        tracing::info!(group, stream, "created log stream");
        Ok(())
    }

    async fn create_group_now(
        &self,
        group: &str,
        tags: &Tags,
        deadline: Deadline,
        stats: &mut RetryStats,
        report: &mut WriteReport,
    ) -> Result<(), WriteError> {
        let create = || {
            self.client
                .create_log_group()
                .log_group_name(group)
                .set_kms_key_id(self.options.kms_key_arn.clone())
                .set_tags((!tags.is_empty()).then(|| tags.clone().into_iter().collect()))
                .send()
        };
        match retry::retry(deadline, self.backoff, stats, create).await {
            Ok(_) => {}
            Err(RetryError::Failed(SdkError::ServiceError(e)))
                if matches!(
                    e.err(),
                    CreateLogGroupError::ResourceAlreadyExistsException(_)
                ) =>
            {
                return Ok(());
            }
            Err(e) => {
                return Err(WriteError::CreateLogGroup {
                    group: group.into(),
                    cause: e.into(),
                });
            }
        }
        report.created_groups += 1;
        tracing::info!(
            group,
            retention_days = self.options.retention_days,
            "created log group"
        );
        if let Some(days) = self.options.retention_days {
            let put = || {
                self.client
                    .put_retention_policy()
                    .log_group_name(group)
                    .retention_in_days(days)
                    .send()
            };
            retry::retry(deadline, self.backoff, stats, put)
                .await
                .map_err(|e| WriteError::CreateLogGroup {
                    group: group.into(),
                    cause: Cause::of_call("PutRetentionPolicy", e),
                })?;
        }
        Ok(())
    }
}
