//! Domain completeness (upstream's product-wiring checks) over the lowered IR:
//! unreachable or unused entities, create parameters the runtime supplies,
//! and foreign keys with no relationship behind them.

use crate::diagnostic::Diagnostic;
use manifest_ir::{ActionKind, IrCommand, IrEntity, IrReaction, IrRelationship, IrStore, IrType};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::Value;

const CONTEXT_INJECTED: &[&str] = &[
    "tenantId",
    "orgId",
    "organizationId",
    "userId",
    "createdById",
    "updatedById",
    "actorId",
    "requestId",
    "correlationId",
    "causationId",
];
const GLOBAL_FK: &[&str] = &[
    "tenantId",
    "orgId",
    "organizationId",
    "userId",
    "ownerId",
    "createdById",
    "updatedById",
    "requestId",
    "correlationId",
    "causationId",
];
const PARENT_EXCLUDED: &[&str] = &[
    "id",
    "tenantId",
    "status",
    "createdAt",
    "updatedAt",
    "deletedAt",
    "name",
    "title",
    "notes",
    "description",
    "tags",
    "type",
    "version",
];

fn qualify(e: &IrEntity) -> String {
    match &e.module {
        Some(m) => format!("{m}.{}", e.name),
        None => e.name.clone(),
    }
}

fn camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Entity names by their camelCase form (the first declared wins).
type Stems<'a> = HashMap<String, &'a str>;

fn entity_for_fk(field: &str, stems: &Stems) -> Option<String> {
    if !field.ends_with("Id") || field.len() <= 2 || GLOBAL_FK.contains(&field) {
        return None;
    }
    stems.get(&field[..field.len() - 2]).map(|n| n.to_string())
}

fn fk_fields(r: &IrRelationship) -> Vec<String> {
    match &r.foreign_key {
        Some(fk) => fk.fields.clone(),
        None => vec![format!("{}Id", r.name)],
    }
}

fn is_ref(r: &IrRelationship) -> bool {
    r.kind == "belongsTo" || r.kind == "ref"
}

fn scalar(t: &IrType) -> Option<&str> {
    let n = t.name.as_str();
    (n != "array" && n != "list").then_some(n)
}

fn collect_fk_fields(e: &IrEntity, create: Option<&IrCommand>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::default();
    let mut add = |n: &str| {
        if seen.insert(n.to_string()) {
            out.push(n.to_string());
        }
    };
    for p in &e.properties {
        let n = p.name.as_str();
        if n.ends_with("Id") && n != "id" {
            add(n);
        }
    }
    if let Some(c) = create {
        for p in &c.parameters {
            if p.required && p.name.ends_with("Id") {
                add(&p.name);
            }
        }
    }
    out
}

/// Entities outside modules, by name.
type TopLevel<'a> = HashMap<&'a str, &'a IrEntity>;

pub(crate) fn check(
    entities: &[IrEntity],
    commands: &[IrCommand],
    stores: &[IrStore],
    reactions: &[IrReaction],
    tenant: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut names: Stems = HashMap::default();
    for e in entities {
        names.entry(camel(&e.name)).or_insert(e.name.as_str());
    }
    // Top-level entities by name, the first declaration of a name (as `find` would).
    let mut top: TopLevel = HashMap::default();
    for e in entities.iter().filter(|e| e.module.is_none()) {
        top.entry(e.name.as_str()).or_insert(e);
    }
    let stored: HashSet<&str> = stores.iter().map(|st| st.entity.as_str()).collect();
    let targeted: HashSet<&str> = entities
        .iter()
        .flat_map(|o| &o.relationships)
        .map(|r| r.target.as_str())
        .collect();
    let mut by_entity: HashMap<&str, Vec<&IrCommand>> = HashMap::default();
    for c in commands {
        if let Some(e) = c.entity.as_deref() {
            by_entity.entry(e).or_default().push(c);
        }
    }
    let none = Vec::new();
    for e in entities {
        if e.external {
            continue;
        }
        let name = e.name.as_str();
        let q = qualify(e);
        let own = by_entity.get(name).unwrap_or(&none);
        let create = own
            .iter()
            .copied()
            .find(|c| c.name == "create" && c.module == e.module);
        // Reachability.
        let has_store = stored.contains(name);
        let unused = own.is_empty() && !targeted.contains(name) && e.computed_properties.is_empty();
        if has_store && unused {
            let wiring = e.relationships.iter().any(is_ref)
                || collect_fk_fields(e, create)
                    .iter()
                    .any(|f| entity_for_fk(f, &names).is_some());
            let strict = e.constraints.is_empty() && wiring;
            let msg = format!(
                "Entity '{q}' is persisted (has store) but has no commands and is not referenced by any relationship — it is unreachable in the product. Add commands or relationships, or remove the entity."
            );
            diags.push(if strict {
                Diagnostic::error(msg)
            } else {
                Diagnostic::warning(msg)
            });
        } else if !has_store && unused {
            diags.push(Diagnostic::warning(format!("Entity '{q}' is declared but unused: no store, no entity-scoped commands, and not referenced by any relationship. Remove it or wire it into the domain.")));
        }
        if let Some(c) = create {
            create_params(e, c, &top, tenant, diags);
        }
        fk_wiring(e, create, &top, &by_entity, reactions, &names, diags);
    }
}

