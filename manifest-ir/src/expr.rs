//! The expression tree of the IR ([`Expr`]), its literal values ([`IrValue`]), and the
//! reference runtime's `formatExpression` text as [`Expr`]'s `Display`.

use std::fmt::{self, Display, Formatter, Write as _};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use crate::js::{number_to_string as js_number_to_string, write_json_string};

mod serialize;

/// An IR value: a literal, a property default, a store setting.
///
/// JSON: `{"kind": "string"|"number"|"boolean", "value": …}`, `{"kind": "null"}`,
/// `{"kind": "array", "elements": […]}`, `{"kind": "object", "properties": {…}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IrValue {
    /// A string.
    String {
        /// The text.
        value: String,
    },
    /// A number.
    Number {
        /// The number.
        value: f64,
    },
    /// A boolean.
    Boolean {
        /// The boolean.
        value: bool,
    },
    /// `null`.
    Null,
    /// An array of values.
    Array {
        /// The elements, in order.
        elements: Vec<IrValue>,
    },
    /// An object.
    Object {
        /// The fields, in the order the IR lists them.
        #[serde(deserialize_with = "ordered_map")]
        properties: Vec<(String, IrValue)>,
    },
}

/// Deserialize a JSON object into its entries, keeping their order.
fn ordered_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, IrValue)>, D::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, IrValue)>;
        fn expecting(&self, f: &mut Formatter<'_>) -> fmt::Result {
            f.write_str("a map of IR values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry::<String, IrValue>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Entries)
}

/// An IR expression (`IRExpression`), tagged by `kind`.
///
/// Unknown kinds and operators are deserialization errors. `Display` writes the reference
/// runtime's `formatExpression` text: `self.status in ["a", "b"]`, `not self.done`,
/// `count_of(self.items, (i) => i.qty > 0)`, with no parentheses ever.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Expr {
    /// A constant.
    Literal {
        /// The constant.
        value: IrValue,
    },
    /// A name: a binding of the scope, else `true`/`false`/`null`, else `undefined`.
    Identifier {
        /// The name.
        name: String,
    },
    /// `object.property`.
    Member {
        /// The object read from.
        object: Box<Expr>,
        /// The property name.
        property: String,
    },
    /// `left operator right`.
    Binary {
        /// The operator.
        operator: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// `operator operand`.
    Unary {
        /// The operator.
        operator: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `callee(args…)`: a builtin by name, or a method on a receiver (`self.tags.contains(x)`).
    Call {
        /// The function: an identifier or a member.
        callee: Box<Expr>,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `condition ? consequent : alternate`.
    Conditional {
        /// The test.
        condition: Box<Expr>,
        /// The value when the test is truthy.
        consequent: Box<Expr>,
        /// The value otherwise.
        alternate: Box<Expr>,
    },
    /// `[elements…]`.
    Array {
        /// The elements.
        elements: Vec<Expr>,
    },
    /// `{ key: value, … }`.
    Object {
        /// The fields, in order.
        properties: Vec<ObjectProperty>,
    },
    /// `(params…) => body`, an argument of an aggregate builtin.
    Lambda {
        /// The parameter names.
        params: Vec<String>,
        /// The body.
        body: Box<Expr>,
    },
    /// `count(Entity where field == value, …)` over an entity's stored rows.
    Aggregate {
        /// `count` or `sum`.
        op: AggregateOp,
        /// The entity whose rows are scanned.
        entity: String,
        /// Equalities every counted row satisfies.
        #[serde(default)]
        predicates: Vec<AggregatePredicate>,
        /// The summed field (`sum` only).
        #[serde(default)]
        field: Option<String>,
    },
}

/// One field of an [`Expr::Object`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectProperty {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Expr,
}

/// An aggregate's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AggregateOp {
    /// Count the matching rows.
    Count,
    /// Sum a field of the matching rows.
    Sum,
}

/// `field == value` in an [`Expr::Aggregate`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AggregatePredicate {
    /// The row field compared.
    pub field: String,
    /// The value it must equal (`===`), evaluated in the surrounding scope.
    pub value: Expr,
}

