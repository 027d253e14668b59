//! Saved queries (query definitions): found by name with DescribeQueryDefinitions, and applied
//! to a spec.
//!
//! DescribeQueryDefinitions filters by name *prefix* only, so the lookup pages through the
//! definitions starting with the name and keeps those named exactly so. Names are not unique
//! in the service: two definitions of the same name are an error naming both ids, never a
//! guess. A saved query brings its query string, its language and its log groups; the spec may
//! name other log groups, and values for the query's `{{parameter}}` placeholders.

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::QueryDefinition;

use super::query::api_language;
use super::spec::{Language, LogGroups, QuerySpec, Resolved, Source};
use crate::failure::{ErrorType, Typed};
use crate::retry::{self, Backoff, Deadline, RetryError, RetryStats};

/// DescribeQueryDefinitions `maxResults`: the service's maximum.
const PAGE: i32 = 1000;

/// A saved query, as the service describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    pub id: String,
    pub name: String,
    pub query: String,
    pub language: Language,
    pub log_groups: Vec<String>,
    /// Placeholder names and their default values.
    pub parameters: Vec<(String, Option<String>)>,
}

/// Why a saved query could not be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DefinitionError {
    #[error(
        "queryDefinition: no saved query is named {name:?}{}{}",
        language.map(|l| format!(" in language {}", l.name())).unwrap_or_default(),
        if similar.is_empty() { String::new() } else { format!(" (names that start so: {})", similar.join(", ")) }
    )]
    NotFound {
        name: String,
        language: Option<Language>,
        similar: Vec<String>,
    },
    #[error(
        "queryDefinition: {} saved queries are named {name:?} (ids {}); rename all but one",
        ids.len(),
        ids.join(", ")
    )]
    Ambiguous { name: String, ids: Vec<String> },
    #[error("queryDefinition {name:?}: {reason}")]
    Unusable { name: String, reason: String },
    #[error("DescribeQueryDefinitions failed looking up {name:?}: {message}")]
    Lookup { name: String, message: String },
}

impl Typed for DefinitionError {
    fn error_type(&self) -> ErrorType {
        match self {
            DefinitionError::Lookup { .. } => ErrorType::QueryFailed,
            _ => ErrorType::InvalidEvent,
        }
    }
}

