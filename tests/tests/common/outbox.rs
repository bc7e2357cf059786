//! The outbox contract suite: one set of checks, run against `MemoryOutbox`,
//! `SqlOutbox<Sqlite>` and `SqlOutbox<Postgres>` by `outbox.rs` (and the backends the worker
//! tests of `outbox_worker.rs` run on). Each check gets a fresh, empty outbox.
#![allow(dead_code)] // each test binary uses a different part of it

use std::sync::Arc;

use async_trait::async_trait;
use manifest_core::outbox::{
    MemoryOutbox, OutboxEntry, OutboxEvent, OutboxStatus, OutboxStore, SqlOutbox,
};
use manifest_core::{Backend, Error, PgDb, SqlDb, SqlTransaction, SqliteDb, Tx};
use serde_json::{Map, Value, json};

#[path = "outbox_claims.rs"]
mod claims;
#[allow(unused_imports)] // the worker and timing tests use none of the checks
pub use claims::*;

/// A fresh outbox, and for SQL its transactions.
pub struct Harness {
    pub name: &'static str,
    pub store: Arc<dyn OutboxStore>,
    pub sql: Option<Box<dyn SqlSide>>,
}

/// What only a SQL outbox has.
#[async_trait]
pub trait SqlSide: Send + Sync {
    /// A transaction of the outbox's database.
    async fn begin(&self) -> Box<dyn OpenTx>;
    /// A transaction of another database of the same backend.
    async fn begin_foreign(&self) -> Box<dyn OpenTx>;
    /// Another outbox on the same table, over a pool of its own (another process, say).
    fn second_store(&self) -> Arc<dyn OutboxStore>;
    /// Update the planner's statistics of the table.
    async fn analyze(&self);
}

/// An open transaction.
#[async_trait]
pub trait OpenTx: Send + Sync {
    fn tx(&self) -> Tx;
    async fn commit(self: Box<Self>);
    async fn rollback(self: Box<Self>);
}

#[async_trait]
impl<DB: Backend> OpenTx for SqlTransaction<DB> {
    fn tx(&self) -> Tx {
        SqlTransaction::tx(self)
    }
    async fn commit(self: Box<Self>) {
        SqlTransaction::commit(*self).await.unwrap();
    }
    async fn rollback(self: Box<Self>) {
        SqlTransaction::rollback(*self).await.unwrap();
    }
}

struct Sql<DB: Backend> {
    db: SqlDb<DB>,
    foreign: SqlDb<DB>,
    second: SqlOutbox<DB>,
}

#[async_trait]
impl<DB: Backend> SqlSide for Sql<DB>
where
    for<'c> &'c mut DB::Connection: manifest_core::sqlx::Executor<'c, Database = DB>,
{
    async fn begin(&self) -> Box<dyn OpenTx> {
        Box::new(self.db.begin().await.unwrap())
    }
    async fn begin_foreign(&self) -> Box<dyn OpenTx> {
        Box::new(self.foreign.begin().await.unwrap())
    }
    fn second_store(&self) -> Arc<dyn OutboxStore> {
        Arc::new(self.second.clone())
    }
    async fn analyze(&self) {
        let sql = format!("ANALYZE \"{}\"", self.second.table());
        manifest_core::sqlx::raw_sql(&sql)
            .execute(self.db.pool())
            .await
            .unwrap();
    }
}

pub async fn memory() -> Option<Harness> {
    Some(Harness {
        name: "memory",
        store: Arc::new(MemoryOutbox::new()),
        sql: None,
    })
}

/// A SQLite file in WAL mode (two pools on it, as two processes would have), the default
/// table, created twice (creation is safe to repeat).
pub async fn sqlite() -> Option<Harness> {
    let path = std::env::temp_dir().join(format!("manifest-outbox-{}.db", uuid::Uuid::new_v4()));
    let db = SqliteDb::open(&path).await.unwrap();
    let store = SqlOutbox::new(&db);
    store.create_table().await.unwrap();
    store.create_table().await.unwrap();
    let other = SqliteDb::open(&path).await.unwrap();
    Some(Harness {
        name: "sqlite",
        store: Arc::new(store),
        sql: Some(Box::new(Sql {
            second: SqlOutbox::new(&other),
            db,
            foreign: SqliteDb::memory().await.unwrap(),
        })),
    })
}

