//! Every supported field type, plain and as `Option`.
#![deny(warnings, missing_docs)]

use chrono::{DateTime, Utc};
use manifest_core::{ColumnRole, ManifestEntity};
use uuid::Uuid;

/// A row with one column of each type.
#[derive(Debug, Clone, ManifestEntity)]
pub struct Everything {
    /// The id.
    pub id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Text.
    pub text: String,
    /// A flag.
    pub flag: bool,
    /// Small.
    pub small: i16,
    /// Medium.
    pub medium: i32,
    /// Large.
    pub large: i64,
    /// Single.
    pub single: f32,
    /// Double.
    pub double: f64,
    /// A uuid.
    pub uuid: Uuid,
    /// A timestamp.
    pub at: DateTime<Utc>,
    /// JSON.
    pub json: serde_json::Value,
    /// Bytes.
    pub bytes: Vec<u8>,
    /// Nullable text.
    pub text_opt: Option<String>,
    /// Nullable flag.
    pub flag_opt: Option<bool>,
    /// Nullable small.
    pub small_opt: Option<i16>,
    /// Nullable medium.
    pub medium_opt: Option<i32>,
    /// Nullable large.
    pub large_opt: Option<i64>,
    /// Nullable single.
    pub single_opt: Option<f32>,
    /// Nullable double.
    pub double_opt: Option<f64>,
    /// Nullable uuid.
    pub uuid_opt: Option<Uuid>,
    /// Nullable timestamp.
    pub at_opt: Option<DateTime<Utc>>,
    /// Nullable JSON.
    pub json_opt: Option<serde_json::Value>,
    /// Nullable bytes.
    pub bytes_opt: Option<Vec<u8>>,
}

fn main() {
    assert_eq!(Everything::TABLE, "everything");
    assert_eq!(Everything::ENTITY, "Everything");
    assert_eq!(Everything::COLUMNS.len(), 24);
    let at = Everything::COLUMNS[10];
    assert_eq!((at.name, at.field, at.role), ("at", "at", ColumnRole::Data));
    assert_eq!(
        (at.sqlite_type, at.postgres_type, at.nullable),
        ("TEXT", "TIMESTAMPTZ", false)
    );
    assert!(Everything::COLUMNS[14..].iter().all(|c| c.nullable));
    assert_eq!(Everything::SQLITE.select_version, "");
    let patch = EverythingPatch {
        json_opt: Some(None),
        ..EverythingPatch::default()
    };
    assert_eq!(patch.clone(), patch);
}
