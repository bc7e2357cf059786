use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(table = "recipes; DROP TABLE x")]
struct Recipe {
    id: String,
    tenant_id: String,
}

fn main() {}
