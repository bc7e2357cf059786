//! The SQL stores: one generic implementation over sqlx, instantiated for SQLite and PostgreSQL.
//!
//! Every statement is a compile-time constant from the derive ([`Statements`]); this module only
//! binds values, runs one statement per operation and decodes rows. Binding borrows text and
//! bytes from the row where the driver allows, and sqlx prepares each statement once per
//! connection and caches it.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::{Store, expected_version, prepare_create};
use crate::entity::{Column, ColumnRole, ManifestEntity, Statements};
use crate::error::{BoxDynError, Error, Result};
use crate::id::IdGenerator;
use crate::types::{Binder, FieldType, RowDecoder};

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
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
    fn decode_value<V: FieldType>(row: &Self::Row, index: usize) -> Result<V, sqlx::Error>;
    #[doc(hidden)]
    fn fetch_optional<'c>(
        conn: &'c mut Self::Connection,
        sql: &'static str,
        args: Self::Arguments<'c>,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + 'c;
    #[doc(hidden)]
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        sql: &'static str,
        args: Self::Arguments<'c>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'c;
    #[doc(hidden)]
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        args: Self::Arguments<'c>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c;
}

/// Implements [`Backend`] for one sqlx database; the two backends differ only in these names.
macro_rules! backend {
    ($db:ty, $suffix:literal, $stmts:ident, $col_type:ident, $bind:ident, $decode:ident) => {
        impl $crate::store::sql::sealed::Sealed for $db {}

        impl $crate::store::sql::Backend for $db {
            const TABLE_SUFFIX: &'static str = $suffix;

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
            fn decode_value<V: $crate::FieldType>(
                row: &<Self as sqlx::Database>::Row,
                index: usize,
            ) -> Result<V, sqlx::Error> {
                V::$decode(row, index)
            }
            fn fetch_optional<'c>(
                conn: &'c mut <Self as sqlx::Database>::Connection,
                sql: &'static str,
                args: <Self as sqlx::Database>::Arguments<'c>,
            ) -> impl std::future::Future<
                Output = Result<Option<<Self as sqlx::Database>::Row>, sqlx::Error>,
            > + Send
            + 'c {
                sqlx::query_with(sql, args).fetch_optional(conn)
            }
            fn fetch_all<'c>(
                conn: &'c mut <Self as sqlx::Database>::Connection,
                sql: &'static str,
                args: <Self as sqlx::Database>::Arguments<'c>,
            ) -> impl std::future::Future<
                Output = Result<Vec<<Self as sqlx::Database>::Row>, sqlx::Error>,
            > + Send
            + 'c {
                sqlx::query_with(sql, args).fetch_all(conn)
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
struct Args<'q, DB: Backend> {
    args: DB::Arguments<'q>,
    error: Option<BoxDynError>,
}

impl<'q, DB: Backend> Args<'q, DB> {
    fn new() -> Self {
        Args {
            args: Default::default(),
            error: None,
        }
    }

