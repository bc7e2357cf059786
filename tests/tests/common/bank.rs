//! The bank fixture of `write_path.rs`: the program of `tests/write-path/bank.manifest` on one
//! backend (memory, a SQLite file, PostgreSQL) with that backend's outbox, idempotency store and
//! audit sink.

use std::sync::Arc;

use manifest_core::audit::{MemoryAudit, SqlAudit};
use manifest_core::idempotency::{MemoryIdempotency, SqlIdempotency};
use manifest_core::outbox::{MemoryOutbox, SqlOutbox};
use manifest_core::{AuditSink, IdempotencyStore, OutboxStore, PgDb, SqliteDb};
use manifest_runtime::{
    CommandOptions, Database, Engine, Ir, MemoryDb, Program, RuntimeError, WritePath,
    WritePathBuilder,
};
use serde_json::{Map, Value as Json, json};

const BANK: &str = include_str!("../../write-path/bank.ir.json");

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Memory,
    Sqlite,
    Postgres,
}

/// One backend: the engine's database and the write-path stores on it.
pub struct Bank {
    pub kind: Kind,
    pub program: Arc<Program>,
    pub database: Database,
    pub outbox: Arc<dyn OutboxStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub audit: Arc<dyn AuditSink>,
    pub tenant: String,
}

fn program() -> Arc<Program> {
    Arc::new(Program::new(Ir::from_json_str(BANK).expect("bank IR")))
}

fn pg_url() -> Option<String> {
    match std::env::var("MANIFEST_PG_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh")
        }
        Err(_) => {
            eprintln!("PostgreSQL skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
            None
        }
    }
}

/// PostgreSQL's tables are created once per process, one test at a time.
static PG_SCHEMA: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

pub async fn sqlite_file() -> SqliteDb {
    let path =
        std::env::temp_dir().join(format!("manifest-write-path-{}.db", uuid::Uuid::now_v7()));
    SqliteDb::open(&path).await.expect("open SQLite")
}

impl Bank {
    pub async fn new(kind: Kind) -> Option<Bank> {
        let program = program();
        let tenant = format!("t-{}", uuid::Uuid::now_v7());
        let bank = match kind {
            Kind::Memory => Bank {
                kind,
                program,
                database: MemoryDb::new().into(),
                outbox: Arc::new(MemoryOutbox::new()),
                idempotency: Arc::new(MemoryIdempotency::new()),
                audit: Arc::new(MemoryAudit::new()),
                tenant,
            },
            Kind::Sqlite => {
                let db = sqlite_file().await;
                let outbox = SqlOutbox::new(&db);
                let idempotency = SqlIdempotency::new(&db);
                let audit = SqlAudit::new(&db);
                outbox.create_table().await.unwrap();
                idempotency.create_table().await.unwrap();
                audit.create_table().await.unwrap();
                Bank {
                    kind,
                    program,
                    database: db.into(),
                    outbox: Arc::new(outbox),
                    idempotency: Arc::new(idempotency),
                    audit: Arc::new(audit),
                    tenant,
                }
            }
            Kind::Postgres => {
                let db = PgDb::connect(&pg_url()?).await.expect("connect");
                let outbox = SqlOutbox::new(&db);
                let idempotency = SqlIdempotency::new(&db);
                let audit = SqlAudit::new(&db);
                let mut created = PG_SCHEMA.lock().await;
                if !*created {
                    outbox.create_table().await.unwrap();
                    idempotency.create_table().await.unwrap();
                    audit.create_table().await.unwrap();
                }
                let bank = Bank {
                    kind,
                    program,
                    database: db.into(),
                    outbox: Arc::new(outbox),
                    idempotency: Arc::new(idempotency),
                    audit: Arc::new(audit),
                    tenant,
                };
                if !*created {
                    bank.engine(WritePath::default()).prepare().await.unwrap();
                    *created = true;
                }
                return Some(bank);
            }
        };
        bank.engine(WritePath::default()).prepare().await.unwrap();
        Some(bank)
    }

    /// Every backend this run has.
    pub async fn all() -> Vec<Bank> {
        let mut all = Vec::new();
        for kind in [Kind::Memory, Kind::Sqlite, Kind::Postgres] {
            if let Some(bank) = Bank::new(kind).await {
                all.push(bank);
            }
        }
        all
    }

    /// A write path with this backend's outbox, idempotency store and audit sink.
    pub fn full(&self) -> WritePathBuilder {
        WritePath::builder()
            .outbox(self.outbox.clone())
            .idempotency(self.idempotency.clone())
            .audit(self.audit.clone())
    }

    pub fn engine(&self, write: WritePath) -> Engine {
        self.engine_for(&self.tenant, write)
    }

    pub fn engine_for(&self, tenant: &str, write: WritePath) -> Engine {
        Engine::builder(self.program.clone())
            .tenant(tenant)
            .context(json!({"user": {"id": "u1", "role": "teller"}}))
            .database(self.database.clone())
            .clock(|| 1_000_000.0)
            .write_path(write)
            .build()
            .expect("engine")
    }

    pub async fn open_account(&self, engine: &Engine, id: &str) {
        engine
            .create_instance("Account", object(json!({"id": id})))
            .await
            .unwrap();
        engine
            .create_instance("Ledger", object(json!({"id": id})))
            .await
            .unwrap();
    }

    pub async fn field(&self, engine: &Engine, entity: &str, id: &str, field: &str) -> Json {
        engine.get_instance(entity, id).await.unwrap().unwrap()[field].clone()
    }

    pub async fn events(&self) -> Vec<String> {
        self.outbox
            .entries(&self.tenant)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event.name)
            .collect()
    }
}

pub fn object(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// An outbox entry's event, command, entity, instance and causation.
pub type Subject<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

pub async fn deposit(
    engine: &Engine,
    id: &str,
    amount: f64,
    options: CommandOptions,
) -> Result<manifest_runtime::CommandResult, RuntimeError> {
    let _ = id;
    engine
        .run_command("deposit", object(json!({"amount": amount})), options)
        .await
}
