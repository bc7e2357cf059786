//! [`Engine`]: executes Manifest IR over the stores the provider hook gives, with the
//! reference runtime's semantics (`@angriff36/manifest` 3.4.23, `runtime-engine.ts`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::eval::{CommandNames, Host, Scope, eval, eval_truthy};
use super::expr::Expr;
use super::instance::Instance;
use super::ir::{ActionKind, Ir, IrConstraint, IrEntity, PolicyAction, Severity};
use super::limits::{self, Limits};
use super::result::{
    CommandResult, ConcurrencyConflict, ConstraintOutcome, EmittedEvent, GuardFailure, PolicyDenial,
};
use super::value::{Object, Value, insert_all, json_object};
use manifest_core::EntityInstance;
use manifest_core::IdGenerator;

mod builder;
mod command;
mod commit;
mod concurrency;
mod constraints;
mod convert;
mod host;
mod mutate;
mod not_executed;
mod options;
mod program;
mod rate_limit;
mod reactions;
mod reads;
mod relations;
mod rows;
mod table;
mod unit;
mod working;
mod write_path;
pub use builder::{Database, EngineBuilder, MemoryDb};
use concurrency::{COMMAND_ATTEMPTS, InstanceLock, InstanceLocks, Stripes, backoff};
use convert::*;
use host::EngineHost;
pub use not_executed::NotExecuted;
pub use options::{CommandOptions, OverrideRequest, RuntimeError, StoreProvider};
pub use program::{IntoProgram, Program};
pub use reads::InstancePage;
use relations::Related;
pub(crate) use rows::row_json;
use rows::{ENTITY_KEY, Read, Row, Rows, fields};
use unit::Unit;
use working::Working;
pub use write_path::{Effect, EffectError, EffectHandler, Listener, WritePath, WritePathBuilder};

/// Executes Manifest IR. `Send + Sync`: share it between tasks behind an `Arc`.
///
/// # Concurrent commands
///
/// Two commands on one instance never lose an update, whether they run in this engine or in
/// engines of other processes sharing the database. A command reads its instance, evaluates
/// policies, constraints, guards and actions on a working copy, and writes the changes in one
/// [`Store::update_if`](manifest_core::Store::update_if) against the row as it read it: the store
/// checks that the row is unchanged and writes in one atomic step (one `UPDATE ... WHERE` on
/// SQL stores). If another write came between, nothing was written and nothing emitted, so
/// the whole command runs again from a fresh read, up to
/// [`COMMAND_ATTEMPTS`](Self::COMMAND_ATTEMPTS) (32) times, each rerun after a random pause
/// that grows from under 1 ms to at most 16 ms; then it fails with
/// [`RuntimeError::Conflict`]. The pauses need no timer from the executor (they run on
/// `futures-timer`'s helper thread). An explicit `persist` action writes the same way; a later
/// conflict rolls the attempt back with it and runs it again, unless its write could not be
/// undone (on memory, when another writer has built on it since): then it is a `Conflict`
/// with `written` set.
/// A rerun evaluates everything again: `now()` is read again and generated ids (`uuid()`) are
/// drawn again, so a retried command consumes ids that no instance ends up with.
///
/// This is optimistic concurrency (a compare-and-set on the row) rather than a row lock held
/// between read and write: it needs no transaction kept open across the evaluation, works on
/// every store through one trait method (memory, SQLite, PostgreSQL, a tenant-sharded Citus),
/// and costs nothing extra when commands do not collide. Within one engine, commands on the
/// same instance also take an in-process per-instance lock, so they queue instead of colliding
/// and retrying; that lock is an optimisation, the store's check is the guarantee. The
/// engine's own memory store (entities without a provided store) is private to the engine:
/// there the lock is all that ever makes commands on one instance wait, and the check is a
/// pointer comparison. For a store whose `update_if` is
/// [`Error::Unsupported`](manifest_core::Error::Unsupported) (a custom store, or a typed store of an
/// unversioned entity through [`InstanceStore`](manifest_core::InstanceStore)) the engine writes with
/// a plain `update` and the per-instance lock is the only protection: it covers this engine,
/// not other processes.
/// [`update_instance`](Self::update_instance) follows the same rules.
///
/// Inside a command attempt's transaction (below) the check is the same `UPDATE ... WHERE`:
/// on PostgreSQL an update that meets a row another transaction changed waits for it and then
/// matches nothing, so the attempt rolls back and runs again; once it has written, it holds the
/// row until it commits, so the instance's next writer waits for that commit.
///
/// # The write path
///
/// Each attempt of [`run_command`](Self::run_command) is one unit of work. On a SQLite or
/// PostgreSQL [`Database`] it is one transaction ([`SqlDb::begin_for`](manifest_core::SqlDb::begin_for)
/// of the engine's tenant) holding the reads of the instance and of its relationships, the
/// write, the reactions' reads and writes, and the [`WritePath`]'s outbox entries, idempotency
/// record and success audit record; it commits or rolls back as a whole. Stores join it
/// through [`Store::in_transaction`](manifest_core::Store::in_transaction); one that cannot (a
/// custom store) runs outside it and its writes are undone on rollback. On memory the attempt
/// journals its writes and a rollback restores them. A command that fails, or rolls back,
/// leaves no state, entry, record, effect or listener call behind (its audit record of the
/// failure is written after the rollback). Listeners and effects run after the commit.
pub struct Engine {
    /// The compiled IR, shared by every engine built from it.
    program: Arc<Program>,
    /// Each entity's store, in the order of `ir.entities`.
    rows: Vec<Arc<Rows>>,
    /// Where entities without a provided store live.
    database: Database,
    /// Per-instance locks for provided stores.
    locks: InstanceLocks,
    /// Per-instance locks for the memory store (shared by the engines of one `MemoryDb`).
    stripes: Arc<Stripes>,
    tenant_id: Option<String>,
    context: Value,
    user: Value,
    now: Arc<dyn Fn() -> f64 + Send + Sync>,
    ids: IdGenerator,
    limits: Limits,
    /// The outbox, idempotency, audit, effects and listeners around commands.
    write: WritePath,
    /// Whether operations outside commands run in a transaction for the tenant too.
    row_level_security: bool,
}

