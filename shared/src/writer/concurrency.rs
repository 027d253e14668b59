//! How many PutLogEvents requests may be in flight at once: `WRITE_CONCURRENCY`, lowered when
//! the service throttles and raised again as requests succeed (additive increase,
//! multiplicative decrease, as TCP paces a shared link).
//!
//! Since 2023 PutLogEvents accepts concurrent requests to one stream and has no per-stream rate;
//! its quota is per account and Region, shared by every writer in the account. At real latency
//! (tens of milliseconds a round trip) requests sent one after another leave the function
//! waiting, and Lambda bills the wait. So every request of an invocation, whatever its stream,
//! takes a permit from one [`Concurrency`]; when the quota pushes back, the permits halve, so a
//! burst of functions does not turn into a storm of retries against the account's quota.
//!
//! One `Concurrency` belongs to a [`super::Writer`], built once per container. Lambda runs one
//! invocation at a time in a container, so it bounds an invocation's requests, and what it
//! learned of throttling carries over to the container's next invocation.

use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

/// Default `WRITE_CONCURRENCY`. A 1 MB compressed delivery is up to about 10 MB of events,
/// about 10 full requests: 8 in flight write it in 2 round trips, as they write a 12-stream
/// Kinesis batch. More buys little at that size and costs memory (each request in flight
/// holds its body, up to 1 MiB) and a larger share of the account's quota per function.
pub const DEFAULT_WRITE_CONCURRENCY: usize = 8;

/// The largest `WRITE_CONCURRENCY` accepted: 64 bodies of up to 1 MiB in flight already need
/// a function of 256 MB or more.
pub const MAX_WRITE_CONCURRENCY: usize = 64;

/// Requests in flight, at most `limit`, which moves between 1 and the configured maximum.
///
/// Built on a fair semaphore: the permits it holds (free and taken) are always `limit + debt`.
/// Halving the limit forgets free permits and adds what it could not forget to `debt`; a permit
/// given back while there is debt is forgotten instead of freed, so the requests already in
/// flight finish and fewer start.
#[derive(Debug)]
pub struct Concurrency {
    permits: Semaphore,
    max: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limit: usize,
    /// Permits to forget as they come back.
    debt: usize,
    /// Successes since the limit last moved: it grows by one after `limit` of them (one per
    /// round trip of a full window).
    successes: usize,
    /// Bumped at every decrease: a throttle answered to a request sent before the last
    /// decrease is part of the same burst and does not halve again.
    epoch: u64,
    /// The lowest the limit went, for the report.
    lowest: usize,
}

/// A request's right to be in flight; given back when dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    owner: &'a Concurrency,
    permit: Option<SemaphorePermit<'a>>,
}

