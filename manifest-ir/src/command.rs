//! Commands (parameters, actions, emitted payloads, rate limits) and policies.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::entity::{IrConstraint, IrType};
use crate::expr::{Expr, IrValue};
use crate::js;

/// A command.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrCommand {
    /// Actions, in order.
    #[serde(default)]
    pub actions: Vec<IrAction>,
    /// Whether it runs as a background job (`async`; not executed by this runtime yet).
    #[serde(default, rename = "async", skip_serializing_if = "crate::is_false")]
    pub is_async: bool,
    /// The event an async command emits when it completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_event: Option<String>,
    /// Command constraints.
    #[serde(default)]
    pub constraints: Vec<IrConstraint>,
    /// Declared payload fields of emitted events (`emit Event { field: expr }`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emit_payloads: Vec<IrEmitPayload>,
    /// Events emitted after the actions.
    #[serde(default)]
    pub emits: Vec<String>,
    /// The entity it runs on; none for a global command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The event an async command emits when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_event: Option<String>,
    /// Guards, in order.
    #[serde(default)]
    pub guards: Vec<Expr>,
    /// The compiler's analysis of a command that creates instances (informational: loading
    /// leaves it out, rather than failing, when another compiler writes it in another shape).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::load::lenient"
    )]
    pub initialization: Option<IrInitialization>,
    /// The module declaring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Its name.
    pub name: String,
    /// Parameters.
    #[serde(default)]
    pub parameters: Vec<IrParameter>,
    /// Policy names that apply (empty: the entity's and global execute policies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// How often it may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<IrRateLimit>,
    /// How a failed attempt is retried (not executed by this runtime yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Json>,
    /// Its declared return type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<IrType>,
}

/// How a command creates an instance (semantics.md § Initialization Commands): where each
/// field of the new instance comes from. Informational: the runtime does not read it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrInitialization {
    /// Fields set from the authenticated context (the tenant, trusted parameters).
    #[serde(default)]
    pub authenticated_ownership_fields: Vec<String>,
    /// Fields the command's actions write.
    #[serde(default)]
    pub command_owned_fields: Vec<String>,
    /// Fields filled by a default: `{property, source}` (`defaultValue`, `autoNow`,
    /// `timestamps`, `version`).
    #[serde(default)]
    pub declared_defaults: Vec<IrDeclaredDefault>,
    /// The fields of the draft before the actions run.
    #[serde(default)]
    pub draft_fields: Vec<String>,
    /// The guards evaluated at run time, by index.
    #[serde(default)]
    pub dynamic_guard_indexes: Vec<u32>,
    /// The required, non-null fields the finished instance must have.
    #[serde(default)]
    pub final_document_requirements: Vec<String>,
    /// The parameters the caller gives.
    #[serde(default)]
    pub initialization_inputs: Vec<String>,
    /// The initial state of lifecycle properties: `{property, value}`.
    #[serde(default)]
    pub initial_lifecycle_state: Vec<IrLifecycleValue>,
    /// The guards a create makes redundant (`self.x == null` on a field it owns), by index.
    #[serde(default)]
    pub redundant_guard_indexes: Vec<u32>,
}

/// One field filled by a default in an [`IrInitialization`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrDeclaredDefault {
    /// The field.
    pub property: String,
    /// Where its value comes from.
    pub source: String,
}

/// A lifecycle property's initial value in an [`IrInitialization`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrLifecycleValue {
    /// The property.
    pub property: String,
    /// Its value.
    pub value: IrValue,
}

/// The declared payload fields of one event a command emits: each field's expression is
/// evaluated after the actions and set into the event's payload (over the input and `result`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrEmitPayload {
    /// The event (one of the command's `emits`).
    pub event_name: String,
    /// The fields, in order.
    #[serde(default)]
    pub fields: Vec<IrEmitPayloadField>,
}

/// One declared payload field.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrEmitPayloadField {
    /// Its value.
    pub expression: Expr,
    /// The payload key.
    pub name: String,
}

/// A parameter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrParameter {
    /// Its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<IrValue>,
    /// Its name.
    pub name: String,
    /// Whether it must be given.
    #[serde(default)]
    pub required: bool,
    /// Where a trusted caller fills it from (`trusted from user.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_source: Option<String>,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: IrType,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
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

impl ActionKind {
    /// The kind the IR spells `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "mutate" => ActionKind::Mutate,
            "compute" => ActionKind::Compute,
            "emit" => ActionKind::Emit,
            "publish" => ActionKind::Publish,
            "effect" => ActionKind::Effect,
            "persist" => ActionKind::Persist,
            _ => return None,
        })
    }

    /// Its name in the IR.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Mutate => "mutate",
            ActionKind::Compute => "compute",
            ActionKind::Emit => "emit",
            ActionKind::Publish => "publish",
            ActionKind::Effect => "effect",
            ActionKind::Persist => "persist",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrAction {
    /// Its value.
    pub expression: Expr,
    /// What it does.
    pub kind: ActionKind,
    /// The property, binding or event it targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// What a policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
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

impl PolicyAction {
    /// The action the IR spells `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "read" => PolicyAction::Read,
            "write" => PolicyAction::Write,
            "delete" => PolicyAction::Delete,
            "execute" => PolicyAction::Execute,
            "all" => PolicyAction::All,
            "override" => PolicyAction::Override,
            _ => return None,
        })
    }
}

/// A policy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrPolicy {
    /// What it governs.
    pub action: PolicyAction,
    /// The entity it is limited to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The condition that allows.
    pub expression: Expr,
    /// The denial message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The module declaring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Its name.
    pub name: String,
    /// How often it may be applied (checked before its expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<IrRateLimit>,
}

/// A rate limit: at most `max_requests` (plus `burst_allowance`) in any `window_ms`
/// milliseconds, counted per user, per tenant or for everyone.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrRateLimit {
    /// Requests allowed above `max_requests`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "js::option_number"
    )]
    pub burst_allowance: Option<f64>,
    /// Requests allowed per window.
    #[serde(serialize_with = "js::number")]
    pub max_requests: f64,
    /// What is counted separately.
    pub scope: RateLimitScope,
    /// The window, in milliseconds.
    #[serde(serialize_with = "js::number")]
    pub window_ms: f64,
}

/// What a rate limit counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitScope {
    /// Each user (`user.id`).
    User,
    /// Each tenant.
    Tenant,
    /// Everyone together.
    Global,
}

impl RateLimitScope {
    /// The scope the IR spells `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "user" => RateLimitScope::User,
            "tenant" => RateLimitScope::Tenant,
            "global" => RateLimitScope::Global,
            _ => return None,
        })
    }

    /// Its name in the IR.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitScope::User => "user",
            RateLimitScope::Tenant => "tenant",
            RateLimitScope::Global => "global",
        }
    }
}
