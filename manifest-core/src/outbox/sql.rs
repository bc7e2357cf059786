//! [`SqlOutbox`]: the outbox in a table of the application's SQL database, written in the
//! command's transaction.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, Transaction};

use super::{OutboxEntry, OutboxEvent, OutboxStatus, OutboxStore};
use crate::SqlDb;
use crate::error::{BoxDynError, Error, Result};
use crate::store::sql::{Backend, GatePass, Source, WriteGate, create_checked};
use crate::tx::Tx;
use crate::types::FieldType;

mod statements;
use statements::{COLUMNS, DEFAULT_TABLE, OutboxSql};

/// An [`OutboxStore`] in one table of a [`SqlDb`] (`manifest_outbox` unless named), shared by
/// every tenant: rows are keyed by `(tenant_id, id)`, tenant first, and `seq` gives the order
/// entries were enqueued in. Create the table with [`create_table`](Self::create_table).
///
/// [`enqueue`](OutboxStore::enqueue) writes all the entries in one statement, on the
/// connection of the [`Tx`] it is given (a transaction of this database), so they commit or
/// roll back with the command's writes. [`claim`](OutboxStore::claim) is one statement too: on
/// SQLite one `UPDATE` (SQLite has one writer at a time, which serialises claims), on
/// PostgreSQL an `UPDATE` of the rows a `SELECT … FOR UPDATE SKIP LOCKED` picks, in a short
/// transaction holding the table's advisory lock, so that two workers' claims never decide on
/// one subject from snapshots that miss each other's leases. [`mark_failed`](OutboxStore::mark_failed)
/// and [`release`](OutboxStore::release) take that lock too; the other operations are one
/// statement each.
///
/// Column types: `payload` and `event_timestamp` are JSON text on SQLite (`STRICT` table) and
/// `JSONB` on PostgreSQL (which keeps values, not spelling: keys are reordered); times are
/// integers of milliseconds. On PostgreSQL `seq` is an identity column; on SQLite it is one
/// more than the highest stored, so it starts again from 1 only if every row is purged.
///
/// A claim reads the pending entries in `seq` order and stops at its limit, checking each
/// candidate's subject on the subject index, so it costs in proportion to the entries at the
/// head of the queue (leased ones included), not to the backlog. On PostgreSQL that plan needs
/// the table's statistics, which autovacuum keeps: a table filled before it ever ran (a
/// fresh table loaded at once) plans the claim as a sort of every pending entry until the
/// next `ANALYZE`.
///
/// With row-level security on PostgreSQL, a claim reads every tenant's entries: run the
/// worker as a role the policies let through. [`table`](Self::table) names the table for such
/// policies.
pub struct SqlOutbox<DB: Backend> {
    pool: Pool<DB>,
    gate: WriteGate,
    source: Source<DB>,
    sql: Arc<OutboxSql>,
}

impl<DB: Backend> Clone for SqlOutbox<DB> {
    fn clone(&self) -> Self {
        SqlOutbox {
            pool: self.pool.clone(),
            gate: self.gate.clone(),
            source: self.source.clone(),
            sql: self.sql.clone(),
        }
    }
}

impl<DB: Backend> fmt::Debug for SqlOutbox<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlOutbox")
            .field("backend", &<DB as Database>::NAME)
            .field("table", &self.sql.table)
            .finish_non_exhaustive()
    }
}

/// An entry as `enqueue` sends it: one object of the JSON array the statement reads.
#[derive(Serialize)]
struct NewRow<'a> {
    pos: usize,
    tenant_id: &'a str,
    id: &'a str,
    event_name: &'a str,
    channel: &'a str,
    payload: &'a Map<String, Json>,
    event_timestamp: &'a Json,
    entity: Option<&'a str>,
    instance_id: Option<&'a str>,
    command: &'a str,
    correlation_id: Option<&'a str>,
    causation_id: Option<&'a str>,
    enqueued_at: i64,
    available_at: i64,
}

/// Arguments of one statement; the first encode error is kept.
struct Bind<'q, DB: Backend> {
    args: DB::Arguments<'q>,
    error: Option<BoxDynError>,
}

impl<'q, DB: Backend> Bind<'q, DB> {
    fn new() -> Self {
        Bind {
            args: Default::default(),
            error: None,
        }
    }

