//! The outbox worker on every outbox: memory, a SQLite file and PostgreSQL (`MANIFEST_PG_URL`;
//! skipped without it unless `CI=true`).

#[path = "common/outbox.rs"]
mod suite;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use manifest_core::outbox::{OutboxEntry, OutboxStatus, SqlOutbox};
use manifest_core::{Error, SqliteDb};
use manifest_runtime::worker::{BatchReport, Deliver, DeliveryError, OutboxWorker};
use suite::{Harness, entry};

const T: &str = "acme";

/// Records what it delivers (under its label, in one log shared by several workers) and
/// fails the ids it is told to, always or a number of times.
#[derive(Default)]
struct Recorder {
    label: &'static str,
    log: Arc<Mutex<Vec<(&'static str, String)>>>,
    fail: Mutex<HashMap<String, u32>>,
}

impl Recorder {
    fn new(label: &'static str, log: Arc<Mutex<Vec<(&'static str, String)>>>) -> Self {
        Recorder {
            label,
            log,
            fail: Mutex::default(),
        }
    }

    fn fail(self, id: &str, times: u32) -> Self {
        self.fail.lock().unwrap().insert(id.to_owned(), times);
        self
    }

    fn delivered(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, id)| id.clone())
            .collect()
    }
}

#[async_trait]
impl Deliver for Recorder {
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        if let Some(left) = self.fail.lock().unwrap().get_mut(&entry.id)
            && *left > 0
        {
            *left -= 1;
            return Err(DeliveryError::with_source(
                "broker refused",
                std::io::Error::other("connection reset"),
            ));
        }
        self.log
            .lock()
            .unwrap()
            .push((self.label, entry.id.clone()));
        Ok(())
    }
}

/// A clock the test moves.
fn clock(start: i64) -> (Arc<AtomicI64>, impl Fn() -> i64 + Send + Sync + 'static) {
    let now = Arc::new(AtomicI64::new(start));
    let read = now.clone();
    (now, move || read.load(Ordering::SeqCst))
}

/// Run `worker` until a batch claims nothing; the sum of the reports.
async fn drain(worker: &OutboxWorker) -> BatchReport {
    let mut total = BatchReport::default();
    loop {
        let r = worker.run_once().await.unwrap();
        if r.claimed == 0 {
            return total;
        }
        total.claimed += r.claimed;
        total.delivered += r.delivered;
        total.failed += r.failed;
        total.dead += r.dead;
        total.released += r.released;
    }
}

/// For each subject of `entries`, its ids in `seq` order.
fn queues(entries: &[OutboxEntry]) -> HashMap<String, Vec<String>> {
    let mut queues: HashMap<String, Vec<String>> = HashMap::new();
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|e| e.seq);
    for e in sorted {
        if let Some(instance) = &e.instance_id {
            queues
                .entry(instance.clone())
                .or_default()
                .push(e.id.clone());
        }
    }
    queues
}

/// `log`'s ids of the subject `queue`, in delivery order, are `queue`.
fn assert_in_order(log: &[String], queue: &[String]) {
    let members: HashSet<&String> = queue.iter().collect();
    let seen: Vec<&String> = log.iter().filter(|id| members.contains(id)).collect();
    assert_eq!(seen, queue.iter().collect::<Vec<_>>());
}

macro_rules! worker_tests {
    ($($backend:ident),*) => {$(
        mod $backend {
            use super::*;
            worker_tests!(@tests $backend;
                delivers_every_entry_once_in_subject_order,
                failures_back_off_then_dead_letter,
                poison_entry_goes_dead_undelivered,
                killed_worker_leaves_entries_to_another,
                graceful_stop_finishes_the_batch_in_flight,
                two_workers_share_the_work,
            );
        }
    )*};
    (@tests $backend:ident; $($name:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if let Some(harness) = suite::$backend().await {
                super::$name(&harness).await;
            }
        }
    )*};
}

worker_tests!(memory, sqlite, postgres);

async fn delivers_every_entry_once_in_subject_order(h: &Harness) {
    let mut all = Vec::new();
    for batch in 0..6 {
        let entries: Vec<_> = (0..10)
            .map(|i| {
                let n = batch * 10 + i;
                let subject = (n % 4 != 3).then(|| format!("s{}", n % 5));
                entry(T, &format!("e{n:02}"), subject.as_deref(), 0)
            })
            .collect();
        h.store.enqueue(None, &entries).await.unwrap();
        all.extend(entries);
    }
    let log = Arc::default();
    let recorder = Arc::new(Recorder::new("w", log));
    let worker = OutboxWorker::builder(h.store.clone(), recorder.clone())
        .batch_size(7)
        .build();
    let total = drain(&worker).await;
    assert_eq!(
        (total.delivered, total.failed, total.dead),
        (60, 0, 0),
        "{}",
        h.name
    );
    let delivered = recorder.delivered();
    assert_eq!(delivered.len(), 60);
    assert_eq!(delivered.iter().collect::<HashSet<_>>().len(), 60);
    let stored = h.store.entries(T).await.unwrap();
    assert!(stored.iter().all(|e| e.status == OutboxStatus::Delivered));
    for queue in queues(&stored).values() {
        assert_in_order(&delivered, queue);
    }
}

