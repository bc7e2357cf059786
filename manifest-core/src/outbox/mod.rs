//! The transactional outbox: [`OutboxStore`], the entries a command's events become, and the
//! memory ([`MemoryOutbox`]) and SQL ([`SqlOutbox`]) stores.
//!
//! A command enqueues its events inside its own transaction, so an entry exists exactly when
//! the state change that produced it committed. A worker (the runtime's `OutboxWorker`)
//! claims batches of entries under a lease, delivers them, and marks each delivered, failed
//! (to retry after a backoff) or, past the retry limit, dead (listed and requeued by an
//! operator). A worker that dies leaves its lease to expire, after which another worker
//! claims the entries again: delivery is at least once, and the entry id is the consumer's
//! deduplication token.
//!
//! Entries of one subject (tenant, entity, instance) are claimed in the order they were
//! enqueued, which for one instance is the order their commands committed (a command's write
//! of its instance comes before its enqueue, and the instance's next writer waits for it):
//! a claim takes an entry only when every earlier pending entry of its subject is claimable
//! too, so no entry overtakes one that is leased elsewhere or waiting for its retry.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::error::Result;
use crate::tx::Tx;

mod memory;
pub use memory::MemoryOutbox;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlOutbox;

/// An event as the outbox carries it: the runtime's emitted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutboxEvent {
    /// The event's name.
    pub name: String,
    /// Its channel.
    pub channel: String,
    /// Its payload, a JSON object.
    pub payload: Map<String, Json>,
    /// When it was emitted, by the engine's clock (milliseconds since the epoch; JSON, as
    /// the engine's clock gives it).
    pub timestamp: Json,
}

impl OutboxEvent {
    /// An event.
    pub fn new(
        name: impl Into<String>,
        channel: impl Into<String>,
        payload: Map<String, Json>,
        timestamp: Json,
    ) -> Self {
        OutboxEvent {
            name: name.into(),
            channel: channel.into(),
            payload,
            timestamp,
        }
    }
}

/// Where an entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutboxStatus {
    /// Waiting to be delivered (possibly leased by a worker now, or waiting for a retry).
    Pending,
    /// Delivered.
    Delivered,
    /// Its deliveries failed [`max_attempts`](crate::outbox) times: it waits for an operator's
    /// [`requeue`](OutboxStore::requeue).
    Dead,
}

impl OutboxStatus {
    /// The status as stored (`pending`, `delivered`, `dead`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => OutboxStatus::Pending,
            "delivered" => OutboxStatus::Delivered,
            "dead" => OutboxStatus::Dead,
            _ => return None,
        })
    }
}

/// One outbox entry: an event, what produced it, and its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutboxEntry {
    /// The entry's id (a UUIDv7): unique, and the consumer's deduplication token.
    pub id: String,
    /// The tenant whose command produced it.
    pub tenant: String,
    /// The event.
    pub event: OutboxEvent,
    /// The subject's entity, if the command had one.
    pub entity: Option<String>,
    /// The subject instance, if the command ran on one.
    pub instance_id: Option<String>,
    /// The command that emitted it.
    pub command: String,
    /// The correlation id of the request (shared by a command and its reactions).
    pub correlation_id: Option<String>,
    /// What caused it: for a reaction's event, the triggering event's name.
    pub causation_id: Option<String>,
    /// When it was enqueued (milliseconds since the epoch).
    pub enqueued_at: i64,
    /// Its position in commit order, given by the store when it is enqueued (0 before).
    pub seq: i64,
    /// Its status.
    pub status: OutboxStatus,
    /// How many times it was claimed for delivery.
    pub attempts: u32,
    /// Not claimed before this time (milliseconds since the epoch): a retry's backoff.
    pub available_at: i64,
    /// The worker holding its lease, if any.
    pub lease_owner: Option<String>,
    /// Until when that lease holds (milliseconds since the epoch).
    pub lease_until: Option<i64>,
    /// The last delivery error.
    pub last_error: Option<String>,
}

