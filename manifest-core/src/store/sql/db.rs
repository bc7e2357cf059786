//! Where stores get their connections: the application's [`SqlDb`] (a pool), a held
//! [`SqlSession`], or a [`SqlTransaction`] shared by several stores.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::{Database, Pool, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::document::{self, DocumentCache, DocumentStore};
use super::held::{Shared, SqlSession, SqlTransaction};
use super::{Args, Backend, GatePass, SqlStore, WriteGate, db_error};
use crate::entity::{ColumnRole, ManifestEntity};
use crate::error::{Error, Result};
use crate::id::IdGenerator;
use crate::tx::Tx;
use crate::types::Binder;

/// The pool options of [`SqliteDb::open`](crate::SqliteDb::open),
/// [`SqliteDb::connect`](crate::SqliteDb::connect) and [`PgDb::connect`](crate::PgDb::connect):
/// no ping before each acquire (sqlx's `test_before_acquire`, a round trip per operation; a
/// connection that broke fails its statement instead, and sqlx already checks each connection
/// as it goes back to the pool), at most 10 connections, a 5 s acquire timeout (a saturated
/// pool fails fast rather than queue requests for sqlx's 30 s), connections closed after 10
/// minutes idle and 30 minutes of age.
pub(super) fn pool_options<DB: Database>() -> PoolOptions<DB> {
    PoolOptions::new()
        .test_before_acquire(false)
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(10 * 60))
        .max_lifetime(Duration::from_secs(30 * 60))
}

/// What a held connection or transaction is in.
pub(crate) enum Held<DB: Database> {
    Connection(PoolConnection<DB>),
    /// A transaction, and the database's write gate while it lasts.
    Transaction(Transaction<'static, DB>, GatePass),
    Closed,
}

/// Which [`SqlDb`] (and its clones) a store, session or transaction comes from: stores join
/// a [`Tx`] of their own database only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbId(u64);

impl DbId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        DbId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Where a store gets its connection: the pool, per operation, or one held connection or
/// transaction shared by every store made from it; and which database that is.
pub(crate) enum Source<DB: Database> {
    Pool(Pool<DB>, DbId),
    Held(Arc<Mutex<Held<DB>>>, DbId),
}

impl<DB: Database> Clone for Source<DB> {
    fn clone(&self) -> Self {
        match self {
            Source::Pool(pool, db) => Source::Pool(pool.clone(), *db),
            Source::Held(held, db) => Source::Held(held.clone(), *db),
        }
    }
}

pub(crate) enum Guard<'a, DB: Database> {
    Pooled(PoolConnection<DB>),
    Held(MutexGuard<'a, Held<DB>>),
}

impl<DB: Backend> Source<DB> {
    pub(crate) async fn acquire(&self) -> Result<Guard<'_, DB>> {
        Ok(match self {
            Source::Pool(pool, _) => Guard::Pooled(pool.acquire().await.map_err(Error::database)?),
            Source::Held(held, _) => Guard::Held(held.lock().await),
        })
    }

    /// The connection of `tx` when it is given (a transaction of this source's database:
    /// [`Error::ForeignTransaction`] otherwise), else this source's.
    #[allow(dead_code)] // used by the write-path stores
    pub(crate) async fn acquire_in<'a>(&'a self, tx: Option<&'a Tx>) -> Result<Guard<'a, DB>> {
        match tx {
            None => self.acquire().await,
            Some(tx) => Ok(Guard::Held(self.join(tx)?.lock().await)),
        }
    }

    /// The held transaction of `tx`, if `tx` is a transaction of this source's database.
    pub(crate) fn join<'a>(&self, tx: &'a Tx) -> Result<&'a Arc<Mutex<Held<DB>>>> {
        match tx.get::<Shared<DB>>() {
            Some(shared) if shared.db == self.db() => Ok(&shared.held),
            _ => Err(Error::ForeignTransaction),
        }
    }

    /// This source's database.
    pub(crate) fn db(&self) -> DbId {
        match self {
            Source::Pool(_, db) | Source::Held(_, db) => *db,
        }
    }

    /// The source of `tx`'s stores, if `tx` is a transaction of this source's database.
    pub(crate) fn in_transaction(&self, tx: &Tx) -> Option<Source<DB>> {
        Some(Source::Held(self.join(tx).ok()?.clone(), self.db()))
    }
}