async fn failures_back_off_then_dead_letter(h: &Harness) {
    let start = 1_000_000;
    let (now, read) = clock(start);
    h.store
        .enqueue(
            None,
            &[
                entry(T, "bad", Some("S"), start),
                entry(T, "next", Some("S"), start),
                entry(T, "other", Some("O"), start),
            ],
        )
        .await
        .unwrap();
    let log = Arc::default();
    let recorder = Arc::new(Recorder::new("w", log).fail("bad", u32::MAX));
    let base = Duration::from_millis(1_000);
    let worker = OutboxWorker::builder(h.store.clone(), recorder.clone())
        .max_attempts(4)
        .backoff(base, Duration::from_millis(5_000))
        .clock(read)
        .build();

    let first = worker.run_once().await.unwrap();
    let counts = |r: BatchReport| (r.claimed, r.delivered, r.failed, r.dead, r.released);
    assert_eq!(counts(first), (3, 1, 1, 0, 1), "{}", h.name);
    assert_eq!(recorder.delivered(), ["other"]);
    let next = h.store.entries(T).await.unwrap();
    let next = next.iter().find(|e| e.id == "next").unwrap();
    assert_eq!((next.attempts, next.lease_owner.as_deref()), (0, None));

    // Attempts 1, 2, 3 back off up to 1 s, 2 s, 4 s; the 4th (max_attempts) is the last.
    for attempt in 1..=4u32 {
        let bad = h
            .store
            .entries(T)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.id == "bad")
            .unwrap();
        assert_eq!(bad.attempts, attempt);
        assert_eq!(
            bad.last_error.as_deref(),
            Some("broker refused: connection reset")
        );
        if attempt == 4 {
            assert_eq!(bad.status, OutboxStatus::Dead);
            break;
        }
        assert_eq!(bad.status, OutboxStatus::Pending);
        let waited = bad.available_at - now.load(Ordering::SeqCst);
        let ceiling = 1_000 * (1 << (attempt - 1));
        assert!(
            (0..=ceiling).contains(&waited),
            "attempt {attempt}: {waited} ms"
        );
        // Before the retry time nothing of S moves (next waits behind bad).
        if waited > 0 {
            now.store(bad.available_at - 1, Ordering::SeqCst);
            assert_eq!(worker.run_once().await.unwrap().claimed, 0);
        }
        now.store(bad.available_at, Ordering::SeqCst);
        let r = worker.run_once().await.unwrap();
        if attempt < 3 {
            // `next` is released untried: it must not overtake `bad`.
            assert_eq!(counts(r), (2, 0, 1, 0, 1));
        } else {
            // Dead, `bad` no longer holds `next` back.
            assert_eq!(counts(r), (2, 1, 0, 1, 0));
        }
    }
    assert_eq!(recorder.delivered(), ["other", "next"]);
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);
    let dead = h.store.dead_letters(T, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, "bad");
}

/// The backoff is random between 0 and `base * 2^(attempts - 1)`, capped: it doubles.
#[test]
fn retry_delay_grows_exponentially_within_jitter() {
    let store = Arc::new(manifest_core::outbox::MemoryOutbox::new());
    let worker = OutboxWorker::builder(store, Arc::new(Recorder::default()))
        .backoff(Duration::from_millis(100), Duration::from_millis(10_000))
        .build();
    for attempts in 1..=12u32 {
        let ceiling = (100u64 << (attempts - 1)).min(10_000);
        let delays: Vec<u64> = (0..300)
            .map(|_| worker.retry_delay(attempts).as_millis() as u64)
            .collect();
        assert!(
            delays.iter().all(|d| *d <= ceiling),
            "{attempts}: {delays:?}"
        );
        // 300 uniform draws all below half the ceiling would be a 2^-300 event.
        assert!(delays.iter().any(|d| *d > ceiling / 2), "{attempts}");
        assert!(delays.iter().any(|d| *d < ceiling / 2), "{attempts}");
    }
}

