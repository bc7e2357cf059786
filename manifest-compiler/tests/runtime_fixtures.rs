//! The repository's other programs compile to the IR checked in beside them:
//! the runtime conformance suite (tests/conformance/fixtures, whose IR is
//! upstream's), and the examples and write-path programs, whose IR the npm
//! reference compiler 3.4.23 made (scripts/reference-bench/compile.mjs).

mod common;

use common::*;
use manifest_compiler::{Options, compile_with};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// How many of the suite's 42 programs compile without error, and how many give the stored IR.
const COMPILING: usize = 42;
const SAME_IR: usize = 42;

#[test]
fn runtime_suite_programs_compile_to_their_stored_ir() {
    let dir = repo_root().join("tests/conformance/fixtures");
    let dir = dir.as_path();
    let programs = manifests(dir);
    let options = Options {
        compiled_at: Some("2024-01-01T00:00:00.000Z".into()),
    };
    let (mut compiling, mut same, mut notes) = (0, 0, Vec::new());
    for (name, source) in &programs {
        match compile_with(source, &options) {
            Err(d) => notes.push(format!(
                "{name}: {}",
                d.errors()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
            Ok(c) => {
                compiling += 1;
                let Some(mut expected) = read_json(&dir.join(format!("{name}.ir.json"))) else {
                    continue;
                };
                let mut ours = c.to_value();
                normalize(&mut ours);
                normalize(&mut expected);
                match first_difference(&ours, &expected, "ir") {
                    None => same += 1,
                    Some(d) => notes.push(format!("{name}: {d}")),
                }
            }
        }
    }
    eprintln!(
        "runtime fixtures: {} programs, {compiling} compile, {same} give the stored IR",
        programs.len()
    );
    for n in &notes {
        eprintln!("  {n}");
    }
    assert_eq!(programs.len(), 42);
    assert_eq!(
        (compiling, same),
        (COMPILING, SAME_IR),
        "{}",
        notes.join("\n")
    );
}

/// npm 3.4.23 predates initialization plans (`command.initialization`, which the
/// upstream fixtures at 05359bc6 have): apart from those, the IR is the same.
#[test]
fn checked_in_programs_match_the_reference_compilers_ir() {
    let options = Options {
        compiled_at: Some("2024-01-01T00:00:00.000Z".into()),
    };
    let mut plans = 0;
    // The library service's IR is compiled by its build (manifest-build); the reference's
    // compile of it is kept here, in tests/reference.
    let library_ir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/library.ir.json");
    for (name, stored) in [
        ("examples/benches/scaling/customers", None),
        ("examples/library-service/library", Some(library_ir)),
        ("tests/write-path/bank", None),
        ("tests/write-path/book", None),
    ] {
        let base = repo_root().join(name);
        let source = std::fs::read_to_string(base.with_extension("manifest")).expect("source");
        let stored = stored.unwrap_or_else(|| base.with_extension("ir.json"));
        let mut expected = read_json(&stored).expect("stored IR");
        let compiled = compile_with(&source, &options).unwrap_or_else(|d| panic!("{name}: {d}"));
        assert!(
            compiled.warnings.is_empty(),
            "{name}: {:?}",
            compiled.warnings
        );
        let mut ours = compiled.to_value();
        for c in ours["commands"].as_array_mut().into_iter().flatten() {
            if let Some(m) = c.as_object_mut()
                && m.remove("initialization").is_some()
            {
                plans += 1;
            }
        }
        normalize(&mut ours);
        normalize(&mut expected);
        assert_eq!(first_difference(&ours, &expected, "ir"), None, "{name}");
        assert!(js_equal(&ours, &expected) && expected != Value::Null);
    }
    assert_eq!(
        plans, 4,
        "Book, Member and Loan.create in library; Book.create in book"
    );
}
