//! The public Manifest conformance suite (tests/conformance/fixtures), run by the reference
//! harness's rules (`HARNESS.md` of the suite) on three backends: the built-in memory store, and
//! the JSON-document store on SQLite and on PostgreSQL through the store provider hook. The
//! runner is the library's (`manifest_runtime::conformance`), the one `manifest test`
//! uses; this file only finds the fixtures, counts per tier and compares with the known failures.
//!
//! Status: the runtime engine is being built (issue 3). Every case runs on every backend; a
//! test fails when a case not listed in `tests/conformance/known-failures.txt` fails, and the
//! memory run also fails when a listed case passes (so the list only ever shrinks). Counts per
//! tier are printed (`--nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use manifest_core::{PgDb, SqliteDb};
use manifest_runtime::conformance::{Backend, CaseKind, Cases};
use manifest_runtime::ir::Ir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

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

/// Every case of every fixture on `backend`, through the library's runner; returns (counts
/// per tier, failures by id with what failed).
async fn run_suite(backend: &Backend) -> (BTreeMap<u8, (usize, usize)>, BTreeMap<String, String>) {
    let dir = root().join("fixtures");
    let mut fixtures = Vec::new();
    for (fixture, tier) in tiers() {
        let Ok(ir_text) = std::fs::read_to_string(dir.join(format!("{fixture}.ir.json"))) else {
            continue;
        };
        let cases_path = dir.join(format!("{fixture}.results.json"));
        let cases = Cases::from_json_str(&std::fs::read_to_string(&cases_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", cases_path.display()));
        fixtures.push((fixture, tier, Ir::from_json_str(&ir_text), cases));
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
    let (_, failures) = run_suite(&backend).await;
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
    let (_, failures) = run_suite(&backend).await;
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
    let (_, failures) = run_suite(&backend).await;
    assert_no_new_failures(&backend, &failures);
}