async fn poison_entry_goes_dead_undelivered(h: &Harness) {
    let (now, read) = clock(0);
    h.store
        .enqueue(
            None,
            &[
                entry(T, "poison", Some("S"), 0),
                entry(T, "after", Some("S"), 0),
            ],
        )
        .await
        .unwrap();
    // Three workers claim it and die before recording anything.
    let lease = 30_000;
    for crash in 0..3 {
        let claimed = h
            .store
            .claim(&format!("crashed-{crash}"), 1, crash * lease, lease)
            .await
            .unwrap();
        assert_eq!(claimed[0].id, "poison");
    }
    now.store(3 * lease, Ordering::SeqCst);
    let recorder = Arc::new(Recorder::new("w", Arc::default()));
    let worker = OutboxWorker::builder(h.store.clone(), recorder.clone())
        .max_attempts(3)
        .clock(read)
        .build();
    let r = worker.run_once().await.unwrap();
    assert_eq!((r.claimed, r.dead, r.delivered), (2, 1, 1), "{}", h.name);
    assert_eq!(recorder.delivered(), ["after"]);
    let dead = h.store.dead_letters(T, 10).await.unwrap();
    assert_eq!(dead[0].attempts, 4);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("more than max_attempts (3)")
    );
}

/// Blocks forever on the entry `stall`, after telling the test it got there.
struct Stalls {
    recorder: Recorder,
    stall: String,
    reached: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

#[async_trait]
impl Deliver for Stalls {
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        if entry.id == self.stall {
            if let Some(tx) = self.reached.lock().unwrap().take() {
                let _ = tx.send(());
            }
            std::future::pending::<()>().await;
        }
        self.recorder.deliver(entry).await
    }
}

