use manifest_core::ManifestEntity;

#[derive(ManifestEntity)]
struct Recipe;

fn main() {}
