//! Engine construction: which store each entity gets, tenant and context rules, and
//! typed stores bound through the provider.

use std::sync::Arc;

use manifest_core::{EntityInstance, MemoryStore, Store};
use manifest_runtime::{Engine, Ir, RuntimeError};
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
    let program: Arc<manifest_runtime::Program> =
        Arc::new(manifest_runtime::Program::new(ir("memory")));
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