impl OutboxEntry {
    /// A new pending entry of `event`, enqueued and available at `now`.
    pub fn new(
        id: impl Into<String>,
        tenant: impl Into<String>,
        command: impl Into<String>,
        event: OutboxEvent,
        now: i64,
    ) -> Self {
        OutboxEntry {
            id: id.into(),
            tenant: tenant.into(),
            event,
            entity: None,
            instance_id: None,
            command: command.into(),
            correlation_id: None,
            causation_id: None,
            enqueued_at: now,
            seq: 0,
            status: OutboxStatus::Pending,
            attempts: 0,
            available_at: now,
            lease_owner: None,
            lease_until: None,
            last_error: None,
        }
    }

    /// With the subject `entity` (and `instance_id`, if any).
    pub fn subject(mut self, entity: Option<String>, instance_id: Option<String>) -> Self {
        self.entity = entity;
        self.instance_id = instance_id;
        self
    }

    /// With correlation and causation ids.
    pub fn caused(mut self, correlation_id: Option<String>, causation_id: Option<String>) -> Self {
        self.correlation_id = correlation_id;
        self.causation_id = causation_id;
        self
    }
}

/// Where outbox entries are kept: see the [module](self) for the rules every store follows.
/// Times are milliseconds since the epoch, given by the caller (so tests control the clock).
///
/// One contract suite (`tests/tests/common/outbox.rs`) runs against every implementation.
#[async_trait]
pub trait OutboxStore: Debug + Send + Sync {
    /// Add `entries` as pending, in order (each gets the next `seq`), all or none: inside
    /// `tx` when one is given (a transaction of this store's database, else
    /// [`Error::ForeignTransaction`](crate::Error::ForeignTransaction) and nothing written),
    /// so they commit or roll back with it. An id already present is an error and nothing is
    /// written.
    async fn enqueue(&self, tx: Option<&Tx>, entries: &[OutboxEntry]) -> Result<()>;

    /// This store as [`Any`](std::any::Any), for [`CommandRecords`](crate::CommandRecords)
    /// to recognise the SQL stores it can write in one statement with others. `None` (the
    /// default) for any other store.
    #[doc(hidden)]
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Lease up to `limit` pending entries of any tenant to `worker` until `now + lease_ms`,
    /// counting an attempt on each, and return them in `seq` order. An entry is claimable when
    /// it is available (`available_at <= now`) and unleased or its lease has expired, and
    /// every earlier pending entry of its subject is claimable too (entries without an
    /// instance have no order among them). Two concurrent claims never return one entry.
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEntry>>;

    /// Mark delivered those of `ids` that `worker` still leases; how many were.
    async fn mark_delivered(&self, worker: &str, ids: &[String]) -> Result<u64>;

    /// After a failed delivery of `id` leased by `worker`: record `error`, end the lease, and
    /// make it available again at `retry_at`, or dead when `retry_at` is `None`. `false` when
    /// `worker` no longer leases it (nothing changed).
    async fn mark_failed(
        &self,
        worker: &str,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<bool>;

    /// Give back entries `worker` leased and did not try (a graceful stop, or entries behind a
    /// failed one of their subject): the lease ends and the claim's attempt is not counted.
    async fn release(&self, worker: &str, ids: &[String]) -> Result<u64>;

    /// `tenant`'s dead entries, in `seq` order, at most `limit`.
    async fn dead_letters(&self, tenant: &str, limit: u32) -> Result<Vec<OutboxEntry>>;

    /// Make `tenant`'s dead entries `ids` pending again (attempts 0, available at `now`, error
    /// kept); how many were dead.
    async fn requeue(&self, tenant: &str, ids: &[String], now: i64) -> Result<u64>;

    /// Every entry of `tenant`, in `seq` order (for inspection and tests).
    async fn entries(&self, tenant: &str) -> Result<Vec<OutboxEntry>>;

    /// Delete delivered entries enqueued before `before`; how many.
    async fn purge_delivered(&self, before: i64) -> Result<u64>;
}
