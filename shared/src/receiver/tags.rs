//! `PROPAGATE_SOURCE_TAGS`: a created target group gets its source group's tags.
//!
//! A source's tags are read with ListTagsForResource, with the function's own credentials,
//! and kept per container for [`TTL`]: a warm container does not ask again for every payload,
//! and a change of tags reaches new groups within the TTL. A source the function may not read
//! is usual in central logging (another account's group) and never fatal: its groups are
//! created with `TARGET_TAGS` alone, the payload's summary counts it, and it is logged once
//! per container.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client;

use crate::retry::{self, Backoff, Deadline, RetryStats};
use crate::writer::Tags;

/// How long a source's tags (or that they cannot be read) are kept.
pub const TTL: Duration = Duration::from_secs(15 * 60);

/// The ARN of log group `name` of account `owner` in `region` (partition from the region).
pub fn log_group_arn(region: &str, owner: &str, name: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:logs:{region}:{owner}:log-group:{name}")
}

/// A source's tags as read at an instant (`None`: they could not be read).
type Cached = (Instant, Option<Arc<Tags>>);

/// Source groups' tags, read once per [`TTL`] per container.
#[derive(Debug)]
pub struct SourceTags {
    client: Client,
    region: String,
    backoff: Backoff,
    /// By source ARN: when read, and the tags (`None`: they could not be read).
    cache: Mutex<HashMap<String, Cached>>,
    /// Sources already logged as unreadable (once per container each).
    warned: Mutex<HashSet<String>>,
}

impl SourceTags {
    /// Reads with `client` (the function's own), for sources in its region.
    pub fn new(client: Client) -> Self {
        let region = client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        Self {
            client,
            region,
            backoff: Backoff::default(),
            cache: Mutex::default(),
            warned: Mutex::default(),
        }
    }

    /// The tags of `owner`'s group `name`; `None`, counted in `unreadable`, when they cannot be
    /// read.
    pub async fn of(
        &self,
        owner: &str,
        name: &str,
        deadline: Deadline,
        unreadable: &mut u64,
    ) -> Option<Arc<Tags>> {
        let arn = log_group_arn(&self.region, owner, name);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&arn)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, tags)| tags.clone());
        let tags = match cached {
            Some(tags) => tags,
            None => {
                let tags = self.read(&arn, deadline).await;
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(arn, (Instant::now(), tags.clone()));
                tags
            }
        };
        if tags.is_none() {
            *unreadable += 1;
        }
        tags
    }

    async fn read(&self, arn: &str, deadline: Deadline) -> Option<Arc<Tags>> {
        let mut stats = RetryStats::default();
        let list = || {
            self.client
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
        };
        match retry::retry(deadline, self.backoff, &mut stats, list).await {
            Ok(out) => Some(Arc::new(
                out.tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            )),
            Err(e) => {
                let first = self
                    .warned
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(arn.to_owned());
                if first {
                    tracing::warn!(source = arn, error = %e, "the source group's tags cannot be read; groups made for it get TARGET_TAGS only (logged once per container)");
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::writer::merged;

    #[test]
    fn arns_and_precedence() {
        assert_eq!(
            log_group_arn("eu-west-1", "111122223333", "/aws/lambda/orders"),
            "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/orders"
        );
        assert!(log_group_arn("cn-north-1", "1", "/g").starts_with("arn:aws-cn:"));
        assert!(log_group_arn("us-gov-west-1", "1", "/g").starts_with("arn:aws-us-gov:"));
        let tags = |pairs: &[(&str, &str)]| -> Tags {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            merged(
                Some(&tags(&[("team", "orders"), ("env", "prod")])),
                &tags(&[("team", "central")])
            ),
            tags(&[("env", "prod"), ("team", "central")]),
            "TARGET_TAGS win"
        );
        assert_eq!(merged(None, &tags(&[("a", "1")])), tags(&[("a", "1")]));
    }
}
