//! What a store needs to know about a row type: [`Entity`] for every store, and
//! [`ManifestEntity`] (written by `#[derive(ManifestEntity)]`) for the SQL stores.

use std::borrow::Borrow;
use std::fmt::{Debug, Display};
use std::hash::Hash;

use crate::error::{BoxDynError, Result};
use crate::id::IdGenerator;
use crate::types::{Binder, FieldType, KeyRef, RowDecoder};

/// A row type that a [`Store`](crate::Store) can hold.
///
/// `#[derive(ManifestEntity)]` implements it for a struct; [`EntityInstance`](crate::EntityInstance)
/// implements it for the runtime's dynamic records. The methods are the hooks a store needs to
/// enforce the contract (ids, tenant, version, partial updates); they are not meant to be called
/// by application code.
pub trait Entity: Clone + Debug + Send + Sync + Unpin + 'static {
    /// The type of the id column.
    type Id: Key;
    /// The type of the tenant column.
    type Tenant: Key;
    /// A partial update: only the fields it names change.
    type Patch: Debug + Send + Sync + 'static;

    /// Whether rows carry a version that every update checks and bumps.
    const VERSIONED: bool = false;

    /// The row's id.
    fn id(&self) -> &Self::Id;
    /// The row's id, to fill in a generated one.
    fn id_mut(&mut self) -> &mut Self::Id;
    /// The row's tenant field, if the type stores one.
    fn tenant_mut(&mut self) -> Option<&mut Self::Tenant>;
    /// The row's version, if the type has a `#[manifest(version)]` field.
    fn version(&self) -> Option<i64>;
    /// Set the row's version.
    fn set_version(&mut self, version: i64) -> Result<(), BoxDynError>;
    /// The version a patch expects the row to have, if it names one.
    fn expected_version(patch: &Self::Patch) -> Option<i64>;
    /// Apply a patch in place (the memory store's update).
    fn apply(&mut self, patch: Self::Patch) -> Result<()>;
    /// Refuse a row that no store may keep, before anything is written: every store's
    /// [`create`](crate::Store::create) asks. The default accepts every row;
    /// [`EntityInstance`](crate::EntityInstance) refuses object keys containing U+0000
    /// ([`Error::NulInKey`](crate::Error::NulInKey)).
    fn check(&self, entity: &str) -> Result<()> {
        let _ = entity;
        Ok(())
    }
    /// [`check`](Entity::check) for a patch: every store's update and `update_if` ask, before
    /// they look for the row.
    fn check_patch(patch: &Self::Patch, entity: &str) -> Result<()> {
        let _ = (patch, entity);
        Ok(())
    }
    /// Reset the fields that are not stored (`#[manifest(skip)]`) to their defaults, so a row
    /// the memory store keeps reads back as a SQL store's would.
    fn clear_skipped(&mut self) {}
    /// Whether `self`, a stored row, is still `read`, the same row as a caller read it earlier:
    /// what [`MemoryStore::update_if`](crate::Store::update_if) checks. `None` when the type
    /// cannot tell (for any two rows); that `update_if` is then [`Error::Unsupported`](crate::Error::Unsupported).
    ///
    /// The default compares the versions of a versioned entity (every update bumps the version,
    /// so an equal version is an unchanged row) and cannot tell for any other.
    /// [`EntityInstance`](crate::EntityInstance) compares every field.
    fn same_row(&self, read: &Self) -> Option<bool> {
        match (self.version(), read.version()) {
            (Some(stored), Some(read)) if Self::VERSIONED => Some(stored == read),
            _ => None,
        }
    }

    /// Whether the row's field `field` (in the entity's dynamic form) holds `value`: what
    /// [`MemoryStore::find_by`](crate::Store::find_by) asks. `None` when the type cannot tell
    /// (the default); that `find_by` is then [`Error::Unsupported`](crate::Error::Unsupported).
    /// [`EntityInstance`](crate::EntityInstance) answers for every field.
    fn field_is(&self, field: &str, value: &serde_json::Value) -> Option<bool> {
        let _ = (field, value);
        None
    }
}

/// A value that can key a row: an id or a tenant.
///
/// Implemented for `String` and [`uuid::Uuid`]. "Unset" is the empty string or the nil UUID: a
/// row created with an unset id gets a generated one, and a row created with an unset tenant gets
/// the store's.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a manifest id or tenant",
    note = "ids and tenants are `String` or `uuid::Uuid`"
)]
pub trait Key:
    FieldType
    + serde::Serialize
    + Clone
    + Eq
    + Ord
    + Hash
    + Debug
    + Display
    + Send
    + Sync
    + Borrow<Self::Ref>
    + 'static
{
    /// The form in which stores take an id ([`Store::get_by_id`](crate::Store::get_by_id) and
    /// the other operations on one row): `str` for `String`, so a caller with a `&str` needs no
    /// `String`; `Uuid` for `Uuid`.
    type Ref: ?Sized + KeyRef;

    /// The value that means "not given".
    fn unset() -> Self;
    /// Whether this is the "not given" value.
    fn is_unset(&self) -> bool;
    /// A new value from the generator.
    fn generate(ids: &IdGenerator) -> Result<Self, BoxDynError>;
    /// Parse the value from its text form (the runtime's ids are text).
    fn parse_key(text: &str) -> Result<Self, BoxDynError>;
}

impl Key for String {
    type Ref = str;

