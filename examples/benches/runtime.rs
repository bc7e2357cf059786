//! Throughput of the runtime engine (`Engine::run_command` and `create_instance`) on the
//! workloads of the reference runtime's harness (`scripts/reference-bench/bench.mjs`), on the
//! memory store, and on the JSON-document store on SQLite and PostgreSQL through
//! `EngineBuilder::store_provider`. Prints a Markdown table of medians.
//!
//! The workloads, exactly as `bench.mjs` runs them:
//! - `run_command(increment)`: IR of fixture 04 (`mutate value = value + 1`, `emit
//!   CounterIncremented`), empty context, one engine per round, one instance
//!   `{id: "c1", value: 0}`, a warm-up, then N timed calls; the final value is checked.
//! - `run_command(makePublic)`: IR of fixture 06, context `{user: {id: "admin-1", role:
//!   "admin"}}` (its first case), so the global `execute` policy passes, then `mutate isPublic =
//!   true` and `emit DocumentPublished`; instance `{id: "d1", title: "T"}`.
//! - `create_instance`: IR of fixture 04, `{id: "c-<i>", value: i}`, fresh ids, one engine per
//!   round.
//!
//! Ids come from a counter (`id-1`, `id-2`, …) and the clock counts up from 10^12 by 1 ms a
//! call, as in `bench.mjs`. Sequential awaits on a current-thread tokio runtime.
//!
//! Env: `BENCH_RT_N` (memory operations per round, 100,000), `BENCH_RT_ROUNDS` (5),
//! `BENCH_RT_WARMUP` (2,000), `BENCH_RT_SQL_N` (SQL operations per round, 5,000),
//! `BENCH_RT_SQL_WARMUP` (200), `BENCH_RT_ONLY` (`memory`, `sqlite` or `postgres`: run that
//! store only), `BENCH_RT_WORKLOADS` (keys of the workloads to run, comma-separated:
//! `increment`, `makePublic`, `createInstance`; for profiling), `MANIFEST_PG_URL` (PostgreSQL;
//! left out when unset), `BENCH_REFERENCE` (a JSON file written by `bench.mjs` with
//! `BENCH_JSON`: the reference's medians go beside our memory rows, with the speed-up),
//! `BENCH_REFERENCE_PG` (the same from `bench-pg.mjs`, the reference on its own
//! `PostgresStore` on the same server: beside our PostgreSQL rows, held connection and pool).
//! `scripts/bench-runtime.sh` runs both; see BENCHMARKS.md.

#[path = "common/mod.rs"]
mod common;
use common::{env_usize, fmt_rate, median, per_sec};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use manifest_core::{Backend, EntityInstance, IdGenerator, PgDb, SqlDb, SqliteDb, Store};
use manifest_runtime::{CommandOptions, Engine, Ir, StoreProvider};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

/// The workloads: (label, key in the reference's JSON).
const WORKLOADS: [(&str, &str); 3] = [
    ("run_command: increment (fixture 04)", "increment"),
    (
        "run_command: makePublic, policy + mutate + emit (fixture 06)",
        "makePublic",
    ),
    ("create_instance (fixture 04)", "createInstance"),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/fixtures")
}

