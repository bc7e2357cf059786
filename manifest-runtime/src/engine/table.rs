//! The engine's own memory store: each tenant's rows of an entity in a B-tree by id, with the
//! field indexes relationships look rows up by.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::rows::{Row, fields};
use crate::value::Value;

/// The engine's memory store of one entity: each tenant's rows by id, and an index of each
/// field the engine's relationships look rows up by. A B-tree rather than a hash table:
/// `get_all` is in id order with no sort, time-ordered ids (UUIDv7) are appended at its right
/// edge, and ids chosen by clients cannot be picked to collide (measured: as fast as `HashMap`
/// with SipHash for 100,000 creates and for commands).
#[derive(Default)]
pub(super) struct MemoryRows {
    tenants: Mutex<HashMap<String, Arc<TenantRows>>>,
}

/// One tenant's rows of one entity, behind their lock.
#[derive(Default)]
pub(super) struct TenantRows(RwLock<Table>);

impl TenantRows {
    pub(super) fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        // Nothing panics while holding the lock, and every write replaces whole rows, so a
        // poisoned table is still consistent.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One tenant's rows of one entity.
#[derive(Default)]
pub(super) struct Table {
    pub(super) rows: BTreeMap<String, Row>,
    /// For each field `find_by` was asked about: the ids of the rows holding each string
    /// value in it. Built on the first lookup of the field, kept up to date by every write.
    pub(super) indexes: HashMap<String, HashMap<String, BTreeSet<String>>>,
}

impl Table {
    pub(super) fn get(&self, id: &str) -> Option<&Row> {
        self.rows.get(id)
    }

    /// Unindex the row `id` (before it is changed or removed).
    pub(super) fn unindex(&mut self, id: &str) {
        let Some(row) = self.rows.get(id) else {
            return;
        };
        for (field, index) in &mut self.indexes {
            if let Some(Value::String(key)) = fields(row).get(field)
                && let Some(ids) = index.get_mut(key)
            {
                ids.remove(id);
                if ids.is_empty() {
                    index.remove(key);
                }
            }
        }
    }

    /// Index the row `id` (after it was stored).
    pub(super) fn reindex(&mut self, id: &str) {
        let Some(row) = self.rows.get(id) else {
            return;
        };
        for (field, index) in &mut self.indexes {
            if let Some(Value::String(key)) = fields(row).get(field) {
                index.entry(key.clone()).or_default().insert(id.to_owned());
            }
        }
    }

    /// Store a new row; `false` (and nothing stored) when the id is taken.
    pub(super) fn insert_new(&mut self, id: String, row: Row) -> bool {
        if self.indexes.is_empty() {
            // One search of the tree, not two: the common case of an entity nobody looks up
            // by a field.
            return match self.rows.entry(id) {
                std::collections::btree_map::Entry::Occupied(_) => false,
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(row);
                    true
                }
            };
        }
        if self.rows.contains_key(&id) {
            return false;
        }
        self.rows.insert(id.clone(), row);
        self.reindex(&id);
        true
    }

    pub(super) fn remove(&mut self, id: &str) -> Option<Row> {
        if !self.indexes.is_empty() {
            self.unindex(id);
        }
        self.rows.remove(id)
    }

    /// The rows whose `field` is the string `value`, in id order, if the field is indexed.
    pub(super) fn lookup(&self, field: &str, value: &str) -> Option<Vec<Row>> {
        let index = self.indexes.get(field)?;
        Some(
            index
                .get(value)
                .into_iter()
                .flatten()
                .filter_map(|id| self.rows.get(id).cloned())
                .collect(),
        )
    }

    /// The rows whose `field` is the string `value`, in id order, from the field's index
    /// (built now if this is the first lookup of the field).
    pub(super) fn find(&mut self, field: &str, value: &str) -> Vec<Row> {
        if !self.indexes.contains_key(field) {
            let mut index: HashMap<String, BTreeSet<String>> = HashMap::new();
            for (id, row) in &self.rows {
                if let Some(Value::String(key)) = fields(row).get(field) {
                    index.entry(key.clone()).or_default().insert(id.clone());
                }
            }
            self.indexes.insert(field.to_owned(), index);
        }
        self.indexes[field]
            .get(value)
            .into_iter()
            .flatten()
            .filter_map(|id| self.rows.get(id).cloned())
            .collect()
    }
}

impl MemoryRows {
    /// The rows of `tenant` (created empty on first use).
    pub(super) fn tenant(&self, tenant: &str) -> Arc<TenantRows> {
        shared(&self.tenants, tenant)
    }
}

/// The value of `key` in `map`, created empty on first use (the key copied only then).
pub(super) fn shared<V: Default>(map: &Mutex<HashMap<String, Arc<V>>>, key: &str) -> Arc<V> {
    // Never poisoned in practice (nothing below panics), and a map of whole entries stays
    // consistent even if it were.
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(value) = map.get(key) {
        return value.clone();
    }
    map.entry(key.to_owned()).or_default().clone()
}
