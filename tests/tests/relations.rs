//! Relationships through the engine: `hasMany ... through` in two hops, reads that follow every
//! write (memory index, document index), and the relationships a command names fetched before
//! it runs.

use std::sync::Arc;

use manifest_runtime::{CommandOptions, Engine, Ir};
use serde_json::{Map, Value as Json, json};

fn data(v: Json) -> Map<String, Json> {
    v.as_object().unwrap().clone()
}

/// `hasMany tags: Tag through PostTag` (fixture 102's program): the tags the post's join rows
/// point at, each once, in the order of the join rows; join rows of other posts and links
/// to missing tags are left out.
#[tokio::test]
async fn through_relationships_resolve_in_two_hops() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance/fixtures/102-through-join.ir.json");
    let ir = Ir::from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let engine = Engine::builder(ir).build().unwrap();
    let rows = [
        ("Post", json!({"id": "p1", "title": "Hello"})),
        ("Post", json!({"id": "p2", "title": "Other"})),
        ("Tag", json!({"id": "t1", "name": "news"})),
        ("Tag", json!({"id": "t2", "name": "tech"})),
        (
            "PostTag",
            json!({"id": "l1", "postId": "p1", "tagId": "t2"}),
        ),
        (
            "PostTag",
            json!({"id": "l2", "postId": "p1", "tagId": "t1"}),
        ),
        (
            "PostTag",
            json!({"id": "l3", "postId": "p1", "tagId": "t2"}),
        ),
        (
            "PostTag",
            json!({"id": "l4", "postId": "p2", "tagId": "t1"}),
        ),
        (
            "PostTag",
            json!({"id": "l5", "postId": "p1", "tagId": "gone"}),
        ),
    ];
    for (entity, row) in rows {
        engine.create_instance(entity, data(row)).await.unwrap();
    }
    let count = engine
        .evaluate_computed("Post", "p1", "tagCount")
        .await
        .unwrap();
    assert_eq!(
        count,
        manifest_runtime::value::Value::Number(2.0),
        "t2 and t1, once each"
    );
    let count = engine
        .evaluate_computed("Post", "p2", "tagCount")
        .await
        .unwrap();
    assert_eq!(count, manifest_runtime::value::Value::Number(1.0));
}

async fn count_orders(engine: &Engine, customer: &str) -> Json {
    let on = CommandOptions::on("Customer", customer);
    let r = engine
        .run_command("countOrders", Map::new(), on)
        .await
        .unwrap();
    assert!(r.success, "{r:?}");
    let c = engine
        .get_instance("Customer", customer)
        .await
        .unwrap()
        .unwrap();
    c["orderCount"].clone()
}

/// `self.orders` reads the orders that point at the customer now: the memory store's index of
/// `customerId` follows creates, updates that move an order and deletes, and a document table's
/// index query sees the same; a command that reads no relationship is unaffected.
#[tokio::test]
async fn relationships_follow_every_write() {
    let program: Arc<manifest_runtime::Program> = Arc::new(
        manifest_runtime::Program::from_json_str(include_str!(
            "../../examples/benches/scaling/customers.ir.json"
        ))
        .unwrap(),
    );
    let sqlite = manifest_core::SqliteDb::memory().await.unwrap();
    let engines = [
        Engine::builder(program.clone())
            .tenant("t")
            .build()
            .unwrap(),
        Engine::builder(program.clone())
            .tenant("t")
            .database(sqlite)
            .build()
            .unwrap(),
    ];
    for engine in engines {
        engine.prepare().await.unwrap();
        for (id, name) in [("c1", "One"), ("c2", "Two")] {
            engine
                .create_instance("Customer", data(json!({"id": id, "name": name})))
                .await
                .unwrap();
        }
        assert_eq!(count_orders(&engine, "c1").await, json!(0));
        for (id, customer) in [("o1", "c1"), ("o2", "c1"), ("o3", "c2")] {
            engine
                .create_instance("Order", data(json!({"id": id, "customerId": customer})))
                .await
                .unwrap();
        }
        assert_eq!(count_orders(&engine, "c1").await, json!(2));
        engine
            .update_instance("Order", "o2", data(json!({"customerId": "c2"})))
            .await
            .unwrap();
        assert_eq!(count_orders(&engine, "c1").await, json!(1));
        assert_eq!(count_orders(&engine, "c2").await, json!(2));
        assert!(engine.delete_instance("Order", "o3").await.unwrap());
        assert_eq!(count_orders(&engine, "c2").await, json!(1));
        let visit = engine
            .run_command("visit", Map::new(), CommandOptions::on("Customer", "c2"))
            .await
            .unwrap();
        assert!(visit.success);
    }
}

/// A command that names a relationship gets its rows before it first runs: it is evaluated
/// once (its `uuid()` draws one id), not once without the rows and again with them.
#[tokio::test]
async fn a_named_relationship_is_fetched_before_the_command_runs() {
    let mut ir: Json = serde_json::from_str(include_str!(
        "../../examples/benches/scaling/customers.ir.json"
    ))
    .unwrap();
    let call_uuid =
        json!({"kind": "call", "callee": {"kind": "identifier", "name": "uuid"}, "args": []});
    let orders_length = json!({"kind": "member", "property": "length",
        "object": {"kind": "member", "property": "orders", "object": {"kind": "identifier", "name": "self"}}});
    ir["commands"].as_array_mut().unwrap().push(json!({
        "name": "stamp", "entity": "Customer", "parameters": [], "guards": [], "constraints": [],
        "policies": [], "emits": [],
        "actions": [
            {"kind": "compute", "target": "tag", "expression": call_uuid},
            {"kind": "mutate", "target": "orderCount", "expression": orders_length}
        ]
    }));
    let ids = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = ids.clone();
    let engine = Engine::builder(Ir::from_json(ir).unwrap())
        .id_generator(manifest_core::IdGenerator::from_fn(move || {
            format!(
                "id-{}",
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            )
        }))
        .build()
        .unwrap();
    for (entity, row) in [
        ("Customer", json!({"id": "c1", "name": "One"})),
        ("Order", json!({"id": "o1", "customerId": "c1"})),
        ("Order", json!({"id": "o2", "customerId": "c1"})),
    ] {
        engine.create_instance(entity, data(row)).await.unwrap();
    }
    let before = ids.load(std::sync::atomic::Ordering::SeqCst);
    let result = engine
        .run_command("stamp", Map::new(), CommandOptions::on("Customer", "c1"))
        .await
        .unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.result, Some(json!(2)));
    assert_eq!(
        ids.load(std::sync::atomic::Ordering::SeqCst) - before,
        1,
        "the command ran once"
    );
}