fn create_params(
    e: &IrEntity,
    c: &IrCommand,
    top: &TopLevel,
    tenant: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) {
    let q = qualify(e);
    for p in &c.parameters {
        if !p.required || p.trusted_source.is_some() {
            continue;
        }
        let n = p.name.as_str();
        let auto = tenant.is_some_and(|t| t["property"] == n)
            || CONTEXT_INJECTED.contains(&n)
            || (e.timestamps && (n == "createdAt" || n == "updatedAt"))
            || e.version_property.as_deref() == Some(n)
            || e.version_at_property.as_deref() == Some(n);
        if auto {
            diags.push(Diagnostic::error(format!("Command '{q}.create' requires '{n}' but the runtime or compiler auto-provides that field — remove it from create parameters so callers are not forced to supply a value they cannot access.")));
        }
    }
    let child: Vec<(&str, Option<&str>)> = e
        .properties
        .iter()
        .map(|p| (p.name.as_str(), scalar(&p.ty)))
        .collect();
    for r in e.relationships.iter().filter(|r| is_ref(r)) {
        let Some(&parent) = top.get(r.target.as_str()) else {
            continue;
        };
        if parent.name == e.name && parent.module == e.module {
            continue;
        }
        let pq = qualify(parent);
        let parent_props: Vec<(&str, Option<&str>)> = parent
            .properties
            .iter()
            .map(|p| (p.name.as_str(), scalar(&p.ty)))
            .collect();
        let fks = fk_fields(r);
        for p in &c.parameters {
            let n = p.name.as_str();
            if !p.required || PARENT_EXCLUDED.contains(&n) || fks.iter().any(|f| f == n) {
                continue;
            }
            if !n.ends_with("Id") || n.len() <= 2 {
                continue;
            }
            let Some(pt) = scalar(&p.ty) else {
                continue;
            };
            let parent_type = parent_props.iter().find(|(k, _)| *k == n).map(|(_, t)| *t);
            if parent_type != Some(Some(pt)) || !child.iter().any(|(k, _)| *k == n) {
                continue;
            }
            diags.push(Diagnostic::warning(format!("Command '{q}.create' takes '{n}', which is also owned by parent '{pq}' — consider populating it via parent-context propagation (create from the parent) instead of re-entering it.")));
        }
    }
}

fn fk_wiring(
    e: &IrEntity,
    create: Option<&IrCommand>,
    top: &TopLevel,
    by_entity: &HashMap<&str, Vec<&IrCommand>>,
    reactions: &[IrReaction],
    names: &Stems,
    diags: &mut Vec<Diagnostic>,
) {
    let q = qualify(e);
    let name = e.name.as_str();
    for fk in collect_fk_fields(e, create) {
        let Some(parent_name) = entity_for_fk(&fk, names) else {
            continue;
        };
        if parent_name == name {
            continue;
        }
        let Some(&parent) = top.get(parent_name.as_str()) else {
            continue;
        };
        let pq = qualify(parent);
        let belongs = e
            .relationships
            .iter()
            .any(|r| is_ref(r) && r.target == parent_name && fk_fields(r).contains(&fk));
        if !belongs {
            diags.push(Diagnostic::error(format!("Entity '{q}' references parent '{parent_name}' via '{fk}' but declares no belongsTo/ref relationship to '{parent_name}'. Add 'belongsTo {}: {parent_name}' (or rename the FK), or add a nested command on '{pq}' that sets the FK from self.id.", &fk[..fk.len() - 2])));
            continue;
        }
        let inverse = parent
            .relationships
            .iter()
            .any(|r| (r.kind == "hasMany" || r.kind == "hasOne") && r.target == name);
        if !inverse {
            diags.push(Diagnostic::warning(format!("Entity '{q}' belongsTo '{parent_name}' but '{pq}' has no hasMany/hasOne back to '{name}'. Add 'hasMany {}s: {name}' on the parent, or a nested create command on the parent so the child FK is implicit.", camel(name))));
        }
        let manual =
            create.is_some_and(|c| c.parameters.iter().any(|p| p.required && p.name == fk));
        let parent_cmds = by_entity
            .get(parent.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        let lower_name = name.to_lowercase();
        let nested = parent_cmds.iter().any(|c| {
            c.module == parent.module
                && c.name != "create"
                && c.actions.iter().any(|a| {
                    matches!(a.kind, ActionKind::Persist | ActionKind::Mutate)
                        && a.target
                            .as_deref()
                            .unwrap_or_default()
                            .to_lowercase()
                            .contains(&lower_name)
                })
        });
        let wired = reactions.iter().any(|r| {
            r.target_entity == name
                && r.target_command == "create"
                && r.module == e.module
                && r.params.iter().any(|p| p.name == fk)
        });
        if manual && !nested && !wired {
            diags.push(Diagnostic::warning(format!("Command '{q}.create' takes a manual '{fk}' with no nested create on '{pq}' (e.g. addMilestone) and no event reaction that supplies it. Consider a parent command that sets the FK from self.id, or an on Event reaction with params {{ {fk}: ... }}.")));
        }
    }
}
