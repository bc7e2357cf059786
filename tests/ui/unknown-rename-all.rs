use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(rename_all = "Title Case")]
struct Recipe {
    id: String,
    tenant_id: String,
}

fn main() {}
