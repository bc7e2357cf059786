//! [`OutboxWorker`]: delivers the entries of an [`OutboxStore`] through a [`Deliver`]
//! implementation, with leases, retries with backoff, and dead letters.
//!
//! A worker claims a batch (up to [`batch_size`](OutboxWorkerBuilder::batch_size) entries,
//! leased for [`lease`](OutboxWorkerBuilder::lease)), delivers its entries one at a time in
//! `seq` order, and then marks the delivered ones in one
//! [`mark_delivered`](OutboxStore::mark_delivered) for the batch (one round trip per batch; a
//! worker that dies mid-batch leaves them to be delivered again once the lease expires:
//! delivery is at least once, and the entry id is the consumer's deduplication token).
//!
//! A failed delivery is marked failed at once, to be retried after an exponential backoff with
//! full jitter (a random delay between 0 and `base * 2^(attempts - 1)`, at most `max`), or
//! dead once it has been tried [`max_attempts`](OutboxWorkerBuilder::max_attempts) times; the
//! later entries of its subject in the batch are released untried, so none overtakes it. An
//! entry claimed more than `max_attempts` times without an outcome (a poison entry whose
//! deliveries keep crashing workers) goes dead without another delivery.
//!
//! ```
//! use std::sync::Arc;
//! use manifest_runtime::manifest_core::outbox::{MemoryOutbox, OutboxEntry, OutboxEvent, OutboxStore};
//! use manifest_runtime::worker::{DeliveryError, OutboxWorker};
//! use serde_json::{Map, json};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let outbox = Arc::new(MemoryOutbox::new());
//! let event = OutboxEvent::new("Shipped", "orders", Map::new(), json!(0));
//! outbox.enqueue(None, &[OutboxEntry::new("e1", "acme", "ship", event, 0)]).await?;
//!
//! let deliver = |entry: &OutboxEntry| {
//!     let name = entry.event.name.clone();
//!     async move {
//!         println!("publishing {name}");
//!         Ok::<(), DeliveryError>(())
//!     }
//! };
//! let worker = OutboxWorker::builder(outbox.clone(), Arc::new(deliver)).build();
//! let report = worker.run_once().await?;
//! assert_eq!((report.claimed, report.delivered), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::future::{Future, poll_fn};
use std::hash::{BuildHasher, RandomState};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use manifest_core::outbox::{OutboxEntry, OutboxStore};
use manifest_core::{BoxDynError, Error};

/// Why a delivery failed: a message, and the error behind it if any. Recorded as the entry's
/// `last_error` (the message, then each source after `: `).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    message: String,
    #[source]
    source: Option<BoxDynError>,
}

impl DeliveryError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by `source`, described by `message`.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxDynError>) -> Self {
        DeliveryError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message and its sources, as the entry records it.
    fn describe(&self) -> String {
        let mut text = self.message.clone();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// Where a worker sends entries: a message broker, a webhook, an event bus. It returns once
/// the entry is accepted (the worker then marks it delivered) or with why it was not.
#[async_trait]
pub trait Deliver: Send + Sync {
    /// Deliver `entry`. The same entry may come again (after a crash or a lost lease): use
    /// its `id` to deduplicate.
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError>;
}

/// A closure taking the entry and returning a future (which cannot borrow the entry: clone
/// what it needs).
#[async_trait]
impl<F, Fut> Deliver for F
where
    F: Fn(&OutboxEntry) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), DeliveryError>> + Send,
{
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        self(entry).await
    }
}

/// What one [`run_once`](OutboxWorker::run_once) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchReport {
    /// Entries claimed.
    pub claimed: usize,
    /// Entries delivered and marked so (a delivered entry whose lease was lost meanwhile is
    /// not counted: another worker delivers it again).
    pub delivered: usize,
    /// Entries whose delivery failed and that wait for a retry.
    pub failed: usize,
    /// Entries that went dead: failed for the last allowed time, or poison.
    pub dead: usize,
    /// Entries given back untried: behind a failed entry of their subject, after a shutdown
    /// began, or once their lease had run out.
    pub released: usize,
}

/// A clock in milliseconds since the epoch.
type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock, in milliseconds since the epoch.
fn system_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Builds an [`OutboxWorker`]; see [`OutboxWorker::builder`].
pub struct OutboxWorkerBuilder {
    worker: OutboxWorker,
}

