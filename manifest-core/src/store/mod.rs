//! The [`Store`] contract and the stores that implement it.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::entity::{Entity, Key};
use crate::error::{Error, Result};
use crate::id::IdGenerator;

mod instance;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql;

pub use instance::{EntityInstance, InstanceStore};
pub use memory::MemoryStore;

/// How stores take an id: `&str` for a `String` key (see [`Key::Ref`]).
pub(crate) type IdRef<T> = <<T as Entity>::Id as Key>::Ref;

/// Which of the tenant's rows [`Store::list`] reads, and in what order.
///
/// ```
/// # use manifest_core::{List, ManifestEntity, MemoryStore, Store};
/// # #[derive(Debug, Clone, ManifestEntity)]
/// # struct Note { id: String, tenant_id: String }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let store = MemoryStore::<Note>::new("acme".to_owned());
/// # for id in ["a", "b", "c"] {
/// #     store.create(Note { id: id.into(), tenant_id: String::new() }).await?;
/// # }
/// // Page through the tenant's rows, two at a time, in id order.
/// let mut after = None;
/// let mut pages = Vec::new();
/// loop {
///     let page = store.list(List::Page { after, limit: 2 }).await?;
///     let Some(last) = page.last() else { break };
///     after = Some(last.id.clone());
///     pages.push(page.len());
/// }
/// assert_eq!(pages, [2, 1]);
/// # Ok::<(), manifest_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum List<Id> {
    /// Every row, in whatever order the store finds them: no sort (on SQL, no `ORDER BY`),
    /// the cheapest full scan.
    All,
    /// Every row, ordered by id: what [`Store::get_all`] reads.
    ById,
    /// Keyset pagination: at most `limit` rows whose id is greater than `after`, ordered by id
    /// (on SQL `WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`, a range scan of the primary
    /// key). Pass the last id of a page as `after` of the next; `None` starts at the first row
    /// (after the unset id, which no store creates).
    Page {
        /// The last id of the previous page, or `None` for the first page.
        after: Option<Id>,
        /// How many rows at most.
        limit: u32,
    },
}

/// The outcome of [`Store::update_if`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[must_use]
pub enum Conditional<T> {
    /// The row was still the one the caller read: the patch is applied, and this is the row as
    /// stored.
    Updated(T),
    /// The row has changed since the caller read it (another write came between): nothing was
    /// written. Read it again and decide again.
    Changed,
    /// The tenant has no row with this id (it was deleted, or never existed): nothing was
    /// written.
    Missing,
}

/// The persistence contract: one store per entity, bound to one tenant.
///
/// Every operation sees and changes the bound tenant's rows only. A row is keyed by
/// `(tenant, id)`, so two tenants may use the same id. Neither the id nor the tenant of a row
/// can be changed by [`update`](Store::update) (the typed patch has no such fields), and a
/// [`create`](Store::create) whose data names another tenant fails with
/// [`Error::TenantMismatch`]. An operation that returns an error has written nothing.
///
/// The trait is object-safe: a runtime holds stores as `Arc<dyn Store<T>>`.
#[async_trait]
pub trait Store<T: Entity>: Debug + Send + Sync {
    /// The entity name (used in errors and by the runtime's store provider).
    fn entity(&self) -> &str;

    /// The tenant this store is bound to.
    fn tenant(&self) -> &T::Tenant;

    /// For a store that serves a `#[derive(ManifestEntity)]` struct as dynamic instances
    /// ([`InstanceStore`]): the struct's name and column mapping, which the runtime checks
    /// against the IR entity when the store is bound. `None` for every other store.
    fn typed_columns(&self) -> Option<(&'static str, &'static [crate::entity::Column])> {
        None
    }

    /// This store inside the transaction `tx`: the same entity and tenant, every statement
    /// on the transaction's connection. `Some` for a SQL store made from the same
    /// [`SqlDb`](crate::SqlDb) (or a clone of it) as `tx`, and for an [`InstanceStore`] over
    /// one; `None` (the default) for any other store, which cannot join it: a caller then
    /// runs it outside the transaction.
    fn in_transaction(&self, tx: &crate::Tx) -> Option<std::sync::Arc<dyn Store<T>>>
    where
        T: 'static,
    {
        let _ = tx;
        None
    }

    /// Every row of this tenant, ordered by id. A scan that needs no order saves the sort with
    /// [`list`](Store::list)`(List::All)`; a page of rows is `list(List::Page { .. })`.
    async fn get_all(&self) -> Result<Vec<T>>;

    /// This tenant's rows as `list` says: all of them unordered, all by id, or one page by id.
    ///
    /// The default reads [`get_all`](Store::get_all) and takes the page from it; this crate's
    /// stores read only what is asked for.
    async fn list(&self, list: List<T::Id>) -> Result<Vec<T>> {
        let rows = self.get_all().await?;
        Ok(match list {
            List::All | List::ById => rows,
            List::Page { after, limit } => rows
                .into_iter()
                .filter(|row| after.as_ref().is_none_or(|after| row.id() > after))
                .take(limit as usize)
                .collect(),
        })
    }

    /// The row with this id, or `None`.
    async fn get_by_id(&self, id: &<T::Id as Key>::Ref) -> Result<Option<T>>;

