//! `manifest`: the Manifest command-line tool.
//!
//! `manifest test <program.ir.json> <cases.results.json>...` runs test cases through the
//! engine with the reference harness's rules (`manifest_core::runtime::conformance`), prints
//! each failure with expected and actual side by side, ends with `N passed, M failed`, and
//! exits with 0 when every case passed, 1 when one failed, and 2 on a usage, IR, cases-file or
//! database error. Build it with the `cli` feature: `cargo install manifest-core --features cli`.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use manifest_core::runtime::conformance::{Backend, CaseKind, Cases};
use manifest_core::runtime::{Ir, RuntimeError};

const USAGE: &str =
    "usage: manifest test [--database-url <url>] <program.ir.json> <cases.results.json>...";

const HELP: &str = "\
manifest: run Manifest programs' test cases through the Rust engine

usage:
  manifest test [--database-url <url>] <program.ir.json> <cases.results.json>...
  manifest --help | --version

manifest test runs every case of each cases file ({\"testCases\": [...]}) against the
compiled program, as the reference harness does: a fresh engine per case, now() fixed at
1000000000000, ids test-id-1, test-id-2, ... It prints each failing case as
`FAIL <file>#<index> <name> [<kind>]` with what was expected and what the engine gave side by
side, then `N passed, M failed`.

options:
  --database-url <url>  keep instances in a database instead of memory: sqlite://<path>
                        (created if missing), sqlite::memory:, or postgres://user@host/db.
                        Creates a JSON document table per entity of the program if missing;
                        each case writes under a tenant of its own and its rows are deleted
                        when it ends.
  -h, --help            print this help
  -V, --version         print the version

exit status: 0 every case passed, 1 a case failed, 2 usage, program, cases-file or
database error.
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Version,
    Test {
        database_url: Option<String>,
        program: PathBuf,
        cases: Vec<PathBuf>,
    },
}

/// Parse the arguments after the program name. Options may come anywhere after `test`;
/// `--` ends them.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Err("missing command".to_owned());
    };
    match first.to_str() {
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("-V" | "--version") => return Ok(Command::Version),
        Some("test") => {}
        _ => {
            return Err(format!(
                "unknown command `{}` (the command is `test`)",
                first.to_string_lossy()
            ));
        }
    }
    let mut database_url = None;
    let mut paths = Vec::new();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or_default();
        if options_done || !text.starts_with('-') || text == "-" {
            paths.push(PathBuf::from(arg));
            continue;
        }
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (text, None),
        };
        match name {
            "--" => options_done = true,
            "-h" | "--help" => return Ok(Command::Help),
            "--database-url" => {
                let value = match inline {
                    Some(value) => value,
                    None => args
                        .next()
                        .and_then(|v| v.into_string().ok())
                        .ok_or("`--database-url` needs a URL")?,
                };
                if database_url.replace(value).is_some() {
                    return Err("`--database-url` is given twice".to_owned());
                }
            }
            _ => return Err(format!("unknown option `{name}`")),
        }
    }
    let mut paths = paths.into_iter();
    let program = paths
        .next()
        .ok_or("missing <program.ir.json> and <cases.results.json>")?;
    let cases: Vec<PathBuf> = paths.collect();
    if cases.is_empty() {
        return Err("missing <cases.results.json> (give at least one cases file)".to_owned());
    }
    Ok(Command::Test {
        database_url,
        program,
        cases,
    })
}

fn main() -> ExitCode {
    let command = match parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}\nrun `manifest --help` for more");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => write!(io::stdout(), "{HELP}").map(|()| ExitCode::SUCCESS),
        Command::Version => writeln!(io::stdout(), "manifest {}", env!("CARGO_PKG_VERSION"))
            .map(|()| ExitCode::SUCCESS),
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
    let ir = match std::fs::read_to_string(&program) {
        Err(e) => return fail(format_args!("cannot read {shown}: {e}")),
        Ok(text) => match Ir::from_json_str(&text) {
            Err(e) => return fail(format_args!("{shown}: {e}")),
            Ok(ir) => ir,
        },
    };
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

    fn parse_str(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
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
        assert_eq!(parse_str(&args), Ok(expected));
        let args = [
            "test",
            "--database-url=sqlite::memory:",
            "p.ir.json",
            "a.results.json",
            "b.results.json",
        ];
        assert!(parse_str(&args).is_ok());
        assert_eq!(parse_str(&["test", "--help"]), Ok(Command::Help));
        assert_eq!(parse_str(&["--version"]), Ok(Command::Version));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        assert_eq!(parse_str(&[]), Err("missing command".into()));
        assert!(
            parse_str(&["run"])
                .unwrap_err()
                .contains("unknown command `run`")
        );
        assert!(
            parse_str(&["test", "p.ir.json"])
                .unwrap_err()
                .contains("missing <cases.results.json>")
        );
        assert!(
            parse_str(&["test", "--nope", "p", "c"])
                .unwrap_err()
                .contains("unknown option `--nope`")
        );
        assert!(
            parse_str(&["test", "p", "c", "--database-url"])
                .unwrap_err()
                .contains("needs a URL")
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
        assert!(parse_str(&twice).unwrap_err().contains("twice"));
        assert!(parse_str(&["test", "--", "--odd-name.ir.json", "c"]).is_ok());
    }
}
