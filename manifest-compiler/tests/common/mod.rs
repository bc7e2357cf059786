//! Shared by the test suites: fixture loading and upstream's comparison.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every `<name>.manifest` in `dir`, sorted by name: (name, source).
pub fn manifests(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "manifest") {
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let source = std::fs::read_to_string(&path).unwrap_or_default();
            out.push((name, source));
        }
    }
    out.sort();
    out
}

pub fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The harness's provenance normalisation.
pub fn normalize(ir: &mut Value) {
    if let Some(p) = ir.get_mut("provenance").and_then(Value::as_object_mut) {
        for (k, v) in [
            ("compiledAt", "2024-01-01T00:00:00.000Z"),
            ("contentHash", "normalized-content-hash"),
            ("irHash", "normalized-ir-hash"),
            ("compilerVersion", "normalized-compiler-version"),
        ] {
            p.insert(k.into(), Value::String(v.into()));
        }
    }
}

/// JavaScript deep equality: numbers by value, objects regardless of key order.
pub fn js_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| js_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| js_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The first path where `a` and `b` differ, for failure messages.
pub fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: array length {} vs {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]")))
        }
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    None => return Some(format!("{path}.{k}: only in ours")),
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}.{k}: only in expected"))
        }
        _ if js_equal(a, b) => None,
        _ => Some(format!("{path}: ours {a} vs expected {b}")),
    }
}
