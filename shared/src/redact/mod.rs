//! Redaction: secrets and personal data replaced in each message before anything leaves the
//! function (`REDACT`, `REDACT_RULES`).
//!
//! Rules see the text the service stores, not the JSON escapes it travels in: a message is
//! JSON-escaped inside logship ([`crate::json`]), and `bob\u0040example.org` in a document is
//! the address `bob@example.org` in CloudWatch Logs. A message that is itself JSON (an object
//! or an array) is redacted string by string ([`Redactor::redact_message`]), so that it stays
//! JSON with its keys in place: `\u0040` inside one of its strings is an `@` too, and a number
//! that is a card becomes the string `"[REDACTED:card]"`.
//!
//! Cost: one pass over a message as it travels, still escaped ([`scan`]), tells which detectors
//! could match it; only those run ([`Redactor::redact_escaped`]), and a message none could
//! match is kept as it came, byte for byte, neither unescaped nor copied. A message whose only
//! escapes are `\"` and `\\` (a log line with quotes) is searched and rewritten as it is, still
//! escaped: no detector but `aws-secret` can match a quote or a backslash, so each finds there
//! what it finds in the text. Other messages (and every one when a custom rule, which could
//! match anything, is configured) are unescaped, rewritten and escaped again.

pub mod detectors;
pub mod scan;
mod structured;

use std::ops::Range;

use regex::Regex;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::json::{self, EscapedStr, EscapedString};
pub use detectors::{DETECTORS, Detector};

/// One rule: a built-in detector or a custom rule of `REDACT_RULES`.
#[derive(Debug, Clone)]
pub struct Rule {
    name: String,
    /// The detector's bit in [`scan::Mask`]; 0 for a custom rule, which always runs.
    bit: scan::Mask,
    regex: Regex,
    /// The capture group replaced (0: the whole match).
    group: usize,
    /// What the pattern cannot check; `None` for custom rules.
    check: Option<detectors::Check>,
    /// The pattern written out ([`Detector::at`]).
    at: Option<detectors::At>,
    /// A JSON key (whole) whose string value (whole) is this rule's secret: [`Detector::json_key`].
    json_pair: Option<(Regex, Regex)>,
    replacement: String,
}

impl Rule {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends `text` with this rule's matches replaced to `out`, searching the ranges
    /// `within` (in order; none of its matches can cross their ends) and nothing else; the
    /// number of replacements (0: nothing appended), and whether its check refused a match
    /// (`checked`: with the check).
    fn apply(
        &self,
        text: &str,
        within: impl Iterator<Item = Range<usize>>,
        checked: bool,
        out: &mut String,
    ) -> (u64, bool) {
        let (mut copied, mut n, mut refused) = (0, 0, false);
        // A match at `start..end` of the range starting at `at`.
        let mut found = |start: usize, end: usize, at: usize, out: &mut String| {
            let (start, end) = (at + start, at + end);
            let range = match self.check.filter(|_| checked) {
                None => Some((start, end)),
                // The check sees the text from the end of the last replacement on: what came
                // before it is a replacement in the text shipped, which glues to nothing. A
                // match glued to the one just replaced (`bob@example.org%x@example.net`, whose
                // `%` cannot continue the first) is checked as it will stand, after `]`, and
                // replaced too; not left to be an address once its neighbour is gone (the
                // `redaction` fuzz target's finding 3).
                Some(check) if start >= copied => {
                    check(&text[copied..], start - copied, end - copied)
                        .map(|(s, e)| (s + copied, e + copied))
                }
                Some(_) => None,
            };
            refused |= range.is_none();
            // An empty match would insert the replacement between characters: never a secret.
            if let Some((start, end)) = range.filter(|&(s, e)| e > s && s >= copied) {
                if n == 0 {
                    // Once, for the whole result: most messages have one match.
                    out.reserve(text.len() + self.replacement.len());
                }
                out.push_str(&text[copied..start]);
                out.push_str(&self.replacement);
                copied = end;
                n += 1;
            }
        };
        for range in within {
            let haystack = &text[range.clone()];
            if let Some(at) = self.at.filter(|_| haystack.len() <= SHORT) {
                // Leftmost-first, as `find_iter`: the first start with a match, then on from
                // its end.
                let b = haystack.as_bytes();
                let mut i = 0;
                while i < b.len() {
                    match at(b, i) {
                        Some(end) => {
                            found(i, end, range.start, out);
                            i = end.max(i + 1);
                        }
                        None => i += 1,
                    }
                }
            } else if self.group == 0 {
                for m in self.regex.find_iter(haystack) {
                    found(m.start(), m.end(), range.start, out);
                }
            } else {
                for caps in self.regex.captures_iter(haystack) {
                    if let Some(m) = caps.get(self.group) {
                        found(m.start(), m.end(), range.start, out);
                    }
                }
            }
        }
        if n > 0 {
            out.push_str(&text[copied..]);
        }
        (n, refused)
    }
}

