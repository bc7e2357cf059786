//! The reference harness's comparisons (`toBe`, `toEqual`, `toContain`) on JSON and runtime
//! values, and how values JSON cannot hold are shown in a [`Mismatch`](super::Mismatch).

use serde_json::{Map, Value as Json};

use crate::value::Value;

/// How `undefined` (an absent value) is shown in a mismatch.
pub(super) const UNDEFINED: &str = "<undefined>";

/// vitest `toEqual` of two possibly absent (`undefined`) JSON values.
pub(super) fn to_equal(actual: Option<&Json>, expected: Option<&Json>) -> bool {
    match (actual, expected) {
        (None, None) => true,
        (Some(a), Some(e)) => json_eq(a, e),
        _ => false,
    }
}

/// `toEqual` on JSON: key order ignored, numbers compared as doubles.
pub(super) fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `Object.is` of two possibly absent JSON values: only primitives can be the same (two
/// objects are never the same object); numbers must be bit-equal doubles.
pub(super) fn json_is(actual: Option<&Json>, expected: Option<&Json>) -> bool {
    match (actual, expected) {
        (None, None) => true,
        (Some(Json::Number(a)), Some(Json::Number(e))) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => a.to_bits() == e.to_bits(),
            _ => false,
        },
        (Some(Json::String(a)), Some(Json::String(e))) => a == e,
        (Some(Json::Bool(a)), Some(Json::Bool(e))) => a == e,
        (Some(Json::Null), Some(Json::Null)) => true,
        _ => false,
    }
}

/// `Object.is` of a runtime value and a possibly absent expected JSON value.
pub(super) fn value_is(actual: &Value, expected: Option<&Json>) -> bool {
    match (actual, expected) {
        (Value::Undefined, None) => true,
        (Value::Number(a), Some(Json::Number(e))) => {
            e.as_f64().is_some_and(|e| a.to_bits() == e.to_bits())
        }
        (Value::String(a), Some(Json::String(e))) => a == e,
        (Value::Bool(a), Some(Json::Bool(e))) => a == e,
        (Value::Null, Some(Json::Null)) => true,
        _ => false,
    }
}

/// JavaScript truthiness of a possibly absent JSON value (`if (expected.error)`).
pub(super) fn truthy(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Some(Json::String(s)) => !s.is_empty(),
        Some(Json::Array(_) | Json::Object(_)) => true,
    }
}

/// A possibly absent JSON value for a mismatch: absent is [`UNDEFINED`].
pub(super) fn shown(value: Option<&Json>) -> Json {
    value
        .cloned()
        .unwrap_or_else(|| Json::String(UNDEFINED.to_owned()))
}

/// A runtime value for a mismatch. What JSON cannot hold is a string in angle brackets
/// (`"<undefined>"`, `"<NaN>"`, `"<Infinity>"`, `"<-Infinity>"`); `-0` stays `-0.0`.
pub(super) fn shown_value(value: &Value) -> Json {
    match value {
        Value::Undefined => Json::String(UNDEFINED.to_owned()),
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => shown_number(*n),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(shown_value).collect()),
        Value::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), shown_value(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

fn shown_number(n: f64) -> Json {
    if n.is_nan() {
        Json::String("<NaN>".to_owned())
    } else if n.is_infinite() {
        Json::String(if n > 0.0 { "<Infinity>" } else { "<-Infinity>" }.to_owned())
    } else if n.fract() == 0.0
        && n.abs() < 9_007_199_254_740_992.0
        && !(n == 0.0 && n.is_sign_negative())
    {
        #[allow(clippy::cast_possible_truncation)] // integral and within ±2^53, so exact
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_is_tells_zeroes_apart_and_never_matches_objects() {
        assert!(value_is(&Value::Number(0.0), Some(&json!(0))));
        assert!(!value_is(&Value::Number(-0.0), Some(&json!(0))));
        assert!(value_is(&Value::Undefined, None));
        assert!(!value_is(&Value::Undefined, Some(&Json::Null)));
        assert!(!json_is(Some(&json!({})), Some(&json!({}))));
        assert!(json_is(Some(&json!(1.0)), Some(&json!(1))));
    }

    #[test]
    fn to_equal_ignores_key_order_and_number_spelling() {
        assert!(to_equal(
            Some(&json!({"a": 1, "b": [2.0]})),
            Some(&json!({"b": [2], "a": 1.0}))
        ));
        assert!(!to_equal(
            Some(&json!({"a": 1})),
            Some(&json!({"a": 1, "b": 2}))
        ));
        assert!(!to_equal(None, Some(&Json::Null)));
    }

    #[test]
    fn values_json_cannot_hold_are_shown_in_angle_brackets() {
        assert_eq!(shown_value(&Value::Number(f64::NAN)), json!("<NaN>"));
        assert_eq!(shown_value(&Value::Number(6.0)), json!(6));
        assert_eq!(shown_value(&Value::Number(-0.0)).to_string(), "-0.0");
        assert_eq!(shown(None), json!("<undefined>"));
    }
}
