//! Program-wide semantic checks: computed properties read by guards and
//! constraints, duplicate command intents, duplicate events, and creates
//! that cannot fill a required field.

use crate::ast::{Entity, Expr, ExprKind, Program};
use crate::diagnostic::Diagnostic;
use manifest_ir::{IrCommand, IrEntity, IrEvent};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::Value;

/// The first computed property `e` reads (bare, or as `self.x` / `this.x`).
fn computed_ref<'a>(e: &'a Expr, computed: &HashSet<&str>) -> Option<&'a str> {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Identifier(n) if computed.contains(n.as_str()) => return Some(n),
            ExprKind::Member { object, property } => {
                if e.self_member().is_some() && computed.contains(property.as_str()) {
                    return Some(property);
                }
                stack.push(object);
            }
            ExprKind::Count { .. } | ExprKind::Sum { .. } => {}
            _ => stack.extend(e.children().into_iter().rev()),
        }
    }
    None
}

pub(crate) fn computed_refs(entity: &Entity, module: Option<&str>, diags: &mut Vec<Diagnostic>) {
    let computed: HashSet<&str> = entity.computed.iter().map(|c| c.name.as_str()).collect();
    if computed.is_empty() {
        return;
    }
    let q = match module {
        Some(m) => format!("{m}.{}", entity.name),
        None => entity.name.clone(),
    };
    for cmd in &entity.commands {
        for g in &cmd.guards {
            if let Some(r) = computed_ref(g, &computed) {
                diags.push(Diagnostic::error(format!("Guard on command '{q}.{}' references computed property '{r}', which is not available during guard evaluation. Inline the formula or use a stored property.", cmd.name)));
            }
        }
        for c in &cmd.constraints {
            if let Some(r) = c.expr.as_ref().and_then(|e| computed_ref(e, &computed)) {
                diags.push(Diagnostic::error(format!("Constraint '{}' on command '{q}.{}' references computed property '{r}', which is not available during constraint evaluation. Inline the formula or use a stored property.", c.name, cmd.name)));
            }
        }
    }
    for c in &entity.constraints {
        if let Some(r) = c.expr.as_ref().and_then(|e| computed_ref(e, &computed)) {
            diags.push(Diagnostic::error(format!("Constraint '{}' on entity '{q}' references computed property '{r}', which is not available during constraint evaluation. Inline the formula or use a stored property.", c.name)));
        }
    }
}

const INTENT_VERBS: &[(&str, &str)] = &[
    ("deactivate", "delete"),
    ("archive", "delete"),
    ("create", "create"),
    ("update", "update"),
    ("delete", "delete"),
    ("modify", "update"),
    ("remove", "delete"),
    ("edit", "update"),
    ("add", "create"),
    ("new", "create"),
];

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn intent(command: &str, entity: Option<&str>) -> String {
    let token = entity.map(normalize).unwrap_or_default();
    let mut n = normalize(command);
    if !token.is_empty() {
        let mut changed = true;
        while changed && n.len() > token.len() {
            changed = false;
            if n.starts_with(&token) {
                n = n[token.len()..].to_string();
                changed = true;
            }
            if n.ends_with(&token) && n.len() > token.len() {
                n = n[..n.len() - token.len()].to_string();
                changed = true;
            }
        }
    }
    for (verb, canonical) in INTENT_VERBS {
        if let Some(rest) = n.strip_prefix(verb) {
            return format!("{canonical}:{rest}");
        }
    }
    format!("custom:{n}")
}

/// A command's (entity, name).
type Entry<'a> = (Option<&'a str>, &'a str);

