//! Run Manifest test cases (`*.results.json`) through the engine, exactly as the reference
//! harness (`conformance.test.ts`) runs them, on memory, SQLite or PostgreSQL.
//!
//! This is the one case runner of the project: the `manifest test` command and the workspace's
//! conformance suite both call it. A cases file is `{"testCases": [...]}`; each case runs as
//! every [`CaseKind`] it matches, and each run gives a [`CaseReport`] whose [`Outcome`] is a
//! pass, a failure listing each [`Mismatch`] (what was checked, expected and actual JSON), or an
//! error (the engine or a store failed, or the case is malformed).
//!
//! What the reference harness does, and so what this does:
//! - every case gets a fresh engine with deterministic options
//!   ([`deterministic_engine`]): `now()` is always [`DETERMINISTIC_NOW`] and ids count up
//!   from `test-id-1`;
//! - the setup's `createInstance` and then `createInstances[]` are created first (a constraint
//!   case creates only `createInstances[]`);
//! - JSON results are compared with `toEqual` (key order ignored, numbers compared as doubles),
//!   command results and computed values with `Object.is` (so only primitives can match, and
//!   `-0` is not `0`), guard, policy and constraint texts as substrings of `formatted`; events
//!   by count, then name, channel and timestamp, and the payload when the case gives one; the
//!   instance's state through `get_instance`;
//! - a case that matches no kind is not run ([`CaseKind::of`] is empty).
//!
//! Unlike the reference, every check runs, so a failure lists all its mismatches, and a
//! command case without `expectedResult.emittedEvents` expects no events.
//!
//! ```
//! use std::sync::Arc;
//! use manifest_runtime::Program;
//! use manifest_runtime::conformance::{Backend, Cases, Outcome};
//!
//! let program = Arc::new(Program::from_json_str(r#"{
//!     "version": "1.0",
//!     "entities": [{"name": "Counter", "properties": [
//!         {"name": "value", "type": {"name": "number"},
//!          "defaultValue": {"kind": "number", "value": 0}}
//!     ]}]
//! }"#)?);
//! let cases = Cases::from_json_str(r#"{"testCases": [
//!     {"name": "defaults", "createInstance": {"entity": "Counter", "data": {}},
//!      "expectedInstance": {"id": "test-id-1", "value": 0}},
//!     {"name": "a wrong expectation", "createInstance": {"entity": "Counter", "data": {}},
//!      "expectedInstance": {"id": "test-id-1", "value": 1}}
//! ]}"#)?;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let reports = Backend::Memory.run_cases(&program, "counter.results.json", &cases).await;
//! assert_eq!(reports[0].outcome, Outcome::Pass);
//! let Outcome::Fail { mismatches } = &reports[1].outcome else { panic!("expected a failure") };
//! assert_eq!(mismatches[0].what, "expectedInstance");
//! assert_eq!(mismatches[0].actual["value"], 0);
//! assert!(reports[1].to_string().starts_with("FAIL counter.results.json#1 a wrong expectation [create]"));
//! # });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checks;
mod compare;
mod report;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde_json::Value as Json;

use super::engine::{Engine, EngineBuilder, Program, RuntimeError};
use manifest_core::IdGenerator;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use manifest_core::SqlDb;
use manifest_core::{EntityInstance, Store};

/// The stores an engine of a case was given (to clear when the case ends).
type Stores = Vec<Arc<dyn Store<EntityInstance>>>;

/// What `now()` returns in every case, in milliseconds since the epoch (2001-09-09).
pub const DETERMINISTIC_NOW: f64 = 1_000_000_000_000.0;

/// A builder of an engine as the harness configures one: `now()` is [`DETERMINISTIC_NOW`], ids
/// are `test-id-1`, `test-id-2`, … (each engine counts from 1, and `uuid()` takes from the same
/// count), and the runtime context is `context` (`null` for none).
pub fn deterministic_engine(program: &Arc<Program>, context: &Json) -> EngineBuilder {
    let counter = Arc::new(AtomicU64::new(0));
    Engine::builder(program.clone())
        .context(context.clone())
        .clock(|| DETERMINISTIC_NOW)
        .id_generator(IdGenerator::from_fn(move || {
            format!("test-id-{}", counter.fetch_add(1, Ordering::SeqCst) + 1)
        }))
}

