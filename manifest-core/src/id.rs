//! Id generation: UUIDv7 by default, or a generator the application supplies.

use std::fmt;
use std::sync::Arc;

use crate::error::BoxDynError;

/// Makes ids for rows created without one (the seed's `generateId`).
///
/// The default is **UUIDv7**: unique without coordination like v4, but its leading 48 bits are
/// a millisecond timestamp, so new ids land at the right edge of the `(tenant, id)` B-tree
/// instead of on random pages, and `get_all` (ordered by id) comes back in creation order.
#[derive(Clone, Default)]
pub struct IdGenerator(Kind);

#[derive(Clone, Default)]
enum Kind {
    #[default]
    UuidV7,
    UuidV4,
    Custom(Arc<dyn Fn() -> String + Send + Sync>),
}

impl IdGenerator {
    /// UUIDv7 (the default).
    pub fn uuid_v7() -> Self {
        IdGenerator(Kind::UuidV7)
    }

    /// UUIDv4: random, for when ids must not reveal creation time.
    pub fn uuid_v4() -> Self {
        IdGenerator(Kind::UuidV4)
    }

    /// A generator of the application's own. For entities whose id is a `Uuid`, its output
    /// must parse as one, or the create fails with [`Error::InvalidKey`](crate::Error::InvalidKey).
    pub fn from_fn(f: impl Fn() -> String + Send + Sync + 'static) -> Self {
        IdGenerator(Kind::Custom(Arc::new(f)))
    }

    /// A new id as text.
    pub fn generate_string(&self) -> String {
        match &self.0 {
            Kind::UuidV7 => uuid::Uuid::now_v7().to_string(),
            Kind::UuidV4 => uuid::Uuid::new_v4().to_string(),
            Kind::Custom(f) => f(),
        }
    }

    /// A new id as a UUID.
    pub fn generate_uuid(&self) -> Result<uuid::Uuid, BoxDynError> {
        match &self.0 {
            Kind::UuidV7 => Ok(uuid::Uuid::now_v7()),
            Kind::UuidV4 => Ok(uuid::Uuid::new_v4()),
            Kind::Custom(f) => {
                let text = f();
                text.parse()
                    .map_err(|e| format!("generated id `{text}` is not a uuid: {e}").into())
            }
        }
    }
}

impl fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Kind::UuidV7 => "IdGenerator(uuid v7)",
            Kind::UuidV4 => "IdGenerator(uuid v4)",
            Kind::Custom(_) => "IdGenerator(custom)",
        })
    }
}
