//! [`SqlIdempotency`]: idempotency records in a SQL table, one statement per operation.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Database;

use super::{IdempotencyRecord, IdempotencyStore};
use crate::error::{Error, Result};
use crate::store::sql::{
    Args, Backend, Decoder, Source, SqlDb, create_checked, db_error, quoted_table, to_text,
};
use crate::tx::Tx;
use crate::types::{Binder, RowDecoder};

/// The name errors give this store by.
const OWNER: &str = "(idempotency)";

/// The default table.
const DEFAULT_TABLE: &str = "manifest_idempotency";

/// The columns of the table, in order.
const COLUMNS: &[&str] = &[
    "tenant_id",
    "key",
    "fingerprint",
    "result",
    "created_at",
    "expires_at",
];

/// One backend's statements, `{table}` standing for the quoted table name and `{index}` for
/// the quoted index name. `insert` binds tenant, key, fingerprint, result (JSON text),
/// created_at, expires_at, now; `get` tenant, key, now; `purge` now.
struct Dialect {
    create_table: &'static str,
    create_index: &'static str,
    insert: &'static str,
    get: &'static str,
    purge: &'static str,
}

/// SQLite: `result` is JSON text, checked valid.
const SQLITE: Dialect = Dialect {
    create_table: r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "key" TEXT NOT NULL, "fingerprint" TEXT NOT NULL, "result" TEXT NOT NULL CHECK (json_valid("result")), "created_at" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL, PRIMARY KEY ("tenant_id", "key"))"#,
    create_index: r#"CREATE INDEX IF NOT EXISTS {index} ON {table} ("expires_at")"#,
    insert: r#"INSERT INTO {table} ("tenant_id", "key", "fingerprint", "result", "created_at", "expires_at") VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT ("tenant_id", "key") DO UPDATE SET "fingerprint" = "excluded"."fingerprint", "result" = "excluded"."result", "created_at" = "excluded"."created_at", "expires_at" = "excluded"."expires_at" WHERE {table}."expires_at" <= ?7 RETURNING 1"#,
    get: r#"SELECT "fingerprint", "result", "created_at", "expires_at" FROM {table} WHERE "tenant_id" = ?1 AND "key" = ?2 AND "expires_at" > ?3"#,
    purge: r#"DELETE FROM {table} WHERE "expires_at" <= ?1"#,
};

/// PostgreSQL: `result` is JSONB.
const POSTGRES: Dialect = Dialect {
    create_table: r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "key" TEXT NOT NULL, "fingerprint" TEXT NOT NULL, "result" JSONB NOT NULL, "created_at" BIGINT NOT NULL, "expires_at" BIGINT NOT NULL, PRIMARY KEY ("tenant_id", "key"))"#,
    create_index: r#"CREATE INDEX IF NOT EXISTS {index} ON {table} ("expires_at")"#,
    insert: r#"INSERT INTO {table} ("tenant_id", "key", "fingerprint", "result", "created_at", "expires_at") VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT ("tenant_id", "key") DO UPDATE SET "fingerprint" = EXCLUDED."fingerprint", "result" = EXCLUDED."result", "created_at" = EXCLUDED."created_at", "expires_at" = EXCLUDED."expires_at" WHERE {table}."expires_at" <= $7 RETURNING 1"#,
    get: r#"SELECT "fingerprint", "result"::text, "created_at", "expires_at" FROM {table} WHERE "tenant_id" = $1 AND "key" = $2 AND "expires_at" > $3"#,
    purge: r#"DELETE FROM {table} WHERE "expires_at" <= $1"#,
};

/// The statements of one table, built once per store and shared by its clones.
struct Statements {
    table: String,
    create_table: String,
    create_index: String,
    insert: String,
    get: String,
    purge: String,
}

impl Statements {
    /// The statements of `table`, a name [`quoted_table`] accepts ([`Error::InvalidName`]
    /// otherwise).
    fn new<DB: Backend>(table: &str) -> Result<Self> {
        quoted_table(OWNER, table)?;
        Ok(Self::build::<DB>(table))
    }

