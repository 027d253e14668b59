//! Packing log events into PutLogEvents requests under every rule of the service.
//!
//! The rules (CloudWatch Logs API reference, PutLogEvents):
//! - a request holds at most [`MAX_BATCH_EVENTS`] events and at most [`MAX_BATCH_BYTES`],
//!   counted as the UTF-8 bytes of every message plus [`EVENT_OVERHEAD_BYTES`] per event;
//! - its events are in chronological order and span at most [`MAX_BATCH_SPAN_MS`];
//! - an event is at most [`MAX_EVENT_BYTES`] (message + overhead) and its message is not empty;
//! - events older than 14 days or more than 2 hours in the future are rejected.
//!
//! Packing is greedy over the time-sorted events: each request takes as many consecutive
//! events as the rules allow. For the count and span rules that is optimal (an interval
//! cover); for bytes it is within one request of optimal per 24 h window for the small events
//! logs are made of, and it keeps every request's events contiguous in time.

use std::ops::Range;

use crate::json::{self, Message};

/// Maximum events in one PutLogEvents request.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Maximum size of one PutLogEvents request: message bytes + 26 per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What the service adds to every message when it sizes a request.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// Maximum size of one event (message bytes + overhead): the 1 MB event limit. A request is
/// capped at the same size, so an event this large travels alone.
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// The events of one request may span at most 24 hours.
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 60 * 60 * 1000;
/// Events older than this are rejected by the service (`tooOldLogEventEndIndex`).
pub const MAX_AGE_MS: i64 = 14 * 24 * 60 * 60 * 1000;
/// Events further in the future than this are rejected by the service (`tooNewLogEventStartIndex`).
pub const MAX_FUTURE_MS: i64 = 2 * 60 * 60 * 1000;

/// A log event on its way to PutLogEvents. `origin` says which input (a Kinesis record, a
/// payload) it came from, so a failed request can be traced back to what must be retried.
/// The message is kept JSON-escaped, the way it goes on the wire ([`Message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp: i64,
    pub message: Message,
    pub origin: u32,
}

impl LogEvent {
    /// Size as the service counts it.
    pub fn size(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD_BYTES
    }
}

/// Drops events; their messages' references to the documents they point into go back a run
/// at a time ([`Message::release`]) rather than one atomic operation each.
pub fn release(events: Vec<LogEvent>) {
    Message::release(events.into_iter().map(|e| e.message));
}

/// Why the writer did not send an event: the service would refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    TooOld,
    TooNew,
}

/// Classifies an event against the service's time window at `now_ms`.
pub fn rejection(timestamp: i64, now_ms: i64) -> Option<Rejection> {
    if timestamp < now_ms.saturating_sub(MAX_AGE_MS) {
        Some(Rejection::TooOld)
    } else if timestamp > now_ms.saturating_add(MAX_FUTURE_MS) {
        Some(Rejection::TooNew)
    } else {
        None
    }
}

/// Splits an event whose message is too large for one event into consecutive events, each
/// marked `[part i/n] `, cut on UTF-8 character boundaries. Nothing is dropped or cut
/// silently: concatenating the parts without their markers gives the message back.
/// Returns `None` when the event fits as it is.
pub fn split_oversize(event: &LogEvent) -> Option<Vec<LogEvent>> {
    if event.size() <= MAX_EVENT_BYTES {
        return None;
    }
    let text = event.message.text();
    let msg = text.as_ref();
    // The marker's length depends on n; grow n until every part fits with its marker.
    let mut n = msg
        .len()
        .div_ceil(MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES - 16);
    loop {
        let marker_len = format!("[part {n}/{n}] ").len();
        let room = MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES - marker_len;
        let parts = cut_utf8(msg, room);
        if parts.len() <= n {
            let total = parts.len();
            return Some(
                parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| LogEvent {
                        timestamp: event.timestamp,
                        message: Message::from_text(&format!("[part {}/{}] {}", i + 1, total, p)),
                        origin: event.origin,
                    })
                    .collect(),
            );
        }
        n = parts.len();
    }
}