    fn push<V: FieldType>(mut self, value: &'q V) -> Self {
        if self.error.is_none()
            && let Err(e) = DB::bind_value(Some(value), &mut self.args)
        {
            self.error = Some(e);
        }
        self
    }

    fn finish(self, table: &str) -> Result<DB::Arguments<'q>> {
        match self.error {
            None => Ok(self.args),
            Some(source) => Err(Error::Encode {
                entity: table.to_owned(),
                source,
            }),
        }
    }
}

impl<DB: Backend> SqlOutbox<DB> {
    /// The outbox of `db` in the table `manifest_outbox`.
    pub fn new(db: &SqlDb<DB>) -> Self {
        Self::build(db, OutboxSql::build::<DB>(DEFAULT_TABLE))
    }

    /// The outbox of `db` in the table `table`: an ASCII identifier (`[A-Za-z_][A-Za-z0-9_]*`)
    /// of at most 48 bytes, not starting with `sqlite_` ([`Error::InvalidName`] otherwise).
    pub fn with_table(db: &SqlDb<DB>, table: &str) -> Result<Self> {
        Ok(Self::build(db, OutboxSql::new::<DB>(table)?))
    }

    fn build(db: &SqlDb<DB>, sql: OutboxSql) -> Self {
        SqlOutbox {
            pool: db.pool().clone(),
            gate: db.gate().clone(),
            source: db.source(),
            sql: Arc::new(sql),
        }
    }

    /// The table's name (unquoted), for row-level-security policies and migrations.
    pub fn table(&self) -> &str {
        &self.sql.table
    }

    /// The statements [`create_table`](Self::create_table) runs, in order: the table, then its
    /// indexes (the pending entries by `seq`, for claims; the pending entries of each subject;
    /// the leased entries by worker; each tenant's dead entries; on SQLite also `seq`, unique).
    pub fn create_table_sql(&self) -> &[String] {
        &self.sql.create
    }

    /// Create the table and its indexes if they do not exist yet; safe to run again. An
    /// existing table must have the outbox's columns, no more and no fewer
    /// ([`Error::TableShape`] otherwise).
    pub async fn create_table(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(Error::database)?;
        let Some((create, indexes)) = self.sql.create.split_first() else {
            return Ok(());
        };
        let indexes: Vec<&str> = indexes.iter().map(String::as_str).collect();
        create_checked::<DB>(
            &mut conn,
            create,
            &indexes,
            "outbox",
            &self.sql.table,
            COLUMNS,
        )
        .await
    }

    fn error(&self, e: sqlx::Error) -> Error {
        match e {
            sqlx::Error::Decode(source) => match source.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(source) => Error::database(sqlx::Error::Decode(source)),
            },
            e => Error::database(e),
        }
    }

    /// A connection for one operation: with `locked` and a dialect that locks, a transaction
    /// holding the table's advisory lock; else one from the pool. An operation that writes
    /// takes the database's write gate first (SQLite's, see [`WriteGate`]).
    async fn conn(&self, locked: bool, writes: bool) -> Result<Conn<DB>> {
        let pass = if writes {
            self.gate.enter().await?
        } else {
            None
        };
        Ok(match &self.sql.lock {
            Some(lock) if locked => Conn::Locked(
                self.pool
                    .begin_with(lock.clone())
                    .await
                    .map_err(Error::database)?,
                pass,
            ),
            _ => Conn::Pooled(self.pool.acquire().await.map_err(Error::database)?, pass),
        })
    }
}

/// The connection of one operation (see [`SqlOutbox::conn`]), and the write gate it holds.
enum Conn<DB: Database> {
    Pooled(
        PoolConnection<DB>,
        #[allow(dead_code, reason = "held, not read: the gate opens when it drops")] GatePass,
    ),
    Locked(Transaction<'static, DB>, GatePass),
}

impl<DB: Database> Conn<DB> {
    fn get(&mut self) -> &mut DB::Connection {
        match self {
            Conn::Pooled(conn, _) => conn,
            Conn::Locked(tx, _) => tx,
        }
    }

