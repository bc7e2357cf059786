//! Running commands: parameters, policies, command constraints, guards, actions on a working
//! copy, the conditional flush and the emitted events.

use std::borrow::Cow;

/// The command name that creates an instance when it is run without one.
pub(super) const CREATE: &str = "create";

use super::*;

impl Engine {
    // ── commands ───────────────────────────────────────────────────────────────────────

    pub(super) fn conflict(
        &self,
        entity: &str,
        id: &str,
        attempts: u32,
        written: bool,
    ) -> RuntimeError {
        RuntimeError::Conflict {
            entity: entity.to_owned(),
            id: id.to_owned(),
            attempts,
            written,
        }
    }

    /// Run a command in `unit` until it has every row of the relationships it reads: after a
    /// run that missed some, they are fetched and it runs again, whatever it decided without
    /// them dropped (see `relations`). A miss after a `persist` wrote ends it with
    /// `Changed { written: true }`, which rolls the attempt back. Rate limits are counted on
    /// the first run only (`first` is cleared).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_resolved(
        &self,
        unit: &Unit,
        name: &str,
        input: &Object,
        options: &CommandOptions,
        index: Option<usize>,
        first: &mut bool,
        related: &mut Related,
    ) -> Result<CommandResult, Halt> {
        loop {
            let outcome = self
                .run_command_once(unit, name, input, options, index, *first, related)
                .await;
            *first = false;
            if related.fetch(self, unit).await? {
                if let Err(Halt::Changed { written: true }) = outcome {
                    return Err(Halt::Changed { written: true });
                }
                continue;
            }
            match outcome {
                Err(Halt::Refetch) => continue,
                other => return other,
            }
        }
    }

    /// One run of a command in `unit` (an attempt runs it again when it missed rows of a
    /// relationship).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_command_once(
        &self,
        unit: &Unit,
        name: &str,
        input: &Object,
        options: &CommandOptions,
        index: Option<usize>,
        count_rate: bool,
        related: &mut Related,
    ) -> Result<CommandResult, Halt> {
        let entity_name = options.entity_name.as_deref();
        let found = self.program.command_index(name, entity_name);
        let Some(command_index) = found else {
            return Err(Halt::result(CommandResult::failure(format!(
                "Command '{name}' not found"
            ))));
        };
        let command = &self.program.ir.commands[command_index];
        // Parameters: defaults for absent ones, then the required check.
        let mut input = Cow::Borrowed(input);
        for param in &command.parameters {
            if matches!(input.get(&param.name), None | Some(Value::Undefined)) {
                if let Some(default) = &param.default_value {
                    input
                        .to_mut()
                        .insert(param.name.clone(), crate::value::Value::from(default));
                } else if param.required {
                    return Err(Halt::result(CommandResult::failure(format!(
                        "MISSING_REQUIRED_PARAMETER: command '{name}' requires parameter '{}'",
                        param.name
                    ))));
                }
            }
        }
        let index = match (entity_name, index) {
            (Some(e), None) => return Err(RuntimeError::UnknownEntity(e.to_owned()).into()),
            (_, index) => index,
        };
        // `create` without an instance creates one (the reference's auto-create): the command
        // sees the new instance as `self` and its input with the instance's `id`; the instance
        // is stored once the guards pass, then the actions change it.
        let creates = match (index, &options.instance_id) {
            (Some(i), None) if name == CREATE => Some(i),
            _ => None,
        };
        let payload_input = input.clone();
        let read = match (index, entity_name, &options.instance_id, creates) {
            (Some(i), Some(e), Some(id), _) => self.rows_in(unit, i).get(e, id).await?,
            (_, _, _, Some(i)) => {
                let entity = &self.program.ir.entities[i];
                let id = match input.get("id") {
                    Some(Value::String(id)) if !id.is_empty() => id.clone(),
                    _ => self.ids.generate_string(),
                };
                let mut data = input.clone().into_owned();
                data.insert("id".to_owned(), Value::String(id));
                let mut prepared = self.prepare_create(entity, data);
                let id = prepared.get("id").cloned().unwrap_or(Value::Undefined);
                input.to_mut().insert("id".to_owned(), id);
                prepared.insert(ENTITY_KEY.to_owned(), Value::String(entity.name.clone()));
                Some(rows::Read::new(Arc::new(Value::Object(prepared))))
            }
            _ => None,
        };
        if read.is_none()
            && options.require_instance
            && let (Some(entity), Some(id)) = (entity_name, &options.instance_id)
        {
            return Err(RuntimeError::NotFound {
                entity: entity.to_owned(),
                id: id.clone(),
            }
            .into());
        }
        // The relationships the command names, fetched before it first runs (once per
        // attempt; whatever else it reads is fetched on demand).
        if let (Some(i), Some(read)) = (index, &read)
            && related.is_empty()
        {
            let names = self.program.prefetch_of(command_index);
            if !names.is_empty() {
                let entity = &self.program.ir.entities[i].name;
                for relationship in names {
                    let _ = self.resolve_relationship(
                        related,
                        entity,
                        fields(&read.this),
                        relationship,
                    );
                }
                related.fetch(self, unit).await?;
            }
        }
        let related: &Related = related;
        // Actions work on this copy (`self`/`this`, shared with the row as read until the
        // first change), written in one store update at the end.
        let mut working = Working::new(read);
        let mut computed = Object::new();
        let scope = self.scope_over(working.this_value(entity_name), &input, &computed);

        // The command's rate limit, then its policies (each with its own rate limit first).
        if count_rate
            && let Some(limit) = &command.rate_limit
            && let Some(denial) = self.rate_limit_denial(limit, None)
        {
            return Err(Halt::result(CommandResult {
                error: Some(format!(
                    "Rate limit exceeded for scope {}",
                    denial.scope_key
                )),
                rate_limit_denial: Some(denial),
                ..CommandResult::default()
            }));
        }
        for policy in self.program.policies_of(command_index) {
            let limited = count_rate
                && policy
                    .rate_limit
                    .as_ref()
                    .and_then(|limit| self.rate_limit_denial(limit, Some(&policy.name)))
                    .is_some();
            let what = || format!("policy `{}`", policy.name);
            if limited || !self.eval_truthy(&policy.expression, &scope, related, what)? {
                let message = policy.message.clone().unwrap_or_else(|| {
                    if limited {
                        format!("Rate limit exceeded for policy '{}'", policy.name)
                    } else {
                        format!("Denied by policy '{}'", policy.name)
                    }
                });
                return Err(Halt::result(CommandResult {
                    error: Some(message.clone()),
                    denied_by: Some(policy.name.clone()),
                    policy_denial: Some(PolicyDenial {
                        policy_name: policy.name.clone(),
                        formatted: policy.expression.to_string(),
                        message,
                        resolved: if limited {
                            Vec::new()
                        } else {
                            self.resolved_values(&policy.expression, &scope, related)
                        },
                    }),
                    ..CommandResult::default()
                }));
            }
        }

        // Command constraints (after policies, before guards).
        let mut emitted = Vec::new();
        let mut outcomes = Vec::new();
        for constraint in &command.constraints {
            let mut outcome = self.constraint(constraint, &scope, related)?;
            if !outcome.passed && constraint.overrideable {
                // An explicit request first, then the override policy on its own.
                if let Some(request) = options
                    .override_requests
                    .iter()
                    .find(|r| constraint.code.as_deref() == Some(r.constraint_code.as_str()))
                    && self.override_authorized(constraint, request, &scope, related)?
                {
                    outcome.overridden = true;
                    outcome.overridden_by = Some(request.authorized_by.clone());
                    let by = Json::String(request.authorized_by.clone());
                    emitted.push(self.override_event(
                        constraint,
                        &request.reason,
                        by,
                        name,
                        options,
                    ));
                }
                if !outcome.overridden
                    && let Some(policy) = constraint
                        .override_policy_ref
                        .as_deref()
                        .and_then(|p| self.program.ir.policy(p))
                    && policy.action == PolicyAction::Override
                {
                    let what = || format!("override policy `{}`", policy.name);
                    if self.eval_truthy(&policy.expression, &scope, related, what)? {
                        outcome.overridden = true;
                        outcome.overridden_by = Some(format!("policy:{}", policy.name));
                        let by = match &self.user {
                            Value::Object(user) => user.get("id").and_then(Value::to_json),
                            _ => None,
                        }
                        .unwrap_or_else(|| Json::String(format!("policy:{}", policy.name)));
                        let reason = format!("Auto-authorized by policy '{}'", policy.name);
                        emitted.push(self.override_event(constraint, &reason, by, name, options));
                    }
                }
            }
            let blocks =
                !outcome.passed && !outcome.overridden && outcome.severity == Severity::Block;
            let message = outcome.message.clone();
            let constraint_name = outcome.constraint_name.clone();
            outcomes.push(outcome);
            if blocks {
                return Err(Halt::result(CommandResult {
                    error: Some(message.unwrap_or_else(|| {
                        format!("Command blocked by constraint '{constraint_name}'")
                    })),
                    constraint_outcomes: outcomes,
                    ..CommandResult::default()
                }));
            }
        }

        // Guards, in order.
        for (i, guard) in command.guards.iter().enumerate() {
            let what = || format!("guard {} of command `{name}`", i + 1);
            if !self.eval_truthy(guard, &scope, related, what)? {
                return Err(Halt::result(CommandResult {
                    error: Some(format!("Guard condition failed for command '{name}'")),
                    guard_failure: Some(GuardFailure {
                        index: i + 1,
                        formatted: guard.to_string(),
                        resolved: self.resolved_values(guard, &scope, related),
                    }),
                    ..CommandResult::default()
                }));
            }
        }

        drop(scope);

        let created_id = match creates {
            Some(i) => {
                // Nothing is stored that was decided without every row it read.
                if related.missed() {
                    return Err(Halt::Refetch);
                }
                let (read, id) = self.create_for_command(unit, i, command, &working).await?;
                working = Working::new(Some(read));
                // A new instance's version is 1; the command's changes do not bump it.
                working.version_bumped = true;
                // Written: a later miss of a relationship rolls the attempt back, not reruns it.
                working.written = true;
                Some(id)
            }
            None => None,
        };

        // Actions.
        let target = match (
            index,
            options.instance_id.as_deref().or(created_id.as_deref()),
        ) {
            (Some(index), Some(id)) => Some((index, id)),
            _ => None,
        };
        let mut result = Value::Undefined;
        let mut effects = Vec::new();
        for (i, action) in command.actions.iter().enumerate() {
            let what = || format!("action {} of command `{name}`", i + 1);
            let value = {
                let scope = self.scope_over(working.this_value(entity_name), &input, &computed);
                self.eval(&action.expression, &scope, related, what)?
            };
            match action.kind {
                ActionKind::Mutate => {
                    if let (Some(field), Some((index, id))) = (&action.target, target) {
                        let entity = &self.program.ir.entities[index];
                        let mut data = Object::new();
                        data.insert(field.clone(), value.clone());
                        self.mutate(entity, id, &mut working, data, true, related)?;
                        // After a mutate the reference spreads the instance, then the input,
                        // over the bindings: one named like a field or a parameter (or `self`,
                        // `this`) is hidden again; any other stays for the later actions.
                        // Asked of the working copy without applying its patch, which would
                        // copy a row the store still holds.
                        if !computed.is_empty() && working.this.is_some() {
                            computed.retain(|name, _| {
                                !working.has_field(name)
                                    && !input.contains_key(name)
                                    && name != "self"
                                    && name != "this"
                            });
                        }
                    }
                }
                ActionKind::Compute => {
                    if let Some(binding) = &action.target {
                        computed.insert(binding.clone(), value.clone());
                    }
                }
                ActionKind::Persist => {
                    // Nothing is written that was decided without every row it read.
                    if related.missed() {
                        return Err(Halt::Refetch);
                    }
                    if let Some((index, id)) = target {
                        self.flush(unit, index, id, &mut working).await?;
                    }
                }
                ActionKind::Emit | ActionKind::Publish => {
                    if action.kind == ActionKind::Publish && self.write.outbox().is_none() {
                        return Err(Halt::result(CommandResult::failure(format!(
                            "MISSING_OUTBOX_STORE: publish action in command '{name}' requires RuntimeOptions.outboxStore, but none is configured"
                        ))));
                    }
                    let event = action.target.as_deref().unwrap_or("action_event");
                    let payload = match value.to_json() {
                        Some(Json::Object(map)) => map,
                        None | Some(Json::Null) => Map::new(),
                        Some(other) => Map::from_iter([("result".to_owned(), other)]),
                    };
                    emitted.push(self.event(event, payload));
                }
                ActionKind::Effect => {
                    if self.write.inner.effects.is_none() {
                        return Err(Halt::result(CommandResult::failure(format!(
                            "MISSING_EFFECT_HANDLER: effect action in command '{name}' requires RuntimeOptions.effectHandler, but none is configured"
                        ))));
                    }
                    effects.push(Effect {
                        name: action.target.clone(),
                        value: value.to_json().unwrap_or(Json::Null),
                        command: name.to_owned(),
                        entity: options.entity_name.clone(),
                        instance_id: options.instance_id.clone(),
                        tenant: self.tenant_id.clone().unwrap_or_default(),
                    });
                }
            }
            result = value;
        }
        // The events' declared payload fields (`emit E { f: expr }`), evaluated after the
        // actions, as the reference does, but before the write, so one that fails writes nothing.
        let mut declared = Vec::with_capacity(command.emits.len());
        for event in &command.emits {
            let mut fields = Vec::new();
            if let Some(spec) = command
                .emit_payloads
                .iter()
                .find(|p| &p.event_name == event)
            {
                let scope = self.scope_over(working.this_value(entity_name), &input, &computed);
                for field in &spec.fields {
                    let what = || format!("payload field `{}` of event `{event}`", field.name);
                    let value = self.eval(&field.expression, &scope, related, what)?;
                    fields.push((&field.name, value.to_json()));
                }
            }
            declared.push(fields);
        }
        if related.missed() {
            // A persist may have written: then the command cannot run again.
            return Err(if working.written {
                Halt::Changed { written: true }
            } else {
                Halt::Refetch
            });
        }
        if let Some((index, id)) = target {
            self.flush(unit, index, id, &mut working).await?;
        }

        // A created instance is the command's result, as it stands after the actions.
        let instance = created_id.map(|_| Json::Object(row_json(working.this_value(entity_name))));
        // Events: `{...input, result}`, then the declared fields (an undefined one is absent).
        let result_json = instance.clone().or_else(|| result.to_json());
        for (event, fields) in command.emits.iter().zip(declared) {
            let mut payload = json_object(&payload_input);
            if let Some(result) = &result_json {
                payload.insert("result".to_owned(), result.clone());
            }
            for (name, value) in fields {
                match value {
                    Some(json) => payload.insert(name.clone(), json),
                    None => payload.remove(name),
                };
            }
            emitted.push(self.event(event, payload));
        }
        Ok(CommandResult {
            success: true,
            result: result_json,
            instance,
            emitted_events: emitted,
            effects,
            ..CommandResult::default()
        })
    }

    pub(super) fn event(&self, name: &str, payload: Map<String, Json>) -> EmittedEvent {
        let channel = self
            .program
            .ir
            .events
            .iter()
            .find(|e| e.name == name)
            .map_or(name, |e| e.channel.as_str());
        EmittedEvent {
            name: name.to_owned(),
            channel: channel.to_owned(),
            payload,
            timestamp: self.now_value().to_json().unwrap_or(Json::Null),
        }
    }

    /// Whether `request` may override `constraint`: its override policy, evaluated with
    /// `_override` bound to the request, or, without one, the context's user being an admin
    /// (the reference's `validateOverrideAuthorization`).
    fn override_authorized(
        &self,
        constraint: &IrConstraint,
        request: &OverrideRequest,
        scope: &Scope<'_>,
        related: &Related,
    ) -> Result<bool, RuntimeError> {
        let Some(policy) = constraint
            .override_policy_ref
            .as_deref()
            .and_then(|p| self.program.ir.policy(p))
        else {
            return Ok(self.context_role() == Some("admin"));
        };
        let mut request_value = Object::new();
        if let Some(code) = &constraint.code {
            request_value.insert("constraintCode".to_owned(), Value::String(code.clone()));
        }
        request_value.insert(
            "constraintName".to_owned(),
            Value::String(constraint.name.clone()),
        );
        request_value.insert("reason".to_owned(), Value::String(request.reason.clone()));
        request_value.insert(
            "authorizedBy".to_owned(),
            Value::String(request.authorized_by.clone()),
        );
        let mut with_request = scope.child();
        with_request.set("_override", Value::Object(request_value));
        let what = || format!("override policy `{}`", policy.name);
        self.eval_truthy(&policy.expression, &with_request, related, what)
    }

    /// The `OverrideApplied` event of an override of `constraint` in `command`.
    pub(super) fn override_event(
        &self,
        constraint: &IrConstraint,
        reason: &str,
        authorized_by: Json,
        command: &str,
        options: &CommandOptions,
    ) -> EmittedEvent {
        let now = self.now_value().to_json().unwrap_or(Json::Null);
        let mut payload = Map::new();
        if let Some(code) = &constraint.code {
            payload.insert("constraintCode".to_owned(), Json::String(code.clone()));
        }
        payload.insert("reason".to_owned(), Json::String(reason.to_owned()));
        payload.insert("authorizedBy".to_owned(), authorized_by);
        payload.insert("timestamp".to_owned(), now.clone());
        payload.insert("commandName".to_owned(), Json::String(command.to_owned()));
        if let Some(entity) = &options.entity_name {
            payload.insert("entityName".to_owned(), Json::String(entity.clone()));
        }
        if let Some(id) = &options.instance_id {
            payload.insert("instanceId".to_owned(), Json::String(id.clone()));
        }
        EmittedEvent {
            name: "OverrideApplied".to_owned(),
            channel: "system".to_owned(),
            payload,
            timestamp: now,
        }
    }
}

