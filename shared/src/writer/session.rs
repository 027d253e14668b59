//! A write fed while its input is still being read: the records of a Kinesis batch, the
//! messages of an SQS batch.
//!
//! Decoding a batch's records takes CPU time, and a request's round trip takes tens of
//! milliseconds of waiting, both billed. A [`Session`] sends a stream's requests as soon as
//! they are full, while later records are decoded, and the rest once the input has all been
//! read ([`Session::finish`]):
//! - **The fewest requests.** Only whole requests leave early: what would not fill one waits
//!   for the events later records bring to the same stream. The account's PutLogEvents quota
//!   is shared, so a session makes the requests [`batch::plan`] would make for the whole batch
//!   (give or take the cuts at the end of what left early).
//! - **The same bound.** Early requests take permits of the writer's [`super::Concurrency`]
//!   like the others: `WRITE_CONCURRENCY` still bounds every request in flight.
//! - **Driven between records.** The functions run on a current-thread runtime: a request
//!   moves (a connection's turn, an answer read) only when the caller lets it.
//!   [`Session::pump`], called after each record, lets the requests in flight move as far as
//!   they can without waiting (the runtime's I/O driver runs between polls), at most once per
//!   [`DRIVE_EVERY`] unless a request just started, so that a batch of many small records does
//!   not pay a system call each.
//! - **Order among equal timestamps.** Readers see events of one millisecond in the order
//!   they were ingested. A stream's part sent later that reaches back to a timestamp of a part
//!   sent earlier waits for it (and for every earlier part of that stream) to be written first.
//! - **A failure stops the stream.** Once a request of a stream fails for good, the stream's
//!   requests not yet sent are not; their events count as failed, and their records are
//!   reported so.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::future::{FutureExt, Shared};
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::create::Creations;
use super::{StreamBatch, Tags, WriteContext, WriteReport, Writer};
use crate::batch::{self, LogEvent};

/// The longest a session leaves the requests in flight unattended while its caller decodes,
/// once they are started: about one small record's decoding.
const DRIVE_EVERY: Duration = Duration::from_millis(1);

/// The most rounds of polling one [`Session::pump`] gives the parts in flight.
const MAX_TURNS: usize = 32;

/// Tells [`Session::drive`] that a part in flight can move.
#[derive(Default)]
struct Woken(AtomicBool);

impl futures_util::task::ArcWake for Woken {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::Release);
    }
}

/// One part of a stream on its way: its requests, sent, retried and accounted.
type Part<'w> = Pin<Box<dyn Future<Output = WriteReport> + Send + 'w>>;

/// Resolves once a part of a stream, and every earlier part of it, has been written (or has
/// failed).
type Done = Shared<tokio::sync::oneshot::Receiver<()>>;

/// Events of one target stream not yet sent, and what its sent parts left behind.
#[derive(Default)]
struct Stream {
    events: Vec<LogEvent>,
    /// Of `events`, as the service counts them.
    bytes: usize,
    source_tags: Option<Arc<Tags>>,
    /// Set once a request of the stream failed for good: its later requests are not sent.
    stop: Arc<AtomicBool>,
    /// The newest timestamp sent so far, and when everything sent so far is done.
    sent: Option<(i64, Done)>,
    /// In the session's `full` list: it holds more than a request.
    full: bool,
}

impl Stream {
    /// Whether `events` hold more than one request does.
    fn overflows(&self) -> bool {
        self.events.len() > batch::MAX_BATCH_EVENTS || self.bytes > batch::MAX_BATCH_BYTES
    }
}

/// A write under way, fed stream by stream ([`Session::add`]) as its input is read; see the
/// module's documentation. [`Writer::write_all`] is a session fed everything at once.
pub struct Session<'w> {
    writer: &'w Writer,
    ctx: WriteContext,
    creations: Arc<Creations>,
    streams: HashMap<(String, String), Stream>,
    /// The streams that grew past a request since the last [`Session::pump`].
    full: Vec<(String, String)>,
    running: FuturesUnordered<Part<'w>>,
    report: WriteReport,
    /// When the runtime last had a turn.
    driven: Instant,
}

