//! Reaction wiring: a reaction whose event no command emits can never fire.

use crate::diagnostic::Diagnostic;
use serde_json::Value;

pub(crate) fn check(commands: &[Value], reactions: &[Value], diags: &mut Vec<Diagnostic>) {
    let emitted = |event: &Value| {
        commands.iter().any(|c| {
            c["emits"].as_array().is_some_and(|e| e.contains(event))
                || c["actions"].as_array().into_iter().flatten().any(|a| {
                    (a["kind"] == "emit" || a["kind"] == "publish") && a["target"] == *event
                })
        })
    };
    for r in reactions {
        if emitted(&r["event"]) {
            continue;
        }
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        diags.push(Diagnostic::error(format!(
            "Reaction '{ev} → {}.{}' listens for event '{ev}' but no command emits that event — the reaction can never fire.",
            s("targetEntity"),
            s("targetCommand"),
            ev = s("event"),
        )));
    }
}
