//! SQLite's one writer, queued in the process.
//!
//! SQLite lets one connection write at a time. A connection that finds the write lock taken
//! waits in SQLite's busy handler, which sleeps and retries (1, 2, 5, 10, 15, 20, 25 … 100 ms
//! between tries): under a dozen concurrent writers some wait many rounds, and a 4 ms command
//! answers in 100 ms. So the transactions of one [`SqlDb`](super::SqlDb) on SQLite, and the
//! outbox worker's writes, first take the database's write gate: a fair (first come, first
//! served) async queue of one, so each writer wakes the moment the one before it commits and
//! never meets the lock in SQLite. The busy handler stays for other processes writing to the
//! same file, and for the autocommit writes of stores used outside a transaction.
//!
//! PostgreSQL has row locks and many writers: its gate is open.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// How long a writer waits for the gate: SQLite's busy timeout, which it replaces.
pub(crate) const GATE_WAIT: Duration = Duration::from_secs(5);

/// The write gate of one database (shared by its clones); open when the backend has many
/// writers.
#[derive(Clone, Default)]
pub(crate) struct WriteGate(Option<Arc<Semaphore>>);

/// The gate held: the next writer enters when it drops.
pub(crate) type GatePass = Option<OwnedSemaphorePermit>;

impl WriteGate {
    /// A gate of one writer at a time when `one_writer`, else an open one.
    pub(crate) fn new(one_writer: bool) -> Self {
        WriteGate(one_writer.then(|| Arc::new(Semaphore::new(1))))
    }

    /// Wait for the gate (at most [`GATE_WAIT`]): [`Error::Database`] with "database is
    /// locked" after that, as SQLite's own busy timeout says it.
    pub(crate) async fn enter(&self) -> Result<GatePass> {
        let Some(gate) = &self.0 else {
            return Ok(None);
        };
        match tokio::time::timeout(GATE_WAIT, gate.clone().acquire_owned()).await {
            Ok(Ok(pass)) => Ok(Some(pass)),
            // The semaphore is never closed.
            Ok(Err(closed)) => Err(Error::Database(Box::new(closed))),
            Err(_) => Err(Error::Database(
                format!(
                    "database is locked: another writer of this database held it for {} s",
                    GATE_WAIT.as_secs()
                )
                .into(),
            )),
        }
    }
}
