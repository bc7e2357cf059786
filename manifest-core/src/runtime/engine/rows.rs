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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Map, Value as Json};

use super::{Object, apply_patch, instance_object, to_instance};
use crate::runtime::value::json_object;
use crate::runtime::value::{Value, insert_all};
use crate::store::{Conditional, EntityInstance, Store};

/// An instance as expressions see it: a [`Value::Object`] of its fields, `id` and `_entity`.
pub(super) type Row = Arc<Value>;

/// The key every [`Row`] carries the entity's name under.
pub(super) const ENTITY_KEY: &str = crate::runtime::ir::RESERVED_FIELD;

/// One entity's instances.
pub(super) enum Rows {
    /// The engine's own memory store.
    Memory(MemoryRows),
    /// The provider's store.
    Provided {
        store: Arc<dyn Store<EntityInstance>>,
        /// Whether the store may still support `update_if` (cleared on its first
        /// `Unsupported`).
        conditional: AtomicBool,
    },
}

/// The engine's memory store: rows by id, for the engine's one tenant. A B-tree rather than a
/// hash table: `get_all` is in id order with no sort, time-ordered ids (UUIDv7) are appended
/// at its right edge, and ids chosen by clients cannot be picked to collide (measured: as
/// fast as `HashMap` with SipHash for 100,000 creates and for commands).
#[derive(Default)]
pub(super) struct MemoryRows {
    rows: RwLock<BTreeMap<String, Row>>,
}

impl MemoryRows {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Row>> {
        // Nothing panics while holding the lock, and every write replaces whole rows, so a
        // poisoned map is still consistent.
        self.rows.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Row>> {
        self.rows.write().unwrap_or_else(PoisonError::into_inner)
    }
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
    /// The instance as the engine's operations return it.
    pub(super) fn json(&self) -> Map<String, Json> {
        match &self.stored {
            Some(stored) => instance_json(stored.clone()),
            None => row_json(&self.this),
        }
    }
}

impl Rows {
    pub(super) fn provided(store: Arc<dyn Store<EntityInstance>>) -> Self {
        Rows::Provided {
            store,
            conditional: AtomicBool::new(true),
        }
    }

    /// Whether this is the engine's memory store.
    pub(super) fn is_memory(&self) -> bool {
        matches!(self, Rows::Memory(_))
    }

    /// The instance `id`, or `None`.
    pub(super) async fn get(&self, entity: &str, id: &str) -> crate::Result<Option<Read>> {
        match self {
            Rows::Memory(memory) => Ok(memory.read().get(id).map(|this| Read {
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
    pub(super) async fn get_json(&self, id: &str) -> crate::Result<Option<Map<String, Json>>> {
        match self {
            Rows::Memory(memory) => Ok(memory.read().get(id).map(|row| row_json(row))),
            Rows::Provided { store, .. } => Ok(store.get_by_id(id).await?.map(instance_json)),
        }
    }

    /// Every instance, by id, as the engine's operations return them.
    pub(super) async fn all_json(&self, entity: &str) -> crate::Result<Vec<Map<String, Json>>> {
        match self {
            Rows::Memory(_) => Ok(self
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
    pub(super) async fn all(&self, entity: &str) -> crate::Result<Vec<Row>> {
        match self {
            Rows::Memory(memory) => Ok(memory.read().values().cloned().collect()),
            Rows::Provided { store, .. } => Ok(store
                .get_all()
                .await?
                .iter()
                .map(|stored| Arc::new(row_of(stored, entity)))
                .collect()),
        }
    }

    /// Store a new instance (`object` has its `id`); the instance as stored, as JSON.
    /// [`Error::DuplicateId`](crate::Error::DuplicateId) when the id is taken.
    pub(super) async fn create(
        &self,
        entity: &str,
        mut object: Object,
    ) -> crate::Result<Map<String, Json>> {
        match self {
            Rows::Memory(memory) => {
                let json = json_object(&object);
                let id = match object.get("id") {
                    Some(Value::String(id)) => id.clone(),
                    Some(other) => other.to_js_string(),
                    None => String::new(),
                };
                object.insert(ENTITY_KEY.to_owned(), Value::String(entity.to_owned()));
                let mut rows = memory.write();
                if rows.contains_key(&id) {
                    return Err(crate::Error::DuplicateId {
                        entity: entity.to_owned(),
                        id,
                    });
                }
                rows.insert(id, Arc::new(Value::Object(object)));
                Ok(json)
            }
            Rows::Provided { store, .. } => {
                let created = store.create(to_instance(&object)).await?;
                Ok(instance_json(created))
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
    ) -> crate::Result<Option<Read>> {
        match self {
            Rows::Memory(memory) => {
                let mut rows = memory.write();
                let Some(row) = rows.get_mut(id) else {
                    return Ok(None);
                };
                if !Arc::ptr_eq(row, &read.this) {
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
                Ok(Some(Read {
                    this: row.clone(),
                    stored: None,
                }))
            }
            Rows::Provided { store, conditional } => {
                let _ = (this, stale);
                let written = match &read.stored {
                    Some(stored) if conditional.load(Ordering::Relaxed) => {
                        match store.update_if(id, stored, json_object(patch)).await {
                            Ok(Conditional::Updated(row)) => Some(Some(row)),
                            Ok(_) => Some(None),
                            Err(crate::Error::Unsupported { .. }) => {
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
                    None => store.update(id, json_object(patch)).await?,
                };
                Ok(written.map(|stored| Read {
                    this: Arc::new(row_of(&stored, entity)),
                    stored: Some(stored),
                }))
            }
        }
    }

    /// Store `object` as it is (no defaults, no checks), as [`create`](Self::create) does.
    pub(super) async fn restore(&self, entity: &str, object: Object) -> crate::Result<()> {
        self.create(entity, object).await.map(drop)
    }

    /// Delete the instance; `false` if there was none.
    pub(super) async fn delete(&self, id: &str) -> crate::Result<bool> {
        match self {
            Rows::Memory(memory) => Ok(memory.write().remove(id).is_some()),
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
pub(super) fn row_json(row: &Value) -> Map<String, Json> {
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

/// The fields of a row (a [`Value::Object`]).
pub(super) fn fields(row: &Value) -> &Object {
    static EMPTY: Object = Object::new();
    match row {
        Value::Object(fields) => fields,
        _ => &EMPTY,
    }
}
