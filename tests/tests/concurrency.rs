//! Concurrent commands on one instance never lose an update: many tokio tasks incrementing one
//! counter through `Engine::run_command` end with the exact total, on memory, SQLite and
//! PostgreSQL, through one shared engine and through two engines over one database (as two
//! processes of a service would be). The retry path and its limit are checked exactly with a
//! store that lets another writer in before the engine's write.
//!
//! PostgreSQL runs when `MANIFEST_PG_URL` is set (`scripts/test.sh`); without it those tests
//! print that they are skipped, except under `CI=true`, where they fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use manifest_core::{Conditional, EntityInstance, MemoryStore, PgDb, SqlDb, SqliteDb, Store};
use manifest_runtime::StoreProvider;
use manifest_runtime::engine::{CommandOptions, Engine, RuntimeError};
use manifest_runtime::ir::Ir;
use serde_json::{Map, Value as Json, json};

/// The engine is shared between tasks behind an `Arc`.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Engine>();
};

/// `entity Counter { property count: number = 0; property label: string = "" }`, with
/// `command increment { mutate count = self.count + 1 }`, `command incrementTwice`, which
/// increments, persists, and increments again, and `limitedIncrement`, an increment limited to
/// 2 calls a minute.
fn ir() -> Ir {
    // `mutate count = self.count + 1`.
    let increment = json!({
        "kind": "mutate",
        "target": "count",
        "expression": {
            "kind": "binary",
            "operator": "+",
            "left": {
                "kind": "member",
                "object": { "kind": "identifier", "name": "self" },
                "property": "count"
            },
            "right": { "kind": "literal", "value": { "kind": "number", "value": 1 } }
        }
    });
    let persist =
        json!({"kind": "persist", "expression": { "kind": "identifier", "name": "count" }});
    let command = |name: &str, actions: Vec<Json>, emits: Vec<&str>| {
        json!({
            "name": name, "entity": "Counter", "parameters": [], "guards": [],
            "constraints": [], "actions": actions, "emits": emits
        })
    };
    let mut limited = command("limitedIncrement", vec![increment.clone()], vec![]);
    limited["rateLimit"] = json!({ "maxRequests": 2, "windowMs": 60000, "scope": "global" });
    Ir::from_json(json!({
        "version": "1.0",
        "entities": [{
            "name": "Counter",
            "properties": [
                {
                    "name": "count",
                    "type": { "name": "number", "nullable": false },
                    "defaultValue": { "kind": "number", "value": 0 },
                    "modifiers": []
                },
                {
                    "name": "label",
                    "type": { "name": "string", "nullable": false },
                    "defaultValue": { "kind": "string", "value": "" },
                    "modifiers": []
                }
            ],
            "commands": ["increment", "incrementTwice", "limitedIncrement"]
        }],
        "stores": [{ "entity": "Counter", "target": "memory", "config": {} }],
        "events": [{ "name": "CounterIncremented", "channel": "counter.incremented", "payload": [] }],
        "commands": [
            command("increment", vec![increment.clone()], vec!["CounterIncremented"]),
            command("incrementTwice", vec![increment.clone(), persist, increment], vec![]),
            limited
        ]
    }))
    .expect("the test IR loads")
}

const ENTITY: &str = "Counter";
const ID: &str = "c1";

/// Where the counter is kept. Each test uses a tenant of its own.
#[derive(Clone)]
enum Db {
    Memory(MemoryStore<EntityInstance>),
    Sqlite(SqliteDb),
    Postgres(PgDb),
}

impl Db {
    fn memory() -> Self {
        Db::Memory(MemoryStore::named(ENTITY, String::new()))
    }

    /// A SQLite file. Each call opens its own pool, as another process would.
    async fn sqlite(path: &std::path::Path) -> Self {
        let db = SqliteDb::open(path).await.expect("open a SQLite file");
        db.create_document_table(ENTITY).await.unwrap();
        Db::Sqlite(db)
    }

    /// A new SQLite file.
    async fn new_sqlite() -> (Self, std::path::PathBuf) {
        let path =
            std::env::temp_dir().join(format!("manifest-concurrency-{}.db", uuid::Uuid::new_v4()));
        (Db::sqlite(&path).await, path)
    }

