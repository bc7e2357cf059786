//! A command call as a unit of work: its attempts, each in one [`Unit`] (a transaction on
//! SQL), the idempotency check before and the outbox entries, idempotency record and audit
//! record written inside it, then the commit, the listeners and the effects.

use super::reactions::Subject;
use super::write_path::fingerprint;
use super::*;
use manifest_core::{
    AuditOutcome, AuditRecord, CommandRecords, IdempotencyRecord, IdempotencyStore, OutboxEntry,
    RecordsError,
};

/// The idempotency of one call: its key, store and request fingerprint.
struct Keyed<'a> {
    key: &'a str,
    store: &'a Arc<dyn IdempotencyStore>,
    fingerprint: String,
}

/// How an attempt ended well.
enum Step {
    /// The command ran; commit.
    Done(Box<CommandResult>),
    /// An earlier call with the key answered: nothing ran.
    Replay(Box<CommandResult>),
}

/// What a call wrote besides its state, gathered while it ran: the outbox entries of every
/// event (its reactions' included) and the audit records of failed reactions.
#[derive(Default)]
pub(super) struct Records {
    pub(super) entries: Vec<OutboxEntry>,
    pub(super) audit: Vec<AuditRecord>,
}

impl Engine {
    // ── commands ───────────────────────────────────────────────────────────────────────

    /// Run a command: parameters, policies, command constraints, guards in order, actions,
    /// then the emitted events and the reactions they trigger. A command that fails writes
    /// nothing and emits nothing.
    ///
    /// Each attempt is one unit of work (see [The write path](Self#the-write-path)): on a SQL
    /// database, one transaction holding its reads, its writes, its reactions' writes, its
    /// outbox entries, its idempotency record and its audit record. When another writer
    /// changes the instance between the command's read and its write, the attempt rolls back
    /// and the command runs again from a fresh read (see
    /// [Concurrent commands](Self#concurrent-commands)); after
    /// [`COMMAND_ATTEMPTS`](Self::COMMAND_ATTEMPTS) attempts it fails with
    /// [`RuntimeError::Conflict`].
    pub async fn run_command(
        &self,
        name: &str,
        input: Map<String, Json>,
        options: CommandOptions,
    ) -> Result<CommandResult, RuntimeError> {
        let outcome = self.run_command_call(name, input, &options).await;
        let audited = matches!(&outcome, Ok((_, true)));
        if !audited && let Some(sink) = &self.write.inner.audit {
            // Failures (and replays) are recorded after the rollback, on their own.
            let record = match &outcome {
                Ok((result, _)) => {
                    let mut record = self.audit_record(name, &options, result, "run_command");
                    if result.success {
                        // A success not audited in its transaction: an idempotent replay.
                        record.diagnostics = serde_json::json!({ "idempotentReplay": true });
                    }
                    record
                }
                Err(e) => self.audit_error(name, &options, e),
            };
            // In a transaction of its own for the tenant, so that row-level security lets it in.
            let written = async {
                let unit = self.begin(false).await?;
                sink.record(unit.tx(), std::slice::from_ref(&record))
                    .await
                    .map_err(RuntimeError::Audit)?;
                unit.commit().await
            };
            if let Err(e) = written.await {
                tracing::error!(target: "manifest::audit", error = %e, command = name, "the audit record of a failed command could not be written");
            }
        }
        outcome.map(|(result, _)| result)
    }

