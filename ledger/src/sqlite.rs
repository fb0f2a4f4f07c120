//! SQLite adapter: the embedded default store, one file in WAL mode.
//!
//! * One writer connection (a pool of exactly one) runs every [`EventStore::commit`] inside
//!   `BEGIN IMMEDIATE`, so writers in other processes on the same file serialise on SQLite's write lock and the
//!   head check happens under that lock. `synchronous = FULL`: a commit that returned Ok survives power loss.
//! * A small pool of reader connections: WAL lets them read a consistent snapshot while a commit is running.
//! * Rows go in with multi-row `INSERT`s whose sizes are powers of two (at most 256 event rows or 1024 node
//!   rows per statement), so a handful of statements stay prepared whatever the commit size.
//!
//! Schema (version [`SCHEMA_VERSION`], recorded in `meta`): `events` (position = rowid), `merkle_nodes`
//! (levels ≥ 1, `WITHOUT ROWID`), `checkpoints`, `keys`, `meta`. Times are INTEGER unix microseconds (UTC).
//! All tables are `STRICT`.
//!
//! Refusals, shared with the PostgreSQL adapter (all [`StoreError::Conflict`], nothing written): positions that do
//! not run densely from `expected_head`; a level-0 entry in [`Commit::nodes`]; a duplicate event id,
//! (stream, version), (signer, seq), Merkle node, key id or checkpoint size; a revocation of a key that is not
//! enrolled; a number beyond `i64`. Timestamps keep microsecond precision (finer digits are dropped).
//!
//! The small conversion and validation helpers at the end of this file are `pub(crate)` and shared with
//! [`crate::postgres`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use siteledger_signer::merkle::{Hash, NodeId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr, SqlStr, Sqlite, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{Commit, Direction, EventStore, StoreError, StoredCheckpoint, StoredEvent, StoredKey};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Largest number of event rows per `INSERT` (11 parameters each; SQLite allows 32766).
const EVENT_ROWS: usize = 256;
/// Largest number of Merkle node rows per `INSERT` (3 parameters each).
const NODE_ROWS: usize = 1024;
/// Largest number of ids per `IN (...)` list.
const ID_ROWS: usize = 4096;

const EVENT_COLUMNS: &str = "position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, \
                             recorded_at, leaf, leaf_hash";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
    position       INTEGER NOT NULL PRIMARY KEY,
    event_id       BLOB    NOT NULL UNIQUE,
    stream         TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    signer         TEXT    NOT NULL,
    signer_seq     INTEGER NOT NULL,
    occurred_at    TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL,
    leaf           BLOB    NOT NULL,
    leaf_hash      BLOB    NOT NULL,
    UNIQUE (stream, stream_version),
    UNIQUE (signer, signer_seq)
) STRICT;

CREATE TABLE IF NOT EXISTS merkle_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS checkpoints (
    size       INTEGER NOT NULL PRIMARY KEY,
    root       BLOB    NOT NULL,
    note       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS keys (
    key_id      TEXT    NOT NULL PRIMARY KEY,
    public_key  BLOB    NOT NULL,
    subject     TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    valid_from  TEXT    NOT NULL,
    valid_until TEXT,
    enrolled_by BLOB    NOT NULL,
    enrolled_at INTEGER NOT NULL,
    revoked_at  TEXT
) STRICT;
"#;

const TABLES: [&str; 5] = ["meta", "events", "merkle_nodes", "checkpoints", "keys"];

/// Tuning knobs for [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Reader connections (WAL readers run concurrently with the writer). At least 1.
    pub read_connections: u32,
    /// How long a statement waits for another process's lock before failing with [`StoreError::Database`].
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB.
    pub cache_size_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions { read_connections: 4, busy_timeout: Duration::from_secs(5), cache_size_kib: 16 * 1024 }
    }
}

