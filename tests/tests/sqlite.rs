//! The store contract on SQLite: a database file in WAL mode, as an application would use.

mod common;

use common::document::{DocBackend, ENTITY};
use common::sql::SqlBackend;
use manifest_core::sqlx::Sqlite;
use std::time::Duration;

use manifest_core::{SqliteDb, Store};

async fn open() -> SqliteDb {
    let path = std::env::temp_dir().join(format!("manifest-test-{}.db", uuid::Uuid::new_v4()));
    SqliteDb::open(&path).await.expect("open a SQLite file")
}

async fn sqlite() -> Option<SqlBackend<Sqlite>> {
    Some(SqlBackend::new(open().await, "sqlite").await)
}

async fn sqlite_documents() -> Option<DocBackend<Sqlite>> {
    Some(DocBackend::new(open().await, "sqlite").await)
}

contract_suite!(sqlite());
sql_suite!(sqlite());
document_suite!(sqlite_documents());

#[tokio::test]
async fn in_memory_database_keeps_the_contract() {
    let backend = SqlBackend::new(SqliteDb::memory().await.unwrap(), "sqlite-memory").await;
    common::contract::same_id_in_two_tenants(&backend).await;
    common::contract::values_round_trip_verbatim(&backend).await;
    let documents = DocBackend::new(SqliteDb::memory().await.unwrap(), "sqlite-memory").await;
    common::document_data::values_round_trip_verbatim(&documents).await;
    common::document::update_merges_top_level_keys(&documents).await;
}

/// `open` and `connect` set a server up: WAL, `synchronous = NORMAL`, a 5 s busy timeout, and a
/// pool that does not ping before every acquire and fails an acquire after 5 s.
#[tokio::test]
async fn open_and_connect_choose_server_defaults() {
    let path = std::env::temp_dir().join(format!("manifest-test-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    for db in [open().await, SqliteDb::connect(&url).await.unwrap()] {
        let mut conn = db.pool().acquire().await.unwrap();
        let pragma = |name: &'static str| format!("PRAGMA {name}");
        let journal: String = manifest_core::sqlx::query_scalar(&pragma("journal_mode"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        let synchronous: i64 = manifest_core::sqlx::query_scalar(&pragma("synchronous"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        let busy: i64 = manifest_core::sqlx::query_scalar(&pragma("busy_timeout"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(busy, 5000);
        let options = db.pool().options();
        assert!(!options.get_test_before_acquire());
        assert_eq!(options.get_max_connections(), 10);
        assert_eq!(options.get_acquire_timeout(), Duration::from_secs(5));
        assert_eq!(options.get_idle_timeout(), Some(Duration::from_secs(600)));
        assert_eq!(options.get_max_lifetime(), Some(Duration::from_secs(1800)));
    }
    let memory = SqliteDb::memory().await.unwrap();
    assert!(!memory.pool().options().get_test_before_acquire());
    assert_eq!(memory.pool().options().get_max_connections(), 1);
}

/// With the one-connection pool of `SqliteDb::memory`, the application's own statements run
/// on the held session's connection (a query on the pool would wait for it until the acquire
/// timeout).
#[tokio::test]
async fn own_statements_on_a_session_of_a_one_connection_pool() {
    let db = SqliteDb::memory().await.unwrap();
    db.create_table::<common::Recipe>().await.unwrap();
    let session = db.acquire().await.unwrap();
    let store = session.store::<common::Recipe>("t");
    let r = store.create(common::Recipe::new("held", 1)).await.unwrap();
    let (name,): (String,) =
        manifest_core::sqlx::query_as("SELECT name FROM contract_recipe WHERE id = ?")
            .bind(&r.id)
            .fetch_one(&mut *session.connection().await.unwrap())
            .await
            .unwrap();
    assert_eq!(name, "held");
    assert_eq!(store.get_all().await.unwrap(), vec![r]);
}

/// The document table: tenant first in the key, `STRICT`, the data checked to be an object.
#[tokio::test]
async fn document_table_is_tenant_first_and_strict() {
    let b = sqlite_documents().await.unwrap();
    let ddl: String = manifest_core::sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'doc_prep_task'",
    )
    .fetch_one(b.db.pool())
    .await
    .unwrap();
    assert!(ddl.contains(r#"PRIMARY KEY ("tenant_id", "id")"#), "{ddl}");
    assert!(ddl.ends_with("STRICT"), "{ddl}");
    assert!(
        ddl.contains(r#""data" TEXT NOT NULL CHECK (json_type("data") = 'object')"#),
        "{ddl}"
    );
    // Data that is not a JSON object cannot get in, even past the store.
    for bad in ["[1]", "1", "not json", "{\"a\":"] {
        let err = manifest_core::sqlx::query(
            "INSERT INTO doc_prep_task (tenant_id, id, data) VALUES ('t', 'x', ?)",
        )
        .bind(bad)
        .execute(b.db.pool())
        .await;
        assert!(err.is_err(), "{bad}");
    }
    assert!(b.store("t").get_all().await.unwrap().is_empty());
    assert_eq!(b.store("t").entity(), ENTITY);
}