    /// [`run_command`](Self::run_command) but the audit record of a failure: the result and
    /// whether its audit record is written.
    async fn run_command_call(
        &self,
        name: &str,
        input: Map<String, Json>,
        options: &CommandOptions,
    ) -> Result<(CommandResult, bool), RuntimeError> {
        let write = self.write.inner.clone();
        let tenant = self.tenant_id.as_deref().unwrap_or("");
        let keyed = match (&options.idempotency_key, &write.idempotency) {
            (None, _) => None,
            (Some(_), None) => return Err(RuntimeError::IdempotencyNotConfigured),
            (Some(key), Some(store)) => Some(Keyed {
                key,
                store,
                fingerprint: fingerprint(
                    name,
                    options.entity_name.as_deref(),
                    options.instance_id.as_deref(),
                    &input,
                ),
            }),
        };
        // Calls with one key in this process run one at a time: a duplicate waits for the
        // first and then finds its record.
        let _flight = match &keyed {
            Some(keyed) => Some(write.flights.enter(tenant, keyed.key).await),
            None => None,
        };
        let target = match (&options.entity_name, &options.instance_id) {
            (Some(entity), Some(id)) => Some((entity.as_str(), id.as_str())),
            _ => None,
        };
        // An unknown entity finds no command: the attempt reports that.
        let index = match &options.entity_name {
            Some(e) => self.program.entities.get(e.as_str()).copied(),
            None => None,
        };
        let _lock = match (index, &options.instance_id) {
            (Some(index), Some(id)) => Some(self.lock(index, id).await),
            _ => None,
        };
        let input = limits::check_owned_input(&self.limits, input, || {
            format!("the input of command `{name}`")
        })?;
        let input = into_object(input);
        // Journal writes (on memory) when something after them may undo them.
        let journaled = self.write.writes_after()
            || !self.program.ir.reactions.is_empty()
            || (name == super::command::CREATE && options.instance_id.is_none())
            || self
                .program
                .command_index(name, options.entity_name.as_deref())
                .is_some_and(|c| {
                    self.program.ir.commands[c]
                        .actions
                        .iter()
                        .any(|a| a.kind == ActionKind::Persist)
                });
        let mut related = Related::default();
        let mut attempt = 1;
        // Rate limits count a call once, not once per attempt or rerun.
        let mut first = true;
        loop {
            let unit = self.begin(journaled).await?;
            let step = self
                .attempt(
                    &unit,
                    name,
                    &input,
                    options,
                    index,
                    &mut first,
                    &mut related,
                    keyed.as_ref(),
                )
                .await;
            let halt = match step {
                Ok(Step::Done(result)) => {
                    unit.commit().await?;
                    self.after_commit(&result).await;
                    return Ok((*result, write.audit.is_some()));
                }
                Ok(Step::Replay(result)) => {
                    unit.rollback(self).await?;
                    return Ok((*result, false));
                }
                Err(halt) => halt,
            };
            let restored = unit.rollback(self).await?;
            match halt {
                Halt::Result(result) => return Ok((*result, false)),
                Halt::Error(e) => return Err(e),
                // Only `update_instance` mutates outside a command.
                Halt::Blocked(_) => unreachable!("a command's mutate is never blocked"),
                // The next attempt finds the record of the call that committed first (bounded
                // like any retry, should the record keep eluding it).
                Halt::Duplicate if attempt < COMMAND_ATTEMPTS => attempt += 1,
                Halt::Duplicate => {
                    let (entity, id) = target.unwrap_or_default();
                    return Err(self.conflict(entity, id, attempt, false));
                }
                Halt::Refetch | Halt::Changed { .. } => {
                    // A write that could not be undone (on memory, one another writer has
                    // built on) cannot be run again.
                    let written = matches!(halt, Halt::Changed { written: true }) && !restored;
                    if written || attempt == COMMAND_ATTEMPTS {
                        let (entity, id) = target.unwrap_or_default();
                        return Err(self.conflict(entity, id, attempt, written));
                    }
                    attempt += 1;
                    related.clear();
                    backoff(attempt).await;
                }
            }
        }
    }

