//! Commands (with their actions, retry and rate limits), policies and stores.

use super::expr::{static_value, type_value};
use super::{Lowerer, obj, put};
use crate::ast::{Command, Jitter, Policy, RateLimit, Retry, Store};
use crate::diagnostic::Diagnostic;
use crate::jsjson::{num, number_to_string};
use serde_json::{Map, Value, json};

impl Lowerer {
    pub(crate) fn command(
        &mut self,
        c: &Command,
        module: Option<&str>,
        entity: Option<&str>,
        default_policies: &[String],
    ) -> Value {
        self.validate_actions(c, entity);
        let constraints: Vec<Value> = c.constraints.iter().map(|k| self.constraint(k)).collect();
        if !c.constraints.is_empty() {
            let scope = match entity {
                Some(e) => format!("command '{e}.{}'", c.name),
                None => format!("command '{}'", c.name),
            };
            self.unique_codes(&constraints, &c.constraints, &scope);
        }
        let mut m = Map::new();
        m.insert("name".into(), json!(c.name));
        put(&mut m, "module", module.map(|s| json!(s)));
        put(&mut m, "entity", entity.map(|s| json!(s)));
        let params: Vec<Value> = c
            .parameters
            .iter()
            .map(|p| {
                let mut pm = Map::new();
                pm.insert("name".into(), json!(p.name));
                pm.insert("type".into(), type_value(&p.ty));
                pm.insert("required".into(), json!(p.required));
                put(
                    &mut pm,
                    "defaultValue",
                    p.default.as_ref().and_then(static_value),
                );
                put(
                    &mut pm,
                    "trustedSource",
                    p.trusted_source.as_ref().map(|s| json!(s)),
                );
                Value::Object(pm)
            })
            .collect();
        m.insert("parameters".into(), Value::Array(params));
        let guards: Vec<Value> = c.guards.iter().map(|g| self.expr(g)).collect();
        m.insert("guards".into(), Value::Array(guards));
        m.insert("constraints".into(), Value::Array(constraints));
        if !default_policies.is_empty() {
            m.insert("policies".into(), json!(default_policies));
        }
        if let Some(r) = &c.retry {
            let v = self.retry(r);
            m.insert("retry".into(), v);
        }
        if let Some(r) = &c.rate_limit {
            let v = self.rate_limit(r);
            m.insert("rateLimit".into(), v);
        }
        let actions: Vec<Value> = c
            .actions
            .iter()
            .map(|a| {
                let mut am = Map::new();
                am.insert("kind".into(), json!(a.kind));
                put(&mut am, "target", a.target.as_ref().map(|t| json!(t)));
                am.insert("expression".into(), self.expr(&a.expr));
                Value::Object(am)
            })
            .collect();
        m.insert("actions".into(), Value::Array(actions));
        m.insert("emits".into(), json!(c.emits));
        if !c.emit_payloads.is_empty() {
            let payloads: Vec<Value> = c
                .emit_payloads
                .iter()
                .map(|(event, fields)| {
                    let fields: Vec<Value> = fields
                        .iter()
                        .map(|(n, e)| obj! {"name" => n.as_str(), "expression" => self.expr(e)})
                        .collect();
                    obj! {"eventName" => event.as_str(), "fields" => fields}
                })
                .collect();
            m.insert("emitPayloads".into(), Value::Array(payloads));
        }
        put(&mut m, "returns", c.returns.as_ref().map(type_value));
        if c.is_async {
            m.insert("async".into(), json!(true));
            m.insert(
                "completionEvent".into(),
                json!(format!("{}Completed", c.name)),
            );
            m.insert("failureEvent".into(), json!(format!("{}Failed", c.name)));
        }
        Value::Object(m)
    }

    fn validate_actions(&mut self, c: &Command, entity: Option<&str>) {
        let props = entity.and_then(|e| self.entity_props.get(e)).cloned();
        for a in &c.actions {
            if a.kind == "emit" || a.kind == "publish" {
                let msg = match &a.target {
                    None => format!(
                        "EMIT_ACTION_UNKNOWN_EVENT: {k} action in command '{}' must name an event to {k}, e.g. '{k} SomeEvent'.",
                        c.name,
                        k = a.kind
                    ),
                    Some(t) if !self.declared_events.contains(t) => format!(
                        "EMIT_ACTION_UNKNOWN_EVENT: {} action in command '{}' targets event '{t}', which is not declared. Declare 'event {t} {{ ... }}' or reference an existing event.",
                        a.kind, c.name
                    ),
                    Some(_) => continue,
                };
                self.diag(Diagnostic::error(msg).at(a.pos));
            } else if a.kind == "compute"
                && let Some(t) = &a.target
                && props.as_ref().is_some_and(|p| p.contains(t))
            {
                self.diag(Diagnostic::warning(format!(
                    "COMPUTE_USED_AS_MUTATE: compute '{t}' in command '{}' assigns to a declared property but 'compute' no longer persists. Change 'compute' to 'mutate' to keep persisting '{t}', or keep 'compute' for an ephemeral local binding.",
                    c.name
                )).at(a.pos));
            }
        }
    }

