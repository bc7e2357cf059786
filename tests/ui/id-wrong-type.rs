use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: i64,
    tenant_id: String,
}

fn main() {}
