//! The log-writer function: log events from any caller into a group and stream.
//!
//! Input, directly or as the body of each SQS message:
//! `{"logGroup": "...", "logStream": "...", "events": [{"timestamp": <epoch ms>, "message": "..."}, "bare message"]}`
//! — `logGroup`/`logStream` default to `TARGET_LOG_GROUP`/`TARGET_LOG_STREAM`, `timestamp` to
//! now, and a bare string is a message at now.
//!
//! A direct invocation answers `{"written", "requests", "split", "rejected": {"tooOld",
//! "tooNew", "expired"}}`, or fails (so the caller, or Lambda's async retries and DLQ, can act)
//! when an event could not be written. An SQS batch answers `batchItemFailures` naming exactly
//! the messages that were not written — malformed ones included — so the queue redrives them to
//! its DLQ. Invalid input is an error naming the field and the reason.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::batch::LogEvent;
use crate::config::{self, CommonConfig, ConfigError};
use crate::failure::{ErrorType, Typed};
use crate::json::Message;
use crate::writer::{Rejected, StreamBatch, WriteContext, WriteError, WriteReport, Writer};

/// The log-writer's configuration.
#[derive(Debug, Clone)]
pub struct LogWriterConfig {
    /// `TARGET_LOG_GROUP`: the group for requests that name none.
    pub default_group: Option<String>,
    /// `TARGET_LOG_STREAM`: the stream for requests that name none.
    pub default_stream: Option<String>,
    pub common: CommonConfig,
}

