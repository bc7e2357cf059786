//! [`EntityInstance`], the runtime's dynamic record, and [`InstanceStore`], which serves any typed
//! store as a store of `EntityInstance`s.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Conditional, List, Store};
use crate::entity::{ColumnRole, Entity, Key, ManifestEntity};
use crate::error::{BoxDynError, Error, Result};

/// A dynamic record: an id plus JSON fields, the runtime's view of any entity.
///
/// It serialises flat, as `{"id": ..., "field": ...}`. Its patch is a JSON object of the fields
/// to change; an `id` key in a patch must equal the row's id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityInstance {
    /// The id; empty means "generate one" on create.
    #[serde(default)]
    pub id: String,
    /// Every other field.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl EntityInstance {
    /// A record with this id and these fields.
    pub fn new(id: impl Into<String>, fields: Map<String, Value>) -> Self {
        EntityInstance {
            id: id.into(),
            fields,
        }
    }
}

impl Entity for EntityInstance {
    type Id = String;
    type Tenant = String;
    type Patch = Map<String, Value>;

    fn id(&self) -> &String {
        &self.id
    }
    fn id_mut(&mut self) -> &mut String {
        &mut self.id
    }
    fn tenant_mut(&mut self) -> Option<&mut String> {
        None
    }
    fn version(&self) -> Option<i64> {
        None
    }
    fn set_version(&mut self, _: i64) -> Result<(), BoxDynError> {
        Ok(())
    }
    fn expected_version(_: &Self::Patch) -> Option<i64> {
        None
    }
    /// Object keys containing U+0000, at any depth, are [`Error::NulInKey`].
    fn check(&self, entity: &str) -> Result<()> {
        check_keys(entity, &self.fields)
    }
    /// As [`check`](Entity::check).
    fn check_patch(patch: &Self::Patch, entity: &str) -> Result<()> {
        check_keys(entity, patch)
    }
    /// Every field is compared: `Some(self == read)`.
    fn field_is(&self, field: &str, value: &Value) -> Option<bool> {
        Some(match field {
            "id" => value.as_str() == Some(self.id.as_str()),
            _ => self.fields.get(field) == Some(value),
        })
    }

    fn same_row(&self, read: &Self) -> Option<bool> {
        Some(self == read)
    }
    fn apply(&mut self, patch: Self::Patch) -> Result<()> {
        if let Some(id) = patch.get("id")
            && id.as_str() != Some(self.id.as_str())
        {
            return Err(Error::ImmutableField {
                entity: String::new(),
                field: "id".to_owned(),
            });
        }
        for (key, value) in patch {
            if key != "id" {
                self.fields.insert(key, value);
            }
        }
        Ok(())
    }
}

/// Refuse object keys containing U+0000 anywhere in `fields` ([`Error::NulInKey`]).
fn check_keys(entity: &str, fields: &Map<String, Value>) -> Result<()> {
    let nul = |map: &'_ Map<String, Value>| map.keys().find(|k| k.contains('\0')).cloned();
    // An explicit stack of the values still to look into: data built in code may nest deeper
    // than the call stack allows.
    let mut pending: Vec<&Value> = fields.values().collect();
    let mut found = nul(fields);
    while found.is_none() {
        match pending.pop() {
            None => return Ok(()),
            Some(Value::Object(map)) => {
                found = nul(map);
                pending.extend(map.values());
            }
            Some(Value::Array(items)) => pending.extend(items),
            Some(_) => {}
        }
    }
    Err(Error::NulInKey {
        entity: entity.to_owned(),
        key: found.unwrap_or_default(),
    })
}

/// Serves a typed `Store<T>` as a `Store<EntityInstance>`, converting rows through serde, so a
/// runtime can hold a typed store for every entity behind one type. Its instances carry the
/// row's fields but the tenant, which is the store's (as a document store's instances do).
///
/// The JSON field names are `T`'s serde names; the id, tenant and version fields must keep their
/// Rust names in serde (do not `#[serde(rename)]` them). An update reads the row, merges the
/// patch into it, and writes every field back with one update of the typed store; for a
/// versioned entity that write checks the version it read, so a concurrent change is a
/// [`Error::VersionConflict`], never a lost update. Patch keys the entity does not have are
/// [`Error::UnknownField`]; changing the id or tenant is [`Error::ImmutableField`].
/// [`update_if`](Store::update_if) merges the patch into the expected row and asks the typed
/// store's `update_if`: it works for versioned entities (the version is the check) and is
/// [`Error::Unsupported`] for unversioned ones on this crate's typed stores.
pub struct InstanceStore<T: ManifestEntity> {
    inner: Arc<dyn Store<T>>,
    tenant: String,
    _row: PhantomData<fn() -> T>,
}