/// The fuzz targets' oracle of what redaction must leave none of: each rule's own regex and
/// check, and nothing of the machinery that decides where and how to run them (the pass over
/// escaped text, its runs, the patterns written out, the rewrite of escaped text).
#[cfg(any(test, feature = "fuzzing"))]
impl Rule {
    /// The first range of `text` this rule would replace, searched with its regex alone.
    pub fn finds(&self, text: &str) -> Option<Range<usize>> {
        self.regex.captures_iter(text).find_map(|caps| {
            let m = caps.get(self.group)?;
            let (start, end) = match self.check {
                None => (m.start(), m.end()),
                Some(check) => check(text, m.start(), m.end())?,
            };
            (end > start).then_some(start..end)
        })
    }

    /// Whether `key` and `value` (a JSON message's key and its string value, both unescaped)
    /// are this rule's label and secret ([`Detector::json_key`]).
    pub fn finds_pair(&self, key: &str, value: &str) -> bool {
        self.json_pair
            .as_ref()
            .is_some_and(|(k, v)| k.is_match(key) && v.is_match(value))
    }
}

/// Passes of the rules, with their checks, over a message whose replacements keep freeing
/// matches for other rules ([`Redactor::redact_masked_into`]): real text settles in two.
const CHECKED_PASSES: usize = 4;

/// Texts up to this long are searched with a pattern written out ([`Detector::at`]), when the
/// detector has one: an address run is a few dozen bytes at most.
const SHORT: usize = 64;

/// The configured rules, built once per container.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    rules: Vec<Rule>,
    /// The bits of the detectors configured.
    detectors: scan::Mask,
    /// Whether any custom rule is configured (those run on every message).
    custom: bool,
    /// The bits of the detectors that can match a quote ([`Detector::quotes`]).
    quotes: scan::Mask,
}

/// How many replacements each rule made, in the order of [`Redactor::rules`].
pub type Counts = Vec<u64>;

/// How many rules [`per_rule`] keeps on the stack: every detector and a few custom rules.
const INLINE_RULES: usize = 32;

/// A value per rule, from `values`: in `inline` for up to [`INLINE_RULES`] rules, in `heap`
/// beyond. A message's redaction needs a few such (the rules still to run, those that refused a
/// match, the counts a JSON walk may take back), for every message the pass finds room in: on
/// the heap, each would be an allocation and a free per message.
fn per_rule<'a, T: Copy>(
    inline: &'a mut [T; INLINE_RULES],
    heap: &'a mut Vec<T>,
    values: impl ExactSizeIterator<Item = T>,
) -> &'a mut [T] {
    match inline.get_mut(..values.len()) {
        Some(inline) => {
            for (to, value) in inline.iter_mut().zip(values) {
                *to = value;
            }
            inline
        }
        None => {
            heap.clear();
            heap.extend(values);
            heap
        }
    }
}

impl Redactor {
    /// From `REDACT` (detector names, comma-separated, or `all`) and `REDACT_RULES` (a JSON
    /// array of `{"name","pattern","replacement"?}`); `None` when neither asks for anything.
    /// Errors name the variable and the detector or rule.
    pub fn from_config(
        redact: Option<&str>,
        rules: Option<&str>,
    ) -> Result<Option<Self>, ConfigError> {
        let mut out = Vec::new();
        for (i, d) in detectors_named(redact.unwrap_or(""))? {
            // The built-in patterns are tested to compile (`detectors_compile…`).
            let compile = |p: &str| {
                Regex::new(p).map_err(|e| ConfigError::Invalid {
                    var: "REDACT",
                    reason: format!("detector {}: {e}", d.name),
                })
            };
            let json_pair = match (d.json_key, d.json_value) {
                (Some(k), Some(v)) => Some((compile(k)?, compile(v)?)),
                _ => None,
            };
            out.push(Rule {
                name: d.name.to_owned(),
                bit: 1 << i,
                regex: compile(d.pattern)?,
                group: d.group,
                check: Some(d.check),
                at: d.at,
                json_pair,
                replacement: default_replacement(d.name),
            });
        }
        if let Some(text) = rules.filter(|t| !t.trim().is_empty()) {
            for rule in custom_rules(text)? {
                if out.iter().any(|r| r.name == rule.name) {
                    return Err(rules_error(format!(
                        "rule {:?}: the name is used twice (built-in detectors' names included)",
                        rule.name
                    )));
                }
                out.push(rule);
            }
        }
        let quotes = DETECTORS
            .iter()
            .enumerate()
            .filter(|(_, d)| d.quotes)
            .fold(0, |m, (i, _)| m | 1 << i);
        Ok((!out.is_empty()).then(|| Self {
            detectors: out.iter().fold(0, |m, r| m | r.bit),
            quotes,
            custom: out.iter().any(|r| r.bit == 0),
            rules: out,
        }))
    }

