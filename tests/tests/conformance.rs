//! The public Manifest conformance suite (tests/conformance/fixtures), run by the reference
//! harness's rules (`HARNESS.md` of the suite) on three backends: the built-in memory store, and
//! the JSON-document store on SQLite and on PostgreSQL through the store provider hook.
//!
//! Status: the runtime engine is being built (issue 3). Every case runs on every backend; a
//! test fails when a case not listed in `tests/conformance/known-failures.txt` fails, and the
//! memory run also fails when a listed case passes (so the list only ever shrinks). Counts per
//! tier are printed (`--nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use manifest_core::runtime::engine::{CommandOptions, RuntimeEngine, RuntimeOptions};
use manifest_core::runtime::ir::Ir;
use manifest_core::runtime::value::Value;
use manifest_core::sqlx::{Postgres, Sqlite};
use manifest_core::{EntityInstance, IdGenerator, PgDb, SqlDb, SqliteDb, Store};
use serde_json::{Map, Value as Json};

const NOW: f64 = 1_000_000_000_000.0;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// fixture name → tier, from the suite's README table.
fn tiers() -> BTreeMap<String, u8> {
    let text = std::fs::read_to_string(root().join("SUITE.md")).expect("SUITE.md");
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let tier = cells.get(1)?.parse().ok()?;
            Some((cells.get(2)?.to_string(), tier))
        })
        .collect()
}

/// Where a run keeps its instances.
#[derive(Clone)]
enum Backend {
    Memory,
    Sqlite(SqlDb<Sqlite>),
    Postgres(SqlDb<Postgres>),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A store provider giving every entity its document store, for a tenant of this case
    /// alone (so cases never see each other's rows).
    fn provider(&self) -> Option<Arc<dyn manifest_core::runtime::StoreProvider>> {
        let tenant = format!("case-{}", uuid::Uuid::new_v4().simple());
        fn provide<DB: manifest_core::Backend>(
            db: SqlDb<DB>,
            tenant: String,
        ) -> Arc<dyn manifest_core::runtime::StoreProvider> {
            Arc::new(move |entity: &str| {
                let store: Arc<dyn Store<EntityInstance>> = Arc::new(
                    db.document_store(entity, tenant.as_str())
                        .expect("document store"),
                );
                Some(store)
            })
        }
        match self {
            Backend::Memory => None,
            Backend::Sqlite(db) => Some(provide(db.clone(), tenant)),
            Backend::Postgres(db) => Some(provide(db.clone(), tenant)),
        }
    }

    /// Create the document tables of every entity the fixtures use.
    async fn prepare(&self, irs: &[Ir]) {
        let entities: BTreeSet<&str> = irs
            .iter()
            .flat_map(|ir| ir.entities.iter().map(|e| e.name.as_str()))
            .collect();
        for entity in entities {
            match self {
                Backend::Memory => {}
                Backend::Sqlite(db) => db.create_document_table(entity).await.expect("table"),
                Backend::Postgres(db) => db.create_document_table(entity).await.expect("table"),
            }
        }
    }
}

/// The harness's deterministic options: `now()` is fixed, ids count up from `test-id-1`.
fn options(backend: &Backend, context: &Json) -> RuntimeOptions {
    let counter = Arc::new(AtomicU64::new(0));
    let mut options = RuntimeOptions::default();
    options.store_provider = backend.provider();
    options.context = context.clone();
    options.now = Some(Arc::new(|| NOW));
    options.generate_id = IdGenerator::from_fn(move || {
        format!("test-id-{}", counter.fetch_add(1, Ordering::SeqCst) + 1)
    });
    options
}