    /// The rows of this tenant whose field `field` holds `value`, ordered by id: what a
    /// runtime asks for a `hasMany`/`hasOne` relationship (the children whose foreign key is
    /// the parent's id), so that it reads the matching rows only.
    ///
    /// `field` names a field of the entity's dynamic form (a property name); the comparison is
    /// JSON equality of the field's value. A store may return a superset (a caller that needs
    /// exact JavaScript equality filters again), never a subset.
    ///
    /// The [`DocumentStore`](crate::DocumentStore)s query `WHERE tenant_id = $1 AND <field> =
    /// $2` on an expression index (`SqlDb::create_document_index`). The default returns
    /// [`Error::Unsupported`]: a caller then reads [`get_all`](Store::get_all) and filters, so
    /// a custom store keeps working, at the cost of a scan.
    async fn find_by(&self, field: &str, value: &serde_json::Value) -> Result<Vec<T>> {
        let _ = (field, value);
        Err(Error::Unsupported {
            entity: self.entity().to_owned(),
            operation: "find_by",
        })
    }

    /// Store a new row and return it as stored. An unset id (empty string, nil UUID) is
    /// generated; an unset tenant is the store's; a version of 0 is stored as 1.
    /// Fails with [`Error::DuplicateId`] if the tenant already has the id.
    async fn create(&self, data: T) -> Result<T>;

    /// Change the fields the patch sets and return the row as stored, or `None` if there is no
    /// such row. For a versioned entity the patch must name the version it expects
    /// ([`Error::VersionRequired`]); a stale one fails with [`Error::VersionConflict`], and the
    /// version is bumped in the same statement.
    async fn update(&self, id: &<T::Id as Key>::Ref, patch: T::Patch) -> Result<Option<T>>;

    /// Delete the row; `false` if there was none.
    async fn delete(&self, id: &<T::Id as Key>::Ref) -> Result<bool>;

    /// Apply `patch` as [`update`](Store::update) does, but only if the stored row is still
    /// `expected`, the row as the caller read it (from [`get_by_id`](Store::get_by_id) or an
    /// earlier update), and atomically: no other write, from this process or any other sharing
    /// the database, can come between the check and the write. This is what a read, decide,
    /// write cycle needs to never lose an update: on [`Conditional::Changed`] read again and
    /// decide again.
    ///
    /// What "still `expected`" means depends on the store: the memory store asks
    /// [`Entity::same_row`]; a typed store of a versioned entity compares the version (the
    /// patch must expect `expected`'s version, [`Error::InvalidValue`] otherwise, checked
    /// before anything is read); a [`DocumentStore`](crate::DocumentStore) compares the JSON
    /// data (key order aside) in the `UPDATE` statement itself; an
    /// [`InstanceStore`] asks the typed store it wraps.
    ///
    /// The default returns [`Error::Unsupported`]: a store that cannot check and write
    /// atomically must say so rather than check, then write, and so let another write slip
    /// between. The typed stores of entities without a version field are such stores.
    async fn update_if(
        &self,
        id: &<T::Id as Key>::Ref,
        expected: &T,
        patch: T::Patch,
    ) -> Result<Conditional<T>> {
        let _ = (id, expected, patch);
        Err(Error::Unsupported {
            entity: self.entity().to_owned(),
            operation: "update_if",
        })
    }

    /// Delete every row of this tenant (and no other); returns how many.
    async fn clear(&self) -> Result<u64>;
}

/// Fill in what `create` fills in and check the tenant. Shared by every store.
pub(crate) fn prepare_create<T: Entity>(
    entity: &str,
    tenant: &T::Tenant,
    ids: &IdGenerator,
    row: &mut T,
) -> Result<()> {
    row.check(entity)?;
    if let Some(row_tenant) = row.tenant_mut() {
        if row_tenant.is_unset() {
            *row_tenant = tenant.clone();
        } else if row_tenant != tenant {
            return Err(Error::TenantMismatch {
                entity: entity.to_owned(),
                expected: tenant.to_string(),
                found: row_tenant.to_string(),
            });
        }
    }
    if row.id().is_unset() {
        *row.id_mut() = <T::Id as Key>::generate(ids)
            .map_err(|e| Error::invalid_key(entity, "<generated>", e))?;
    }
    if row.version() == Some(0) {
        row.set_version(1).map_err(|source| Error::InvalidValue {
            entity: entity.to_owned(),
            field: "version".to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// The expected version of a versioned entity's update, or the error for its absence.
pub(crate) fn expected_version<T: Entity>(
    entity: &str,
    id: &IdRef<T>,
    versioned: bool,
    patch: &T::Patch,
) -> Result<Option<i64>> {
    match (versioned, T::expected_version(patch)) {
        (true, None) => Err(Error::VersionRequired {
            entity: entity.to_owned(),
            id: id.to_string(),
        }),
        (_, expected) => Ok(expected),
    }
}

/// `update_if` of a versioned entity on a typed store: the patch must expect the version of
/// the row the caller read. Unversioned entities cannot `update_if` there.
pub(crate) fn conditional_version<T: Entity>(
    entity: &str,
    id: &IdRef<T>,
    expected: &T,
    patch: &T::Patch,
) -> Result<()> {
    if !T::VERSIONED {
        return Err(Error::Unsupported {
            entity: entity.to_owned(),
            operation: "update_if",
        });
    }
    let named = expected_version::<T>(entity, id, true, patch)?;
    if named != expected.version() {
        return Err(Error::InvalidValue {
            entity: entity.to_owned(),
            field: "version".to_owned(),
            source: format!(
                "the patch expects version {} but the row read has version {}",
                named.map_or_else(|| "none".to_owned(), |v| v.to_string()),
                expected
                    .version()
                    .map_or_else(|| "none".to_owned(), |v| v.to_string()),
            )
            .into(),
        });
    }
    Ok(())
}