    /// The statements of `table`, a checked name.
    fn build<DB: Backend>(table: &str) -> Self {
        let quoted = format!("\"{table}\"");
        let dialect = if <DB as Database>::NAME == "PostgreSQL" {
            &POSTGRES
        } else {
            &SQLITE
        };
        // Index names share one namespace per schema; the table's name leads (ASCII, so
        // truncating at 63 bytes keeps a valid name).
        let mut index = format!("{table}__expires_at");
        index.truncate(63);
        let sql = |template: &str| {
            template
                .replace("{table}", &quoted)
                .replace("{index}", &format!("\"{index}\""))
        };
        Statements {
            table: table.to_owned(),
            create_table: sql(dialect.create_table) + DB::TABLE_SUFFIX,
            create_index: sql(dialect.create_index),
            insert: sql(dialect.insert),
            get: sql(dialect.get),
            purge: sql(dialect.purge),
        }
    }
}

/// An [`IdempotencyStore`] on a SQL table (default `manifest_idempotency`), made from a
/// [`SqlDb`]: `PRIMARY KEY (tenant_id, key)`, the result as JSON (`JSONB` on PostgreSQL, JSON
/// text in a `STRICT` SQLite table), times as `BIGINT` milliseconds, and an index on
/// `expires_at` for [`purge_expired`](IdempotencyStore::purge_expired). Cloning it is cheap.
///
/// Each operation is one statement, on the connection of the `tx` it is given (a transaction
/// of the same [`SqlDb`], [`Error::ForeignTransaction`] otherwise), else on one from the pool.
/// [`insert`](IdempotencyStore::insert) is `INSERT .. ON CONFLICT (tenant_id, key) DO UPDATE
/// .. WHERE expires_at <= now RETURNING 1`: it inserts a new key, replaces an expired record,
/// and leaves an unexpired one untouched (`false`), atomically. On PostgreSQL a second insert
/// of a key another transaction has inserted and not yet committed waits for that
/// transaction: `false` when it commits, `true` (the key is inserted) when it rolls back. So two
/// concurrent requests with one key cannot both run when each inserts its key inside its
/// command's transaction. (SQLite has one writer at a time; a transaction of
/// [`SqlDb::begin`] holds the write lock, so the second waits at its `BEGIN`.)
///
/// With row-level security on PostgreSQL
/// ([`PgDb::enable_row_level_security`](crate::PgDb::enable_row_level_security) on
/// [`table`](Self::table)), `get` and `insert` must run inside a transaction of
/// [`SqlDb::begin_for`] the record's tenant, and `purge_expired`, which spans tenants, on a
/// role with `BYPASSRLS` (elsewhere it deletes nothing).
pub struct SqlIdempotency<DB: Backend> {
    source: Source<DB>,
    sql: Arc<Statements>,
}

impl<DB: Backend> SqlIdempotency<DB> {
    /// The store in the table `manifest_idempotency`.
    pub fn new(db: &SqlDb<DB>) -> Self {
        // The default name is a valid table name.
        SqlIdempotency {
            source: db.source(),
            sql: Arc::new(Statements::build::<DB>(DEFAULT_TABLE)),
        }
    }

    /// The store in the table `table`, which must be a plain SQL name
    /// (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes; [`Error::InvalidName`] otherwise).
    pub fn with_table(db: &SqlDb<DB>, table: &str) -> Result<Self> {
        Ok(SqlIdempotency {
            source: db.source(),
            sql: Arc::new(Statements::new::<DB>(table)?),
        })
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.sql.table
    }

    /// The `CREATE TABLE IF NOT EXISTS` statement of the table.
    pub fn create_table_sql(&self) -> &str {
        &self.sql.create_table
    }

