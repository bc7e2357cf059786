//! [`WritePath`]: what a command does around its state change (the transactional outbox,
//! idempotency keys, the audit trail, effects and listeners), configured once per application
//! and shared by every engine built with it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::result::EmittedEvent;
use manifest_core::{AuditSink, IdempotencyStore, OutboxStore};

/// An `effect` action, as the application's [`EffectHandler`] receives it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Effect {
    /// The effect's name (`effect notify = ...`), if it has one.
    pub name: Option<String>,
    /// The value of its expression.
    pub value: Json,
    /// The command that ran it.
    pub command: String,
    /// The command's entity.
    pub entity: Option<String>,
    /// The instance the command ran on.
    pub instance_id: Option<String>,
    /// The tenant.
    pub tenant: String,
}

/// What an effect handler's failure carries.
pub type EffectError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a command's `effect` actions, after the command's changes have committed: a command
/// that fails or rolls back leaves no effect behind. Effects are at most once (a process that
/// dies between the commit and the handler loses them); an effect that must happen belongs in
/// a `publish`, which the outbox delivers at least once.
#[async_trait]
pub trait EffectHandler: Send + Sync {
    /// Run `effect`. An error is logged (`tracing`, target `manifest::effect`); the command
    /// has committed and stays successful.
    async fn run(&self, effect: &Effect) -> Result<(), EffectError>;
}

/// An in-process listener of committed events.
pub type Listener = Arc<dyn Fn(&EmittedEvent) + Send + Sync>;

/// The write path of every engine built with it (see
/// [`EngineBuilder::write_path`](super::EngineBuilder::write_path)). Cloning shares it.
///
/// ```
/// use manifest_runtime::WritePath;
/// use manifest_runtime::manifest_core::{idempotency::MemoryIdempotency, outbox::MemoryOutbox};
/// use std::sync::Arc;
///
/// let write_path = WritePath::builder()
///     .outbox(Arc::new(MemoryOutbox::new()))
///     .idempotency(Arc::new(MemoryIdempotency::new()))
///     .build();
/// # let _ = write_path;
/// ```
#[derive(Clone, Default)]
pub struct WritePath {
    pub(super) inner: Arc<WriteInner>,
}

#[derive(Default)]
pub(super) struct WriteInner {
    pub(super) outbox: Option<Arc<dyn OutboxStore>>,
    pub(super) idempotency: Option<Arc<dyn IdempotencyStore>>,
    pub(super) idempotency_ttl: Option<Duration>,
    pub(super) audit: Option<Arc<dyn AuditSink>>,
    pub(super) effects: Option<Arc<dyn EffectHandler>>,
    pub(super) listeners: Vec<Listener>,
    pub(super) reaction_failures_fail: bool,
    /// In-process single flight of idempotency keys: one lock per (tenant, key) in use.
    pub(super) flights: Flights,
}

impl fmt::Debug for WritePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("WritePath")
            .field("outbox", &inner.outbox)
            .field("idempotency", &inner.idempotency)
            .field("idempotency_ttl", &inner.ttl())
            .field("audit", &inner.audit)
            .field("effects", &inner.effects.is_some())
            .field("listeners", &inner.listeners.len())
            .field("reaction_failures_fail", &inner.reaction_failures_fail)
            .finish()
    }
}

impl WritePath {
    /// The default time an idempotency record is kept: 24 hours.
    pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

    /// A builder of a write path with nothing configured.
    pub fn builder() -> WritePathBuilder {
        WritePathBuilder::default()
    }

    /// The outbox, if configured.
    pub fn outbox(&self) -> Option<&Arc<dyn OutboxStore>> {
        self.inner.outbox.as_ref()
    }

    /// The idempotency store, if configured.
    pub fn idempotency(&self) -> Option<&Arc<dyn IdempotencyStore>> {
        self.inner.idempotency.as_ref()
    }

    /// The audit sink, if configured.
    pub fn audit(&self) -> Option<&Arc<dyn AuditSink>> {
        self.inner.audit.as_ref()
    }

    /// Whether anything is configured that a command attempt may write after its state
    /// change (so a later failure must undo it).
    pub(super) fn writes_after(&self) -> bool {
        let inner = &self.inner;
        inner.outbox.is_some() || inner.idempotency.is_some() || inner.audit.is_some()
    }
}

