//! The document store (`DocumentStore`): the store contract for entities without a Rust struct,
//! on SQLite and PostgreSQL. Values and names are checked in `document_data.rs`, the model in
//! `document_model.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use manifest_core::sqlx::Database;
use manifest_core::{DocumentStore, EntityInstance, Error, IdGenerator, SqlDb, Store};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Label, tenants};

/// The suite's entity; its table is `doc_prep_task`.
pub const ENTITY: &str = "DocPrepTask";
/// An entity whose name is no table name, stored in a table named explicitly.
pub const CUSTOM_ENTITY: &str = "Prep Task (custom)";
pub const CUSTOM_TABLE: &str = "doc_custom_table";

/// A document-store backend over one `SqlDb`.
pub struct DocBackend<DB: manifest_core::Backend> {
    pub db: SqlDb<DB>,
    pub name: &'static str,
}

impl<DB: manifest_core::Backend> DocBackend<DB> {
    /// Create the suite's tables (twice: creation must be safe to repeat).
    pub async fn new(db: SqlDb<DB>, name: &'static str) -> Self {
        for _ in 0..2 {
            db.create_document_table(ENTITY).await.unwrap();
            db.create_document_table_in(CUSTOM_ENTITY, CUSTOM_TABLE)
                .await
                .unwrap();
            db.create_table::<Label>().await.unwrap();
        }
        DocBackend { db, name }
    }

    pub fn store(&self, tenant: &str) -> DocumentStore<DB> {
        self.db.document_store(ENTITY, tenant).unwrap()
    }

    pub fn is_postgres(&self) -> bool {
        <DB as Database>::NAME == "PostgreSQL"
    }
}

/// Generates one `#[tokio::test]` per document-store check; `$make` is an async expression
/// giving `Option<DocBackend<_>>` (`None`: skipped).
#[macro_export]
macro_rules! document_suite {
    ($make:expr) => {
        $crate::document_suite!(@tests $make;
            document::create_generates_or_keeps_the_id,
            document::custom_id_generator,
            document::duplicate_id_is_an_error_and_keeps_the_row,
            document::same_id_in_two_tenants,
            document::tenants_never_reach_each_other,
            document::get_all_is_ordered_by_id,
            document::find_by_reads_this_tenants_matching_rows,
            document::update_merges_top_level_keys,
            document::null_is_stored_as_null,
            document::id_in_a_patch,
            document::absent_rows,
            document::clear_counts_this_tenant_only,
            document_data::values_round_trip_verbatim,
            document_data::nesting_limit,
            document_data::invalid_names_are_typed_errors,
            document_data::explicit_table,
            document_data::default_tables_are_one_to_one,
            document_data::tables_of_another_shape_are_refused,
            document::transaction_commits_and_rolls_back,
            document::session_and_closed_transaction,
            document::concurrent_updates_of_different_keys_all_land,
            conditional::document_update_if,
            document_model::model_check_interleaved_tenants,
        );
    };
    // In a module of their own: some names are also contract checks.
    (@tests $make:expr; $($module:ident :: $name:ident,)*) => {
        mod document_store {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $make.await {
                        common::$module::$name(&backend).await;
                    }
                }
            )*
        }
    };
}

pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

pub fn doc(id: &str, fields: Value) -> EntityInstance {
    EntityInstance::new(id, obj(fields))
}

pub async fn create_generates_or_keeps_the_id<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let fields = json!({"title": "chop onions", "qty": 3, "done": false});
    let created = store.create(doc("", fields.clone())).await.unwrap();
    let id: Uuid = created.id.parse().expect("default ids are UUIDs");
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(created.fields, obj(fields.clone()));
    assert_eq!(
        store.get_by_id(&created.id).await.unwrap(),
        Some(created.clone())
    );
    let second = store.create(doc("", fields.clone())).await.unwrap();
    assert_ne!(second.id, created.id);

    let given = store.create(doc("given-1", fields.clone())).await.unwrap();
    assert_eq!(given, doc("given-1", fields));
    // The dynamic store is object-safe and names its entity and tenant.
    let dynamic: Arc<dyn Store<EntityInstance>> = Arc::new(store);
    assert_eq!((dynamic.entity(), dynamic.tenant()), (ENTITY, &a));
    assert_eq!(dynamic.get_all().await.unwrap().len(), 3);
}

pub async fn custom_id_generator<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let ids = IdGenerator::from_fn(move || format!("t-{}", c.fetch_add(1, Ordering::SeqCst) + 1));
    let store =
        b.db.clone()
            .with_ids(ids)
            .document_store(ENTITY, &a)
            .unwrap();
    let one = store.create(doc("", json!({}))).await.unwrap();
    let two = store.create(doc("", json!({"x": 1}))).await.unwrap();
    assert_eq!((one.id.as_str(), two.id.as_str()), ("t-1", "t-2"));
    assert_eq!(one.fields, Map::new(), "an empty document is a document");
    store.create(doc("mine", json!({}))).await.unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 2);
}