/// The SQLite event store. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct SqliteStore {
    /// Exactly one connection: every write transaction.
    writer: SqlitePool,
    /// Read-only work.
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file and schema if missing) the store at `path` with default options.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (creating the file and schema if missing) the store at `path`.
    ///
    /// Refuses ([`StoreError::Corrupt`]) a file whose schema version is not [`SCHEMA_VERSION`], or that holds
    /// some of the ledger's tables but not all of them.
    pub async fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
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
        ensure_schema(&writer).await?;
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
        Ok(SqliteStore { writer, readers })
    }

    /// Closes every connection (a clean shutdown; dropping the store also closes them, in the background).
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    async fn fetch_events(
        &self,
        sql: &'static str,
        bind: impl FnOnce(sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments>) -> SqliteQuery<'_>,
        context: &'static str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = bind(sqlx::query(sql)).fetch_all(&self.readers).await.map_err(db_err(context))?;
        rows.iter().map(decode_event).collect()
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;

/// Creates the schema in a new file, or checks the version of an existing one.
async fn ensure_schema(writer: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_err("beginning schema check"))?;
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name IN ('meta', 'events', 'merkle_nodes', 'checkpoints', 'keys')",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err("listing tables"))?;
    if present.is_empty() {
        sqlx::raw_sql(SCHEMA).execute(&mut *tx).await.map_err(db_err("creating schema"))?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('schema_version', ?)")
            .bind(SCHEMA_VERSION.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("recording schema version"))?;
    } else {
        if !present.iter().any(|t| t == "meta") {
            return Err(StoreError::Corrupt(format!(
                "the SQLite file has tables {present:?} but no `meta` table: not a SiteLedger store"
            )));
        }
        let version: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'schema_version'")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("reading schema version"))?;
        check_version(version.as_deref())?;
        let missing: Vec<&str> = TABLES.iter().copied().filter(|t| !present.iter().any(|p| p == t)).collect();
        if !missing.is_empty() {
            return Err(StoreError::Corrupt(format!("the SQLite store lacks the tables {missing:?}")));
        }
    }
    tx.commit().await.map_err(db_err("committing schema"))
}

pub(crate) fn check_version(version: Option<&str>) -> Result<(), StoreError> {
    match version {
        Some(v) if v.trim() == SCHEMA_VERSION.to_string() => Ok(()),
        Some(v) => Err(StoreError::Corrupt(format!(
            "store schema version is {v:?} but this build only supports version {SCHEMA_VERSION}; \
             use a matching SiteLedger build or migrate the store"
        ))),
        None => Err(StoreError::Corrupt("the store's meta table has no schema_version".to_owned())),
    }
}

