use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(entity = "")]
struct Recipe {
    id: String,
    tenant_id: String,
}

fn main() {}
