use manifest_core::ManifestEntity;

#[derive(ManifestEntity)]
enum Recipe {
    Soup,
}

fn main() {}
