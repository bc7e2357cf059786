//! Model check: random interleaved operations over three tenants, each result compared with a
//! plain `BTreeMap` model. The model is keyed by `(tenant, id)`, so any leak between tenants, any
//! lost or phantom write, or a wrong version shows up as a difference.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::atomic::{AtomicUsize, Ordering};

use manifest_core::Error;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{Backend, Recipe, RecipePatch, tenants};

const TENANTS: usize = 3;
const IDS: usize = 6;
pub const CASES: u32 = 100;
pub const OPS_PER_CASE: usize = 100;

#[derive(Debug, Clone, Copy)]
enum Version {
    Current,
    Stale,
    Missing,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        t: usize,
        id: usize,
        servings: i32,
    },
    CreateForeign {
        t: usize,
        other: usize,
    },
    Get {
        t: usize,
        id: usize,
    },
    GetAll {
        t: usize,
    },
    Update {
        t: usize,
        id: usize,
        servings: i32,
        version: Version,
    },
    Delete {
        t: usize,
        id: usize,
    },
    Clear {
        t: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS;
    let id = 0..IDS;
    let version = prop_oneof![
        6 => Just(Version::Current),
        2 => Just(Version::Stale),
        1 => Just(Version::Missing),
    ];
    prop_oneof![
        8 => (t.clone(), id.clone(), any::<i32>()).prop_map(|(t, id, servings)| Op::Create { t, id, servings }),
        1 => (t.clone(), 1..TENANTS).prop_map(|(t, d)| Op::CreateForeign { t, other: (t + d) % TENANTS }),
        5 => (t.clone(), id.clone()).prop_map(|(t, id)| Op::Get { t, id }),
        2 => t.clone().prop_map(|t| Op::GetAll { t }),
        6 => (t.clone(), id.clone(), any::<i32>(), version)
            .prop_map(|(t, id, servings, version)| Op::Update { t, id, servings, version }),
        3 => (t.clone(), id.clone()).prop_map(|(t, id)| Op::Delete { t, id }),
        1 => t.prop_map(|t| Op::Clear { t }),
    ]
}

fn id_of(id: usize) -> String {
    format!("row-{id}")
}

/// Run `CASES` random sequences of `OPS_PER_CASE` operations; returns how many ran.
pub async fn run(b: &impl Backend) -> usize {
    let ran = AtomicUsize::new(0);
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&vec(op(), OPS_PER_CASE), |ops| {
            ran.fetch_add(ops.len(), Ordering::Relaxed);
            handle.block_on(check(b, &ops))
        })
    });
    if let Err(e) = result {
        panic!("{}: model check failed: {e}", b.name());
    }
    ran.into_inner()
}

async fn check(b: &impl Backend, ops: &[Op]) -> Result<(), TestCaseError> {
    let names: [String; TENANTS] = tenants();
    let stores: Vec<_> = names.iter().map(|t| b.recipes(t)).collect();
    let mut model: BTreeMap<(usize, String), Recipe> = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        let at = format!("step {step}: {op:?}");
        match *op {
            Op::Create { t, id, servings } => {
                let row = Recipe::new(&format!("n{servings}"), servings).with_id(&id_of(id));
                let got = stores[t].create(row.clone()).await;
                match model.entry((t, id_of(id))) {
                    Entry::Occupied(_) => prop_assert!(
                        matches!(got, Err(Error::DuplicateId { .. })),
                        "{at}: {got:?}"
                    ),
                    Entry::Vacant(slot) => {
                        let mut want = row;
                        want.tenant_id = names[t].clone();
                        want.version = 1;
                        prop_assert_eq!(got.as_ref().ok(), Some(&want), "{}", at);
                        slot.insert(want);
                    }
                }
            }
            Op::CreateForeign { t, other } => {
                let mut row = Recipe::new("foreign", 0);
                row.tenant_id = names[other].clone();
                let got = stores[t].create(row).await;
                prop_assert!(
                    matches!(got, Err(Error::TenantMismatch { .. })),
                    "{at}: {got:?}"
                );
            }
            Op::Get { t, id } => {
                let got = stores[t].get_by_id(&id_of(id)).await.map_err(fail(&at))?;
                prop_assert_eq!(got.as_ref(), model.get(&(t, id_of(id))), "{}", at);
            }
            Op::GetAll { t } => {
                let got = stores[t].get_all().await.map_err(fail(&at))?;
                let want: Vec<&Recipe> = model
                    .range((t, String::new())..(t + 1, String::new()))
                    .map(|(_, r)| r)
                    .collect();
                prop_assert_eq!(got.iter().collect::<Vec<_>>(), want, "{}", at);
            }
            Op::Update {
                t,
                id,
                servings,
                version,
            } => {
                let key = (t, id_of(id));
                let current = model.get(&key).map(|r| r.version);
                let expected = match (version, current) {
                    (Version::Missing, _) => None,
                    (Version::Current, Some(v)) => Some(v),
                    (Version::Stale, Some(v)) if v > 1 => Some(v - 1),
                    (Version::Stale, Some(v)) => Some(v + 5),
                    (_, None) => Some(1),
                };
                let patch = RecipePatch {
                    servings: Some(servings),
                    version: expected,
                    ..Default::default()
                };
                let got = stores[t].update(&id_of(id), patch).await;
                match (expected, model.get_mut(&key)) {
                    (None, _) => prop_assert!(
                        matches!(got, Err(Error::VersionRequired { .. })),
                        "{at}: {got:?}"
                    ),
                    (Some(_), None) => prop_assert!(matches!(got, Ok(None)), "{at}: {got:?}"),
                    (Some(e), Some(row)) if e != row.version => {
                        let actual = row.version;
                        prop_assert!(
                            matches!(got, Err(Error::VersionConflict { expected, actual: a, .. }) if expected == e && a == actual),
                            "{at}: {got:?}"
                        );
                    }
                    (Some(_), Some(row)) => {
                        row.servings = servings;
                        row.version += 1;
                        let got = got.ok().flatten();
                        prop_assert_eq!(got.as_ref(), Some(&*row), "{}", at);
                    }
                }
            }
            Op::Delete { t, id } => {
                let got = stores[t].delete(&id_of(id)).await.map_err(fail(&at))?;
                prop_assert_eq!(got, model.remove(&(t, id_of(id))).is_some(), "{}", at);
            }
            Op::Clear { t } => {
                let got = stores[t].clear().await.map_err(fail(&at))?;
                let before = model.len();
                model.retain(|(tenant, _), _| *tenant != t);
                prop_assert_eq!(got, (before - model.len()) as u64, "{}", at);
            }
        }
    }
    // Finally every tenant's whole table matches the model.
    for (t, store) in stores.iter().enumerate() {
        let got = store.get_all().await.map_err(fail("final get_all"))?;
        let want: Vec<&Recipe> = model
            .range((t, String::new())..(t + 1, String::new()))
            .map(|(_, r)| r)
            .collect();
        prop_assert_eq!(
            got.iter().collect::<Vec<_>>(),
            want,
            "final state of tenant {}",
            t
        );
        store.clear().await.map_err(fail("cleanup"))?;
    }
    Ok(())
}

fn fail(at: &str) -> impl Fn(Error) -> TestCaseError + '_ {
    move |e| TestCaseError::fail(format!("{at}: unexpected error {e:?}"))
}