impl<T> InstanceStore<T>
where
    T: ManifestEntity + Serialize + DeserializeOwned,
{
    /// Wrap a typed store.
    pub fn new(inner: impl Store<T> + 'static) -> Self {
        Self::from_arc(Arc::new(inner))
    }

    /// Wrap a shared typed store.
    pub fn from_arc(inner: Arc<dyn Store<T>>) -> Self {
        InstanceStore {
            tenant: inner.tenant().to_string(),
            inner,
            _row: PhantomData,
        }
    }

    /// As the trait object a runtime's store provider returns.
    pub fn into_dyn(self) -> Arc<dyn Store<EntityInstance>> {
        Arc::new(self)
    }

    fn entity_name(&self) -> String {
        self.inner.entity().to_owned()
    }

    fn invalid(&self, source: serde_json::Error) -> Error {
        Error::InvalidData {
            entity: self.entity_name(),
            source,
        }
    }

    fn field(role: ColumnRole) -> Option<&'static str> {
        T::column(role).map(|c| c.field)
    }

    fn key(&self, id: &str) -> Result<T::Id> {
        <T::Id as Key>::parse_key(id).map_err(|e| Error::invalid_key(self.inner.entity(), id, e))
    }

    fn to_map(&self, row: &T) -> Result<Map<String, Value>> {
        match serde_json::to_value(row).map_err(|e| self.invalid(e))? {
            Value::Object(map) => Ok(map),
            other => Err(self.invalid(serde::ser::Error::custom(format_args!(
                "`{}` serialises to {other}, not to an object",
                std::any::type_name::<T>()
            )))),
        }
    }

    /// `row` as an instance: its id, and its fields but the id and the tenant (the store's
    /// own, as a document store's instances have no tenant field either; writes fill it in).
    fn to_instance(&self, row: T) -> Result<EntityInstance> {
        let mut fields = self.to_map(&row)?;
        for role in [ColumnRole::Id, ColumnRole::Tenant] {
            if let Some(field) = Self::field(role) {
                fields.remove(field);
            }
        }
        Ok(EntityInstance {
            id: row.id().to_string(),
            fields,
        })
    }

    fn to_value<V: Serialize>(&self, value: &V) -> Result<Value> {
        serde_json::to_value(value).map_err(|e| self.invalid(e))
    }

    /// `patch` merged into `base`: fields replaced, the id and tenant kept (a patch may only
    /// repeat them), unknown fields refused.
    fn merge(&self, id: &str, base: &T, patch: Map<String, Value>) -> Result<T> {
        let mut fields = self.to_map(base)?;
        let id_field = Self::field(ColumnRole::Id);
        let tenant_field = Self::field(ColumnRole::Tenant);
        for (name, value) in patch {
            let keeps = if name == "id" || Some(name.as_str()) == id_field {
                value.as_str() == Some(id) || id_field.and_then(|f| fields.get(f)) == Some(&value)
            } else if Some(name.as_str()) == tenant_field {
                tenant_field.and_then(|f| fields.get(f)) == Some(&value)
            } else if fields.contains_key(&name) {
                fields.insert(name, value);
                continue;
            } else {
                return Err(Error::UnknownField {
                    entity: self.entity_name(),
                    field: name,
                });
            };
            if !keeps {
                return Err(Error::ImmutableField {
                    entity: self.entity_name(),
                    field: name,
                });
            }
        }
        serde_json::from_value(Value::Object(fields)).map_err(|e| self.invalid(e))
    }

    fn to_row(&self, instance: EntityInstance) -> Result<T> {
        let mut fields = instance.fields;
        let id = if instance.id.is_empty() {
            <T::Id as Key>::unset()
        } else {
            self.key(&instance.id)?
        };
        if let Some(id_field) = Self::field(ColumnRole::Id) {
            fields.insert(id_field.to_owned(), self.to_value(&id)?);
        }
        if let Some(tenant_field) = Self::field(ColumnRole::Tenant)
            && !fields.contains_key(tenant_field)
        {
            fields.insert(tenant_field.to_owned(), self.to_value(self.inner.tenant())?);
        }
        if let Some(version_field) = Self::field(ColumnRole::Version) {
            fields.entry(version_field).or_insert(Value::from(0));
        }
        serde_json::from_value(Value::Object(fields)).map_err(|e| self.invalid(e))
    }
}

