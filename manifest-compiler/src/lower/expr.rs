//! Expressions, static values and types to the typed IR.

use super::Lowerer;
use crate::ast::{Expr, ExprKind, Lit, Predicate, TypeRef};
use crate::diagnostic::Diagnostic;
use manifest_ir::{self as ir, BinaryOp, IrType, IrValue, UnaryOp};
use serde_json::{Map, Value};

pub(crate) fn literal_value(lit: &Lit) -> IrValue {
    match lit {
        Lit::Str(s) => IrValue::String { value: s.clone() },
        Lit::Num(n) => IrValue::Number { value: *n },
        Lit::Bool(b) => IrValue::Boolean { value: *b },
        Lit::Null => IrValue::Null,
    }
}

pub(crate) fn type_value(t: &TypeRef) -> IrType {
    IrType {
        generic: t.generic.as_ref().map(|g| Box::new(type_value(g))),
        name: t.name.clone(),
        nullable: t.nullable,
        params: t.params.map(|(precision, scale)| {
            let mut p = Map::new();
            p.insert("precision".into(), precision.map_or(Value::Null, num));
            p.insert("scale".into(), scale.map_or(Value::Null, num));
            Value::Object(p)
        }),
    }
}

/// A JS number as a JSON value (integral values as integers).
pub(crate) fn num(n: f64) -> Value {
    Value::from(manifest_ir::js::JsNumber(n))
}

/// A default or config value known at compile time, if the expression is one.
pub(crate) fn static_value(e: &Expr) -> Option<IrValue> {
    match &e.kind {
        ExprKind::Identifier(name) => Some(IrValue::String {
            value: name.clone(),
        }),
        ExprKind::Literal(lit) => Some(literal_value(lit)),
        ExprKind::Unary { op, operand } => match static_value(operand)? {
            IrValue::Number { value } if op == "-" => Some(IrValue::Number { value: -value }),
            IrValue::Number { value } if op == "+" => Some(IrValue::Number { value }),
            _ => None,
        },
        ExprKind::Array(items) => Some(IrValue::Array {
            elements: items.iter().filter_map(static_value).collect(),
        }),
        ExprKind::Object(props) => {
            // A JS object: a repeated key keeps its first place and takes the last value.
            let mut properties: Vec<(String, IrValue)> = Vec::with_capacity(props.len());
            for (k, v) in props {
                if let Some(v) = static_value(v) {
                    match properties.iter_mut().find(|(key, _)| key == k) {
                        Some(slot) => slot.1 = v,
                        None => properties.push((k.clone(), v)),
                    }
                }
            }
            Some(IrValue::Object { properties })
        }
        _ => None,
    }
}

/// A typed IR part as JSON, for the parts of the IR kept as JSON. The IR's types serialize
/// to JSON without fail (string keys, no custom errors).
pub(crate) fn json<T: serde::Serialize>(part: &T) -> Value {
    serde_json::to_value(part).unwrap_or(Value::Null)
}

/// A static value as IR JSON (for the parts of the IR kept as JSON).
pub(crate) fn static_json(e: &Expr) -> Option<Value> {
    static_value(e).map(|v| json(&v))
}

impl Lowerer {
    pub(crate) fn expr(&mut self, e: &Expr) -> ir::Expr {
        let b = |lw: &mut Lowerer, e: &Expr| Box::new(lw.expr(e));
        match &e.kind {
            ExprKind::Literal(lit) => ir::Expr::Literal {
                value: literal_value(lit),
            },
            ExprKind::Identifier(name) => ir::Expr::Identifier { name: name.clone() },
            ExprKind::Member { object, property } => ir::Expr::Member {
                object: b(self, object),
                property: property.clone(),
            },
            ExprKind::Binary { op, left, right } => match BinaryOp::from_name(op) {
                Some(operator) => ir::Expr::Binary {
                    operator,
                    left: b(self, left),
                    right: b(self, right),
                },
                None => self.internal(format!("binary operator '{op}'")),
            },
            ExprKind::Unary { op, operand } => match UnaryOp::from_name(op) {
                Some(operator) => ir::Expr::Unary {
                    operator,
                    operand: b(self, operand),
                },
                None => self.internal(format!("unary operator '{op}'")),
            },
            ExprKind::Call { callee, args } => {
                if let ExprKind::Identifier(name) = &callee.kind
                    && name == "matches"
                    && let Some(ExprKind::Literal(Lit::Str(pattern))) = args.get(1).map(|a| &a.kind)
                    && !crate::checks::regex::is_valid_js_regex(pattern)
                {
                    self.diag(Diagnostic::error(format!(
                        "Invalid regex pattern in matches(): \"{pattern}\""
                    )));
                }
                let args = args.iter().map(|a| self.expr(a)).collect();
                ir::Expr::Call {
                    callee: b(self, callee),
                    args,
                }
            }
            ExprKind::Conditional {
                condition,
                consequent,
                alternate,
            } => ir::Expr::Conditional {
                condition: b(self, condition),
                consequent: b(self, consequent),
                alternate: b(self, alternate),
            },
            ExprKind::Array(items) => ir::Expr::Array {
                elements: items.iter().map(|i| self.expr(i)).collect(),
            },
            ExprKind::Object(props) => ir::Expr::Object {
                properties: props
                    .iter()
                    .map(|(k, v)| ir::ObjectProperty {
                        key: k.clone(),
                        value: self.expr(v),
                    })
                    .collect(),
            },
            ExprKind::Lambda { params, body } => ir::Expr::Lambda {
                params: params.clone(),
                body: b(self, body),
            },
            ExprKind::Count { entity, predicates } => ir::Expr::Aggregate {
                op: ir::AggregateOp::Count,
                entity: entity.clone(),
                predicates: self.predicates(predicates),
                field: None,
            },
            ExprKind::Sum {
                entity,
                predicates,
                of,
            } => ir::Expr::Aggregate {
                op: ir::AggregateOp::Sum,
                entity: entity.clone(),
                predicates: self.predicates(predicates),
                field: Some(of.clone()),
            },
        }
    }

    /// An expression as IR JSON (for the parts of the IR kept as JSON).
    pub(crate) fn expr_json(&mut self, e: &Expr) -> Value {
        json(&self.expr(e))
    }

    /// Reports a construct the parser accepted but the IR has no form for (a compiler bug).
    fn internal(&mut self, what: String) -> ir::Expr {
        self.diag(Diagnostic::error(format!(
            "{}: {what} has no IR form",
            crate::INTERNAL_ERROR
        )));
        ir::Expr::Literal {
            value: IrValue::Null,
        }
    }

    fn predicates(&mut self, predicates: &[Predicate]) -> Vec<ir::AggregatePredicate> {
        predicates
            .iter()
            .map(|p| ir::AggregatePredicate {
                field: p.field.clone(),
                value: self.expr(&p.value),
            })
            .collect()
    }
}
