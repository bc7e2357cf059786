//! The runtime conformance suite's programs (../shared/conformance/fixtures, outside
//! this repository, so the test skips itself when they are absent) compile, and
//! to exactly the IR stored beside them, which the npm reference compiler made.

mod common;

use common::*;
use manifest_compiler::{Options, compile_with};
use std::path::Path;

/// How many of the 40 compile without error, and how many give the stored IR.
const COMPILING: usize = 40;
const SAME_IR: usize = 40;

#[test]
fn runtime_suite_programs_compile_to_their_stored_ir() {
    let dir = std::env::var("MANIFEST_RUNTIME_FIXTURES")
        .unwrap_or_else(|_| "/work/shared/conformance/fixtures".into());
    let dir = Path::new(&dir);
    let programs = manifests(dir);
    if programs.is_empty() {
        eprintln!("skipped: no runtime fixtures in {}", dir.display());
        return;
    }
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
                let mut ours = c.ir;
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
    assert_eq!(programs.len(), 40);
    assert_eq!(
        (compiling, same),
        (COMPILING, SAME_IR),
        "{}",
        notes.join("\n")
    );
}
