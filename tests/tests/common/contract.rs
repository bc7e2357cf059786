//! The contract checks. Each takes a backend and uses tenants of its own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use manifest_core::{EntityInstance, Error, IdGenerator, InstanceStore, List};
use serde_json::json;
use uuid::Uuid;

use super::{Backend, Label, LabelPatch, Recipe, RecipePatch, Value, ValuePatch, tenants};

// The `update_if` checks live in `conditional.rs`; `contract_suite!` finds them here.
pub use super::conditional::{
    update_if_checks_the_version, update_if_of_unversioned_is_unsupported,
    update_if_through_the_instance_adapter,
};

pub async fn create_generates_id_and_fills_tenant(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let created = store.create(Recipe::new("soup", 2)).await.unwrap();
    let id: Uuid = created.id.parse().expect("default ids are UUIDs");
    assert_eq!(
        id.get_version_num(),
        7,
        "the default generator makes UUIDv7"
    );
    assert_eq!(created.tenant_id, a);
    assert_eq!(created.version, 1, "a version of 0 is stored as 1");
    assert_eq!(created.name, "soup");
    let read = store.get_by_id(&created.id).await.unwrap();
    assert_eq!(read.as_ref(), Some(&created));

    let second = store.create(Recipe::new("stew", 3)).await.unwrap();
    assert_ne!(second.id, created.id);
}

pub async fn create_keeps_given_id(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let mut row = Recipe::new("bread", 1).with_id("given-1");
    row.tenant_id = a.clone();
    row.version = 7;
    let created = store.create(row.clone()).await.unwrap();
    assert_eq!(created, row, "a full row is stored as given");
    assert_eq!(store.get_by_id("given-1").await.unwrap(), Some(row));
}

pub async fn custom_id_generator(b: &impl Backend) {
    let [a] = tenants();
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let store = b.recipes_with_ids(
        &a,
        IdGenerator::from_fn(move || format!("r-{}", c.fetch_add(1, Ordering::SeqCst) + 1)),
    );
    let one = store.create(Recipe::new("x", 1)).await.unwrap();
    let two = store.create(Recipe::new("y", 1)).await.unwrap();
    assert_eq!((one.id.as_str(), two.id.as_str()), ("r-1", "r-2"));
    let given = store
        .create(Recipe::new("z", 1).with_id("mine"))
        .await
        .unwrap();
    assert_eq!(given.id, "mine");
    assert_eq!(
        counter.load(Ordering::SeqCst),
        2,
        "a given id does not consume the generator"
    );
}

pub async fn duplicate_id_is_an_error_and_keeps_the_row(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let first = store
        .create(Recipe::new("first", 1).with_id("dup"))
        .await
        .unwrap();
    let err = store
        .create(Recipe::new("second", 2).with_id("dup"))
        .await
        .unwrap_err();
    match &err {
        Error::DuplicateId { entity, id } => {
            assert_eq!((entity.as_str(), id.as_str()), ("Recipe", "dup"));
        }
        other => panic!("expected DuplicateId, got {other:?}"),
    }
    assert_eq!(err.to_string(), "Recipe `dup` already exists");
    assert_eq!(store.get_all().await.unwrap(), vec![first]);
}

pub async fn create_for_another_tenant_is_rejected(b: &impl Backend) {
    let [a, other] = tenants();
    let store = b.recipes(&a);
    let mut row = Recipe::new("sneaky", 1);
    row.tenant_id = other.clone();
    match store.create(row).await.unwrap_err() {
        Error::TenantMismatch {
            entity,
            expected,
            found,
        } => {
            assert_eq!(entity, "Recipe");
            assert_eq!(expected, a);
            assert_eq!(found, other);
        }
        e => panic!("expected TenantMismatch, got {e:?}"),
    }
    assert!(store.get_all().await.unwrap().is_empty());
    assert!(b.recipes(&other).get_all().await.unwrap().is_empty());
}

pub async fn same_id_in_two_tenants(b: &impl Backend) {
    let [a, c] = tenants();
    let (sa, sc) = (b.recipes(&a), b.recipes(&c));
    let ra = sa
        .create(Recipe::new("a's", 1).with_id("shared"))
        .await
        .unwrap();
    let rc = sc
        .create(Recipe::new("c's", 2).with_id("shared"))
        .await
        .unwrap();
    let id = "shared".to_owned();
    assert_eq!(sa.get_by_id(&id).await.unwrap(), Some(ra.clone()));
    assert_eq!(sc.get_by_id(&id).await.unwrap(), Some(rc.clone()));
    assert!(sa.delete(&id).await.unwrap());
    assert_eq!(sa.get_by_id(&id).await.unwrap(), None);
    assert_eq!(sc.get_by_id(&id).await.unwrap(), Some(rc));
}

