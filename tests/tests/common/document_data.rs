//! The document store's data: every kind of JSON value back as written, the nesting limit, and
//! table names, checked before any SQL is built.

use manifest_core::{Error, Store};
use serde_json::{Value, json};

use super::document::{CUSTOM_ENTITY, CUSTOM_TABLE, DocBackend, doc, obj};
use super::tenants;

/// Every kind of JSON value, as field values and as keys.
pub fn every_value() -> Value {
    let long: String = "abcdéfgh—ijk \"q\" \\ ".repeat(15_000);
    json!({
        "ints": [0, 1, -1, i64::MIN, i64::MAX, u64::MAX, 1_000_000_000_000_000_000u64],
        "floats": [1.0, -0.5, 0.1, 0.1 + 0.2, 1e-7, 2.5e-10, 5e-324, 1e15, 1e16, -2e17,
                   1.234_567_890_123_456_8e20, 1.5e300, f64::MAX, f64::MIN_POSITIVE, 123_456.789,
                   std::f64::consts::PI],
        "zero": 0.0,
        "bools": [true, false],
        "null": null,
        "sql": "Robert'); DROP TABLE doc_prep_task;--",
        "sql2": "'; DELETE FROM doc_prep_task WHERE '1'='1 $1 ?1 ? :x @p",
        "quotes": "\" ' ` \\\" \\\\ \\u0000 \\n",
        "unicode": "naïve café 日本語 中文 한국어 עברית العربية 🦀🎉 \u{1F600} \u{FEFF} \u{2028}",
        "controls": "line\nbreak\ttab\r\u{1}\u{1f}\u{7f}",
        "json_looking": "{\"a\": [1, 2, {\"b\": null}]}",
        "array_looking": "[1,2]}",
        "literal_words": ["null", "true", "1e5", "{}", "[]", ""],
        "long": long,
        "nested": {"a": {"b": {"c": [1, [2, [3, {"d": "e"}]]]}}, "empty": {}, "list": []},
        "q\"k": "key with a quote",
        "back\\slash": 1,
        "日本語": "unicode key",
        "": "empty key",
        "a.b": "dotted key",
        "$.x": "path-looking key",
        "[0]": "index-looking key",
        "{}": "brace key",
    })
}

pub async fn values_round_trip_verbatim<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let value = every_value();
    let created = store.create(doc("all", value.clone())).await.unwrap();
    assert_eq!(
        created,
        doc("all", value.clone()),
        "create returns what was stored"
    );
    let read = store.get_by_id("all").await.unwrap().unwrap();
    assert_eq!(read, doc("all", value.clone()));
    // Floats stay floats and integers integers, with every bit.
    let floats = read.fields["floats"].as_array().unwrap();
    let want = value["floats"].as_array().unwrap();
    for (got, want) in floats.iter().zip(want) {
        assert!(got.is_f64(), "{got} stays a float");
        assert_eq!(
            got.as_f64().unwrap().to_bits(),
            want.as_f64().unwrap().to_bits()
        );
    }
    assert_eq!(read.fields["ints"][5].as_u64(), Some(u64::MAX));
    assert_eq!(read.fields["ints"][3].as_i64(), Some(i64::MIN));

    // The same values as a patch, over a row that has other keys.
    store
        .create(doc("patched", json!({"keep": [1.5]})))
        .await
        .unwrap();
    let updated = store
        .update("patched", obj(value.clone()))
        .await
        .unwrap()
        .unwrap();
    let mut want = obj(value);
    want.insert("keep".into(), json!([1.5]));
    assert_eq!(updated.fields, want);
    assert_eq!(store.get_all().await.unwrap().len(), 2);

    // -0.0 equals 0.0 as a Value; SQLite keeps its sign, PostgreSQL's numeric has no -0.
    let zero = store.create(doc("zero", json!({"z": -0.0}))).await.unwrap();
    assert_eq!(zero.fields["z"], json!(-0.0));
    let sign = zero.fields["z"].as_f64().unwrap().is_sign_negative();
    assert_eq!(sign, !b.is_postgres(), "{}", b.name);

    // U+0000 in a string: SQLite stores it; PostgreSQL's JSONB cannot, and nothing is written.
    let nul = json!({"s": "a\u{0}b"});
    let got = store.create(doc("nul", nul.clone())).await;
    let patched = store.update("zero", obj(nul.clone())).await;
    if b.is_postgres() {
        assert!(matches!(got, Err(Error::Database(_))), "{got:?}");
        assert!(matches!(patched, Err(Error::Database(_))), "{patched:?}");
        assert_eq!(store.get_by_id("nul").await.unwrap(), None);
        assert_eq!(store.get_by_id("zero").await.unwrap(), Some(zero));
    } else {
        assert_eq!(got.unwrap(), doc("nul", nul.clone()));
        assert_eq!(patched.unwrap().unwrap().fields["s"], nul["s"]);
    }
}

