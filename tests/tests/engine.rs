//! Engine construction: which store each entity gets, tenant and context rules, and
//! typed stores bound through the provider.

use std::sync::Arc;

use manifest_core::{EntityInstance, MemoryStore, Store};
use manifest_runtime::{CommandOptions, Engine, Ir, RuntimeError};
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
        match Engine::builder(ir(target)).build() {
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
    let engine = Engine::builder(ir("postgres"))
        .store_provider(move |entity: &str, _: &str| (entity == "Task").then(|| provided.clone()))
        .build()
        .unwrap();
    let created = engine
        .create_instance("Task", data(json!({"id": "a", "title": "write"})))
        .await
        .unwrap();
    assert_eq!(created.get("done"), Some(json!(false)), "defaults applied");
    let stored = store.get_by_id("a").await.unwrap().unwrap();
    assert_eq!(
        stored.fields["title"],
        json!("write"),
        "written to the provided store"
    );
}

#[tokio::test]
async fn memory_targets_and_undeclared_entities_get_a_memory_store() {
    let engine = Engine::builder(ir("memory")).build().unwrap();
    let created = engine
        .create_instance("Task", data(json!({"title": "x"})))
        .await
        .unwrap();
    let id = created.id().to_owned();
    assert!(!id.is_empty(), "an id is generated");
    assert_eq!(
        engine.get_instance("Task", &id).await.unwrap(),
        Some(created.to_json())
    );
    assert_eq!(
        serde_json::to_value(&created).unwrap(),
        Json::Object(created.to_json()),
        "an instance serialises as its JSON"
    );
    assert!(matches!(
        engine.create_instance("Ghost", Map::new()).await,
        Err(RuntimeError::UnknownEntity(name)) if name == "Ghost"
    ));
}

#[test]
fn tenant_and_context_rules() {
    assert!(matches!(
        Engine::builder(ir("memory")).require_tenant().build(),
        Err(RuntimeError::TenantRequired)
    ));
    let engine = Engine::builder(ir("memory"))
        .require_tenant()
        .tenant("acme")
        .build()
        .unwrap();
    assert_eq!(engine.tenant(), Some("acme"));
    assert!(matches!(
        Engine::builder(ir("memory"))
            .context(json!(["not", "an", "object"]))
            .build(),
        Err(RuntimeError::ContextNotObject)
    ));
}

#[test]
fn the_engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
}

mod typed {
    use super::*;
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
}

/// `Expense.submit` with an overrideable `budgetLimit` constraint (`self.amount <= 500`):
/// without an override policy when `policy` is `None`, else with `policy` as its override
/// policy's expression.
fn override_ir(policy: Option<Json>) -> Ir {
    let mut constraint = json!({
        "name": "budgetLimit", "code": "budgetLimit", "severity": "block",
        "message": "over budget", "overrideable": true,
        "expression": {"kind": "binary", "operator": "<=",
            "left": {"kind": "member", "object": {"kind": "identifier", "name": "self"}, "property": "amount"},
            "right": {"kind": "literal", "value": {"kind": "number", "value": 500}}}
    });
    let mut policies = Vec::new();
    if let Some(expression) = policy {
        constraint["overridePolicyRef"] = json!("canOverride");
        policies
            .push(json!({"name": "canOverride", "action": "override", "expression": expression}));
    }
    Ir::from_json(json!({
        "version": "1.0",
        "entities": [{"name": "Expense", "properties": [
            {"name": "amount", "type": {"name": "number"}},
            {"name": "status", "type": {"name": "string"}}
        ]}],
        "commands": [{"name": "submit", "entity": "Expense", "constraints": [constraint],
            "actions": [{"kind": "mutate", "target": "status",
                "expression": {"kind": "literal", "value": {"kind": "string", "value": "submitted"}}}]}],
        "policies": policies
    }))
    .unwrap()
}

/// Submit expense `e1` (amount 750) as `role`, with `request` if given; the result and the
/// stored status.
async fn submit(
    ir: Ir,
    role: &str,
    request: Option<manifest_runtime::OverrideRequest>,
) -> (manifest_runtime::CommandResult, Json) {
    let engine = Engine::builder(ir)
        .context(json!({"user": {"id": "u1", "role": role}}))
        .clock(|| 5.0)
        .build()
        .unwrap();
    let e1 = data(json!({"id": "e1", "amount": 750, "status": "draft"}));
    engine.create_instance("Expense", e1).await.unwrap();
    let mut on = manifest_runtime::CommandOptions::on("Expense", "e1");
    if let Some(request) = request {
        on = on.with_override(request);
    }
    let result = engine.run_command("submit", Map::new(), on).await.unwrap();
    let stored = engine.get_instance("Expense", "e1").await.unwrap().unwrap();
    (result, stored["status"].clone())
}