async fn killed_worker_leaves_entries_to_another(h: &Harness) {
    let start = 50_000;
    let batch: Vec<_> = (0..5)
        .map(|i| entry(T, &format!("e{i}"), Some("S"), start))
        .collect();
    h.store.enqueue(None, &batch).await.unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (reached, stalled) = tokio::sync::oneshot::channel();
    let doomed = Stalls {
        recorder: Recorder::new("doomed", log.clone()),
        stall: "e2".to_owned(),
        reached: Mutex::new(Some(reached)),
    };
    let (_, read) = clock(start);
    let lease = Duration::from_secs(30);
    let a = OutboxWorker::builder(h.store.clone(), Arc::new(doomed))
        .lease(lease)
        .clock(read)
        .build();
    tokio::select! {
        _ = a.run_once() => panic!("the worker should stall on e2"),
        _ = stalled => {}
    }
    // Worker A is gone (its future dropped) holding the lease on all five.
    let stored = h.store.entries(T).await.unwrap();
    assert!(
        stored
            .iter()
            .all(|e| e.lease_owner.as_deref() == Some(a.id()))
    );
    let (now, read) = clock(start + 30_000 - 1);
    let b = OutboxWorker::builder(h.store.clone(), Arc::new(Recorder::new("b", log.clone())))
        .clock(read)
        .build();
    assert_eq!(b.run_once().await.unwrap().claimed, 0);
    now.store(start + 30_000, Ordering::SeqCst);
    let r = b.run_once().await.unwrap();
    assert_eq!((r.claimed, r.delivered), (5, 5), "{}", h.name);
    // e0 and e1 were delivered by A and not marked: at least once, they come again.
    let log = log.lock().unwrap().clone();
    let ids = |who| {
        log.iter()
            .filter(|(w, _)| *w == who)
            .map(|(_, id)| id.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("doomed"), ["e0", "e1"]);
    assert_eq!(ids("b"), ["e0", "e1", "e2", "e3", "e4"]);
    let stored = h.store.entries(T).await.unwrap();
    assert!(
        stored
            .iter()
            .all(|e| e.status == OutboxStatus::Delivered && e.attempts == 2)
    );
}

/// Asks for a shutdown while delivering the entry `at`, then finishes it.
struct StopsAt {
    recorder: Recorder,
    at: String,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

#[async_trait]
impl Deliver for StopsAt {
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        if entry.id == self.at {
            if let Some(tx) = self.stop.lock().unwrap().take() {
                let _ = tx.send(());
            }
            // Let the worker see the shutdown while this delivery is still in flight.
            tokio::task::yield_now().await;
        }
        self.recorder.deliver(entry).await
    }
}

async fn graceful_stop_finishes_the_batch_in_flight(h: &Harness) {
    let batch: Vec<_> = (0..5)
        .map(|i| entry(T, &format!("e{i}"), None, 0))
        .collect();
    h.store.enqueue(None, &batch).await.unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let deliver = StopsAt {
        recorder: Recorder::new("w", log.clone()),
        at: "e1".to_owned(),
        stop: Mutex::new(Some(stop)),
    };
    let worker = OutboxWorker::builder(h.store.clone(), Arc::new(deliver))
        .poll_interval(Duration::from_secs(3600))
        .build();
    let run = worker.run(async {
        let _ = stopped.await;
    });
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("run returns on shutdown");
    let stored = h.store.entries(T).await.unwrap();
    let status: Vec<_> = stored
        .iter()
        .map(|e| (e.id.as_str(), e.status, e.attempts))
        .collect();
    use OutboxStatus::{Delivered, Pending};
    assert_eq!(
        status,
        [
            ("e0", Delivered, 1),
            ("e1", Delivered, 1),
            ("e2", Pending, 0),
            ("e3", Pending, 0),
            ("e4", Pending, 0)
        ],
        "{}",
        h.name
    );
    assert!(stored.iter().all(|e| e.lease_owner.is_none()));
    // Idle, a worker stops as soon as asked, without waiting out its poll interval.
    let idle = OutboxWorker::builder(
        Arc::new(manifest_core::outbox::MemoryOutbox::new()),
        Arc::new(Recorder::default()),
    )
    .poll_interval(Duration::from_secs(3600))
    .build();
    let started = Instant::now();
    idle.run(tokio::task::yield_now()).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    // What was released goes to the next worker.
    let next = Arc::new(Recorder::new("next", log.clone()));
    let r = OutboxWorker::builder(h.store.clone(), next)
        .build()
        .run_once()
        .await
        .unwrap();
    assert_eq!(r.delivered, 3);
}

/// Two workers, each with an outbox of its own over the same table (two pools on SQL), run
/// concurrently over 500 entries of 20 subjects: no entry is delivered twice (the leases
/// hold), all are delivered, each subject in order, and both did part of the work.
async fn two_workers_share_the_work(h: &Harness) {
    let second = h
        .sql
        .as_ref()
        .map_or_else(|| h.store.clone(), |s| s.second_store());
    let mut n = 0u64;
    for _ in 0..50 {
        let batch: Vec<_> = (0..10)
            .map(|_| {
                n += 1;
                // A scrambled subject, so that batches hold several subjects.
                let subject = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 59;
                entry(
                    T,
                    &format!("e{n:03}"),
                    Some(&format!("s{}", subject % 20)),
                    0,
                )
            })
            .collect();
        h.store.enqueue(None, &batch).await.unwrap();
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    let together = Arc::new(tokio::sync::Barrier::new(2));
    for (label, store) in [("a", h.store.clone()), ("b", second)] {
        let recorder = Arc::new(Recorder::new(label, log.clone()));
        let (log, together) = (log.clone(), together.clone());
        tasks.push(tokio::spawn(async move {
            let worker = OutboxWorker::builder(store, recorder)
                .batch_size(20)
                .build();
            together.wait().await;
            let deadline = Instant::now() + Duration::from_secs(120);
            while log.lock().unwrap().len() < 500 {
                assert!(Instant::now() < deadline, "the workers stalled");
                if worker.run_once().await.unwrap().claimed == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 500, "{}", h.name);
    let ids: Vec<String> = log.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        500,
        "an entry was delivered twice"
    );
    let stored = h.store.entries(T).await.unwrap();
    assert!(
        stored
            .iter()
            .all(|e| e.status == OutboxStatus::Delivered && e.attempts == 1)
    );
    let subjects = queues(&stored);
    assert!(subjects.len() >= 16, "{} subjects", subjects.len());
    for queue in subjects.values() {
        assert_in_order(&ids, queue);
    }
    let by_a = log.iter().filter(|(w, _)| *w == "a").count();
    eprintln!(
        "{}: worker a delivered {by_a}, worker b {}",
        h.name,
        500 - by_a
    );
    // In memory a batch never waits, so one worker may finish before the other starts.
    if h.sql.is_some() {
        assert!(by_a > 0 && by_a < 500, "one worker did everything");
    }
}

/// A store error is an error of `run_once`; `run` logs it and keeps going until shutdown.
#[tokio::test]
async fn store_errors_are_returned_and_survived() {
    let db = SqliteDb::memory().await.unwrap();
    // No table: every claim fails.
    let store = Arc::new(SqlOutbox::new(&db));
    let worker = OutboxWorker::builder(store, Arc::new(Recorder::default()))
        .poll_interval(Duration::from_millis(5))
        .build();
    assert!(matches!(worker.run_once().await, Err(Error::Database(_))));
    worker.run(after(Duration::from_millis(100))).await;
}

async fn after(d: Duration) {
    tokio::time::sleep(d).await;
}