/// Cuts `s` into pieces of at most `max` bytes, each ending on a character boundary.
fn cut_utf8(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// Sorts events chronologically, keeping arrival order among equal timestamps (a stable sort),
/// and returns the ranges of the requests that carry them. `events` must hold no empty and no
/// oversize message (see [`split_oversize`]).
///
/// A request that fills up inside a run of events of one millisecond ends before the run
/// instead (unless the run is all it holds), so that the next request starts with the whole
/// run. The writer sends a stream's requests together, and the service keeps events of one
/// millisecond in the order they arrive: requests that share a millisecond at their boundary
/// have to go one after the other (see the writer's chains), and logs often come in bursts
/// within a millisecond. This costs a few events of room in some requests: at most one request
/// more than the fewest in rare cases.
pub fn plan(events: &mut [LogEvent]) -> Vec<Range<usize>> {
    events.sort_by_key(|e| e.timestamp);
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    // Where the run of events of the current millisecond began.
    let mut run = 0;
    for (i, e) in events.iter().enumerate() {
        let size = e.size();
        let tied = i > 0 && events[i - 1].timestamp == e.timestamp;
        if !tied {
            run = i;
        }
        let full = i - start == MAX_BATCH_EVENTS
            || bytes + size > MAX_BATCH_BYTES
            || e.timestamp - events[start].timestamp > MAX_BATCH_SPAN_MS;
        if i > start && full {
            // Cut before the run when the request holds more than the run.
            let cut = if tied && run > start { run } else { i };
            batches.push(start..cut);
            start = cut;
            bytes = events[cut..i].iter().map(LogEvent::size).sum();
        }
        bytes += size;
    }
    if start < events.len() {
        batches.push(start..events.len());
    }
    batches
}

/// The JSON body of the PutLogEvents request carrying `events`, the bytes the writer sends.
/// Messages are copied as they are: they are kept escaped ([`Message`]), so this is mostly
/// `memcpy`. The body is within [`MAX_BATCH_BYTES`] plus JSON punctuation when `events` is a
/// range [`plan`] returned.
pub fn request_body(group: &str, stream: &str, events: &[LogEvent], out: &mut Vec<u8>) {
    out.clear();
    let mut head = String::with_capacity(64 + group.len() + stream.len());
    head.push_str("{\"logGroupName\":");
    json::write_str(group, &mut head);
    head.push_str(",\"logStreamName\":");
    json::write_str(stream, &mut head);
    head.push_str(",\"logEvents\":[");
    let wire: usize = events.iter().map(|e| e.message.escaped().len() + 40).sum();
    out.reserve(head.len() + wire + 2);
    out.extend_from_slice(head.as_bytes());
    let mut ts = itoa::Buffer::new();
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"timestamp\":");
        out.extend_from_slice(ts.format(e.timestamp).as_bytes());
        out.extend_from_slice(b",\"message\":\"");
        out.extend_from_slice(e.message.escaped().as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}");
}

