//! kill -9 of the service under load, then restart, on a SQLite file and on PostgreSQL:
//! every command acknowledged with 200 is in the database and its event is delivered, and a
//! command retried with its idempotency key after the kill is not applied twice (its event is
//! enqueued once).
//!
//! Eight clients create books (`Book.create`, the book id as the idempotency key) as fast as
//! the service answers; after a random 200-700 ms the service gets SIGKILL and is started again
//! on the same database, four times per backend. At the end every command sent is retried with
//! its key, and the webhook must have received exactly one `BookAdded` entry per book.

mod common;

use common::free_port;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, RandomState};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

const SECRET: &str = "kill-secret";
const KILLS: usize = 4;

fn start(database_url: &str, webhook: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_library-service"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--no-seed"])
        .env("DATABASE_URL", database_url)
        .env("LIBRARY_SECRET", SECRET)
        .env("WEBHOOK_URL", webhook)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the service")
}

async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the service did not become ready");
}

fn token(tenant: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_library-service"))
        .args([
            "token",
            "--tenant",
            tenant,
            "--user",
            "librarian-1",
            "--role",
            "librarian",
        ])
        .env("LIBRARY_SECRET", SECRET)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Book ids by the webhook entry ids that announced them.
type Seen = Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>;

async fn webhook() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(entry): axum::Json<Json>| {
            let record = record.clone();
            async move {
                if entry["event"]["name"] == "BookAdded" {
                    let book = entry["event"]["payload"]["result"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let id = entry["id"].as_str().unwrap_or_default().to_owned();
                    record.lock().unwrap().entry(book).or_default().insert(id);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn create(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Option<u16> {
    let response = client
        .post(format!("{base}/api/manifest/Book/commands/create"))
        .bearer_auth(token)
        .header("idempotency-key", id)
        .json(&json!({"id": id, "title": format!("Book {id}")}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

async fn kill_test(database_url: &str, name: &str) {
    let (hook, seen) = webhook().await;
    let tenant = format!("kill-{}", uuid::Uuid::now_v7());
    let token = token(&tenant);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let sent = Arc::new(AtomicU64::new(0));
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    for round in 0..KILLS {
        let mut child = start(database_url, &hook, port);
        wait_ready(&base).await;
        let running = Arc::new(AtomicBool::new(true));
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (base, token, sent, acked, running) = (
                base.clone(),
                token.clone(),
                sent.clone(),
                acked.clone(),
                running.clone(),
            );
            clients.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                while running.load(Ordering::Relaxed) {
                    let id = format!("b{:06}", sent.fetch_add(1, Ordering::Relaxed));
                    match create(&client, &base, &token, &id).await {
                        Some(200) => {
                            acked.lock().unwrap().insert(id);
                        }
                        Some(status) => panic!("{id}: status {status} under load"),
                        None => break, // the service is gone
                    }
                }
            }));
        }
        let pause = 200 + RandomState::new().hash_one(round) % 500;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        running.store(false, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
    }
    // Restart, and check.
    let mut child = start(database_url, &hook, port);
    wait_ready(&base).await;
    let client = reqwest::Client::new();
    let acked = acked.lock().unwrap().clone();
    for id in &acked {
        let r = client
            .get(format!("{base}/api/manifest/Book/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "{name}: acknowledged {id} is in the database"
        );
    }
    // Every command sent, retried with its key: a replay or its first run, never a second.
    let total = sent.load(Ordering::Relaxed);
    for n in 0..total {
        let id = format!("b{n:06}");
        assert_eq!(
            create(&client, &base, &token, &id).await,
            Some(200),
            "{name}: retry of {id}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered = seen.lock().unwrap().len() as u64;
        if delivered == total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {delivered} of {total} books announced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.lock().unwrap();
    let twice: Vec<_> = seen
        .iter()
        .filter(|(_, entries)| entries.len() > 1)
        .collect();
    assert!(twice.is_empty(), "{name}: applied twice: {twice:?}");
    println!(
        "kill -9, {name}: {KILLS} kills, {total} commands sent, {} acknowledged before a kill, every one committed, {} events delivered, none enqueued twice",
        acked.len(),
        seen.len()
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_on_sqlite() {
    let path = std::env::temp_dir().join(format!("library-kill-{}.db", uuid::Uuid::now_v7()));
    kill_test(&format!("sqlite://{}", path.display()), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_on_postgres() {
    let Some(url) = common::pg_url() else {
        return;
    };
    kill_test(&url, "postgres").await;
}
