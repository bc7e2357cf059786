//! The engine's databases, one of each backend, for the suites that run the engine on every
//! backend.

use manifest_runtime::{Database, MemoryDb, PgDb, SqliteDb};

/// Concurrent `CREATE TABLE IF NOT EXISTS` of one table can fail on PostgreSQL: the tests
/// prepare their tables one at a time.
pub static PREPARE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A memory database, a new SQLite file (named after `name`), and the tests' PostgreSQL when
/// `MANIFEST_PG_URL` is set (under `CI=true` it must be).
pub async fn databases(name: &str) -> Vec<(&'static str, Database)> {
    let path = std::env::temp_dir().join(format!("manifest-{name}-{}.db", uuid::Uuid::now_v7()));
    let mut all = vec![
        ("memory", Database::from(MemoryDb::new())),
        ("sqlite", SqliteDb::open(&path).await.unwrap().into()),
    ];
    match std::env::var("MANIFEST_PG_URL") {
        Ok(url) => all.push(("postgres", PgDb::connect(&url).await.unwrap().into())),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but MANIFEST_PG_URL is not set")
        }
        Err(_) => eprintln!("PostgreSQL skipped: MANIFEST_PG_URL is not set"),
    }
    all
}