/// The fewest requests any correct packing of `events` (sorted) needs: a lower bound from the
/// byte, count and span rules, each on its own. Used by tests to hold [`plan`] to account.
pub fn lower_bound(events: &[LogEvent]) -> usize {
    if events.is_empty() {
        return 0;
    }
    let bytes: usize = events.iter().map(LogEvent::size).sum();
    // Span: greedy interval cover of the timestamps is exactly optimal.
    let mut spans = 1;
    let mut first = events[0].timestamp;
    for e in events {
        if e.timestamp - first > MAX_BATCH_SPAN_MS {
            spans += 1;
            first = e.timestamp;
        }
    }
    bytes
        .div_ceil(MAX_BATCH_BYTES)
        .max(events.len().div_ceil(MAX_BATCH_EVENTS))
        .max(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(timestamp: i64, len: usize) -> LogEvent {
        LogEvent {
            timestamp,
            message: "x".repeat(len).into(),
            origin: 0,
        }
    }

    fn check(events: &[LogEvent], batches: &[Range<usize>]) {
        let mut next = 0;
        for b in batches {
            assert_eq!(b.start, next, "batches cover every event once, in order");
            next = b.end;
            let batch = &events[b.clone()];
            assert!(!batch.is_empty() && batch.len() <= MAX_BATCH_EVENTS);
            assert!(batch.iter().map(LogEvent::size).sum::<usize>() <= MAX_BATCH_BYTES);
            assert!(batch.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
            assert!(batch.last().unwrap().timestamp - batch[0].timestamp <= MAX_BATCH_SPAN_MS);
        }
        assert_eq!(next, events.len());
    }

    #[test]
    fn a_request_ends_before_a_run_of_one_millisecond_rather_than_inside_it() {
        // 9,990 events of distinct milliseconds, then 30 of one millisecond, then 5 more.
        let mut events: Vec<_> = (0..9_990).map(|i| ev(i, 10)).collect();
        events.extend((0..30).map(|_| ev(9_990, 10)));
        events.extend((0..5).map(|i| ev(10_000 + i, 10)));
        let b = plan(&mut events);
        check(&events, &b);
        assert_eq!(b, vec![0..9_990, 9_990..10_025]);
        // A run longer than a request is cut where it must be.
        let mut events: Vec<_> = (0..25_000).map(|_| ev(7, 10)).collect();
        assert_eq!(
            plan(&mut events),
            vec![0..10_000, 10_000..20_000, 20_000..25_000]
        );
    }

    #[test]
    fn count_limit_gives_exactly_the_bound() {
        let mut events: Vec<_> = (0..25_000).rev().map(|i| ev(i, 10)).collect();
        let b = plan(&mut events);
        check(&events, &b);
        assert_eq!(b.len(), 3);
        assert_eq!(b.len(), lower_bound(&events));
    }

    #[test]
    fn stable_among_equal_timestamps() {
        let mut events: Vec<_> = (0..10)
            .map(|i| LogEvent {
                timestamp: 5 - (i % 2),
                message: i.to_string().into(),
                origin: i as u32,
            })
            .collect();
        plan(&mut events);
        let order: Vec<_> = events.iter().map(|e| e.origin).collect();
        assert_eq!(order, vec![1, 3, 5, 7, 9, 0, 2, 4, 6, 8]);
    }

    #[test]
    fn request_body_is_the_put_log_events_json() {
        let mut out = Vec::new();
        request_body(
            "/g",
            "s",
            &[
                ev(1, 2),
                LogEvent {
                    timestamp: 2,
                    message: "é\"\n\\".into(),
                    origin: 0,
                },
                LogEvent {
                    timestamp: -3,
                    message: "x".into(),
                    origin: 0,
                },
            ],
            &mut out,
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"logGroupName": "/g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "xx"}, {"timestamp": 2, "message": "é\"\n\\"}, {"timestamp": -3, "message": "x"}]})
        );
    }

    #[test]
    fn span_limit_splits_at_24h() {
        let mut events = vec![
            ev(0, 1),
            ev(MAX_BATCH_SPAN_MS, 1),
            ev(MAX_BATCH_SPAN_MS + 1, 1),
        ];
        let b = plan(&mut events);
        assert_eq!(b, vec![0..2, 2..3]);
    }

    #[test]
    fn split_marks_parts_on_char_boundaries_and_loses_nothing() {
        let msg: String = "ü€𝄞a".repeat(150_000); // 1.5 MB of 1–4 byte characters
        let e = LogEvent {
            timestamp: 1,
            message: msg.as_str().into(),
            origin: 7,
        };
        let parts = split_oversize(&e).unwrap();
        assert_eq!(parts.len(), 2);
        let mut joined = String::new();
        for (i, p) in parts.iter().enumerate() {
            assert!(p.size() <= MAX_EVENT_BYTES);
            let marker = format!("[part {}/2] ", i + 1);
            let text = p.message.text();
            assert!(text.starts_with(&marker));
            joined.push_str(&text[marker.len()..]);
            assert_eq!((p.timestamp, p.origin), (1, 7));
        }
        assert_eq!(joined, msg);
        assert!(split_oversize(&ev(1, MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES)).is_none());
        assert_eq!(
            split_oversize(&ev(1, MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES + 1))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn time_window_classification() {
        let now = 1_800_000_000_000;
        assert_eq!(
            rejection(now - MAX_AGE_MS - 1, now),
            Some(Rejection::TooOld)
        );
        assert_eq!(rejection(now - MAX_AGE_MS, now), None);
        assert_eq!(rejection(now + MAX_FUTURE_MS, now), None);
        assert_eq!(
            rejection(now + MAX_FUTURE_MS + 1, now),
            Some(Rejection::TooNew)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn every_batch_obeys_every_limit(
            spec in prop::collection::vec((0i64..(3 * MAX_BATCH_SPAN_MS), 1usize..20_000), 1..3_000)
        ) {
            let mut events: Vec<_> = spec.iter().map(|&(t, len)| ev(t, len)).collect();
            let b = plan(&mut events);
            check(&events, &b);
            prop_assert!(b.len() >= lower_bound(&events));
            // Greedy closes a request only when the next event would break a rule, so every
            // request but the last is nearly full in bytes or count, or ends a 24 h span.
            let bytes: usize = events.iter().map(LogEvent::size).sum();
            let spans = lower_bound(&events);
            prop_assert!(b.len() <= spans + 1 + bytes.div_ceil(MAX_BATCH_BYTES - 20_026) + events.len().div_ceil(MAX_BATCH_EVENTS));
        }

        #[test]
        fn many_small_events_hit_the_count_rule_exactly(
            n in 1usize..25_000,
            spread in prop::sample::select(vec![1i64, 3_600_000, MAX_BATCH_SPAN_MS, 2 * MAX_BATCH_SPAN_MS]),
            seed in any::<u64>(),
        ) {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut events: Vec<_> = (0..n).map(|_| ev(rng.i64(0..spread), rng.usize(1..40))).collect();
            let b = plan(&mut events);
            check(&events, &b);
            // Small events never fill 1 MiB before 10,000 of them: within one 24 h span the plan
            // meets the count bound exactly when no request had to end before a run of one
            // millisecond (always, with every event in one millisecond), and is within one
            // request of it otherwise; across spans it is at least the bound.
            let backed_up = b.windows(2).any(|w| w[0].len() < MAX_BATCH_EVENTS);
            if spread <= MAX_BATCH_SPAN_MS && (spread == 1 || !backed_up) {
                prop_assert_eq!(b.len(), lower_bound(&events));
            } else if spread <= MAX_BATCH_SPAN_MS {
                prop_assert!(b.len() <= lower_bound(&events) + 1);
            } else {
                prop_assert!(b.len() >= lower_bound(&events));
            }
            // No two requests share a millisecond at their boundary, unless a request holds
            // nothing but that millisecond.
            for w in b.windows(2) {
                let (a, c) = (&events[w[0].clone()], &events[w[1].clone()]);
                let tie = a.last().unwrap().timestamp == c[0].timestamp;
                prop_assert!(!tie || a[0].timestamp == a.last().unwrap().timestamp);
            }
        }
    }
}