pub async fn duplicate_id_is_an_error_and_keeps_the_row<DB: manifest_core::Backend>(
    b: &DocBackend<DB>,
) {
    let [a] = tenants();
    let store = b.store(&a);
    let first = store.create(doc("dup", json!({"n": 1}))).await.unwrap();
    let err = store.create(doc("dup", json!({"n": 2}))).await.unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateId { entity, id } if entity == ENTITY && id == "dup"),
        "{err:?}"
    );
    assert_eq!(store.get_all().await.unwrap(), vec![first]);
}

pub async fn same_id_in_two_tenants<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a, c] = tenants();
    let (sa, sc) = (b.store(&a), b.store(&c));
    let ra = sa.create(doc("shared", json!({"who": "a"}))).await.unwrap();
    let rc = sc.create(doc("shared", json!({"who": "c"}))).await.unwrap();
    assert_eq!(sa.get_by_id("shared").await.unwrap(), Some(ra));
    assert_eq!(sc.get_by_id("shared").await.unwrap(), Some(rc));
}

pub async fn tenants_never_reach_each_other<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a, c] = tenants();
    let (sa, sc) = (b.store(&a), b.store(&c));
    let ra = sa
        .create(doc("a-only", json!({"secret": 1})))
        .await
        .unwrap();
    let rc = sc
        .create(doc("c-only", json!({"mine": true})))
        .await
        .unwrap();
    let id = ra.id.clone();
    assert_eq!(sc.get_by_id(&id).await.unwrap(), None);
    assert_eq!(sc.get_all().await.unwrap(), vec![rc.clone()]);
    let patch = obj(json!({"secret": 2}));
    assert_eq!(sc.update(&id, patch).await.unwrap(), None);
    let reid = obj(json!({"id": "elsewhere"}));
    assert_eq!(sc.update(&id, reid).await.unwrap(), None);
    assert!(!sc.delete(&id).await.unwrap());
    assert_eq!(sc.clear().await.unwrap(), 1);
    assert_eq!(
        sa.get_all().await.unwrap(),
        vec![ra],
        "A's row is untouched"
    );
    assert_eq!(sc.get_all().await.unwrap(), vec![]);
}

pub async fn find_by_reads_this_tenants_matching_rows<DB: manifest_core::Backend>(
    b: &DocBackend<DB>,
) {
    for _ in 0..2 {
        b.db.create_document_index(ENTITY, "customerId")
            .await
            .unwrap();
    }
    let [a, c] = tenants();
    let (sa, sc) = (b.store(&a), b.store(&c));
    for (id, customer) in [
        ("o3", json!("c1")),
        ("o1", json!("c1")),
        ("o2", json!("c2")),
    ] {
        sa.create(doc(id, json!({"customerId": customer, "n": 1})))
            .await
            .unwrap();
    }
    sa.create(doc("o4", json!({"customerId": 7})))
        .await
        .unwrap();
    sa.create(doc("o5", json!({"customerId": true})))
        .await
        .unwrap();
    sa.create(doc("o6", json!({"customerId": null, "tags": ["x"]})))
        .await
        .unwrap();
    sa.create(doc("o7", json!({"other": "c1"}))).await.unwrap();
    sc.create(doc("o9", json!({"customerId": "c1"})))
        .await
        .unwrap();
    let ids = |rows: Vec<EntityInstance>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let find = |field: &'static str, value: Value| {
        let sa = sa.clone();
        async move { ids(sa.find_by(field, &value).await.unwrap()) }
    };
    // In id order, this tenant's only, by JSON value (a string never matches a number).
    assert_eq!(find("customerId", json!("c1")).await, ["o1", "o3"]);
    assert_eq!(find("customerId", json!("c2")).await, ["o2"]);
    assert_eq!(find("customerId", json!(7)).await, ["o4"]);
    assert_eq!(find("customerId", json!(true)).await, ["o5"]);
    assert_eq!(find("customerId", json!(null)).await, ["o6"]);
    assert_eq!(find("tags", json!(["x"])).await, ["o6"]);
    assert!(find("customerId", json!("7")).await.is_empty());
    assert!(find("customerId", json!("c9")).await.is_empty());
    assert_eq!(find("id", json!("o2")).await, ["o2"]);
    assert_eq!(
        ids(sc.find_by("customerId", &json!("c1")).await.unwrap()),
        ["o9"]
    );
    // The field is spliced into the statement, so it must be an identifier.
    for bad in ["a'b", "a\"b", "", "a b", "1a"] {
        assert!(
            matches!(
                sa.find_by(bad, &json!(1)).await,
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
        assert!(matches!(
            b.db.create_document_index(ENTITY, bad).await,
            Err(Error::InvalidName { .. })
        ));
    }
}

pub async fn get_all_is_ordered_by_id<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let ids = ["b", "a", "B", "é", "10", "9", "a0", "_", "~", "Z", "aa"];
    for id in ids {
        store.create(doc(id, json!({"id_was": id}))).await.unwrap();
    }
    let got: Vec<String> = store
        .get_all()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let want: Vec<String> = ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, want, "bytewise order, as Rust's String order");
}

