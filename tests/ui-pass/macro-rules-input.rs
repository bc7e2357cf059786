//! A struct written by a `macro_rules!` macro, with some field types from the macro's caller
//! (as bare tokens, which keep the caller's hygiene) and some from its body: the generated code
//! must not mix the two.
#![deny(warnings)]

use manifest_core::{Entity, ManifestEntity};

macro_rules! entity {
    ($name:ident { $($field:ident: $ty:tt),* $(,)? }) => {
        #[derive(Debug, Clone, ManifestEntity)]
        struct $name {
            id: String,
            tenant_id: String,
            #[manifest(version)]
            version: i32,
            #[manifest(skip)]
            cache: Vec<u8>,
            $($field: $ty,)*
        }
    };
}

entity!(Note {
    text: String,
    pinned: bool,
});

fn main() {
    let mut note = Note {
        id: "n".into(),
        tenant_id: "t".into(),
        version: 1,
        cache: Vec::new(),
        text: "hi".into(),
        pinned: false,
    };
    note.apply(NotePatch {
        text: Some("hello".into()),
        pinned: Some(true),
        version: None,
    })
    .unwrap();
    note.set_version(2).unwrap();
    assert_eq!((note.text.as_str(), note.pinned, note.version), ("hello", true, 2));
    assert_eq!(note.clone().into_patch().version, Some(2));
    assert_eq!(Note::COLUMNS.len(), 5);
}
