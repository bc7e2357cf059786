//! The derived stores against the same operations written by hand with raw sqlx (`query_as`
//! with `FromRow`), on SQLite (a file in WAL mode) and PostgreSQL (loopback), one connection,
//! sequential awaits, a pool of one connection that both sides share; and the memory store. Prints a Markdown table of medians.
//!
//! `scripts/bench.sh` runs it with a throwaway PostgreSQL server; without `MANIFEST_PG_URL`
//! the PostgreSQL rows are left out. `BENCH_N` sets the operations per measurement (10,000),
//! `BENCH_ROUNDS` the rounds (3). Within a round each SQL operation runs in batches, ours and
//! raw alternating; the table gives the median batch rate.

#[path = "common/mod.rs"]
mod common;
use common::{env_usize, fmt_rate, median, per_sec};

use std::time::Instant;

use manifest_core::sqlx::postgres::PgPoolOptions;
use manifest_core::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use manifest_core::sqlx::{self, FromRow, Row};
use manifest_core::{ManifestEntity, MemoryStore, SqlDb, Store};
use uuid::Uuid;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(table = "bench_recipe")]
struct Recipe {
    id: String,
    tenant_id: String,
    name: String,
    servings: i32,
    notes: Option<String>,
    #[manifest(version)]
    version: i64,
}

/// What a raw-sqlx user writes: the same struct, decoded with `FromRow`.
#[derive(Debug)]
#[allow(dead_code)] // fields are decoded, as a user's would be, and then only counted
struct RawRecipe {
    id: String,
    tenant_id: String,
    name: String,
    servings: i32,
    notes: Option<String>,
    version: i64,
}

// `#[derive(sqlx::FromRow)]` would write exactly this; it is spelt out so that the
// workspace need not build sqlx's macro crate just for the benchmark.
macro_rules! raw_from_row {
    ($row:ty) => {
        impl<'r> FromRow<'r, $row> for RawRecipe {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                Ok(RawRecipe {
                    id: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    name: row.try_get("name")?,
                    servings: row.try_get("servings")?,
                    notes: row.try_get("notes")?,
                    version: row.try_get("version")?,
                })
            }
        }
    };
}
raw_from_row!(sqlx::sqlite::SqliteRow);
raw_from_row!(sqlx::postgres::PgRow);

/// The hand-written statements of one dialect.
struct RawSql {
    insert: &'static str,
    get: &'static str,
    update: &'static str,
    all: &'static str,
    delete: &'static str,
}

const SQLITE_RAW: RawSql = RawSql {
    insert: "INSERT INTO bench_recipe (id, tenant_id, name, servings, notes, version) VALUES (?, ?, ?, ?, ?, 1) RETURNING id, tenant_id, name, servings, notes, version",
    get: "SELECT id, tenant_id, name, servings, notes, version FROM bench_recipe WHERE tenant_id = ? AND id = ?",
    update: "UPDATE bench_recipe SET servings = ?, version = version + 1 WHERE tenant_id = ? AND id = ? AND version = ? RETURNING id, tenant_id, name, servings, notes, version",
    all: "SELECT id, tenant_id, name, servings, notes, version FROM bench_recipe WHERE tenant_id = ? ORDER BY id",
    delete: "DELETE FROM bench_recipe WHERE tenant_id = ? AND id = ?",
};
const PG_RAW: RawSql = RawSql {
    insert: "INSERT INTO bench_recipe (id, tenant_id, name, servings, notes, version) VALUES ($1, $2, $3, $4, $5, 1) RETURNING id, tenant_id, name, servings, notes, version",
    get: "SELECT id, tenant_id, name, servings, notes, version FROM bench_recipe WHERE tenant_id = $1 AND id = $2",
    update: "UPDATE bench_recipe SET servings = $1, version = version + 1 WHERE tenant_id = $2 AND id = $3 AND version = $4 RETURNING id, tenant_id, name, servings, notes, version",
    all: "SELECT id, tenant_id, name, servings, notes, version FROM bench_recipe WHERE tenant_id = $1 ORDER BY id",
    delete: "DELETE FROM bench_recipe WHERE tenant_id = $1 AND id = $2",
};

const OPS: [&str; 5] = [
    "create",
    "get_by_id",
    "update (version-checked)",
    "get_all (1,000 rows)",
    "delete",
];

