use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Tâche {
    id: String,
    tenant_id: String,
}

fn main() {}
