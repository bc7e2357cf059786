use manifest_core::ManifestEntity;

// `HttpRequest`'s default table: `HTTPRequest` must name its table itself.
#[derive(Debug, Clone, ManifestEntity)]
struct HTTPRequest {
    id: String,
    tenant_id: String,
}

fn main() {}