    /// A PostgreSQL pool of its own, or `None` when skipped.
    async fn postgres() -> Option<Self> {
        let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh"
                );
            }
            eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
            return None;
        };
        let db = PgDb::connect(&url)
            .await
            .expect("connect to MANIFEST_PG_URL");
        // Tests run in parallel; concurrent `CREATE TABLE IF NOT EXISTS` of one table can fail
        // on PostgreSQL, so one test at a time creates it.
        static CREATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _one = CREATE.lock().await;
        db.create_document_table(ENTITY).await.unwrap();
        Some(Db::Postgres(db))
    }

    fn name(&self) -> &'static str {
        match self {
            Db::Memory(_) => "memory",
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// The counter's store for `tenant`.
    fn store(&self, tenant: &str) -> Arc<dyn Store<EntityInstance>> {
        fn document<DB: manifest_core::Backend>(
            db: &SqlDb<DB>,
            tenant: &str,
        ) -> Arc<dyn Store<EntityInstance>> {
            Arc::new(db.document_store(ENTITY, tenant).expect("document store"))
        }
        match self {
            Db::Memory(store) => Arc::new(store.for_tenant(tenant.to_owned())),
            Db::Sqlite(db) => document(db, tenant),
            Db::Postgres(db) => document(db, tenant),
        }
    }
}

fn tenant() -> String {
    format!("concurrency-{}", uuid::Uuid::new_v4().simple())
}

/// An engine whose Counter store is `store`.
fn engine(store: Arc<dyn Store<EntityInstance>>) -> Arc<Engine> {
    let tenant = store.tenant().clone();
    let provider: Arc<dyn StoreProvider> = Arc::new(move |_: &str, _: &str| {
        Some(store.clone()) as Option<Arc<dyn Store<EntityInstance>>>
    });
    let engine = Engine::builder(ir())
        .tenant(tenant)
        .store_provider_arc(provider)
        .build();
    Arc::new(engine.expect("engine"))
}

/// An engine with its own memory store (no provider).
fn builtin_engine() -> Arc<Engine> {
    Arc::new(Engine::builder(ir()).build().expect("engine"))
}

async fn create_counter(engine: &Engine) {
    let data = Map::from_iter([("id".to_owned(), json!(ID))]);
    let created = engine.create_instance(ENTITY, data).await.unwrap();
    assert_eq!(created.get("count"), Some(json!(0)));
}

async fn count(engine: &Engine) -> Json {
    let instance = engine.get_instance(ENTITY, ID).await.unwrap();
    instance.expect("the counter exists")["count"].clone()
}

async fn increment(engine: &Engine) -> Result<(), RuntimeError> {
    let result = engine
        .run_command("increment", Map::new(), CommandOptions::on(ENTITY, ID))
        .await?;
    assert!(result.success, "{result:?}");
    assert_eq!(result.emitted_events.len(), 1);
    Ok(())
}

/// `tasks` tokio tasks per engine, each incrementing the counter `times` times; returns the
/// number of increments.
async fn hammer(engines: &[Arc<Engine>], tasks: usize, times: usize) -> usize {
    let mut handles = Vec::new();
    for engine in engines {
        for _ in 0..tasks {
            let engine = engine.clone();
            handles.push(tokio::spawn(async move {
                for _ in 0..times {
                    increment(&engine).await.unwrap();
                }
            }));
        }
    }
    for handle in handles {
        handle.await.expect("a task panicked");
    }
    engines.len() * tasks * times
}

/// 16 tasks on one engine, 25 increments each.
async fn one_engine(db: Db) {
    let engine = engine(db.store(&tenant()));
    create_counter(&engine).await;
    let total = hammer(std::slice::from_ref(&engine), 16, 25).await;
    assert_eq!(count(&engine).await, json!(total), "{}", db.name());
}

