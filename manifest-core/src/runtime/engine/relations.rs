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
use crate::runtime::ir::{IrEntity, IrForeignKey, IrRelationship};
use crate::runtime::value::Value;

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
            for rel in &from.relationships {
                if related.by_entity.contains_key(&rel.target) {
                    continue;
                }
                let Some(target) = self.ir.entity(&rel.target) else {
                    continue;
                };
                let rows = self.rows(&rel.target)?.all(&rel.target).await?;
                related.by_entity.insert(rel.target.clone(), rows);
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
        let rows = related
            .by_entity
            .get(&rel.target)
            .map_or(&[][..], Vec::as_slice);
        let field = |name: &str| instance.get(name).unwrap_or(&Value::Undefined);
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
        match rel.kind.as_str() {
            "belongsTo" | "ref" => {
                if let Some(fk) = rel.foreign_key.as_ref().filter(|fk| fk.fields.len() > 1) {
                    let pairs = column_pairs(fk, self.ir.entity(&rel.target));
                    if pairs
                        .iter()
                        .any(|(local, _)| matches!(field(local), Value::Undefined | Value::Null))
                    {
                        return Value::Null;
                    }
                    return one(rows.iter().find(|t| {
                        pairs
                            .iter()
                            .all(|(local, remote)| get(fields(t), remote).strict_eq(field(local)))
                    }));
                }
                let fk = match rel.foreign_key.as_ref().and_then(|fk| fk.fields.first()) {
                    Some(name) => name.clone(),
                    None => format!("{}Id", rel.name),
                };
                let target_id = field(&fk);
                if !target_id.truthy() {
                    return Value::Null;
                }
                one(rows
                    .iter()
                    .find(|t| get(fields(t), "id").strict_eq(target_id)))
            }
            kind @ ("hasOne" | "hasMany") => {
                let Some(target) = self.ir.entity(&rel.target) else {
                    return if kind == "hasMany" {
                        Value::Array(Vec::new())
                    } else {
                        Value::Null
                    };
                };
                let inverse = target.relationships.iter().find(|r| {
                    (r.kind == "belongsTo" || r.kind == "ref") && r.target == source.name
                });
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
                if kind == "hasMany" {
                    Value::Array(
                        rows.iter()
                            .filter(|t| matches(fields(t)))
                            .map(|t| Value::clone(t))
                            .collect(),
                    )
                } else {
                    one(rows.iter().find(|t| matches(fields(t))))
                }
            }
            _ => Value::Null,
        }
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
