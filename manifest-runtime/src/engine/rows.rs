//! Where the engine keeps each entity's instances: its own memory store, or the store the
//! provider gave.
//!
//! The engine's memory store holds each instance as the value its expressions see (`self`,
//! `this`: the fields with `_entity`), shared behind an [`Arc`]. Reading an instance is a
//! reference count; a command changes a copy of it, made on its first change; writing the
//! result back is swapping the pointer, and the conditional write's "is it still the row I
//! read?" is a pointer comparison. No JSON is converted and no row compared field by field on
//! the way. A provided store ([`Store<EntityInstance>`]) is read and written through its trait,
//! converting rows between JSON and [`Value`] at the boundary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value as Json};

use super::{Object, apply_patch, instance_object, to_instance};
use crate::value::json_object;
use crate::value::{Value, insert_all};
use manifest_core::{Conditional, Entity, EntityInstance, List, Store};

pub(super) use super::table::{MemoryRows, TenantRows, shared};

/// An instance as expressions see it: a [`Value::Object`] of its fields, `id` and `_entity`.
pub(super) type Row = Arc<Value>;

/// The key every [`Row`] carries the entity's name under.
pub(super) const ENTITY_KEY: &str = crate::ir::RESERVED_FIELD;

/// One entity's instances.
pub(super) enum Rows {
    /// The engine's own memory store: the engine's tenant's rows of the entity, looked up
    /// once when the engine is built.
    Memory(Arc<TenantRows>),
    /// The provider's store.
    Provided {
        store: Arc<dyn Store<EntityInstance>>,
        /// Whether the store may still support `update_if` (cleared on its first
        /// `Unsupported`).
        conditional: AtomicBool,
        /// Whether the store may still support `find_by` (cleared on its first
        /// `Unsupported`, after which matching rows are found by a scan).
        finds: AtomicBool,
    },
}

/// An instance as a command or an update read it (or last wrote it): what its expressions see,
/// and what a conditional write expects to find.
#[derive(Clone)]
pub(super) struct Read {
    pub(super) this: Row,
    /// The provided store's row, which its `update_if` compares; `None` on the memory store,
    /// which compares `this` by pointer.
    stored: Option<EntityInstance>,
}

impl Read {
    /// An instance not stored yet (a `create` command's, before it is).
    pub(super) fn new(this: Row) -> Self {
        Read { this, stored: None }
    }
}

impl Rows {
    pub(super) fn provided(store: Arc<dyn Store<EntityInstance>>) -> Self {
        Rows::Provided {
            store,
            conditional: AtomicBool::new(true),
            finds: AtomicBool::new(true),
        }
    }

    /// This store inside the transaction `tx`, if it can join it (a provided store that can;
    /// never the engine's memory store).
    pub(super) fn in_transaction(&self, tx: &manifest_core::Tx) -> Option<Rows> {
        match self {
            Rows::Memory(_) => None,
            Rows::Provided { store, .. } => store.in_transaction(tx).map(Rows::provided),
        }
    }

    /// Undo a write of instance `id` that turned `before` into `after`, if the instance is
    /// still as written (a later writer's change is kept: `false`).
    pub(super) async fn undo(
        &self,
        id: &str,
        before: Option<Read>,
        after: Read,
    ) -> manifest_core::Result<bool> {
        match self {
            Rows::Memory(rows) => {
                let mut table = rows.write();
                let table = &mut *table;
                let indexed = !table.indexes.is_empty();
                if !table
                    .rows
                    .get(id)
                    .is_some_and(|row| Arc::ptr_eq(row, &after.this))
                {
                    return Ok(false);
                }
                let Some(before) = before else {
                    table.remove(id);
                    return Ok(true);
                };
                if indexed {
                    table.unindex(id);
                }
                table.rows.insert(id.to_owned(), before.this);
                if indexed {
                    table.reindex(id);
                }
                Ok(true)
            }
            Rows::Provided { store, .. } => {
                let Some(before) = before else {
                    // Created by the attempt: deleted, unless another writer changed it since.
                    return match &after.stored {
                        Some(stored) if store.get_by_id(id).await?.as_ref() != Some(stored) => {
                            Ok(false)
                        }
                        _ => store.delete(id).await,
                    };
                };
                let mut fields = fields(&before.this).clone();
                fields.remove(ENTITY_KEY);
                fields.remove("id");
                let patch = json_object(&fields);
                match &after.stored {
                    Some(stored) => match store.update_if(id, stored, patch.clone()).await {
                        Ok(Conditional::Updated(_)) => Ok(true),
                        Ok(_) => Ok(false),
                        Err(manifest_core::Error::Unsupported { .. }) => {
                            Ok(store.update(id, patch).await?.is_some())
                        }
                        Err(e) => Err(e),
                    },
                    None => Ok(store.update(id, patch).await?.is_some()),
                }
            }
        }
    }