pub async fn get_all_is_this_tenants_rows_ordered_by_id(b: &impl Backend) {
    let [a, c] = tenants();
    let (sa, sc) = (b.recipes(&a), b.recipes(&c));
    for id in ["m", "c", "x", "a"] {
        sa.create(Recipe::new(id, 1).with_id(id)).await.unwrap();
    }
    sc.create(Recipe::new("other", 1).with_id("b"))
        .await
        .unwrap();
    let ids: Vec<String> = sa
        .get_all()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["a", "c", "m", "x"]);
    assert_eq!(sc.get_all().await.unwrap().len(), 1);
}

pub async fn update_changes_only_patched_fields(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let mut row = Recipe::new("soup", 2);
    row.notes = Some("salty".into());
    let created = store.create(row).await.unwrap();
    let updated = store
        .update(
            &created.id,
            RecipePatch {
                servings: Some(4),
                version: Some(created.version),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.servings, 4);
    assert_eq!(updated.name, "soup");
    assert_eq!(updated.notes.as_deref(), Some("salty"));
    assert_eq!(updated.version, created.version + 1);
    // Setting a nullable field to NULL is a change, not an absent field.
    let cleared = store
        .update(
            &created.id,
            RecipePatch {
                notes: Some(None),
                version: Some(updated.version),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.notes, None);
    assert_eq!(cleared.servings, 4);
    assert_eq!(store.get_by_id(&created.id).await.unwrap(), Some(cleared));
}

pub async fn update_of_absent_row_is_none(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let patch = RecipePatch {
        name: Some("x".into()),
        version: Some(1),
        ..Default::default()
    };
    assert_eq!(store.update("nope", patch).await.unwrap(), None);
    let labels = b.labels(&a);
    let patch = LabelPatch {
        text: Some("x".into()),
    };
    assert_eq!(labels.update("nope", patch).await.unwrap(), None);
    assert!(labels.get_all().await.unwrap().is_empty());
}

pub async fn update_never_reaches_another_tenant(b: &impl Backend) {
    let [a, c] = tenants();
    let (sa, sc) = (b.recipes(&a), b.recipes(&c));
    let theirs = sc.create(Recipe::new("theirs", 1)).await.unwrap();
    let patch = RecipePatch {
        name: Some("mine now".into()),
        version: Some(theirs.version),
        ..Default::default()
    };
    assert_eq!(sa.update(&theirs.id, patch).await.unwrap(), None);
    assert!(!sa.delete(&theirs.id).await.unwrap());
    assert_eq!(sa.get_by_id(&theirs.id).await.unwrap(), None);
    assert_eq!(sa.clear().await.unwrap(), 0);
    assert_eq!(sc.get_by_id(&theirs.id).await.unwrap(), Some(theirs));
}

pub async fn version_required_checked_and_bumped(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let v1 = store.create(Recipe::new("v", 1)).await.unwrap();
    match store
        .update(
            &v1.id,
            RecipePatch {
                servings: Some(9),
                ..Default::default()
            },
        )
        .await
        .unwrap_err()
    {
        Error::VersionRequired { entity, id } => {
            assert_eq!((entity, id), ("Recipe".into(), v1.id.clone()))
        }
        e => panic!("expected VersionRequired, got {e:?}"),
    }
    let v2 = store
        .update(
            &v1.id,
            RecipePatch {
                servings: Some(2),
                version: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.version, 2);
    // A writer still holding version 1 is refused, with both versions named.
    let stale = store
        .update(
            &v1.id,
            RecipePatch {
                servings: Some(100),
                version: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match &stale {
        Error::VersionConflict {
            entity,
            id,
            expected,
            actual,
        } => {
            assert_eq!(entity, "Recipe");
            assert_eq!(id, &v1.id);
            assert_eq!((*expected, *actual), (1, 2));
        }
        e => panic!("expected VersionConflict, got {e:?}"),
    }
    assert!(
        stale.to_string().contains("expected version 1, found 2"),
        "{stale}"
    );
    assert_eq!(
        store.get_by_id(&v1.id).await.unwrap(),
        Some(v2.clone()),
        "nothing overwritten"
    );

    // The typed-value entity: an i32 version column, bumped the same way.
    let owner = Uuid::new_v4();
    let values = b.values(owner);
    let v = values
        .create(sample_value(Uuid::nil(), "versioned"))
        .await
        .unwrap();
    assert_eq!(v.rev, 1);
    let patch = ValuePatch {
        small: Some(-5),
        rev: Some(1),
        ..Default::default()
    };
    let v = values.update(&v.key, patch).await.unwrap().unwrap();
    assert_eq!((v.rev, v.small), (2, -5));
    let patch = ValuePatch {
        small: Some(6),
        rev: Some(1),
        ..Default::default()
    };
    assert!(matches!(
        values.update(&v.key, patch).await,
        Err(Error::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
}

pub async fn unversioned_update_is_last_writer_wins(b: &impl Backend) {
    let [a] = tenants();
    let labels = b.labels(&a);
    let l = labels
        .create(Label {
            id: String::new(),
            tenant_id: String::new(),
            text: "one".into(),
        })
        .await
        .unwrap();
    for text in ["two", "three"] {
        let patch = LabelPatch {
            text: Some(text.into()),
        };
        assert_eq!(
            labels.update(&l.id, patch).await.unwrap().unwrap().text,
            text
        );
    }
    let unchanged = labels.update(&l.id, LabelPatch::default()).await.unwrap();
    assert_eq!(
        unchanged.unwrap().text,
        "three",
        "an empty patch changes nothing"
    );
}

pub async fn delete_reports_and_stays_in_tenant(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let r = store.create(Recipe::new("gone", 1)).await.unwrap();
    assert!(store.delete(&r.id).await.unwrap());
    assert!(
        !store.delete(&r.id).await.unwrap(),
        "second delete finds nothing"
    );
    assert_eq!(store.get_by_id(&r.id).await.unwrap(), None);
}

pub async fn clear_only_this_tenant(b: &impl Backend) {
    let [a, c] = tenants();
    let (sa, sc) = (b.recipes(&a), b.recipes(&c));
    for i in 0..3 {
        sa.create(Recipe::new(&format!("a{i}"), i)).await.unwrap();
    }
    let kept = sc.create(Recipe::new("c", 1)).await.unwrap();
    assert_eq!(sa.clear().await.unwrap(), 3);
    assert!(sa.get_all().await.unwrap().is_empty());
    assert_eq!(sc.get_all().await.unwrap(), vec![kept]);
    assert_eq!(sa.clear().await.unwrap(), 0);
}

/// A `Value` with every field set; `key` nil means "generate".
pub fn sample_value(key: Uuid, text: &str) -> Value {
    Value {
        key,
        owner: Uuid::nil(),
        text: text.to_owned(),
        text_opt: Some(format!("opt {text}")),
        flag: true,
        flag_opt: Some(false),
        small: i16::MIN,
        int_opt: Some(i32::MAX),
        big: i64::MIN,
        real: 1.5e-3,
        double_opt: Some(-1_234.567_890_123_4),
        uuid_opt: Some(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)),
        at: Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 58).unwrap()
            + chrono::Duration::microseconds(123_456),
        at_opt: Some(Utc.with_ymd_and_hms(2038, 1, 19, 3, 14, 8).unwrap()),
        doc: json!({"nested": {"list": [1, "two", null, true]}, "quote": "it's \"fine\"; --"}),
        doc_opt: Some(json!([])),
        bytes: vec![0, 1, 2, 255, b'\'', b';'],
        bytes_opt: Some(Vec::new()),
        rev: 0,
        cache: None,
    }
}

pub async fn values_round_trip_verbatim(b: &impl Backend) {
    let owner = Uuid::new_v4();
    let store = b.values(owner);
    let full = store
        .create(sample_value(Uuid::nil(), "full"))
        .await
        .unwrap();
    assert!(!full.key.is_nil());
    assert_eq!(full.owner, owner);
    let mut expected = sample_value(full.key, "full");
    expected.owner = owner;
    expected.rev = 1;
    assert_eq!(full, expected);
    assert_eq!(store.get_by_id(&full.key).await.unwrap(), Some(expected));

    // Every nullable column NULL.
    let mut nulls = sample_value(Uuid::new_v4(), "nulls");
    nulls.text_opt = None;
    nulls.flag_opt = None;
    nulls.int_opt = None;
    nulls.double_opt = None;
    nulls.uuid_opt = None;
    nulls.at_opt = None;
    nulls.doc_opt = None;
    nulls.bytes_opt = None;
    nulls.cache = Some("never stored".into());
    let stored = store.create(nulls.clone()).await.unwrap();
    nulls.owner = owner;
    nulls.rev = 1;
    nulls.cache = None; // skipped fields come back as Default
    assert_eq!(stored, nulls);
    assert_eq!(
        store.get_by_id(&nulls.key).await.unwrap(),
        Some(nulls.clone())
    );

    // Patch a nullable column from NULL to a value and another from a value to NULL.
    let patch = ValuePatch {
        text_opt: Some(Some("now set".into())),
        bytes: Some(vec![9; 3]),
        doc: Some(json!(null)),
        rev: Some(1),
        ..Default::default()
    };
    let patched = store.update(&nulls.key, patch).await.unwrap().unwrap();
    assert_eq!(patched.text_opt.as_deref(), Some("now set"));
    assert_eq!(patched.bytes, vec![9; 3]);
    assert_eq!(patched.doc, json!(null));
    assert_eq!(patched.int_opt, None);
    assert_eq!(store.get_all().await.unwrap().len(), 2);
}

/// Text that would break string-built SQL, unicode in several scripts and planes, and long
/// text, each stored and read back verbatim, as values and as ids.
pub async fn hostile_text_round_trips(b: &impl Backend) {
    let [a] = tenants();
    let store = b.recipes(&a);
    let long: String = "abcdéfgh—ijk ".repeat(20_000);
    let samples = [
        "Robert'); DROP TABLE contract_recipe;--".to_owned(),
        "'; DELETE FROM contract_recipe WHERE '1'='1".to_owned(),
        "\" OR \"\"=\" -- /* comment */ ; SELECT * FROM pg_catalog.pg_tables".to_owned(),
        "SELECT INSERT UPDATE DELETE FROM WHERE NULL TRUE $1 ?1 ? :name @p".to_owned(),
        "naïve café 日本語 中文 한국어 עברית العربية 🦀🎉 \u{1F600}".to_owned(),
        "line\nbreak\ttab\r\\backslash\\ %percent_ underscore".to_owned(),
        String::new(),
        long,
    ];
    for (i, text) in samples.iter().enumerate() {
        let id = format!("{}#{i}", &text.chars().take(40).collect::<String>());
        let mut row = Recipe::new(text, i as i32).with_id(&id);
        row.notes = Some(text.clone());
        let created = store.create(row).await.unwrap();
        assert_eq!(&created.name, text);
        let read = store.get_by_id(&id).await.unwrap().expect("stored");
        assert_eq!(&read.name, text);
        assert_eq!(read.notes.as_ref(), Some(text));
        assert_eq!(read.id, id);
    }
    assert_eq!(store.get_all().await.unwrap().len(), samples.len());
    assert_eq!(store.clear().await.unwrap(), samples.len() as u64);
}

/// The typed-to-dynamic adapter keeps the contract: JSON in, JSON out, tenant and id fixed.
pub async fn instance_adapter_contract(b: &impl Backend) {
    let [a, c] = tenants();
    let dynamic = InstanceStore::from_arc(b.recipes(&a)).into_dyn();
    assert_eq!(dynamic.entity(), "Recipe");
    assert_eq!(dynamic.tenant(), &a);
    let fields = json!({"name": "pie", "servings": 8, "notes": null});
    let created = dynamic
        .create(serde_json::from_value::<EntityInstance>(fields).unwrap())
        .await
        .unwrap();
    assert!(!created.id.is_empty());
    // The tenant is the store's: written to the row, not shown in the instance.
    assert_eq!(created.fields.get("tenant_id"), None);
    let row = b.recipes(&a).get_by_id(&created.id).await.unwrap().unwrap();
    assert_eq!(row.tenant_id, a);
    assert_eq!(created.fields["version"], json!(1));
    assert_eq!(created.fields["name"], json!("pie"));
    let patch = json!({"servings": 10, "id": created.id})
        .as_object()
        .unwrap()
        .clone();
    let updated = dynamic.update(&created.id, patch).await.unwrap().unwrap();
    assert_eq!(updated.fields["servings"], json!(10));
    assert_eq!(updated.fields["name"], json!("pie"));
    assert_eq!(updated.fields["version"], json!(2));

    let unknown = json!({"calories": 1}).as_object().unwrap().clone();
    assert!(matches!(
        dynamic.update(&created.id, unknown).await,
        Err(Error::UnknownField { field, .. }) if field == "calories"
    ));
    let retenant = json!({"tenant_id": c}).as_object().unwrap().clone();
    assert!(matches!(
        dynamic.update(&created.id, retenant).await,
        Err(Error::ImmutableField { field, .. }) if field == "tenant_id"
    ));
    let reid = json!({"id": "other"}).as_object().unwrap().clone();
    assert!(matches!(
        dynamic.update(&created.id, reid).await,
        Err(Error::ImmutableField { field, .. }) if field == "id"
    ));
    let stale = json!({"servings": 1, "version": 1})
        .as_object()
        .unwrap()
        .clone();
    assert!(matches!(
        dynamic.update(&created.id, stale).await,
        Err(Error::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    let wrong_type = json!({"servings": "many"}).as_object().unwrap().clone();
    assert!(matches!(
        dynamic.update(&created.id, wrong_type).await,
        Err(Error::InvalidData { .. })
    ));
    let foreign = json!({"tenant_id": c, "name": "x", "servings": 1});
    assert!(matches!(
        dynamic
            .create(serde_json::from_value(foreign).unwrap())
            .await,
        Err(Error::TenantMismatch { .. })
    ));
    assert_eq!(
        dynamic.get_by_id(&created.id).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(dynamic.get_all().await.unwrap(), vec![updated]);

    // UUID keys: a malformed id is a typed error naming it.
    let values = InstanceStore::from_arc(b.values(Uuid::new_v4())).into_dyn();
    match values.get_by_id("not-a-uuid").await {
        Err(Error::InvalidKey { value, .. }) => assert_eq!(value, "not-a-uuid"),
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    assert!(dynamic.delete(&created.id).await.unwrap());
    assert!(dynamic.get_all().await.unwrap().is_empty());
}

/// An object key containing U+0000, at any depth, is `Error::NulInKey` naming the entity and the
/// key, on every store of `EntityInstance`s alike (SQLite's JSON functions would cut such a key
/// short and store a duplicate; PostgreSQL cannot store it), and nothing is written.
pub async fn nul_in_keys_is_refused(b: &impl Backend) {
    let [a] = tenants();
    let store = b.documents(&a);
    fn refused<T: std::fmt::Debug>(result: manifest_core::Result<T>, key: &str) {
        match result {
            Err(Error::NulInKey { entity, key: found }) => {
                assert_eq!((entity.as_str(), found.as_str()), (super::DOCUMENTS, key));
            }
            other => panic!("expected NulInKey for {key:?}, got {other:?}"),
        }
    }
    let doc = |id: &str, fields: serde_json::Value| {
        EntityInstance::new(id, fields.as_object().unwrap().clone())
    };
    let obj = |v: serde_json::Value| v.as_object().unwrap().clone();

    refused(
        store.create(doc("top", json!({"a": 1, "a\0b": 2}))).await,
        "a\0b",
    );
    refused(
        store
            .create(doc("deep", json!({"a": {"b": [1, {"\0": true}]}})))
            .await,
        "\0",
    );
    assert!(store.get_all().await.unwrap().is_empty(), "nothing written");

    let row = store
        .create(doc("row", json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    refused(store.update("row", obj(json!({"a\0b": 3}))).await, "a\0b");
    refused(store.update("absent", obj(json!({"k\0": 3}))).await, "k\0");
    refused(
        store
            .update_if("row", &row, obj(json!({"n": {"k\0": 1}})))
            .await,
        "k\0",
    );
    assert_eq!(store.get_by_id("row").await.unwrap(), Some(row.clone()));
    // The row is intact: a conditional update of the row as read still applies.
    match store.update_if("row", &row, obj(json!({"a": 5}))).await {
        Ok(manifest_core::Conditional::Updated(updated)) => {
            assert_eq!(updated.fields, obj(json!({"a": 5, "b": 2})));
        }
        other => panic!("expected Updated, got {other:?}"),
    }

    // A typed store served as instances refuses it too, in a JSON field.
    let values = InstanceStore::from_arc(b.values(Uuid::new_v4())).into_dyn();
    let mut fields = serde_json::to_value(sample_value(Uuid::nil(), "nul")).unwrap();
    fields["doc"] = json!({"x\0": 1});
    let mut instance: EntityInstance = serde_json::from_value(fields).unwrap();
    instance.id = String::new();
    match values.create(instance).await {
        Err(Error::NulInKey { key, .. }) => assert_eq!(key, "x\0"),
        other => panic!("expected NulInKey, got {other:?}"),
    }
    assert!(values.get_all().await.unwrap().is_empty());
}

/// `list`: every row unordered, every row by id (what `get_all` reads), and pages by id after
/// a cursor, on the typed stores (text and UUID keys) and the store of `EntityInstance`s; the
/// other tenant's rows never appear.
pub async fn list_orders_and_pages(b: &impl Backend) {
    let [a, c] = tenants();
    let (recipes, other) = (b.recipes(&a), b.recipes(&c));
    for id in ["r3", "r1", "r5", "r2", "r4"] {
        recipes
            .create(Recipe::new(id, 1).with_id(id))
            .await
            .unwrap();
    }
    other
        .create(Recipe::new("x", 1).with_id("r25"))
        .await
        .unwrap();
    let names = |rows: Vec<Recipe>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let by_id = names(recipes.list(List::ById).await.unwrap());
    assert_eq!(by_id, ["r1", "r2", "r3", "r4", "r5"]);
    assert_eq!(names(recipes.get_all().await.unwrap()), by_id);
    let all = recipes.list(List::All).await.unwrap();
    assert_eq!(ids(&all), ids(&recipes.get_all().await.unwrap()));
    assert_eq!(all.len(), 5);
    let page = |after: Option<&str>, limit| List::Page {
        after: after.map(str::to_owned),
        limit,
    };
    for (after, limit, expected) in [
        (None, 2, &["r1", "r2"][..]),
        (Some("r2"), 2, &["r3", "r4"]),
        (Some("r4"), 2, &["r5"]),
        (Some("r5"), 2, &[]),
        (Some("r25"), 10, &["r3", "r4", "r5"]),
        (None, 0, &[]),
        (Some(""), 100, &["r1", "r2", "r3", "r4", "r5"]),
    ] {
        let got = names(recipes.list(page(after, limit)).await.unwrap());
        assert_eq!(got, expected, "after {after:?}, limit {limit}");
    }
    assert_eq!(names(other.list(page(None, 10)).await.unwrap()), ["r25"]);

    // UUID keys page in the same (bytewise) order as they sort.
    let owner = Uuid::new_v4();
    let values = b.values(owner);
    let keys: Vec<Uuid> = [3u128, 1, 2]
        .into_iter()
        .map(|n| Uuid::from_u128(n << 64 | 7))
        .collect();
    for key in &keys {
        values.create(sample_value(*key, "k")).await.unwrap();
    }
    let key_list = |rows: Vec<Value>| rows.into_iter().map(|v| v.key).collect::<Vec<_>>();
    let sorted = key_list(values.list(List::ById).await.unwrap());
    assert_eq!(sorted, [keys[1], keys[2], keys[0]]);
    let first = values
        .list(List::Page {
            after: None,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(key_list(first), sorted[..2]);
    let rest = values
        .list(List::Page {
            after: Some(sorted[1]),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(key_list(rest), sorted[2..]);
    assert_eq!(values.list(List::All).await.unwrap().len(), 3);

    // The store of `EntityInstance`s, and a typed store served as one.
    let documents = b.documents(&a);
    for id in ["d2", "d3", "d1"] {
        let fields = json!({"n": id}).as_object().unwrap().clone();
        documents
            .create(EntityInstance::new(id, fields))
            .await
            .unwrap();
    }
    let doc_ids = |rows: Vec<EntityInstance>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        doc_ids(documents.list(List::ById).await.unwrap()),
        ["d1", "d2", "d3"]
    );
    assert_eq!(documents.list(List::All).await.unwrap().len(), 3);
    assert_eq!(
        doc_ids(documents.list(page(Some("d1"), 1)).await.unwrap()),
        ["d2"]
    );
    let dynamic = InstanceStore::from_arc(recipes.clone()).into_dyn();
    assert_eq!(
        doc_ids(dynamic.list(page(Some("r3"), 5)).await.unwrap()),
        ["r4", "r5"]
    );
    assert_eq!(dynamic.list(List::All).await.unwrap().len(), 5);
}

pub async fn model_check_interleaved_tenants(b: &impl Backend) {
    let ops = super::model::run(b).await;
    eprintln!("{}: model check ran {ops} operations", b.name());
    assert!(ops >= 10_000, "only {ops} operations ran");
}

/// Ids of a set of rows, for comparisons that ignore order.
pub fn ids<T: manifest_core::Entity<Id = String>>(rows: &[T]) -> BTreeSet<String> {
    rows.iter().map(|r| r.id().clone()).collect()
}
