//! [`SqlAudit`]: placeholder, implemented by the write-path work.

/// Placeholder.
#[derive(Debug)]
pub struct SqlAudit<DB>(std::marker::PhantomData<DB>);