impl EventStore for SqliteStore {
    async fn head(&self) -> Result<u64, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM events")
            .fetch_one(&self.readers)
            .await
            .map_err(db_err("reading the head"))?;
        to_u64(head, "head")
    }

    async fn commit(&self, expected_head: u64, commit: &Commit) -> Result<(), StoreError> {
        validate_commit(expected_head, commit)?;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db_err("beginning commit"))?;
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM events")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err("reading the head"))?;
        let head = to_u64(head, "head")?;
        if head != expected_head {
            return Err(StoreError::HeadMoved { expected: expected_head, found: head });
        }
        insert_events(&mut tx, &commit.events).await?;
        insert_nodes(&mut tx, &commit.nodes).await?;
        for key in &commit.new_keys {
            sqlx::query(
                "INSERT INTO keys (key_id, public_key, subject, role, valid_from, valid_until, enrolled_by, \
                 enrolled_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(key.key_id.as_str())
            .bind(key.public_key.as_slice())
            .bind(key.subject.as_str())
            .bind(key.role.as_str())
            .bind(key.valid_from.as_str())
            .bind(key.valid_until.as_deref())
            .bind(key.enrolled_by)
            .bind(to_i64(key.enrolled_at, "key enrolled_at")?)
            .bind(key.revoked_at.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(db_err_with(|| format!("enrolling key {}", key.key_id)))?;
        }
        for (key_id, revoked_at) in &commit.revocations {
            let done = sqlx::query("UPDATE keys SET revoked_at = ? WHERE key_id = ?")
                .bind(revoked_at.as_str())
                .bind(key_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err_with(|| format!("revoking key {key_id}")))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!("revocation of key {key_id}, which is not enrolled")));
            }
        }
        if let Some(cp) = &commit.checkpoint {
            sqlx::query("INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)")
                .bind(to_i64(cp.size, "checkpoint size")?)
                .bind(cp.root.as_slice())
                .bind(cp.note.as_str())
                .bind(to_micros(cp.created_at)?)
                .execute(&mut *tx)
                .await
                .map_err(db_err_with(|| format!("storing checkpoint of size {}", cp.size)))?;
        }
        // Ok only once COMMIT returned: with synchronous = FULL the WAL is fsync'd by then.
        tx.commit().await.map_err(db_err("committing"))
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?")
        });
        self.fetch_events(sql, |q| q.bind(clamp_i64(from)).bind(clamp_limit(limit)), "reading the log").await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        static FORWARD: OnceLock<String> = OnceLock::new();
        static BACKWARD: OnceLock<String> = OnceLock::new();
        let sql = match direction {
            Direction::Forward => FORWARD.get_or_init(|| {
                format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ? AND stream_version >= ? \
                     ORDER BY stream_version ASC LIMIT ?"
                )
            }),
            Direction::Backward => BACKWARD.get_or_init(|| {
                format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ? AND stream_version <= ? \
                     ORDER BY stream_version DESC LIMIT ?"
                )
            }),
        };
        let stream = stream.to_owned();
        self.fetch_events(
            sql,
            move |q| q.bind(stream).bind(clamp_i64(from)).bind(clamp_limit(limit)),
            "reading a stream",
        )
        .await
    }

    async fn stream_head(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let version: Option<i64> = sqlx::query_scalar("SELECT MAX(stream_version) FROM events WHERE stream = ?")
            .bind(stream)
            .fetch_one(&self.readers)
            .await
            .map_err(db_err("reading a stream head"))?;
        version.map(|v| to_u64(v, "stream_version")).transpose()
    }

    async fn events_by_id(&self, ids: &[Uuid]) -> Result<Vec<StoredEvent>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in pow2_chunks(&ids, ID_ROWS) {
            let sql = cached_sql(&EVENTS_BY_ID_SQL, chunk.len(), |n| {
                format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id IN ({})", placeholders(n, "?"))
            });
            let mut q = sqlx::query(sql);
            for id in chunk {
                q = q.bind(*id);
            }
            let rows = q.fetch_all(&self.readers).await.map_err(db_err("reading events by id"))?;
            for row in &rows {
                out.push(decode_event(row)?);
            }
        }
        Ok(out)
    }

    async fn signer_head(&self, signer: &str) -> Result<Option<StoredEvent>, StoreError> {
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE signer = ? ORDER BY signer_seq DESC LIMIT 1")
        });
        let row = sqlx::query(sql.as_str())
            .bind(signer)
            .fetch_optional(&self.readers)
            .await
            .map_err(db_err("reading a signer head"))?;
        row.as_ref().map(decode_event).transpose()
    }

    async fn signer_event(&self, signer: &str, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| format!("SELECT {EVENT_COLUMNS} FROM events WHERE signer = ? AND signer_seq = ?"));
        let row = sqlx::query(sql.as_str())
            .bind(signer)
            .bind(seq)
            .fetch_optional(&self.readers)
            .await
            .map_err(db_err("reading a signer event"))?;
        row.as_ref().map(decode_event).transpose()
    }

    async fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let mut leaves: Vec<i64> = Vec::new();
        let mut inner: Vec<NodeId> = Vec::new();
        for id in ids {
            if id.level == 0 {
                // A leaf beyond i64 cannot exist: leave it out and report it missing below.
                if let Ok(p) = i64::try_from(id.index) {
                    leaves.push(p);
                }
            } else {
                inner.push(*id);
            }
        }
        leaves.sort_unstable();
        leaves.dedup();
        inner.sort_unstable();
        inner.dedup();
        let mut found: HashMap<NodeId, Hash> = HashMap::with_capacity(leaves.len() + inner.len());
        for chunk in pow2_chunks(&leaves, ID_ROWS) {
            let sql = cached_sql(&LEAF_HASHES_SQL, chunk.len(), |n| {
                format!("SELECT position, leaf_hash FROM events WHERE position IN ({})", placeholders(n, "?"))
            });
            let mut q = sqlx::query(sql);
            for p in chunk {
                q = q.bind(*p);
            }
            let rows = q.fetch_all(&self.readers).await.map_err(db_err("reading leaf hashes"))?;
            for row in &rows {
                let position = to_u64(row.try_get::<i64, _>(0).map_err(db_err("decoding position"))?, "position")?;
                let hash = to_hash(row.try_get::<Vec<u8>, _>(1).map_err(db_err("decoding leaf_hash"))?, "leaf_hash")?;
                found.insert(NodeId::new(0, position), hash);
            }
        }
        for chunk in pow2_chunks(&inner, ID_ROWS) {
            let sql = cached_sql(&NODES_SQL, chunk.len(), |n| {
                // `(level, idx) IN (VALUES ...)` would scan the table; a CROSS JOIN forces one primary-key
                // lookup per requested node.
                format!(
                    "WITH r(level, idx) AS (VALUES {}) SELECT n.level, n.idx, n.hash FROM r \
                     CROSS JOIN merkle_nodes n ON n.level = r.level AND n.idx = r.idx",
                    placeholders(n, "(?, ?)")
                )
            });
            let mut q = sqlx::query(sql);
            for id in chunk {
                // Indices beyond i64 cannot be stored; binding i64::MAX simply finds nothing.
                q = q.bind(i64::from(id.level)).bind(clamp_i64(id.index));
            }
            let rows = q.fetch_all(&self.readers).await.map_err(db_err("reading Merkle nodes"))?;
            for row in &rows {
                let level = row.try_get::<i64, _>(0).map_err(db_err("decoding level"))?;
                let level = u8::try_from(level)
                    .map_err(|_| StoreError::Corrupt(format!("Merkle node level {level} out of range")))?;
                let index = to_u64(row.try_get::<i64, _>(1).map_err(db_err("decoding idx"))?, "idx")?;
                let hash = to_hash(row.try_get::<Vec<u8>, _>(2).map_err(db_err("decoding hash"))?, "hash")?;
                found.insert(NodeId::new(level, index), hash);
            }
        }
        ids.iter()
            .map(|id| {
                found.get(id).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("Merkle node (level {}, index {}) is missing", id.level, id.index))
                })
            })
            .collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query("SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&self.readers)
            .await
            .map_err(db_err("reading the latest checkpoint"))?;
        row.as_ref().map(decode_checkpoint).transpose()
    }

    async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let Ok(size) = i64::try_from(size) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT size, root, note, created_at FROM checkpoints WHERE size = ?")
            .bind(size)
            .fetch_optional(&self.readers)
            .await
            .map_err(db_err("reading a checkpoint"))?;
        row.as_ref().map(decode_checkpoint).transpose()
    }

    async fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<StoredCheckpoint>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows =
            sqlx::query("SELECT size, root, note, created_at FROM checkpoints WHERE size >= ? ORDER BY size LIMIT ?")
                .bind(clamp_i64(from))
                .bind(clamp_limit(limit))
                .fetch_all(&self.readers)
                .await
                .map_err(db_err("reading checkpoints"))?;
        rows.iter().map(decode_checkpoint).collect()
    }

    async fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, public_key, subject, role, valid_from, valid_until, enrolled_by, enrolled_at, revoked_at \
             FROM keys ORDER BY enrolled_at, key_id",
        )
        .fetch_all(&self.readers)
        .await
        .map_err(db_err("reading keys"))?;
        rows.iter().map(decode_key).collect()
    }
}

