//! The [`StoreProvider`] hook, [`CommandOptions`] and how an engine's operations fail
//! ([`RuntimeError`]).

use std::sync::Arc;

use crate::eval::EvalError;
use crate::ir::IrError;
use crate::limits::LimitExceeded;
use crate::result::{ConcurrencyConflict, ConstraintOutcome};
use manifest_core::{EntityInstance, Store};

/// Chooses the store of each entity (the seed's `storeProvider`): asked once per entity when
/// an engine is built, with the entity's name and the engine's tenant. `None` means "keep the
/// entity in the engine's [`Database`](super::Database)". A store bound to another tenant than
/// the engine's is refused ([`RuntimeError::TenantMismatch`]).
pub trait StoreProvider: Send + Sync {
    /// The store for `entity` of `tenant`, if this provider serves it.
    fn store(&self, entity: &str, tenant: &str) -> Option<Arc<dyn Store<EntityInstance>>>;
}

impl<F> StoreProvider for F
where
    F: Fn(&str, &str) -> Option<Arc<dyn Store<EntityInstance>>> + Send + Sync,
{
    fn store(&self, entity: &str, tenant: &str) -> Option<Arc<dyn Store<EntityInstance>>> {
        self(entity, tenant)
    }
}

/// Which instance a command runs on, and the overrides it asks for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CommandOptions {
    /// The entity of the command (and of the instance).
    pub entity_name: Option<String>,
    /// The instance; none for instance-less and global commands.
    pub instance_id: Option<String>,
    /// Requests to override failed command constraints, matched by constraint code.
    pub override_requests: Vec<OverrideRequest>,
    /// The idempotency key: a retry with the same key and request returns the first call's
    /// result without running anything (see [`WritePath`](super::WritePath)).
    pub idempotency_key: Option<String>,
    /// The request's id, for the audit trail.
    pub request_id: Option<String>,
    /// The correlation id the command's outbox entries (and its reactions') carry.
    pub correlation_id: Option<String>,
    /// Where the call comes from (`"http"`, `"cli"`, ...), for the audit trail.
    pub source: Option<String>,
    /// Fail with [`RuntimeError::NotFound`] when the instance does not exist, before anything
    /// runs; by default the command runs on no instance, as the reference's does.
    pub require_instance: bool,
}

impl CommandOptions {
    /// Run on `instance_id` of `entity`.
    pub fn on(entity: impl Into<String>, instance_id: impl Into<String>) -> Self {
        CommandOptions {
            entity_name: Some(entity.into()),
            instance_id: Some(instance_id.into()),
            ..CommandOptions::default()
        }
    }

    /// Run a command of `entity` that takes no instance.
    pub fn entity(entity: impl Into<String>) -> Self {
        CommandOptions {
            entity_name: Some(entity.into()),
            ..CommandOptions::default()
        }
    }

    /// With the idempotency key `key`.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// With the request id `id` (audit trail).
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// With the correlation id `id` (outbox entries).
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// With the source `source` (audit trail).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Fail with [`RuntimeError::NotFound`] if the instance does not exist (in the tenant's
    /// store, read in the command's own transaction), rather than run the command on no
    /// instance as the reference does: what an API answering 404 wants, with no read of its
    /// own before the command.
    pub fn require_instance(mut self) -> Self {
        self.require_instance = true;
        self
    }

    /// Ask to override the command constraint `request.constraint_code` if it fails.
    pub fn with_override(mut self, request: OverrideRequest) -> Self {
        self.override_requests.push(request);
        self
    }
}

/// A request to override a command constraint (the reference's `OverrideRequest`), in its
/// camelCase JSON form.
///
/// When the constraint with this code fails and is `overrideable`, the request is granted if
/// the constraint's override policy (`overridePolicyRef`) holds, evaluated with `_override`
/// bound to `{constraintCode, constraintName, reason, authorizedBy}`; a constraint without one
/// grants it when the context's `user.role` is `"admin"`. A granted override lets the command
/// go on and adds an `OverrideApplied` event (channel `system`) recording the request.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OverrideRequest {
    /// The code of the constraint to override.
    pub constraint_code: String,
    /// Why.
    pub reason: String,
    /// Who authorised it.
    pub authorized_by: String,
    /// When it was made, in epoch milliseconds (kept for the record; the event carries the
    /// engine clock's time, as the reference's does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
}

impl OverrideRequest {
    /// A request to override the constraint `constraint_code`.
    pub fn new(
        constraint_code: impl Into<String>,
        reason: impl Into<String>,
        authorized_by: impl Into<String>,
    ) -> Self {
        OverrideRequest {
            constraint_code: constraint_code.into(),
            reason: reason.into(),
            authorized_by: authorized_by.into(),
            timestamp: None,
        }
    }
}

