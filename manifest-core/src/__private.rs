//! Support for the code `#[derive(ManifestEntity)]` generates. **Not public API**: anything here
//! may change in any release.

pub use crate::entity::{Column, ColumnRole, Entity, Key, ManifestEntity, Statements};
pub use crate::error::{BoxDynError, Error, Result};
pub use crate::types::{Binder, FieldType, RowDecoder, VersionType};

/// Compile-time check that a field's type is supported (spanned on the type by the derive).
pub const fn assert_field<T: FieldType>() {}

/// Compile-time check that an id or tenant field's type can key a row.
pub const fn assert_key<T: Key>() {}

/// Compile-time check that a version field's type is an integer.
pub const fn assert_version<T: VersionType>() {}
