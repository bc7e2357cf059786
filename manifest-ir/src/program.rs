//! The program: its provenance, stores, events, reactions and roles, and what the runtime
//! keeps as JSON (modules, value types, enums, sagas, schedules, webhooks, the tenant).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::command::{IrCommand, IrPolicy};
use crate::entity::{IrEntity, IrType};
use crate::expr::Expr;

/// A compiled Manifest program.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ir {
    /// Every command, entity-bound or global.
    #[serde(default)]
    pub commands: Vec<IrCommand>,
    /// Entities.
    #[serde(default)]
    pub entities: Vec<IrEntity>,
    /// Enums: `{name, values, module?}`.
    #[serde(default)]
    pub enums: Vec<Json>,
    /// Declared events.
    #[serde(default)]
    pub events: Vec<IrEvent>,
    /// Modules: the names each declares.
    #[serde(default)]
    pub modules: Vec<Json>,
    /// Policies.
    #[serde(default)]
    pub policies: Vec<IrPolicy>,
    /// Who compiled it, from what, and its hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Event reactions: commands run when an event is emitted, in declaration order.
    #[serde(default)]
    pub reactions: Vec<IrReaction>,
    /// Roles, with the permissions each grants (`hasPermission`, `roleAllows`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<IrRole>,
    /// Sagas (not executed by this runtime yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sagas: Vec<Json>,
    /// Schedules (not executed by this runtime yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Json>,
    /// Where each entity is stored.
    #[serde(default)]
    pub stores: Vec<IrStore>,
    /// The tenant declaration: `{property, type, contextPath}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Json>,
    /// Value types: `{name, properties}`.
    #[serde(default)]
    pub values: Vec<Json>,
    /// The IR version (`"1.0"`).
    pub version: String,
    /// Webhooks (not executed by this runtime yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Json>,
}

/// `provenance`: the compiler, the source's hash, and the IR's own hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// When it was compiled (ISO 8601, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiled_at: Option<String>,
    /// The compiler and its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiler_version: Option<String>,
    /// SHA-256 (hex) of the source text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// SHA-256 (hex) of the canonical text of the IR without this field
    /// (written in one pass by [`canonical::sha256_hex`](crate::canonical::sha256_hex)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ir_hash: Option<String>,
    /// The IR schema version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
}

/// Where an entity is stored.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrStore {
    /// Target settings, kept as JSON (an object of IR values).
    #[serde(default)]
    pub config: Json,
    /// The entity.
    pub entity: String,
    /// `memory`, `postgres`, `supabase`, `durable`, ...
    pub target: String,
}

/// A declared event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrEvent {
    /// Its channel.
    pub channel: String,
    /// Its name.
    pub name: String,
    /// Its payload: fields, or one type.
    #[serde(default)]
    pub payload: EventPayload,
}

/// An event's payload.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum EventPayload {
    /// Named fields.
    Fields(Vec<IrEventField>),
    /// A single value of a type.
    Type(IrType),
    /// Any other shape (another compiler's), kept as it is.
    Other(Json),
}

impl Default for EventPayload {
    fn default() -> Self {
        EventPayload::Fields(Vec::new())
    }
}

/// One field of an event's payload.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrEventField {
    /// Its name.
    pub name: String,
    /// Whether an emit must give it.
    #[serde(default)]
    pub required: bool,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: IrType,
}

/// `on <event> run <Entity>.<command> resolve <expr> params { .. }`: when a command emits
/// `event`, run `target_command` on the instance `resolve` names (or, with `fan_out`, on every
/// instance whose `match_field` equals `match_source`), with `params` as its input. The
/// expressions see `payload` (and `self`): the event's payload with `id`, `_subject`,
/// `_eventName` and `_channel`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrReaction {
    /// With `match`: create the instance when none matches (not executed by this runtime yet).
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub else_create: bool,
    /// The entity declaring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The triggering event's name.
    pub event: String,
    /// Run on every matching instance instead of one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out: Option<IrFanOut>,
    /// `match { field: source }`: the target found by fields (not executed by this runtime yet).
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<IrReactionMatch>>,
    /// The module declaring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The command's input, by parameter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<IrReactionParam>,
    /// The target instance's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<Expr>,
    /// The command to run.
    pub target_command: String,
    /// The entity of the command to run.
    pub target_entity: String,
}

/// One `field: source` of a reaction's `match`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrReactionMatch {
    /// The target entity's field.
    pub field: String,
    /// The value it must equal, evaluated against the event.
    pub source: Expr,
}

/// One parameter of a reaction's command.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrReactionParam {
    /// Its value.
    pub expression: Expr,
    /// The parameter.
    pub name: String,
}

/// A fan-out reaction's match: every instance of the target entity whose `match_field` equals
/// `match_source`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrFanOut {
    /// The entity matched, when not the target (not executed by this runtime yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_entity: Option<String>,
    /// The target entity's field.
    pub match_field: String,
    /// The value, evaluated against the event.
    pub match_source: Expr,
}

/// A role. Only its effective permissions (its own and its ancestors', minus denials, as the
/// compiler resolved them) decide what it grants; the rest is kept for tools.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrRole {
    /// What it allows itself.
    #[serde(default)]
    pub allow: Vec<IrPermission>,
    /// What it denies (even if an ancestor allows it).
    #[serde(default)]
    pub deny: Vec<IrPermission>,
    /// What it grants in all.
    #[serde(default)]
    pub effective_permissions: Vec<IrPermission>,
    /// The module declaring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Its name.
    pub name: String,
    /// The role it extends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// A permission: an action (`all` for any), on a target or on everything.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IrPermission {
    /// The action, or `all`.
    pub action: String,
    /// The target; none for every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
