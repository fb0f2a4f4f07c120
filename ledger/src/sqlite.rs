//! SQLite adapter: the embedded default store, one file in WAL mode. It only opens connections; every statement is
//! in [`crate::sql`] (shared with PostgreSQL) and what SQLite does differently in [`crate::sql::dialect`].
//!
//! * One writer connection (a pool of exactly one) runs every [`EventStore::commit`](crate::EventStore::commit)
//!   inside `BEGIN IMMEDIATE`, so writers in other processes on the same file serialise on SQLite's write lock and
//!   the head check happens under that lock. `synchronous = FULL`: a commit that returned Ok survives power loss.
//! * A small pool of reader connections: WAL lets them read a consistent snapshot while a commit is running.
//! * Every connection waits up to [`BUSY_TIMEOUT`] for another connection's lock (a server committing while a
//!   command reads or checks the same file) instead of failing at once with "database is locked".
//! * Tables are `STRICT`; `position` is the rowid.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use crate::sql::SCHEMA_VERSION;
use crate::sql::{Pools, SqlStore, db_err, forward_event_store};

/// How long any SiteLedger SQLite connection waits for another connection's lock before failing with "database is
/// locked": long enough for the largest group commit or a WAL checkpoint of another process on the same file, short
/// enough that a wedged writer is reported rather than waited on for ever. Every crate's SQLite connections use it
/// (the ledger, the read models, the token store, the vault; the gateway agent's queue uses the same value).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Tuning knobs for [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Reader connections (WAL readers run concurrently with the writer). At least 1.
    pub read_connections: u32,
    /// How long a statement waits for another process's lock before failing with
    /// [`StoreError::Database`](crate::StoreError::Database). Default [`BUSY_TIMEOUT`].
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB.
    pub cache_size_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions { read_connections: 4, busy_timeout: BUSY_TIMEOUT, cache_size_kib: 16 * 1024 }
    }
}

/// The SQLite event store. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct SqliteStore {
    sql: SqlStore,
}

impl SqliteStore {
    /// Opens (creating the file and schema if missing) the store at `path` with default options.
    pub async fn open(path: &Path) -> Result<SqliteStore, crate::StoreError> {
        SqliteStore::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (creating the file and schema if missing) the store at `path`.
    ///
    /// Refuses ([`crate::StoreError::Corrupt`]) a file whose schema version is not [`SCHEMA_VERSION`], or that holds
    /// some of the ledger's tables but not all of them.
    pub async fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore, crate::StoreError> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(false)
            .pragma("cache_size", format!("-{}", options.cache_size_kib));
        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(writer_options)
            .await
            .map_err(db_err(&format!("opening SQLite store {}", path.display())))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .min_connections(0)
            .idle_timeout(Duration::from_secs(600))
            .max_lifetime(None)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(base)
            .await
            .map_err(db_err(&format!("opening SQLite readers on {}", path.display())))?;
        Ok(SqliteStore { sql: SqlStore::open(Pools::Sqlite { writer, readers }).await? })
    }

    /// Closes every connection (a clean shutdown; dropping the store also closes them, in the background).
    pub async fn close(&self) {
        self.sql.close().await;
    }
}

forward_event_store!(SqliteStore, sql);
