//! Loading Manifest IR: every public fixture's IR loads, and bad IR is an error that names the
//! JSON path and what was expected.

use std::path::Path;

use manifest_runtime::ir::{Ir, IrError};

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/fixtures");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("tests/conformance/fixtures")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".ir.json")?
                .to_owned();
            Some((name, std::fs::read_to_string(&path).ok()?))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_fixture_ir_loads() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 40,
        "only {} fixtures found",
        fixtures.len()
    );
    for (name, text) in &fixtures {
        let ir = Ir::from_json_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ir.version, "1.0");
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        let entities = json["entities"].as_array().map_or(0, Vec::len);
        let commands = json["commands"].as_array().map_or(0, Vec::len);
        assert_eq!(ir.entities.len(), entities, "{name}: entities");
        assert_eq!(ir.commands.len(), commands, "{name}: commands");
    }
}

fn load_error(json: serde_json::Value) -> IrError {
    match Ir::from_json(json) {
        Ok(_) => panic!("bad IR loaded"),
        Err(e) => e,
    }
}

fn minimal() -> serde_json::Value {
    serde_json::json!({
        "version": "1.0",
        "entities": [{"name": "Task", "properties": [{"name": "title", "type": {"name": "string"}}]}],
        "stores": [{"entity": "Task", "target": "memory"}],
        "commands": [{
            "name": "rename", "entity": "Task",
            "guards": [{"kind": "identifier", "name": "ok"}],
            "actions": [{"kind": "mutate", "target": "title", "expression": {"kind": "literal", "value": {"kind": "string", "value": "x"}}}]
        }]
    })
}

#[test]
fn minimal_ir_loads() {
    let ir = Ir::from_json(minimal()).unwrap();
    assert_eq!(ir.entity("Task").unwrap().properties[0].name, "title");
    assert_eq!(ir.store_of("Task").unwrap().target, "memory");
}

#[test]
fn wrong_shape_names_the_path() {
    let mut ir = minimal();
    ir["commands"][0]["guards"][0] = serde_json::json!({"kind": "teleport"});
    let e = load_error(ir);
    let text = e.to_string();
    assert!(
        matches!(e, IrError::Shape { ref path, .. } if path == "commands[0].guards[0].kind"),
        "{text}"
    );
    assert!(text.contains("teleport"), "{text}");

    let mut ir = minimal();
    ir["entities"][0]["properties"][0]["type"] = serde_json::json!("string");
    let e = load_error(ir);
    assert!(
        matches!(e, IrError::Shape { ref path, .. } if path == "entities[0].properties[0].type"),
        "{e}"
    );

    let mut ir = minimal();
    ir["commands"][0]["actions"][0]["kind"] = serde_json::json!("explode");
    let e = load_error(ir);
    assert!(
        matches!(e, IrError::Shape { ref path, .. } if path == "commands[0].actions[0].kind"),
        "{e}"
    );
}

#[test]
fn unsupported_version_and_dangling_names_are_errors() {
    let mut ir = minimal();
    ir["version"] = serde_json::json!("2.0");
    let e = load_error(ir);
    assert!(
        matches!(&e, IrError::Version { found } if found == "2.0"),
        "{e}"
    );

    let mut ir = minimal();
    ir["commands"][0]["entity"] = serde_json::json!("Ghost");
    let e = load_error(ir);
    assert!(
        matches!(&e, IrError::Reference { path, message } if path == "commands[0].entity" && message.contains("Ghost")),
        "{e}"
    );

    let mut ir = minimal();
    ir["stores"][0]["entity"] = serde_json::json!("Ghost");
    assert!(matches!(load_error(ir), IrError::Reference { .. }));

    let e = Ir::from_json_str("{\"version\": \"1.0\",\n \"entities\": [").unwrap_err();
    assert!(matches!(e, IrError::Syntax { line: 2, .. }), "{e}");
}

