//! What to query: the query spec, its durations, and the aligned time window.
//!
//! The spec is the schedule's input, so one function serves many schedules. The window is a
//! pure function of the scheduled time: a retry of the same run, or a late run, covers exactly
//! the same window, and consecutive runs cover consecutive windows — no gap, no overlap.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Most log groups one StartQuery may name (`logGroupNames`, `logGroupIdentifiers`).
pub const MAX_LOG_GROUPS: usize = 50;
/// Most rows a Logs Insights QL query returns (StartQuery `limit`, read in pages of 10,000).
pub const MAX_ROWS_CWLI: usize = 100_000;
/// Most rows an OpenSearch SQL or PPL query returns (StartQuery `limit`; their results are not
/// paged).
pub const MAX_ROWS_SQL_PPL: usize = 10_000;

/// A spec that cannot run; `field` is the JSON field (or environment variable) at fault.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid query spec: {field}: {reason}")]
pub struct SpecError {
    pub field: String,
    pub reason: String,
}

fn err(field: impl Into<String>, reason: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Where the rows are republished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub log_group: String,
    pub log_stream: String,
}

/// Which row fields become CloudWatch metrics (Embedded Metric Format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSpec {
    pub namespace: String,
    /// Row fields used as dimensions (≤ 30).
    pub dimensions: Vec<String>,
    /// Row fields parsed as numbers and published as metrics (≤ 100).
    pub values: Vec<String>,
}

/// The query language, StartQuery's `queryLanguage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Language {
    /// Logs Insights QL (`CWLI`): the default, and the only language whose results page.
    #[default]
    Cwli,
    /// OpenSearch SQL (`SQL`): names its log groups in the query's `FROM` clause.
    Sql,
    /// OpenSearch PPL (`PPL`).
    Ppl,
}

impl Language {
    /// `cwli`, `sql` or `ppl`, in any case (the API's own `CWLI`, `SQL`, `PPL` included).
    pub fn parse(field: &str, text: &str) -> Result<Language, SpecError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cwli" => Ok(Language::Cwli),
            "sql" => Ok(Language::Sql),
            "ppl" => Ok(Language::Ppl),
            _ => Err(err(
                field,
                format!(
                    "{text:?} is not a query language: cwli (Logs Insights QL, the default), sql or ppl"
                ),
            )),
        }
    }

    /// The spec's (and the answer's) name: `cwli`, `sql`, `ppl`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Cwli => "cwli",
            Language::Sql => "sql",
            Language::Ppl => "ppl",
        }
    }

    /// The most rows one query returns: the largest `limit` StartQuery takes for the language.
    pub fn max_rows(self) -> usize {
        match self {
            Language::Cwli => MAX_ROWS_CWLI,
            Language::Sql | Language::Ppl => MAX_ROWS_SQL_PPL,
        }
    }

    /// SQL names its log groups in the query string; StartQuery then takes none of
    /// `logGroupName`, `logGroupNames` or `logGroupIdentifiers`.
    pub fn names_groups_in_query(self) -> bool {
        self == Language::Sql
    }
}

/// The log groups of a query, in the StartQuery parameter that takes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogGroups {
    /// None: a SQL query names its own; a saved query may supply them.
    #[default]
    None,
    /// `logGroupNames`.
    Names(Vec<String>),
    /// `logGroupIdentifiers`: ARNs, without the `:*` that log group ARNs often carry (the
    /// service refuses it there). A monitoring account must name a source account's groups so.
    Arns(Vec<String>),
}

