//! Group commit, whatever a batch writes: inbound events arriving
//! concurrently in one instance (Vercel's Fluid compute serves concurrent
//! requests in one instance) are written by ONE transaction per batch. Two
//! kinds use it: Stripe events (`stripe::writer`) and the app's events
//! (`product::writer`); each says what no two items of a batch may share and
//! how a batch is written ([`Batch`]).
//!
//! Classic group commit, no timer: a lone item goes at once; while a batch's
//! transaction is in flight, the items arriving meanwhile wait in the queue,
//! and the next batch takes them all (up to [`MAX_BATCH`]); a second batch
//! goes in flight beside it only while a burst queues [`SECOND_BATCH_MIN`]
//! items or more. Each batch is written by a task spawned for as long as
//! the queue has items (no task lingers when idle), so a request that goes
//! away never cancels the others' transaction.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::state::App;

/// The most items one transaction takes. Why 64: it bounds the locks one
/// transaction holds and how long an answer waits behind the others, and a
/// batch of 64 already spreads the commit over enough events that larger
/// ones gain nothing measurable (docs/performance.md).
pub const MAX_BATCH: usize = 64;

/// Batches in flight per instance and kind, at most. Why two: under a
/// burst, while one batch waits for its commit to reach the disk, the next
/// is formed and written (Postgres flushes both commits' WAL together when
/// they meet) instead of the CPU idling.
pub const IN_FLIGHT: usize = 2;

/// A second batch goes in flight only while at least this many items wait
/// (else they wait for the first batch, which is about to end). Why: a
/// transaction costs Postgres about 0.4 ms of CPU whatever its size, so at a
/// moderate rate two small batches in flight cost more CPU than they save
/// in waiting (Stripe webhook, open loop 2 000/s: Postgres 390 -> 300 µs and
/// the server 220 -> 185 µs per event, p99 within the runs' noise), while a
/// burst (closed loop, 64 connections) still fills both.
pub const SECOND_BATCH_MIN: usize = 8;

/// Batch sizes are counted in these buckets (upper bounds).
const BUCKETS: [usize; 7] = [1, 2, 4, 8, 16, 32, MAX_BATCH];

/// One kind of item written by a group commit.
pub trait Batch: Sized + Send + Sync + 'static {
    /// A waiting item; it carries its own way to answer its request.
    type Item: Send + 'static;
    /// What no two items of one batch may share (an id, identity lock
    /// keys): such items go one transaction after the other, in arrival
    /// order.
    fn keys(item: &Self::Item) -> Vec<String>;
    /// Writes one batch and answers each of its items.
    fn run(app: &App, items: Vec<Self::Item>) -> impl Future<Output = ()> + Send;
    /// This kind's queue in the instance.
    fn group(app: &App) -> &GroupCommit<Self>;
}

/// The queue of one kind and its counters (one per instance, in [`App`]).
pub struct GroupCommit<B: Batch> {
    queue: Mutex<Queue<B::Item>>,
    batches: AtomicU64,
    items: AtomicU64,
    sizes: [AtomicU64; BUCKETS.len()],
}

impl<B: Batch> Default for GroupCommit<B> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                draining: 0,
            }),
            batches: AtomicU64::new(0),
            items: AtomicU64::new(0),
            sizes: Default::default(),
        }
    }
}

struct Queue<T> {
    items: VecDeque<T>,
    /// Drain tasks running (at most [`IN_FLIGHT`]).
    draining: usize,
}