#[tokio::test]
async fn override_requests_need_authorization() {
    use manifest_runtime::OverrideRequest;
    let request = || Some(OverrideRequest::new("budgetLimit", "conference", "boss"));

    // No override policy: only an admin (the context's user) may override.
    let (result, status) = submit(override_ir(None), "admin", request()).await;
    assert!(result.success, "{result:?}");
    assert_eq!(status, json!("submitted"));
    let event = &result.emitted_events[0];
    assert_eq!(
        (event.name.as_str(), event.channel.as_str()),
        ("OverrideApplied", "system")
    );
    assert_eq!(
        Json::Object(event.payload.clone()),
        json!({"constraintCode": "budgetLimit", "reason": "conference", "authorizedBy": "boss",
               "timestamp": 5, "commandName": "submit", "entityName": "Expense", "instanceId": "e1"})
    );
    let (result, status) = submit(override_ir(None), "employee", request()).await;
    assert_eq!(result.error.as_deref(), Some("over budget"));
    assert!(result.emitted_events.is_empty());
    assert_eq!(status, json!("draft"), "nothing written");
    // Without a request, an admin is still blocked (no policy to apply on its own).
    let (result, _) = submit(override_ir(None), "admin", None).await;
    assert!(!result.success);

    // An override policy sees the request as `_override`.
    let reason_is = json!({"kind": "binary", "operator": "==",
        "left": {"kind": "member", "object": {"kind": "identifier", "name": "_override"}, "property": "reason"},
        "right": {"kind": "literal", "value": {"kind": "string", "value": "conference"}}});
    let (result, status) =
        submit(override_ir(Some(reason_is.clone())), "employee", request()).await;
    assert!(result.success, "{result:?}");
    assert_eq!(status, json!("submitted"));
    let other = Some(OverrideRequest::new("budgetLimit", "holiday", "boss"));
    let (result, status) = submit(override_ir(Some(reason_is)), "employee", other).await;
    assert!(!result.success);
    assert_eq!(status, json!("draft"));
    // A request for another constraint code overrides nothing.
    let elsewhere = Some(OverrideRequest::new("otherLimit", "conference", "boss"));
    let (result, _) = submit(override_ir(None), "admin", elsewhere).await;
    assert!(!result.success);
}

/// `hasPermission(action, target?)` goes by the context user's role and the role's effective
/// permissions: action `all` matches any action, a permission without a target any target; an
/// unknown or non-string role grants nothing.
#[tokio::test]
async fn has_permission_follows_the_context_users_role() {
    let call = |args: Json| json!({"kind": "call", "callee": {"kind": "identifier", "name": "hasPermission"}, "args": args});
    let lit = |s: &str| json!({"kind": "literal", "value": {"kind": "string", "value": s}});
    let checks = [
        ("read", None),
        ("write", Some("Report")),
        ("write", Some("Invoice")),
        ("delete", Some("Anything")),
    ];
    let mut properties = Vec::new();
    for (i, (action, target)) in checks.iter().enumerate() {
        let mut args = vec![lit(action)];
        args.extend(target.map(lit));
        properties.push(json!({"name": format!("c{i}"), "type": {"name": "boolean"}, "expression": call(json!(args))}));
    }
    let ir = Ir::from_json(json!({
        "version": "1.0",
        "entities": [{"name": "Doc", "properties": [], "computedProperties": properties}],
        "roles": [
            {"name": "reader", "effectivePermissions": [{"action": "read"}, {"action": "write", "target": "Report"}]},
            {"name": "root", "effectivePermissions": [{"action": "all"}]}
        ]
    }))
    .unwrap();
    for (role, expected) in [
        (json!("reader"), [true, true, false, false]),
        (json!("root"), [true, true, true, true]),
        (json!("nobody"), [false; 4]),
        (json!(7), [false; 4]),
    ] {
        let engine = Engine::builder(ir.clone())
            .context(json!({"user": {"id": "u", "role": role}}))
            .build()
            .unwrap();
        engine
            .create_instance("Doc", data(json!({"id": "d"})))
            .await
            .unwrap();
        for (i, want) in expected.iter().enumerate() {
            let got = engine
                .evaluate_computed("Doc", "d", &format!("c{i}"))
                .await
                .unwrap();
            assert_eq!(
                got,
                manifest_runtime::value::Value::Bool(*want),
                "{role} {:?}",
                checks[i]
            );
        }
    }
}

