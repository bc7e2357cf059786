//! Reaction wiring (upstream's reaction completeness): a reaction whose event no
//! command emits can never fire, and `payload.*` references must exist.

use crate::diagnostic::Diagnostic;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::Value;

const ENRICHED: &[&str] = &["_subject", "_eventName", "_channel"];

struct Emitter<'a> {
    entity: &'a str,
    command: &'a str,
    params: HashSet<&'a str>,
}

/// `payload.a.b` member chains, outermost first, in walk order. (`self.x` is
/// not checked: in a fan-out it is the matched row, which the 112 fixture uses.)
fn payload_chains(node: &Value, out: &mut Vec<Vec<String>>) {
    match node {
        Value::Array(items) => items.iter().for_each(|n| payload_chains(n, out)),
        Value::Object(m) => {
            if node["kind"] == "member" {
                let mut chain = Vec::new();
                let mut spine = node;
                while spine["kind"] == "member" {
                    let Some(p) = spine["property"].as_str() else {
                        break;
                    };
                    chain.insert(0, p.to_string());
                    spine = &spine["object"];
                }
                if spine["kind"] == "identifier" && spine["name"] == "payload" && !chain.is_empty()
                {
                    out.push(chain);
                    return;
                }
            }
            for (k, v) in m {
                if !matches!(k.as_str(), "kind" | "property" | "name" | "operator") {
                    payload_chains(v, out);
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn check(
    entities: &[Value],
    commands: &[Value],
    reactions: &[Value],
    events: &[Value],
    diags: &mut Vec<Diagnostic>,
) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut props: HashMap<String, HashSet<String>> = HashMap::default();
    for e in entities {
        let set = props.entry(s(&e["name"])).or_default();
        for key in ["properties", "computedProperties"] {
            set.extend(
                e[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| s(&p["name"])),
            );
        }
        set.insert("id".into());
    }
    let mut fields: HashMap<String, HashSet<String>> = HashMap::default();
    for ev in events {
        let set: HashSet<String> = ev["payload"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| s(&f["name"]))
            .collect();
        fields.insert(s(&ev["name"]), set);
    }
    let mut emitters: HashMap<&str, Vec<Emitter>> = HashMap::default();
    for c in commands {
        for ev in c["emits"].as_array().into_iter().flatten() {
            emitters
                .entry(ev.as_str().unwrap_or_default())
                .or_default()
                .push(Emitter {
                    entity: c["entity"].as_str().unwrap_or_default(),
                    command: c["name"].as_str().unwrap_or_default(),
                    params: c["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p["name"].as_str())
                        .collect(),
                });
        }
    }
    let none = HashSet::default();
    for r in reactions {
        let event = s(&r["event"]);
        let label = format!(
            "{event} → {}.{}",
            s(&r["targetEntity"]),
            s(&r["targetCommand"])
        );
        let Some(ems) = emitters.get(event.as_str()).filter(|e| !e.is_empty()) else {
            diags.push(Diagnostic::error(format!("Reaction '{label}' listens for event '{event}' but no command emits that event — the reaction can never fire.")));
            continue;
        };
        let mut chains = Vec::new();
        if let Some(resolve) = r.get("resolve") {
            payload_chains(resolve, &mut chains);
        }
        for p in r["params"].as_array().into_iter().flatten() {
            payload_chains(&p["expression"], &mut chains);
        }
        let event_fields = fields.get(&event).unwrap_or(&none);
        let mut seen = HashSet::default();
        for chain in chains {
            let joined = chain.join(".");
            if !seen.insert(joined.clone()) {
                continue;
            }
            let head = chain[0].as_str();
            if ENRICHED.contains(&head) {
                continue;
            }
            if head == "result" {
                let Some(field) = chain.get(1) else { continue };
                for em in ems {
                    if em.command == "create" {
                        if !props.get(em.entity).is_some_and(|p| p.contains(field)) {
                            diags.push(Diagnostic::error(format!("Reaction '{label}' references payload.result.{field} but '{field}' is not a property of {} (create result is the new instance) — undefined at runtime.", em.entity)));
                        }
                    } else {
                        diags.push(Diagnostic::error(format!("Reaction '{label}' references payload.result.{field} via {}.{} — non-create commands set result to the last action value, not the instance; use payload._subject.id or an input param instead.", em.entity, em.command)));
                    }
                }
                continue;
            }
            if event_fields.contains(head) {
                continue;
            }
            for em in ems.iter().filter(|em| !em.params.contains(head)) {
                diags.push(Diagnostic::error(format!("Reaction '{label}' references payload.{joined} but '{head}' is not a parameter of emitter {}.{} — undefined at runtime (payload = {{...input, result}}).", em.entity, em.command)));
            }
        }
    }
}
