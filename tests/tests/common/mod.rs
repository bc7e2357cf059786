//! The store contract suite: one set of checks, run against every store (memory, SQLite,
//! PostgreSQL) by `memory.rs`, `sqlite.rs` and `postgres.rs`.
#![allow(dead_code)] // each backend's test binary uses a different part of the shared suite

pub mod conditional;
pub mod contract;
pub mod document;
pub mod document_data;
pub mod document_model;
pub mod model;
pub mod pg;
pub mod sql;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use manifest_core::{EntityInstance, IdGenerator, ManifestEntity, Store};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A versioned entity with a `String` key.
#[derive(Debug, Clone, PartialEq, ManifestEntity, Serialize, Deserialize)]
#[manifest(table = "contract_recipe", entity = "Recipe")]
pub struct Recipe {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub servings: i32,
    pub notes: Option<String>,
    #[manifest(version)]
    pub version: i64,
}

impl Recipe {
    /// A new recipe with no id (the store generates one) and no tenant (the store's).
    pub fn new(name: &str, servings: i32) -> Self {
        Recipe {
            id: String::new(),
            tenant_id: String::new(),
            name: name.to_owned(),
            servings,
            notes: None,
            version: 0,
        }
    }

    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }
}

/// An unversioned entity, for last-writer-wins updates and cross-entity transactions.
#[derive(Debug, Clone, PartialEq, ManifestEntity, Serialize, Deserialize)]
#[manifest(table = "contract_label")]
pub struct Label {
    pub id: String,
    pub tenant_id: String,
    pub text: String,
}

/// Every supported field type, UUID keys, renamed columns, an `i32` version and a skipped field.
#[derive(Debug, Clone, PartialEq, ManifestEntity, Serialize, Deserialize)]
#[manifest(table = "contract_value", rename_all = "camelCase")]
pub struct Value {
    #[manifest(id)]
    pub key: Uuid,
    #[manifest(tenant)]
    pub owner: Uuid,
    pub text: String,
    pub text_opt: Option<String>,
    pub flag: bool,
    pub flag_opt: Option<bool>,
    pub small: i16,
    pub int_opt: Option<i32>,
    pub big: i64,
    pub real: f32,
    pub double_opt: Option<f64>,
    pub uuid_opt: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub at_opt: Option<DateTime<Utc>>,
    pub doc: serde_json::Value,
    pub doc_opt: Option<serde_json::Value>,
    #[manifest(column = "raw_bytes")]
    pub bytes: Vec<u8>,
    pub bytes_opt: Option<Vec<u8>>,
    #[manifest(version)]
    pub rev: i32,
    #[manifest(skip)]
    pub cache: Option<String>,
}

/// The stores of one backend, made for any tenant.
pub trait Backend: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn recipes(&self, tenant: &str) -> Arc<dyn Store<Recipe>>;
    fn recipes_with_ids(&self, tenant: &str, ids: IdGenerator) -> Arc<dyn Store<Recipe>>;
    fn labels(&self, tenant: &str) -> Arc<dyn Store<Label>>;
    fn values(&self, tenant: Uuid) -> Arc<dyn Store<Value>>;
    fn values_with_ids(&self, tenant: Uuid, ids: IdGenerator) -> Arc<dyn Store<Value>>;
    /// The backend's store of `EntityInstance`s for an entity without a Rust struct
    /// ([`DOCUMENTS`]): a `DocumentStore` on SQL, a `MemoryStore<EntityInstance>` in memory.
    fn documents(&self, tenant: &str) -> Arc<dyn Store<EntityInstance>>;
}

/// The entity of [`Backend::documents`]; its SQL table is `contract_doc`.
pub const DOCUMENTS: &str = "ContractDoc";

/// Tenant names no other test (or earlier run on the same database) uses.
pub fn tenants<const N: usize>() -> [String; N] {
    let run = Uuid::new_v4().simple().to_string();
    std::array::from_fn(|i| format!("tenant-{}-{}", (b'a' + i as u8) as char, &run[..12]))
}

/// Generates one `#[tokio::test]` per contract check, each on a fresh backend from `$make`
/// (an async expression giving `Option<impl Backend>`; `None` means skipped, see `postgres.rs`).
#[macro_export]
macro_rules! contract_suite {
    ($make:expr) => {
        $crate::contract_suite!(@tests $make;
            create_generates_id_and_fills_tenant,
            create_keeps_given_id,
            custom_id_generator,
            duplicate_id_is_an_error_and_keeps_the_row,
            create_for_another_tenant_is_rejected,
            same_id_in_two_tenants,
            get_all_is_this_tenants_rows_ordered_by_id,
            update_changes_only_patched_fields,
            update_of_absent_row_is_none,
            update_never_reaches_another_tenant,
            version_required_checked_and_bumped,
            unversioned_update_is_last_writer_wins,
            delete_reports_and_stays_in_tenant,
            clear_only_this_tenant,
            values_round_trip_verbatim,
            hostile_text_round_trips,
            instance_adapter_contract,
            update_if_checks_the_version,
            update_if_of_unversioned_is_unsupported,
            update_if_through_the_instance_adapter,
            model_check_interleaved_tenants,
            nul_in_keys_is_refused,
            list_orders_and_pages,
        );
    };
    (@tests $make:expr; $($name:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if let Some(backend) = $make.await {
                common::contract::$name(&backend).await;
            }
        }
    )*};
}