static EVENTS_INSERT_SQL: OnceLock<Vec<String>> = OnceLock::new();
static NODES_INSERT_SQL: OnceLock<Vec<String>> = OnceLock::new();
static EVENTS_BY_ID_SQL: OnceLock<Vec<String>> = OnceLock::new();
static LEAF_HASHES_SQL: OnceLock<Vec<String>> = OnceLock::new();
static NODES_SQL: OnceLock<Vec<String>> = OnceLock::new();

async fn insert_events(tx: &mut Transaction<'static, Sqlite>, events: &[StoredEvent]) -> Result<(), StoreError> {
    for chunk in pow2_chunks(events, EVENT_ROWS) {
        let sql = cached_sql(&EVENTS_INSERT_SQL, chunk.len(), |n| {
            format!(
                "INSERT INTO events ({EVENT_COLUMNS}) VALUES {}",
                placeholders(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            )
        });
        let mut q = sqlx::query(sql);
        for e in chunk {
            q = q
                .bind(to_i64(e.position, "position")?)
                .bind(e.event_id)
                .bind(e.stream.as_str())
                .bind(to_i64(e.stream_version, "stream_version")?)
                .bind(e.kind.as_str())
                .bind(e.signer.as_str())
                .bind(to_i64(e.signer_seq, "signer_seq")?)
                .bind(e.occurred_at.as_str())
                .bind(to_micros(e.recorded_at)?)
                .bind(e.leaf.as_slice())
                .bind(e.leaf_hash.as_slice());
        }
        q.execute(&mut **tx).await.map_err(db_err_with(|| {
            let first = chunk.first().map_or(0, |e| e.position);
            format!("inserting events at positions {first}..{}", first + chunk.len() as u64)
        }))?;
    }
    Ok(())
}

async fn insert_nodes(tx: &mut Transaction<'static, Sqlite>, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
    for chunk in pow2_chunks(nodes, NODE_ROWS) {
        let sql = cached_sql(&NODES_INSERT_SQL, chunk.len(), |n| {
            format!("INSERT INTO merkle_nodes (level, idx, hash) VALUES {}", placeholders(n, "(?, ?, ?)"))
        });
        let mut q = sqlx::query(sql);
        for (id, hash) in chunk {
            q = q.bind(i64::from(id.level)).bind(to_i64(id.index, "node index")?).bind(hash.as_slice());
        }
        q.execute(&mut **tx).await.map_err(db_err("inserting Merkle nodes"))?;
    }
    Ok(())
}

/// Checks what can be checked without the database: dense positions from `expected_head`, no level-0 nodes.
pub(crate) fn validate_commit(expected_head: u64, commit: &Commit) -> Result<(), StoreError> {
    for (i, event) in commit.events.iter().enumerate() {
        let want = expected_head.checked_add(i as u64);
        if want != Some(event.position) {
            return Err(StoreError::Conflict(format!(
                "event {} of the commit has position {} but the commit starts at {expected_head}, so it must be {}",
                i,
                event.position,
                want.map_or_else(|| "beyond u64".to_owned(), |w| w.to_string())
            )));
        }
    }
    if let Some((id, _)) = commit.nodes.iter().find(|(id, _)| id.level == 0) {
        return Err(StoreError::Conflict(format!(
            "the commit carries a level-0 Merkle node (index {}); leaf hashes are stored with the events",
            id.index
        )));
    }
    Ok(())
}

/// Splits `items` into chunks of `max` (a power of two) and then decreasing powers of two, so that only
/// log2(max) + 1 distinct statement shapes ever exist.
fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max { max } else { 1 << rest.len().ilog2() };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// The statement for `rows` rows, built once per process for powers of two up to [`ID_ROWS`].
fn cached_sql(cache: &'static OnceLock<Vec<String>>, rows: usize, build: fn(usize) -> String) -> SqlStr {
    let all = cache.get_or_init(|| (0..=ID_ROWS.ilog2()).map(|k| build(1 << k)).collect());
    let cached = if rows.is_power_of_two() { all.get(rows.ilog2() as usize) } else { None };
    match cached {
        Some(sql) => SqlStr::from_static(sql.as_str()),
        // Not reached through pow2_chunks; stay total anyway (the statement is then prepared afresh).
        None => AssertSqlSafe(build(rows)).into_sql_str(),
    }
}

fn placeholders(n: usize, one: &str) -> String {
    let mut s = String::with_capacity(n * (one.len() + 2));
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(one);
    }
    s
}

