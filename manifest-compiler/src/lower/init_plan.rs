//! Initialization plans: which commands create an instance, and how
//! (semantics.md § Initialization Commands), attached as `command.initialization`.

use super::obj;
use crate::jsjson::locale_compare;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::{Value, json};

fn strs(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_by(|a, b| locale_compare(a, b));
    v
}

fn is_null_literal(e: &Value) -> bool {
    e["kind"] == "literal" && e["value"]["kind"] == "null"
}

fn is_self_property(e: &Value, property: &str) -> bool {
    e["kind"] == "member"
        && e["property"] == property
        && e["object"]["kind"] == "identifier"
        && (e["object"]["name"] == "self" || e["object"]["name"] == "this")
}

/// A guard `self.<property> == null` (or `is null`, either side).
pub(crate) fn asserts_unset(guard: &Value, property: &str) -> bool {
    guard["kind"] == "binary"
        && (guard["operator"] == "==" || guard["operator"] == "is")
        && ((is_self_property(&guard["left"], property) && is_null_literal(&guard["right"]))
            || (is_null_literal(&guard["left"]) && is_self_property(&guard["right"], property)))
}

fn is_now_call(e: &Value) -> bool {
    e["kind"] == "call" && e["callee"]["kind"] == "identifier" && e["callee"]["name"] == "now"
}

fn has_modifier(p: &Value, m: &str) -> bool {
    strs(&p["modifiers"]).any(|x| x == m)
}

fn initializes_lifecycle_timestamp(cmd: &Value) -> bool {
    strs(&cmd["actions"]).any(|a| {
        let Some(target) = a["target"].as_str() else {
            return false;
        };
        a["kind"] == "mutate"
            && target.ends_with("At")
            && target != "updatedAt"
            && is_now_call(&a["expression"])
            && strs(&cmd["guards"]).any(|g| asserts_unset(g, target))
    })
}

fn allocates_required_field(cmd: &Value, entity: &Value, target: &str) -> bool {
    let Some(p) = strs(&entity["properties"]).find(|p| p["name"] == target) else {
        return false;
    };
    if !has_modifier(p, "required")
        || p.get("defaultValue").is_some()
        || p["autoNow"] == true
        || target == "id"
    {
        return false;
    }
    let Some(a) = strs(&cmd["actions"]).find(|a| a["kind"] == "mutate" && a["target"] == target)
    else {
        return false;
    };
    let e = &a["expression"];
    if e["kind"] == "literal" || is_now_call(e) {
        return true;
    }
    e["kind"] == "identifier" && strs(&cmd["parameters"]).any(|p| p["name"] == e["name"])
}

fn owned_fields(cmd: &Value, entity: &Value) -> Vec<String> {
    let props: HashSet<&str> = strs(&entity["properties"])
        .filter_map(|p| p["name"].as_str())
        .collect();
    let mut owned: Vec<String> = Vec::new();
    for a in strs(&cmd["actions"]) {
        let Some(t) = a["target"].as_str() else {
            continue;
        };
        let kind = a["kind"].as_str().unwrap_or_default();
        if props.contains(t)
            && matches!(kind, "mutate" | "compute" | "persist")
            && !owned.iter().any(|o| o == t)
        {
            owned.push(t.to_string());
        }
    }
    sorted(owned)
}

