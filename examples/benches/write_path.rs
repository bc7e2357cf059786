//! What the whole write path costs: `Engine::run_command` of `Account.deposit` (guard, two
//! mutates, `emit Deposited`, and the reaction `Ledger.record`: guard, two mutates, `emit
//! Recorded`), the program of `tests/write-path/bank.manifest`, on a SQLite file and on
//! PostgreSQL, in three configurations per round:
//!
//! - `bare`: the engine on the database, no write path (each call still one transaction);
//! - `full`: outbox (two entries a call), an idempotency key (a fresh one each call, so every
//!   call runs and records), and the audit sink, all SQL stores on the same database;
//! - `full + replay`: the same keys again, each answered from its record.
//!
//! Sequential awaits on a current-thread tokio runtime; one pre-created Account and Ledger;
//! N timed calls after a warm-up; the median of ROUNDS rounds. The table gives ops/s, µs/op,
//! and `full`'s time over `bare`'s. With `BENCH_REFERENCE_WP` (the JSON of
//! `scripts/reference-bench/bench-write-path.mjs`), the reference's figures on the same
//! PostgreSQL server go beside ours.
//!
//! Env: `BENCH_WP_N` (calls per round, 2,000), `BENCH_WP_ROUNDS` (5), `BENCH_WP_WARMUP` (100),
//! `MANIFEST_PG_URL` (PostgreSQL; left out when unset), `BENCH_WP_ONLY` (`sqlite` or
//! `postgres`). `scripts/bench-write-path.sh` runs it with the reference; see BENCHMARKS.md.

#[path = "common/mod.rs"]
mod common;
use common::{env_usize, fmt_rate, median, per_sec};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use manifest_core::audit::SqlAudit;
use manifest_core::idempotency::SqlIdempotency;
use manifest_core::outbox::SqlOutbox;
use manifest_core::{Backend, SqlDb};
use manifest_runtime::{CommandOptions, Database, Engine, Ir, Program, WritePath};
use serde_json::{Map, Value as Json, json};

