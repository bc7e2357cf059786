//! Raw field names are stored without the `r#`.
#![deny(warnings)]

use manifest_core::{Entity, ManifestEntity};

#[derive(Debug, Clone, ManifestEntity)]
struct Token {
    id: String,
    tenant_id: String,
    r#type: String,
    r#match: Option<i32>,
}

fn main() {
    let names: Vec<_> = Token::COLUMNS.iter().map(|c| (c.name, c.field)).collect();
    assert_eq!(
        names,
        [("id", "id"), ("tenant_id", "tenant_id"), ("type", "type"), ("match", "match")]
    );
    assert!(Token::SQLITE.insert.contains(r#""type", "match""#));
    let mut token = Token {
        id: "t1".into(),
        tenant_id: "acme".into(),
        r#type: "word".into(),
        r#match: None,
    };
    let patch = TokenPatch {
        r#type: Some("number".into()),
        r#match: None,
    };
    token.apply(patch).unwrap();
    assert_eq!(token.r#type, "number");
    assert_eq!(token.clone().into_patch().r#match, Some(None));
}
