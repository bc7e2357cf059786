//! Entities: stored and computed properties, relationships, constraints, transitions.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::expr::{Expr, IrValue};
use crate::js;

/// An entity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrEntity {
    /// Alternate unique keys (lists of properties).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternate_keys: Vec<Json>,
    /// Approval workflows on its commands (the runtime does not execute them yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Json>,
    /// The names of its commands.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Computed properties.
    #[serde(default)]
    pub computed_properties: Vec<IrComputedProperty>,
    /// Entity constraints.
    #[serde(default)]
    pub constraints: Vec<IrConstraint>,
    /// Default policies (the compiler also copies them into each command).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_policies: Vec<String>,
    /// Whether it is stored outside the program (`external`).
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub external: bool,
    /// A composite key: the instance id is these properties' values joined with `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<String>>,
    /// The mixins it was composed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixins: Option<Vec<String>>,
    /// The module declaring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Its name.
    pub name: String,
    /// The entity it extends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Policy names.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Stored properties (the id is implicit unless declared).
    #[serde(default)]
    pub properties: Vec<IrProperty>,
    /// Whether changes are pushed to subscribers (`realtime`).
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub realtime: bool,
    /// Relationships.
    #[serde(default)]
    pub relationships: Vec<IrRelationship>,
    /// Whether `createdAt` / `updatedAt` are maintained.
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub timestamps: bool,
    /// Allowed state transitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<IrTransition>,
    /// The property set to `now()` whenever the version changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_at_property: Option<String>,
    /// The optimistic-concurrency version property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_property: Option<String>,
}

/// A stored property.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrProperty {
    /// Whether a create sets it to the current time (`= now()`).
    #[serde(default, skip_serializing_if = "crate::is_false")]
    pub auto_now: bool,
    /// The value used when a create leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<IrValue>,
    /// The modifiers the engine acts on, read from `modifiers` when the IR is loaded or built.
    #[serde(skip)]
    pub flags: Modifiers,
    /// How reads (`get_instance`, `get_all_instances`) mask it, when it is `masked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_strategy: Option<IrMaskStrategy>,
    /// Modifiers: `required`, `optional`, `readonly`, `private`, ... as the IR spells them.
    #[serde(default)]
    pub modifiers: Vec<String>,
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: IrType,
}

impl IrProperty {
    /// Whether the property carries this modifier (as the IR spells it).
    pub fn has(&self, modifier: &str) -> bool {
        self.modifiers.iter().any(|m| m == modifier)
    }
}

/// How a `masked` property is shown on reads.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrMaskStrategy {
    /// Its numbers (`partial`: how many characters to keep at the start and at the end).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "js::numbers"
    )]
    pub params: Vec<f64>,
    /// The kind of mask.
    #[serde(rename = "type")]
    pub kind: MaskKind,
    /// When the real value is shown instead (evaluated with the instance as `self`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmask_when: Option<Expr>,
}

/// A kind of mask (the reference's `applyMaskStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
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

impl MaskKind {
    /// The kind the IR spells `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "redact" => MaskKind::Redact,
            "partial" => MaskKind::Partial,
            "email" => MaskKind::Email,
            "phone" => MaskKind::Phone,
            "last4" => MaskKind::Last4,
            _ => return None,
        })
    }
}

/// The property modifiers the engine acts on ([`IrProperty::flags`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrType {
    /// The element type of an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<Box<IrType>>,
    /// `string`, `number`, `boolean`, `array`, `datetime`, ...
    pub name: String,
    /// Whether null is allowed.
    #[serde(default)]
    pub nullable: bool,
    /// `decimal(precision, scale)`'s numbers: `{precision, scale}`, each a number or null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Json>,
}

/// A computed property.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrComputedProperty {
    /// How it is cached: `{strategy, ttlSeconds?}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Json>,
    /// The properties it reads.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Its expression.
    pub expression: Expr,
    /// Its name.
    pub name: String,
    /// Its declared type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<IrType>,
}

/// A relationship.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrRelationship {
    /// The foreign key, when not inferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_key: Option<IrForeignKey>,
    /// `hasMany`, `hasOne`, `belongsTo` or `ref`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// What a delete of the target does (`cascade`, `restrict`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<String>,
    /// What an update of the target's key does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
    /// The related entity.
    pub target: String,
    /// The join entity of a `hasMany ... through`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
}

/// An explicit foreign key: `fields` on the entity holding it, each referencing the column of
/// `references` at the same position (else the referenced entity's `key`, else the same name).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrForeignKey {
    /// The local columns.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The referenced columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<Vec<String>>,
}

/// How bad a failed constraint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
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

impl Severity {
    /// The severity the IR spells `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ok" => Severity::Ok,
            "warn" => Severity::Warn,
            "block" => Severity::Block,
            _ => return None,
        })
    }
}

/// An entity or command constraint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IrConstraint {
    /// Its code (for overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Extra fields of a failure, by name: `{field: expression}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_mapping: Option<Json>,
    /// The condition.
    pub expression: Expr,
    /// When true, the constraint is violated when the expression is true (absent: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_when: Option<bool>,
    /// The message of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A message template with `{field}` holes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
    /// Its name.
    pub name: String,
    /// Whether an override may lift it.
    #[serde(default)]
    pub overrideable: bool,
    /// The policy that authorizes an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_policy_ref: Option<String>,
    /// Its severity (default `block`).
    #[serde(default)]
    pub severity: Severity,
}

impl IrConstraint {
    /// Whether a true expression is the failure ([`fail_when`](Self::fail_when), else false).
    pub fn fails_when_true(&self) -> bool {
        self.fail_when.unwrap_or(false)
    }
}

/// An allowed state transition: from `from`, the property may become one of `to`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IrTransition {
    /// The state it leaves.
    pub from: String,
    /// The state property.
    pub property: String,
    /// The states it may enter.
    pub to: Vec<String>,
}
