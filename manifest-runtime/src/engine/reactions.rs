//! Reactions (`on <event> run <Entity>.<command>`): after a command's events, the commands
//! they trigger, in declaration order, in the same unit of work, as the reference runtime runs
//! them (`runtime-engine.ts`, "Execute matching reaction rules").

use std::future::Future;
use std::pin::Pin;

use super::commit::Records;
use super::*;
use crate::eval::Scope;

/// The reference's `MAX_REACTION_DEPTH`.
pub(super) const MAX_REACTION_DEPTH: u32 = 10;

/// The command whose events are being reacted to.
pub(super) struct Subject<'a> {
    pub(super) command: &'a str,
    pub(super) entity: Option<&'a str>,
    pub(super) instance: Option<&'a str>,
    pub(super) correlation: Option<&'a str>,
    /// The event that triggered this command, for a reaction's.
    pub(super) causation: Option<&'a str>,
}

/// What one reaction command did: its events (its own reactions' included) and effects, or
/// the failure that fails its parent (when reaction failures fail).
pub(super) struct Reacted {
    pub(super) events: Vec<EmittedEvent>,
    pub(super) effects: Vec<super::Effect>,
    pub(super) failure: Option<CommandResult>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Engine {
    /// Run the reactions to `events` (emitted by the command of `subject`, at reaction depth
    /// `depth`), in order of the events and then of the reactions' declaration.
    pub(super) fn react<'a>(
        &'a self,
        unit: &'a Unit,
        events: &'a [EmittedEvent],
        subject: &'a Subject<'a>,
        depth: u32,
        records: &'a mut Records,
    ) -> Boxed<'a, Result<Vec<Reacted>, Halt>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let reactions = &self.program.ir.reactions;
            if reactions.is_empty() {
                return Ok(out);
            }
            for event in events {
                for reaction in reactions.iter().filter(|r| r.event == event.name) {
                    let too_deep = || RuntimeError::ReactionDepth {
                        depth,
                        event: reaction.event.clone(),
                        command: format!("{}.{}", reaction.target_entity, reaction.target_command),
                    };
                    if depth >= MAX_REACTION_DEPTH {
                        return Err(too_deep().into());
                    }
                    let payload = self.reaction_payload(event, subject);
                    let mut scope = Scope::new();
                    scope.set("payload", payload.clone());
                    scope.set("self", payload);
                    let what =
                        |part: &str| format!("the {part} of the reaction to `{}`", reaction.event);
                    let related = Related::default();
                    let mut input = Object::new();
                    for param in &reaction.params {
                        let value =
                            self.eval(&param.expression, &scope, &related, || what("params"))?;
                        input.insert(param.name.clone(), value);
                    }
                    let targets: Vec<Option<String>> = if let Some(fan_out) = &reaction.fan_out {
                        let wanted =
                            self.eval(&fan_out.match_source, &scope, &related, || what("match"))?;
                        self.fan_out_targets(
                            unit,
                            &reaction.target_entity,
                            &fan_out.match_field,
                            &wanted,
                        )
                        .await?
                    } else if let Some(resolve) = &reaction.resolve {
                        let id = self.eval(resolve, &scope, &related, || what("resolve"))?;
                        if reaction.target_command == "create" {
                            if !input.contains_key("id")
                                && !matches!(id, Value::Null | Value::Undefined)
                            {
                                input.insert("id".to_owned(), Value::String(id.to_js_string()));
                            }
                            vec![None]
                        } else {
                            vec![Some(id.to_js_string())]
                        }
                    } else {
                        continue;
                    };
                    for target in targets {
                        let reacted = self
                            .run_reaction(
                                unit,
                                reaction,
                                &input,
                                target,
                                subject,
                                event,
                                depth + 1,
                                records,
                            )
                            .await?;
                        out.push(reacted);
                    }
                }
            }
            Ok(out)
        })
    }

    /// The event as a reaction's expressions see it: its payload with `id` (the subject's,
    /// when the payload has none), `_subject`, `_eventName` and `_channel`.
    fn reaction_payload(&self, event: &EmittedEvent, subject: &Subject<'_>) -> Value {
        let mut payload = Value::from(&Json::Object(event.payload.clone()));
        let mut subject_value = Object::new();
        subject_value.insert(
            "command".to_owned(),
            Value::String(subject.command.to_owned()),
        );
        if let Some(entity) = subject.entity {
            subject_value.insert("entity".to_owned(), Value::String(entity.to_owned()));
        }
        if let Some(id) = subject.instance {
            subject_value.insert("id".to_owned(), Value::String(id.to_owned()));
        }
        if let Value::Object(fields) = &mut payload {
            if !fields.contains_key("id")
                && let Some(id) = subject.instance
            {
                fields.insert("id".to_owned(), Value::String(id.to_owned()));
            }
            fields.insert("_subject".to_owned(), Value::Object(subject_value));
            fields.insert("_eventName".to_owned(), Value::String(event.name.clone()));
            fields.insert("_channel".to_owned(), Value::String(event.channel.clone()));
        }
        payload
    }

    /// The ids of the instances of `entity` whose `field` is `wanted`, in id order.
    async fn fan_out_targets(
        &self,
        unit: &Unit,
        entity: &str,
        field: &str,
        wanted: &Value,
    ) -> Result<Vec<Option<String>>, Halt> {
        let index = self.index_of(entity)?;
        let Some(json) = wanted.to_json() else {
            return Ok(Vec::new());
        };
        let rows = self
            .rows_in(unit, index)
            .find_by(entity, field, &json)
            .await?;
        Ok(rows
            .iter()
            .filter(|row| fields(row).get(field).is_some_and(|v| v.strict_eq(wanted)))
            .map(|row| fields(row).get("id").map(Value::to_js_string))
            .collect())
    }

    /// Run one reaction command in `unit`, then its own reactions. A failed command is
    /// recorded (audit) and, unless reaction failures fail, leaves its parent as it is.
    #[allow(clippy::too_many_arguments)]
    async fn run_reaction(
        &self,
        unit: &Unit,
        reaction: &crate::ir::IrReaction,
        input: &Object,
        instance: Option<String>,
        parent: &Subject<'_>,
        event: &EmittedEvent,
        depth: u32,
        records: &mut Records,
    ) -> Result<Reacted, Halt> {
        let options = CommandOptions {
            entity_name: Some(reaction.target_entity.clone()),
            instance_id: instance,
            correlation_id: parent.correlation.map(str::to_owned),
            source: Some("reaction".to_owned()),
            ..CommandOptions::default()
        };
        let index = self
            .program
            .entities
            .get(reaction.target_entity.as_str())
            .copied();
        let name = reaction.target_command.as_str();
        let mut related = Related::default();
        let outcome = self
            .run_resolved(unit, name, input, &options, index, &mut true, &mut related)
            .await;
        let mut result = match outcome {
            Ok(result) => result,
            Err(Halt::Result(failed)) => {
                if self.write.inner.audit.is_some() {
                    records
                        .audit
                        .push(self.audit_record(name, &options, &failed, "reaction"));
                }
                let failure = self.write.inner.reaction_failures_fail.then(|| {
                    CommandResult::failure(format!(
                        "Reaction to event '{}' failed: command '{}.{name}': {}",
                        event.name,
                        reaction.target_entity,
                        failed.error.as_deref().unwrap_or("failed")
                    ))
                });
                return Ok(Reacted {
                    events: Vec::new(),
                    effects: Vec::new(),
                    failure,
                });
            }
            Err(halt) => return Err(halt),
        };
        let created = super::commit::created_id(&result);
        let subject = Subject {
            command: name,
            entity: options.entity_name.as_deref(),
            instance: options.instance_id.as_deref().or(created.as_deref()),
            correlation: parent.correlation,
            causation: Some(&event.name),
        };
        self.enqueue_events(&subject, &result.emitted_events, records);
        let mut events = std::mem::take(&mut result.emitted_events);
        let mut effects = std::mem::take(&mut result.effects);
        let own = events.clone();
        for nested in self.react(unit, &own, &subject, depth, records).await? {
            if nested.failure.is_some() {
                return Ok(nested);
            }
            events.extend(nested.events);
            effects.extend(nested.effects);
        }
        Ok(Reacted {
            events,
            effects,
            failure: None,
        })
    }
}
