//! [`SqlAudit`]: the audit trail in a SQL table, a batch of records in one statement.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::Database;

use super::{AuditOutcome, AuditRecord, AuditSink, OWNER, check_batch};
use crate::error::{Error, Result};
use crate::store::sql::{
    Args, Backend, Decoder, Source, SqlDb, create_checked, db_error, quoted_table, to_text,
};
use crate::tx::Tx;
use crate::types::{Binder, RowDecoder};

/// The default table.
const DEFAULT_TABLE: &str = "manifest_audit";

/// The columns of the table, in order.
const COLUMNS: &[&str] = &[
    "tenant_id",
    "record_id",
    "occurred_at",
    "actor_id",
    "request_id",
    "source",
    "entity",
    "instance_id",
    "command",
    "outcome",
    "diagnostics",
    "emitted_event_names",
    "ir_hash",
];

/// One backend's statements, `{table}` standing for the quoted table name and `{index}` for
/// the quoted index name. `insert` binds the batch as one JSON array of [`Row`]s; `select`
/// binds tenant and limit and reads the columns after `tenant_id`, in order.
struct Dialect {
    create_table: &'static str,
    create_index: &'static str,
    insert: &'static str,
    select: &'static str,
}

/// SQLite: the batch is read with `json_each`, in array order; `diagnostics` and
/// `emitted_event_names` are JSON text, checked.
const SQLITE: Dialect = Dialect {
    create_table: r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "record_id" TEXT NOT NULL, "occurred_at" INTEGER NOT NULL, "actor_id" TEXT, "request_id" TEXT, "source" TEXT, "entity" TEXT, "instance_id" TEXT, "command" TEXT NOT NULL, "outcome" TEXT NOT NULL, "diagnostics" TEXT NOT NULL CHECK (json_valid("diagnostics")), "emitted_event_names" TEXT NOT NULL CHECK (json_type("emitted_event_names") = 'array'), "ir_hash" TEXT, PRIMARY KEY ("tenant_id", "record_id"))"#,
    create_index: r#"CREATE INDEX IF NOT EXISTS {index} ON {table} ("tenant_id", "occurred_at", "record_id")"#,
    insert: r#"INSERT INTO {table} ("tenant_id", "record_id", "occurred_at", "actor_id", "request_id", "source", "entity", "instance_id", "command", "outcome", "diagnostics", "emitted_event_names", "ir_hash") SELECT json_extract("value", '$.tenant_id'), json_extract("value", '$.record_id'), json_extract("value", '$.occurred_at'), json_extract("value", '$.actor_id'), json_extract("value", '$.request_id'), json_extract("value", '$.source'), json_extract("value", '$.entity'), json_extract("value", '$.instance_id'), json_extract("value", '$.command'), json_extract("value", '$.outcome'), json_extract("value", '$.diagnostics'), json_extract("value", '$.emitted_event_names'), json_extract("value", '$.ir_hash') FROM json_each(?1) ORDER BY "key""#,
    select: r#"SELECT "record_id", "occurred_at", "actor_id", "request_id", "source", "entity", "instance_id", "command", "outcome", "diagnostics", "emitted_event_names", "ir_hash" FROM {table} WHERE "tenant_id" = ?1 ORDER BY "occurred_at", "record_id" LIMIT ?2"#,
};

/// PostgreSQL: the batch is read with `jsonb_to_recordset`; `diagnostics` and
/// `emitted_event_names` are JSONB; record ids sort bytewise (`COLLATE "C"`), as in memory.
const POSTGRES: Dialect = Dialect {
    create_table: r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "record_id" TEXT COLLATE "C" NOT NULL, "occurred_at" BIGINT NOT NULL, "actor_id" TEXT, "request_id" TEXT, "source" TEXT, "entity" TEXT, "instance_id" TEXT, "command" TEXT NOT NULL, "outcome" TEXT NOT NULL, "diagnostics" JSONB NOT NULL, "emitted_event_names" JSONB NOT NULL CHECK (jsonb_typeof("emitted_event_names") = 'array'), "ir_hash" TEXT, PRIMARY KEY ("tenant_id", "record_id"))"#,
    create_index: r#"CREATE INDEX IF NOT EXISTS {index} ON {table} ("tenant_id", "occurred_at", "record_id")"#,
    insert: r#"INSERT INTO {table} ("tenant_id", "record_id", "occurred_at", "actor_id", "request_id", "source", "entity", "instance_id", "command", "outcome", "diagnostics", "emitted_event_names", "ir_hash") SELECT "tenant_id", "record_id", "occurred_at", "actor_id", "request_id", "source", "entity", "instance_id", "command", "outcome", "diagnostics"::jsonb, "emitted_event_names"::jsonb, "ir_hash" FROM jsonb_to_recordset($1::jsonb) AS "r"("tenant_id" text, "record_id" text, "occurred_at" bigint, "actor_id" text, "request_id" text, "source" text, "entity" text, "instance_id" text, "command" text, "outcome" text, "diagnostics" text, "emitted_event_names" text, "ir_hash" text)"#,
    select: r#"SELECT "record_id", "occurred_at", "actor_id", "request_id", "source", "entity", "instance_id", "command", "outcome", "diagnostics"::text, "emitted_event_names"::text, "ir_hash" FROM {table} WHERE "tenant_id" = $1 ORDER BY "occurred_at", "record_id" LIMIT $2"#,
};