/// How a case runs, from the keys it has; one case may run as several kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseKind {
    /// `command`: run a command, check `expectedResult`, the guard, policy or concurrency
    /// failure, and `expectedInstanceState`.
    Command,
    /// `computedProperty`: check the value against `expectedValue`.
    Computed,
    /// `createInstance` (without `command`, `computedProperty` or `persistenceTest`): check
    /// the created instance against `expectedInstance`.
    Create,
    /// `persistenceTest`: create, snapshot, restore into a new engine, check what is read back.
    Persistence,
    /// `expectedConstraintFailures`: check which constraints `data` fails.
    Constraint,
}

impl CaseKind {
    /// The kinds `case` runs as, in the harness's order (its independent `if`s).
    pub fn of(case: &Json) -> Vec<CaseKind> {
        let has = |k: &str| case.get(k).is_some();
        let mut kinds = Vec::new();
        if has("command") {
            kinds.push(CaseKind::Command);
        }
        if has("computedProperty") {
            kinds.push(CaseKind::Computed);
        }
        if has("createInstance")
            && !has("command")
            && !has("computedProperty")
            && !has("persistenceTest")
        {
            kinds.push(CaseKind::Create);
        }
        if has("persistenceTest") {
            kinds.push(CaseKind::Persistence);
        }
        if has("expectedConstraintFailures") {
            kinds.push(CaseKind::Constraint);
        }
        kinds
    }

    /// `command`, `computed`, `create`, `persistence` or `constraint`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Command => "command",
            CaseKind::Computed => "computed",
            CaseKind::Create => "create",
            CaseKind::Persistence => "persistence",
            CaseKind::Constraint => "constraint",
        }
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The test cases of one cases file, `{"testCases": [{...}, ...]}`.
#[derive(Debug, Clone, Default)]
pub struct Cases {
    cases: Vec<Json>,
}

impl Cases {
    /// Read a cases file's text; the error says where the JSON or its shape is wrong.
    pub fn from_json_str(text: &str) -> Result<Self, CasesError> {
        Self::from_json(serde_json::from_str(text).map_err(CasesError::Json)?)
    }

    /// Read a cases file's JSON: an object whose `testCases` is an array of objects.
    pub fn from_json(value: Json) -> Result<Self, CasesError> {
        let shape = |path: String, message: &str| CasesError::Shape {
            path,
            message: message.to_owned(),
        };
        let Json::Object(mut file) = value else {
            return Err(shape(
                String::new(),
                "expected an object with a `testCases` array",
            ));
        };
        let Some(Json::Array(cases)) = file.remove("testCases") else {
            return Err(shape(
                "testCases".to_owned(),
                "expected an array of test cases",
            ));
        };
        if let Some(i) = cases.iter().position(|c| !c.is_object()) {
            return Err(shape(format!("testCases[{i}]"), "expected an object"));
        }
        Ok(Cases { cases })
    }

    /// The cases, in file order.
    pub fn as_slice(&self) -> &[Json] {
        &self.cases
    }

    /// The number of cases.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether there are no cases.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

/// A cases file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CasesError {
    /// The text is not JSON (the message gives the line and column).
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The JSON does not have the shape of a cases file.
    #[error("invalid cases at `{path}`: {message}")]
    Shape {
        /// The JSON path, such as `testCases[2]` (empty for the whole file).
        path: String,
        /// What was expected.
        message: String,
    },
}

/// A database the runner cannot open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not one of `sqlite:…` or `postgres://…`.
    #[error(
        "unsupported database URL scheme `{0}`: expected `sqlite://<path>`, `sqlite::memory:` or `postgres://…`"
    )]
    UnsupportedScheme(String),
    /// The URL names a database this build has no support for.
    #[error("`{scheme}` database URLs need manifest-core's `{feature}` feature")]
    FeatureDisabled {
        /// The URL's scheme.
        scheme: String,
        /// The feature that adds it.
        feature: &'static str,
    },
    /// Connecting failed.
    #[error(transparent)]
    Store(#[from] manifest_core::Error),
}

/// One case run as one kind, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CaseReport {
    /// The cases file (as the caller named it: a path, or a fixture name).
    pub file: String,
    /// The case's position in `testCases`, from 0.
    pub index: usize,
    /// The case's `name`, if it has one.
    pub name: Option<String>,
    /// The kind it ran as.
    pub kind: CaseKind,
    /// How it went.
    pub outcome: Outcome,
}

impl CaseReport {
    /// `<file>#<index>:<kind>`, unique within a run (the suite's known-failures ids).
    pub fn id(&self) -> String {
        format!("{}#{}:{}", self.file, self.index, self.kind)
    }
}

