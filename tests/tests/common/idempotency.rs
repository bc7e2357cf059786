//! The idempotency contract suite: one set of checks, run against `MemoryIdempotency` and
//! `SqlIdempotency` on SQLite and PostgreSQL by `tests/idempotency.rs`.
//!
//! Every check uses tenants of its own, so checks can share one table. Times are given, never
//! read from a clock; the purge check works below every other check's times, since a purge
//! spans tenants.
#![allow(dead_code)] // each backend runs a different part of the suite

use manifest_core::idempotency::{IdempotencyRecord, IdempotencyStore, SqlIdempotency};
use manifest_core::{Backend, Error, SqlDb, Tx};
use serde_json::json;
use uuid::Uuid;

/// Tenant names no other check (or earlier run on the same database) uses.
pub fn tenants<const N: usize>() -> [String; N] {
    let run = Uuid::new_v4().simple().to_string();
    std::array::from_fn(|i| format!("idem-{}-{}", (b'a' + i as u8) as char, &run[..12]))
}

pub fn record(
    tenant: &str,
    key: &str,
    fingerprint: &str,
    created: i64,
    expires: i64,
) -> IdempotencyRecord {
    IdempotencyRecord::new(
        tenant,
        key,
        fingerprint,
        json!({"success": true, "result": {"fingerprint": fingerprint, "n": 1.5, "big": 1e16, "text": "é \"q\" \\"}, "events": []}),
        created,
        expires,
    )
}

pub async fn insert_then_get(s: &dyn IdempotencyStore) {
    let [t] = tenants();
    let r = record(&t, "k1", "f1", 1_000, 2_000);
    assert!(s.insert(None, &r, 1_000).await.unwrap());
    assert_eq!(s.get(None, &t, "k1", 1_000).await.unwrap(), Some(r.clone()));
    assert_eq!(s.get(None, &t, "k1", 1_999).await.unwrap(), Some(r));
    assert_eq!(s.get(None, &t, "other", 1_000).await.unwrap(), None);
}

pub async fn same_key_in_two_tenants_is_two_records(s: &dyn IdempotencyStore) {
    let [a, b] = tenants();
    let ra = record(&a, "k", "fa", 1_000, 2_000);
    let rb = record(&b, "k", "fb", 1_000, 3_000);
    assert!(s.insert(None, &ra, 1_000).await.unwrap());
    assert!(
        s.insert(None, &rb, 1_000).await.unwrap(),
        "tenant b's key is its own"
    );
    assert_eq!(s.get(None, &a, "k", 1_500).await.unwrap(), Some(ra));
    assert_eq!(s.get(None, &b, "k", 1_500).await.unwrap(), Some(rb.clone()));
    // a's record expires on its own.
    assert_eq!(s.get(None, &a, "k", 2_500).await.unwrap(), None);
    assert_eq!(s.get(None, &b, "k", 2_500).await.unwrap(), Some(rb));
}

pub async fn unexpired_duplicate_is_refused_and_keeps_the_first(s: &dyn IdempotencyStore) {
    let [t] = tenants();
    let first = record(&t, "k", "first", 1_000, 2_000);
    assert!(s.insert(None, &first, 1_000).await.unwrap());
    let second = record(&t, "k", "second", 1_500, 9_000);
    // Up to the last millisecond before the expiry.
    for now in [1_000, 1_500, 1_999] {
        assert!(!s.insert(None, &second, now).await.unwrap(), "at {now}");
    }
    assert_eq!(s.get(None, &t, "k", 1_999).await.unwrap(), Some(first));
}

pub async fn expired_record_is_replaced(s: &dyn IdempotencyStore) {
    let [t] = tenants();
    let first = record(&t, "k", "first", 1_000, 2_000);
    assert!(s.insert(None, &first, 1_000).await.unwrap());
    // Expired from `expires_at` on.
    let second = record(&t, "k", "second", 2_000, 5_000);
    assert!(s.insert(None, &second, 2_000).await.unwrap());
    assert_eq!(
        s.get(None, &t, "k", 2_000).await.unwrap(),
        Some(second.clone())
    );
    // The replacement is itself protected until it expires.
    let third = record(&t, "k", "third", 3_000, 9_000);
    assert!(!s.insert(None, &third, 4_999).await.unwrap());
    assert_eq!(s.get(None, &t, "k", 4_999).await.unwrap(), Some(second));
}

pub async fn get_ignores_expired(s: &dyn IdempotencyStore) {
    let [t] = tenants();
    let r = record(&t, "k", "f", 1_000, 2_000);
    assert!(s.insert(None, &r, 1_000).await.unwrap());
    assert_eq!(s.get(None, &t, "k", 1_999).await.unwrap(), Some(r));
    assert_eq!(s.get(None, &t, "k", 2_000).await.unwrap(), None);
    assert_eq!(s.get(None, &t, "k", 10_000).await.unwrap(), None);
}

