use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    #[manifest(tenant)]
    org: String,
    #[manifest(tenant)]
    team: String,
}

fn main() {}
