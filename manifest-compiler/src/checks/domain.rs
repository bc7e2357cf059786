//! Domain completeness (upstream's product-wiring checks) over the lowered IR:
//! unreachable or unused entities, create parameters the runtime supplies,
//! and foreign keys with no relationship behind them.

use crate::diagnostic::Diagnostic;
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

fn arr(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn qualify(e: &Value) -> String {
    match e["module"].as_str() {
        Some(m) => format!("{m}.{}", s(&e["name"])),
        None => s(&e["name"]).to_string(),
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

fn fk_fields(r: &Value) -> Vec<String> {
    match r["foreignKey"]["fields"].as_array() {
        Some(f) => f.iter().map(|x| s(x).to_string()).collect(),
        None => vec![format!("{}Id", s(&r["name"]))],
    }
}

fn is_ref(r: &Value) -> bool {
    r["kind"] == "belongsTo" || r["kind"] == "ref"
}

fn scalar(t: &Value) -> Option<&str> {
    let n = t["name"].as_str()?;
    (n != "array" && n != "list").then_some(n)
}

fn collect_fk_fields(e: &Value, create: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::default();
    let mut add = |n: &str| {
        if seen.insert(n.to_string()) {
            out.push(n.to_string());
        }
    };
    for p in arr(&e["properties"]) {
        let n = s(&p["name"]);
        if n.ends_with("Id") && n != "id" {
            add(n);
        }
    }
    if let Some(c) = create {
        for p in arr(&c["parameters"]) {
            if p["required"] == true && s(&p["name"]).ends_with("Id") {
                add(s(&p["name"]));
            }
        }
    }
    out
}

/// Entities outside modules, by name.
type TopLevel<'a> = HashMap<&'a str, &'a Value>;

pub(crate) fn check(
    entities: &[Value],
    commands: &[Value],
    stores: &[Value],
    reactions: &[Value],
    tenant: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut names: Stems = HashMap::default();
    for e in entities {
        names.entry(camel(s(&e["name"]))).or_insert(s(&e["name"]));
    }
    // Top-level entities by name, the first declaration of a name (as `find` would).
    let mut top: TopLevel = HashMap::default();
    for e in entities.iter().filter(|e| e.get("module").is_none()) {
        if let Some(n) = e["name"].as_str() {
            top.entry(n).or_insert(e);
        }
    }
    let stored: HashSet<&str> = stores.iter().map(|st| s(&st["entity"])).collect();
    let targeted: HashSet<&str> = entities
        .iter()
        .flat_map(|o| arr(&o["relationships"]))
        .map(|r| s(&r["target"]))
        .collect();
    let mut by_entity: HashMap<&str, Vec<&Value>> = HashMap::default();
    for c in commands {
        if let Some(e) = c["entity"].as_str() {
            by_entity.entry(e).or_default().push(c);
        }
    }
    let none = Vec::new();
    for e in entities {
        if e["external"] == true {
            continue;
        }
        let name = s(&e["name"]);
        let q = qualify(e);
        let own = by_entity.get(name).unwrap_or(&none);
        let create = own
            .iter()
            .copied()
            .find(|c| c["name"] == "create" && c.get("module") == e.get("module"));
        // Reachability.
        let has_store = stored.contains(name);
        let unused = own.is_empty()
            && !targeted.contains(name)
            && arr(&e["computedProperties"]).next().is_none();
        if has_store && unused {
            let wiring = arr(&e["relationships"]).any(is_ref)
                || collect_fk_fields(e, create)
                    .iter()
                    .any(|f| entity_for_fk(f, &names).is_some());
            let strict = arr(&e["constraints"]).next().is_none() && wiring;
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
    e: &Value,
    c: &Value,
    top: &TopLevel,
    tenant: Option<&Value>,
    diags: &mut Vec<Diagnostic>,
) {
    let q = qualify(e);
    for p in arr(&c["parameters"]) {
        if p["required"] != true || p.get("trustedSource").is_some() {
            continue;
        }
        let n = s(&p["name"]);
        let auto = tenant.is_some_and(|t| t["property"] == n)
            || CONTEXT_INJECTED.contains(&n)
            || (e["timestamps"] == true && (n == "createdAt" || n == "updatedAt"))
            || e["versionProperty"] == n
            || e["versionAtProperty"] == n;
        if auto {
            diags.push(Diagnostic::error(format!("Command '{q}.create' requires '{n}' but the runtime or compiler auto-provides that field — remove it from create parameters so callers are not forced to supply a value they cannot access.")));
        }
    }
    let child: Vec<(&str, Option<&str>)> = arr(&e["properties"])
        .map(|p| (s(&p["name"]), scalar(&p["type"])))
        .collect();
    for r in arr(&e["relationships"]).filter(|r| is_ref(r)) {
        let Some(&parent) = r["target"].as_str().and_then(|t| top.get(t)) else {
            continue;
        };
        if parent["name"] == e["name"] && parent.get("module") == e.get("module") {
            continue;
        }
        let pq = qualify(parent);
        let parent_props: Vec<(&str, Option<&str>)> = arr(&parent["properties"])
            .map(|p| (s(&p["name"]), scalar(&p["type"])))
            .collect();
        let fks = fk_fields(r);
        for p in arr(&c["parameters"]) {
            let n = s(&p["name"]);
            if p["required"] != true || PARENT_EXCLUDED.contains(&n) || fks.iter().any(|f| f == n) {
                continue;
            }
            if !n.ends_with("Id") || n.len() <= 2 {
                continue;
            }
            let Some(pt) = scalar(&p["type"]) else {
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
    e: &Value,
    create: Option<&Value>,
    top: &TopLevel,
    by_entity: &HashMap<&str, Vec<&Value>>,
    reactions: &[Value],
    names: &Stems,
    diags: &mut Vec<Diagnostic>,
) {
    let q = qualify(e);
    let name = s(&e["name"]);
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
        let belongs = arr(&e["relationships"]).any(|r| {
            is_ref(r) && r["target"] == parent_name.as_str() && fk_fields(r).contains(&fk)
        });
        if !belongs {
            diags.push(Diagnostic::error(format!("Entity '{q}' references parent '{parent_name}' via '{fk}' but declares no belongsTo/ref relationship to '{parent_name}'. Add 'belongsTo {}: {parent_name}' (or rename the FK), or add a nested command on '{pq}' that sets the FK from self.id.", &fk[..fk.len() - 2])));
            continue;
        }
        let inverse = arr(&parent["relationships"])
            .any(|r| (r["kind"] == "hasMany" || r["kind"] == "hasOne") && r["target"] == name);
        if !inverse {
            diags.push(Diagnostic::warning(format!("Entity '{q}' belongsTo '{parent_name}' but '{pq}' has no hasMany/hasOne back to '{name}'. Add 'hasMany {}s: {name}' on the parent, or a nested create command on the parent so the child FK is implicit.", camel(name))));
        }
        let manual = create.is_some_and(|c| {
            arr(&c["parameters"]).any(|p| p["required"] == true && p["name"] == fk.as_str())
        });
        let parent_cmds = by_entity
            .get(s(&parent["name"]))
            .map_or(&[][..], Vec::as_slice);
        let nested = parent_cmds.iter().any(|c| {
            c.get("module") == parent.get("module")
                && c["name"] != "create"
                && arr(&c["actions"]).any(|a| {
                    (a["kind"] == "persist" || a["kind"] == "mutate")
                        && s(&a["target"])
                            .to_lowercase()
                            .contains(&name.to_lowercase())
                })
        });
        let wired = reactions.iter().any(|r| {
            r["targetEntity"] == name
                && r["targetCommand"] == "create"
                && r.get("module") == e.get("module")
                && arr(&r["params"]).any(|p| p["name"] == fk.as_str())
        });
        if manual && !nested && !wired {
            diags.push(Diagnostic::warning(format!("Command '{q}.create' takes a manual '{fk}' with no nested create on '{pq}' (e.g. addMilestone) and no event reaction that supplies it. Consider a parent command that sets the FK from self.id, or an on Event reaction with params {{ {fk}: ... }}.")));
        }
    }
}
