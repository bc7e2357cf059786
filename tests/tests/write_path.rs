//! Commands as a unit of work, on memory, SQLite and PostgreSQL: the outbox entries,
//! idempotency records and audit records a command writes with its state change, reactions,
//! `publish`, effects and listeners, and that every failure writes nothing.
//!
//! The program is `tests/write-path/bank.manifest` (compiled with the reference compiler):
//! `Account.deposit` emits `Deposited`, to which `Ledger.record` reacts (its guard refuses
//! amounts of 1000 or more); `Account.ping` emits `Pinged`, to which `Account.ping` reacts
//! again, a cycle the depth limit stops.

#[path = "common/bank.rs"]
mod bank;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bank::{Bank, Kind, Subject, deposit, object, sqlite_file};
use manifest_core::AuditOutcome;
use manifest_core::idempotency::SqlIdempotency;
use manifest_core::outbox::SqlOutbox;
use manifest_runtime::{
    CommandOptions, Effect, EffectError, EffectHandler, EmittedEvent, RuntimeError, WritePath,
};
use serde_json::{Map, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_enqueues_its_events_and_its_reactions_once_with_their_subjects() {
    for bank in Bank::all().await {
        let engine = bank.engine(bank.full().build());
        bank.open_account(&engine, "a1").await;
        let result = deposit(
            &engine,
            "a1",
            50.0,
            CommandOptions::on("Account", "a1").correlation_id("req-1"),
        )
        .await
        .unwrap();
        assert!(result.success, "{:?}: {result:?}", bank.kind);
        let names: Vec<&str> = result
            .emitted_events
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["Deposited", "Recorded"], "{:?}", bank.kind);
        assert_eq!(
            bank.field(&engine, "Ledger", "a1", "total").await,
            json!(50),
            "{:?}",
            bank.kind
        );
        let entries = bank.outbox.entries(&bank.tenant).await.unwrap();
        let subjects: Vec<Subject<'_>> = entries
            .iter()
            .map(|e| {
                (
                    e.event.name.as_str(),
                    e.command.as_str(),
                    e.entity.as_deref(),
                    e.instance_id.as_deref(),
                    e.causation_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            subjects,
            [
                ("Deposited", "deposit", Some("Account"), Some("a1"), None),
                (
                    "Recorded",
                    "record",
                    Some("Ledger"),
                    Some("a1"),
                    Some("Deposited")
                ),
            ],
            "{:?}",
            bank.kind
        );
        assert!(
            entries
                .iter()
                .all(|e| e.correlation_id.as_deref() == Some("req-1"))
        );
        assert!(entries[0].seq < entries[1].seq);
        assert_eq!(entries[0].event.payload["amount"], json!(50));
        // A failed command enqueues nothing.
        let denied = deposit(&engine, "a1", -1.0, CommandOptions::on("Account", "a1"))
            .await
            .unwrap();
        assert!(!denied.success);
        assert_eq!(bank.events().await.len(), 2, "{:?}", bank.kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_needs_an_outbox_and_enqueues_its_event() {
    for bank in Bank::all().await {
        let bare = bank.engine(WritePath::default());
        bank.open_account(&bare, "a1").await;
        let input = object(json!({"message": "hello"}));
        let refused = bare
            .run_command(
                "announce",
                input.clone(),
                CommandOptions::on("Account", "a1"),
            )
            .await
            .unwrap();
        assert_eq!(
            refused.error.as_deref(),
            Some(
                "MISSING_OUTBOX_STORE: publish action in command 'announce' requires RuntimeOptions.outboxStore, but none is configured"
            )
        );
        let engine = bank.engine(bank.full().build());
        let published = engine
            .run_command("announce", input, CommandOptions::on("Account", "a1"))
            .await
            .unwrap();
        assert!(published.success, "{published:?}");
        assert_eq!(published.emitted_events[0].name, "Announced");
        // `publish Announced` has no expression: its payload is `{}`, as the reference's.
        assert!(published.emitted_events[0].payload.is_empty());
        assert_eq!(bank.events().await, ["Announced"], "{:?}", bank.kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_and_request_twice_runs_once() {
    for bank in Bank::all().await {
        let engine = bank.engine(bank.full().build());
        bank.open_account(&engine, "a1").await;
        let options = || CommandOptions::on("Account", "a1").idempotency_key("k1");
        let first = deposit(&engine, "a1", 10.0, options()).await.unwrap();
        let again = deposit(&engine, "a1", 10.0, options()).await.unwrap();
        assert!(first.success);
        assert_eq!(first, again, "{:?}", bank.kind);
        assert_eq!(
            bank.field(&engine, "Account", "a1", "balance").await,
            json!(10)
        );
        assert_eq!(
            bank.events().await.len(),
            2,
            "{:?}: enqueued once",
            bank.kind
        );
        // Another engine (another request) with the same key gets the same answer.
        let other = bank.engine(bank.full().build());
        assert_eq!(deposit(&other, "a1", 10.0, options()).await.unwrap(), first);
        // The same key with another request is refused, and runs nothing.
        let reused = deposit(&engine, "a1", 11.0, options()).await;
        assert!(
            matches!(&reused, Err(RuntimeError::IdempotencyKeyReused { key }) if key == "k1"),
            "{:?}: {reused:?}",
            bank.kind
        );
        let other_instance = engine
            .run_command(
                "deposit",
                object(json!({"amount": 10.0})),
                CommandOptions::on("Account", "a2").idempotency_key("k1"),
            )
            .await;
        assert!(matches!(
            other_instance,
            Err(RuntimeError::IdempotencyKeyReused { .. })
        ));
        assert_eq!(
            bank.field(&engine, "Account", "a1", "balance").await,
            json!(10)
        );
        // A failed command leaves no record: a retry runs it again.
        let denied = deposit(
            &engine,
            "a1",
            -5.0,
            CommandOptions::on("Account", "a1").idempotency_key("k2"),
        )
        .await
        .unwrap();
        assert!(!denied.success);
        let stored = bank
            .idempotency
            .get(None, &bank.tenant, "k2", 1_000_000)
            .await
            .unwrap();
        assert!(stored.is_none(), "{:?}", bank.kind);
        // A key without a store is an error.
        let bare = bank.engine(WritePath::default());
        assert!(matches!(
            deposit(&bare, "a1", 1.0, options()).await,
            Err(RuntimeError::IdempotencyNotConfigured)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_in_two_tenants_names_two_requests() {
    for bank in Bank::all().await {
        let write = bank.full().build();
        let other_tenant = format!("{}-other", bank.tenant);
        let a = bank.engine(write.clone());
        let b = bank.engine_for(&other_tenant, write);
        bank.open_account(&a, "a1").await;
        bank.open_account(&b, "a1").await;
        let options = || CommandOptions::on("Account", "a1").idempotency_key("shared");
        assert!(deposit(&a, "a1", 5.0, options()).await.unwrap().success);
        assert!(deposit(&b, "a1", 7.0, options()).await.unwrap().success);
        assert_eq!(bank.field(&a, "Account", "a1", "balance").await, json!(5));
        assert_eq!(bank.field(&b, "Account", "a1", "balance").await, json!(7));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_with_one_key_run_the_command_once() {
    for bank in Bank::all().await {
        let write = bank.full().build();
        bank.open_account(&bank.engine(write.clone()), "a1").await;
        let bank = Arc::new(bank);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let bank = bank.clone();
            let write = write.clone();
            tasks.push(tokio::spawn(async move {
                let engine = bank.engine(write);
                deposit(
                    &engine,
                    "a1",
                    3.0,
                    CommandOptions::on("Account", "a1").idempotency_key("once"),
                )
                .await
                .unwrap()
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        assert!(
            results.iter().all(|r| r.success && *r == results[0]),
            "{:?}",
            bank.kind
        );
        let engine = bank.engine(WritePath::default());
        assert_eq!(
            bank.field(&engine, "Account", "a1", "balance").await,
            json!(3),
            "{:?}",
            bank.kind
        );
        assert_eq!(
            bank.field(&engine, "Account", "a1", "deposits").await,
            json!(1)
        );
        assert_eq!(bank.events().await.len(), 2, "{:?}", bank.kind);
    }
}

/// Two processes (two write paths, so no shared in-process lock) with one key on one database:
/// the second's insert of the record finds the first's and it returns that result.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_with_one_key_from_two_processes_run_once() {
    for bank in Bank::all().await {
        if bank.kind == Kind::Memory {
            continue; // one process by definition
        }
        bank.open_account(&bank.engine(bank.full().build()), "a1")
            .await;
        let bank = Arc::new(bank);
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let bank = bank.clone();
            tasks.push(tokio::spawn(async move {
                let engine = bank.engine(bank.full().build());
                deposit(
                    &engine,
                    "a1",
                    4.0,
                    CommandOptions::on("Account", "a1").idempotency_key("twice"),
                )
                .await
                .unwrap()
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        assert!(
            results.iter().all(|r| r.success && *r == results[0]),
            "{:?}",
            bank.kind
        );
        let engine = bank.engine(WritePath::default());
        assert_eq!(
            bank.field(&engine, "Account", "a1", "deposits").await,
            json!(1),
            "{:?}",
            bank.kind
        );
        assert_eq!(bank.events().await.len(), 2, "{:?}", bank.kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_enqueue_fails_the_command_and_writes_nothing() {
    for bank in Bank::all().await {
        if bank.kind == Kind::Memory {
            continue; // a memory outbox has no other database to be wrong about
        }
        // The outbox of another database: it cannot join the command's transaction.
        let foreign = sqlite_file().await;
        let stray = SqlOutbox::new(&foreign);
        stray.create_table().await.unwrap();
        let engine = bank.engine(
            WritePath::builder()
                .outbox(Arc::new(stray))
                .idempotency(bank.idempotency.clone())
                .audit(bank.audit.clone())
                .build(),
        );
        bank.open_account(&engine, "a1").await;
        let failed = deposit(
            &engine,
            "a1",
            10.0,
            CommandOptions::on("Account", "a1").idempotency_key("k"),
        )
        .await;
        assert!(
            matches!(
                &failed,
                Err(RuntimeError::Outbox(
                    manifest_core::Error::ForeignTransaction
                ))
            ),
            "{:?}: {failed:?}",
            bank.kind
        );
        assert!(
            failed
                .unwrap_err()
                .to_string()
                .starts_with("OUTBOX_ENQUEUE_FAILED: ")
        );
        assert_eq!(
            bank.field(&engine, "Account", "a1", "balance").await,
            json!(0)
        );
        assert_eq!(bank.field(&engine, "Ledger", "a1", "total").await, json!(0));
        assert!(
            bank.idempotency
                .get(None, &bank.tenant, "k", 1_000_000)
                .await
                .unwrap()
                .is_none()
        );
        let audit = bank.audit.records(&bank.tenant, 10).await.unwrap();
        let outcomes: Vec<AuditOutcome> = audit.iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [AuditOutcome::Error],
            "{:?}: the failure is audited",
            bank.kind
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_idempotency_write_writes_nothing() {
    for bank in Bank::all().await {
        if bank.kind == Kind::Memory {
            continue;
        }
        let foreign = sqlite_file().await;
        let stray = SqlIdempotency::new(&foreign);
        stray.create_table().await.unwrap();
        let engine = bank.engine(
            WritePath::builder()
                .outbox(bank.outbox.clone())
                .idempotency(Arc::new(stray))
                .build(),
        );
        bank.open_account(&engine, "a1").await;
        let failed = deposit(
            &engine,
            "a1",
            10.0,
            CommandOptions::on("Account", "a1").idempotency_key("k"),
        )
        .await;
        assert!(
            matches!(failed, Err(RuntimeError::Idempotency(_))),
            "{:?}",
            bank.kind
        );
        assert_eq!(
            bank.field(&engine, "Account", "a1", "balance").await,
            json!(0)
        );
        assert!(bank.events().await.is_empty(), "{:?}", bank.kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_past_the_depth_limit_writes_nothing() {
    for bank in Bank::all().await {
        let engine = bank.engine(bank.full().build());
        bank.open_account(&engine, "a1").await;
        let failed = engine
            .run_command("ping", Map::new(), CommandOptions::on("Account", "a1"))
            .await;
        match &failed {
            Err(e @ RuntimeError::ReactionDepth { depth: 10, .. }) => assert_eq!(
                e.to_string(),
                "Reaction depth limit (10) exceeded. Event 'Pinged' → command 'Account.ping' would exceed max depth. Check for circular reaction chains."
            ),
            other => panic!("{:?}: {other:?}", bank.kind),
        }
        assert_eq!(
            bank.field(&engine, "Account", "a1", "pings").await,
            json!(0),
            "{:?}",
            bank.kind
        );
        assert!(bank.events().await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reaction_is_audited_and_leaves_its_parent_unless_configured() {
    for bank in Bank::all().await {
        let engine = bank.engine(bank.full().build());
        bank.open_account(&engine, "a1").await;
        // 1000 passes the deposit's guard and fails the ledger's.
        let result = deposit(
            &engine,
            "a1",
            1000.0,
            CommandOptions::on("Account", "a1").request_id("r-7"),
        )
        .await
        .unwrap();
        assert!(result.success, "{result:?}");
        assert_eq!(result.emitted_events.len(), 1);
        assert_eq!(
            bank.field(&engine, "Account", "a1", "balance").await,
            json!(1000)
        );
        assert_eq!(
            bank.field(&engine, "Ledger", "a1", "entries").await,
            json!(0)
        );
        let records = bank.audit.records(&bank.tenant, 10).await.unwrap();
        let summary: Vec<(&str, AuditOutcome, Option<&str>)> = records
            .iter()
            .map(|r| (r.command.as_str(), r.outcome, r.source.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("record", AuditOutcome::GuardDenied, Some("reaction")),
                ("deposit", AuditOutcome::Success, Some("run_command")),
            ],
            "{:?}",
            bank.kind
        );
        assert_eq!(records[1].request_id.as_deref(), Some("r-7"));
        assert_eq!(records[1].actor_id.as_deref(), Some("u1"));
        assert_eq!(records[1].emitted_event_names, ["Deposited"]);

        let strict = bank.engine(bank.full().reaction_failures_fail(true).build());
        let failed = deposit(&strict, "a1", 2000.0, CommandOptions::on("Account", "a1"))
            .await
            .unwrap();
        assert!(!failed.success);
        assert!(
            failed
                .error
                .as_deref()
                .unwrap()
                .contains("Reaction to event 'Deposited' failed"),
            "{failed:?}"
        );
        assert_eq!(
            bank.field(&engine, "Account", "a1", "balance").await,
            json!(1000),
            "{:?}: rolled back",
            bank.kind
        );
    }
}

/// Records each effect it runs.
#[derive(Default)]
struct Effects(Mutex<Vec<Effect>>);

#[async_trait]
impl EffectHandler for Effects {
    async fn run(&self, effect: &Effect) -> Result<(), EffectError> {
        self.0.lock().unwrap().push(effect.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effects_and_listeners_run_after_commit_and_never_for_a_failed_command() {
    for bank in Bank::all().await {
        let bare = bank.engine(WritePath::default());
        bank.open_account(&bare, "a1").await;
        let missing = bare
            .run_command(
                "notify",
                object(json!({"message": "hi"})),
                CommandOptions::on("Account", "a1"),
            )
            .await
            .unwrap();
        assert_eq!(
            missing.error.as_deref(),
            Some(
                "MISSING_EFFECT_HANDLER: effect action in command 'notify' requires RuntimeOptions.effectHandler, but none is configured"
            )
        );
        let effects = Arc::new(Effects::default());
        let heard: Arc<Mutex<Vec<String>>> = Arc::default();
        let heard_in = heard.clone();
        let engine = bank.engine(
            bank.full()
                .effect_handler(effects.clone())
                .listener(move |event: &EmittedEvent| {
                    heard_in.lock().unwrap().push(event.name.clone())
                })
                .build(),
        );
        let ran = engine
            .run_command(
                "notify",
                object(json!({"message": "hi"})),
                CommandOptions::on("Account", "a1"),
            )
            .await
            .unwrap();
        assert!(ran.success, "{ran:?}");
        let seen = effects.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].name.as_deref(), &seen[0].value),
            (Some("email"), &json!("hi"))
        );
        assert_eq!(seen[0].tenant, bank.tenant);
        assert!(
            deposit(&engine, "a1", 5.0, CommandOptions::on("Account", "a1"))
                .await
                .unwrap()
                .success
        );
        assert_eq!(*heard.lock().unwrap(), ["Deposited", "Recorded"]);
        // A command that rolls back: no listener call, no effect.
        let strict = bank.engine(
            bank.full()
                .effect_handler(effects.clone())
                .reaction_failures_fail(true)
                .listener({
                    let heard = heard.clone();
                    move |event: &EmittedEvent| heard.lock().unwrap().push(event.name.clone())
                })
                .build(),
        );
        assert!(
            !deposit(&strict, "a1", 5000.0, CommandOptions::on("Account", "a1"))
                .await
                .unwrap()
                .success
        );
        assert_eq!(heard.lock().unwrap().len(), 2, "{:?}", bank.kind);
        assert_eq!(effects.0.lock().unwrap().len(), 1);
    }
}