/// Read policies gate `get_instance` and `get_all_instances` (fail-closed), `private`
/// properties are left out of reads, and commands still see the real values.
#[tokio::test]
async fn reads_are_gated_by_read_policies_and_hide_private_properties() {
    let ident = |name: &str| json!({"kind": "identifier", "name": name});
    let member = |object: Json, property: &str| json!({"kind": "member", "object": object, "property": property});
    let owner_is_user = json!({"kind": "binary", "operator": "==",
        "left": member(ident("self"), "owner"), "right": member(ident("user"), "id")});
    let ir = |policy: Json| {
        Ir::from_json(json!({
            "version": "1.0",
            "entities": [{"name": "Doc", "properties": [
                {"name": "owner", "type": {"name": "string"}},
                {"name": "secret", "type": {"name": "string"}, "modifiers": ["private"]},
                {"name": "copy", "type": {"name": "string"}}
            ]}],
            "commands": [{"name": "reveal", "entity": "Doc", "actions": [{"kind": "mutate",
                "target": "copy", "expression": member(ident("self"), "secret")}]}],
            "policies": [{"name": "ownerReads", "entity": "Doc", "action": "read", "expression": policy}]
        }))
        .unwrap()
    };
    let engine_as = |policy: Json, user: &str| {
        Engine::builder(ir(policy))
            .context(json!({"user": {"id": user}}))
            .build()
            .unwrap()
    };
    async fn seed(engine: &Engine) {
        for (id, owner) in [("d1", "ann"), ("d2", "bob"), ("d3", "ann")] {
            let doc = json!({"id": id, "owner": owner, "secret": format!("s-{id}")});
            engine.create_instance("Doc", data(doc)).await.unwrap();
        }
    }

    let ann = engine_as(owner_is_user.clone(), "ann");
    seed(&ann).await;
    let d1 = ann
        .get_instance("Doc", "d1")
        .await
        .unwrap()
        .expect("ann reads her doc");
    assert_eq!(
        Json::Object(d1),
        json!({"id": "d1", "owner": "ann", "copy": ""})
    );
    assert_eq!(
        ann.get_instance("Doc", "d2").await.unwrap(),
        None,
        "bob's doc is denied"
    );
    let ids: Vec<Json> = ann
        .get_all_instances("Doc")
        .await
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(ids, [json!("d1"), json!("d3")]);
    // Commands see the private value; the snapshot holds everything.
    let result = ann
        .run_command(
            "reveal",
            Map::new(),
            manifest_runtime::CommandOptions::on("Doc", "d2"),
        )
        .await
        .unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.result, Some(json!("s-d2")));
    let snapshot = ann.snapshot().await.unwrap();
    assert_eq!(snapshot["Doc"].len(), 3);
    assert_eq!(snapshot["Doc"][1]["secret"], json!("s-d2"));
    assert_eq!(snapshot["Doc"][1]["copy"], json!("s-d2"));

    // A policy that cannot be evaluated (`replace` with no search string throws, as in the
    // reference) denies.
    let broken = json!({"kind": "call", "callee": ident("replace"),
        "args": [member(ident("self"), "owner"), member(ident("self"), "missing"), {"kind": "literal", "value": {"kind": "string", "value": "y"}}]});
    let engine = engine_as(broken, "ann");
    seed(&engine).await;
    assert_eq!(engine.get_instance("Doc", "d1").await.unwrap(), None);
    assert!(engine.get_all_instances("Doc").await.unwrap().is_empty());
}

