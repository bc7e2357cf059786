//! [`SqlOutbox`]: placeholder, implemented by the write-path work.

/// Placeholder.
#[derive(Debug)]
pub struct SqlOutbox<DB>(std::marker::PhantomData<DB>);
