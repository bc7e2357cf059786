//! The SQL stores: one generic implementation over sqlx, instantiated for SQLite and PostgreSQL.
//!
//! Every statement is a compile-time constant from the derive ([`Statements`]); this module only
//! binds values, runs one statement per operation and decodes rows. Binding borrows text and
//! bytes from the row where the driver allows, and sqlx prepares each statement once per
//! connection and caches it.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;
use sqlx::Database;

use super::{
    Conditional, IdRef, List, Store, conditional_version, expected_version, prepare_create,
};
use crate::entity::{Column, Key, ManifestEntity, Statements};
use crate::error::{BoxDynError, Error, Result};
use crate::id::IdGenerator;
use crate::types::{Binder, FieldType, RowDecoder};

mod db;
mod document;
mod gate;
mod held;
pub use db::SqlDb;
pub(crate) use db::{Source, create_checked};
#[doc(hidden)]
pub use document::DocumentDialect;
pub use document::DocumentStore;
pub(crate) use document::to_text;
pub(crate) use gate::{GatePass, WriteGate};
pub use held::{SqlConnection, SqlSession, SqlTransaction};
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "postgres")]
mod rls;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

mod sealed {
    pub trait Sealed {}
}

/// A SQL database a [`SqlStore`] runs on: [`sqlx::Sqlite`] or [`sqlx::Postgres`]. Sealed.
pub trait Backend: Database + sealed::Sealed {
    /// What follows the column list in `CREATE TABLE`.
    #[doc(hidden)]
    const TABLE_SUFFIX: &'static str;
    /// The statements of a [`DocumentStore`].
    #[doc(hidden)]
    const DOCUMENT: DocumentDialect;
    /// The names of a table's columns, in order; `1` is the table name, unquoted.
    #[doc(hidden)]
    const TABLE_COLUMNS: &'static str;
    /// Whether one connection writes at a time (SQLite), so the database's transactions
    /// queue in the process ([`WriteGate`]).
    #[doc(hidden)]
    const ONE_WRITER: bool;
    /// The statement beginning a transaction, for `tenant` (see
    /// [`SqlDb::begin_for`]).
    #[doc(hidden)]
    fn begin_statement(tenant: Option<&str>) -> std::borrow::Cow<'static, str>;
    #[doc(hidden)]
    fn statements<T: ManifestEntity>() -> Statements;
    #[doc(hidden)]
    fn column_type(column: &Column) -> &'static str;
    #[doc(hidden)]
    fn bind_value<'q, V: FieldType>(
        value: Option<&'q V>,
        args: &mut Self::Arguments<'q>,
    ) -> Result<(), BoxDynError>;
    #[doc(hidden)]
    fn bind_key<'q, K: Key>(
        id: &'q K::Ref,
        args: &mut Self::Arguments<'q>,
    ) -> Result<(), BoxDynError>;
    #[doc(hidden)]
    fn decode_value<V: FieldType>(row: &Self::Row, index: usize) -> Result<V, sqlx::Error>;
    #[doc(hidden)]
    fn fetch_optional<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        args: Self::Arguments<'c>,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + 'c;
    /// Fetch and decode every row, each as it arrives (decoding after collecting the rows is
    /// twice as slow on SQLite: every row would stay alive until the last arrived). A decode
    /// error travels through sqlx as `sqlx::Error::Decode` and [`db_error`] unwraps it.
    #[doc(hidden)]
    fn fetch_all<'c, O, F>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        args: Self::Arguments<'c>,
        decode: F,
    ) -> impl Future<Output = Result<Vec<O>, sqlx::Error>> + Send + 'c
    where
        O: Send + Unpin + 'c,
        F: Fn(&Self::Row) -> Result<O> + Send + 'c;
    #[doc(hidden)]
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        args: Self::Arguments<'c>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c;
}

