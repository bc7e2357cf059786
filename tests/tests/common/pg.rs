//! The PostgreSQL server of the tests: `MANIFEST_PG_URL`, which `scripts/test.sh` sets. Without
//! it a test says it is skipped, except under `CI=true`, where it fails.

use manifest_core::PgDb;

/// A pool on `MANIFEST_PG_URL`, or `None` (skipped) when it is not set outside CI.
pub async fn connect() -> Option<PgDb> {
    let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh");
        }
        eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
        return None;
    };
    Some(
        PgDb::connect(&url)
            .await
            .expect("connect to MANIFEST_PG_URL"),
    )
}
