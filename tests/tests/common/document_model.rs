//! Model check of the document store: random interleaved operations over three tenants with
//! random JSON (any finite float, any integer, any text but U+0000, nested arrays and objects,
//! nulls), each result compared with a `BTreeMap` keyed by `(tenant, id)`. A leak between
//! tenants, a lost or phantom write, a wrong merge or a value that does not come back equal
//! shows up as a difference.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::atomic::{AtomicUsize, Ordering};

use manifest_core::{DocumentStore, EntityInstance, Error, Store};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Number, Value};

use super::document::DocBackend;
use super::tenants;

const TENANTS: usize = 3;
const IDS: usize = 6;
pub const CASES: u32 = 100;
pub const OPS_PER_CASE: usize = 100;

#[derive(Debug, Clone, Copy)]
enum IdKey {
    Absent,
    Same,
    Other,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        t: usize,
        id: Option<usize>,
        fields: Map<String, Value>,
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
        patch: Map<String, Value>,
        id_key: IdKey,
    },
    Delete {
        t: usize,
        id: usize,
    },
    Clear {
        t: usize,
    },
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["a", "b", "c", "qty", "note"]).prop_map(String::from),
        2 => prop::sample::select(vec!["", "q\"k", "back\\slash", "日本", "a.b", "$[0]"]).prop_map(String::from),
        // Not `id`: a top-level `id` in a patch is the row's id, checked, never stored.
        1 => "[^\u{0}]{0,6}".prop_filter("not `id`", |k| k != "id"),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        (-1000i32..1000).prop_map(|i| Value::from(f64::from(i) / 8.0)),
        "[^\u{0}]{0,12}".prop_map(Value::from),
        Just(Value::from("{\"looks\": [\"like\", null]}")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(key(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn fields() -> impl Strategy<Value = Map<String, Value>> {
    btree_map(key(), json(), 0..5).prop_map(|m| m.into_iter().collect())
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS;
    let id = 0..IDS;
    let id_key = prop_oneof![
        8 => Just(IdKey::Absent),
        1 => Just(IdKey::Same),
        1 => Just(IdKey::Other),
    ];
    prop_oneof![
        6 => (t.clone(), id.clone(), fields()).prop_map(|(t, id, fields)| Op::Create { t, id: Some(id), fields }),
        1 => (t.clone(), fields()).prop_map(|(t, fields)| Op::Create { t, id: None, fields }),
        4 => (t.clone(), id.clone()).prop_map(|(t, id)| Op::Get { t, id }),
        2 => t.clone().prop_map(|t| Op::GetAll { t }),
        8 => (t.clone(), id.clone(), fields(), id_key)
            .prop_map(|(t, id, patch, id_key)| Op::Update { t, id, patch, id_key }),
        3 => (t.clone(), id.clone()).prop_map(|(t, id)| Op::Delete { t, id }),
        1 => t.prop_map(|t| Op::Clear { t }),
    ]
}

fn id_of(id: usize) -> String {
    format!("row-{id}")
}

type Model = BTreeMap<(usize, String), Map<String, Value>>;

/// Run `CASES` random sequences of `OPS_PER_CASE` operations and assert that at least 10,000
/// operations ran.
pub async fn model_check_interleaved_tenants<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
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
        panic!("{}: document model check failed: {e}", b.name);
    }
    let ran = ran.into_inner();
    assert!(ran >= 10_000, "{}: only {ran} operations ran", b.name);
    eprintln!("{}: document model check ran {ran} operations", b.name);
}

fn rows_of(model: &Model, t: usize) -> Vec<EntityInstance> {
    model
        .range((t, String::new())..(t + 1, String::new()))
        .map(|((_, id), fields)| EntityInstance::new(id.clone(), fields.clone()))
        .collect()
}

async fn check<DB: manifest_core::Backend>(
    b: &DocBackend<DB>,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let names: [String; TENANTS] = tenants();
    let stores: Vec<DocumentStore<DB>> = names.iter().map(|t| b.store(t)).collect();
    let mut model = Model::new();
    for (step, op) in ops.iter().enumerate() {
        let at = format!("step {step}: {op:?}");
        match op {
            Op::Create { t, id, fields } => {
                let t = *t;
                let given = id.map(id_of).unwrap_or_default();
                let got = stores[t]
                    .create(EntityInstance::new(given.clone(), fields.clone()))
                    .await;
                if given.is_empty() {
                    let got = got.map_err(fail(&at))?;
                    prop_assert!(!got.id.is_empty(), "{}", at);
                    prop_assert_eq!(&got.fields, fields, "{}", at);
                    let fresh = model.insert((t, got.id.clone()), got.fields).is_none();
                    prop_assert!(fresh, "{}: generated id reused", at);
                    continue;
                }
                match model.entry((t, given.clone())) {
                    Entry::Occupied(_) => prop_assert!(
                        matches!(got, Err(Error::DuplicateId { .. })),
                        "{at}: {got:?}"
                    ),
                    Entry::Vacant(slot) => {
                        let want = EntityInstance::new(given, fields.clone());
                        prop_assert_eq!(got.as_ref().ok(), Some(&want), "{}", at);
                        slot.insert(fields.clone());
                    }
                }
            }
            Op::Get { t, id } => {
                let got = stores[*t].get_by_id(&id_of(*id)).await.map_err(fail(&at))?;
                let want = model
                    .get(&(*t, id_of(*id)))
                    .map(|f| EntityInstance::new(id_of(*id), f.clone()));
                prop_assert_eq!(got, want, "{}", at);
            }
            Op::GetAll { t } => {
                let got = stores[*t].get_all().await.map_err(fail(&at))?;
                prop_assert_eq!(got, rows_of(&model, *t), "{}", at);
            }
            Op::Update {
                t,
                id,
                patch,
                id_key,
            } => {
                let key = (*t, id_of(*id));
                let mut sent = patch.clone();
                match id_key {
                    IdKey::Absent => {}
                    IdKey::Same => {
                        sent.insert("id".into(), Value::from(id_of(*id)));
                    }
                    IdKey::Other => {
                        sent.insert("id".into(), Value::from("moved"));
                    }
                }
                let got = stores[*t].update(&id_of(*id), sent).await;
                match (model.get_mut(&key), id_key) {
                    (None, _) => prop_assert!(matches!(got, Ok(None)), "{at}: {got:?}"),
                    (Some(_), IdKey::Other) => prop_assert!(
                        matches!(&got, Err(Error::ImmutableField { field, .. }) if field == "id"),
                        "{at}: {got:?}"
                    ),
                    (Some(row), _) => {
                        row.extend(patch.clone());
                        let want = EntityInstance::new(id_of(*id), row.clone());
                        prop_assert_eq!(got.ok().flatten(), Some(want), "{}", at);
                    }
                }
            }
            Op::Delete { t, id } => {
                let got = stores[*t].delete(&id_of(*id)).await.map_err(fail(&at))?;
                prop_assert_eq!(got, model.remove(&(*t, id_of(*id))).is_some(), "{}", at);
            }
            Op::Clear { t } => {
                let got = stores[*t].clear().await.map_err(fail(&at))?;
                let before = model.len();
                model.retain(|(tenant, _), _| tenant != t);
                prop_assert_eq!(got, (before - model.len()) as u64, "{}", at);
            }
        }
    }
    // Finally every tenant's rows match the model.
    for (t, store) in stores.iter().enumerate() {
        let got = store.get_all().await.map_err(fail("final get_all"))?;
        prop_assert_eq!(got, rows_of(&model, t), "final state of tenant {}", t);
        store.clear().await.map_err(fail("cleanup"))?;
    }
    Ok(())
}

fn fail(at: &str) -> impl Fn(Error) -> TestCaseError + '_ {
    move |e| TestCaseError::fail(format!("{at}: unexpected error {e:?}"))
}