pub async fn purge_deletes_the_expired_only(s: &dyn IdempotencyStore) {
    // Far below every other check's times: a purge spans tenants.
    let base = -1_000_000_000_000;
    let [a, b] = tenants();
    let old_a = record(&a, "old", "f", base, base + 10);
    let old_b = record(&b, "old", "f", base, base + 20);
    let live = record(&a, "live", "f", base, base + 100);
    for r in [&old_a, &old_b, &live] {
        assert!(s.insert(None, r, base).await.unwrap());
    }
    assert_eq!(s.purge_expired(base + 9).await.unwrap(), 0);
    assert_eq!(s.purge_expired(base + 20).await.unwrap(), 2);
    assert_eq!(s.purge_expired(base + 20).await.unwrap(), 0);
    // The live record is still there, and the purged keys are free.
    assert_eq!(
        s.get(None, &a, "live", base + 20).await.unwrap(),
        Some(live)
    );
    let again = record(&b, "old", "g", base + 30, base + 99);
    assert!(s.insert(None, &again, base + 30).await.unwrap());
    assert_eq!(
        s.get(None, &b, "old", base + 30).await.unwrap(),
        Some(again)
    );
    assert_eq!(s.purge_expired(base + 1_000).await.unwrap(), 2);
    assert_eq!(s.get(None, &a, "live", base).await.unwrap(), None);
}

pub async fn keys_are_verbatim(s: &dyn IdempotencyStore) {
    let [t] = tenants();
    let keys = [
        "K",
        "k",
        "k ",
        "ключ",
        "a'b\"c\\d",
        "'; DROP TABLE manifest_idempotency; --",
    ];
    for (i, key) in keys.iter().enumerate() {
        let r = record(&t, key, &format!("f{i}"), 1_000, 2_000);
        assert!(s.insert(None, &r, 1_000).await.unwrap(), "{key:?}");
    }
    for (i, key) in keys.iter().enumerate() {
        let got = s.get(None, &t, key, 1_000).await.unwrap().unwrap();
        assert_eq!(got.fingerprint, format!("f{i}"), "{key:?}");
        assert_eq!(&got.key, key);
    }
}

/// Inside a transaction: an insert is seen inside it only, kept when it commits and gone when
/// it rolls back; and the key is free again after the rollback.
pub async fn insert_follows_the_transaction<DB: Backend>(db: &SqlDb<DB>, s: &SqlIdempotency<DB>) {
    let [t] = tenants();
    let r = record(&t, "k", "f", 1_000, 2_000);

    let tx = db.begin_for(&t).await.unwrap();
    assert!(s.insert(Some(&tx.tx()), &r, 1_000).await.unwrap());
    assert_eq!(
        s.get(Some(&tx.tx()), &t, "k", 1_000).await.unwrap(),
        Some(r.clone())
    );
    // Not committed: another connection does not see it.
    assert_eq!(s.get(None, &t, "k", 1_000).await.unwrap(), None);
    tx.rollback().await.unwrap();
    assert_eq!(s.get(None, &t, "k", 1_000).await.unwrap(), None);

    let tx = db.begin_for(&t).await.unwrap();
    let handle = tx.tx();
    assert!(s.insert(Some(&handle), &r, 1_000).await.unwrap());
    // A second insert in the same transaction sees the first.
    let other = record(&t, "k", "g", 1_000, 2_000);
    assert!(!s.insert(Some(&handle), &other, 1_000).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(s.get(None, &t, "k", 1_000).await.unwrap(), Some(r.clone()));
    // The ended transaction's handle is closed.
    assert!(matches!(
        s.insert(Some(&handle), &other, 3_000).await,
        Err(Error::Closed)
    ));
    assert_eq!(s.get(None, &t, "k", 1_000).await.unwrap(), Some(r));
}

/// A `Tx` of another database: refused, and nothing written or read.
pub async fn foreign_transaction_is_refused(s: &dyn IdempotencyStore, foreign: &Tx) {
    let [t] = tenants();
    let r = record(&t, "k", "f", 1_000, 2_000);
    assert!(matches!(
        s.insert(Some(foreign), &r, 1_000).await,
        Err(Error::ForeignTransaction)
    ));
    assert!(matches!(
        s.get(Some(foreign), &t, "k", 1_000).await,
        Err(Error::ForeignTransaction)
    ));
    assert_eq!(s.get(None, &t, "k", 1_000).await.unwrap(), None);
}
