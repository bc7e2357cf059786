//! [`CommandRecords`]: what one command writes beside its state change (its outbox entries,
//! its idempotency record, its audit records), written in one statement when the stores allow.
//!
//! A command's records go to three stores, and written one call each they cost three round
//! trips inside the command's transaction. When every store given is a SQL store of the
//! transaction's database ([`SqlOutbox`](crate::outbox::SqlOutbox),
//! [`SqlIdempotency`](crate::idempotency::SqlIdempotency), [`SqlAudit`](crate::audit::SqlAudit)),
//! their statements go as one: on PostgreSQL one statement whose parts are data-modifying
//! `WITH` queries, on SQLite one prepared batch of statements run by one call to its worker
//! thread. Each store's own statement text is used, its parameters renumbered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::audit::AuditRecord;
use crate::error::Error;
use crate::idempotency::IdempotencyRecord;
use crate::outbox::OutboxEntry;
use crate::tx::Tx;
use crate::{AuditSink, IdempotencyStore, OutboxStore};

/// One command's records and the stores they go to: its outbox entries, its idempotency record
/// and its audit records. Written one call each they cost three round trips inside the
/// command's transaction; when every store given is a SQL store of the transaction's database
/// ([`SqlOutbox`](crate::outbox::SqlOutbox), [`SqlIdempotency`](crate::idempotency::SqlIdempotency),
/// [`SqlAudit`](crate::audit::SqlAudit)), [`write`](Self::write) sends their statements as one
/// (on PostgreSQL data-modifying `WITH` parts, on SQLite one batch), each store's own
/// statement text with its parameters renumbered.
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub struct CommandRecords<'a> {
    /// The outbox and the entries to enqueue.
    pub outbox: Option<(&'a (dyn OutboxStore + 'static), &'a [OutboxEntry])>,
    /// The idempotency store, the record to insert, and the time now (milliseconds).
    pub idempotency: Option<(
        &'a (dyn IdempotencyStore + 'static),
        &'a IdempotencyRecord,
        i64,
    )>,
    /// The audit sink and the records.
    pub audit: Option<(&'a (dyn AuditSink + 'static), &'a [AuditRecord])>,
}

impl std::fmt::Debug for CommandRecords<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandRecords")
            .field("entries", &self.outbox.map_or(0, |(_, e)| e.len()))
            .field("idempotency", &self.idempotency.map(|(_, r, _)| &r.key))
            .field("audit", &self.audit.map_or(0, |(_, r)| r.len()))
            .finish()
    }
}

