//! `Store::update_if`, the conditional update that read-decide-write cycles (the runtime
//! engine's commands) rely on: applied when the row is still the one read, `Changed` with
//! nothing written when another write came between, `Missing` when there is no row, and never
//! across tenants. Typed stores (run by `contract_suite!`), the typed-to-dynamic adapter, and
//! the stores of `EntityInstance`s: memory (`memory.rs`) and the document stores
//! (`document_suite!`).

use manifest_core::{Conditional, EntityInstance, Error, InstanceStore, MemoryStore, Store};
use serde_json::{Map, Value, json};

use super::document::{DocBackend, doc, obj};
use super::document_data::every_value;
use super::{Backend, Label, LabelPatch, Recipe, RecipePatch, tenants};

fn servings(servings: i32, version: i64) -> RecipePatch {
    RecipePatch {
        servings: Some(servings),
        version: Some(version),
        ..Default::default()
    }
}

/// A versioned typed entity: the version is the check, on every typed store.
pub async fn update_if_checks_the_version(b: &impl Backend) {
    let [a, c] = tenants();
    let store = b.recipes(&a);
    let read = store.create(Recipe::new("soup", 2)).await.unwrap();
    let updated = match store.update_if(&read.id, &read, servings(3, 1)).await {
        Ok(Conditional::Updated(row)) => row,
        other => panic!("expected Updated, got {other:?}"),
    };
    assert_eq!((updated.servings, updated.version), (3, 2));
    assert_eq!(
        store.get_by_id(&read.id).await.unwrap(),
        Some(updated.clone())
    );

    // Another write came between: nothing is written.
    let stale = store.update_if(&read.id, &read, servings(9, 1)).await;
    assert_eq!(stale.unwrap(), Conditional::Changed);
    assert_eq!(
        store.get_by_id(&read.id).await.unwrap(),
        Some(updated.clone())
    );

    // The patch must expect the version of the row read, and name one.
    assert!(matches!(
        store.update_if(&read.id, &updated, servings(9, 1)).await,
        Err(Error::InvalidValue { field, .. }) if field == "version"
    ));
    let unversioned = RecipePatch {
        servings: Some(9),
        ..Default::default()
    };
    assert!(matches!(
        store.update_if(&read.id, &updated, unversioned).await,
        Err(Error::VersionRequired { .. })
    ));

    // No such row, here or in another tenant.
    let absent = updated.clone().with_id("absent");
    assert_eq!(
        store
            .update_if(&absent.id, &absent, servings(9, 2))
            .await
            .unwrap(),
        Conditional::Missing
    );
    let other = b.recipes(&c);
    assert_eq!(
        other
            .update_if(&read.id, &updated, servings(9, 2))
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(store.get_by_id(&read.id).await.unwrap(), Some(updated));
    assert!(other.get_all().await.unwrap().is_empty());
}

/// A typed store cannot tell whether an unversioned row changed: it says so.
pub async fn update_if_of_unversioned_is_unsupported(b: &impl Backend) {
    let [a] = tenants();
    let labels = b.labels(&a);
    let read = labels
        .create(Label {
            id: String::new(),
            tenant_id: String::new(),
            text: "one".into(),
        })
        .await
        .unwrap();
    let patch = LabelPatch {
        text: Some("two".into()),
    };
    match labels.update_if(&read.id, &read, patch).await {
        Err(Error::Unsupported { entity, operation }) => {
            assert_eq!((entity.as_str(), operation), ("Label", "update_if"))
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert_eq!(labels.get_by_id(&read.id).await.unwrap(), Some(read));
}

/// The typed-to-dynamic adapter: the typed store's check, JSON in and out.
pub async fn update_if_through_the_instance_adapter(b: &impl Backend) {
    let [a, c] = tenants();
    let dynamic = InstanceStore::from_arc(b.recipes(&a)).into_dyn();
    let fields = obj(json!({"name": "pie", "servings": 8, "notes": null}));
    let created = dynamic
        .create(EntityInstance::new("", fields))
        .await
        .unwrap();
    let read = dynamic.get_by_id(&created.id).await.unwrap().unwrap();
    let updated = match dynamic
        .update_if(&read.id, &read, obj(json!({"servings": 5})))
        .await
        .unwrap()
    {
        Conditional::Updated(row) => row,
        other => panic!("expected Updated, got {other:?}"),
    };
    assert_eq!(updated.fields["servings"], json!(5));
    assert_eq!(updated.fields["version"], json!(2));
    assert_eq!(
        dynamic
            .update_if(&read.id, &read, obj(json!({"servings": 6})))
            .await
            .unwrap(),
        Conditional::Changed
    );
    assert!(matches!(
        dynamic
            .update_if(&read.id, &updated, obj(json!({"calories": 1})))
            .await,
        Err(Error::UnknownField { .. })
    ));
    let other = InstanceStore::from_arc(b.recipes(&c)).into_dyn();
    assert_eq!(
        other
            .update_if(&read.id, &updated, obj(json!({"servings": 7})))
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(
        dynamic.get_by_id(&read.id).await.unwrap(),
        Some(updated.clone())
    );

    let labels = InstanceStore::from_arc(b.labels(&a)).into_dyn();
    let label = labels
        .create(EntityInstance::new("", obj(json!({"text": "x"}))))
        .await
        .unwrap();
    assert!(matches!(
        labels
            .update_if(&label.id, &label, obj(json!({"text": "y"})))
            .await,
        Err(Error::Unsupported { .. })
    ));
}

/// Every check on a store of `EntityInstance`s, made for a tenant by `store`.
pub async fn instance_update_if<S, F>(store: F)
where
    S: Store<EntityInstance> + 'static,
    F: Fn(&str) -> S,
{
    let [a, c] = tenants();
    let (sa, sc) = (store(&a), store(&c));
    applies_only_to_the_row_read(&sa).await;
    every_value_read_back_compares_equal(&sa).await;
    tenants_stay_apart(&sa, &sc).await;
}

fn updated(outcome: manifest_core::Result<Conditional<EntityInstance>>) -> EntityInstance {
    match outcome {
        Ok(Conditional::Updated(row)) => row,
        other => panic!("expected Updated, got {other:?}"),
    }
}

async fn applies_only_to_the_row_read(store: &dyn Store<EntityInstance>) {
    let id = "cond".to_owned();
    let fields =
        json!({"title": "chop", "qty": 1, "ratio": 0.3, "nested": {"b": 1, "a": [1, 2.5]}});
    let created = store.create(doc(&id, fields)).await.unwrap();
    let read = store.get_by_id(&id).await.unwrap().unwrap();
    assert_eq!(read, created);

    let row = updated(store.update_if(&id, &read, obj(json!({"qty": 2}))).await);
    assert_eq!(row.fields["qty"], json!(2));
    assert_eq!(row.fields["title"], json!("chop"));
    assert_eq!(store.get_by_id(&id).await.unwrap(), Some(row.clone()));
    // The merge moved `qty` last in the stored text: still the row read.
    let row = updated(
        store
            .update_if(&id, &row, obj(json!({"title": "dice"})))
            .await,
    );
    let row = updated(
        store
            .update_if(&id, &row, obj(json!({"nested": {"z": null}})))
            .await,
    );

    // The row read is stale: nothing is written.
    let stale = store.update_if(&id, &read, obj(json!({"qty": 99}))).await;
    assert_eq!(stale.unwrap(), Conditional::Changed);
    assert_eq!(store.get_by_id(&id).await.unwrap(), Some(row.clone()));

    // Each kind of change another writer can make is seen.
    let changes = [
        json!({"qty": 3}),
        json!({"ratio": 0.30000000000000004}), // one unit in the last place
        json!({"ratio": 3}),
        json!({"title": null}),
        json!({"title": "Dice"}),
        json!({"extra": false}),
        json!({"nested": {"z": false}}),
        json!({"nested": {"z": null, "y": 1}}),
        json!({"qty": "3"}),
        json!({"qty": [3]}),
    ];
    let mut row = row;
    for change in changes {
        let read = row.clone();
        let between = store
            .update(&id, obj(change.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(between, read, "{change}");
        let outcome = store.update_if(&id, &read, obj(json!({"qty": 100}))).await;
        assert_eq!(outcome.unwrap(), Conditional::Changed, "{change}");
        assert_eq!(store.get_by_id(&id).await.unwrap(), Some(between.clone()));
        row = between;
    }

    // A patch that writes nothing still reports the row's state.
    assert_eq!(
        updated(store.update_if(&id, &row, Map::new()).await),
        row.clone()
    );
    let same_id = obj(json!({"id": id}));
    assert_eq!(
        updated(store.update_if(&id, &row, same_id).await),
        row.clone()
    );
    assert_eq!(
        store.update_if(&id, &read, Map::new()).await.unwrap(),
        Conditional::Changed
    );
    assert!(matches!(
        store
            .update_if(&id, &row, obj(json!({"id": "moved"})))
            .await,
        Err(Error::ImmutableField { .. })
    ));

    // No row.
    let absent = "absent".to_owned();
    assert_eq!(
        store
            .update_if(&absent, &row, obj(json!({"qty": 1})))
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert!(store.delete(&id).await.unwrap());
    assert_eq!(
        store
            .update_if(&id, &row, obj(json!({"qty": 1})))
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(
        store.update_if(&id, &row, Map::new()).await.unwrap(),
        Conditional::Missing
    );
    assert_eq!(store.get_by_id(&id).await.unwrap(), None);
}

/// Whatever a row holds (every float, odd keys, deep nesting, keys in any stored order), the
/// row as read back compares equal to what is stored.
async fn every_value_read_back_compares_equal(store: &dyn Store<EntityInstance>) {
    let id = "every".to_owned();
    store.create(doc(&id, every_value())).await.unwrap();
    let mut read = store.get_by_id(&id).await.unwrap().unwrap();
    for (i, key) in ["floats", "zero", "q\"k", "", "a.b", "ints", "nested"]
        .into_iter()
        .enumerate()
    {
        // Each write moves a key (SQLite appends patched keys last) and changes a value.
        let value = read.fields[key].clone();
        let patch = Map::from_iter([
            (key.to_owned(), value),
            ("round".to_owned(), json!(i as f64 + 0.1)),
        ]);
        let row = updated(store.update_if(&id, &read, patch).await);
        read = store.get_by_id(&id).await.unwrap().unwrap();
        assert_eq!(row, read);
    }
    let mut expected = every_value();
    expected["round"] = json!(6.1);
    assert_eq!(Value::Object(read.fields), expected);
}

async fn tenants_stay_apart(sa: &dyn Store<EntityInstance>, sc: &dyn Store<EntityInstance>) {
    let id = "shared".to_owned();
    let ra = sa.create(doc(&id, json!({"n": 1}))).await.unwrap();
    // The same id and data in the other tenant: a write there cannot reach this one.
    let rc = sc.create(doc(&id, json!({"n": 1}))).await.unwrap();
    let rc2 = updated(sc.update_if(&id, &rc, obj(json!({"n": 2}))).await);
    assert_eq!(sa.get_by_id(&id).await.unwrap(), Some(ra.clone()));
    let ra2 = updated(sa.update_if(&id, &ra, obj(json!({"n": 3}))).await);
    assert_eq!(sc.get_by_id(&id).await.unwrap(), Some(rc2));
    let only_a = "only-a".to_owned();
    let row = sa.create(doc(&only_a, json!({"n": 1}))).await.unwrap();
    assert_eq!(
        sc.update_if(&only_a, &row, obj(json!({"n": 2})))
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(sa.get_by_id(&only_a).await.unwrap(), Some(row));
    assert_eq!(sa.get_by_id(&id).await.unwrap(), Some(ra2));
}

/// The document store keeps the `update_if` contract.
pub async fn document_update_if<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    instance_update_if(|tenant| b.store(tenant)).await;
}

/// The memory store of `EntityInstance`s keeps the `update_if` contract.
pub async fn memory_update_if() {
    let base = MemoryStore::<EntityInstance>::named("DocPrepTask", String::new());
    instance_update_if(|tenant| base.for_tenant(tenant.to_owned())).await;
}
