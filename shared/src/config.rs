//! Configuration from the environment, read once per container, and the naming rules of
//! CloudWatch Logs that target names are sanitised to.
//!
//! Reading goes through a lookup function rather than `std::env` directly so that every rule
//! here is a pure function the unit tests can drive.

use regex::Regex;

use crate::decode::{DEFAULT_MAX_DECODED_BYTES, DecodeLimits};
use crate::failure::{ErrorType, Typed};
use crate::redact::Redactor;
use crate::retry::DEFAULT_DEADLINE_MARGIN;
use crate::sample::Sampler;
use crate::writer::WriterOptions;
use std::time::Duration;

/// A configuration value that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
}

impl Typed for ConfigError {
    fn error_type(&self) -> ErrorType {
        ErrorType::InvalidConfiguration
    }
}

/// How shipped events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    /// The message exactly as received.
    Raw,
    /// A JSON object with the source `owner`, `logGroup`, `logStream`, the event `id`,
    /// `timestamp` and `message` (embedded as JSON when it is a JSON object itself).
    Envelope,
}

/// One piece of a name template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Owner,
    LogGroup,
    LogStream,
}

/// A name template over a subscription payload's `{owner}`, `{logGroup}` and `{logStream}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// The source fields a [`Template`] may use.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub owner: &'a str,
    pub log_group: &'a str,
    pub log_stream: &'a str,
}

impl Template {
    /// Parses `text`; `var` names the variable in errors. Unknown placeholders and unclosed
    /// braces are errors, so a typo fails at start-up rather than naming streams oddly.
    pub fn parse(var: &'static str, text: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { var, reason };
        if text.is_empty() {
            return Err(invalid("must not be empty".into()));
        }
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| invalid(format!("unclosed '{{' in {text:?}")))?
                + open;
            segments.push(match &rest[open + 1..close] {
                "owner" => Segment::Owner,
                "logGroup" => Segment::LogGroup,
                "logStream" => Segment::LogStream,
                other => {
                    return Err(invalid(format!("unknown placeholder {{{other}}} in {text:?}; use {{owner}}, {{logGroup}} or {{logStream}}")));
                }
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        Ok(Self { segments })
    }

    /// The template with the source's fields filled in (not yet sanitised).
    pub fn render(&self, src: Source<'_>) -> String {
        let mut out = String::new();
        for s in &self.segments {
            out.push_str(match s {
                Segment::Text(t) => t,
                Segment::Owner => src.owner,
                Segment::LogGroup => src.log_group,
                Segment::LogStream => src.log_stream,
            });
        }
        out
    }

    /// True when the template uses no placeholder: the name is the same for every payload.
    pub fn is_constant(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Text(_)))
    }
}

/// Longest log group or stream name the service accepts.
pub const MAX_NAME_LEN: usize = 512;

/// Sanitises a log group name to the service's rule: 1–512 characters of `[.-_/#A-Za-z0-9]`.
/// Anything else becomes `_`; an empty name becomes `_`.
pub fn sanitize_log_group(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_LEN)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Sanitises a log stream name to the service's rule: 1–512 characters, no `:` or `*`.
/// Those become `_`; the name is cut to 512 bytes on a character boundary (so also at most
/// 512 characters); an empty name becomes `_`.
pub fn sanitize_log_stream(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_NAME_LEN));
    for c in name.chars() {
        let c = if matches!(c, ':' | '*') { '_' } else { c };
        if out.len() + c.len_utf8() > MAX_NAME_LEN {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The subscription receiver's configuration.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// `TARGET_LOG_GROUP` (required).
    pub target_log_group: Template,
    /// `TARGET_LOG_STREAM`, default `{owner}/{logGroup}/{logStream}`.
    pub target_log_stream: Template,
    /// `MESSAGE_FORMAT`: `raw` (default) or `envelope`.
    pub message_format: MessageFormat,
    /// `INCLUDE_PATTERN`: only messages matching it are shipped.
    pub include: Option<Regex>,
    /// `EXCLUDE_PATTERN`: messages matching it are dropped.
    pub exclude: Option<Regex>,
    /// `AWS_LAMBDA_LOG_GROUP_NAME` (set by Lambda): events from it are never shipped.
    pub own_log_group: Option<String>,
    /// `SAMPLE_RULES`: which events are kept, by their id ([`crate::sample`]).
    pub sampler: Option<Sampler>,
    /// `REDACT` and `REDACT_RULES`: what is replaced in each message ([`crate::redact`]).
    pub redactor: Option<Redactor>,
    /// `MAX_DECODED_BYTES`, default 32 MiB.
    pub limits: DecodeLimits,
    /// `PROPAGATE_SOURCE_TAGS` (`true` or `false`, default): a group the writer creates also
    /// gets its source group's tags ([`crate::receiver::tags`]).
    pub propagate_source_tags: bool,
    /// What every function reads.
    pub common: CommonConfig,
}

/// Settings every function reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    /// `WRITE_CONCURRENCY`: requests in flight; `TARGET_RETENTION_DAYS`, `TARGET_KMS_KEY_ARN`,
    /// `TARGET_TAGS`: for groups the writer creates.
    pub writer: WriterOptions,
    /// `DEADLINE_MARGIN_MS` (default 1000): time kept between the last call and Lambda's
    /// deadline, to answer with an account of what was written.
    pub deadline_margin: Duration,
    /// `METRICS_NAMESPACE` (default `logship`): the CloudWatch namespace of EMF metrics.
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the metrics' `FunctionName` dimension.
    pub function_name: String,
    /// `TARGET_ROLE_ARN`, `TARGET_EXTERNAL_ID`, `TARGET_REGION`: who writes, and where.
    pub target: TargetAccess,
}

