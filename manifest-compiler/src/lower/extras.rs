//! Enums, events, reactions, approvals, sagas, roles, webhooks and schedules.

use super::expr::{num, type_value};
use super::{Lowerer, obj, put};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use manifest_ir::js::locale_compare;
use manifest_ir::{
    IrEvent, IrEventField, IrFanOut, IrPermission, IrReaction, IrReactionMatch, IrReactionParam,
    IrRole,
};
use rustc_hash::FxHashMap as HashMap;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub(crate) fn enum_value(e: &Enum, module: Option<&str>) -> Value {
    let values: Vec<Value> = e
        .values
        .iter()
        .map(|v| {
            let mut m = Map::new();
            m.insert("name".into(), json!(v.name));
            put(
                &mut m,
                "label",
                v.label.as_ref().filter(|l| !l.is_empty()).map(|l| json!(l)),
            );
            put(&mut m, "ordinal", v.ordinal.map(num));
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("name".into(), json!(e.name));
    put(&mut m, "module", module.map(|s| json!(s)));
    m.insert("values".into(), Value::Array(values));
    Value::Object(m)
}

pub(crate) fn event_value(e: &Event) -> IrEvent {
    let payload = match &e.payload {
        EventPayload::Fields(fields) => manifest_ir::EventPayload::Fields(
            fields
                .iter()
                .map(|(n, t)| IrEventField {
                    name: n.clone(),
                    required: true,
                    ty: type_value(t),
                })
                .collect(),
        ),
        EventPayload::Type(t) => manifest_ir::EventPayload::Type(type_value(t)),
    };
    IrEvent {
        channel: e.channel.clone(),
        name: e.name.clone(),
        payload,
    }
}

pub(crate) fn saga_value(s: &Saga, module: Option<&str>) -> Value {
    let steps: Vec<Value> = s
        .steps
        .iter()
        .map(|st| {
            let mut m = Map::new();
            m.insert("name".into(), json!(st.name));
            m.insert("commandEntity".into(), json!(st.command_entity));
            m.insert("command".into(), json!(st.command));
            if let Some((entity, command)) = &st.compensate {
                m.insert("compensateEntity".into(), json!(entity));
                m.insert("compensate".into(), json!(command));
            }
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("name".into(), json!(s.name));
    put(&mut m, "module", module.map(|x| json!(x)));
    m.insert("steps".into(), Value::Array(steps));
    m.insert("onFailure".into(), json!(s.on_failure));
    m.insert("emits".into(), json!(s.emits));
    Value::Object(m)
}

type Perm = (String, Option<String>);

fn sort_perms(perms: &mut [Perm]) {
    perms.sort_by(|a, b| {
        locale_compare(&a.0, &b.0).then_with(|| {
            locale_compare(a.1.as_deref().unwrap_or(""), b.1.as_deref().unwrap_or(""))
        })
    });
}

fn perm_value(p: &Perm) -> IrPermission {
    IrPermission {
        action: p.0.clone(),
        target: p.1.clone(),
    }
}

impl Lowerer {
    pub(crate) fn reaction(
        &mut self,
        r: &Reaction,
        module: Option<&str>,
        entity: Option<&str>,
    ) -> IrReaction {
        let resolve = r.resolve.as_ref().map(|e| self.expr(e));
        let matches = r.matches.as_ref().map(|matches| {
            matches
                .iter()
                .map(|(f, e)| IrReactionMatch {
                    field: f.clone(),
                    source: self.expr(e),
                })
                .collect()
        });
        let fan_out = r.fan_out.as_ref().map(|f| IrFanOut {
            match_entity: f.match_entity.clone(),
            match_field: f.match_field.clone(),
            match_source: self.expr(&f.match_source),
        });
        let params = r
            .params
            .iter()
            .flatten()
            .map(|(n, e)| IrReactionParam {
                expression: self.expr(e),
                name: n.clone(),
            })
            .collect();
        IrReaction {
            else_create: r.else_create,
            entity: entity.map(String::from),
            event: r.event.clone(),
            fan_out,
            matches,
            module: module.map(String::from),
            params,
            resolve,
            target_command: r.target_command.clone(),
            target_entity: r.target_entity.clone(),
        }
    }

    pub(crate) fn approval(&mut self, a: &Approval, e: &Entity) -> Value {
        let names: Vec<&str> = e.commands.iter().map(|c| c.name.as_str()).collect();
        if !names.contains(&a.command.as_str()) {
            let available = if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            };
            self.diag(Diagnostic::error(format!(
                "Approval '{}' references command '{}' which does not exist on entity '{}'. Available commands: {available}",
                a.name, a.command, e.name
            )).at(a.pos));
        }
        if a.stages.is_empty() {
            self.diag(
                Diagnostic::error(format!(
                    "Approval '{}' must declare at least one stage",
                    a.name
                ))
                .at(a.pos),
            );
        }
        let mut seen = Vec::new();
        for s in &a.stages {
            if seen.contains(&&s.name) {
                self.diag(Diagnostic::error(format!(
                    "Duplicate stage name '{}' in approval '{}'",
                    s.name, a.name
                )));
            }
            seen.push(&s.name);
        }
        let stages: Vec<Value> = a
            .stages
            .iter()
            .map(|s| {
                let mut m = Map::new();
                m.insert("name".into(), json!(s.name));
                m.insert("policy".into(), self.expr_json(&s.policy));
                m.insert("required".into(), num(s.required));
                if let Some(w) = &s.when {
                    m.insert("when".into(), self.expr_json(w));
                }
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        m.insert("name".into(), json!(a.name));
        m.insert("command".into(), json!(a.command));
        m.insert("stages".into(), Value::Array(stages));
        m.insert("emits".into(), json!(a.emits));
        put(&mut m, "timeout", a.timeout.map(num));
        match &a.on_timeout {
            Some(OnTimeout::Cancel) => {
                m.insert("onTimeout".into(), json!("cancel"));
            }
            Some(OnTimeout::Escalate { bare: true, .. }) => {
                self.diag(Diagnostic::error(format!(
                    "Approval '{}' declares bare on_timeout: escalate without a block. Provide escalate {{ to: <expr>, status: <pending|granted|denied|expired>, timeout: <hours|none|reset> }}.",
                    a.name
                )).at(a.pos).with_code("APPROVAL_ONTIMEOUT_ESCALATE_INCOMPLETE"));
            }
            Some(OnTimeout::Escalate {
                to,
                status,
                timeout,
                pos,
                ..
            }) => {
                let name = &a.name;
                let mut complete = true;
                let mut fail = |lw: &mut Lowerer, msg: String, code: &str| {
                    complete = false;
                    lw.diag(Diagnostic::error(msg).at(*pos).with_code(code));
                };
                if to.is_none() {
                    fail(
                        self,
                        format!(
                            "Approval '{name}' escalate block is missing required field 'to' (author-defined target expression)."
                        ),
                        "APPROVAL_ESCALATE_MISSING_TO",
                    );
                }
                if status.is_none() {
                    fail(
                        self,
                        format!(
                            "Approval '{name}' escalate block is missing required field 'status' (pending, granted, denied, or expired)."
                        ),
                        "APPROVAL_ESCALATE_MISSING_STATUS",
                    );
                }
                match timeout {
                    None => fail(
                        self,
                        format!(
                            "Approval '{name}' escalate block is missing required field 'timeout' (hours, none, or reset)."
                        ),
                        "APPROVAL_ESCALATE_MISSING_TIMEOUT",
                    ),
                    Some(EscalateTimeout::Word(w)) if w == "reset" && a.timeout.is_none() => fail(
                        self,
                        format!(
                            "Approval '{name}' escalate timeout: reset requires the approval to declare a numeric timeout."
                        ),
                        "APPROVAL_ESCALATE_RESET_WITHOUT_TIMEOUT",
                    ),
                    _ => {}
                }
                if complete && let (Some(to), Some(status), Some(timeout)) = (to, status, timeout) {
                    let timeout = match timeout {
                        EscalateTimeout::Hours(h) => num(*h),
                        EscalateTimeout::Word(w) => json!(w),
                    };
                    let to = self.expr_json(to);
                    m.insert("onTimeout".into(), json!({"action": "escalate", "to": to, "status": status, "timeout": timeout}));
                }
            }
            None => {}
        }
        Value::Object(m)
    }

    pub(crate) fn resolve_roles(&mut self, roles: &[(&Role, Option<&str>)]) -> Vec<IrRole> {
        struct R<'a> {
            role: &'a Role,
            module: Option<&'a str>,
            allow: Vec<Perm>,
            deny: Vec<Perm>,
        }
        let mut by_name: BTreeMap<&str, R> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (role, module) in roles {
            if by_name.contains_key(role.name.as_str()) {
                self.diag(Diagnostic::error(format!(
                    "Duplicate role declaration '{}'",
                    role.name
                )));
                continue;
            }
            let pick = |allow: bool| {
                let mut v: Vec<Perm> = role
                    .permissions
                    .iter()
                    .filter(|p| p.allow == allow)
                    .map(|p| (p.action.clone(), p.target.clone()))
                    .collect();
                sort_perms(&mut v);
                v
            };
            by_name.insert(
                &role.name,
                R {
                    role,
                    module: *module,
                    allow: pick(true),
                    deny: pick(false),
                },
            );
            order.push(&role.name);
        }
        for (role, _) in roles {
            if let Some(parent) = &role.parent
                && !by_name.contains_key(parent.as_str())
            {
                self.diag(Diagnostic::error(format!(
                    "Role '{}' extends unknown role '{parent}'",
                    role.name
                )));
            }
        }
        // Cycle detection, in declaration order; reports the first cycle only.
        let parent_of = |n: &str| by_name.get(n).and_then(|r| r.role.parent.as_deref());
        let mut color: HashMap<&str, u8> = HashMap::default();
        'outer: for &start in &order {
            if color.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            let mut path: Vec<&str> = Vec::new();
            let mut cur = start;
            loop {
                color.insert(cur, 1);
                path.push(cur);
                let Some(parent) = parent_of(cur) else { break };
                match color.get(parent).copied().unwrap_or(0) {
                    1 => {
                        let mut shown = path.clone();
                        shown.push(parent);
                        self.diag(Diagnostic::error(format!(
                            "Role cycle detected: {}",
                            shown.join(" -> ")
                        )));
                        break 'outer;
                    }
                    0 if by_name.contains_key(parent) => cur = parent,
                    _ => break,
                }
            }
            for n in path {
                color.insert(n, 2);
            }
        }
        let chain = |name: &str| -> Vec<String> {
            let mut chain: Vec<String> = Vec::new();
            let mut cur = Some(name.to_string());
            while let Some(n) = cur {
                if chain.contains(&n) || !by_name.contains_key(n.as_str()) {
                    break;
                }
                cur = parent_of(&n).map(String::from);
                chain.push(n);
            }
            chain
        };
        let mut out: Vec<IrRole> = Vec::new();
        for &name in &order {
            let r = &by_name[name];
            let mut effective: Vec<Perm> = Vec::new();
            for n in chain(name).iter().rev() {
                for a in &by_name[n.as_str()].allow {
                    if !effective.iter().any(|e| {
                        e.0 == a.0 && e.1.as_deref().unwrap_or("") == a.1.as_deref().unwrap_or("")
                    }) {
                        effective.push(a.clone());
                    }
                }
            }
            let denies: Vec<&Perm> = chain(name)
                .iter()
                .flat_map(|n| by_name[n.as_str()].deny.iter())
                .collect();
            effective.retain(|p| {
                !denies
                    .iter()
                    .any(|d| (d.0 == "all" || d.0 == p.0) && (d.1.is_none() || d.1 == p.1))
            });
            sort_perms(&mut effective);
            out.push(IrRole {
                allow: r.allow.iter().map(perm_value).collect(),
                deny: r.deny.iter().map(perm_value).collect(),
                effective_permissions: effective.iter().map(perm_value).collect(),
                module: r.module.map(String::from),
                name: name.to_string(),
                parent: r.role.parent.clone(),
            });
        }
        out.sort_by(|a, b| locale_compare(&a.name, &b.name));
        out
    }

    pub(crate) fn webhook(&mut self, w: &Webhook, module: Option<&str>) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(w.name));
        put(&mut m, "module", module.map(|x| json!(x)));
        m.insert("path".into(), json!(w.path));
        put(&mut m, "method", w.method.as_ref().map(|x| json!(x)));
        m.insert("command".into(), json!(w.command));
        put(&mut m, "entity", w.entity.as_ref().map(|x| json!(x)));
        if let Some((algorithm, header, secret)) = &w.signature {
            m.insert(
                "signature".into(),
                json!({"algorithm": algorithm, "header": header, "secret": secret}),
            );
        }
        put(
            &mut m,
            "idempotencyHeader",
            w.idempotency_header.as_ref().map(|x| json!(x)),
        );
        if !w.transform.is_empty() {
            let t: Vec<Value> = w
                .transform
                .iter()
                .map(|(n, e)| obj! {"name" => n.as_str(), "expression" => self.expr_json(e)})
                .collect();
            m.insert("transform".into(), Value::Array(t));
        }
        Value::Object(m)
    }

    pub(crate) fn schedule(&mut self, s: &Schedule) -> Value {
        let trigger = match &s.kind {
            ScheduleKind::Cron(expr) => {
                if !crate::checks::schedule::valid_cron(expr) {
                    self.diag(Diagnostic::error(format!("Invalid cron expression '{expr}' in schedule '{}' (expected 5 fields: minute hour day month dayOfWeek)", s.name)));
                }
                json!({"kind": "cron", "cron": expr})
            }
            ScheduleKind::Interval { value, unit, .. } | ScheduleKind::Every { value, unit } => {
                let kind = if matches!(s.kind, ScheduleKind::Interval { .. }) {
                    "interval"
                } else {
                    "every"
                };
                match crate::checks::schedule::duration_ms(
                    text_of(&s.kind),
                    *value,
                    unit.as_deref(),
                ) {
                    Ok(ms) => json!({"kind": kind, "durationMs": num(ms)}),
                    Err(e) => {
                        self.diag(Diagnostic::error(format!(
                            "Invalid {kind} duration in schedule '{}': {e}",
                            s.name
                        )));
                        json!({"kind": kind, "durationMs": 60000})
                    }
                }
            }
        };
        let mut m = Map::new();
        m.insert("name".into(), json!(s.name));
        put(
            &mut m,
            "entityName",
            s.target_entity.as_ref().map(|x| json!(x)),
        );
        m.insert("commandName".into(), json!(s.target_command));
        m.insert("trigger".into(), trigger);
        if !s.params.is_empty() {
            let p: Vec<Value> = s
                .params
                .iter()
                .map(|(n, e)| obj! {"name" => n.as_str(), "expression" => self.expr_json(e)})
                .collect();
            m.insert("params".into(), Value::Array(p));
        }
        Value::Object(m)
    }
}

fn text_of(kind: &ScheduleKind) -> Option<&str> {
    match kind {
        ScheduleKind::Interval { text, .. } => text.as_deref(),
        _ => None,
    }
}