pub async fn nesting_limit<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let store = b.store(&a);
    let nested = |depth: usize| {
        let mut v = json!("leaf");
        for i in 0..depth {
            v = if i % 2 == 0 {
                json!([v])
            } else {
                json!({ "k": v })
            };
        }
        json!({ "deep": v })
    };
    // 127 containers with the top-level object: as deep as serde_json reads back.
    let ok = nested(126);
    let row = store.create(doc("deep", ok.clone())).await.unwrap();
    assert_eq!(row.fields, obj(ok.clone()));
    assert_eq!(store.get_all().await.unwrap(), vec![row.clone()]);
    let too_deep = nested(127);
    let err = store
        .create(doc("deeper", too_deep.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidData { .. }), "{err:?}");
    let err = store.update(&row.id, obj(too_deep)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidData { .. }), "{err:?}");
    assert_eq!(store.get_all().await.unwrap(), vec![row], "nothing written");
}

pub async fn invalid_names_are_typed_errors<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let long = "E".to_owned() + &"x".repeat(63);
    // (entity, the table its default name would be)
    let bad = [
        ("", ""),
        ("1Task", "1_task"),
        ("Prep-Task", "prep-task"),
        ("Prep Task", "prep task"),
        ("Tâche", "tâche"),
        (
            "x\"; DROP TABLE doc_prep_task; --",
            "x\"; drop table doc_prep_task; --",
        ),
        (long.as_str(), &long.to_lowercase()),
        ("SqliteMaster", "sqlite_master"),
        ("sqlite_Thing", "sqlite_thing"),
    ];
    let tx = b.db.begin().await.unwrap();
    let session = b.db.acquire().await.unwrap();
    for (entity, table) in bad {
        let check = |r: Result<(), Error>| match r {
            Err(Error::InvalidName {
                entity: e,
                name,
                reason,
            }) => {
                assert_eq!((e.as_str(), name.as_str()), (entity, table));
                assert!(!reason.is_empty());
            }
            other => panic!("{entity:?}: {other:?}"),
        };
        check(b.db.document_store(entity, &a).map(drop));
        check(b.db.create_document_table(entity).await);
        check(tx.document_store(entity, &a).map(drop));
        check(session.document_store(entity, &a).map(drop));
        // An explicit table name is checked the same way, whatever the entity is called.
        let explicit = b.db.document_store_in("Fine", table, &a).map(drop);
        assert!(
            matches!(explicit, Err(Error::InvalidName { .. })),
            "{explicit:?}"
        );
        let explicit = b.db.create_document_table_in("Fine", table).await;
        assert!(
            matches!(explicit, Err(Error::InvalidName { .. })),
            "{explicit:?}"
        );
    }
    tx.rollback().await.unwrap();
    // The default table is the entity name in snake_case, as the derive's.
    for (entity, table) in [
        ("PrepTask", "prep_task"),
        ("HttpRequest", "http_request"),
        ("RecipeV2", "recipe_v2"),
    ] {
        assert_eq!(b.db.document_store(entity, &a).unwrap().table(), table);
    }
    assert_eq!(b.store(&a).table(), "doc_prep_task");
    let max = "t".repeat(63);
    assert_eq!(
        b.db.document_store_in("Max", &max, &a).unwrap().table(),
        max
    );
}

