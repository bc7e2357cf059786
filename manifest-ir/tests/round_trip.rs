//! Every stored IR document in the workspace (the upstream compiler suite's expected IR, the
//! runtime conformance suite's, and the provenance and reference outputs) loads into the
//! typed IR and serializes back to the very same JSON: the types hold all of it.

use std::path::{Path, PathBuf};

use manifest_ir::Ir;
use serde_json::Value;

fn ir_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        "manifest-compiler/tests/fixtures",
        "manifest-compiler/tests/provenance",
        "manifest-compiler/tests/reference",
        "tests/conformance/fixtures",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).expect(dir) {
            let path = entry.expect("dir entry").path();
            if path.to_string_lossy().ends_with(".ir.json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The first path at which `a` and `b` differ.
fn difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = difference(p, q, &format!("{at}.{k}")) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{at}.{k}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| difference(p, q, &format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} vs {b}")),
    }
}

#[test]
fn every_stored_ir_round_trips_through_the_types() {
    let files = ir_files();
    assert!(files.len() >= 95, "found only {} IR files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        let original: Value = serde_json::from_str(&text).expect("json");
        let ir = match Ir::from_json_str(&text) {
            Ok(ir) => ir,
            Err(e) => {
                failures.push(format!("{}: does not load: {e}", path.display()));
                continue;
            }
        };
        let back = serde_json::to_value(&ir).expect("serialize");
        if let Some(d) = difference(&original, &back, "") {
            failures.push(format!("{}: {d}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_comparison_sees_a_float_for_an_integer_and_a_missing_key() {
    use serde_json::json;
    assert!(difference(&json!({"a": 1}), &json!({"a": 1.0}), "").is_some());
    assert!(difference(&json!({"a": [1, 2]}), &json!({"a": [1]}), "").is_some());
    assert!(difference(&json!({"a": {"b": null}}), &json!({"a": {}}), "").is_some());
    assert!(
        difference(
            &json!({"a": {"b": [true]}}),
            &json!({"a": {"b": [true]}}),
            ""
        )
        .is_none()
    );
}

#[test]
fn informational_parts_in_another_shape_still_load() {
    let ir = Ir::from_json(serde_json::json!({
        "version": "1.0",
        "entities": [{"name": "A"}],
        "events": [{"name": "E", "channel": "c", "payload": "anything"}],
        "commands": [{"name": "create", "entity": "A",
                      "initialization": {"dynamicGuardIndexes": "not a list"}}]
    }))
    .expect("loads");
    assert_eq!(ir.commands[0].initialization, None);
    assert_eq!(
        ir.events[0].payload,
        manifest_ir::EventPayload::Other(serde_json::json!("anything"))
    );
    // What the runtime runs keeps its strict shape: a guard that is not an expression fails.
    let bad = Ir::from_json(serde_json::json!({
        "version": "1.0",
        "commands": [{"name": "c", "guards": ["not an expression"]}]
    }))
    .unwrap_err();
    assert!(bad.to_string().contains("commands[0].guards[0]"), "{bad}");
}
