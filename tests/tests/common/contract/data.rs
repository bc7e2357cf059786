//! Data: every field type round-trips verbatim, hostile and unicode text included, and a
//! NUL in an object key is refused.

use manifest_core::{EntityInstance, Error, InstanceStore};
use serde_json::json;
use uuid::Uuid;

use super::super::{Backend, Recipe, ValuePatch, tenants};
use super::sample_value;

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

/// An object key containing U+0000, at any depth, is `Error::NulInKey` naming the entity and the
/// key, on every store of `EntityInstance`s alike (SQLite's JSON functions would cut such a key
/// short and store a duplicate; PostgreSQL cannot store it), and nothing is written.
pub async fn nul_in_keys_is_refused(b: &impl Backend) {
    let [a] = tenants();
    let store = b.documents(&a);
    fn refused<T: std::fmt::Debug>(result: manifest_core::Result<T>, key: &str) {
        match result {
            Err(Error::NulInKey { entity, key: found }) => {
                assert_eq!(
                    (entity.as_str(), found.as_str()),
                    (super::super::DOCUMENTS, key)
                );
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
