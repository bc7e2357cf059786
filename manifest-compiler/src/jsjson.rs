//! JSON the way JavaScript writes it: `JSON.stringify` with keys sorted by
//! `localeCompare` (upstream's irHash canonical form), and JS number text.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// Where canonical JSON text goes: a `String`, or a hasher fed in chunks.
pub trait Sink {
    fn push_str(&mut self, s: &str);
    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
}

impl Sink for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
}

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

/// `JSON.stringify(value)` with every object's keys sorted by [`locale_compare`].
#[cfg(test)]
pub fn canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// [`canonical_string`] of an IR document, leaving `provenance.irHash` out,
/// written to `out`.
pub fn write_canonical_without_ir_hash(ir: &Value, out: &mut impl Sink) {
    match ir {
        Value::Object(top) => {
            let mut keys: Vec<&String> = top.keys().collect();
            keys.sort_by(|a, b| locale_compare(a, b));
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                match &top[key.as_str()] {
                    Value::Object(p) if key.as_str() == "provenance" => {
                        let mut p = p.clone();
                        p.remove("irHash");
                        write_object(&p, out);
                    }
                    v => write_value(v, out),
                }
            }
            out.push('}');
        }
        other => write_value(other, out),
    }
}

fn write_value(value: &Value, out: &mut impl Sink) {
    // Iterative over nesting would be nicer; IR depth is bounded by the parser.
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(itoa_i64(i, &mut [0; 20]));
            } else if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                if f.is_finite() {
                    out.push_str(ryu_js::Buffer::new().format(f));
                } else {
                    out.push_str(&number_to_string(f));
                }
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut impl Sink) {
    out.push('{');
    // serde_json's maps iterate in byte order, which for the IR's keys is
    // nearly always `localeCompare` order already: sort only when it is not.
    let in_order = map
        .keys()
        .zip(map.keys().skip(1))
        .all(|(a, b)| locale_compare(a, b) != Ordering::Greater);
    if in_order {
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(key, out);
            out.push(':');
            write_value(value, out);
        }
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|a, b| locale_compare(a.0, b.0));
        for (i, (key, value)) in entries.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(key, out);
            out.push(':');
            write_value(value, out);
        }
    }
    out.push('}');
}

/// The decimal text of `i`, in `buf`.
fn itoa_i64(i: i64, buf: &mut [u8; 20]) -> &str {
    let mut n = i.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

fn write_string(s: &str, out: &mut impl Sink) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_are_integers() {
        assert_eq!(num(3.0), serde_json::json!(3));
        assert_eq!(num(-0.0), serde_json::json!(0));
        assert_eq!(num(f64::NAN), Value::Null);
    }

    #[test]
    fn keys_sort_case_insensitively() {
        let v = serde_json::json!({"b": 1, "B": 2, "a": [1, "x\n"], "_z": null});
        assert_eq!(
            canonical_string(&v),
            r#"{"_z":null,"a":[1,"x\n"],"b":1,"B":2}"#
        );
    }
}