const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Engine>();
};

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("entities", &self.program.ir.entities.len())
            .field("commands", &self.program.ir.commands.len())
            .finish_non_exhaustive()
    }
}

/// Why a command attempt (or an update) stopped before its end: a result to return, a reason
/// to run it again, or an error. One type that `?` carries through the command path, where a
/// nested `Result<Result<_, Stop>, RuntimeError>` would need a match at every call.
pub(super) enum Halt {
    /// The command ends with this (failed) result (boxed: it is large, and every function of
    /// the command path returns a `Halt`).
    Result(Box<CommandResult>),
    /// Its instance changed (or was deleted) between the read and a write; nothing of this
    /// write was written. `written`: an earlier `persist` of this attempt was.
    Changed { written: bool },
    /// An evaluation missed rows of a relationship before a write: nothing was written, and
    /// the command runs again once they are fetched (see `relations`).
    Refetch,
    /// Blocking entity constraints refused an update (outside a command, where a blocked
    /// `mutate` is not applied and the command goes on, as in the reference).
    Blocked(Vec<ConstraintOutcome>),
    /// The command's idempotency record could not be inserted: another call with its key
    /// committed first (in another process). Nothing of this attempt is kept; the next one
    /// finds that call's record.
    Duplicate,
    /// The operation could not run.
    Error(RuntimeError),
}

impl Halt {
    /// End the command with `result`.
    pub(super) fn result(result: CommandResult) -> Self {
        Halt::Result(Box::new(result))
    }
}

impl<E: Into<RuntimeError>> From<E> for Halt {
    fn from(e: E) -> Self {
        Halt::Error(e.into())
    }
}

impl Engine {
    /// How many times [`run_command`](Self::run_command) and
    /// [`update_instance`](Self::update_instance) run before other writers changing the
    /// instance every time make them give up with [`RuntimeError::Conflict`].
    pub const COMMAND_ATTEMPTS: u32 = COMMAND_ATTEMPTS;