fn program() -> Arc<Program> {
    let text = include_str!("../../tests/write-path/bank.ir.json");
    Arc::new(Program::new(Ir::from_json_str(text).expect("bank IR")))
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

/// One backend's database and its write path.
struct Setup {
    name: &'static str,
    database: Database,
    full: WritePath,
}

async fn setup<DB: Backend>(name: &'static str, db: SqlDb<DB>) -> Setup
where
    Database: From<SqlDb<DB>>,
{
    let outbox = SqlOutbox::new(&db);
    let idempotency = SqlIdempotency::new(&db);
    let audit = SqlAudit::new(&db);
    outbox.create_table().await.expect("outbox table");
    idempotency.create_table().await.expect("idempotency table");
    audit.create_table().await.expect("audit table");
    let full = WritePath::builder()
        .outbox(Arc::new(outbox))
        .idempotency(Arc::new(idempotency))
        .audit(Arc::new(audit))
        .build();
    Setup {
        name,
        database: db.into(),
        full,
    }
}

/// One round of `n` timed calls (after `warmup`) in a fresh tenant: ops/s of `bare`, `full`,
/// and `full` replayed.
async fn round(setup: &Setup, program: &Arc<Program>, n: usize, warmup: usize) -> [f64; 3] {
    static ROUND: AtomicU64 = AtomicU64::new(0);
    let tenant = format!(
        "wp-{}-{}",
        std::process::id(),
        ROUND.fetch_add(1, Ordering::Relaxed)
    );
    let engine = |write: WritePath| {
        Engine::builder(program.clone())
            .tenant(tenant.as_str())
            .database(setup.database.clone())
            .write_path(write)
            .build()
            .expect("engine")
    };
    let bare = engine(WritePath::default());
    bare.prepare().await.expect("prepare");
    for entity in ["Account", "Ledger"] {
        bare.create_instance(entity, object(json!({"id": "a1"})))
            .await
            .expect("create");
    }
    let mut rates = [0.0; 3];
    let full = engine(setup.full.clone());
    for (slot, rate) in rates.iter_mut().enumerate() {
        let engine = if slot == 0 { &bare } else { &full };
        let key = |i: usize| (slot > 0).then(|| format!("k-{i}"));
        if slot < 2 {
            for i in 0..warmup {
                deposit(engine, key(n + i).map(|k| format!("w{slot}-{k}"))).await;
            }
        }
        let start = Instant::now();
        for i in 0..n {
            deposit(engine, key(i)).await;
        }
        *rate = per_sec(n, start);
    }
    let balance = bare
        .get_instance("Account", "a1")
        .await
        .expect("read")
        .expect("a1")["balance"]
        .clone();
    let calls = 2 * (n + warmup) as u64;
    assert_eq!(balance, json!(calls), "every call but the replays ran once");
    rates
}

/// One `deposit(amount: 1)` on `a1`, with the idempotency key `key` if given.
async fn deposit(engine: &Engine, key: Option<String>) {
    let mut options = CommandOptions::on("Account", "a1");
    if let Some(key) = key {
        options = options.idempotency_key(key);
    }
    let result = engine
        .run_command("deposit", object(json!({"amount": 1})), options)
        .await
        .expect("run_command");
    assert!(result.success, "{result:?}");
}

/// The reference's figures (`bench-write-path.mjs` with `BENCH_JSON`), if given.
fn reference() -> Option<Json> {
    let path = std::env::var("BENCH_REFERENCE_WP").ok()?;
    let text = std::fs::read_to_string(&path).ok()?;
    serde_json::from_str(&text).ok()
}

fn main() {
    let n = env_usize("BENCH_WP_N", 2_000);
    let rounds = env_usize("BENCH_WP_ROUNDS", 5).max(1);
    let warmup = env_usize("BENCH_WP_WARMUP", 100);
    let only = std::env::var("BENCH_WP_ONLY").unwrap_or_default();
    let runs = |store: &str| only.is_empty() || only.eq_ignore_ascii_case(store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let program = program();
        let mut setups = Vec::new();
        if runs("sqlite") {
            let path =
                std::env::temp_dir().join(format!("manifest-bench-wp-{}.db", std::process::id()));
            let db = manifest_core::SqliteDb::open(&path).await.expect("SQLite");
            setups.push(setup("SQLite (file, WAL)", db).await);
        }
        if runs("postgres") {
            match std::env::var("MANIFEST_PG_URL") {
                Ok(url) => {
                    let db = manifest_core::PgDb::connect(&url)
                        .await
                        .expect("PostgreSQL");
                    setups.push(setup("PostgreSQL", db).await);
                }
                Err(_) => eprintln!("MANIFEST_PG_URL is not set: PostgreSQL left out"),
            }
        }
        let reference = reference();
        println!(
            "N = {n} calls per round, warm-up {warmup}, {rounds} rounds, median ops/s; \
             Account.deposit + its reaction Ledger.record (tests/write-path/bank.manifest)"
        );
        println!();
        println!(
            "| store | configuration | ops/s | µs/op | time / bare | reference ops/s | speed-up |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
        for setup in &setups {
            let mut all = [Vec::new(), Vec::new(), Vec::new()];
            for _ in 0..rounds {
                let rates = round(setup, &program, n, warmup).await;
                for (slot, rate) in rates.into_iter().enumerate() {
                    all[slot].push(rate);
                }
            }
            let medians: Vec<f64> = all.into_iter().map(median).collect();
            // Beside each row, the reference's closest: `tx` (PostgresStore in its
            // PostgresTransactionProvider) and `fullNoIdem` (with its outbox and audit sink;
            // with its idempotency store too its reactions fail, so that row does less work).
            let labels = [
                ("bare (one transaction per call)", "tx"),
                ("full: outbox + idempotency key + audit", "fullNoIdem"),
                ("full, replayed keys", ""),
            ];
            for (slot, (label, key)) in labels.iter().enumerate() {
                let theirs = (setup.name == "PostgreSQL")
                    .then(|| reference.as_ref()?.get(*key)?.get("median")?.as_f64())
                    .flatten();
                let (theirs, ratio) = match theirs {
                    Some(t) => (fmt_rate(t), format!("{:.1}x", medians[slot] / t)),
                    None => ("-".to_owned(), "-".to_owned()),
                };
                println!(
                    "| {} | {label} | {} | {:.1} | {:.2} | {theirs} | {ratio} |",
                    setup.name,
                    fmt_rate(medians[slot]),
                    1e6 / medians[slot],
                    medians[0] / medians[slot],
                );
            }
        }
    });
}
