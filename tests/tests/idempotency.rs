//! The idempotency contract on `MemoryIdempotency`, and `SqlIdempotency` on SQLite (a WAL file)
//! and on a real PostgreSQL server (`MANIFEST_PG_URL`; skipped without it unless `CI=true`).

#[path = "common/pg.rs"]
mod pg;
#[path = "common/idempotency.rs"]
mod suite;

use pg::connect;

use std::time::{Duration, Instant};

use manifest_core::idempotency::{IdempotencyStore, MemoryIdempotency, SqlIdempotency};
use manifest_core::sqlx::{Postgres, Sqlite};
use manifest_core::{Error, PgDb, SqliteDb};

async fn memory() -> Option<MemoryIdempotency> {
    Some(MemoryIdempotency::new())
}

async fn open_sqlite() -> SqliteDb {
    let path = std::env::temp_dir().join(format!("manifest-idem-{}.db", uuid::Uuid::new_v4()));
    SqliteDb::open(&path).await.expect("open a SQLite file")
}

async fn sqlite_db() -> Option<(SqliteDb, SqlIdempotency<Sqlite>)> {
    let db = open_sqlite().await;
    let store = SqlIdempotency::new(&db);
    store.create_table().await.unwrap();
    Some((db, store))
}

async fn sqlite() -> Option<SqlIdempotency<Sqlite>> {
    Some(sqlite_db().await?.1)
}

/// Whether this process has created the table (concurrent `CREATE TABLE IF NOT EXISTS` of one
/// table can fail on PostgreSQL).
static CREATED: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

async fn postgres_db() -> Option<(PgDb, SqlIdempotency<Postgres>)> {
    let db = connect().await?;
    let store = SqlIdempotency::new(&db);
    let mut created = CREATED.lock().await;
    if !*created {
        store.create_table().await.unwrap();
        *created = true;
    }
    Some((db, store))
}

async fn postgres() -> Option<SqlIdempotency<Postgres>> {
    Some(postgres_db().await?.1)
}

/// One `#[tokio::test]` per contract check, in a module per backend.
macro_rules! contract {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            contract!(@tests $make;
                insert_then_get,
                same_key_in_two_tenants_is_two_records,
                unexpired_duplicate_is_refused_and_keeps_the_first,
                expired_record_is_replaced,
                get_ignores_expired,
                purge_deletes_the_expired_only,
                keys_are_verbatim,
            );
        }
    };
    (@tests $make:expr; $($name:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if let Some(store) = $make.await {
                suite::$name(&store).await;
            }
        }
    )*};
}

contract!(memory, memory());
contract!(sqlite, sqlite());
contract!(postgres, postgres());