fn recipe(i: usize) -> Recipe {
    Recipe {
        id: String::new(),
        tenant_id: String::new(),
        name: format!("recipe {i}"),
        servings: i as i32,
        notes: i.is_multiple_of(2).then(|| "some notes".to_owned()),
        version: 0,
    }
}

/// One round of the five operations through a store, reading `fill`'s 1,000 rows for
/// get_all, and `gets` point reads cycling over the created rows; returns ops/s per operation.
async fn ours<S: Store<Recipe> + ?Sized>(
    store: &S,
    fill: &S,
    n: usize,
    gets: usize,
    all_n: usize,
) -> [f64; 5] {
    let mut ids = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        ids.push(store.create(recipe(i)).await.expect("create").id);
    }
    let create = per_sec(n, start);
    let start = Instant::now();
    for i in 0..gets {
        assert!(store.get_by_id(&ids[i % n]).await.expect("get").is_some());
    }
    let get = per_sec(gets, start);
    let start = Instant::now();
    for id in &ids {
        let patch = RecipePatch {
            servings: Some(7),
            version: Some(1),
            ..Default::default()
        };
        assert!(store.update(id, patch).await.expect("update").is_some());
    }
    let update = per_sec(n, start);
    let start = Instant::now();
    for _ in 0..all_n {
        assert_eq!(fill.get_all().await.expect("get_all").len(), 1000);
    }
    let all = per_sec(all_n, start);
    let start = Instant::now();
    for id in &ids {
        assert!(store.delete(id).await.expect("delete"));
    }
    let delete = per_sec(n, start);
    [create, get, update, all, delete]
}

/// The five operations written with raw sqlx; `$exec` is evaluated for every statement (a
/// reborrow of a held connection, or the pool).
macro_rules! raw_create {
    ($sql:expr, $exec:expr, $tenant:expr, $id:expr, $i:expr) => {{
        let r = recipe($i);
        let row: Option<RawRecipe> = sqlx::query_as($sql.insert)
            .bind($id)
            .bind($tenant)
            .bind(r.name.as_str())
            .bind(r.servings)
            .bind(r.notes.as_deref())
            .fetch_optional($exec)
            .await
            .expect("raw create");
        assert!(row.is_some());
    }};
}
macro_rules! raw_get {
    ($sql:expr, $exec:expr, $tenant:expr, $id:expr) => {{
        let row: Option<RawRecipe> = sqlx::query_as($sql.get)
            .bind($tenant)
            .bind($id)
            .fetch_optional($exec)
            .await
            .expect("raw get");
        assert!(row.is_some());
    }};
}
macro_rules! raw_update {
    ($sql:expr, $exec:expr, $tenant:expr, $id:expr) => {{
        let row: Option<RawRecipe> = sqlx::query_as($sql.update)
            .bind(7_i32)
            .bind($tenant)
            .bind($id)
            .bind(1_i64)
            .fetch_optional($exec)
            .await
            .expect("raw update");
        assert!(row.is_some());
    }};
}
macro_rules! raw_all {
    ($sql:expr, $exec:expr, $fill:expr) => {{
        let rows: Vec<RawRecipe> = sqlx::query_as($sql.all)
            .bind($fill)
            .fetch_all($exec)
            .await
            .expect("raw all");
        assert_eq!(rows.len(), 1000);
    }};
}
macro_rules! raw_delete {
    ($sql:expr, $exec:expr, $tenant:expr, $id:expr) => {{
        let done = sqlx::query($sql.delete)
            .bind($tenant)
            .bind($id)
            .execute($exec)
            .await
            .expect("raw delete");
        assert_eq!(done.rows_affected(), 1);
    }};
}

/// Rates per batch, per operation, for one side.
type Rates = [Vec<f64>; 5];

/// One batch of raw operation `op` on executor `$exec` (evaluated per statement).
macro_rules! raw_batch {
    ($op:expr, $sql:expr, $exec:expr, $tenant:expr, $fill:expr, $ids:expr, $range:expr, $all_per:expr) => {
        match $op {
            0 => {
                for i in $range {
                    let id = Uuid::now_v7().to_string();
                    raw_create!($sql, $exec, $tenant, id.as_str(), i);
                    $ids.push(id);
                }
            }
            1 => {
                for id in &$ids[$range] {
                    raw_get!($sql, $exec, $tenant, id.as_str());
                }
            }
            2 => {
                for id in &$ids[$range] {
                    raw_update!($sql, $exec, $tenant, id.as_str());
                }
            }
            3 => {
                for _ in 0..$all_per {
                    raw_all!($sql, $exec, $fill);
                }
            }
            _ => {
                for id in &$ids[$range] {
                    raw_delete!($sql, $exec, $tenant, id.as_str());
                }
            }
        }
    };
}

