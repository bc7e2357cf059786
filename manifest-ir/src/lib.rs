//! Manifest IR v1: the typed program `manifest-compiler` writes and `manifest-runtime` loads.
//!
//! One set of types on both sides, so the program the compiler lowers is the program the
//! engine runs, with no JSON in between unless it is asked for. The shapes follow
//! `ir-v1.schema.json` and upstream's compiler output.
//!
//! - **Loading** ([`Ir::from_json_str`], [`Ir::from_json`]) ignores keys it does not know, so
//!   newer compilers' additions load; a known key with the wrong shape is an [`IrError`]
//!   naming the JSON path, never a panic.
//! - **Writing**: every type serializes in upstream's shape (absent optional fields left out,
//!   integral numbers as integers). Each struct declares its fields in the `localeCompare`
//!   order of their JSON names, the order upstream's `irHash` text sorts them into, so
//!   [`canonical`] writes that text, and the hash, in one streaming pass over the typed tree.
//! - What this runtime does not execute yet (sagas, schedules, webhooks, approvals, retry
//!   policies, modules, enums, value types, the tenant declaration) is kept as
//!   `serde_json::Value`, exactly as compiled.

#![forbid(unsafe_code)]

pub mod canonical;
mod command;
pub mod depth;
mod entity;
mod expr;
pub mod js;
mod load;
mod program;
pub mod text;

pub use command::{
    ActionKind, IrAction, IrCommand, IrDeclaredDefault, IrEmitPayload, IrEmitPayloadField,
    IrInitialization, IrLifecycleValue, IrParameter, IrPolicy, IrRateLimit, PolicyAction,
    RateLimitScope,
};
pub use entity::{
    IrComputedProperty, IrConstraint, IrEntity, IrForeignKey, IrMaskStrategy, IrProperty,
    IrRelationship, IrTransition, IrType, MaskKind, Modifiers, Severity,
};
pub use expr::{AggregateOp, AggregatePredicate, BinaryOp, Expr, IrValue, ObjectProperty, UnaryOp};
pub use load::{IrError, MAX_IR_DEPTH, RESERVED_FIELD};
pub use program::{
    EventPayload, Ir, IrEvent, IrEventField, IrFanOut, IrPermission, IrReaction, IrReactionMatch,
    IrReactionParam, IrRole, IrStore, Provenance,
};

/// `skip_serializing_if` for a flag the IR writes only when it is set.
fn is_false(b: &bool) -> bool {
    !*b
}

/// The IR version this crate reads and writes.
pub const IR_VERSION: &str = "1.0";