#[tokio::test]
async fn sqlite_insert_follows_the_transaction() {
    let (db, store) = sqlite_db().await.unwrap();
    suite::insert_follows_the_transaction(&db, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_insert_follows_the_transaction() {
    let Some((db, store)) = postgres_db().await else {
        return;
    };
    suite::insert_follows_the_transaction(&db, &store).await;
}

#[tokio::test]
async fn sqlite_foreign_transaction_is_refused() {
    let (_db, store) = sqlite_db().await.unwrap();
    // Another database of the same backend (the same file even would be another `SqlDb`).
    let other = SqliteDb::memory().await.unwrap();
    let tx = other.begin().await.unwrap();
    suite::foreign_transaction_is_refused(&store, &tx.tx()).await;
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_foreign_transaction_is_refused() {
    let Some((_db, store)) = postgres_db().await else {
        return;
    };
    // Another pool on the same server is another database for the stores...
    let other = connect().await.unwrap();
    let tx = other.begin().await.unwrap();
    suite::foreign_transaction_is_refused(&store, &tx.tx()).await;
    tx.rollback().await.unwrap();
    // ...and so is another backend's.
    let sqlite = SqliteDb::memory().await.unwrap();
    let tx = sqlite.begin().await.unwrap();
    suite::foreign_transaction_is_refused(&store, &tx.tx()).await;
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn table_names_are_checked_and_tables_shapes() {
    let db = open_sqlite().await;
    for bad in ["", "a-b", "x;DROP TABLE y", "sqlite_x", &"a".repeat(64)] {
        assert!(
            matches!(
                SqlIdempotency::with_table(&db, bad),
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    let store = SqlIdempotency::with_table(&db, "my_keys").unwrap();
    assert_eq!(store.table(), "my_keys");
    assert!(store.create_table_sql().starts_with(
        r#"CREATE TABLE IF NOT EXISTS "my_keys" ("tenant_id" TEXT NOT NULL, "key" TEXT NOT NULL"#
    ));
    assert!(
        store
            .create_table_sql()
            .ends_with(r#"PRIMARY KEY ("tenant_id", "key")) STRICT"#)
    );
    store.create_table().await.unwrap();
    store.create_table().await.unwrap();
    // The purge's index.
    let mut conn = db.pool().acquire().await.unwrap();
    let indexes: Vec<(String,)> =
        manifest_core::sqlx::query_as(r#"SELECT "name" FROM pragma_index_list('my_keys')"#)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert!(
        indexes.iter().any(|(n,)| n == "my_keys__expires_at"),
        "{indexes:?}"
    );
    drop(conn);
    // A table of another shape is refused.
    let odd = SqlIdempotency::with_table(&db, "odd").unwrap();
    manifest_core::sqlx::query(r#"CREATE TABLE "odd" ("tenant_id" TEXT, "key" TEXT)"#)
        .execute(db.pool())
        .await
        .unwrap();
    assert!(matches!(
        odd.create_table().await,
        Err(Error::TableShape { .. })
    ));
}

/// How long to wait for a condition before failing.
const PATIENCE: Duration = Duration::from_secs(10);

/// Wait until the backend `pid` waits for a lock.
async fn wait_for_lock(db: &PgDb, pid: i32) {
    let start = Instant::now();
    loop {
        let waiting: Option<(Option<String>,)> = manifest_core::sqlx::query_as(
            "SELECT wait_event_type::text FROM pg_stat_activity WHERE pid = $1",
        )
        .bind(pid)
        .fetch_optional(db.pool())
        .await
        .unwrap();
        if matches!(waiting, Some((Some(ref kind),)) if kind == "Lock") {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "backend {pid} never waited for a lock"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Two transactions insert one key: the second waits for the first, then is `false` if it
/// committed and `true` (its insert lands) if it rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_insert_waits_for_the_first() {
    let Some((db, store)) = postgres_db().await else {
        return;
    };
    for first_commits in [true, false] {
        let [t] = suite::tenants();
        let first = suite::record(&t, "k", "first", 1_000, 2_000);
        let second = suite::record(&t, "k", "second", 1_000, 2_000);

        let tx1 = db.begin_for(&t).await.unwrap();
        assert!(store.insert(Some(&tx1.tx()), &first, 1_000).await.unwrap());

        let tx2 = db.begin_for(&t).await.unwrap();
        let pid: (i32,) = manifest_core::sqlx::query_as("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx2.connection().await.unwrap())
            .await
            .unwrap();
        let (store2, handle2) = (store.clone(), tx2.tx());
        let racer = tokio::spawn(async move {
            let inserted = store2.insert(Some(&handle2), &second, 1_000).await;
            (inserted, second)
        });
        wait_for_lock(&db, pid.0).await;
        assert!(!racer.is_finished(), "the second insert did not wait");

        if first_commits {
            tx1.commit().await.unwrap();
        } else {
            tx1.rollback().await.unwrap();
        }
        let (inserted, second) = tokio::time::timeout(PATIENCE, racer)
            .await
            .expect("the second insert finishes once the first transaction ends")
            .unwrap();
        assert_eq!(
            inserted.unwrap(),
            !first_commits,
            "first commits: {first_commits}"
        );
        tx2.commit().await.unwrap();
        let kept = if first_commits { first } else { second };
        assert_eq!(store.get(None, &t, "k", 1_000).await.unwrap(), Some(kept));
    }
}

/// The PostgreSQL table: tenant first in the key, JSONB result, BIGINT times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_table_shape() {
    let Some((db, store)) = postgres_db().await else {
        return;
    };
    let columns: Vec<(String, String)> = manifest_core::sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_name = 'manifest_idempotency' ORDER BY ordinal_position",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let columns: Vec<(&str, &str)> = columns
        .iter()
        .map(|(c, t)| (c.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("tenant_id", "text"),
            ("key", "text"),
            ("fingerprint", "text"),
            ("result", "jsonb"),
            ("created_at", "bigint"),
            ("expires_at", "bigint"),
        ]
    );
    let key: (String,) = manifest_core::sqlx::query_as(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index \
         WHERE indrelid = 'manifest_idempotency'::regclass AND indisprimary",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert!(key.0.ends_with("(tenant_id, key)"), "{}", key.0);
    assert_eq!(store.table(), "manifest_idempotency");
}
