//! What keeps concurrent commands on one instance from losing updates: the retry budget and
//! backoff of the optimistic path, and the engine's per-instance lock.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

/// How many times a command runs before concurrent updates of its instance make it give up.
///
/// Measured with two engines saturating one instance (`tests/tests/concurrency.rs`): about
/// one write in four collides, and a colliding command loses again a little over half the
/// time, so the longest run of lost attempts in 400 commands is typically 7 to 12 and has
/// reached 16. 32 makes giving up (about 0.57^31 per collision) practically unreachable.
pub(super) const COMMAND_ATTEMPTS: u32 = 32;

/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(16);

/// Wait before attempt `next` (2 or more), as [`pause`] says, on `futures-timer`'s helper
/// thread: it needs no timer from the executor (tokio's would panic on a runtime built
/// without `enable_time`).
pub(super) async fn backoff(next: u32) {
    futures_timer::Delay::new(pause(next)).await;
}

/// The pause before attempt `next`: random, of up to 2^(next - 2) ms and at most
/// [`MAX_BACKOFF`], so that writers that keep colliding spread out. (Measured against retrying
/// at once, it halves how often a command needs 10 attempts or more.)
fn pause(next: u32) -> Duration {
    let ceiling = Duration::from_millis(1 << next.saturating_sub(2).min(10)).min(MAX_BACKOFF);
    // Any per-call randomness does: a fresh `RandomState` is randomly keyed.
    let random = RandomState::new().hash_one(next);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.max(1))
}

/// An instance's lock, held: dropping it lets the next command in.
pub(super) enum InstanceLock<'a> {
    /// Of a provided store's instance.
    Exact { _guard: InstanceGuard<'a> },
    /// Of a memory store's instance.
    Stripe {
        _guard: tokio::sync::MutexGuard<'a, ()>,
    },
}

/// Locks for the instances of the engine's memory store: a fixed table of async mutexes, each
/// instance taking the one its (entity, id) hashes to, so that taking one allocates nothing and
/// touches no shared map. Two instances that share a mutex only wait for each other's
/// command, which on the memory store is short. (Provided stores use [`InstanceLocks`]: their
/// commands hold the lock across round trips to a database, where sharing would cost.)
pub(super) struct Stripes {
    hasher: RandomState,
    locks: Box<[tokio::sync::Mutex<()>]>,
}

impl Stripes {
    /// How many mutexes the table holds.
    const COUNT: usize = 256;

    /// Wait for the lock of instance `id` of the entity at index `entity`.
    pub(super) async fn lock(&self, entity: usize, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let hash = self.hasher.hash_one((entity, id));
        // The remainder is below `COUNT`, so it fits any `usize`.
        let slot = (hash % Self::COUNT as u64) as usize;
        self.locks[slot].lock().await
    }
}

impl Default for Stripes {
    fn default() -> Self {
        Stripes {
            hasher: RandomState::new(),
            locks: (0..Self::COUNT)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }
}

type Key = (String, String);

/// One async mutex per instance (entity, id) that has a command running, so the commands of
/// one engine on one instance run one at a time, in arrival order (tokio's mutex is fair).
///
/// This is an optimisation, not the guarantee: commands of one engine would otherwise collide
/// and retry, wasting store round trips; commands of other engines (other processes) on the
/// same database are kept apart by the store's `update_if`. For a store without `update_if` it
/// is all there is, and it only covers this engine.
#[derive(Default)]
pub(super) struct InstanceLocks {
    held: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

impl InstanceLocks {
    /// Wait for the instance's lock. Entries are removed when their last user lets go.
    pub(super) async fn lock(&self, entity: &str, id: &str) -> InstanceGuard<'_> {
        let key = (entity.to_owned(), id.to_owned());
        let mutex = self.map().entry(key.clone()).or_default().clone();
        let mut guard = InstanceGuard {
            locks: self,
            key,
            mutex: mutex.clone(),
            guard: None,
        };
        // If this future is dropped while waiting, `guard` still cleans up the entry.
        guard.guard = Some(mutex.lock_owned().await);
        guard
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<tokio::sync::Mutex<()>>>> {
        // Nothing panics while holding it, and every change leaves the map consistent.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Holds an instance's lock; dropping it lets the next command in.
pub(super) struct InstanceGuard<'a> {
    locks: &'a InstanceLocks,
    key: Key,
    mutex: Arc<tokio::sync::Mutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for InstanceGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map();
        // Clones are only made under the map's lock: two references (the map's and ours)
        // mean nobody else holds or waits for this instance.
        if Arc::strong_count(&self.mutex) == 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_go_when_unused() {
        let locks = InstanceLocks::default();
        {
            let _a = locks.lock("E", "1").await;
            let _b = locks.lock("E", "2").await;
            assert_eq!(locks.map().len(), 2);
        }
        assert!(locks.map().is_empty());
        // A waiter keeps the entry; the last one out removes it.
        let first = locks.lock("E", "1").await;
        let waiter = locks.lock("E", "1");
        let mut waiter = std::pin::pin!(waiter);
        assert!(futures_poll_once(waiter.as_mut()).await.is_none());
        drop(first);
        assert_eq!(locks.map().len(), 1);
        let second = waiter.await;
        drop(second);
        assert!(locks.map().is_empty());
        // A waiter dropped while waiting leaves nothing behind either.
        let first = locks.lock("E", "1").await;
        {
            let waiter = locks.lock("E", "1");
            let mut waiter = std::pin::pin!(waiter);
            assert!(futures_poll_once(waiter.as_mut()).await.is_none());
        }
        drop(first);
        assert!(locks.map().is_empty());
    }

    /// Poll a future once: `Some` if it is ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }

    #[test]
    fn pauses_are_short_random_and_growing() {
        for next in 2..=COMMAND_ATTEMPTS {
            let ceiling = Duration::from_millis(1 << (next - 2).min(10)).min(MAX_BACKOFF);
            let pauses: Vec<Duration> = (0..50).map(|_| pause(next)).collect();
            assert!(pauses.iter().all(|p| *p < ceiling), "attempt {next}");
            assert!(pauses.iter().any(|p| *p != pauses[0]), "attempt {next}");
        }
    }
}
