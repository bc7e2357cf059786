//! Provenance hashes agree with the npm reference compiler (3.4.23): its output
//! for a few fixtures is stored in tests/provenance, where its IR equals ours.

mod common;

use common::{fixtures_dir, js_equal, normalize, read_json};
use manifest_compiler::{Options, compile_with, provenance};
use serde_json::Value;
use std::path::Path;

#[test]
fn hashes_match_the_reference_compiler() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/provenance");
    let mut checked = 0;
    for name in [
        "04-command-mutate-emit",
        "71-role-hierarchy",
        "93-data-masking",
    ] {
        let npm =
            read_json(&dir.join(format!("{name}.npm-3.4.23.ir.json"))).expect("stored npm IR");
        let source = std::fs::read_to_string(fixtures_dir().join(format!("{name}.manifest")))
            .expect("source");
        let at = npm["provenance"]["compiledAt"].as_str().map(String::from);
        let mut ours = compile_with(&source, &Options { compiled_at: at })
            .expect("compiles")
            .to_value();
        assert_eq!(
            ours["provenance"]["contentHash"], npm["provenance"]["contentHash"],
            "{name}: contentHash"
        );
        // Same IR, same stamps: then the same irHash.
        ours["provenance"]["compilerVersion"] = Value::String("3.4.23".into());
        assert_eq!(
            provenance::ir_hash(&ours),
            npm["provenance"]["irHash"].as_str().unwrap_or_default(),
            "{name}: irHash"
        );
        // And the npm IR's own hash recomputes to its stamp.
        assert_eq!(
            provenance::ir_hash(&npm),
            npm["provenance"]["irHash"].as_str().unwrap_or_default()
        );
        let (mut a, mut b) = (ours, npm);
        normalize(&mut a);
        normalize(&mut b);
        assert!(js_equal(&a, &b), "{name}: IR differs from npm's");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn our_own_stamp_is_reproducible_and_tracks_content() {
    let src = std::fs::read_to_string(fixtures_dir().join("04-command-mutate-emit.manifest"))
        .expect("source");
    let opts = Options {
        compiled_at: Some("2024-01-01T00:00:00.000Z".into()),
    };
    let a = compile_with(&src, &opts).expect("compiles").to_value();
    let b = compile_with(&src, &opts).expect("compiles").to_value();
    assert_eq!(a, b, "same source, same options: same IR");
    let hash = a["provenance"]["irHash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(hash, provenance::ir_hash(&a));
    assert_eq!(
        a["provenance"]["compilerVersion"],
        manifest_compiler::COMPILER_VERSION
    );
    let changed = compile_with(&src.replace("= 0", "= 1"), &opts)
        .expect("compiles")
        .to_value();
    assert_ne!(changed["provenance"]["irHash"], a["provenance"]["irHash"]);
    assert_ne!(
        changed["provenance"]["contentHash"],
        a["provenance"]["contentHash"]
    );
    let now = manifest_compiler::compile(&src)
        .expect("compiles")
        .to_value();
    let stamp = now["provenance"]["compiledAt"].as_str().unwrap_or_default();
    assert!(
        stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "{stamp}"
    );
}

#[test]
fn parse_errors_carry_the_offending_tokens_span() {
    let source = "entity entity {\n  property name string\n}\n";
    let err = compile_with(source, &Options::default()).expect_err("reserved word");
    let first = &err.all()[0];
    assert_eq!((first.line, first.column), (Some(1), Some(14)));
    let span = first.span.clone().expect("a span");
    assert_eq!(&source[span], "entity");
    assert!(err.to_string().contains("Reserved word 'entity'"), "{err}");
}
