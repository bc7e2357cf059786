//! Formatting changes nothing: every IR fixture of the upstream suite, laid out differently
//! (CRLF line ends, other indentation, blank lines between lines, trailing blanks, comment
//! lines), compiles to the same IR as the original, apart from the provenance's content and
//! IR hashes (the content hash is over the source as given); and the same source compiled
//! twice gives the very same IR, hashes included.

mod common;

use common::*;
use manifest_compiler::{Options, compile_with};
use serde_json::Value;

fn options() -> Options {
    Options {
        compiled_at: Some("2024-01-01T00:00:00.000Z".into()),
    }
}

fn ir(source: &str) -> Result<Value, String> {
    compile_with(source, &options())
        .map(|c| c.to_value())
        .map_err(|d| {
            d.errors()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
}

/// A layout: its name, and the source laid out so.
type Layout = (&'static str, fn(&str) -> String);

/// The layouts tried.
fn layouts() -> Vec<Layout> {
    vec![
        ("CRLF line ends", |s| s.replace('\n', "\r\n")),
        ("indentation doubled, tabs for spaces", |s| {
            s.lines()
                .map(|line| {
                    let body = line.trim_start();
                    let indent = line.len() - body.len();
                    format!("{}{body}", "\t".repeat(indent))
                })
                .collect::<Vec<_>>()
                .join("\n")
        }),
        ("a blank line after each line", |s| s.replace('\n', "\n\n")),
        ("trailing blanks", |s| {
            s.lines()
                .map(|line| format!("{line}  \t"))
                .collect::<Vec<_>>()
                .join("\n")
        }),
        ("comment lines between the declarations", |s| {
            let mut out = String::from("// a formatted copy\n");
            for line in s.lines() {
                if !line.starts_with(' ') && !line.starts_with('\t') && !line.is_empty() {
                    out.push_str("// next declaration\n");
                }
                out.push_str(line);
                out.push('\n');
            }
            out
        }),
    ]
}

#[test]
fn layout_changes_nothing_but_the_hashes() {
    let dir = fixtures_dir();
    let (mut compared, mut failures) = (0, Vec::new());
    for (name, source) in manifests(&dir) {
        if read_json(&dir.join(format!("{name}.ir.json"))).is_none() {
            continue;
        }
        let original = ir(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            ir(&source).as_ref(),
            Ok(&original),
            "{name}: a second compilation differs"
        );
        let mut original = original;
        normalize(&mut original);
        for (layout, apply) in layouts() {
            let formatted = apply(&source);
            assert_ne!(formatted, source, "{name}: {layout} changed nothing");
            compared += 1;
            match ir(&formatted) {
                Ok(mut ours) => {
                    normalize(&mut ours);
                    if let Some(d) = first_difference(&ours, &original, "ir") {
                        failures.push(format!("{name}, {layout}: {d}"));
                    }
                }
                Err(e) => failures.push(format!("{name}, {layout}: {e}")),
            }
        }
    }
    assert_eq!(
        compared,
        50 * layouts().len(),
        "every IR fixture, every layout"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