    /// The rules in the order they run: built-in detectors in [`DETECTORS`]' order, then the
    /// custom rules in theirs.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A zeroed count per rule.
    pub fn counts(&self) -> Counts {
        vec![0; self.rules.len()]
    }

    /// Plain text with every rule applied in turn (each to the previous one's output);
    /// `None` when none matched. Adds to `counts`.
    pub fn redact_plain(&self, text: &str, counts: &mut [u64]) -> Option<String> {
        self.redact_masked(text, scan::ALL, None, counts)
    }

    /// [`Redactor::redact_plain`] with only the detectors in `mask` (and every custom rule);
    /// those of [`scan::ADDRESSES`] search only the `runs` of `text` the pass found, while no
    /// rule before them has rewritten it.
    fn redact_masked(
        &self,
        text: &str,
        mask: scan::Mask,
        runs: Option<&scan::Runs>,
        counts: &mut [u64],
    ) -> Option<String> {
        let mut out = String::new();
        self.redact_masked_into(text, mask, runs, counts, &mut out)
            .then_some(out)
    }

    /// [`Redactor::redact_masked`], the result appended to `out` (a payload's buffer of
    /// redacted messages: no allocation of its own); whether anything matched (nothing is
    /// appended otherwise).
    fn redact_masked_into(
        &self,
        text: &str,
        mask: scan::Mask,
        runs: Option<&scan::Runs>,
        counts: &mut [u64],
        out: &mut String,
    ) -> bool {
        let start = out.len();
        // Where a later rule writes before its result replaces the earlier one's in `out`.
        let mut next = String::new();
        let mut matched = false;
        let runs_here = |rule: &Rule| rule.bit == 0 || rule.bit & mask != 0;
        // The rules still to run on the text as it now stands. A rule's check looks at the
        // neighbours of a match, and a later rule's replacement can change them: in
        // `db8::1:2TICKET-123` the address is glued to the letters, but once a custom rule has
        // replaced the ticket it stands alone, before `]` (the `redaction` fuzz target's
        // finding 4). So after a replacement, every rule whose check refused a match runs
        // again on the new text, until a pass replaces nothing. Only those: a replacement
        // (`[REDACTED:…]`) makes no new match of a built-in pattern, and a rule that refused
        // nothing replaced all it found. Not custom rules either, which have no check (and
        // might match their own replacement: `token`, replaced by `[REDACTED:token]`). Each
        // pass replaces something of the text as it came, so this ends; past
        // `CHECKED_PASSES` (a chain built to go on, each replacement freeing the next) the
        // rules that refused run once more without their checks, whose matches no
        // replacement can free: more is replaced than need be, nothing a rule matches is left.
        let mut inline = ([false; INLINE_RULES], [false; INLINE_RULES]);
        let mut heap = (Vec::new(), Vec::new());
        let stale = per_rule(&mut inline.0, &mut heap.0, self.rules.iter().map(runs_here));
        let refused = per_rule(
            &mut inline.1,
            &mut heap.1,
            std::iter::repeat_n(false, self.rules.len()),
        );
        // The pass's mask and runs of the text as it now stands, after a replacement.
        let mut now: Option<(scan::Mask, scan::Runs)> = None;
        let mut pass = 0;
        while stale.contains(&true) {
            pass += 1;
            let checked = pass <= CHECKED_PASSES;
            if !checked {
                // Every rule that refused a match in the text as it stands, whether or not a
                // replacement came after: one of this pass's can.
                for (stale, refused) in stale.iter_mut().zip(refused.iter()) {
                    *stale |= refused;
                }
            }
            for (i, (rule, count)) in self.rules.iter().zip(counts.iter_mut()).enumerate() {
                if !std::mem::take(&mut stale[i]) {
                    continue;
                }
                let (n, refusals) = if matched {
                    let source = &out[start..];
                    // Given runs, `text` is the pass's kind of text (escaped, only `\"` and
                    // `\\` escapes) and so is what the replacements made of it: the pass again
                    // tells which detectors could match it now and where the addresses are,
                    // once after each replacement, so that a rule running again costs a scan,
                    // not a search of the whole message.
                    if runs.is_some() && now.is_none() {
                        let mut runs = scan::Runs::default();
                        let mask = scan::candidates_in(source.as_bytes(), &mut runs);
                        now = Some((mask, runs));
                    }
                    if let Some((mask, _)) = &now
                        && rule.bit != 0
                        && rule.bit & mask == 0
                    {
                        refused[i] = false;
                        continue;
                    }
                    let (n, refusals) = match now.as_ref().and_then(|(_, runs)| runs.of(rule.bit)) {
                        Some(within) => rule.apply(source, within, checked, &mut next),
                        None => {
                            rule.apply(source, std::iter::once(0..source.len()), checked, &mut next)
                        }
                    };
                    if n > 0 {
                        now = None;
                        out.truncate(start);
                        out.push_str(&next);
                        next.clear();
                    }
                    (n, refusals)
                } else {
                    // The pass's runs are places in `text` as it came.
                    match runs.and_then(|r| r.of(rule.bit)) {
                        Some(within) => rule.apply(text, within, checked, out),
                        None => rule.apply(text, std::iter::once(0..text.len()), checked, out),
                    }
                };
                refused[i] = refusals && rule.check.is_some();
                if n > 0 {
                    *count += n;
                    matched = true;
                    for (k, stale) in stale.iter_mut().enumerate() {
                        *stale |= refused[k];
                    }
                }
            }
            if !checked {
                break;
            }
        }
        matched
    }