    /// One attempt in `unit`: the idempotency check, the command (run again while it misses
    /// rows of relationships), its reactions, and its outbox, idempotency and audit records.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        unit: &Unit,
        name: &str,
        input: &Object,
        options: &CommandOptions,
        index: Option<usize>,
        first: &mut bool,
        related: &mut Related,
        keyed: Option<&Keyed<'_>>,
    ) -> Result<Step, Halt> {
        let tenant = self.tenant_id.as_deref().unwrap_or("");
        if let Some(keyed) = keyed {
            let found = keyed
                .store
                .get(unit.tx(), tenant, keyed.key, self.now_ms())
                .await
                .map_err(RuntimeError::Idempotency)?;
            if let Some(record) = found {
                if record.fingerprint != keyed.fingerprint {
                    return Err(RuntimeError::IdempotencyKeyReused {
                        key: keyed.key.to_owned(),
                    }
                    .into());
                }
                let result = serde_json::from_value(record.result).map_err(|e| {
                    RuntimeError::Idempotency(manifest_core::Error::InvalidData {
                        entity: "idempotency record".to_owned(),
                        source: e,
                    })
                })?;
                return Ok(Step::Replay(Box::new(result)));
            }
        }
        let mut result = self
            .run_resolved(unit, name, input, options, index, first, related)
            .await?;
        // A `create`'s subject is the instance it made.
        let created = created_id(&result);
        let subject = Subject {
            command: name,
            entity: options.entity_name.as_deref(),
            instance: options.instance_id.as_deref().or(created.as_deref()),
            correlation: options.correlation_id.as_deref(),
            causation: None,
        };
        let mut records = Records::default();
        self.enqueue_events(&subject, &result.emitted_events, &mut records);
        let own = result.emitted_events.len();
        let mut effects = std::mem::take(&mut result.effects);
        let reacted = self
            .react(
                unit,
                &result.emitted_events[..own],
                &subject,
                0,
                &mut records,
            )
            .await?;
        for reaction in reacted {
            if let Some(failure) = reaction.failure {
                return Err(Halt::result(failure));
            }
            result.emitted_events.extend(reaction.events);
            effects.extend(reaction.effects);
        }
        result.effects = effects;
        let write = &self.write.inner;
        let now = self.now_ms();
        let record = match keyed {
            Some(keyed) => {
                let json = serde_json::to_value(&result).map_err(|e| {
                    RuntimeError::Idempotency(manifest_core::Error::InvalidData {
                        entity: "idempotency record".to_owned(),
                        source: e,
                    })
                })?;
                let ttl = i64::try_from(write.ttl().as_millis()).unwrap_or(i64::MAX);
                Some(IdempotencyRecord::new(
                    tenant,
                    keyed.key,
                    keyed.fingerprint.clone(),
                    json,
                    now,
                    now.saturating_add(ttl),
                ))
            }
            None => None,
        };
        if write.audit.is_some() {
            records
                .audit
                .push(self.audit_record(name, options, &result, "run_command"));
        }
        // The records in one statement where the stores allow (see `CommandRecords`).
        let mut batch = CommandRecords::default();
        batch.outbox = write
            .outbox
            .as_deref()
            .map(|o| (o, records.entries.as_slice()));
        batch.idempotency = keyed
            .zip(record.as_ref())
            .map(|(k, r)| (&**k.store, r, now));
        batch.audit = write
            .audit
            .as_deref()
            .map(|a| (a, records.audit.as_slice()));
        let inserted = batch.write(unit.tx()).await.map_err(|e| match e {
            RecordsError::Outbox(e) => RuntimeError::Outbox(e),
            RecordsError::Idempotency(e) => RuntimeError::Idempotency(e),
            RecordsError::Audit(e) => RuntimeError::Audit(e),
            e => RuntimeError::Records(e),
        })?;
        if !inserted {
            return Err(Halt::Duplicate);
        }
        Ok(Step::Done(Box::new(result)))
    }

    /// The outbox entries of `events`, emitted by the command of `subject`, into `records`
    /// (when an outbox is configured).
    pub(super) fn enqueue_events(
        &self,
        subject: &Subject<'_>,
        events: &[EmittedEvent],
        records: &mut Records,
    ) {
        if self.write.inner.outbox.is_none() {
            return;
        }
        let tenant = self.tenant_id.as_deref().unwrap_or("");
        let now = self.now_ms();
        for event in events {
            let entry = OutboxEntry::new(
                self.ids.generate_string(),
                tenant,
                subject.command,
                manifest_core::OutboxEvent::new(
                    event.name.clone(),
                    event.channel.clone(),
                    event.payload.clone(),
                    event.timestamp.clone(),
                ),
                now,
            )
            .subject(
                subject.entity.map(str::to_owned),
                subject.instance.map(str::to_owned),
            )
            .caused(
                subject.correlation.map(str::to_owned),
                subject.causation.map(str::to_owned),
            );
            records.entries.push(entry);
        }
    }

    /// After a commit: the listeners see the events, then the effects run.
    async fn after_commit(&self, result: &CommandResult) {
        let write = &self.write.inner;
        for listener in &write.listeners {
            for event in &result.emitted_events {
                listener(event);
            }
        }
        if let Some(handler) = &write.effects {
            for effect in &result.effects {
                if let Err(e) = handler.run(effect).await {
                    tracing::error!(target: "manifest::effect", error = %e, command = %effect.command, effect = ?effect.name, "an effect failed after its command committed");
                }
            }
        }
    }

    /// The clock, in whole milliseconds.
    pub(super) fn now_ms(&self) -> i64 {
        (self.now)() as i64
    }

    /// The audit record of a call of `command` that ended with `result`.
    pub(super) fn audit_record(
        &self,
        command: &str,
        options: &CommandOptions,
        result: &CommandResult,
        source: &str,
    ) -> AuditRecord {
        let outcome = if result.success {
            AuditOutcome::Success
        } else if result.guard_failure.is_some() {
            AuditOutcome::GuardDenied
        } else if result.rate_limit_denial.is_some() {
            AuditOutcome::RateLimitDenied
        } else if result.policy_denial.is_some() || result.denied_by.is_some() {
            AuditOutcome::PolicyDenied
        } else if result.concurrency_conflict.is_some() {
            AuditOutcome::ConcurrencyConflict
        } else if result.constraint_outcomes.iter().any(is_blocking) {
            AuditOutcome::ConstraintFailed
        } else {
            AuditOutcome::Error
        };
        let diagnostics = if result.success {
            Json::Null
        } else {
            let mut failure = serde_json::to_value(result).unwrap_or(Json::Null);
            if let Json::Object(map) = &mut failure {
                map.remove("success");
                map.remove("emittedEvents");
            }
            failure
        };
        let mut record = self.audit_base(command, options, outcome, source);
        record.diagnostics = diagnostics;
        record.emitted_event_names = result
            .emitted_events
            .iter()
            .map(|e| e.name.clone())
            .collect();
        record
    }

    /// The audit record of a call of `command` that could not run.
    fn audit_error(
        &self,
        command: &str,
        options: &CommandOptions,
        e: &RuntimeError,
    ) -> AuditRecord {
        let outcome = match e {
            RuntimeError::Conflict { .. } => AuditOutcome::ConcurrencyConflict,
            RuntimeError::TenantRequired => AuditOutcome::MissingTenantContext,
            _ => AuditOutcome::Error,
        };
        let mut record = self.audit_base(command, options, outcome, "run_command");
        record.diagnostics = serde_json::json!({ "error": e.to_string() });
        record
    }

    fn audit_base(
        &self,
        command: &str,
        options: &CommandOptions,
        outcome: AuditOutcome,
        source: &str,
    ) -> AuditRecord {
        let mut record = AuditRecord::new(
            self.ids.generate_string(),
            self.now_ms(),
            self.tenant_id.as_deref().unwrap_or(""),
            command,
            outcome,
        );
        record.actor_id = match &self.user {
            Value::Object(user) => user.get("id").map(Value::to_js_string),
            _ => None,
        };
        record.request_id = options.request_id.clone();
        record.source = Some(options.source.clone().unwrap_or_else(|| source.to_owned()));
        record.entity = options.entity_name.clone();
        record.instance_id = options.instance_id.clone();
        record.ir_hash = self.program.ir_hash.clone();
        record
    }
}

/// The id of the instance a `create` command made, if it made one.
pub(super) fn created_id(result: &CommandResult) -> Option<String> {
    result
        .instance
        .as_ref()?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}
