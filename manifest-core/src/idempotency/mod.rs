//! Idempotency keys: [`IdempotencyStore`], the [`IdempotencyRecord`] a finished command leaves,
//! and the memory ([`MemoryIdempotency`]) and SQL ([`SqlIdempotency`]) stores.
//!
//! A key is scoped by tenant: the same key in two tenants names two requests. Each record
//! carries a fingerprint of the request it answered (command, entity, instance and input), so
//! a key reused for another request is recognised, and the command's result, returned again
//! to a retry. The runtime inserts the record inside the command's transaction: it exists
//! exactly when the command's changes committed.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error::Result;
use crate::tx::Tx;

mod memory;
pub use memory::MemoryIdempotency;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlIdempotency;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use sql::bind_insert;

/// What a key answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdempotencyRecord {
    /// The tenant.
    pub tenant: String,
    /// The key, as the client gave it.
    pub key: String,
    /// The fingerprint of the request (a hex SHA-256 the runtime computes).
    pub fingerprint: String,
    /// The command's result, as JSON.
    pub result: Json,
    /// When it was recorded (milliseconds since the epoch).
    pub created_at: i64,
    /// When it expires (milliseconds since the epoch): from then on the key is free again.
    pub expires_at: i64,
}

impl IdempotencyRecord {
    /// A record.
    pub fn new(
        tenant: impl Into<String>,
        key: impl Into<String>,
        fingerprint: impl Into<String>,
        result: Json,
        created_at: i64,
        expires_at: i64,
    ) -> Self {
        IdempotencyRecord {
            tenant: tenant.into(),
            key: key.into(),
            fingerprint: fingerprint.into(),
            result,
            created_at,
            expires_at,
        }
    }
}

/// Where idempotency records are kept. Times are milliseconds since the epoch, given by the
/// caller. One contract suite runs against every implementation.
#[async_trait]
pub trait IdempotencyStore: Debug + Send + Sync {
    /// The record of `key` in `tenant` unless it has expired at `now`, read inside `tx` when
    /// one is given.
    async fn get(
        &self,
        tx: Option<&Tx>,
        tenant: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>>;

    /// Insert `record`, inside `tx` when one is given (else
    /// [`Error::ForeignTransaction`](crate::Error::ForeignTransaction)), replacing an expired
    /// record of its key; `false`, and nothing written, when a record of its tenant and key
    /// that has not expired at `now` exists. On PostgreSQL an uncommitted insert of the same
    /// key by another transaction makes this wait until that transaction ends.
    async fn insert(&self, tx: Option<&Tx>, record: &IdempotencyRecord, now: i64) -> Result<bool>;

    /// Delete the records expired at `now`; how many.
    async fn purge_expired(&self, now: i64) -> Result<u64>;

    /// This store as [`Any`](std::any::Any), for [`CommandRecords`](crate::CommandRecords)
    /// to recognise the SQL stores it can write in one statement with others. `None` (the
    /// default) for any other store.
    #[doc(hidden)]
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}