impl<B: Batch> GroupCommit<B> {
    /// Queues one item for the next batch (see the module docs); its answer
    /// comes through the item once its batch has committed.
    pub fn submit(&self, app: &App, item: B::Item) {
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.items.push_back(item);
            let start = starts_drain(q.draining, q.items.len());
            if start {
                q.draining += 1;
            }
            start
        };
        if start {
            let app = app.clone();
            tokio::spawn(async move { B::group(&app).drain(&app).await });
        }
    }

    /// Writes batches until the queue is empty.
    async fn drain(&self, app: &App) {
        // A panic in a batch must not leave the queue without a drainer.
        let guard = Restart { group: self, app };
        while let Some(items) = self.next_batch() {
            self.count(items.len());
            B::run(app, items).await;
        }
        std::mem::forget(guard);
    }

    /// Takes the next batch: the waiting items, in arrival order, that share
    /// no key with an item taken before them (those wait for the next batch,
    /// so each member's events go one transaction after the other); `None`
    /// (and the drain ends) when nothing waits.
    fn next_batch(&self) -> Option<Vec<B::Item>> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if drain_stops(q.draining, q.items.len()) {
            q.draining -= 1;
            return None;
        }
        let mut taken_keys = HashSet::new();
        let mut batch = Vec::new();
        let mut left = VecDeque::new();
        while let Some(item) = q.items.pop_front() {
            let keys = B::keys(&item);
            if batch.len() < MAX_BATCH && keys.iter().all(|k| !taken_keys.contains(k)) {
                taken_keys.extend(keys);
                batch.push(item);
            } else {
                left.push_back(item);
            }
        }
        q.items = left;
        Some(batch)
    }

    fn count(&self, size: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(size as u64, Ordering::Relaxed);
        let bucket = BUCKETS
            .iter()
            .position(|&b| size <= b)
            .unwrap_or(BUCKETS.len() - 1);
        self.sizes[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// This instance's batches since it started (the admin overview): how
    /// many, how many events, and how many batches of each size (`"1"`,
    /// `"2"`, `"3-4"`, ... `"33-64"`).
    pub fn stats(&self) -> Value {
        let mut sizes = serde_json::Map::new();
        let mut low = 1;
        for (i, &high) in BUCKETS.iter().enumerate() {
            let label = if low == high {
                high.to_string()
            } else {
                format!("{low}-{high}")
            };
            sizes.insert(label, json!(self.sizes[i].load(Ordering::Relaxed)));
            low = high + 1;
        }
        json!({
            "batches": self.batches.load(Ordering::Relaxed),
            "events": self.items.load(Ordering::Relaxed),
            "sizes": sizes,
        })
    }
}

/// Whether an item arriving with `draining` drains running and `waiting`
/// items queued (itself included) starts another: the first at once, a
/// second only while enough wait ([`SECOND_BATCH_MIN`]).
fn starts_drain(draining: usize, waiting: usize) -> bool {
    draining == 0 || (draining < IN_FLIGHT && waiting >= SECOND_BATCH_MIN)
}

/// Whether a drain that finished its batch stops: on an empty queue, or,
/// while another drain runs, once few wait (the other takes them next: it
/// stops only on an empty queue, since only one drain at a time sees
/// `draining` above one under the lock).
fn drain_stops(draining: usize, waiting: usize) -> bool {
    waiting == 0 || (draining > 1 && waiting < SECOND_BATCH_MIN)
}

/// Dropped only when a batch panicked (hands the queue to a new drain task)
/// or its task was cancelled (the runtime shutting down: the drain ends).
struct Restart<'a, B: Batch> {
    group: &'a GroupCommit<B>,
    app: &'a App,
}

impl<B: Batch> Drop for Restart<'_, B> {
    fn drop(&mut self) {
        let restarted = std::thread::panicking() && {
            tracing::error!("a group commit's batch panicked; restarting the drain");
            let app = self.app.clone();
            tokio::runtime::Handle::try_current()
                .map(|h| h.spawn(async move { B::group(&app).drain(&app).await }))
                .is_ok()
        };
        if !restarted {
            let mut q = self.group.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.draining -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;

    impl Batch for Nothing {
        type Item = ();
        fn keys(_: &()) -> Vec<String> {
            Vec::new()
        }
        async fn run(_: &App, _: Vec<()>) {}
        fn group(_: &App) -> &GroupCommit<Self> {
            unreachable!("the tests below never drain")
        }
    }

    #[test]
    fn a_second_batch_goes_in_flight_only_while_enough_wait() {
        // Idle: a lone item goes at once.
        assert!(starts_drain(0, 1));
        // One batch in flight: the next waits for it, unless a burst queues.
        assert!(!starts_drain(1, SECOND_BATCH_MIN - 1));
        assert!(starts_drain(1, SECOND_BATCH_MIN));
        assert!(!starts_drain(IN_FLIGHT, MAX_BATCH));
        // The last drain runs until the queue is empty; a second one stops
        // once few wait, leaving them to the first.
        assert!(!drain_stops(1, 1));
        assert!(drain_stops(1, 0));
        assert!(drain_stops(2, SECOND_BATCH_MIN - 1));
        assert!(!drain_stops(2, SECOND_BATCH_MIN));
    }

    #[test]
    fn sizes_fall_in_their_buckets() {
        let w = GroupCommit::<Nothing>::default();
        for size in [1, 2, 3, 4, 5, 33, 64] {
            w.count(size);
        }
        let s = w.stats();
        assert_eq!(s["batches"], 7);
        assert_eq!(s["events"], 112);
        assert_eq!(
            s["sizes"],
            json!({"1": 1, "2": 1, "3-4": 2, "5-8": 1, "9-16": 0, "17-32": 0, "33-64": 2})
        );
    }
}
