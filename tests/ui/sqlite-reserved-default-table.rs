use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct SqliteStat {
    id: String,
    tenant_id: String,
}

fn main() {}
