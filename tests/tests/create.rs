//! `create` run without an instance creates one, as the reference runtime does (checked against
//! `@angriff36/manifest` 3.4.23 on `tests/write-path/book.manifest`), on memory, SQLite and
//! PostgreSQL: the new instance is `self` for the policies and guards, is stored once they
//! pass (with the required and constraint checks of a create), then the actions change it; it
//! is the command's `result` and `instance`, and a command that fails stores nothing, also when
//! it fails after the create (its reaction `Shelf.count` refusing, with reaction failures
//! failing the parent): the create rolls back with it.

mod databases;

use databases::{PREPARE, databases};
use manifest_runtime::{CommandOptions, Engine, Ir};
use serde_json::{Map, Value as Json, json};

const BOOK: &str = include_str!("../write-path/book.ir.json");

fn object(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_without_an_instance_creates_one() {
    for (name, database) in databases("create").await {
        let n = std::sync::atomic::AtomicU64::new(0);
        let engine = Engine::builder(Ir::from_json_str(BOOK).unwrap())
            .tenant(format!("t-{}", uuid::Uuid::now_v7()))
            .database(database)
            .clock(|| 1000.0)
            .id_generator(manifest_runtime::IdGenerator::from_fn(move || {
                let n = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                format!("gen-{n}")
            }))
            .build()
            .unwrap();
        {
            let _one = PREPARE.lock().await;
            engine.prepare().await.unwrap();
        }
        engine
            .create_instance("Shelf", object(json!({"id": "main", "capacity": 1})))
            .await
            .unwrap();
        let run = |input: Json| {
            engine.run_command("create", object(input), CommandOptions::entity("Book"))
        };
        let made = run(json!({"title": "Dune", "copies": 2})).await.unwrap();
        let book = json!({"id": "gen-1", "title": "Dune", "status": "available", "copies": 2, "shelf": "new-arrivals"});
        assert!(made.success, "{name}: {made:?}");
        assert_eq!(made.result.as_ref(), Some(&book), "{name}");
        assert_eq!(made.instance.as_ref(), Some(&book), "{name}");
        assert_eq!(made.emitted_events[0].name, "BookAdded");
        assert_eq!(
            Json::Object(made.emitted_events[0].payload.clone()),
            json!({"title": "Dune", "copies": 2, "result": book}),
            "{name}: the payload is the input (without the generated id) and the instance"
        );
        assert_eq!(
            Json::Object(engine.get_instance("Book", "gen-1").await.unwrap().unwrap()),
            book,
            "{name}"
        );
        // An id in the input is the instance's.
        let given = run(json!({"id": "b7", "title": "Emma", "copies": 1}))
            .await
            .unwrap();
        assert_eq!(given.result.as_ref().unwrap()["id"], "b7", "{name}");
        assert_eq!(given.emitted_events[0].payload["id"], "b7");
        // A failed guard or a blocking constraint stores nothing.
        let guarded = run(json!({"title": "", "copies": 1})).await.unwrap();
        assert_eq!(
            guarded.error.as_deref(),
            Some("Guard condition failed for command 'create'")
        );
        let blocked = run(json!({"title": "Zero", "copies": 0})).await.unwrap();
        assert_eq!(
            blocked.error.as_deref(),
            Some("copies must be positive"),
            "{name}"
        );
        assert_eq!(blocked.constraint_outcomes.len(), 1);
        assert!(!blocked.constraint_outcomes[0].passed);
        let all: Vec<Json> = engine
            .get_all_instances("Book")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m["id"].clone())
            .collect();
        assert_eq!(
            all,
            [json!("b7"), json!("gen-1")],
            "{name}: only the two that succeeded"
        );
        // The same id again is a duplicate: an error, and nothing changes.
        let again = run(json!({"id": "b7", "title": "Emma", "copies": 5})).await;
        assert!(
            matches!(
                again,
                Err(manifest_runtime::RuntimeError::Store(
                    manifest_core::Error::DuplicateId { .. }
                ))
            ),
            "{name}: {again:?}"
        );
        assert_eq!(
            engine.get_instance("Book", "b7").await.unwrap().unwrap()["copies"],
            1
        );
        // The shelf took the first book; the second's reaction failed and was ignored.
        assert_eq!(
            engine.get_instance("Shelf", "main").await.unwrap().unwrap()["books"],
            1,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_fails_after_storing_rolls_back() {
    for (name, database) in databases("create").await {
        let tenant = format!("t-{}", uuid::Uuid::now_v7());
        let engine = |write: manifest_runtime::WritePath| {
            Engine::builder(Ir::from_json_str(BOOK).unwrap())
                .tenant(tenant.as_str())
                .database(database.clone())
                .write_path(write)
                .build()
                .unwrap()
        };
        let plain = engine(manifest_runtime::WritePath::default());
        {
            let _one = PREPARE.lock().await;
            plain.prepare().await.unwrap();
        }
        plain
            .create_instance("Shelf", object(json!({"id": "main", "capacity": 0})))
            .await
            .unwrap();
        let strict = engine(
            manifest_runtime::WritePath::builder()
                .reaction_failures_fail(true)
                .build(),
        );
        let input = || object(json!({"id": "c9", "title": "Full", "copies": 1}));
        let failed = strict
            .run_command("create", input(), CommandOptions::entity("Book"))
            .await
            .unwrap();
        assert!(!failed.success, "{name}: the shelf is full");
        assert!(
            failed
                .error
                .as_deref()
                .unwrap()
                .contains("Reaction to event 'BookAdded' failed"),
            "{failed:?}"
        );
        assert_eq!(
            plain.get_instance("Book", "c9").await.unwrap(),
            None,
            "{name}: the create rolled back"
        );
        // By default the reaction's failure leaves the create.
        let kept = plain
            .run_command("create", input(), CommandOptions::entity("Book"))
            .await
            .unwrap();
        assert!(kept.success, "{name}: {kept:?}");
        assert!(plain.get_instance("Book", "c9").await.unwrap().is_some());
    }
}