/// A rate limit's scope key: `user:<id>`, `tenant:<context.tenantId or the engine's tenant>`;
/// a scope without a value refuses with the key `unresolved`.
#[tokio::test]
async fn rate_limit_scopes() {
    let ir = |scope: &str| {
        Ir::from_json(json!({
            "version": "1.0",
            "commands": [{"name": "ping", "rateLimit": {"maxRequests": 1, "windowMs": 1000, "scope": scope}}]
        }))
        .unwrap()
    };
    let run = |scope: &str, context: Json, tenant: Option<&str>| {
        let mut builder = Engine::builder(ir(scope)).context(context).clock(|| 0.0);
        if let Some(tenant) = tenant {
            builder = builder.tenant(tenant);
        }
        let engine = builder.build().unwrap();
        async move {
            let on = manifest_runtime::CommandOptions::default();
            let first = engine
                .run_command("ping", Map::new(), on.clone())
                .await
                .unwrap();
            let second = engine.run_command("ping", Map::new(), on).await.unwrap();
            (first, second)
        }
    };
    let (first, second) = run("user", json!({"user": {"id": "u7"}}), None).await;
    assert!(first.success, "{first:?}");
    let denial = second.rate_limit_denial.unwrap();
    assert_eq!(
        (denial.scope_key.as_str(), denial.retry_after_ms.clone()),
        ("user:u7", json!(1000))
    );

    let (_, second) = run("tenant", json!({"tenantId": "acme"}), Some("ignored")).await;
    assert_eq!(second.rate_limit_denial.unwrap().scope_key, "tenant:acme");
    let (_, second) = run("tenant", json!({}), Some("globex")).await;
    assert_eq!(second.rate_limit_denial.unwrap().scope_key, "tenant:globex");

    for (scope, context) in [
        ("user", json!({"user": {"name": "no id"}})),
        ("tenant", json!({})),
    ] {
        let (first, _) = run(scope, context, None).await;
        assert_eq!(
            first.error.as_deref(),
            Some("Rate limit exceeded for scope unresolved")
        );
        assert_eq!(first.rate_limit_denial.unwrap().scope, scope);
    }
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

/// `_entity` is the runtime's: data naming it is refused with a typed error and nothing is
/// written, on the engine's memory store and on a provided store alike.
#[tokio::test]
async fn data_naming_the_reserved_field_is_refused() {
    let provided: Arc<dyn Store<EntityInstance>> = Arc::new(MemoryStore::<EntityInstance>::named(
        "Task",
        "t1".to_owned(),
    ));
    let with_provider = Engine::builder(ir("memory"))
        .store_provider(move |_: &str, _: &str| Some(provided.clone()))
        .build()
        .unwrap();
    for engine in [
        Engine::builder(ir("memory")).build().unwrap(),
        with_provider,
    ] {
        let bad = data(json!({"id": "a", "title": "x", "_entity": "Other"}));
        match engine.create_instance("Task", bad).await {
            Err(e @ RuntimeError::ReservedField { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "the data for `Task` names `_entity`, which the runtime reserves"
                );
            }
            other => panic!("expected ReservedField, got {other:?}"),
        }
        assert_eq!(
            engine.get_instance("Task", "a").await.unwrap(),
            None,
            "nothing written"
        );
        engine
            .create_instance("Task", data(json!({"id": "a", "title": "x"})))
            .await
            .unwrap();
        let bad = data(json!({"_entity": "Other"}));
        assert!(matches!(
            engine.update_instance("Task", "a", bad).await,
            Err(RuntimeError::ReservedField { .. })
        ));
        let stored = engine.get_instance("Task", "a").await.unwrap().unwrap();
        assert_eq!(
            Json::Object(stored),
            json!({"id": "a", "title": "x", "done": false})
        );
    }
}

/// A failed guard, policy or constraint reports the values of its literals, names and member
/// accesses. Expected values are what the reference (3.4.23) returns for the same cases
/// (`resolveExpressionValues`).
#[tokio::test]
async fn failures_report_resolved_values_as_the_reference_does() {
    async fn run(fixture: &str, case: usize) -> manifest_runtime::CommandResult {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/fixtures");
        let read =
            |ext: &str| std::fs::read_to_string(dir.join(format!("{fixture}.{ext}"))).unwrap();
        let ir = Ir::from_json_str(&read("ir.json")).unwrap();
        let cases: Json = serde_json::from_str(&read("results.json")).unwrap();
        let tc = &cases["testCases"][case];
        let engine = Engine::builder(ir)
            .context(tc.get("context").cloned().unwrap_or(json!({})))
            .build()
            .unwrap();
        let setup = &tc["setup"]["createInstance"];
        engine
            .create_instance(
                setup["entity"].as_str().unwrap(),
                data(setup["data"].clone()),
            )
            .await
            .unwrap();
        let cmd = &tc["command"];
        let on = manifest_runtime::CommandOptions::on(
            cmd["entityName"].as_str().unwrap(),
            cmd["instanceId"].as_str().unwrap(),
        );
        engine
            .run_command(
                cmd["name"].as_str().unwrap(),
                data(cmd["input"].clone()),
                on,
            )
            .await
            .unwrap()
    }
    let r = run("11-guard-ordering-diagnostics", 0).await;
    let guard = r.guard_failure.expect("a guard failure");
    assert_eq!(guard.index, 2);
    assert_eq!(
        json!(guard.resolved),
        json!([{"expression": "self.priority", "value": 1}, {"expression": "5", "value": 5}])
    );
    let r = run("06-policy-denial", 1).await;
    assert_eq!(
        json!(r.policy_denial.expect("a denial").resolved),
        json!([{"expression": "user.role", "value": "user"}, {"expression": "\"admin\"", "value": "admin"}])
    );
    let r = run("52-override-allowed", 1).await;
    assert_eq!(
        json!(r.constraint_outcomes[0].resolved),
        json!([{"expression": "self.amount", "value": 750}, {"expression": "500", "value": 500}])
    );
}

/// A declared event payload field (`emit E { f: expr }`) is evaluated before the command's
/// write: one that fails to evaluate fails the command and writes nothing.
#[tokio::test]
async fn a_payload_field_that_fails_writes_nothing() {
    let ir = Ir::from_json(json!({
        "version": "1.0",
        "entities": [{"name": "Task", "properties": [
            {"name": "done", "type": {"name": "boolean"}}
        ]}],
        "commands": [{"name": "finish", "entity": "Task",
            "actions": [{"kind": "mutate", "target": "done",
                "expression": {"kind": "literal", "value": {"kind": "boolean", "value": true}}}],
            "emits": ["Finished"],
            // `replace` with a non-string search value throws in the reference.
            "emitPayloads": [{"eventName": "Finished", "fields": [{"name": "bad", "expression":
                {"kind": "call", "callee": {"kind": "identifier", "name": "replace"}, "args": [
                    {"kind": "literal", "value": {"kind": "string", "value": "abc"}},
                    {"kind": "literal", "value": {"kind": "null"}},
                    {"kind": "literal", "value": {"kind": "string", "value": "y"}}]}}]}]
        }]
    }))
    .unwrap();
    let engine = Engine::builder(ir).build().unwrap();
    engine
        .create_instance("Task", data(json!({"id": "t1", "done": false})))
        .await
        .unwrap();
    let on = manifest_runtime::CommandOptions::on("Task", "t1");
    match engine.run_command("finish", Map::new(), on).await {
        Err(e @ RuntimeError::Eval { .. }) => {
            assert!(
                e.to_string()
                    .contains("payload field `bad` of event `Finished`"),
                "{e}"
            );
        }
        other => panic!("expected an Eval error, got {other:?}"),
    }
    let stored = engine.get_instance("Task", "t1").await.unwrap().unwrap();
    assert_eq!(stored["done"], json!(false), "nothing written");
}

/// The tenant is enforced end to end: a provided store bound to another tenant is refused when
/// the engine is built, and engines sharing one memory database see their own tenant's rows
/// only, by id, in lists, through relationships and in commands.
#[tokio::test]
async fn the_engine_is_bound_to_its_tenant() {
    let foreign: Arc<dyn Store<EntityInstance>> = Arc::new(MemoryStore::<EntityInstance>::named(
        "Task",
        "globex".to_owned(),
    ));
    match Engine::builder(ir("memory"))
        .tenant("acme")
        .store_provider(move |_: &str, tenant: &str| {
            assert_eq!(tenant, "acme", "the provider is told the engine's tenant");
            Some(foreign.clone())
        })
        .build()
    {
        Err(e @ RuntimeError::TenantMismatch { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("`Task`") && text.contains("`globex`") && text.contains("`acme`"),
                "{text}"
            );
        }
        other => panic!("expected TenantMismatch, got {other:?}"),
    }

    let memory = manifest_runtime::MemoryDb::new();
    let program: Arc<manifest_runtime::Program> = ir("memory").into();
    let engine_for = |tenant: &str| {
        Engine::builder(program.clone())
            .tenant(tenant)
            .database(memory.clone())
            .build()
            .unwrap()
    };
    let (acme, globex) = (engine_for("acme"), engine_for("globex"));
    acme.create_instance("Task", data(json!({"id": "shared", "title": "acme's"})))
        .await
        .unwrap();
    assert_eq!(globex.get_instance("Task", "shared").await.unwrap(), None);
    assert!(globex.get_all_instances("Task").await.unwrap().is_empty());
    globex
        .create_instance("Task", data(json!({"id": "shared", "title": "globex's"})))
        .await
        .unwrap();
    // A new engine of the same tenant over the same database sees the tenant's rows.
    let again = engine_for("acme");
    let row = again.get_instance("Task", "shared").await.unwrap().unwrap();
    assert_eq!(row["title"], json!("acme's"));
    assert!(again.delete_instance("Task", "shared").await.unwrap());
    let theirs = globex
        .get_instance("Task", "shared")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        theirs["title"],
        json!("globex's"),
        "another tenant's delete left it"
    );
}

