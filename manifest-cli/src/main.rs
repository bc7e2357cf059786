//! `manifest`: the Manifest command-line tool.
//!
//! `manifest compile <program.manifest> [-o <out.ir.json>]` writes the program's IR (to stdout
//! without `-o`); `manifest check <program.manifest>` only reports. Both print diagnostics to
//! stderr, rendered as rustc renders its own or, with `--message-format json`, as one JSON object
//! a line, and exit with 0 when there is no error, 1 when there is one, and 2 on a usage error
//! or an unreadable file.
//!
//! `manifest test <program.ir.json|program.manifest> <cases.results.json>...` runs test cases through the
//! engine with the reference harness's rules (`manifest_runtime::conformance`), prints
//! each failure with expected and actual side by side, ends with `N passed, M failed`, and
//! exits with 0 when every case passed, 1 when one failed, and 2 on a usage, IR, cases-file or
//! database error (a `.manifest` program is compiled first: with an error, its diagnostics are
//! printed and the status is 2, as for IR that does not load). Install it with `cargo install --path manifest-cli`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod compile;

use clap::{Parser, Subcommand};
use compile::MessageFormat;
use manifest_runtime::conformance::{Backend, CaseKind, Cases};
use manifest_runtime::{Ir, Program, RuntimeError};

/// Compile and check Manifest programs, and run their test cases through the Rust engine.
#[derive(Debug, Parser)]
#[command(name = "manifest", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, PartialEq, Subcommand)]
enum Command {
    /// Compile a program to IR JSON, printing its diagnostics to stderr.
    ///
    /// Exit status: 0 no error (warnings allowed), 1 an error, 2 usage error or unreadable file.
    Compile {
        /// The program's source.
        #[arg(value_name = "PROGRAM.manifest")]
        program: PathBuf,
        /// Where to write the IR (stdout when left out).
        #[arg(short, long, value_name = "OUT.ir.json")]
        output: Option<PathBuf>,
        /// How diagnostics are printed on stderr.
        #[arg(long, value_enum, default_value_t)]
        message_format: MessageFormat,
    },
    /// Report a program's diagnostics without writing anything.
    ///
    /// Exit status: 0 no error (warnings allowed), 1 an error, 2 usage error or unreadable file.
    Check {
        /// The program's source.
        #[arg(value_name = "PROGRAM.manifest")]
        program: PathBuf,
        /// How diagnostics are printed on stderr.
        #[arg(long, value_enum, default_value_t)]
        message_format: MessageFormat,
    },
    /// Run every case of each cases file against the program, as the reference harness does.
    ///
    /// A fresh engine per case, now() fixed at 1000000000000, ids test-id-1, test-id-2, ...
    /// Each failing case is printed as `FAIL <file>#<index> <name> [<kind>]` with what was
    /// expected and what the engine gave side by side, then `N passed, M failed`.
    ///
    /// Exit status: 0 every case passed, 1 a case failed, 2 usage, program, cases-file or
    /// database error.
    Test {
        /// Keep instances in a database instead of memory: sqlite://<path> (created if
        /// missing), sqlite::memory:, or postgres://user@host/db. A JSON document table per
        /// entity is created if missing; each case writes under a tenant of its own and its
        /// rows are deleted when it ends.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// The program: IR JSON, or a `.manifest` source (compiled first).
        #[arg(value_name = "PROGRAM.ir.json|PROGRAM.manifest")]
        program: PathBuf,
        /// Cases files ({"testCases": [...]}, the reference harness's `*.results.json`).
        #[arg(value_name = "CASES.results.json", required = true)]
        cases: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Compile {
            program,
            output,
            message_format,
        } => return compile::compile(&program, output.as_ref(), message_format),
        Command::Check {
            program,
            message_format,
        } => return compile::check(&program, message_format),
        Command::Test {
            database_url,
            program,
            cases,
        } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(test(database_url, program, cases)),
                Err(e) => Err(e),
            }
        }
    };
    result.unwrap_or_else(|e| {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("error: {e}");
        }
        ExitCode::from(2)
    })
}

/// Print `error: <message>` and give exit status 2.
fn fail(message: impl std::fmt::Display) -> io::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(2))
}

