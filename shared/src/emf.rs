//! CloudWatch Embedded Metric Format: metrics as structured log lines.
//!
//! A Lambda function prints one JSON object per line to stdout; CloudWatch Logs turns the ones
//! carrying an `_aws` metadata member into metrics, asynchronously and without a PutMetricData
//! call in the invocation's path (no latency, no extra IAM). The specification ("Embedded metric
//! format specification", CloudWatch user guide) sets the limits enforced here: at most 100
//! metrics per directive, at most 30 dimensions per dimension set, names of 1–255 characters,
//! and every dimension and metric a member of the root object, so no name may be used twice.

use serde_json::{Map, Value, json};

/// Most metrics one record may declare.
pub const MAX_METRICS: usize = 100;
/// Most dimensions one dimension set may hold.
pub const MAX_DIMENSIONS: usize = 30;
/// Longest namespace, metric or dimension name.
pub const MAX_NAME_LEN: usize = 255;

/// Units the specification accepts (a subset: the ones logship reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// Why a record cannot be emitted as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmfError {
    #[error("EMF allows at most {MAX_METRICS} metrics per record, got {0}")]
    TooManyMetrics(usize),
    #[error("EMF allows at most {MAX_DIMENSIONS} dimensions per set, got {0}")]
    TooManyDimensions(usize),
    #[error("EMF names must be 1–{MAX_NAME_LEN} characters: {0:?}")]
    BadName(String),
    #[error("{0:?} is used twice (dimensions and metrics share the record's root object)")]
    Duplicate(String),
    #[error("metric {0:?} is not a finite number")]
    NotFinite(String),
}

/// One EMF record: a namespace, one dimension set, and metric values.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    namespace: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, f64, Unit)>,
    properties: Vec<(String, Value)>,
}

impl MetricRecord {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Vec::new(),
        }
    }

    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.push((name.into(), value.into()));
        self
    }

    pub fn metric(mut self, name: impl Into<String>, value: f64, unit: Unit) -> Self {
        self.metrics.push((name.into(), value, unit));
        self
    }

    /// A member of the root object that is neither dimension nor metric (searchable in Logs
    /// Insights, not a metric).
    pub fn property(mut self, name: impl Into<String>, value: Value) -> Self {
        self.properties.push((name.into(), value));
        self
    }

    pub fn metric_count(&self) -> usize {
        self.metrics.len()
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The metrics' names, in order: what alarms and dashboards may name (the template test
    /// reads them from here, not from a list of its own).
    pub fn metric_names(&self) -> impl Iterator<Item = &str> {
        self.metrics.iter().map(|(n, _, _)| n.as_str())
    }

    /// The record as one JSON line, stamped `timestamp_ms`.
    pub fn to_json(&self, timestamp_ms: i64) -> Result<String, EmfError> {
        if self.metrics.len() > MAX_METRICS {
            return Err(EmfError::TooManyMetrics(self.metrics.len()));
        }
        if self.dimensions.len() > MAX_DIMENSIONS {
            return Err(EmfError::TooManyDimensions(self.dimensions.len()));
        }
        let mut root = Map::new();
        let names = self
            .dimensions
            .iter()
            .map(|(n, _)| n)
            .chain(self.metrics.iter().map(|(n, _, _)| n))
            .chain(self.properties.iter().map(|(n, _)| n));
        for name in std::iter::once(&self.namespace).chain(names) {
            if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
                return Err(EmfError::BadName(name.clone()));
            }
        }
        for (n, v) in &self.dimensions {
            insert_unique(&mut root, n, Value::String(v.clone()))?;
        }
        for (n, v, _) in &self.metrics {
            let number =
                serde_json::Number::from_f64(*v).ok_or_else(|| EmfError::NotFinite(n.clone()))?;
            insert_unique(&mut root, n, Value::Number(number))?;
        }
        for (n, v) in &self.properties {
            insert_unique(&mut root, n, v.clone())?;
        }
        let dims: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let metrics: Vec<Value> = self
            .metrics
            .iter()
            .map(|(n, _, u)| json!({"Name": n, "Unit": u.as_str()}))
            .collect();
        insert_unique(
            &mut root,
            "_aws",
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{"Namespace": self.namespace, "Dimensions": [dims], "Metrics": metrics}]}),
        )?;
        Ok(Value::Object(root).to_string())
    }

    /// Prints the record on stdout, where Lambda's log capture picks it up. An invalid record
    /// is logged as a warning rather than failing the invocation that measured it.
    pub fn emit(&self, timestamp_ms: i64) {
        match self.to_json(timestamp_ms) {
            Ok(line) => println!("{line}"),
            Err(e) => tracing::warn!(error = %e, "metrics not emitted"),
        }
    }
}

fn insert_unique(root: &mut Map<String, Value>, name: &str, value: Value) -> Result<(), EmfError> {
    match root.insert(name.to_owned(), value) {
        None => Ok(()),
        Some(_) => Err(EmfError::Duplicate(name.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_follows_the_specification() {
        let line = MetricRecord::new("logship")
            .dimension("FunctionName", "log-writer")
            .metric("EventsWritten", 42.0, Unit::Count)
            .metric("Bytes", 1024.0, Unit::Bytes)
            .property("requestId", json!("abc"))
            .to_json(1_795_000_000_000)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_795_000_000_000i64);
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], "logship");
        assert_eq!(d["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(
            d["Metrics"],
            json!([{"Name": "EventsWritten", "Unit": "Count"}, {"Name": "Bytes", "Unit": "Bytes"}])
        );
        assert_eq!(
            (
                v["FunctionName"].clone(),
                v["EventsWritten"].clone(),
                v["requestId"].clone()
            ),
            (json!("log-writer"), json!(42.0), json!("abc"))
        );
    }

    #[test]
    fn limits_are_enforced() {
        let mut r = MetricRecord::new("n");
        for i in 0..=MAX_METRICS {
            r = r.metric(format!("m{i}"), 1.0, Unit::Count);
        }
        assert_eq!(r.to_json(0), Err(EmfError::TooManyMetrics(101)));
        let mut r = MetricRecord::new("n");
        for i in 0..=MAX_DIMENSIONS {
            r = r.dimension(format!("d{i}"), "v");
        }
        assert_eq!(r.to_json(0), Err(EmfError::TooManyDimensions(31)));
        assert_eq!(
            MetricRecord::new("n")
                .dimension("x", "1")
                .metric("x", 1.0, Unit::Count)
                .to_json(0),
            Err(EmfError::Duplicate("x".into()))
        );
        assert_eq!(
            MetricRecord::new("").to_json(0),
            Err(EmfError::BadName("".into()))
        );
        assert_eq!(
            MetricRecord::new("n")
                .metric("nan", f64::NAN, Unit::None)
                .to_json(0),
            Err(EmfError::NotFinite("nan".into()))
        );
    }
}