    fn retry(&mut self, r: &Retry) -> Value {
        let max_attempts = r.max_attempts.unwrap_or(1.0);
        let backoff = r.backoff.clone().unwrap_or_else(|| "fixed".into());
        let delay_ms = r.delay_ms.or(r.delay).unwrap_or(0.0);
        if max_attempts < 1.0 {
            self.diag(Diagnostic::error(format!(
                "Retry maxAttempts must be >= 1, got {}",
                number_to_string(max_attempts)
            )));
        }
        if delay_ms < 0.0 {
            self.diag(Diagnostic::error(format!(
                "Retry delay must be >= 0, got {}",
                number_to_string(delay_ms)
            )));
        }
        let mut m = Map::new();
        m.insert("maxAttempts".into(), num(max_attempts));
        m.insert("backoff".into(), json!(backoff));
        m.insert("delayMs".into(), num(delay_ms));
        match r.jitter {
            Some(Jitter::Flag(b)) => {
                m.insert("jitter".into(), json!(b));
            }
            Some(Jitter::Amount(_)) => {
                m.insert("jitter".into(), json!(true));
            }
            None => {}
        }
        let mut retry_on: Vec<&String> = Vec::new();
        for code in &r.retry_on {
            if !retry_on.contains(&code) {
                retry_on.push(code);
            }
        }
        if !retry_on.is_empty() {
            m.insert("retryOn".into(), json!(retry_on));
        }
        Value::Object(m)
    }

    pub(crate) fn rate_limit(&mut self, r: &RateLimit) -> Value {
        let max = r.max_requests.unwrap_or(100.0);
        let window = r.window_ms.unwrap_or(60_000.0);
        let scope = r.scope.clone().unwrap_or_else(|| "global".into());
        if max < 1.0 {
            self.diag(Diagnostic::error(format!(
                "RateLimit maxRequests must be >= 1, got {}",
                number_to_string(max)
            )));
        }
        if window < 1.0 {
            self.diag(Diagnostic::error("RateLimit window must be >= 1ms"));
        }
        if !["user", "tenant", "global"].contains(&scope.as_str()) {
            self.diag(Diagnostic::error(format!(
                "RateLimit scope must be 'user', 'tenant', or 'global', got '{scope}'"
            )));
        }
        let mut m = Map::new();
        m.insert("maxRequests".into(), num(max));
        m.insert("windowMs".into(), num(window));
        m.insert("scope".into(), json!(scope));
        if let Some(b) = r.burst.filter(|b| *b >= 0.0) {
            m.insert("burstAllowance".into(), num(b));
        }
        Value::Object(m)
    }

    pub(crate) fn policy(
        &mut self,
        p: &Policy,
        module: Option<&str>,
        entity: Option<&str>,
    ) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(p.name));
        put(&mut m, "module", module.map(|s| json!(s)));
        put(&mut m, "entity", entity.map(|s| json!(s)));
        m.insert("action".into(), json!(p.action));
        m.insert("expression".into(), self.expr(&p.expr));
        if let Some(r) = &p.rate_limit {
            let v = self.rate_limit(r);
            m.insert("rateLimit".into(), v);
        }
        put(&mut m, "message", p.message.as_ref().map(|s| json!(s)));
        Value::Object(m)
    }

    pub(crate) fn store(&mut self, s: &Store) -> Value {
        let mut config = Map::new();
        for (k, v) in &s.config {
            if let Some(v) = static_value(v) {
                config.insert(k.clone(), v);
            }
        }
        obj! {"entity" => s.entity.as_str(), "target" => s.target.as_str(), "config" => config}
    }

    /// Completion and failure events for async commands, sorted, after the declared ones.
    pub(crate) fn synthesize_async_events(&mut self, commands: &[Value], events: &mut Vec<Value>) {
        let mut synthesized = Vec::new();
        for c in commands {
            if c["async"] != true {
                continue;
            }
            let name = c["name"].as_str().unwrap_or_default();
            for key in ["completionEvent", "failureEvent"] {
                let ev = c[key].as_str().unwrap_or_default();
                if self.declared_events.contains(ev) {
                    self.diag(Diagnostic::error(format!(
                        "Async command '{name}' auto-generates event '{ev}' which collides with a user-declared event of the same name."
                    )));
                }
            }
            let field = |n: &str, t: &str, nullable: bool, required: bool| json!({"name": n, "type": {"name": t, "nullable": nullable}, "required": required});
            synthesized.push(json!({
                "name": c["completionEvent"], "channel": format!("jobs.{name}"),
                "payload": [field("jobId", "string", false, true), field("result", "any", true, false), field("completedAt", "number", false, true)],
            }));
            synthesized.push(json!({
                "name": c["failureEvent"], "channel": format!("jobs.{name}"),
                "payload": [field("jobId", "string", false, true), field("error", "string", false, true), field("failedAt", "number", false, true)],
            }));
        }
        synthesized.sort_by(|a, b| {
            crate::jsjson::locale_compare(
                a["name"].as_str().unwrap_or_default(),
                b["name"].as_str().unwrap_or_default(),
            )
        });
        events.extend(synthesized);
    }
}
