use manifest_core::ManifestEntity;

#[derive(Debug, Clone, ManifestEntity)]
struct Recipe {
    id: String,
    tenant_id: String,
    #[manifest(column = "a_column_name_that_is_longer_than_postgres_sixty_three_byte_limit")]
    name: String,
}

fn main() {}
