use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    title: String,
    #[manifest(column = "title")]
    name: String,
}

fn main() {}
