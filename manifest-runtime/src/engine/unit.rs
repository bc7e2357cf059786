//! [`Unit`]: the unit of work one command attempt runs in.
//!
//! On an engine whose [`Database`](super::Database) is SQLite or PostgreSQL, an attempt is one
//! database transaction ([`SqlDb::begin_for`](manifest_core::SqlDb::begin_for) of the engine's
//! tenant): every store that can join it ([`Store::in_transaction`](manifest_core::Store::in_transaction):
//! the document stores of the database, and provided SQL and instance stores made from the
//! same `SqlDb`) reads and writes in it, and so do the outbox, idempotency store and audit
//! sink, through its [`Tx`]. It commits or rolls back as a whole.
//!
//! Where no transaction exists (the engine's memory store, or a provided store that cannot
//! join one) the unit keeps an undo journal instead: each write it makes is recorded with the
//! row as it was, and a rollback puts the rows back (newest first) where they are still as
//! this attempt wrote them. That gives the same all-or-nothing result, though not isolation:
//! until the rollback, another command could read a row the attempt wrote.

use std::sync::{Arc, Mutex, PoisonError};

use super::rows::{Read, Rows};
use super::{Engine, RuntimeError};
use manifest_core::Tx;

/// A database transaction of one of the engine's backends.
pub(super) enum Txn {
    #[cfg(feature = "sqlite")]
    Sqlite(manifest_core::SqliteTransaction),
    #[cfg(feature = "postgres")]
    Postgres(manifest_core::PgTransaction),
}

impl Txn {
    fn tx(&self) -> Tx {
        // `*self`: without a SQL feature the enum is empty, and a match on a reference to it
        // is not exhaustive with no arms.
        match *self {
            #[cfg(feature = "sqlite")]
            Txn::Sqlite(ref tx) => tx.tx(),
            #[cfg(feature = "postgres")]
            Txn::Postgres(ref tx) => tx.tx(),
        }
    }

    async fn commit(self) -> manifest_core::Result<()> {
        match self {
            #[cfg(feature = "sqlite")]
            Txn::Sqlite(tx) => tx.commit().await,
            #[cfg(feature = "postgres")]
            Txn::Postgres(tx) => tx.commit().await,
        }
    }

    async fn rollback(self) -> manifest_core::Result<()> {
        match self {
            #[cfg(feature = "sqlite")]
            Txn::Sqlite(tx) => tx.rollback().await,
            #[cfg(feature = "postgres")]
            Txn::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// A write to undo on rollback: the entity, the instance, and the row before (none for one
/// the attempt created) and after.
struct Undo {
    index: usize,
    id: String,
    before: Option<Read>,
    after: Read,
}

/// One attempt's unit of work (see the [module docs](self)).
pub(super) struct Unit {
    txn: Option<(Txn, Tx)>,
    /// The stores used so far, by entity index, and whether each is bound to the transaction.
    bound: Mutex<Vec<(usize, Arc<Rows>, bool)>>,
    /// Writes outside the transaction, to undo on rollback.
    journal: Mutex<Vec<Undo>>,
    /// Whether writes are journaled (something after them may roll the attempt back).
    journaled: bool,
}

impl Unit {
    /// A unit with no transaction and no journal: each write stands on its own (the engine's
    /// operations outside commands).
    pub(super) fn direct() -> Self {
        Unit {
            txn: None,
            bound: Mutex::default(),
            journal: Mutex::default(),
            journaled: false,
        }
    }

    /// The transaction, if the attempt runs in one.
    pub(super) fn tx(&self) -> Option<&Tx> {
        self.txn.as_ref().map(|(_, tx)| tx)
    }

    /// Whether writes are recorded for a rollback.
    pub(super) fn journaled(&self) -> bool {
        self.journaled
    }

    /// Record a write of the entity at `index`, to undo on rollback unless the transaction
    /// holds it.
    pub(super) fn wrote(&self, index: usize, id: &str, before: Read, after: Read) {
        self.journal(index, id, Some(before), after);
    }

    /// Record the creation of instance `id` of the entity at `index`, to delete on rollback
    /// unless the transaction holds it.
    pub(super) fn created(&self, index: usize, id: &str, after: Read) {
        self.journal(index, id, None, after);
    }

    fn journal(&self, index: usize, id: &str, before: Option<Read>, after: Read) {
        let in_tx = self
            .bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(i, _, bound)| *i == index && *bound);
        if self.journaled && !in_tx {
            self.journal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Undo {
                    index,
                    id: id.to_owned(),
                    before,
                    after,
                });
        }
    }

    /// Commit the transaction; the journal is dropped.
    pub(super) async fn commit(self) -> Result<(), RuntimeError> {
        if let Some((txn, _)) = self.txn {
            txn.commit().await?;
        }
        Ok(())
    }

    /// Roll the attempt back: the transaction, then the journaled writes, newest first.
    /// `false` when a journaled write could not be undone (another writer changed its row
    /// since: its change, built on this attempt's, is kept).
    pub(super) async fn rollback(self, engine: &Engine) -> Result<bool, RuntimeError> {
        let journal =
            std::mem::take(&mut *self.journal.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some((txn, _)) = self.txn {
            txn.rollback().await?;
        }
        let mut restored = true;
        for undo in journal.into_iter().rev() {
            restored &= engine.rows[undo.index]
                .undo(&undo.id, undo.before, undo.after)
                .await?;
        }
        Ok(restored)
    }
}

impl Engine {
    /// Begin a command attempt's unit of work: a transaction of the engine's database when it
    /// is SQL, else a journal when `journaled` (something after a write may undo it).
    pub(super) async fn begin(&self, journaled: bool) -> Result<Unit, RuntimeError> {
        let tenant = self.tenant_id.as_deref().unwrap_or("");
        let txn = self.database.begin(tenant).await?;
        Ok(Unit {
            txn: txn.map(|txn| {
                let tx = txn.tx();
                (txn, tx)
            }),
            bound: Mutex::default(),
            journal: Mutex::default(),
            journaled,
        })
    }

    /// The unit of an operation outside commands: with
    /// [`row_level_security`](super::EngineBuilder::row_level_security) a transaction begun for
    /// the tenant (so the tables' policies let it through), else none (each statement on its
    /// own, as the stores run it).
    pub(super) async fn operation(&self) -> Result<Unit, RuntimeError> {
        if self.row_level_security {
            self.begin(false).await
        } else {
            Ok(Unit::direct())
        }
    }

    /// The store of the entity at `index` within `unit`: bound to its transaction when the
    /// store can join it, else the engine's own.
    pub(super) fn rows_in(&self, unit: &Unit, index: usize) -> Arc<Rows> {
        let base = &self.rows[index];
        let Some(tx) = unit.tx() else {
            return base.clone();
        };
        let mut bound = unit.bound.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, rows, _)) = bound.iter().find(|(i, _, _)| *i == index) {
            return rows.clone();
        }
        let (rows, joined) = match base.in_transaction(tx) {
            Some(rows) => (Arc::new(rows), true),
            None => (base.clone(), false),
        };
        bound.push((index, rows.clone(), joined));
        rows
    }
}
