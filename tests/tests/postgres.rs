//! The store contract on a real PostgreSQL server.
//!
//! `scripts/test.sh` starts a throwaway server and sets `MANIFEST_PG_URL`. Without it these
//! tests print that they are skipped, except under `CI=true`, where they fail.

mod common;

use common::document::{DocBackend, ENTITY};
use common::pg::connect;
use common::sql::SqlBackend;
use manifest_core::Store;
use manifest_core::sqlx::Postgres;

/// Which schemas this process has created. Tests run in parallel against one database, and
/// concurrent `CREATE TABLE IF NOT EXISTS` of one table can fail on PostgreSQL, so each schema
/// is created once per process, one at a time.
#[derive(Default)]
struct Created {
    sql: bool,
    documents: bool,
}

static SCHEMA: tokio::sync::Mutex<Created> = tokio::sync::Mutex::const_new(Created {
    sql: false,
    documents: false,
});

async fn postgres() -> Option<SqlBackend<Postgres>> {
    let db = connect().await?;
    let mut created = SCHEMA.lock().await;
    let backend = if created.sql {
        SqlBackend {
            db,
            name: "postgres",
        }
    } else {
        SqlBackend::new(db, "postgres").await
    };
    created.sql = true;
    Some(backend)
}

async fn postgres_documents() -> Option<DocBackend<Postgres>> {
    let db = connect().await?;
    let mut created = SCHEMA.lock().await;
    let backend = if created.documents {
        DocBackend {
            db,
            name: "postgres",
        }
    } else {
        DocBackend::new(db, "postgres").await
    };
    created.documents = true;
    Some(backend)
}

contract_suite!(postgres());
sql_suite!(postgres());
document_suite!(postgres_documents());

/// The document table: `PRIMARY KEY (tenant_id, id)` in that order (the tenant is the
/// distribution column on Citus), `data` is JSONB checked to be an object, ids sort bytewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_table_is_tenant_first() {
    let Some(b) = postgres_documents().await else {
        return;
    };
    let key: Vec<String> = manifest_core::sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = 'doc_prep_task'::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
    )
    .fetch_all(b.db.pool())
    .await
    .unwrap();
    assert_eq!(key, ["tenant_id", "id"]);
    let columns: Vec<(String, String, Option<String>)> = manifest_core::sqlx::query_as(
        "SELECT column_name::text, data_type::text, collation_name::text \
         FROM information_schema.columns WHERE table_name = 'doc_prep_task' ORDER BY ordinal_position",
    )
    .fetch_all(b.db.pool())
    .await
    .unwrap();
    let columns: Vec<_> = columns
        .iter()
        .map(|(n, t, c)| (n.as_str(), t.as_str(), c.as_deref()))
        .collect();
    assert_eq!(
        columns,
        [
            ("tenant_id", "text", None),
            ("id", "text", Some("C")),
            ("data", "jsonb", None)
        ]
    );
    for bad in ["[1]", "1", "\"text\""] {
        let err = manifest_core::sqlx::query(
            "INSERT INTO doc_prep_task (tenant_id, id, data) VALUES ('t', 'x', $1::jsonb)",
        )
        .bind(bad)
        .execute(b.db.pool())
        .await;
        assert!(err.is_err(), "{bad}");
    }
    assert_eq!(b.store("t").entity(), ENTITY);
}

/// `connect` chooses a server's pool: no ping before every acquire, a 5 s acquire timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_chooses_pool_defaults() {
    let Some(db) = connect().await else {
        return;
    };
    let options = db.pool().options();
    assert!(!options.get_test_before_acquire());
    assert_eq!(options.get_max_connections(), 10);
    assert_eq!(
        options.get_acquire_timeout(),
        std::time::Duration::from_secs(5)
    );
    assert_eq!(
        options.get_idle_timeout(),
        Some(std::time::Duration::from_secs(600))
    );
}
