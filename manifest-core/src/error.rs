//! The one error type of the crate.

/// A boxed error from a lower layer (the database driver, a value encoder, an id generator).
pub type BoxDynError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a store can fail with.
///
/// Domain failures carry the entity and the values involved; failures from below keep their
/// source. Nothing is written when an operation returns an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A row's data names a tenant other than the one the store is bound to.
    #[error(
        "{entity}: the row names tenant `{found}` but the store is bound to tenant `{expected}`"
    )]
    TenantMismatch {
        /// The entity name.
        entity: String,
        /// The store's tenant.
        expected: String,
        /// The tenant the row named.
        found: String,
    },
    /// An update expected another version of the row than the stored one.
    #[error("{entity} `{id}`: version conflict: expected version {expected}, found {actual}")]
    VersionConflict {
        /// The entity name.
        entity: String,
        /// The row's id.
        id: String,
        /// The version the update expected.
        expected: i64,
        /// The version that is stored.
        actual: i64,
    },
    /// An update of a versioned entity did not say which version it expects.
    #[error("{entity} `{id}`: an update of a versioned entity must name the version it expects")]
    VersionRequired {
        /// The entity name.
        entity: String,
        /// The row's id.
        id: String,
    },
    /// A create used an id that this tenant already has.
    #[error("{entity} `{id}` already exists")]
    DuplicateId {
        /// The entity name.
        entity: String,
        /// The id.
        id: String,
    },
    /// A value is not a valid id (or tenant) for the entity's key type, or the id generator failed.
    #[error("{entity}: `{value}` is not a valid key: {source}")]
    InvalidKey {
        /// The entity name.
        entity: String,
        /// The offending value.
        value: String,
        /// Why it is not valid.
        #[source]
        source: BoxDynError,
    },
    /// An update tried to change the row's id or tenant.
    #[error("{entity}: field `{field}` cannot be changed by an update")]
    ImmutableField {
        /// The entity name.
        entity: String,
        /// The field.
        field: String,
    },
    /// Data named a field the entity does not have.
    #[error("{entity}: unknown field `{field}`")]
    UnknownField {
        /// The entity name.
        entity: String,
        /// The field.
        field: String,
    },
    /// Dynamic data could not be turned into the entity's type, or back.
    #[error("{entity}: invalid data: {source}")]
    InvalidData {
        /// The entity name.
        entity: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
    /// Dynamic data (an [`EntityInstance`](crate::EntityInstance)'s fields or patch) has an
    /// object key, at any depth, containing the character U+0000. PostgreSQL cannot store it in
    /// `JSONB` and SQLite's JSON functions cut the key short there (merging it into another key),
    /// so every store refuses it alike, before anything is written.
    #[error("{entity}: the key {key:?} contains the character U+0000, which cannot be stored")]
    NulInKey {
        /// The entity name.
        entity: String,
        /// The key, as given.
        key: String,
    },
    /// A value could not be set (for example a version past its integer type's range).
    #[error("{entity}: invalid value for `{field}`: {source}")]
    InvalidValue {
        /// The entity name.
        entity: String,
        /// The field.
        field: String,
        /// Why.
        #[source]
        source: BoxDynError,
    },
    /// A stored column could not be decoded into its field's type.
    #[error("{entity}: cannot decode column `{column}`: {source}")]
    Decode {
        /// The entity name.
        entity: String,
        /// The column.
        column: String,
        /// What the driver reported.
        #[source]
        source: BoxDynError,
    },
    /// A value could not be encoded for the database.
    #[error("{entity}: cannot encode a value: {source}")]
    Encode {
        /// The entity name.
        entity: String,
        /// What the encoder reported.
        #[source]
        source: BoxDynError,
    },
    /// A name given at run time cannot be used as a SQL name: a `DocumentStore` table name that
    /// is not `[A-Za-z_][A-Za-z0-9_]*`, is longer than 63 bytes, or starts with `sqlite_`; or an
    /// entity name without a default table, as it is not in PascalCase (ASCII letters and
    /// digits, each word capitalised: `OrderItem`, not `order_item` or `ORDERItem`, which would
    /// share its table `order_item`). Such an entity names its table explicitly.
    #[error("{entity}: `{name}` cannot be its table name: {reason}")]
    InvalidName {
        /// The entity name.
        entity: String,
        /// The rejected table name (for a default one, the entity name in snake_case).
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The table already exists with other columns than the entity's (another entity's table,
    /// say), so creating it changed nothing and its rows would not be this entity's.
    #[error(
        "{entity}: table `{table}` already exists with other columns: expected {}, found {}",
        .expected.join(", "),
        .found.join(", ")
    )]
    TableShape {
        /// The entity name.
        entity: String,
        /// The table.
        table: String,
        /// The entity's columns, in its order.
        expected: Vec<String>,
        /// The table's columns, in the table's order.
        found: Vec<String>,
    },
    /// The store cannot do this operation. [`Store::update_if`](crate::Store::update_if) says so
    /// rather than fall back to a check and a write that another writer could come between: a
    /// store that cannot check and write atomically (for example a typed store of an entity
    /// without a `#[manifest(version)]` field) returns this, and the caller chooses what to do
    /// (the runtime engine then relies on its in-process lock).
    #[error("{entity}: this store does not support `{operation}`")]
    Unsupported {
        /// The entity name.
        entity: String,
        /// The operation (`update_if`).
        operation: &'static str,
    },
    /// The transaction or connection this store was bound to has been committed, rolled back
    /// or released.
    #[error("the transaction or connection of this store is already closed")]
    Closed,
    /// A [`Tx`](crate::Tx) of another database (or another backend) was given to a store,
    /// outbox, idempotency store or audit sink: nothing ran. Only stores made from the
    /// transaction's [`SqlDb`](crate::SqlDb), or a clone of it, run inside it.
    #[error("the transaction given belongs to another database than this store's")]
    ForeignTransaction,
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[source] BoxDynError),
}

impl Error {
    /// A driver error, its source kept (for custom stores and code beside the built-in ones).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub fn database(e: sqlx::Error) -> Self {
        Error::Database(Box::new(e))
    }

    /// Name the entity in an error raised where its name was not known.
    pub(crate) fn for_entity(mut self, name: &str) -> Self {
        if let Error::ImmutableField { entity, .. } | Error::UnknownField { entity, .. } = &mut self
            && entity.is_empty()
        {
            name.clone_into(entity);
        }
        self
    }

    pub(crate) fn invalid_key(entity: &str, value: impl ToString, source: BoxDynError) -> Self {
        Error::InvalidKey {
            entity: entity.to_owned(),
            value: value.to_string(),
            source,
        }
    }
}
