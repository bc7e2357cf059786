use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    recipe_id: String,
    tenant_id: String,
}

fn main() {}