pub(crate) fn command_intents(program: &Program, diags: &mut Vec<Diagnostic>) {
    let mut entries: Vec<Entry> = Vec::new();
    entries.extend(program.top.commands.iter().map(|c| (None, c.name.as_str())));
    for m in &program.modules {
        entries.extend(m.decls.commands.iter().map(|c| (None, c.name.as_str())));
    }
    for e in &program.top.entities {
        entries.extend(
            e.commands
                .iter()
                .map(|c| (Some(e.name.as_str()), c.name.as_str())),
        );
    }
    for m in &program.modules {
        for e in &m.decls.entities {
            entries.extend(
                e.commands
                    .iter()
                    .map(|c| (Some(e.name.as_str()), c.name.as_str())),
            );
        }
    }
    let display = |(e, c): Entry| match e {
        Some(e) => format!("{e}.{c}"),
        None => c.to_string(),
    };
    let mut exact: HashMap<Entry, Entry> = HashMap::default();
    let mut canonical: HashMap<(Option<&str>, String), Entry> = HashMap::default();
    for entry in entries {
        let existing = exact.get(&entry).copied().or_else(|| {
            exact.insert(entry, entry);
            let key = (entry.0, intent(entry.1, entry.0));
            let found = canonical.get(&key).copied();
            if found.is_none() {
                canonical.insert(key, entry);
            }
            found
        });
        if let Some(existing) = existing {
            diags.push(Diagnostic::error(format!(
                "Duplicate command intent for {} conflicts with existing command {}; use or extend the existing command.",
                display(entry),
                display(existing)
            )));
        }
    }
}

const ZERO_FILLABLE: &[&str] = &["string", "number", "boolean", "list", "array", "map"];

pub(crate) fn required_fields_on_create(
    entities: &[IrEntity],
    commands: &[IrCommand],
    tenant: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut planned: HashMap<&str, Vec<&IrCommand>> = HashMap::default();
    for c in commands.iter().filter(|c| c.initialization.is_some()) {
        if let Some(e) = c.entity.as_deref() {
            planned.entry(e).or_default().push(c);
        }
    }
    for entity in entities {
        let inits: Vec<&IrCommand> = planned
            .get(entity.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|c| c.module == entity.module)
            .collect();
        if inits.is_empty() {
            continue;
        }
        let mut auto: HashSet<&str> = HashSet::from_iter(["id"]);
        if let Some(p) = tenant.and_then(|t| t["property"].as_str()) {
            auto.insert(p);
        }
        auto.extend(entity.version_property.as_deref());
        auto.extend(entity.version_at_property.as_deref());
        if entity.timestamps {
            auto.extend(["createdAt", "updatedAt"]);
        }
        auto.extend(entity.key.iter().flatten().map(String::as_str));
        for r in &entity.relationships {
            auto.extend(
                r.foreign_key
                    .iter()
                    .flat_map(|fk| fk.fields.iter().map(String::as_str)),
            );
        }
        let name = entity.name.as_str();
        let q = match &entity.module {
            Some(m) => format!("{m}.{name}"),
            None => name.to_string(),
        };
        for cmd in inits {
            let Some(plan) = &cmd.initialization else {
                continue;
            };
            let has = |list: &[String], n: &str| list.iter().any(|x| x == n);
            for p in &entity.properties {
                let pn = p.name.as_str();
                let ty = p.ty.name.as_str();
                if p.ty.nullable
                    || ZERO_FILLABLE.contains(&ty)
                    || p.default_value.is_some()
                    || p.auto_now
                    || auto.contains(pn)
                    || has(&plan.command_owned_fields, pn)
                    || has(&plan.initialization_inputs, pn)
                {
                    continue;
                }
                diags.push(Diagnostic::warning(format!(
                    "Initialization command '{q}.{}' cannot construct a complete '{name}': non-null field '{pn}' (type '{ty}') has no default, ownership source, initialization input, or command mutation. Add 'mutate {pn} = ...', give '{pn}' a default, accept it as a command parameter, or make it optional ('{pn}: {ty}?').",
                    cmd.name
                )));
            }
        }
    }
}

pub(crate) fn duplicate_events(events: &[IrEvent], diags: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::default();
    for e in events {
        let n = e.name.as_str();
        if !seen.insert(n) {
            diags.push(Diagnostic::warning(format!("Duplicate event name '{n}': declared more than once, so one declaration shadows the other in the event registry. Rename one.")));
        }
    }
}
