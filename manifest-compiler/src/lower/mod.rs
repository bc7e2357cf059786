//! Syntax tree to the typed IR ([`manifest_ir::Ir`]), in upstream's shape, with the
//! semantic diagnostics upstream raises while lowering, in upstream's order.

mod command;
mod entity;
pub(crate) mod expr;
mod extras;
pub(crate) mod init_plan;

use crate::ast::{Decls, Entity, Program};
use crate::checks;
use crate::diagnostic::Diagnostic;
use manifest_ir::{Ir, IrEntity, IrStore};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Map, Value, json};

/// An IR object from `key => value` pairs, each value moved in with
/// `Value::from` (`json!` serializes, that is deep-copies, every value it is given).
macro_rules! obj {
    ($($key:literal => $value:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $(m.insert(String::from($key), serde_json::Value::from($value));)*
        serde_json::Value::Object(m)
    }};
}
pub(crate) use obj;

pub(crate) struct Lowerer {
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) declared_events: HashSet<String>,
    pub(crate) entity_props: HashMap<String, HashSet<String>>,
}

impl Lowerer {
    pub(crate) fn diag(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }
}

/// Puts `value` under `key` when there is one.
pub(crate) fn put(m: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        m.insert(key.to_string(), v);
    }
}

fn all_entities(program: &Program) -> Vec<(&Entity, Option<&str>)> {
    let mut out: Vec<(&Entity, Option<&str>)> =
        program.top.entities.iter().map(|e| (e, None)).collect();
    for m in &program.modules {
        out.extend(m.decls.entities.iter().map(|e| (e, Some(m.name.as_str()))));
    }
    out
}

/// Lowers a parsed program; `provenance` is stamped in by the caller.
pub(crate) fn lower(program: &mut Program, diagnostics: &mut Vec<Diagnostic>) -> Ir {
    checks::compose::expand_generics(program, diagnostics);
    checks::compose::expand_composition(program, diagnostics);
    for (kind, list) in [
        ("Flow", &program.flows),
        ("Effect", &program.effects),
        ("Expose of entity", &program.exposures),
        ("Composition", &program.compositions),
    ] {
        for item in list {
            diagnostics.push(Diagnostic::warning(format!(
                "{kind} '{}' is parsed but not yet lowered to IR; it has no effect at runtime.",
                item.name
            )));
        }
    }
    for (e, module) in all_entities(program) {
        checks::semantic::computed_refs(e, module, diagnostics);
    }

    let mut lw = Lowerer {
        diagnostics: std::mem::take(diagnostics),
        declared_events: HashSet::default(),
        entity_props: HashMap::default(),
    };
    let program = &*program;
    let modules: Vec<Value> = program
        .modules
        .iter()
        .map(|m| module_value(&m.name, &m.decls))
        .collect();
    let values: Vec<Value> = program
        .values
        .iter()
        .map(|v| {
            let props: Vec<Value> = v
                .properties
                .iter()
                .map(|p| expr::json(&lw.property(p)))
                .collect();
            obj! {"name" => v.name.as_str(), "properties" => props}
        })
        .collect();
    let entities: Vec<IrEntity> = all_entities(program)
        .into_iter()
        .map(|(e, m)| lw.entity(e, m))
        .collect();
    lw.validate_through(&entities);

    let mut enums = Vec::new();
    let mut stores = Vec::new();
    let mut events = Vec::new();
    let scopes: Vec<(&Decls, Option<&str>)> = std::iter::once((&program.top, None))
        .chain(
            program
                .modules
                .iter()
                .map(|m| (&m.decls, Some(m.name.as_str()))),
        )
        .collect();
    for (d, module) in &scopes {
        enums.extend(d.enums.iter().map(|e| extras::enum_value(e, *module)));
    }
    for (d, _) in &scopes {
        stores.extend(d.stores.iter().map(|s| lw.store(s)));
    }
    for (e, _) in all_entities(program) {
        if let Some(target) = &e.store {
            let target = if target == "filesystem" {
                "localStorage"
            } else {
                target
            };
            stores.push(IrStore {
                config: json!({}),
                entity: e.name.clone(),
                target: target.to_string(),
            });
        }
    }
    for (d, _) in &scopes {
        events.extend(d.events.iter().map(extras::event_value));
    }
    lw.declared_events = events.iter().map(|e| e.name.clone()).collect();
    for (e, _) in all_entities(program) {
        lw.entity_props.insert(
            e.name.clone(),
            e.properties.iter().map(|p| p.name.clone()).collect(),
        );
    }

    let mut commands = Vec::new();
    for (d, module) in &scopes {
        for c in &d.commands {
            commands.push(lw.command(c, *module, None, &[]));
        }
    }
    for (e, module) in all_entities(program) {
        let defaults: Vec<String> = e
            .policies
            .iter()
            .filter(|p| p.is_default)
            .map(|p| p.name.clone())
            .collect();
        for c in &e.commands {
            commands.push(lw.command(c, module, Some(&e.name), &defaults));
        }
    }
    lw.synthesize_async_events(&commands, &mut events);
    checks::semantic::command_intents(program, &mut lw.diagnostics);

    let mut policies = Vec::new();
    for (d, module) in &scopes {
        policies.extend(d.policies.iter().map(|p| lw.policy(p, *module, None)));
    }
    for (e, module) in all_entities(program) {
        for p in &e.policies {
            policies.push(lw.policy(p, module, Some(&e.name)));
        }
    }
    let mut reactions = Vec::new();
    for (d, module) in &scopes {
        reactions.extend(d.reactions.iter().map(|r| lw.reaction(r, *module, None)));
    }
    for (e, module) in all_entities(program) {
        for r in &e.reactions {
            reactions.push(lw.reaction(r, module, Some(&e.name)));
        }
    }
    let mut sagas = Vec::new();
    for (d, module) in &scopes {
        sagas.extend(d.sagas.iter().map(|s| extras::saga_value(s, *module)));
    }
    let mut roles = Vec::new();
    for (d, module) in &scopes {
        roles.extend(d.roles.iter().map(|r| (r, *module)));
    }
    let roles = lw.resolve_roles(&roles);
    let mut webhooks = Vec::new();
    for (d, module) in &scopes {
        webhooks.extend(d.webhooks.iter().map(|w| lw.webhook(w, *module)));
    }
    let mut schedules = Vec::new();
    for (d, _) in &scopes {
        schedules.extend(d.schedules.iter().map(|s| lw.schedule(s)));
    }
    let tenant = program.tenant.as_ref().map(|t| {
        obj! {"property" => t.property.as_str(), "type" => expr::json(&expr::type_value(&t.ty)), "contextPath" => t.context_path.as_str()}
    });

    init_plan::attach(&entities, &mut commands, tenant.as_ref());
    checks::semantic::required_fields_on_create(
        &entities,
        &commands,
        tenant.as_ref(),
        &mut lw.diagnostics,
    );
    checks::semantic::duplicate_events(&events, &mut lw.diagnostics);
    checks::domain::check(
        &entities,
        &commands,
        &stores,
        &reactions,
        tenant.as_ref(),
        &mut lw.diagnostics,
    );
    checks::reactions::check(
        &entities,
        &commands,
        &reactions,
        &events,
        &mut lw.diagnostics,
    );
    let ir = Ir {
        commands,
        entities,
        enums,
        events,
        modules,
        policies,
        provenance: None,
        reactions,
        roles,
        sagas,
        schedules,
        stores,
        tenant,
        values,
        version: manifest_ir::IR_VERSION.into(),
        webhooks,
    };
    *diagnostics = lw.diagnostics;
    ir
}

