use manifest_core::ManifestEntity;

#[derive(ManifestEntity)]
union Recipe {
    id: u32,
    tenant_id: u32,
}

fn main() {}
