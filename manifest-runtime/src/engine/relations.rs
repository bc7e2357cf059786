//! Relationship resolution (`self.customer`, `self.orders`), the reference's
//! `resolveRelationship`.
//!
//! Expressions are evaluated synchronously but stores are async, so before evaluating the
//! expressions of an entity that has relationships, the engine loads every instance of the
//! entities reachable from it through relationships ([`RuntimeEngine::related`]) and answers
//! member accesses from that snapshot. An entity without relationships loads nothing and its
//! member accesses never look at the IR's relationships.

use std::collections::BTreeMap;

use super::rows::{Row, fields};
use super::{Object, RuntimeEngine, RuntimeError};
use crate::ir::{IrEntity, IrForeignKey, IrRelationship};
use crate::value::Value;

/// The instances (each with `_entity`) of the entities one operation's expressions can reach
/// through relationships, by entity name. Empty when the operation's entity has none.
#[derive(Debug, Default)]
pub(super) struct Related {
    by_entity: BTreeMap<String, Vec<Row>>,
    /// Whether relationships are resolved at all (the operation's entity has some).
    active: bool,
}

impl RuntimeEngine {
    /// Load the instances of every entity reachable from `entity` through relationships (each
    /// entity once); nothing when `entity` has no relationships.
    pub(super) async fn related(&self, entity: &IrEntity) -> Result<Related, RuntimeError> {
        let mut related = Related::default();
        if entity.relationships.is_empty() {
            return Ok(related);
        }
        related.active = true;
        let mut queue = vec![entity];
        while let Some(from) = queue.pop() {
            // Each relationship's target, and the join entity of a `through`.
            let mut reached = Vec::new();
            for rel in &from.relationships {
                reached.push(&rel.target);
                reached.extend(&rel.through);
            }
            for name in reached {
                if related.by_entity.contains_key(name) {
                    continue;
                }
                let Some(target) = self.ir.entity(name) else {
                    continue;
                };
                let rows = self.rows(name)?.all(name).await?;
                related.by_entity.insert(name.clone(), rows);
                queue.push(target);
            }
        }
        Ok(related)
    }

    /// `instance.property` when `property` is a relationship of `entity`; `None` when it is
    /// not (or nothing was loaded).
    pub(super) fn resolve_relationship(
        &self,
        related: &Related,
        entity: &str,
        instance: &Object,
        property: &str,
    ) -> Option<Value> {
        if !related.active {
            return None;
        }
        let source = self.ir.entity(entity)?;
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

    /// The row a `belongsTo`/`ref` relationship of `instance` points at: by its foreign-key
    /// columns (paired with the columns they reference), or by `<name>Id` against `id`.
    fn referenced<'r>(
        &self,
        related: &'r Related,
        rel: &IrRelationship,
        instance: &Object,
    ) -> Option<&'r Row> {
        let rows = related.rows(&rel.target);
        let field = |name: &str| get(instance, name);
        if let Some(fk) = rel.foreign_key.as_ref().filter(|fk| fk.fields.len() > 1) {
            let pairs = column_pairs(fk, self.ir.entity(&rel.target));
            if pairs
                .iter()
                .any(|(local, _)| matches!(field(local), Value::Undefined | Value::Null))
            {
                return None;
            }
            return rows.iter().find(|t| {
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
        rows.iter()
            .find(|t| get(fields(t), "id").strict_eq(target_id))
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
        let rows = related.rows(child);
        let Some(child) = self.ir.entity(child) else {
            return Vec::new();
        };
        let field = |name: &str| get(instance, name);
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
        let inverse = child
            .relationships
            .iter()
            .find(|r| (r.kind == "belongsTo" || r.kind == "ref") && r.target == source.name);
        let matches: Box<dyn Fn(&Object) -> bool + '_> = match inverse {
            Some(inverse) => match inverse.foreign_key.as_ref() {
                Some(fk) if fk.fields.len() > 1 => {
                    let pairs = column_pairs(fk, Some(source));
                    Box::new(move |t| {
                        pairs
                            .iter()
                            .all(|(local, remote)| get(t, local).strict_eq(field(remote)))
                    })
                }
                fk => {
                    let name = match fk.and_then(|fk| fk.fields.first()) {
                        Some(name) => name.clone(),
                        None => format!("{}Id", inverse.name),
                    };
                    let source_id = &source_id;
                    Box::new(move |t| get(t, &name).strict_eq(source_id))
                }
            },
            None => {
                let name = format!("{}Id", source.name.to_lowercase());
                let source_id = &source_id;
                Box::new(move |t| get(t, &name).strict_eq(source_id))
            }
        };
        rows.iter().filter(|t| matches(fields(t))).collect()
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
        let Some(to_target) = self.ir.entity(join).and_then(|j| {
            j.relationships
                .iter()
                .find(|r| (r.kind == "belongsTo" || r.kind == "ref") && r.target == rel.target)
        }) else {
            return Vec::new();
        };
        let mut targets: Vec<&Row> = Vec::new();
        for link in self.children(related, source, join, instance) {
            if let Some(target) = self.referenced(related, to_target, fields(link))
                && !targets.iter().any(|t| std::sync::Arc::ptr_eq(t, target))
            {
                targets.push(target);
            }
        }
        targets
    }
}

impl Related {
    /// The loaded rows of `entity` (none when it was not loaded).
    fn rows(&self, entity: &str) -> &[Row] {
        self.by_entity.get(entity).map_or(&[], Vec::as_slice)
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