fn decode_event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        position: to_u64(row.try_get("position").map_err(db_err("decoding position"))?, "position")?,
        event_id: row.try_get("event_id").map_err(db_err("decoding event_id"))?,
        stream: row.try_get("stream").map_err(db_err("decoding stream"))?,
        stream_version: to_u64(
            row.try_get("stream_version").map_err(db_err("decoding stream_version"))?,
            "stream_version",
        )?,
        kind: row.try_get("kind").map_err(db_err("decoding kind"))?,
        signer: row.try_get("signer").map_err(db_err("decoding signer"))?,
        signer_seq: to_u64(row.try_get("signer_seq").map_err(db_err("decoding signer_seq"))?, "signer_seq")?,
        occurred_at: row.try_get("occurred_at").map_err(db_err("decoding occurred_at"))?,
        recorded_at: from_micros(row.try_get("recorded_at").map_err(db_err("decoding recorded_at"))?)?,
        leaf: row.try_get("leaf").map_err(db_err("decoding leaf"))?,
        leaf_hash: to_hash(row.try_get("leaf_hash").map_err(db_err("decoding leaf_hash"))?, "leaf_hash")?,
    })
}

fn decode_checkpoint(row: &SqliteRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: to_u64(row.try_get("size").map_err(db_err("decoding checkpoint size"))?, "checkpoint size")?,
        root: to_hash(row.try_get("root").map_err(db_err("decoding checkpoint root"))?, "checkpoint root")?,
        note: row.try_get("note").map_err(db_err("decoding checkpoint note"))?,
        created_at: from_micros(row.try_get("created_at").map_err(db_err("decoding checkpoint created_at"))?)?,
    })
}

