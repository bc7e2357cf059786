//! [`Value`], the JavaScript-like value expressions compute with, and the JavaScript
//! conversions the reference runtime relies on (`ToNumber`, `ToString`, `==`, truthiness).

use std::cmp::Ordering;

use litemap::LiteMap;
use serde_json::Value as Json;

/// A plain object's fields, kept sorted by key in one vector ([`LiteMap`]): for the few
/// fields an instance, an input or a context has, smaller, quicker to copy and quicker to
/// search than a B-tree. Keys are sorted, not in insertion order.
pub type Object = LiteMap<String, Value>;

/// A runtime value, as the reference (TypeScript) runtime sees it.
///
/// `PartialEq` is Rust's structural equality (with `f64` `==`), for tests and bookkeeping; the
/// expression operators use [`Value::loose_eq`], [`Value::strict_eq`] and
/// [`Value::same_value_zero`], which follow JavaScript.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// JavaScript `undefined`: a missing field, an unbound name, a missing argument.
    #[default]
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (a JavaScript double).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// A plain object. Keys are kept sorted, not in insertion order.
    Object(Object),
}

/// The largest integer every smaller integer of which an `f64` holds exactly (2^53).
pub(crate) const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

impl Value {
    /// The JavaScript `typeof`-like name of this value's type, with `array` for arrays.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Whether this is `undefined` or `null`.
    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::Undefined | Value::Null)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// JavaScript truthiness: `undefined`, `null`, `false`, `0`, `-0`, `NaN` and `""` are
    /// false; everything else, including `[]` and `{}`, is true.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Undefined | Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => !(n.is_nan() || *n == 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// JavaScript `ToNumber`. Arrays and objects go through `ToPrimitive` first, so `[5]` is 5,
    /// `[]` is 0 and `{}` is NaN.
    pub fn to_number(&self) -> f64 {
        match self {
            Value::Undefined => f64::NAN,
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => *n,
            Value::String(s) => string_to_number(s),
            Value::Array(_) => string_to_number(&self.to_js_string()),
            Value::Object(_) => f64::NAN,
        }
    }

    /// JavaScript `ToString` (`String(v)`): numbers as JavaScript prints them, arrays joined
    /// with `,` (`null`/`undefined` elements as empty), objects as `[object Object]`.
    pub fn to_js_string(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            other => {
                let mut out = String::new();
                other.write_js_string(&mut out);
                out
            }
        }
    }

    fn write_js_string(&self, out: &mut String) {
        match self {
            Value::Undefined => out.push_str("undefined"),
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(ryu_js::Buffer::new().format(*n)),
            Value::String(s) => out.push_str(s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if !item.is_nullish() {
                        item.write_js_string(out);
                    }
                }
            }
            Value::Object(_) => out.push_str("[object Object]"),
        }
    }

    /// JavaScript `ToPrimitive` for the operators: arrays and objects become their string.
    pub(crate) fn to_primitive(&self) -> std::borrow::Cow<'_, Value> {
        use std::borrow::Cow;
        match self {
            Value::Array(_) | Value::Object(_) => Cow::Owned(Value::String(self.to_js_string())),
            other => Cow::Borrowed(other),
        }
    }

    /// JavaScript strict equality (`===`). Two arrays or objects are never equal: JavaScript
    /// compares them by identity, and values here have none, so every compound value counts
    /// as a distinct object.
    pub fn strict_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            _ => false,
        }
    }

    /// JavaScript `SameValueZero` (what `Array.prototype.includes` uses): `===`, except that
    /// `NaN` equals `NaN`. Compound values are never equal, as in [`Value::strict_eq`].
    pub fn same_value_zero(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => self.strict_eq(other),
        }
    }

    /// JavaScript loose equality (`==`), the algorithm `IsLooselyEqual`:
    /// `undefined == null`, `"5" == 5`, `0 == false`, `"" == 0`, `[1] == "1"`,
    /// `null == 0` is false, `NaN == NaN` is false. Two arrays or objects are never equal
    /// (see [`Value::strict_eq`]).
    pub fn loose_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Undefined | Value::Null, Value::Undefined | Value::Null) => true,
            (Value::Undefined | Value::Null, _) | (_, Value::Undefined | Value::Null) => false,
            (Value::Number(a), Value::String(s)) | (Value::String(s), Value::Number(a)) => {
                *a == string_to_number(s)
            }
            (Value::Bool(b), other) | (other, Value::Bool(b))
                if !matches!(other, Value::Bool(_)) =>
            {
                Value::Number(f64::from(u8::from(*b))).loose_eq(other)
            }
            (Value::Array(_) | Value::Object(_), Value::Number(_) | Value::String(_)) => {
                self.to_primitive().loose_eq(other)
            }
            (Value::Number(_) | Value::String(_), Value::Array(_) | Value::Object(_)) => {
                self.loose_eq(&other.to_primitive())
            }
            _ => self.strict_eq(other),
        }
    }

    /// JavaScript `<` (the abstract relational comparison): two strings compare by UTF-16
    /// code units, anything else as numbers. `None` when a side is `NaN` (every comparison
    /// is then false).
    pub fn js_compare(&self, other: &Value) -> Option<Ordering> {
        let (a, b) = (self.to_primitive(), other.to_primitive());
        match (&*a, &*b) {
            (Value::String(x), Value::String(y)) => Some(cmp_utf16(x, y)),
            (x, y) => x.to_number().partial_cmp(&y.to_number()),
        }
    }

    /// The JSON form, as `JSON.stringify` would write it: `None` for `undefined`; `undefined`
    /// array elements become `null` and `undefined` object fields are left out; `NaN` and
    /// the infinities become `null`; an integral number within ±2^53 is a JSON integer
    /// (`6`, not `6.0`).
    pub fn to_json(&self) -> Option<Json> {
        Some(match self {
            Value::Undefined => return None,
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|v| v.to_json().unwrap_or(Json::Null))
                    .collect(),
            ),
            Value::Object(fields) => Json::Object(json_object(fields)),
        })
    }
}

