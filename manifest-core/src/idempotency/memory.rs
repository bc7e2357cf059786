//! [`MemoryIdempotency`]: the idempotency contract over a `HashMap`, always compiled.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{IdempotencyRecord, IdempotencyStore};
use crate::error::Result;
use crate::tx::Tx;

/// Records by `(tenant, key)`.
type Records = HashMap<(String, String), IdempotencyRecord>;

/// An in-memory [`IdempotencyStore`]: same contract as [`SqlIdempotency`](super::SqlIdempotency),
/// records keyed by `(tenant, key)`. Cloning it shares the records.
///
/// It has no database, so it ignores the `tx` it is given: an insert is kept at once, whatever
/// becomes of the transaction (the memory database's commands have none). Concurrent inserts
/// of one key are serialised by a lock: exactly one of them is `true`.
///
/// ```
/// # use manifest_core::idempotency::{IdempotencyRecord, IdempotencyStore, MemoryIdempotency};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let keys = MemoryIdempotency::new();
/// let record = IdempotencyRecord::new("acme", "k1", "f1", serde_json::json!({"ok": true}), 0, 1_000);
/// assert!(keys.insert(None, &record, 0).await?);
/// // A retry before the record expires finds it, and cannot insert again.
/// assert_eq!(keys.get(None, "acme", "k1", 500).await?, Some(record.clone()));
/// assert!(!keys.insert(None, &record, 500).await?);
/// // From its expiry on, the key is free.
/// assert_eq!(keys.get(None, "acme", "k1", 1_000).await?, None);
/// # Ok::<(), manifest_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryIdempotency {
    records: Arc<Mutex<Records>>,
}

impl MemoryIdempotency {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        // Nothing below panics while holding the lock, and the map stays consistent if it did.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryIdempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryIdempotency")
            .field("records", &self.lock().len())
            .finish()
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotency {
    async fn get(
        &self,
        _tx: Option<&Tx>,
        tenant: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>> {
        let records = self.lock();
        Ok(records
            .get(&(tenant.to_owned(), key.to_owned()))
            .filter(|record| record.expires_at > now)
            .cloned())
    }

    async fn insert(&self, _tx: Option<&Tx>, record: &IdempotencyRecord, now: i64) -> Result<bool> {
        let mut records = self.lock();
        let id = (record.tenant.clone(), record.key.clone());
        if records.get(&id).is_some_and(|old| old.expires_at > now) {
            return Ok(false);
        }
        records.insert(id, record.clone());
        Ok(true)
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        let mut records = self.lock();
        let before = records.len();
        records.retain(|_, record| record.expires_at > now);
        Ok((before - records.len()) as u64)
    }
}
