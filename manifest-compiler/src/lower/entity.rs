//! Entities: properties, computed properties, relationships and constraints.

use super::expr::{static_value, type_value};
use super::{Lowerer, put};
use crate::ast::{Constraint, Entity, ExprKind, Property, Relationship};
use crate::diagnostic::Diagnostic;
use crate::jsjson::num;
use rustc_hash::FxHashMap as HashMap;
use serde_json::{Map, Value, json};

const MASK_ARITY: &[(&str, usize)] = &[
    ("redact", 0),
    ("partial", 2),
    ("email", 0),
    ("phone", 0),
    ("last4", 0),
];

fn default_compatible(ty: &Value, kind: &str) -> bool {
    let name = ty["name"].as_str().unwrap_or_default();
    if kind == "null" {
        return ty["nullable"] == true;
    }
    match name {
        "array" | "list" => kind == "array",
        "map" | "json" | "any" | "object" => kind == "object" || kind == "array",
        "date" | "datetime" | "timestamp" => kind == "number" || kind == "string",
        "number" | "money" | "decimal" | "int" | "integer" | "bigint" | "float" | "duration" => {
            kind == "number"
        }
        "boolean" | "bool" => kind == "boolean",
        _ => kind == "string",
    }
}

impl Lowerer {
    pub(crate) fn entity(&mut self, e: &Entity, module: Option<&str>) -> Value {
        for b in &e.behaviors {
            self.diag(
                Diagnostic::error(format!(
                    "Entity '{}' declares behavior '{b}', which is not supported in this version. Use a top-level reaction ('on Event run Entity.command') or command actions instead.",
                    e.name
                ))
                .with_code("ENTITY_BEHAVIOR_UNSUPPORTED"),
            );
        }
        let constraints: Vec<Value> = e.constraints.iter().map(|c| self.constraint(c)).collect();
        self.unique_codes(
            &constraints,
            &e.constraints,
            &format!("entity '{}'", e.name),
        );
        let mut properties: Vec<Value> = e.properties.iter().map(|p| self.property(p)).collect();
        for p in &e.properties {
            if p.modifiers.iter().any(|m| m == "searchable") && p.ty.name != "string" {
                self.diag(Diagnostic::error(format!(
                    "Property '{}' on entity '{}': 'searchable' modifier is only valid on string properties (got '{}').",
                    p.name, e.name, p.ty.name
                )));
            }
        }
        if e.timestamps {
            for name in ["createdAt", "updatedAt"] {
                if !e.properties.iter().any(|p| p.name == name) {
                    properties.push(json!({
                        "name": name,
                        "type": {"name": "datetime", "nullable": false},
                        "modifiers": ["readonly"],
                    }));
                }
            }
        }
        let computed: Vec<Value> = e
            .computed
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert("name".into(), json!(c.name));
                m.insert("type".into(), type_value(&c.ty));
                m.insert("expression".into(), self.expr(&c.expr));
                m.insert("dependencies".into(), json!(c.dependencies));
                if let Some((strategy, ttl)) = &c.cache {
                    let mut cache = Map::new();
                    cache.insert("strategy".into(), json!(strategy));
                    put(&mut cache, "ttlSeconds", ttl.map(num));
                    m.insert("cache".into(), Value::Object(cache));
                }
                Value::Object(m)
            })
            .collect();
        let relationships: Vec<Value> = e
            .relationships
            .iter()
            .map(|r| self.relationship(r, &e.name))
            .collect();
        let mut commands: Vec<String> = e.inherited_commands.clone();
        commands.extend(e.commands.iter().map(|c| c.name.clone()));
        let defaults: Vec<&String> = e
            .policies
            .iter()
            .filter(|p| p.is_default)
            .map(|p| &p.name)
            .collect();
        let regular: Vec<&String> = e
            .policies
            .iter()
            .filter(|p| !p.is_default)
            .map(|p| &p.name)
            .collect();

        let mut m = Map::new();
        m.insert("name".into(), json!(e.name));
        put(&mut m, "module", module.map(|s| json!(s)));
        m.insert("properties".into(), Value::Array(properties));
        m.insert("computedProperties".into(), Value::Array(computed));
        m.insert("relationships".into(), Value::Array(relationships));
        m.insert("commands".into(), json!(commands));
        m.insert("constraints".into(), Value::Array(constraints));
        m.insert("policies".into(), json!(regular));
        put(&mut m, "parent", e.parent.as_ref().map(|p| json!(p)));
        put(&mut m, "mixins", e.mixins.as_ref().map(|p| json!(p)));
        if !defaults.is_empty() {
            m.insert("defaultPolicies".into(), json!(defaults));
        }
        put(&mut m, "key", e.key.as_ref().map(|k| json!(k)));
        if !e.alternate_keys.is_empty() {
            m.insert("alternateKeys".into(), json!(e.alternate_keys));
        }
        put(
            &mut m,
            "versionProperty",
            e.version_property.as_ref().map(|v| json!(v)),
        );
        put(
            &mut m,
            "versionAtProperty",
            e.version_at_property.as_ref().map(|v| json!(v)),
        );
        for (flag, key) in [
            (e.timestamps, "timestamps"),
            (e.realtime, "realtime"),
            (e.external, "external"),
        ] {
            if flag {
                m.insert(key.into(), json!(true));
            }
        }
        if !e.transitions.is_empty() {
            let t: Vec<Value> = e
                .transitions
                .iter()
                .map(|t| json!({"property": t.property, "from": t.from, "to": t.to}))
                .collect();
            m.insert("transitions".into(), Value::Array(t));
        }
        if !e.approvals.is_empty() {
            let a: Vec<Value> = e.approvals.iter().map(|a| self.approval(a, e)).collect();
            m.insert("approvals".into(), Value::Array(a));
        }
        Value::Object(m)
    }

    pub(crate) fn property(&mut self, p: &Property) -> Value {
        let ty = type_value(&p.ty);
        let default = p.default.as_ref().and_then(static_value);
        let mut m = Map::new();
        m.insert("name".into(), json!(p.name));
        if let Some(d) = &default
            && !default_compatible(&ty, d["kind"].as_str().unwrap_or_default())
        {
            self.diag(Diagnostic::error(format!(
                "Property default for '{}' is incompatible with declared type '{}'.",
                p.name, p.ty.name
            )));
        }
        m.insert("type".into(), ty);
        put(&mut m, "defaultValue", default.clone());
        if let (Some(expr), None) = (&p.default, &default) {
            let auto_now = matches!(&expr.kind, ExprKind::Call { callee, args }
                if args.is_empty() && matches!(&callee.kind, ExprKind::Identifier(n) if n == "now" || n == "today"));
            if auto_now {
                m.insert("autoNow".into(), json!(true));
            } else {
                self.diag(Diagnostic::warning(format!(
                    "Property '{}': default expression is not a supported default and has no effect at runtime. Supported call defaults: now(), today(). Use a literal default or set the value in the command.",
                    p.name
                )));
            }
        }
        m.insert("modifiers".into(), json!(p.modifiers));
        if p.modifiers.iter().any(|m| m == "masked") {
            let mask = self.mask(p);
            m.insert("maskStrategy".into(), mask);
        }
        Value::Object(m)
    }

    fn mask(&mut self, p: &Property) -> Value {
        let (strategy, params) = match &p.mask {
            Some(d) => (d.strategy.as_str(), d.params.as_slice()),
            None => ("redact", &[][..]),
        };
        let unmask = p.unmask_when.as_ref().map(|e| self.expr(e));
        let mut m = Map::new();
        let Some(&(_, arity)) = MASK_ARITY.iter().find(|(n, _)| *n == strategy) else {
            self.diag(Diagnostic::error(format!(
                "Property '{}': Unknown masking strategy '{strategy}'. Known strategies: redact, partial, email, phone, last4.",
                p.name
            )));
            m.insert("type".into(), json!("redact"));
            put(&mut m, "unmaskWhen", unmask);
            return Value::Object(m);
        };
        if params.len() != arity {
            let msg = if arity == 0 {
                format!(
                    "Property '{}': masking strategy '{strategy}' takes no parameters (got {}).",
                    p.name,
                    params.len()
                )
            } else {
                format!(
                    "Property '{}': masking strategy '{strategy}' requires exactly {arity} parameters (got {}).",
                    p.name,
                    params.len()
                )
            };
            self.diag(Diagnostic::error(msg));
        } else if params.iter().any(|n| n.fract() != 0.0 || *n < 0.0) {
            let shown: Vec<String> = params
                .iter()
                .map(|n| crate::jsjson::number_to_string(*n))
                .collect();
            self.diag(Diagnostic::error(format!(
                "Property '{}': masking strategy '{strategy}' parameters must be non-negative integers (got {}).",
                p.name,
                shown.join(", ")
            )));
        }
        m.insert("type".into(), json!(strategy));
        if !params.is_empty() {
            m.insert(
                "params".into(),
                Value::Array(params.iter().map(|n| num(*n)).collect()),
            );
        }
        put(&mut m, "unmaskWhen", unmask);
        Value::Object(m)
    }

    fn relationship(&mut self, r: &Relationship, entity: &str) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(r.name));
        m.insert("kind".into(), json!(r.kind));
        m.insert("target".into(), json!(r.target));
        if let Some(fields) = &r.fields {
            let mut fk = Map::new();
            fk.insert("fields".into(), json!(fields));
            put(
                &mut fk,
                "references",
                r.references.as_ref().map(|x| json!(x)),
            );
            m.insert("foreignKey".into(), Value::Object(fk));
            if r.through.is_some() {
                self.diag(
                    Diagnostic::error(format!(
                        "Relationship '{}' on entity '{entity}' cannot set both 'foreignKey' and 'through' — they are mutually exclusive.",
                        r.name
                    ))
                    .with_code("RELATION_FK_THROUGH_EXCLUSIVE"),
                );
            }
        }
        put(&mut m, "through", r.through.as_ref().map(|x| json!(x)));
        put(&mut m, "onDelete", r.on_delete.as_ref().map(|x| json!(x)));
        put(&mut m, "onUpdate", r.on_update.as_ref().map(|x| json!(x)));
        Value::Object(m)
    }

    pub(crate) fn validate_through(&mut self, entities: &[Value]) {
        let by_name: HashMap<&str, &Value> = entities
            .iter()
            .filter_map(|e| Some((e["name"].as_str()?, e)))
            .collect();
        for e in entities {
            let ename = e["name"].as_str().unwrap_or_default();
            for r in e["relationships"].as_array().into_iter().flatten() {
                let Some(through) = r["through"].as_str() else {
                    continue;
                };
                if r.get("foreignKey").is_some() {
                    continue;
                }
                let rname = r["name"].as_str().unwrap_or_default();
                let target = r["target"].as_str().unwrap_or_default();
                if r["kind"] != "hasMany" {
                    self.diag(Diagnostic::error(format!("Relationship '{rname}' on entity '{ename}' uses 'through', which is only supported on hasMany in this version.")).with_code("RELATION_THROUGH_KIND_UNSUPPORTED"));
                    continue;
                }
                let Some(join) = by_name.get(through) else {
                    self.diag(Diagnostic::error(format!("Relationship '{rname}' on entity '{ename}' uses through '{through}', but no entity '{through}' is declared.")).with_code("RELATION_THROUGH_JOIN_INVALID"));
                    continue;
                };
                let links = |t: &str| {
                    join["relationships"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|jr| {
                            (jr["kind"] == "belongsTo" || jr["kind"] == "ref") && jr["target"] == t
                        })
                };
                if !links(ename) || !links(target) {
                    self.diag(Diagnostic::error(format!("Relationship '{rname}' on entity '{ename}' through '{through}' requires '{through}' to declare belongsTo/ref to '{ename}' and to '{target}'.")).with_code("RELATION_THROUGH_JOIN_INVALID"));
                }
            }
        }
    }

    pub(crate) fn constraint(&mut self, c: &Constraint) -> Value {
        let mut fail_when = c.fail_when;
        if fail_when.is_none() && c.name.starts_with("severity") {
            fail_when = Some(true);
            self.diag(Diagnostic::warning(format!(
                "CONSTRAINT_POLARITY_NAME_HEURISTIC: Constraint '{}' uses the legacy name-prefix heuristic for negative polarity. Declare 'failWhen: true' explicitly and rename the constraint to suppress this warning.",
                c.name
            )));
        }
        let mut m = Map::new();
        m.insert("name".into(), json!(c.name));
        m.insert(
            "code".into(),
            json!(c.code.clone().unwrap_or_else(|| c.name.clone())),
        );
        let expression = match &c.expr {
            Some(e) => self.expr(e),
            None => json!({"kind": "literal", "value": {"kind": "null"}}),
        };
        m.insert("expression".into(), expression);
        m.insert("severity".into(), json!(c.severity));
        put(&mut m, "failWhen", fail_when.map(|f| json!(f)));
        put(&mut m, "message", c.message.as_ref().map(|x| json!(x)));
        put(
            &mut m,
            "messageTemplate",
            c.message_template.as_ref().map(|x| json!(x)),
        );
        if let Some(details) = &c.details {
            let mut d = Map::new();
            for (k, v) in details {
                let v = self.expr(v);
                d.insert(k.clone(), v);
            }
            m.insert("detailsMapping".into(), Value::Object(d));
        }
        m.insert("overrideable".into(), json!(c.overrideable));
        put(
            &mut m,
            "overridePolicyRef",
            c.override_policy.as_ref().map(|x| json!(x)),
        );
        Value::Object(m)
    }

    pub(crate) fn unique_codes(&mut self, lowered: &[Value], ast: &[Constraint], scope: &str) {
        let mut seen: HashMap<&str, usize> = HashMap::default();
        for (i, c) in lowered.iter().enumerate() {
            let code = c["code"].as_str().unwrap_or_default();
            if let Some(&first) = seen.get(code) {
                let first_name = lowered[first]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let d = Diagnostic::error(format!(
                    "Duplicate constraint code '{code}' in {scope}. First defined at constraint '{first_name}'."
                ));
                let _ = ast.get(i);
                self.diag(d);
            } else {
                seen.insert(code, i);
            }
        }
    }
}
