//! SQLite: tables are `STRICT`, so a value of the wrong type is an error, never coerced.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use super::db::pool_options;
use super::{DocumentStore, SqlDb, SqlSession, SqlStore, SqlTransaction, backend};
use crate::error::{Error, Result};

backend!(
    Sqlite,
    " STRICT",
    super::document::SQLITE,
    r#"SELECT "name" FROM pragma_table_info(?1) ORDER BY "cid""#,
    true,
    begin_statement,
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
    /// Open (creating if missing) a database file, set up for a server:
    ///
    /// - the journal in WAL mode, so writers do not block readers, and `synchronous = NORMAL`,
    ///   durable across application crashes (a power loss can lose the last commits, never
    ///   corrupt the file);
    /// - a 5 s busy timeout: a writer waits that long for another connection's write lock
    ///   before failing with "database is locked";
    /// - the pool: at most 10 connections, no ping before each acquire, a 5 s acquire timeout,
    ///   connections closed after 10 minutes idle and 30 minutes of age.
    ///
    /// For other settings, build the pool with sqlx and use [`from_pool`](Self::from_pool).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::connect_with(options).await
    }

    /// Connect with a sqlx SQLite URL, such as `sqlite://app.db?mode=rwc`, with the settings of
    /// [`open`](Self::open) (a URL cannot set the journal mode, `synchronous` or the busy
    /// timeout; use [`from_pool`](Self::from_pool) for others).
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(Error::database)?;
        Self::connect_with(options).await
    }

    async fn connect_with(options: SqliteConnectOptions) -> Result<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = pool_options::<Sqlite>()
            .connect_with(options)
            .await
            .map_err(Error::database)?;
        Ok(Self::from_pool(pool))
    }

    /// A private in-memory database, for tests. Its pool holds exactly one connection that never
    /// expires (each SQLite connection to `:memory:` is a database of its own), so a
    /// transaction or session holds the whole database until it ends: run other statements
    /// meanwhile on its [`connection`](SqlSession::connection), since the pool has none to give
    /// (an acquire fails after 5 s).
    pub async fn memory() -> Result<Self> {
        let pool = pool_options::<Sqlite>()
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

/// `BEGIN IMMEDIATE` (see [`SqlDb::begin`]); SQLite has no tenant setting.
fn begin_statement(_tenant: Option<&str>) -> std::borrow::Cow<'static, str> {
    "BEGIN IMMEDIATE".into()
}