impl fmt::Debug for OutboxWorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxWorkerBuilder")
            .field("worker", &self.worker)
            .finish()
    }
}

impl OutboxWorkerBuilder {
    /// The id its leases are taken under (default: a new UUIDv7). Two workers must not share
    /// one.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker.id = id.into();
        self
    }

    /// How many entries a batch claims (default 100; at least 1).
    pub fn batch_size(mut self, size: u32) -> Self {
        self.worker.batch_size = size.max(1);
        self
    }

    /// How long a claim's lease holds (default 30 s; at least 1 ms): longer than a batch takes to deliver, or
    /// another worker claims its entries again while they are being delivered.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.worker.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// How long [`run`](OutboxWorker::run) waits after a batch that claimed nothing, or after a
    /// store error (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.worker.poll_interval = interval;
        self
    }

    /// How many times an entry is tried before it goes dead (default 10; at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.worker.max_attempts = attempts.max(1);
        self
    }

    /// The backoff after a failed delivery: up to `base * 2^(attempts - 1)`, at most `max`,
    /// with full jitter (default 1 s and 5 min).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.worker.backoff_base = base;
        self.worker.backoff_max = max;
        self
    }

    /// The clock, in milliseconds since the epoch (default: the system clock), by which leases
    /// and retries are timed; tests pass their own.
    pub fn clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.worker.clock = Arc::new(clock);
        self
    }

    /// The worker.
    pub fn build(self) -> OutboxWorker {
        self.worker
    }
}

/// Delivers an outbox's entries: see the [module](self).
pub struct OutboxWorker {
    store: Arc<dyn OutboxStore>,
    deliver: Arc<dyn Deliver>,
    id: String,
    batch_size: u32,
    lease: Duration,
    poll_interval: Duration,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    clock: Clock,
}

impl fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("store", &self.store)
            .field("id", &self.id)
            .field("batch_size", &self.batch_size)
            .field("lease", &self.lease)
            .field("poll_interval", &self.poll_interval)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &(self.backoff_base, self.backoff_max))
            .finish_non_exhaustive()
    }
}

/// A subject: tenant, entity, instance.
type Subject<'a> = (&'a str, Option<&'a str>, &'a str);

fn subject(entry: &OutboxEntry) -> Option<Subject<'_>> {
    let instance = entry.instance_id.as_deref()?;
    Some((entry.tenant.as_str(), entry.entity.as_deref(), instance))
}

impl OutboxWorker {
    /// A worker delivering `store`'s entries through `deliver`, with the defaults the builder
    /// lists.
    pub fn builder(store: Arc<dyn OutboxStore>, deliver: Arc<dyn Deliver>) -> OutboxWorkerBuilder {
        OutboxWorkerBuilder {
            worker: OutboxWorker {
                store,
                deliver,
                id: uuid::Uuid::now_v7().to_string(),
                batch_size: 100,
                lease: Duration::from_secs(30),
                poll_interval: Duration::from_secs(1),
                max_attempts: 10,
                backoff_base: Duration::from_secs(1),
                backoff_max: Duration::from_secs(5 * 60),
                clock: Arc::new(system_clock),
            },
        }
    }

