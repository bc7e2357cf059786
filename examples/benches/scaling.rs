//! How a command's cost grows with the data: `examples/benches/scaling/customers.manifest`, one
//! customer, N orders in the table, on the engine's memory store and on SQLite (document
//! tables, through the pool and on a held connection), beside the reference runtime when
//! `BENCH_SCALING_REFERENCE` names the JSON `scripts/reference-bench/scaling.mjs` wrote.
//!
//! - `visit` (`mutate visits = visits + 1`) reads no relationship: its cost must not depend on
//!   the number of orders.
//! - `countOrders` (`mutate orderCount = self.orders.length`) on a customer with 50 orders among
//!   N: one indexed lookup of the 50, whatever N.
//!
//! Env: `BENCH_SCALING_SIZES` (comma-separated; `0,1000,10000,50000`), `BENCH_SCALING_OPS`
//! (commands per round on memory; 20000), `BENCH_SCALING_SQL_OPS` (on SQLite; 1000),
//! `BENCH_SCALING_ROUNDS` (3). Prints Markdown tables of µs per command (medians of rounds).
//! Run with `scripts/bench-scaling.sh`.

#[path = "common/mod.rs"]
mod common;
use common::{env_usize, median};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use manifest_core::{EntityInstance, SqliteDb, Store};
use manifest_runtime::{CommandOptions, Engine, MemoryDb, Program, StoreProvider};
use serde_json::{Map, Value as Json, json};

const IR: &str = include_str!("scaling/customers.ir.json");

#[derive(Clone, Copy, PartialEq)]
enum Where {
    Memory,
    SqlitePool,
    SqliteHeld,
}

impl Where {
    fn label(self) -> &'static str {
        match self {
            Where::Memory => "ours, memory",
            Where::SqlitePool => "ours, SQLite document store, pool",
            Where::SqliteHeld => "ours, SQLite document store, held connection",
        }
    }
}

