//! [`MemoryStore`]: the contract over a `HashMap`, always compiled.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;

use super::{
    Conditional, IdRef, List, Store, conditional_version, expected_version, prepare_create,
};
use crate::entity::{Entity, ManifestEntity};
use crate::error::{Error, Result};
use crate::id::IdGenerator;

type Partition<T> = Arc<RwLock<HashMap<<T as Entity>::Id, T>>>;

/// An in-memory store: same contract and tenant rules as the SQL stores.
///
/// A `MemoryStore` is bound to one tenant; [`for_tenant`](MemoryStore::for_tenant) gives a store
/// of another tenant over the same data, as two SQL stores share one table. Each tenant's rows
/// sit in their own map, so no operation can reach another tenant's rows.
///
/// [`update_if`](Store::update_if) compares the stored row with the one read
/// ([`Entity::same_row`]) and writes under the same lock: it works for
/// [`EntityInstance`](crate::EntityInstance) rows and versioned entities, and is
/// [`Error::Unsupported`] for other types.
///
/// ```
/// # use manifest_core::{ManifestEntity, MemoryStore, Store};
/// #[derive(Debug, Clone, ManifestEntity)]
/// struct Note { id: String, tenant_id: String, text: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let acme = MemoryStore::<Note>::new("acme".to_string());
/// let globex = acme.for_tenant("globex".to_string());
/// let note = acme
///     .create(Note { id: String::new(), tenant_id: String::new(), text: "hi".into() })
///     .await?;
/// assert_eq!(note.tenant_id, "acme");
/// assert!(globex.get_by_id(&note.id).await?.is_none());
/// # Ok::<(), manifest_core::Error>(())
/// # }).unwrap();
/// ```
pub struct MemoryStore<T: Entity> {
    entity: Arc<str>,
    tenant: T::Tenant,
    tenants: Arc<Mutex<HashMap<T::Tenant, Partition<T>>>>,
    rows: Partition<T>,
    ids: IdGenerator,
}

impl<T: ManifestEntity> MemoryStore<T> {
    /// An empty store for `T`, bound to `tenant`.
    pub fn new(tenant: T::Tenant) -> Self {
        Self::named(T::ENTITY, tenant)
    }
}

impl<T: Entity> MemoryStore<T> {
    /// An empty store for the entity called `entity`, bound to `tenant`.
    pub fn named(entity: &str, tenant: T::Tenant) -> Self {
        let rows = Partition::<T>::default();
        let tenants = HashMap::from([(tenant.clone(), rows.clone())]);
        MemoryStore {
            entity: entity.into(),
            tenant,
            tenants: Arc::new(Mutex::new(tenants)),
            rows,
            ids: IdGenerator::default(),
        }
    }

    /// Use `ids` for rows created without an id.
    pub fn with_ids(mut self, ids: IdGenerator) -> Self {
        self.ids = ids;
        self
    }

