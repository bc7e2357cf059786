//! [`TracingAudit`]: an audit sink that writes each record as a `tracing` event.

use std::fmt;

use async_trait::async_trait;
use manifest_core::audit::{AuditRecord, AuditSink};
use manifest_core::{Result, Tx};

/// The target of the events [`TracingAudit`] writes.
pub const AUDIT_TARGET: &str = "manifest::audit";

/// An [`AuditSink`] that writes each record as one `tracing` event at `INFO` level, target
/// `manifest::audit` ([`AUDIT_TARGET`]), message `command audited`, with the record's fields as
/// the event's fields: `record_id`, `occurred_at` (milliseconds since the epoch), `tenant`,
/// `actor_id`, `request_id`, `source`, `entity`, `instance_id`, `command`, `outcome` (as
/// stored: `success`, `guard_denied`, ...), `diagnostics` and `emitted_event_names` (both as
/// JSON text) and `ir_hash`; a field the record does not have (`None`) is left out. Where the
/// events go is the application's `tracing` subscriber's business (a JSON log, OpenTelemetry).
///
/// It keeps nothing: [`records`](AuditSink::records) returns none, and it ignores the `tx` it is
/// given (an event is written at once, whatever becomes of the transaction).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAudit;

impl TracingAudit {
    /// The sink.
    pub fn new() -> Self {
        TracingAudit
    }
}

/// A list of names, displayed as a JSON array (only when a subscriber records the event).
struct JsonNames<'a>(&'a [String]);

impl fmt::Display for JsonNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self.0).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

#[async_trait]
impl AuditSink for TracingAudit {
    async fn record(&self, _tx: Option<&Tx>, records: &[AuditRecord]) -> Result<()> {
        for record in records {
            tracing::info!(
                target: AUDIT_TARGET,
                record_id = record.record_id.as_str(),
                occurred_at = record.occurred_at,
                tenant = record.tenant.as_str(),
                actor_id = record.actor_id.as_deref(),
                request_id = record.request_id.as_deref(),
                source = record.source.as_deref(),
                entity = record.entity.as_deref(),
                instance_id = record.instance_id.as_deref(),
                command = record.command.as_str(),
                outcome = record.outcome.as_str(),
                diagnostics = %record.diagnostics,
                emitted_event_names = %JsonNames(&record.emitted_event_names),
                ir_hash = record.ir_hash.as_deref(),
                "command audited"
            );
        }
        Ok(())
    }

    async fn records(&self, _tenant: &str, _limit: u32) -> Result<Vec<AuditRecord>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use manifest_core::audit::AuditOutcome;
    use serde_json::json;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::*;

    /// One event as the subscriber saw it.
    #[derive(Debug)]
    struct Captured {
        target: String,
        level: Level,
        fields: BTreeMap<String, String>,
    }

    /// A subscriber keeping every event (no spans).
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Captured>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.0
                .insert(field.name().to_owned(), format!("i64:{value}"));
        }
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(Captured {
                target: event.metadata().target().to_owned(),
                level: *event.metadata().level(),
                fields,
            });
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[tokio::test]
    async fn each_record_is_one_info_event_with_its_fields() {
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(capture.clone());

        let mut full = AuditRecord::new("r1", 1_700, "acme", "approve", AuditOutcome::GuardDenied);
        full.actor_id = Some("u1".into());
        full.request_id = Some("req-9".into());
        full.source = Some("http".into());
        full.entity = Some("Order".into());
        full.instance_id = Some("o1".into());
        full.diagnostics = json!({"guard": 1, "message": "says \"no\""});
        full.emitted_event_names = vec!["Approved".into(), "Notified".into()];
        full.ir_hash = Some("abc".into());
        let bare = AuditRecord::new("r2", 1_701, "", "ping", AuditOutcome::Success);
        TracingAudit::new()
            .record(None, &[full, bare])
            .await
            .unwrap();

        assert!(TracingAudit.records("acme", 10).await.unwrap().is_empty());

        let events = capture.0.lock().unwrap();
        assert_eq!(events.len(), 2, "{events:?}");
        for event in events.iter() {
            assert_eq!(event.target, "manifest::audit");
            assert_eq!(event.level, Level::INFO);
        }
        let field = |i: usize, name: &str| events[i].fields.get(name).cloned();
        let expected = [
            ("message", "command audited"),
            ("record_id", "r1"),
            ("occurred_at", "i64:1700"),
            ("tenant", "acme"),
            ("actor_id", "u1"),
            ("request_id", "req-9"),
            ("source", "http"),
            ("entity", "Order"),
            ("instance_id", "o1"),
            ("command", "approve"),
            ("outcome", "guard_denied"),
            ("diagnostics", r#"{"guard":1,"message":"says \"no\""}"#),
            ("emitted_event_names", r#"["Approved","Notified"]"#),
            ("ir_hash", "abc"),
        ];
        for (name, value) in expected {
            assert_eq!(field(0, name).as_deref(), Some(value), "{name}");
        }
        assert_eq!(events[0].fields.len(), expected.len());
        // The second record's absent fields are left out; the JSON ones are still JSON.
        assert_eq!(field(1, "tenant").as_deref(), Some(""));
        assert_eq!(field(1, "outcome").as_deref(), Some("success"));
        assert_eq!(field(1, "diagnostics").as_deref(), Some("null"));
        assert_eq!(field(1, "emitted_event_names").as_deref(), Some("[]"));
        for absent in [
            "actor_id",
            "request_id",
            "source",
            "entity",
            "instance_id",
            "ir_hash",
        ] {
            assert_eq!(field(1, absent), None, "{absent}");
        }
    }
}
