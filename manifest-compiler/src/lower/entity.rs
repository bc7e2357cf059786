//! Entities: properties, computed properties, relationships and constraints.

use super::Lowerer;
use super::expr::{json, num, static_value, type_value};
use crate::ast::{Constraint, Entity, ExprKind, Property, Relationship};
use crate::diagnostic::Diagnostic;
use manifest_ir::{
    self as ir, IrComputedProperty, IrConstraint, IrEntity, IrForeignKey, IrMaskStrategy,
    IrProperty, IrRelationship, IrTransition, IrType, IrValue, MaskKind, Modifiers, Severity,
};
use rustc_hash::FxHashMap as HashMap;
use serde_json::{Map, Value};

const MASK_ARITY: &[(&str, usize)] = &[
    ("redact", 0),
    ("partial", 2),
    ("email", 0),
    ("phone", 0),
    ("last4", 0),
];

fn value_kind(v: &IrValue) -> &'static str {
    match v {
        IrValue::String { .. } => "string",
        IrValue::Number { .. } => "number",
        IrValue::Boolean { .. } => "boolean",
        IrValue::Null => "null",
        IrValue::Array { .. } => "array",
        IrValue::Object { .. } => "object",
    }
}

fn default_compatible(ty: &IrType, kind: &str) -> bool {
    if kind == "null" {
        return ty.nullable;
    }
    match ty.name.as_str() {
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
    pub(crate) fn entity(&mut self, e: &Entity, module: Option<&str>) -> IrEntity {
        for b in &e.behaviors {
            self.diag(
                Diagnostic::error(format!(
                    "Entity '{}' declares behavior '{b}', which is not supported in this version. Use a top-level reaction ('on Event run Entity.command') or command actions instead.",
                    e.name
                ))
                .with_code("ENTITY_BEHAVIOR_UNSUPPORTED"),
            );
        }
        let constraints: Vec<IrConstraint> =
            e.constraints.iter().map(|c| self.constraint(c)).collect();
        self.unique_codes(&constraints, &format!("entity '{}'", e.name));
        let mut properties: Vec<IrProperty> =
            e.properties.iter().map(|p| self.property(p)).collect();
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
                    let modifiers = vec!["readonly".to_string()];
                    properties.push(IrProperty {
                        name: name.into(),
                        ty: IrType {
                            name: "datetime".into(),
                            ..IrType::default()
                        },
                        flags: Modifiers::of(&modifiers),
                        modifiers,
                        ..IrProperty::default()
                    });
                }
            }
        }
        let computed_properties = e
            .computed
            .iter()
            .map(|c| IrComputedProperty {
                cache: c.cache.as_ref().map(|(strategy, ttl)| {
                    let mut cache = Map::new();
                    cache.insert("strategy".into(), Value::from(strategy.as_str()));
                    if let Some(ttl) = ttl {
                        cache.insert("ttlSeconds".into(), num(*ttl));
                    }
                    Value::Object(cache)
                }),
                dependencies: c.dependencies.clone(),
                expression: self.expr(&c.expr),
                name: c.name.clone(),
                ty: Some(type_value(&c.ty)),
            })
            .collect();
        let relationships = e
            .relationships
            .iter()
            .map(|r| self.relationship(r, &e.name))
            .collect();
        let mut commands: Vec<String> = e.inherited_commands.clone();
        commands.extend(e.commands.iter().map(|c| c.name.clone()));
        let (defaults, regular): (Vec<_>, Vec<_>) = e.policies.iter().partition(|p| p.is_default);
        let approvals = e.approvals.iter().map(|a| self.approval(a, e)).collect();
        IrEntity {
            alternate_keys: e.alternate_keys.iter().map(json).collect(),
            approvals,
            commands,
            computed_properties,
            constraints,
            default_policies: defaults.into_iter().map(|p| p.name.clone()).collect(),
            external: e.external,
            key: e.key.clone(),
            mixins: e.mixins.clone(),
            module: module.map(String::from),
            name: e.name.clone(),
            parent: e.parent.clone(),
            policies: regular.into_iter().map(|p| p.name.clone()).collect(),
            properties,
            realtime: e.realtime,
            relationships,
            timestamps: e.timestamps,
            transitions: e
                .transitions
                .iter()
                .map(|t| IrTransition {
                    from: t.from.clone(),
                    property: t.property.clone(),
                    to: t.to.clone(),
                })
                .collect(),
            version_at_property: e.version_at_property.clone(),
            version_property: e.version_property.clone(),
        }
    }

    pub(crate) fn property(&mut self, p: &Property) -> IrProperty {
        let ty = type_value(&p.ty);
        let default = p.default.as_ref().and_then(static_value);
        if let Some(d) = &default
            && !default_compatible(&ty, value_kind(d))
        {
            self.diag(Diagnostic::error(format!(
                "Property default for '{}' is incompatible with declared type '{}'.",
                p.name, p.ty.name
            )));
        }
        let mut auto_now = false;
        if let (Some(expr), None) = (&p.default, &default) {
            auto_now = matches!(&expr.kind, ExprKind::Call { callee, args }
                if args.is_empty() && matches!(&callee.kind, ExprKind::Identifier(n) if n == "now" || n == "today"));
            if !auto_now {
                self.diag(Diagnostic::warning(format!(
                    "Property '{}': default expression is not a supported default and has no effect at runtime. Supported call defaults: now(), today(). Use a literal default or set the value in the command.",
                    p.name
                )));
            }
        }
        let mask_strategy = p
            .modifiers
            .iter()
            .any(|m| m == "masked")
            .then(|| self.mask(p));
        IrProperty {
            auto_now,
            default_value: default,
            flags: Modifiers::of(&p.modifiers),
            mask_strategy,
            modifiers: p.modifiers.clone(),
            name: p.name.clone(),
            ty,
        }
    }

    fn mask(&mut self, p: &Property) -> IrMaskStrategy {
        let (strategy, params) = match &p.mask {
            Some(d) => (d.strategy.as_str(), d.params.as_slice()),
            None => ("redact", &[][..]),
        };
        let unmask_when = p.unmask_when.as_ref().map(|e| self.expr(e));
        let (Some(&(_, arity)), Some(kind)) = (
            MASK_ARITY.iter().find(|(n, _)| *n == strategy),
            MaskKind::from_name(strategy),
        ) else {
            self.diag(Diagnostic::error(format!(
                "Property '{}': Unknown masking strategy '{strategy}'. Known strategies: redact, partial, email, phone, last4.",
                p.name
            )));
            return IrMaskStrategy {
                params: Vec::new(),
                kind: MaskKind::Redact,
                unmask_when,
            };
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
                .map(|n| manifest_ir::js::number_to_string(*n))
                .collect();
            self.diag(Diagnostic::error(format!(
                "Property '{}': masking strategy '{strategy}' parameters must be non-negative integers (got {}).",
                p.name,
                shown.join(", ")
            )));
        }
        IrMaskStrategy {
            params: params.to_vec(),
            kind,
            unmask_when,
        }
    }

    fn relationship(&mut self, r: &Relationship, entity: &str) -> IrRelationship {
        if r.fields.is_some() && r.through.is_some() {
            self.diag(
                Diagnostic::error(format!(
                    "Relationship '{}' on entity '{entity}' cannot set both 'foreignKey' and 'through' — they are mutually exclusive.",
                    r.name
                ))
                .with_code("RELATION_FK_THROUGH_EXCLUSIVE"),
            );
        }
        IrRelationship {
            foreign_key: r.fields.as_ref().map(|fields| IrForeignKey {
                fields: fields.clone(),
                references: r.references.clone(),
            }),
            kind: r.kind.clone(),
            name: r.name.clone(),
            on_delete: r.on_delete.clone(),
            on_update: r.on_update.clone(),
            target: r.target.clone(),
            through: r.through.clone(),
        }
    }

    pub(crate) fn validate_through(&mut self, entities: &[IrEntity]) {
        let by_name: HashMap<&str, &IrEntity> =
            entities.iter().map(|e| (e.name.as_str(), e)).collect();
        for e in entities {
            let ename = e.name.as_str();
            for r in &e.relationships {
                let Some(through) = r.through.as_deref() else {
                    continue;
                };
                if r.foreign_key.is_some() {
                    continue;
                }
                let (rname, target) = (r.name.as_str(), r.target.as_str());
                if r.kind != "hasMany" {
                    self.diag(Diagnostic::error(format!("Relationship '{rname}' on entity '{ename}' uses 'through', which is only supported on hasMany in this version.")).with_code("RELATION_THROUGH_KIND_UNSUPPORTED"));
                    continue;
                }
                let Some(join) = by_name.get(through) else {
                    self.diag(Diagnostic::error(format!("Relationship '{rname}' on entity '{ename}' uses through '{through}', but no entity '{through}' is declared.")).with_code("RELATION_THROUGH_JOIN_INVALID"));
                    continue;
                };
                let links = |t: &str| {
                    join.relationships
                        .iter()
                        .any(|jr| (jr.kind == "belongsTo" || jr.kind == "ref") && jr.target == t)
                };
                if !links(ename) || !links(target) {
                    self.diag(Diagnostic::error(format!("Relationship '{rname}' on entity '{ename}' through '{through}' requires '{through}' to declare belongsTo/ref to '{ename}' and to '{target}'.")).with_code("RELATION_THROUGH_JOIN_INVALID"));
                }
            }
        }
    }

    pub(crate) fn constraint(&mut self, c: &Constraint) -> IrConstraint {
        let mut fail_when = c.fail_when;
        if fail_when.is_none() && c.name.starts_with("severity") {
            fail_when = Some(true);
            self.diag(Diagnostic::warning(format!(
                "CONSTRAINT_POLARITY_NAME_HEURISTIC: Constraint '{}' uses the legacy name-prefix heuristic for negative polarity. Declare 'failWhen: true' explicitly and rename the constraint to suppress this warning.",
                c.name
            )));
        }
        let expression = match &c.expr {
            Some(e) => self.expr(e),
            None => ir::Expr::Literal {
                value: IrValue::Null,
            },
        };
        let details_mapping = c.details.as_ref().map(|details| {
            let mut d = Map::new();
            for (k, v) in details {
                let v = self.expr_json(v);
                d.insert(k.clone(), v);
            }
            Value::Object(d)
        });
        IrConstraint {
            code: Some(c.code.clone().unwrap_or_else(|| c.name.clone())),
            details_mapping,
            expression,
            fail_when,
            message: c.message.clone(),
            message_template: c.message_template.clone(),
            name: c.name.clone(),
            overrideable: c.overrideable,
            override_policy_ref: c.override_policy.clone(),
            severity: self.severity(&c.severity),
        }
    }

    fn severity(&mut self, name: &str) -> Severity {
        Severity::from_name(name).unwrap_or_else(|| {
            self.diag(Diagnostic::error(format!(
                "{}: constraint severity '{name}' has no IR form",
                crate::INTERNAL_ERROR
            )));
            Severity::Block
        })
    }

    pub(crate) fn unique_codes(&mut self, lowered: &[IrConstraint], scope: &str) {
        let mut seen: HashMap<&str, usize> = HashMap::default();
        for (i, c) in lowered.iter().enumerate() {
            let code = c.code.as_deref().unwrap_or_default();
            if let Some(&first) = seen.get(code) {
                let first_name = &lowered[first].name;
                self.diag(Diagnostic::error(format!(
                    "Duplicate constraint code '{code}' in {scope}. First defined at constraint '{first_name}'."
                )));
            } else {
                seen.insert(code, i);
            }
        }
    }
}