    /// A builder of an engine running `program` (an [`Ir`], a [`Program`], or a shared
    /// `Arc<Program>`, which makes building cheap).
    pub fn builder(program: impl IntoProgram) -> EngineBuilder {
        EngineBuilder::new(program.into_program())
    }

    /// Create what the engine's [`Database`] needs for its program: on SQLite and PostgreSQL
    /// the document table of every entity and the index (tenant first) of every field its
    /// relationships look rows up by, each if missing; nothing on memory. Run it once at
    /// startup (it is safe to run again); entities with provided stores are not touched.
    pub async fn prepare(&self) -> Result<(), RuntimeError> {
        self.database.prepare(&self.program).await
    }

    /// The compiled program this engine runs.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The tenant the engine is bound to, if one was given.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The IR this engine runs.
    pub fn ir(&self) -> &Ir {
        &self.program.ir
    }

    /// The index of the entity called `name` in `ir.entities` and `rows`.
    fn index_of(&self, name: &str) -> Result<usize, RuntimeError> {
        self.program
            .entity_index(name)
            .ok_or_else(|| RuntimeError::UnknownEntity(name.to_owned()))
    }

    fn entity(&self, name: &str) -> Result<&IrEntity, RuntimeError> {
        Ok(&self.program.ir.entities[self.index_of(name)?])
    }