/// Two engines (two "processes": separate pools, or one shared memory store) with 8 tasks
/// each, 25 increments per task. Their writes collide, and the colliding commands rerun.
async fn two_engines(first: Db, second: Db) {
    let tenant = tenant();
    let stores = [&first, &second].map(|db| {
        Arc::new(Meddling {
            inner: db.store(&tenant),
            calls: AtomicUsize::new(0),
            changed: AtomicUsize::new(0),
            streak: AtomicUsize::new(0),
            longest: AtomicUsize::new(0),
            meddle: |_| false,
        })
    });
    let engines = stores.clone().map(|store| engine(store));
    create_counter(&engines[0]).await;
    let total = hammer(&engines, 8, 25).await;
    assert_eq!(count(&engines[0]).await, json!(total), "{}", first.name());
    assert_eq!(count(&engines[1]).await, json!(total), "{}", second.name());
    let writes: usize = stores.iter().map(|s| s.calls.load(Ordering::SeqCst)).sum();
    let changed: usize = stores
        .iter()
        .map(|s| s.changed.load(Ordering::SeqCst))
        .sum();
    let longest = stores
        .iter()
        .map(|s| s.longest.load(Ordering::SeqCst))
        .max();
    assert_eq!(writes, total + changed);
    eprintln!(
        "{}: {total} increments by two engines; {changed} writes found the counter changed and \
         their commands reran; the most attempts one command needed: {}",
        first.name(),
        longest.unwrap_or(0) + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_engine_memory() {
    one_engine(Db::memory()).await;
}

/// The engine's own memory store (rows shared as values, written by pointer swap or in place)
/// under 4 worker threads: 32 tasks, 50 increments each, with `update_instance` changing
/// another field of the same instance and `get_instance` reading it in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_engine_builtin_memory() {
    let engine = builtin_engine();
    create_counter(&engine).await;
    let updater = {
        let engine = engine.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let data = Map::from_iter([("label".to_owned(), json!(format!("v{i}")))]);
                let updated = engine.update_instance(ENTITY, ID, data).await.unwrap();
                assert_eq!(updated.get("label"), Some(json!(format!("v{i}"))));
                let read = engine.get_instance(ENTITY, ID).await.unwrap();
                assert!(read.expect("exists")["count"].is_number());
            }
        })
    };
    let total = hammer(std::slice::from_ref(&engine), 32, 50).await;
    updater.await.expect("the updater panicked");
    assert_eq!(count(&engine).await, json!(total));
    let instance = engine.get_instance(ENTITY, ID).await.unwrap().unwrap();
    assert_eq!(instance["label"], json!("v199"));
    assert!(!instance.contains_key("_entity"), "{instance:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_engine_sqlite() {
    one_engine(Db::new_sqlite().await.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_engine_postgres() {
    if let Some(db) = Db::postgres().await {
        one_engine(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_memory() {
    let db = Db::memory();
    two_engines(db.clone(), db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_sqlite() {
    let (first, path) = Db::new_sqlite().await;
    two_engines(first, Db::sqlite(&path).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_postgres() {
    let (Some(first), Some(second)) = (Db::postgres().await, Db::postgres().await) else {
        return;
    };
    two_engines(first, second).await;
}

/// A store that lets "another process" increment the counter just before some of the engine's
/// writes: the `update_if` calls numbered in `meddle` (from 1) find the row changed.
#[derive(Debug)]
struct Meddling {
    inner: Arc<dyn Store<EntityInstance>>,
    calls: AtomicUsize,
    /// How many `update_if` calls found the row changed.
    changed: AtomicUsize,
    /// The current and the longest run of such calls in a row. One engine's writes to one
    /// instance are serialised by its lock, so a run is one command's failed attempts.
    streak: AtomicUsize,
    longest: AtomicUsize,
    meddle: fn(usize) -> bool,
}

#[async_trait]
impl Store<EntityInstance> for Meddling {
    fn entity(&self) -> &str {
        self.inner.entity()
    }
    fn tenant(&self) -> &String {
        self.inner.tenant()
    }
    async fn get_all(&self) -> manifest_core::Result<Vec<EntityInstance>> {
        self.inner.get_all().await
    }
    async fn get_by_id(&self, id: &str) -> manifest_core::Result<Option<EntityInstance>> {
        self.inner.get_by_id(id).await
    }
    async fn create(&self, data: EntityInstance) -> manifest_core::Result<EntityInstance> {
        self.inner.create(data).await
    }
    async fn update(
        &self,
        id: &str,
        patch: Map<String, Json>,
    ) -> manifest_core::Result<Option<EntityInstance>> {
        self.inner.update(id, patch).await
    }
    async fn update_if(
        &self,
        id: &str,
        expected: &EntityInstance,
        patch: Map<String, Json>,
    ) -> manifest_core::Result<Conditional<EntityInstance>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if (self.meddle)(call) {
            let current = self.inner.get_by_id(id).await?.expect("the counter exists");
            let count = current.fields["count"].as_i64().unwrap();
            let other = Map::from_iter([("count".to_owned(), json!(count + 1))]);
            self.inner.update(id, other).await?;
        }
        let outcome = self.inner.update_if(id, expected, patch).await?;
        if outcome == Conditional::Changed {
            self.changed.fetch_add(1, Ordering::SeqCst);
            let streak = self.streak.fetch_add(1, Ordering::SeqCst) + 1;
            self.longest.fetch_max(streak, Ordering::SeqCst);
        } else {
            self.streak.store(0, Ordering::SeqCst);
        }
        Ok(outcome)
    }
    async fn delete(&self, id: &str) -> manifest_core::Result<bool> {
        self.inner.delete(id).await
    }
    async fn clear(&self) -> manifest_core::Result<u64> {
        self.inner.clear().await
    }
}

fn meddling(db: &Db, meddle: fn(usize) -> bool) -> (Arc<Engine>, Arc<Meddling>) {
    let store = Arc::new(Meddling {
        inner: db.store(&tenant()),
        calls: AtomicUsize::new(0),
        changed: AtomicUsize::new(0),
        streak: AtomicUsize::new(0),
        longest: AtomicUsize::new(0),
        meddle,
    });
    (engine(store.clone()), store)
}

/// A write that finds the row changed reruns the command from a fresh read: both the other
/// writer's increment and the command's land. After `COMMAND_ATTEMPTS` (32) attempts the
/// command gives up with a typed error and has written nothing.
async fn retries_then_gives_up(db: Db) {
    let (engine, store) = meddling(&db, |call| call <= 3);
    create_counter(&engine).await;
    increment(&engine).await.unwrap();
    assert_eq!(store.calls.load(Ordering::SeqCst), 4, "{}", db.name());
    assert_eq!(count(&engine).await, json!(4), "{}", db.name());

    let (engine, store) = meddling(&db, |_| true);
    create_counter(&engine).await;
    let error = increment(&engine).await.unwrap_err();
    match &error {
        RuntimeError::Conflict {
            entity,
            id,
            attempts,
            written,
        } => {
            assert_eq!((entity.as_str(), id.as_str()), (ENTITY, ID));
            assert_eq!((*attempts, *written), (Engine::COMMAND_ATTEMPTS, false));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "concurrent updates on Counter#c1 kept conflicting after 32 attempt(s); nothing was written"
    );
    let attempts = Engine::COMMAND_ATTEMPTS as usize;
    assert_eq!(store.calls.load(Ordering::SeqCst), attempts);
    assert_eq!(
        count(&engine).await,
        json!(attempts),
        "only the other writer's increments"
    );

    // `update_instance` retries the same way.
    let (engine, _) = meddling(&db, |call| call == 1);
    create_counter(&engine).await;
    let data = Map::from_iter([("label".to_owned(), json!("x"))]);
    let updated = engine.update_instance(ENTITY, ID, data).await.unwrap();
    assert_eq!(
        (updated.get("label"), updated.get("count")),
        (Some(json!("x")), Some(json!(1)))
    );
}

/// An explicit `persist` writes through the same check. A conflict after it has written
/// cannot be retried (the first increment is stored): the error says so.
async fn persist_is_conditional(db: Db) {
    let (engine, store) = meddling(&db, |_| false);
    create_counter(&engine).await;
    let twice = |engine: Arc<Engine>| async move {
        engine
            .run_command("incrementTwice", Map::new(), CommandOptions::on(ENTITY, ID))
            .await
    };
    assert!(twice(engine.clone()).await.unwrap().success);
    assert_eq!(
        store.calls.load(Ordering::SeqCst),
        2,
        "persist, then the end"
    );
    assert_eq!(count(&engine).await, json!(2));

    // The persist's write conflicts once: the command reruns from the start.
    let (engine, _) = meddling(&db, |call| call == 1);
    create_counter(&engine).await;
    assert!(twice(engine.clone()).await.unwrap().success);
    assert_eq!(count(&engine).await, json!(3));

    // The final write conflicts after the persist wrote.
    let (engine, _) = meddling(&db, |call| call == 2);
    create_counter(&engine).await;
    match twice(engine.clone()).await {
        Err(RuntimeError::Conflict {
            attempts: 1,
            written: true,
            ..
        }) => {}
        other => panic!("expected a conflict after a write, got {other:?}"),
    }
    assert_eq!(
        count(&engine).await,
        json!(2),
        "the persisted increment and the other's"
    );
}

/// A rate limit counts a call once, however many attempts its command needs.
async fn rate_limits_count_calls_not_attempts(db: Db) {
    let (engine, store) = meddling(&db, |call| call == 1);
    create_counter(&engine).await;
    let limited = || {
        engine.run_command(
            "limitedIncrement",
            Map::new(),
            CommandOptions::on(ENTITY, ID),
        )
    };
    assert!(
        limited().await.unwrap().success,
        "the first call, in two attempts"
    );
    assert_eq!(store.calls.load(Ordering::SeqCst), 2);
    assert!(limited().await.unwrap().success, "the second call");
    let third = limited().await.unwrap();
    assert_eq!(
        third.error.as_deref(),
        Some("Rate limit exceeded for scope global")
    );
    let denial = third.rate_limit_denial.expect("a rate-limit denial");
    assert_eq!(
        (denial.scope.as_ref(), denial.scope_key.as_str()),
        ("global", "global")
    );
    assert_eq!(denial.limit, json!(2));
    assert_eq!(
        count(&engine).await,
        json!(3),
        "two increments and the other writer's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_memory() {
    rate_limits_count_calls_not_attempts(Db::memory()).await;
    retries_then_gives_up(Db::memory()).await;
    persist_is_conditional(Db::memory()).await;
}

/// The pause between attempts needs no timer from the executor: on a tokio runtime built
/// without `enable_time` (where `tokio::time::sleep` panics), 31 retries and the final
/// `Conflict` go as on any other.
#[test]
fn retries_without_a_runtime_timer() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime without timers");
    runtime.block_on(retries_then_gives_up(Db::memory()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_sqlite() {
    let (db, _) = Db::new_sqlite().await;
    retries_then_gives_up(db.clone()).await;
    persist_is_conditional(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_postgres() {
    if let Some(db) = Db::postgres().await {
        retries_then_gives_up(db.clone()).await;
        persist_is_conditional(db).await;
    }
}

/// A store without `update_if` (the trait's default): the engine falls back to its
/// per-instance lock, which keeps one engine's commands from losing updates.
#[derive(Debug)]
struct Plain(Arc<dyn Store<EntityInstance>>);

#[async_trait]
impl Store<EntityInstance> for Plain {
    fn entity(&self) -> &str {
        self.0.entity()
    }
    fn tenant(&self) -> &String {
        self.0.tenant()
    }
    async fn get_all(&self) -> manifest_core::Result<Vec<EntityInstance>> {
        self.0.get_all().await
    }
    async fn get_by_id(&self, id: &str) -> manifest_core::Result<Option<EntityInstance>> {
        self.0.get_by_id(id).await
    }
    async fn create(&self, data: EntityInstance) -> manifest_core::Result<EntityInstance> {
        self.0.create(data).await
    }
    async fn update(
        &self,
        id: &str,
        patch: Map<String, Json>,
    ) -> manifest_core::Result<Option<EntityInstance>> {
        self.0.update(id, patch).await
    }
    async fn delete(&self, id: &str) -> manifest_core::Result<bool> {
        self.0.delete(id).await
    }
    async fn clear(&self) -> manifest_core::Result<u64> {
        self.0.clear().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_without_update_if_relies_on_the_engine_lock() {
    let plain = Plain(Db::memory().store(&tenant()));
    let unsupported = plain
        .update_if(ID, &EntityInstance::default(), Map::new())
        .await;
    assert!(matches!(
        unsupported,
        Err(manifest_core::Error::Unsupported {
            operation: "update_if",
            ..
        })
    ));
    let engine = engine(Arc::new(plain));
    create_counter(&engine).await;
    let total = hammer(std::slice::from_ref(&engine), 16, 25).await;
    assert_eq!(count(&engine).await, json!(total));
}