/// The plan for `cmd` on `entity`, or `None` when it does not create instances.
pub(crate) fn build(entity: &Value, cmd: &Value, tenant: Option<&Value>) -> Option<Value> {
    if cmd["entity"] != entity["name"] {
        return None;
    }
    let owned = owned_fields(cmd, entity);
    let owned_set: HashSet<&str> = owned.iter().map(String::as_str).collect();
    let props: Vec<&Value> = strs(&entity["properties"]).collect();
    let prop_names: HashSet<&str> = props.iter().filter_map(|p| p["name"].as_str()).collect();
    let literal_create = cmd["name"] == "create";
    let required_init = owned
        .iter()
        .filter(|t| allocates_required_field(cmd, entity, t))
        .count();
    let signal = literal_create || required_init > 0 || initializes_lifecycle_timestamp(cmd);
    if !signal || (owned.is_empty() && !literal_create) {
        return None;
    }
    let params: Vec<&Value> = strs(&cmd["parameters"]).collect();
    let inputs = sorted(
        params
            .iter()
            .filter(|p| p.get("trustedSource").is_none())
            .filter_map(|p| p["name"].as_str().map(String::from))
            .collect(),
    );
    let mut authenticated = Vec::new();
    if let Some(tp) = tenant.and_then(|t| t["property"].as_str())
        && prop_names.contains(tp)
    {
        authenticated.push(tp.to_string());
    }
    for p in &params {
        if p.get("trustedSource").is_some()
            && let Some(n) = p["name"].as_str()
            && prop_names.contains(n)
        {
            authenticated.push(n.to_string());
        }
    }
    let authenticated = sorted(authenticated);
    let optional: HashSet<&str> = params
        .iter()
        .filter(|p| p["required"] != true)
        .filter_map(|p| p["name"].as_str())
        .collect();

    let mut defaults = Vec::new();
    for p in &props {
        let name = p["name"].as_str().unwrap_or_default();
        if owned_set.contains(name) && !optional.contains(name) {
            continue;
        }
        if p.get("defaultValue").is_some() {
            defaults.push(json!({"property": name, "source": "defaultValue"}));
        } else if p["autoNow"] == true {
            defaults.push(json!({"property": name, "source": "autoNow"}));
        }
    }
    if entity["timestamps"] == true {
        defaults.push(json!({"property": "createdAt", "source": "timestamps"}));
        defaults.push(json!({"property": "updatedAt", "source": "timestamps"}));
    }
    for key in ["versionProperty", "versionAtProperty"] {
        if let Some(v) = entity[key].as_str() {
            defaults.push(json!({"property": v, "source": "version"}));
        }
    }
    let mut lifecycle = Vec::new();
    for p in &props {
        let Some(dv) = p.get("defaultValue") else {
            continue;
        };
        let name = p["name"].as_str().unwrap_or_default();
        let has_transition = strs(&entity["transitions"]).any(|t| t["property"] == name);
        if has_transition || name == "status" {
            lifecycle.push(obj! {"property" => name, "value" => dv.clone()});
        }
    }
    let mut draft: Vec<String> = vec!["id".into()];
    let mut in_draft: HashSet<String> = HashSet::from_iter(["id".to_string()]);
    let mut add = |d: &mut Vec<String>, n: &str| {
        if in_draft.insert(n.to_string()) {
            d.push(n.to_string());
        }
    };
    for n in &authenticated {
        add(&mut draft, n);
    }
    for d in defaults.iter().chain(lifecycle.iter()) {
        add(&mut draft, d["property"].as_str().unwrap_or_default());
    }
    for n in &inputs {
        if prop_names.contains(n.as_str()) {
            add(&mut draft, n);
        }
    }
    let requirements = sorted(
        props
            .iter()
            .filter(|p| {
                has_modifier(p, "required") && p["type"]["nullable"] != true && p["name"] != "id"
            })
            .filter_map(|p| p["name"].as_str().map(String::from))
            .collect(),
    );
    let (mut dynamic, mut redundant) = (Vec::new(), Vec::new());
    for (i, g) in strs(&cmd["guards"]).enumerate() {
        if owned.iter().any(|o| asserts_unset(g, o)) {
            redundant.push(i);
        } else {
            dynamic.push(i);
        }
    }
    Some(obj! {
        "initializationInputs" => inputs,
        "authenticatedOwnershipFields" => authenticated,
        "declaredDefaults" => defaults,
        "initialLifecycleState" => lifecycle,
        "commandOwnedFields" => owned,
        "draftFields" => sorted(draft),
        "finalDocumentRequirements" => requirements,
        "dynamicGuardIndexes" => dynamic,
        "redundantGuardIndexes" => redundant,
    })
}

/// Attaches plans; an entity with a planned `create` keeps only that one.
pub(crate) fn attach(entities: &[Value], commands: &mut [Value], tenant: Option<&Value>) {
    // By name; a later declaration wins, as in upstream's Map.
    let by_name: HashMap<&str, &Value> = entities
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e)))
        .collect();
    for cmd in commands.iter_mut() {
        let Some(entity) = cmd["entity"].as_str().and_then(|n| by_name.get(n)) else {
            continue;
        };
        if let Some(plan) = build(entity, cmd, tenant)
            && let Some(m) = cmd.as_object_mut()
        {
            m.insert("initialization".into(), plan);
        }
    }
    let planned_create: HashSet<String> = commands
        .iter()
        .filter(|c| c["name"] == "create" && c.get("initialization").is_some())
        .filter_map(|c| c["entity"].as_str().map(String::from))
        .collect();
    for c in commands.iter_mut() {
        let drop = c["name"] != "create"
            && c["entity"]
                .as_str()
                .is_some_and(|e| planned_create.contains(e));
        if drop && let Some(m) = c.as_object_mut() {
            m.remove("initialization");
        }
    }
}
