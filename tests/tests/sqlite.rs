//! The store contract on SQLite: a database file in WAL mode, as an application would use.

mod common;

use common::sql::SqlBackend;
use manifest_core::SqliteDb;

async fn sqlite() -> Option<SqlBackend<manifest_core::sqlx::Sqlite>> {
    let path = std::env::temp_dir().join(format!("manifest-test-{}.db", uuid::Uuid::new_v4()));
    let db = SqliteDb::open(&path).await.expect("open a SQLite file");
    Some(SqlBackend::new(db, "sqlite").await)
}

contract_suite!(sqlite());
sql_suite!(sqlite());

#[tokio::test]
async fn in_memory_database_keeps_the_contract() {
    let backend = SqlBackend::new(SqliteDb::memory().await.unwrap(), "sqlite-memory").await;
    common::contract::same_id_in_two_tenants(&backend).await;
    common::contract::values_round_trip_verbatim(&backend).await;
}