impl LogWriterConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get`; the defaults must be names the service accepts.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let default_group = get("TARGET_LOG_GROUP");
        if let Some(g) = &default_group {
            config::check_log_group(g).map_err(|reason| ConfigError::Invalid {
                var: "TARGET_LOG_GROUP",
                reason,
            })?;
        }
        let default_stream = get("TARGET_LOG_STREAM");
        if let Some(s) = &default_stream {
            config::check_log_stream(s).map_err(|reason| ConfigError::Invalid {
                var: "TARGET_LOG_STREAM",
                reason,
            })?;
        }
        Ok(Self {
            default_group,
            default_stream,
            common: CommonConfig::from_lookup(get)?,
        })
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogWriterError {
    /// The request breaks the input contract; `field` is a path such as `events[3].timestamp`.
    #[error("invalid request: {field}: {reason}")]
    Invalid { field: String, reason: String },
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

impl Typed for LogWriterError {
    fn error_type(&self) -> ErrorType {
        match self {
            LogWriterError::Invalid { .. } => ErrorType::InvalidEvent,
            LogWriterError::Write { cause, .. } => cause.error_type(),
        }
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> LogWriterError {
    LogWriterError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// A validated request: where to write, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    pub log_group: String,
    pub log_stream: String,
    pub events: Vec<LogEvent>,
}

/// Validates a request document as of `now_ms` (the default timestamp), tagging its events
/// with `origin`.
pub fn parse_request(
    doc: &Value,
    cfg: &LogWriterConfig,
    now_ms: i64,
    origin: u32,
) -> Result<WriteRequest, LogWriterError> {
    let Value::Object(map) = doc else {
        return Err(invalid(
            "request",
            format!("must be a JSON object, got {}", kind(doc)),
        ));
    };
    let name = |key: &str,
                default: &Option<String>,
                var: &str,
                check: fn(&str) -> Result<(), String>|
     -> Result<String, LogWriterError> {
        let value = match map.get(key) {
            None | Some(Value::Null) => default
                .clone()
                .ok_or_else(|| invalid(key, format!("not given, and {var} is not set")))?,
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(invalid(
                    key,
                    format!("must be a string, got {}", kind(other)),
                ));
            }
        };
        check(&value).map_err(|reason| invalid(key, format!("{value:?}: {reason}")))?;
        Ok(value)
    };
    let log_group = name(
        "logGroup",
        &cfg.default_group,
        "TARGET_LOG_GROUP",
        config::check_log_group,
    )?;
    let log_stream = name(
        "logStream",
        &cfg.default_stream,
        "TARGET_LOG_STREAM",
        config::check_log_stream,
    )?;
    let events = match map.get("events") {
        None => return Err(invalid("events", "required")),
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(invalid(
                "events",
                "empty batch: at least one event is required",
            ));
        }
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(invalid(
                "events",
                format!("must be an array, got {}", kind(other)),
            ));
        }
    };
    let events = events
        .iter()
        .enumerate()
        .map(|(i, e)| parse_event(i, e, now_ms, origin))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WriteRequest {
        log_group,
        log_stream,
        events,
    })
}

fn parse_event(i: usize, e: &Value, now_ms: i64, origin: u32) -> Result<LogEvent, LogWriterError> {
    let field = |f: &str| format!("events[{i}]{f}");
    let (timestamp, message) = match e {
        Value::String(m) => (now_ms, m),
        Value::Object(o) => {
            let timestamp = match o.get("timestamp") {
                None | Some(Value::Null) => now_ms,
                Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                    invalid(
                        field(".timestamp"),
                        format!("must be a whole number of milliseconds since the epoch, got {n}"),
                    )
                })?,
                Some(other) => {
                    return Err(invalid(
                        field(".timestamp"),
                        format!("must be a number of milliseconds since the epoch, got {other}"),
                    ));
                }
            };
            match o.get("message") {
                Some(Value::String(m)) => (timestamp, m),
                None | Some(Value::Null) => return Err(invalid(field(".message"), "required")),
                Some(other) => {
                    return Err(invalid(
                        field(".message"),
                        format!("must be a string, got {}", kind(other)),
                    ));
                }
            }
        }
        other => {
            return Err(invalid(
                field(""),
                format!("must be an object or a string, got {}", kind(other)),
            ));
        }
    };
    if message.is_empty() {
        return Err(invalid(
            field(".message"),
            "must not be empty (CloudWatch Logs refuses empty messages)",
        ));
    }
    Ok(LogEvent {
        timestamp,
        message: Message::from_text(message),
        origin,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The direct invocation's answer.
pub fn answer(report: &WriteReport) -> Value {
    let Rejected {
        too_old,
        too_new,
        expired,
    } = report.rejected;
    json!({"written": report.written, "requests": report.requests, "split": report.split,
           "rejected": {"tooOld": too_old, "tooNew": too_new, "expired": expired}})
}

/// One invocation's accounting, logged as one structured line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// `direct` or `sqs`.
    pub shape: &'static str,
    /// SQS messages, and those reported as failed (malformed or not written).
    pub messages: u64,
    pub messages_failed: u64,
    /// Requests that broke the input contract (their events are not counted below).
    pub invalid: u64,
    /// Events of valid requests, and where each ended up.
    pub events_in: u64,
    pub report: WriteReport,
}

impl Summary {
    pub fn is_conserved(&self) -> bool {
        self.events_in == self.report.events()
    }

    pub fn log(&self) {
        let r = &self.report;
        tracing::info!(
            shape = self.shape,
            messages = self.messages,
            messages_failed = self.messages_failed,
            invalid = self.invalid,
            events_in = self.events_in,
            written = r.written,
            rejected = r.rejected.total(),
            rejected_too_old = r.rejected.too_old,
            rejected_too_new = r.rejected.too_new,
            rejected_expired = r.rejected.expired,
            failed = r.failed,
            split = r.split,
            requests = r.requests,
            bytes = r.bytes,
            retries = r.retries,
            throttles = r.throttles,
            conserved = self.is_conserved(),
            "invocation summary"
        );
    }
}

/// What an invocation produced.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Value, LogWriterError>,
    pub summary: Summary,
}

#[derive(Deserialize)]
struct SqsEvent {
    #[serde(rename = "Records")]
    records: Vec<SqsMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SqsMessage {
    message_id: String,
    #[serde(default)]
    body: String,
}

/// The log-writer: configuration and writer, built once per container.
#[derive(Debug, Clone)]
pub struct LogWriter {
    config: LogWriterConfig,
    writer: Writer,
}

impl LogWriter {
    pub fn new(config: LogWriterConfig, writer: Writer) -> Self {
        Self { config, writer }
    }

    pub fn config(&self) -> &LogWriterConfig {
        &self.config
    }

    /// Handles one invocation: an SQS batch (`Records` of `aws:sqs` messages) or a direct request.
    pub async fn handle(&self, event: Value, ctx: WriteContext) -> Outcome {
        let is_sqs =
            matches!(&event, Value::Object(m) if m.get("Records").is_some_and(|r| r.is_array()));
        if is_sqs {
            self.sqs(event, ctx).await
        } else {
            self.direct(event, ctx).await
        }
    }

    async fn direct(&self, event: Value, ctx: WriteContext) -> Outcome {
        let mut summary = Summary {
            shape: "direct",
            ..Summary::default()
        };
        let req = match parse_request(&event, &self.config, ctx.now_ms, 0) {
            Ok(r) => r,
            Err(e) => {
                summary.invalid = 1;
                return Outcome {
                    result: Err(e),
                    summary,
                };
            }
        };
        summary.events_in = req.events.len() as u64;
        let report = self
            .writer
            .write(&req.log_group, &req.log_stream, req.events, ctx)
            .await;
        let result = match &report.error {
            None => Ok(answer(&report)),
            Some(cause) => Err(LogWriterError::Write {
                events: report.events(),
                written: report.written,
                rejected: report.rejected.total(),
                failed: report.failed,
                cause: cause.clone(),
            }),
        };
        summary.report = report;
        Outcome { result, summary }
    }

    async fn sqs(&self, event: Value, ctx: WriteContext) -> Outcome {
        let mut summary = Summary {
            shape: "sqs",
            ..Summary::default()
        };
        let e: SqsEvent = match serde_json::from_value(event) {
            Ok(e) => e,
            Err(err) => {
                return Outcome {
                    result: Err(invalid("Records", format!("not an SQS event: {err}"))),
                    summary,
                };
            }
        };
        summary.messages = e.records.len() as u64;
        let mut failed = vec![false; e.records.len()];
        // Messages for the same stream share its requests (fewer calls than one per message);
        // a stream's whole requests leave while later messages are read (`Session`).
        let mut session = self.writer.session(ctx);
        for (i, m) in e.records.iter().enumerate() {
            let parsed = serde_json::from_str::<Value>(&m.body)
                .map_err(|err| invalid("body", format!("not JSON: {err}")))
                .and_then(|doc| parse_request(&doc, &self.config, ctx.now_ms, i as u32));
            match parsed {
                Ok(req) => {
                    summary.events_in += req.events.len() as u64;
                    session.add(StreamBatch {
                        group: req.log_group,
                        stream: req.log_stream,
                        events: req.events,
                        source_tags: None,
                    });
                    session.pump().await;
                }
                Err(err) => {
                    summary.invalid += 1;
                    failed[i] = true;
                    tracing::warn!(message_id = m.message_id, error = %err, "SQS message is not a valid request; reporting it failed");
                }
            }
        }
        let report = session.finish().await;
        for origin in &report.failed_origins {
            failed[*origin as usize] = true;
        }
        let failures: Vec<Value> = e
            .records
            .iter()
            .zip(&failed)
            .filter(|(_, f)| **f)
            .map(|(m, _)| json!({"itemIdentifier": m.message_id}))
            .collect();
        summary.messages_failed = failures.len() as u64;
        summary.report = report;
        let mut out = Map::new();
        out.insert("batchItemFailures".into(), Value::Array(failures));
        Outcome {
            result: Ok(Value::Object(out)),
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(group: Option<&str>, stream: Option<&str>) -> LogWriterConfig {
        LogWriterConfig::from_lookup(|k| match k {
            "TARGET_LOG_GROUP" => group.map(String::from),
            "TARGET_LOG_STREAM" => stream.map(String::from),
            _ => None,
        })
        .unwrap()
    }

    fn err(doc: Value) -> String {
        parse_request(&doc, &cfg(None, None), 1000, 0)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn events_default_to_now_and_bare_strings_are_messages() {
        let r = parse_request(
            &json!({"events": ["bare", {"message": "m"}, {"timestamp": 5, "message": "t"}]}),
            &cfg(Some("/g"), Some("s")),
            1000,
            7,
        )
        .unwrap();
        assert_eq!((r.log_group.as_str(), r.log_stream.as_str()), ("/g", "s"));
        let got: Vec<(i64, String, u32)> = r
            .events
            .iter()
            .map(|e| (e.timestamp, e.message.text().into_owned(), e.origin))
            .collect();
        assert_eq!(
            got,
            [
                (1000, "bare".into(), 7),
                (1000, "m".into(), 7),
                (5, "t".into(), 7)
            ]
        );
    }

    #[test]
    fn invalid_input_names_the_field_and_the_reason() {
        let g = json!("/g");
        assert_eq!(
            err(json!({"logStream": "s", "events": ["x"]})),
            "invalid request: logGroup: not given, and TARGET_LOG_GROUP is not set"
        );
        assert_eq!(
            err(json!({"logGroup": g, "events": ["x"]})),
            "invalid request: logStream: not given, and TARGET_LOG_STREAM is not set"
        );
        assert!(
            err(json!({"logGroup": "bad group!", "logStream": "s", "events": ["x"]}))
                .starts_with("invalid request: logGroup: \"bad group!\": ' ' is not allowed")
        );
        assert!(
            err(json!({"logGroup": g, "logStream": "a:b", "events": ["x"]}))
                .starts_with("invalid request: logStream: \"a:b\": ':' is not allowed")
        );
        assert!(
            err(json!({"logGroup": g, "logStream": "x".repeat(513), "events": ["x"]}))
                .contains("must be 1–512 characters, got 513")
        );
        assert_eq!(
            err(json!({"logGroup": g, "logStream": "s"})),
            "invalid request: events: required"
        );
        assert_eq!(
            err(json!({"logGroup": g, "logStream": "s", "events": []})),
            "invalid request: events: empty batch: at least one event is required"
        );
        assert_eq!(
            err(json!({"logGroup": g, "logStream": "s", "events": {}})),
            "invalid request: events: must be an array, got an object"
        );
        assert_eq!(
            err(json!({"logGroup": g, "logStream": "s", "events": ["ok", {"timestamp": 1}]})),
            "invalid request: events[1].message: required"
        );
        assert_eq!(
            err(
                json!({"logGroup": g, "logStream": "s", "events": [{"timestamp": "yesterday", "message": "m"}]})
            ),
            "invalid request: events[0].timestamp: must be a number of milliseconds since the epoch, got \"yesterday\""
        );
        assert!(err(json!({"logGroup": g, "logStream": "s", "events": [{"timestamp": 1.5, "message": "m"}]})).contains("whole number"));
        assert!(
            err(json!({"logGroup": g, "logStream": "s", "events": [{"message": ""}]}))
                .contains("events[0].message: must not be empty")
        );
        assert!(
            err(json!({"logGroup": g, "logStream": "s", "events": [{"message": 42}]}))
                .contains("events[0].message: must be a string, got a number")
        );
        assert!(
            err(json!({"logGroup": g, "logStream": "s", "events": [7]}))
                .contains("events[0]: must be an object or a string, got a number")
        );
        assert_eq!(
            err(json!("just text")),
            "invalid request: request: must be a JSON object, got a string"
        );
        assert!(
            LogWriterConfig::from_lookup(
                |k| (k == "TARGET_LOG_GROUP").then(|| "no spaces".to_string())
            )
            .unwrap_err()
            .to_string()
            .starts_with("TARGET_LOG_GROUP:")
        );
    }
}
