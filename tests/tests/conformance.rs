//! The public Manifest conformance suite (tests/conformance/fixtures), run by the reference
//! harness's rules (`HARNESS.md` of the suite) on three backends: the built-in memory store, and
//! the JSON-document store on SQLite and on PostgreSQL through the store provider hook. The
//! runner is the library's (`manifest_runtime::conformance`), the one `manifest test`
//! uses; this file only finds the fixtures, counts per tier and compares with the known failures.
//!
//! Status: the runtime engine is being built (issue 3). Every case runs on every backend; a
//! test fails when a case not listed in `tests/conformance/known-failures.txt` fails, and the
//! memory run also fails when a listed case passes (so the list only ever shrinks). A fixture
//! listed in the suite's table whose IR or cases file is missing fails the run, as does a
//! fixture file the table does not list, and the number of cases run per tier is pinned
//! ([`EXPECTED_CASES`]), so a run that silently loses cases fails. Counts per tier are printed
//! (`--nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use manifest_core::{PgDb, SqliteDb};
use manifest_runtime::Program;
use manifest_runtime::conformance::{Backend, CaseKind, Cases};
use manifest_runtime::ir::Ir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// The cases run per tier (a case running as two kinds counts twice), the same on every
/// backend: tier 1 is 21 public cases and 9 project-written ones (110, 111); tier 2 runs 83 of its
/// 85 (08's two `policy` cases match no harness branch). A change in the suite changes these on
/// purpose: update them with the "Cases per tier" line of `tests/conformance/SUITE.md`.
const EXPECTED_CASES: [(u8, usize); 3] = [(1, 30), (2, 83), (3, 66)];

/// fixture name → tier, from the suite's README table.
fn tiers() -> BTreeMap<String, u8> {
    let text = std::fs::read_to_string(root().join("SUITE.md")).expect("SUITE.md");
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let tier = cells.get(1)?.parse().ok()?;
            Some((cells.get(2)?.to_string(), tier))
        })
        .collect()
}

/// Where a fixture's IR comes from.
#[derive(Clone, Copy, PartialEq)]
enum IrFrom {
    /// Its `.ir.json` (upstream's compile).
    Stored,
    /// Its `.manifest`, compiled by manifest-compiler, loaded from the JSON text it writes.
    OurCompiler,
    /// Its `.manifest`, compiled by manifest-compiler, its typed IR run as it is (no JSON).
    OurCompilerTyped,
}

/// Every case of every fixture on `backend`, through the library's runner; returns (counts
/// per tier, failures by id with what failed).
async fn run_suite(backend: &Backend) -> (BTreeMap<u8, (usize, usize)>, BTreeMap<String, String>) {
    run_suite_from(backend, IrFrom::Stored).await
}

async fn run_suite_from(
    backend: &Backend,
    from: IrFrom,
) -> (BTreeMap<u8, (usize, usize)>, BTreeMap<String, String>) {
    let dir = root().join("fixtures");
    let tiers = tiers();
    assert_all_listed(&dir, &tiers);
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (its fixture is listed in tests/conformance/SUITE.md)",
                path.display()
            )
        })
    };
    let mut fixtures = Vec::new();
    for (fixture, tier) in tiers {
        let compiled = || {
            let source = read(&dir.join(format!("{fixture}.manifest")));
            manifest_compiler::compile(&source)
                .unwrap_or_else(|d| panic!("{fixture}.manifest does not compile: {d}"))
        };
        let ir = match from {
            IrFrom::Stored => Ir::from_json_str(&read(&dir.join(format!("{fixture}.ir.json")))),
            IrFrom::OurCompiler => Ir::from_json_str(&compiled().to_json()),
            IrFrom::OurCompilerTyped => compiled().ir.checked(),
        };
        let cases_path = dir.join(format!("{fixture}.results.json"));
        let cases = Cases::from_json_str(&read(&cases_path))
            .unwrap_or_else(|e| panic!("{}: {e}", cases_path.display()));
        fixtures.push((
            fixture,
            tier,
            ir.map(|ir| Arc::new(Program::new(ir))),
            cases,
        ));
    }
    for (_, _, ir, _) in &fixtures {
        if let Ok(ir) = ir {
            backend.prepare(ir).await.expect("document tables");
        }
    }
    let mut counts: BTreeMap<u8, (usize, usize)> = BTreeMap::new();
    let mut failures = BTreeMap::new();
    for (fixture, tier, ir, cases) in &fixtures {
        let entry = counts.entry(*tier).or_default();
        let ir = match ir {
            Ok(ir) => ir,
            Err(e) => {
                for (i, case) in cases.as_slice().iter().enumerate() {
                    for kind in CaseKind::of(case) {
                        entry.1 += 1;
                        failures.insert(format!("{fixture}#{i}:{kind}"), format!("IR: {e}"));
                    }
                }
                continue;
            }
        };
        for report in backend.run_cases(ir, fixture, cases).await {
            if report.outcome.is_pass() {
                entry.0 += 1;
            } else {
                entry.1 += 1;
                failures.insert(report.id(), report.to_string());
            }
        }
    }
    for (tier, (pass, fail)) in &counts {
        eprintln!(
            "{}: tier {tier}: {pass} passed, {fail} failed",
            backend.name()
        );
    }
    (counts, failures)
}

