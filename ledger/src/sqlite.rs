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
//! * **The WAL file is bounded.** SQLite resets its WAL only when a checkpoint finds no reader on an older snapshot;
//!   under continuous commits and readers it can otherwise grow without bound ("checkpoint starvation"). So:
//!   reader connections buffer up to [`READ_BUFFER_ROWS`] rows, so a page's statement runs to its end (and its
//!   snapshot is released) even when the task that asked for it is slow to take the rows; after a commit that
//!   leaves the WAL larger than [`SqliteOptions::wal_checkpoint_bytes`] the writer runs
//!   `PRAGMA wal_checkpoint(TRUNCATE)`, waiting at most [`WAL_CHECKPOINT_WAIT`] for readers to finish their
//!   statement (a busy attempt is retried after a later commit, no sooner than that wait); `journal_size_limit`
//!   caps what SQLite's own automatic checkpoints leave behind. The bound and its test are in `docs/LEDGER.md`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::AssertSqlSafe;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use crate::sql::SCHEMA_VERSION;
use crate::sql::{Pools, SqlStore, db_err, forward_event_store};

/// How long any SiteLedger SQLite connection waits for another connection's lock before failing with "database is
/// locked": long enough for the largest group commit or a WAL checkpoint of another process on the same file, short
/// enough that a wedged writer is reported rather than waited on for ever. Every crate's SQLite connections use it
/// (the ledger, the read models, the token store, the vault; the gateway agent's queue uses the same value).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows a reader connection buffers for its caller: more than any page the ledger reads (the projections read
/// 512 at a time), so a page's statement finishes and releases its snapshot without waiting for the caller.
pub const READ_BUFFER_ROWS: usize = 4096;

/// The default [`SqliteOptions::wal_checkpoint_bytes`]: 64 MiB.
pub const WAL_CHECKPOINT_BYTES: u64 = 64 << 20;

/// How long the writer's truncating checkpoint waits for readers to finish their current statement.
pub const WAL_CHECKPOINT_WAIT: Duration = Duration::from_secs(1);

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
    /// WAL size past which a commit is followed by a truncating checkpoint (and the `journal_size_limit`).
    /// Default [`WAL_CHECKPOINT_BYTES`].
    pub wal_checkpoint_bytes: u64,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            read_connections: 4,
            busy_timeout: BUSY_TIMEOUT,
            cache_size_kib: 16 * 1024,
            wal_checkpoint_bytes: WAL_CHECKPOINT_BYTES,
        }
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
            .synchronous(SqliteSynchronous::Full)
            .pragma("journal_size_limit", options.wal_checkpoint_bytes.to_string());
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
            .connect_with(base.row_buffer_size(READ_BUFFER_ROWS))
            .await
            .map_err(db_err(&format!("opening SQLite readers on {}", path.display())))?;
        let wal = WalBound::new(path, options.wal_checkpoint_bytes, options.busy_timeout);
        Ok(SqliteStore { sql: SqlStore::open(Pools::Sqlite { writer, readers }, Some(wal)).await? })
    }

    /// Closes every connection (a clean shutdown; dropping the store also closes them, in the background).
    pub async fn close(&self) {
        self.sql.close().await;
    }
}

forward_event_store!(SqliteStore, sql);

/// Copies the SQLite database at `source` into a new file `target` as one consistent snapshot, while other
/// connections (a running server) keep writing: `VACUUM INTO` runs in a single read transaction, so the copy is the
/// database exactly as of one commit, never a torn mix, and WAL writers are never blocked. The copy is compacted
/// (no free pages) and fsynced before this returns. `target` must not exist. Used by `siteledger backup` for every
/// SQLite file of a data directory (the ledger, the tokens and people, the vault, the attachment metadata).
///
/// Chosen over the online backup API (`sqlite3_backup_step`) because it needs no raw handle (no `unsafe`), and the
/// backup API restarts its copy whenever another connection writes between steps, which under continuous ingest
/// may never finish unless it copies everything in one step, which is what `VACUUM INTO` does anyway.
pub async fn vacuum_into(source: &Path, target: &Path) -> Result<(), crate::StoreError> {
    use sqlx::ConnectOptions;
    if target.exists() {
        return Err(crate::StoreError::Database(format!("{} exists already", target.display())));
    }
    let target_s = target
        .to_str()
        .ok_or_else(|| crate::StoreError::Database(format!("{} is not a UTF-8 path", target.display())))?
        .to_owned();
    let mut conn = SqliteConnectOptions::new()
        .filename(source)
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT)
        .connect()
        .await
        .map_err(db_err(&format!("opening {} to copy it", source.display())))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target_s)
        .execute(&mut conn)
        .await
        .map_err(db_err(&format!("copying {} (VACUUM INTO)", source.display())))?;
    sqlx::Connection::close(conn).await.map_err(db_err("closing the copy's connection"))?;
    std::fs::File::open(target)
        .and_then(|f| f.sync_all())
        .map_err(|e| crate::StoreError::Database(format!("fsync {}: {e}", target.display())))?;
    Ok(())
}

