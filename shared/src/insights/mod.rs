//! The insights-reporter: scheduled CloudWatch Logs Insights queries, republished as log events
//! (for people and dashboards) and as CloudWatch metrics in Embedded Metric Format (for alarms).
//!
//! - [`spec`]: the query spec, its language and log groups, durations, the aligned window.
//! - [`definition`]: saved queries, found by name with DescribeQueryDefinitions.
//! - [`query`]: StartQuery → GetQueryResults, page by page → StopQuery on deadline; splitting
//!   full results.
//! - here: the input shapes, bounded concurrency, republishing page by page, metrics and the
//!   answer.

pub mod definition;
pub mod query;
pub mod spec;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::batch::LogEvent;
use crate::config::{CommonConfig, ConfigError};
use crate::emf::{MetricRecord, Unit};
use crate::failure::{ErrorType, Typed};
use crate::writer::{WriteContext, WriteReport, Writer};
use definition::{DefinitionError, SavedQuery};
use query::{QueryRun, QueryRunner, Row, row_timestamp};
use spec::{Defaults, EnvSpec, Language, QuerySpec, Resolved, Source, SpecError, Window, rfc3339};

/// Default `QUERY_CONCURRENCY`: a tenth of the account's 100 concurrent Logs Insights QL
/// queries (30 before 2026-03-26), which scheduled queries, dashboards and people share.
pub const DEFAULT_QUERY_CONCURRENCY: usize = 10;

/// The reporter's configuration.
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    /// `TARGET_LOG_GROUP` / `TARGET_LOG_STREAM`: where rows go when a spec names no target.
    pub defaults: Defaults,
    /// `QUERY_*`: the spec of plain EventBridge scheduled events.
    pub env_spec: EnvSpec,
    /// `QUERY_CONCURRENCY` (default [`DEFAULT_QUERY_CONCURRENCY`], 1–100): specs running at
    /// once in an invocation, each from its StartQuery to its last page republished.
    pub query_concurrency: usize,
    pub common: CommonConfig,
}

impl ReporterConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let defaults = Defaults {
            log_group: get("TARGET_LOG_GROUP"),
            log_stream: get("TARGET_LOG_STREAM"),
        };
        if let Some(g) = &defaults.log_group {
            crate::config::check_log_group(g).map_err(|reason| ConfigError::Invalid {
                var: "TARGET_LOG_GROUP",
                reason,
            })?;
        }
        if let Some(s) = &defaults.log_stream {
            crate::config::check_log_stream(s).map_err(|reason| ConfigError::Invalid {
                var: "TARGET_LOG_STREAM",
                reason,
            })?;
        }
        let query_concurrency = match get("QUERY_CONCURRENCY") {
            None => DEFAULT_QUERY_CONCURRENCY,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    var: "QUERY_CONCURRENCY",
                    reason: format!(
                        "{v:?} is not a whole number from 1 to 100 (the account runs at most 100 queries at once)"
                    ),
                })?,
        };
        Ok(Self {
            defaults,
            env_spec: EnvSpec::from_lookup(get),
            query_concurrency,
            common: CommonConfig::from_lookup(get)?,
        })
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "unrecognised event ({0}); accepted: a query spec {{\"name\",\"query\",\"logGroups\",\"window\",…}}, {{\"queries\": [spec, …]}}, or an EventBridge \"Scheduled Event\" (spec from QUERY_* variables)"
    )]
    UnknownShape(String),
    /// One or more queries failed; the message lists each with its query id and status.
    /// `error_type` is the first failed query's (in the order of the specs).
    #[error("{failed} of {total} queries failed: {details}")]
    Queries {
        failed: usize,
        total: usize,
        details: String,
        error_type: ErrorType,
    },
}

impl Typed for ReporterError {
    fn error_type(&self) -> ErrorType {
        match self {
            ReporterError::Spec(_) | ReporterError::UnknownShape(_) => ErrorType::InvalidEvent,
            ReporterError::Queries { error_type, .. } => *error_type,
        }
    }
}

