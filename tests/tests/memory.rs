//! The store contract on `MemoryStore`.

mod common;

use std::sync::Arc;

use common::{Backend, Label, Recipe, Value};
use manifest_core::{EntityInstance, IdGenerator, MemoryStore, Store};
use uuid::Uuid;

/// One memory "database": a store per entity, other tenants' stores share its data.
struct Memory {
    recipes: MemoryStore<Recipe>,
    labels: MemoryStore<Label>,
    values: MemoryStore<Value>,
    documents: MemoryStore<EntityInstance>,
}

impl Backend for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn recipes(&self, tenant: &str) -> Arc<dyn Store<Recipe>> {
        Arc::new(self.recipes.for_tenant(tenant.to_owned()))
    }
    fn recipes_with_ids(&self, tenant: &str, ids: IdGenerator) -> Arc<dyn Store<Recipe>> {
        Arc::new(self.recipes.for_tenant(tenant.to_owned()).with_ids(ids))
    }
    fn labels(&self, tenant: &str) -> Arc<dyn Store<Label>> {
        Arc::new(self.labels.for_tenant(tenant.to_owned()))
    }
    fn values(&self, tenant: Uuid) -> Arc<dyn Store<Value>> {
        Arc::new(self.values.for_tenant(tenant))
    }
    fn values_with_ids(&self, tenant: Uuid, ids: IdGenerator) -> Arc<dyn Store<Value>> {
        Arc::new(self.values.for_tenant(tenant).with_ids(ids))
    }
    fn documents(&self, tenant: &str) -> Arc<dyn Store<EntityInstance>> {
        Arc::new(self.documents.for_tenant(tenant.to_owned()))
    }
}

async fn memory() -> Option<Memory> {
    Some(Memory {
        recipes: MemoryStore::new(String::new()),
        labels: MemoryStore::new(String::new()),
        values: MemoryStore::new(Uuid::nil()),
        documents: MemoryStore::named(common::DOCUMENTS, String::new()),
    })
}

contract_suite!(memory());

/// The memory store of the runtime's dynamic records: `update_if` compares whole rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_keep_the_update_if_contract() {
    common::conditional::memory_update_if().await;
}
