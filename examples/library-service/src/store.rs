//! Where the library lives: a SQLite file or PostgreSQL. `Book` and `Loan` are typed tables
//! (`#[derive(ManifestEntity)]` structs served through `InstanceStore`); `Member` lives in a
//! JSON document table. Every store comes from one `SqlDb`, so a command's reads and writes,
//! and its outbox entries, idempotency record and audit record, share one transaction.

use std::sync::Arc;

use manifest_core::audit::SqlAudit;
use manifest_core::idempotency::SqlIdempotency;
use manifest_core::outbox::SqlOutbox;
use manifest_core::{
    AuditSink, Backend, EntityInstance, IdempotencyStore, InstanceStore, ManifestEntity,
    OutboxStore, PgDb, SqlDb, SqliteDb, Store,
};
use manifest_runtime::{Database, Engine, Program, StoreProvider};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

/// A book of a branch.
#[derive(Debug, Clone, PartialEq, ManifestEntity, Serialize, Deserialize)]
#[manifest(table = "library_book", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Book {
    pub id: String,
    #[serde(rename = "tenant_id")]
    pub tenant_id: String,
    pub title: String,
    pub author: String,
    pub isbn: String,
    pub status: String,
    pub current_loan_id: String,
    /// Checked and bumped by every write: concurrent commands on a book never lose an update.
    #[manifest(version)]
    pub version: i64,
}

/// A loan of a book to a member.
#[derive(Debug, Clone, PartialEq, ManifestEntity, Serialize, Deserialize)]
#[manifest(table = "library_loan", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Loan {
    pub id: String,
    #[serde(rename = "tenant_id")]
    pub tenant_id: String,
    pub book_id: String,
    pub member_id: String,
    pub status: String,
    pub due_at: f64,
    pub returned_at: f64,
    #[manifest(version)]
    pub version: i64,
}

/// The database.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgDb),
}

/// The write path's stores, on the same database.
pub struct Parts {
    pub outbox: Arc<dyn OutboxStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub audit: Arc<dyn AuditSink>,
}

/// The typed stores of `Book` and `Loan` for each tenant, from `db`.
struct Typed<DB: Backend>(SqlDb<DB>);

impl<DB: Backend> StoreProvider for Typed<DB> {
    fn store(&self, entity: &str, tenant: &str) -> Option<Arc<dyn Store<EntityInstance>>> {
        match entity {
            "Book" => Some(InstanceStore::new(self.0.store::<Book>(tenant.to_owned())).into_dyn()),
            "Loan" => Some(InstanceStore::new(self.0.store::<Loan>(tenant.to_owned())).into_dyn()),
            _ => None,
        }
    }
}

impl Db {
    /// Open `url`: `sqlite://<file>` (created if missing) or `postgres://...`.
    pub async fn open(url: &str) -> manifest_core::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Db::Postgres(PgDb::connect(url).await?))
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Ok(Db::Sqlite(SqliteDb::open(path).await?))
        }
    }

    /// The engine's database (the document tables).
    pub fn database(&self) -> Database {
        match self {
            Db::Sqlite(db) => db.clone().into(),
            Db::Postgres(db) => db.clone().into(),
        }
    }

    /// The typed stores.
    pub fn provider(&self) -> Arc<dyn StoreProvider> {
        match self {
            Db::Sqlite(db) => Arc::new(Typed(db.clone())),
            Db::Postgres(db) => Arc::new(Typed(db.clone())),
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), manifest_core::sqlx::Error> {
        use manifest_core::sqlx::Connection;
        match self {
            Db::Sqlite(db) => db.pool().acquire().await?.ping().await,
            Db::Postgres(db) => db.pool().acquire().await?.ping().await,
        }
    }

    /// The write path's stores on this database (their tables made by
    /// [`prepare`](Self::prepare)).
    pub fn parts(&self) -> Parts {
        fn parts<DB: Backend>(db: &SqlDb<DB>) -> Parts {
            Parts {
                outbox: Arc::new(SqlOutbox::new(db)),
                idempotency: Arc::new(SqlIdempotency::new(db)),
                audit: Arc::new(SqlAudit::new(db)),
            }
        }
        match self {
            Db::Sqlite(db) => parts(db),
            Db::Postgres(db) => parts(db),
        }
    }

    /// Create every table the service uses, if missing: the typed tables and their lookup
    /// indexes, the document tables, the outbox, idempotency and audit tables.
    pub async fn prepare(&self, program: &Arc<Program>) -> manifest_core::Result<()> {
        async fn tables<DB: Backend>(db: &SqlDb<DB>) -> manifest_core::Result<()> {
            db.create_table::<Book>().await?;
            db.create_table::<Loan>().await?;
            db.create_index::<Loan>("bookId").await?;
            db.create_index::<Loan>("memberId").await?;
            SqlOutbox::new(db).create_table().await?;
            SqlIdempotency::new(db).create_table().await?;
            SqlAudit::new(db).create_table().await
        }
        match self {
            Db::Sqlite(db) => tables(db).await?,
            Db::Postgres(db) => tables(db).await?,
        }
        let engine = Engine::builder(program.clone())
            .database(self.database())
            .store_provider_arc(self.provider())
            .build()
            .map_err(|e| manifest_core::Error::Database(Box::new(e)))?;
        engine
            .prepare()
            .await
            .map_err(|e| manifest_core::Error::Database(Box::new(e)))
    }
}