    /// The text of a message as it should be stored; `None` when nothing matched (the message
    /// is kept as it came). A JSON object or array is redacted string by string and stays
    /// JSON ([`structured`]); other text as plain text.
    pub fn redact_message(&self, text: &str, counts: &mut [u64]) -> Option<String> {
        self.redact_message_masked(text, scan::ALL, counts)
    }

    /// [`Redactor::redact_message`] of the message whose JSON-escaped text is `escaped`, as
    /// logship holds it, escaped: only the detectors its escaped text could hold a match of run
    /// ([`scan`]), and a message none could match (the usual case) is not even unescaped.
    pub fn redact_escaped(
        &self,
        message: EscapedStr<'_>,
        counts: &mut [u64],
    ) -> Option<EscapedString> {
        let mut out = String::new();
        let len = self.redact_escaped_into(message, counts, &mut out)?;
        Some(EscapedString::from_parts(out, len))
    }

    /// [`Redactor::redact_escaped`], the redacted message's escaped text appended to `out`;
    /// the length of its text, or `None` (nothing appended) when nothing matched.
    pub fn redact_escaped_into(
        &self,
        message: EscapedStr<'_>,
        counts: &mut [u64],
        out: &mut String,
    ) -> Option<usize> {
        let escaped = message.escaped();
        let mut runs = scan::Runs::default();
        let mask = if self.custom {
            scan::ALL
        } else {
            scan::candidates_in(escaped.as_bytes(), &mut runs) & self.detectors
        };
        if mask == 0 && !self.custom {
            return None;
        }
        // Plain text whose only escapes are quotes and backslashes, for detectors that match
        // neither: rewritten as it is (their replacements need no escaping:
        // `the_detectors_marked_quotes_are_the_ones_that_can_match_one`); the escapes it had
        // are still all it has, and what it lost or gained is text.
        let plain = !matches!(escaped.trim_start().as_bytes().first(), Some(b'{' | b'['));
        if !self.custom && mask & self.quotes == 0 && plain && json::only_quote_escapes(escaped) {
            let start = out.len();
            if !self.redact_masked_into(escaped, mask, Some(&runs), counts, out) {
                return None;
            }
            return Some((message.len() + out.len() - start).saturating_sub(escaped.len()));
        }
        let text = json::unescape(escaped);
        let redacted = self.redact_message_masked(&text, mask, counts)?;
        json::escape_into(&redacted, out);
        Some(redacted.len())
    }

    fn redact_message_masked(
        &self,
        text: &str,
        mask: scan::Mask,
        counts: &mut [u64],
    ) -> Option<String> {
        let first = text.trim_start().as_bytes().first();
        if !matches!(first, Some(b'{' | b'[')) {
            return self.redact_masked(text, mask, None, counts);
        }
        if structured::is_json(text)
            && let Ok(redacted) = structured::redact(self, text, mask, counts)
        {
            return redacted;
        }
        // Not JSON after all: plain text.
        self.redact_masked(text, mask, None, counts)
    }