impl<T: ManifestEntity> fmt::Debug for InstanceStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceStore")
            .field("inner", &self.inner)
            .finish()
    }
}

#[async_trait]
impl<T> Store<EntityInstance> for InstanceStore<T>
where
    T: ManifestEntity + Serialize + DeserializeOwned,
{
    fn entity(&self) -> &str {
        self.inner.entity()
    }

    fn tenant(&self) -> &String {
        &self.tenant
    }

    fn typed_columns(&self) -> Option<(&'static str, &'static [crate::entity::Column])> {
        let name = std::any::type_name::<T>();
        Some((name.rsplit("::").next().unwrap_or(name), T::COLUMNS))
    }

    fn in_transaction(&self, tx: &crate::Tx) -> Option<Arc<dyn Store<EntityInstance>>> {
        Some(Arc::new(InstanceStore::<T>::from_arc(
            self.inner.in_transaction(tx)?,
        )))
    }

    /// The typed store's own `find_by` (on SQL, a query on the column's index).
    async fn find_by(&self, field: &str, value: &Value) -> Result<Vec<EntityInstance>> {
        let rows = self.inner.find_by(field, value).await?;
        rows.into_iter().map(|row| self.to_instance(row)).collect()
    }

    async fn get_all(&self) -> Result<Vec<EntityInstance>> {
        let rows = self.inner.get_all().await?;
        rows.into_iter().map(|row| self.to_instance(row)).collect()
    }

    async fn list(&self, list: List<String>) -> Result<Vec<EntityInstance>> {
        let list = match list {
            List::All => List::All,
            List::ById => List::ById,
            List::Page { after, limit } => List::Page {
                after: after.map(|id| self.key(&id)).transpose()?,
                limit,
            },
        };
        let rows = self.inner.list(list).await?;
        rows.into_iter().map(|row| self.to_instance(row)).collect()
    }

    async fn get_by_id(&self, id: &str) -> Result<Option<EntityInstance>> {
        let key = self.key(id)?;
        let row = self.inner.get_by_id(key.borrow()).await?;
        row.map(|row| self.to_instance(row)).transpose()
    }

    async fn create(&self, data: EntityInstance) -> Result<EntityInstance> {
        data.check(self.inner.entity())?;
        let row = self.to_row(data)?;
        let row = self.inner.create(row).await?;
        self.to_instance(row)
    }

    async fn update(&self, id: &str, patch: Map<String, Value>) -> Result<Option<EntityInstance>> {
        EntityInstance::check_patch(&patch, self.inner.entity())?;
        let key = self.key(id)?;
        let Some(current) = self.inner.get_by_id(key.borrow()).await? else {
            return Ok(None);
        };
        let merged = self.merge(id, &current, patch)?;
        let row = self.inner.update(key.borrow(), merged.into_patch()).await?;
        row.map(|row| self.to_instance(row)).transpose()
    }

    /// The patch is merged into `expected` (as `update` merges it into the stored row), and the
    /// typed store's `update_if` decides: for a versioned entity it checks `expected`'s
    /// version; the typed stores of unversioned entities return [`Error::Unsupported`].
    async fn update_if(
        &self,
        id: &str,
        expected: &EntityInstance,
        patch: Map<String, Value>,
    ) -> Result<Conditional<EntityInstance>> {
        EntityInstance::check_patch(&patch, self.inner.entity())?;
        let key = self.key(id)?;
        let read = self.to_row(expected.clone())?;
        let merged = self.merge(id, &read, patch)?;
        Ok(
            match self
                .inner
                .update_if(key.borrow(), &read, merged.into_patch())
                .await?
            {
                Conditional::Updated(row) => Conditional::Updated(self.to_instance(row)?),
                Conditional::Changed => Conditional::Changed,
                Conditional::Missing => Conditional::Missing,
            },
        )
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        let key = self.key(id)?;
        self.inner.delete(key.borrow()).await
    }

    async fn clear(&self) -> Result<u64> {
        self.inner.clear().await
    }
}
