//! `manifest compile` and `manifest check`, run as a process: good, bad, warning-only and
//! unreadable programs, both message formats, `-o`; and `manifest test` given a `.manifest`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("manifest-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/conformance/fixtures")
        .join(name)
}

fn manifest(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_manifest"))
        .args(args)
        .output()
        .expect("run manifest")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Each line of `text` as a JSON value (`--message-format json`: one object a line).
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn write(dir: &Path, name: &str, source: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, source).expect("write program");
    path.display().to_string()
}

const GOOD: &str = "entity Counter {\n  property required id: string\n  property count: number = 0\n  command add(n: number) {\n    mutate count = self.count + n\n  }\n}\nstore Counter in memory\n";
/// An error at 4:12 (the `=` where a property name belongs).
const BAD: &str =
    "entity Counter {\n  property count: number = 0\n  command add() {\n    mutate = 1\n  }\n}\n";
/// Compiles, with one warning (the entity is unused).
const WARNS: &str = "entity Lonely {\n  property n: number = 0\n}\n";

#[test]
fn a_good_program_compiles_to_stdout_and_exits_0() {
    let dir = temp_dir();
    let path = write(&dir, "good.manifest", GOOD);
    let out = manifest(&["compile", &path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).expect("IR JSON on stdout");
    assert_eq!(ir["entities"][0]["name"], "Counter");
    assert_eq!(ir["commands"][0]["name"], "add");
    assert_eq!(
        ir["provenance"]["contentHash"].as_str().map(str::len),
        Some(64)
    );
    // The same IR as the library gives (apart from the time stamp and the hash over it).
    let mut lib = manifest_compiler::compile(GOOD)
        .expect("compiles")
        .to_value();
    let mut ours = ir.clone();
    for v in [&mut lib, &mut ours] {
        v["provenance"]["compiledAt"] = "t".into();
        v["provenance"]["irHash"] = "h".into();
    }
    assert_eq!(ours, lib);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn dash_o_writes_the_file_and_nothing_to_stdout() {
    let dir = temp_dir();
    let path = write(&dir, "good.manifest", GOOD);
    let target = dir.join("good.ir.json").display().to_string();
    let out = manifest(&["compile", &path, "-o", &target]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&target).expect("IR written");
    assert!(written.ends_with("}\n"));
    let ir: serde_json::Value = serde_json::from_str(&written).expect("IR JSON");
    assert_eq!(ir["stores"][0]["entity"], "Counter");
    // An output path that cannot be written is exit status 2.
    let nowhere = dir.join("missing-dir/x.ir.json").display().to_string();
    let out = manifest(&["compile", &path, "--output", &nowhere]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: cannot write"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_error_is_rendered_with_its_line_column_and_caret_and_exits_1() {
    let dir = temp_dir();
    let path = write(&dir, "bad.manifest", BAD);
    let target = dir.join("bad.ir.json");
    let target_arg = target.display().to_string();
    for args in [
        vec!["compile", path.as_str()],
        vec!["compile", path.as_str(), "-o", target_arg.as_str()],
        vec!["check", path.as_str()],
    ] {
        let out = manifest(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = text(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines[0], "error: Expected IDENTIFIER, got =", "{err}");
        assert_eq!(lines[1], format!("  --> {path}:4:12"), "{err}");
        assert_eq!(lines[3], "4 |     mutate = 1", "{err}");
        // The caret sits under the `=`: column 12 of the source line.
        let caret = lines[4];
        let offset = caret.find('^').expect("a caret") - "4 | ".len();
        assert_eq!(offset, 11, "{err}");
        assert!(
            err.ends_with(&format!("error: could not compile {path} (1 error)\n")),
            "{err}"
        );
    }
    assert!(
        !target.exists(),
        "no IR is written for a program with an error"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn warnings_alone_are_printed_and_exit_0() {
    let dir = temp_dir();
    let path = write(&dir, "warns.manifest", WARNS);
    let out = manifest(&["check", &path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "check writes nothing");
    let err = text(&out.stderr);
    assert!(
        err.starts_with("warning: Entity 'Lonely' is declared but unused"),
        "{err}"
    );
    assert!(
        err.ends_with(&format!("warning: {path}: 1 warning emitted\n")),
        "{err}"
    );
    let out = manifest(&["compile", &path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn json_messages_are_one_object_a_line() {
    let dir = temp_dir();
    let bad = write(&dir, "bad.manifest", BAD);
    let out = manifest(&["check", "--message-format", "json", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let objects = json_lines(&err);
    assert_eq!(objects.len(), 1, "{err}");
    assert_eq!(
        objects[0],
        serde_json::json!({"severity": "error", "code": null, "message": "Expected IDENTIFIER, got =", "line": 4, "column": 12})
    );
    let warns = write(&dir, "warns.manifest", WARNS);
    let out = manifest(&["compile", "--message-format=json", &warns]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    let objects = json_lines(&err);
    assert_eq!(objects.len(), 1, "{err}");
    assert_eq!(objects[0]["severity"], "warning");
    assert!(objects[0]["line"].is_null());
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn unreadable_files_and_usage_errors_exit_2() {
    let dir = temp_dir();
    let missing = dir.join("missing.manifest").display().to_string();
    for sub in ["compile", "check"] {
        let out = manifest(&[sub, &missing]);
        assert_eq!(out.status.code(), Some(2), "{sub}");
        assert!(
            text(&out.stderr).starts_with(&format!("error: cannot read {missing}")),
            "{}",
            text(&out.stderr)
        );
    }
    // A folder is not a readable program either.
    let out = manifest(&["check", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(manifest(&["compile"]).status.code(), Some(2));
    assert_eq!(
        manifest(&["check", "--message-format", "xml", &missing])
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn test_takes_a_manifest_program() {
    let program = fixture("04-command-mutate-emit.manifest")
        .display()
        .to_string();
    let cases = fixture("04-command-mutate-emit.results.json")
        .display()
        .to_string();
    let out = manifest(&["test", &program, &cases]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "3 passed, 0 failed\n");
    assert!(
        !text(&out.stderr).contains("not executed"),
        "all of it runs"
    );

    // A construct the runtime does not execute is named on stderr before the cases run.
    let dir = temp_dir();
    let retrying = write(
        &dir,
        "retrying.manifest",
        &GOOD.replace(
            "  command add(n: number) {\n",
            "  command add(n: number) {\n    retry {\n      maxAttempts: 3\n    }\n",
        ),
    );
    let no_cases = write(&dir, "none.results.json", r#"{"testCases": []}"#);
    let out = manifest(&["test", &retrying, &no_cases]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "warning: {retrying}: retry policy `add` (IR `commands[0].retry`) is not executed by this runtime"
        )),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).ok();

    let dir = temp_dir();
    let bad = write(&dir, "bad.manifest", BAD);
    let out = manifest(&["test", &bad, &cases]);
    assert_eq!(out.status.code(), Some(2), "as for IR that does not load");
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains(&format!("--> {bad}:4:12")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn source_date_epoch_makes_the_output_reproducible() {
    let dir = temp_dir();
    let program = write(&dir, "counter.manifest", GOOD);
    let run = |epoch: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_manifest"));
        command.args(["compile", &program]);
        match epoch {
            Some(epoch) => command.env("SOURCE_DATE_EPOCH", epoch),
            None => command.env_remove("SOURCE_DATE_EPOCH"),
        };
        let out = command.output().expect("run manifest");
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("IR")
    };
    let first = run(Some("1704067200"));
    assert_eq!(
        first["provenance"]["compiledAt"],
        "2024-01-01T00:00:00.000Z"
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(run(Some("1704067200")), first, "the same bytes twice");
    // Without it, the current time.
    let now = run(None);
    assert_ne!(
        now["provenance"]["compiledAt"],
        first["provenance"]["compiledAt"]
    );
    assert_ne!(now["provenance"]["irHash"], first["provenance"]["irHash"]);
}
