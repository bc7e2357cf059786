use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    #[manifest(column)]
    name: String,
}

fn main() {}