// ── evaluation limits, deep input, memoised computed properties, `matches` ───────────

mod limits {
    use super::*;
    use manifest_runtime::eval::EvalError;
    use manifest_runtime::value::Value;
    use manifest_runtime::{CommandOptions, IrError, Limit, Limits};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn id(name: &str) -> Json {
        json!({"kind": "identifier", "name": name})
    }
    fn member(object: Json, property: &str) -> Json {
        json!({"kind": "member", "object": object, "property": property})
    }
    fn this(property: &str) -> Json {
        member(id("self"), property)
    }
    fn string(s: &str) -> Json {
        json!({"kind": "literal", "value": {"kind": "string", "value": s}})
    }
    fn call(name: &str, args: Vec<Json>) -> Json {
        json!({"kind": "call", "callee": id(name), "args": args})
    }
    fn binary(operator: &str, left: Json, right: Json) -> Json {
        json!({"kind": "binary", "operator": operator, "left": left, "right": right})
    }
    fn mutate(target: &str, expression: Json) -> Json {
        json!({"kind": "mutate", "target": target, "expression": expression})
    }

    /// An entity `Doc {a, b: string, n: number}` whose command `run` runs `actions`.
    fn doc_ir(actions: Vec<Json>) -> Ir {
        Ir::from_json(json!({
            "version": "1.0",
            "entities": [{
                "name": "Doc",
                "properties": [
                    {"name": "a", "type": {"name": "string"}},
                    {"name": "b", "type": {"name": "string"}},
                    {"name": "n", "type": {"name": "number"}}
                ],
                "commands": ["run"]
            }],
            "commands": [{
                "name": "run", "entity": "Doc",
                "parameters": [{"name": "s", "type": {"name": "string"}, "required": false}],
                "actions": actions
            }]
        }))
        .unwrap()
    }

    async fn doc_engine(actions: Vec<Json>, limits: Limits, a: &str, b: &str) -> Engine {
        let engine = Engine::builder(doc_ir(actions))
            .limits(limits)
            .build()
            .unwrap();
        engine
            .create_instance("Doc", data(json!({"id": "d", "a": a, "b": b, "n": 0})))
            .await
            .unwrap();
        engine
    }

    async fn run(engine: &Engine, input: Json) -> Result<Json, RuntimeError> {
        let result = engine
            .run_command("run", data(input), CommandOptions::on("Doc", "d"))
            .await?;
        assert!(result.success, "{result:?}");
        Ok(engine
            .get_instance("Doc", "d")
            .await
            .unwrap()
            .unwrap()
            .into())
    }

    fn limit_of(result: Result<Json, RuntimeError>) -> (Limit, u64, u64) {
        match result {
            Err(RuntimeError::LimitExceeded { exceeded, .. }) => {
                (exceeded.limit, exceeded.max, exceeded.actual)
            }
            other => panic!("expected LimitExceeded, got {other:?}"),
        }
    }