/// The server of `MANIFEST_PG_URL`; `None` (skipped) without it, except under `CI=true`.
pub async fn pg_connect() -> Option<PgDb> {
    let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh");
        }
        eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
        return None;
    };
    Some(
        PgDb::connect(&url)
            .await
            .expect("connect to MANIFEST_PG_URL"),
    )
}

/// A table of its own (the checks claim across tenants, and run in parallel), on two pools.
pub async fn postgres() -> Option<Harness> {
    let db = pg_connect().await?;
    let table = format!(
        "outbox_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let store = SqlOutbox::with_table(&db, &table).unwrap();
    store.create_table().await.unwrap();
    store.create_table().await.unwrap();
    let other = pg_connect().await?;
    Some(Harness {
        name: "postgres",
        store: Arc::new(store),
        sql: Some(Box::new(Sql {
            second: SqlOutbox::with_table(&other, &table).unwrap(),
            db,
            foreign: pg_connect().await?,
        })),
    })
}

/// A new entry of `tenant` with id `id`, on the instance `instance` (of entity `Order`) if
/// given, enqueued and available at `now`.
pub fn entry(tenant: &str, id: &str, instance: Option<&str>, now: i64) -> OutboxEntry {
    let payload = Map::from_iter([("id".to_owned(), json!(id)), ("n".to_owned(), json!(1.5))]);
    let event = OutboxEvent::new(format!("Ev{id}"), "orders", payload, json!(now));
    OutboxEntry::new(id, tenant, "place", event, now)
        .subject(Some("Order".to_owned()), instance.map(str::to_owned))
}

fn ids(entries: &[OutboxEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.id.as_str()).collect()
}

fn owned(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

async fn one(h: &Harness, tenant: &str, id: &str) -> OutboxEntry {
    let all = h.store.entries(tenant).await.unwrap();
    all.into_iter()
        .find(|e| e.id == id)
        .expect("the entry exists")
}

const T: &str = "acme";
const LEASE: i64 = 30_000;

/// Generates one `#[tokio::test]` per contract check, each on a fresh harness from `$make`.
#[macro_export]
macro_rules! outbox_suite {
    ($make:expr) => {
        $crate::outbox_suite!(@tests $make;
            enqueue_keeps_order_and_fields,
            enqueue_in_a_transaction,
            enqueue_with_a_foreign_transaction,
            duplicate_id_fails_the_whole_batch,
            claim_respects_limit_availability_and_leases,
            expired_lease_is_reclaimed_and_the_old_worker_changes_nothing,
            subject_order_holds_back_later_entries,
            mark_failed_retries_then_dead,
            dead_letters_and_requeue_per_tenant,
            release_undoes_the_attempt,
            mark_delivered_only_what_the_worker_leases,
            tenants_are_isolated,
            purge_deletes_old_delivered_entries,
            concurrent_claims_never_share_an_entry_or_a_subject,
        );
    };
    (@tests $make:expr; $($name:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if let Some(harness) = $make.await {
                suite::$name(&harness).await;
            }
        }
    )*};
}

pub async fn enqueue_keeps_order_and_fields(h: &Harness) {
    h.store.enqueue(None, &[]).await.unwrap();
    let mut first =
        entry(T, "a", Some("o1"), 100).caused(Some("corr".to_owned()), Some("cause".to_owned()));
    // What the caller says of the delivery state is not taken: an entry starts pending.
    first.status = OutboxStatus::Dead;
    first.attempts = 7;
    first.lease_owner = Some("w".to_owned());
    first.lease_until = Some(1);
    first.last_error = Some("old".to_owned());
    first.available_at = 150;
    let mut odd = entry(T, "b", None, 100);
    odd.event.timestamp = Value::Null;
    odd.entity = None;
    odd.event.payload = Map::from_iter([
        ("text".to_owned(), json!("quote ' \" back \\ é ☃ \n")),
        (
            "nested".to_owned(),
            json!({"z": [1, 2, {"y": null}], "a": true}),
        ),
        ("big".to_owned(), json!(u64::MAX)),
        ("neg".to_owned(), json!(i64::MIN)),
    ]);
    let third = entry(T, "c", Some("o1"), 100);
    h.store
        .enqueue(None, &[first.clone(), odd.clone(), third])
        .await
        .unwrap();
    let more: Vec<_> = (0..10)
        .map(|i| entry(T, &format!("d{i:02}"), Some("o2"), 200))
        .collect();
    h.store.enqueue(None, &more).await.unwrap();

    let all = h.store.entries(T).await.unwrap();
    let mut expected = vec!["a", "b", "c"];
    let later: Vec<String> = (0..10).map(|i| format!("d{i:02}")).collect();
    expected.extend(later.iter().map(String::as_str));
    assert_eq!(ids(&all), expected, "{}", h.name);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "{all:?}");
    assert!(all[0].seq > 0);

    let a = &all[0];
    assert_eq!(a.status, OutboxStatus::Pending);
    assert_eq!(
        (a.attempts, a.lease_owner.as_deref(), a.lease_until),
        (0, None, None)
    );
    assert_eq!(a.last_error, None);
    assert_eq!((a.enqueued_at, a.available_at), (100, 150));
    assert_eq!(a.event, first.event);
    assert_eq!(a.tenant, T);
    assert_eq!(a.command, "place");
    assert_eq!(a.entity.as_deref(), Some("Order"));
    assert_eq!(a.instance_id.as_deref(), Some("o1"));
    assert_eq!(a.correlation_id.as_deref(), Some("corr"));
    assert_eq!(a.causation_id.as_deref(), Some("cause"));
    let b = &all[1];
    assert_eq!(b.event, odd.event, "{}", h.name);
    assert_eq!(
        (b.entity.as_deref(), b.instance_id.as_deref()),
        (None, None)
    );
}