    fn finish(self, entity: &str) -> Result<DB::Arguments<'q>> {
        match self.error {
            None => Ok(self.args),
            Some(source) => Err(Error::Encode {
                entity: entity.to_owned(),
                source,
            }),
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
struct Decoder<'r, DB: Backend> {
    row: &'r DB::Row,
    entity: &'static str,
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

/// Map a driver error; a unique violation on insert is a duplicate id.
fn db_error(entity: &str, id: Option<&dyn fmt::Display>, e: sqlx::Error) -> Error {
    match (&e, id) {
        (sqlx::Error::Database(db), Some(id)) if db.is_unique_violation() => Error::DuplicateId {
            entity: entity.to_owned(),
            id: id.to_string(),
        },
        _ => Error::Database(Box::new(e)),
    }
}

/// What a held connection or transaction is in.
enum Held<DB: Database> {
    Connection(PoolConnection<DB>),
    Transaction(Transaction<'static, DB>),
    Closed,
}

/// Where a store gets its connection: the pool, per operation, or one held connection or
/// transaction shared by every store made from it.
enum Source<DB: Database> {
    Pool(Pool<DB>),
    Held(Arc<Mutex<Held<DB>>>),
}

impl<DB: Database> Clone for Source<DB> {
    fn clone(&self) -> Self {
        match self {
            Source::Pool(pool) => Source::Pool(pool.clone()),
            Source::Held(held) => Source::Held(held.clone()),
        }
    }
}

enum Guard<'a, DB: Database> {
    Pooled(PoolConnection<DB>),
    Held(MutexGuard<'a, Held<DB>>),
}

impl<DB: Database> Source<DB> {
    async fn acquire(&self) -> Result<Guard<'_, DB>> {
        Ok(match self {
            Source::Pool(pool) => Guard::Pooled(
                pool.acquire()
                    .await
                    .map_err(|e| Error::Database(Box::new(e)))?,
            ),
            Source::Held(held) => Guard::Held(held.lock().await),
        })
    }
}

impl<DB: Database> Guard<'_, DB> {
    fn conn(&mut self) -> Result<&mut DB::Connection> {
        match self {
            Guard::Pooled(conn) => Ok(&mut **conn),
            Guard::Held(held) => match &mut **held {
                Held::Connection(conn) => Ok(&mut **conn),
                Held::Transaction(tx) => Ok(&mut **tx),
                Held::Closed => Err(Error::Closed),
            },
        }
    }
}

/// One application's database: a sqlx pool shared by every entity's store, and the id
/// generator those stores use. Cloning is cheap (the pool is reference-counted).
pub struct SqlDb<DB: Backend> {
    pool: Pool<DB>,
    ids: IdGenerator,
}

impl<DB: Backend> Clone for SqlDb<DB> {
    fn clone(&self) -> Self {
        SqlDb {
            pool: self.pool.clone(),
            ids: self.ids.clone(),
        }
    }
}

impl<DB: Backend> fmt::Debug for SqlDb<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlDb")
            .field("backend", &<DB as Database>::NAME)
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend> SqlDb<DB> {
    /// Use an existing pool.
    pub fn from_pool(pool: Pool<DB>) -> Self {
        SqlDb {
            pool,
            ids: IdGenerator::default(),
        }
    }

    /// Use `ids` for rows created without an id.
    pub fn with_ids(mut self, ids: IdGenerator) -> Self {
        self.ids = ids;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The `CREATE TABLE IF NOT EXISTS` statement for `T`, with `PRIMARY KEY (tenant, id)`.
    pub fn create_table_sql<T: ManifestEntity>() -> String {
        let mut sql = format!("CREATE TABLE IF NOT EXISTS \"{}\" (", T::TABLE);
        for column in T::COLUMNS {
            let null = if column.nullable { "" } else { " NOT NULL" };
            sql += &format!("\"{}\" {}{null}, ", column.name, DB::column_type(column));
        }
        let key = |role| T::column(role).map_or("", |c| c.name);
        sql += &format!(
            "PRIMARY KEY (\"{}\", \"{}\")){}",
            key(ColumnRole::Tenant),
            key(ColumnRole::Id),
            DB::TABLE_SUFFIX
        );
        sql
    }

    /// Create `T`'s table if it does not exist yet; safe to run again.
    pub async fn create_table<T: ManifestEntity>(&self) -> Result<()> {
        let sql = Self::create_table_sql::<T>();
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::Database(Box::new(e)))?;
        DB::execute(&mut conn, &sql, Default::default())
            .await
            .map_err(|e| Error::Database(Box::new(e)))?;
        Ok(())
    }

    /// `T`'s store for `tenant`; each operation takes a connection from the pool.
    pub fn store<T: ManifestEntity>(&self, tenant: impl Into<T::Tenant>) -> SqlStore<DB, T> {
        SqlStore::new(
            Source::Pool(self.pool.clone()),
            tenant.into(),
            self.ids.clone(),
        )
    }

    /// Hold one connection for a unit of work: stores made from the session run every statement
    /// on it, saving the pool's per-statement acquire and release.
    pub async fn acquire(&self) -> Result<SqlSession<DB>> {
        let conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::Database(Box::new(e)))?;
        Ok(SqlSession {
            held: Arc::new(Mutex::new(Held::Connection(conn))),
            ids: self.ids.clone(),
        })
    }