/// How the writer reaches its target: as another principal (a role it assumes, e.g. in a
/// central logging account), in another region, or neither (its own role, its own region).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetAccess {
    /// `TARGET_ROLE_ARN`: `arn:aws:iam::ACCOUNT:role/NAME`.
    pub role_arn: Option<String>,
    /// `TARGET_EXTERNAL_ID`: the role's trust policy may require it (2–1224 characters).
    pub external_id: Option<String>,
    /// `TARGET_REGION`: the target client's region (`eu-west-1`).
    pub region: Option<String>,
}

impl TargetAccess {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let role_arn = get("TARGET_ROLE_ARN");
        if let Some(r) = &role_arn {
            check_role_arn(r).map_err(|reason| ConfigError::Invalid {
                var: "TARGET_ROLE_ARN",
                reason,
            })?;
        }
        let external_id = get("TARGET_EXTERNAL_ID");
        if let Some(e) = &external_id {
            if role_arn.is_none() {
                return Err(ConfigError::Invalid {
                    var: "TARGET_EXTERNAL_ID",
                    reason:
                        "is set, but TARGET_ROLE_ARN is not: there is no role to assume with it"
                            .into(),
                });
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c);
            if !(2..=1224).contains(&e.len()) || !e.chars().all(allowed) {
                return Err(ConfigError::Invalid {
                    var: "TARGET_EXTERNAL_ID",
                    reason:
                        "must be 2–1224 characters of A-Z a-z 0-9 + = , . @ : / - _ (STS's rule)"
                            .into(),
                });
            }
        }
        let region = get("TARGET_REGION");
        if let Some(r) = &region {
            // `eu-west-1`, `us-gov-west-1`, `ap-southeast-5`: letters, dashes, a number.
            let (letters, number) = r.rsplit_once('-').unwrap_or_default();
            let shaped = letters.len() >= 4
                && letters.contains('-')
                && letters.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit());
            if !shaped {
                return Err(ConfigError::Invalid {
                    var: "TARGET_REGION",
                    reason: format!("{r:?} is not a region code such as eu-west-1"),
                });
            }
        }
        Ok(Self {
            role_arn,
            external_id,
            region,
        })
    }

    /// The STS session name: the function's name, so CloudTrail in the target account says
    /// which function wrote (≤ 64 characters of `[\w+=,.@-]`).
    pub fn session_name(function_name: &str) -> String {
        let clean: String = format!("logship-{function_name}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(64)
            .collect();
        clean
    }
}

/// `TARGET_TAGS`: `key=value,key2=value2` under CloudWatch Logs' tag rules: at most 50 tags,
/// keys of 1–128 characters not starting with `aws:`, values of 0–256, both of letters,
/// digits, spaces and `_ . : / = + - @`. A key given twice is an error, not a silent choice.
pub fn parse_tags(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    const MAX_TAGS: usize = 50;
    let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
    let mut tags = std::collections::BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.chars().count() > 128 || !k.chars().all(allowed) {
            return Err(format!(
                "tag key {k:?} must be 1–128 letters, digits, spaces or _ . : / = + - @"
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!("tag key {k:?}: the aws: prefix is reserved"));
        }
        if v.chars().count() > 256 || !v.chars().all(allowed) {
            return Err(format!(
                "tag value {v:?} of {k:?} must be 0–256 letters, digits, spaces or _ . : / = + - @"
            ));
        }
        if tags.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(format!("tag key {k:?} is given twice"));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "{} tags; a log group takes at most {MAX_TAGS}",
            tags.len()
        ));
    }
    Ok(tags)
}

