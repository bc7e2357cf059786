//! Relationship resolution (`self.customer`, `self.orders`), the reference's
//! `resolveRelationship`, on demand.
//!
//! Expressions are evaluated synchronously and stores are async, so a relationship is read in
//! two steps. An evaluation answers a relationship from the rows fetched so far for the
//! operation ([`Related`]); one it has no rows for is recorded as a miss and answered with
//! nothing (`null`, or `[]`). Before the operation acts on anything it evaluated (writes,
//! returns a result or an error), it asks [`Related::fetch`] for the misses: when there were
//! some, they are fetched (`belongsTo`/`ref` by one keyed lookup, `hasMany`/`hasOne` by one
//! [`Store::find_by`](manifest_core::Store::find_by) of the matching rows) and the evaluation
//! runs again from the start. Evaluations have no side effects but the clock and the id
//! generator, so a rerun gives the answer a first run with every row at hand would have.
//!
//! So a command that reads no relationship reads nothing it does not need, whatever the size
//! of the tables around it, and one that reads `self.orders` reads the customer's orders only.
//! Fetched rows are kept for the rest of the attempt; a command retried after a concurrent
//! write starts with none.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::rows::{Row, fields};
use super::{Engine, Object, RuntimeError, Unit};
use crate::ir::{IrEntity, IrForeignKey, IrRelationship};
use crate::value::Value;

/// How many times one evaluation may be rerun for rows it missed before the operation fails:
/// each rerun reaches one relationship further (`self.a.b.c` is three), so only a chain
/// longer than this fails.
const MAX_FETCH_ROUNDS: u32 = 32;

/// What an evaluation asked for: the rows of an entity (by its index) with a field equal to a
/// value, kept as its JSON text. `id` is the key field, looked up by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Lookup {
    entity: usize,
    field: String,
    value: String,
}

impl Lookup {
    fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.value).unwrap_or_default()
    }
}

/// The rows one operation's evaluations have fetched through relationships, and what they
/// asked for and did not find (see the [module docs](self)).
#[derive(Debug, Default)]
pub(super) struct Related {
    fetched: HashMap<Lookup, Vec<Row>>,
    /// Asked for and not fetched yet. A mutex, not a cell: an operation's future holds its
    /// `&Related` across awaits, so it must be `Sync`; it is never contended.
    misses: Mutex<Vec<Lookup>>,
    rounds: u32,
}

impl Related {
    /// The rows of `lookup` if fetched; else `None`, and the lookup is recorded as a miss.
    fn rows(&self, lookup: Lookup) -> Option<&[Row]> {
        if let Some(rows) = self.fetched.get(&lookup) {
            return Some(rows);
        }
        let mut misses = self.misses.lock().unwrap_or_else(PoisonError::into_inner);
        if !misses.contains(&lookup) {
            misses.push(lookup);
        }
        None
    }

    /// Whether nothing has been fetched yet.
    pub(super) fn is_empty(&self) -> bool {
        self.fetched.is_empty()
    }

