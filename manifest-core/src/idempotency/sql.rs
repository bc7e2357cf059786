//! [`SqlIdempotency`]: placeholder, implemented by the write-path work.

/// Placeholder.
#[derive(Debug)]
pub struct SqlIdempotency<DB>(std::marker::PhantomData<DB>);
