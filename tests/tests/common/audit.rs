//! The audit-sink contract suite: one set of checks, run against `MemoryAudit` and `SqlAudit`
//! on SQLite and PostgreSQL by `tests/audit.rs`. Every check uses tenants of its own, so checks
//! can share one table.
#![allow(dead_code)] // each backend runs a different part of the suite

use manifest_core::audit::{AuditOutcome, AuditRecord, AuditSink, SqlAudit};
use manifest_core::{Backend, Error, SqlDb, Tx};
use serde_json::json;
use uuid::Uuid;

/// Tenant names no other check (or earlier run on the same database) uses.
pub fn tenants<const N: usize>() -> [String; N] {
    let run = Uuid::new_v4().simple().to_string();
    std::array::from_fn(|i| format!("audit-{}-{}", (b'a' + i as u8) as char, &run[..12]))
}

/// A record with only the required fields.
pub fn bare(tenant: &str, id: &str, at: i64) -> AuditRecord {
    AuditRecord::new(id, at, tenant, "ping", AuditOutcome::Success)
}

/// A record with every field set, and JSON that is easy to get wrong.
pub fn full(tenant: &str, id: &str, at: i64) -> AuditRecord {
    let mut r = AuditRecord::new(id, at, tenant, "approve", AuditOutcome::ConstraintFailed);
    r.actor_id = Some("user-1".into());
    r.request_id = Some("req-'1'".into());
    r.source = Some("http".into());
    r.entity = Some("Order".into());
    r.instance_id = Some("order-7".into());
    r.diagnostics = json!({
        "constraints": [{"name": "positive", "severity": "block", "passed": false}],
        "message": "a \"quoted\" \\ message, ünïcödé",
        "float": 0.1, "big": 1e16, "neg": -3, "none": null, "text_json": "{\"a\":1}"
    });
    r.emitted_event_names = vec!["Approved".into(), "Ledger\"Posted".into()];
    r.ir_hash = Some("sha256:abc".into());
    r
}

pub async fn records_round_trip_every_field(s: &dyn AuditSink) {
    let [t] = tenants();
    let mut scalar = bare(&t, "r3", 3);
    scalar.diagnostics = json!("just a string");
    let batch = [full(&t, "r1", 1), bare(&t, "r2", 2), scalar];
    s.record(None, &batch).await.unwrap();
    assert_eq!(s.records(&t, 10).await.unwrap(), batch);
}

pub async fn every_outcome_round_trips(s: &dyn AuditSink) {
    let [t] = tenants();
    let outcomes = [
        AuditOutcome::Success,
        AuditOutcome::GuardDenied,
        AuditOutcome::PolicyDenied,
        AuditOutcome::RateLimitDenied,
        AuditOutcome::ConstraintFailed,
        AuditOutcome::ConcurrencyConflict,
        AuditOutcome::MissingTenantContext,
        AuditOutcome::Error,
    ];
    let batch: Vec<AuditRecord> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| AuditRecord::new(format!("r{i}"), i as i64, &t, "c", *o))
        .collect();
    s.record(None, &batch).await.unwrap();
    assert_eq!(s.records(&t, 100).await.unwrap(), batch);
}