/// What one spec's run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecReport {
    pub name: String,
    pub window: Window,
    pub language: Language,
    /// The saved query it ran, if any.
    pub definition: Option<String>,
    pub run: QueryRun,
    pub write: WriteReport,
    /// Metric values that were not numbers (skipped), and EMF records emitted.
    pub metric_values_skipped: u64,
    pub metric_records: u64,
}

impl SpecReport {
    /// The answer's entry for this query.
    pub fn answer(&self) -> Value {
        let mut a = json!({
            "name": self.name,
            "queryId": self.run.query_ids.first().cloned().unwrap_or_default(),
            "status": "Complete",
            "language": self.language.name(),
            "rows": self.run.rows,
            "pages": self.run.pages,
            "windowStart": rfc3339(self.window.start_ms),
            "windowEnd": rfc3339(self.window.end_ms),
            "recordsMatched": self.run.records_matched,
            "recordsScanned": self.run.records_scanned,
            "bytesScanned": self.run.bytes_scanned,
        });
        if let Some(d) = &self.definition {
            a["queryDefinition"] = json!(d);
        }
        if self.run.query_ids.len() > 1 {
            a["queryIds"] = json!(self.run.query_ids);
        }
        if self.run.truncated_windows > 0 {
            a["truncatedWindows"] = json!(self.run.truncated_windows);
        }
        a
    }
}

/// One invocation's accounting, logged as one structured line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub queries: u64,
    pub queries_failed: u64,
    pub rows: u64,
    pub report: WriteReport,
    pub metric_records: u64,
    pub metric_values_skipped: u64,
    pub splits: u64,
    pub polls: u64,
    pub pages: u64,
}

impl Summary {
    /// Every row was written, rejected or failed.
    pub fn is_conserved(&self) -> bool {
        self.rows == self.report.events()
    }

    pub fn log(&self) {
        let r = &self.report;
        tracing::info!(
            queries = self.queries,
            queries_failed = self.queries_failed,
            rows = self.rows,
            written = r.written,
            rejected = r.rejected.total(),
            failed = r.failed,
            requests = r.requests,
            retries = r.retries,
            throttles = r.throttles,
            splits = self.splits,
            polls = self.polls,
            pages = self.pages,
            metric_records = self.metric_records,
            metric_values_skipped = self.metric_values_skipped,
            conserved = self.is_conserved(),
            "invocation summary"
        );
    }
}

/// What an invocation produced.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Value, ReporterError>,
    pub summary: Summary,
    /// EMF records (one per row of queries with `metrics`), to print on stdout; empty when the
    /// reporter has a [`MetricLines`] sink, which got them as each page was read.
    pub metrics: Vec<String>,
}

/// Where EMF records go as soon as a page's rows make them (the function prints them), so
/// that a large result's records are not held until the end.
#[derive(Clone)]
pub struct MetricLines(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for MetricLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricLines")
    }
}

/// The reporter: configuration, query runner and writer, built once per container.
#[derive(Debug, Clone)]
pub struct Reporter {
    config: ReporterConfig,
    runner: QueryRunner,
    writer: Writer,
    metric_lines: Option<MetricLines>,
}

impl Reporter {
    pub fn new(config: ReporterConfig, runner: QueryRunner, writer: Writer) -> Self {
        Self {
            config,
            runner,
            writer,
            metric_lines: None,
        }
    }

    /// Sends EMF records to `lines` as they are made instead of collecting them in
    /// [`Outcome::metrics`].
    pub fn with_metric_lines(mut self, lines: MetricLines) -> Self {
        self.metric_lines = Some(lines);
        self
    }

    pub fn config(&self) -> &ReporterConfig {
        &self.config
    }

