//! Running one spec's query over its window, a page of rows at a time, within the invocation's
//! deadline.
//!
//! StartQuery (retried on throttling and on `LimitExceededException`, the account's limit of
//! concurrent queries), then GetQueryResults polled with a growing interval until the status is
//! terminal: `Complete` brings the first page of rows; `Failed`, `Cancelled`, `Timeout` and
//! `Unknown` are errors carrying the status and the query id. When the deadline comes close
//! while the query is still `Scheduled` or `Running`, StopQuery is sent and the run fails — it
//! never hangs until Lambda kills it.
//!
//! **Pages.** A Logs Insights QL result is read in pages of [`PAGE_ROWS`] (GetQueryResults
//! `nextToken`), up to 100,000 rows; SQL and PPL results come in one answer of at most 10,000.
//! [`Pages::next`] hands out one page at a time, so the caller republishes a page before the
//! next is read and memory holds one page, whatever the result's size.
//!
//! **Splits.** A result that reaches the query's `limit` may have been cut off, so its window is
//! split in two and each half queried, recursively, down to [`MIN_SPLIT_WINDOW`]. Whether a
//! paged result is full is known only at its last page, and its rows must not be republished
//! before then (the halves would republish them again). So the `Complete` answer's
//! `recordsMatched` decides: fewer matched records than the limit cannot fill it (a query
//! returns at most a row per matched record), and the pages are republished as they are read.
//! Otherwise the pages are first counted, then read again from the start (the service keeps
//! a result readable, and a token valid for an hour) only if they did not fill the limit.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::operation::get_query_results::{
    GetQueryResultsError, GetQueryResultsOutput,
};
use aws_sdk_cloudwatchlogs::types::{QueryLanguage, QueryStatus, ResultField};
use chrono::NaiveDateTime;

use super::spec::{Language, LogGroups, Resolved, Window};
use crate::failure::{ErrorType, Typed};
use crate::retry::{self, Backoff, Class, Deadline, RetryError, RetryStats};

/// Rows per GetQueryResults page (`maxItems`): the service's maximum.
pub const PAGE_ROWS: usize = 10_000;
/// Windows are not split below one second: Insights' times are whole seconds.
pub const MIN_SPLIT_WINDOW: Duration = Duration::from_secs(1);
/// Time StopQuery may take beyond the deadline (inside the margin kept to answer).
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

/// What one spec's query runs (with their splits) did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryRun {
    /// Every StartQuery id, in the order the windows were queried.
    pub query_ids: Vec<String>,
    /// Rows handed out (in their window).
    pub rows: u64,
    /// Result pages read: `Complete` answers and pages fetched with a token, counted and
    /// re-read ones included.
    pub pages: u32,
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
    /// Windows split because their result reached the query's `limit`.
    pub splits: u32,
    /// Windows whose result reached the limit and could not be split (one second long, or
    /// already republished): rows may be missing.
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
    #[error(
        "the invocation's deadline came while reading the results of query {query_id}, after {pages} pages"
    )]
    DeadlineWhileReading { query_id: String, pages: u32 },
    #[error("GetQueryResults for query {query_id} failed: {message}")]
    Results { query_id: String, message: String },
}

impl Typed for QueryError {
    fn error_type(&self) -> ErrorType {
        match self {
            QueryError::Start(_) | QueryError::Ended { .. } | QueryError::Results { .. } => {
                ErrorType::QueryFailed
            }
            QueryError::Deadline { .. }
            | QueryError::DeadlineBeforeStart(_)
            | QueryError::DeadlineWhileReading { .. } => ErrorType::DeadlineExceeded,
        }
    }
}