impl LogGroups {
    /// Entries as a spec lists them: all names, or all ARNs (`arn:aws:logs:REGION:ACCOUNT:
    /// log-group:NAME`, a trailing `:*` dropped). 1–50 of them.
    ///
    /// The API reference says `logGroupIdentifiers` takes names or ARNs but not whether one
    /// request may mix them; a mixed list is refused here, so that a schedule never fails on a
    /// rule found out in production.
    pub fn parse(field: &str, entries: Vec<String>) -> Result<LogGroups, SpecError> {
        if entries.is_empty() {
            return Err(err(field, "must name at least one log group"));
        }
        if entries.len() > MAX_LOG_GROUPS {
            return Err(err(
                field,
                format!(
                    "names {} log groups; a query may name at most {MAX_LOG_GROUPS}",
                    entries.len()
                ),
            ));
        }
        let arns = entries.iter().filter(|e| e.starts_with("arn:")).count();
        if arns == 0 {
            for (i, g) in entries.iter().enumerate() {
                crate::config::check_log_group(g)
                    .map_err(|r| err(format!("{field}[{i}]"), format!("{g:?}: {r}")))?;
            }
            return Ok(LogGroups::Names(entries));
        }
        if arns < entries.len() {
            return Err(err(
                field,
                format!(
                    "mixes {arns} ARNs with {} names; list every log group by name or every one by ARN",
                    entries.len() - arns
                ),
            ));
        }
        entries
            .iter()
            .enumerate()
            .map(|(i, a)| {
                log_group_arn(a).map_err(|r| err(format!("{field}[{i}]"), format!("{a:?}: {r}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(LogGroups::Arns)
    }

    pub fn len(&self) -> usize {
        match self {
            LogGroups::None => 0,
            LogGroups::Names(v) | LogGroups::Arns(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A log group ARN as `logGroupIdentifiers` takes it: checked, without a trailing `:*`.
fn log_group_arn(arn: &str) -> Result<String, String> {
    let bare = arn.strip_suffix(":*").unwrap_or(arn);
    let parts: Vec<&str> = bare.splitn(7, ':').collect();
    let shape = "is not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)";
    let [_, partition, service, region, account, kind, name] = parts[..] else {
        return Err(shape.into());
    };
    if partition.is_empty() || service != "logs" || region.is_empty() || kind != "log-group" {
        return Err(shape.into());
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{shape}: the account is not 12 digits"));
    }
    crate::config::check_log_group(name)?;
    Ok(bare.to_owned())
}

/// What a spec runs: its own query string, or a saved query (query definition) by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `query`.
    Text(String),
    /// `queryDefinition`, and values for its `{{parameter}}` placeholders (`parameters`).
    Saved {
        name: String,
        parameters: Vec<(String, String)>,
    },
}

/// A validated query spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    pub name: String,
    pub source: Source,
    /// `language`; `None` when the spec does not say (Logs Insights QL, or the saved query's).
    pub language: Option<Language>,
    /// `logGroups`; `None` for SQL, and for a saved query that brings its own.
    pub log_groups: LogGroups,
    /// `limit`; `None` for the language's maximum.
    pub limit: Option<usize>,
    pub window: Duration,
    pub delay: Duration,
    /// Epoch milliseconds: when the schedule fired (EventBridge Scheduler's
    /// `<aws.scheduler.scheduled-time>`).
    pub scheduled_ms: i64,
    pub target: Target,
    pub metrics: Option<MetricsSpec>,
}

/// What StartQuery is sent for a spec: its query string, language, log groups and limit, a
/// saved query's applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub query: String,
    pub language: Language,
    pub log_groups: LogGroups,
    /// StartQuery `limit`: the spec's, else the language's maximum. A result this size is split.
    pub limit: usize,
}

impl QuerySpec {
    /// The request of a spec with its own query string `query` (a saved query's is made by
    /// [`super::definition::resolve`]).
    pub fn request(&self, query: &str) -> Resolved {
        let language = self.language.unwrap_or_default();
        Resolved {
            query: query.to_owned(),
            language,
            log_groups: self.log_groups.clone(),
            limit: self.limit.unwrap_or(language.max_rows()),
        }
    }
}

/// The aligned window `[start, end)`, epoch milliseconds (whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    /// end = (scheduled − delay) floored to a multiple of the window length since the epoch;
    /// start = end − window.
    pub fn aligned(scheduled_ms: i64, window: Duration, delay: Duration) -> Window {
        let len = window.as_millis() as i64;
        let end_ms = (scheduled_ms - delay.as_millis() as i64).div_euclid(len) * len;
        Window {
            start_ms: end_ms - len,
            end_ms,
        }
    }

    pub fn len_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }

    /// The two halves, split on a whole second.
    pub fn halves(&self) -> (Window, Window) {
        let mid = self.start_ms + (self.len_ms() / 2000) * 1000;
        (
            Window {
                start_ms: self.start_ms,
                end_ms: mid,
            },
            Window {
                start_ms: mid,
                end_ms: self.end_ms,
            },
        )
    }
}

/// RFC 3339 in UTC with whole seconds: `2026-11-22T01:00:00Z`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Parses an RFC 3339 time to epoch milliseconds.
pub fn parse_time(field: &str, text: &str) -> Result<i64, SpecError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            err(
                field,
                format!("{text:?} is not an RFC 3339 time such as 2026-11-22T01:05:00Z ({e})"),
            )
        })
}

/// Parses a duration: a positive whole number and a unit, `s`, `m`, `h` or `d` (`30s`, `5m`,
/// `1h`, `1d`).
pub fn parse_duration(field: &str, text: &str) -> Result<Duration, SpecError> {
    let t = text.trim();
    let bad = || {
        err(
            field,
            format!("{text:?} is not a duration such as 30s, 5m, 1h or 1d"),
        )
    };
    let unit = t.chars().last().ok_or_else(bad)?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let n: u64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
    Ok(Duration::from_secs(n.checked_mul(secs).ok_or_else(bad)?))
}

/// Defaults a spec may fall back on: the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    /// `TARGET_LOG_GROUP`.
    pub log_group: Option<String>,
    /// `TARGET_LOG_STREAM` (else the query's name).
    pub log_stream: Option<String>,
}