impl<DB: Database> Guard<'_, DB> {
    pub(crate) fn conn(&mut self) -> Result<&mut DB::Connection> {
        match self {
            Guard::Pooled(conn) => Ok(&mut **conn),
            Guard::Held(held) => match &mut **held {
                Held::Connection(conn) => Ok(&mut **conn),
                Held::Transaction(tx, _) => Ok(&mut **tx),
                Held::Closed => Err(Error::Closed),
            },
        }
    }
}

/// One application's database: a sqlx pool shared by every entity's store, and the id
/// generator those stores use. Cloning is cheap (the pool is reference-counted).
pub struct SqlDb<DB: Backend> {
    pool: Pool<DB>,
    gate: WriteGate,
    pub(super) db: DbId,
    pub(super) ids: IdGenerator,
    pub(super) documents: DocumentCache,
}

impl<DB: Backend> Clone for SqlDb<DB> {
    fn clone(&self) -> Self {
        SqlDb {
            pool: self.pool.clone(),
            gate: self.gate.clone(),
            db: self.db,
            ids: self.ids.clone(),
            documents: self.documents.clone(),
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
    /// Use an existing pool: full control of the pool and connection options (the constructors
    /// of each backend choose them for a production service, as they document).
    pub fn from_pool(pool: Pool<DB>) -> Self {
        SqlDb {
            pool,
            gate: WriteGate::new(DB::ONE_WRITER),
            db: DbId::next(),
            ids: IdGenerator::default(),
            documents: DocumentCache::default(),
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

    /// The write gate its transactions take (see [`WriteGate`]).
    pub(crate) fn gate(&self) -> &WriteGate {
        &self.gate
    }

    /// The source of a store of this database that takes a connection from the pool per
    /// operation (the write-path stores: outbox, idempotency, audit).
    pub(crate) fn source(&self) -> Source<DB> {
        Source::Pool(self.pool.clone(), self.db)
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

    /// Create `T`'s table if it does not exist yet; safe to run again. An existing table must
    /// have `T`'s columns, no more and no fewer, in any order ([`Error::TableShape`]
    /// otherwise: another entity's table, say); their types are not compared.
    pub async fn create_table<T: ManifestEntity>(&self) -> Result<()> {
        let sql = Self::create_table_sql::<T>();
        let mut conn = self.pool.acquire().await.map_err(Error::database)?;
        let columns: Vec<&str> = T::COLUMNS.iter().map(|c| c.name).collect();
        create_checked::<DB>(&mut conn, &sql, &[], T::ENTITY, T::TABLE, &columns).await
    }

    /// Create, if it does not exist yet, the index `(tenant, <column>, id)` of `T`'s table that
    /// [`Store::find_by`](crate::Store::find_by) on `field` (a field or its column) uses, as a
    /// runtime's relationships do; safe to run again. A field `T` does not store is
    /// [`Error::InvalidName`].
    pub async fn create_index<T: ManifestEntity>(&self, field: &str) -> Result<()> {
        let column = |role: crate::entity::ColumnRole| {
            T::COLUMNS.iter().find(|c| c.role == role).map(|c| c.name)
        };
        let (Some(tenant), Some(id)) = (
            column(crate::entity::ColumnRole::Tenant),
            column(crate::entity::ColumnRole::Id),
        ) else {
            return Err(Error::InvalidName {
                entity: T::ENTITY.to_owned(),
                name: T::TABLE.to_owned(),
                reason: "an index needs the table's tenant and id columns".to_owned(),
            });
        };
        let Some(target) = T::COLUMNS
            .iter()
            .find(|c| c.field == field || c.name == field)
        else {
            return Err(Error::InvalidName {
                entity: T::ENTITY.to_owned(),
                name: field.to_owned(),
                reason: "no stored field or column of this name".to_owned(),
            });
        };
        let mut index = format!("{}__{}", T::TABLE, target.name);
        index.truncate(63);
        let sql = format!(
            "CREATE INDEX IF NOT EXISTS \"{index}\" ON \"{}\" (\"{tenant}\", \"{}\", \"{id}\")",
            T::TABLE,
            target.name
        );
        let mut conn = self.pool.acquire().await.map_err(Error::database)?;
        DB::execute(&mut conn, &sql, Default::default())
            .await
            .map_err(Error::database)?;
        Ok(())
    }

    /// `T`'s store for `tenant`; each operation takes a connection from the pool.
    pub fn store<T: ManifestEntity>(&self, tenant: impl Into<T::Tenant>) -> SqlStore<DB, T> {
        SqlStore::new(
            Source::Pool(self.pool.clone(), self.db),
            tenant.into(),
            self.ids.clone(),
        )
    }

    /// Create the [`DocumentStore`] table of the entity called `entity` if it does not exist
    /// yet; safe to run again. The table is the entity name in snake_case (`PrepTask` to
    /// `prep_task`), which only a name in PascalCase has, so that no two entities share it
    /// (`order_item` and `ORDERItem` would share `OrderItem`'s): any other name, or one that
    /// cannot be a table name, is [`Error::InvalidName`]. An existing table must have the
    /// document columns `tenant_id`, `id` and `data`, no more and no fewer
    /// ([`Error::TableShape`] otherwise: a typed entity's table, say).
    pub async fn create_document_table(&self, entity: &str) -> Result<()> {
        self.create_document_table_at(entity, None).await
    }

    /// [`create_document_table`](Self::create_document_table) with the table named `table`.
    pub async fn create_document_table_in(&self, entity: &str, table: &str) -> Result<()> {
        self.create_document_table_at(entity, Some(table)).await
    }

    /// The table of the entity called `entity`'s documents (see
    /// [`create_document_table`](Self::create_document_table)), from the statements cache.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn document_table(&self, entity: &str, table: Option<&str>) -> Result<String> {
        Ok(self.documents.get::<DB>(entity, table)?.table().to_owned())
    }

    async fn create_document_table_at(&self, entity: &str, table: Option<&str>) -> Result<()> {
        let sql = self.documents.get::<DB>(entity, table)?;
        let mut conn = self.pool.acquire().await.map_err(Error::database)?;
        let (entity, table) = (sql.entity(), sql.table());
        create_checked::<DB>(
            &mut conn,
            sql.create_table(),
            &[],
            entity,
            table,
            document::COLUMNS,
        )
        .await
    }

    /// Create, if it does not exist yet, the index on `(tenant_id, data.<field>)` of the
    /// entity's document table, which [`Store::find_by`](crate::Store::find_by) on `field`
    /// uses (a runtime creates one for each foreign key of a relationship); safe to run
    /// again. `field` must be an ASCII identifier ([`Error::InvalidName`] otherwise).
    pub async fn create_document_index(&self, entity: &str, field: &str) -> Result<()> {
        let sql = self.documents.get::<DB>(entity, None)?;
        let statement = sql.create_index(field)?;
        let mut conn = self.pool.acquire().await.map_err(Error::database)?;
        DB::execute(&mut conn, &statement, Default::default())
            .await
            .map_err(Error::database)?;
        Ok(())
    }

    /// The [`DocumentStore`] of the entity called `entity` (in the table
    /// [`create_document_table`](Self::create_document_table) makes) for `tenant`; each
    /// operation takes a connection from the pool. The statements are built on the first call
    /// for an entity and shared by every later store of it.
    pub fn document_store(
        &self,
        entity: &str,
        tenant: impl Into<String>,
    ) -> Result<DocumentStore<DB>> {
        self.document_store_at(entity, None, tenant.into())
    }

    /// [`document_store`](Self::document_store) with the table named `table`.
    pub fn document_store_in(
        &self,
        entity: &str,
        table: &str,
        tenant: impl Into<String>,
    ) -> Result<DocumentStore<DB>> {
        self.document_store_at(entity, Some(table), tenant.into())
    }

    fn document_store_at(
        &self,
        entity: &str,
        table: Option<&str>,
        tenant: String,
    ) -> Result<DocumentStore<DB>> {
        Ok(DocumentStore::new(
            Source::Pool(self.pool.clone(), self.db),
            self.documents.get::<DB>(entity, table)?,
            tenant,
            self.ids.clone(),
        ))
    }

    /// Hold one connection for a unit of work: stores made from the session run every statement
    /// on it, saving the pool's per-statement acquire and release.
    pub async fn acquire(&self) -> Result<SqlSession<DB>> {
        let conn = self.pool.acquire().await.map_err(Error::database)?;
        Ok(SqlSession(Shared::new(Held::Connection(conn), self)))
    }

    /// Begin a transaction: every store made from it, for any entity and tenant, writes in it,
    /// and [`commit`](SqlTransaction::commit) or [`rollback`](SqlTransaction::rollback) (or
    /// dropping it) ends them all together.
    ///
    /// On SQLite it is `BEGIN IMMEDIATE`: it takes the database's write lock at once (waiting
    /// for it up to the busy timeout), so that a transaction that reads and then writes
    /// cannot fail half-way when another connection wrote in between (SQLite's `SQLITE_BUSY`
    /// on upgrading a read transaction, which no wait resolves).
    pub async fn begin(&self) -> Result<SqlTransaction<DB>> {
        self.begin_with(DB::begin_statement(None)).await
    }

    /// [`begin`](Self::begin) a transaction for `tenant`: on PostgreSQL the transaction-local
    /// setting `manifest.tenant_id` is `tenant` from its first statement (`set_config(..,
    /// true)`, sent with the `BEGIN` in one round trip), which the row-level-security
    /// policies of [`row_level_security_sql`](Self::row_level_security_sql) filter by. On
    /// SQLite it is `begin`. A tenant holding a NUL character is [`Error::NulInKey`].
    pub async fn begin_for(&self, tenant: &str) -> Result<SqlTransaction<DB>> {
        if tenant.contains('\0') {
            return Err(Error::NulInKey {
                entity: "(tenant)".to_owned(),
                key: tenant.to_owned(),
            });
        }
        self.begin_with(DB::begin_statement(Some(tenant))).await
    }

    async fn begin_with(
        &self,
        statement: std::borrow::Cow<'static, str>,
    ) -> Result<SqlTransaction<DB>> {
        // The gate first: a writer queued for it holds no connection.
        let pass = self.gate.enter().await?;
        let tx = self
            .pool
            .begin_with(statement)
            .await
            .map_err(Error::database)?;
        Ok(SqlTransaction(Shared::new(
            Held::Transaction(tx, pass),
            self,
        )))
    }
}

/// Run `create` (a `CREATE TABLE IF NOT EXISTS` of `table`), check the table's shape
/// ([`check_shape`]), then run `indexes`: what every store's `create_table` does.
pub(crate) async fn create_checked<DB: Backend>(
    conn: &mut DB::Connection,
    create: &str,
    indexes: &[&str],
    entity: &str,
    table: &str,
    expected: &[&str],
) -> Result<()> {
    DB::execute(&mut *conn, create, Default::default())
        .await
        .map_err(Error::database)?;
    check_shape::<DB>(&mut *conn, entity, table, expected).await?;
    for index in indexes {
        DB::execute(&mut *conn, index, Default::default())
            .await
            .map_err(Error::database)?;
    }
    Ok(())
}

/// Check that `table` has the columns `expected`, no more and no fewer, in any order: `CREATE
/// TABLE IF NOT EXISTS` over a table of another shape succeeds and changes nothing.
pub(crate) async fn check_shape<DB: Backend>(
    conn: &mut DB::Connection,
    entity: &str,
    table: &str,
    expected: &[&str],
) -> Result<()> {
    let name = table.to_owned();
    let mut args = Args::<DB>::new();
    args.bind(&name);
    let args = args.finish(entity)?;
    let found = DB::fetch_all(conn, DB::TABLE_COLUMNS, args, |row| {
        DB::decode_value::<String>(row, 0).map_err(Error::database)
    })
    .await
    .map_err(|e| db_error(entity, None, e))?;
    let mut want: Vec<&str> = expected.to_vec();
    let mut have: Vec<&str> = found.iter().map(String::as_str).collect();
    want.sort_unstable();
    have.sort_unstable();
    if want == have {
        return Ok(());
    }
    Err(Error::TableShape {
        entity: entity.to_owned(),
        table: table.to_owned(),
        expected: expected.iter().map(|c| (*c).to_owned()).collect(),
        found,
    })
}