fn obj(v: &Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

/// vitest `toEqual` on JSON: key order ignored, numbers compared as doubles.
fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `Object.is` of a runtime value and an expected JSON primitive.
fn object_is(actual: &Value, expected: &Json) -> bool {
    match (actual, expected) {
        (Value::Number(a), Json::Number(e)) => {
            e.as_f64().is_some_and(|e| a.to_bits() == e.to_bits())
        }
        (Value::String(a), Json::String(e)) => a == e,
        (Value::Bool(a), Json::Bool(e)) => a == e,
        (Value::Null, Json::Null) => true,
        _ => false,
    }
}

macro_rules! check {
    ($cond:expr, $($msg:tt)*) => {
        if !$cond {
            return Err(format!($($msg)*));
        }
    };
}

async fn seed(engine: &RuntimeEngine, setup: &Json) -> Result<(), String> {
    if let Some(one) = setup.get("createInstance") {
        let entity = one["entity"].as_str().unwrap_or_default();
        engine
            .create_instance(entity, obj(&one["data"]))
            .await
            .map_err(|e| e.to_string())?;
    }
    for one in setup
        .get("createInstances")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let entity = one["entity"].as_str().unwrap_or_default();
        engine
            .create_instance(entity, obj(&one["data"]))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn engine(b: &Backend, ir: &Ir, context: &Json) -> Result<RuntimeEngine, String> {
    RuntimeEngine::new(ir.clone(), options(b, context)).map_err(|e| e.to_string())
}

async fn command_case(b: &Backend, ir: &Ir, tc: &Json) -> Result<(), String> {
    let empty = Json::Object(Map::new());
    let engine = engine(b, ir, tc.get("context").unwrap_or(&empty))?;
    if let Some(setup) = tc.get("setup") {
        seed(&engine, setup).await?;
    }
    let cmd = &tc["command"];
    let name = cmd["name"].as_str().unwrap_or_default();
    let mut opts = CommandOptions::default();
    opts.entity_name = cmd["entityName"].as_str().map(str::to_owned);
    opts.instance_id = cmd["instanceId"].as_str().map(str::to_owned);
    let input = obj(&cmd["input"]);
    for _ in 0..cmd["warmupCount"].as_u64().unwrap_or(0) {
        engine
            .run_command(name, input.clone(), opts.clone())
            .await
            .map_err(|e| e.to_string())?;
    }
    let r = engine
        .run_command(name, input, opts.clone())
        .await
        .map_err(|e| e.to_string())?;
    let ex = &tc["expectedResult"];
    check!(
        Some(r.success) == ex["success"].as_bool(),
        "success {} (error {:?})",
        r.success,
        r.error
    );
    if let Some(error) = ex["error"].as_str().filter(|e| !e.is_empty()) {
        check!(
            r.error.as_deref() == Some(error),
            "error {:?} != {error:?}",
            r.error
        );
    }
    if let Some(denied) = ex["deniedBy"].as_str().filter(|e| !e.is_empty()) {
        check!(
            r.denied_by.as_deref() == Some(denied),
            "deniedBy {:?} != {denied:?}",
            r.denied_by
        );
    }
    if let Some(g) = tc.get("expectedGuardFailure") {
        let Some(f) = &r.guard_failure else {
            return Err("guardFailure missing".into());
        };
        check!(
            Some(f.index as u64) == g["index"].as_u64(),
            "guard index {} != {}",
            f.index,
            g["index"]
        );
        let text = g["expression"].as_str().unwrap_or_default();
        check!(
            f.formatted.contains(text),
            "guard formatted {:?} lacks {text:?}",
            f.formatted
        );
    }
    if let Some(p) = tc.get("expectedPolicyDenial") {
        let Some(d) = &r.policy_denial else {
            return Err("policyDenial missing".into());
        };
        check!(
            Some(d.policy_name.as_str()) == p["policyName"].as_str(),
            "policyName {}",
            d.policy_name
        );
        let text = p["expression"].as_str().unwrap_or_default();
        check!(
            d.formatted.contains(text),
            "policy formatted {:?} lacks {text:?}",
            d.formatted
        );
    }
    if let Some(c) = tc.get("expectedConcurrencyConflict") {
        let Some(a) = &r.concurrency_conflict else {
            return Err("concurrencyConflict missing".into());
        };
        let actual = serde_json::to_value(a).unwrap();
        for k in [
            "entityType",
            "entityId",
            "expectedVersion",
            "actualVersion",
            "conflictCode",
        ] {
            check!(
                json_eq(&actual[k], &c[k]),
                "concurrencyConflict.{k} {} != {}",
                actual[k],
                c[k]
            );
        }
    }
    if let Some(expected) = ex.get("result") {
        let actual = r
            .result
            .as_ref()
            .map(Value::from)
            .unwrap_or(Value::Undefined);
        check!(
            object_is(&actual, expected),
            "result {:?} != {expected}",
            r.result
        );
    }
    let events = ex["emittedEvents"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = r.emitted_events.iter().map(|e| e.name.as_str()).collect();
    check!(
        r.emitted_events.len() == events.len(),
        "emittedEvents {names:?} != {} expected",
        events.len()
    );
    for (i, (a, e)) in r.emitted_events.iter().zip(&events).enumerate() {
        check!(
            Some(a.name.as_str()) == e["name"].as_str(),
            "event[{i}].name {}",
            a.name
        );
        check!(
            Some(a.channel.as_str()) == e["channel"].as_str(),
            "event[{i}].channel {}",
            a.channel
        );
        check!(
            json_eq(&a.timestamp, &e["timestamp"]),
            "event[{i}].timestamp {}",
            a.timestamp
        );
        if let Some(payload) = e.get("payload") {
            let actual = Json::Object(a.payload.clone());
            check!(
                json_eq(&actual, payload),
                "event[{i}].payload {actual} != {payload}"
            );
        }
    }
    if let (Some(state), Some(entity), Some(id)) = (
        tc.get("expectedInstanceState"),
        &opts.entity_name,
        &opts.instance_id,
    ) {
        let actual = engine
            .get_instance(entity, id)
            .await
            .map_err(|e| e.to_string())?;
        let actual = actual.map_or(Json::Null, Json::Object);
        check!(json_eq(&actual, state), "instance {actual} != {state}");
    }
    Ok(())
}

async fn computed_case(b: &Backend, ir: &Ir, tc: &Json) -> Result<(), String> {
    let empty = Json::Object(Map::new());
    let engine = engine(b, ir, tc.get("context").unwrap_or(&empty))?;
    seed(&engine, &tc["setup"]).await?;
    let c = &tc["computedProperty"];
    let value = engine
        .evaluate_computed(
            c["entity"].as_str().unwrap_or_default(),
            c["instanceId"].as_str().unwrap_or_default(),
            c["property"].as_str().unwrap_or_default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    check!(
        object_is(&value, &tc["expectedValue"]),
        "value {value:?} != {}",
        tc["expectedValue"]
    );
    Ok(())
}

async fn create_case(b: &Backend, ir: &Ir, tc: &Json) -> Result<(), String> {
    let engine = engine(b, ir, &Json::Object(Map::new()))?;
    let c = &tc["createInstance"];
    let created = engine
        .create_instance(c["entity"].as_str().unwrap_or_default(), obj(&c["data"]))
        .await
        .map_err(|e| e.to_string())?;
    let actual = created.map_or(Json::Null, Json::Object);
    check!(
        json_eq(&actual, &tc["expectedInstance"]),
        "instance {actual} != {}",
        tc["expectedInstance"]
    );
    Ok(())
}

async fn persistence_case(b: &Backend, ir: &Ir, tc: &Json) -> Result<(), String> {
    let p = &tc["persistenceTest"];
    let entity = p["entity"].as_str().unwrap_or_default();
    let first = engine(b, ir, &Json::Object(Map::new()))?;
    first
        .create_instance(entity, obj(&p["createData"]))
        .await
        .map_err(|e| e.to_string())?;
    let snapshot = first.snapshot().await.map_err(|e| e.to_string())?;
    let second = engine(b, ir, &Json::Object(Map::new()))?;
    second.restore(&snapshot).await.map_err(|e| e.to_string())?;
    let id = p["createData"]["id"].as_str().unwrap_or_default();
    let actual = second
        .get_instance(entity, id)
        .await
        .map_err(|e| e.to_string())?;
    let actual = actual.map_or(Json::Null, Json::Object);
    check!(
        json_eq(&actual, &p["expectedAfterRestore"]),
        "instance {actual}"
    );
    Ok(())
}

async fn constraint_case(b: &Backend, ir: &Ir, tc: &Json) -> Result<(), String> {
    let engine = engine(b, ir, &Json::Object(Map::new()))?;
    if let Some(setup) = tc.get("setup") {
        seed(&engine, setup).await?;
    }
    let failures = engine
        .check_constraints(tc["entity"].as_str().unwrap_or_default(), &obj(&tc["data"]))
        .map_err(|e| e.to_string())?;
    let expected = tc["expectedConstraintFailures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = failures
        .iter()
        .map(|f| f.constraint_name.as_str())
        .collect();
    check!(
        failures.len() == expected.len(),
        "failures {names:?} != {} expected",
        expected.len()
    );
    for (i, (a, e)) in failures.iter().zip(&expected).enumerate() {
        check!(
            Some(a.constraint_name.as_str()) == e["constraintName"].as_str(),
            "failure[{i}] {}",
            a.constraint_name
        );
        let text = e["expression"]
            .as_str()
            .or(e["formatted"].as_str())
            .unwrap_or_default();
        check!(
            a.formatted.contains(text),
            "failure[{i}].formatted {:?} lacks {text:?}",
            a.formatted
        );
    }
    Ok(())
}

/// The kinds a case runs as, by the harness's independent `if`s.
fn kinds(tc: &Json) -> Vec<&'static str> {
    let has = |k: &str| tc.get(k).is_some();
    let mut out = Vec::new();
    if has("command") {
        out.push("command");
    }
    if has("computedProperty") {
        out.push("computed");
    }
    if has("createInstance")
        && !has("command")
        && !has("computedProperty")
        && !has("persistenceTest")
    {
        out.push("create");
    }
    if has("persistenceTest") {
        out.push("persistence");
    }
    if has("expectedConstraintFailures") {
        out.push("constraint");
    }
    out
}

/// Every case of every fixture on `backend`; returns (counts per tier, failures by id).
async fn run_suite(backend: &Backend) -> (BTreeMap<u8, (usize, usize)>, BTreeMap<String, String>) {
    let tiers = tiers();
    let dir = root().join("fixtures");
    let mut fixtures = Vec::new();
    for (fixture, tier) in &tiers {
        let Ok(ir_text) = std::fs::read_to_string(dir.join(format!("{fixture}.ir.json"))) else {
            continue;
        };
        let results: Json = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{fixture}.results.json"))).unwrap(),
        )
        .unwrap();
        fixtures.push((fixture.clone(), *tier, Ir::from_json_str(&ir_text), results));
    }
    let irs: Vec<Ir> = fixtures
        .iter()
        .filter_map(|f| f.2.as_ref().ok().cloned())
        .collect();
    backend.prepare(&irs).await;
    let mut counts: BTreeMap<u8, (usize, usize)> = BTreeMap::new();
    let mut failures = BTreeMap::new();
    for (fixture, tier, ir, results) in &fixtures {
        for (i, tc) in results["testCases"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for kind in kinds(tc) {
                let outcome = match ir {
                    Err(e) => Err(format!("IR: {e}")),
                    Ok(ir) => match kind {
                        "command" => command_case(backend, ir, tc).await,
                        "computed" => computed_case(backend, ir, tc).await,
                        "create" => create_case(backend, ir, tc).await,
                        "persistence" => persistence_case(backend, ir, tc).await,
                        _ => constraint_case(backend, ir, tc).await,
                    },
                };
                let entry = counts.entry(*tier).or_default();
                match outcome {
                    Ok(()) => entry.0 += 1,
                    Err(why) => {
                        entry.1 += 1;
                        failures.insert(format!("{fixture}#{i}:{kind}"), why);
                    }
                }
            }
        }
    }
    for (tier, (pass, fail)) in &counts {
        eprintln!(
            "{}: tier {tier}: {pass} passed, {fail} failed",
            backend.name()
        );
    }
    (counts, failures)
}

fn known_failures() -> BTreeSet<String> {
    std::fs::read_to_string(root().join("known-failures.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Fail on any failure not in the known list.
fn assert_no_new_failures(backend: &Backend, failures: &BTreeMap<String, String>) {
    let known = known_failures();
    let unexpected: Vec<String> = failures
        .iter()
        .filter(|(id, _)| !known.contains(*id))
        .map(|(id, why)| format!("{id}: {why}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{}: cases failing that are not known failures:\n{}",
        backend.name(),
        unexpected.join("\n")
    );
}

#[tokio::test]
async fn conformance_on_memory() {
    let backend = Backend::Memory;
    let (_, failures) = run_suite(&backend).await;
    if std::env::var_os("CONFORMANCE_WRITE_KNOWN").is_some() {
        let ids: Vec<&str> = failures.keys().map(String::as_str).collect();
        let text = format!(
            "# Conformance cases that do not pass yet (fixture#case:kind), on every backend.\n# Regenerate: CONFORMANCE_WRITE_KNOWN=1 cargo test -p manifest-tests --all-features --test conformance conformance_on_memory\n{}\n",
            ids.join("\n")
        );
        std::fs::write(root().join("known-failures.txt"), text).unwrap();
        return;
    }
    assert_no_new_failures(&backend, &failures);
    let fixed: Vec<String> = known_failures()
        .into_iter()
        .filter(|id| !failures.contains_key(id))
        .collect();
    assert!(
        fixed.is_empty(),
        "known failures that now pass (remove them from known-failures.txt):\n{}",
        fixed.join("\n")
    );
}

#[tokio::test]
async fn conformance_on_sqlite() {
    let path =
        std::env::temp_dir().join(format!("manifest-conformance-{}.db", uuid::Uuid::new_v4()));
    let backend = Backend::Sqlite(SqliteDb::open(&path).await.expect("sqlite"));
    let (_, failures) = run_suite(&backend).await;
    assert_no_new_failures(&backend, &failures);
}

#[tokio::test]
async fn conformance_on_postgres() {
    let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh"
        );
        eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
        return;
    };
    let backend = Backend::Postgres(PgDb::connect(&url).await.expect("postgres"));
    let (_, failures) = run_suite(&backend).await;
    assert_no_new_failures(&backend, &failures);
}
