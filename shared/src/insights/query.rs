//! Running one Logs Insights query to a terminal status, within the invocation's deadline.
//!
//! StartQuery (retried on throttling and on `LimitExceededException`, the account's limit of
//! concurrent queries), then GetQueryResults polled with a growing interval until the status is
//! terminal: `Complete` returns the rows; `Failed`, `Cancelled`, `Timeout` and `Unknown` are
//! errors carrying the status and the query id. When the deadline comes close while the query
//! is still `Scheduled` or `Running`, StopQuery is sent and the run fails — it never hangs
//! until Lambda kills it.
//!
//! A query returns at most [`MAX_ROWS`] rows; a result that size may have been cut off, so the
//! window is split in two and each half queried, recursively, down to [`MIN_SPLIT_WINDOW`].

use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use chrono::NaiveDateTime;

use super::spec::Window;
use crate::failure::{ErrorType, Typed};
use crate::retry::{self, Backoff, Class, Deadline, RetryError, RetryStats};

/// The most rows one query returns (the service's maximum `limit`).
pub const MAX_ROWS: usize = 10_000;
/// Windows are not split below one second: Insights' times are whole seconds.
pub const MIN_SPLIT_WINDOW: Duration = Duration::from_secs(1);
/// Time StopQuery may take beyond the deadline (inside the margin kept to answer Lambda).
pub const STOP_GRACE: Duration = Duration::from_millis(500);

/// How GetQueryResults is polled: `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Poll {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(250),
            max: Duration::from_secs(2),
        }
    }
}

impl Poll {
    fn delay(&self, n: u32) -> Duration {
        self.first.saturating_mul(1 << n.min(16)).min(self.max)
    }
}

/// A row: field names and values as the service returns them, without `@ptr`.
pub type Row = Vec<(String, String)>;

/// All that one query run (with its splits) produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryRun {
    /// Every StartQuery id, in the order the windows were queried.
    pub query_ids: Vec<String>,
    pub rows: Vec<Row>,
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
    /// Windows split because their result reached [`MAX_ROWS`].
    pub splits: u32,
    /// Windows at [`MIN_SPLIT_WINDOW`] that still returned [`MAX_ROWS`] rows: rows may be missing.
    pub truncated_windows: u32,
    pub polls: u32,
    pub retry: RetryStats,
}

/// Why a query run failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("StartQuery failed: {0}")]
    Start(String),
    #[error("query {query_id} ended with status {status}")]
    Ended { query_id: String, status: String },
    #[error("the invocation's deadline came while query {query_id} was {status}; {}", if *stopped { "StopQuery sent" } else { "StopQuery failed" })]
    Deadline {
        query_id: String,
        status: String,
        stopped: bool,
    },
    #[error("the invocation's deadline came before the query could start: {0}")]
    DeadlineBeforeStart(String),
    #[error("GetQueryResults for query {query_id} failed: {message}")]
    Results { query_id: String, message: String },
}

impl Typed for QueryError {
    fn error_type(&self) -> ErrorType {
        match self {
            QueryError::Start(_) | QueryError::Ended { .. } | QueryError::Results { .. } => {
                ErrorType::QueryFailed
            }
            QueryError::Deadline { .. } | QueryError::DeadlineBeforeStart(_) => {
                ErrorType::DeadlineExceeded
            }
        }
    }
}

/// Runs queries through one client.
#[derive(Debug, Clone)]
pub struct QueryRunner {
    client: Client,
    backoff: Backoff,
    poll: Poll,
}

