use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(rename_all = "kebab-case")]
struct Recipe {
    id: String,
    tenant_id: String,
}

fn main() {}