/// Validates one spec object; `prefix` names it in errors (`queries[2].`), `now_ms` is the
/// default scheduled time.
pub fn parse_spec(
    v: &Value,
    prefix: &str,
    defaults: &Defaults,
    now_ms: i64,
) -> Result<QuerySpec, SpecError> {
    let f = |name: &str| format!("{prefix}{name}");
    let Value::Object(m) = v else {
        let field = if prefix.is_empty() {
            "spec"
        } else {
            prefix.trim_end_matches('.')
        };
        return Err(err(field, format!("must be a JSON object, got {v}")));
    };
    let string = |name: &str, required: bool| -> Result<Option<String>, SpecError> {
        match m.get(name) {
            None | Some(Value::Null) if required => Err(err(f(name), "required")),
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(err(f(name), "must not be empty")),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(err(f(name), format!("must be a string, got {other}"))),
        }
    };
    let name = string("name", true)?.unwrap_or_default();
    let source = match (string("query", false)?, string("queryDefinition", false)?) {
        (Some(_), Some(_)) => {
            return Err(err(
                f("queryDefinition"),
                "give either query or queryDefinition, not both",
            ));
        }
        (None, None) => {
            return Err(err(
                f("query"),
                "required (or queryDefinition, the name of a saved query)",
            ));
        }
        (Some(q), None) => {
            if m.get("parameters").is_some_and(|p| !p.is_null()) {
                return Err(err(
                    f("parameters"),
                    "only a saved query (queryDefinition) takes parameters",
                ));
            }
            Source::Text(q)
        }
        (None, Some(d)) => Source::Saved {
            name: d,
            parameters: parse_parameters(&f("parameters"), m.get("parameters"))?,
        },
    };
    let language = string("language", false)?
        .map(|l| Language::parse(&f("language"), &l))
        .transpose()?;
    let log_groups = match m.get("logGroups") {
        None | Some(Value::Null) => LogGroups::None,
        Some(Value::Array(a)) => LogGroups::parse(
            &f("logGroups"),
            a.iter()
                .enumerate()
                .map(|(i, g)| match g {
                    Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    other => Err(err(
                        f(&format!("logGroups[{i}]")),
                        format!("must be a log group name or ARN, got {other}"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )?,
        Some(other) => {
            return Err(err(
                f("logGroups"),
                format!("must be an array of log group names or ARNs, got {other}"),
            ));
        }
    };
    check_groups_for(&f("logGroups"), language, &source, &log_groups)?;
    let limit = match m.get("limit") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let max = language.unwrap_or_default().max_rows();
            match v.as_u64().filter(|n| (1..=max as u64).contains(n)) {
                Some(n) => Some(n as usize),
                None => {
                    return Err(err(
                        f("limit"),
                        format!(
                            "must be a whole number from 1 to {max} (the most rows a {} query returns), got {v}",
                            language.unwrap_or_default().name()
                        ),
                    ));
                }
            }
        }
    };
    let window = parse_duration(&f("window"), &string("window", true)?.unwrap_or_default())?;
    let delay = match string("delay", false)? {
        None => Duration::ZERO,
        Some(d) => parse_duration(&f("delay"), &d)?,
    };
    check_window(&f("window"), window)?;
    let scheduled_ms = match string("scheduledTime", false)? {
        None => now_ms,
        Some(t) => parse_time(&f("scheduledTime"), &t)?,
    };
    let target = match m.get("target") {
        None | Some(Value::Null) => Value::Null,
        Some(t @ Value::Object(_)) => t.clone(),
        Some(other) => return Err(err(f("target"), format!("must be an object, got {other}"))),
    };
    let target_field = |name: &str| match target.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(other) => Err(err(
            f(&format!("target.{name}")),
            format!("must be a non-empty string, got {other}"),
        )),
    };
    let log_group = target_field("logGroup")?
        .or_else(|| defaults.log_group.clone())
        .ok_or_else(|| {
            err(
                f("target.logGroup"),
                "not given, and TARGET_LOG_GROUP is not set",
            )
        })?;
    crate::config::check_log_group(&log_group)
        .map_err(|r| err(f("target.logGroup"), format!("{log_group:?}: {r}")))?;
    let log_stream = target_field("logStream")?
        .or_else(|| defaults.log_stream.clone())
        .unwrap_or_else(|| crate::config::sanitize_log_stream(&name));
    crate::config::check_log_stream(&log_stream)
        .map_err(|r| err(f("target.logStream"), format!("{log_stream:?}: {r}")))?;
    let metrics = match m.get("metrics") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mm)) => Some(parse_metrics(&f("metrics"), mm)?),
        Some(other) => return Err(err(f("metrics"), format!("must be an object, got {other}"))),
    };
    Ok(QuerySpec {
        name,
        source,
        language,
        log_groups,
        limit,
        window,
        delay,
        scheduled_ms,
        target: Target {
            log_group,
            log_stream,
        },
        metrics,
    })
}