/// Implements [`Backend`] for one sqlx database; the two backends differ only in these names.
macro_rules! backend {
    (
        $db:ty,
        $suffix:literal,
        $document:path,
        $columns:literal,
        $one_writer:literal,
        $begin:path,
        $stmts:ident,
        $col_type:ident,
        $bind:ident,
        $decode:ident
    ) => {
        impl $crate::store::sql::sealed::Sealed for $db {}

        impl $crate::store::sql::Backend for $db {
            const TABLE_SUFFIX: &'static str = $suffix;
            const DOCUMENT: $crate::store::sql::DocumentDialect = $document;
            const TABLE_COLUMNS: &'static str = $columns;
            const ONE_WRITER: bool = $one_writer;

            fn begin_statement(tenant: Option<&str>) -> std::borrow::Cow<'static, str> {
                $begin(tenant)
            }

            fn statements<T: $crate::ManifestEntity>() -> $crate::Statements {
                T::$stmts
            }
            fn column_type(column: &$crate::Column) -> &'static str {
                column.$col_type
            }
            fn bind_value<'q, V: $crate::FieldType>(
                value: Option<&'q V>,
                args: &mut <Self as sqlx::Database>::Arguments<'q>,
            ) -> Result<(), $crate::BoxDynError> {
                V::$bind(value, args)
            }
            fn bind_key<'q, K: $crate::Key>(
                id: &'q K::Ref,
                args: &mut <Self as sqlx::Database>::Arguments<'q>,
            ) -> Result<(), $crate::BoxDynError> {
                <K::Ref as $crate::KeyRef>::$bind(id, args)
            }
            fn decode_value<V: $crate::FieldType>(
                row: &<Self as sqlx::Database>::Row,
                index: usize,
            ) -> Result<V, sqlx::Error> {
                V::$decode(row, index)
            }
            fn fetch_optional<'c>(
                conn: &'c mut <Self as sqlx::Database>::Connection,
                sql: &'c str,
                args: <Self as sqlx::Database>::Arguments<'c>,
            ) -> impl std::future::Future<
                Output = Result<Option<<Self as sqlx::Database>::Row>, sqlx::Error>,
            > + Send
            + 'c {
                sqlx::query_with(sql, args).fetch_optional(conn)
            }
            fn fetch_all<'c, O, F>(
                conn: &'c mut <Self as sqlx::Database>::Connection,
                sql: &'c str,
                args: <Self as sqlx::Database>::Arguments<'c>,
                decode: F,
            ) -> impl std::future::Future<Output = Result<Vec<O>, sqlx::Error>> + Send + 'c
            where
                O: Send + Unpin + 'c,
                F: Fn(&<Self as sqlx::Database>::Row) -> $crate::Result<O> + Send + 'c,
            {
                sqlx::query_with(sql, args)
                    .try_map(move |row: <Self as sqlx::Database>::Row| {
                        decode(&row).map_err(|e| sqlx::Error::Decode(Box::new(e)))
                    })
                    .fetch_all(conn)
            }
            fn execute<'c>(
                conn: &'c mut <Self as sqlx::Database>::Connection,
                sql: &'c str,
                args: <Self as sqlx::Database>::Arguments<'c>,
            ) -> impl std::future::Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
                let query = sqlx::query_with(sql, args);
                async move { Ok(query.execute(conn).await?.rows_affected()) }
            }
        }
    };
}
pub(crate) use backend;

/// Arguments being bound for one statement; the first encode error is kept and reported.
pub(crate) struct Args<'q, DB: Backend> {
    args: DB::Arguments<'q>,
    error: Option<BoxDynError>,
}

impl<'q, DB: Backend> Args<'q, DB> {
    pub(crate) fn new() -> Self {
        Args {
            args: Default::default(),
            error: None,
        }
    }

    pub(crate) fn finish(self, entity: &str) -> Result<DB::Arguments<'q>> {
        match self.error {
            None => Ok(self.args),
            Some(source) => Err(Error::Encode {
                entity: entity.to_owned(),
                source,
            }),
        }
    }

    /// Bind an id in the form stores take it.
    fn bind_key<K: Key>(&mut self, id: &'q K::Ref) {
        if self.error.is_none()
            && let Err(e) = DB::bind_key::<K>(id, &mut self.args)
        {
            self.error = Some(e);
        }
    }

    fn push<V: FieldType>(&mut self, value: Option<&'q V>) {
        if self.error.is_none()
            && let Err(e) = DB::bind_value(value, &mut self.args)
        {
            self.error = Some(e);
        }
    }
}

