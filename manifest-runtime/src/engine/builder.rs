//! [`EngineBuilder`]: an [`Engine`] bound to one tenant, and the [`Database`] its entities
//! live in.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;

use super::concurrency::{InstanceLocks, Stripes};
use super::program::Program;
use super::rows::{MemoryRows, Rows};
use super::{Engine, RuntimeError, StoreProvider, WritePath};
use crate::limits::Limits;
use crate::value::{Object, Value};
use manifest_core::IdGenerator;

/// Where the entities without a provided store live.
///
/// - [`Database::Memory`] (the default, a fresh [`MemoryDb`] per engine): in memory. Give
///   engines one `MemoryDb` to share (`.database(memory.clone())`) and they see each other's
///   rows, tenant by tenant.
/// - `Database::Sqlite` / `Database::Postgres` (features `sqlite`, `postgres`): one JSON
///   [`DocumentStore`](manifest_core::DocumentStore) table per entity, whatever store target
///   the IR declares; [`Engine::prepare`] creates the tables and their indexes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Database {
    /// In memory.
    Memory(MemoryDb),
    /// SQLite document tables.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    Sqlite(manifest_core::SqliteDb),
    /// PostgreSQL document tables.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres(manifest_core::PgDb),
}

impl From<MemoryDb> for Database {
    fn from(db: MemoryDb) -> Self {
        Database::Memory(db)
    }
}

#[cfg(feature = "sqlite")]
impl From<manifest_core::SqliteDb> for Database {
    fn from(db: manifest_core::SqliteDb) -> Self {
        Database::Sqlite(db)
    }
}

#[cfg(feature = "postgres")]
impl From<manifest_core::PgDb> for Database {
    fn from(db: manifest_core::PgDb) -> Self {
        Database::Postgres(db)
    }
}

/// The engine's own memory store, shareable between engines: each entity's rows per tenant,
/// held as the values expressions see (a read is a reference count, a write a pointer swap),
/// with an index of each field relationships look rows up by. Cloning it shares it.
#[derive(Clone, Default)]
pub struct MemoryDb {
    inner: Arc<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    entities: Mutex<HashMap<String, Arc<MemoryRows>>>,
    /// The per-instance locks of every engine over this store, so commands on one instance
    /// queue rather than collide (the store's pointer comparison is the guarantee).
    stripes: Arc<Stripes>,
}

impl MemoryDb {
    /// An empty store.
    pub fn new() -> Self {
        MemoryDb::default()
    }

    /// The rows of `entity` (created empty on first use).
    pub(super) fn rows(&self, entity: &str) -> Arc<MemoryRows> {
        super::rows::shared(&self.inner.entities, entity)
    }

    pub(super) fn stripes(&self) -> Arc<Stripes> {
        self.inner.stripes.clone()
    }
}

impl fmt::Debug for MemoryDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDb").finish_non_exhaustive()
    }
}

/// Builds an [`Engine`]: [`Engine::builder`].
///
/// ```
/// use manifest_runtime::{Engine, Ir};
/// use serde_json::json;
///
/// let ir = Ir::from_json_str(r#"{"version": "1.0", "entities": [{"name": "Note",
///     "properties": [{"name": "text", "type": {"name": "string"}}]}]}"#)?;
/// let engine = Engine::builder(ir)
///     .tenant("acme")
///     .context(json!({"user": {"id": "u1", "role": "editor"}}))
///     .build()?;
/// assert_eq!(engine.tenant(), Some("acme"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "an EngineBuilder does nothing until `build` is called"]
pub struct EngineBuilder {
    program: Arc<Program>,
    tenant: Option<String>,
    context: Json,
    actor: Option<Json>,
    database: Option<Database>,
    provider: Option<Arc<dyn StoreProvider>>,
    clock: Option<Arc<dyn Fn() -> f64 + Send + Sync>>,
    ids: IdGenerator,
    limits: Limits,
    require_tenant: bool,
    write: WritePath,
    row_level_security: bool,
}

