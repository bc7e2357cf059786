//! The runtime: Manifest IR loaded into typed structures, the expression evaluator, and the
//! engine that executes commands over the stores the provider hook gives.

pub mod conformance;
pub mod engine;
pub mod eval;
pub mod expr;
pub mod ir;
pub mod limits;
pub mod result;
pub mod schema;
pub mod value;

mod builtins;

pub use engine::{
    CommandOptions, OverrideRequest, RuntimeEngine, RuntimeError, RuntimeOptions, StoreProvider,
};
pub use ir::{Ir, IrError};
pub use limits::{Limit, LimitExceeded, Limits};
pub use result::{CommandResult, ConstraintOutcome, EmittedEvent, RateLimitDenial};
