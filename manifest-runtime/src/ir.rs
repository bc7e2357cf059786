//! Manifest IR v1, loaded into typed structures.
//!
//! The shapes follow `ir-v1.schema.json` and the reference compiler's output. Keys this runtime
//! does not use are ignored, so newer compilers' additions load; a key it does use with the wrong
//! shape is an [`IrError`] naming the JSON path, never a panic.

use std::fmt;

use serde::Deserialize;
use serde_json::Value as Json;

use super::expr::{Expr, IrValue};

/// The IR version this runtime executes.
pub const IR_VERSION: &str = "1.0";

/// A compiled Manifest program.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Ir {
    /// The IR version (`"1.0"`).
    pub version: String,
    /// Compiler provenance, kept as it is.
    #[serde(default)]
    pub provenance: Json,
    /// Entities.
    #[serde(default)]
    pub entities: Vec<IrEntity>,
    /// Where each entity is stored.
    #[serde(default)]
    pub stores: Vec<IrStore>,
    /// Declared events.
    #[serde(default)]
    pub events: Vec<IrEvent>,
    /// Every command, entity-bound or global.
    #[serde(default)]
    pub commands: Vec<IrCommand>,
    /// Policies.
    #[serde(default)]
    pub policies: Vec<IrPolicy>,
    /// Event reactions, kept as JSON (not executed yet).
    #[serde(default)]
    pub reactions: Vec<Json>,
    /// Roles, with the permissions each grants (`hasPermission`, `roleAllows`).
    #[serde(default)]
    pub roles: Vec<IrRole>,
}

/// A role. Only its effective permissions (its own and its ancestors', minus denials, as the
/// compiler resolved them) decide what it grants; the rest is kept for tools.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrRole {
    /// Its name.
    pub name: String,
    /// The role it extends.
    #[serde(default)]
    pub parent: Option<String>,
    /// What it allows itself.
    #[serde(default)]
    pub allow: Vec<IrPermission>,
    /// What it denies (even if an ancestor allows it).
    #[serde(default)]
    pub deny: Vec<IrPermission>,
    /// What it grants in all.
    #[serde(default)]
    pub effective_permissions: Vec<IrPermission>,
}

/// A permission: an action (`all` for any), on a target or on everything.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrPermission {
    /// The action, or `all`.
    pub action: String,
    /// The target; none for every target.
    #[serde(default)]
    pub target: Option<String>,
}

impl IrRole {
    /// Whether the role grants `action` on `target` (the reference's `roleHasPermission`):
    /// a permission matches when its action is `all` or `action`, and it has no target or
    /// `target`.
    pub fn grants(&self, action: &str, target: Option<&str>) -> bool {
        self.effective_permissions.iter().any(|p| {
            (p.action == "all" || p.action == action)
                && (p.target.is_none() || p.target.as_deref() == target)
        })
    }
}

/// An entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrEntity {
    /// Its name.
    pub name: String,
    /// Stored properties (the id is implicit unless declared).
    #[serde(default)]
    pub properties: Vec<IrProperty>,
    /// Computed properties.
    #[serde(default)]
    pub computed_properties: Vec<IrComputedProperty>,
    /// Relationships.
    #[serde(default)]
    pub relationships: Vec<IrRelationship>,
    /// The names of its commands.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Entity constraints.
    #[serde(default)]
    pub constraints: Vec<IrConstraint>,
    /// Policy names.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Default policies (the compiler also copies them into each command).
    #[serde(default)]
    pub default_policies: Vec<String>,
    /// A composite key: the instance id is these properties' values joined with `|`.
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// The optimistic-concurrency version property.
    #[serde(default)]
    pub version_property: Option<String>,
    /// The property set to `now()` whenever the version changes.
    #[serde(default)]
    pub version_at_property: Option<String>,
    /// Whether `createdAt` / `updatedAt` are maintained.
    #[serde(default)]
    pub timestamps: bool,
    /// Allowed state transitions.
    #[serde(default)]
    pub transitions: Vec<IrTransition>,
}

/// A stored property.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrProperty {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: IrType,
    /// The value used when a create leaves it out.
    #[serde(default)]
    pub default_value: Option<IrValue>,
    /// Modifiers: `required`, `optional`, `readonly`, `private`, ... as the IR spells them.
    #[serde(default)]
    pub modifiers: Vec<String>,
    /// The modifiers the engine acts on, read from `modifiers` once when the IR is loaded.
    #[serde(skip)]
    pub flags: Modifiers,
    /// How reads (`get_instance`, `get_all_instances`) mask it, when it is `masked`.
    #[serde(default)]
    pub mask_strategy: Option<IrMaskStrategy>,
}

