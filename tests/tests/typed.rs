//! A `#[derive(ManifestEntity)]` struct's typed store serving its IR entity through
//! `InstanceStore`, on memory and SQLite, and a struct that does not fit refused with each
//! mismatch named.

use std::sync::Arc;

use manifest_core::{EntityInstance, MemoryStore, Store};
use manifest_runtime::{Engine, Ir, RuntimeError};
use serde_json::{Map, Value as Json, json};

fn data(v: Json) -> Map<String, Json> {
    v.as_object().unwrap().clone()
}
use manifest_core::{InstanceStore, ManifestEntity, SqliteDb};
use manifest_runtime::CommandOptions;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, ManifestEntity, Serialize, Deserialize)]
#[manifest(table = "engine_task", entity = "Task")]
pub struct Task {
    pub id: String,
    pub tenant_id: String,
    pub title: String,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, ManifestEntity, Serialize, Deserialize)]
#[manifest(table = "engine_wrong_task", entity = "Task")]
pub struct WrongTask {
    pub id: String,
    pub tenant_id: String,
    pub title: i64,
    pub extra: String,
}

fn ir_with_command() -> Ir {
    Ir::from_json(json!({
        "version": "1.0",
        "entities": [{
            "name": "Task",
            "properties": [
                {"name": "title", "type": {"name": "string"}},
                {"name": "done", "type": {"name": "boolean"}, "defaultValue": {"kind": "boolean", "value": false}}
            ],
            "commands": ["finish"]
        }],
        "stores": [{"entity": "Task", "target": "postgres"}],
        "commands": [{
            "name": "finish", "entity": "Task",
            "guards": [{"kind": "unary", "operator": "not", "operand": {"kind": "member", "object": {"kind": "identifier", "name": "self"}, "property": "done"}}],
            "actions": [{"kind": "mutate", "target": "done", "expression": {"kind": "literal", "value": {"kind": "boolean", "value": true}}}]
        }]
    }))
    .unwrap()
}

fn engine(store: Arc<dyn Store<EntityInstance>>) -> Result<Engine, RuntimeError> {
    Engine::builder(ir_with_command())
        .tenant("acme")
        .store_provider(move |entity: &str, _: &str| (entity == "Task").then(|| store.clone()))
        .build()
}

async fn run_on(typed: Arc<dyn Store<Task>>) {
    let dynamic = InstanceStore::from_arc(typed.clone()).into_dyn();
    let engine = engine(dynamic).unwrap();
    let created = engine
        .create_instance("Task", data(json!({"id": "t1", "title": "ship it"})))
        .await
        .unwrap();
    assert_eq!(created.get("done"), Some(json!(false)));
    let result = engine
        .run_command("finish", Map::new(), CommandOptions::on("Task", "t1"))
        .await
        .unwrap();
    assert!(result.success, "{result:?}");
    let row = typed.get_by_id("t1").await.unwrap().unwrap();
    assert_eq!(
        (row.title.as_str(), row.done),
        ("ship it", true),
        "written as a typed row"
    );
    let again = engine
        .run_command("finish", Map::new(), CommandOptions::on("Task", "t1"))
        .await
        .unwrap();
    assert_eq!(
        again.error.as_deref(),
        Some("Guard condition failed for command 'finish'")
    );
}

#[tokio::test]
async fn a_derived_struct_serves_its_entity_on_memory_and_sqlite() {
    run_on(Arc::new(MemoryStore::<Task>::new("acme".to_owned()))).await;
    let db = SqliteDb::memory().await.unwrap();
    db.create_table::<Task>().await.unwrap();
    run_on(Arc::new(db.store::<Task>("acme"))).await;
}

#[test]
fn a_struct_that_does_not_fit_is_refused_with_each_mismatch_named() {
    let wrong = InstanceStore::new(MemoryStore::<WrongTask>::new("acme".to_owned())).into_dyn();
    match engine(wrong) {
        Err(RuntimeError::SchemaMismatch { entity, mismatches }) => {
            assert_eq!(entity, "Task");
            assert_eq!(
                mismatches,
                [
                    "Task.title: IR type `string` cannot be stored in field `title` (BIGINT column)",
                    "Task.done: the property has no field in `WrongTask`",
                    "Task: field `extra` of `WrongTask` is not a property of the entity",
                ]
            );
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
}
