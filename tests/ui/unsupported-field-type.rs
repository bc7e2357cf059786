use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    tags: std::collections::HashMap<String, String>,
}

fn main() {}
