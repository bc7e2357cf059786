//! Typed, tenant-scoped stores for [Manifest](https://github.com/Angriff36/Manifest) entities.
//!
//! Derive [`ManifestEntity`] on a plain struct and every store of it is bound to one tenant:
//! rows are keyed by `(tenant, id)` and every statement is filtered by the tenant.
//!
//! ```
//! use manifest_core::{Error, ManifestEntity, MemoryStore, Store};
//!
//! #[derive(Debug, Clone, ManifestEntity)]
//! struct Recipe {
//!     id: String,        // the id; generated (UUIDv7) when empty
//!     tenant_id: String, // the tenant; the store's when empty
//!     name: String,
//!     #[manifest(version)]
//!     version: i64,      // checked and bumped by every update
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let acme = MemoryStore::<Recipe>::new("acme".to_owned());
//! let soup = acme
//!     .create(Recipe { id: String::new(), tenant_id: String::new(), name: "Soup".into(), version: 0 })
//!     .await?;
//! assert_eq!((soup.tenant_id.as_str(), soup.version), ("acme", 1));
//!
//! // A partial update names the version it read; the store bumps it.
//! let patch = RecipePatch { name: Some("Stew".into()), version: Some(1) };
//! let stew = acme.update(&soup.id, patch).await?.expect("the row exists");
//! assert_eq!((stew.name.as_str(), stew.version), ("Stew", 2));
//!
//! // A writer still holding version 1 is refused, and nothing is written.
//! let stale = RecipePatch { name: Some("Soup again".into()), version: Some(1) };
//! assert!(matches!(
//!     acme.update(&soup.id, stale).await,
//!     Err(Error::VersionConflict { expected: 1, actual: 2, .. })
//! ));
//!
//! // Another tenant's store over the same data sees none of it.
//! let globex = acme.for_tenant("globex".to_owned());
//! assert!(globex.get_by_id(&soup.id).await?.is_none());
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//!
//! - `derive` (default): re-exports `#[derive(ManifestEntity)]`.
//! - `sqlite`, `postgres`: [`SqlStore`] (`SqliteStore`, `PgStore`) over sqlx, made from
//!   a [`SqlDb`] (one pool per application), a held `SqlSession`, or a
//!   `SqlTransaction` shared by several stores; and [`DocumentStore`] (`SqliteDocumentStore`,
//!   `PgDocumentStore`), a `Store<EntityInstance>` for entities that have no Rust struct, one
//!   JSON object per row.
//!
//! The memory store is always compiled.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

extern crate self as manifest_core;

pub mod audit;
mod entity;
mod error;
mod id;
pub mod idempotency;
pub mod outbox;
mod records;
mod store;
mod tx;
mod types;

#[doc(hidden)]
pub mod __private;

pub use audit::{AuditOutcome, AuditRecord, AuditSink};
pub use entity::{Column, ColumnRole, Entity, Key, ManifestEntity, Statements};
pub use error::{BoxDynError, Error, Result};
pub use id::IdGenerator;
pub use idempotency::{IdempotencyRecord, IdempotencyStore};
pub use outbox::{OutboxEntry, OutboxEvent, OutboxStatus, OutboxStore};
pub use records::{CommandRecords, RecordsError};
pub use store::{Conditional, EntityInstance, InstanceStore, List, MemoryStore, Store};
pub use tx::Tx;
pub use types::{Binder, FieldType, KeyRef, RowDecoder, VersionType};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use store::sql::{
    Backend, DocumentStore, SqlConnection, SqlDb, SqlSession, SqlStore, SqlTransaction,
};

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::sql::sqlite::{
    SqliteDb, SqliteDocumentStore, SqliteSession, SqliteStore, SqliteTransaction,
};

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::sql::postgres::{PgDb, PgDocumentStore, PgSession, PgStore, PgTransaction};

/// The sqlx version this crate is built on, for naming pools and database types.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;

/// Derive [`ManifestEntity`] (and [`Entity`]) for a struct: see the crate docs for its attributes.
#[cfg(feature = "derive")]
pub use manifest_derive::ManifestEntity;