impl<'q, DB: Backend> Binder<'q> for Args<'q, DB> {
    fn bind<V: FieldType>(&mut self, value: &'q V) {
        self.push(Some(value));
    }

    fn bind_patch<V: FieldType>(&mut self, value: Option<&'q V>) {
        self.push(Some(if value.is_some() { &true } else { &false }));
        self.push(value);
    }
}

/// Reads one row's columns by position.
pub(crate) struct Decoder<'r, DB: Backend> {
    pub(crate) row: &'r DB::Row,
    pub(crate) entity: &'static str,
}

impl<DB: Backend> RowDecoder for Decoder<'_, DB> {
    fn get<V: FieldType>(&self, index: usize, column: &'static str) -> Result<V> {
        DB::decode_value(self.row, index).map_err(|e| Error::Decode {
            entity: self.entity.to_owned(),
            column: column.to_owned(),
            source: match e {
                sqlx::Error::ColumnDecode { source, .. } => source,
                other => Box::new(other),
            },
        })
    }
}

fn decode<DB: Backend, T: ManifestEntity>(row: &DB::Row) -> Result<T> {
    T::decode(&Decoder::<DB> {
        row,
        entity: T::ENTITY,
    })
}

/// The `LIMIT` a [`List::Page`] binds (0 for the others, which bind none).
fn list_limit<Id>(list: &List<Id>) -> i64 {
    match list {
        List::Page { limit, .. } => i64::from(*limit),
        _ => 0,
    }
}

/// Map a driver error; a unique violation on insert is a duplicate id, and our own decode
/// error, carried through sqlx by `fetch_all`, comes back out as it was.
pub(crate) fn db_error(entity: &str, id: Option<&dyn fmt::Display>, e: sqlx::Error) -> Error {
    let e = match e {
        sqlx::Error::Decode(source) => match source.downcast::<Error>() {
            Ok(ours) => return *ours,
            Err(source) => sqlx::Error::Decode(source),
        },
        e => e,
    };
    match (&e, id) {
        (sqlx::Error::Database(db), Some(id)) if db.is_unique_violation() => Error::DuplicateId {
            entity: entity.to_owned(),
            id: id.to_string(),
        },
        _ => Error::Database(Box::new(e)),
    }
}

