//! What to query: the query spec, its durations, and the aligned time window.
//!
//! The spec is the schedule's input, so one function serves many schedules. The window is a
//! pure function of the scheduled time: a retry of the same run, or a late run, covers exactly
//! the same window, and consecutive runs cover consecutive windows — no gap, no overlap.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Most log groups one StartQuery may name.
pub const MAX_LOG_GROUPS: usize = 50;

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

/// A validated query spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    pub name: String,
    pub query: String,
    pub log_groups: Vec<String>,
    pub window: Duration,
    pub delay: Duration,
    /// Epoch milliseconds: when the schedule fired (EventBridge Scheduler's
    /// `<aws.scheduler.scheduled-time>`).
    pub scheduled_ms: i64,
    pub target: Target,
    pub metrics: Option<MetricsSpec>,
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
    let query = string("query", true)?.unwrap_or_default();
    let log_groups = match m.get("logGroups") {
        None | Some(Value::Null) => return Err(err(f("logGroups"), "required")),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, g)| match g {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                other => Err(err(
                    f(&format!("logGroups[{i}]")),
                    format!("must be a log group name, got {other}"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(err(
                f("logGroups"),
                format!("must be an array of log group names, got {other}"),
            ));
        }
    };
    check_groups(&f("logGroups"), &log_groups)?;
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
        query,
        log_groups,
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

fn check_groups(field: &str, groups: &[String]) -> Result<(), SpecError> {
    if groups.is_empty() {
        return Err(err(field, "must name at least one log group"));
    }
    if groups.len() > MAX_LOG_GROUPS {
        return Err(err(
            field,
            format!(
                "names {} log groups; a query may name at most {MAX_LOG_GROUPS}",
                groups.len()
            ),
        ));
    }
    Ok(())
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
/// `QUERY_STRING`, `QUERY_LOG_GROUPS` (comma-separated), `QUERY_WINDOW`, `QUERY_DELAY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSpec {
    pub name: Option<String>,
    pub query: Option<String>,
    pub log_groups: Option<String>,
    pub window: Option<String>,
    pub delay: Option<String>,
}

impl EnvSpec {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Self {
            name: get("QUERY_NAME"),
            query: get("QUERY_STRING"),
            log_groups: get("QUERY_LOG_GROUPS"),
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
        let groups: Vec<String> = need(&self.log_groups, "QUERY_LOG_GROUPS")?
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(String::from)
            .collect();
        check_groups("QUERY_LOG_GROUPS", &groups)?;
        let mut doc = serde_json::json!({
            "name": need(&self.name, "QUERY_NAME")?,
            "query": need(&self.query, "QUERY_STRING")?,
            "logGroups": groups,
            "window": need(&self.window, "QUERY_WINDOW")?,
        });
        if let Some(d) = &self.delay {
            doc["delay"] = Value::String(d.clone());
        }
        parse_spec(&doc, "", defaults, scheduled_ms).map_err(|e| {
            let var = match e.field.as_str() {
                "window" => "QUERY_WINDOW",
                "delay" => "QUERY_DELAY",
                "name" => "QUERY_NAME",
                "query" => "QUERY_STRING",
                other => return err(other, e.reason.clone()),
            };
            err(var, e.reason)
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
            "invalid query spec: query: required"
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
    fn the_environment_spec_names_the_variable() {
        let env = EnvSpec {
            name: Some("n".into()),
            query: Some("q".into()),
            log_groups: Some("/a, /b".into()),
            window: Some("5m".into()),
            delay: None,
        };
        let s = env.spec(&defaults(), 1_000_000).unwrap();
        assert_eq!(
            (s.log_groups.clone(), s.scheduled_ms),
            (vec!["/a".to_string(), "/b".to_string()], 1_000_000)
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