/// Tenants see their own records only; oldest first, by time then id, whatever the order
/// they were recorded in; `limit` keeps the oldest.
pub async fn tenants_are_isolated_and_order_kept(s: &dyn AuditSink) {
    let [a, b, c] = tenants();
    // One batch may hold several tenants' records.
    s.record(
        None,
        &[
            bare(&a, "a-30", 30),
            bare(&b, "b-1", 1),
            bare(&a, "a-10", 10),
        ],
    )
    .await
    .unwrap();
    s.record(None, &[bare(&a, "a-20-y", 20), bare(&a, "a-20-x", 20)])
        .await
        .unwrap();
    // The same record id in another tenant is another record.
    s.record(None, &[bare(&b, "a-10", 5)]).await.unwrap();
    let ids = |records: Vec<AuditRecord>| -> Vec<String> {
        records.into_iter().map(|r| r.record_id).collect()
    };
    assert_eq!(
        ids(s.records(&a, 100).await.unwrap()),
        ["a-10", "a-20-x", "a-20-y", "a-30"]
    );
    assert_eq!(ids(s.records(&a, 2).await.unwrap()), ["a-10", "a-20-x"]);
    assert_eq!(ids(s.records(&a, 0).await.unwrap()), Vec::<String>::new());
    assert_eq!(ids(s.records(&b, 100).await.unwrap()), ["b-1", "a-10"]);
    assert!(s.records(&c, 100).await.unwrap().is_empty());
    // Bytewise id order, as UUIDv7 text sorts.
    let [d] = tenants();
    s.record(
        None,
        &[
            bare(&d, "b", 1),
            bare(&d, "B", 1),
            bare(&d, "a", 1),
            bare(&d, "_", 1),
        ],
    )
    .await
    .unwrap();
    assert_eq!(ids(s.records(&d, 100).await.unwrap()), ["B", "_", "a", "b"]);
}

pub async fn empty_batch_is_nothing(s: &dyn AuditSink) {
    let [t] = tenants();
    s.record(None, &[]).await.unwrap();
    assert!(s.records(&t, 10).await.unwrap().is_empty());
}

/// A batch is kept all or none: one naming a record id twice, or one already kept, fails
/// whole.
pub async fn batch_is_all_or_none(s: &dyn AuditSink) {
    let [t] = tenants();
    let twice = [bare(&t, "r1", 1), bare(&t, "r2", 2), bare(&t, "r1", 3)];
    assert!(matches!(
        s.record(None, &twice).await,
        Err(Error::DuplicateId { ref id, .. }) if id == "r1"
    ));
    assert!(s.records(&t, 10).await.unwrap().is_empty());

    s.record(None, &[bare(&t, "kept", 1)]).await.unwrap();
    let clash = [
        bare(&t, "new-1", 2),
        bare(&t, "kept", 3),
        bare(&t, "new-2", 4),
    ];
    assert!(s.record(None, &clash).await.is_err());
    assert_eq!(s.records(&t, 10).await.unwrap(), [bare(&t, "kept", 1)]);
}

/// A batch of many records is one statement's worth, and all land.
pub async fn large_batch_lands(s: &dyn AuditSink) {
    let [t] = tenants();
    let batch: Vec<AuditRecord> = (0..500)
        .map(|i| full(&t, &format!("r{i:04}"), 1_000 + i))
        .collect();
    s.record(None, &batch).await.unwrap();
    assert_eq!(s.records(&t, 1_000).await.unwrap(), batch);
}

/// Inside a transaction: recorded when it commits, gone when it rolls back.
pub async fn record_follows_the_transaction<DB: Backend>(db: &SqlDb<DB>, s: &SqlAudit<DB>) {
    let [t] = tenants();
    let tx = db.begin_for(&t).await.unwrap();
    s.record(Some(&tx.tx()), &[bare(&t, "r1", 1), full(&t, "r2", 2)])
        .await
        .unwrap();
    // Not committed: the pool's connections do not see it.
    assert!(s.records(&t, 10).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
    assert!(s.records(&t, 10).await.unwrap().is_empty());

    let tx = db.begin_for(&t).await.unwrap();
    s.record(Some(&tx.tx()), &[bare(&t, "r1", 1), full(&t, "r2", 2)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.records(&t, 10).await.unwrap(),
        [bare(&t, "r1", 1), full(&t, "r2", 2)]
    );
}

/// A `Tx` of another database: refused, and nothing written, even for an empty batch.
pub async fn foreign_transaction_is_refused(s: &dyn AuditSink, foreign: &Tx) {
    let [t] = tenants();
    assert!(matches!(
        s.record(Some(foreign), &[bare(&t, "r1", 1)]).await,
        Err(Error::ForeignTransaction)
    ));
    assert!(matches!(
        s.record(Some(foreign), &[]).await,
        Err(Error::ForeignTransaction)
    ));
    assert!(s.records(&t, 10).await.unwrap().is_empty());
}
