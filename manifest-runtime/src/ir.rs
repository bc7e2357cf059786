//! Manifest IR v1, loaded into typed structures.
//!
//! The shapes follow `ir-v1.schema.json` and the reference compiler's output. Keys this runtime
//! does not use are ignored, so newer compilers' additions load; a key it does use with the wrong
//! shape is an [`IrError`] naming the JSON path, never a panic.

use std::fmt;

use serde::Deserialize;
use serde_json::Value as Json;

use super::expr::{Expr, IrValue};

mod load;
pub use load::{IrError, MAX_IR_DEPTH, RESERVED_FIELD};

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
    /// Event reactions: commands run when an event is emitted, in declaration order.
    #[serde(default)]
    pub reactions: Vec<IrReaction>,
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

/// `on <event> run <Entity>.<command> resolve <expr> params { .. }`: when a command emits
/// `event`, run `target_command` on the instance `resolve` names (or, with `fan_out`, on every
/// instance whose `match_field` equals `match_source`), with `params` as its input. The
/// expressions see `payload` (and `self`): the event's payload with `id`, `_subject`,
/// `_eventName` and `_channel`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrReaction {
    /// The triggering event's name.
    pub event: String,
    /// The entity of the command to run.
    pub target_entity: String,
    /// The command to run.
    pub target_command: String,
    /// The target instance's id.
    #[serde(default)]
    pub resolve: Option<Expr>,
    /// The command's input, by parameter.
    #[serde(default)]
    pub params: Vec<IrReactionParam>,
    /// Run on every matching instance instead of one.
    #[serde(default)]
    pub fan_out: Option<IrFanOut>,
}

/// One parameter of a reaction's command.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct IrReactionParam {
    /// The parameter.
    pub name: String,
    /// Its value.
    pub expression: Expr,
}

/// A fan-out reaction's match: every instance of the target entity whose `match_field` equals
/// `match_source`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IrFanOut {
    /// The target entity's field.
    pub match_field: String,
    /// The value, evaluated against the event.
    pub match_source: Expr,
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