impl QueryRunner {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            backoff: Backoff::default(),
            poll: Poll::default(),
        }
    }

    /// Replaces the retry backoff and the polling schedule (tests shorten them).
    pub fn with_timing(mut self, backoff: Backoff, poll: Poll) -> Self {
        self.backoff = backoff;
        self.poll = poll;
        self
    }

    /// Runs `query` over `log_groups` for `window`, splitting full results.
    pub async fn run(
        &self,
        query: &str,
        log_groups: &[String],
        window: Window,
        deadline: Deadline,
    ) -> Result<QueryRun, QueryError> {
        let mut run = QueryRun::default();
        // Depth-first, earliest half first: rows come out in window order.
        let mut pending = vec![window];
        while let Some(w) = pending.pop() {
            let out = self
                .run_one(query, log_groups, w, deadline, &mut run)
                .await?;
            if let Some(s) = out.statistics() {
                run.records_matched += s.records_matched();
                run.records_scanned += s.records_scanned();
                run.bytes_scanned += s.bytes_scanned();
            }
            let full = out.results().len() >= MAX_ROWS;
            if full && w.len_ms() >= 2 * MIN_SPLIT_WINDOW.as_millis() as i64 {
                run.splits += 1;
                tracing::info!(
                    window_ms = w.len_ms(),
                    rows = out.results().len(),
                    "result reached the 10,000-row maximum; querying each half of the window"
                );
                let (a, b) = w.halves();
                pending.push(b);
                pending.push(a);
                continue;
            }
            if full {
                run.truncated_windows += 1;
                tracing::warn!(
                    start_ms = w.start_ms,
                    end_ms = w.end_ms,
                    "a one-second window still returned 10,000 rows: rows may be missing"
                );
            }
            run.rows.extend(
                out.results()
                    .iter()
                    .map(|r| row(r))
                    .filter(|r| in_window(r, w)),
            );
        }
        Ok(run)
    }

    /// One StartQuery and its polling to a terminal status.
    async fn run_one(
        &self,
        query: &str,
        log_groups: &[String],
        w: Window,
        deadline: Deadline,
        run: &mut QueryRun,
    ) -> Result<GetQueryResultsOutput, QueryError> {
        // The range is inclusive of both ends, in seconds: end at `end` itself and drop rows
        // stamped at or after it (see `in_window`), so no event falls between two windows.
        let start = || {
            self.client
                .start_query()
                .set_log_group_names(Some(log_groups.to_vec()))
                .start_time(w.start_ms / 1000)
                .end_time(w.end_ms / 1000)
                .query_string(query)
                .limit(MAX_ROWS as i32)
                .send()
        };
        let concurrency_is_transient = |e: &_| match retry::classify(e) {
            Class::Permanent if ProvideErrorMetadata::code(e) == Some("LimitExceededException") => {
                Class::Throttle
            }
            c => c,
        };
        let query_id = match retry::retry_classified(
            deadline,
            self.backoff,
            &mut run.retry,
            concurrency_is_transient,
            start,
        )
        .await
        {
            Ok(out) => out.query_id().unwrap_or_default().to_owned(),
            Err(RetryError::Deadline { last, .. }) => {
                return Err(QueryError::DeadlineBeforeStart(last));
            }
            Err(e) => return Err(QueryError::Start(e.to_string())),
        };
        run.query_ids.push(query_id.clone());
        tracing::info!(
            query_id,
            start_ms = w.start_ms,
            end_ms = w.end_ms,
            "query started"
        );
        let mut n = 0;
        loop {
            run.polls += 1;
            let get = || self.client.get_query_results().query_id(&query_id).send();
            let out = match retry::retry(deadline, self.backoff, &mut run.retry, get).await {
                Ok(out) => out,
                Err(RetryError::Deadline { .. }) => {
                    return Err(self.stop(&query_id, "Running").await);
                }
                Err(e) => {
                    return Err(QueryError::Results {
                        query_id,
                        message: e.to_string(),
                    });
                }
            };
            let status = out.status().cloned().unwrap_or(QueryStatus::UnknownValue);
            match status {
                QueryStatus::Complete => return Ok(out),
                QueryStatus::Scheduled | QueryStatus::Running => {}
                other => {
                    return Err(QueryError::Ended {
                        query_id,
                        status: other.as_str().to_owned(),
                    });
                }
            }
            let wait = self.poll.delay(n);
            n += 1;
            if wait >= deadline.remaining() {
                return Err(self.stop(&query_id, status.as_str()).await);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// StopQuery, with a little time past the deadline (inside the margin kept to answer).
    async fn stop(&self, query_id: &str, status: &str) -> QueryError {
        let grace = Deadline::after(STOP_GRACE);
        let mut stats = RetryStats::default();
        let sent = retry::retry(grace, self.backoff, &mut stats, || {
            self.client.stop_query().query_id(query_id).send()
        })
        .await;
        if let Err(e) = &sent {
            tracing::warn!(query_id, error = %e, "StopQuery failed");
        }
        QueryError::Deadline {
            query_id: query_id.to_owned(),
            status: status.to_owned(),
            stopped: sent.is_ok(),
        }
    }
}

fn row(fields: &[aws_sdk_cloudwatchlogs::types::ResultField]) -> Row {
    fields
        .iter()
        .filter_map(|f| {
            let name = f.field()?;
            (name != "@ptr").then(|| (name.to_owned(), f.value().unwrap_or_default().to_owned()))
        })
        .collect()
}

/// A row's `@timestamp` in epoch milliseconds: Insights writes `2026-11-22 01:04:59.123` (UTC);
/// some emulators write epoch milliseconds.
pub fn row_timestamp(row: &Row) -> Option<i64> {
    let v = row.iter().find(|(k, _)| k == "@timestamp")?.1.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().ok();
    }
    NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// Rows stamped at or after the window's end belong to the next window (the query's range is
/// inclusive of its end second).
fn in_window(row: &Row, w: Window) -> bool {
    row_timestamp(row).is_none_or(|t| t < w.end_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_both_notations() {
        let r = |v: &str| vec![("@timestamp".to_string(), v.to_string())];
        assert_eq!(
            row_timestamp(&r("2026-11-22 01:04:59.123")),
            Some(1_795_309_499_123)
        );
        assert_eq!(
            row_timestamp(&r("2026-11-22 01:04:59")),
            Some(1_795_309_499_000)
        );
        assert_eq!(row_timestamp(&r("1795309499123")), Some(1_795_309_499_123));
        assert_eq!(row_timestamp(&r("soon")), None);
        assert_eq!(row_timestamp(&vec![]), None);
        let w = Window {
            start_ms: 1_795_309_200_000,
            end_ms: 1_795_309_500_000,
        };
        assert!(in_window(&r("2026-11-22 01:04:59.999"), w));
        assert!(!in_window(&r("2026-11-22 01:05:00.000"), w));
        assert!(
            in_window(&vec![("count".into(), "3".into())], w),
            "aggregate rows have no time"
        );
    }

    #[test]
    fn polling_grows_to_its_cap() {
        let p = Poll {
            first: Duration::from_millis(250),
            max: Duration::from_secs(2),
        };
        let d: Vec<u64> = (0..6).map(|n| p.delay(n).as_millis() as u64).collect();
        assert_eq!(d, [250, 500, 1000, 2000, 2000, 2000]);
    }
}
