//! Reaction wiring (upstream's reaction completeness): a reaction whose event no
//! command emits can never fire, and `payload.*` references must exist.

use crate::diagnostic::Diagnostic;
use manifest_ir::{EventPayload, Expr, IrCommand, IrEntity, IrEvent, IrReaction};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

const ENRICHED: &[&str] = &["_subject", "_eventName", "_channel"];

struct Emitter<'a> {
    entity: &'a str,
    command: &'a str,
    params: HashSet<&'a str>,
}

/// `payload.a.b` member chains, outermost first, in walk order (each node's
/// sub-expressions in the order of their JSON keys, as upstream walks the IR).
/// (`self.x` is not checked: in a fan-out it is the matched row, which the 112
/// fixture uses.)
fn payload_chains(node: &Expr, out: &mut Vec<Vec<String>>) {
    if let Expr::Member { .. } = node {
        let mut chain = Vec::new();
        let mut spine = node;
        while let Expr::Member { object, property } = spine {
            chain.insert(0, property.clone());
            spine = object;
        }
        if matches!(spine, Expr::Identifier { name } if name == "payload") && !chain.is_empty() {
            out.push(chain);
            return;
        }
    }
    match node {
        Expr::Literal { .. } | Expr::Identifier { .. } => {}
        Expr::Member { object, .. } => payload_chains(object, out),
        Expr::Binary { left, right, .. } => {
            payload_chains(left, out);
            payload_chains(right, out);
        }
        Expr::Unary { operand, .. } => payload_chains(operand, out),
        Expr::Call { callee, args } => {
            args.iter().for_each(|a| payload_chains(a, out));
            payload_chains(callee, out);
        }
        Expr::Conditional {
            condition,
            consequent,
            alternate,
        } => {
            payload_chains(alternate, out);
            payload_chains(condition, out);
            payload_chains(consequent, out);
        }
        Expr::Array { elements } => elements.iter().for_each(|e| payload_chains(e, out)),
        Expr::Object { properties } => properties
            .iter()
            .for_each(|p| payload_chains(&p.value, out)),
        Expr::Lambda { body, .. } => payload_chains(body, out),
        Expr::Aggregate { predicates, .. } => predicates
            .iter()
            .for_each(|p| payload_chains(&p.value, out)),
    }
}

pub(crate) fn check(
    entities: &[IrEntity],
    commands: &[IrCommand],
    reactions: &[IrReaction],
    events: &[IrEvent],
    diags: &mut Vec<Diagnostic>,
) {
    let mut props: HashMap<&str, HashSet<&str>> = HashMap::default();
    for e in entities {
        let set = props.entry(e.name.as_str()).or_default();
        set.extend(e.properties.iter().map(|p| p.name.as_str()));
        set.extend(e.computed_properties.iter().map(|p| p.name.as_str()));
        set.insert("id");
    }
    let mut fields: HashMap<&str, HashSet<&str>> = HashMap::default();
    for ev in events {
        let set: HashSet<&str> = match &ev.payload {
            EventPayload::Fields(f) => f.iter().map(|f| f.name.as_str()).collect(),
            EventPayload::Type(_) | EventPayload::Other(_) => HashSet::default(),
        };
        fields.insert(ev.name.as_str(), set);
    }
    let mut emitters: HashMap<&str, Vec<Emitter>> = HashMap::default();
    for c in commands {
        for ev in &c.emits {
            emitters.entry(ev.as_str()).or_default().push(Emitter {
                entity: c.entity.as_deref().unwrap_or_default(),
                command: c.name.as_str(),
                params: c.parameters.iter().map(|p| p.name.as_str()).collect(),
            });
        }
    }
    let none = HashSet::default();
    for r in reactions {
        let event = r.event.as_str();
        let label = format!("{event} → {}.{}", r.target_entity, r.target_command);
        let Some(ems) = emitters.get(event).filter(|e| !e.is_empty()) else {
            diags.push(Diagnostic::error(format!("Reaction '{label}' listens for event '{event}' but no command emits that event — the reaction can never fire.")));
            continue;
        };
        let mut chains = Vec::new();
        if let Some(resolve) = &r.resolve {
            payload_chains(resolve, &mut chains);
        }
        for p in &r.params {
            payload_chains(&p.expression, &mut chains);
        }
        let event_fields = fields.get(event).unwrap_or(&none);
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
                        if !props
                            .get(em.entity)
                            .is_some_and(|p| p.contains(field.as_str()))
                        {
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
