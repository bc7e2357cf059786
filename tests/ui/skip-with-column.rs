use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    #[manifest(skip, column = "cache")]
    cache: Vec<u8>,
}

fn main() {}
