use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    #[manifest(skip)]
    id: String,
    tenant_id: String,
}

fn main() {}
