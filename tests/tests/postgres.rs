//! The store contract on a real PostgreSQL server.
//!
//! `scripts/test.sh` starts a throwaway server and sets `MANIFEST_PG_URL`. Without it these
//! tests print that they are skipped, except under `CI=true`, where they fail.

mod common;

use common::sql::SqlBackend;
use manifest_core::PgDb;

async fn postgres() -> Option<SqlBackend<manifest_core::sqlx::Postgres>> {
    let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh");
        }
        eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
        return None;
    };
    let db = PgDb::connect(&url)
        .await
        .expect("connect to MANIFEST_PG_URL");
    // Tests run in parallel against one database; create the tables once per process.
    static SCHEMA: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);
    let mut created = SCHEMA.lock().await;
    let backend = if *created {
        SqlBackend {
            db,
            name: "postgres",
        }
    } else {
        SqlBackend::new(db, "postgres").await
    };
    *created = true;
    Some(backend)
}

contract_suite!(postgres());
sql_suite!(postgres());
