//! [`RuntimeEngine`]: executes Manifest IR over the stores the provider hook gives, with the
//! reference runtime's semantics (`@angriff36/manifest` 3.4.23, `runtime-engine.ts`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value as Json};

use super::eval::{EvalError, Host, Scope, eval};
use super::expr::Expr;
use super::ir::{ActionKind, Ir, IrConstraint, IrEntity, IrError, PolicyAction, Severity};
use super::result::{
    CommandResult, ConcurrencyConflict, ConstraintOutcome, EmittedEvent, GuardFailure, PolicyDenial,
};
use super::value::Value;
use crate::id::IdGenerator;
use crate::store::{Conditional, EntityInstance, MemoryStore, Store};

mod concurrency;
use concurrency::{COMMAND_ATTEMPTS, InstanceLocks, backoff};

/// A JS-like object: the engine's view of an instance, an input or a context.
type Object = BTreeMap<String, Value>;

/// Chooses the store of each entity (the seed's `storeProvider`). `None` means "use the
/// built-in store for the entity's IR store target".
pub trait StoreProvider: Send + Sync {
    /// The store for `entity`, if this provider serves it.
    fn store(&self, entity: &str) -> Option<Arc<dyn Store<EntityInstance>>>;
}

impl<F> StoreProvider for F
where
    F: Fn(&str) -> Option<Arc<dyn Store<EntityInstance>>> + Send + Sync,
{
    fn store(&self, entity: &str) -> Option<Arc<dyn Store<EntityInstance>>> {
        self(entity)
    }
}

/// How a [`RuntimeEngine`] runs.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RuntimeOptions {
    /// The tenant every built-in store is bound to.
    pub tenant_id: Option<String>,
    /// The acting user; expressions see it as `user`. Defaults to `context.user`.
    pub actor: Option<Json>,
    /// The runtime context (a JSON object); expressions see it as `context`.
    pub context: Json,
    /// Chooses each entity's store.
    pub store_provider: Option<Arc<dyn StoreProvider>>,
    /// The clock, in milliseconds since the epoch (default: the system clock).
    pub now: Option<Arc<dyn Fn() -> f64 + Send + Sync>>,
    /// Ids for created instances and `uuid()` (default: UUIDv7).
    pub generate_id: IdGenerator,
    /// Refuse to start without a tenant.
    pub require_tenant_context: bool,
}

impl fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("tenant_id", &self.tenant_id)
            .field("actor", &self.actor)
            .field("context", &self.context)
            .field("store_provider", &self.store_provider.is_some())
            .field("generate_id", &self.generate_id)
            .field("require_tenant_context", &self.require_tenant_context)
            .finish_non_exhaustive()
    }
}

/// Which instance a command runs on.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CommandOptions {
    /// The entity of the command (and of the instance).
    pub entity_name: Option<String>,
    /// The instance; none for instance-less and global commands.
    pub instance_id: Option<String>,
}

impl CommandOptions {
    /// Run on `instance_id` of `entity`.
    pub fn on(entity: impl Into<String>, instance_id: impl Into<String>) -> Self {
        CommandOptions {
            entity_name: Some(entity.into()),
            instance_id: Some(instance_id.into()),
        }
    }
}

/// Why an engine operation could not run (as opposed to a command that ran and failed, which
/// is a [`CommandResult`] with `success: false`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The IR could not be loaded.
    #[error(transparent)]
    Ir(#[from] IrError),
    /// An entity's IR store target is one the engine cannot serve, and no provider gave a store.
    #[error(
        "entity `{entity}` is stored in `{target}`, which has no built-in store: the store provider must supply it"
    )]
    NoStore {
        /// The entity.
        entity: String,
        /// Its IR store target.
        target: String,
    },
    /// A typed store bound through the provider does not fit its IR entity.
    #[error("the store bound to entity `{entity}` does not fit it: {}", mismatches.join("; "))]
    SchemaMismatch {
        /// The entity.
        entity: String,
        /// Each mismatch, naming the property or field.
        mismatches: Vec<String>,
    },
    /// `require_tenant_context` is set and no tenant was given.
    #[error("a tenant is required (`require_tenant_context`) but none was given")]
    TenantRequired,
    /// The context is not a JSON object.
    #[error("the runtime context must be a JSON object")]
    ContextNotObject,
    /// No entity of that name.
    #[error("unknown entity `{0}`")]
    UnknownEntity(String),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
    /// Other writers kept changing the command's instance between its read and its write, on
    /// every attempt: the command gave up. Unless `written`, it wrote nothing and emitted
    /// nothing, and can be run again; `written` means an explicit `persist` action of the last
    /// attempt had already written, so the instance holds that attempt's changes up to it.
    #[error(
        "concurrent updates on {entity}#{id} kept conflicting after {attempts} attempt(s); {}",
        if *.written { "an earlier persist of the last attempt was written" } else { "nothing was written" }
    )]
    Conflict {
        /// The entity.
        entity: String,
        /// The instance.
        id: String,
        /// How many times the command ran.
        attempts: u32,
        /// Whether a `persist` action had written before the conflict.
        written: bool,
    },
    /// An expression could not be evaluated.
    #[error("evaluating {what}: {source}")]
    Eval {
        /// Where the expression is.
        what: String,
        /// What went wrong.
        #[source]
        source: EvalError,
    },
}

