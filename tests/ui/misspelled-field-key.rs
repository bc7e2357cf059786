use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    #[manifest(colum = "title")]
    name: String,
}

fn main() {}
