//! The crash test: a child process (`src/bin/crash_child.rs`) runs commands with the whole
//! write path on (outbox, idempotency key, audit) and an outbox worker, on a SQLite file and on
//! PostgreSQL, and is killed with SIGKILL at random moments, 50 times per backend. After each
//! kill the database must hold exactly the commands that committed: the instance's state, and
//! for each committed command its outbox entries and idempotency record and one audit record,
//! and nothing for any other. Each restart retries from the first command it did not see
//! acknowledged (so a command that committed unacknowledged is retried with its key, and must
//! not run twice). At the end a worker drains the outbox: every entry must have been delivered
//! at least once, those claimed by a worker that was killed mid-batch included.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use manifest_core::audit::SqlAudit;
use manifest_core::idempotency::SqlIdempotency;
use manifest_core::outbox::SqlOutbox;
use manifest_core::{
    AuditOutcome, AuditSink, OutboxEntry, OutboxStatus, OutboxStore, PgDb, SqliteDb,
};
use manifest_runtime::worker::{Deliver, DeliveryError, OutboxWorker};
use manifest_runtime::{Database, Engine, Ir, Program};
use serde_json::json;

const KILLS: u32 = 50;

/// Deliveries of the final drain, appended to the children's file.
struct AppendIds(std::sync::Mutex<std::fs::File>);

#[async_trait]
impl Deliver for AppendIds {
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        use std::io::Write;
        let mut file = self.0.lock().unwrap();
        file.write_all(format!("{}\n", entry.id).as_bytes())
            .map_err(|e| DeliveryError::new(e.to_string()))
    }
}

struct Backend {
    name: &'static str,
    url: String,
    database: Database,
    outbox: Arc<dyn OutboxStore>,
    audit: Arc<dyn AuditSink>,
    pool: Pool,
}

/// The backend's pool, for reading the idempotency table directly.
enum Pool {
    Sqlite(manifest_core::sqlx::SqlitePool),
    Postgres(manifest_core::sqlx::PgPool),
}

/// The `application_name` of the child's PostgreSQL connections.
const CHILD_APPLICATION: &str = "manifest_crash_child";

impl Backend {
    /// The URL the child connects to: on PostgreSQL, naming its connections.
    fn child_url(&self) -> String {
        match self.pool {
            Pool::Sqlite(_) => self.url.clone(),
            Pool::Postgres(_) => {
                let sep = if self.url.contains('?') { '&' } else { '?' };
                format!("{}{sep}application_name={CHILD_APPLICATION}", self.url)
            }
        }
    }

    /// Wait until the killed child's PostgreSQL backends are gone. A `COMMIT` the child sent
    /// just before the kill still completes on the server after the child is dead, so until
    /// then the database can change under the check (a commit landing between its reads).
    async fn settle(&self) {
        let Pool::Postgres(pool) = &self.pool else {
            return;
        };
        for _ in 0..500 {
            let left: i64 = manifest_core::sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            )
            .bind(CHILD_APPLICATION)
            .fetch_one(pool)
            .await
            .unwrap();
            if left == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the killed child's PostgreSQL connections did not end within 5 s");
    }