    /// Whether an evaluation since the last [`fetch`](Self::fetch) missed rows.
    pub(super) fn missed(&self) -> bool {
        !self
            .misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Forget what was fetched (the data may have changed: a command's next attempt).
    pub(super) fn clear(&mut self) {
        self.fetched.clear();
        self.misses
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.rounds = 0;
    }

    /// Fetch what the last evaluation missed. `true` when it missed something, which is now
    /// fetched: the evaluation must run again, and its outcome this time is to be dropped.
    /// An evaluation that keeps missing past [`MAX_FETCH_ROUNDS`] is an error.
    pub(super) async fn fetch(
        &mut self,
        engine: &Engine,
        unit: &Unit,
    ) -> Result<bool, RuntimeError> {
        let misses = std::mem::take(
            self.misses
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if misses.is_empty() {
            return Ok(false);
        }
        self.rounds += 1;
        if self.rounds > MAX_FETCH_ROUNDS {
            return Err(RuntimeError::RelationshipDepth {
                limit: MAX_FETCH_ROUNDS,
            });
        }
        for lookup in misses {
            let rows = engine.rows_in(unit, lookup.entity);
            let name = &engine.program.ir.entities[lookup.entity].name;
            let value = lookup.value();
            let found = match (lookup.field.as_str(), &value) {
                ("id", serde_json::Value::String(id)) => rows
                    .get(name, id)
                    .await?
                    .map(|read| read.this)
                    .into_iter()
                    .collect(),
                ("id", _) => Vec::new(),
                (field, value) => rows.find_by(name, field, value).await?,
            };
            self.fetched.insert(lookup, found);
        }
        Ok(true)
    }
}

impl Engine {
    /// Run `evaluate` until it has every row of the relationships it reads (see
    /// `relations`): once when it reads none.
    pub(super) async fn resolving<T>(
        &self,
        unit: &Unit,
        mut evaluate: impl FnMut(&Related) -> Result<T, RuntimeError> + Send,
    ) -> Result<T, RuntimeError> {
        let mut related = Related::default();
        loop {
            let outcome = evaluate(&related);
            if !related.fetch(self, unit).await? {
                return outcome;
            }
        }
    }

    /// `instance.property` when `property` is a relationship of `entity`; `None` when it is
    /// not.
    pub(super) fn resolve_relationship(
        &self,
        related: &Related,
        entity: &str,
        instance: &Object,
        property: &str,
    ) -> Option<Value> {
        let source = self.program.ir.entity(entity)?;
        let rel = source.relationships.iter().find(|r| r.name == property)?;
        Some(self.resolve(related, source, rel, instance))
    }

    fn resolve(
        &self,
        related: &Related,
        source: &IrEntity,
        rel: &IrRelationship,
        instance: &Object,
    ) -> Value {
        match rel.kind.as_str() {
            "belongsTo" | "ref" => one(self.referenced(related, rel, instance)),
            "hasMany" => {
                let rows = match &rel.through {
                    Some(join) => self.through(related, source, rel, join, instance),
                    None => self.children(related, source, &rel.target, instance),
                };
                Value::Array(rows.into_iter().map(|t| Value::clone(t)).collect())
            }
            "hasOne" => one(self
                .children(related, source, &rel.target, instance)
                .into_iter()
                .next()),
            _ => Value::Null,
        }
    }

    /// The rows of `entity` whose `field` is `value` (strictly equal), fetched or missed.
    fn matching<'r>(
        &self,
        related: &'r Related,
        entity: &str,
        field: &str,
        value: &Value,
    ) -> Vec<&'r Row> {
        // A missing or null key points at nothing; arrays and objects are never strictly
        // equal to anything.
        let (Some(&index), Some(json)) = (self.program.entities.get(entity), value.to_json())
        else {
            return Vec::new();
        };
        if matches!(
            json,
            serde_json::Value::Null | serde_json::Value::Array(_) | serde_json::Value::Object(_)
        ) {
            return Vec::new();
        }
        let lookup = Lookup {
            entity: index,
            field: field.to_owned(),
            value: json.to_string(),
        };
        match related.rows(lookup) {
            Some(rows) => rows
                .iter()
                .filter(|t| get(fields(t), field).strict_eq(value))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The row a `belongsTo`/`ref` relationship of `instance` points at: by its foreign-key
    /// columns (paired with the columns they reference), or by `<name>Id` against `id`.
    fn referenced<'r>(
        &self,
        related: &'r Related,
        rel: &IrRelationship,
        instance: &Object,
    ) -> Option<&'r Row> {
        let field = |name: &str| get(instance, name);
        if let Some(fk) = rel.foreign_key.as_ref().filter(|fk| fk.fields.len() > 1) {
            let pairs = column_pairs(fk, self.program.ir.entity(&rel.target));
            if pairs
                .iter()
                .any(|(local, _)| matches!(field(local), Value::Undefined | Value::Null))
            {
                return None;
            }
            let (first_local, first_remote) = &pairs[0];
            return self
                .matching(related, &rel.target, first_remote, field(first_local))
                .into_iter()
                .find(|t| {
                    pairs
                        .iter()
                        .all(|(local, remote)| get(fields(t), remote).strict_eq(field(local)))
                });
        }
        let fk = match rel.foreign_key.as_ref().and_then(|fk| fk.fields.first()) {
            Some(name) => name.clone(),
            None => format!("{}Id", rel.name),
        };
        let target_id = field(&fk);
        if !target_id.truthy() {
            return None;
        }
        self.matching(related, &rel.target, "id", target_id)
            .into_iter()
            .next()
    }

    /// The rows of entity `child` that point back at `instance` of `source`: through the
    /// child's `belongsTo`/`ref` to `source` (its foreign-key columns, or `<name>Id`), or,
    /// without one, through `<source in lower case>Id`.
    fn children<'r>(
        &self,
        related: &'r Related,
        source: &IrEntity,
        child: &str,
        instance: &Object,
    ) -> Vec<&'r Row> {
        let Some(child_entity) = self.program.ir.entity(child) else {
            return Vec::new();
        };
        let field = |name: &str| get(instance, name);
        let inverse = reference_to(child_entity, &source.name);
        if let Some(fk) = inverse
            .and_then(|inverse| inverse.foreign_key.as_ref())
            .filter(|fk| fk.fields.len() > 1)
        {
            let pairs = column_pairs(fk, Some(source));
            let (first_local, first_remote) = &pairs[0];
            let mut rows = self.matching(related, child, first_local, field(first_remote));
            rows.retain(|t| {
                pairs
                    .iter()
                    .all(|(local, remote)| get(fields(t), local).strict_eq(field(remote)))
            });
            return rows;
        }
        let source_id = match &source.key {
            Some(key) if !key.is_empty() => Value::String(
                key.iter()
                    .map(|k| {
                        field(k)
                            .to_js_string()
                            .replace('%', "%25")
                            .replace('|', "%7C")
                    })
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => field("id").clone(),
        };
        let name = child_key(source, inverse);
        self.matching(related, child, &name, &source_id)
    }

