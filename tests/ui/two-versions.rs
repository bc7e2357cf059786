use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    #[manifest(version)]
    version: i64,
    #[manifest(version)]
    revision: i64,
}

fn main() {}
