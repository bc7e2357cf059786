//! [`MemoryAudit`]: placeholder, implemented by the write-path work.

/// Placeholder.
#[derive(Debug, Default)]
pub struct MemoryAudit;