/// Which log groups a spec must name: SQL none (its `FROM` clause does), a saved query any
/// number (it may bring its own), Logs Insights QL and PPL at least one.
fn check_groups_for(
    field: &str,
    language: Option<Language>,
    source: &Source,
    groups: &LogGroups,
) -> Result<(), SpecError> {
    let sql = language.is_some_and(Language::names_groups_in_query);
    if sql && !groups.is_empty() {
        return Err(err(
            field,
            "a SQL query names its log groups in its FROM clause (FROM `logGroups(logGroupIdentifier: ['/aws/lambda/a'])`), not in logGroups",
        ));
    }
    if !sql && groups.is_empty() && matches!(source, Source::Text(_)) {
        return Err(err(field, "required"));
    }
    Ok(())
}

/// `parameters`: `{"name": "value", ...}`, values for a saved query's placeholders.
fn parse_parameters(field: &str, v: Option<&Value>) -> Result<Vec<(String, String)>, SpecError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                other => Err(err(
                    format!("{field}.{k}"),
                    format!("must be a string or a number, got {other}"),
                )),
            })
            .collect(),
        Some(other) => Err(err(
            field,
            format!("must be an object of parameter values, got {other}"),
        )),
    }
}

fn check_window(field: &str, window: Duration) -> Result<(), SpecError> {
    if window < Duration::from_secs(1) {
        return Err(err(field, "must be at least 1s"));
    }
    Ok(())
}

