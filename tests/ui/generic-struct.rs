use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe<T> {
    id: String,
    tenant_id: String,
    name: T,
}

fn main() {}
