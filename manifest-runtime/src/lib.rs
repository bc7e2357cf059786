//! The Manifest runtime: IR loaded into typed structures, the expression evaluator, and the
//! engine that executes commands over [`manifest_core`]'s stores.
//!
//! This crate re-exports what a runtime user needs of `manifest-core` (the store contract, the
//! dynamic [`EntityInstance`], the SQL databases behind the `sqlite` and `postgres` features),
//! so one dependency line suffices. A user of typed stores alone depends on `manifest-core`
//! and compiles none of this.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod conformance;
pub mod engine;
pub mod eval;
pub mod expr;
pub mod instance;
pub mod ir;
pub mod limits;
pub mod result;
pub mod schema;
pub mod value;

mod builtins;

pub use engine::{
    CommandOptions, Database, Engine, EngineBuilder, MemoryDb, OverrideRequest, Program,
    RuntimeError, StoreProvider,
};
pub use instance::Instance;
pub use ir::{Ir, IrError};
pub use limits::{Limit, LimitExceeded, Limits};
pub use result::{CommandResult, ConstraintOutcome, EmittedEvent, RateLimitDenial};

/// The stores crate, for everything this crate does not re-export by name.
pub use manifest_core;
pub use manifest_core::{
    Conditional, EntityInstance, IdGenerator, InstanceStore, ManifestEntity, MemoryStore, Store,
};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use manifest_core::{DocumentStore, SqlDb};

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use manifest_core::SqliteDb;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use manifest_core::PgDb;
