//! `manifest compile` and `manifest check`, and the `.manifest` programs `manifest test` takes:
//! compiling with manifest-compiler, and printing its diagnostics to stderr, rendered as rustc
//! renders its own (`human`) or as one JSON object a line (`json`, cargo's `--message-format`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use manifest_compiler::{Compiled, Diagnostic, render};

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// As rustc prints its own: the file, line and column, the source line and a caret.
    #[default]
    Human,
    /// One JSON object a line: {"severity", "code", "message", "line", "column"}.
    Json,
}

/// Why a program could not be compiled.
#[derive(Debug)]
pub enum Failure {
    /// The file could not be read (exit status 2).
    Unreadable(String),
    /// The program has an error; its diagnostics were printed (exit status 1 for
    /// `compile` and `check`).
    Invalid,
}

/// Whether `path` names a `.manifest` source rather than IR.
pub fn is_source(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "manifest")
}

/// Reads and compiles `path`, printing every diagnostic (warnings too) to stderr.
pub fn compile_file(path: &Path, format: MessageFormat) -> Result<Compiled, Failure> {
    let shown = path.display().to_string();
    let source = std::fs::read_to_string(path)
        .map_err(|e| Failure::Unreadable(format!("cannot read {shown}: {e}")))?;
    let (result, diagnostics) =
        match manifest_compiler::compile_with(&source, &manifest_compiler::Options::from_env()) {
            Ok(compiled) => {
                let warnings = compiled.warnings.clone();
                (Ok(compiled), warnings)
            }
            Err(d) => (Err(Failure::Invalid), d.0),
        };
    print_diagnostics(&diagnostics, &shown, &source, format);
    result
}

/// Prints `diagnostics` of `source` to stderr in `format`, ending human output with a summary.
pub fn print_diagnostics(
    diagnostics: &[Diagnostic],
    name: &str,
    source: &str,
    format: MessageFormat,
) {
    let text = match format {
        MessageFormat::Human => {
            let mut text = render::render(diagnostics, name, source);
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = diagnostics.len() - errors;
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            if errors > 0 {
                text.push_str(&format!(
                    "error: could not compile {name} ({}{})\n",
                    count(errors, "error"),
                    if warnings > 0 {
                        format!(", {}", count(warnings, "warning"))
                    } else {
                        String::new()
                    }
                ));
            } else if warnings > 0 {
                text.push_str(&format!(
                    "warning: {name}: {} emitted\n",
                    count(warnings, "warning")
                ));
            }
            text
        }
        MessageFormat::Json => diagnostics
            .iter()
            .map(|d| format!("{}\n", json_line(d)))
            .collect(),
    };
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// One diagnostic as the JSON object `--message-format json` prints.
pub fn json_line(d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "severity": d.severity.as_str(),
        "code": d.code,
        "message": d.message,
        "line": d.line,
        "column": d.column,
    })
}

/// `manifest compile`: the IR to `output` (stdout without one).
pub fn compile(program: &Path, output: Option<&PathBuf>, format: MessageFormat) -> ExitCode {
    let compiled = match compile_file(program, format) {
        Ok(c) => c,
        Err(failure) => return failed(failure),
    };
    let mut text = compiled.to_json();
    text.push('\n');
    let written = match output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    Err(format!("cannot write the IR: {e}"))
                }
                _ => Ok(()),
            }
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => usage_failure(message),
    }
}

/// `manifest check`: diagnostics only.
pub fn check(program: &Path, format: MessageFormat) -> ExitCode {
    match compile_file(program, format) {
        Ok(_) => ExitCode::SUCCESS,
        Err(failure) => failed(failure),
    }
}

fn failed(failure: Failure) -> ExitCode {
    match failure {
        Failure::Unreadable(message) => usage_failure(message),
        Failure::Invalid => ExitCode::from(1),
    }
}

fn usage_failure(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