/// One record as the batch carries it: the columns by name, the JSON columns as JSON text
/// (a string, so that the database copies the text rather than re-reading the value).
#[derive(Serialize)]
struct Row<'a> {
    tenant_id: &'a str,
    record_id: &'a str,
    occurred_at: i64,
    actor_id: Option<&'a str>,
    request_id: Option<&'a str>,
    source: Option<&'a str>,
    entity: Option<&'a str>,
    instance_id: Option<&'a str>,
    command: &'a str,
    outcome: &'static str,
    diagnostics: String,
    emitted_event_names: String,
    ir_hash: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn new(record: &'a AuditRecord) -> Result<Self> {
        Ok(Row {
            tenant_id: &record.tenant,
            record_id: &record.record_id,
            occurred_at: record.occurred_at,
            actor_id: record.actor_id.as_deref(),
            request_id: record.request_id.as_deref(),
            source: record.source.as_deref(),
            entity: record.entity.as_deref(),
            instance_id: record.instance_id.as_deref(),
            command: &record.command,
            outcome: record.outcome.as_str(),
            diagnostics: to_text(OWNER, &record.diagnostics)?,
            emitted_event_names: to_text(OWNER, &record.emitted_event_names)?,
            ir_hash: record.ir_hash.as_deref(),
        })
    }
}

/// The statements of one table, built once per sink and shared by its clones.
struct Statements {
    table: String,
    create_table: String,
    create_index: String,
    insert: String,
    select: String,
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
        // The table's name leads (ASCII, so truncating at 63 bytes keeps a valid name).
        let mut index = format!("{table}__tenant_occurred_at");
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
            select: sql(dialect.select),
        }
    }
}

/// An [`AuditSink`] writing to a SQL table (default `manifest_audit`), made from a [`SqlDb`]:
/// `PRIMARY KEY (tenant_id, record_id)`, a column per [`AuditRecord`] field (`diagnostics` and
/// `emitted_event_names` as JSON: `JSONB` on PostgreSQL, JSON text in a `STRICT` SQLite table),
/// and an index on `(tenant_id, occurred_at, record_id)` for
/// [`records`](AuditSink::records). Cloning it is cheap.
///
/// [`record`](AuditSink::record) writes a whole batch in one `INSERT .. SELECT` over the batch
/// sent as one JSON array (`jsonb_to_recordset` on PostgreSQL, `json_each` on SQLite), on the
/// connection of the `tx` it is given (a transaction of the same [`SqlDb`],
/// [`Error::ForeignTransaction`] otherwise) or one from the pool: one statement, so the batch
/// is kept all or none. A batch naming a `(tenant, record id)` twice is refused before it is
/// sent ([`Error::DuplicateId`]); one whose id is already in the table fails on the primary
/// key ([`Error::Database`]; inside a PostgreSQL transaction, the transaction is aborted).
///
/// With row-level security on PostgreSQL
/// ([`PgDb::enable_row_level_security`](crate::PgDb::enable_row_level_security) on
/// [`table`](Self::table)), a batch is written inside a transaction of
/// [`SqlDb::begin_for`] its tenant, and `records` reads through the pool only on a role with
/// `BYPASSRLS` (elsewhere it reads nothing).
pub struct SqlAudit<DB: Backend> {
    source: Source<DB>,
    sql: Arc<Statements>,
}

impl<DB: Backend> SqlAudit<DB> {
    /// The sink writing to the table `manifest_audit`.
    pub fn new(db: &SqlDb<DB>) -> Self {
        // The default name is a valid table name.
        SqlAudit {
            source: db.source(),
            sql: Arc::new(Statements::build::<DB>(DEFAULT_TABLE)),
        }
    }