impl Engine {
    /// Store the instance a `create` command prepared (`working`'s), once its guards passed,
    /// with the reference's checks: each required property given, defaulted, managed or set
    /// by the command's actions (`E_REQUIRED` otherwise), and no blocking entity constraint.
    /// The instance as stored, and its id.
    async fn create_for_command(
        &self,
        unit: &Unit,
        index: usize,
        command: &crate::ir::IrCommand,
        working: &Working,
    ) -> Result<(rows::Read, String), Halt> {
        let entity = &self.program.ir.entities[index];
        let Some(this) = &working.this else {
            return Err(RuntimeError::UnknownEntity(entity.name.clone()).into());
        };
        let mut data = fields(this).clone();
        let produced = |name: &str| {
            command.actions.iter().any(|a| {
                a.target.as_deref() == Some(name)
                    && matches!(
                        a.kind,
                        ActionKind::Mutate | ActionKind::Compute | ActionKind::Persist
                    )
            })
        };
        let mut outcomes: Vec<ConstraintOutcome> = required_outcomes(entity, &data, produced);
        outcomes.extend(
            self.resolving(unit, |related| {
                self.failed_constraints(entity, &data, related)
            })
            .await?,
        );
        if let Some(blocking) = outcomes.iter().find(|o| is_blocking(o)) {
            let error = blocking.message.clone().unwrap_or_else(|| {
                format!(
                    "Command blocked by constraint '{}'",
                    blocking.constraint_name
                )
            });
            return Err(Halt::result(CommandResult {
                error: Some(error),
                constraint_outcomes: outcomes,
                ..CommandResult::default()
            }));
        }
        data.remove(ENTITY_KEY);
        let id = data.get("id").map(Value::to_js_string).unwrap_or_default();
        let rows = self.rows_in(unit, index);
        let read = rows.create(&entity.name, data).await?;
        unit.created(index, &id, read.clone());
        Ok((read, id))
    }
}
