//! A small load generator for the service's routes (and the reference peer's, which serves
//! the same routes): `load <base-url> <token> <read|list|command> <clients> <seconds>`. Each
//! client sends requests one after the other for the given time; it prints one Markdown table
//! row: requests per second, p50 and p99 latency, and how many responses were not 200.
//!
//! - `read`: `GET /api/manifest/Book/book-1`;
//! - `list`: `GET /api/manifest/Member?limit=50`, the first page of the members;
//! - `command`: `POST /api/manifest/Member/commands/create` with a fresh id and name each
//!   time (a write, its event enqueued and audited).
//!
//! `load <base-url> <token> seed <clients> <count>` creates `count` members (as `command`
//! does), prints how many failed, and exits 1 if any did.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, route, clients, seconds] = args.as_slice() else {
        eprintln!("usage: load <base-url> <token> <read|command> <clients> <seconds>");
        std::process::exit(2);
    };
    let clients: usize = clients.parse().expect("clients");
    let seconds: u64 = seconds.parse().expect("seconds");
    let (route_path, command, seed) = match route.as_str() {
        "read" => ("/api/manifest/Book/book-1", false, None),
        "list" => ("/api/manifest/Member?limit=50", false, None),
        "command" => ("/api/manifest/Member/commands/create", true, None),
        // `seconds` is the count here.
        "seed" => ("/api/manifest/Member/commands/create", true, Some(seconds)),
        other => {
            eprintln!("load: unknown route {other}");
            std::process::exit(2);
        }
    };
    let run = format!("{:x}", std::process::id());
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, base, token, run, counter, errors) = (
            http.clone(),
            base.clone(),
            token.clone(),
            run.clone(),
            counter.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let more = match seed {
                    Some(count) => n < count,
                    None => Instant::now() < end,
                };
                if !more {
                    break;
                }
                let request = if command {
                    let id = format!("m-{run}-{n}");
                    http.post(format!("{base}{route_path}"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"id": id, "name": format!("Member {n}")}))
                } else {
                    http.get(format!("{base}{route_path}")).bearer_auth(&token)
                };
                let start = Instant::now();
                let ok = match request.send().await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                latencies.push(start.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client"));
    }
    let failed = errors.load(Ordering::Relaxed);
    if seed.is_some() {
        println!("seeded {} members, {failed} failed", all.len());
        std::process::exit(i32::from(failed > 0));
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds as f64);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "| {route} | {clients} | {:.0} | {:.2} | {:.2} | {} |",
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        failed
    );
}