/// An IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, the path and name of
/// `[A-Za-z0-9+=,.@_/-]`, at most 512 characters.
fn check_role_arn(arn: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{arn:?} is not an IAM role ARN such as arn:aws:iam::111122223333:role/logship-writer"
        )
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return Err(bad());
    };
    let name = resource.strip_prefix("role/").ok_or_else(bad)?;
    let name_ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_/-".contains(c));
    let ok = scheme == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && name_ok;
    if ok { Ok(()) } else { Err(bad()) }
}

impl CommonConfig {
    /// Reads configuration through `get`; empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let retention_days = match get("TARGET_RETENTION_DAYS") {
            None => None,
            Some(v) => Some(v.trim().parse::<i32>().ok().filter(|d| RETENTION_DAYS.contains(d)).ok_or_else(|| ConfigError::Invalid {
                var: "TARGET_RETENTION_DAYS",
                reason: format!("{v:?} is not one of the retention periods CloudWatch Logs accepts: {RETENTION_DAYS:?}"),
            })?),
        };
        let deadline_margin = match get("DEADLINE_MARGIN_MS") {
            None => DEFAULT_DEADLINE_MARGIN,
            Some(v) => Duration::from_millis(v.trim().parse::<u64>().map_err(|_| {
                ConfigError::Invalid {
                    var: "DEADLINE_MARGIN_MS",
                    reason: format!("{v:?} is not a number of milliseconds"),
                }
            })?),
        };
        let write_concurrency = match get("WRITE_CONCURRENCY") {
            None => crate::writer::DEFAULT_WRITE_CONCURRENCY,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=crate::writer::MAX_WRITE_CONCURRENCY).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    var: "WRITE_CONCURRENCY",
                    reason: format!(
                        "{v:?} is not a number of requests from 1 to {}",
                        crate::writer::MAX_WRITE_CONCURRENCY
                    ),
                })?,
        };
        Ok(Self {
            writer: WriterOptions {
                write_concurrency,
                retention_days,
                kms_key_arn: get("TARGET_KMS_KEY_ARN"),
                tags: match get("TARGET_TAGS") {
                    None => Default::default(),
                    Some(v) => parse_tags(&v).map_err(|reason| ConfigError::Invalid {
                        var: "TARGET_TAGS",
                        reason,
                    })?,
                },
            },
            deadline_margin,
            metrics_namespace: get("METRICS_NAMESPACE").unwrap_or_else(|| "logship".into()),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "unknown".into()),
            target: TargetAccess::from_lookup(get)?,
        })
    }
}

/// Checks a log group name the caller chose against the service's rule (1–512 characters of
/// `[.-_/#A-Za-z0-9]`), saying what is wrong.
pub fn check_log_group(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(format!(
            "must be 1–{MAX_NAME_LEN} characters, got {}",
            name.chars().count()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#')))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed in a log group name (only A-Z a-z 0-9 . - _ / #)"
        )),
        None => Ok(()),
    }
}

/// Checks a log stream name the caller chose against the service's rule (1–512 characters,
/// no `:` or `*`), saying what is wrong.
pub fn check_log_stream(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(format!(
            "must be 1–{MAX_NAME_LEN} characters, got {}",
            name.chars().count()
        ));
    }
    match name.chars().find(|c| matches!(c, ':' | '*')) {
        Some(c) => Err(format!("{c:?} is not allowed in a log stream name")),
        None => Ok(()),
    }
}

/// Default of `TARGET_LOG_STREAM`.
pub const DEFAULT_TARGET_LOG_STREAM: &str = "{owner}/{logGroup}/{logStream}";

/// Retention values CloudWatch Logs accepts for `PutRetentionPolicy`.
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

