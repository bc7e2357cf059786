//! [`MemoryAudit`]: the audit trail in memory, always compiled.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{AuditRecord, AuditSink, check_batch, oldest_first};
use crate::error::{Error, Result};
use crate::tx::Tx;

/// Each tenant's records, and every `(tenant, record id)` kept.
#[derive(Default)]
struct Trail {
    tenants: HashMap<String, Vec<AuditRecord>>,
    ids: HashSet<(String, String)>,
}

/// An [`AuditSink`] that keeps every record in memory, for tests and for inspecting a memory
/// engine's calls: same contract as [`SqlAudit`](super::SqlAudit). Cloning it shares the
/// records.
///
/// It has no database, so it ignores the `tx` it is given. Like the SQL table's primary key, a
/// record id is kept once per tenant: a batch naming one twice, or one already kept, is
/// [`Error::DuplicateId`] and nothing of it is kept.
///
/// ```
/// # use manifest_core::audit::{AuditOutcome, AuditRecord, AuditSink, MemoryAudit};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let audit = MemoryAudit::new();
/// let record = AuditRecord::new("r1", 1_000, "acme", "increment", AuditOutcome::Success);
/// audit.record(None, &[record.clone()]).await?;
/// assert_eq!(audit.records("acme", 10).await?, vec![record]);
/// assert!(audit.records("globex", 10).await?.is_empty());
/// # Ok::<(), manifest_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryAudit {
    trail: Arc<Mutex<Trail>>,
}

impl MemoryAudit {
    /// An empty trail.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Trail> {
        // Nothing below panics while holding the lock, and the trail stays consistent if it did.
        self.trail.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryAudit")
            .field("records", &self.lock().ids.len())
            .finish()
    }
}

#[async_trait]
impl AuditSink for MemoryAudit {
    async fn record(&self, _tx: Option<&Tx>, records: &[AuditRecord]) -> Result<()> {
        check_batch(records)?;
        let mut trail = self.lock();
        if let Some(kept) = records
            .iter()
            .find(|r| trail.ids.contains(&(r.tenant.clone(), r.record_id.clone())))
        {
            return Err(Error::DuplicateId {
                entity: super::OWNER.to_owned(),
                id: kept.record_id.clone(),
            });
        }
        for record in records {
            trail
                .ids
                .insert((record.tenant.clone(), record.record_id.clone()));
            trail
                .tenants
                .entry(record.tenant.clone())
                .or_default()
                .push(record.clone());
        }
        Ok(())
    }

    async fn records(&self, tenant: &str, limit: u32) -> Result<Vec<AuditRecord>> {
        let mut records = self.lock().tenants.get(tenant).cloned().unwrap_or_default();
        records.sort_by(oldest_first);
        records.truncate(limit as usize);
        Ok(records)
    }
}