    /// A store bound to `tenant` over the same data (and id generator) as this one.
    pub fn for_tenant(&self, tenant: T::Tenant) -> Self {
        let rows = self
            .tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tenant.clone())
            .or_default()
            .clone();
        MemoryStore {
            entity: self.entity.clone(),
            tenant,
            tenants: self.tenants.clone(),
            rows,
            ids: self.ids.clone(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<T::Id, T>> {
        // No code path panics while holding the lock, but a poisoned map is still consistent:
        // every write below replaces whole rows.
        self.rows.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<T::Id, T>> {
        self.rows.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// `update` of a row found under the write lock: the version checked and bumped, the patch
    /// applied to a copy, the copy stored. On an error the row is left as it was.
    fn apply_update(
        &self,
        id: &IdRef<T>,
        row: &mut T,
        expected: Option<i64>,
        patch: T::Patch,
    ) -> Result<T> {
        let mut next = row.clone();
        if let (Some(actual), Some(expected)) = (row.version(), expected) {
            if actual != expected {
                return Err(Error::VersionConflict {
                    entity: self.entity.to_string(),
                    id: id.to_string(),
                    expected,
                    actual,
                });
            }
            actual
                .checked_add(1)
                .ok_or_else(|| "the version is at its maximum".into())
                .and_then(|bumped| next.set_version(bumped))
                .map_err(|source| Error::InvalidValue {
                    entity: self.entity.to_string(),
                    field: "version".to_owned(),
                    source,
                })?;
        }
        next.apply(patch).map_err(|e| e.for_entity(&self.entity))?;
        *row = next.clone();
        Ok(next)
    }
}

impl<T: Entity> Clone for MemoryStore<T> {
    fn clone(&self) -> Self {
        MemoryStore {
            entity: self.entity.clone(),
            tenant: self.tenant.clone(),
            tenants: self.tenants.clone(),
            rows: self.rows.clone(),
            ids: self.ids.clone(),
        }
    }
}

impl<T: Entity> fmt::Debug for MemoryStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entity", &self.entity)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<T: Entity> Store<T> for MemoryStore<T> {
    fn entity(&self) -> &str {
        &self.entity
    }

    fn tenant(&self) -> &T::Tenant {
        &self.tenant
    }

    async fn get_all(&self) -> Result<Vec<T>> {
        self.list(List::ById).await
    }

    async fn list(&self, list: List<T::Id>) -> Result<Vec<T>> {
        let rows = self.read();
        let (after, limit) = match list {
            List::All => return Ok(rows.values().cloned().collect()),
            List::ById => (None, usize::MAX),
            List::Page { after, limit } => (after, limit as usize),
        };
        let mut page: Vec<&T> = rows
            .values()
            .filter(|row| after.as_ref().is_none_or(|after| row.id() > after))
            .collect();
        if page.len() > limit {
            page.select_nth_unstable_by(limit, |a, b| a.id().cmp(b.id()));
            page.truncate(limit);
        }
        page.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        Ok(page.into_iter().cloned().collect())
    }

    async fn get_by_id(&self, id: &IdRef<T>) -> Result<Option<T>> {
        Ok(self.read().get(id).cloned())
    }

    /// A scan of the tenant's rows, asking [`Entity::field_is`] of each.
    async fn find_by(&self, field: &str, value: &serde_json::Value) -> Result<Vec<T>> {
        let mut found = Vec::new();
        for row in self.read().values() {
            match row.field_is(field, value) {
                Some(true) => found.push(row.clone()),
                Some(false) => {}
                None => {
                    return Err(Error::Unsupported {
                        entity: self.entity.to_string(),
                        operation: "find_by",
                    });
                }
            }
        }
        found.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        Ok(found)
    }

    async fn create(&self, mut data: T) -> Result<T> {
        prepare_create(&self.entity, &self.tenant, &self.ids, &mut data)?;
        data.clear_skipped();
        let mut rows = self.write();
        if rows.contains_key::<T::Id>(data.id()) {
            return Err(Error::DuplicateId {
                entity: self.entity.to_string(),
                id: data.id().to_string(),
            });
        }
        rows.insert(data.id().clone(), data.clone());
        Ok(data)
    }

    async fn update(&self, id: &IdRef<T>, patch: T::Patch) -> Result<Option<T>> {
        T::check_patch(&patch, &self.entity)?;
        let expected = expected_version::<T>(&self.entity, id, T::VERSIONED, &patch)?;
        let mut rows = self.write();
        let Some(row) = rows.get_mut(id) else {
            return Ok(None);
        };
        self.apply_update(id, row, expected, patch).map(Some)
    }

    /// Under the write lock: the stored row is compared with [`Entity::same_row`], then
    /// patched as by `update`.
    async fn update_if(
        &self,
        id: &IdRef<T>,
        expected: &T,
        patch: T::Patch,
    ) -> Result<Conditional<T>> {
        T::check_patch(&patch, &self.entity)?;
        if T::VERSIONED {
            conditional_version(&self.entity, id, expected, &patch)?;
        }
        let unsupported = || Error::Unsupported {
            entity: self.entity.to_string(),
            operation: "update_if",
        };
        // A type that cannot compare rows cannot compare any: refuse before looking.
        expected.same_row(expected).ok_or_else(unsupported)?;
        let version = expected_version::<T>(&self.entity, id, T::VERSIONED, &patch)?;
        let mut rows = self.write();
        let Some(row) = rows.get_mut(id) else {
            return Ok(Conditional::Missing);
        };
        if !row.same_row(expected).ok_or_else(unsupported)? {
            return Ok(Conditional::Changed);
        }
        self.apply_update(id, row, version, patch)
            .map(Conditional::Updated)
    }

    async fn delete(&self, id: &IdRef<T>) -> Result<bool> {
        Ok(self.write().remove(id).is_some())
    }

    async fn clear(&self) -> Result<u64> {
        let mut rows = self.write();
        let n = rows.len() as u64;
        rows.clear();
        Ok(n)
    }
}