/// Which write of [`CommandRecords::write`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// The outbox's enqueue.
    #[error("the outbox: {0}")]
    Outbox(#[source] Error),
    /// The idempotency record's insert.
    #[error("the idempotency store: {0}")]
    Idempotency(#[source] Error),
    /// The audit records.
    #[error("the audit sink: {0}")]
    Audit(#[source] Error),
    /// The one statement writing all of them.
    #[error("the command's records: {0}")]
    Together(#[source] Error),
}

impl CommandRecords<'_> {
    /// Write the records inside `tx` (when given; each store must be able to join it, or its
    /// part fails with [`Error::ForeignTransaction`]): in one statement when every store is
    /// a SQL store of `tx`'s database, else one call each, the idempotency record first.
    /// `Ok(false)` when the idempotency record could not be inserted (its key holds an
    /// unexpired record): the caller must then roll the transaction back, since the other
    /// records may have been written in it.
    pub async fn write(&self, tx: Option<&Tx>) -> Result<bool, RecordsError> {
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        let _ = tx;
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        if let Some(tx) = tx
            && usize::from(self.outbox.is_some_and(|(_, e)| !e.is_empty()))
                + usize::from(self.idempotency.is_some())
                + usize::from(self.audit.is_some_and(|(_, r)| !r.is_empty()))
                > 1
        {
            #[cfg(feature = "sqlite")]
            if let Some(written) = sql::together::<sqlx::Sqlite>(self, tx).await {
                return written.map_err(RecordsError::Together);
            }
            #[cfg(feature = "postgres")]
            if let Some(written) = sql::together::<sqlx::Postgres>(self, tx).await {
                return written.map_err(RecordsError::Together);
            }
        }
        let mut inserted = true;
        if let Some((store, record, now)) = self.idempotency {
            inserted = store
                .insert(tx, record, now)
                .await
                .map_err(RecordsError::Idempotency)?;
            if !inserted {
                return Ok(false);
            }
        }
        if let Some((outbox, entries)) = self.outbox
            && !entries.is_empty()
        {
            outbox
                .enqueue(tx, entries)
                .await
                .map_err(RecordsError::Outbox)?;
        }
        if let Some((sink, records)) = self.audit {
            sink.record(tx, records)
                .await
                .map_err(RecordsError::Audit)?;
        }
        Ok(inserted)
    }
}

/// Statements combined so far, by their parts' statement texts.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
type Combined = Mutex<HashMap<Vec<String>, Arc<str>>>;

/// `sql` with each parameter `<sigil><n>` numbered `n + offset`.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
fn renumber(sql: &str, sigil: char, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != sigil {
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        if let Ok(n) = digits.parse::<usize>() {
            out.push_str(&(n + offset).to_string());
        } else {
            out.push_str(&digits);
        }
    }
    out
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql {
    use std::sync::{Arc, OnceLock, PoisonError};

    use super::{Combined, CommandRecords, anonymous, renumber};
    use crate::audit::SqlAudit;
    use crate::error::Result;
    use crate::idempotency::SqlIdempotency;
    use crate::outbox::SqlOutbox;
    use crate::store::sql::{Args, Backend, db_error, to_text};
    use crate::tx::Tx;
    use crate::types::Binder;

    const OWNER: &str = "command records";

    /// The records written in one statement, if every store is a SQL store on `DB` of `tx`'s
    /// database; `None` when they are not (the caller writes them one by one).
    pub(super) async fn together<DB: Backend>(
        records: &CommandRecords<'_>,
        tx: &Tx,
    ) -> Option<Result<bool>> {
        let outbox = match records.outbox {
            Some((store, entries)) if !entries.is_empty() => {
                Some((store.as_any()?.downcast_ref::<SqlOutbox<DB>>()?, entries))
            }
            _ => None,
        };
        let idempotency = match records.idempotency {
            Some((store, record, now)) => Some((
                store.as_any()?.downcast_ref::<SqlIdempotency<DB>>()?,
                record,
                now,
            )),
            None => None,
        };
        let audit = match records.audit {
            Some((sink, batch)) if !batch.is_empty() => {
                Some((sink.as_any()?.downcast_ref::<SqlAudit<DB>>()?, batch))
            }
            _ => None,
        };
        // Every store of the transaction's database, or none of this path.
        let joins = outbox.is_none_or(|(o, _)| o.source().join(tx).is_ok())
            && idempotency.is_none_or(|(i, _, _)| i.source().join(tx).is_ok())
            && audit.is_none_or(|(a, _)| a.source().join(tx).is_ok());
        if !joins {
            return None;
        }
        write::<DB>(tx, outbox, idempotency, audit)
            .await
            .transpose()
    }

    type Outbox<'a, DB> = Option<(&'a SqlOutbox<DB>, &'a [crate::outbox::OutboxEntry])>;
    type Keyed<'a, DB> = Option<(
        &'a SqlIdempotency<DB>,
        &'a crate::idempotency::IdempotencyRecord,
        i64,
    )>;
    type Audit<'a, DB> = Option<(&'a SqlAudit<DB>, &'a [crate::audit::AuditRecord])>;

    /// The one statement (a boxed future: its `Send` is proven here, for the concrete
    /// lifetimes, which the compiler cannot do through the generic callers).
    fn write<'a, DB: Backend>(
        tx: &'a Tx,
        outbox: Outbox<'a, DB>,
        idempotency: Keyed<'a, DB>,
        audit: Audit<'a, DB>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<bool>>> + Send + 'a>>
    {
        Box::pin(write_unboxed::<DB>(tx, outbox, idempotency, audit))
    }

    async fn write_unboxed<DB: Backend>(
        tx: &Tx,
        outbox: Outbox<'_, DB>,
        idempotency: Keyed<'_, DB>,
        audit: Audit<'_, DB>,
    ) -> Result<Option<bool>> {
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        if let Some((store, _, _)) = idempotency {
            parts.push(store.insert_sql());
        }
        if let Some((store, _)) = outbox {
            parts.push(store.enqueue_sql());
        }
        if let Some((sink, _)) = audit {
            parts.push(sink.insert_sql());
        }
        let Some(sql) = combined::<DB>(&parts, idempotency.is_some()) else {
            return Ok(None);
        };
        let result = match idempotency {
            Some((_, record, _)) => Some(to_text(OWNER, &record.result)?),
            None => None,
        };
        let entries = match outbox {
            Some((store, entries)) => Some(store.batch_json(entries)?),
            None => None,
        };
        let batch = match audit {
            Some((_, records)) => Some(crate::audit::sql_batch_json(records)?),
            None => None,
        };
        let now = idempotency.map_or(0, |(_, _, now)| now);
        // Any store's source reaches the transaction's connection.
        let source = match (outbox, idempotency, audit) {
            (Some((o, _)), _, _) => o.source(),
            (_, Some((i, _, _)), _) => i.source(),
            (_, _, Some((a, _))) => a.source(),
            _ => return Ok(Some(true)),
        };
        let mut guard = source.acquire_in(Some(tx)).await?;
        let mut args = Args::<DB>::new();
        if let (Some((_, record, _)), Some(result)) = (idempotency, &result) {
            crate::idempotency::bind_insert(&mut args, record, result, &now);
        }
        for json in [&entries, &batch].into_iter().flatten() {
            args.bind(json);
        }
        let args = args.finish(OWNER)?;
        let rows = DB::fetch_all(guard.conn()?, &sql, args, |_| Ok(()))
            .await
            .map_err(|e| db_error(OWNER, None, e))?;
        Ok(Some(idempotency.is_none() || !rows.is_empty()))
    }

    /// The statement of `parts` (the idempotency insert first, when `keyed`), combined once
    /// per set of statement texts.
    fn combined<DB: Backend>(parts: &[&str], keyed: bool) -> Option<Arc<str>> {
        static CACHE: OnceLock<Combined> = OnceLock::new();
        let key: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
        let cache = CACHE.get_or_init(Default::default);
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sql) = cache.get(&key) {
            return Some(sql.clone());
        }
        let postgres = <DB as sqlx::Database>::NAME == "PostgreSQL";
        let sql: Arc<str> = if postgres {
            let mut offset = 0;
            let ctes: Vec<String> = parts
                .iter()
                .enumerate()
                .map(|(i, part)| {
                    let cte = format!("\"part{i}\" AS ({})", renumber(part, '$', offset));
                    offset += if keyed && i == 0 { 7 } else { 1 };
                    cte
                })
                .collect();
            let last = if keyed {
                "SELECT 1 FROM \"part0\""
            } else {
                "SELECT 1"
            };
            format!("WITH {} {last}", ctes.join(", ")).into()
        } else {
            // sqlx binds a batch's numbered parameters by their number over all the
            // statements only while each statement's highest number is its count: a
            // statement of `?9` alone would take eight arguments for the unused `?1`..`?8`.
            // Anonymous parameters, numbered in turn across the batch, bind as written.
            let anonymous: Option<Vec<String>> = parts.iter().map(|p| anonymous(p)).collect();
            anonymous?.join("; ").into()
        };
        cache.insert(key, sql.clone());
        Some(sql)
    }
}

/// `sql` with its parameters `?1`, `?2`, ... written `?`, if they appear once each, in order.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn anonymous(sql: &str) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut next = 1;
    let mut rest = sql;
    while let Some(at) = rest.find('?') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if rest[..digits].parse::<usize>().ok()? != next {
            return None;
        }
        next += 1;
        rest = &rest[digits..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{anonymous, renumber};

    #[test]
    fn numbered_parameters_in_order_become_anonymous() {
        assert_eq!(
            anonymous("VALUES (?1, ?2) WHERE x <= ?3").as_deref(),
            Some("VALUES (?, ?) WHERE x <= ?")
        );
        assert_eq!(anonymous("VALUES (?2, ?1)"), None);
        assert_eq!(anonymous("VALUES (?1, ?1)"), None);
        assert_eq!(anonymous("VALUES (?)"), None);
    }

    #[test]
    fn parameters_are_renumbered_and_nothing_else() {
        assert_eq!(
            renumber("SELECT $1, $2::jsonb, '$.x', $10", '$', 7),
            "SELECT $8, $9::jsonb, '$.x', $17"
        );
        assert_eq!(
            renumber("SELECT \"value\" ->> '$.id' FROM json_each(?1)", '?', 8),
            "SELECT \"value\" ->> '$.id' FROM json_each(?9)"
        );
    }
}