pub async fn update_merges_top_level_keys<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let row = store
        .create(doc(
            "m",
            json!({"title": "x", "qty": 2, "tags": ["a", "b"], "meta": {"a": 1, "b": {"c": 2}}, "keep": "me"}),
        ))
        .await
        .unwrap();
    let patch = json!({
        "qty": 3,
        "tags": [],
        "meta": {"c": null},
        "new": "{\"looks\": \"like json\"}",
        "arr": [null, {"x": [1, 2.5]}, "]},{"],
    });
    let updated = store
        .update(&row.id, obj(patch))
        .await
        .unwrap()
        .expect("the row exists");
    let want = json!({
        "title": "x",
        "qty": 3,
        "tags": [],
        "meta": {"c": null},
        "keep": "me",
        "new": "{\"looks\": \"like json\"}",
        "arr": [null, {"x": [1, 2.5]}, "]},{"],
    });
    assert_eq!(
        updated,
        doc("m", want.clone()),
        "nested values are replaced whole"
    );
    assert_eq!(store.get_by_id(&row.id).await.unwrap(), Some(updated));
    // Patching every key at once leaves nothing of the old object.
    let every =
        obj(json!({"title": 1, "qty": 1, "tags": 1, "meta": 1, "keep": 1, "new": 1, "arr": 1}));
    let updated = store.update(&row.id, every.clone()).await.unwrap().unwrap();
    assert_eq!(updated.fields, every);
}

pub async fn null_is_stored_as_null<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let row = store
        .create(doc(
            "n",
            json!({"note": "salty", "born_null": null, "other": 1}),
        ))
        .await
        .unwrap();
    assert_eq!(row.fields.get("born_null"), Some(&Value::Null));
    let updated = store
        .update(&row.id, obj(json!({"note": null, "added_null": null})))
        .await
        .unwrap()
        .unwrap();
    let want = obj(json!({"note": null, "born_null": null, "other": 1, "added_null": null}));
    assert_eq!(updated.fields, want, "null keys are kept, not removed");
    assert_eq!(
        store.get_by_id(&row.id).await.unwrap().unwrap().fields,
        want
    );
}

pub async fn id_in_a_patch<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let row = store.create(doc("fixed", json!({"qty": 1}))).await.unwrap();
    // The row's own id is allowed and not stored among the fields.
    let same = store
        .update(&row.id, obj(json!({"id": "fixed", "qty": 2})))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same, doc("fixed", json!({"qty": 2})));
    for other in [json!("other"), json!(5), json!(null), json!(["fixed"])] {
        let err = store
            .update(&row.id, obj(json!({"id": other, "qty": 99})))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ImmutableField { entity, field } if entity == ENTITY && field == "id"),
            "{err:?}"
        );
    }
    assert_eq!(
        store.get_all().await.unwrap(),
        vec![same.clone()],
        "nothing written"
    );
    // An empty patch (or one naming only the id) changes nothing and returns the row.
    assert_eq!(
        store.update(&row.id, Map::new()).await.unwrap(),
        Some(same.clone())
    );
    let only_id = obj(json!({"id": "fixed"}));
    assert_eq!(store.update(&row.id, only_id).await.unwrap(), Some(same));
}

pub async fn absent_rows<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let id = "nobody".to_owned();
    assert_eq!(store.get_by_id(&id).await.unwrap(), None);
    assert_eq!(store.update(&id, obj(json!({"x": 1}))).await.unwrap(), None);
    assert_eq!(store.update(&id, Map::new()).await.unwrap(), None);
    assert_eq!(
        store.update(&id, obj(json!({"id": "x"}))).await.unwrap(),
        None
    );
    assert!(!store.delete(&id).await.unwrap());
    assert_eq!(store.get_all().await.unwrap(), vec![]);
    assert_eq!(store.clear().await.unwrap(), 0);
    let row = store.create(doc("there", json!({}))).await.unwrap();
    assert!(store.delete(&row.id).await.unwrap());
    assert!(!store.delete(&row.id).await.unwrap());
    assert_eq!(store.get_by_id(&row.id).await.unwrap(), None);
}

