//! A version field of any integer type; the patch always carries it as `i64`.
#![deny(warnings)]

use manifest_core::{Entity, ManifestEntity};

#[derive(Debug, Clone, ManifestEntity)]
struct Counter {
    id: String,
    tenant_id: String,
    count: i64,
    #[manifest(version)]
    version: i32,
}

#[derive(Debug, Clone, ManifestEntity)]
struct Small {
    id: String,
    tenant_id: String,
    #[manifest(version)]
    rev: i16,
}

fn main() {
    let mut counter = Counter {
        id: "c".into(),
        tenant_id: "t".into(),
        count: 1,
        version: 3,
    };
    assert!(Counter::VERSIONED && Small::VERSIONED);
    assert_eq!(counter.version(), Some(3));
    counter.set_version(4).unwrap();
    assert_eq!(counter.version, 4);
    assert!(counter.set_version(i64::MAX).is_err());
    let patch: CounterPatch = counter.clone().into_patch();
    let expected: Option<i64> = patch.version;
    assert_eq!(expected, Some(4));
    assert_eq!(Counter::expected_version(&patch), Some(4));
    counter.apply(CounterPatch { count: Some(2), version: Some(1) }).unwrap();
    assert_eq!((counter.count, counter.version), (2, 4));

    let small = Small { id: "s".into(), tenant_id: "t".into(), rev: 7 };
    assert_eq!(small.version(), Some(7));
    assert_eq!(small.into_patch(), SmallPatch { rev: Some(7) });
}