/// The saved query named exactly `name` (of `language` when the spec names one).
pub async fn lookup(
    client: &Client,
    name: &str,
    language: Option<Language>,
    backoff: Backoff,
    deadline: Deadline,
) -> Result<SavedQuery, DefinitionError> {
    let mut exact = Vec::new();
    let mut similar = Vec::new();
    let mut token: Option<String> = None;
    let mut stats = RetryStats::default();
    loop {
        let describe = || {
            client
                .describe_query_definitions()
                .query_definition_name_prefix(name)
                .max_results(PAGE)
                .set_query_language(language.map(api_language))
                .set_next_token(token.clone())
                .send()
        };
        let out = retry::retry(deadline, backoff, &mut stats, describe)
            .await
            .map_err(|e: RetryError<_>| DefinitionError::Lookup {
                name: name.to_owned(),
                message: e.to_string(),
            })?;
        for d in out.query_definitions() {
            match d.name() {
                Some(n) if n == name => exact.push(saved(d)?),
                Some(n) if similar.len() < 5 => similar.push(format!("{n:?}")),
                _ => {}
            }
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    match exact.len() {
        0 => Err(DefinitionError::NotFound {
            name: name.to_owned(),
            language,
            similar,
        }),
        1 => Ok(exact.remove(0)),
        _ => Err(DefinitionError::Ambiguous {
            name: name.to_owned(),
            ids: exact.into_iter().map(|d| d.id).collect(),
        }),
    }
}

fn saved(d: &QueryDefinition) -> Result<SavedQuery, DefinitionError> {
    let name = d.name().unwrap_or_default().to_owned();
    let language = match d.query_language() {
        None => Language::Cwli,
        Some(l) => {
            Language::parse("queryLanguage", l.as_str()).map_err(|_| DefinitionError::Unusable {
                name: name.clone(),
                reason: format!(
                    "its query language {:?} is not one logship runs",
                    l.as_str()
                ),
            })?
        }
    };
    Ok(SavedQuery {
        id: d.query_definition_id().unwrap_or_default().to_owned(),
        query: d.query_string().unwrap_or_default().to_owned(),
        language,
        log_groups: d.log_group_names().to_vec(),
        parameters: d
            .parameters()
            .iter()
            .map(|p| (p.name().to_owned(), p.default_value().map(str::to_owned)))
            .collect(),
        name,
    })
}

/// The request of a spec that runs `saved`: its query string with the placeholders filled, its
/// language, the spec's log groups or else its own, and the spec's limit.
pub fn resolve(spec: &QuerySpec, saved: &SavedQuery) -> Result<Resolved, DefinitionError> {
    let unusable = |reason: String| DefinitionError::Unusable {
        name: saved.name.clone(),
        reason,
    };
    let values = match &spec.source {
        Source::Saved { parameters, .. } => parameters.as_slice(),
        Source::Text(_) => &[],
    };
    if let Some(l) = spec.language.filter(|l| *l != saved.language) {
        return Err(unusable(format!(
            "it is a {} query, and the spec says language {}",
            saved.language.name(),
            l.name()
        )));
    }
    let language = saved.language;
    if let Some((k, _)) = values
        .iter()
        .find(|(k, _)| !saved.parameters.iter().any(|(p, _)| p == k))
    {
        return Err(unusable(format!("it has no parameter {k:?}")));
    }
    let mut query = saved.query.clone();
    for (p, default) in &saved.parameters {
        let value = values
            .iter()
            .find(|(k, _)| k == p)
            .map(|(_, v)| v.as_str())
            .or(default.as_deref())
            .ok_or_else(|| {
                unusable(format!(
                    "its parameter {p:?} has no default value, and the spec's parameters give none"
                ))
            })?;
        query = query.replace(&format!("{{{{{p}}}}}"), value);
    }
    let log_groups = if !spec.log_groups.is_empty() {
        spec.log_groups.clone()
    } else if saved.log_groups.is_empty() {
        LogGroups::None
    } else {
        LogGroups::parse("logGroups", saved.log_groups.clone())
            .map_err(|e| unusable(format!("its log groups: {}", e.reason)))?
    };
    if language.names_groups_in_query() && !log_groups.is_empty() {
        return Err(unusable(
            "it is a SQL query, which names its log groups in its FROM clause; the spec must not name any"
                .into(),
        ));
    }
    if !language.names_groups_in_query() && log_groups.is_empty() {
        return Err(unusable(
            "it names no log groups, and neither does the spec (logGroups)".into(),
        ));
    }
    let max = language.max_rows();
    let limit = spec.limit.unwrap_or(max);
    if limit > max {
        return Err(unusable(format!(
            "it is a {} query, which returns at most {max} rows; the spec's limit is {limit}",
            language.name()
        )));
    }
    Ok(Resolved {
        query,
        language,
        log_groups,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::spec::{Defaults, parse_spec};
    use serde_json::{Value, json};

    fn spec(v: Value) -> QuerySpec {
        parse_spec(
            &v,
            "",
            &Defaults {
                log_group: Some("/r".into()),
                log_stream: None,
            },
            0,
        )
        .unwrap()
    }

    fn saved(language: Language, groups: &[&str]) -> SavedQuery {
        SavedQuery {
            id: "d-1".into(),
            name: "errors".into(),
            query: "fields @message | filter level = '{{level}}' | limit {{n}}".into(),
            language,
            log_groups: groups.iter().map(|g| g.to_string()).collect(),
            parameters: vec![("level".into(), Some("ERROR".into())), ("n".into(), None)],
        }
    }

    #[test]
    fn a_saved_query_brings_its_string_groups_and_language() {
        let s = spec(
            json!({"name": "n", "queryDefinition": "errors", "window": "5m", "parameters": {"n": 20}}),
        );
        let r = resolve(&s, &saved(Language::Cwli, &["/a", "/b"])).unwrap();
        assert_eq!(
            r,
            Resolved {
                query: "fields @message | filter level = 'ERROR' | limit 20".into(),
                language: Language::Cwli,
                log_groups: LogGroups::Names(vec!["/a".into(), "/b".into()]),
                limit: 100_000,
            }
        );
        let s = spec(
            json!({"name": "n", "queryDefinition": "errors", "window": "5m", "logGroups": ["arn:aws:logs:eu-west-1:123456789012:log-group:/c:*"],
                   "parameters": {"n": "5", "level": "WARN"}, "limit": 500}),
        );
        let r = resolve(&s, &saved(Language::Ppl, &["/a"])).unwrap();
        assert_eq!(
            (r.query.as_str(), r.language, r.log_groups, r.limit),
            (
                "fields @message | filter level = 'WARN' | limit 5",
                Language::Ppl,
                LogGroups::Arns(vec![
                    "arn:aws:logs:eu-west-1:123456789012:log-group:/c".into()
                ]),
                500
            )
        );
    }

    #[test]
    fn a_saved_query_that_cannot_run_says_why() {
        let base = json!({"name": "n", "queryDefinition": "errors", "window": "5m", "parameters": {"n": 1}});
        let err = |v: Value, s: &SavedQuery| resolve(&spec(v), s).unwrap_err().to_string();
        let no_n = json!({"name": "n", "queryDefinition": "errors", "window": "5m"});
        assert_eq!(
            err(no_n, &saved(Language::Cwli, &["/a"])),
            "queryDefinition \"errors\": its parameter \"n\" has no default value, and the spec's parameters give none"
        );
        let mut extra = base.clone();
        extra["parameters"]["x"] = json!("1");
        assert_eq!(
            err(extra, &saved(Language::Cwli, &["/a"])),
            "queryDefinition \"errors\": it has no parameter \"x\""
        );
        assert_eq!(
            err(base.clone(), &saved(Language::Cwli, &[])),
            "queryDefinition \"errors\": it names no log groups, and neither does the spec (logGroups)"
        );
        let mut sql_groups = base.clone();
        sql_groups["logGroups"] = json!(["/a"]);
        assert!(
            err(sql_groups, &saved(Language::Sql, &[])).contains("it is a SQL query, which names")
        );
        let mut wrong = base.clone();
        wrong["language"] = json!("ppl");
        assert_eq!(
            err(wrong, &saved(Language::Cwli, &["/a"])),
            "queryDefinition \"errors\": it is a cwli query, and the spec says language ppl"
        );
        let mut big = base.clone();
        big["limit"] = json!(50_000);
        assert!(err(big, &saved(Language::Sql, &[])).contains("returns at most 10000 rows"));
        let sql = resolve(&spec(base), &saved(Language::Sql, &[])).unwrap();
        assert_eq!((sql.log_groups, sql.limit), (LogGroups::None, 10_000));
    }

    #[test]
    fn lookup_errors_name_the_query() {
        let e = DefinitionError::NotFound {
            name: "errors".into(),
            language: None,
            similar: vec!["\"errors-by-service\"".into()],
        };
        assert_eq!(
            e.to_string(),
            "queryDefinition: no saved query is named \"errors\" (names that start so: \"errors-by-service\")"
        );
        assert_eq!(e.error_type(), ErrorType::InvalidEvent);
        let e = DefinitionError::Ambiguous {
            name: "errors".into(),
            ids: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "queryDefinition: 2 saved queries are named \"errors\" (ids a, b); rename all but one"
        );
    }
}
