//! A skipped field may have any type with a `Default`: it is not stored.
#![deny(warnings)]

use std::collections::HashMap;

use manifest_core::{Entity, ManifestEntity};

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    name: String,
    #[manifest(skip)]
    cache: HashMap<String, Vec<String>>,
}

fn main() {
    assert_eq!(Recipe::COLUMNS.len(), 3);
    let mut recipe = Recipe {
        id: "r".into(),
        tenant_id: "t".into(),
        name: "soup".into(),
        cache: HashMap::new(),
    };
    recipe.cache.insert("k".into(), Vec::new());
    recipe
        .apply(RecipePatch {
            name: Some("stew".into()),
        })
        .unwrap();
    assert_eq!((recipe.name.as_str(), recipe.cache.len()), ("stew", 1));
}
