//! `column` wins over `rename_all`; the id, tenant and version are renamed too.
#![deny(warnings)]

use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(rename_all = "camelCase")]
struct RecipeStep {
    id: String,
    tenant_id: String,
    sort_order: i32,
    #[manifest(column = "step_text")]
    step_text_body: String,
    #[manifest(version)]
    row_version: i64,
}

fn main() {
    let names: Vec<_> = RecipeStep::COLUMNS.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["id", "tenantId", "sortOrder", "step_text", "rowVersion"]
    );
    assert_eq!(RecipeStep::TABLE, "recipe_step");
    assert_eq!(
        RecipeStep::POSTGRES.select_version,
        r#"SELECT CAST("rowVersion" AS BIGINT) FROM "recipe_step" WHERE "tenantId" = $1 AND "id" = $2"#
    );
}