/// Put every table of the service under PostgreSQL's row-level security and let `app`'s role
/// use them: run by the tables' owner, after [`Db::prepare`]. Then a statement of `app` sees
/// and writes only the rows of the tenant its transaction was begun for (the engine's
/// `row_level_security()`), whatever the query says: a backstop under the stores' own tenant
/// filters. The owner must bypass row-level security (a superuser, or `BYPASSRLS`): the outbox
/// worker reads every tenant's entries through it.
pub async fn secure(admin: &PgDb, app: &PgDb) -> Result<String, manifest_core::Error> {
    use manifest_core::sqlx;
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(app.pool())
        .await
        .map_err(manifest_core::Error::database)?;
    admin.enable_row_level_security_for::<Book>().await?;
    admin.enable_row_level_security_for::<Loan>().await?;
    let member = admin.document_store("Member", "")?;
    let outbox = SqlOutbox::new(admin);
    let idempotency = SqlIdempotency::new(admin);
    let audit = SqlAudit::new(admin);
    // The library's own tables, by their `tenant_id` column.
    for table in [
        member.table(),
        outbox.table(),
        idempotency.table(),
        audit.table(),
    ] {
        admin.enable_row_level_security(table).await?;
    }
    for table in [
        Book::TABLE,
        Loan::TABLE,
        member.table(),
        outbox.table(),
        idempotency.table(),
        audit.table(),
    ] {
        // Names the library made, checked plain by `enable_row_level_security`.
        sqlx::query(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON \"{table}\" TO \"{}\"",
            role.replace('"', "\"\"")
        ))
        .execute(admin.pool())
        .await
        .map_err(manifest_core::Error::database)?;
    }
    Ok(role)
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

/// Seed the demo branch `branch-1` (a member and three books) if it has no book yet; whether
/// it did.
pub async fn seed(program: &Arc<Program>, db: &Db) -> Result<bool, String> {
    let engine = Engine::builder(program.clone())
        .row_level_security()
        .tenant("branch-1")
        .context(json!({"user": {"id": "librarian-1", "role": "librarian"}}))
        .database(db.database())
        .store_provider_arc(db.provider())
        .build()
        .map_err(|e| e.to_string())?;
    if !engine
        .get_all_instances("Book")
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(false);
    }
    let create = |entity: &'static str, input: Json| {
        let engine = &engine;
        async move {
            let result = engine
                .run_command(
                    "create",
                    object(input),
                    manifest_runtime::CommandOptions::entity(entity),
                )
                .await
                .map_err(|e| e.to_string())?;
            if result.success {
                Ok(())
            } else {
                Err(format!("seeding {entity}: {:?}", result.error))
            }
        }
    };
    create(
        "Member",
        json!({"id": "member-1", "name": "Alice", "email": "alice@example.org"}),
    )
    .await?;
    for (id, title, author) in [
        ("book-1", "Dune", "Frank Herbert"),
        ("book-2", "Emma", "Jane Austen"),
        ("book-3", "Ulysses", "James Joyce"),
    ] {
        create("Book", json!({"id": id, "title": title, "author": author})).await?;
    }
    Ok(true)
}