/// Declares an operator enum whose serde names and `Display` text are the same strings.
macro_rules! operators {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// The operator the IR spells `text`.
            pub fn from_name(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The operator as the IR spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl Display for $name {
            fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

operators! {
    /// A binary operator. The compiler keeps `&&`/`||` as written, so they are distinct from
    /// `and`/`or` (same meaning, different text).
    BinaryOp {
        /// `==`, JavaScript loose equality.
        Eq = "==",
        /// `!=`, JavaScript loose inequality.
        Ne = "!=",
        /// `<`.
        Lt = "<",
        /// `<=`.
        Le = "<=",
        /// `>`.
        Gt = ">",
        /// `>=`.
        Ge = ">=",
        /// `+`: concatenation when either side is a string, else addition.
        Add = "+",
        /// `-`.
        Sub = "-",
        /// `*`.
        Mul = "*",
        /// `/`.
        Div = "/",
        /// `%`.
        Rem = "%",
        /// `and`: both sides' truthiness, as a boolean.
        And = "and",
        /// `or`: either side's truthiness, as a boolean.
        Or = "or",
        /// `&&`, the same as `and`.
        AndAnd = "&&",
        /// `||`, the same as `or`.
        OrOr = "||",
        /// `in`: array membership, or substring.
        In = "in",
        /// `contains`: `in` with the operands swapped.
        Contains = "contains",
        /// `is`, the same as `==`.
        Is = "is",
    }
}

operators! {
    /// A unary operator.
    UnaryOp {
        /// `not`: the negated truthiness.
        Not = "not",
        /// `!`, the same as `not`.
        Bang = "!",
        /// `-`: the negated number.
        Neg = "-",
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal { value } => value.fmt(f),
            Expr::Identifier { name } => f.write_str(name),
            Expr::Member { object, property } => write!(f, "{object}.{property}"),
            Expr::Binary {
                operator,
                left,
                right,
            } => write!(f, "{left} {operator} {right}"),
            Expr::Unary { operator, operand } => match operator {
                UnaryOp::Not => write!(f, "not {operand}"),
                other => write!(f, "{other}{operand}"),
            },
            Expr::Call { callee, args } => {
                write!(f, "{callee}(")?;
                write_list(f, args)?;
                f.write_char(')')
            }
            Expr::Conditional {
                condition,
                consequent,
                alternate,
            } => write!(f, "{condition} ? {consequent} : {alternate}"),
            Expr::Array { elements } => {
                f.write_char('[')?;
                write_list(f, elements)?;
                f.write_char(']')
            }
            Expr::Object { properties } => {
                f.write_str("{ ")?;
                for (i, p) in properties.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", p.key, p.value)?;
                }
                f.write_str(" }")
            }
            Expr::Lambda { params, body } => write!(f, "({}) => {body}", params.join(", ")),
            // The reference formatter has no case for aggregates.
            Expr::Aggregate { .. } => f.write_str("<expr>"),
        }
    }
}

/// `a, b, c`.
fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

/// The reference `formatValue`: strings JSON-quoted, numbers as JavaScript prints them,
/// arrays `[a, b]`, objects `{ k: v }` in JavaScript's key order.
impl Display for IrValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            IrValue::String { value } => write_json_string(f, value),
            IrValue::Number { value } => f.write_str(&js_number_to_string(*value)),
            IrValue::Boolean { value } => write!(f, "{value}"),
            IrValue::Null => f.write_str("null"),
            IrValue::Array { elements } => {
                f.write_char('[')?;
                write_list(f, elements)?;
                f.write_char(']')
            }
            IrValue::Object { properties } => {
                // `Object.entries` lists array-index keys first, ascending, then the rest
                // in insertion order; the sort is stable.
                let mut entries: Vec<&(String, IrValue)> = properties.iter().collect();
                entries.sort_by_key(|(k, _)| array_index(k).unwrap_or(u64::MAX));
                f.write_str("{ ")?;
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

/// `key` as a JavaScript array index (a canonical integer below 2^32 - 1).
fn array_index(key: &str) -> Option<u64> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) || key.len() > 10 {
        return None;
    }
    key.parse::<u64>().ok().filter(|&n| n < u64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Expr {
        serde_json::from_str(json).expect("valid expression")
    }

    /// Expressions copied from the fixtures, with the `formatted` text their results expect.
    #[test]
    fn formats_fixture_expressions() {
        // 25-command-constraints
        let status_in = r#"{"kind":"binary","operator":"in","left":{"kind":"member","object":{"kind":"identifier","name":"self"},"property":"status"},"right":{"kind":"array","elements":[{"kind":"literal","value":{"kind":"string","value":"pending"}},{"kind":"literal","value":{"kind":"string","value":"processing"}},{"kind":"literal","value":{"kind":"string","value":"shipped"}},{"kind":"literal","value":{"kind":"string","value":"delivered"}},{"kind":"literal","value":{"kind":"string","value":"cancelled"}}]}}"#;
        assert_eq!(
            parse(status_in).to_string(),
            r#"self.status in ["pending", "processing", "shipped", "delivered", "cancelled"]"#
        );
        // 40-array-properties
        let contains = r#"{"kind":"call","callee":{"kind":"member","object":{"kind":"member","object":{"kind":"identifier","name":"self"},"property":"tags"},"property":"contains"},"args":[{"kind":"literal","value":{"kind":"string","value":"published"}}]}"#;
        assert_eq!(
            parse(contains).to_string(),
            r#"self.tags.contains("published")"#
        );
        // 55-default-policies
        let not_null = r#"{"kind":"binary","operator":"!=","left":{"kind":"member","object":{"kind":"identifier","name":"user"},"property":"id"},"right":{"kind":"literal","value":{"kind":"null"}}}"#;
        assert_eq!(parse(not_null).to_string(), "user.id != null");
        // 11-guard-ordering-diagnostics
        let gt = r#"{"kind":"binary","operator":">","left":{"kind":"member","object":{"kind":"identifier","name":"self"},"property":"priority"},"right":{"kind":"literal","value":{"kind":"number","value":5}}}"#;
        assert_eq!(parse(gt).to_string(), "self.priority > 5");
        // 64-aggregate-computed-properties
        let sum = r#"{"kind":"call","callee":{"kind":"identifier","name":"sum"},"args":[{"kind":"member","object":{"kind":"identifier","name":"self"},"property":"lineItems"},{"kind":"lambda","params":["item"],"body":{"kind":"binary","operator":"*","left":{"kind":"member","object":{"kind":"identifier","name":"item"},"property":"price"},"right":{"kind":"member","object":{"kind":"identifier","name":"item"},"property":"quantity"}}}]}"#;
        assert_eq!(
            parse(sum).to_string(),
            "sum(self.lineItems, (item) => item.price * item.quantity)"
        );
    }

    #[test]
    fn formats_every_kind() {
        let e = parse(
            r#"{"kind":"conditional",
                "condition":{"kind":"unary","operator":"not","operand":{"kind":"identifier","name":"done"}},
                "consequent":{"kind":"unary","operator":"-","operand":{"kind":"literal","value":{"kind":"number","value":1.5}}},
                "alternate":{"kind":"object","properties":[
                    {"key":"a","value":{"kind":"unary","operator":"!","operand":{"kind":"literal","value":{"kind":"boolean","value":true}}}},
                    {"key":"b","value":{"kind":"literal","value":{"kind":"string","value":"q\"\n\u0001é"}}}]}}"#,
        );
        assert_eq!(
            e.to_string(),
            r#"not done ? -1.5 : { a: !true, b: "q\"\n\u0001é" }"#
        );
        let empty = parse(r#"{"kind":"object","properties":[]}"#);
        assert_eq!(empty.to_string(), "{  }");
        let lit = parse(
            r#"{"kind":"literal","value":{"kind":"object","properties":{
                "b":{"kind":"number","value":1e21},"10":{"kind":"null"},"a":{"kind":"array","elements":[{"kind":"number","value":0.1}]},"2":{"kind":"boolean","value":false}}}}"#,
        );
        assert_eq!(
            lit.to_string(),
            "{ 2: false, 10: null, b: 1e+21, a: [0.1] }"
        );
        let agg = parse(
            r#"{"kind":"aggregate","op":"count","entity":"Order","predicates":[{"field":"x","value":{"kind":"identifier","name":"y"}}]}"#,
        );
        assert_eq!(agg.to_string(), "<expr>");
        let logic = parse(
            r#"{"kind":"binary","operator":"&&","left":{"kind":"identifier","name":"a"},"right":{"kind":"binary","operator":"or","left":{"kind":"identifier","name":"b"},"right":{"kind":"identifier","name":"c"}}}"#,
        );
        assert_eq!(logic.to_string(), "a && b or c");
        let lambda2 = parse(
            r#"{"kind":"lambda","params":["a","b"],"body":{"kind":"identifier","name":"a"}}"#,
        );
        assert_eq!(lambda2.to_string(), "(a, b) => a");
    }

    #[test]
    fn rejects_unknown_shapes() {
        for bad in [
            r#"{"kind":"lookup","name":"x"}"#,
            r#"{"kind":"binary","operator":"===","left":{"kind":"identifier","name":"a"},"right":{"kind":"identifier","name":"b"}}"#,
            r#"{"kind":"unary","operator":"~","operand":{"kind":"identifier","name":"a"}}"#,
            r#"{"kind":"literal","value":{"kind":"date","value":"x"}}"#,
            r#"{"kind":"identifier"}"#,
            r#"{"name":"x"}"#,
            r#"[]"#,
            r#"{"kind":"aggregate","op":"avg","entity":"E","predicates":[]}"#,
        ] {
            let err = serde_json::from_str::<Expr>(bad).unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
    }
}