pub async fn clear_counts_this_tenant_only<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a, c] = tenants();
    let (sa, sc) = (b.store(&a), b.store(&c));
    for i in 0..3 {
        sa.create(doc("", json!({"i": i}))).await.unwrap();
    }
    for i in 0..2 {
        sc.create(doc("", json!({"i": i}))).await.unwrap();
    }
    assert_eq!(sa.clear().await.unwrap(), 3);
    assert_eq!(sa.clear().await.unwrap(), 0);
    assert_eq!(sc.get_all().await.unwrap().len(), 2);
    assert_eq!(sc.clear().await.unwrap(), 2);
}

pub async fn transaction_commits_and_rolls_back<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a, c] = tenants();
    let kept = b
        .store(&a)
        .create(doc("kept", json!({"v": 1})))
        .await
        .unwrap();

    let tx = b.db.begin().await.unwrap();
    let docs = tx.document_store(ENTITY, &a).unwrap();
    let new = docs.create(doc("new", json!({"v": 2}))).await.unwrap();
    let changed = docs
        .update(&kept.id, obj(json!({"v": 3})))
        .await
        .unwrap()
        .unwrap();
    tx.store::<Label>(c.as_str())
        .create(Label {
            id: String::new(),
            tenant_id: String::new(),
            text: "l".into(),
        })
        .await
        .unwrap();
    assert_eq!(docs.get_all().await.unwrap(), vec![changed, new]);
    assert_eq!(
        b.store(&a).get_all().await.unwrap(),
        vec![kept.clone()],
        "not visible outside yet"
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        b.store(&a).get_all().await.unwrap(),
        vec![kept.clone()],
        "rolled back"
    );
    assert!(
        b.db.store::<Label>(c.as_str())
            .get_all()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(docs.get_all().await, Err(Error::Closed)));

    let tx = b.db.begin().await.unwrap();
    let docs = tx.document_store_in(ENTITY, "doc_prep_task", &a).unwrap();
    let new = docs.create(doc("new", json!({"v": 2}))).await.unwrap();
    assert_eq!(docs.clear().await.unwrap(), 2);
    let again = docs.create(doc("again", json!({}))).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(b.store(&a).get_all().await.unwrap(), vec![again]);
    assert!(matches!(docs.create(new).await, Err(Error::Closed)));

    {
        let tx = b.db.begin().await.unwrap();
        let docs = tx.document_store(ENTITY, &c).unwrap();
        docs.create(doc("dropped", json!({}))).await.unwrap();
    }
    assert!(
        b.store(&c).get_all().await.unwrap().is_empty(),
        "a dropped transaction rolls back"
    );
}

pub async fn session_and_closed_transaction<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a, c] = tenants();
    let session = b.db.acquire().await.unwrap();
    let (sa, sc) = (
        session.document_store(ENTITY, &a).unwrap(),
        session
            .document_store_in(CUSTOM_ENTITY, CUSTOM_TABLE, &c)
            .unwrap(),
    );
    let r = sa
        .create(doc("held", json!({"on": "session"})))
        .await
        .unwrap();
    sc.create(doc("held", json!({}))).await.unwrap();
    assert_eq!(sa.get_by_id(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(
        b.store(&a).get_all().await.unwrap(),
        vec![r],
        "no transaction: visible at once"
    );
    drop(session);

    let tx = b.db.begin().await.unwrap();
    let store = tx.document_store(ENTITY, &a).unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(store.get_by_id("held").await, Err(Error::Closed)));
    assert!(matches!(
        store.create(doc("late", json!({}))).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        store.update("held", obj(json!({"x": 1}))).await,
        Err(Error::Closed)
    ));
    assert!(matches!(store.delete("held").await, Err(Error::Closed)));
    assert!(matches!(store.clear().await, Err(Error::Closed)));
}

/// The update is one statement: writers of different keys of one row never lose each other's
/// writes (a read-then-write update would).
pub async fn concurrent_updates_of_different_keys_all_land<DB: manifest_core::Backend>(
    b: &DocBackend<DB>,
) {
    let [a] = tenants();
    let store = b.store(&a);
    store
        .create(doc("hot", json!({"base": true})))
        .await
        .unwrap();
    const WRITERS: usize = 8;
    const ROUNDS: usize = 10;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for r in 0..ROUNDS {
                let patch = obj(json!({ format!("k{w}"): r }));
                store.update("hot", patch).await.unwrap().unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let row = store.get_by_id("hot").await.unwrap().unwrap();
    let mut want = obj(json!({"base": true}));
    for w in 0..WRITERS {
        want.insert(format!("k{w}"), json!(ROUNDS - 1));
    }
    assert_eq!(row.fields, want);
}