pub async fn enqueue_in_a_transaction(h: &Harness) {
    let Some(sql) = &h.sql else {
        return;
    };
    let batch = [entry(T, "a", Some("o1"), 0), entry(T, "b", None, 0)];
    let tx = sql.begin().await;
    h.store.enqueue(Some(&tx.tx()), &batch).await.unwrap();
    // Not visible outside the transaction before it commits.
    assert!(sql.second_store().entries(T).await.unwrap().is_empty());
    tx.rollback().await;
    assert!(h.store.entries(T).await.unwrap().is_empty(), "{}", h.name);

    let tx = sql.begin().await;
    h.store.enqueue(Some(&tx.tx()), &batch).await.unwrap();
    h.store
        .enqueue(Some(&tx.tx()), &[entry(T, "c", Some("o1"), 0)])
        .await
        .unwrap();
    tx.commit().await;
    assert_eq!(ids(&h.store.entries(T).await.unwrap()), ["a", "b", "c"]);
}

pub async fn enqueue_with_a_foreign_transaction(h: &Harness) {
    let Some(sql) = &h.sql else {
        return;
    };
    let foreign = sql.begin_foreign().await;
    let err = h
        .store
        .enqueue(Some(&foreign.tx()), &[entry(T, "a", None, 0)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ForeignTransaction), "{err:?}");
    let err = h.store.enqueue(Some(&foreign.tx()), &[]).await.unwrap_err();
    assert!(matches!(err, Error::ForeignTransaction), "{err:?}");
    foreign.commit().await;
    assert!(h.store.entries(T).await.unwrap().is_empty());
}

pub async fn duplicate_id_fails_the_whole_batch(h: &Harness) {
    h.store
        .enqueue(None, &[entry(T, "a", None, 0)])
        .await
        .unwrap();
    let batch = [
        entry(T, "b", None, 0),
        entry(T, "a", None, 0),
        entry(T, "c", None, 0),
    ];
    let err = h.store.enqueue(None, &batch).await.unwrap_err();
    assert!(
        matches!(err, Error::DuplicateId { .. }),
        "{}: {err:?}",
        h.name
    );
    let twice = [entry(T, "d", None, 0), entry(T, "d", None, 0)];
    let err = h.store.enqueue(None, &twice).await.unwrap_err();
    assert!(
        matches!(err, Error::DuplicateId { .. }),
        "{}: {err:?}",
        h.name
    );
    assert_eq!(ids(&h.store.entries(T).await.unwrap()), ["a"]);
    // The same id in another tenant is another entry.
    h.store
        .enqueue(None, &[entry("globex", "a", None, 0)])
        .await
        .unwrap();
    assert_eq!(ids(&h.store.entries("globex").await.unwrap()), ["a"]);
    // In a transaction, the failed enqueue fails the transaction's statement; rolled back,
    // nothing of it stays.
    if let Some(sql) = &h.sql {
        let tx = sql.begin().await;
        let err = h.store.enqueue(Some(&tx.tx()), &batch).await.unwrap_err();
        assert!(matches!(err, Error::DuplicateId { .. }), "{err:?}");
        tx.rollback().await;
        assert_eq!(ids(&h.store.entries(T).await.unwrap()), ["a"]);
    }
}
