//! RuntimeEngine construction: which store each entity gets, tenant and context rules, and
//! typed stores bound through the provider.

use std::sync::Arc;

use manifest_core::runtime::{Ir, RuntimeEngine, RuntimeError, RuntimeOptions};
use manifest_core::{EntityInstance, MemoryStore, Store};
use serde_json::{Map, Value as Json, json};

fn ir(target: &str) -> Ir {
    Ir::from_json(json!({
        "version": "1.0",
        "entities": [{
            "name": "Task",
            "properties": [
                {"name": "title", "type": {"name": "string"}},
                {"name": "done", "type": {"name": "boolean"}, "defaultValue": {"kind": "boolean", "value": false}}
            ]
        }],
        "stores": [{"entity": "Task", "target": target}]
    }))
    .unwrap()
}

fn data(v: Json) -> Map<String, Json> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn a_target_without_a_built_in_store_needs_the_provider() {
    for target in ["postgres", "supabase", "durable", "redis"] {
        match RuntimeEngine::new(ir(target), RuntimeOptions::default()) {
            Err(e @ RuntimeError::NoStore { .. }) => {
                let text = e.to_string();
                assert!(text.contains("`Task`") && text.contains(target), "{text}");
            }
            other => panic!("{target}: expected NoStore, got {other:?}"),
        }
    }
    // With a provider that serves the entity, the same IR runs.
    let store = MemoryStore::<EntityInstance>::named("Task", "t1".to_owned());
    let provided: Arc<dyn Store<EntityInstance>> = Arc::new(store.clone());
    let mut options = RuntimeOptions::default();
    options.store_provider = Some(Arc::new(move |entity: &str| {
        (entity == "Task").then(|| provided.clone())
    }));
    let engine = RuntimeEngine::new(ir("postgres"), options).unwrap();
    let created = engine
        .create_instance("Task", data(json!({"id": "a", "title": "write"})))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created["done"], json!(false), "defaults applied");
    let stored = store.get_by_id(&"a".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        stored.fields["title"],
        json!("write"),
        "written to the provided store"
    );
}

#[tokio::test]
async fn memory_targets_and_undeclared_entities_get_a_memory_store() {
    let engine = RuntimeEngine::new(ir("memory"), RuntimeOptions::default()).unwrap();
    let created = engine
        .create_instance("Task", data(json!({"title": "x"})))
        .await
        .unwrap()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty(), "an id is generated");
    assert_eq!(
        engine.get_instance("Task", &id).await.unwrap(),
        Some(created)
    );
    assert!(matches!(
        engine.create_instance("Ghost", Map::new()).await,
        Err(RuntimeError::UnknownEntity(name)) if name == "Ghost"
    ));
}

#[test]
fn tenant_and_context_rules() {
    let mut options = RuntimeOptions::default();
    options.require_tenant_context = true;
    assert!(matches!(
        RuntimeEngine::new(ir("memory"), options.clone()),
        Err(RuntimeError::TenantRequired)
    ));
    options.tenant_id = Some("acme".to_owned());
    assert!(RuntimeEngine::new(ir("memory"), options).is_ok());

    let mut options = RuntimeOptions::default();
    options.context = json!(["not", "an", "object"]);
    assert!(matches!(
        RuntimeEngine::new(ir("memory"), options),
        Err(RuntimeError::ContextNotObject)
    ));
}

#[test]
fn the_engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RuntimeEngine>();
}

mod typed {
    use super::*;
    use manifest_core::runtime::CommandOptions;
    use manifest_core::{InstanceStore, ManifestEntity, SqliteDb};
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

    fn options(store: Arc<dyn Store<EntityInstance>>) -> RuntimeOptions {
        let mut options = RuntimeOptions::default();
        options.store_provider = Some(Arc::new(move |entity: &str| {
            (entity == "Task").then(|| store.clone())
        }));
        options
    }

    async fn run_on(typed: Arc<dyn Store<Task>>) {
        let dynamic = InstanceStore::from_arc(typed.clone()).into_dyn();
        let engine = RuntimeEngine::new(ir_with_command(), options(dynamic)).unwrap();
        let created = engine
            .create_instance("Task", data(json!({"id": "t1", "title": "ship it"})))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(created["done"], json!(false));
        let result = engine
            .run_command("finish", Map::new(), CommandOptions::on("Task", "t1"))
            .await
            .unwrap();
        assert!(result.success, "{result:?}");
        let row = typed.get_by_id(&"t1".to_owned()).await.unwrap().unwrap();
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
        match RuntimeEngine::new(ir_with_command(), options(wrong)) {
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
}
