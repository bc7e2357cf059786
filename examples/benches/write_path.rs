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
use manifest_core::{Backend, IdempotencyRecord, IdempotencyStore, SqlDb, Tx};
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

/// An idempotency store behind a wrapper that `CommandRecords` does not recognise as SQL, so
/// that the records are written one call per store (the configuration that shows what the
/// one-statement path saves).
#[derive(Debug)]
struct OneCallEach(Arc<dyn IdempotencyStore>);

#[async_trait::async_trait]
impl IdempotencyStore for OneCallEach {
    async fn get(
        &self,
        tx: Option<&Tx>,
        tenant: &str,
        key: &str,
        now: i64,
    ) -> manifest_core::Result<Option<IdempotencyRecord>> {
        self.0.get(tx, tenant, key, now).await
    }

    async fn insert(
        &self,
        tx: Option<&Tx>,
        record: &IdempotencyRecord,
        now: i64,
    ) -> manifest_core::Result<bool> {
        self.0.insert(tx, record, now).await
    }

    async fn purge_expired(&self, now: i64) -> manifest_core::Result<u64> {
        self.0.purge_expired(now).await
    }
}

/// One configuration of the write path.
struct Config {
    label: &'static str,
    write: WritePath,
    /// Whether each call has an idempotency key (fresh ones, or `replay`'s).
    keyed: bool,
    /// Whether the calls repeat the keys of the configuration before (answered from records).
    replay: bool,
    /// The reference's workload beside it (`bench-write-path.mjs`), if any.
    reference: &'static str,
}

/// One backend's database and its configurations.
struct Setup {
    name: &'static str,
    database: Database,
    configs: Vec<Config>,
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
    let (outbox, idempotency, audit) = (Arc::new(outbox), Arc::new(idempotency), Arc::new(audit));
    let full = WritePath::builder()
        .outbox(outbox.clone())
        .idempotency(idempotency.clone())
        .audit(audit.clone())
        .build();
    let config = |label, write, keyed, replay, reference| Config {
        label,
        write,
        keyed,
        replay,
        reference,
    };
    // Beside the rows, the reference's closest: `tx` (its PostgresStore in its
    // PostgresTransactionProvider) and `fullNoIdem` (with its outbox and audit sink: with its
    // idempotency store too its reactions fail, so that row would do less work).
    let configs = vec![
        config(
            "bare (one transaction per call)",
            WritePath::default(),
            false,
            false,
            "tx",
        ),
        config(
            "outbox only",
            WritePath::builder().outbox(outbox.clone()).build(),
            false,
            false,
            "",
        ),
        config(
            "idempotency key only",
            WritePath::builder()
                .idempotency(idempotency.clone())
                .build(),
            true,
            false,
            "",
        ),
        config(
            "audit only",
            WritePath::builder().audit(audit.clone()).build(),
            false,
            false,
            "",
        ),
        config(
            "full: outbox + idempotency key + audit",
            full.clone(),
            true,
            false,
            "fullNoIdem",
        ),
        config("full, the same keys again (replays)", full, true, true, ""),
        config(
            "full, records written one call per store",
            WritePath::builder()
                .outbox(outbox)
                .idempotency(Arc::new(OneCallEach(idempotency)))
                .audit(audit)
                .build(),
            true,
            false,
            "",
        ),
    ];
    Setup {
        name,
        database: db.into(),
        configs,
    }
}

/// One round of `n` timed calls (after `warmup`) of each configuration, in a fresh tenant:
/// their ops/s.
async fn round(setup: &Setup, program: &Arc<Program>, n: usize, warmup: usize) -> Vec<f64> {
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
    let mut rates = Vec::new();
    let mut ran = 0;
    for (slot, config) in setup.configs.iter().enumerate() {
        let engine = engine(config.write.clone());
        // A replay repeats the keys of the configuration before it.
        let keys = if config.replay { slot - 1 } else { slot };
        let key = |i: usize| config.keyed.then(|| format!("k{keys}-{i}"));
        if !config.replay {
            for i in 0..warmup {
                deposit(&engine, key(n + i)).await;
            }
            ran += n + warmup;
        }
        let start = Instant::now();
        for i in 0..n {
            deposit(&engine, key(i)).await;
        }
        rates.push(per_sec(n, start));
    }
    let balance = bare
        .get_instance("Account", "a1")
        .await
        .expect("read")
        .expect("a1")["balance"]
        .clone();
    assert_eq!(balance, json!(ran), "every call but the replays ran once");
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
            let mut all = vec![Vec::new(); setup.configs.len()];
            for _ in 0..rounds {
                let rates = round(setup, &program, n, warmup).await;
                for (slot, rate) in rates.into_iter().enumerate() {
                    all[slot].push(rate);
                }
            }
            let medians: Vec<f64> = all.into_iter().map(median).collect();
            for (config, ours) in setup.configs.iter().zip(&medians) {
                let theirs = (setup.name == "PostgreSQL" && !config.reference.is_empty())
                    .then(|| {
                        reference
                            .as_ref()?
                            .get(config.reference)?
                            .get("median")?
                            .as_f64()
                    })
                    .flatten();
                let (theirs, ratio) = match theirs {
                    Some(t) => (fmt_rate(t), format!("{:.1}x", ours / t)),
                    None => ("-".to_owned(), "-".to_owned()),
                };
                println!(
                    "| {} | {} | {} | {:.1} | {:.2} | {theirs} | {ratio} |",
                    setup.name,
                    config.label,
                    fmt_rate(*ours),
                    1e6 / ours,
                    medians[0] / ours,
                );
            }
        }
    });
}
