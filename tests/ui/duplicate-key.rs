use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(table = "recipes")]
#[manifest(table = "recipe")]
struct Recipe {
    id: String,
    tenant_id: String,
}

fn main() {}