    /// `length(replace(a, "", b))` on two 100,000-character strings would need 10^10 bytes:
    /// the length is worked out first and refused, and nothing is written.
    #[tokio::test]
    async fn replace_is_checked_before_it_allocates() {
        let (a, b) = ("x".repeat(100_000), "y".repeat(100_000));
        // `n` is set from the original `a`, then `a` changes: neither may be written.
        let actions = vec![
            mutate(
                "n",
                call(
                    "length",
                    vec![call("replace", vec![this("a"), string(""), this("b")])],
                ),
            ),
            mutate("a", string("changed")),
        ];
        let engine = doc_engine(actions, Limits::default(), &a, &b).await;
        let (limit, max, actual) = limit_of(run(&engine, json!({})).await);
        assert_eq!(limit, Limit::StringBytes);
        assert_eq!(max, 16 << 20);
        assert_eq!(actual, 100_001 * 100_000 + 100_000);
        let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
        assert_eq!(stored["n"], json!(0));
        assert_eq!(stored["a"], json!(a), "nothing written");
        // Within the limit, the same command runs.
        let engine = doc_engine(
            vec![mutate(
                "n",
                call(
                    "length",
                    vec![call("replace", vec![this("a"), string(""), this("b")])],
                ),
            )],
            Limits::default(),
            "xyz",
            "--",
        )
        .await;
        assert_eq!(run(&engine, json!({})).await.unwrap()["n"], json!(11));
    }

    /// 40 doublings of a 1 KB string (`a = a + a`) stop at the limit, writing nothing.
    #[tokio::test]
    async fn doubling_stops_at_the_string_limit() {
        let doubling = mutate("a", binary("+", this("a"), this("a")));
        let engine = doc_engine(vec![doubling; 40], Limits::default(), &"x".repeat(1024), "").await;
        let (limit, _, actual) = limit_of(run(&engine, json!({})).await);
        assert_eq!(limit, Limit::StringBytes);
        assert_eq!(actual, 1024 << 15);
        let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
        assert_eq!(stored["a"].as_str().unwrap().len(), 1024, "nothing written");
        // A lower limit is the engine's to set.
        let small = Limits::default().with_max_string_bytes(4096);
        let doubling = mutate("a", binary("+", this("a"), this("a")));
        let engine = doc_engine(vec![doubling; 3], small, &"x".repeat(1024), "").await;
        assert_eq!(limit_of(run(&engine, json!({})).await).2, 8192);
    }

    /// The step budget counts nodes and array elements; `split` is checked against the
    /// array limit before it builds its parts.
    #[tokio::test]
    async fn steps_and_array_length() {
        // count_of(split(s, ","), (x) => x == "a"): about 4 steps an element.
        let lambda =
            json!({"kind": "lambda", "params": ["x"], "body": binary("==", id("x"), string("a"))});
        let counting = vec![mutate(
            "n",
            call(
                "count_of",
                vec![call("split", vec![id("s"), string(",")]), lambda],
            ),
        )];
        let input = json!({"s": vec!["a"; 1000].join(",")});
        let engine = doc_engine(counting.clone(), Limits::default(), "", "").await;
        assert_eq!(run(&engine, input.clone()).await.unwrap()["n"], json!(1000));
        let few = Limits::default().with_max_steps(500);
        let engine = doc_engine(counting.clone(), few, "", "").await;
        let (limit, max, _) = limit_of(run(&engine, input.clone()).await);
        assert_eq!((limit, max), (Limit::Steps, 500));
        assert_eq!(
            engine.get_instance("Doc", "d").await.unwrap().unwrap()["n"],
            json!(0)
        );
        let short = Limits::default().with_max_array_len(999);
        let engine = doc_engine(counting, short, "", "").await;
        assert_eq!(
            limit_of(run(&engine, input).await),
            (Limit::ArrayLength, 999, 1000)
        );
    }

    /// Nested `n` levels deep around `inner`, without recursion.
    fn nest(n: usize, inner: Json, wrap: impl Fn(Json) -> Json) -> Json {
        (0..n).fold(inner, |acc, _| wrap(acc))
    }

    fn command_ir(expression: Json) -> Json {
        let mut ir = json!({
            "version": "1.0",
            "entities": [{"name": "Doc", "properties": [{"name": "n", "type": {"name": "number"}}]}],
            "commands": [{"name": "run", "entity": "Doc", "actions": []}]
        });
        // Built by hand: `json!` copies a value it is given recursively.
        let mut action = Map::new();
        action.insert("kind".into(), json!("mutate"));
        action.insert("target".into(), json!("n"));
        action.insert("expression".into(), expression);
        ir["commands"][0]["actions"] = Json::Array(vec![Json::Object(action)]);
        ir
    }

    fn not(operand: Json) -> Json {
        let mut e = Map::new();
        e.insert("kind".into(), json!("unary"));
        e.insert("operator".into(), json!("not"));
        e.insert("operand".into(), operand);
        Json::Object(e)
    }

    fn array(element: Json) -> Json {
        let mut e = Map::new();
        e.insert("kind".into(), json!("array"));
        e.insert("elements".into(), Json::Array(vec![element]));
        Json::Object(e)
    }