/// One round on one kind of connection. The database's pool has exactly one connection, so
/// both sides talk to the same server connection (on PostgreSQL, the same backend process).
/// Each operation runs in `BATCHES` batches, ours and raw alternating batch by batch and
/// taking turns going first, so both see the same machine, cache and log state. With `held`,
/// each batch holds the connection for its whole run (ours through a session, raw on
/// `&mut *conn`); otherwise every statement goes through the pool. Connections are taken
/// before the clock starts. Returns (ours, raw) rates per batch.
macro_rules! interleaved_round {
    ($db:expr, $held:expr, $sql:expr, $ours_tenant:expr, $raw_tenant:expr, $fill:expr, $n:expr, $all_n:expr) => {{
        let (db, held, sql, ours_tenant, raw_tenant, fill, n, all_n) = (
            $db,
            $held,
            $sql,
            $ours_tenant,
            $raw_tenant,
            $fill,
            $n,
            $all_n,
        );
        let per = n / BATCHES;
        let all_per = (all_n / BATCHES).max(1);
        let mut ours_ids: Vec<String> = Vec::with_capacity(n);
        let mut raw_ids: Vec<String> = Vec::with_capacity(n);
        let (mut ours_rates, mut raw_rates): (Rates, Rates) = Default::default();
        for op in 0..5 {
            let count = if op == 3 { all_per } else { per };
            for batch in 0..BATCHES {
                let range = batch * per..(batch + 1) * per;
                for turn in 0..2 {
                    let raw_now = (turn == 1) == (batch % 2 == 0);
                    let elapsed = if raw_now {
                        if held {
                            let mut conn = db.pool().acquire().await.expect("acquire");
                            let start = Instant::now();
                            raw_batch!(
                                op,
                                sql,
                                &mut *conn,
                                raw_tenant,
                                fill,
                                raw_ids,
                                range.clone(),
                                all_per
                            );
                            start.elapsed()
                        } else {
                            let start = Instant::now();
                            raw_batch!(
                                op,
                                sql,
                                db.pool(),
                                raw_tenant,
                                fill,
                                raw_ids,
                                range.clone(),
                                all_per
                            );
                            start.elapsed()
                        }
                    } else {
                        let session = if held {
                            Some(db.acquire().await.expect("acquire"))
                        } else {
                            None
                        };
                        let (store, fill_store) = match &session {
                            Some(s) => (s.store::<Recipe>(ours_tenant), s.store::<Recipe>(fill)),
                            None => (db.store::<Recipe>(ours_tenant), db.store::<Recipe>(fill)),
                        };
                        let start = Instant::now();
                        ours_batch(
                            op,
                            &store,
                            &fill_store,
                            &mut ours_ids,
                            range.clone(),
                            all_per,
                        )
                        .await;
                        start.elapsed()
                    };
                    let rate = count as f64 / elapsed.as_secs_f64();
                    if raw_now {
                        raw_rates[op].push(rate)
                    } else {
                        ours_rates[op].push(rate)
                    }
                }
            }
        }
        (ours_rates, raw_rates)
    }};
}

/// One batch of our operation `op`.
async fn ours_batch<S: Store<Recipe>>(
    op: usize,
    store: &S,
    fill: &S,
    ids: &mut Vec<String>,
    range: std::ops::Range<usize>,
    all_per: usize,
) {
    match op {
        0 => {
            for i in range {
                ids.push(store.create(recipe(i)).await.expect("create").id);
            }
        }
        1 => {
            for id in &ids[range] {
                assert!(store.get_by_id(id).await.expect("get").is_some());
            }
        }
        2 => {
            for id in &ids[range] {
                let patch = RecipePatch {
                    servings: Some(7),
                    version: Some(1),
                    ..Default::default()
                };
                assert!(store.update(id, patch).await.expect("update").is_some());
            }
        }
        3 => {
            for _ in 0..all_per {
                assert_eq!(fill.get_all().await.expect("get_all").len(), 1000);
            }
        }
        _ => {
            for id in &ids[range] {
                assert!(store.delete(id).await.expect("delete"));
            }
        }
    }
}

const BATCHES: usize = 10;