    /// Whether this is the engine's memory store.
    pub(super) fn is_memory(&self) -> bool {
        matches!(self, Rows::Memory(_))
    }

    /// A memory store of `memory`'s rows of `tenant`.
    pub(super) fn memory(memory: &MemoryRows, tenant: &str) -> Self {
        Rows::Memory(memory.tenant(tenant))
    }

    /// The instances whose `field` holds `value` (a superset is fine: the caller compares
    /// again), by id.
    pub(super) async fn find_by(
        &self,
        entity: &str,
        field: &str,
        value: &Json,
    ) -> manifest_core::Result<Vec<Row>> {
        match self {
            Rows::Memory(rows) => {
                if let Json::String(value) = value {
                    // Once the field is indexed a lookup shares the lock with other readers;
                    // only the first one builds the index, under the write lock.
                    if let Some(found) = rows.read().lookup(field, value) {
                        return Ok(found);
                    }
                    return Ok(rows.write().find(field, value));
                }
                let wanted = Value::from(value);
                Ok(rows
                    .read()
                    .rows
                    .values()
                    .filter(|row| fields(row).get(field).is_some_and(|v| v.strict_eq(&wanted)))
                    .cloned()
                    .collect())
            }
            Rows::Provided { store, finds, .. } => {
                if finds.load(Ordering::Relaxed) {
                    match store.find_by(field, value).await {
                        Ok(found) => {
                            return Ok(found
                                .iter()
                                .map(|stored| Arc::new(row_of(stored, entity)))
                                .collect());
                        }
                        // A field it cannot look up (a name that is not an identifier) is
                        // found by a scan, as by a store without `find_by`.
                        Err(manifest_core::Error::InvalidName { .. }) => {}
                        Err(manifest_core::Error::Unsupported { .. }) => {
                            finds.store(false, Ordering::Relaxed);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(store
                    .get_all()
                    .await?
                    .iter()
                    .filter(|stored| stored.field_is(field, value) == Some(true))
                    .map(|stored| Arc::new(row_of(stored, entity)))
                    .collect())
            }
        }
    }

    /// The instance `id`, or `None`.
    pub(super) async fn get(&self, entity: &str, id: &str) -> manifest_core::Result<Option<Read>> {
        match self {
            Rows::Memory(rows) => Ok(rows.read().get(id).map(|this| Read {
                this: this.clone(),
                stored: None,
            })),
            Rows::Provided { store, .. } => Ok(store.get_by_id(id).await?.map(|stored| Read {
                this: Arc::new(row_of(&stored, entity)),
                stored: Some(stored),
            })),
        }
    }

    /// The instance `id` as the engine's operations return it, or `None`.
    pub(super) async fn get_json(
        &self,
        id: &str,
    ) -> manifest_core::Result<Option<Map<String, Json>>> {
        match self {
            Rows::Memory(rows) => Ok(rows.read().get(id).map(|row| row_json(row))),
            Rows::Provided { store, .. } => Ok(store.get_by_id(id).await?.map(instance_json)),
        }
    }

    /// Every instance, by id, as the engine's operations return them.
    pub(super) async fn all_json(
        &self,
        entity: &str,
    ) -> manifest_core::Result<Vec<Map<String, Json>>> {
        match self {
            Rows::Memory { .. } => Ok(self
                .all(entity)
                .await?
                .iter()
                .map(|row| row_json(row))
                .collect()),
            Rows::Provided { store, .. } => Ok(store
                .get_all()
                .await?
                .into_iter()
                .map(instance_json)
                .collect()),
        }
    }

    /// Every instance, by id.
    pub(super) async fn all(&self, entity: &str) -> manifest_core::Result<Vec<Row>> {
        match self {
            Rows::Memory(rows) => Ok(rows.read().rows.values().cloned().collect()),
            Rows::Provided { store, .. } => Ok(store
                .get_all()
                .await?
                .iter()
                .map(|stored| Arc::new(row_of(stored, entity)))
                .collect()),
        }
    }

    /// At most `limit` instances whose id is greater than `after`, by id: the store's keyset
    /// page ([`List::Page`]), a range of the memory table.
    pub(super) async fn page(
        &self,
        entity: &str,
        after: Option<&str>,
        limit: u32,
    ) -> manifest_core::Result<Vec<Row>> {
        use std::ops::Bound::{Excluded, Unbounded};
        match self {
            Rows::Memory(rows) => {
                let from = after.map_or(Unbounded, |id| Excluded(id.to_owned()));
                let table = rows.read();
                let range = table.rows.range::<String, _>((from, Unbounded));
                Ok(range
                    .take(limit as usize)
                    .map(|(_, row)| row.clone())
                    .collect())
            }
            Rows::Provided { store, .. } => {
                let after = after.map(str::to_owned);
                Ok(store
                    .list(List::Page { after, limit })
                    .await?
                    .iter()
                    .map(|stored| Arc::new(row_of(stored, entity)))
                    .collect())
            }
        }
    }

    /// Store a new instance (`object` has its `id`); the instance as stored, as a [`get`]
    /// would read it.
    ///
    /// [`get`]: Self::get
    /// [`Error::DuplicateId`](manifest_core::Error::DuplicateId) when the id is taken.
    pub(super) async fn create(
        &self,
        entity: &str,
        mut object: Object,
    ) -> manifest_core::Result<Read> {
        match self {
            Rows::Memory(rows) => {
                let id = match object.get("id") {
                    Some(Value::String(id)) => id.clone(),
                    Some(other) => other.to_js_string(),
                    None => String::new(),
                };
                object.insert(ENTITY_KEY.to_owned(), Value::String(entity.to_owned()));
                let mut table = rows.write();
                let row = Arc::new(Value::Object(object));
                if !table.insert_new(id, row.clone()) {
                    let id = match fields(&row).get("id") {
                        Some(Value::String(id)) => id.clone(),
                        Some(other) => other.to_js_string(),
                        None => String::new(),
                    };
                    return Err(manifest_core::Error::DuplicateId {
                        entity: entity.to_owned(),
                        id,
                    });
                }
                Ok(Read::new(row))
            }
            Rows::Provided { store, .. } => {
                // The row as the store wrote it (`INSERT .. RETURNING` on SQL): what a later
                // conditional write of the same command compares, with no read back.
                let created = store.create(to_instance(&object)).await?;
                Ok(Read {
                    this: Arc::new(row_of(&created, entity)),
                    stored: Some(created),
                })
            }
        }
    }

    /// Write the changes `patch` to the instance read as `read` if it is still as read. `this`
    /// is the working copy: `read`'s row with `patch` applied, or, when `stale`, not all of
    /// it yet.
    ///
    /// The memory store checks that its row is still `read`'s (the same pointer), then stores
    /// `this` with the rest of the patch applied; when `this` is still the row as read and
    /// nothing else holds it, that is a change of the stored row in place. A provided store
    /// applies `patch` with its `update_if` (or, for a store without one, its `update`: the
    /// caller holds the instance's lock). The instance as written, or `None` when it changed
    /// or is gone.
    pub(super) async fn write(
        &self,
        id: &str,
        read: Read,
        this: Row,
        stale: bool,
        patch: &Object,
        entity: &str,
    ) -> manifest_core::Result<Option<Read>> {
        match self {
            Rows::Memory(rows) => {
                let mut table = rows.write();
                let table = &mut *table;
                let indexed = !table.indexes.is_empty();
                if indexed {
                    table.unindex(id);
                }
                let Some(row) = table.rows.get_mut(id) else {
                    return Ok(None);
                };
                if !Arc::ptr_eq(row, &read.this) {
                    if indexed {
                        table.reindex(id);
                    }
                    return Ok(None);
                }
                // Let go of the row as read, so that the stored one may be the only holder.
                drop(read);
                if Arc::ptr_eq(row, &this) {
                    drop(this);
                    if stale {
                        apply_patch(row, patch, entity);
                    }
                } else {
                    let mut this = this;
                    if stale {
                        apply_patch(&mut this, patch, entity);
                    }
                    *row = this;
                }
                let written = Read {
                    this: row.clone(),
                    stored: None,
                };
                if indexed {
                    table.reindex(id);
                }
                Ok(Some(written))
            }
            Rows::Provided {
                store, conditional, ..
            } => {
                let _ = (this, stale);
                // An instance's id is its key, which no store changes: a `mutate id` (a
                // `create` command's `mutate id = uuid()`) changes the command's working copy
                // only, as in the reference, whose store keeps the id it created.
                let mut patch = json_object(patch);
                patch.remove("id");
                let written = match &read.stored {
                    Some(stored) if conditional.load(Ordering::Relaxed) => {
                        match store.update_if(id, stored, patch.clone()).await {
                            Ok(Conditional::Updated(row)) => Some(Some(row)),
                            Ok(_) => Some(None),
                            Err(manifest_core::Error::Unsupported { .. }) => {
                                conditional.store(false, Ordering::Relaxed);
                                None
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    _ => None,
                };
                let written = match written {
                    Some(written) => written,
                    None => store.update(id, patch).await?,
                };
                Ok(written.map(|stored| Read {
                    this: Arc::new(row_of(&stored, entity)),
                    stored: Some(stored),
                }))
            }
        }
    }

    /// Store `object` as it is (no defaults, no checks), as [`create`](Self::create) does.
    pub(super) async fn restore(&self, entity: &str, object: Object) -> manifest_core::Result<()> {
        self.create(entity, object).await.map(drop)
    }

    /// Delete the instance; `false` if there was none.
    pub(super) async fn delete(&self, id: &str) -> manifest_core::Result<bool> {
        match self {
            Rows::Memory(rows) => Ok(rows.write().remove(id).is_some()),
            Rows::Provided { store, .. } => store.delete(id).await,
        }
    }
}

/// A provided store's row as expressions see it.
fn row_of(stored: &EntityInstance, entity: &str) -> Value {
    let mut object = instance_object(stored);
    object.insert(ENTITY_KEY.to_owned(), Value::String(entity.to_owned()));
    Value::Object(object)
}

/// A row as the engine's operations return it: its fields and `id`, without `_entity`;
/// `undefined` fields left out, as `JSON.stringify` does.
pub(crate) fn row_json(row: &Value) -> Map<String, Json> {
    match row {
        Value::Object(fields) => insert_all(
            Map::new(),
            fields
                .iter()
                .filter(|(k, _)| k.as_str() != ENTITY_KEY)
                .filter_map(|(k, v)| v.to_json().map(|v| (k.clone(), v))),
        ),
        _ => Map::new(),
    }
}

/// A provided store's row as the engine's operations return it.
fn instance_json(instance: EntityInstance) -> Map<String, Json> {
    let mut map = Map::new();
    map.insert("id".to_owned(), Json::String(instance.id));
    map.extend(instance.fields);
    map
}

/// A row's id, as the memory table keys it (a string as it is, anything else as JavaScript
/// prints it).
pub(super) fn row_id(row: &Value) -> Option<String> {
    match fields(row).get("id")? {
        Value::String(id) => Some(id.clone()),
        other => Some(other.to_js_string()),
    }
}

/// The fields of a row (a [`Value::Object`]).
pub(super) fn fields(row: &Value) -> &Object {
    static EMPTY: Object = Object::new();
    match row {
        Value::Object(fields) => fields,
        _ => &EMPTY,
    }
}