impl Concurrency {
    /// At most `max` (at least 1) requests in flight.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            permits: Semaphore::new(max),
            max,
            state: Mutex::new(State {
                limit: max,
                debt: 0,
                successes: 0,
                epoch: 0,
                lowest: max,
            }),
        }
    }

    /// Requests allowed in flight now.
    pub fn limit(&self) -> usize {
        self.state().limit
    }

    /// The lowest the limit has been.
    pub fn lowest(&self) -> usize {
        self.state().lowest
    }

    /// Waits for a permit (first come, first served).
    pub async fn acquire(&self) -> Permit<'_> {
        // The semaphore is never closed, so `acquire` cannot fail; were it to, the request goes
        // ahead unbounded rather than being lost.
        Permit {
            owner: self,
            permit: self.permits.acquire().await.ok(),
        }
    }

    /// The current epoch, taken as an attempt is sent (see [`Concurrency::throttled`]).
    pub fn epoch(&self) -> u64 {
        self.state().epoch
    }

    /// An attempt sent at `epoch` was throttled: halve the limit, unless it was already halved
    /// since that attempt was sent.
    pub fn throttled(&self, epoch: u64) {
        let mut s = self.state();
        if epoch != s.epoch || s.limit == 1 {
            return;
        }
        let lower = s.limit / 2;
        // Free permits go at once; those in flight are owed, and forgotten as they return.
        let forgotten = self.permits.forget_permits(s.limit - lower);
        s.debt += s.limit - lower - forgotten;
        s.limit = lower;
        s.lowest = s.lowest.min(lower);
        s.successes = 0;
        s.epoch += 1;
        tracing::debug!(limit = lower, "throttled: fewer requests in flight");
    }

    /// A request succeeded: after `limit` successes the limit grows by one, up to the maximum.
    pub fn succeeded(&self) {
        let mut s = self.state();
        if s.limit >= self.max {
            return;
        }
        s.successes += 1;
        if s.successes < s.limit {
            return;
        }
        s.successes = 0;
        s.limit += 1;
        if s.debt > 0 {
            // A permit still owed covers the new one: forget one fewer.
            s.debt -= 1;
        } else {
            self.permits.add_permits(1);
        }
    }

    /// The state; a panic elsewhere while it was held leaves it consistent (every change is a
    /// few assignments), so a poisoned lock is used as it is.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut s = self.owner.state();
        if s.debt > 0 {
            s.debt -= 1;
            permit.forget();
        }
        // Otherwise `permit` is dropped here and goes back to the semaphore.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free(c: &Concurrency) -> usize {
        c.permits.available_permits()
    }

    #[tokio::test]
    async fn halves_on_throttling_once_per_burst_and_grows_back_by_one_per_window() {
        let c = Concurrency::new(8);
        let held: Vec<_> = futures_util::future::join_all((0..8).map(|_| c.acquire())).await;
        assert_eq!(free(&c), 0);
        // Three requests of the same burst throttled: one halving.
        let e = c.epoch();
        c.throttled(e);
        c.throttled(e);
        c.throttled(e);
        assert_eq!((c.limit(), c.lowest()), (4, 4));
        // A request sent after the decrease and throttled halves again.
        c.throttled(c.epoch());
        assert_eq!(c.limit(), 2);
        // The 8 in flight finish: 6 of their permits are forgotten, 2 come back.
        drop(held);
        assert_eq!(free(&c), 2);
        // Two successes (one window of 2) grow it to 3, three more to 4.
        c.succeeded();
        c.succeeded();
        assert_eq!((c.limit(), free(&c)), (3, 3));
        (0..3).for_each(|_| c.succeeded());
        assert_eq!((c.limit(), free(&c)), (4, 4));
        // Never above the maximum, never below 1.
        (0..200).for_each(|_| c.succeeded());
        assert_eq!((c.limit(), free(&c)), (8, 8));
        for _ in 0..10 {
            c.throttled(c.epoch());
        }
        assert_eq!((c.limit(), c.lowest()), (1, 1));
        assert_eq!(free(&c), 1, "free permits are forgotten at once");
    }

    #[tokio::test]
    async fn growth_while_permits_are_owed_cancels_debt_instead_of_adding_permits() {
        let c = Concurrency::new(4);
        let held: Vec<_> = futures_util::future::join_all((0..4).map(|_| c.acquire())).await;
        c.throttled(c.epoch()); // limit 2, 2 owed
        c.succeeded();
        c.succeeded(); // limit 3, 1 owed
        assert_eq!((c.limit(), free(&c)), (3, 0));
        drop(held);
        assert_eq!(free(&c), 3);
    }

    #[tokio::test]
    async fn waiters_are_let_through_as_permits_come_back() {
        let c = std::sync::Arc::new(Concurrency::new(2));
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks = (0..20).map(|_| {
            let (c, in_flight, most) = (c.clone(), in_flight.clone(), most.clone());
            async move {
                let _p = c.acquire().await;
                use std::sync::atomic::Ordering::SeqCst;
                let now = in_flight.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                in_flight.fetch_sub(1, SeqCst);
            }
        });
        futures_util::future::join_all(tasks).await;
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