    /// The sink writing to the table `table`, which must be a plain SQL name
    /// (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes; [`Error::InvalidName`] otherwise).
    pub fn with_table(db: &SqlDb<DB>, table: &str) -> Result<Self> {
        Ok(SqlAudit {
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

    /// Create the table and its index if they do not exist yet; safe to run again. An existing
    /// table must have this sink's columns, no more and no fewer ([`Error::TableShape`]
    /// otherwise).
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
}

/// A row of the `select` statement as a record of `tenant`.
fn decode<DB: Backend>(tenant: &str, row: &DB::Row) -> Result<AuditRecord> {
    let row = Decoder::<DB> { row, entity: OWNER };
    let invalid = |column: &str, source: crate::error::BoxDynError| Error::Decode {
        entity: OWNER.to_owned(),
        column: column.to_owned(),
        source,
    };
    let outcome: String = row.get(8, "outcome")?;
    let outcome = AuditOutcome::parse(&outcome)
        .ok_or_else(|| invalid("outcome", format!("unknown outcome `{outcome}`").into()))?;
    let diagnostics: String = row.get(9, "diagnostics")?;
    let names: String = row.get(10, "emitted_event_names")?;
    let mut record = AuditRecord::new(
        row.get::<String>(0, "record_id")?,
        row.get(1, "occurred_at")?,
        tenant,
        row.get::<String>(7, "command")?,
        outcome,
    );
    record.actor_id = row.get(2, "actor_id")?;
    record.request_id = row.get(3, "request_id")?;
    record.source = row.get(4, "source")?;
    record.entity = row.get(5, "entity")?;
    record.instance_id = row.get(6, "instance_id")?;
    record.diagnostics =
        serde_json::from_str(&diagnostics).map_err(|e| invalid("diagnostics", Box::new(e)))?;
    record.emitted_event_names =
        serde_json::from_str(&names).map_err(|e| invalid("emitted_event_names", Box::new(e)))?;
    record.ir_hash = row.get(11, "ir_hash")?;
    Ok(record)
}

impl<DB: Backend> Clone for SqlAudit<DB> {
    fn clone(&self) -> Self {
        SqlAudit {
            source: self.source.clone(),
            sql: self.sql.clone(),
        }
    }
}

impl<DB: Backend> fmt::Debug for SqlAudit<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlAudit")
            .field("backend", &<DB as Database>::NAME)
            .field("table", &self.sql.table)
            .finish_non_exhaustive()
    }
}

/// `records` as the one parameter of the insert (checked for duplicates first).
pub(crate) fn batch_json(records: &[AuditRecord]) -> Result<String> {
    check_batch(records)?;
    let rows = records.iter().map(Row::new).collect::<Result<Vec<_>>>()?;
    serde_json::to_string(&rows).map_err(|source| Error::InvalidData {
        entity: OWNER.to_owned(),
        source,
    })
}

impl<DB: Backend> SqlAudit<DB> {
    /// The insert of a batch, its one parameter numbered 1 (see [`batch_json`]).
    pub(crate) fn insert_sql(&self) -> &str {
        &self.sql.insert
    }

    pub(crate) fn source(&self) -> &Source<DB> {
        &self.source
    }
}

#[async_trait]
impl<DB: Backend> AuditSink for SqlAudit<DB> {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    async fn record(&self, tx: Option<&Tx>, records: &[AuditRecord]) -> Result<()> {
        if records.is_empty() {
            // Nothing to write; a foreign transaction is refused all the same.
            return tx.map_or(Ok(()), |tx| self.source.join(tx).map(drop));
        }
        let batch = batch_json(records)?;
        let mut guard = self.source.acquire_in(tx).await?;
        let mut args = Args::<DB>::new();
        args.bind(&batch);
        let args = args.finish(OWNER)?;
        DB::execute(guard.conn()?, &self.sql.insert, args)
            .await
            .map_err(|e| db_error(OWNER, None, e))?;
        Ok(())
    }

    async fn records(&self, tenant: &str, limit: u32) -> Result<Vec<AuditRecord>> {
        let (tenant_text, limit) = (tenant.to_owned(), i64::from(limit));
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        args.bind(&tenant_text);
        args.bind(&limit);
        let args = args.finish(OWNER)?;
        DB::fetch_all(guard.conn()?, &self.sql.select, args, move |row| {
            decode::<DB>(tenant, row)
        })
        .await
        .map_err(|e| db_error(OWNER, None, e))
    }
}
