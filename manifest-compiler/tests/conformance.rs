//! The upstream compiler suite (tests/fixtures), compared as upstream's
//! `conformance.test.ts` compares, with the pass counts pinned.

mod common;

use common::*;
use manifest_compiler::{Diagnostic, Options, compile_with};
use serde_json::Value;

/// IR fixtures that must pass (of 50).
const IR_PASSING: usize = 50;
/// Diagnostics fixtures that must pass (of 44).
const DIAGNOSTICS_PASSING: usize = 44;

fn options() -> Options {
    Options {
        compiled_at: Some("2024-01-01T00:00:00.000Z".into()),
    }
}

fn check_ir(source: &str, expected: &Value) -> Result<(), String> {
    let compiled = compile_with(source, &options()).map_err(|d| {
        let errors: Vec<String> = d.errors().map(|e| e.to_string()).collect();
        format!("failed to compile: {}", errors.join(" | "))
    })?;
    // Deterministic: a second compilation gives the very same document (hashes included).
    let again =
        compile_with(source, &options()).map_err(|_| "second compile failed".to_string())?;
    if again.ir != compiled.ir {
        return Err("a second compilation gave a different IR".into());
    }
    let (mut ours, mut theirs) = (compiled.to_value(), expected.clone());
    normalize(&mut ours);
    normalize(&mut theirs);
    match first_difference(&ours, &theirs, "ir") {
        None => Ok(()),
        Some(d) => Err(d),
    }
}

fn check_diagnostics(source: &str, expected: &Value) -> Result<(), String> {
    let result = compile_with(source, &options());
    let should_fail = expected["shouldFail"] == true;
    let diagnostics: Vec<Diagnostic> = match &result {
        Ok(c) => c.warnings.clone(),
        Err(d) => d.0.clone(),
    };
    if should_fail && result.is_ok() {
        return Err("compiled, but should fail".into());
    }
    if !should_fail && result.is_err() {
        return Err(format!(
            "failed: {:?}",
            diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
        ));
    }
    let wanted = expected["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let shown = || {
        diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if wanted.len() != diagnostics.len() {
        return Err(format!(
            "{} diagnostics, expected {}: {}",
            diagnostics.len(),
            wanted.len(),
            shown()
        ));
    }
    for (i, (w, d)) in wanted.iter().zip(&diagnostics).enumerate() {
        let ok = w["severity"] == d.severity.as_str()
            && w["message"] == d.message.as_str()
            && w.get("line")
                .is_none_or(|l| l.as_u64() == d.line.map(u64::from))
            && w.get("column")
                .is_none_or(|c| c.as_u64() == d.column.map(u64::from))
            && w.get("code")
                .is_none_or(|c| c.as_str() == d.code.as_deref());
        if !ok {
            return Err(format!("diagnostic {i}: got {d}, expected {w}"));
        }
    }
    Ok(())
}

#[test]
fn upstream_compiler_fixtures() {
    let dir = fixtures_dir();
    let (mut ir_pass, mut diag_pass, mut ir_total, mut diag_total) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (name, source) in manifests(&dir) {
        let (result, is_ir) = if let Some(expected) =
            read_json(&dir.join(format!("{name}.ir.json")))
        {
            ir_total += 1;
            (check_ir(&source, &expected), true)
        } else if let Some(expected) = read_json(&dir.join(format!("{name}.diagnostics.json"))) {
            diag_total += 1;
            (check_diagnostics(&source, &expected), false)
        } else {
            continue;
        };
        match result {
            Ok(()) if is_ir => ir_pass += 1,
            Ok(()) => diag_pass += 1,
            Err(why) => failures.push(format!("{name}: {why}")),
        }
    }
    eprintln!("IR {ir_pass}/{ir_total}, diagnostics {diag_pass}/{diag_total}");
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    assert_eq!((ir_total, diag_total), (50, 44), "fixture set changed");
    assert_eq!(
        (ir_pass, diag_pass),
        (IR_PASSING, DIAGNOSTICS_PASSING),
        "pass counts changed; failures:\n{}",
        failures.join("\n")
    );
}