    /// The specs an event carries.
    pub fn specs(&self, event: &Value, now_ms: i64) -> Result<Vec<QuerySpec>, ReporterError> {
        let Value::Object(m) = event else {
            return Err(ReporterError::UnknownShape(format!(
                "the event is not a JSON object: {event}"
            )));
        };
        let d = &self.config.defaults;
        if m.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
            let time = m
                .get("time")
                .and_then(Value::as_str)
                .ok_or_else(|| SpecError {
                    field: "time".into(),
                    reason: "the scheduled event has no time".into(),
                })?;
            return Ok(vec![
                self.config
                    .env_spec
                    .spec(d, spec::parse_time("time", time)?)?,
            ]);
        }
        if let Some(queries) = m.get("queries") {
            let list = queries.as_array().ok_or_else(|| SpecError {
                field: "queries".into(),
                reason: "must be an array of query specs".into(),
            })?;
            if list.is_empty() {
                return Err(SpecError {
                    field: "queries".into(),
                    reason: "must hold at least one query spec".into(),
                }
                .into());
            }
            return list
                .iter()
                .enumerate()
                .map(|(i, s)| Ok(spec::parse_spec(s, &format!("queries[{i}]."), d, now_ms)?))
                .collect();
        }
        if m.contains_key("query") || m.contains_key("name") {
            return Ok(vec![spec::parse_spec(event, "", d, now_ms)?]);
        }
        Err(ReporterError::UnknownShape(format!(
            "top-level keys {:?}",
            m.keys().take(8).collect::<Vec<_>>()
        )))
    }

    /// Handles one invocation: the specs' queries run concurrently, at most
    /// `QUERY_CONCURRENCY` at once, within `ctx`'s deadline.
    pub async fn handle(&self, event: Value, ctx: WriteContext) -> Outcome {
        let mut summary = Summary::default();
        let specs = match self.specs(&event, ctx.now_ms) {
            Ok(s) => s,
            Err(e) => {
                return Outcome {
                    result: Err(e),
                    summary,
                    metrics: Vec::new(),
                };
            }
        };
        summary.queries = specs.len() as u64;
        // One permit per running spec, held from its saved-query lookup or StartQuery to its
        // last page republished: the queries this invocation runs at once, and the pages it
        // holds at once, are both bounded by it.
        let permits = Semaphore::new(self.config.query_concurrency);
        let saved = self.saved_queries(&specs, &permits, ctx).await;
        let results = join_all(specs.iter().map(|s| async {
            let _permit = permits.acquire().await.ok();
            let request = match &s.source {
                Source::Text(query) => s.request(query),
                Source::Saved { name, .. } => saved
                    .get(&(name.clone(), s.language))
                    .cloned()
                    .unwrap_or_else(|| {
                        Err(DefinitionError::Lookup {
                            name: name.clone(),
                            message: "not looked up".into(),
                        })
                    })
                    .and_then(|d| definition::resolve(s, &d))
                    .map_err(|e| SpecFailure::before_start(e.to_string(), e.error_type()))?,
            };
            self.run_spec(s, &request, ctx).await
        }))
        .await;
        let mut answers = Vec::new();
        let mut failures = Vec::new();
        let mut metrics = Vec::new();
        for (spec, r) in specs.iter().zip(results) {
            match r {
                Ok((report, records)) => {
                    summary.rows += report.run.rows;
                    summary.splits += u64::from(report.run.splits);
                    summary.polls += u64::from(report.run.polls);
                    summary.pages += u64::from(report.run.pages);
                    summary.metric_records += report.metric_records;
                    summary.metric_values_skipped += report.metric_values_skipped;
                    answers.push(report.answer());
                    summary.report.add(report.write);
                    metrics.extend(records);
                }
                Err(SpecFailure {
                    message,
                    error_type,
                    rows,
                    write,
                }) => {
                    summary.queries_failed += 1;
                    summary.rows += rows;
                    if let Some(w) = write {
                        summary.report.add(w);
                    }
                    tracing::error!(query = spec.name, error = %message, "query failed");
                    failures.push((error_type, format!("{}: {message}", spec.name)));
                }
            }
        }
        let result = match failures.first() {
            None => Ok(json!({ "queries": answers })),
            Some(&(error_type, _)) => Err(ReporterError::Queries {
                failed: failures.len(),
                total: specs.len(),
                details: failures
                    .into_iter()
                    .map(|(_, m)| m)
                    .collect::<Vec<_>>()
                    .join("; "),
                error_type,
            }),
        };
        Outcome {
            result,
            summary,
            metrics,
        }
    }

    /// Every saved query the specs name, looked up once each (as many at once as queries may
    /// run).
    async fn saved_queries(
        &self,
        specs: &[QuerySpec],
        permits: &Semaphore,
        ctx: WriteContext,
    ) -> BTreeMap<(String, Option<Language>), Result<SavedQuery, DefinitionError>> {
        let mut wanted: Vec<(String, Option<Language>)> = specs
            .iter()
            .filter_map(|s| match &s.source {
                Source::Saved { name, .. } => Some((name.clone(), s.language)),
                Source::Text(_) => None,
            })
            .collect();
        wanted.sort();
        wanted.dedup();
        let found = join_all(wanted.iter().map(|(name, language)| async {
            let _permit = permits.acquire().await.ok();
            self.runner.saved_query(name, *language, ctx.deadline).await
        }))
        .await;
        wanted.into_iter().zip(found).collect()
    }

    /// Runs one spec: its query's pages are republished (and made metrics) one by one, so the
    /// function holds one page of rows at a time.
    async fn run_spec(
        &self,
        spec: &QuerySpec,
        request: &Resolved,
        ctx: WriteContext,
    ) -> Result<(SpecReport, Vec<String>), SpecFailure> {
        let window = Window::aligned(spec.scheduled_ms, spec.window, spec.delay);
        let mut pages = self.runner.pages(request, window, ctx.deadline);
        let mut write = WriteReport::default();
        let mut records = Vec::new();
        let (mut metric_records, mut metric_values_skipped) = (0, 0);
        loop {
            let rows = match pages.next().await {
                Ok(Some(rows)) => rows,
                Ok(None) => break,
                Err(e) => {
                    return Err(SpecFailure {
                        message: e.to_string(),
                        error_type: e.error_type(),
                        rows: pages.run.rows,
                        write: Some(write),
                    });
                }
            };
            if let Some(m) = &spec.metrics {
                for r in &rows {
                    let (record, skipped) = row_metrics(spec, m, window, r);
                    metric_values_skipped += skipped;
                    if record.metric_count() == 0 {
                        continue;
                    }
                    match record.to_json(window.start_ms) {
                        Ok(line) => {
                            metric_records += 1;
                            match &self.metric_lines {
                                Some(MetricLines(emit)) => emit(&line),
                                None => records.push(line),
                            }
                        }
                        Err(e) => {
                            tracing::warn!(query = spec.name, error = %e, "row not published as metrics")
                        }
                    }
                }
            }
            // Each row is freed as its event is made: the page is never held twice.
            let events: Vec<LogEvent> = rows
                .into_iter()
                .map(|r| row_event(spec, window, &r))
                .collect();
            let w = self
                .writer
                .write(&spec.target.log_group, &spec.target.log_stream, events, ctx)
                .await;
            write.add(w);
            if let Some(cause) = &write.error {
                let message = format!(
                    "{} of {} rows were not republished ({} written): {cause}",
                    write.failed, pages.run.rows, write.written
                );
                return Err(SpecFailure {
                    message,
                    error_type: cause.error_type(),
                    rows: pages.run.rows,
                    write: Some(write),
                });
            }
        }
        let report = SpecReport {
            name: spec.name.clone(),
            window,
            language: request.language,
            definition: match &spec.source {
                Source::Saved { name, .. } => Some(name.clone()),
                Source::Text(_) => None,
            },
            run: pages.run,
            write,
            metric_values_skipped,
            metric_records,
        };
        Ok((report, records))
    }
}

