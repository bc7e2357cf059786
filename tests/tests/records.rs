//! `CommandRecords`: a command's outbox entries, idempotency record and audit records written
//! together (one statement on SQLite and PostgreSQL), on every backend.

use std::sync::Arc;

use manifest_core::audit::{MemoryAudit, SqlAudit};
use manifest_core::idempotency::{MemoryIdempotency, SqlIdempotency};
use manifest_core::outbox::{MemoryOutbox, SqlOutbox};
use manifest_core::{
    AuditOutcome, AuditRecord, AuditSink, Backend, CommandRecords, IdempotencyRecord,
    IdempotencyStore, OutboxEntry, OutboxEvent, OutboxStore, PgDb, SqlDb, SqliteDb,
};
use serde_json::{Map, json};

struct Stores {
    name: &'static str,
    outbox: Arc<dyn OutboxStore>,
    idempotency: Arc<dyn IdempotencyStore>,
    audit: Arc<dyn AuditSink>,
    begin: Option<Box<dyn Fn() -> Begin + Send + Sync>>,
}

type Begin = std::pin::Pin<Box<dyn std::future::Future<Output = Txn> + Send>>;

/// A transaction of either backend and its handle.
enum Txn {
    Sqlite(manifest_core::SqliteTransaction),
    Postgres(manifest_core::PgTransaction),
}

impl Txn {
    fn tx(&self) -> manifest_core::Tx {
        match self {
            Txn::Sqlite(t) => t.tx(),
            Txn::Postgres(t) => t.tx(),
        }
    }
    async fn commit(self) {
        match self {
            Txn::Sqlite(t) => t.commit().await.unwrap(),
            Txn::Postgres(t) => t.commit().await.unwrap(),
        }
    }
    async fn rollback(self) {
        match self {
            Txn::Sqlite(t) => t.rollback().await.unwrap(),
            Txn::Postgres(t) => t.rollback().await.unwrap(),
        }
    }
}

async fn sql<DB: Backend>(
    name: &'static str,
    db: SqlDb<DB>,
    wrap: fn(manifest_core::SqlTransaction<DB>) -> Txn,
) -> Stores {
    let outbox = SqlOutbox::new(&db);
    let idempotency = SqlIdempotency::new(&db);
    let audit = SqlAudit::new(&db);
    outbox.create_table().await.unwrap();
    idempotency.create_table().await.unwrap();
    audit.create_table().await.unwrap();
    Stores {
        name,
        outbox: Arc::new(outbox),
        idempotency: Arc::new(idempotency),
        audit: Arc::new(audit),
        begin: Some(Box::new(move || {
            let db = db.clone();
            Box::pin(async move { wrap(db.begin().await.unwrap()) })
        })),
    }
}

static PG: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn all() -> Vec<Stores> {
    let mut all = vec![Stores {
        name: "memory",
        outbox: Arc::new(MemoryOutbox::new()),
        idempotency: Arc::new(MemoryIdempotency::new()),
        audit: Arc::new(MemoryAudit::new()),
        begin: None,
    }];
    let path = std::env::temp_dir().join(format!("manifest-records-{}.db", uuid::Uuid::now_v7()));
    all.push(sql("sqlite", SqliteDb::open(&path).await.unwrap(), Txn::Sqlite).await);
    match std::env::var("MANIFEST_PG_URL") {
        Ok(url) => {
            let _once = PG.lock().await;
            all.push(
                sql(
                    "postgres",
                    PgDb::connect(&url).await.unwrap(),
                    Txn::Postgres,
                )
                .await,
            );
        }
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but MANIFEST_PG_URL is not set")
        }
        Err(_) => eprintln!("PostgreSQL skipped: MANIFEST_PG_URL is not set"),
    }
    all
}

fn entry(tenant: &str, id: &str) -> OutboxEntry {
    OutboxEntry::new(
        id,
        tenant,
        "deposit",
        OutboxEvent::new("Deposited", "bank", Map::new(), json!(1)),
        5,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_are_written_together_or_not_at_all() {
    for stores in all().await {
        let tenant = format!("t-{}", uuid::Uuid::now_v7());
        let name = stores.name;
        let entries = [
            entry(&tenant, &format!("{tenant}-e1")),
            entry(&tenant, &format!("{tenant}-e2")),
        ];
        let record =
            IdempotencyRecord::new(&tenant, "k1", "fp", json!({"success": true}), 5, 1_000);
        let audit = [AuditRecord::new(
            format!("{tenant}-a1"),
            5,
            &tenant,
            "deposit",
            AuditOutcome::Success,
        )];
        let mut records = CommandRecords::default();
        records.outbox = Some((&*stores.outbox, &entries));
        records.idempotency = Some((&*stores.idempotency, &record, 5));
        records.audit = Some((&*stores.audit, &audit));
        // In a transaction that commits (none on memory).
        let txn = match &stores.begin {
            Some(begin) => Some(begin().await),
            None => None,
        };
        let tx = txn.as_ref().map(Txn::tx);
        assert!(records.write(tx.as_ref()).await.unwrap(), "{name}");
        if let Some(txn) = txn {
            txn.commit().await;
        }
        assert_eq!(
            stores.outbox.entries(&tenant).await.unwrap().len(),
            2,
            "{name}"
        );
        assert!(
            stores
                .idempotency
                .get(None, &tenant, "k1", 6)
                .await
                .unwrap()
                .is_some(),
            "{name}"
        );
        assert_eq!(
            stores.audit.records(&tenant, 10).await.unwrap().len(),
            1,
            "{name}"
        );
        // The key again: `false`.
        let again = [entry(&tenant, &format!("{tenant}-e3"))];
        let audit2 = [AuditRecord::new(
            format!("{tenant}-a2"),
            6,
            &tenant,
            "deposit",
            AuditOutcome::Success,
        )];
        let mut second = CommandRecords::default();
        second.outbox = Some((&*stores.outbox, &again));
        second.idempotency = Some((&*stores.idempotency, &record, 6));
        second.audit = Some((&*stores.audit, &audit2));
        let txn = match &stores.begin {
            Some(begin) => Some(begin().await),
            None => None,
        };
        let tx = txn.as_ref().map(Txn::tx);
        assert!(
            !second.write(tx.as_ref()).await.unwrap(),
            "{name}: the key is taken"
        );
        if let Some(txn) = txn {
            // The caller rolls back: nothing of the second call stays.
            txn.rollback().await;
            assert_eq!(
                stores.outbox.entries(&tenant).await.unwrap().len(),
                2,
                "{name}"
            );
            assert_eq!(
                stores.audit.records(&tenant, 10).await.unwrap().len(),
                1,
                "{name}"
            );
        }
        // Without a key: the entries and the audit record.
        let mut third = CommandRecords::default();
        third.outbox = Some((&*stores.outbox, &again));
        third.audit = Some((&*stores.audit, &audit2));
        let txn = match &stores.begin {
            Some(begin) => Some(begin().await),
            None => None,
        };
        let tx = txn.as_ref().map(Txn::tx);
        assert!(third.write(tx.as_ref()).await.unwrap(), "{name}");
        if let Some(txn) = txn {
            txn.commit().await;
        }
        assert_eq!(
            stores.outbox.entries(&tenant).await.unwrap().len(),
            3,
            "{name}"
        );
        assert_eq!(
            stores.audit.records(&tenant, 10).await.unwrap().len(),
            2,
            "{name}"
        );
    }
}