impl ReceiverConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get`; empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let target_log_group = Template::parse(
            "TARGET_LOG_GROUP",
            &get("TARGET_LOG_GROUP").ok_or(ConfigError::Missing("TARGET_LOG_GROUP"))?,
        )?;
        let target_log_stream = Template::parse(
            "TARGET_LOG_STREAM",
            &get("TARGET_LOG_STREAM").unwrap_or_else(|| DEFAULT_TARGET_LOG_STREAM.into()),
        )?;
        let message_format = match get("MESSAGE_FORMAT").as_deref().map(str::trim) {
            None => MessageFormat::Raw,
            Some(v) if v.eq_ignore_ascii_case("raw") => MessageFormat::Raw,
            Some(v) if v.eq_ignore_ascii_case("envelope") => MessageFormat::Envelope,
            Some(v) => {
                return Err(ConfigError::Invalid {
                    var: "MESSAGE_FORMAT",
                    reason: format!("{v:?} is neither \"raw\" nor \"envelope\""),
                });
            }
        };
        let regex = |var: &'static str| -> Result<Option<Regex>, ConfigError> {
            get(var)
                .map(|p| {
                    Regex::new(&p).map_err(|e| ConfigError::Invalid {
                        var,
                        reason: format!("not a valid regular expression: {e}"),
                    })
                })
                .transpose()
        };
        let max_decoded_bytes = match get("MAX_DECODED_BYTES") {
            None => DEFAULT_MAX_DECODED_BYTES,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                // At most 4 GiB: far above any Lambda's memory, and what lets a payload's
                // messages are ranges of the document indexed by u32 (json::Message::within).
                .filter(|n| (1..=u32::MAX as usize).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    var: "MAX_DECODED_BYTES",
                    reason: format!("{v:?} is not a number of bytes from 1 to 4294967295"),
                })?,
        };
        Ok(Self {
            target_log_group,
            target_log_stream,
            message_format,
            include: regex("INCLUDE_PATTERN")?,
            exclude: regex("EXCLUDE_PATTERN")?,
            own_log_group: get("AWS_LAMBDA_LOG_GROUP_NAME"),
            sampler: Sampler::from_config(get("SAMPLE_RULES").as_deref())?,
            redactor: Redactor::from_config(
                get("REDACT").as_deref(),
                get("REDACT_RULES").as_deref(),
            )?,
            limits: DecodeLimits { max_decoded_bytes },
            propagate_source_tags: match get("PROPAGATE_SOURCE_TAGS")
                .map(|v| v.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        var: "PROPAGATE_SOURCE_TAGS",
                        reason: "must be true or false".into(),
                    });
                }
            },
            common: CommonConfig::from_lookup(get)?,
        })
    }

    /// The sanitised target group and stream for a payload from `src`.
    pub fn target(&self, src: Source<'_>) -> (String, String) {
        (
            sanitize_log_group(&self.target_log_group.render(src)),
            sanitize_log_stream(&self.target_log_stream.render(src)),
        )
    }

    /// True when a message passes `INCLUDE_PATTERN` and `EXCLUDE_PATTERN`.
    /// Whether an include or exclude pattern is set (when not, no message text is read).
    pub fn filters(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    pub fn keeps(&self, message: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(message))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<ReceiverConfig, ConfigError> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ReceiverConfig::from_lookup(move |k| m.get(k).cloned())
    }

    const SRC: Source<'static> = Source {
        owner: "123456789012",
        log_group: "/aws/lambda/orders",
        log_stream: "2026/11/22/[$LATEST]abc",
    };

    #[test]
    fn templates_render_and_sanitise() {
        let c = cfg(&[("TARGET_LOG_GROUP", "/central/{owner}")]).unwrap();
        assert_eq!(
            c.target(SRC),
            (
                "/central/123456789012".into(),
                "123456789012//aws/lambda/orders/2026/11/22/[$LATEST]abc".into()
            )
        );
        let c = cfg(&[
            ("TARGET_LOG_GROUP", "/c/{logStream}"),
            ("TARGET_LOG_STREAM", "x:{logGroup}*"),
        ])
        .unwrap();
        assert_eq!(
            c.target(SRC),
            (
                "/c/2026/11/22/__LATEST_abc".into(),
                "x_/aws/lambda/orders_".into()
            )
        );
        assert!(
            cfg(&[("TARGET_LOG_GROUP", "/central")])
                .unwrap()
                .target_log_group
                .is_constant()
        );
    }

    #[test]
    fn sanitising_enforces_length_and_emptiness() {
        assert_eq!(sanitize_log_group(""), "_");
        assert_eq!(sanitize_log_group("a b:ü"), "a_b__");
        assert_eq!(sanitize_log_group(&"g".repeat(600)).len(), 512);
        assert_eq!(sanitize_log_stream(""), "_");
        let s = sanitize_log_stream(&"é".repeat(400)); // 800 bytes
        assert_eq!(s.len(), 512);
        assert_eq!(s.chars().count(), 256);
        assert_eq!(sanitize_log_stream("a:b*c/ü [x]"), "a_b_c/ü [x]");
    }

    #[test]
    fn target_tags() {
        let tags = parse_tags(" team = payments , cost-center=cc:42/eu,empty= ").unwrap();
        assert_eq!(
            tags.into_iter().collect::<Vec<_>>(),
            [
                ("cost-center".to_string(), "cc:42/eu".to_string()),
                ("empty".to_string(), String::new()),
                ("team".to_string(), "payments".to_string()),
            ]
        );
        assert!(parse_tags("").unwrap().is_empty());
        for bad in [
            "team",
            "=x",
            "aws:x=1",
            "AWS:x=1",
            "a=1,a=2",
            "k=v;",
            &format!("{}=1", "k".repeat(129)),
            &format!("k={}", "v".repeat(257)),
            &(0..51)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(","),
        ] {
            assert!(parse_tags(bad).is_err(), "{bad}");
        }
        // WRITE_CONCURRENCY: 1-64, default 8, named in the error.
        let c = cfg(&[("TARGET_LOG_GROUP", "/g")]).unwrap();
        assert_eq!(c.common.writer.write_concurrency, 8);
        for (v, want) in [("1", 1), (" 64 ", 64), ("16", 16)] {
            let c = cfg(&[("TARGET_LOG_GROUP", "/g"), ("WRITE_CONCURRENCY", v)]).unwrap();
            assert_eq!(c.common.writer.write_concurrency, want, "{v:?}");
        }
        for bad in ["0", "65", "-1", "eight", "1.5"] {
            let e = cfg(&[("TARGET_LOG_GROUP", "/g"), ("WRITE_CONCURRENCY", bad)])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("WRITE_CONCURRENCY") && e.contains("from 1 to 64"),
                "{bad}: {e}"
            );
        }
        for (v, want) in [
            ("true", true),
            (" TRUE ", true),
            ("false", false),
            ("", false),
        ] {
            let c = cfg(&[("TARGET_LOG_GROUP", "/g"), ("PROPAGATE_SOURCE_TAGS", v)]).unwrap();
            assert_eq!(c.propagate_source_tags, want, "{v:?}");
        }
        assert_eq!(
            cfg(&[("TARGET_LOG_GROUP", "/g"), ("PROPAGATE_SOURCE_TAGS", "yes")])
                .unwrap_err()
                .to_string(),
            "PROPAGATE_SOURCE_TAGS: must be true or false"
        );
        let e = cfg(&[("TARGET_LOG_GROUP", "/g"), ("TARGET_TAGS", "team")])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "TARGET_TAGS: \"team\" is not key=value");
    }

    #[test]
    fn the_target_role_region_and_external_id() {
        let target = |vars: &[(&str, &str)]| {
            let m: HashMap<&str, &str> = vars.iter().copied().collect();
            TargetAccess::from_lookup(|k| m.get(k).map(|v| v.to_string()))
        };
        assert_eq!(target(&[]).unwrap(), TargetAccess::default());
        let role = "arn:aws:iam::111122223333:role/logship/central-writer";
        assert_eq!(
            target(&[
                ("TARGET_ROLE_ARN", role),
                ("TARGET_EXTERNAL_ID", "central-logging:2026"),
                ("TARGET_REGION", " eu-west-1 "),
            ])
            .unwrap(),
            TargetAccess {
                role_arn: Some(role.into()),
                external_id: Some("central-logging:2026".into()),
                region: Some("eu-west-1".into()),
            }
        );
        for r in ["us-gov-west-1", "ap-southeast-5", "cn-north-1"] {
            assert!(target(&[("TARGET_REGION", r)]).is_ok(), "{r}");
        }
        for (var, value) in [
            ("TARGET_ROLE_ARN", "arn:aws:iam::1111:role/x"),
            ("TARGET_ROLE_ARN", "arn:aws:iam::111122223333:user/x"),
            ("TARGET_ROLE_ARN", "arn:aws:sts::111122223333:role/x"),
            (
                "TARGET_ROLE_ARN",
                "arn:aws:iam:eu-west-1:111122223333:role/x",
            ),
            ("TARGET_ROLE_ARN", "arn:aws:iam::111122223333:role/"),
            ("TARGET_ROLE_ARN", "arn:aws:iam::111122223333:role/a b"),
            ("TARGET_ROLE_ARN", "logship-writer"),
            ("TARGET_REGION", "Europe"),
            ("TARGET_REGION", "eu-west"),
            ("TARGET_REGION", "eu-west-1a"),
        ] {
            let e = target(&[(var, value)]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{var}: ")), "{value}: {e}");
        }
        let long = format!("arn:aws:iam::111122223333:role/{}", "n".repeat(513));
        assert!(target(&[("TARGET_ROLE_ARN", &long)]).is_err());
        assert_eq!(
            target(&[("TARGET_EXTERNAL_ID", "abc")])
                .unwrap_err()
                .to_string(),
            "TARGET_EXTERNAL_ID: is set, but TARGET_ROLE_ARN is not: there is no role to assume with it"
        );
        for id in ["x", "has space", &"x".repeat(1225)] {
            assert!(
                target(&[("TARGET_ROLE_ARN", role), ("TARGET_EXTERNAL_ID", id)]).is_err(),
                "{id}"
            );
        }
        assert_eq!(
            TargetAccess::session_name("orders stack/receiver"),
            "logship-orders-stack-receiver"
        );
        assert_eq!(TargetAccess::session_name(&"f".repeat(100)).len(), 64);
    }

    #[test]
    fn bad_configuration_names_the_variable() {
        assert_eq!(
            cfg(&[]).unwrap_err().to_string(),
            "TARGET_LOG_GROUP is required but not set"
        );
        assert!(
            cfg(&[("TARGET_LOG_GROUP", "/c/{group}")])
                .unwrap_err()
                .to_string()
                .starts_with("TARGET_LOG_GROUP: unknown placeholder {group}")
        );
        assert!(
            cfg(&[("TARGET_LOG_GROUP", "/c"), ("TARGET_LOG_STREAM", "{owner")])
                .unwrap_err()
                .to_string()
                .starts_with("TARGET_LOG_STREAM: unclosed")
        );
        assert!(
            cfg(&[("TARGET_LOG_GROUP", "/c"), ("MESSAGE_FORMAT", "xml")])
                .unwrap_err()
                .to_string()
                .starts_with("MESSAGE_FORMAT:")
        );
        assert!(
            cfg(&[("TARGET_LOG_GROUP", "/c"), ("INCLUDE_PATTERN", "(")])
                .unwrap_err()
                .to_string()
                .starts_with("INCLUDE_PATTERN: not a valid regular expression")
        );
        assert!(
            cfg(&[("TARGET_LOG_GROUP", "/c"), ("MAX_DECODED_BYTES", "lots")])
                .unwrap_err()
                .to_string()
                .starts_with("MAX_DECODED_BYTES:")
        );
        assert!(
            cfg(&[("TARGET_LOG_GROUP", "/c"), ("TARGET_RETENTION_DAYS", "2")])
                .unwrap_err()
                .to_string()
                .starts_with("TARGET_RETENTION_DAYS:")
        );
        assert!(
            cfg(&[
                ("TARGET_LOG_GROUP", "/c"),
                ("MAX_DECODED_BYTES", "4294967296")
            ])
            .unwrap_err()
            .to_string()
            .contains("from 1 to 4294967295")
        );
        assert!(
            cfg(&[
                ("TARGET_LOG_GROUP", "/c"),
                ("MAX_DECODED_BYTES", "4294967295")
            ])
            .is_ok()
        );
    }

    #[test]
    fn filters_and_defaults() {
        let c = cfg(&[
            ("TARGET_LOG_GROUP", "/c"),
            ("INCLUDE_PATTERN", "ERROR|WARN"),
            ("EXCLUDE_PATTERN", "healthcheck"),
            ("MESSAGE_FORMAT", "Envelope"),
        ])
        .unwrap();
        assert!(c.keeps("ERROR boom"));
        assert!(!c.keeps("INFO fine"));
        assert!(!c.keeps("WARN healthcheck slow"));
        assert_eq!(c.message_format, MessageFormat::Envelope);
        let c = cfg(&[
            ("TARGET_LOG_GROUP", "/c"),
            ("TARGET_RETENTION_DAYS", "30"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/me"),
        ])
        .unwrap();
        assert!(c.keeps("anything"));
        assert_eq!(c.limits.max_decoded_bytes, 32 * 1024 * 1024);
        assert_eq!(c.common.writer.retention_days, Some(30));
        assert_eq!(c.own_log_group.as_deref(), Some("/aws/lambda/me"));
        assert_eq!(c.message_format, MessageFormat::Raw);
    }
}