/// Why an engine operation could not run (as opposed to a command that ran and failed, which
/// is a [`CommandResult`](crate::CommandResult) with `success: false`).
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
    /// The builder asked for a tenant (`require_tenant`) and none was given.
    #[error("a tenant is required (`require_tenant`) but none was given")]
    TenantRequired,
    /// The store provider gave a store bound to another tenant than the engine's.
    #[error(
        "the store provided for entity `{entity}` is bound to tenant `{store}`, not to the engine's tenant `{engine}`"
    )]
    TenantMismatch {
        /// The entity.
        entity: String,
        /// The engine's tenant.
        engine: String,
        /// The store's tenant.
        store: String,
    },
    /// The context is not a JSON object.
    #[error("the runtime context must be a JSON object")]
    ContextNotObject,
    /// No entity of that name.
    #[error("unknown entity `{0}`")]
    UnknownEntity(String),
    /// The entity has no instance of that id (in the engine's tenant).
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// The entity.
        entity: String,
        /// The id.
        id: String,
    },
    /// A create left out a required property that has no default: nothing was written.
    #[error("a `{entity}` needs `{property}`: it is required and has no default")]
    MissingRequired {
        /// The entity.
        entity: String,
        /// The property.
        property: String,
    },
    /// Blocking entity constraints refused a create or an update: nothing was written.
    #[error(
        "{entity}{}: refused by {}",
        id.as_ref().map(|id| format!(" `{id}`")).unwrap_or_default(),
        failed.iter().filter(|f| f.severity == crate::ir::Severity::Block).map(|f| format!("constraint `{}`", f.constraint_name)).collect::<Vec<_>>().join(", ")
    )]
    ConstraintsFailed {
        /// The entity.
        entity: String,
        /// The instance, for an update.
        id: Option<String>,
        /// Every failed constraint (warnings too), in declaration order.
        failed: Vec<ConstraintOutcome>,
    },
    /// An update broke a rule of the entity: a `readonly` property changed, a state
    /// transition not allowed, or a stale version (then `concurrency_conflict` says which).
    /// Nothing was written.
    #[error("{entity} `{id}`: {message}")]
    Refused {
        /// The entity.
        entity: String,
        /// The instance.
        id: String,
        /// The reference's message (`E_READONLY: ...`, `Invalid state transition ...`,
        /// `Concurrency conflict ...`).
        message: String,
        /// For a stale version: the versions expected and found.
        concurrency_conflict: Option<Box<ConcurrencyConflict>>,
    },
    /// The data of a create or an update names a field the runtime reserves (`_entity`,
    /// which expressions see as the entity's name); nothing was written.
    #[error("the data for `{entity}` names `{field}`, which the runtime reserves")]
    ReservedField {
        /// The entity.
        entity: String,
        /// The field.
        field: String,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] manifest_core::Error),
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
    /// An evaluation kept reaching relationships of rows it had just fetched, more than
    /// `limit` times over (a chain `self.a.b.c...` longer than that): nothing was written.
    #[error("relationships were followed more than {limit} levels deep in one evaluation")]
    RelationshipDepth {
        /// How many rounds of fetches one evaluation may take.
        limit: u32,
    },
    /// Evaluating an expression, or the input of an operation, exceeded one of the engine's
    /// [`Limits`](crate::Limits): the operation ended there and wrote nothing.
    #[error("{what}: {exceeded}")]
    LimitExceeded {
        /// The expression evaluated (as [`Eval`](Self::Eval) names it) or the input checked.
        what: String,
        /// Which limit, its value and what was asked for.
        exceeded: LimitExceeded,
    },
    /// A call named an idempotency key that an earlier, different request used (another
    /// command, instance or input) in this tenant: nothing ran.
    #[error("idempotency key `{key}` was already used for a different request")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
    },
    /// A call named an idempotency key and the engine's write path has no idempotency store.
    #[error("an idempotency key was given but the write path has no idempotency store")]
    IdempotencyNotConfigured,
    /// The command's events could not be enqueued in its outbox: nothing was written.
    #[error("OUTBOX_ENQUEUE_FAILED: {0}")]
    Outbox(#[source] manifest_core::Error),
    /// The command's idempotency record could not be read or written: nothing was written.
    #[error("the idempotency store failed: {0}")]
    Idempotency(#[source] manifest_core::Error),
    /// The command's outbox entries, idempotency record and audit records, written in one
    /// statement, could not be written: nothing was written.
    #[error("OUTBOX_ENQUEUE_FAILED: the command's records could not be written: {0}")]
    Records(#[source] manifest_core::RecordsError),
    /// The command's audit record could not be written inside its transaction: nothing was
    /// written.
    #[error("the audit sink failed: {0}")]
    Audit(#[source] manifest_core::Error),
    /// Reactions triggered reactions more than the reference's limit of 10 levels deep (the
    /// reference's `ManifestReactionDepthError`): the command and every reaction rolled back.
    #[error(
        "Reaction depth limit ({depth}) exceeded. Event '{event}' → command '{command}' would exceed max depth. Check for circular reaction chains."
    )]
    ReactionDepth {
        /// The depth reached.
        depth: u32,
        /// The event that would have triggered one more level.
        event: String,
        /// Its reaction's command, as `Entity.command`.
        command: String,
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