    /// IR nested past 128 JSON levels (1,100 array literals, 1,900 `not`s, 100,000 `not`s)
    /// is `IrError::TooDeep`, from a JSON value and from JSON text, on a test thread's
    /// stack; IR within the limit loads and runs.
    #[tokio::test]
    async fn deep_ir_is_refused_up_front() {
        let t = json!({"kind": "literal", "value": {"kind": "boolean", "value": true}});
        for deep in [
            nest(1_100, t.clone(), array),
            nest(1_900, t.clone(), not),
            nest(100_000, t.clone(), not),
        ] {
            match Ir::from_json(command_ir(deep)) {
                Err(IrError::TooDeep { path, limit }) => {
                    assert_eq!(limit, 128);
                    assert!(
                        path.starts_with("commands[0].actions[0].expression."),
                        "{path}"
                    );
                }
                other => panic!("expected TooDeep, got {other:?}"),
            }
        }
        // The same as text: serde_json's own limit, reported the same way.
        let text = format!(
            r#"{{"version": "1.0", "entities": [], "commands": [{{"name": "run", "actions": [{{"kind": "mutate", "target": "n", "expression": {}{}{}}}]}}]}}"#,
            r#"{"kind": "unary", "operator": "not", "operand": "#.repeat(1_900),
            t,
            "}".repeat(1_900)
        );
        assert!(matches!(
            Ir::from_json_str(&text),
            Err(IrError::TooDeep { limit: 128, .. })
        ));
        // 120 `not`s of true (JSON depth 127) load, run and evaluate to true.
        let ir = Ir::from_json(command_ir(nest(120, t.clone(), not))).unwrap();
        let engine = Engine::builder(ir).build().unwrap();
        engine
            .create_instance("Doc", data(json!({"id": "d", "n": 0})))
            .await
            .unwrap();
        let result = engine
            .run_command("run", Map::new(), CommandOptions::on("Doc", "d"))
            .await
            .unwrap();
        assert!(result.success, "{result:?}");
        let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
        assert_eq!(stored["n"], json!(true));
        assert!(Ir::from_json(command_ir(nest(125, t, not))).is_err());
    }

    /// Input nested deeper than 128 levels ends `run_command`, `create_instance` and
    /// `update_instance` with `LimitExceeded` before it is converted (which would overflow
    /// the stack); 128 levels are accepted.
    #[tokio::test]
    async fn deep_input_is_refused_up_front() {
        let engine = doc_engine(vec![], Limits::default(), "", "").await;
        let deep = || {
            let mut m = Map::new();
            m.insert("s".into(), nest(3_900, json!(0), |j| Json::Array(vec![j])));
            m
        };
        let depth = |r: Result<(), RuntimeError>| match r {
            Err(RuntimeError::LimitExceeded { exceeded, .. }) => {
                assert_eq!((exceeded.limit, exceeded.max), (Limit::InputDepth, 128));
                exceeded.actual
            }
            other => panic!("expected LimitExceeded, got {other:?}"),
        };
        let ran = engine
            .run_command("run", deep(), CommandOptions::on("Doc", "d"))
            .await;
        assert!(depth(ran.map(drop)) > 128);
        let mut create = deep();
        create.insert("id".into(), json!("e"));
        assert!(depth(engine.create_instance("Doc", create).await.map(drop)) > 128);
        assert!(depth(engine.update_instance("Doc", "d", deep()).await.map(drop)) > 128);
        assert!(engine.get_instance("Doc", "e").await.unwrap().is_none());
        // The map is level 1: a value of 127 nested arrays is 128 levels, and fits.
        let mut fits = Map::new();
        fits.insert("id".into(), json!("f"));
        fits.insert("a".into(), nest(127, json!(0), |j| Json::Array(vec![j])));
        engine.create_instance("Doc", fits.clone()).await.unwrap();
        fits.insert("id".into(), json!("g"));
        fits.insert("a".into(), nest(128, json!(0), |j| Json::Array(vec![j])));
        let refused = engine.create_instance("Doc", fits).await.map(drop);
        assert_eq!(depth(refused), 129);
    }

    /// `c_i = c_{i-1} + c_{i-2}`: each computed property is evaluated once per evaluation
    /// (counted through `now()`, which every expression calls once), so 60 of them take 60
    /// evaluations, not 10^12.
    #[tokio::test]
    async fn computed_properties_are_evaluated_once() {
        async fn chain(n: usize) -> (Value, usize) {
            let plus_now_times_zero = |e: Json| {
                binary(
                    "+",
                    e,
                    binary(
                        "*",
                        call("now", vec![]),
                        json!({"kind": "literal", "value": {"kind": "number", "value": 0}}),
                    ),
                )
            };
            let one = json!({"kind": "literal", "value": {"kind": "number", "value": 1}});
            let mut properties = Vec::new();
            for i in 0..n {
                let (expression, deps) = if i < 2 {
                    (plus_now_times_zero(one.clone()), vec![])
                } else {
                    let (a, b) = (format!("c{}", i - 1), format!("c{}", i - 2));
                    (plus_now_times_zero(binary("+", id(&a), id(&b))), vec![a, b])
                };
                properties.push(json!({"name": format!("c{i}"), "type": {"name": "number"}, "expression": expression, "dependencies": deps}));
            }
            let ir = Ir::from_json(json!({
                "version": "1.0",
                "entities": [{"name": "Doc", "properties": [], "computedProperties": properties}]
            }))
            .unwrap();
            let calls = Arc::new(AtomicUsize::new(0));
            let counted = calls.clone();
            let engine = Engine::builder(ir)
                .clock(move || {
                    counted.fetch_add(1, Ordering::Relaxed);
                    0.0
                })
                .build()
                .unwrap();
            engine
                .create_instance("Doc", data(json!({"id": "d"})))
                .await
                .unwrap();
            let value = engine
                .evaluate_computed("Doc", "d", &format!("c{}", n - 1))
                .await
                .unwrap();
            (value, calls.load(Ordering::Relaxed))
        }
        assert_eq!(chain(25).await, (Value::Number(75_025.0), 25));
        assert_eq!(chain(60).await, (Value::Number(1_548_008_755_920.0), 60));
    }