impl Writer {
    /// A write within `ctx` that is given its events as they are read; see [`Session`].
    pub fn session(&self, ctx: WriteContext) -> Session<'_> {
        Session {
            writer: self,
            ctx,
            creations: Arc::default(),
            streams: HashMap::new(),
            full: Vec::new(),
            running: FuturesUnordered::new(),
            report: WriteReport::default(),
            driven: Instant::now(),
        }
    }
}

impl<'w> Session<'w> {
    /// Adds events for a stream; nothing is sent before the next [`Session::pump`] or
    /// [`Session::finish`]. A stream's group gets the source tags its first batch carried,
    /// should the writer create it.
    pub fn add(&mut self, b: StreamBatch) {
        if b.events.is_empty() {
            return;
        }
        let key = (b.group, b.stream);
        let s = match self.streams.get_mut(&key) {
            Some(s) => s,
            None => self.streams.entry(key.clone()).or_default(),
        };
        if s.source_tags.is_none() {
            s.source_tags = b.source_tags;
        }
        s.bytes += b.events.iter().map(LogEvent::size).sum::<usize>();
        if s.events.is_empty() {
            s.events = b.events;
        } else {
            s.events.extend(b.events);
        }
        if !s.full && s.overflows() {
            s.full = true;
            self.full.push(key);
        }
    }

    /// Sends the whole requests of every stream that grew past one, and gives the requests in
    /// flight their turns. Call it between records.
    ///
    /// What came back is heard first (a stream refused for good sends nothing more), then the
    /// new requests start and are driven until each waits on the network.
    pub async fn pump(&mut self) {
        if !self.running.is_empty() && self.driven.elapsed() >= DRIVE_EVERY {
            self.drive().await;
        }
        let mut started = false;
        for key in std::mem::take(&mut self.full) {
            let Some(s) = self.streams.get_mut(&key) else {
                continue;
            };
            s.full = false;
            if let Some(whole) = whole_requests(&mut s.events) {
                s.bytes = s.events.iter().map(LogEvent::size).sum();
                self.send(key, whole);
                started = true;
            }
        }
        if started {
            self.drive().await;
        }
    }

    /// What the parts finished so far did (the whole write's report is [`Session::finish`]'s).
    pub fn finished(&self) -> &WriteReport {
        &self.report
    }

    /// Sends every event not yet sent and waits for every request. The report sums them all:
    /// every event added is in its `written`, `rejected` or `failed`.
    pub async fn finish(mut self) -> WriteReport {
        let left: Vec<(String, String)> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.events.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for key in left {
            let Some(s) = self.streams.get_mut(&key) else {
                continue;
            };
            let events = std::mem::take(&mut s.events);
            s.bytes = 0;
            self.send(key, events);
        }
        while let Some(report) = self.running.next().await {
            self.report.add(report);
        }
        self.report
    }

    /// Lets the parts in flight move as far as they can without waiting: polls them, lets the
    /// runtime's I/O driver and tasks (connections) run, and again while that woke any of them,
    /// up to [`MAX_TURNS`] times. A request goes through several turns (a connection made, the
    /// request written, the answer's head and body read), each needing the driver.
    async fn drive(&mut self) {
        let woken = Arc::new(Woken::default());
        let waker = futures_util::task::waker(Arc::clone(&woken));
        let mut cx = std::task::Context::from_waker(&waker);
        for _ in 0..MAX_TURNS {
            while let Poll::Ready(Some(report)) = self.running.poll_next_unpin(&mut cx) {
                self.report.add(report);
            }
            if self.running.is_empty() {
                break;
            }
            // Deferred until the driver has been polled and the tasks it woke have run.
            tokio::task::yield_now().await;
            if !woken.0.swap(false, Ordering::AcqRel) {
                break;
            }
        }
        self.driven = Instant::now();
    }