    fn unset() -> Self {
        String::new()
    }
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
    fn generate(ids: &IdGenerator) -> Result<Self, BoxDynError> {
        let id = ids.generate_string();
        if id.is_empty() {
            return Err("the id generator returned an empty id".into());
        }
        Ok(id)
    }
    fn parse_key(text: &str) -> Result<Self, BoxDynError> {
        Ok(text.to_owned())
    }
}

impl Key for uuid::Uuid {
    type Ref = uuid::Uuid;

    fn unset() -> Self {
        uuid::Uuid::nil()
    }
    fn is_unset(&self) -> bool {
        self.is_nil()
    }
    fn generate(ids: &IdGenerator) -> Result<Self, BoxDynError> {
        let id = ids.generate_uuid()?;
        if id.is_nil() {
            return Err("the id generator returned the nil uuid".into());
        }
        Ok(id)
    }
    fn parse_key(text: &str) -> Result<Self, BoxDynError> {
        Ok(text.parse()?)
    }
}

/// A column's role in the compound key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnRole {
    /// The tenant column: first in the primary key and in every statement's filter.
    Tenant,
    /// The id column: second in the primary key.
    Id,
    /// The optimistic-concurrency version column.
    Version,
    /// Any other stored field.
    Data,
}

/// One stored column of an entity, as the derive maps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The SQL column name (checked at compile time: `[A-Za-z_][A-Za-z0-9_]*`).
    pub name: &'static str,
    /// The Rust field it comes from.
    pub field: &'static str,
    /// Its role in the key.
    pub role: ColumnRole,
    /// Its SQLite type (the column is declared in a `STRICT` table).
    pub sqlite_type: &'static str,
    /// Its PostgreSQL type.
    pub postgres_type: &'static str,
    /// Whether it may hold NULL (the field is an `Option`).
    pub nullable: bool,
}

impl Column {
    /// Describe the column of a field of type `F`.
    pub const fn of<F: FieldType>(
        name: &'static str,
        field: &'static str,
        role: ColumnRole,
    ) -> Self {
        Column {
            name,
            field,
            role,
            sqlite_type: F::SQLITE_TYPE,
            postgres_type: F::POSTGRES_TYPE,
            nullable: F::NULLABLE,
        }
    }
}

/// The tenant-scoped statements of one entity in one SQL dialect, worked out at compile time.
///
/// Every statement filters by the tenant column first and the id second, so each one is a
/// point or range lookup on the primary key `(tenant, id)`, and runs unchanged on a
/// tenant-sharded PostgreSQL (Citus) where the tenant is the distribution column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statements {
    /// `INSERT ... RETURNING` every column; binds every column in [`ManifestEntity::COLUMNS`] order.
    pub insert: &'static str,
    /// `SELECT` one row; binds tenant, id.
    pub select_by_id: &'static str,
    /// `SELECT` the tenant's rows ordered by id; binds tenant.
    pub select_all: &'static str,
    /// `SELECT` the tenant's rows in no particular order (no `ORDER BY`); binds tenant.
    pub select_all_unordered: &'static str,
    /// `SELECT` at most a number of the tenant's rows with an id greater than a cursor, ordered
    /// by id (`WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`); binds tenant, the cursor id,
    /// the limit as a `BIGINT`.
    pub select_page: &'static str,
    /// `UPDATE ... RETURNING`: each patchable column as `CASE WHEN <flag> THEN <value> ELSE col END`,
    /// the version bumped in the same statement; binds the patch (flag, value pairs), then
    /// tenant, id and, for a versioned entity, the expected version.
    pub update: &'static str,
    /// `SELECT CAST(version AS BIGINT)` of one row, read only to report a version conflict;
    /// empty for an unversioned entity. Binds tenant, id.
    pub select_version: &'static str,
    /// `DELETE` one row; binds tenant, id.
    pub delete: &'static str,
    /// `DELETE` every row of the tenant (never `TRUNCATE`); binds tenant.
    pub clear: &'static str,
}

/// A struct mapped to a tenant-scoped table: implement it with `#[derive(ManifestEntity)]`.
///
/// The implementation is data (names, columns, statements) plus small bind and decode
/// functions; the CRUD flow, tenant checks, version checks and transactions are generic code in
/// this crate over `T: ManifestEntity`.
pub trait ManifestEntity: Entity {
    /// The entity name the runtime and the store provider use.
    const ENTITY: &'static str;
    /// The SQL table name.
    const TABLE: &'static str;
    /// Every stored column, in the struct's field order.
    const COLUMNS: &'static [Column];
    /// The statements for SQLite (`?` placeholders).
    const SQLITE: Statements;
    /// The statements for PostgreSQL (`$n` placeholders).
    const POSTGRES: Statements;

    /// Bind every stored column of `self`, in [`Self::COLUMNS`] order.
    fn bind_row<'q, B: Binder<'q>>(&'q self, binder: &mut B);
    /// Bind a patch: for each patchable column, a flag (is it set) then the value.
    fn bind_patch<'q, B: Binder<'q>>(patch: &'q Self::Patch, binder: &mut B);
    /// Read a row whose columns come in [`Self::COLUMNS`] order.
    fn decode<R: RowDecoder>(row: &R) -> Result<Self>;
    /// A patch that sets every field to this row's value and expects this row's version.
    fn into_patch(self) -> Self::Patch;

    /// The column with this role, if any.
    fn column(role: ColumnRole) -> Option<&'static Column> {
        Self::COLUMNS.iter().find(|c| c.role == role)
    }
}