/// Every fixture file in `dir` belongs to a fixture listed in SUITE.md (else it would never run).
fn assert_all_listed(dir: &Path, tiers: &BTreeMap<String, u8>) {
    let unlisted: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures folder")
        .map(|entry| {
            entry
                .expect("fixtures folder")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|file| {
            let fixture = [".ir.json", ".results.json", ".manifest"]
                .iter()
                .find_map(|suffix| file.strip_suffix(suffix));
            fixture.is_some_and(|f| !tiers.contains_key(f))
        })
        .collect();
    assert!(
        unlisted.is_empty(),
        "fixture files whose fixture is not in the table of tests/conformance/SUITE.md (so they would never run): {unlisted:?}"
    );
}

/// The cases run per tier are [`EXPECTED_CASES`].
fn assert_counts(backend: &Backend, counts: &BTreeMap<u8, (usize, usize)>) {
    let ran: BTreeMap<u8, usize> = counts
        .iter()
        .map(|(tier, (pass, fail))| (*tier, pass + fail))
        .collect();
    let expected = BTreeMap::from(EXPECTED_CASES);
    assert_eq!(
        ran,
        expected,
        "{}: cases run per tier (left) differ from EXPECTED_CASES (right); if fixtures or cases were added or removed on purpose, update EXPECTED_CASES in tests/tests/conformance.rs and the \"Cases per tier\" line of tests/conformance/SUITE.md",
        backend.name()
    );
}

fn known_failures() -> BTreeSet<String> {
    std::fs::read_to_string(root().join("known-failures.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Fail on any failure not in the known list.
fn assert_no_new_failures(backend: &Backend, failures: &BTreeMap<String, String>) {
    let known = known_failures();
    let unexpected: Vec<String> = failures
        .iter()
        .filter(|(id, _)| !known.contains(*id))
        .map(|(_, why)| why.clone())
        .collect();
    assert!(
        unexpected.is_empty(),
        "{}: cases failing that are not known failures:\n{}",
        backend.name(),
        unexpected.join("\n")
    );
}

#[tokio::test]
async fn conformance_on_memory() {
    let backend = Backend::Memory;
    let (counts, failures) = run_suite(&backend).await;
    assert_counts(&backend, &counts);
    if std::env::var_os("CONFORMANCE_WRITE_KNOWN").is_some() {
        let ids: Vec<&str> = failures.keys().map(String::as_str).collect();
        let text = format!(
            "# Conformance cases that do not pass yet (fixture#case:kind), on every backend.\n# Regenerate: CONFORMANCE_WRITE_KNOWN=1 cargo test -p manifest-tests --all-features --test conformance conformance_on_memory\n{}\n",
            ids.join("\n")
        );
        std::fs::write(root().join("known-failures.txt"), text).unwrap();
        return;
    }
    assert_no_new_failures(&backend, &failures);
    let fixed: Vec<String> = known_failures()
        .into_iter()
        .filter(|id| !failures.contains_key(id))
        .collect();
    assert!(
        fixed.is_empty(),
        "known failures that now pass (remove them from known-failures.txt):\n{}",
        fixed.join("\n")
    );
}

#[tokio::test]
async fn conformance_on_sqlite() {
    let path =
        std::env::temp_dir().join(format!("manifest-conformance-{}.db", uuid::Uuid::new_v4()));
    let backend = Backend::Sqlite(SqliteDb::open(&path).await.expect("sqlite"));
    let (counts, failures) = run_suite(&backend).await;
    assert_counts(&backend, &counts);
    assert_no_new_failures(&backend, &failures);
}

#[tokio::test]
async fn conformance_on_postgres() {
    let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh"
        );
        eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
        return;
    };
    let backend = Backend::Postgres(PgDb::connect(&url).await.expect("postgres"));
    let (counts, failures) = run_suite(&backend).await;
    assert_counts(&backend, &counts);
    assert_no_new_failures(&backend, &failures);
}

/// The same suite on IR that our compiler makes from each fixture's `.manifest`: the same cases
/// run, and the same ones fail (none new, none fixed), as from the stored IR.
#[tokio::test]
async fn conformance_on_memory_from_our_compiler() {
    let backend = Backend::Memory;
    let (stored_counts, stored_failures) = run_suite(&backend).await;
    // Through the IR's JSON text, and as the typed IR itself.
    for from in [IrFrom::OurCompiler, IrFrom::OurCompilerTyped] {
        let (counts, failures) = run_suite_from(&backend, from).await;
        assert_counts(&backend, &counts);
        assert_eq!(counts, stored_counts, "passes and failures per tier");
        assert_eq!(
            failures.keys().collect::<Vec<_>>(),
            stored_failures.keys().collect::<Vec<_>>()
        );
    }
}
