//! What a unit of work holds: [`SqlSession`] (one connection) and [`SqlTransaction`] (one
//! transaction), shared by the stores made from them, and [`SqlConnection`], their connection
//! lent for the application's own statements.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::{Database, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use super::db::{DbId, Held, Source};
use super::document::{DocumentCache, DocumentStore};
use super::{Backend, GatePass, SqlDb, SqlStore};
use crate::entity::ManifestEntity;
use crate::error::{Error, Result};
use crate::id::IdGenerator;
use crate::tx::Tx;

/// A held connection or transaction and the database's id generator and document
/// statements, shared by the stores made from it.
pub(super) struct Shared<DB: Backend> {
    pub(super) held: Arc<Mutex<Held<DB>>>,
    pub(super) db: DbId,
    ids: IdGenerator,
    documents: DocumentCache,
}

impl<DB: Backend> Clone for Shared<DB> {
    fn clone(&self) -> Self {
        Shared {
            held: self.held.clone(),
            db: self.db,
            ids: self.ids.clone(),
            documents: self.documents.clone(),
        }
    }
}

impl<DB: Backend> Shared<DB> {
    pub(super) fn new(held: Held<DB>, db: &SqlDb<DB>) -> Self {
        Shared {
            held: Arc::new(Mutex::new(held)),
            db: db.db,
            ids: db.ids.clone(),
            documents: db.documents.clone(),
        }
    }

    fn source(&self) -> Source<DB> {
        Source::Held(self.held.clone(), self.db)
    }

    fn store<T: ManifestEntity>(&self, tenant: T::Tenant) -> SqlStore<DB, T> {
        SqlStore::new(self.source(), tenant, self.ids.clone())
    }

    async fn connection(&self) -> Result<SqlConnection<'_, DB>> {
        MutexGuard::try_map(self.held.lock().await, |held| match held {
            Held::Connection(conn) => Some(&mut **conn),
            Held::Transaction(tx, _) => Some(&mut **tx),
            Held::Closed => None,
        })
        .map(SqlConnection)
        .map_err(|_| Error::Closed)
    }

    fn document_store(
        &self,
        entity: &str,
        table: Option<&str>,
        tenant: String,
    ) -> Result<DocumentStore<DB>> {
        Ok(DocumentStore::new(
            self.source(),
            self.documents.get::<DB>(entity, table)?,
            tenant,
            self.ids.clone(),
        ))
    }
}

/// The connection of a [`SqlSession`] or [`SqlTransaction`], lent for the application's own
/// statements: it dereferences to the sqlx connection, so `sqlx::query(..).execute(&mut *conn)`
/// runs on it (inside the transaction, for a transaction's).
///
/// While it is alive, the session's or transaction's stores wait for it: drop it before using
/// them again (in the same task, an operation on one of them would wait forever).
pub struct SqlConnection<'a, DB: Database>(MappedMutexGuard<'a, DB::Connection>);

impl<DB: Database> Deref for SqlConnection<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.0
    }
}

impl<DB: Database> DerefMut for SqlConnection<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.0
    }
}

impl<DB: Database> fmt::Debug for SqlConnection<'_, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlConnection")
            .field("backend", &<DB as Database>::NAME)
            .finish_non_exhaustive()
    }
}

/// One connection held for a unit of work. See [`SqlDb::acquire`].
pub struct SqlSession<DB: Backend>(pub(super) Shared<DB>);

impl<DB: Backend> SqlSession<DB> {
    /// The held connection, for the application's own statements between the stores' ones:
    /// `sqlx::query(..).execute(&mut *session.connection().await?)`. [`Error::Closed`] never
    /// happens for a session; see [`SqlConnection`] for how long to keep it.
    pub async fn connection(&self) -> Result<SqlConnection<'_, DB>> {
        self.0.connection().await
    }

    /// `T`'s store for `tenant` on this connection.
    pub fn store<T: ManifestEntity>(&self, tenant: impl Into<T::Tenant>) -> SqlStore<DB, T> {
        self.0.store(tenant.into())
    }

    /// The [`DocumentStore`] of `entity` for `tenant` on this connection (see
    /// [`SqlDb::document_store`]).
    pub fn document_store(
        &self,
        entity: &str,
        tenant: impl Into<String>,
    ) -> Result<DocumentStore<DB>> {
        self.0.document_store(entity, None, tenant.into())
    }

    /// [`document_store`](Self::document_store) with the table named `table`.
    pub fn document_store_in(
        &self,
        entity: &str,
        table: &str,
        tenant: impl Into<String>,
    ) -> Result<DocumentStore<DB>> {
        self.0.document_store(entity, Some(table), tenant.into())
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
pub struct SqlTransaction<DB: Backend>(pub(super) Shared<DB>);

impl<DB: Backend> SqlTransaction<DB> {
    /// The transaction's connection, for the application's own statements: they run inside
    /// the transaction and commit or roll back with the stores' writes.
    /// `sqlx::query(..).execute(&mut *tx.connection().await?)`. See [`SqlConnection`] for how
    /// long to keep it.
    pub async fn connection(&self) -> Result<SqlConnection<'_, DB>> {
        self.0.connection().await
    }

    /// `T`'s store for `tenant` inside this transaction.
    pub fn store<T: ManifestEntity>(&self, tenant: impl Into<T::Tenant>) -> SqlStore<DB, T> {
        self.0.store(tenant.into())
    }

    /// The [`DocumentStore`] of `entity` for `tenant` inside this transaction (see
    /// [`SqlDb::document_store`]).
    pub fn document_store(
        &self,
        entity: &str,
        tenant: impl Into<String>,
    ) -> Result<DocumentStore<DB>> {
        self.0.document_store(entity, None, tenant.into())
    }

    /// [`document_store`](Self::document_store) with the table named `table`.
    pub fn document_store_in(
        &self,
        entity: &str,
        table: &str,
        tenant: impl Into<String>,
    ) -> Result<DocumentStore<DB>> {
        self.0.document_store(entity, Some(table), tenant.into())
    }

    /// A handle on this transaction for the traits that take one: the
    /// [`Store::in_transaction`](crate::Store::in_transaction) of any store of this
    /// database, and the write path's outbox, idempotency and audit stores.
    pub fn tx(&self) -> Tx {
        Tx::new(self.0.clone())
    }

    /// The transaction, and the write gate it holds until it has ended.
    async fn take(&self) -> Result<(Transaction<'static, DB>, GatePass)> {
        match std::mem::replace(&mut *self.0.held.lock().await, Held::Closed) {
            Held::Transaction(tx, pass) => Ok((tx, pass)),
            _ => Err(Error::Closed),
        }
    }

    /// Commit every write made through this transaction's stores.
    pub async fn commit(self) -> Result<()> {
        let (tx, _pass) = self.take().await?;
        tx.commit().await.map_err(Error::database)
    }

    /// Undo every write made through this transaction's stores.
    pub async fn rollback(self) -> Result<()> {
        let (tx, _pass) = self.take().await?;
        tx.rollback().await.map_err(Error::database)
    }
}

impl<DB: Backend> fmt::Debug for SqlTransaction<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlTransaction")
            .field("backend", &<DB as Database>::NAME)
            .finish_non_exhaustive()
    }
}