    /// Begin a transaction: every store made from it, for any entity and tenant, writes in it,
    /// and [`commit`](SqlTransaction::commit) or [`rollback`](SqlTransaction::rollback) (or
    /// dropping it) ends them all together.
    pub async fn begin(&self) -> Result<SqlTransaction<DB>> {
        let tx = self
            .pool
            .begin()
            .await
            .map_err(|e| Error::Database(Box::new(e)))?;
        Ok(SqlTransaction {
            held: Arc::new(Mutex::new(Held::Transaction(tx))),
            ids: self.ids.clone(),
        })
    }
}

/// One connection held for a unit of work. See [`SqlDb::acquire`].
pub struct SqlSession<DB: Backend> {
    held: Arc<Mutex<Held<DB>>>,
    ids: IdGenerator,
}

impl<DB: Backend> SqlSession<DB> {
    /// `T`'s store for `tenant` on this connection.
    pub fn store<T: ManifestEntity>(&self, tenant: impl Into<T::Tenant>) -> SqlStore<DB, T> {
        SqlStore::new(
            Source::Held(self.held.clone()),
            tenant.into(),
            self.ids.clone(),
        )
    }
}

impl<DB: Backend> fmt::Debug for SqlSession<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSession")
            .field("backend", &<DB as Database>::NAME)
            .finish_non_exhaustive()
    }
}

/// A database transaction shared by the stores made from it. See [`SqlDb::begin`].
///
/// Dropped without [`commit`](Self::commit), it rolls back. After it ends, its stores fail
/// with [`Error::Closed`]. A failed statement inside a PostgreSQL transaction (a duplicate id,
/// say) aborts the transaction: roll it back.
pub struct SqlTransaction<DB: Backend> {
    held: Arc<Mutex<Held<DB>>>,
    ids: IdGenerator,
}

impl<DB: Backend> SqlTransaction<DB> {
    /// `T`'s store for `tenant` inside this transaction.
    pub fn store<T: ManifestEntity>(&self, tenant: impl Into<T::Tenant>) -> SqlStore<DB, T> {
        SqlStore::new(
            Source::Held(self.held.clone()),
            tenant.into(),
            self.ids.clone(),
        )
    }

    async fn take(&self) -> Result<Transaction<'static, DB>> {
        match std::mem::replace(&mut *self.held.lock().await, Held::Closed) {
            Held::Transaction(tx) => Ok(tx),
            _ => Err(Error::Closed),
        }
    }

    /// Commit every write made through this transaction's stores.
    pub async fn commit(self) -> Result<()> {
        let tx = self.take().await?;
        tx.commit().await.map_err(|e| Error::Database(Box::new(e)))
    }

    /// Undo every write made through this transaction's stores.
    pub async fn rollback(self) -> Result<()> {
        let tx = self.take().await?;
        tx.rollback()
            .await
            .map_err(|e| Error::Database(Box::new(e)))
    }
}

impl<DB: Backend> fmt::Debug for SqlTransaction<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlTransaction")
            .field("backend", &<DB as Database>::NAME)
            .finish_non_exhaustive()
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
    fn key_args<'q>(&'q self, id: &'q T::Id) -> Args<'q, DB> {
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        args.bind(id);
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

    async fn get_all(&self) -> Result<Vec<T>> {
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        let args = args.finish(T::ENTITY)?;
        let rows = DB::fetch_all(guard.conn()?, DB::statements::<T>().select_all, args)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(decode::<DB, T>).collect()
    }

    async fn get_by_id(&self, id: &T::Id) -> Result<Option<T>> {
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

    async fn update(&self, id: &T::Id, patch: T::Patch) -> Result<Option<T>> {
        let expected = expected_version::<T>(T::ENTITY, id, T::VERSIONED, &patch)?;
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        T::bind_patch(&patch, &mut args);
        args.bind(&self.tenant);
        args.bind(id);
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

    async fn delete(&self, id: &T::Id) -> Result<bool> {
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
