//! Timings of the SQL outboxes' operations, ignored by default (see [`timings`]).

#[path = "common/outbox.rs"]
mod suite;

use std::time::{Duration, Instant};

use manifest_core::outbox::OutboxEntry;
use suite::entry;

const T: &str = "acme";

/// How long the outbox's operations take: `cargo test --release --test outbox_timings --
/// --ignored --nocapture timings` (with `MANIFEST_PG_URL` for PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn timings() {
    for h in [suite::sqlite().await, suite::postgres().await]
        .into_iter()
        .flatten()
    {
        let rounds = 300;
        let mut n = 0;
        let mut batch = |size: usize| -> Vec<OutboxEntry> {
            (0..size)
                .map(|_| {
                    n += 1;
                    entry(T, &format!("t{n:06}"), Some(&format!("s{}", n % 50)), 0)
                })
                .collect()
        };
        // A backlog of 20,000 delivered entries, not yet purged, as a live outbox has.
        for _ in 0..200 {
            h.store.enqueue(None, &batch(100)).await.unwrap();
            let got = h.store.claim("backlog", 100, 0, 30_000).await.unwrap();
            let ids: Vec<String> = got.iter().map(|e| e.id.clone()).collect();
            h.store.mark_delivered("backlog", &ids).await.unwrap();
        }
        let ones: Vec<_> = (0..rounds).map(|_| batch(1)).collect();
        let tens: Vec<_> = (0..rounds).map(|_| batch(10)).collect();
        let started = Instant::now();
        for b in &ones {
            h.store.enqueue(None, b).await.unwrap();
        }
        let one = started.elapsed() / rounds as u32;
        let started = Instant::now();
        for b in &tens {
            h.store.enqueue(None, b).await.unwrap();
        }
        let ten = started.elapsed() / rounds as u32;
        // 3,300 pending entries of 50 subjects: claim 100 at a time, then mark them
        // delivered; the first half as the table is (PostgreSQL has no statistics of it yet:
        // autovacuum analyzes a table within a minute), the second after `ANALYZE`.
        let (mut fresh, mut analyzed, mut marks) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            if fresh.len() == 16 && analyzed.is_empty() {
                h.sql.as_ref().unwrap().analyze().await;
            }
            let started = Instant::now();
            let got = h.store.claim("bench", 100, 0, 30_000).await.unwrap();
            let took = started.elapsed();
            if got.is_empty() {
                break;
            }
            assert_eq!(got.len(), 100);
            if fresh.len() < 16 {
                &mut fresh
            } else {
                &mut analyzed
            }
            .push(took);
            let ids: Vec<String> = got.iter().map(|e| e.id.clone()).collect();
            let started = Instant::now();
            h.store.mark_delivered("bench", &ids).await.unwrap();
            marks.push(started.elapsed());
        }
        let mean = |d: &[Duration]| d.iter().sum::<Duration>() / d.len().max(1) as u32;
        let (fresh, analyzed, mark) = (mean(&fresh), mean(&analyzed), mean(&marks));
        println!(
            "{:?}: enqueue 1 {one:?}, enqueue 10 {ten:?}, claim 100 {fresh:?} (after ANALYZE \
             {analyzed:?}), mark_delivered 100 {mark:?}",
            h.store
        );
    }
}
