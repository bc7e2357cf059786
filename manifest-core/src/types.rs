//! The field types a `#[derive(ManifestEntity)]` struct may use, and the small bind / decode
//! interface its generated code talks to.

use std::fmt;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use serde_json::Value as JsonValue;
use uuid::Uuid;

use crate::error::{BoxDynError, Result};

mod sealed {
    pub trait Sealed {}
}

/// A type a stored field may have.
///
/// Sealed: implemented for `String`, `bool`, `i16`, `i32`, `i64`, `f32`, `f64`, [`uuid::Uuid`],
/// `chrono::DateTime<chrono::Utc>` (the timestamp type: chrono is what sqlx, SeaORM and Diesel
/// users most often already have), [`serde_json::Value`] (a JSON column), `Vec<u8>`, and
/// `Option` of each (a nullable column). The derive checks every field against it, so any other
/// type is a compile error on that field's type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported manifest field type",
    label = "unsupported field type",
    note = "supported: String, bool, i16, i32, i64, f32, f64, uuid::Uuid, chrono::DateTime<chrono::Utc>, serde_json::Value, Vec<u8>, and Option of each; or mark the field `#[manifest(skip)]`"
)]
pub trait FieldType: sealed::Sealed + Sized + Send + Sync + 'static {
    /// The column type in a SQLite `STRICT` table.
    const SQLITE_TYPE: &'static str;
    /// The column type in PostgreSQL.
    const POSTGRES_TYPE: &'static str;
    /// Whether the column may hold NULL.
    const NULLABLE: bool;

    #[cfg(feature = "sqlite")]
    #[doc(hidden)]
    fn bind_sqlite<'q>(
        value: Option<&'q Self>,
        args: &mut sqlx::sqlite::SqliteArguments<'q>,
    ) -> Result<(), BoxDynError>;
    #[cfg(feature = "sqlite")]
    #[doc(hidden)]
    fn decode_sqlite(row: &sqlx::sqlite::SqliteRow, index: usize) -> Result<Self, sqlx::Error>;
    #[cfg(feature = "postgres")]
    #[doc(hidden)]
    fn bind_postgres(
        value: Option<&Self>,
        args: &mut sqlx::postgres::PgArguments,
    ) -> Result<(), BoxDynError>;
    #[cfg(feature = "postgres")]
    #[doc(hidden)]
    fn decode_postgres(row: &sqlx::postgres::PgRow, index: usize) -> Result<Self, sqlx::Error>;
}

/// The borrowed form of an id that stores take ([`Key::Ref`](crate::Key::Ref)): `str` for a
/// `String` key, [`uuid::Uuid`] for a `Uuid` key. Sealed.
pub trait KeyRef:
    sealed::Sealed + Hash + Eq + fmt::Display + fmt::Debug + Send + Sync + 'static
{
    #[cfg(feature = "sqlite")]
    #[doc(hidden)]
    fn bind_sqlite<'q>(
        &'q self,
        args: &mut sqlx::sqlite::SqliteArguments<'q>,
    ) -> Result<(), BoxDynError>;
    #[cfg(feature = "postgres")]
    #[doc(hidden)]
    fn bind_postgres(&self, args: &mut sqlx::postgres::PgArguments) -> Result<(), BoxDynError>;
}

impl sealed::Sealed for str {}

impl KeyRef for str {
    #[cfg(feature = "sqlite")]
    fn bind_sqlite<'q>(
        &'q self,
        args: &mut sqlx::sqlite::SqliteArguments<'q>,
    ) -> Result<(), BoxDynError> {
        sqlx::Arguments::add(args, self)
    }
    #[cfg(feature = "postgres")]
    fn bind_postgres(&self, args: &mut sqlx::postgres::PgArguments) -> Result<(), BoxDynError> {
        sqlx::Arguments::add(args, self)
    }
}

impl KeyRef for Uuid {
    #[cfg(feature = "sqlite")]
    fn bind_sqlite<'q>(
        &'q self,
        args: &mut sqlx::sqlite::SqliteArguments<'q>,
    ) -> Result<(), BoxDynError> {
        sqlx::Arguments::add(args, *self)
    }
    #[cfg(feature = "postgres")]
    fn bind_postgres(&self, args: &mut sqlx::postgres::PgArguments) -> Result<(), BoxDynError> {
        sqlx::Arguments::add(args, *self)
    }
}

