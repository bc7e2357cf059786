//! [`MemoryOutbox`]: the outbox in process memory, for tests and single-process applications.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{OutboxEntry, OutboxStatus, OutboxStore};
use crate::error::{Error, Result};
use crate::tx::Tx;

/// The entity name errors of the memory outbox carry.
const ENTITY: &str = "outbox";

/// An [`OutboxStore`] in memory, behind one mutex. Cloning it shares the entries.
///
/// It has no database transaction: [`enqueue`](OutboxStore::enqueue) ignores its `tx`
/// argument (the runtime calls it only once the command's other writes are done), and an id
/// already present (or given twice) fails the whole call with nothing added. Every other rule
/// of the [module](super) holds as on SQL.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutbox {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The last `seq` given.
    last_seq: i64,
    /// Every entry, by `seq`.
    entries: BTreeMap<i64, OutboxEntry>,
    /// The `seq`s of the pending entries.
    pending: BTreeSet<i64>,
    /// The `seq`s of each id (one per tenant that uses it).
    ids: HashMap<String, Vec<i64>>,
}

impl State {
    /// The `seq`s of the entries with one of `ids`.
    fn seqs_of<'a>(&'a self, ids: &'a [String]) -> impl Iterator<Item = i64> + 'a {
        let unique: HashSet<&str> = ids.iter().map(String::as_str).collect();
        unique
            .into_iter()
            .filter_map(|id| self.ids.get(id))
            .flatten()
            .copied()
    }