/// No two entity names share a default table: only the PascalCase spelling of a table name has
/// it, and nothing non-ASCII folds into an ASCII name.
pub async fn default_tables_are_one_to_one<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let tx = b.db.begin().await.unwrap();
    let session = b.db.acquire().await.unwrap();
    let order_item = b.db.document_store("OrderItem", &a).unwrap();
    assert_eq!(order_item.table(), "order_item");
    // (entity, the table named in the error: its name in snake_case)
    for (entity, table) in [
        ("order_item", "order_item"),
        ("Order_Item", "order_item"),
        ("orderItem", "order_item"),
        ("ORDERItem", "order_item"),
        ("HTTPRequest", "http_request"),
        ("Note", "note"),
        ("note", "note"),
        ("\u{212A}elvin", "\u{212A}elvin"),
        ("kelvin", "kelvin"),
    ] {
        if entity == "Note" {
            assert_eq!(b.db.document_store(entity, &a).unwrap().table(), table);
            continue;
        }
        let check = |r: Result<(), Error>| match r {
            Err(Error::InvalidName {
                entity: e,
                name,
                reason,
            }) => {
                assert_eq!((e.as_str(), name.as_str()), (entity, table));
                assert!(reason.contains("PascalCase"), "{reason}");
            }
            other => panic!("{entity:?}: {other:?}"),
        };
        check(b.db.document_store(entity, &a).map(drop));
        check(b.db.create_document_table(entity).await);
        check(tx.document_store(entity, &a).map(drop));
        check(session.document_store(entity, &a).map(drop));
    }
    tx.rollback().await.unwrap();
    // Such a name can still have a table, named explicitly.
    let explicit = b.db.document_store_in("order_item", "order_item_rows", &a);
    assert_eq!(explicit.unwrap().table(), "order_item_rows");
}

/// A typed entity's table in the document suite's database: `shape_note`, its default name.
#[derive(Debug, Clone, manifest_core::ManifestEntity)]
pub struct ShapeNote {
    pub id: String,
    pub tenant_id: String,
    pub title: String,
}

/// A typed entity whose table is the suite's document table.
#[derive(Debug, Clone, manifest_core::ManifestEntity)]
#[manifest(table = "doc_prep_task")]
pub struct ShapeClash {
    pub id: String,
    pub tenant_id: String,
    pub title: String,
}

/// Creating a table over an existing table of another shape is a typed error, both ways.
pub async fn tables_of_another_shape_are_refused<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    b.db.create_table::<ShapeNote>().await.unwrap();
    let err = b.db.create_document_table("ShapeNote").await.unwrap_err();
    match &err {
        Error::TableShape {
            entity,
            table,
            expected,
            found,
        } => {
            assert_eq!(
                (entity.as_str(), table.as_str()),
                ("ShapeNote", "shape_note")
            );
            assert_eq!(*expected, strings(&["tenant_id", "id", "data"]));
            assert_eq!(*found, strings(&["id", "tenant_id", "title"]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "ShapeNote: table `shape_note` already exists with other columns: expected tenant_id, \
         id, data, found id, tenant_id, title"
    );
    let err = b.db.create_document_table_in("Other", "shape_note").await;
    assert!(matches!(err, Err(Error::TableShape { .. })), "{err:?}");
    // A typed table over a document table.
    match b.db.create_table::<ShapeClash>().await {
        Err(Error::TableShape {
            entity,
            table,
            expected,
            found,
        }) => {
            assert_eq!(
                (entity.as_str(), table.as_str()),
                ("ShapeClash", "doc_prep_task")
            );
            assert_eq!(expected, strings(&["id", "tenant_id", "title"]));
            assert_eq!(found, strings(&["tenant_id", "id", "data"]));
        }
        other => panic!("{other:?}"),
    }
    // A table of the right shape is fine, again and again; so is an unrelated typed one.
    b.db.create_document_table(super::document::ENTITY)
        .await
        .unwrap();
    b.db.create_table::<ShapeNote>().await.unwrap();
    b.db.create_table::<super::Label>().await.unwrap();
}

pub async fn explicit_table<DB: manifest_core::Backend>(b: &DocBackend<DB>) {
    let [a] = tenants();
    let custom =
        b.db.document_store_in(CUSTOM_ENTITY, CUSTOM_TABLE, &a)
            .unwrap();
    assert_eq!(
        (custom.entity(), custom.table()),
        (CUSTOM_ENTITY, CUSTOM_TABLE)
    );
    let row = custom
        .create(doc("x", json!({"in": "custom"})))
        .await
        .unwrap();
    assert_eq!(custom.get_all().await.unwrap(), vec![row]);
    assert_eq!(
        b.store(&a).get_all().await.unwrap(),
        vec![],
        "a table of its own"
    );
    let err = custom.create(doc("x", json!({}))).await.unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateId { entity, .. } if entity == CUSTOM_ENTITY),
        "{err:?}"
    );
}
