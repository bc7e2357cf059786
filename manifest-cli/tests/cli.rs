//! The `manifest` binary, run as a process: `manifest test` on the conformance fixtures (in the
//! workspace's tests package), on memory, SQLite and PostgreSQL, and its errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/fixtures")
        .join(name)
}

/// A fresh temporary folder of this test.
fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("manifest-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn manifest(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_manifest"))
        .args(args)
        .output()
        .expect("run manifest")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn last_line(output: &Output) -> String {
    stdout(output).lines().last().unwrap_or_default().to_owned()
}

const PROGRAM: &str = "04-command-mutate-emit.ir.json";
const CASES: &str = "04-command-mutate-emit.results.json";

#[test]
fn a_passing_cases_file_exits_0() {
    let out = manifest(&[Path::new("test"), &fixture(PROGRAM), &fixture(CASES)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "3 passed, 0 failed\n");
}

#[test]
fn a_wrong_expectation_is_shown_side_by_side_and_exits_1() {
    let dir = temp_dir();
    let mut cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(CASES)).unwrap()).unwrap();
    assert_eq!(cases["testCases"][0]["expectedResult"]["result"], 6);
    cases["testCases"][0]["expectedResult"]["result"] = 7.into();
    let wrong = dir.join("wrong.results.json");
    std::fs::write(&wrong, serde_json::to_string_pretty(&cases).unwrap()).unwrap();

    let out = manifest(&[Path::new("test"), &fixture(PROGRAM), &wrong]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    let expected = format!(
        "FAIL {}#0 increment command mutates value and emits event [command]\n  expectedResult.result\n    expected:   actual:\n    7         | 6\n2 passed, 1 failed\n",
        wrong.display()
    );
    assert_eq!(text, expected);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn several_files_and_sqlite_pass() {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.join("cases.db").display());
    let out = manifest(&[
        Path::new("test"),
        Path::new("--database-url"),
        Path::new(&url),
        &fixture(PROGRAM),
        &fixture(CASES),
        &fixture(CASES),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(last_line(&out), "6 passed, 0 failed");
    assert!(dir.join("cases.db").exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn postgres_passes() {
    let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh"
        );
        eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
        return;
    };
    let url = format!("--database-url={url}");
    let out = manifest(&[
        Path::new("test"),
        Path::new(&url),
        &fixture(PROGRAM),
        &fixture(CASES),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(last_line(&out), "3 passed, 0 failed");
}

#[test]
fn malformed_ir_names_the_json_path_and_exits_2() {
    let dir = temp_dir();
    let mut ir: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(PROGRAM)).unwrap()).unwrap();
    ir["commands"][1]["guards"] = serde_json::json!([{"kind": "nonsense"}]);
    let bad = dir.join("bad.ir.json");
    std::fs::write(&bad, ir.to_string()).unwrap();

    let out = manifest(&[Path::new("test"), &bad, &fixture(CASES)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: {}: invalid IR at `commands[1].guards[0]",
            bad.display()
        )),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_missing_or_malformed_cases_file_exits_2() {
    let dir = temp_dir();
    let missing = dir.join("missing.results.json");
    let out = manifest(&[Path::new("test"), &fixture(PROGRAM), &missing]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: cannot read {}: ", missing.display())),
        "{err}"
    );

    let bad = dir.join("bad.results.json");
    std::fs::write(&bad, r#"{"testCases": [{"name": "ok"}, 3]}"#).unwrap();
    let out = manifest(&[Path::new("test"), &fixture(PROGRAM), &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: invalid cases at `testCases[1]`: expected an object\n",
            bad.display()
        )
    );

    let out = manifest(&[Path::new("test"), &missing, &fixture(CASES)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with(&format!("error: cannot read {}: ", missing.display())));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn usage_errors_exit_2() {
    let out = manifest(&[Path::new("test"), &fixture(PROGRAM)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Usage: manifest test"),
        "{}",
        stderr(&out)
    );

    let out = manifest(&[Path::new("test"), Path::new("--help")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("--database-url <URL>"),
        "{}",
        stdout(&out)
    );

    let out = manifest(&[
        Path::new("test"),
        Path::new("--database-url=mysql://localhost/db"),
        &fixture(PROGRAM),
        &fixture(CASES),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unsupported database URL scheme `mysql`"),
        "{}",
        stderr(&out)
    );
}
