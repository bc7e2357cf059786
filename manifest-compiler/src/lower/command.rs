//! Commands (with their actions, retry and rate limits), policies and stores.

use super::Lowerer;
use super::expr::{num, static_json, static_value, type_value};
use crate::ast::{Command, Jitter, Policy, RateLimit, Retry, Store};
use crate::diagnostic::Diagnostic;
use manifest_ir::js::number_to_string;
use manifest_ir::{
    ActionKind, EventPayload, IrAction, IrCommand, IrConstraint, IrEmitPayload, IrEmitPayloadField,
    IrEvent, IrEventField, IrParameter, IrPolicy, IrRateLimit, IrStore, IrType, PolicyAction,
    RateLimitScope,
};
use serde_json::{Map, Value};

impl Lowerer {
    pub(crate) fn command(
        &mut self,
        c: &Command,
        module: Option<&str>,
        entity: Option<&str>,
        default_policies: &[String],
    ) -> IrCommand {
        self.validate_actions(c, entity);
        let constraints: Vec<IrConstraint> =
            c.constraints.iter().map(|k| self.constraint(k)).collect();
        if !c.constraints.is_empty() {
            let scope = match entity {
                Some(e) => format!("command '{e}.{}'", c.name),
                None => format!("command '{}'", c.name),
            };
            self.unique_codes(&constraints, &scope);
        }
        let parameters = c
            .parameters
            .iter()
            .map(|p| IrParameter {
                default_value: p.default.as_ref().and_then(static_value),
                name: p.name.clone(),
                required: p.required,
                trusted_source: p.trusted_source.clone(),
                ty: type_value(&p.ty),
            })
            .collect();
        let guards = c.guards.iter().map(|g| self.expr(g)).collect();
        let retry = c.retry.as_ref().map(|r| self.retry(r));
        let rate_limit = c.rate_limit.as_ref().map(|r| self.rate_limit(r));
        let actions = c
            .actions
            .iter()
            .filter_map(|a| {
                let expression = self.expr(&a.expr);
                let kind = self.action_kind(&a.kind)?;
                Some(IrAction {
                    expression,
                    kind,
                    target: a.target.clone(),
                })
            })
            .collect();
        let emit_payloads = c
            .emit_payloads
            .iter()
            .map(|(event, fields)| IrEmitPayload {
                event_name: event.clone(),
                fields: fields
                    .iter()
                    .map(|(n, e)| IrEmitPayloadField {
                        expression: self.expr(e),
                        name: n.clone(),
                    })
                    .collect(),
            })
            .collect();
        let (completion_event, failure_event) = if c.is_async {
            (
                Some(format!("{}Completed", c.name)),
                Some(format!("{}Failed", c.name)),
            )
        } else {
            (None, None)
        };
        IrCommand {
            actions,
            is_async: c.is_async,
            completion_event,
            constraints,
            emit_payloads,
            emits: c.emits.clone(),
            entity: entity.map(String::from),
            failure_event,
            guards,
            initialization: None,
            module: module.map(String::from),
            name: c.name.clone(),
            parameters,
            policies: default_policies.to_vec(),
            rate_limit,
            retry,
            returns: c.returns.as_ref().map(type_value),
        }
    }

    fn action_kind(&mut self, kind: &str) -> Option<ActionKind> {
        let found = ActionKind::from_name(kind);
        if found.is_none() {
            self.diag(Diagnostic::error(format!(
                "{}: action kind '{kind}' has no IR form",
                crate::INTERNAL_ERROR
            )));
        }
        found
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
        m.insert("backoff".into(), Value::from(backoff));
        m.insert("delayMs".into(), num(delay_ms));
        match r.jitter {
            Some(Jitter::Flag(b)) => {
                m.insert("jitter".into(), Value::Bool(b));
            }
            Some(Jitter::Amount(_)) => {
                m.insert("jitter".into(), Value::Bool(true));
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
            m.insert(
                "retryOn".into(),
                Value::Array(
                    retry_on
                        .into_iter()
                        .map(|c| Value::from(c.as_str()))
                        .collect(),
                ),
            );
        }
        Value::Object(m)
    }

    pub(crate) fn rate_limit(&mut self, r: &RateLimit) -> IrRateLimit {
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
        let scope = RateLimitScope::from_name(&scope).unwrap_or_else(|| {
            self.diag(Diagnostic::error(format!(
                "RateLimit scope must be 'user', 'tenant', or 'global', got '{scope}'"
            )));
            RateLimitScope::Global
        });
        IrRateLimit {
            burst_allowance: r.burst.filter(|b| *b >= 0.0),
            max_requests: max,
            scope,
            window_ms: window,
        }
    }

    pub(crate) fn policy(
        &mut self,
        p: &Policy,
        module: Option<&str>,
        entity: Option<&str>,
    ) -> IrPolicy {
        let action = PolicyAction::from_name(&p.action).unwrap_or_else(|| {
            self.diag(Diagnostic::error(format!(
                "{}: policy action '{}' has no IR form",
                crate::INTERNAL_ERROR,
                p.action
            )));
            PolicyAction::All
        });
        IrPolicy {
            action,
            entity: entity.map(String::from),
            expression: self.expr(&p.expr),
            message: p.message.clone(),
            module: module.map(String::from),
            name: p.name.clone(),
            rate_limit: p.rate_limit.as_ref().map(|r| self.rate_limit(r)),
        }
    }

    pub(crate) fn store(&mut self, s: &Store) -> IrStore {
        let mut config = Map::new();
        for (k, v) in &s.config {
            if let Some(v) = static_json(v) {
                config.insert(k.clone(), v);
            }
        }
        IrStore {
            config: Value::Object(config),
            entity: s.entity.clone(),
            target: s.target.clone(),
        }
    }

    /// Completion and failure events for async commands, sorted, after the declared ones.
    pub(crate) fn synthesize_async_events(
        &mut self,
        commands: &[IrCommand],
        events: &mut Vec<IrEvent>,
    ) {
        let mut synthesized = Vec::new();
        for c in commands.iter().filter(|c| c.is_async) {
            let name = &c.name;
            let completion = c.completion_event.clone().unwrap_or_default();
            let failure = c.failure_event.clone().unwrap_or_default();
            for ev in [&completion, &failure] {
                if self.declared_events.contains(ev.as_str()) {
                    self.diag(Diagnostic::error(format!(
                        "Async command '{name}' auto-generates event '{ev}' which collides with a user-declared event of the same name."
                    )));
                }
            }
            let field = |n: &str, t: &str, nullable: bool, required: bool| IrEventField {
                name: n.into(),
                required,
                ty: IrType {
                    name: t.into(),
                    nullable,
                    ..IrType::default()
                },
            };
            let channel = format!("jobs.{name}");
            synthesized.push(IrEvent {
                channel: channel.clone(),
                name: completion,
                payload: EventPayload::Fields(vec![
                    field("jobId", "string", false, true),
                    field("result", "any", true, false),
                    field("completedAt", "number", false, true),
                ]),
            });
            synthesized.push(IrEvent {
                channel,
                name: failure,
                payload: EventPayload::Fields(vec![
                    field("jobId", "string", false, true),
                    field("error", "string", false, true),
                    field("failedAt", "number", false, true),
                ]),
            });
        }
        synthesized.sort_by(|a, b| manifest_ir::js::locale_compare(&a.name, &b.name));
        events.extend(synthesized);
    }
}
