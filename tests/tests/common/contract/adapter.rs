//! The typed-to-dynamic adapter (`InstanceStore`) keeps the contract.

use manifest_core::{EntityInstance, Error, InstanceStore};
use serde_json::json;
use uuid::Uuid;

use super::super::{Backend, tenants};

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