fn decode_key(row: &SqliteRow) -> Result<StoredKey, StoreError> {
    let key_id: String = row.try_get("key_id").map_err(db_err("decoding key_id"))?;
    let public_key: Vec<u8> = row.try_get("public_key").map_err(db_err("decoding public_key"))?;
    let public_key = <[u8; 32]>::try_from(public_key.as_slice()).map_err(|_| {
        StoreError::Corrupt(format!("key {key_id} has a public key of {} bytes, not 32", public_key.len()))
    })?;
    Ok(StoredKey {
        public_key,
        subject: row.try_get("subject").map_err(db_err("decoding subject"))?,
        role: row.try_get("role").map_err(db_err("decoding role"))?,
        valid_from: row.try_get("valid_from").map_err(db_err("decoding valid_from"))?,
        valid_until: row.try_get("valid_until").map_err(db_err("decoding valid_until"))?,
        enrolled_by: row.try_get("enrolled_by").map_err(db_err("decoding enrolled_by"))?,
        enrolled_at: to_u64(row.try_get("enrolled_at").map_err(db_err("decoding enrolled_at"))?, "enrolled_at")?,
        revoked_at: row.try_get("revoked_at").map_err(db_err("decoding revoked_at"))?,
        key_id,
    })
}

/// Maps an sqlx error: unique violations are conflicts, decoding failures corruption, the rest database trouble.
pub(crate) fn map_sqlx(context: &str, err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!("{context}: {db}")),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(format!("{context}: {err}")),
        _ => StoreError::Database(format!("{context}: {err}")),
    }
}

fn db_err(context: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| map_sqlx(context, err)
}

fn db_err_with(context: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| map_sqlx(&context(), err)
}

/// A value the sequencer hands us that the database cannot hold (beyond i64): refused, nothing written.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Conflict(format!("{what} {v} exceeds the store's range (i64)")))
}

pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("stored {what} is negative: {v}")))
}

/// A read bound beyond i64 behaves like i64::MAX (nothing is stored there).
pub(crate) fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn clamp_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) fn to_hash(bytes: Vec<u8>, what: &str) -> Result<Hash, StoreError> {
    Hash::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("stored {what} has {} bytes, not 32", bytes.len())))
}

/// Unix microseconds (sub-microsecond digits are dropped: the store keeps microsecond precision).
pub(crate) fn to_micros(t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1000))
        .map_err(|_| StoreError::Conflict(format!("timestamp {t} is out of range")))
}

pub(crate) fn from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| StoreError::Corrupt(format!("stored timestamp {micros} µs is out of range: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_chunks_cover_everything_in_order() {
        let items: Vec<u32> = (0..1000).collect();
        let sizes: Vec<usize> = pow2_chunks(&items, 256).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![256, 256, 256, 128, 64, 32, 8]);
        let joined: Vec<u32> = pow2_chunks(&items, 256).flatten().copied().collect();
        assert_eq!(joined, items);
        assert_eq!(pow2_chunks::<u32>(&[], 256).count(), 0);
    }

    #[test]
    fn micros_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000).ok();
        let Some(t) = t else { return };
        assert_eq!(to_micros(t).ok().and_then(|m| from_micros(m).ok()), Some(t));
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1_500).ok();
        assert_eq!(before_epoch.and_then(|t| to_micros(t).ok()), Some(-2));
    }
}
