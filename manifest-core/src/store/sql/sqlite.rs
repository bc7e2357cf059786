//! SQLite: tables are `STRICT`, so a value of the wrong type is an error, never coerced.

use std::path::Path;
use std::str::FromStr;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{DocumentStore, SqlDb, SqlSession, SqlStore, SqlTransaction, backend};
use crate::error::{Error, Result};

backend!(
    Sqlite,
    " STRICT",
    super::document::SQLITE,
    r#"SELECT "name" FROM pragma_table_info(?1) ORDER BY "cid""#,
    SQLITE,
    sqlite_type,
    bind_sqlite,
    decode_sqlite
);

/// The application's SQLite database.
pub type SqliteDb = SqlDb<Sqlite>;
/// A typed, tenant-scoped store on SQLite.
pub type SqliteStore<T> = SqlStore<Sqlite, T>;
/// A JSON-document store on SQLite, for an entity without a Rust struct.
pub type SqliteDocumentStore = DocumentStore<Sqlite>;
/// A SQLite transaction shared by several stores.
pub type SqliteTransaction = SqlTransaction<Sqlite>;
/// A held SQLite connection shared by several stores.
pub type SqliteSession = SqlSession<Sqlite>;

impl SqlDb<Sqlite> {
    /// Open (creating if missing) a database file in WAL mode with `synchronous = NORMAL`: the
    /// usual setting for a server, durable across application crashes, and writers do not
    /// block readers.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .map_err(Error::database)?;
        Ok(Self::from_pool(pool))
    }

    /// Connect with a sqlx SQLite URL, such as `sqlite://app.db?mode=rwc`.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(Error::database)?;
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .map_err(Error::database)?;
        Ok(Self::from_pool(pool))
    }

    /// A private in-memory database, for tests. Its pool holds exactly one connection that never
    /// expires (each SQLite connection to `:memory:` is a database of its own), so a
    /// transaction or session holds the whole database until it ends.
    pub async fn memory() -> Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(SqliteConnectOptions::new().in_memory(true))
            .await
            .map_err(Error::database)?;
        Ok(Self::from_pool(pool))
    }
}