/// Executes Manifest IR. `Send + Sync`: share it between tasks behind an `Arc`.
///
/// # Concurrent commands
///
/// Two commands on one instance never lose an update, whether they run in this engine or in
/// engines of other processes sharing the database. A command reads its instance, evaluates
/// policies, constraints, guards and actions on a working copy, and writes the changes in one
/// [`Store::update_if`] against the row as it read it: the store checks that the row is
/// unchanged and writes in one atomic step (one `UPDATE ... WHERE` on SQL stores). If another
/// write came between, nothing was written and nothing emitted, so the whole command runs
/// again from a fresh read, up to [`COMMAND_ATTEMPTS`](Self::COMMAND_ATTEMPTS) (32) times, each
/// rerun after a random pause that grows from under 1 ms to at most 16 ms; then it fails with
/// [`RuntimeError::Conflict`]. The pauses use tokio's timer, so run the engine on a tokio
/// runtime with time enabled (`#[tokio::main]` and `#[tokio::test]` enable it). An explicit
/// `persist` action writes the same way; once it has written, a later conflict cannot be
/// retried and is a `Conflict` with `written` set. A rerun evaluates everything again: `now()`
/// is read again and generated ids (`uuid()`) are drawn again, so a retried command consumes
/// ids that no instance ends up with.
///
/// This is optimistic concurrency (a compare-and-set on the row) rather than a row lock held
/// between read and write: it needs no transaction kept open across the evaluation, works on
/// every store through one trait method (memory, SQLite, PostgreSQL, a tenant-sharded Citus),
/// and costs nothing extra when commands do not collide. Within one engine, commands on the
/// same instance also take an in-process per-instance lock, so they queue instead of colliding
/// and retrying; that lock is an optimisation, the store's check is the guarantee. For a
/// store whose `update_if` is [`Error::Unsupported`](crate::Error::Unsupported) (a custom
/// store, or a typed store of an unversioned entity through
/// [`InstanceStore`](crate::InstanceStore)) the engine writes with a plain `update` and the
/// per-instance lock is the only protection: it covers this engine, not other processes.
/// [`update_instance`](Self::update_instance) follows the same rules.
pub struct RuntimeEngine {
    ir: Arc<Ir>,
    stores: HashMap<String, Arc<dyn Store<EntityInstance>>>,
    /// Per entity: whether its store may still support `update_if` (cleared on the first
    /// `Unsupported`).
    conditional: HashMap<String, AtomicBool>,
    locks: InstanceLocks,
    context: Value,
    user: Value,
    now: Arc<dyn Fn() -> f64 + Send + Sync>,
    ids: IdGenerator,
}

const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<RuntimeEngine>();
};

impl fmt::Debug for RuntimeEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeEngine")
            .field("entities", &self.ir.entities.len())
            .field("commands", &self.ir.commands.len())
            .finish_non_exhaustive()
    }
}

/// The engine's services to expressions: the clock and the id generator.
struct EngineHost<'a>(&'a RuntimeEngine);

impl Host for EngineHost<'_> {
    fn now(&self) -> f64 {
        (self.0.now)()
    }
    fn generate_id(&self) -> String {
        self.0.ids.generate_string()
    }
}

/// What one command run has changed so far.
struct Working {
    instance: Option<Object>,
    /// The stored row the next write expects: as read, then as last written.
    read: Option<EntityInstance>,
    patch: Object,
    version_bumped: bool,
    /// Whether a `persist` action has written.
    written: bool,
}

impl Working {
    fn new(read: Option<EntityInstance>) -> Self {
        Working {
            instance: read.as_ref().map(instance_object),
            read,
            patch: Object::new(),
            version_bumped: false,
            written: false,
        }
    }
}

/// A command ended early.
// The large variant is the common one, and it travels next to an `Ok(CommandResult)` of the
// same size: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Stop {
    /// With this result.
    Result(CommandResult),
    /// Its instance changed (or was deleted) between the read and a write; nothing of this
    /// write was written. `written`: an earlier `persist` of this attempt was.
    Changed { written: bool },
}

impl RuntimeEngine {
    /// How many times [`run_command`](Self::run_command) and
    /// [`update_instance`](Self::update_instance) run before other writers changing the
    /// instance every time make them give up with [`RuntimeError::Conflict`].
    pub const COMMAND_ATTEMPTS: u32 = COMMAND_ATTEMPTS;