    /// Starts `events` (not empty) of stream `key` as a part of their own.
    fn send(&mut self, key: (String, String), events: Vec<LogEvent>) {
        let Some(s) = self.streams.get_mut(&key) else {
            return;
        };
        let oldest = events.iter().map(|e| e.timestamp).min().unwrap_or(i64::MIN);
        let newest = events.iter().map(|e| e.timestamp).max().unwrap_or(i64::MAX);
        let (done, until) = tokio::sync::oneshot::channel::<()>();
        let earlier = s.sent.take();
        s.sent = Some((
            earlier.as_ref().map_or(newest, |(n, _)| newest.max(*n)),
            until.shared(),
        ));
        // Waits for the earlier parts before it is sent when it reaches back to their
        // timestamps, after it is written otherwise: either way, `done` says that all of them
        // and it are done.
        let (before, after) = match earlier {
            Some((n, d)) if oldest <= n => (Some(d), None),
            Some((_, d)) => (None, Some(d)),
            None => (None, None),
        };
        let writer = self.writer;
        let creations = Arc::clone(&self.creations);
        let stop = Arc::clone(&s.stop);
        let tags = s.source_tags.clone();
        let ctx = self.ctx;
        let (group, stream) = key;
        self.running.push(Box::pin(async move {
            if let Some(d) = before {
                // A sender dropped unsent (a part that could not run) is done as well.
                let _ = d.await;
            }
            let report = writer
                .write_stream(
                    &creations,
                    &group,
                    &stream,
                    events,
                    tags.as_deref(),
                    &stop,
                    ctx,
                )
                .await;
            if let Some(d) = after {
                let _ = d.await;
            }
            let _ = done.send(());
            report
        }));
    }
}

/// Takes out of `events` the requests [`batch::plan`] fills whole, leaving the last, which
/// later events may still fill; `None` when they are one request. `events` ends sorted by
/// timestamp, arrival order kept among equals.
fn whole_requests(events: &mut Vec<LogEvent>) -> Option<Vec<LogEvent>> {
    let batches = batch::plan(events);
    let last = batches.last()?;
    if batches.len() < 2 {
        return None;
    }
    let rest = events.split_off(last.start);
    Some(std::mem::replace(events, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Message;

    fn ev(timestamp: i64, len: usize) -> LogEvent {
        LogEvent {
            timestamp,
            message: Message::from_text(&"x".repeat(len)),
            origin: 0,
        }
    }

    #[test]
    fn only_whole_requests_are_taken() {
        // Under one request: nothing.
        let mut events: Vec<LogEvent> = (0..10).map(|i| ev(10 - i, 1000)).collect();
        assert!(whole_requests(&mut events).is_none());
        assert_eq!(events.len(), 10);
        // 2.5 requests of 100 KB events: the first two go, sorted; half a request stays.
        let per = batch::MAX_BATCH_BYTES / (100_000 + batch::EVENT_OVERHEAD_BYTES);
        let n = per * 5 / 2;
        let mut events: Vec<LogEvent> = (0..n).rev().map(|i| ev(i as i64, 100_000)).collect();
        let whole = whole_requests(&mut events).unwrap();
        assert_eq!(whole.len(), 2 * per);
        assert_eq!(events.len(), n - 2 * per);
        let ts: Vec<i64> = whole.iter().chain(&events).map(|e| e.timestamp).collect();
        assert_eq!(ts, (0..n as i64).collect::<Vec<_>>());
    }

    #[test]
    fn what_stays_starts_a_millisecond_of_its_own() {
        // 10,001 events: one whole request; the cut falls inside the run at millisecond 9,990,
        // so that run stays whole with what stays.
        let mut events: Vec<LogEvent> =
            (0..10_001).map(|i| ev((i as i64).min(9_990), 10)).collect();
        let whole = whole_requests(&mut events).unwrap();
        assert_eq!(whole.len(), 9_990);
        assert!(events.iter().all(|e| e.timestamp == 9_990));
        assert!(whole.iter().all(|e| e.timestamp < 9_990));
    }
}
