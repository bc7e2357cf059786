//! The outbox contract's checks of claims, leases, failures, dead letters and purging (see
//! `outbox.rs` beside this file).

use std::collections::{HashMap, HashSet};

use manifest_core::outbox::OutboxStatus;

use super::{Harness, LEASE, T, entry, ids, one, owned};

pub async fn claim_respects_limit_availability_and_leases(h: &Harness) {
    let now = 1_000;
    let mut later = entry(T, "later", None, now);
    later.available_at = now + 500;
    let batch = [
        entry(T, "a", None, now),
        later,
        entry(T, "b", None, now),
        entry(T, "c", None, now),
        entry(T, "d", None, now),
    ];
    h.store.enqueue(None, &batch).await.unwrap();
    assert!(h.store.claim("w0", 0, now, LEASE).await.unwrap().is_empty());

    let first = h.store.claim("w1", 2, now, LEASE).await.unwrap();
    assert_eq!(ids(&first), ["a", "b"], "{}", h.name);
    for e in &first {
        assert_eq!(e.attempts, 1);
        assert_eq!(e.lease_owner.as_deref(), Some("w1"));
        assert_eq!(e.lease_until, Some(now + LEASE));
        assert_eq!(e.status, OutboxStatus::Pending);
    }
    assert_eq!(one(h, T, "a").await.lease_owner.as_deref(), Some("w1"));
    let second = h.store.claim("w2", 10, now, LEASE).await.unwrap();
    assert_eq!(ids(&second), ["c", "d"]);
    assert!(
        h.store
            .claim("w3", 10, now + 499, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let third = h.store.claim("w3", 10, now + 500, LEASE).await.unwrap();
    assert_eq!(ids(&third), ["later"]);
}

pub async fn expired_lease_is_reclaimed_and_the_old_worker_changes_nothing(h: &Harness) {
    let now = 10_000;
    h.store
        .enqueue(
            None,
            &[
                entry(T, "a", Some("o1"), now),
                entry(T, "b", Some("o1"), now),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&h.store.claim("w1", 1, now, LEASE).await.unwrap()),
        ["a"]
    );
    // Until the lease ends, neither `a` nor `b` (behind it) can be claimed.
    let until = now + LEASE;
    assert!(
        h.store
            .claim("w2", 10, until - 1, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let again = h.store.claim("w2", 10, until, LEASE).await.unwrap();
    assert_eq!(ids(&again), ["a", "b"], "{}", h.name);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].lease_owner.as_deref(), Some("w2"));
    assert_eq!(again[0].lease_until, Some(until + LEASE));

    let before = h.store.entries(T).await.unwrap();
    let all = owned(&["a", "b"]);
    assert_eq!(h.store.mark_delivered("w1", &all).await.unwrap(), 0);
    assert!(
        !h.store
            .mark_failed("w1", "a", "late", Some(0))
            .await
            .unwrap()
    );
    assert!(!h.store.mark_failed("w1", "a", "late", None).await.unwrap());
    assert_eq!(h.store.release("w1", &all).await.unwrap(), 0);
    assert_eq!(h.store.entries(T).await.unwrap(), before);
    assert_eq!(h.store.mark_delivered("w2", &all).await.unwrap(), 2);
}

pub async fn subject_order_holds_back_later_entries(h: &Harness) {
    let now = 5_000;
    let batch = [
        entry(T, "s1", Some("S"), now),
        entry(T, "t1", Some("T"), now),
        entry(T, "s2", Some("S"), now),
        entry(T, "n1", None, now),
        entry(T, "t2", Some("T"), now),
        entry(T, "s3", Some("S"), now),
        // The same instance id of another entity, or in another tenant, is another subject.
        entry(T, "x1", Some("S"), now).subject(Some("Invoice".to_owned()), Some("S".to_owned())),
        entry("globex", "g1", Some("S"), now),
    ];
    h.store.enqueue(None, &batch).await.unwrap();
    assert_eq!(
        ids(&h.store.claim("w1", 1, now, LEASE).await.unwrap()),
        ["s1"]
    );
    // s2 and s3 wait behind s1, leased; the other subjects go on.
    let others = h.store.claim("w2", 10, now, LEASE).await.unwrap();
    assert_eq!(ids(&others), ["t1", "n1", "t2", "x1", "g1"], "{}", h.name);
    // s1 fails and backs off: s2 and s3 still wait, now behind its retry time.
    assert!(
        h.store
            .mark_failed("w1", "s1", "boom", Some(now + 1_000))
            .await
            .unwrap()
    );
    assert!(
        h.store
            .claim("w3", 10, now + 999, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let resumed = h.store.claim("w3", 2, now + 1_000, LEASE).await.unwrap();
    assert_eq!(ids(&resumed), ["s1", "s2"]);
    // s3 waits for s2's lease; once s1 and s2 are delivered it goes.
    assert!(
        h.store
            .claim("w4", 10, now + 1_000, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        h.store
            .mark_delivered("w3", &owned(&["s1", "s2"]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ids(&h.store.claim("w4", 10, now + 1_000, LEASE).await.unwrap()),
        ["s3"]
    );

    // A dead entry holds nothing back: it waits for an operator, not in its subject's queue.
    h.store
        .enqueue(
            None,
            &[
                entry(T, "u1", Some("U"), now),
                entry(T, "u2", Some("U"), now),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&h.store.claim("w5", 1, now, LEASE).await.unwrap()),
        ["u1"]
    );
    assert!(
        h.store
            .mark_failed("w5", "u1", "fatal", None)
            .await
            .unwrap()
    );
    assert_eq!(
        ids(&h.store.claim("w5", 10, now, LEASE).await.unwrap()),
        ["u2"]
    );
}

pub async fn mark_failed_retries_then_dead(h: &Harness) {
    let now = 0;
    h.store
        .enqueue(None, &[entry(T, "a", None, now)])
        .await
        .unwrap();
    h.store.claim("w1", 10, now, LEASE).await.unwrap();
    assert!(
        h.store
            .mark_failed("w1", "a", "timeout", Some(now + 5))
            .await
            .unwrap()
    );
    let a = one(h, T, "a").await;
    assert_eq!(a.status, OutboxStatus::Pending);
    assert_eq!((a.available_at, a.attempts), (now + 5, 1));
    assert_eq!((a.lease_owner, a.lease_until), (None, None));
    assert_eq!(a.last_error.as_deref(), Some("timeout"));
    // Failing again needs a lease again.
    assert!(!h.store.mark_failed("w1", "a", "again", None).await.unwrap());
    assert!(
        h.store
            .claim("w1", 10, now + 4, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let again = h.store.claim("w1", 10, now + 5, LEASE).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    assert!(
        h.store
            .mark_failed("w1", "a", "refused", None)
            .await
            .unwrap()
    );
    let a = one(h, T, "a").await;
    assert_eq!(a.status, OutboxStatus::Dead, "{}", h.name);
    assert_eq!(a.last_error.as_deref(), Some("refused"));
    assert_eq!(a.lease_owner, None);
    assert!(
        h.store
            .claim("w1", 10, i64::MAX / 2, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(ids(&h.store.dead_letters(T, 10).await.unwrap()), ["a"]);
}

/// Enqueue `names` for `tenant` and make them dead.
async fn make_dead(h: &Harness, tenant: &str, names: &[&str]) {
    let batch: Vec<_> = names.iter().map(|n| entry(tenant, n, None, 0)).collect();
    h.store.enqueue(None, &batch).await.unwrap();
    let worker = format!("killer-{tenant}");
    let claimed = h.store.claim(&worker, 100, 0, LEASE).await.unwrap();
    for e in claimed.iter().filter(|e| e.tenant == tenant) {
        assert!(
            h.store
                .mark_failed(&worker, &e.id, "dead", None)
                .await
                .unwrap()
        );
    }
}

pub async fn dead_letters_and_requeue_per_tenant(h: &Harness) {
    make_dead(h, T, &["a1", "a2", "a3"]).await;
    make_dead(h, "globex", &["b1"]).await;
    h.store
        .enqueue(None, &[entry(T, "p", None, 0)])
        .await
        .unwrap();
    assert_eq!(
        ids(&h.store.dead_letters(T, 2).await.unwrap()),
        ["a1", "a2"],
        "{}",
        h.name
    );
    assert_eq!(
        ids(&h.store.dead_letters(T, 10).await.unwrap()),
        ["a1", "a2", "a3"]
    );
    assert_eq!(
        ids(&h.store.dead_letters("globex", 10).await.unwrap()),
        ["b1"]
    );
    assert!(h.store.dead_letters("nobody", 10).await.unwrap().is_empty());

    // Another tenant's ids, a pending entry and an unknown id are not requeued.
    let n = h
        .store
        .requeue("globex", &owned(&["a1", "a2"]), 50)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let n = h
        .store
        .requeue(T, &owned(&["a1", "a3", "p", "zz", "a1"]), 50)
        .await
        .unwrap();
    assert_eq!(n, 2, "{}", h.name);
    let a1 = one(h, T, "a1").await;
    assert_eq!(a1.status, OutboxStatus::Pending);
    assert_eq!((a1.attempts, a1.available_at), (0, 50));
    assert_eq!(a1.last_error.as_deref(), Some("dead"));
    assert_eq!(ids(&h.store.dead_letters(T, 10).await.unwrap()), ["a2"]);
    assert!(
        h.store
            .claim("w", 10, 49, LEASE)
            .await
            .unwrap()
            .iter()
            .all(|e| e.id == "p")
    );
    let claimed = h.store.claim("w2", 10, 50, LEASE).await.unwrap();
    assert_eq!(ids(&claimed), ["a1", "a3"]);
}

pub async fn release_undoes_the_attempt(h: &Harness) {
    h.store
        .enqueue(
            None,
            &[entry(T, "a", Some("o"), 0), entry(T, "b", Some("o"), 0)],
        )
        .await
        .unwrap();
    let claimed = h.store.claim("w1", 10, 0, LEASE).await.unwrap();
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(h.store.release("w2", &owned(&["a", "b"])).await.unwrap(), 0);
    assert_eq!(
        h.store.release("w1", &owned(&["b", "zz"])).await.unwrap(),
        1
    );
    let b = one(h, T, "b").await;
    assert_eq!((b.attempts, b.lease_owner, b.lease_until), (0, None, None));
    assert_eq!(h.store.release("w1", &owned(&["a"])).await.unwrap(), 1);
    let again = h.store.claim("w2", 10, 0, LEASE).await.unwrap();
    assert_eq!(ids(&again), ["a", "b"], "{}", h.name);
    assert!(again.iter().all(|e| e.attempts == 1));
}

pub async fn mark_delivered_only_what_the_worker_leases(h: &Harness) {
    h.store
        .enqueue(
            None,
            &[
                entry(T, "a", None, 0),
                entry(T, "b", None, 0),
                entry(T, "c", None, 0),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        h.store.mark_delivered("w1", &owned(&["a"])).await.unwrap(),
        0
    );
    h.store.claim("w1", 2, 0, LEASE).await.unwrap();
    h.store.claim("w2", 1, 0, LEASE).await.unwrap();
    assert_eq!(h.store.mark_delivered("w1", &[]).await.unwrap(), 0);
    let n = h
        .store
        .mark_delivered("w1", &owned(&["a", "b", "c", "zz", "a"]))
        .await
        .unwrap();
    assert_eq!(n, 2, "{}", h.name);
    let all = h.store.entries(T).await.unwrap();
    let status: Vec<_> = all.iter().map(|e| e.status).collect();
    assert_eq!(
        status,
        [
            OutboxStatus::Delivered,
            OutboxStatus::Delivered,
            OutboxStatus::Pending
        ]
    );
    assert_eq!(all[0].lease_owner, None);
    assert_eq!(all[2].lease_owner.as_deref(), Some("w2"));
    // Delivered is final: a second mark changes nothing.
    assert_eq!(
        h.store.mark_delivered("w1", &owned(&["a"])).await.unwrap(),
        0
    );
    assert!(
        h.store
            .claim("w3", 10, i64::MAX / 2, LEASE)
            .await
            .unwrap()
            .iter()
            .all(|e| e.id == "c")
    );
}

pub async fn tenants_are_isolated(h: &Harness) {
    let batch = [
        entry(T, "x", Some("o"), 0),
        entry("globex", "x", Some("o"), 0),
        entry("globex", "y", None, 0),
    ];
    h.store.enqueue(None, &batch).await.unwrap();
    assert_eq!(ids(&h.store.entries(T).await.unwrap()), ["x"]);
    assert_eq!(ids(&h.store.entries("globex").await.unwrap()), ["x", "y"]);
    assert!(h.store.entries("initech").await.unwrap().is_empty());
    // A claim reads every tenant; the same instance id in two tenants is two subjects.
    let claimed = h.store.claim("w", 10, 0, LEASE).await.unwrap();
    let got: Vec<_> = claimed
        .iter()
        .map(|e| (e.tenant.as_str(), e.id.as_str()))
        .collect();
    assert_eq!(
        got,
        [(T, "x"), ("globex", "x"), ("globex", "y")],
        "{}",
        h.name
    );
    assert!(h.store.mark_failed("w", "y", "bad", None).await.unwrap());
    assert!(h.store.dead_letters(T, 10).await.unwrap().is_empty());
    assert_eq!(h.store.requeue(T, &owned(&["y"]), 0).await.unwrap(), 0);
    assert_eq!(one(h, "globex", "y").await.status, OutboxStatus::Dead);
}

pub async fn purge_deletes_old_delivered_entries(h: &Harness) {
    let batch = [
        entry(T, "e1", None, 100),
        entry(T, "e2", None, 200),
        entry(T, "e3", None, 300),
        entry(T, "e4", None, 150),
        entry(T, "e5", None, 100),
    ];
    h.store.enqueue(None, &batch).await.unwrap();
    h.store.claim("w", 3, 1_000, LEASE).await.unwrap();
    h.store
        .mark_delivered("w", &owned(&["e1", "e2", "e3"]))
        .await
        .unwrap();
    h.store.claim("w", 1, 1_000, LEASE).await.unwrap();
    h.store.mark_failed("w", "e4", "x", None).await.unwrap();
    // e3 is too new, e4 dead, e5 pending.
    assert_eq!(h.store.purge_delivered(250).await.unwrap(), 2, "{}", h.name);
    assert_eq!(ids(&h.store.entries(T).await.unwrap()), ["e3", "e4", "e5"]);
    assert_eq!(h.store.purge_delivered(250).await.unwrap(), 0);
    let last = h.store.entries(T).await.unwrap().last().map(|e| e.seq);
    h.store
        .enqueue(None, &[entry(T, "e6", None, 400)])
        .await
        .unwrap();
    assert!(one(h, T, "e6").await.seq > last.unwrap_or_default());
}

/// Four workers claim at once, over two pools where the outbox is SQL: no entry is returned
/// twice, and a subject's entries go to one worker at a time, a prefix of its queue.
pub async fn concurrent_claims_never_share_an_entry_or_a_subject(h: &Harness) {
    let now = 0;
    let mut batch = Vec::new();
    for i in 0..200 {
        let subject = (i % 3 != 0).then(|| format!("s{}", i % 17));
        batch.push(entry(T, &format!("e{i:03}"), subject.as_deref(), now));
    }
    h.store.enqueue(None, &batch).await.unwrap();
    let second = h
        .sql
        .as_ref()
        .map_or_else(|| h.store.clone(), |s| s.second_store());
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = if w % 2 == 0 {
            h.store.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim(&format!("w{w}"), 7, now, LEASE).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
            }
        }));
    }
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut all = Vec::new();
    for (w, task) in tasks.into_iter().enumerate() {
        for e in task.await.unwrap() {
            assert!(
                owner.insert(e.id.clone(), w).is_none(),
                "{} claimed twice",
                e.id
            );
            all.push(e);
        }
    }
    // Every subject-less entry is claimed; of each subject, a prefix, all by one worker.
    let mut by_subject: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in &batch {
        match &e.instance_id {
            None => assert!(owner.contains_key(&e.id), "{} not claimed", e.id),
            Some(s) => by_subject.entry(s).or_default().push(&e.id),
        }
    }
    for (subject, queue) in by_subject {
        let claimed: Vec<&str> = queue
            .iter()
            .copied()
            .filter(|id| owner.contains_key(*id))
            .collect();
        assert!(!claimed.is_empty(), "{subject}: nothing claimed");
        assert_eq!(claimed, queue[..claimed.len()], "{subject}: not a prefix");
        let workers: HashSet<usize> = claimed.iter().map(|id| owner[*id]).collect();
        assert_eq!(workers.len(), 1, "{subject}: claimed by {workers:?}");
    }
}