/// How a case went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check held.
    Pass,
    /// Checks failed; each is one mismatch, in the order they were checked.
    Fail {
        /// The failed checks.
        mismatches: Vec<Mismatch>,
    },
    /// The case could not run to its checks: the engine or a store returned an error, or the
    /// case is malformed (a command case without `expectedResult`, a context that is not an
    /// object).
    Error(String),
}

impl Outcome {
    /// Whether this is [`Outcome::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// A failed check: what the case expected and what the engine gave.
///
/// `what` names the expectation in the cases file, such as `expectedResult.result` or
/// `expectedResult.emittedEvents[0].payload`, and says how it was compared when that is not
/// equality (`… (contained in formatted)`). Values JSON cannot hold are strings in angle
/// brackets: `"<undefined>"` (also for an absent value), `"<NaN>"`, `"<Infinity>"`,
/// `"<-Infinity>"`. Its `Display` is the two values side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Mismatch {
    /// The expectation that failed.
    pub what: String,
    /// What the case expected.
    pub expected: Json,
    /// What the engine gave.
    pub actual: Json,
}

/// Where a run keeps its instances.
///
/// On SQLite and PostgreSQL every entity is served by its JSON [`DocumentStore`](manifest_core::DocumentStore)
/// as the engine's [`Database`](crate::Database), whatever store the IR declares; each engine a
/// case builds gets a tenant of its own (`case-<uuid>`), so cases never see each other's rows,
/// and the rows are deleted when the case ends. Create the tables first with
/// [`prepare`](Self::prepare). The memory backend uses the engine's built-in stores, as the
/// reference harness does, so an entity the IR stores elsewhere is an error there.
///
/// (Not to be confused with the SQL backend trait, `manifest_core::Backend`.)
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Backend {
    /// The engine's built-in memory stores, fresh for each engine.
    Memory,
    /// Document stores on SQLite.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    Sqlite(SqlDb<manifest_core::sqlx::Sqlite>),
    /// Document stores on PostgreSQL.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres(SqlDb<manifest_core::sqlx::Postgres>),
}