    /// The pending entries with one of `ids` that `worker` leases.
    fn leased_by(&self, worker: &str, ids: &[String]) -> Vec<i64> {
        self.seqs_of(ids)
            .filter(|seq| {
                self.entries.get(seq).is_some_and(|e| {
                    e.status == OutboxStatus::Pending && e.lease_owner.as_deref() == Some(worker)
                })
            })
            .collect()
    }
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, and the state is consistent between calls.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `entry` (pending) can be claimed at `now`, its subject aside.
fn claimable(entry: &OutboxEntry, now: i64) -> bool {
    entry.available_at <= now && entry.lease_until.is_none_or(|until| until <= now)
}

#[async_trait]
impl OutboxStore for MemoryOutbox {
    async fn enqueue(&self, _tx: Option<&Tx>, entries: &[OutboxEntry]) -> Result<()> {
        let mut state = self.state();
        let mut batch = HashSet::new();
        for entry in entries {
            let present = state.ids.get(&entry.id).is_some_and(|seqs| {
                seqs.iter()
                    .any(|seq| state.entries[seq].tenant == entry.tenant)
            });
            if present || !batch.insert((&entry.tenant, &entry.id)) {
                return Err(Error::DuplicateId {
                    entity: ENTITY.to_owned(),
                    id: entry.id.clone(),
                });
            }
        }
        for entry in entries {
            state.last_seq += 1;
            let seq = state.last_seq;
            let mut entry = entry.clone();
            entry.seq = seq;
            entry.status = OutboxStatus::Pending;
            entry.attempts = 0;
            entry.lease_owner = None;
            entry.lease_until = None;
            entry.last_error = None;
            state.ids.entry(entry.id.clone()).or_default().push(seq);
            state.pending.insert(seq);
            state.entries.insert(seq, entry);
        }
        Ok(())
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEntry>> {
        let mut state = self.state();
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut chosen = Vec::new();
        {
            // The subjects with an earlier pending entry that cannot be claimed now.
            let mut blocked = HashSet::new();
            for seq in &state.pending {
                if chosen.len() == limit {
                    break;
                }
                let entry = &state.entries[seq];
                let ok = claimable(entry, now);
                if let Some(instance) = &entry.instance_id {
                    let subject = (&entry.tenant, &entry.entity, instance);
                    if blocked.contains(&subject) {
                        continue;
                    }
                    if !ok {
                        blocked.insert(subject);
                    }
                }
                if ok {
                    chosen.push(*seq);
                }
            }
        }
        let until = now.saturating_add(lease_ms);
        let mut claimed = Vec::with_capacity(chosen.len());
        for seq in chosen {
            if let Some(entry) = state.entries.get_mut(&seq) {
                entry.lease_owner = Some(worker.to_owned());
                entry.lease_until = Some(until);
                entry.attempts = entry.attempts.saturating_add(1);
                claimed.push(entry.clone());
            }
        }
        Ok(claimed)
    }

    async fn mark_delivered(&self, worker: &str, ids: &[String]) -> Result<u64> {
        let mut state = self.state();
        let seqs = state.leased_by(worker, ids);
        for seq in &seqs {
            state.pending.remove(seq);
            if let Some(entry) = state.entries.get_mut(seq) {
                entry.status = OutboxStatus::Delivered;
                entry.lease_owner = None;
                entry.lease_until = None;
            }
        }
        Ok(seqs.len() as u64)
    }

    async fn mark_failed(
        &self,
        worker: &str,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        let mut state = self.state();
        let seqs = state.leased_by(worker, &[id.to_owned()]);
        for seq in &seqs {
            if retry_at.is_none() {
                state.pending.remove(seq);
            }
            if let Some(entry) = state.entries.get_mut(seq) {
                entry.last_error = Some(error.to_owned());
                entry.lease_owner = None;
                entry.lease_until = None;
                match retry_at {
                    Some(at) => entry.available_at = at,
                    None => entry.status = OutboxStatus::Dead,
                }
            }
        }
        Ok(!seqs.is_empty())
    }

    async fn release(&self, worker: &str, ids: &[String]) -> Result<u64> {
        let mut state = self.state();
        let seqs = state.leased_by(worker, ids);
        for seq in &seqs {
            if let Some(entry) = state.entries.get_mut(seq) {
                entry.lease_owner = None;
                entry.lease_until = None;
                entry.attempts = entry.attempts.saturating_sub(1);
            }
        }
        Ok(seqs.len() as u64)
    }

    async fn dead_letters(&self, tenant: &str, limit: u32) -> Result<Vec<OutboxEntry>> {
        let state = self.state();
        Ok(state
            .entries
            .values()
            .filter(|e| e.tenant == tenant && e.status == OutboxStatus::Dead)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn requeue(&self, tenant: &str, ids: &[String], now: i64) -> Result<u64> {
        let mut state = self.state();
        let seqs: Vec<i64> = state
            .seqs_of(ids)
            .filter(|seq| {
                state
                    .entries
                    .get(seq)
                    .is_some_and(|e| e.tenant == tenant && e.status == OutboxStatus::Dead)
            })
            .collect();
        for seq in &seqs {
            state.pending.insert(*seq);
            if let Some(entry) = state.entries.get_mut(seq) {
                entry.status = OutboxStatus::Pending;
                entry.attempts = 0;
                entry.available_at = now;
                entry.lease_owner = None;
                entry.lease_until = None;
            }
        }
        Ok(seqs.len() as u64)
    }

    async fn entries(&self, tenant: &str) -> Result<Vec<OutboxEntry>> {
        let state = self.state();
        Ok(state
            .entries
            .values()
            .filter(|e| e.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn purge_delivered(&self, before: i64) -> Result<u64> {
        let mut state = self.state();
        let old: Vec<(i64, String)> = state
            .entries
            .values()
            .filter(|e| e.status == OutboxStatus::Delivered && e.enqueued_at < before)
            .map(|e| (e.seq, e.id.clone()))
            .collect();
        for (seq, id) in &old {
            state.entries.remove(seq);
            if let Some(seqs) = state.ids.get_mut(id) {
                seqs.retain(|s| s != seq);
                if seqs.is_empty() {
                    state.ids.remove(id);
                }
            }
        }
        Ok(old.len() as u64)
    }
}