    /// Wait for the per-instance lock of instance `id` of the entity at `index` (see
    /// [Concurrent commands](Self#concurrent-commands)).
    async fn lock(&self, index: usize, id: &str) -> InstanceLock<'_> {
        if self.rows[index].is_memory() {
            InstanceLock::Stripe {
                _guard: self.stripes.lock(index, id).await,
            }
        } else {
            InstanceLock::Exact {
                _guard: self
                    .locks
                    .lock(&self.program.ir.entities[index].name, id)
                    .await,
            }
        }
    }

    // ── reads and writes ───────────────────────────────────────────────────────────────

    /// Create an instance: defaults for absent keys, an id when none is given, timestamps and
    /// the version; `None` when a required property is missing or a blocking entity
    /// constraint fails (nothing is written).
    pub async fn create_instance(
        &self,
        entity_name: &str,
        data: Map<String, Json>,
    ) -> Result<Instance, RuntimeError> {
        let index = self.index_of(entity_name)?;
        let entity = &self.program.ir.entities[index];
        refuse_reserved(entity_name, &data)?;
        let data = limits::check_owned_input(&self.limits, data, || {
            format!("the data of a `{entity_name}`")
        })?;
        let data = into_object(data);
        if let Some(property) = missing_required(entity, &data) {
            return Err(RuntimeError::MissingRequired {
                entity: entity_name.to_owned(),
                property: property.to_owned(),
            });
        }
        let mut merged = self.prepare_create(entity, data);
        let unit = self.operation().await?;
        let failed = self
            .resolving(&unit, |related| {
                self.failed_constraints(entity, &merged, related)
            })
            .await?;
        if failed.iter().any(is_blocking) {
            return Err(RuntimeError::ConstraintsFailed {
                entity: entity_name.to_owned(),
                id: None,
                failed,
            });
        }
        if !matches!(merged.get("id"), Some(Value::String(id)) if !id.is_empty()) {
            merged.insert("id".to_owned(), Value::String(self.ids.generate_string()));
        }
        let created = self
            .rows_in(&unit, index)
            .create(entity_name, merged)
            .await?;
        unit.commit().await?;
        Ok(Instance(created.this))
    }

    /// `data` with a default for each absent property, then the managed fields.
    fn prepare_create(&self, entity: &IrEntity, mut merged: Object) -> Object {
        for prop in &entity.properties {
            if merged.contains_key(&prop.name) {
                continue;
            }
            let value = match &prop.default_value {
                Some(default) => Value::from(default),
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

    /// The instance as the entity's readers may see it, or `None` (also when a read policy
    /// denies it: a denied read does not tell whether the instance exists). `private`
    /// properties are left out and `masked` ones masked unless their `unmask when` holds.
    /// Commands and the engine's other operations always work on the real values.
    pub async fn get_instance(
        &self,
        entity_name: &str,
        id: &str,
    ) -> Result<Option<Map<String, Json>>, RuntimeError> {
        let index = self.index_of(entity_name)?;
        let entity = &self.program.ir.entities[index];
        let unit = self.operation().await?;
        let rows = self.rows_in(&unit, index);
        let found = if !self.program.projects_reads[index] {
            rows.get_json(id).await?
        } else {
            match rows.get(entity_name, id).await? {
                None => None,
                Some(read) => self
                    .project_all(&unit, entity, std::slice::from_ref(&read.this))
                    .await?
                    .pop(),
            }
        };
        unit.commit().await?;
        Ok(found)
    }

    /// Every instance of the entity that its readers may see, in id order, as
    /// [`get_instance`](Self::get_instance) shows each.
    pub async fn get_all_instances(
        &self,
        entity_name: &str,
    ) -> Result<Vec<Map<String, Json>>, RuntimeError> {
        let index = self.index_of(entity_name)?;
        let entity = &self.program.ir.entities[index];
        let unit = self.operation().await?;
        let rows = self.rows_in(&unit, index);
        let all = if !self.program.projects_reads[index] {
            rows.all_json(entity_name).await?
        } else {
            let all = rows.all(entity_name).await?;
            self.project_all(&unit, entity, &all).await?
        };
        unit.commit().await?;
        Ok(all)
    }

    /// Every instance of every entity as stored (no read policies, no masking), by entity
    /// name (the reference's `serialize().stores`).
    pub async fn snapshot(&self) -> Result<BTreeMap<String, Vec<Map<String, Json>>>, RuntimeError> {
        let mut out = BTreeMap::new();
        let unit = self.operation().await?;
        for (index, entity) in self.program.ir.entities.iter().enumerate() {
            let rows = self.rows_in(&unit, index);
            out.insert(entity.name.clone(), rows.all_json(&entity.name).await?);
        }
        unit.commit().await?;
        Ok(out)
    }

    /// Write a [`snapshot`](Self::snapshot)'s instances into this engine's stores as they are
    /// (no defaults, no checks).
    pub async fn restore(
        &self,
        snapshot: &BTreeMap<String, Vec<Map<String, Json>>>,
    ) -> Result<(), RuntimeError> {
        let unit = self.operation().await?;
        for (entity, instances) in snapshot {
            let rows = self.rows_in(&unit, self.index_of(entity)?);
            for instance in instances {
                rows.restore(entity, to_object(instance)).await?;
            }
        }
        unit.commit().await
    }

    /// Delete the instance; `false` if there was none.
    pub async fn delete_instance(&self, entity_name: &str, id: &str) -> Result<bool, RuntimeError> {
        let unit = self.operation().await?;
        let deleted = self
            .rows_in(&unit, self.index_of(entity_name)?)
            .delete(id)
            .await?;
        unit.commit().await?;
        Ok(deleted)
    }

    /// Change the given fields, with the reference's checks (version, transitions,
    /// constraints); `None` when the instance is absent or a check refuses the change.
    pub async fn update_instance(
        &self,
        entity_name: &str,
        id: &str,
        data: Map<String, Json>,
    ) -> Result<Instance, RuntimeError> {
        let index = self.index_of(entity_name)?;
        let entity = &self.program.ir.entities[index];
        refuse_reserved(entity_name, &data)?;
        let data = limits::check_owned_input(&self.limits, data, || {
            format!("the data of a `{entity_name}`")
        })?;
        let _lock = self.lock(index, id).await;
        let data = into_object(data);
        let mut attempt = 1;
        let mut related = Related::default();
        loop {
            let unit = self.operation().await?;
            let rows = self.rows_in(&unit, index);
            let Some(existing) = rows.get(entity_name, id).await? else {
                return Err(RuntimeError::NotFound {
                    entity: entity_name.to_owned(),
                    id: id.to_owned(),
                });
            };
            let mut working = Working::new(Some(existing.clone()));
            let mut outcome = self.mutate(entity, id, &mut working, data.clone(), false, &related);
            while related.fetch(self, &unit).await? {
                working = Working::new(Some(existing.clone()));
                outcome = self.mutate(entity, id, &mut working, data.clone(), false, &related);
            }
            match outcome {
                Ok(()) => {}
                Err(Halt::Error(e)) => return Err(e),
                Err(Halt::Blocked(failed)) => {
                    return Err(RuntimeError::ConstraintsFailed {
                        entity: entity_name.to_owned(),
                        id: Some(id.to_owned()),
                        failed,
                    });
                }
                Err(Halt::Result(result)) => {
                    return Err(RuntimeError::Refused {
                        entity: entity_name.to_owned(),
                        id: id.to_owned(),
                        message: result.error.unwrap_or_default(),
                        concurrency_conflict: result.concurrency_conflict.map(Box::new),
                    });
                }
                Err(Halt::Changed { .. } | Halt::Refetch | Halt::Duplicate) => {}
            }
            if working.patch.is_empty() {
                if let Some(this) = working.this {
                    unit.commit().await?;
                    return Ok(Instance(this));
                }
            } else if let Some((read, this)) = working.take_for_write()
                && let Some(updated) = rows
                    .write(id, read, this, working.stale, &working.patch, entity_name)
                    .await?
            {
                unit.commit().await?;
                return Ok(Instance(updated.this));
            }
            unit.rollback(self).await?;
            if attempt == COMMAND_ATTEMPTS {
                return Err(self.conflict(entity_name, id, attempt, false));
            }
            attempt += 1;
            related.clear();
            backoff(attempt).await;
        }
    }
}

/// [`RuntimeError::ReservedField`] when `data` names `_entity`.
fn refuse_reserved(entity: &str, data: &Map<String, Json>) -> Result<(), RuntimeError> {
    if data.contains_key(ENTITY_KEY) {
        return Err(RuntimeError::ReservedField {
            entity: entity.to_owned(),
            field: ENTITY_KEY.to_owned(),
        });
    }
    Ok(())
}

fn is_blocking(outcome: &ConstraintOutcome) -> bool {
    !outcome.passed && outcome.severity == Severity::Block
}

/// The reference's `requiredModifierOutcomes` of a `create` command: an `E_REQUIRED` outcome
/// for each required property [`unmet_required`] finds.
fn required_outcomes(
    entity: &IrEntity,
    data: &Object,
    produced: impl Fn(&str) -> bool,
) -> Vec<ConstraintOutcome> {
    unmet_required(entity, data, produced)
        .into_iter()
        .map(|p| {
            let message = format!("Property '{}' is required but was not provided", p.name);
            ConstraintOutcome {
                code: Some("E_REQUIRED".to_owned()),
                constraint_name: p.name.clone(),
                severity: Severity::Block,
                formatted: message.clone(),
                message: Some(message),
                passed: false,
                overridden: false,
                overridden_by: None,
                resolved: Vec::new(),
            }
        })
        .collect()
}

/// The reference's `required` check on create: each required property must be given (not
/// null), have a default, or be managed by the runtime. The first one that is not.
fn missing_required<'e>(entity: &'e IrEntity, data: &Object) -> Option<&'e str> {
    unmet_required(entity, data, |_| false)
        .first()
        .map(|p| p.name.as_str())
}

/// The required properties of `entity` that `data` leaves unmet: not given (or null), without
/// a default, not managed by the runtime (id, version, timestamps, key fields) and not
/// `produced` (by a `create` command's actions).
fn unmet_required<'e>(
    entity: &'e IrEntity,
    data: &Object,
    produced: impl Fn(&str) -> bool,
) -> Vec<&'e crate::ir::IrProperty> {
    entity
        .properties
        .iter()
        .filter(|p| p.flags.required)
        .filter(|p| {
            let given = !matches!(
                data.get(&p.name),
                None | Some(Value::Undefined | Value::Null)
            );
            let managed = p.name == "id"
                || entity.version_property.as_deref() == Some(p.name.as_str())
                || entity.version_at_property.as_deref() == Some(p.name.as_str())
                || (entity.timestamps && (p.name == "createdAt" || p.name == "updatedAt"))
                || entity.key.iter().flatten().any(|k| k == &p.name);
            !(given || p.default_value.is_some() || managed || produced(&p.name))
        })
        .collect()
}