impl fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("tenant", &self.tenant)
            .field("context", &self.context)
            .field("actor", &self.actor)
            .field("database", &self.database)
            .field("store_provider", &self.provider.is_some())
            .field("ids", &self.ids)
            .field("limits", &self.limits)
            .field("require_tenant", &self.require_tenant)
            .field("write_path", &self.write)
            .field("row_level_security", &self.row_level_security)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    pub(super) fn new(program: Arc<Program>) -> Self {
        EngineBuilder {
            program,
            tenant: None,
            context: Json::Null,
            actor: None,
            database: None,
            provider: None,
            clock: None,
            ids: IdGenerator::default(),
            limits: Limits::default(),
            require_tenant: false,
            write: WritePath::default(),
            row_level_security: false,
        }
    }

    /// The tenant: every store the engine uses is bound to it (its memory rows and the
    /// database's tables are read and written for it only; a provided store bound to another
    /// is refused by [`build`](Self::build)). Without one the engine uses the tenant `""`
    /// and does not check provided stores. (Expressions see the tenant only if the context
    /// carries it, as in the reference: `context.tenantId`.)
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The runtime context, a JSON object (`null` for none): expressions see it as `context`,
    /// and its `user` as `user` unless [`actor`](Self::actor) is set.
    pub fn context(mut self, context: Json) -> Self {
        self.context = context;
        self
    }

    /// The acting user, which expressions see as `user` (default: `context.user`).
    pub fn actor(mut self, actor: Json) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Where entities without a provided store live (default: a fresh [`MemoryDb`]):
    /// a `MemoryDb`, a `SqliteDb` or a `PgDb`.
    pub fn database(mut self, database: impl Into<Database>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Per-entity stores: asked for each entity with the entity's name and the engine's
    /// tenant (`""` without one); an entity it gives no store lives in the
    /// [`database`](Self::database).
    pub fn store_provider(mut self, provider: impl StoreProvider + 'static) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// [`store_provider`](Self::store_provider) from a shared provider.
    pub fn store_provider_arc(mut self, provider: Arc<dyn StoreProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The clock, in milliseconds since the epoch (default: the system clock).
    pub fn clock(mut self, now: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    /// Ids for created instances and `uuid()` (default: UUIDv7).
    pub fn id_generator(mut self, ids: IdGenerator) -> Self {
        self.ids = ids;
        self
    }

    /// The limits of evaluation and of the input operations take (default:
    /// [`Limits::DEFAULT`]): exceeding one ends the operation with
    /// [`RuntimeError::LimitExceeded`] and writes nothing.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The write path around commands: the outbox their events go to, the idempotency store
    /// of their keys, the audit sink, effects and listeners (default: none of them).
    pub fn write_path(mut self, write: WritePath) -> Self {
        self.write = write;
        self
    }

    /// Run every operation, not only commands, in a transaction begun for the tenant
    /// ([`SqlDb::begin_for`](manifest_core::SqlDb::begin_for)): reads and writes outside
    /// commands (`create_instance`, `get_instance`, `get_all_instances`, ...) then pass the
    /// row-level-security policies of
    /// [`PgDb::enable_row_level_security`](manifest_core::PgDb::enable_row_level_security),
    /// which let nothing through outside such a transaction. It costs each of them a `BEGIN`
    /// and a `COMMIT`. Nothing changes on memory or SQLite, which have no row-level security.
    pub fn row_level_security(mut self) -> Self {
        self.row_level_security = true;
        self
    }

    /// Refuse to build without a [`tenant`](Self::tenant)
    /// ([`RuntimeError::TenantRequired`]).
    pub fn require_tenant(mut self) -> Self {
        self.require_tenant = true;
        self
    }

    /// The engine. Fails with [`RuntimeError::TenantRequired`], [`RuntimeError::ContextNotObject`],
    /// [`RuntimeError::TenantMismatch`] (a provided store bound to another tenant),
    /// [`RuntimeError::SchemaMismatch`] (a typed store that does not fit its entity) or
    /// [`RuntimeError::NoStore`] (an IR store target with no store on a memory database).
    /// It touches no database: [`Engine::prepare`] creates the tables.
    pub fn build(self) -> Result<Engine, RuntimeError> {
        if self.require_tenant && self.tenant.is_none() {
            return Err(RuntimeError::TenantRequired);
        }
        let tenant = self.tenant.clone().unwrap_or_default();
        let context = match &self.context {
            Json::Null => Object::new(),
            Json::Object(_) => match Value::from(&self.context) {
                Value::Object(context) => context,
                _ => Object::new(),
            },
            _ => return Err(RuntimeError::ContextNotObject),
        };
        let user = match &self.actor {
            Some(actor) => Value::from(actor),
            None => context.get("user").cloned().unwrap_or(Value::Null),
        };
        let database = self.database.unwrap_or_default();
        let program = self.program;
        let mut rows = Vec::with_capacity(program.ir.entities.len());
        for entity in &program.ir.entities {
            let provided = self
                .provider
                .as_ref()
                .and_then(|p| p.store(&entity.name, &tenant));
            let store = match provided {
                Some(store) => {
                    if self.tenant.is_some() && store.tenant() != &tenant {
                        return Err(RuntimeError::TenantMismatch {
                            entity: entity.name.clone(),
                            engine: tenant,
                            store: store.tenant().clone(),
                        });
                    }
                    if let Some((name, columns)) = store.typed_columns() {
                        let found = crate::schema::mismatches(entity, name, columns);
                        if !found.is_empty() {
                            return Err(RuntimeError::SchemaMismatch {
                                entity: entity.name.clone(),
                                mismatches: found,
                            });
                        }
                    }
                    Rows::provided(store)
                }
                None => database.rows(&program, &entity.name, &tenant)?,
            };
            rows.push(Arc::new(store));
        }
        let stripes = match &database {
            Database::Memory(memory) => memory.stripes(),
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            _ => Arc::default(),
        };
        let now = self
            .clock
            .unwrap_or_else(|| Arc::new(|| chrono::Utc::now().timestamp_millis() as f64));
        // Only PostgreSQL has row-level security: on SQLite a transaction per read would only
        // queue reads behind the one writer.
        let row_level_security = self.row_level_security && database.has_row_level_security();
        Ok(Engine {
            program,
            rows,
            database,
            locks: InstanceLocks::default(),
            stripes,
            tenant_id: self.tenant,
            context: Value::Object(context),
            user,
            now,
            ids: self.ids,
            limits: self.limits,
            write: self.write,
            row_level_security,
        })
    }
}

impl Database {
    /// Whether it is PostgreSQL, the one with row-level security.
    fn has_row_level_security(&self) -> bool {
        #[cfg(feature = "postgres")]
        if matches!(self, Database::Postgres(_)) {
            return true;
        }
        false
    }
}

impl Default for Database {
    fn default() -> Self {
        Database::Memory(MemoryDb::new())
    }
}

impl Database {
    /// The store of `entity` for `tenant` when no provider gives one.
    fn rows(&self, program: &Program, entity: &str, tenant: &str) -> Result<Rows, RuntimeError> {
        match self {
            Database::Memory(memory) => {
                match program.ir.store_of(entity).map(|s| s.target.as_str()) {
                    None | Some("memory") => {}
                    Some(target) => {
                        return Err(RuntimeError::NoStore {
                            entity: entity.to_owned(),
                            target: target.to_owned(),
                        });
                    }
                }
                Ok(Rows::memory(&memory.rows(entity), tenant))
            }
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => {
                Ok(Rows::provided(Arc::new(db.document_store(entity, tenant)?)))
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => {
                Ok(Rows::provided(Arc::new(db.document_store(entity, tenant)?)))
            }
        }
    }

    /// Begin a transaction for `tenant` on a SQL database; `None` on memory.
    pub(super) async fn begin(
        &self,
        tenant: &str,
    ) -> Result<Option<super::unit::Txn>, RuntimeError> {
        match self {
            Database::Memory(_) => {
                let _ = tenant;
                Ok(None)
            }
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => Ok(Some(super::unit::Txn::Sqlite(db.begin_for(tenant).await?))),
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => Ok(Some(super::unit::Txn::Postgres(
                db.begin_for(tenant).await?,
            ))),
        }
    }

    /// Create the document table of every entity of `program`, and the index of every field
    /// its relationships look rows up by (nothing on memory). Safe to run again.
    pub(super) async fn prepare(&self, program: &Program) -> Result<(), RuntimeError> {
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        async fn tables<DB: manifest_core::Backend>(
            db: &manifest_core::SqlDb<DB>,
            program: &Program,
        ) -> manifest_core::Result<()> {
            for entity in &program.ir.entities {
                db.create_document_table(&entity.name).await?;
            }
            for (entity, field) in &program.lookup_fields {
                match db.create_document_index(entity, field).await {
                    // A field that is no identifier is found by a scan.
                    Err(manifest_core::Error::InvalidName { .. }) => {}
                    other => other?,
                }
            }
            Ok(())
        }
        match self {
            Database::Memory(_) => {
                let _ = program;
                Ok(())
            }
            #[cfg(feature = "sqlite")]
            Database::Sqlite(db) => Ok(tables(db, program).await?),
            #[cfg(feature = "postgres")]
            Database::Postgres(db) => Ok(tables(db, program).await?),
        }
    }
}
