//! The JavaScript text rules the IR is written by: `String(n)` for numbers, `JSON.stringify`
//! for strings, and `localeCompare` for the order of an object's keys in the canonical form
//! `irHash` is computed over.

use std::cmp::Ordering;
use std::fmt;

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

/// A JavaScript number as `JSON.stringify` writes it: an integral value as an integer (`6`,
/// not `6.0`), `NaN` and the infinities as `null`, any other value as a float. Serialized
/// this way a number also becomes the `serde_json::Value` upstream's JSON parses to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsNumber(pub f64);

/// 2^53: integral values below it are exact as `i64`.
const SAFE: f64 = 9_007_199_254_740_992.0;

impl serde::Serialize for JsNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        if !n.is_finite() {
            s.serialize_unit()
        } else if n.fract() == 0.0 && n.abs() < SAFE {
            // `as` is exact here; -0 becomes 0, as JSON.stringify writes it.
            s.serialize_i64(n as i64)
        } else {
            s.serialize_f64(n)
        }
    }
}

impl From<JsNumber> for serde_json::Value {
    /// The JSON value upstream's JSON parses the number to (as [`JsNumber`] serializes).
    fn from(n: JsNumber) -> Self {
        // A number serializes to a JSON value without fail.
        serde_json::to_value(n).unwrap_or(serde_json::Value::Null)
    }
}

/// `#[serde(serialize_with = "js::number")]` for an `f64` field: see [`JsNumber`].
pub fn number<S: serde::Serializer>(n: &f64, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&JsNumber(*n), s)
}

/// [`number`] for an `Option<f64>` field (skipped when `None`).
pub fn option_number<S: serde::Serializer>(n: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => number(n, s),
        None => s.serialize_none(),
    }
}

/// [`number`] for each of a `Vec<f64>`.
pub fn numbers<S: serde::Serializer>(ns: &[f64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ns.iter().map(|n| JsNumber(*n)))
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

/// `s` as `JSON.stringify` writes it, quotes included.
pub fn write_json_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        f.write_str(s)?;
        return f.write_char('"');
    }
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_javascript_does() {
        assert_eq!(number_to_string(6.0), "6");
        assert_eq!(number_to_string(0.1), "0.1");
        assert_eq!(number_to_string(1e21), "1e+21");
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
    fn integral_numbers_are_integers() {
        use serde_json::{Value, json};
        assert_eq!(Value::from(JsNumber(3.0)), json!(3));
        assert_eq!(Value::from(JsNumber(-0.0)), json!(0));
        assert_eq!(Value::from(JsNumber(0.5)), json!(0.5));
        assert_eq!(Value::from(JsNumber(f64::NAN)), Value::Null);
    }

    #[test]
    fn strings_are_written_as_json_stringify_does() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\c\n\u{1}é").unwrap();
        assert_eq!(s, r#""a\"b\\c\n\u0001é""#);
    }
}
