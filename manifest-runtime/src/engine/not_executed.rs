//! What a program declares that this runtime loads but does not execute yet, found once when
//! the IR is compiled into a [`Program`](super::Program), so the engine says so (a `tracing`
//! warning, and [`Program::not_executed`](super::Program::not_executed)) instead of ignoring it
//! in silence.

use std::fmt;

use serde_json::Value as Json;

use crate::ir::Ir;

/// A construct of the program this runtime does not execute yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotExecuted {
    /// What it is: `saga`, `schedule`, `webhook`, `approval`, `retry policy`,
    /// `async command`, `reaction match`, `fan-out on another entity`, `event-sourced store`
    /// or `tenant declaration`.
    pub construct: &'static str,
    /// Its name (for a reaction, `Event → Entity.command`).
    pub name: String,
    /// Where it is in the IR (`sagas[0]`, `commands[3].retry`).
    pub path: String,
}

impl fmt::Display for NotExecuted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}` (IR `{}`) is not executed by this runtime",
            self.construct, self.name, self.path
        )
    }
}

/// The name of a construct kept as JSON.
fn name_of(v: &Json) -> String {
    v["name"].as_str().unwrap_or_default().to_owned()
}

/// Everything in `ir` this runtime loads but does not run, in IR order.
pub(crate) fn find(ir: &Ir) -> Vec<NotExecuted> {
    let mut out = Vec::new();
    let mut add = |construct, name: String, path: String| {
        out.push(NotExecuted {
            construct,
            name,
            path,
        })
    };
    for (i, e) in ir.entities.iter().enumerate() {
        for (j, a) in e.approvals.iter().enumerate() {
            add(
                "approval",
                name_of(a),
                format!("entities[{i}].approvals[{j}]"),
            );
        }
    }
    for (i, s) in ir.stores.iter().enumerate() {
        if s.target == "eventSourced" {
            add(
                "event-sourced store",
                s.entity.clone(),
                format!("stores[{i}]"),
            );
        }
    }
    for (i, c) in ir.commands.iter().enumerate() {
        if c.retry.is_some() {
            add(
                "retry policy",
                c.name.clone(),
                format!("commands[{i}].retry"),
            );
        }
        if c.is_async {
            add(
                "async command",
                c.name.clone(),
                format!("commands[{i}].async"),
            );
        }
    }
    for (i, r) in ir.reactions.iter().enumerate() {
        let name = || format!("{} → {}.{}", r.event, r.target_entity, r.target_command);
        if r.matches.is_some() || r.else_create {
            add("reaction match", name(), format!("reactions[{i}].match"));
        }
        if r.fan_out.as_ref().is_some_and(|f| f.match_entity.is_some()) {
            add(
                "fan-out on another entity",
                name(),
                format!("reactions[{i}].fanOut.matchEntity"),
            );
        }
    }
    for (kind, list, key) in [
        ("saga", &ir.sagas, "sagas"),
        ("schedule", &ir.schedules, "schedules"),
        ("webhook", &ir.webhooks, "webhooks"),
    ] {
        for (i, v) in list.iter().enumerate() {
            add(kind, name_of(v), format!("{key}[{i}]"));
        }
    }
    if let Some(t) = &ir.tenant {
        let property = t["property"].as_str().unwrap_or_default().to_owned();
        add("tenant declaration", property, "tenant".to_owned());
    }
    out
}
