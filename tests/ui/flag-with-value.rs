use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    #[manifest(id = "recipe_id")]
    id: String,
    tenant_id: String,
}

fn main() {}