    /// The detectors of `mask` the pass finds room for in one string of a JSON message (its
    /// content as the message has it, escaped).
    fn string_mask(&self, content: EscapedStr<'_>, mask: scan::Mask) -> scan::Mask {
        mask & scan::candidates(content.escaped().as_bytes())
    }

    /// [`Redactor::redact_masked`] of one string of a JSON message with what could match it
    /// (`mask` from [`Redactor::string_mask`]): nothing to run when that is no detector and no
    /// custom rule is configured.
    fn redact_some(&self, text: &str, mask: scan::Mask, counts: &mut [u64]) -> Option<String> {
        if mask == 0 && !self.custom {
            return None;
        }
        self.redact_masked(text, mask, None, counts)
    }

    /// Whether a detector of `mask` has a JSON key-value form ([`Detector::json_key`]): a
    /// message whose pass left such detectors out holds no label for them, as a key or not.
    fn json_pairs(&self, mask: scan::Mask) -> bool {
        self.rules
            .iter()
            .any(|r| r.json_pair.is_some() && r.bit & mask != 0)
    }

    /// The rule whose JSON key-value form `key` and `value` (both whole, unescaped) are: the
    /// replacement of the whole value, counted.
    fn json_pair(&self, key: &str, value: &str, counts: &mut [u64]) -> Option<&str> {
        let (i, rule) = self.rules.iter().enumerate().find(|(_, r)| {
            r.json_pair
                .as_ref()
                .is_some_and(|(k, v)| k.is_match(key) && v.is_match(value))
        })?;
        counts[i] += 1;
        Some(&rule.replacement)
    }

    /// `text` with every rule applied, for texts of our own that may quote a message (an
    /// error's text): borrowed when nothing matched.
    pub fn scrub<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let mut counts = self.counts();
        match self.redact_plain(text, &mut counts) {
            Some(t) => t.into(),
            None => text.into(),
        }
    }
}

/// `[REDACTED:<name>]`.
pub fn default_replacement(name: &str) -> String {
    format!("[REDACTED:{name}]")
}

/// The detectors `REDACT` names, in [`DETECTORS`]' order (each once), with their index there.
fn detectors_named(list: &str) -> Result<Vec<(usize, &'static Detector)>, ConfigError> {
    let mut wanted = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("all") {
            return Ok(DETECTORS.iter().enumerate().collect());
        }
        let d =
            detectors::by_name(&name.to_ascii_lowercase()).ok_or_else(|| ConfigError::Invalid {
                var: "REDACT",
                reason: format!(
                    "unknown detector {name:?}; the detectors are {}, or all",
                    DETECTORS
                        .iter()
                        .map(|d| d.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        wanted.push(d.name);
    }
    Ok(DETECTORS
        .iter()
        .enumerate()
        .filter(|(_, d)| wanted.contains(&d.name))
        .collect())
}

fn rules_error(reason: String) -> ConfigError {
    ConfigError::Invalid {
        var: "REDACT_RULES",
        reason,
    }
}

/// A custom rule as `REDACT_RULES` writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    pattern: String,
    replacement: Option<String>,
}

/// Longest rule name: it is a metric dimension's value and part of the summary line.
const MAX_RULE_NAME: usize = 64;

fn custom_rules(text: &str) -> Result<Vec<Rule>, ConfigError> {
    let items: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
        rules_error(format!(
            "not a JSON array of rules {{\"name\",\"pattern\",\"replacement\"}}: {e}"
        ))
    })?;
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let which = match item.get("name").and_then(|n| n.as_str()) {
            Some(name) => format!("rule {} ({name:?})", i + 1),
            None => format!("rule {}", i + 1),
        };
        let spec: RuleSpec = serde_json::from_value(item).map_err(|e| {
            rules_error(format!(
                "{which}: {e} (a rule is {{\"name\",\"pattern\",\"replacement\"}}, replacement optional)"
            ))
        })?;
        let name_ok = !spec.name.is_empty()
            && spec.name.len() <= MAX_RULE_NAME
            && spec
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(rules_error(format!(
                "{which}: the name must be 1–{MAX_RULE_NAME} of A-Z a-z 0-9 - _ ."
            )));
        }
        let regex = Regex::new(&spec.pattern)
            .map_err(|e| rules_error(format!("{which}: not a valid regular expression: {e}")))?;
        if regex.is_match("") {
            return Err(rules_error(format!(
                "{which}: the pattern matches the empty text, so it would match everywhere"
            )));
        }
        rules.push(Rule {
            replacement: spec
                .replacement
                .unwrap_or_else(|| default_replacement(&spec.name)),
            name: spec.name,
            bit: 0,
            regex,
            group: 0,
            check: None,
            at: None,
            json_pair: None,
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests;
