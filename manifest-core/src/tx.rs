//! [`Tx`]: a database transaction that stores, outboxes, idempotency stores and audit sinks of
//! one database join, whatever their types.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// A handle on an open transaction, made by
/// [`SqlTransaction::tx`](crate::SqlTransaction::tx), that the traits of this crate take so
/// that stores of any entity (and the write-path stores) can run inside one transaction.
///
/// A store joins it when it was made from the same [`SqlDb`](crate::SqlDb) (or a clone of
/// it) as the transaction: [`Store::in_transaction`](crate::Store::in_transaction) and the
/// write-path traits' `tx` arguments. Cloning it shares the transaction; it ends when its
/// [`SqlTransaction`](crate::SqlTransaction) commits or rolls back.
#[derive(Clone)]
pub struct Tx(Arc<dyn Any + Send + Sync>);

impl Tx {
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn new<S: Any + Send + Sync>(shared: S) -> Self {
        Tx(Arc::new(shared))
    }

    /// The transaction's shared state, if it is of type `S` (a transaction of the backend
    /// `S` is for).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn get<S: Any>(&self) -> Option<&S> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}