async fn test(
    database_url: Option<String>,
    program: PathBuf,
    files: Vec<PathBuf>,
) -> io::Result<ExitCode> {
    let shown = program.display();
    let loaded = if compile::is_source(&program) {
        match compile::compile_file(&program, MessageFormat::Human) {
            Err(compile::Failure::Unreadable(message)) => return fail(message),
            Err(compile::Failure::Invalid) => return Ok(ExitCode::from(2)),
            Ok(compiled) => compiled.ir.checked(),
        }
    } else {
        match std::fs::read_to_string(&program) {
            Err(e) => return fail(format_args!("cannot read {shown}: {e}")),
            Ok(text) => Ir::from_json_str(&text),
        }
    };
    let ir = match loaded {
        Err(e) => return fail(format_args!("{shown}: {e}")),
        Ok(ir) => std::sync::Arc::new(Program::new(ir)),
    };
    // Cases that touch these may fail for that reason: say so up front.
    for construct in ir.not_executed() {
        eprintln!("warning: {shown}: {construct}");
    }
    let mut suites = Vec::new();
    for path in &files {
        let file = path.display().to_string();
        let cases = match std::fs::read_to_string(path) {
            Err(e) => return fail(format_args!("cannot read {file}: {e}")),
            Ok(text) => match Cases::from_json_str(&text) {
                Err(e) => return fail(format_args!("{file}: {e}")),
                Ok(cases) => cases,
            },
        };
        suites.push((file, cases));
    }
    let backend = match &database_url {
        None => Backend::Memory,
        Some(url) => match Backend::connect(url).await {
            Ok(backend) => backend,
            Err(e) => return fail(format_args!("cannot open the database: {e}")),
        },
    };
    if let Err(e) = backend.prepare(&ir).await {
        return fail(format_args!(
            "cannot create the document tables of {shown}: {e}"
        ));
    }
    // Every case would fail the same way if no engine can be built for the program.
    if let Err(e) = backend.engine(&ir, &serde_json::Value::Null) {
        let hint = match (&e, &backend) {
            (RuntimeError::NoStore { .. }, Backend::Memory) => {
                "\nhint: with --database-url every entity is kept in the database"
            }
            _ => "",
        };
        return fail(format_args!("{shown}: {e}{hint}"));
    }

    let mut out = io::stdout().lock();
    let (mut passed, mut failed) = (0usize, 0usize);
    for (file, cases) in &suites {
        for (index, case) in cases.as_slice().iter().enumerate() {
            if CaseKind::of(case).is_empty() {
                let name = case["name"].as_str().map(|n| format!(" {n}"));
                writeln!(
                    out,
                    "SKIP {file}#{index}{}: no command, computedProperty, createInstance, persistenceTest or expectedConstraintFailures to run",
                    name.unwrap_or_default()
                )?;
            }
        }
        for report in backend.run_cases(&ir, file, cases).await {
            if report.outcome.is_pass() {
                passed += 1;
            } else {
                failed += 1;
                writeln!(out, "{report}")?;
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    out.flush()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("manifest").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn parses_test_with_options_anywhere() {
        let expected = Command::Test {
            database_url: Some("sqlite::memory:".into()),
            program: "p.ir.json".into(),
            cases: vec!["a.results.json".into(), "b.results.json".into()],
        };
        let args = [
            "test",
            "p.ir.json",
            "--database-url",
            "sqlite::memory:",
            "a.results.json",
            "b.results.json",
        ];
        assert_eq!(parse(&args).unwrap(), expected);
        let args = [
            "test",
            "--database-url=sqlite::memory:",
            "p.ir.json",
            "a.results.json",
            "b.results.json",
        ];
        assert_eq!(parse(&args).unwrap(), expected);
        assert!(parse(&["test", "--", "--odd-name.ir.json", "c"]).is_ok());
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        assert_eq!(
            kind(&[]),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(kind(&["run"]), ErrorKind::InvalidSubcommand);
        assert_eq!(
            kind(&["test", "p.ir.json"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&["test", "--nope", "p", "c"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["test", "p", "c", "--database-url"]),
            ErrorKind::InvalidValue
        );
        let twice = [
            "test",
            "--database-url",
            "a",
            "--database-url",
            "b",
            "p",
            "c",
        ];
        assert_eq!(kind(&twice), ErrorKind::ArgumentConflict);
        assert_eq!(kind(&["--version"]), ErrorKind::DisplayVersion);
        assert_eq!(kind(&["test", "--help"]), ErrorKind::DisplayHelp);
    }
}