/// A fresh database (memory, or a SQLite file in a temp folder) with two customers and
/// `orders` orders, `mine` of them `c1`'s; the engine runs on it.
async fn setup(
    program: &Arc<Program>,
    place: Where,
    dir: &std::path::Path,
    orders: usize,
    mine: usize,
) -> Engine {
    let tenant = "bench";
    let customers = [("c1", "One"), ("c2", "Two")];
    let order = |i: usize| {
        let customer = if i < mine { "c1" } else { "c2" };
        json!({"customerId": customer, "total": i})
    };
    match place {
        Where::Memory => {
            let engine = Engine::builder(program.clone())
                .tenant(tenant)
                .database(MemoryDb::new())
                .build()
                .expect("engine");
            for (id, name) in customers {
                let data = object(json!({"id": id, "name": name}));
                engine
                    .create_instance("Customer", data)
                    .await
                    .expect("customer");
            }
            for i in 0..orders {
                let mut data = object(order(i));
                data.insert("id".into(), json!(format!("o-{i:06}")));
                engine.create_instance("Order", data).await.expect("order");
            }
            engine
        }
        Where::SqlitePool | Where::SqliteHeld => {
            let path = dir.join(format!("scaling-{}.db", uuid::Uuid::new_v4().simple()));
            let db = SqliteDb::open(&path).await.expect("open");
            let engine = Engine::builder(program.clone())
                .tenant(tenant)
                .database(db.clone())
                .build()
                .expect("engine");
            engine.prepare().await.expect("tables and indexes");
            // Seed in one transaction, straight through the stores.
            let tx = db.begin().await.expect("begin");
            let customer_store = tx.document_store("Customer", tenant).expect("store");
            for (id, name) in customers {
                let fields = object(json!({"name": name, "visits": 0, "orderCount": 0}));
                customer_store
                    .create(EntityInstance::new(id, fields))
                    .await
                    .expect("customer");
            }
            let order_store = tx.document_store("Order", tenant).expect("store");
            for i in 0..orders {
                let id = format!("o-{i:06}");
                order_store
                    .create(EntityInstance::new(id, object(order(i))))
                    .await
                    .expect("order");
            }
            tx.commit().await.expect("commit");
            if place == Where::SqlitePool {
                engine
            } else {
                let session = Arc::new(db.acquire().await.expect("acquire"));
                let provider: Arc<dyn StoreProvider> =
                    Arc::new(move |entity: &str, tenant: &str| {
                        let store: Arc<dyn Store<EntityInstance>> = Arc::new(
                            session
                                .document_store(entity, tenant)
                                .expect("document store"),
                        );
                        Some(store)
                    });
                Engine::builder(program.clone())
                    .tenant(tenant)
                    .database(db)
                    .store_provider_arc(provider)
                    .build()
                    .expect("engine")
            }
        }
    }
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// µs per `command` on `c1`, over `ops` commands after `ops / 4` warm-up commands.
async fn time(engine: &Engine, command: &str, ops: usize) -> f64 {
    let on = CommandOptions::on("Customer", "c1");
    for _ in 0..ops / 4 {
        engine
            .run_command(command, Map::new(), on.clone())
            .await
            .expect("run");
    }
    let start = Instant::now();
    for _ in 0..ops {
        let result = engine
            .run_command(command, Map::new(), on.clone())
            .await
            .expect("run");
        assert!(result.success, "{command}: {result:?}");
    }
    start.elapsed().as_secs_f64() * 1e6 / ops as f64
}

/// µs to build an engine: from the shared `program` on a shared memory database and on a
/// SQLite database (a document store per entity), and, for comparison, compiling the IR
/// again first, as an engine built from IR each time would.
async fn build_cost(
    program: &Arc<Program>,
    ir: &manifest_runtime::Ir,
    dir: &std::path::Path,
    n: usize,
) {
    let memory = MemoryDb::new();
    let db = SqliteDb::open(dir.join("build.db")).await.expect("open");
    let per = |start: Instant| start.elapsed().as_secs_f64() * 1e6 / n as f64;
    let start = Instant::now();
    for i in 0..n {
        let engine = Engine::builder(program.clone())
            .tenant(format!("t{i}"))
            .database(memory.clone())
            .build()
            .expect("engine");
        std::hint::black_box(engine);
    }
    let shared_memory = per(start);
    let start = Instant::now();
    for i in 0..n {
        let engine = Engine::builder(program.clone())
            .tenant(format!("t{i}"))
            .database(db.clone())
            .build()
            .expect("engine");
        std::hint::black_box(engine);
    }
    let shared_sqlite = per(start);
    let start = Instant::now();
    for i in 0..n {
        let engine = Engine::builder(ir.clone())
            .tenant(format!("t{i}"))
            .database(memory.clone())
            .build()
            .expect("engine");
        std::hint::black_box(engine);
    }
    let recompiled = per(start);
    println!("\nBuilding an engine per request (2 entities), µs per build, {n} builds\n");
    println!("| from | µs |");
    println!("|---|---|");
    println!("| a shared `Arc<Program>`, memory database | {shared_memory:.2} |");
    println!("| a shared `Arc<Program>`, SQLite database | {shared_sqlite:.2} |");
    println!("| the `Ir` (compiled again each time), memory database | {recompiled:.2} |");
}

async fn run() {
    let sizes: Vec<usize> = std::env::var("BENCH_SCALING_SIZES")
        .unwrap_or_else(|_| "0,1000,10000,50000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("BENCH_SCALING_SIZES: numbers"))
        .collect();
    let ops = env_usize("BENCH_SCALING_OPS", 20_000);
    let sql_ops = env_usize("BENCH_SCALING_SQL_OPS", 1_000);
    let rounds = env_usize("BENCH_SCALING_ROUNDS", 3);
    let reference: Option<Json> = std::env::var("BENCH_SCALING_REFERENCE").ok().map(|path| {
        serde_json::from_str(&std::fs::read_to_string(path).expect("reference JSON")).expect("JSON")
    });
    let program: Arc<Program> = Arc::new(Program::from_json_str(IR).expect("IR"));
    let dir = std::env::temp_dir().join(format!(
        "manifest-scaling-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // (workload, place) -> size -> µs
    let mut table: BTreeMap<(&str, &str), BTreeMap<usize, f64>> = BTreeMap::new();
    for place in [Where::Memory, Where::SqliteHeld, Where::SqlitePool] {
        let n = if place == Where::Memory { ops } else { sql_ops };
        for &size in &sizes {
            let mut visit = Vec::new();
            let mut count = Vec::new();
            for _ in 0..rounds {
                let engine = setup(&program, place, &dir, size, 0).await;
                visit.push(time(&engine, "visit", n).await);
                let engine = setup(&program, place, &dir, size.max(50), 50).await;
                count.push(time(&engine, "countOrders", n).await);
                let c1 = engine
                    .get_instance("Customer", "c1")
                    .await
                    .expect("get")
                    .expect("c1");
                assert_eq!(c1["orderCount"], json!(50), "countOrders counted the 50");
            }
            table
                .entry(("visit", place.label()))
                .or_default()
                .insert(size, median(visit));
            table
                .entry(("countOrders", place.label()))
                .or_default()
                .insert(size.max(50), median(count));
            eprintln!("{} orders={size}: done", place.label());
        }
    }
    let ir = manifest_runtime::Ir::from_json_str(IR).expect("IR");
    build_cost(
        &program,
        &ir,
        &dir,
        env_usize("BENCH_SCALING_BUILDS", 20_000),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);

    for (workload, what) in [
        (
            "visit",
            "`visit` (reads no relationship), µs per command, by orders in the table",
        ),
        (
            "countOrders",
            "`countOrders` (`self.orders.length`, 50 matching), µs per command, by orders in the table",
        ),
    ] {
        println!("\n{what}\n");
        let cols: Vec<usize> = if workload == "visit" {
            sizes.clone()
        } else {
            sizes.iter().map(|s| (*s).max(50)).collect()
        };
        let header: Vec<String> = cols.iter().map(|c| format!("{c}")).collect();
        println!("| | {} | largest / smallest |", header.join(" | "));
        println!("|---|{}---|", "---|".repeat(cols.len()));
        let mut rows: Vec<(String, Vec<Option<f64>>)> = Vec::new();
        for place in [Where::Memory, Where::SqliteHeld, Where::SqlitePool] {
            let by = &table[&(workload, place.label())];
            rows.push((
                place.label().into(),
                cols.iter().map(|c| by.get(c).copied()).collect(),
            ));
        }
        if let Some(reference) = &reference {
            let by = &reference[workload];
            let label = format!(
                "reference {}, memory",
                reference["version"].as_str().unwrap_or("?")
            );
            rows.push((
                label,
                cols.iter().map(|c| by[c.to_string()].as_f64()).collect(),
            ));
        }
        for (label, values) in rows {
            let cells: Vec<String> = values
                .iter()
                .map(|v| v.map_or("-".into(), |v| format!("{v:.1}")))
                .collect();
            let ratio = match (
                values.first().copied().flatten(),
                values.last().copied().flatten(),
            ) {
                (Some(first), Some(last)) if first > 0.0 => format!("{:.2}x", last / first),
                _ => "-".into(),
            };
            println!("| {label} | {} | {ratio} |", cells.join(" | "));
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}