fn module_value(name: &str, d: &Decls) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert(
        "entities".into(),
        json!(d.entities.iter().map(|e| &e.name).collect::<Vec<_>>()),
    );
    m.insert(
        "enums".into(),
        json!(d.enums.iter().map(|e| &e.name).collect::<Vec<_>>()),
    );
    let commands: Vec<&String> = d
        .commands
        .iter()
        .map(|c| &c.name)
        .chain(
            d.entities
                .iter()
                .flat_map(|e| e.commands.iter().map(|c| &c.name)),
        )
        .collect();
    m.insert("commands".into(), json!(commands));
    m.insert(
        "stores".into(),
        json!(d.stores.iter().map(|s| &s.entity).collect::<Vec<_>>()),
    );
    m.insert(
        "events".into(),
        json!(d.events.iter().map(|e| &e.name).collect::<Vec<_>>()),
    );
    let policies: Vec<&String> = d
        .policies
        .iter()
        .map(|p| &p.name)
        .chain(
            d.entities
                .iter()
                .flat_map(|e| e.policies.iter().map(|p| &p.name)),
        )
        .collect();
    m.insert("policies".into(), json!(policies));
    if !d.reactions.is_empty() {
        let r: Vec<String> = d
            .reactions
            .iter()
            .map(|r| format!("{}→{}.{}", r.event, r.target_entity, r.target_command))
            .collect();
        m.insert("reactions".into(), json!(r));
    }
    let names = |v: Vec<&String>| json!(v);
    if !d.sagas.is_empty() {
        m.insert(
            "sagas".into(),
            names(d.sagas.iter().map(|s| &s.name).collect()),
        );
    }
    if !d.roles.is_empty() {
        m.insert(
            "roles".into(),
            names(d.roles.iter().map(|s| &s.name).collect()),
        );
    }
    if !d.schedules.is_empty() {
        m.insert(
            "schedules".into(),
            names(d.schedules.iter().map(|s| &s.name).collect()),
        );
    }
    if !d.webhooks.is_empty() {
        m.insert(
            "webhooks".into(),
            names(d.webhooks.iter().map(|s| &s.name).collect()),
        );
    }
    Value::Object(m)
}
