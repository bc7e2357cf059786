//! The process the crash test (`tests/tests/crash.rs`) kills with SIGKILL: it runs `deposit`
//! commands with the whole write path on (outbox, idempotency key, audit) on a SQLite file or
//! a PostgreSQL database, printing `ack <n>` once command `n` has returned success, while an
//! outbox worker delivers entries by appending their ids to a file.
//!
//! Usage: `crash_child <sqlite|postgres> <path-or-url> <tenant> <first> <delivered-file>`.
//! Command `n` is `deposit(amount: 1)` on `Account a1` with the idempotency key and
//! correlation id `k<n>`; it runs `first`, `first + 1`, ... until killed.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use manifest_core::audit::SqlAudit;
use manifest_core::idempotency::SqlIdempotency;
use manifest_core::outbox::SqlOutbox;
use manifest_core::{AuditSink, IdempotencyStore, OutboxEntry, OutboxStore, PgDb, SqliteDb};
use manifest_runtime::worker::{Deliver, DeliveryError, OutboxWorker};
use manifest_runtime::{CommandOptions, Database, Engine, Ir, Program, WritePath};
use serde_json::json;

/// Appends each delivered entry's id to a file, one line per delivery (one `write` each, with
/// `O_APPEND`, so a kill never leaves half a line).
struct AppendIds(std::sync::Mutex<std::fs::File>);

#[async_trait]
impl Deliver for AppendIds {
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        let line = format!("{}\n", entry.id);
        let mut file = self.0.lock().map_err(|_| DeliveryError::new("poisoned"))?;
        file.write_all(line.as_bytes())
            .map_err(|e| DeliveryError::new(e.to_string()))
    }
}

type Stores = (
    Database,
    Arc<dyn OutboxStore>,
    Arc<dyn IdempotencyStore>,
    Arc<dyn AuditSink>,
);

async fn open(backend: &str, url: &str) -> Stores {
    match backend {
        "sqlite" => {
            let db = SqliteDb::open(url).await.expect("open SQLite");
            (
                db.clone().into(),
                Arc::new(SqlOutbox::new(&db)),
                Arc::new(SqlIdempotency::new(&db)),
                Arc::new(SqlAudit::new(&db)),
            )
        }
        "postgres" => {
            let db = PgDb::connect(url).await.expect("connect");
            (
                db.clone().into(),
                Arc::new(SqlOutbox::new(&db)),
                Arc::new(SqlIdempotency::new(&db)),
                Arc::new(SqlAudit::new(&db)),
            )
        }
        other => panic!("unknown backend {other}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, backend, url, tenant, first, delivered] = args.as_slice() else {
        eprintln!(
            "usage: crash_child <sqlite|postgres> <path-or-url> <tenant> <first> <delivered-file>"
        );
        std::process::exit(2);
    };
    let first: u64 = first.parse().expect("first");
    let (database, outbox, idempotency, audit) = open(backend, url).await;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(delivered)
        .expect("open the delivered file");
    let worker = OutboxWorker::builder(outbox.clone(), Arc::new(AppendIds(file.into())))
        .batch_size(20)
        .lease(Duration::from_secs(60))
        .poll_interval(Duration::from_millis(5))
        .build();
    tokio::spawn(async move { worker.run(std::future::pending::<()>()).await });
    let program = Arc::new(Program::new(
        Ir::from_json_str(include_str!("../../write-path/bank.ir.json")).expect("IR"),
    ));
    let write = WritePath::builder()
        .outbox(outbox)
        .idempotency(idempotency)
        .audit(audit)
        .build();
    let mut out = std::io::stdout().lock();
    for n in first.. {
        let engine = Engine::builder(program.clone())
            .tenant(tenant.as_str())
            .database(database.clone())
            .write_path(write.clone())
            .build()
            .expect("engine");
        let key = format!("k{n}");
        let options = CommandOptions::on("Account", "a1")
            .idempotency_key(key.as_str())
            .correlation_id(key.as_str())
            .request_id(key.as_str());
        let input = match json!({"amount": 1}) {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        match engine.run_command("deposit", input, options).await {
            Ok(result) if result.success => {
                writeln!(out, "ack {n}").expect("stdout");
                out.flush().expect("stdout");
            }
            other => {
                eprintln!("command {n} failed: {other:?}");
                std::process::exit(1);
            }
        }
    }
}