/// The API's name of a language.
pub(super) fn api_language(l: Language) -> QueryLanguage {
    match l {
        Language::Cwli => QueryLanguage::Cwli,
        Language::Sql => QueryLanguage::Sql,
        Language::Ppl => QueryLanguage::Ppl,
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

    /// The pages of `query` over `window`, splitting full results; nothing is sent before the
    /// first [`Pages::next`].
    pub fn pages<'a>(
        &'a self,
        query: &'a Resolved,
        window: Window,
        deadline: Deadline,
    ) -> Pages<'a> {
        Pages {
            runner: self,
            query,
            deadline,
            pending: vec![window],
            reading: None,
            run: QueryRun::default(),
        }
    }

    /// One StartQuery and its polling to `Complete`: the query id and the first page.
    async fn start_and_wait(
        &self,
        q: &Resolved,
        w: Window,
        deadline: Deadline,
        run: &mut QueryRun,
    ) -> Result<(String, GetQueryResultsOutput), QueryError> {
        // The range is inclusive of both ends, in seconds: end at `end` itself and drop rows
        // stamped at or after it (see `in_window`), so no event falls between two windows.
        let start = || {
            let req = self
                .client
                .start_query()
                .query_language(api_language(q.language))
                .start_time(w.start_ms / 1000)
                .end_time(w.end_ms / 1000)
                .query_string(&q.query)
                .limit(q.limit as i32);
            match &q.log_groups {
                LogGroups::None => req,
                LogGroups::Names(n) => req.set_log_group_names(Some(n.clone())),
                LogGroups::Arns(a) => req.set_log_group_identifiers(Some(a.clone())),
            }
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
            language = q.language.name(),
            start_ms = w.start_ms,
            end_ms = w.end_ms,
            "query started"
        );
        let mut n = 0;
        loop {
            run.polls += 1;
            let out = match self
                .results(&query_id, q.language, None, deadline, run)
                .await
            {
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
                QueryStatus::Complete => {
                    run.pages += 1;
                    return Ok((query_id, out));
                }
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

    /// GetQueryResults: the first page (no token) or the one `token` names. Only Logs Insights
    /// QL results page; `maxItems` is sent for them alone.
    async fn results(
        &self,
        query_id: &str,
        language: Language,
        token: Option<&str>,
        deadline: Deadline,
        run: &mut QueryRun,
    ) -> Result<GetQueryResultsOutput, RetryError<GetQueryResultsError>> {
        let get = || {
            let req = self.client.get_query_results().query_id(query_id);
            let req = if language == Language::Cwli {
                req.max_items(PAGE_ROWS as i32)
            } else {
                req
            };
            req.set_next_token(token.map(str::to_owned)).send()
        };
        retry::retry(deadline, self.backoff, &mut run.retry, get).await
    }

    /// A page of a `Complete` query.
    async fn page(
        &self,
        query_id: &str,
        language: Language,
        token: Option<&str>,
        deadline: Deadline,
        run: &mut QueryRun,
    ) -> Result<GetQueryResultsOutput, QueryError> {
        let out = self
            .results(query_id, language, token, deadline, run)
            .await
            .map_err(|e| match e {
                RetryError::Deadline { .. } => QueryError::DeadlineWhileReading {
                    query_id: query_id.to_owned(),
                    pages: run.pages,
                },
                e => QueryError::Results {
                    query_id: query_id.to_owned(),
                    message: e.to_string(),
                },
            })?;
        run.pages += 1;
        Ok(out)
    }

    /// The saved query named `name` (see [`super::definition`]).
    pub async fn saved_query(
        &self,
        name: &str,
        language: Option<Language>,
        deadline: Deadline,
    ) -> Result<super::definition::SavedQuery, super::definition::DefinitionError> {
        super::definition::lookup(&self.client, name, language, self.backoff, deadline).await
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

/// Where the reading of a `Complete` result stands.
#[derive(Debug)]
struct Reading {
    query_id: String,
    window: Window,
    /// The first page, from the `Complete` answer, not handed out yet.
    first: Option<Vec<Row>>,
    next: Next,
    /// For a result handed out as it is read (recordsMatched below the limit): its rows so
    /// far, outside the window included (the limit counts them), checked at its last page.
    count: Option<usize>,
}

#[derive(Debug)]
enum Next {
    Done,
    Token(String),
    /// Read the result again from its first page (it was counted first).
    FromStart,
}

/// One spec's query over its window: its pages, one at a time (see the module's doc).
#[derive(Debug)]
pub struct Pages<'a> {
    runner: &'a QueryRunner,
    query: &'a Resolved,
    deadline: Deadline,
    /// Windows still to query, the earliest last: depth-first, so rows come out in window order.
    pending: Vec<Window>,
    reading: Option<Reading>,
    /// What the run did so far.
    pub run: QueryRun,
}

impl Pages<'_> {
    /// The next page of rows in the window (possibly empty), or `None` when every window's
    /// result has been read.
    pub async fn next(&mut self) -> Result<Option<Vec<Row>>, QueryError> {
        loop {
            if let Some(r) = &mut self.reading {
                if let Some(rows) = r.first.take() {
                    self.run.rows += rows.len() as u64;
                    return Ok(Some(rows));
                }
                let token = match std::mem::replace(&mut r.next, Next::Done) {
                    Next::Done => {
                        if r.count.is_some_and(|c| c >= self.query.limit) {
                            // Streamed because recordsMatched said it could not fill the limit.
                            self.run.truncated_windows += 1;
                            tracing::warn!(
                                query_id = r.query_id,
                                rows = r.count,
                                "a result reached its limit though fewer records matched: rows may be missing"
                            );
                        }
                        self.reading = None;
                        continue;
                    }
                    Next::Token(t) => Some(t),
                    Next::FromStart => None,
                };
                let mut out = self
                    .runner
                    .page(
                        &r.query_id,
                        self.query.language,
                        token.as_deref(),
                        self.deadline,
                        &mut self.run,
                    )
                    .await?;
                r.next = out.next_token.take().map_or(Next::Done, Next::Token);
                let results = out.results.take().unwrap_or_default();
                if let Some(c) = &mut r.count {
                    *c += results.len();
                }
                let rows = rows_in(results, r.window);
                self.run.rows += rows.len() as u64;
                return Ok(Some(rows));
            }
            let Some(w) = self.pending.pop() else {
                return Ok(None);
            };
            let (query_id, mut out) = self
                .runner
                .start_and_wait(self.query, w, self.deadline, &mut self.run)
                .await?;
            let matched = out.statistics().map(|s| s.records_matched());
            if let Some(s) = out.statistics() {
                self.run.records_matched += s.records_matched();
                self.run.records_scanned += s.records_scanned();
                self.run.bytes_scanned += s.bytes_scanned();
            }
            let first = out.results.take().unwrap_or_default();
            let limit = self.query.limit;
            let mut count = first.len();
            let (first, next, streamed) = match out.next_token.take() {
                None => (Some(first), Next::Done, false),
                // Cannot reach the limit: hand the pages out as they come.
                Some(token) if matched.is_some_and(|m| m < limit as f64) => {
                    (Some(first), Next::Token(token), true)
                }
                Some(token) => {
                    drop(first);
                    count += self.count_pages(&query_id, token).await?;
                    (None, Next::FromStart, false)
                }
            };
            if !streamed && count >= limit {
                if w.len_ms() >= 2 * MIN_SPLIT_WINDOW.as_millis() as i64 {
                    self.run.splits += 1;
                    tracing::info!(
                        query_id,
                        window_ms = w.len_ms(),
                        rows = count,
                        limit,
                        "the result reached the query's limit; querying each half of the window"
                    );
                    let (a, b) = w.halves();
                    self.pending.push(b);
                    self.pending.push(a);
                    continue;
                }
                self.run.truncated_windows += 1;
                tracing::warn!(
                    start_ms = w.start_ms,
                    end_ms = w.end_ms,
                    limit,
                    "a one-second window still reached the query's limit: rows may be missing"
                );
            }
            self.reading = Some(Reading {
                query_id,
                window: w,
                first: first.map(|f| rows_in(f, w)),
                next,
                count: streamed.then_some(count),
            });
        }
    }

    /// Reads the pages after the first only to count their rows.
    async fn count_pages(&mut self, query_id: &str, token: String) -> Result<usize, QueryError> {
        let mut count = 0;
        let mut token = Some(token);
        while let Some(t) = token {
            let mut out = self
                .runner
                .page(
                    query_id,
                    self.query.language,
                    Some(&t),
                    self.deadline,
                    &mut self.run,
                )
                .await?;
            count += out.results().len();
            token = out.next_token.take();
        }
        Ok(count)
    }
}

/// A page's rows in `w`, the strings moved out of the SDK's fields.
fn rows_in(results: Vec<Vec<ResultField>>, w: Window) -> Vec<Row> {
    results
        .into_iter()
        .map(row)
        .filter(|r| in_window(r, w))
        .collect()
}

fn row(fields: Vec<ResultField>) -> Row {
    fields
        .into_iter()
        .filter_map(|f| {
            let name = f.field?;
            (name != "@ptr").then(|| (name, f.value.unwrap_or_default()))
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
