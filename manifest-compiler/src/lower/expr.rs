//! Expressions, static values and types to IR JSON.

use super::Lowerer;
use crate::ast::{Expr, ExprKind, Lit, TypeRef};
use crate::diagnostic::Diagnostic;
use crate::jsjson::num;
use serde_json::{Map, Value, json};

pub(crate) fn literal_value(lit: &Lit) -> Value {
    match lit {
        Lit::Str(s) => json!({"kind": "string", "value": s}),
        Lit::Num(n) => json!({"kind": "number", "value": num(*n)}),
        Lit::Bool(b) => json!({"kind": "boolean", "value": b}),
        Lit::Null => json!({"kind": "null"}),
    }
}

pub(crate) fn type_value(t: &TypeRef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(t.name));
    if let Some(g) = &t.generic {
        m.insert("generic".into(), type_value(g));
    }
    m.insert("nullable".into(), json!(t.nullable));
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
        ExprKind::Identifier(name) => Some(json!({"kind": "string", "value": name})),
        ExprKind::Literal(lit) => Some(literal_value(lit)),
        ExprKind::Unary { op, operand } => {
            let inner = static_value(operand)?;
            if inner["kind"] == "number" && (op == "-" || op == "+") {
                let n = inner["value"].as_f64().unwrap_or(f64::NAN);
                let v = if op == "-" { -n } else { n };
                return Some(json!({"kind": "number", "value": num(v)}));
            }
            None
        }
        ExprKind::Array(items) => {
            let elements: Vec<Value> = items.iter().filter_map(static_value).collect();
            Some(json!({"kind": "array", "elements": elements}))
        }
        ExprKind::Object(props) => {
            let mut m = Map::new();
            for (k, v) in props {
                if let Some(v) = static_value(v) {
                    m.insert(k.clone(), v);
                }
            }
            Some(json!({"kind": "object", "properties": m}))
        }
        _ => None,
    }
}

impl Lowerer {
    pub(crate) fn expr(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Literal(lit) => json!({"kind": "literal", "value": literal_value(lit)}),
            ExprKind::Identifier(name) => json!({"kind": "identifier", "name": name}),
            ExprKind::Member { object, property } => {
                json!({"kind": "member", "object": self.expr(object), "property": property})
            }
            ExprKind::Binary { op, left, right } => json!({
                "kind": "binary", "operator": op, "left": self.expr(left), "right": self.expr(right)
            }),
            ExprKind::Unary { op, operand } => {
                json!({"kind": "unary", "operator": op, "operand": self.expr(operand)})
            }
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
                json!({"kind": "call", "callee": self.expr(callee), "args": args})
            }
            ExprKind::Conditional {
                condition,
                consequent,
                alternate,
            } => json!({
                "kind": "conditional",
                "condition": self.expr(condition),
                "consequent": self.expr(consequent),
                "alternate": self.expr(alternate),
            }),
            ExprKind::Array(items) => {
                let elements: Vec<Value> = items.iter().map(|i| self.expr(i)).collect();
                json!({"kind": "array", "elements": elements})
            }
            ExprKind::Object(props) => {
                let properties: Vec<Value> = props
                    .iter()
                    .map(|(k, v)| json!({"key": k, "value": self.expr(v)}))
                    .collect();
                json!({"kind": "object", "properties": properties})
            }
            ExprKind::Lambda { params, body } => {
                json!({"kind": "lambda", "params": params, "body": self.expr(body)})
            }
            ExprKind::Count { entity, predicates } => {
                let predicates: Vec<Value> = predicates
                    .iter()
                    .map(|p| json!({"field": p.field, "value": self.expr(&p.value)}))
                    .collect();
                json!({"kind": "aggregate", "op": "count", "entity": entity, "predicates": predicates})
            }
            ExprKind::Sum {
                entity,
                predicates,
                of,
            } => {
                let predicates: Vec<Value> = predicates
                    .iter()
                    .map(|p| json!({"field": p.field, "value": self.expr(&p.value)}))
                    .collect();
                json!({
                    "kind": "aggregate", "op": "sum", "entity": entity, "field": of,
                    "predicates": predicates
                })
            }
        }
    }
}