fn load_ir(name: &str) -> Ir {
    let path = fixtures().join(format!("{name}.ir.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Ir::from_json_str(&text).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// An engine with `bench.mjs`'s options: ids `id-1`, `id-2`, …; the clock counts up from
/// 10^12.
fn engine(ir: &Ir, provider: Option<(String, Arc<dyn StoreProvider>)>, context: Json) -> Engine {
    let ids = Arc::new(AtomicU64::new(0));
    let tick = Arc::new(AtomicU64::new(0));
    let mut builder = Engine::builder(ir.clone())
        .context(context)
        .clock(move || 1_000_000_000_000.0 + tick.fetch_add(1, Ordering::Relaxed) as f64)
        .id_generator(IdGenerator::from_fn(move || {
            format!("id-{}", ids.fetch_add(1, Ordering::Relaxed) + 1)
        }));
    if let Some((tenant, provider)) = provider {
        builder = builder.tenant(tenant).store_provider_arc(provider);
    }
    builder.build().expect("engine")
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

/// Where the engine keeps its instances.
#[derive(Clone)]
enum Stores {
    Memory,
    Sqlite(SqlDb<manifest_core::sqlx::Sqlite>, Conn),
    Postgres(SqlDb<manifest_core::sqlx::Postgres>, Conn),
}

#[derive(Clone, Copy)]
enum Conn {
    /// One connection held (`SqlDb::acquire`) for the engine's whole life.
    Held,
    /// Every statement through the pool.
    Pool,
}

impl Stores {
    fn name(&self) -> &'static str {
        match self {
            Stores::Memory => "memory",
            Stores::Sqlite(..) => "SQLite",
            Stores::Postgres(..) => "PostgreSQL",
        }
    }

    fn conn(&self) -> &'static str {
        match self {
            Stores::Memory => "-",
            Stores::Sqlite(_, Conn::Held) | Stores::Postgres(_, Conn::Held) => "held connection",
            Stores::Sqlite(_, Conn::Pool) | Stores::Postgres(_, Conn::Pool) => "pool",
        }
    }

    /// A store provider giving every entity its document store for a tenant of its own (so
    /// rounds never see each other's rows); `None` for the built-in memory store.
    async fn provider(&self) -> Option<(String, Arc<dyn StoreProvider>)> {
        let tenant = format!("bench-{}", Uuid::new_v4().simple());
        let provider = match self {
            Stores::Memory => return None,
            Stores::Sqlite(db, conn) => sql_provider(db, *conn, tenant.clone()).await,
            Stores::Postgres(db, conn) => sql_provider(db, *conn, tenant.clone()).await,
        };
        Some((tenant, provider))
    }

    async fn prepare(&self) {
        for entity in ["Counter", "Document"] {
            match self {
                Stores::Memory => {}
                Stores::Sqlite(db, _) => db.create_document_table(entity).await.expect("table"),
                Stores::Postgres(db, _) => db.create_document_table(entity).await.expect("table"),
            }
        }
    }
}

async fn sql_provider<DB: Backend>(
    db: &SqlDb<DB>,
    conn: Conn,
    tenant: String,
) -> Arc<dyn StoreProvider> {
    match conn {
        Conn::Held => {
            let session = Arc::new(db.acquire().await.expect("acquire"));
            Arc::new(move |entity: &str, _: &str| {
                let store: Arc<dyn Store<EntityInstance>> = Arc::new(
                    session
                        .document_store(entity, tenant.as_str())
                        .expect("document store"),
                );
                Some(store)
            })
        }
        Conn::Pool => {
            let db = db.clone();
            Arc::new(move |entity: &str, _: &str| {
                let store: Arc<dyn Store<EntityInstance>> = Arc::new(
                    db.document_store(entity, tenant.as_str())
                        .expect("document store"),
                );
                Some(store)
            })
        }
    }
}

/// One round of a command workload: a fresh engine, one instance, `warmup` calls, `n` timed.
#[allow(clippy::too_many_arguments)]
async fn command_round(
    stores: &Stores,
    ir: &Ir,
    context: Json,
    entity: &str,
    instance: Json,
    command: &str,
    n: usize,
    warmup: usize,
) -> (f64, Engine) {
    let engine = engine(ir, stores.provider().await, context);
    let id = instance["id"].as_str().expect("id").to_owned();
    engine
        .create_instance(entity, object(instance))
        .await
        .expect("create");
    let on = CommandOptions::on(entity, id.as_str());
    for _ in 0..warmup {
        let r = engine
            .run_command(command, Map::new(), on.clone())
            .await
            .expect("run");
        assert!(r.success, "{command} failed: {:?}", r.error);
    }
    let start = Instant::now();
    for _ in 0..n {
        let r = engine
            .run_command(command, Map::new(), on.clone())
            .await
            .expect("run");
        assert!(r.success, "{command} failed: {:?}", r.error);
    }
    (per_sec(n, start), engine)
}

async fn increment_round(stores: &Stores, ir: &Ir, n: usize, warmup: usize) -> f64 {
    let instance = json!({"id": "c1", "value": 0});
    let (rate, engine) = command_round(
        stores,
        ir,
        json!({}),
        "Counter",
        instance,
        "increment",
        n,
        warmup,
    )
    .await;
    let inst = engine.get_instance("Counter", "c1").await.expect("get");
    let value = inst.as_ref().and_then(|i| i["value"].as_f64());
    assert_eq!(value, Some((warmup + n) as f64), "final value");
    rate
}

async fn make_public_round(stores: &Stores, ir: &Ir, n: usize, warmup: usize) -> f64 {
    let context = json!({"user": {"id": "admin-1", "role": "admin"}});
    let instance = json!({"id": "d1", "title": "T"});
    let (rate, engine) = command_round(
        stores,
        ir,
        context,
        "Document",
        instance,
        "makePublic",
        n,
        warmup,
    )
    .await;
    let inst = engine.get_instance("Document", "d1").await.expect("get");
    assert_eq!(inst.as_ref().map(|i| &i["isPublic"]), Some(&json!(true)));
    rate
}

async fn create_round(stores: &Stores, ir: &Ir, n: usize, warmup: usize) -> f64 {
    let engine = engine(ir, stores.provider().await, json!({}));
    for i in 0..warmup {
        let data = object(json!({"id": format!("w-{i}"), "value": i}));
        let created = engine
            .create_instance("Counter", data)
            .await
            .expect("create");
        assert!(!created.id().is_empty());
    }
    let start = Instant::now();
    for i in 0..n {
        let data = object(json!({"id": format!("c-{i}"), "value": i}));
        let created = engine
            .create_instance("Counter", data)
            .await
            .expect("create");
        assert!(!created.id().is_empty());
    }
    per_sec(n, start)
}

/// The reference's medians by workload key, from `bench.mjs`'s (or `bench-pg.mjs`'s) JSON; and
/// its description.
struct Reference {
    medians: Map<String, Json>,
    about: String,
    /// Lines printed under the table (`bench-pg.mjs`: what its store does, the statements per
    /// operation, the runs with its transaction provider).
    notes: Vec<String>,
}

/// The reference's figures from the JSON file named by the environment variable `var`
/// (`BENCH_REFERENCE`: memory, `BENCH_REFERENCE_PG`: its `PostgresStore`).
fn reference(var: &str) -> Option<Reference> {
    let path = std::env::var(var).ok()?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{var}={path}: {e}"));
    let json: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{var}: JSON: {e}"));
    let on = match json["postgres"].as_str() {
        Some(server) => format!(
            " with its PostgresStore (pg {}) on PostgreSQL {server}",
            json["pg"].as_str().unwrap_or("?")
        ),
        None => String::new(),
    };
    let about = format!(
        "reference: @angriff36/manifest {}{on} on node {}, N = {}, {} runs, warm-up {}",
        json["version"].as_str().unwrap_or("?"),
        json["node"].as_str().unwrap_or("?"),
        json["n"],
        json["runs"],
        json["warmup"]
    );
    let medians = WORKLOADS
        .iter()
        .map(|(_, key)| ((*key).to_owned(), json[key]["median"].clone()))
        .collect();
    let mut notes = Vec::new();
    if let Some(store) = json["store"].as_str() {
        let statements = WORKLOADS
            .iter()
            .filter_map(|(_, key)| {
                Some(format!("{key} {}", json[key]["statementsPerOp"].as_f64()?))
            })
            .collect::<Vec<_>>();
        notes.push(format!(
            "Reference on PostgreSQL: {store}; statements per operation: {}.",
            statements.join(", ")
        ));
        let tx = [("increment", "incrementTx"), ("makePublic", "makePublicTx")]
            .iter()
            .filter_map(|(key, tx)| {
                let median = json[tx]["median"].as_f64()?;
                let statements = json[tx]["statementsPerOp"].as_f64().unwrap_or(f64::NAN);
                Some(format!(
                    "{key} {} ops/s ({statements} statements)",
                    fmt_rate(median)
                ))
            })
            .collect::<Vec<_>>();
        if !tx.is_empty() {
            notes.push(format!(
                "Reference on PostgreSQL with its PostgresTransactionProvider (BEGIN ... COMMIT \
                 around each command's writes): {}.",
                tx.join(", ")
            ));
        }
    }
    Some(Reference {
        medians,
        about,
        notes,
    })
}

/// Every workload on one store; prints its rows.
async fn bench(stores: Stores, irs: &[Ir; 2], n: usize, rounds: usize, warmup: usize) {
    stores.prepare().await;
    let reference = match stores {
        Stores::Memory => reference("BENCH_REFERENCE"),
        Stores::Postgres(..) => reference("BENCH_REFERENCE_PG"),
        Stores::Sqlite(..) => None,
    };
    let wanted = std::env::var("BENCH_RT_WORKLOADS").unwrap_or_default();
    for (w, (label, key)) in WORKLOADS.iter().enumerate() {
        if !wanted.is_empty() && !wanted.split(',').any(|k| k.trim() == *key) {
            continue;
        }
        let mut rates = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            rates.push(match w {
                0 => increment_round(&stores, &irs[0], n, warmup).await,
                1 => make_public_round(&stores, &irs[1], n, warmup).await,
                _ => create_round(&stores, &irs[0], n, warmup).await,
            });
        }
        eprintln!(
            "{} {} {label}: rounds {}",
            stores.name(),
            stores.conn(),
            rates
                .iter()
                .map(|r| fmt_rate(*r))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let ours = median(rates);
        let (theirs, ratio) = match reference
            .as_ref()
            .and_then(|r| r.medians.get(*key)?.as_f64())
        {
            Some(theirs) => (fmt_rate(theirs), format!("{:.1}x", ours / theirs)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "| {} | {} | {label} | {} | {:.2} | {theirs} | {ratio} |",
            stores.name(),
            stores.conn(),
            fmt_rate(ours),
            1e6 / ours,
        );
    }
}

fn main() {
    let n = env_usize("BENCH_RT_N", 100_000);
    let rounds = env_usize("BENCH_RT_ROUNDS", 5).max(1);
    let warmup = env_usize("BENCH_RT_WARMUP", 2_000);
    let sql_n = env_usize("BENCH_RT_SQL_N", 5_000);
    let sql_warmup = env_usize("BENCH_RT_SQL_WARMUP", 200);
    let only = std::env::var("BENCH_RT_ONLY").unwrap_or_default();
    let runs = |store: &str| only.is_empty() || only.eq_ignore_ascii_case(store);
    let irs = [
        load_ir("04-command-mutate-emit"),
        load_ir("06-policy-denial"),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "memory: N = {n} per round, warm-up {warmup}; SQL: N = {sql_n}, warm-up {sql_warmup}; \
             {rounds} rounds, one engine per round; median ops/s; speed-up = our ops/s / the \
             reference's on the same kind of store (memory; PostgreSQL: its PostgresStore)"
        );
        let references = [reference("BENCH_REFERENCE"), reference("BENCH_REFERENCE_PG")];
        for r in references.iter().flatten() {
            println!("{}", r.about);
        }
        println!();
        println!(
            "| store | connection | workload | manifest-rs ops/s | µs/op | reference ops/s | speed-up |"
        );
        println!("|---|---|---|---|---|---|---|");
        if runs("memory") {
            bench(Stores::Memory, &irs, n, rounds, warmup).await;
        }
        if runs("sqlite") {
            let dir = std::env::temp_dir().join(format!("manifest-bench-rt-{}", Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let db = SqliteDb::open(dir.join("runtime.db")).await.expect("sqlite");
            for conn in [Conn::Held, Conn::Pool] {
                let stores = Stores::Sqlite(db.clone(), conn);
                bench(stores, &irs, sql_n, rounds, sql_warmup).await;
            }
            db.pool().close().await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        if runs("postgres") {
            match std::env::var("MANIFEST_PG_URL") {
                Ok(url) => {
                    let db = PgDb::connect(&url).await.expect("postgres");
                    for conn in [Conn::Held, Conn::Pool] {
                        let stores = Stores::Postgres(db.clone(), conn);
                        bench(stores, &irs, sql_n, rounds, sql_warmup).await;
                    }
                }
                Err(_) => println!(
                    "\nPostgreSQL left out: MANIFEST_PG_URL is not set (scripts/bench-runtime.sh sets it)"
                ),
            }
        }
        let notes = references.iter().flatten().flat_map(|r| &r.notes);
        for (i, note) in notes.enumerate() {
            if i == 0 {
                println!();
            }
            println!("{note}");
        }
    });
}