    /// An engine for `ir`, choosing each entity's store: the provider's, else a memory store for
    /// `memory` targets and entities without a store declaration; any other target without a
    /// provided store is [`RuntimeError::NoStore`].
    pub fn new(ir: Ir, options: RuntimeOptions) -> Result<Self, RuntimeError> {
        if options.require_tenant_context && options.tenant_id.is_none() {
            return Err(RuntimeError::TenantRequired);
        }
        let context = match &options.context {
            Json::Null => Value::Object(Object::new()),
            Json::Object(_) => Value::from(&options.context),
            _ => return Err(RuntimeError::ContextNotObject),
        };
        let user = match &options.actor {
            Some(actor) => Value::from(actor),
            None => match options.context.get("user") {
                Some(user) => Value::from(user),
                None => Value::Null,
            },
        };
        let tenant = options.tenant_id.clone().unwrap_or_default();
        let mut stores = HashMap::new();
        let mut conditional = HashMap::new();
        for entity in &ir.entities {
            let provided = options
                .store_provider
                .as_ref()
                .and_then(|p| p.store(&entity.name));
            let store = match provided {
                Some(store) => {
                    if let Some((name, columns)) = store.typed_columns() {
                        let found = super::schema::mismatches(entity, name, columns);
                        if !found.is_empty() {
                            return Err(RuntimeError::SchemaMismatch {
                                entity: entity.name.clone(),
                                mismatches: found,
                            });
                        }
                    }
                    store
                }
                None => match ir.store_of(&entity.name).map(|s| s.target.as_str()) {
                    None | Some("memory") => Arc::new(
                        MemoryStore::<EntityInstance>::named(&entity.name, tenant.clone())
                            .with_ids(options.generate_id.clone()),
                    )
                        as Arc<dyn Store<EntityInstance>>,
                    Some(target) => {
                        return Err(RuntimeError::NoStore {
                            entity: entity.name.clone(),
                            target: target.to_owned(),
                        });
                    }
                },
            };
            stores.insert(entity.name.clone(), store);
            conditional.insert(entity.name.clone(), AtomicBool::new(true));
        }
        let now = options
            .now
            .clone()
            .unwrap_or_else(|| Arc::new(|| chrono::Utc::now().timestamp_millis() as f64));
        Ok(RuntimeEngine {
            ir: Arc::new(ir),
            stores,
            conditional,
            locks: InstanceLocks::default(),
            context,
            user,
            now,
            ids: options.generate_id,
        })
    }

    /// The IR this engine runs.
    pub fn ir(&self) -> &Ir {
        &self.ir
    }

    fn entity(&self, name: &str) -> Result<&IrEntity, RuntimeError> {
        self.ir
            .entity(name)
            .ok_or_else(|| RuntimeError::UnknownEntity(name.to_owned()))
    }

    fn store(&self, name: &str) -> Result<&Arc<dyn Store<EntityInstance>>, RuntimeError> {
        self.stores
            .get(name)
            .ok_or_else(|| RuntimeError::UnknownEntity(name.to_owned()))
    }

    fn now_value(&self) -> Value {
        Value::Number((self.now)())
    }

    fn eval(&self, expr: &Expr, scope: &Object, what: &str) -> Result<Value, RuntimeError> {
        eval(expr, &Scope::with_fields(scope), &EngineHost(self)).map_err(|source| {
            RuntimeError::Eval {
                what: what.to_owned(),
                source,
            }
        })
    }

    // ── reads and writes ───────────────────────────────────────────────────────────────

