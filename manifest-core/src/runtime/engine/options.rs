//! What a [`RuntimeEngine`](super::RuntimeEngine) is built from and how its operations fail:
//! [`RuntimeOptions`], the [`StoreProvider`] hook, [`CommandOptions`] and [`RuntimeError`].

use std::fmt;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::id::IdGenerator;
use crate::runtime::eval::EvalError;
use crate::runtime::ir::IrError;
use crate::store::{EntityInstance, Store};

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

/// How a [`RuntimeEngine`](crate::runtime::RuntimeEngine) runs.
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
/// is a [`CommandResult`](crate::runtime::CommandResult) with `success: false`).
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