    /// `hasMany ... through join`: the join rows that point back at `instance`, then the
    /// target each of them points at, each target once, in the order of the join rows
    /// (docs/spec/semantics.md, "Many-to-many via `through`").
    fn through<'r>(
        &self,
        related: &'r Related,
        source: &IrEntity,
        rel: &IrRelationship,
        join: &str,
        instance: &Object,
    ) -> Vec<&'r Row> {
        let Some(to_target) = self
            .program
            .ir
            .entity(join)
            .and_then(|j| reference_to(j, &rel.target))
        else {
            return Vec::new();
        };
        let mut targets: Vec<&Row> = Vec::new();
        for link in self.children(related, source, join, instance) {
            if let Some(target) = self.referenced(related, to_target, fields(link))
                && !targets
                    .iter()
                    .any(|t| get(fields(t), "id").strict_eq(get(fields(target), "id")))
            {
                targets.push(target);
            }
        }
        targets
    }
}

/// The fields every `hasMany`/`hasOne` of the IR looks its children up by, per child entity:
/// the document indexes a database gets (tenant first).
pub(crate) fn lookup_fields(ir: &crate::ir::Ir) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for source in &ir.entities {
        for rel in &source.relationships {
            let children: Vec<&str> = match (rel.kind.as_str(), &rel.through) {
                ("hasMany", Some(join)) => vec![join.as_str()],
                ("hasMany" | "hasOne", None) => vec![rel.target.as_str()],
                _ => Vec::new(),
            };
            for child in children {
                let Some(child_entity) = ir.entity(child) else {
                    continue;
                };
                let inverse = reference_to(child_entity, &source.name);
                let pair = (child.to_owned(), child_key(source, inverse));
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
        }
    }
    out
}

/// `entity`'s `belongsTo`/`ref` relationship to `target`, the first declared.
fn reference_to<'e>(entity: &'e IrEntity, target: &str) -> Option<&'e IrRelationship> {
    entity
        .relationships
        .iter()
        .find(|r| (r.kind == "belongsTo" || r.kind == "ref") && r.target == target)
}

/// The field of a child entity that holds its parent's id (`source`'s): the first column of the
/// child's `belongsTo`/`ref` to the parent (`inverse`) or `<name>Id` of it, or, without one,
/// `<parent in lower case>Id`.
fn child_key(source: &IrEntity, inverse: Option<&IrRelationship>) -> String {
    match inverse {
        Some(inverse) => match inverse
            .foreign_key
            .as_ref()
            .and_then(|fk| fk.fields.first())
        {
            Some(name) => name.clone(),
            None => format!("{}Id", inverse.name),
        },
        None => format!("{}Id", source.name.to_lowercase()),
    }
}

fn get<'a>(object: &'a Object, name: &str) -> &'a Value {
    object.get(name).unwrap_or(&Value::Undefined)
}

fn one(found: Option<&Row>) -> Value {
    found.map_or(Value::Null, |t| Value::clone(t))
}

/// Each local foreign-key column with the column it references: `references` when it has one
/// per field, else the referenced entity's `key` when it does, else the same names.
fn column_pairs(fk: &IrForeignKey, referenced: Option<&IrEntity>) -> Vec<(String, String)> {
    let refs = match &fk.references {
        Some(refs) if refs.len() == fk.fields.len() => refs.clone(),
        _ => match referenced.and_then(|e| e.key.as_ref()) {
            Some(key) if key.len() == fk.fields.len() => key.clone(),
            _ => fk.fields.clone(),
        },
    };
    fk.fields.iter().cloned().zip(refs).collect()
}
