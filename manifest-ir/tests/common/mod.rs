//! What the canonical tests share: the oracle, and reading the workspace's files.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// THE ORACLE: `manifest-compiler/src/jsjson.rs`'s `write_value`, `write_object`,
/// `itoa_i64` and `write_string`, copied verbatim but for writing to a `String` rather than
/// its `Sink` (jsjson is private to manifest-compiler).
pub mod oracle {
    use manifest_ir::js::{locale_compare, number_to_string};
    use serde_json::{Map, Value};
    use std::cmp::Ordering;

    pub fn canonical_string(value: &Value) -> String {
        let mut out = String::new();
        write_value(value, &mut out);
        out
    }

    fn write_value(value: &Value, out: &mut String) {
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

    fn write_object(map: &Map<String, Value>, out: &mut String) {
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

    fn write_string(s: &str, out: &mut String) {
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
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The JSON document at `path`.
pub fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