    /// A `matches` pattern JavaScript accepts but the regex engine cannot compile is an
    /// error naming it, and the command writes nothing; a pattern JavaScript rejects is
    /// `false`, as in the reference.
    #[tokio::test]
    async fn matches_with_a_pattern_too_large_is_an_error() {
        let matching = |pattern: &str| {
            vec![
                mutate("b", string("changed")),
                mutate("n", call("matches", vec![this("a"), string(pattern)])),
            ]
        };
        let big = "^(?:a{1000}){1000}$";
        let engine = doc_engine(matching(big), Limits::default(), &"a".repeat(1_000_000), "").await;
        match run(&engine, json!({})).await {
            Err(RuntimeError::Eval {
                source: EvalError::PatternTooLarge { pattern, .. },
                ..
            }) => assert_eq!(pattern, big),
            other => panic!("expected PatternTooLarge, got {other:?}"),
        }
        let stored = engine.get_instance("Doc", "d").await.unwrap().unwrap();
        assert_eq!(
            (stored["b"].clone(), stored["n"].clone()),
            (json!(""), json!(0))
        );
        let engine = doc_engine(matching("("), Limits::default(), "(", "").await;
        assert_eq!(run(&engine, json!({})).await.unwrap()["n"], json!(false));
    }
}

/// `create_instance` and `update_instance` say what refused a write, and write nothing then.
#[tokio::test]
async fn writes_are_refused_with_the_rule_that_refused_them() {
    let ir = Ir::from_json(json!({
        "version": "1.0",
        "entities": [{"name": "Item",
            "properties": [
                {"name": "name", "type": {"name": "string"}, "modifiers": ["required"]},
                {"name": "sku", "type": {"name": "string"}, "modifiers": ["readonly"]},
                {"name": "price", "type": {"name": "number"}}
            ],
            "constraints": [{"name": "pricePositive", "code": "pricePositive", "severity": "block",
                "message": "Price must be positive",
                "expression": {"kind": "binary", "operator": ">",
                    "left": {"kind": "member", "object": {"kind": "identifier", "name": "self"}, "property": "price"},
                    "right": {"kind": "literal", "value": {"kind": "number", "value": 0}}}}]
        }]
    }))
    .unwrap();
    let engine = Engine::builder(ir).build().unwrap();
    match engine
        .create_instance("Item", data(json!({"id": "i", "price": 5})))
        .await
    {
        Err(RuntimeError::MissingRequired { entity, property }) => {
            assert_eq!((entity.as_str(), property.as_str()), ("Item", "name"));
        }
        other => panic!("expected MissingRequired, got {other:?}"),
    }
    match engine
        .create_instance("Item", data(json!({"id": "i", "name": "n", "price": 0})))
        .await
    {
        Err(e @ RuntimeError::ConstraintsFailed { .. }) => {
            assert!(e.to_string().contains("constraint `pricePositive`"), "{e}");
        }
        other => panic!("expected ConstraintsFailed, got {other:?}"),
    }
    assert_eq!(engine.get_instance("Item", "i").await.unwrap(), None);
    let item = data(json!({"id": "i", "name": "n", "sku": "A", "price": 5}));
    engine.create_instance("Item", item).await.unwrap();
    match engine
        .update_instance("Item", "nope", data(json!({"price": 6})))
        .await
    {
        Err(RuntimeError::NotFound { entity, id }) => {
            assert_eq!((entity.as_str(), id.as_str()), ("Item", "nope"))
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    match engine
        .update_instance("Item", "i", data(json!({"price": -1})))
        .await
    {
        Err(RuntimeError::ConstraintsFailed { id, failed, .. }) => {
            assert_eq!(id.as_deref(), Some("i"));
            assert_eq!(failed[0].constraint_name, "pricePositive");
        }
        other => panic!("expected ConstraintsFailed, got {other:?}"),
    }
    match engine
        .update_instance("Item", "i", data(json!({"sku": "B"})))
        .await
    {
        Err(RuntimeError::Refused { message, .. }) => {
            assert!(message.starts_with("E_READONLY"), "{message}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    let stored = engine.get_instance("Item", "i").await.unwrap().unwrap();
    assert_eq!(
        (stored["price"].clone(), stored["sku"].clone()),
        (json!(5), json!("A")),
        "nothing written"
    );
    let updated = engine
        .update_instance("Item", "i", data(json!({"price": 7})))
        .await
        .unwrap();
    assert_eq!(updated.get("price"), Some(json!(7)));
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