    /// The idempotency keys recorded for `tenant`.
    async fn keys(&self, tenant: &str) -> Vec<String> {
        match &self.pool {
            Pool::Sqlite(pool) => manifest_core::sqlx::query_scalar(
                "SELECT key FROM manifest_idempotency WHERE tenant_id = ?1",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await
            .unwrap(),
            Pool::Postgres(pool) => manifest_core::sqlx::query_scalar(
                "SELECT key FROM manifest_idempotency WHERE tenant_id = $1",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await
            .unwrap(),
        }
    }
}

fn random_below(n: u64) -> u64 {
    RandomState::new().hash_one(std::time::Instant::now()) % n
}

fn program() -> Arc<Program> {
    Arc::new(Program::new(
        Ir::from_json_str(include_str!("../write-path/bank.ir.json")).unwrap(),
    ))
}

async fn sqlite() -> Backend {
    let path = std::env::temp_dir().join(format!("manifest-crash-{}.db", uuid::Uuid::now_v7()));
    let url = path.to_string_lossy().into_owned();
    let db = SqliteDb::open(&path).await.unwrap();
    let outbox = SqlOutbox::new(&db);
    let idempotency = SqlIdempotency::new(&db);
    let audit = SqlAudit::new(&db);
    outbox.create_table().await.unwrap();
    idempotency.create_table().await.unwrap();
    audit.create_table().await.unwrap();
    let pool = db.pool().clone();
    Backend {
        name: "sqlite",
        url,
        database: db.into(),
        outbox: Arc::new(outbox),
        audit: Arc::new(audit),
        pool: Pool::Sqlite(pool),
    }
}

async fn postgres() -> Option<Backend> {
    let url = match std::env::var("MANIFEST_PG_URL") {
        Ok(url) => url,
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh")
        }
        Err(_) => {
            eprintln!("PostgreSQL skipped: MANIFEST_PG_URL is not set");
            return None;
        }
    };
    let db = PgDb::connect(&url).await.unwrap();
    let outbox = SqlOutbox::new(&db);
    let idempotency = SqlIdempotency::new(&db);
    let audit = SqlAudit::new(&db);
    outbox.create_table().await.unwrap();
    idempotency.create_table().await.unwrap();
    audit.create_table().await.unwrap();
    let pool = db.pool().clone();
    Some(Backend {
        name: "postgres",
        url,
        database: db.into(),
        outbox: Arc::new(outbox),
        audit: Arc::new(audit),
        pool: Pool::Postgres(pool),
    })
}

/// What one backend's run saw.
#[derive(Debug, Default)]
struct Tally {
    kills: u32,
    committed: usize,
    acknowledged: usize,
    replays: usize,
    entries: usize,
    deliveries: usize,
    duplicate_deliveries: usize,
}

async fn crash_test(backend: Backend) -> Tally {
    let tenant = format!("crash-{}", uuid::Uuid::now_v7());
    let engine = Engine::builder(program())
        .tenant(tenant.as_str())
        .database(backend.database.clone())
        .build()
        .unwrap();
    engine.prepare().await.unwrap();
    for entity in ["Account", "Ledger"] {
        let data = match json!({"id": "a1"}) {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        engine.create_instance(entity, data).await.unwrap();
    }
    let delivered =
        std::env::temp_dir().join(format!("manifest-delivered-{}.log", uuid::Uuid::now_v7()));
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut tally = Tally::default();
    for kill in 0..KILLS {
        let first = acked.last().map_or(0, |n| n + 1);
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_child"))
            .args([
                backend.name,
                &backend.child_url(),
                &tenant,
                &first.to_string(),
            ])
            .arg(&delivered)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the child");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| {
                    line.strip_prefix("ack ")
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .collect::<Vec<u64>>()
        });
        // Let it run for a random while: from before its first command to many commands in.
        tokio::time::sleep(Duration::from_millis(20 + random_below(230))).await;
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{}: the child ended by itself: {status:?}",
            backend.name
        );
        let seen = reader.join().unwrap();
        for n in seen {
            acked.insert(n);
        }
        tally.kills = kill + 1;
        backend.settle().await;
        check(&backend, &engine, &tenant, &acked, &mut tally).await;
    }
    // Drain: a worker whose clock is past every lease delivers what the killed ones left.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&delivered)
        .unwrap();
    let far = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let worker = OutboxWorker::builder(backend.outbox.clone(), Arc::new(AppendIds(file.into())))
        .batch_size(100)
        .clock(move || far)
        .build();
    loop {
        let report = worker.run_once().await.unwrap();
        if report.claimed == 0 {
            break;
        }
    }
    let entries = backend.outbox.entries(&tenant).await.unwrap();
    assert!(
        entries.iter().all(|e| e.status == OutboxStatus::Delivered),
        "{}: every entry delivered",
        backend.name
    );
    let lines = std::fs::read_to_string(&delivered).unwrap();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for id in lines.lines() {
        *times.entry(id).or_default() += 1;
    }
    for entry in &entries {
        assert!(
            times.contains_key(entry.id.as_str()),
            "{}: entry {} was never delivered",
            backend.name,
            entry.id
        );
    }
    tally.entries = entries.len();
    tally.deliveries = lines.lines().count();
    tally.duplicate_deliveries = tally.deliveries - times.len();
    let _ = std::fs::remove_file(&delivered);
    tally
}

/// The database holds exactly the committed commands (see the module docs).
async fn check(
    backend: &Backend,
    engine: &Engine,
    tenant: &str,
    acked: &BTreeSet<u64>,
    tally: &mut Tally,
) {
    let name = backend.name;
    let keys: BTreeSet<String> = backend.keys(tenant).await.into_iter().collect();
    let committed = keys.len() as u64;
    let expected: BTreeSet<String> = (0..committed).map(|n| format!("k{n}")).collect();
    assert_eq!(
        keys, expected,
        "{name}: commands commit in order, each once"
    );
    assert!(
        acked.iter().all(|n| *n < committed),
        "{name}: an acknowledged command is committed"
    );
    assert!(
        acked.len() as u64 + 1 >= committed,
        "{name}: at most the last committed command is unacknowledged"
    );
    let account = engine.get_instance("Account", "a1").await.unwrap().unwrap();
    let ledger = engine.get_instance("Ledger", "a1").await.unwrap().unwrap();
    assert_eq!(
        account["balance"],
        json!(committed),
        "{name}: the balance counts the commits"
    );
    assert_eq!(account["deposits"], json!(committed), "{name}");
    assert_eq!(
        ledger["entries"],
        json!(committed),
        "{name}: each reaction committed with its parent"
    );
    let entries = backend.outbox.entries(tenant).await.unwrap();
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in &entries {
        by_key
            .entry(entry.correlation_id.clone().unwrap_or_default())
            .or_default()
            .push(entry.event.name.clone());
    }
    assert_eq!(
        by_key.len() as u64,
        committed,
        "{name}: entries of committed commands only"
    );
    for (key, events) in &by_key {
        assert!(
            keys.contains(key),
            "{name}: an entry of the uncommitted {key}"
        );
        assert_eq!(
            events,
            &["Deposited", "Recorded"],
            "{name}: {key}'s entries"
        );
    }
    let records = backend.audit.records(tenant, u32::MAX).await.unwrap();
    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    let mut replays = 0;
    for record in &records {
        assert_eq!(record.outcome, AuditOutcome::Success, "{name}: {record:?}");
        if record.diagnostics.get("idempotentReplay").is_some() {
            replays += 1;
        } else {
            *runs
                .entry(record.request_id.clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    assert_eq!(
        runs.len() as u64,
        committed,
        "{name}: one audit record per committed command"
    );
    assert!(runs.values().all(|n| *n == 1), "{name}: and only one");
    tally.committed = committed as usize;
    tally.acknowledged = acked.len();
    tally.replays = replays;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writers_lose_and_duplicate_nothing() {
    let mut backends = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        backends.push(pg);
    }
    for backend in backends {
        let name = backend.name;
        let tally = crash_test(backend).await;
        println!("crash test, {name}: {tally:?}");
        assert_eq!(tally.kills, KILLS);
        assert!(
            tally.committed > KILLS as usize,
            "{name}: commands ran between the kills"
        );
    }
}