/// Insert each pair in turn. For the small maps objects are, this is cheaper than `collect`,
/// which gathers the pairs in a vector and sorts it before building the map.
pub(crate) fn insert_all<M, K, V>(mut map: M, pairs: impl IntoIterator<Item = (K, V)>) -> M
where
    M: Extend<(K, V)>,
{
    for pair in pairs {
        map.extend(std::iter::once(pair));
    }
    map
}

/// An object's JSON form: `undefined` fields are left out, as `JSON.stringify` does.
pub(crate) fn json_object(fields: &Object) -> serde_json::Map<String, Json> {
    insert_all(
        serde_json::Map::new(),
        fields
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.to_json()?))),
    )
}

/// A number as JSON: integral values within ±2^53 as integers, `NaN`/±∞ as `null`.
fn number_to_json(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        // Exact: |n| <= 2^53 and integral. `-0` becomes 0, as JSON.stringify writes it.
        #[allow(clippy::cast_possible_truncation)] // integral and within ±2^53, so exact
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

impl From<&manifest_ir::IrValue> for Value {
    fn from(v: &manifest_ir::IrValue) -> Self {
        use manifest_ir::IrValue;
        match v {
            IrValue::String { value } => Value::String(value.clone()),
            IrValue::Number { value } => Value::Number(*value),
            IrValue::Boolean { value } => Value::Bool(*value),
            IrValue::Null => Value::Null,
            IrValue::Array { elements } => Value::Array(elements.iter().map(Value::from).collect()),
            IrValue::Object { properties } => Value::Object(
                properties
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&Json> for Value {
    fn from(json: &Json) -> Self {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Value::from).collect()),
            Json::Object(fields) => Value::Object(insert_all(
                Object::new(),
                fields.iter().map(|(k, v)| (k.clone(), Value::from(v))),
            )),
        }
    }
}

impl From<Json> for Value {
    fn from(json: Json) -> Self {
        match json {
            Json::String(s) => Value::String(s),
            Json::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Json::Object(fields) => Value::Object(insert_all(
                Object::new(),
                fields.into_iter().map(|(k, v)| (k, Value::from(v))),
            )),
            other => Value::from(&other),
        }
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

/// A number as JavaScript's `String(n)` prints it: the shortest digits that round-trip,
/// `1e+21` from 1e21 up, `1e-7` below 1e-6, `-0` as `0`, `NaN`, `Infinity`.
pub fn js_number_to_string(n: f64) -> String {
    ryu_js::Buffer::new().format(n).to_owned()
}

/// Whether `c` is JavaScript white space or a line terminator (what `trim` and `ToNumber`
/// strip): Unicode `White_Space` without U+0085, plus U+FEFF.
pub(crate) fn is_js_whitespace(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

/// The length of `s` in UTF-16 code units, as JavaScript's `length`.
pub(crate) fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().map(char::len_utf16).sum()
    }
}

/// Compare two strings by UTF-16 code units, as JavaScript's `<` does.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// JavaScript `StringToNumber`: surrounding white space is ignored, `""` is 0, `0x`/`0o`/`0b`
/// prefixes, `Infinity` with an optional sign, decimal literals; anything else is `NaN`.
pub(crate) fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_whitespace);
    if t.is_empty() {
        return 0.0;
    }
    let bytes = t.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'0' {
        let radix = match bytes[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            return parse_radix(&t[2..], radix);
        }
    }
    let (sign, unsigned) = match bytes[0] {
        b'-' => (-1.0, &t[1..]),
        b'+' => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    if !is_decimal_literal(unsigned.as_bytes()) {
        return f64::NAN;
    }
    // Rust's parser accepts every form `is_decimal_literal` lets through ("1.", ".5", "1e5").
    unsigned.parse::<f64>().map_or(f64::NAN, |n| sign * n)
}

/// `digits ("." digits?)? | "." digits`, then an optional exponent `[eE][+-]?digits`.
fn is_decimal_literal(b: &[u8]) -> bool {
    let digits = |mut i: usize| {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i, i - start)
    };
    let (mut i, int_digits) = digits(0);
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        (i, frac_digits) = digits(i + 1);
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let (end, exp_digits) = digits(i);
        if exp_digits == 0 {
            return false;
        }
        i = end;
    }
    i == b.len()
}

/// Digits of a `0x`/`0o`/`0b` literal (no sign, no separators); `NaN` if any is invalid.
fn parse_radix(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() {
        return f64::NAN;
    }
    if let Ok(n) = u128::from_str_radix(digits, radix) {
        // `u128 as f64` rounds to nearest, ties to even, as JavaScript does.
        #[allow(clippy::cast_precision_loss)] // the rounding is the point
        return n as f64;
    }
    // Longer than 128 bits: accumulate (may differ from JavaScript in the last bit).
    let mut acc = 0.0;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => acc = acc * f64::from(radix) + f64::from(d),
            None => return f64::NAN,
        }
    }
    acc
}

#[cfg(test)]
mod tests;