    /// The id its leases are taken under.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The delay before retrying an entry whose `attempts`-th delivery failed: random, between
    /// 0 and `base * 2^(attempts - 1)` capped at `max`.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(31);
        let ceiling = self
            .backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max);
        // Any per-call randomness does: a fresh `RandomState` is randomly keyed.
        let random = RandomState::new().hash_one(attempts);
        let ceiling = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(random % ceiling.saturating_add(1))
    }

    /// Claim one batch and deliver it, as the [module](self) says. A store error ends the batch:
    /// what was delivered is still marked, what was not started released (both as far as the
    /// store allows), and the first error returned.
    pub async fn run_once(&self) -> Result<BatchReport, Error> {
        self.batch(&AtomicBool::new(false)).await
    }

    /// Run batches until `shutdown` completes: after a batch that claimed nothing, or a store
    /// error (logged through `tracing`, then retried), wait the poll interval. When `shutdown`
    /// completes during a batch, the entry being delivered is finished, the delivered ones are
    /// marked and the rest released; then this returns.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let stop = AtomicBool::new(false);
        loop {
            let result = watch(self.batch(&stop), shutdown.as_mut(), &stop, false).await;
            let idle = match result {
                Some(Ok(report)) => report.claimed == 0,
                Some(Err(error)) => {
                    tracing::warn!(
                        worker = %self.id,
                        %error,
                        "outbox worker: store operation failed; retrying after the poll interval"
                    );
                    true
                }
                None => true,
            };
            if stop.load(Ordering::Acquire) {
                return;
            }
            if idle {
                let pause = futures_timer::Delay::new(self.poll_interval);
                watch(pause, shutdown.as_mut(), &stop, true).await;
                if stop.load(Ordering::Acquire) {
                    return;
                }
            }
        }
    }

    async fn batch(&self, stop: &AtomicBool) -> Result<BatchReport, Error> {
        let now = (self.clock)();
        let entries = self
            .store
            .claim(&self.id, self.batch_size, now, millis(self.lease))
            .await?;
        let mut report = BatchReport {
            claimed: entries.len(),
            ..BatchReport::default()
        };
        let mut delivered = Vec::new();
        let mut untried = Vec::new();
        // Subjects whose entry failed in this batch, waiting for its retry.
        let mut held: HashSet<Subject<'_>> = HashSet::new();
        let mut failure = None;
        for entry in &entries {
            let subject = subject(entry);
            let expired = entry
                .lease_until
                .is_some_and(|until| (self.clock)() >= until);
            if failure.is_some()
                || stop.load(Ordering::Acquire)
                || expired
                || subject.is_some_and(|s| held.contains(&s))
            {
                untried.push(entry.id.clone());
                continue;
            }
            match self.one(entry, &mut report).await {
                Ok(Outcome::Delivered) => delivered.push(entry.id.clone()),
                Ok(Outcome::Retry) => {
                    if let Some(subject) = subject {
                        held.insert(subject);
                    }
                }
                Ok(Outcome::Dead) => {}
                Err(error) => failure = Some(error),
            }
        }
        let marked = self.store.mark_delivered(&self.id, &delivered).await;
        let released = self.store.release(&self.id, &untried).await;
        if let Some(error) = failure {
            return Err(error);
        }
        report.delivered = usize::try_from(marked?).unwrap_or(usize::MAX);
        report.released = usize::try_from(released?).unwrap_or(usize::MAX);
        Ok(report)
    }

    /// Deliver one entry, or dead-letter it as poison; a failure is marked at once.
    async fn one(&self, entry: &OutboxEntry, report: &mut BatchReport) -> Result<Outcome, Error> {
        if entry.attempts > self.max_attempts {
            let error = format!(
                "claimed {} times, more than max_attempts ({}), without a recorded outcome: \
                 its deliveries may be crashing workers",
                entry.attempts, self.max_attempts
            );
            if self
                .store
                .mark_failed(&self.id, &entry.id, &error, None)
                .await?
            {
                report.dead += 1;
            }
            return Ok(Outcome::Dead);
        }
        let error = match self.deliver.deliver(entry).await {
            Ok(()) => return Ok(Outcome::Delivered),
            Err(error) => error.describe(),
        };
        let retry_at = (entry.attempts < self.max_attempts)
            .then(|| (self.clock)().saturating_add(millis(self.retry_delay(entry.attempts))));
        let marked = self
            .store
            .mark_failed(&self.id, &entry.id, &error, retry_at)
            .await?;
        match (marked, retry_at) {
            (true, Some(_)) => report.failed += 1,
            (true, None) => report.dead += 1,
            (false, _) => {}
        }
        Ok(if retry_at.is_some() {
            Outcome::Retry
        } else {
            Outcome::Dead
        })
    }
}

/// What became of one entry of a batch.
enum Outcome {
    Delivered,
    Retry,
    Dead,
}

/// Poll `work` to its end while watching `shutdown` (until it completes, which sets `stop`).
/// With `abandon`, give `work` up (`None`) as soon as shutdown begins.
async fn watch<F: Future, S: Future<Output = ()>>(
    work: F,
    mut shutdown: Pin<&mut S>,
    stop: &AtomicBool,
    abandon: bool,
) -> Option<F::Output> {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if !stop.load(Ordering::Acquire) && shutdown.as_mut().poll(cx).is_ready() {
            stop.store(true, Ordering::Release);
            if abandon {
                return Poll::Ready(None);
            }
        }
        work.as_mut().poll(cx).map(Some)
    })
    .await
}
