use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    #[manifest(id)]
    id: String,
    tenant_id: String,
    #[manifest(id)]
    slug: String,
}

fn main() {}
