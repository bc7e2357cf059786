//! The engine's instance reads and commands on an instance, on memory, SQLite and PostgreSQL:
//! `list_instances` pages by id through the store's keyset page, gated by read policies (a
//! thinned page still leads on); `CommandOptions::require_instance` refuses a missing instance
//! before anything runs, where the default runs the command on no instance, as the reference
//! does.

mod databases;

use databases::{PREPARE, databases};
use manifest_runtime::{CommandOptions, Database, Engine, Ir, RuntimeError};
use serde_json::{Map, Value as Json, json};

fn object(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// `Doc`, readable by its owner only, with a command that writes `copy`.
fn ir() -> Ir {
    let ident = |name: &str| json!({"kind": "identifier", "name": name});
    let member = |object: Json, property: &str| json!({"kind": "member", "object": object, "property": property});
    Ir::from_json(json!({
        "version": "1.0",
        "entities": [{"name": "Doc", "properties": [
            {"name": "owner", "type": {"name": "string"}},
            {"name": "copy", "type": {"name": "string"}}
        ]}],
        "commands": [{"name": "touch", "entity": "Doc", "actions": [{"kind": "mutate",
            "target": "copy", "expression": {"kind": "literal", "value": {"kind": "string", "value": "touched"}}}]}],
        "policies": [{"name": "ownerReads", "entity": "Doc", "action": "read", "expression":
            {"kind": "binary", "operator": "==",
             "left": member(ident("self"), "owner"), "right": member(ident("user"), "id")}}]
    }))
    .unwrap()
}

fn engine(database: &Database, tenant: &str, user: &str) -> Engine {
    Engine::builder(ir())
        .tenant(tenant)
        .context(json!({"user": {"id": user}}))
        .database(database.clone())
        .build()
        .unwrap()
}

fn ids(instances: &[Map<String, Json>]) -> Vec<&str> {
    instances
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_the_ids_and_the_read_policies() {
    for (name, database) in databases("instances").await {
        let tenant = format!("t-{}", uuid::Uuid::now_v7());
        let ann = engine(&database, &tenant, "ann");
        {
            let _one = PREPARE.lock().await;
            ann.prepare().await.unwrap();
        }
        // Stored out of order; d2, d4 and d6 are bob's.
        for n in [4, 1, 7, 2, 6, 3, 5] {
            let owner = if n % 2 == 0 { "bob" } else { "ann" };
            let doc = json!({"id": format!("d{n}"), "owner": owner});
            ann.create_instance("Doc", object(doc)).await.unwrap();
        }

        // Pages of three ids each: ann sees her own of each, and the cursor goes on past a
        // page the policy thinned.
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = ann
                .list_instances("Doc", after.as_deref(), 3)
                .await
                .unwrap();
            pages.push((
                ids(&page.instances)
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
                page.next.clone(),
            ));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let page = |ids: &[&str], next: Option<&str>| {
            (
                ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                next.map(str::to_owned),
            )
        };
        assert_eq!(
            pages,
            [
                page(&["d1", "d3"], Some("d3")),
                page(&["d5"], Some("d6")),
                page(&["d7"], None),
            ],
            "{name}"
        );
        let all = ann.get_all_instances("Doc").await.unwrap();
        assert_eq!(ids(&all), ["d1", "d3", "d5", "d7"], "{name}");

        // A page that ends on the last id still names it; the page after it is empty.
        let full = ann.list_instances("Doc", None, 7).await.unwrap();
        assert_eq!(full.next.as_deref(), Some("d7"), "{name}");
        let end = ann.list_instances("Doc", Some("d7"), 7).await.unwrap();
        assert_eq!((end.instances.len(), end.next), (0, None), "{name}");
        // A limit of 0 reads one row.
        let one = ann.list_instances("Doc", None, 0).await.unwrap();
        assert_eq!(
            (ids(&one.instances), one.next.as_deref()),
            (vec!["d1"], Some("d1")),
            "{name}"
        );
        // The instances are read as `get_instance` shows them.
        assert_eq!(
            Json::Object(one.instances[0].clone()),
            json!({"id": "d1", "owner": "ann", "copy": ""}),
            "{name}"
        );
        // Another tenant's engine, or an unknown entity.
        let other = engine(&database, &format!("{tenant}-other"), "ann");
        let none = other.list_instances("Doc", None, 10).await.unwrap();
        assert_eq!((none.instances.len(), none.next), (0, None), "{name}");
        assert!(
            matches!(
                ann.list_instances("Nope", None, 10).await,
                Err(RuntimeError::UnknownEntity(e)) if e == "Nope"
            ),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_instance_that_is_missing_is_not_found_and_runs_nothing() {
    for (name, database) in databases("instances-required").await {
        let tenant = format!("t-{}", uuid::Uuid::now_v7());
        let ann = engine(&database, &tenant, "ann");
        {
            let _one = PREPARE.lock().await;
            ann.prepare().await.unwrap();
        }
        ann.create_instance("Doc", object(json!({"id": "d1", "owner": "ann"})))
            .await
            .unwrap();
        let required = ann
            .run_command(
                "touch",
                Map::new(),
                CommandOptions::on("Doc", "nope").require_instance(),
            )
            .await;
        assert!(
            matches!(
                &required,
                Err(RuntimeError::NotFound { entity, id }) if entity == "Doc" && id == "nope"
            ),
            "{name}: {required:?}"
        );
        assert_eq!(
            required.unwrap_err().to_string(),
            "Doc `nope` not found",
            "{name}"
        );
        // Another tenant's id is missing too.
        let other = engine(&database, &format!("{tenant}-other"), "ann");
        assert!(
            matches!(
                other
                    .run_command(
                        "touch",
                        Map::new(),
                        CommandOptions::on("Doc", "d1").require_instance()
                    )
                    .await,
                Err(RuntimeError::NotFound { .. })
            ),
            "{name}"
        );
        // By default the command runs on no instance and succeeds, as the reference's does,
        // writing nothing.
        let plain = ann
            .run_command("touch", Map::new(), CommandOptions::on("Doc", "nope"))
            .await
            .unwrap();
        assert!(plain.success, "{name}: {plain:?}");
        assert_eq!(ann.get_instance("Doc", "nope").await.unwrap(), None);
        // An instance that exists runs as before.
        let touched = ann
            .run_command(
                "touch",
                Map::new(),
                CommandOptions::on("Doc", "d1").require_instance(),
            )
            .await
            .unwrap();
        assert!(touched.success, "{name}: {touched:?}");
        assert_eq!(
            ann.get_instance("Doc", "d1").await.unwrap().unwrap()["copy"],
            "touched",
            "{name}"
        );
    }
}