fn parse_metrics(
    field: &str,
    m: &serde_json::Map<String, Value>,
) -> Result<MetricsSpec, SpecError> {
    let list = |name: &str, max: usize| -> Result<Vec<String>, SpecError> {
        let items = match m.get(name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .ok_or_else(|| {
                            err(
                                format!("{field}.{name}"),
                                format!("must list field names, got {v}"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(err(
                    format!("{field}.{name}"),
                    format!("must be an array of field names, got {other}"),
                ));
            }
        };
        if items.len() > max {
            return Err(err(
                format!("{field}.{name}"),
                format!(
                    "lists {} fields; Embedded Metric Format allows at most {max}",
                    items.len()
                ),
            ));
        }
        Ok(items)
    };
    let namespace = match m.get("namespace") {
        None | Some(Value::Null) => return Err(err(format!("{field}.namespace"), "required")),
        Some(Value::String(s))
            if !s.is_empty() && s.chars().count() <= crate::emf::MAX_NAME_LEN =>
        {
            s.clone()
        }
        Some(other) => {
            return Err(err(
                format!("{field}.namespace"),
                format!("must be a string of 1–255 characters, got {other}"),
            ));
        }
    };
    let dimensions = list("dimensions", crate::emf::MAX_DIMENSIONS)?;
    let values = list("values", crate::emf::MAX_METRICS)?;
    if values.is_empty() {
        return Err(err(
            format!("{field}.values"),
            "must list at least one field to publish",
        ));
    }
    if let Some(d) = dimensions.iter().find(|d| values.contains(d)) {
        return Err(err(
            format!("{field}.values"),
            format!("{d:?} is also a dimension"),
        ));
    }
    Ok(MetricsSpec {
        namespace,
        dimensions,
        values,
    })
}

/// The environment's spec, for plain EventBridge scheduled events: `QUERY_NAME`,
/// `QUERY_STRING` or `QUERY_DEFINITION`, `QUERY_LANGUAGE`, `QUERY_LOG_GROUPS`
/// (comma-separated), `QUERY_LIMIT`, `QUERY_WINDOW`, `QUERY_DELAY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSpec {
    pub name: Option<String>,
    pub query: Option<String>,
    pub definition: Option<String>,
    pub language: Option<String>,
    pub log_groups: Option<String>,
    pub limit: Option<String>,
    pub window: Option<String>,
    pub delay: Option<String>,
}

impl EnvSpec {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Self {
            name: get("QUERY_NAME"),
            query: get("QUERY_STRING"),
            definition: get("QUERY_DEFINITION"),
            language: get("QUERY_LANGUAGE"),
            log_groups: get("QUERY_LOG_GROUPS"),
            limit: get("QUERY_LIMIT"),
            window: get("QUERY_WINDOW"),
            delay: get("QUERY_DELAY"),
        }
    }

    /// The spec of a scheduled event fired at `scheduled_ms`; errors name the variable.
    pub fn spec(&self, defaults: &Defaults, scheduled_ms: i64) -> Result<QuerySpec, SpecError> {
        let need = |v: &Option<String>, var: &str| {
            v.clone()
                .ok_or_else(|| err(var, "required for scheduled events, but not set"))
        };
        let mut doc = serde_json::json!({
            "name": need(&self.name, "QUERY_NAME")?,
            "window": need(&self.window, "QUERY_WINDOW")?,
        });
        for (key, value) in [
            ("query", &self.query),
            ("queryDefinition", &self.definition),
            ("language", &self.language),
            ("delay", &self.delay),
        ] {
            if let Some(v) = value {
                doc[key] = Value::String(v.clone());
            }
        }
        if let Some(groups) = &self.log_groups {
            let groups: Vec<&str> = groups
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .collect();
            doc["logGroups"] = serde_json::json!(groups);
        }
        if let Some(l) = &self.limit {
            doc["limit"] = l
                .trim()
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(l.clone()));
        }
        parse_spec(&doc, "", defaults, scheduled_ms).map_err(|e| {
            let field = e.field.split(['[', '.']).next().unwrap_or_default();
            let var = match field {
                "window" => "QUERY_WINDOW",
                "delay" => "QUERY_DELAY",
                "name" => "QUERY_NAME",
                "query" => "QUERY_STRING",
                "queryDefinition" => "QUERY_DEFINITION",
                "language" => "QUERY_LANGUAGE",
                "logGroups" => "QUERY_LOG_GROUPS",
                "limit" => "QUERY_LIMIT",
                _ => return e,
            };
            let reason = match e.reason.as_str() {
                "required" => "required for scheduled events, but not set".to_owned(),
                r => r.replace("queryDefinition", "QUERY_DEFINITION"),
            };
            err(var, reason)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: &str = "2026-11-22T01:05:00Z";

    fn defaults() -> Defaults {
        Defaults {
            log_group: Some("/logship/reports".into()),
            log_stream: None,
        }
    }

    fn spec(v: Value) -> Result<QuerySpec, SpecError> {
        parse_spec(&v, "", &defaults(), 0)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("w", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("w", "5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("w", "1h").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_duration("w", "1d").unwrap(),
            Duration::from_secs(86_400)
        );
        for bad in ["", "5", "m", "5x", "-5m", "1.5h", "5 m"] {
            assert!(
                parse_duration("window", bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("invalid query spec: window:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn windows_are_aligned_and_a_late_run_covers_the_same_one() {
        let t = parse_time("t", T).unwrap();
        let w = Window::aligned(t, Duration::from_secs(300), Duration::from_secs(60));
        assert_eq!(
            (rfc3339(w.start_ms), rfc3339(w.end_ms)),
            ("2026-11-22T00:55:00Z".into(), "2026-11-22T01:00:00Z".into())
        );
        // A retry carries the same scheduledTime, so the same window. A run that fires late
        // without one (scheduledTime defaults to now) still lands in the same window while
        // the lateness stays within the window's alignment: here up to 59 s.
        assert_eq!(
            Window::aligned(t, Duration::from_secs(300), Duration::from_secs(60)),
            w
        );
        assert_eq!(
            Window::aligned(
                t + 59_000,
                Duration::from_secs(300),
                Duration::from_secs(60)
            ),
            w
        );
        // The next scheduled run: the next window, adjacent.
        let next = Window::aligned(
            t + 300_000,
            Duration::from_secs(300),
            Duration::from_secs(60),
        );
        assert_eq!(next.start_ms, w.end_ms);
        // Daily windows align on midnight UTC.
        let d = Window::aligned(t, Duration::from_secs(86_400), Duration::ZERO);
        assert_eq!(
            (rfc3339(d.start_ms), rfc3339(d.end_ms)),
            ("2026-11-21T00:00:00Z".into(), "2026-11-22T00:00:00Z".into())
        );
        let (a, b) = w.halves();
        assert_eq!(
            (a.start_ms, a.end_ms, b.end_ms),
            (w.start_ms, w.start_ms + 150_000, w.end_ms)
        );
    }

    #[test]
    fn a_full_spec() {
        let s = spec(json!({"name": "errors-by-service", "query": "fields @message", "logGroups": ["/aws/lambda/orders"],
            "window": "5m", "delay": "1m", "scheduledTime": T, "target": {"logGroup": "/reports", "logStream": "errors"},
            "metrics": {"namespace": "Orders", "dimensions": ["service"], "values": ["errors"]}}))
        .unwrap();
        assert_eq!(s.window, Duration::from_secs(300));
        assert_eq!(s.delay, Duration::from_secs(60));
        assert_eq!(rfc3339(s.scheduled_ms), T);
        assert_eq!(
            s.target,
            Target {
                log_group: "/reports".into(),
                log_stream: "errors".into()
            }
        );
        assert_eq!(s.metrics.unwrap().values, ["errors"]);
        let s =
            spec(json!({"name": "n", "query": "q", "logGroups": ["/g"], "window": "1h"})).unwrap();
        assert_eq!(
            (
                s.target.log_group.as_str(),
                s.target.log_stream.as_str(),
                s.delay,
                s.scheduled_ms
            ),
            ("/logship/reports", "n", Duration::ZERO, 0)
        );
    }

    #[test]
    fn a_bad_spec_names_the_field() {
        let base = json!({"name": "n", "query": "q", "logGroups": ["/g"], "window": "5m"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v;
            }
            spec(b).unwrap_err().to_string()
        };
        assert_eq!(
            with("name", Value::Null),
            "invalid query spec: name: required"
        );
        assert_eq!(
            with("query", Value::Null),
            "invalid query spec: query: required (or queryDefinition, the name of a saved query)"
        );
        assert_eq!(
            with("logGroups", Value::Null),
            "invalid query spec: logGroups: required"
        );
        assert_eq!(
            with("window", Value::Null),
            "invalid query spec: window: required"
        );
        assert_eq!(
            with("logGroups", json!([])),
            "invalid query spec: logGroups: must name at least one log group"
        );
        let many: Vec<String> = (0..51).map(|i| format!("/g{i}")).collect();
        assert_eq!(
            with("logGroups", json!(many)),
            "invalid query spec: logGroups: names 51 log groups; a query may name at most 50"
        );
        assert!(
            with("window", json!("five minutes"))
                .starts_with("invalid query spec: window: \"five minutes\" is not a duration")
        );
        assert!(with("delay", json!("1 minute")).starts_with("invalid query spec: delay:"));
        assert!(with("scheduledTime", json!("yesterday")).starts_with(
            "invalid query spec: scheduledTime: \"yesterday\" is not an RFC 3339 time"
        ));
        assert!(
            with("metrics", json!({"dimensions": ["a"], "values": ["b"]}))
                .starts_with("invalid query spec: metrics.namespace: required")
        );
        let dims: Vec<String> = (0..31).map(|i| format!("d{i}")).collect();
        assert!(
            with(
                "metrics",
                json!({"namespace": "N", "dimensions": dims, "values": ["v"]})
            )
            .contains(
                "metrics.dimensions: lists 31 fields; Embedded Metric Format allows at most 30"
            )
        );
        let parsed = parse_spec(
            &json!({"name": "n", "query": "q", "logGroups": ["/g"], "window": "5m"}),
            "queries[1].",
            &Defaults::default(),
            0,
        );
        assert_eq!(
            parsed.unwrap_err().to_string(),
            "invalid query spec: queries[1].target.logGroup: not given, and TARGET_LOG_GROUP is not set"
        );
    }

    #[test]
    fn languages_log_groups_and_limits() {
        let base = json!({"name": "n", "query": "q", "logGroups": ["/g"], "window": "5m"});
        let with = |pairs: &[(&str, Value)]| {
            let mut b = base.clone();
            for (k, v) in pairs {
                if v.is_null() {
                    b.as_object_mut().unwrap().remove(*k);
                } else {
                    b[*k] = v.clone();
                }
            }
            spec(b)
        };
        let s = with(&[]).unwrap();
        assert_eq!(
            (s.language, s.request("q").limit),
            (None, 100_000),
            "Logs Insights QL by default, at its 100,000-row maximum"
        );
        let s = with(&[("language", json!("SQL")), ("logGroups", Value::Null)]).unwrap();
        let r = s.request("q");
        assert_eq!(
            (r.language, r.log_groups, r.limit),
            (Language::Sql, LogGroups::None, 10_000)
        );
        assert_eq!(
            with(&[("language", json!("sql"))]).unwrap_err().field,
            "logGroups",
            "SQL names its groups in FROM"
        );
        let r = with(&[("language", json!("ppl")), ("limit", json!(10_000))])
            .unwrap()
            .request("q");
        assert_eq!((r.language, r.limit), (Language::Ppl, 10_000));
        assert_eq!(
            with(&[("language", json!("ppl")), ("limit", json!(10_001))])
                .unwrap_err()
                .to_string(),
            "invalid query spec: limit: must be a whole number from 1 to 10000 (the most rows a ppl query returns), got 10001"
        );
        assert!(with(&[("limit", json!(0))]).is_err());
        assert!(with(&[("limit", json!(100_001))]).is_err());
        assert!(with(&[("limit", json!("5"))]).is_err());
        assert!(
            with(&[("language", json!("kusto"))])
                .unwrap_err()
                .to_string()
                .contains("cwli (Logs Insights QL, the default), sql or ppl")
        );
        // ARNs: logGroupIdentifiers, without the `:*` the console and GetAtt give them.
        let arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/orders";
        let s = with(&[("logGroups", json!([format!("{arn}:*"), arn]))]).unwrap();
        assert_eq!(s.log_groups, LogGroups::Arns(vec![arn.into(), arn.into()]));
        assert_eq!(
            with(&[("logGroups", json!([arn, "/g"]))])
                .unwrap_err()
                .to_string(),
            "invalid query spec: logGroups: mixes 1 ARNs with 1 names; list every log group by name or every one by ARN"
        );
        for bad in [
            "arn:aws:logs:eu-west-1:123456789012:/g",
            "arn:aws:s3:eu-west-1:123456789012:log-group:/g",
            "arn:aws:logs:eu-west-1:1234:log-group:/g",
            "arn:aws:logs:eu-west-1:123456789012:log-group:",
        ] {
            assert!(
                with(&[("logGroups", json!([bad]))])
                    .unwrap_err()
                    .to_string()
                    .starts_with("invalid query spec: logGroups[0]:"),
                "{bad}"
            );
        }
        assert!(
            with(&[("logGroups", json!(["no spaces"]))])
                .unwrap_err()
                .to_string()
                .starts_with("invalid query spec: logGroups[0]: \"no spaces\"")
        );
        // A saved query instead of a query string.
        let s = with(&[
            ("query", Value::Null),
            ("queryDefinition", json!("errors")),
            ("logGroups", Value::Null),
            ("parameters", json!({"level": "ERROR", "n": 5})),
        ])
        .unwrap();
        assert_eq!(
            s.source,
            Source::Saved {
                name: "errors".into(),
                parameters: vec![("level".into(), "ERROR".into()), ("n".into(), "5".into())]
            }
        );
        assert_eq!(
            with(&[("queryDefinition", json!("errors"))])
                .unwrap_err()
                .to_string(),
            "invalid query spec: queryDefinition: give either query or queryDefinition, not both"
        );
        assert_eq!(
            with(&[("query", Value::Null)]).unwrap_err().to_string(),
            "invalid query spec: query: required (or queryDefinition, the name of a saved query)"
        );
        assert_eq!(
            with(&[("parameters", json!({"a": "b"}))])
                .unwrap_err()
                .field,
            "parameters"
        );
    }

    #[test]
    fn the_environment_spec_names_the_variable() {
        let env = EnvSpec {
            name: Some("n".into()),
            query: Some("q".into()),
            log_groups: Some("/a, /b".into()),
            window: Some("5m".into()),
            ..EnvSpec::default()
        };
        let s = env.spec(&defaults(), 1_000_000).unwrap();
        assert_eq!(
            (s.log_groups.clone(), s.scheduled_ms),
            (
                LogGroups::Names(vec!["/a".to_string(), "/b".to_string()]),
                1_000_000
            )
        );
        let saved = EnvSpec {
            query: None,
            definition: Some("errors".into()),
            log_groups: None,
            language: Some("PPL".into()),
            limit: Some("500".into()),
            ..env.clone()
        }
        .spec(&defaults(), 0)
        .unwrap();
        assert_eq!(
            (saved.source, saved.language, saved.limit),
            (
                Source::Saved {
                    name: "errors".into(),
                    parameters: vec![]
                },
                Some(Language::Ppl),
                Some(500)
            )
        );
        let bad = |e: EnvSpec| e.spec(&defaults(), 0).unwrap_err().to_string();
        assert_eq!(
            bad(EnvSpec {
                query: None,
                ..env.clone()
            }),
            "invalid query spec: QUERY_STRING: required (or QUERY_DEFINITION, the name of a saved query)"
        );
        assert!(
            bad(EnvSpec {
                limit: Some("lots".into()),
                ..env.clone()
            })
            .starts_with(
                "invalid query spec: QUERY_LIMIT: must be a whole number from 1 to 100000"
            )
        );
        assert!(
            bad(EnvSpec {
                language: Some("kql".into()),
                ..env.clone()
            })
            .starts_with("invalid query spec: QUERY_LANGUAGE: \"kql\" is not a query language")
        );
        assert_eq!(
            bad(EnvSpec {
                log_groups: None,
                ..env.clone()
            }),
            "invalid query spec: QUERY_LOG_GROUPS: required for scheduled events, but not set"
        );
        assert_eq!(
            EnvSpec {
                window: None,
                ..env.clone()
            }
            .spec(&defaults(), 0)
            .unwrap_err()
            .to_string(),
            "invalid query spec: QUERY_WINDOW: required for scheduled events, but not set"
        );
        assert!(
            EnvSpec {
                window: Some("soon".into()),
                ..env.clone()
            }
            .spec(&defaults(), 0)
            .unwrap_err()
            .to_string()
            .starts_with("invalid query spec: QUERY_WINDOW:")
        );
        assert_eq!(
            EnvSpec {
                log_groups: Some(" , ".into()),
                ..env
            }
            .spec(&defaults(), 0)
            .unwrap_err()
            .to_string(),
            "invalid query spec: QUERY_LOG_GROUPS: must name at least one log group"
        );
    }
}
