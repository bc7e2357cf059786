//! The contract checks. Each takes a backend and uses tenants of its own. By operation:
//! [`writes`], [`reads`], [`data`], [`adapter`]; the `update_if` checks in `conditional.rs`.
//! `contract_suite!` finds them all here.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Value;

mod adapter;
mod data;
mod reads;
mod writes;

pub use adapter::*;
pub use data::*;
pub use reads::*;
pub use writes::*;

pub use super::conditional::{
    update_if_checks_the_version, update_if_of_unversioned_is_unsupported,
    update_if_through_the_instance_adapter,
};

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

/// Ids of a set of rows, for comparisons that ignore order.
pub fn ids<T: manifest_core::Entity<Id = String>>(rows: &[T]) -> BTreeSet<String> {
    rows.iter().map(|r| r.id().clone()).collect()
}
