//! Deterministic sampling (`SAMPLE_RULES`): which events are kept, decided by the event's
//! CloudWatch Logs id alone, so that every delivery of the same events keeps the same ones.
//!
//! A subscription delivers again on failure: Lambda retries a direct delivery, Kinesis
//! re-reads a record, Firehose retries a batch, another container takes the next attempt. A
//! random draw would keep a different set each time, and a retried batch would both lose
//! events it had kept and ship some twice. Hashing the id instead makes the decision a pure
//! function: `keep` is the fraction of ids whose hash falls below it.
//!
//! The hash ([`hash_id`]): 64-bit FNV-1a over the id's UTF-8 bytes, then SplitMix64's finaliser
//! (FNV-1a alone leaves ids that differ in their last digits close together); an event is kept
//! when `(hash >> 11) / 2^53 < keep`. Rules are tried in order; the first whose `match` finds
//! the message decides; an event no rule matches is kept.

use regex::Regex;
use serde::Deserialize;

use crate::config::ConfigError;

/// One rule: messages `match` finds keep a `keep` fraction of their events.
#[derive(Debug, Clone)]
pub struct SampleRule {
    pub pattern: Regex,
    pub keep: f64,
}

/// The rules of `SAMPLE_RULES`, in order.
#[derive(Debug, Clone, Default)]
pub struct Sampler {
    rules: Vec<SampleRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[serde(rename = "match")]
    pattern: String,
    keep: f64,
}

fn invalid(reason: String) -> ConfigError {
    ConfigError::Invalid {
        var: "SAMPLE_RULES",
        reason,
    }
}

impl Sampler {
    /// From `SAMPLE_RULES`, a JSON array of `{"match": "<regex>", "keep": <0..1>}`; `None`
    /// when unset or empty. Errors name the variable and the rule.
    pub fn from_config(text: Option<&str>) -> Result<Option<Self>, ConfigError> {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let items: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "not a JSON array of rules {{\"match\": \"<regex>\", \"keep\": <0..1>}}: {e}"
            ))
        })?;
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let which = format!("rule {}", i + 1);
            let spec: RuleSpec = serde_json::from_value(item).map_err(|e| {
                invalid(format!(
                    "{which}: {e} (a rule is {{\"match\": \"<regex>\", \"keep\": <0..1>}})"
                ))
            })?;
            if !(0.0..=1.0).contains(&spec.keep) {
                return Err(invalid(format!(
                    "{which} ({:?}): keep must be from 0 to 1, got {}",
                    spec.pattern, spec.keep
                )));
            }
            let pattern = Regex::new(&spec.pattern).map_err(|e| {
                invalid(format!(
                    "{which} ({:?}): not a valid regular expression: {e}",
                    spec.pattern
                ))
            })?;
            rules.push(SampleRule {
                pattern,
                keep: spec.keep,
            });
        }
        Ok((!rules.is_empty()).then_some(Self { rules }))
    }

    pub fn rules(&self) -> &[SampleRule] {
        &self.rules
    }

    /// Whether the event with this `id` and message `text` is kept.
    pub fn keeps(&self, id: &str, text: &str) -> bool {
        match self.rules.iter().find(|r| r.pattern.is_match(text)) {
            None => true,
            Some(r) => kept(hash_id(id), r.keep),
        }
    }
}

/// Whether a hash falls in the kept fraction: its top 53 bits as a number in [0, 1) below
/// `keep` (so `keep` 0 keeps nothing and 1 everything).
pub fn kept(hash: u64, keep: f64) -> bool {
    ((hash >> 11) as f64) / ((1u64 << 53) as f64) < keep
}

/// 64-bit FNV-1a of `id`'s bytes, then SplitMix64's finaliser.
pub fn hash_id(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(text: &str) -> Sampler {
        Sampler::from_config(Some(text)).unwrap().unwrap()
    }

    #[test]
    fn the_hash_is_fixed() {
        // Pinned (and computed independently, in Python, for the README): a change here
        // changes which events every deployment keeps.
        assert_eq!(hash_id(""), 0xf52a_15e9_a9b5_e89b);
        assert_eq!(hash_id("1"), 0x4687_cd93_9ade_afdf);
        let id = "36781458963784564412345678901234567890123456789012345678";
        assert_eq!(hash_id(id), 0xab8a_4505_331e_29d5);
        // That id's position is 0.670…: kept at keep 0.68, dropped at 0.67.
        assert!(kept(hash_id(id), 0.68) && !kept(hash_id(id), 0.67));
    }

    #[test]
    fn first_matching_rule_decides_and_unmatched_are_kept() {
        let s = sampler(
            r#"[{"match":"DEBUG","keep":0},{"match":"GET /health","keep":1},{"match":".","keep":0}]"#,
        );
        assert!(!s.keeps("1", "DEBUG GET /health"));
        assert!(s.keeps("1", "INFO GET /health"));
        assert!(!s.keeps("1", "INFO other"));
        assert!(s.keeps("1", ""));
    }

    #[test]
    fn kept_fraction_is_within_binomial_bounds() {
        // ids as CloudWatch Logs makes them: 56 digits, consecutive events close together.
        for keep in [0.01, 0.1, 0.5, 0.9] {
            let n = 100_000u32;
            let k = (0..n)
                .filter(|i| {
                    kept(
                        hash_id(&format!(
                            "3678145896378456441234567890123456789012345678901{i:07}"
                        )),
                        keep,
                    )
                })
                .count() as f64;
            let (mean, sd) = (keep * n as f64, (n as f64 * keep * (1.0 - keep)).sqrt());
            assert!((k - mean).abs() < 5.0 * sd, "keep {keep}: kept {k} of {n}");
        }
        assert!(!kept(0, 0.0));
        assert!(kept(u64::MAX, 1.0));
    }

    #[test]
    fn bad_rules_name_the_variable_and_the_rule() {
        let err = |t: &str| Sampler::from_config(Some(t)).unwrap_err().to_string();
        assert!(err("{").starts_with("SAMPLE_RULES: not a JSON array"));
        assert!(
            err(r#"[{"match":"a","keep":2}]"#)
                .starts_with("SAMPLE_RULES: rule 1 (\"a\"): keep must be from 0 to 1")
        );
        assert!(
            err(r#"[{"match":"a","keep":1},{"match":"(","keep":1}]"#)
                .starts_with("SAMPLE_RULES: rule 2 (\"(\"): not a valid regular expression")
        );
        assert!(
            err(r#"[{"match":"a"}]"#).starts_with("SAMPLE_RULES: rule 1: missing field `keep`")
        );
        assert!(err(r#"[{"match":"a","keep":1,"x":1}]"#).contains("unknown field `x`"));
        assert!(Sampler::from_config(Some(" ")).unwrap().is_none());
        assert!(Sampler::from_config(Some("[]")).unwrap().is_none());
    }
}
