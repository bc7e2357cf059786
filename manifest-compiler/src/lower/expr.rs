//! Expressions, static values and types to IR JSON.

use super::{Lowerer, obj};
use crate::ast::{Expr, ExprKind, Lit, Predicate, TypeRef};
use crate::diagnostic::Diagnostic;
use crate::jsjson::num;
use serde_json::{Map, Value};

pub(crate) fn literal_value(lit: &Lit) -> Value {
    match lit {
        Lit::Str(s) => obj! {"kind" => "string", "value" => s.as_str()},
        Lit::Num(n) => obj! {"kind" => "number", "value" => num(*n)},
        Lit::Bool(b) => obj! {"kind" => "boolean", "value" => *b},
        Lit::Null => obj! {"kind" => "null"},
    }
}

pub(crate) fn type_value(t: &TypeRef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::from(t.name.as_str()));
    if let Some(g) = &t.generic {
        m.insert("generic".into(), type_value(g));
    }
    m.insert("nullable".into(), Value::Bool(t.nullable));
    if let Some((precision, scale)) = t.params {
        let mut p = Map::new();
        p.insert("precision".into(), precision.map_or(Value::Null, num));
        p.insert("scale".into(), scale.map_or(Value::Null, num));
        m.insert("params".into(), Value::Object(p));
    }
    Value::Object(m)
}

/// A default or config value known at compile time, if the expression is one.
pub(crate) fn static_value(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Identifier(name) => Some(obj! {"kind" => "string", "value" => name.as_str()}),
        ExprKind::Literal(lit) => Some(literal_value(lit)),
        ExprKind::Unary { op, operand } => {
            let inner = static_value(operand)?;
            if inner["kind"] == "number" && (op == "-" || op == "+") {
                let n = inner["value"].as_f64().unwrap_or(f64::NAN);
                let v = if op == "-" { -n } else { n };
                return Some(obj! {"kind" => "number", "value" => num(v)});
            }
            None
        }
        ExprKind::Array(items) => {
            let elements: Vec<Value> = items.iter().filter_map(static_value).collect();
            Some(obj! {"kind" => "array", "elements" => elements})
        }
        ExprKind::Object(props) => {
            let mut m = Map::new();
            for (k, v) in props {
                if let Some(v) = static_value(v) {
                    m.insert(k.clone(), v);
                }
            }
            Some(obj! {"kind" => "object", "properties" => m})
        }
        _ => None,
    }
}

impl Lowerer {
    pub(crate) fn expr(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Literal(lit) => obj! {"kind" => "literal", "value" => literal_value(lit)},
            ExprKind::Identifier(name) => obj! {"kind" => "identifier", "name" => name.as_str()},
            ExprKind::Member { object, property } => obj! {
                "kind" => "member", "object" => self.expr(object), "property" => property.as_str()
            },
            ExprKind::Binary { op, left, right } => obj! {
                "kind" => "binary", "operator" => op.as_str(),
                "left" => self.expr(left), "right" => self.expr(right)
            },
            ExprKind::Unary { op, operand } => obj! {
                "kind" => "unary", "operator" => op.as_str(), "operand" => self.expr(operand)
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
                let args: Vec<Value> = args.iter().map(|a| self.expr(a)).collect();
                obj! {"kind" => "call", "callee" => self.expr(callee), "args" => args}
            }
            ExprKind::Conditional {
                condition,
                consequent,
                alternate,
            } => obj! {
                "kind" => "conditional",
                "condition" => self.expr(condition),
                "consequent" => self.expr(consequent),
                "alternate" => self.expr(alternate),
            },
            ExprKind::Array(items) => {
                let elements: Vec<Value> = items.iter().map(|i| self.expr(i)).collect();
                obj! {"kind" => "array", "elements" => elements}
            }
            ExprKind::Object(props) => {
                let properties: Vec<Value> = props
                    .iter()
                    .map(|(k, v)| obj! {"key" => k.as_str(), "value" => self.expr(v)})
                    .collect();
                obj! {"kind" => "object", "properties" => properties}
            }
            ExprKind::Lambda { params, body } => obj! {
                "kind" => "lambda", "params" => strings(params), "body" => self.expr(body)
            },
            ExprKind::Count { entity, predicates } => obj! {
                "kind" => "aggregate", "op" => "count", "entity" => entity.as_str(),
                "predicates" => self.predicates(predicates)
            },
            ExprKind::Sum {
                entity,
                predicates,
                of,
            } => obj! {
                "kind" => "aggregate", "op" => "sum", "entity" => entity.as_str(),
                "field" => of.as_str(), "predicates" => self.predicates(predicates)
            },
        }
    }

    fn predicates(&mut self, predicates: &[Predicate]) -> Vec<Value> {
        predicates
            .iter()
            .map(|p| obj! {"field" => p.field.as_str(), "value" => self.expr(&p.value)})
            .collect()
    }
}

/// A JSON array of strings.
pub(crate) fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}
