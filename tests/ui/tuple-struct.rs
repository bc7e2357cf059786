use manifest_core::ManifestEntity;

#[derive(ManifestEntity)]
struct Recipe(String, String);

fn main() {}
