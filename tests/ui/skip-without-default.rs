use manifest_core::ManifestEntity;

#[derive(Debug, Clone)]
struct Handle(u32);

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    #[manifest(skip)]
    handle: Handle,
}

fn main() {}