impl Backend {
    /// `memory`, `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Open a database by URL: `sqlite://<path>` (the file is created if missing),
    /// `sqlite::memory:`, or `postgres://…` / `postgresql://…`.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => {
                #[cfg(feature = "sqlite")]
                return Ok(Backend::Sqlite(connect_sqlite(url).await?));
                #[cfg(not(feature = "sqlite"))]
                return Err(ConnectError::FeatureDisabled {
                    scheme: scheme.to_owned(),
                    feature: "sqlite",
                });
            }
            "postgres" | "postgresql" => {
                #[cfg(feature = "postgres")]
                return Ok(Backend::Postgres(connect_postgres(url).await?));
                #[cfg(not(feature = "postgres"))]
                return Err(ConnectError::FeatureDisabled {
                    scheme: scheme.to_owned(),
                    feature: "postgres",
                });
            }
            _ => Err(ConnectError::UnsupportedScheme(scheme.to_owned())),
        }
    }

    /// Create the document table of every entity of `program` that has none yet, and the
    /// indexes its relationships use (nothing to do on memory). An entity name that cannot be
    /// a table name is [`Error::InvalidName`](manifest_core::Error::InvalidName).
    pub async fn prepare(&self, program: &Arc<Program>) -> Result<(), RuntimeError> {
        self.builder(program, &Json::Null, "prepare")
            .build()?
            .prepare()
            .await
    }

    /// [`deterministic_engine`] on this backend's database, for `tenant`.
    fn builder(&self, program: &Arc<Program>, context: &Json, tenant: &str) -> EngineBuilder {
        let builder = deterministic_engine(program, context);
        // Memory engines need no tenant; without a SQL feature no backend takes it.
        let _ = tenant;
        match self {
            Backend::Memory => builder,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(db) => builder.tenant(tenant).database(db.clone()),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => builder.tenant(tenant).database(db.clone()),
        }
    }

    /// A fresh engine for `program` as a case gets one: [`deterministic_engine`] with
    /// `context`, and this backend's database under a new tenant. Building one also checks
    /// that every entity has a store. (What such an engine writes to a database stays there;
    /// the rows of the engines [`run_case`](Self::run_case) builds are deleted when the case
    /// ends.)
    pub fn engine(&self, program: &Arc<Program>, context: &Json) -> Result<Engine, RuntimeError> {
        Ok(self.engine_with_stores(program, context)?.0)
    }

    fn engine_with_stores(
        &self,
        program: &Arc<Program>,
        context: &Json,
    ) -> Result<(Engine, Stores), RuntimeError> {
        let tenant = format!("case-{}", uuid::Uuid::new_v4().simple());
        let engine = self.builder(program, context, &tenant).build()?;
        Ok((engine, self.stores(program, &tenant)?))
    }

    /// The document stores of `tenant` for every entity of `program` (none on memory), to
    /// delete a case's rows with.
    fn stores(&self, program: &Program, tenant: &str) -> manifest_core::Result<Stores> {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        fn documents<DB: manifest_core::Backend>(
            db: &SqlDb<DB>,
            program: &Program,
            tenant: &str,
        ) -> manifest_core::Result<Stores> {
            program
                .ir()
                .entities
                .iter()
                .map(|e| {
                    let store: Arc<dyn Store<EntityInstance>> =
                        Arc::new(db.document_store(&e.name, tenant)?);
                    Ok(store)
                })
                .collect()
        }
        match self {
            Backend::Memory => {
                let _ = (program, tenant);
                Ok(Vec::new())
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(db) => documents(db, program, tenant),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => documents(db, program, tenant),
        }
    }

    /// Run `case` as `kind`. The rows it wrote are deleted afterwards; a failure to delete
    /// them is an [`Outcome::Error`] too.
    pub async fn run_case(&self, program: &Arc<Program>, case: &Json, kind: CaseKind) -> Outcome {
        let mut run = checks::Run {
            backend: self,
            program,
            stores: Vec::new(),
        };
        let result = match kind {
            CaseKind::Command => checks::command(&mut run, case).await,
            CaseKind::Computed => checks::computed(&mut run, case).await,
            CaseKind::Create => checks::create(&mut run, case).await,
            CaseKind::Persistence => checks::persistence(&mut run, case).await,
            CaseKind::Constraint => checks::constraint(&mut run, case).await,
        };
        let cleaned = run.clean_up().await;
        match (result, cleaned) {
            (Err(why), _) => Outcome::Error(why),
            (Ok(_), Err(why)) => Outcome::Error(format!("deleting the case's rows: {why}")),
            (Ok(mismatches), Ok(())) if mismatches.is_empty() => Outcome::Pass,
            (Ok(mismatches), Ok(())) => Outcome::Fail { mismatches },
        }
    }

    /// Run every case of a cases file as each kind it matches, in order; `file` names the
    /// file in the reports. Cases that match no kind give no report.
    pub async fn run_cases(
        &self,
        program: &Arc<Program>,
        file: &str,
        cases: &Cases,
    ) -> Vec<CaseReport> {
        let mut reports = Vec::new();
        for (index, case) in cases.as_slice().iter().enumerate() {
            for kind in CaseKind::of(case) {
                reports.push(CaseReport {
                    file: file.to_owned(),
                    index,
                    name: case["name"].as_str().map(str::to_owned),
                    kind,
                    outcome: self.run_case(program, case, kind).await,
                });
            }
        }
        reports
    }
}

/// A SQLite pool for `url`, creating the file if it is missing. An in-memory database is one
/// connection that never expires (each connection to `:memory:` is a database of its own).
#[cfg(feature = "sqlite")]
async fn connect_sqlite(url: &str) -> manifest_core::Result<SqlDb<manifest_core::sqlx::Sqlite>> {
    use std::str::FromStr;

    use manifest_core::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    if matches!(
        url,
        "sqlite::memory:" | "sqlite://:memory:" | "sqlite:memory:"
    ) {
        return SqlDb::<manifest_core::sqlx::Sqlite>::memory().await;
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(manifest_core::Error::database)?
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .map_err(manifest_core::Error::database)?;
    Ok(SqlDb::from_pool(pool))
}

/// A PostgreSQL pool for `url`. One connection is made first: a pool that cannot connect
/// retries until its acquire timeout (30 s) and then only says that it timed out, while the
/// connection's error says why (refused, unknown host, authentication).
#[cfg(feature = "postgres")]
async fn connect_postgres(
    url: &str,
) -> manifest_core::Result<SqlDb<manifest_core::sqlx::Postgres>> {
    use manifest_core::sqlx::Connection;

    let probe = manifest_core::sqlx::PgConnection::connect(url)
        .await
        .map_err(manifest_core::Error::database)?;
    probe
        .close()
        .await
        .map_err(manifest_core::Error::database)?;
    SqlDb::<manifest_core::sqlx::Postgres>::connect(url).await
}
