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

/// `String(n)` for a JS number.
pub fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let mut buf = ryu_js::Buffer::new();
    buf.format(n).to_string()
}

/// `a.localeCompare(b)` for the ASCII keys IR holds: case-insensitive first,
/// punctuation before digits before letters, then lower case before upper.
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    // Past the common byte prefix (whole chars, equal in both), a byte-prefix
    // is less, and two ASCII bytes decide when their primary weights differ
    // (as they do unless only their case does).
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let common = ab.iter().zip(bb).take_while(|(x, y)| x == y).count();
    match (ab.get(common), bb.get(common)) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (Some(x), Some(y)) if x.is_ascii() && y.is_ascii() && !x.eq_ignore_ascii_case(y) => {
            return ascii_weight(*x).cmp(&ascii_weight(*y));
        }
        _ => {}
    }
    if a.is_ascii() && b.is_ascii() {
        ascii_locale_compare(a.as_bytes(), b.as_bytes())
    } else {
        char_locale_compare(a, b)
    }
}

/// [`locale_compare`] of any text, char by char.
fn char_locale_compare(a: &str, b: &str) -> Ordering {
    fn class(c: char) -> (u8, char) {
        if c.is_ascii_digit() {
            (1, c)
        } else if c.is_alphabetic() {
            (2, c.to_ascii_lowercase())
        } else {
            (0, c)
        }
    }
    let primary = a.chars().map(class).cmp(b.chars().map(class));
    primary.then_with(|| {
        let tier = |c: char| (c.is_uppercase(), c);
        a.chars().map(tier).cmp(b.chars().map(tier))
    })
}

/// [`locale_compare`] of ASCII text, the same order by byte weights.
fn ascii_locale_compare(a: &[u8], b: &[u8]) -> Ordering {
    let primary = |&c: &u8| ascii_weight(c);
    let tier = |&c: &u8| (c.is_ascii_uppercase(), c);
    a.iter()
        .map(primary)
        .cmp(b.iter().map(primary))
        .then_with(|| a.iter().map(tier).cmp(b.iter().map(tier)))
}

/// The primary weight of an ASCII byte: punctuation, then digits, then letters caselessly.
fn ascii_weight(c: u8) -> u16 {
    if c.is_ascii_digit() {
        256 + u16::from(c)
    } else if c.is_ascii_alphabetic() {
        512 + u16::from(c.to_ascii_lowercase())
    } else {
        u16::from(c)
    }
}

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
    fn numbers_print_as_javascript_does() {
        assert_eq!(number_to_string(6.0), "6");
        assert_eq!(number_to_string(0.1), "0.1");
        assert_eq!(number_to_string(1e21), "1e+21");
        assert_eq!(num(3.0), serde_json::json!(3));
    }

    #[test]
    fn ascii_keys_sort_as_any_keys_do() {
        let keys = [
            "", "a", "A", "_a", "a_", "a1", "a_b", "aB", "ab", "Ab", "b", "B", "1", "-", "Z9", "z",
            "aBc", "abC", "abc", "Abd", "ab-", "ab9", "a~", "a B", "a b",
        ];
        for a in keys {
            for b in keys {
                let (fast, slow) = (locale_compare(a, b), char_locale_compare(a, b));
                assert_eq!(fast, slow, "{a:?} vs {b:?}");
            }
        }
        for (a, b) in [
            ("é", "e"),
            ("aé", "aE"),
            ("éa", "éB"),
            ("é", "éa"),
            ("xé", "xé"),
        ] {
            for (a, b) in [(a, b), (b, a)] {
                assert_eq!(
                    locale_compare(a, b),
                    char_locale_compare(a, b),
                    "{a} vs {b}"
                );
            }
        }
        assert_eq!(locale_compare("b", "B"), Ordering::Less);
        assert_eq!(locale_compare("_z", "a"), Ordering::Less);
        assert_eq!(locale_compare("a9", "aa"), Ordering::Less);
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