impl WriteInner {
    pub(super) fn ttl(&self) -> Duration {
        self.idempotency_ttl
            .unwrap_or(WritePath::DEFAULT_IDEMPOTENCY_TTL)
    }
}

/// Builds a [`WritePath`].
#[derive(Default)]
#[must_use = "a WritePathBuilder does nothing until `build` is called"]
pub struct WritePathBuilder {
    inner: WriteInner,
}

impl fmt::Debug for WritePathBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritePathBuilder").finish_non_exhaustive()
    }
}

impl WritePathBuilder {
    /// Enqueue every event a command emits (its reactions' included) in `outbox`, inside the
    /// command's transaction; `publish` actions need one.
    pub fn outbox(mut self, outbox: Arc<dyn OutboxStore>) -> Self {
        self.inner.outbox = Some(outbox);
        self
    }

    /// Record the results of commands called with an
    /// [`idempotency_key`](super::CommandOptions::idempotency_key) in `store`.
    pub fn idempotency(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.inner.idempotency = Some(store);
        self
    }

    /// How long an idempotency record answers retries (default 24 hours).
    pub fn idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.inner.idempotency_ttl = Some(ttl);
        self
    }

    /// Record one [`AuditRecord`](manifest_core::AuditRecord) per `run_command` call in `sink`.
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.inner.audit = Some(sink);
        self
    }

    /// Run `effect` actions with `handler`, after commit.
    pub fn effect_handler(mut self, handler: Arc<dyn EffectHandler>) -> Self {
        self.inner.effects = Some(handler);
        self
    }

    /// Call `listener` with each event of a command, after its changes have committed.
    pub fn listener(mut self, listener: impl Fn(&EmittedEvent) + Send + Sync + 'static) -> Self {
        self.inner.listeners.push(Arc::new(listener));
        self
    }

    /// Make a failed reaction command fail (and roll back) the command whose event triggered
    /// it. By default a failed reaction is recorded in the audit trail and its parent stays
    /// successful, as in the reference runtime.
    pub fn reaction_failures_fail(mut self, fail: bool) -> Self {
        self.inner.reaction_failures_fail = fail;
        self
    }

    /// The write path.
    pub fn build(self) -> WritePath {
        WritePath {
            inner: Arc::new(self.inner),
        }
    }
}

/// The in-process locks of idempotency keys in use, so that two calls with one key in one
/// process run one after the other (the second then finds the first's record); across
/// processes the record's insert in the command's transaction decides.
#[derive(Default)]
pub(super) struct Flights {
    keys: Mutex<HashMap<(String, String), KeyLock>>,
}

/// The lock of one (tenant, key).
type KeyLock = Arc<tokio::sync::Mutex<()>>;

/// A held key: dropping it lets the next call with the key in.
pub(super) struct Flight<'a> {
    flights: &'a Flights,
    key: (String, String),
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Flights {
    pub(super) async fn enter(&self, tenant: &str, key: &str) -> Flight<'_> {
        let key = (tenant.to_owned(), key.to_owned());
        let lock = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let guard = lock.lock_owned().await;
        Flight {
            flights: self,
            key,
            guard: Some(guard),
        }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut keys = self
            .flights
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's own reference is the last one: nobody waits for the key.
        if keys
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            keys.remove(&self.key);
        }
    }
}

/// The fingerprint of a request: the hex SHA-256 of its command, entity, instance and input
/// (as JSON, keys sorted), each length-prefixed so that no two requests share one.
pub(super) fn fingerprint(
    command: &str,
    entity: Option<&str>,
    instance: Option<&str>,
    input: &Map<String, Json>,
) -> String {
    let mut hash = Sha256::new();
    for part in [Some(command), entity, instance] {
        match part {
            Some(text) => {
                hash.update((text.len() as u64).to_le_bytes());
                hash.update(text.as_bytes());
            }
            None => hash.update(u64::MAX.to_le_bytes()),
        }
    }
    hash.update(sorted_json(&Json::Object(input.clone())).as_bytes());
    hex(&hash.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `value` as JSON text with every object's keys in order, whatever order the map keeps.
fn sorted_json(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Json::String(k.clone()), sorted_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(sorted_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}