#[test]
fn the_reserved_entity_field_is_refused_with_its_path() {
    let mut ir = minimal();
    ir["entities"][0]["properties"][0]["name"] = serde_json::json!("_entity");
    let e = load_error(ir);
    assert!(
        matches!(&e, IrError::Reserved { path, name } if path == "entities[0].properties[0].name" && name == "_entity"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "invalid IR at `entities[0].properties[0].name`: `_entity` is reserved by the runtime"
    );

    let mut ir = minimal();
    ir["commands"][0]["actions"][0]["target"] = serde_json::json!("_entity");
    let e = load_error(ir);
    assert!(
        matches!(&e, IrError::Reserved { path, .. } if path == "commands[0].actions[0].target"),
        "{e}"
    );

    // New masking and rate-limit shapes are checked too.
    let mut ir = minimal();
    ir["entities"][0]["properties"][0]["maskStrategy"] = serde_json::json!({"type": "scramble"});
    let e = load_error(ir);
    assert!(
        matches!(&e, IrError::Shape { path, .. } if path == "entities[0].properties[0].maskStrategy.type"),
        "{e}"
    );
    let mut ir = minimal();
    ir["commands"][0]["rateLimit"] =
        serde_json::json!({"maxRequests": 1, "windowMs": 10, "scope": "planet"});
    let e = load_error(ir);
    assert!(
        matches!(&e, IrError::Shape { path, .. } if path == "commands[0].rateLimit.scope"),
        "{e}"
    );
}

/// An `Ir` built in code (here by plain serde, without the loader) still has its property
/// modifiers acted on: the engine reads them itself.
#[tokio::test]
async fn a_program_built_in_code_keeps_its_required_and_readonly_properties() {
    use manifest_runtime::Engine;
    let ir: Ir = serde_json::from_value(serde_json::json!({
        "version": "1.0",
        "entities": [{"name": "Task", "properties": [
            {"name": "title", "type": {"name": "string", "nullable": false}, "modifiers": ["required", "readonly"]}
        ]}],
        "stores": [{"entity": "Task", "target": "memory"}]
    }))
    .expect("plain serde");
    assert!(ir.clone().checked().is_ok());
    // Not through `checked` (which reads the modifiers too): the engine must read them.
    let engine = Engine::builder(ir).build().expect("engine");
    let missing = engine
        .create_instance("Task", serde_json::Map::new())
        .await
        .expect_err("title is required");
    assert!(missing.to_string().contains("title"), "{missing}");
    let mut data = serde_json::Map::new();
    data.insert("id".into(), "t1".into());
    data.insert("title".into(), "write".into());
    engine.create_instance("Task", data).await.expect("created");
    let mut change = serde_json::Map::new();
    change.insert("title".into(), "rewrite".into());
    let refused = engine.update_instance("Task", "t1", change).await;
    assert!(refused.is_err(), "title is readonly: {refused:?}");
}

/// What a program declares that the runtime does not execute is named, not ignored in silence:
/// each of the upstream compiler suite's newer constructs, compiled by our compiler, shows in
/// `Program::not_executed` with its place in the IR; a program the runtime runs whole shows none.
#[test]
fn constructs_the_runtime_does_not_execute_are_named() {
    use manifest_runtime::Program;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifest-compiler/tests/fixtures");
    let program = |name: &str| {
        let source = std::fs::read_to_string(dir.join(format!("{name}.manifest"))).expect(name);
        let ir = manifest_compiler::compile(&source).expect("compiles").ir;
        Program::new(ir.checked().expect("valid"))
    };
    for (fixture, construct, path) in [
        (
            "68-approval-workflow",
            "approval",
            "entities[0].approvals[0]",
        ),
        ("69-async-commands", "async command", ".async"),
        ("72-command-retry-policy", "retry policy", ".retry"),
        ("76-scheduled-commands", "schedule", "schedules[0]"),
        ("83-event-sourced", "event-sourced store", "stores[0]"),
        ("88-saga-orchestration", "saga", "sagas[0]"),
        ("90-webhook-trigger", "webhook", "webhooks[0]"),
        (
            "112-fanout-foreach-create",
            "fan-out on another entity",
            ".fanOut.matchEntity",
        ),
        ("115-reaction-match-else-create", "reaction match", ".match"),
        ("61-tenant-isolation", "tenant declaration", "tenant"),
    ] {
        let p = program(fixture);
        let found = p.not_executed();
        assert!(
            found
                .iter()
                .any(|n| n.construct == construct && n.path.ends_with(path)),
            "{fixture}: {construct} at {path} not named in {found:?}"
        );
        let shown = found[0].to_string();
        assert!(shown.contains("is not executed by this runtime"), "{shown}");
    }
    assert_eq!(program("04-command-mutate-emit").not_executed(), &[]);
}