    /// Create an instance: defaults for absent keys, an id when none is given, timestamps and
    /// the version; `None` when a required property is missing or a blocking entity
    /// constraint fails (nothing is written).
    pub async fn create_instance(
        &self,
        entity_name: &str,
        data: Map<String, Json>,
    ) -> Result<Option<Map<String, Json>>, RuntimeError> {
        let entity = self.entity(entity_name)?;
        let data = to_object(&data);
        if !required_satisfied(entity, &data) {
            return Ok(None);
        }
        let mut merged = self.prepare_create(entity, data);
        if self
            .failed_constraints(entity, &merged)?
            .iter()
            .any(is_blocking)
        {
            return Ok(None);
        }
        let id = match merged.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            _ => self.ids.generate_string(),
        };
        merged.insert("id".to_owned(), Value::String(id));
        let created = self
            .store(entity_name)?
            .create(to_instance(&merged))
            .await?;
        Ok(Some(from_instance(created)))
    }

    fn prepare_create(&self, entity: &IrEntity, data: Object) -> Object {
        let mut merged = Object::new();
        for prop in &entity.properties {
            let value = match &prop.default_value {
                Some(default) => default.to_value(),
                None if prop.ty.nullable => Value::Null,
                None => match prop.ty.name.as_str() {
                    "string" => Value::String(String::new()),
                    "number" => Value::Number(0.0),
                    "boolean" => Value::Bool(false),
                    "list" | "array" => Value::Array(Vec::new()),
                    "map" => Value::Object(Object::new()),
                    _ => Value::Null,
                },
            };
            merged.insert(prop.name.clone(), value);
        }
        merged.extend(data);
        if let Some(version) = &entity.version_property {
            merged.insert(version.clone(), Value::Number(1.0));
        }
        if let Some(at) = &entity.version_at_property {
            merged.insert(at.clone(), self.now_value());
        }
        if entity.timestamps {
            merged.insert("createdAt".to_owned(), self.now_value());
            merged.insert("updatedAt".to_owned(), self.now_value());
        }
        if let Some(key) = &entity.key
            && !key.is_empty()
            && !key.iter().any(|k| k == "id")
        {
            let id = key
                .iter()
                .map(|k| {
                    let part = merged.get(k).map(Value::to_js_string).unwrap_or_default();
                    part.replace('%', "%25").replace('|', "%7C")
                })
                .collect::<Vec<_>>()
                .join("|");
            merged.insert("id".to_owned(), Value::String(id));
        }
        merged
    }

    /// The instance, or `None`.
    pub async fn get_instance(
        &self,
        entity_name: &str,
        id: &str,
    ) -> Result<Option<Map<String, Json>>, RuntimeError> {
        let found = self.store(entity_name)?.get_by_id(&id.to_owned()).await?;
        Ok(found.map(from_instance))
    }

    /// Every instance of the entity.
    pub async fn get_all_instances(
        &self,
        entity_name: &str,
    ) -> Result<Vec<Map<String, Json>>, RuntimeError> {
        let all = self.store(entity_name)?.get_all().await?;
        Ok(all.into_iter().map(from_instance).collect())
    }

    /// Every instance of every entity, by entity name (the reference's `serialize().stores`).
    pub async fn snapshot(&self) -> Result<BTreeMap<String, Vec<Map<String, Json>>>, RuntimeError> {
        let mut out = BTreeMap::new();
        for entity in &self.ir.entities {
            out.insert(
                entity.name.clone(),
                self.get_all_instances(&entity.name).await?,
            );
        }
        Ok(out)
    }

    /// Write a [`snapshot`](Self::snapshot)'s instances into this engine's stores as they are
    /// (no defaults, no checks).
    pub async fn restore(
        &self,
        snapshot: &BTreeMap<String, Vec<Map<String, Json>>>,
    ) -> Result<(), RuntimeError> {
        for (entity, instances) in snapshot {
            let store = self.store(entity)?;
            for instance in instances {
                store.create(to_instance(&to_object(instance))).await?;
            }
        }
        Ok(())
    }

    /// Delete the instance; `false` if there was none.
    pub async fn delete_instance(&self, entity_name: &str, id: &str) -> Result<bool, RuntimeError> {
        Ok(self.store(entity_name)?.delete(&id.to_owned()).await?)
    }

    /// Change the given fields, with the reference's checks (version, transitions,
    /// constraints); `None` when the instance is absent or a check refuses the change.
    pub async fn update_instance(
        &self,
        entity_name: &str,
        id: &str,
        data: Map<String, Json>,
    ) -> Result<Option<Map<String, Json>>, RuntimeError> {
        let entity = self.entity(entity_name)?;
        let store = self.store(entity_name)?;
        let _lock = self.locks.lock(entity_name, id).await;
        let data = to_object(&data);
        let mut attempt = 1;
        loop {
            let Some(existing) = store.get_by_id(&id.to_owned()).await? else {
                return Ok(None);
            };
            let mut working = Working::new(Some(existing));
            match self.mutate(entity, id, &mut working, data.clone(), false)? {
                Ok(()) => {}
                Err(_) => return Ok(None),
            }
            if working.patch.is_empty() {
                return Ok(working.instance.map(|i| to_json_map(&i)));
            }
            if let Some(updated) = self
                .write(entity_name, id, working.read.as_ref(), &working.patch)
                .await?
            {
                return Ok(Some(from_instance(updated)));
            }
            if attempt == COMMAND_ATTEMPTS {
                return Err(self.conflict(entity_name, id, attempt, false));
            }
            attempt += 1;
            backoff(attempt).await;
        }
    }

    /// The value of a computed property of an instance (`Undefined` when the instance or the
    /// property does not exist).
    pub async fn evaluate_computed(
        &self,
        entity_name: &str,
        id: &str,
        property: &str,
    ) -> Result<Value, RuntimeError> {
        let entity = self.entity(entity_name)?;
        let Some(instance) = self.store(entity_name)?.get_by_id(&id.to_owned()).await? else {
            return Ok(Value::Undefined);
        };
        let instance = instance_object(&instance);
        self.computed(entity, &instance, property, &mut Vec::new())
    }

    fn computed(
        &self,
        entity: &IrEntity,
        instance: &Object,
        property: &str,
        visiting: &mut Vec<String>,
    ) -> Result<Value, RuntimeError> {
        if visiting.iter().any(|v| v == property) {
            return Ok(Value::Undefined);
        }
        let Some(computed) = entity
            .computed_properties
            .iter()
            .find(|c| c.name == property)
        else {
            return Ok(Value::Undefined);
        };
        visiting.push(property.to_owned());
        let mut deps = Object::new();
        for dep in &computed.dependencies {
            if entity.computed_properties.iter().any(|c| &c.name == dep) && !visiting.contains(dep)
            {
                let value = self.computed(entity, instance, dep, &mut visiting.clone())?;
                deps.insert(dep.clone(), value);
            }
        }
        visiting.pop();
        let mut scope = self.instance_scope(entity, instance);
        scope.extend(deps);
        self.eval(
            &computed.expression,
            &scope,
            &format!("computed property `{}.{property}`", entity.name),
        )
    }

    /// The entity constraints `data` fails, in declaration order (`ok` never fails).
    pub fn check_constraints(
        &self,
        entity_name: &str,
        data: &Map<String, Json>,
    ) -> Result<Vec<ConstraintOutcome>, RuntimeError> {
        let entity = self.entity(entity_name)?;
        self.failed_constraints(entity, &to_object(data))
    }

    fn failed_constraints(
        &self,
        entity: &IrEntity,
        data: &Object,
    ) -> Result<Vec<ConstraintOutcome>, RuntimeError> {
        let scope = self.instance_scope(entity, data);
        let mut failed = Vec::new();
        for constraint in &entity.constraints {
            let outcome = self.constraint(constraint, &scope)?;
            if !outcome.passed {
                failed.push(outcome);
            }
        }
        Ok(failed)
    }

    fn constraint(
        &self,
        constraint: &IrConstraint,
        scope: &Object,
    ) -> Result<ConstraintOutcome, RuntimeError> {
        let what = format!("constraint `{}`", constraint.name);
        let raw = self.eval(&constraint.expression, scope, &what)?.truthy();
        let passed = constraint.severity == Severity::Ok || raw != constraint.fail_when;
        Ok(ConstraintOutcome {
            code: constraint.code.clone(),
            constraint_name: constraint.name.clone(),
            severity: match constraint.severity {
                Severity::Ok => "ok",
                Severity::Warn => "warn",
                Severity::Block => "block",
            },
            formatted: constraint.expression.to_string(),
            message: constraint.message.clone(),
            passed,
            resolved: Vec::new(),
        })
    }

    /// `{...instance, _entity, self, this, user, context}`: what constraints and computed
    /// properties see.
    fn instance_scope(&self, entity: &IrEntity, instance: &Object) -> Object {
        let mut enriched = instance.clone();
        enriched.insert("_entity".to_owned(), Value::String(entity.name.clone()));
        let mut scope = enriched.clone();
        let enriched = Value::Object(enriched);
        scope.insert("self".to_owned(), enriched.clone());
        scope.insert("this".to_owned(), enriched);
        scope.insert("user".to_owned(), self.user.clone());
        scope.insert("context".to_owned(), self.context.clone());
        scope
    }

    /// `{...instance, ...input, self, this, user, context}`: what a command's expressions see.
    fn command_scope(
        &self,
        input: &Object,
        instance: Option<&Object>,
        entity: Option<&str>,
    ) -> Object {
        let enriched = instance.map(|i| {
            let mut i = i.clone();
            if let Some(entity) = entity {
                i.insert("_entity".to_owned(), Value::String(entity.to_owned()));
            }
            i
        });
        let mut scope = enriched.clone().unwrap_or_default();
        scope.extend(input.iter().map(|(k, v)| (k.clone(), v.clone())));
        let this = enriched.map_or(Value::Null, Value::Object);
        scope.insert("self".to_owned(), this.clone());
        scope.insert("this".to_owned(), this);
        scope.insert("user".to_owned(), self.user.clone());
        scope.insert("context".to_owned(), self.context.clone());
        scope
    }

    // ── commands ───────────────────────────────────────────────────────────────────────

    /// Run a command: parameters, policies, command constraints, guards in order, actions,
    /// then the emitted events. A command that fails writes nothing and emits nothing.
    ///
    /// When another writer changes the instance between the command's read and its write, the
    /// command runs again from a fresh read (see [Concurrent commands](Self#concurrent-commands));
    /// after [`COMMAND_ATTEMPTS`](Self::COMMAND_ATTEMPTS) attempts it fails with
    /// [`RuntimeError::Conflict`].
    pub async fn run_command(
        &self,
        name: &str,
        input: Map<String, Json>,
        options: CommandOptions,
    ) -> Result<CommandResult, RuntimeError> {
        let target = match (&options.entity_name, &options.instance_id) {
            (Some(entity), Some(id)) => Some((entity.as_str(), id.as_str())),
            _ => None,
        };
        let _lock = match target {
            Some((entity, id)) => Some(self.locks.lock(entity, id).await),
            None => None,
        };
        let mut attempt = 1;
        loop {
            match self.run_command_once(name, &input, &options).await? {
                Ok(result) | Err(Stop::Result(result)) => return Ok(result),
                Err(Stop::Changed { written }) => {
                    if written || attempt == COMMAND_ATTEMPTS {
                        let (entity, id) = target.unwrap_or_default();
                        return Err(self.conflict(entity, id, attempt, written));
                    }
                    attempt += 1;
                    backoff(attempt).await;
                }
            }
        }
    }

    fn conflict(&self, entity: &str, id: &str, attempts: u32, written: bool) -> RuntimeError {
        RuntimeError::Conflict {
            entity: entity.to_owned(),
            id: id.to_owned(),
            attempts,
            written,
        }
    }

    /// One attempt of a command.
    async fn run_command_once(
        &self,
        name: &str,
        input: &Map<String, Json>,
        options: &CommandOptions,
    ) -> Result<Result<CommandResult, Stop>, RuntimeError> {
        let entity_name = options.entity_name.as_deref();
        let command = self.ir.commands.iter().find(|c| {
            c.name == name && (entity_name.is_none() || c.entity.as_deref() == entity_name)
        });
        let Some(command) = command else {
            return Ok(Err(Stop::Result(CommandResult::failure(format!(
                "Command '{name}' not found"
            )))));
        };
        // Parameters: defaults for absent ones, then the required check.
        let mut input = to_object(input);
        for param in &command.parameters {
            if matches!(input.get(&param.name), None | Some(Value::Undefined)) {
                if let Some(default) = &param.default_value {
                    input.insert(param.name.clone(), default.to_value());
                } else if param.required {
                    return Ok(Err(Stop::Result(CommandResult::failure(format!(
                        "MISSING_REQUIRED_PARAMETER: command '{name}' requires parameter '{}'",
                        param.name
                    )))));
                }
            }
        }
        let entity = match entity_name {
            Some(e) => Some(self.entity(e)?),
            None => None,
        };
        let read = match (entity_name, &options.instance_id) {
            (Some(e), Some(id)) => self.store(e)?.get_by_id(id).await?,
            _ => None,
        };
        // Actions work on this copy, written in one store update at the end.
        let mut working = Working::new(read);
        let mut scope = self.command_scope(&input, working.instance.as_ref(), entity_name);

        // Policies.
        let named = !command.policies.is_empty();
        for policy in self.ir.policies.iter().filter(|p| {
            if named {
                command.policies.contains(&p.name)
            } else {
                (p.entity.is_none() || command.entity.is_none() || p.entity == command.entity)
                    && matches!(p.action, PolicyAction::All | PolicyAction::Execute)
            }
        }) {
            let what = format!("policy `{}`", policy.name);
            if !self.eval(&policy.expression, &scope, &what)?.truthy() {
                let message = policy
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("Denied by policy '{}'", policy.name));
                return Ok(Err(Stop::Result(CommandResult {
                    error: Some(message.clone()),
                    denied_by: Some(policy.name.clone()),
                    policy_denial: Some(PolicyDenial {
                        policy_name: policy.name.clone(),
                        formatted: policy.expression.to_string(),
                        message,
                        resolved: Vec::new(),
                    }),
                    ..CommandResult::default()
                })));
            }
        }

        // Command constraints (after policies, before guards).
        let mut emitted = Vec::new();
        let mut outcomes = Vec::new();
        for constraint in &command.constraints {
            let outcome = self.constraint(constraint, &scope)?;
            let mut overridden = false;
            if !outcome.passed
                && constraint.overrideable
                && let Some(policy) = constraint
                    .override_policy_ref
                    .as_deref()
                    .and_then(|p| self.ir.policy(p))
                && policy.action == PolicyAction::Override
            {
                let what = format!("override policy `{}`", policy.name);
                if self.eval(&policy.expression, &scope, &what)?.truthy() {
                    overridden = true;
                    emitted.push(self.override_event(constraint, &policy.name, name, options));
                }
            }
            let blocks = !outcome.passed && !overridden && outcome.severity == "block";
            let message = outcome.message.clone();
            let constraint_name = outcome.constraint_name.clone();
            outcomes.push(outcome);
            if blocks {
                return Ok(Err(Stop::Result(CommandResult {
                    error: Some(message.unwrap_or_else(|| {
                        format!("Command blocked by constraint '{constraint_name}'")
                    })),
                    constraint_outcomes: outcomes,
                    ..CommandResult::default()
                })));
            }
        }

        // Guards, in order.
        for (i, guard) in command.guards.iter().enumerate() {
            let what = format!("guard {} of command `{name}`", i + 1);
            if !self.eval(guard, &scope, &what)?.truthy() {
                return Ok(Err(Stop::Result(CommandResult {
                    error: Some(format!("Guard condition failed for command '{name}'")),
                    guard_failure: Some(GuardFailure {
                        index: i + 1,
                        formatted: guard.to_string(),
                        resolved: Vec::new(),
                    }),
                    ..CommandResult::default()
                })));
            }
        }

        // Actions.
        let target = match (entity, &options.instance_id) {
            (Some(entity), Some(id)) => Some((entity, id.as_str())),
            _ => None,
        };
        let mut result = Value::Undefined;
        for (i, action) in command.actions.iter().enumerate() {
            let what = format!("action {} of command `{name}`", i + 1);
            let value = self.eval(&action.expression, &scope, &what)?;
            match action.kind {
                ActionKind::Mutate => {
                    if let (Some(field), Some((entity, id))) = (&action.target, target) {
                        let data = Object::from([(field.clone(), value.clone())]);
                        if let Err(stop) = self.mutate(entity, id, &mut working, data, true)? {
                            return Ok(Err(stop));
                        }
                        if let Some(instance) = &working.instance {
                            scope = self.command_scope(&input, Some(instance), entity_name);
                        }
                    }
                }
                ActionKind::Compute => {
                    if let Some(binding) = &action.target {
                        scope.insert(binding.clone(), value.clone());
                    }
                }
                ActionKind::Persist => {
                    if let Some((entity, id)) = target
                        && let Err(stop) = self.flush(&entity.name, id, &mut working).await?
                    {
                        return Ok(Err(stop));
                    }
                }
                ActionKind::Emit => {
                    let event = action.target.as_deref().unwrap_or("action_event");
                    let payload = match value.to_json() {
                        Some(Json::Object(map)) => map,
                        None | Some(Json::Null) => Map::new(),
                        Some(other) => Map::from_iter([("result".to_owned(), other)]),
                    };
                    emitted.push(self.event(event, payload));
                }
                ActionKind::Publish => {
                    return Ok(Err(Stop::Result(CommandResult::failure(format!(
                        "MISSING_OUTBOX_STORE: publish action in command '{name}' requires RuntimeOptions.outboxStore, but none is configured"
                    )))));
                }
                ActionKind::Effect => {
                    return Ok(Err(Stop::Result(CommandResult::failure(format!(
                        "MISSING_EFFECT_HANDLER: effect action in command '{name}' requires RuntimeOptions.effectHandler, but none is configured"
                    )))));
                }
            }
            result = value;
        }
        if let Some((entity, id)) = target
            && let Err(stop) = self.flush(&entity.name, id, &mut working).await?
        {
            return Ok(Err(stop));
        }

        // Events.
        let result_json = result.to_json();
        for event in &command.emits {
            let mut payload = to_json_map(&input);
            if let Some(result) = &result_json {
                payload.insert("result".to_owned(), result.clone());
            }
            emitted.push(self.event(event, payload));
        }
        Ok(Ok(CommandResult {
            success: true,
            result: result_json,
            emitted_events: emitted,
            ..CommandResult::default()
        }))
    }

    fn event(&self, name: &str, payload: Map<String, Json>) -> EmittedEvent {
        let channel = self
            .ir
            .events
            .iter()
            .find(|e| e.name == name)
            .map_or(name, |e| e.channel.as_str());
        EmittedEvent {
            name: name.to_owned(),
            channel: channel.to_owned(),
            payload,
            timestamp: self.now_value().to_json().unwrap_or(Json::Null),
        }
    }

    fn override_event(
        &self,
        constraint: &IrConstraint,
        policy: &str,
        command: &str,
        options: &CommandOptions,
    ) -> EmittedEvent {
        let authorized_by = match &self.user {
            Value::Object(user) => user.get("id").and_then(Value::to_json),
            _ => None,
        }
        .unwrap_or_else(|| Json::String(format!("policy:{policy}")));
        let now = self.now_value().to_json().unwrap_or(Json::Null);
        let mut payload = Map::new();
        payload.insert(
            "constraintCode".to_owned(),
            constraint.code.clone().map_or(Json::Null, Json::String),
        );
        payload.insert(
            "reason".to_owned(),
            Json::String(format!("Auto-authorized by policy '{policy}'")),
        );
        payload.insert("authorizedBy".to_owned(), authorized_by);
        payload.insert("timestamp".to_owned(), now.clone());
        payload.insert("commandName".to_owned(), Json::String(command.to_owned()));
        if let Some(entity) = &options.entity_name {
            payload.insert("entityName".to_owned(), Json::String(entity.clone()));
        }
        if let Some(id) = &options.instance_id {
            payload.insert("instanceId".to_owned(), Json::String(id.clone()));
        }
        EmittedEvent {
            name: "OverrideApplied".to_owned(),
            channel: "system".to_owned(),
            payload,
            timestamp: now,
        }
    }

    /// Apply `data` to the working copy with the reference's checks. `Ok(Err(stop))` ends the
    /// command with that result; a blocking entity constraint silently skips the change, as
    /// the reference does.
    fn mutate(
        &self,
        entity: &IrEntity,
        id: &str,
        working: &mut Working,
        mut data: Object,
        in_command: bool,
    ) -> Result<Result<(), Stop>, RuntimeError> {
        let Some(existing) = &working.instance else {
            return Ok(Ok(()));
        };
        for prop in entity.properties.iter().filter(|p| p.has("readonly")) {
            if let Some(new) = data.get(&prop.name)
                && !new.strict_eq(existing.get(&prop.name).unwrap_or(&Value::Undefined))
            {
                let message = format!(
                    "Property '{}' is readonly and cannot be modified after creation",
                    prop.name
                );
                return Ok(Err(Stop::Result(CommandResult::failure(format!(
                    "E_READONLY: {message}"
                )))));
            }
        }
        if let Some(version) = &entity.version_property {
            let current = existing.get(version).cloned().unwrap_or(Value::Undefined);
            let provided = data.get(version).cloned().unwrap_or(Value::Undefined);
            if !matches!(current, Value::Undefined) && !matches!(provided, Value::Undefined) {
                if !current.strict_eq(&provided) {
                    let conflict = ConcurrencyConflict {
                        entity_type: entity.name.clone(),
                        entity_id: id.to_owned(),
                        expected_version: provided.to_json().unwrap_or(Json::Null),
                        actual_version: current.to_json().unwrap_or(Json::Null),
                        conflict_code: "VERSION_MISMATCH".to_owned(),
                    };
                    return Ok(Err(Stop::Result(CommandResult {
                        error: Some(format!(
                            "Concurrency conflict on {}#{id}: expected version {}, actual {}",
                            entity.name,
                            provided.to_js_string(),
                            current.to_js_string()
                        )),
                        concurrency_conflict: Some(conflict),
                        ..CommandResult::default()
                    })));
                }
            } else if matches!(provided, Value::Undefined)
                && !(in_command && working.version_bumped)
            {
                let base = match current {
                    Value::Number(n) => n,
                    _ => 0.0,
                };
                data.insert(version.clone(), Value::Number(base + 1.0));
                working.version_bumped = in_command;
            }
        }
        if let Some(at) = &entity.version_at_property {
            data.insert(at.clone(), self.now_value());
        }
        if entity.timestamps {
            data.insert("updatedAt".to_owned(), self.now_value());
        }
        for (prop, new) in &data {
            let Some(current) = existing.get(prop) else {
                continue;
            };
            if matches!(current, Value::Undefined) {
                continue;
            }
            let from = current.to_js_string();
            let to = new.to_js_string();
            if let Some(rule) = entity
                .transitions
                .iter()
                .find(|t| &t.property == prop && t.from == from)
                && !rule.to.contains(&to)
            {
                let allowed: Vec<String> = rule.to.iter().map(|v| format!("'{v}'")).collect();
                return Ok(Err(Stop::Result(CommandResult::failure(format!(
                    "Invalid state transition for '{prop}': '{from}' -> '{to}' is not allowed. Allowed from '{from}': [{}]",
                    allowed.join(", ")
                )))));
            }
        }
        let mut merged = existing.clone();
        merged.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
        if self
            .failed_constraints(entity, &merged)?
            .iter()
            .any(is_blocking)
        {
            return Ok(Ok(()));
        }
        working.instance = Some(merged);
        working.patch.extend(data);
        Ok(Ok(()))
    }

    /// Write the working patch against the row as read (or as last written), with
    /// [`write`](Self::write). `Err(Stop::Changed)` when the instance changed or vanished since.
    async fn flush(
        &self,
        entity: &str,
        id: &str,
        working: &mut Working,
    ) -> Result<Result<(), Stop>, RuntimeError> {
        if working.patch.is_empty() {
            return Ok(Ok(()));
        }
        let patch = std::mem::take(&mut working.patch);
        match self
            .write(entity, id, working.read.as_ref(), &patch)
            .await?
        {
            Some(row) => {
                working.read = Some(row);
                working.written = true;
                Ok(Ok(()))
            }
            None => Ok(Err(Stop::Changed {
                written: working.written,
            })),
        }
    }

    /// Write `patch` to the instance if it is still `read`: the store's `update_if`, or for a
    /// store without it a plain `update` (the caller holds the instance's lock). `None` when the
    /// instance changed or is gone.
    async fn write(
        &self,
        entity: &str,
        id: &str,
        read: Option<&EntityInstance>,
        patch: &Object,
    ) -> Result<Option<EntityInstance>, RuntimeError> {
        let store = self.store(entity)?;
        let id = id.to_owned();
        let conditional = self.conditional.get(entity);
        if let Some(read) = read
            && conditional.is_some_and(|c| c.load(Ordering::Relaxed))
        {
            match store.update_if(&id, read, to_json_map(patch)).await {
                Ok(Conditional::Updated(row)) => return Ok(Some(row)),
                Ok(_) => return Ok(None),
                Err(crate::Error::Unsupported { .. }) => {
                    if let Some(c) = conditional {
                        c.store(false, Ordering::Relaxed);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(store.update(&id, to_json_map(patch)).await?)
    }
}

fn is_blocking(outcome: &ConstraintOutcome) -> bool {
    !outcome.passed && outcome.severity == "block"
}

/// The reference's `required` check on create: each required property must be given (not
/// null), have a default, or be managed by the runtime.
fn required_satisfied(entity: &IrEntity, data: &Object) -> bool {
    entity
        .properties
        .iter()
        .filter(|p| p.has("required"))
        .all(|p| {
            let given = !matches!(
                data.get(&p.name),
                None | Some(Value::Undefined | Value::Null)
            );
            let managed = p.name == "id"
                || entity.version_property.as_deref() == Some(p.name.as_str())
                || entity.version_at_property.as_deref() == Some(p.name.as_str())
                || (entity.timestamps && (p.name == "createdAt" || p.name == "updatedAt"))
                || entity.key.iter().flatten().any(|k| k == &p.name);
            given || p.default_value.is_some() || managed
        })
}

fn to_object(map: &Map<String, Json>) -> Object {
    map.iter()
        .map(|(k, v)| (k.clone(), Value::from(v)))
        .collect()
}

/// JSON of an object; `undefined` values are left out, as `JSON.stringify` does.
fn to_json_map(object: &Object) -> Map<String, Json> {
    object
        .iter()
        .filter_map(|(k, v)| v.to_json().map(|v| (k.clone(), v)))
        .collect()
}

fn instance_object(instance: &EntityInstance) -> Object {
    let mut object = to_object(&instance.fields);
    object.insert("id".to_owned(), Value::String(instance.id.clone()));
    object
}

fn to_instance(object: &Object) -> EntityInstance {
    let mut fields = to_json_map(object);
    let id = match fields.remove("id") {
        Some(Json::String(id)) => id,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    EntityInstance { id, fields }
}

fn from_instance(instance: EntityInstance) -> Map<String, Json> {
    let mut map = Map::new();
    map.insert("id".to_owned(), Json::String(instance.id));
    map.extend(instance.fields);
    map
}
