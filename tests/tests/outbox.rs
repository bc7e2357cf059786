//! The outbox contract on every store: `MemoryOutbox`, `SqlOutbox` on a SQLite file and on a
//! real PostgreSQL server (`MANIFEST_PG_URL`; skipped without it unless `CI=true`).

#[path = "common/outbox.rs"]
mod suite;

use manifest_core::outbox::{OutboxStore, SqlOutbox};
use manifest_core::{Error, SqliteDb};

mod memory {
    use super::suite;
    crate::outbox_suite!(suite::memory());
}

mod sqlite {
    use super::suite;
    crate::outbox_suite!(suite::sqlite());
}

mod postgres {
    use super::suite;
    crate::outbox_suite!(suite::postgres());
}

/// A transaction of another backend is foreign too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_of_another_backend_is_foreign() {
    let sqlite = SqliteDb::memory().await.unwrap();
    let tx = sqlite.begin().await.unwrap();
    let Some(pg) = suite::pg_connect().await else {
        return;
    };
    let outbox = SqlOutbox::with_table(&pg, "outbox_foreign_backend").unwrap();
    outbox.create_table().await.unwrap();
    let err = outbox
        .enqueue(Some(&tx.tx()), &[suite::entry("t", "a", None, 0)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ForeignTransaction), "{err:?}");
    assert!(outbox.entries("t").await.unwrap().is_empty());
}

/// An in-memory SQLite database (one connection) keeps the rules too.
#[tokio::test]
async fn in_memory_sqlite() {
    let db = SqliteDb::memory().await.unwrap();
    let outbox = SqlOutbox::new(&db);
    outbox.create_table().await.unwrap();
    let batch: Vec<_> = (0..3)
        .map(|i| suite::entry("t", &format!("e{i}"), Some("o"), 0))
        .collect();
    let tx = db.begin().await.unwrap();
    outbox.enqueue(Some(&tx.tx()), &batch).await.unwrap();
    tx.commit().await.unwrap();
    let claimed = outbox.claim("w", 2, 0, 1_000).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(outbox.claim("w2", 2, 0, 1_000).await.unwrap().is_empty());
    assert_eq!(
        outbox
            .mark_delivered("w", &[claimed[0].id.clone()])
            .await
            .unwrap(),
        1
    );
}

/// Table names are checked; the table and its indexes are what the docs say, and an existing
/// table of another shape is refused.
#[tokio::test]
async fn sqlite_table_shape() {
    let db = SqliteDb::memory().await.unwrap();
    for bad in ["", "1x", "a b", "x\"y", "sqlite_outbox", &"x".repeat(49)] {
        assert!(matches!(
            SqlOutbox::with_table(&db, bad),
            Err(Error::InvalidName { .. })
        ));
    }
    let outbox = SqlOutbox::with_table(&db, "events_out").unwrap();
    assert_eq!(outbox.table(), "events_out");
    assert_eq!(SqlOutbox::new(&db).table(), "manifest_outbox");
    assert!(outbox.create_table_sql()[0].ends_with(" STRICT"));
    outbox.create_table().await.unwrap();
    let indexes: Vec<String> = manifest_core::sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events_out' \
         AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "events_out__dead",
            "events_out__lease",
            "events_out__pending",
            "events_out__seq",
            "events_out__subject"
        ]
    );
    manifest_core::sqlx::query("CREATE TABLE other_shape (tenant_id TEXT, id TEXT)")
        .execute(db.pool())
        .await
        .unwrap();
    let err = SqlOutbox::with_table(&db, "other_shape")
        .unwrap()
        .create_table()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TableShape { .. }), "{err:?}");
}

/// On PostgreSQL the key is tenant first, `seq` an identity, JSON columns JSONB, and the claim
/// uses the pending index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_table_shape() {
    let Some(db) = suite::pg_connect().await else {
        return;
    };
    let outbox = SqlOutbox::with_table(&db, "outbox_shape").unwrap();
    outbox.create_table().await.unwrap();
    let key: Vec<String> = manifest_core::sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = 'outbox_shape'::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(key, ["tenant_id", "id"]);
    let types: Vec<(String, String, String)> = manifest_core::sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_identity::text \
         FROM information_schema.columns WHERE table_name = 'outbox_shape' \
         AND column_name IN ('seq', 'payload', 'event_timestamp') ORDER BY ordinal_position",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let types: Vec<_> = types
        .iter()
        .map(|(c, t, i)| (c.as_str(), t.as_str(), i.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("seq", "bigint", "YES"),
            ("payload", "jsonb", "NO"),
            ("event_timestamp", "jsonb", "NO")
        ]
    );
}