/// Keeps a SQLite database's WAL file bounded (the ledger's, and the read models' in `siteledger-projections`):
/// after a commit that leaves the `-wal` file larger than `checkpoint_bytes`, the writer connection checkpoints it
/// completely and truncates it to zero bytes (`PRAGMA wal_checkpoint(TRUNCATE)`), waiting at most
/// [`WAL_CHECKPOINT_WAIT`] for readers to finish their current statement. A reader still in the way makes the
/// checkpoint give up (the commit is durable already; nothing fails) and the next try waits for a later commit at
/// least that long after, so a reader holding its snapshot slows no commit but the one that tried.
#[derive(Debug)]
pub struct WalBound {
    wal_path: PathBuf,
    checkpoint_bytes: u64,
    busy_timeout: Duration,
    /// When a checkpoint last found a reader in the way.
    last_busy: Mutex<Option<Instant>>,
}

impl WalBound {
    /// The bound of the database file at `db_path`, whose writer connection normally waits `busy_timeout` for
    /// locks (restored after each checkpoint).
    pub fn new(db_path: &Path, checkpoint_bytes: u64, busy_timeout: Duration) -> WalBound {
        let mut wal_path = db_path.as_os_str().to_owned();
        wal_path.push("-wal");
        WalBound { wal_path: wal_path.into(), checkpoint_bytes, busy_timeout, last_busy: Mutex::new(None) }
    }

    /// The WAL size past which a commit is followed by a truncating checkpoint.
    pub fn checkpoint_bytes(&self) -> u64 {
        self.checkpoint_bytes
    }

    /// The `-wal` file's size now (0 if there is none).
    pub fn wal_bytes(&self) -> u64 {
        std::fs::metadata(&self.wal_path).map_or(0, |m| m.len())
    }

    /// To call after each commit on `writer`, the database's one writer connection: checkpoints and truncates the
    /// WAL if it is past the bound. Never fails: a checkpoint that cannot finish is logged and tried again later.
    pub async fn after_commit(&self, writer: &SqlitePool) {
        let size = self.wal_bytes();
        if size <= self.checkpoint_bytes {
            return;
        }
        if self.lock_last_busy().is_some_and(|t| t.elapsed() < WAL_CHECKPOINT_WAIT) {
            return;
        }
        let busy = match self.truncate(writer).await {
            // (busy, frames in the WAL, frames checkpointed): busy = 1 when a reader kept it from finishing.
            Ok((busy, frames, done)) => {
                tracing::debug!(wal = %self.wal_path.display(), wal_bytes = size, frames, done, busy, "WAL checkpoint");
                if busy != 0 {
                    tracing::info!(
                        wal = %self.wal_path.display(),
                        wal_bytes = size,
                        "WAL checkpoint: a reader kept its snapshot; trying again after a later commit"
                    );
                }
                busy != 0
            }
            Err(e) => {
                tracing::warn!(wal = %self.wal_path.display(), error = %e, "WAL checkpoint failed; trying again later");
                true
            }
        };
        *self.lock_last_busy() = busy.then(Instant::now);
    }

    fn lock_last_busy(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn truncate(&self, writer: &SqlitePool) -> Result<(i64, i64, i64), sqlx::Error> {
        let mut conn = writer.acquire().await?;
        let timeout = |d: Duration| AssertSqlSafe(format!("PRAGMA busy_timeout = {}", d.as_millis()));
        sqlx::query(timeout(WAL_CHECKPOINT_WAIT)).execute(&mut *conn).await?;
        let done = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await;
        sqlx::query(timeout(self.busy_timeout)).execute(&mut *conn).await?;
        done
    }
}