/// One table block: per operation, the median batch rate of each side, and our time per
/// operation over raw's.
fn report(backend: &str, conn: &str, ours: Rates, raw: Rates) {
    for (k, (o, r)) in ours.into_iter().zip(raw).enumerate() {
        let (o, r) = (median(o), median(r));
        println!(
            "| {backend} | {conn} | {} | {} | {} | {:.2}x |",
            OPS[k],
            fmt_rate(o),
            fmt_rate(r),
            r / o
        );
    }
}

/// Both kinds of connection on one backend.
macro_rules! bench_backend {
    ($fn:ident, $db:ty, $raw:expr) => {
        async fn $fn(name: &str, db: SqlDb<$db>, n: usize, rounds: usize, all_n: usize) {
            db.create_table::<Recipe>().await.expect("create table");
            let run = Uuid::new_v4().simple().to_string();
            // One tenant holds the 1,000 rows that get_all reads.
            let fill = format!("fill-{run}");
            let fill_store = db.store::<Recipe>(fill.as_str());
            for i in 0..1000 {
                fill_store.create(recipe(i)).await.expect("fill");
            }
            drop(fill_store);
            let (mut held_ours, mut held_raw, mut pool_ours, mut pool_raw): (
                Rates,
                Rates,
                Rates,
                Rates,
            ) = Default::default();
            for round in 0..rounds {
                for (held, ours_into, raw_into) in [
                    (true, &mut held_ours, &mut held_raw),
                    (false, &mut pool_ours, &mut pool_raw),
                ] {
                    let kind = if held { "held" } else { "pool" };
                    let ours_tenant = format!("ours-{kind}-{run}-{round}");
                    let raw_tenant = format!("raw-{kind}-{run}-{round}");
                    let (o, r) = interleaved_round!(
                        &db,
                        held,
                        &$raw,
                        ours_tenant.as_str(),
                        raw_tenant.as_str(),
                        fill.as_str(),
                        n,
                        all_n
                    );
                    merge(ours_into, o);
                    merge(raw_into, r);
                }
            }
            report(name, "held connection", held_ours, held_raw);
            report(name, "pool", pool_ours, pool_raw);
        }
    };
}
bench_backend!(bench_sqlite, sqlx::Sqlite, SQLITE_RAW);
bench_backend!(bench_postgres, sqlx::Postgres, PG_RAW);

fn merge(into: &mut Rates, from: Rates) {
    for (a, b) in into.iter_mut().zip(from) {
        a.extend(b);
    }
}

/// The memory store: the same round, with many more point reads (there is no I/O to wait on).
async fn memory(n: usize, rounds: usize, gets: usize) {
    let mut results = vec![];
    for _ in 0..rounds {
        let store = MemoryStore::<Recipe>::new("acme".to_owned());
        let fill = store.for_tenant("fill".to_owned());
        for i in 0..1000 {
            fill.create(recipe(i)).await.expect("fill");
        }
        results.push(ours(&store, &fill, n, gets, 1000).await);
    }
    for (k, op) in OPS.iter().enumerate() {
        let o = median(results.iter().map(|r: &[f64; 5]| r[k]).collect());
        println!("| memory | - | {op} | {} | - | - |", fmt_rate(o));
    }
}

fn main() {
    let n = env_usize("BENCH_N", 10_000);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let all_n = env_usize("BENCH_ALL_N", 300);
    let gets = env_usize("BENCH_MEMORY_GETS", 2_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "N = {n} per operation and round (get_all: {all_n}; memory get_by_id: {gets}), {rounds} rounds; \
             SQL: each operation in {BATCHES} batches per round, ours and raw sqlx alternating; \
             figures are medians of the batch rates in operations per second; \
             ratio = our time per operation / raw sqlx's\n"
        );
        println!("| backend | connection | operation | manifest-rs | raw sqlx | ratio |");
        println!("|---|---|---|---|---|---|");
        memory(n, rounds, gets).await;
        let dir = std::env::temp_dir().join(format!("manifest-bench-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let options = SqliteConnectOptions::new()
            .filename(dir.join("bench.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("sqlite");
        let sqlite = SqlDb::from_pool(pool);
        bench_sqlite("SQLite", sqlite, n, rounds, all_n).await;
        match std::env::var("MANIFEST_PG_URL") {
            Ok(url) => {
                let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("postgres");
                let pg = SqlDb::from_pool(pool);
                bench_postgres("PostgreSQL", pg, n, rounds, all_n).await;
            }
            Err(_) => eprintln!("MANIFEST_PG_URL not set: PostgreSQL left out (scripts/bench.sh sets it)"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}
