//! JavaScript's number rules for IR JSON values (the text rules are `manifest_ir::js`; the
//! canonical text, `manifest_ir::canonical`).

use serde_json::{Number, Value};

/// A JS number as an IR JSON number: integral values stay integers (`6`, not `6.0`).
pub fn num(n: f64) -> Value {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        if n == 0.0 {
            return Value::Number(Number::from(0u64));
        }
        return Value::Number(Number::from(n as i64));
    }
    // JSON.stringify writes NaN and infinities as null.
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

pub use manifest_ir::js::{locale_compare, number_to_string};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_are_integers() {
        assert_eq!(num(3.0), serde_json::json!(3));
        assert_eq!(num(-0.0), serde_json::json!(0));
        assert_eq!(num(f64::NAN), Value::Null);
    }
}
