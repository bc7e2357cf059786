//! [`Expr`] and [`IrValue`] written in upstream's JSON shape, each object's keys in
//! `localeCompare` order (what [`canonical`](crate::canonical) checks), so one pass writes
//! both the IR text and the text its `irHash` is taken over.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};

use super::{AggregateOp, AggregatePredicate, BinaryOp, Expr, IrValue, ObjectProperty, UnaryOp};
use crate::js::JsNumber;

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expr::Literal { value } => {
                let mut st = s.serialize_struct("LiteralExpr", 2)?;
                st.serialize_field("kind", "literal")?;
                st.serialize_field("value", value)?;
                st.end()
            }
            Expr::Identifier { name } => {
                let mut st = s.serialize_struct("IdentifierExpr", 2)?;
                st.serialize_field("kind", "identifier")?;
                st.serialize_field("name", name)?;
                st.end()
            }
            Expr::Member { object, property } => {
                let mut st = s.serialize_struct("MemberExpr", 3)?;
                st.serialize_field("kind", "member")?;
                st.serialize_field("object", object)?;
                st.serialize_field("property", property)?;
                st.end()
            }
            Expr::Binary {
                operator,
                left,
                right,
            } => {
                let mut st = s.serialize_struct("BinaryExpr", 4)?;
                st.serialize_field("kind", "binary")?;
                st.serialize_field("left", left)?;
                st.serialize_field("operator", operator.as_str())?;
                st.serialize_field("right", right)?;
                st.end()
            }
            Expr::Unary { operator, operand } => {
                let mut st = s.serialize_struct("UnaryExpr", 3)?;
                st.serialize_field("kind", "unary")?;
                st.serialize_field("operand", operand)?;
                st.serialize_field("operator", operator.as_str())?;
                st.end()
            }
            Expr::Call { callee, args } => {
                let mut st = s.serialize_struct("CallExpr", 3)?;
                st.serialize_field("args", args)?;
                st.serialize_field("callee", callee)?;
                st.serialize_field("kind", "call")?;
                st.end()
            }
            Expr::Conditional {
                condition,
                consequent,
                alternate,
            } => {
                let mut st = s.serialize_struct("ConditionalExpr", 4)?;
                st.serialize_field("alternate", alternate)?;
                st.serialize_field("condition", condition)?;
                st.serialize_field("consequent", consequent)?;
                st.serialize_field("kind", "conditional")?;
                st.end()
            }
            Expr::Array { elements } => {
                let mut st = s.serialize_struct("ArrayExpr", 2)?;
                st.serialize_field("elements", elements)?;
                st.serialize_field("kind", "array")?;
                st.end()
            }
            Expr::Object { properties } => {
                let mut st = s.serialize_struct("ObjectExpr", 2)?;
                st.serialize_field("kind", "object")?;
                st.serialize_field("properties", properties)?;
                st.end()
            }
            Expr::Lambda { params, body } => {
                let mut st = s.serialize_struct("LambdaExpr", 3)?;
                st.serialize_field("body", body)?;
                st.serialize_field("kind", "lambda")?;
                st.serialize_field("params", params)?;
                st.end()
            }
            Expr::Aggregate {
                op,
                entity,
                predicates,
                field,
            } => {
                let mut st = s.serialize_struct("AggregateExpr", 5)?;
                st.serialize_field("entity", entity)?;
                if let Some(field) = field {
                    st.serialize_field("field", field)?;
                }
                st.serialize_field("kind", "aggregate")?;
                st.serialize_field("op", op)?;
                st.serialize_field("predicates", predicates)?;
                st.end()
            }
        }
    }
}

impl Serialize for ObjectProperty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ObjectProperty", 2)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("value", &self.value)?;
        st.end()
    }
}

impl Serialize for AggregatePredicate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("AggregatePredicate", 2)?;
        st.serialize_field("field", &self.field)?;
        st.serialize_field("value", &self.value)?;
        st.end()
    }
}

impl Serialize for AggregateOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            AggregateOp::Count => "count",
            AggregateOp::Sum => "sum",
        })
    }
}

impl Serialize for BinaryOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for UnaryOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for IrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IrValue::String { value } => {
                let mut st = s.serialize_struct("StringValue", 2)?;
                st.serialize_field("kind", "string")?;
                st.serialize_field("value", value)?;
                st.end()
            }
            IrValue::Number { value } => {
                let mut st = s.serialize_struct("NumberValue", 2)?;
                st.serialize_field("kind", "number")?;
                st.serialize_field("value", &JsNumber(*value))?;
                st.end()
            }
            IrValue::Boolean { value } => {
                let mut st = s.serialize_struct("BooleanValue", 2)?;
                st.serialize_field("kind", "boolean")?;
                st.serialize_field("value", value)?;
                st.end()
            }
            IrValue::Null => {
                let mut st = s.serialize_struct("NullValue", 1)?;
                st.serialize_field("kind", "null")?;
                st.end()
            }
            IrValue::Array { elements } => {
                let mut st = s.serialize_struct("ArrayValue", 2)?;
                st.serialize_field("elements", elements)?;
                st.serialize_field("kind", "array")?;
                st.end()
            }
            IrValue::Object { properties } => {
                let mut st = s.serialize_struct("ObjectValue", 2)?;
                st.serialize_field("kind", "object")?;
                st.serialize_field("properties", &Entries(properties))?;
                st.end()
            }
        }
    }
}

/// An object value's fields as a JSON object, in their order.
struct Entries<'a>(&'a [(String, IrValue)]);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
