//! Reads: `get_all` and `list` (unordered, by id, pages after a cursor), tenant by tenant;
//! and the model check of interleaved tenants.

use manifest_core::{EntityInstance, InstanceStore, List};
use serde_json::json;
use uuid::Uuid;

use super::super::{Backend, Recipe, Value, tenants};
use super::{ids, sample_value};

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
    let ops = super::super::model::run(b).await;
    eprintln!("{}: model check ran {ops} operations", b.name());
    assert!(ops >= 10_000, "only {ops} operations ran");
}
