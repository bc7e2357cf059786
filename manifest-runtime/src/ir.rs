//! Manifest IR v1, loaded into typed structures: the types of [`manifest_ir`], which the
//! compiler (`manifest-compiler`) also writes, re-exported here.
//!
//! Keys this runtime does not use are ignored, so newer compilers' additions load; a key it
//! does use with the wrong shape is an [`IrError`] naming the JSON path, never a panic.

pub use manifest_ir::{
    ActionKind, EventPayload, IR_VERSION, Ir, IrAction, IrCommand, IrComputedProperty,
    IrConstraint, IrEmitPayload, IrEmitPayloadField, IrEntity, IrError, IrEvent, IrEventField,
    IrFanOut, IrForeignKey, IrMaskStrategy, IrParameter, IrPermission, IrPolicy, IrProperty,
    IrRateLimit, IrReaction, IrReactionMatch, IrReactionParam, IrRelationship, IrRole, IrStore,
    IrTransition, IrType, MAX_IR_DEPTH, MaskKind, Modifiers, PolicyAction, Provenance,
    RESERVED_FIELD, RateLimitScope, Severity,
};