    /// End the operation: commit its transaction, if it has one (dropped on an error instead,
    /// it rolls back), then open the gate.
    async fn done(self) -> Result<()> {
        match self {
            Conn::Pooled(..) => Ok(()),
            Conn::Locked(tx, _pass) => tx.commit().await.map_err(Error::database),
        }
    }
}

/// `ids` as a JSON array, for the statements' `IN (…)` lists.
fn id_list(ids: &[String]) -> String {
    // A list of strings always serialises.
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// A duplicate id: the one entry's, or the list of the batch's.
fn duplicate(table: &str, entries: &[OutboxEntry]) -> Error {
    let id = match entries {
        [one] => one.id.clone(),
        many => format!(
            "one of {}",
            many.iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Error::DuplicateId {
        entity: table.to_owned(),
        id,
    }
}

/// One row, in [`COLUMNS`] order, as an entry.
fn decode<DB: Backend>(table: &str, row: &DB::Row) -> Result<OutboxEntry> {
    fn get<DB: Backend, V: FieldType>(table: &str, row: &DB::Row, index: usize) -> Result<V> {
        DB::decode_value::<V>(row, index).map_err(|e| Error::Decode {
            entity: table.to_owned(),
            column: COLUMNS[index].to_owned(),
            source: match e {
                sqlx::Error::ColumnDecode { source, .. } => source,
                other => Box::new(other),
            },
        })
    }
    let bad = |index: usize, source: BoxDynError| Error::Decode {
        entity: table.to_owned(),
        column: COLUMNS[index].to_owned(),
        source,
    };
    let text = |index| get::<DB, String>(table, row, index);
    let optional = |index| get::<DB, Option<String>>(table, row, index);
    let payload: Map<String, Json> =
        serde_json::from_str(&text(5)?).map_err(|e| bad(5, Box::new(e)))?;
    let timestamp = match optional(6)? {
        Some(json) => serde_json::from_str(&json).map_err(|e| bad(6, Box::new(e)))?,
        None => Json::Null,
    };
    let status = text(13)?;
    let status = OutboxStatus::parse(&status)
        .ok_or_else(|| bad(13, format!("unknown status `{status}`").into()))?;
    let attempts = get::<DB, i32>(table, row, 14)?;
    Ok(OutboxEntry {
        tenant: text(0)?,
        id: text(1)?,
        seq: get::<DB, i64>(table, row, 2)?,
        event: OutboxEvent::new(text(3)?, text(4)?, payload, timestamp),
        entity: optional(7)?,
        instance_id: optional(8)?,
        command: text(9)?,
        correlation_id: optional(10)?,
        causation_id: optional(11)?,
        enqueued_at: get::<DB, i64>(table, row, 12)?,
        status,
        attempts: u32::try_from(attempts).map_err(|e| bad(14, Box::new(e)))?,
        available_at: get::<DB, i64>(table, row, 15)?,
        lease_owner: optional(16)?,
        lease_until: get::<DB, Option<i64>>(table, row, 17)?,
        last_error: optional(18)?,
    })
}

impl<DB: Backend> SqlOutbox<DB> {
    /// `entries` as the one parameter of the enqueue statement.
    pub(crate) fn batch_json(&self, entries: &[OutboxEntry]) -> Result<String> {
        let rows: Vec<NewRow<'_>> = entries
            .iter()
            .enumerate()
            .map(|(pos, e)| NewRow {
                pos,
                tenant_id: &e.tenant,
                id: &e.id,
                event_name: &e.event.name,
                channel: &e.event.channel,
                payload: &e.event.payload,
                event_timestamp: &e.event.timestamp,
                entity: e.entity.as_deref(),
                instance_id: e.instance_id.as_deref(),
                command: &e.command,
                correlation_id: e.correlation_id.as_deref(),
                causation_id: e.causation_id.as_deref(),
                enqueued_at: e.enqueued_at,
                available_at: e.available_at,
            })
            .collect();
        serde_json::to_string(&rows).map_err(|source| Error::InvalidData {
            entity: self.sql.table.clone(),
            source,
        })
    }

    /// The enqueue statement, its one parameter numbered 1 (see [`batch_json`](Self::batch_json)).
    pub(crate) fn enqueue_sql(&self) -> &str {
        &self.sql.enqueue
    }

    pub(crate) fn source(&self) -> &Source<DB> {
        &self.source
    }
}

#[async_trait]
impl<DB: Backend> OutboxStore for SqlOutbox<DB> {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    async fn enqueue(&self, tx: Option<&Tx>, entries: &[OutboxEntry]) -> Result<()> {
        if let Some(tx) = tx {
            self.source.join(tx)?;
        }
        if entries.is_empty() {
            return Ok(());
        }
        let table = self.sql.table.as_str();
        let json = self.batch_json(entries)?;
        let mut guard = self.source.acquire_in(tx).await?;
        let args = Bind::<DB>::new().push(&json).finish(table)?;
        match DB::execute(guard.conn()?, &self.sql.enqueue, args).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(duplicate(table, entries))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let table = self.sql.table.as_str();
        let (worker, until) = (worker.to_owned(), now.saturating_add(lease_ms));
        let limit = i64::from(limit);
        let mut conn = self.conn(true, true).await?;
        let args = Bind::<DB>::new()
            .push(&worker)
            .push(&now)
            .push(&until)
            .push(&limit)
            .finish(table)?;
        let mut claimed = DB::fetch_all(conn.get(), &self.sql.claim, args, |row| {
            decode::<DB>(table, row)
        })
        .await
        .map_err(|e| self.error(e))?;
        conn.done().await?;
        claimed.sort_unstable_by_key(|e| e.seq);
        Ok(claimed)
    }

    async fn mark_delivered(&self, worker: &str, ids: &[String]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let (worker, ids) = (worker.to_owned(), id_list(ids));
        let mut conn = self.conn(false, true).await?;
        let args = Bind::<DB>::new()
            .push(&worker)
            .push(&ids)
            .finish(&self.sql.table)?;
        DB::execute(conn.get(), &self.sql.mark_delivered, args)
            .await
            .map_err(|e| self.error(e))
    }

    async fn mark_failed(
        &self,
        worker: &str,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        let (worker, id, error) = (worker.to_owned(), id.to_owned(), error.to_owned());
        let mut conn = self.conn(true, true).await?;
        let args = Bind::<DB>::new()
            .push(&worker)
            .push(&id)
            .push(&error)
            .push(&retry_at)
            .finish(&self.sql.table)?;
        let n = DB::execute(conn.get(), &self.sql.mark_failed, args)
            .await
            .map_err(|e| self.error(e))?;
        conn.done().await?;
        Ok(n > 0)
    }

    async fn release(&self, worker: &str, ids: &[String]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let (worker, ids) = (worker.to_owned(), id_list(ids));
        let mut conn = self.conn(true, true).await?;
        let args = Bind::<DB>::new()
            .push(&worker)
            .push(&ids)
            .finish(&self.sql.table)?;
        let n = DB::execute(conn.get(), &self.sql.release, args)
            .await
            .map_err(|e| self.error(e))?;
        conn.done().await?;
        Ok(n)
    }

    async fn dead_letters(&self, tenant: &str, limit: u32) -> Result<Vec<OutboxEntry>> {
        let table = self.sql.table.as_str();
        let (tenant, limit) = (tenant.to_owned(), i64::from(limit));
        let mut conn = self.conn(false, false).await?;
        let args = Bind::<DB>::new().push(&tenant).push(&limit).finish(table)?;
        DB::fetch_all(conn.get(), &self.sql.dead_letters, args, |row| {
            decode::<DB>(table, row)
        })
        .await
        .map_err(|e| self.error(e))
    }

    async fn requeue(&self, tenant: &str, ids: &[String], now: i64) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let (tenant, ids) = (tenant.to_owned(), id_list(ids));
        let mut conn = self.conn(false, true).await?;
        let args = Bind::<DB>::new()
            .push(&tenant)
            .push(&ids)
            .push(&now)
            .finish(&self.sql.table)?;
        DB::execute(conn.get(), &self.sql.requeue, args)
            .await
            .map_err(|e| self.error(e))
    }

    async fn entries(&self, tenant: &str) -> Result<Vec<OutboxEntry>> {
        let table = self.sql.table.as_str();
        let tenant = tenant.to_owned();
        let mut conn = self.conn(false, false).await?;
        let args = Bind::<DB>::new().push(&tenant).finish(table)?;
        DB::fetch_all(conn.get(), &self.sql.entries, args, |row| {
            decode::<DB>(table, row)
        })
        .await
        .map_err(|e| self.error(e))
    }

    async fn purge_delivered(&self, before: i64) -> Result<u64> {
        let mut conn = self.conn(false, true).await?;
        let args = Bind::<DB>::new().push(&before).finish(&self.sql.table)?;
        DB::execute(conn.get(), &self.sql.purge, args)
            .await
            .map_err(|e| self.error(e))
    }
}
