//! The audit-sink contract on `MemoryAudit`, and `SqlAudit` on SQLite (a WAL file) and on a real
//! PostgreSQL server (`MANIFEST_PG_URL`; skipped without it unless `CI=true`).

#[path = "common/pg.rs"]
mod pg;
#[path = "common/audit.rs"]
mod suite;

use pg::connect;

use manifest_core::audit::{AuditSink, MemoryAudit, SqlAudit};
use manifest_core::sqlx::{Postgres, Sqlite};
use manifest_core::{Error, PgDb, SqliteDb};

async fn memory() -> Option<MemoryAudit> {
    Some(MemoryAudit::new())
}

async fn open_sqlite() -> SqliteDb {
    let path = std::env::temp_dir().join(format!("manifest-audit-{}.db", uuid::Uuid::new_v4()));
    SqliteDb::open(&path).await.expect("open a SQLite file")
}

async fn sqlite_db() -> Option<(SqliteDb, SqlAudit<Sqlite>)> {
    let db = open_sqlite().await;
    let sink = SqlAudit::new(&db);
    sink.create_table().await.unwrap();
    Some((db, sink))
}

async fn sqlite() -> Option<SqlAudit<Sqlite>> {
    Some(sqlite_db().await?.1)
}

/// Whether this process has created the table (concurrent `CREATE TABLE IF NOT EXISTS` of one
/// table can fail on PostgreSQL).
static CREATED: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

async fn postgres_db() -> Option<(PgDb, SqlAudit<Postgres>)> {
    let db = connect().await?;
    let sink = SqlAudit::new(&db);
    let mut created = CREATED.lock().await;
    if !*created {
        sink.create_table().await.unwrap();
        *created = true;
    }
    Some((db, sink))
}

async fn postgres() -> Option<SqlAudit<Postgres>> {
    Some(postgres_db().await?.1)
}

/// One `#[tokio::test]` per contract check, in a module per backend.
macro_rules! contract {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            contract!(@tests $make;
                records_round_trip_every_field,
                every_outcome_round_trips,
                tenants_are_isolated_and_order_kept,
                empty_batch_is_nothing,
                batch_is_all_or_none,
                large_batch_lands,
            );
        }
    };
    (@tests $make:expr; $($name:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if let Some(sink) = $make.await {
                suite::$name(&sink).await;
            }
        }
    )*};
}

contract!(memory, memory());
contract!(sqlite, sqlite());
contract!(postgres, postgres());

#[tokio::test]
async fn sqlite_record_follows_the_transaction() {
    let (db, sink) = sqlite_db().await.unwrap();
    suite::record_follows_the_transaction(&db, &sink).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_record_follows_the_transaction() {
    let Some((db, sink)) = postgres_db().await else {
        return;
    };
    suite::record_follows_the_transaction(&db, &sink).await;
}

#[tokio::test]
async fn sqlite_foreign_transaction_is_refused() {
    let (_db, sink) = sqlite_db().await.unwrap();
    let other = SqliteDb::memory().await.unwrap();
    let tx = other.begin().await.unwrap();
    suite::foreign_transaction_is_refused(&sink, &tx.tx()).await;
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_foreign_transaction_is_refused() {
    let Some((_db, sink)) = postgres_db().await else {
        return;
    };
    let other = connect().await.unwrap();
    let tx = other.begin().await.unwrap();
    suite::foreign_transaction_is_refused(&sink, &tx.tx()).await;
    tx.rollback().await.unwrap();
    let sqlite = SqliteDb::memory().await.unwrap();
    let tx = sqlite.begin().await.unwrap();
    suite::foreign_transaction_is_refused(&sink, &tx.tx()).await;
    tx.rollback().await.unwrap();
}

/// A failed batch inside a PostgreSQL transaction aborts it; rolled back, nothing of it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failed_batch_in_a_transaction() {
    let Some((db, sink)) = postgres_db().await else {
        return;
    };
    let [t] = suite::tenants();
    sink.record(None, &[suite::bare(&t, "kept", 1)])
        .await
        .unwrap();
    let tx = db.begin_for(&t).await.unwrap();
    sink.record(Some(&tx.tx()), &[suite::bare(&t, "new", 2)])
        .await
        .unwrap();
    assert!(
        sink.record(Some(&tx.tx()), &[suite::bare(&t, "kept", 3)])
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        sink.records(&t, 10).await.unwrap(),
        [suite::bare(&t, "kept", 1)]
    );
}

#[tokio::test]
async fn table_names_are_checked_and_the_table_has_its_index() {
    let db = open_sqlite().await;
    for bad in ["", "a b", "x;DROP TABLE y", "sqlite_audit", &"a".repeat(64)] {
        assert!(
            matches!(
                SqlAudit::with_table(&db, bad),
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    let sink = SqlAudit::with_table(&db, "trail").unwrap();
    assert_eq!(sink.table(), "trail");
    assert!(
        sink.create_table_sql()
            .ends_with(r#"PRIMARY KEY ("tenant_id", "record_id")) STRICT"#)
    );
    sink.create_table().await.unwrap();
    sink.create_table().await.unwrap();
    let columns: Vec<(String, String)> = manifest_core::sqlx::query_as(
        r#"SELECT "name", "type" FROM pragma_table_info('trail') ORDER BY "cid""#,
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "tenant_id",
            "record_id",
            "occurred_at",
            "actor_id",
            "request_id",
            "source",
            "entity",
            "instance_id",
            "command",
            "outcome",
            "diagnostics",
            "emitted_event_names",
            "ir_hash",
        ]
    );
    let index: Vec<(String,)> = manifest_core::sqlx::query_as(
        r#"SELECT "name" FROM pragma_index_info('trail__tenant_occurred_at') ORDER BY "seqno""#,
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let index: Vec<&str> = index.iter().map(|(n,)| n.as_str()).collect();
    assert_eq!(index, ["tenant_id", "occurred_at", "record_id"]);
    // A record read back by a query plan on the index, not a scan of the table.
    let plan: Vec<(i64, i64, i64, String)> = manifest_core::sqlx::query_as(
        r#"EXPLAIN QUERY PLAN SELECT * FROM "trail" WHERE "tenant_id" = 'a' ORDER BY "occurred_at", "record_id" LIMIT 5"#,
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert!(
        plan.iter()
            .any(|(.., d)| d.contains("trail__tenant_occurred_at")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|(.., d)| d.contains("TEMP B-TREE")),
        "{plan:?}"
    );
}

/// The PostgreSQL table: JSONB for the JSON columns, bytewise record ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_table_shape() {
    let Some((db, sink)) = postgres_db().await else {
        return;
    };
    let columns: Vec<(String, String)> = manifest_core::sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_name = 'manifest_audit' ORDER BY ordinal_position",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let json: Vec<&str> = columns
        .iter()
        .filter(|(_, t)| t == "jsonb")
        .map(|(c, _)| c.as_str())
        .collect();
    assert_eq!(json, ["diagnostics", "emitted_event_names"]);
    assert_eq!(columns.len(), 13);
    assert_eq!(sink.table(), "manifest_audit");
    let key: (String,) = manifest_core::sqlx::query_as(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index \
         WHERE indrelid = 'manifest_audit'::regclass AND indisprimary",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert!(key.0.ends_with("(tenant_id, record_id)"), "{}", key.0);
}