/// How a `masked` property is shown on reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrMaskStrategy {
    /// The kind of mask.
    #[serde(rename = "type")]
    pub kind: MaskKind,
    /// Its numbers (`partial`: how many characters to keep at the start and at the end).
    #[serde(default)]
    pub params: Vec<f64>,
    /// When the real value is shown instead (evaluated with the instance as `self`).
    #[serde(default)]
    pub unmask_when: Option<Expr>,
}

/// A kind of mask (the reference's `applyMaskStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MaskKind {
    /// `***`.
    Redact,
    /// Keep `params[0]` characters at the start and `params[1]` at the end, `*` between.
    Partial,
    /// The first character, `***@`, then the domain.
    Email,
    /// `***-***-` and the last four digits.
    Phone,
    /// `****` and the last four characters.
    Last4,
}

impl IrProperty {
    /// Whether the property carries this modifier (as the IR spells it).
    pub fn has(&self, modifier: &str) -> bool {
        self.modifiers.iter().any(|m| m == modifier)
    }
}

/// The property modifiers the engine acts on ([`IrProperty::flags`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Modifiers {
    /// `required`: a create must give it (unless it has a default or the runtime manages it).
    pub required: bool,
    /// `readonly`: an update may not change it.
    pub readonly: bool,
    /// `private`: reads leave it out.
    pub private: bool,
}

impl Modifiers {
    /// The flags of `modifiers`.
    pub fn of(modifiers: &[String]) -> Self {
        let has = |m: &str| modifiers.iter().any(|x| x == m);
        Modifiers {
            required: has("required"),
            readonly: has("readonly"),
            private: has("private"),
        }
    }
}

/// A type: `{name, nullable, generic?}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrType {
    /// `string`, `number`, `boolean`, `array`, `datetime`, ...
    pub name: String,
    /// Whether null is allowed.
    #[serde(default)]
    pub nullable: bool,
    /// The element type of an array.
    #[serde(default)]
    pub generic: Option<Box<IrType>>,
}

/// A computed property.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrComputedProperty {
    /// Its name.
    pub name: String,
    /// Its expression.
    pub expression: Expr,
    /// The properties it reads.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// A relationship.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrRelationship {
    /// Its name.
    pub name: String,
    /// `hasMany`, `hasOne`, `belongsTo` or `ref`.
    pub kind: String,
    /// The related entity.
    pub target: String,
    /// The foreign key, when not inferred.
    #[serde(default)]
    pub foreign_key: Option<IrForeignKey>,
    /// The join entity of a `hasMany ... through`.
    #[serde(default)]
    pub through: Option<String>,
}

/// An explicit foreign key: `fields` on the entity holding it, each referencing the column of
/// `references` at the same position (else the referenced entity's `key`, else the same name).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrForeignKey {
    /// The local columns.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The referenced columns.
    #[serde(default)]
    pub references: Option<Vec<String>>,
}

/// How bad a failed constraint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: never fails.
    Ok,
    /// Reported, does not block.
    Warn,
    /// Blocks the write or command.
    #[default]
    Block,
}

/// An entity or command constraint.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrConstraint {
    /// Its name.
    pub name: String,
    /// Its code (for overrides).
    #[serde(default)]
    pub code: Option<String>,
    /// The condition.
    pub expression: Expr,
    /// Its severity (default `block`).
    #[serde(default)]
    pub severity: Severity,
    /// When true, the constraint is violated when the expression is true.
    #[serde(default)]
    pub fail_when: bool,
    /// The message of a failure.
    #[serde(default)]
    pub message: Option<String>,
    /// Whether an override may lift it.
    #[serde(default)]
    pub overrideable: bool,
    /// The policy that authorizes an override.
    #[serde(default)]
    pub override_policy_ref: Option<String>,
}

/// An allowed state transition: from `from`, the property may become one of `to`.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IrTransition {
    /// The state property.
    pub property: String,
    /// The state it leaves.
    pub from: String,
    /// The states it may enter.
    pub to: Vec<String>,
}

/// A command.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrCommand {
    /// Its name.
    pub name: String,
    /// The entity it runs on; none for a global command.
    #[serde(default)]
    pub entity: Option<String>,
    /// Parameters.
    #[serde(default)]
    pub parameters: Vec<IrParameter>,
    /// Guards, in order.
    #[serde(default)]
    pub guards: Vec<Expr>,
    /// Command constraints.
    #[serde(default)]
    pub constraints: Vec<IrConstraint>,
    /// Policy names that apply (empty: the entity's and global execute policies).
    #[serde(default)]
    pub policies: Vec<String>,
    /// How often it may run.
    #[serde(default)]
    pub rate_limit: Option<IrRateLimit>,
    /// Actions, in order.
    #[serde(default)]
    pub actions: Vec<IrAction>,
    /// Events emitted after the actions.
    #[serde(default)]
    pub emits: Vec<String>,
    /// Declared payload fields of emitted events (`emit Event { field: expr }`).
    #[serde(default)]
    pub emit_payloads: Vec<IrEmitPayload>,
}

