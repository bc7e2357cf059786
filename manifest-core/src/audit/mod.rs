//! The audit trail: [`AuditSink`], the [`AuditRecord`] each `run_command` call leaves, and the
//! memory ([`MemoryAudit`]) and SQL ([`SqlAudit`]) sinks. (The runtime adds a sink that writes
//! `tracing` events.)

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::tx::Tx;

mod memory;
pub use memory::MemoryAudit;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlAudit;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use sql::batch_json as sql_batch_json;

/// How a command call ended, with the reference runtime's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditOutcome {
    /// It ran and its changes committed.
    Success,
    /// A guard failed.
    GuardDenied,
    /// A policy denied it.
    PolicyDenied,
    /// A rate limit refused it.
    RateLimitDenied,
    /// A blocking constraint failed.
    ConstraintFailed,
    /// A version check failed, or concurrent writers kept changing its instance.
    ConcurrencyConflict,
    /// It needed a tenant and had none.
    MissingTenantContext,
    /// Anything else: a failed action, a bad input, a fault.
    Error,
}

impl AuditOutcome {
    /// The outcome as stored (`success`, `guard_denied`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::GuardDenied => "guard_denied",
            AuditOutcome::PolicyDenied => "policy_denied",
            AuditOutcome::RateLimitDenied => "rate_limit_denied",
            AuditOutcome::ConstraintFailed => "constraint_failed",
            AuditOutcome::ConcurrencyConflict => "concurrency_conflict",
            AuditOutcome::MissingTenantContext => "missing_tenant_context",
            AuditOutcome::Error => "error",
        }
    }

    /// The outcome stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "success" => AuditOutcome::Success,
            "guard_denied" => AuditOutcome::GuardDenied,
            "policy_denied" => AuditOutcome::PolicyDenied,
            "rate_limit_denied" => AuditOutcome::RateLimitDenied,
            "constraint_failed" => AuditOutcome::ConstraintFailed,
            "concurrency_conflict" => AuditOutcome::ConcurrencyConflict,
            "missing_tenant_context" => AuditOutcome::MissingTenantContext,
            "error" => AuditOutcome::Error,
            _ => return None,
        })
    }
}

/// One command call, as the audit trail keeps it (the reference's `AuditRecord` fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// The record's id (a UUIDv7).
    pub record_id: String,
    /// When the call ended (milliseconds since the epoch).
    pub occurred_at: i64,
    /// The tenant (`""` for an engine without one).
    pub tenant: String,
    /// The acting user's id, if the engine's actor has one.
    pub actor_id: Option<String>,
    /// The request's id, as the caller gave it.
    pub request_id: Option<String>,
    /// Where the call came from (`"http"`, `"reaction"`, ...), as the caller gave it.
    pub source: Option<String>,
    /// The command's entity.
    pub entity: Option<String>,
    /// The instance.
    pub instance_id: Option<String>,
    /// The command.
    pub command: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// What went wrong, as JSON (the error, the denial, the failed constraints), or `null`.
    pub diagnostics: Json,
    /// The names of the events it emitted, its reactions' included.
    pub emitted_event_names: Vec<String>,
    /// The hash of the IR that ran it.
    pub ir_hash: Option<String>,
}

impl AuditRecord {
    /// A record of `command` ending with `outcome`; the other fields empty.
    pub fn new(
        record_id: impl Into<String>,
        occurred_at: i64,
        tenant: impl Into<String>,
        command: impl Into<String>,
        outcome: AuditOutcome,
    ) -> Self {
        AuditRecord {
            record_id: record_id.into(),
            occurred_at,
            tenant: tenant.into(),
            actor_id: None,
            request_id: None,
            source: None,
            entity: None,
            instance_id: None,
            command: command.into(),
            outcome,
            diagnostics: Json::Null,
            emitted_event_names: Vec::new(),
            ir_hash: None,
        }
    }
}

/// Where audit records go. One contract suite runs against every implementation.
#[async_trait]
pub trait AuditSink: Debug + Send + Sync {
    /// Record `records`, all or none: inside `tx` when one is given (a transaction of this
    /// sink's database, else [`Error::ForeignTransaction`]),
    /// so they commit or roll back with it. A sink with no database ignores `tx`. A record id
    /// is kept once per tenant: a batch naming one twice is
    /// [`Error::DuplicateId`], and a sink that keeps records fails
    /// the batch when one of its ids is already kept; nothing of the batch is kept then.
    async fn record(&self, tx: Option<&Tx>, records: &[AuditRecord]) -> Result<()>;

    /// `tenant`'s records, oldest first (by `occurred_at`, then by record id, bytewise: a
    /// UUIDv7 sorts by its creation), at most `limit`: the oldest ones (for inspection and
    /// tests; a sink that keeps nothing returns none).
    async fn records(&self, tenant: &str, limit: u32) -> Result<Vec<AuditRecord>>;

    /// This store as [`Any`](std::any::Any), for [`CommandRecords`](crate::CommandRecords)
    /// to recognise the SQL stores it can write in one statement with others. `None` (the
    /// default) for any other store.
    #[doc(hidden)]
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// The name errors give the audit sinks by.
pub(crate) const OWNER: &str = "(audit)";

/// Refuse a batch naming one `(tenant, record id)` twice, before anything is written.
pub(crate) fn check_batch(records: &[AuditRecord]) -> Result<()> {
    let mut seen = HashSet::with_capacity(records.len());
    match records
        .iter()
        .find(|r| !seen.insert((r.tenant.as_str(), r.record_id.as_str())))
    {
        None => Ok(()),
        Some(twice) => Err(Error::DuplicateId {
            entity: OWNER.to_owned(),
            id: twice.record_id.clone(),
        }),
    }
}

/// The order of [`AuditSink::records`]: by `occurred_at`, then by record id.
pub(crate) fn oldest_first(a: &AuditRecord, b: &AuditRecord) -> Ordering {
    (a.occurred_at, a.record_id.as_bytes()).cmp(&(b.occurred_at, b.record_id.as_bytes()))
}