/// Where generated `bind_row` / `bind_patch` code puts values, in statement order.
pub trait Binder<'q> {
    /// Bind one value.
    fn bind<V: FieldType>(&mut self, value: &'q V);
    /// Bind one patch entry: a flag saying whether it is set, then the value (a typed NULL when
    /// it is not set).
    fn bind_patch<V: FieldType>(&mut self, value: Option<&'q V>);
}

/// Where generated `decode` code reads columns from, by position.
pub trait RowDecoder {
    /// Read column `index` (named `column`, for the error) as a `V`.
    fn get<V: FieldType>(&self, index: usize, column: &'static str) -> Result<V>;
}

/// The type of a `#[manifest(version)]` field: an integer.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a version field",
    label = "not an integer type",
    note = "a `#[manifest(version)]` field is an i16, i32 or i64"
)]
pub trait VersionType: FieldType + Copy {
    /// Widen to `i64`.
    fn to_i64(self) -> i64;
    /// Narrow from `i64`, failing when out of range.
    fn from_i64(value: i64) -> Result<Self, BoxDynError>;
}

macro_rules! version_type {
    ($($t:ty),*) => {$(
        impl VersionType for $t {
            fn to_i64(self) -> i64 {
                i64::from(self)
            }
            fn from_i64(value: i64) -> Result<Self, BoxDynError> {
                Ok(<$t>::try_from(value)?)
            }
        }
    )*};
}
version_type!(i16, i32, i64);

/// Implement `FieldType` for `$t` and `Option<$t>`. `$enc` turns `&$t` into the value handed
/// to sqlx, borrowing where the driver can (text and bytes are not copied on SQLite).
macro_rules! field_type {
    ($t:ty, $sqlite:literal, $pg:literal, |$v:ident| $enc:expr) => {
        impl sealed::Sealed for $t {}
        impl sealed::Sealed for Option<$t> {}

        impl FieldType for $t {
            const SQLITE_TYPE: &'static str = $sqlite;
            const POSTGRES_TYPE: &'static str = $pg;
            const NULLABLE: bool = false;

            #[cfg(feature = "sqlite")]
            fn bind_sqlite<'q>(
                value: Option<&'q Self>,
                args: &mut sqlx::sqlite::SqliteArguments<'q>,
            ) -> Result<(), BoxDynError> {
                sqlx::Arguments::add(args, value.map(|$v| $enc))
            }
            #[cfg(feature = "sqlite")]
            fn decode_sqlite(
                row: &sqlx::sqlite::SqliteRow,
                index: usize,
            ) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, index)
            }
            #[cfg(feature = "postgres")]
            fn bind_postgres(
                value: Option<&Self>,
                args: &mut sqlx::postgres::PgArguments,
            ) -> Result<(), BoxDynError> {
                sqlx::Arguments::add(args, value.map(|$v| $enc))
            }
            #[cfg(feature = "postgres")]
            fn decode_postgres(
                row: &sqlx::postgres::PgRow,
                index: usize,
            ) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, index)
            }
        }

        impl FieldType for Option<$t> {
            const SQLITE_TYPE: &'static str = $sqlite;
            const POSTGRES_TYPE: &'static str = $pg;
            const NULLABLE: bool = true;

            #[cfg(feature = "sqlite")]
            fn bind_sqlite<'q>(
                value: Option<&'q Self>,
                args: &mut sqlx::sqlite::SqliteArguments<'q>,
            ) -> Result<(), BoxDynError> {
                sqlx::Arguments::add(args, value.and_then(Option::as_ref).map(|$v| $enc))
            }
            #[cfg(feature = "sqlite")]
            fn decode_sqlite(
                row: &sqlx::sqlite::SqliteRow,
                index: usize,
            ) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, index)
            }
            #[cfg(feature = "postgres")]
            fn bind_postgres(
                value: Option<&Self>,
                args: &mut sqlx::postgres::PgArguments,
            ) -> Result<(), BoxDynError> {
                sqlx::Arguments::add(args, value.and_then(Option::as_ref).map(|$v| $enc))
            }
            #[cfg(feature = "postgres")]
            fn decode_postgres(
                row: &sqlx::postgres::PgRow,
                index: usize,
            ) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, index)
            }
        }
    };
}

field_type!(String, "TEXT", "TEXT", |v| v.as_str());
field_type!(bool, "INTEGER", "BOOLEAN", |v| *v);
field_type!(i16, "INTEGER", "SMALLINT", |v| *v);
field_type!(i32, "INTEGER", "INTEGER", |v| *v);
field_type!(i64, "INTEGER", "BIGINT", |v| *v);
field_type!(f32, "REAL", "REAL", |v| *v);
field_type!(f64, "REAL", "DOUBLE PRECISION", |v| *v);
field_type!(Uuid, "BLOB", "UUID", |v| *v);
field_type!(DateTime<Utc>, "TEXT", "TIMESTAMPTZ", |v| *v);
field_type!(JsonValue, "TEXT", "JSONB", |v| v);
field_type!(Vec<u8>, "BLOB", "BYTEA", |v| v.as_slice());
