//! Writes: create (ids, duplicates, tenants), update (patches, versions, last writer wins),
//! delete and clear, each kept to its tenant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use manifest_core::{Error, IdGenerator};
use uuid::Uuid;

use super::super::{Backend, Label, LabelPatch, Recipe, RecipePatch, ValuePatch, tenants};
use super::sample_value;

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
