use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(crate = "not a path")]
struct Recipe {
    id: String,
    tenant_id: String,
}

fn main() {}