/// `table`, quoted, if it can be the name of a table `owner` (`(idempotency)`, `(audit)`)
/// names at run time: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes, not `sqlite_..`
/// ([`Error::InvalidName`] otherwise).
pub(crate) fn quoted_table(owner: &str, table: &str) -> Result<String> {
    match manifest_naming::check_sql_name(manifest_naming::NameKind::Table, table) {
        Ok(()) => Ok(format!("\"{table}\"")),
        Err(e) => Err(Error::InvalidName {
            entity: owner.to_owned(),
            name: table.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// `T`'s store on a SQL database, bound to one tenant: every statement is filtered by
/// `(tenant, id)` or by tenant. Made by [`SqlDb::store`], [`SqlSession::store`] or
/// [`SqlTransaction::store`].
pub struct SqlStore<DB: Backend, T: ManifestEntity> {
    source: Source<DB>,
    tenant: T::Tenant,
    ids: IdGenerator,
    _row: PhantomData<fn() -> T>,
}

impl<DB: Backend, T: ManifestEntity> Clone for SqlStore<DB, T> {
    fn clone(&self) -> Self {
        SqlStore::new(self.source.clone(), self.tenant.clone(), self.ids.clone())
    }
}

impl<DB: Backend, T: ManifestEntity> fmt::Debug for SqlStore<DB, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &<DB as Database>::NAME)
            .field("entity", &T::ENTITY)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend, T: ManifestEntity> SqlStore<DB, T> {
    fn new(source: Source<DB>, tenant: T::Tenant, ids: IdGenerator) -> Self {
        SqlStore {
            source,
            tenant,
            ids,
            _row: PhantomData,
        }
    }

    /// Arguments starting with `(tenant, id)`.
    fn key_args<'q>(&'q self, id: &'q IdRef<T>) -> Args<'q, DB> {
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        args.bind_key::<T::Id>(id);
        args
    }

    fn error(&self, e: sqlx::Error) -> Error {
        db_error(T::ENTITY, None, e)
    }
}

#[async_trait]
impl<DB: Backend, T: ManifestEntity> Store<T> for SqlStore<DB, T> {
    fn entity(&self) -> &str {
        T::ENTITY
    }

    fn tenant(&self) -> &T::Tenant {
        &self.tenant
    }

    fn in_transaction(&self, tx: &crate::Tx) -> Option<std::sync::Arc<dyn Store<T>>>
    where
        T: 'static,
    {
        Some(std::sync::Arc::new(SqlStore::<DB, T>::new(
            self.source.in_transaction(tx)?,
            self.tenant.clone(),
            self.ids.clone(),
        )))
    }

    async fn get_all(&self) -> Result<Vec<T>> {
        self.list(List::ById).await
    }

    async fn list(&self, list: List<T::Id>) -> Result<Vec<T>> {
        let statements = DB::statements::<T>();
        let mut guard = self.source.acquire().await?;
        let (start, limit) = (<T::Id as Key>::unset(), list_limit(&list));
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        let sql = match &list {
            List::All => statements.select_all_unordered,
            List::ById => statements.select_all,
            List::Page { after, .. } => {
                args.bind(after.as_ref().unwrap_or(&start));
                args.bind(&limit);
                statements.select_page
            }
        };
        let args = args.finish(T::ENTITY)?;
        DB::fetch_all(guard.conn()?, sql, args, decode::<DB, T>)
            .await
            .map_err(|e| self.error(e))
    }

    /// `WHERE tenant = $1 AND <column> = $2 ORDER BY id`, on the index
    /// [`SqlDb::create_index`] makes. `field` names a field or its column; the column must
    /// hold text (`String`), a number (`i16`/`i32`/`i64`/`f32`/`f64`) or a `Uuid`, and the
    /// value be a JSON string or number of the same kind. Any other field or value is
    /// [`Error::Unsupported`] (a caller scans then). A number is compared as the column's type
    /// (PostgreSQL rounds `1.5` for an integer column), so a caller comparing exactly may get
    /// rows it filters out, never fewer rows than match.
    async fn find_by(&self, field: &str, value: &serde_json::Value) -> Result<Vec<T>> {
        let unsupported = || Error::Unsupported {
            entity: T::ENTITY.to_owned(),
            operation: "find_by",
        };
        let column = T::COLUMNS
            .iter()
            .find(|c| c.field == field || c.name == field)
            .ok_or_else(unsupported)?;
        let id = T::COLUMNS
            .iter()
            .find(|c| c.role == crate::entity::ColumnRole::Id)
            .ok_or_else(unsupported)?;
        let postgres = <DB as Database>::NAME == "PostgreSQL";
        let mut guard = self.source.acquire().await?;
        let (text, number, uuid);
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        let cast = match (column.postgres_type, value) {
            ("TEXT", serde_json::Value::String(s)) => {
                text = s.clone();
                args.bind(&text);
                None
            }
            (
                "SMALLINT" | "INTEGER" | "BIGINT" | "REAL" | "DOUBLE PRECISION",
                serde_json::Value::Number(n),
            ) => {
                number = n.as_f64().unwrap_or(f64::NAN);
                args.bind(&number);
                Some(column.postgres_type)
            }
            ("UUID", serde_json::Value::String(s)) => match uuid::Uuid::parse_str(s) {
                Ok(parsed) => {
                    uuid = parsed;
                    args.bind(&uuid);
                    None
                }
                // No UUID column holds a string that is not one.
                Err(_) => return Ok(Vec::new()),
            },
            _ => return Err(unsupported()),
        };
        let param = match (postgres, cast) {
            (false, _) => "?".to_owned(),
            (true, None) => "$2".to_owned(),
            (true, Some(ty)) => format!("CAST($2 AS {ty})"),
        };
        // Built from the derive's constant statement; the column comes from `T::COLUMNS`.
        let sql = format!(
            "{} AND \"{}\" = {param} ORDER BY \"{}\"",
            DB::statements::<T>().select_all_unordered,
            column.name,
            id.name
        );
        let args = args.finish(T::ENTITY)?;
        DB::fetch_all(guard.conn()?, &sql, args, decode::<DB, T>)
            .await
            .map_err(|e| self.error(e))
    }

    async fn get_by_id(&self, id: &IdRef<T>) -> Result<Option<T>> {
        let mut guard = self.source.acquire().await?;
        let args = self.key_args(id).finish(T::ENTITY)?;
        let row = DB::fetch_optional(guard.conn()?, DB::statements::<T>().select_by_id, args)
            .await
            .map_err(|e| self.error(e))?;
        row.as_ref().map(decode::<DB, T>).transpose()
    }

    async fn create(&self, mut data: T) -> Result<T> {
        prepare_create(T::ENTITY, &self.tenant, &self.ids, &mut data)?;
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        data.bind_row(&mut args);
        let args = args.finish(T::ENTITY)?;
        let row = DB::fetch_optional(guard.conn()?, DB::statements::<T>().insert, args)
            .await
            .map_err(|e| db_error(T::ENTITY, Some(data.id()), e))?;
        match row {
            Some(row) => decode::<DB, T>(&row),
            // INSERT ... RETURNING always returns the row it inserted.
            None => Err(Error::Database(
                format!("{} returned no row for an insert", <DB as Database>::NAME).into(),
            )),
        }
    }

    async fn update(&self, id: &IdRef<T>, patch: T::Patch) -> Result<Option<T>> {
        T::check_patch(&patch, T::ENTITY)?;
        let expected = expected_version::<T>(T::ENTITY, id, T::VERSIONED, &patch)?;
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        T::bind_patch(&patch, &mut args);
        args.bind(&self.tenant);
        args.bind_key::<T::Id>(id);
        if let Some(expected) = &expected {
            args.bind(expected);
        }
        let args = args.finish(T::ENTITY)?;
        let statements = DB::statements::<T>();
        let row = DB::fetch_optional(guard.conn()?, statements.update, args)
            .await
            .map_err(|e| self.error(e))?;
        if let Some(row) = row {
            return decode::<DB, T>(&row).map(Some);
        }
        let Some(expected) = expected else {
            return Ok(None);
        };
        // No row matched: either there is none, or its version is not the expected one. Only
        // this failure path reads the version, on the same connection.
        let args = self.key_args(id).finish(T::ENTITY)?;
        let row = DB::fetch_optional(guard.conn()?, statements.select_version, args)
            .await
            .map_err(|e| self.error(e))?;
        match row {
            None => Ok(None),
            Some(row) => Err(Error::VersionConflict {
                entity: T::ENTITY.to_owned(),
                id: id.to_string(),
                expected,
                actual: Decoder::<DB> {
                    row: &row,
                    entity: T::ENTITY,
                }
                .get::<i64>(0, "version")?,
            }),
        }
    }

    /// For a versioned entity: `update`, whose statement checks the version the patch names
    /// (which must be `expected`'s); a version conflict is [`Conditional::Changed`]. An
    /// unversioned entity is [`Error::Unsupported`].
    async fn update_if(
        &self,
        id: &IdRef<T>,
        expected: &T,
        patch: T::Patch,
    ) -> Result<Conditional<T>> {
        conditional_version(T::ENTITY, id, expected, &patch)?;
        match self.update(id, patch).await {
            Ok(Some(row)) => Ok(Conditional::Updated(row)),
            Ok(None) => Ok(Conditional::Missing),
            Err(Error::VersionConflict { .. }) => Ok(Conditional::Changed),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, id: &IdRef<T>) -> Result<bool> {
        let mut guard = self.source.acquire().await?;
        let args = self.key_args(id).finish(T::ENTITY)?;
        let n = DB::execute(guard.conn()?, DB::statements::<T>().delete, args)
            .await
            .map_err(|e| self.error(e))?;
        Ok(n > 0)
    }

    async fn clear(&self) -> Result<u64> {
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        let args = args.finish(T::ENTITY)?;
        DB::execute(guard.conn()?, DB::statements::<T>().clear, args)
            .await
            .map_err(|e| self.error(e))
    }
}