/// A spec that failed: why, and what its rows came to before it did.
struct SpecFailure {
    message: String,
    error_type: ErrorType,
    rows: u64,
    write: Option<WriteReport>,
}

impl SpecFailure {
    fn before_start(message: String, error_type: ErrorType) -> Self {
        Self {
            message,
            error_type,
            rows: 0,
            write: None,
        }
    }
}

/// A row as a log event: a JSON object of its fields (without `@ptr`) plus `query`,
/// `windowStart` and `windowEnd`, stamped with the row's `@timestamp`, or else the window's
/// last millisecond.
pub fn row_event(spec: &QuerySpec, window: Window, row: &Row) -> LogEvent {
    let mut o = Map::new();
    for (k, v) in row {
        o.insert(k.clone(), Value::String(v.clone()));
    }
    o.insert("query".into(), Value::String(spec.name.clone()));
    o.insert(
        "windowStart".into(),
        Value::String(rfc3339(window.start_ms)),
    );
    o.insert("windowEnd".into(), Value::String(rfc3339(window.end_ms)));
    LogEvent {
        timestamp: row_timestamp(row).unwrap_or(window.end_ms - 1),
        message: Value::Object(o).to_string().into(),
        origin: 0,
    }
}

/// A row as an EMF record: `dimensions` fields as dimensions (missing ones as `"unknown"`),
/// `values` fields as metrics when they parse as finite numbers; the others are skipped and
/// counted.
pub fn row_metrics(
    spec: &QuerySpec,
    m: &spec::MetricsSpec,
    window: Window,
    row: &Row,
) -> (MetricRecord, u64) {
    let get = |name: &str| row.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut record = MetricRecord::new(&m.namespace);
    for d in &m.dimensions {
        record = record.dimension(d, get(d).filter(|v| !v.is_empty()).unwrap_or("unknown"));
    }
    let mut skipped = 0;
    for v in &m.values {
        match get(v)
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite())
        {
            Some(n) => record = record.metric(v, n, Unit::None),
            None => skipped += 1,
        }
    }
    let record = record
        .property("query", Value::String(spec.name.clone()))
        .property("windowStart", Value::String(rfc3339(window.start_ms)))
        .property("windowEnd", Value::String(rfc3339(window.end_ms)));
    (record, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec() -> QuerySpec {
        spec::parse_spec(
            &json!({"name": "errors-by-service", "query": "q", "logGroups": ["/g"], "window": "5m", "target": {"logGroup": "/r"},
                    "metrics": {"namespace": "Orders", "dimensions": ["service"], "values": ["errors", "p99"]}}),
            "",
            &Defaults::default(),
            0,
        )
        .unwrap()
    }

    #[test]
    fn query_concurrency_defaults_to_10_and_is_checked() {
        let config = |v: Option<&str>| {
            ReporterConfig::from_lookup(|k| match k {
                "QUERY_CONCURRENCY" => v.map(String::from),
                _ => None,
            })
        };
        assert_eq!(config(None).unwrap().query_concurrency, 10);
        assert_eq!(config(Some(" 25 ")).unwrap().query_concurrency, 25);
        for bad in ["0", "101", "ten", "-1"] {
            let e = config(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("QUERY_CONCURRENCY") && e.contains("from 1 to 100"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn rows_become_events_and_metrics() {
        let s = spec();
        let w = Window::aligned(1_795_309_500_000, Duration::from_secs(300), Duration::ZERO);
        let row: Row = vec![
            ("service".into(), "billing".into()),
            ("errors".into(), "7".into()),
            ("p99".into(), "n/a".into()),
        ];
        let e = row_event(&s, w, &row);
        assert_eq!(e.timestamp, w.end_ms - 1);
        let v: Value = serde_json::from_str(&e.message.text()).unwrap();
        assert_eq!(
            v,
            json!({"service": "billing", "errors": "7", "p99": "n/a", "query": "errors-by-service", "windowStart": "2026-11-22T01:00:00Z", "windowEnd": "2026-11-22T01:05:00Z"})
        );
        let (record, skipped) = row_metrics(&s, s.metrics.as_ref().unwrap(), w, &row);
        assert_eq!(skipped, 1, "p99 is not a number");
        let emf: Value = serde_json::from_str(&record.to_json(w.start_ms).unwrap()).unwrap();
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["service"]])
        );
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "errors", "Unit": "None"}])
        );
        assert_eq!(
            (emf["service"].clone(), emf["errors"].clone()),
            (json!("billing"), json!(7.0))
        );
        let (record, _) = row_metrics(
            &s,
            s.metrics.as_ref().unwrap(),
            w,
            &vec![("errors".into(), "1".into())],
        );
        let emf: Value = serde_json::from_str(&record.to_json(0).unwrap()).unwrap();
        assert_eq!(emf["service"], "unknown");
    }
}