    /// Create the table and its index on `expires_at` if they do not exist yet; safe to run
    /// again. An existing table must have this store's columns, no more and no fewer
    /// ([`Error::TableShape`] otherwise).
    pub async fn create_table(&self) -> Result<()> {
        let mut guard = self.source.acquire().await?;
        let sql = &self.sql;
        let indexes = [sql.create_index.as_str()];
        create_checked::<DB>(
            guard.conn()?,
            &sql.create_table,
            &indexes,
            OWNER,
            &sql.table,
            COLUMNS,
        )
        .await
    }

    fn decode(tenant: &str, key: &str, row: &DB::Row) -> Result<IdempotencyRecord> {
        let row = Decoder::<DB> { row, entity: OWNER };
        let result: String = row.get(1, "result")?;
        let result = serde_json::from_str(&result).map_err(|e| Error::Decode {
            entity: OWNER.to_owned(),
            column: "result".to_owned(),
            source: Box::new(e),
        })?;
        Ok(IdempotencyRecord::new(
            tenant,
            key,
            row.get::<String>(0, "fingerprint")?,
            result,
            row.get(2, "created_at")?,
            row.get(3, "expires_at")?,
        ))
    }
}

impl<DB: Backend> Clone for SqlIdempotency<DB> {
    fn clone(&self) -> Self {
        SqlIdempotency {
            source: self.source.clone(),
            sql: self.sql.clone(),
        }
    }
}

impl<DB: Backend> fmt::Debug for SqlIdempotency<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlIdempotency")
            .field("backend", &<DB as Database>::NAME)
            .field("table", &self.sql.table)
            .finish_non_exhaustive()
    }
}

/// The parameters 1 to 7 of the insert of `record` (`result` is its result as text).
pub(crate) fn bind_insert<'q, DB: Backend>(
    args: &mut Args<'q, DB>,
    record: &'q IdempotencyRecord,
    result: &'q String,
    now: &'q i64,
) {
    args.bind(&record.tenant);
    args.bind(&record.key);
    args.bind(&record.fingerprint);
    args.bind(result);
    args.bind(&record.created_at);
    args.bind(&record.expires_at);
    args.bind(now);
}

impl<DB: Backend> SqlIdempotency<DB> {
    /// The insert (`RETURNING 1` when it wrote), its parameters numbered 1 to 7 (see
    /// [`bind_insert`]).
    pub(crate) fn insert_sql(&self) -> &str {
        &self.sql.insert
    }

    pub(crate) fn source(&self) -> &Source<DB> {
        &self.source
    }
}

#[async_trait]
impl<DB: Backend> IdempotencyStore for SqlIdempotency<DB> {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    async fn get(
        &self,
        tx: Option<&Tx>,
        tenant: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>> {
        let (tenant_text, key_text) = (tenant.to_owned(), key.to_owned());
        let mut guard = self.source.acquire_in(tx).await?;
        let mut args = Args::<DB>::new();
        args.bind(&tenant_text);
        args.bind(&key_text);
        args.bind(&now);
        let args = args.finish(OWNER)?;
        let row = DB::fetch_optional(guard.conn()?, &self.sql.get, args)
            .await
            .map_err(|e| db_error(OWNER, None, e))?;
        row.map(|row| Self::decode(tenant, key, &row)).transpose()
    }

    async fn insert(&self, tx: Option<&Tx>, record: &IdempotencyRecord, now: i64) -> Result<bool> {
        let result = to_text(OWNER, &record.result)?;
        let mut guard = self.source.acquire_in(tx).await?;
        let mut args = Args::<DB>::new();
        bind_insert(&mut args, record, &result, &now);
        let args = args.finish(OWNER)?;
        let row = DB::fetch_optional(guard.conn()?, &self.sql.insert, args)
            .await
            .map_err(|e| db_error(OWNER, None, e))?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        args.bind(&now);
        let args = args.finish(OWNER)?;
        DB::execute(guard.conn()?, &self.sql.purge, args)
            .await
            .map_err(|e| db_error(OWNER, None, e))
    }
}
