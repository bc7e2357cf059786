//! `entity` and `table` overrides, across stacked attributes, and the `crate` path.
#![deny(warnings)]

use manifest_core::ManifestEntity;

mod deps {
    pub use manifest_core as core_crate;
}

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(entity = "Recipe")]
#[manifest(table = "kitchen_recipes", crate = "crate::deps::core_crate")]
pub struct RecipeRow {
    pub id: String,
    pub tenant_id: String,
    pub title: String,
}

fn main() {
    assert_eq!(RecipeRow::ENTITY, "Recipe");
    assert_eq!(RecipeRow::TABLE, "kitchen_recipes");
    assert_eq!(
        RecipeRow::SQLITE.select_all,
        r#"SELECT "id", "tenant_id", "title" FROM "kitchen_recipes" WHERE "tenant_id" = ? ORDER BY "id""#
    );
}