/// The declared payload fields of one event a command emits: each field's expression is
/// evaluated after the actions and set into the event's payload (over the input and `result`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrEmitPayload {
    /// The event (one of the command's `emits`).
    pub event_name: String,
    /// The fields, in order.
    #[serde(default)]
    pub fields: Vec<IrEmitPayloadField>,
}

/// One declared payload field.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IrEmitPayloadField {
    /// The payload key.
    pub name: String,
    /// Its value.
    pub expression: Expr,
}

/// A parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrParameter {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: IrType,
    /// Whether it must be given.
    #[serde(default)]
    pub required: bool,
    /// Its default.
    #[serde(default)]
    pub default_value: Option<IrValue>,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Assign `target` on the instance.
    Mutate,
    /// Bind `target` as a local name for later actions.
    Compute,
    /// Emit an event.
    Emit,
    /// Publish an event.
    Publish,
    /// A side effect.
    Effect,
    /// Persist the working copy.
    Persist,
}

/// An action.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IrAction {
    /// What it does.
    pub kind: ActionKind,
    /// The property, binding or event it targets.
    #[serde(default)]
    pub target: Option<String>,
    /// Its value.
    pub expression: Expr,
}

/// What a policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyAction {
    /// Reads.
    Read,
    /// Writes.
    Write,
    /// Deletes.
    Delete,
    /// Running commands.
    Execute,
    /// Everything.
    All,
    /// Authorizing constraint overrides.
    Override,
}

/// A policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrPolicy {
    /// Its name.
    pub name: String,
    /// The entity it is limited to, if any.
    #[serde(default)]
    pub entity: Option<String>,
    /// What it governs.
    pub action: PolicyAction,
    /// The condition that allows.
    pub expression: Expr,
    /// The denial message.
    #[serde(default)]
    pub message: Option<String>,
    /// How often it may be applied (checked before its expression).
    #[serde(default)]
    pub rate_limit: Option<IrRateLimit>,
}

/// A rate limit: at most `max_requests` (plus `burst_allowance`) in any `window_ms`
/// milliseconds, counted per user, per tenant or for everyone.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrRateLimit {
    /// Requests allowed per window.
    pub max_requests: f64,
    /// The window, in milliseconds.
    pub window_ms: f64,
    /// What is counted separately.
    pub scope: RateLimitScope,
    /// Requests allowed above `max_requests`.
    #[serde(default)]
    pub burst_allowance: Option<f64>,
}

/// What a rate limit counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RateLimitScope {
    /// Each user (`user.id`).
    User,
    /// Each tenant.
    Tenant,
    /// Everyone together.
    Global,
}

impl RateLimitScope {
    /// Its name in the IR.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitScope::User => "user",
            RateLimitScope::Tenant => "tenant",
            RateLimitScope::Global => "global",
        }
    }
}

/// A declared event.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IrEvent {
    /// Its name.
    pub name: String,
    /// Its channel.
    pub channel: String,
}

/// Where an entity is stored.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IrStore {
    /// The entity.
    pub entity: String,
    /// `memory`, `postgres`, `supabase`, `durable`, ...
    pub target: String,
    /// Target settings, kept as JSON.
    #[serde(default)]
    pub config: Json,
}

/// IR that cannot be loaded: where, and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IrError {
    /// The JSON is malformed, or a value has the wrong shape.
    #[error("invalid IR at `{path}`: {message}")]
    Shape {
        /// The JSON path, such as `commands[0].guards[1].kind`.
        path: String,
        /// What serde expected.
        message: String,
    },
    /// The IR is of a version this runtime does not execute.
    #[error("unsupported IR version `{found}` at `version`: expected `{IR_VERSION}`")]
    Version {
        /// The version found.
        found: String,
    },
    /// The text is not JSON.
    #[error("IR is not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error, from 1.
        column: usize,
        /// What the parser reported.
        message: String,
    },
    /// A name refers to something the IR does not declare.
    #[error("invalid IR at `{path}`: {message}")]
    Reference {
        /// The JSON path of the reference.
        path: String,
        /// What is missing.
        message: String,
    },
    /// The JSON nests deeper than [`MAX_IR_DEPTH`] levels (a deeply nested expression):
    /// loading, formatting or evaluating it would overflow the stack.
    #[error("invalid IR at `{path}`: nested deeper than {limit} levels")]
    TooDeep {
        /// The JSON path of the first value past the limit.
        path: String,
        /// The limit ([`MAX_IR_DEPTH`]).
        limit: usize,
    },
    /// A property or a `mutate` target uses a name the runtime reserves (`_entity`, which
    /// expressions see as the entity's name).
    #[error("invalid IR at `{path}`: `{name}` is reserved by the runtime")]
    Reserved {
        /// The JSON path of the name.
        path: String,
        /// The name.
        name: String,
    },
}

