//! What the engine's operations return, serialised as the reference runtime's camelCase JSON.

use serde::{Deserialize, Serialize};

use crate::ir::Severity;
use serde_json::{Map, Value as Json};

/// The outcome of [`Engine::run_command`](super::Engine::run_command).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommandResult {
    /// Whether the command ran to the end and wrote its changes.
    pub success: bool,
    /// The value of the last action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The policy that denied it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<String>,
    /// The guard that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard_failure: Option<GuardFailure>,
    /// The policy denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_denial: Option<PolicyDenial>,
    /// The version conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_conflict: Option<ConcurrencyConflict>,
    /// The command's rate limit that refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_denial: Option<RateLimitDenial>,
    /// The outcomes of the command's constraints, when one blocked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraint_outcomes: Vec<ConstraintOutcome>,
    /// The instance a `create` command made, as it stands after its actions (also its
    /// `result`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<Json>,
    /// Events emitted, in order (none when the command failed): the command's, then its
    /// reactions'.
    pub emitted_events: Vec<EmittedEvent>,
    /// The `effect` actions to run once the command has committed.
    #[serde(skip)]
    pub(crate) effects: Vec<crate::engine::Effect>,
}

impl CommandResult {
    pub(crate) fn failure(error: impl Into<String>) -> Self {
        CommandResult {
            success: false,
            error: Some(error.into()),
            ..CommandResult::default()
        }
    }
}

/// A failed guard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GuardFailure {
    /// The guard's position, counted from 1.
    pub index: usize,
    /// The guard as text, as the reference formats it.
    pub formatted: String,
    /// The values of the expression's literals, names and member accesses, each once, as
    /// `{expression, value}` (no `value` when it has none), as the reference reports them.
    pub resolved: Vec<Json>,
}

/// A policy denial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PolicyDenial {
    /// The policy.
    pub policy_name: String,
    /// The policy's expression as text.
    pub formatted: String,
    /// The denial message.
    pub message: String,
    /// The values of the expression's literals, names and member accesses, each once, as
    /// `{expression, value}` (no `value` when it has none), as the reference reports them.
    pub resolved: Vec<Json>,
}

/// A version conflict on a command's instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConcurrencyConflict {
    /// The entity.
    pub entity_type: String,
    /// The instance.
    pub entity_id: String,
    /// The version the command wrote.
    pub expected_version: Json,
    /// The stored version.
    pub actual_version: Json,
    /// Always `VERSION_MISMATCH`.
    pub conflict_code: String,
}

/// A command refused by its rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RateLimitDenial {
    /// `user`, `tenant` or `global`.
    pub scope: std::borrow::Cow<'static, str>,
    /// What was counted (`user:<id>`, `tenant:<id>`, `global`), or `unresolved` when the
    /// scope has no value (no user id, no tenant).
    pub scope_key: String,
    /// Requests allowed per window.
    pub limit: Json,
    /// The window, in milliseconds.
    pub window_ms: Json,
    /// How long until a request would be allowed, in milliseconds.
    pub retry_after_ms: Json,
}

/// The outcome of one constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConstraintOutcome {
    /// The constraint's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The constraint.
    pub constraint_name: String,
    /// `ok`, `warn` or `block`.
    pub severity: Severity,
    /// Its expression as text.
    pub formatted: String,
    /// Its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether it passed.
    pub passed: bool,
    /// Whether it failed but was overridden (by an authorized
    /// [`OverrideRequest`](super::engine::OverrideRequest) or its override policy).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overridden: bool,
    /// Who overrode it: the request's `authorizedBy`, or `policy:<name>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overridden_by: Option<String>,
    /// As for a guard, for a constraint that failed; empty for one that passed.
    pub resolved: Vec<Json>,
}

/// An emitted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EmittedEvent {
    /// The event.
    pub name: String,
    /// Its channel (the event's name when it is not declared).
    pub channel: String,
    /// `{...input, result}`.
    pub payload: Map<String, Json>,
    /// The engine clock's time, in milliseconds.
    pub timestamp: Json,
}
