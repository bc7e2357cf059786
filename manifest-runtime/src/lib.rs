//! The Manifest runtime: IR loaded into typed structures, the expression evaluator, and the
//! engine that executes commands over [`manifest_core`]'s stores.
//!
//! This crate re-exports what a runtime user needs of `manifest-core` (the store contract, the
//! dynamic [`EntityInstance`], the SQL databases behind the `sqlite` and `postgres` features),
//! so one dependency line suffices. A user of typed stores alone depends on `manifest-core`
//! and compiles none of this.
//!
//! ```
//! use std::sync::Arc;
//! use manifest_runtime::{CommandOptions, Engine, MemoryDb, Program};
//! use serde_json::{Map, json};
//!
//! // `entity Counter { property value: number = 0  command increment() { mutate value = value + 1 } }`
//! let program = Arc::new(Program::from_json_str(r#"{"version": "1.0",
//!     "entities": [{"name": "Counter", "properties": [{"name": "value",
//!         "type": {"name": "number"}, "defaultValue": {"kind": "number", "value": 0}}]}],
//!     "commands": [{"name": "increment", "entity": "Counter", "actions": [{"kind": "mutate",
//!         "target": "value", "expression": {"kind": "binary", "operator": "+",
//!             "left": {"kind": "identifier", "name": "value"},
//!             "right": {"kind": "literal", "value": {"kind": "number", "value": 1}}}}]}]}"#)?);
//! let memory = MemoryDb::new(); // shared by the engines below; SqliteDb and PgDb work alike
//! let engine = |tenant: &str| {
//!     Engine::builder(program.clone()).tenant(tenant).database(memory.clone()).build()
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let acme = engine("acme")?;
//! let counter = acme.create_instance("Counter", Map::from_iter([("id".into(), json!("c1"))])).await?;
//! assert_eq!(counter.get("value"), Some(json!(0)));
//! let result = acme.run_command("increment", Map::new(), CommandOptions::on("Counter", "c1")).await?;
//! assert!(result.success);
//! // Another engine of the same tenant sees the change; another tenant sees nothing.
//! assert_eq!(engine("acme")?.get_instance("Counter", "c1").await?.unwrap()["value"], 1);
//! assert_eq!(engine("globex")?.get_instance("Counter", "c1").await?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
pub mod worker;

mod audit_tracing;
mod builtins;

pub use audit_tracing::{AUDIT_TARGET, TracingAudit};
pub use engine::{
    CommandOptions, Database, Effect, EffectError, EffectHandler, Engine, EngineBuilder,
    InstancePage, IntoProgram, Listener, MemoryDb, NotExecuted, OverrideRequest, Program,
    RuntimeError, StoreProvider, WritePath, WritePathBuilder,
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