/// How deeply IR JSON may nest, the outermost object counting as 1: 128, the recursion
/// limit of serde_json's parser, so [`Ir::from_json`] accepts exactly the documents
/// [`Ir::from_json_str`] does. An expression takes one or two levels a level of nesting
/// (`not x` one, an array literal two), so expressions may nest about 60 to 120 deep,
/// beyond anything written by hand, and well within the stack of every recursive pass over
/// them (loading, evaluating, formatting, dropping).
pub const MAX_IR_DEPTH: usize = 128;

/// The field name the runtime reserves: `self._entity` is the entity's name.
pub const RESERVED_FIELD: &str = "_entity";

impl Ir {
    /// Load IR from JSON text, with errors that name the JSON path.
    pub fn from_json_str(text: &str) -> Result<Ir, IrError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let ir: Ir = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.to_string().starts_with("recursion limit exceeded") {
                IrError::TooDeep {
                    path,
                    limit: MAX_IR_DEPTH,
                }
            } else if inner.is_syntax() || inner.is_eof() {
                IrError::Syntax {
                    line: inner.line(),
                    column: inner.column(),
                    message: inner.to_string(),
                }
            } else {
                IrError::Shape {
                    path,
                    message: inner.to_string(),
                }
            }
        })?;
        ir.validate()?;
        Ok(ir.with_flags())
    }

    /// Load IR from a JSON value. JSON nested deeper than [`MAX_IR_DEPTH`] is
    /// [`IrError::TooDeep`], found without recursion before anything is loaded.
    pub fn from_json(value: Json) -> Result<Ir, IrError> {
        if let Some(path) = super::limits::json_path_past(&value, MAX_IR_DEPTH) {
            super::limits::drop_deep(value);
            return Err(IrError::TooDeep {
                path,
                limit: MAX_IR_DEPTH,
            });
        }
        let ir: Ir = serde_path_to_error::deserialize(value).map_err(|e| IrError::Shape {
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })?;
        ir.validate()?;
        Ok(ir.with_flags())
    }

    /// Read each property's modifiers into its [`flags`](IrProperty::flags).
    fn with_flags(mut self) -> Self {
        for entity in &mut self.entities {
            for property in &mut entity.properties {
                property.flags = Modifiers::of(&property.modifiers);
            }
        }
        self
    }

    fn validate(&self) -> Result<(), IrError> {
        if self.version != IR_VERSION {
            return Err(IrError::Version {
                found: self.version.clone(),
            });
        }
        let reference = |path: String, message: String| IrError::Reference { path, message };
        let reserved = |path: String| IrError::Reserved {
            path,
            name: RESERVED_FIELD.to_owned(),
        };
        for (i, entity) in self.entities.iter().enumerate() {
            if let Some(j) = entity
                .properties
                .iter()
                .position(|p| p.name == RESERVED_FIELD)
            {
                return Err(reserved(format!("entities[{i}].properties[{j}].name")));
            }
        }
        for (i, command) in self.commands.iter().enumerate() {
            if let Some(j) = command.actions.iter().position(|a| {
                a.kind == ActionKind::Mutate && a.target.as_deref() == Some(RESERVED_FIELD)
            }) {
                return Err(reserved(format!("commands[{i}].actions[{j}].target")));
            }
            if let Some(entity) = &command.entity
                && self.entity(entity).is_none()
            {
                return Err(reference(
                    format!("commands[{i}].entity"),
                    format!("command `{}` names unknown entity `{entity}`", command.name),
                ));
            }
            for (j, policy) in command.policies.iter().enumerate() {
                if self.policy(policy).is_none() {
                    return Err(reference(
                        format!("commands[{i}].policies[{j}]"),
                        format!("command `{}` names unknown policy `{policy}`", command.name),
                    ));
                }
            }
        }
        for (i, store) in self.stores.iter().enumerate() {
            if self.entity(&store.entity).is_none() {
                return Err(reference(
                    format!("stores[{i}].entity"),
                    format!("store names unknown entity `{}`", store.entity),
                ));
            }
        }
        Ok(())
    }

    /// The entity called `name`.
    pub fn entity(&self, name: &str) -> Option<&IrEntity> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// The policy called `name`.
    pub fn policy(&self, name: &str) -> Option<&IrPolicy> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// The store declaration of `entity`, if any.
    pub fn store_of(&self, entity: &str) -> Option<&IrStore> {
        self.stores.iter().find(|s| s.entity == entity)
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionKind::Mutate => "mutate",
            ActionKind::Compute => "compute",
            ActionKind::Emit => "emit",
            ActionKind::Publish => "publish",
            ActionKind::Effect => "effect",
            ActionKind::Persist => "persist",
        })
    }
}
