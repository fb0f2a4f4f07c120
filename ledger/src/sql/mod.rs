//! The ledger's SQL, written once for SQLite and PostgreSQL: the statements, row decoding, the commit, the schema
//! check, and the [`EventStore`](crate::EventStore) implementation both adapters share. What the two databases do
//! differently is in [`dialect`] and nowhere else; [`crate::sqlite`] and [`crate::postgres`] only open connections.
//!
//! * Statements are written with `?` placeholders (`dialect::Stmt`); PostgreSQL's `$n` form is derived once per
//!   process by [`to_postgres`] (the read models use the same function).
//! * Code that runs them is written once too: `with_pool!` binds the backend's pool and dialect, and the same body
//!   is compiled for each backend's pool and transaction types.
//! * A commit is one transaction: begin (SQLite `BEGIN IMMEDIATE`; PostgreSQL READ COMMITTED, then the commit
//!   lock), read the head in a later statement, refuse with [`StoreError::HeadMoved`] if it moved, then write
//!   events, Merkle nodes, keys, revocations and the checkpoint. Ok is returned only once COMMIT returned.
//!
//! Schema (version [`SCHEMA_VERSION`], recorded in `meta`): `events`, `merkle_nodes` (levels ≥ 1), `checkpoints`,
//! `keys`, `meta`; beside them `policy_snapshots`, a bounded cache of the ingest policy's state at a few tree sizes
//! (created on older version-1 stores too: nothing in the log depends on it). Times are integer unix microseconds
//! (UTC).
//!
//! Refusals (all [`StoreError::Conflict`], nothing written): positions that do not run densely from
//! `expected_head`; a level-0 entry in [`Commit::nodes`]; a duplicate event id, (stream, version), (signer, seq),
//! Merkle node, key id or checkpoint size; a revocation of a key that is not enrolled; a number beyond `i64`.
//! Timestamps keep microsecond precision (finer digits are dropped).

use std::sync::Arc;

use siteledger_signer::keys::KeyAlgorithm;
use siteledger_signer::merkle::{Hash, NodeId};
use sqlx::{PgPool, SqlitePool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::sqlite::WalBound;
use crate::store::{Commit, Direction, StoreError, StoredCheckpoint, StoredEvent, StoredKey, StoredSnapshot};

/// The event columns, in the order every statement names them.
macro_rules! event_columns {
    () => {
        "position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, recorded_at, leaf, leaf_hash"
    };
}

/// `SELECT <event columns> FROM events `, to be followed by a `WHERE` clause.
macro_rules! select_events {
    () => {
        concat!("SELECT ", event_columns!(), " FROM events ")
    };
}

pub mod dialect;
pub mod export;

use dialect::{BulkRead, BulkWrite, Dialect, Stmt};
pub use dialect::{COMMIT_LOCK, SCHEMA_LOCK, to_postgres};

/// The schema version this build reads and writes. Version 2 added the `keys` columns `alg` and `sm2_id` (SM2
/// signer keys); a version-1 store is migrated when it is opened (two nullable columns, nothing rewritten).
pub const SCHEMA_VERSION: i64 = 2;

static HEAD: Stmt = Stmt::new("SELECT COALESCE(MAX(position) + 1, 0) FROM events");
static READ_ALL: Stmt = Stmt::new(concat!(select_events!(), "WHERE position >= ? ORDER BY position LIMIT ?"));
static READ_STREAM_FORWARD: Stmt = Stmt::new(concat!(
    select_events!(),
    "WHERE stream = ? AND stream_version >= ? ORDER BY stream_version ASC LIMIT ?"
));
static READ_STREAM_BACKWARD: Stmt = Stmt::new(concat!(
    select_events!(),
    "WHERE stream = ? AND stream_version <= ? ORDER BY stream_version DESC LIMIT ?"
));
static STREAM_HEAD: Stmt = Stmt::new("SELECT MAX(stream_version) FROM events WHERE stream = ?");
static SIGNER_HEAD: Stmt = Stmt::new(concat!(select_events!(), "WHERE signer = ? ORDER BY signer_seq DESC LIMIT 1"));
static SIGNER_EVENT: Stmt = Stmt::new(concat!(select_events!(), "WHERE signer = ? AND signer_seq = ?"));
static LATEST_CHECKPOINT: Stmt =
    Stmt::new("SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT 1");
static CHECKPOINT_AT: Stmt = Stmt::new("SELECT size, root, note, created_at FROM checkpoints WHERE size = ?");
static CHECKPOINTS: Stmt =
    Stmt::new("SELECT size, root, note, created_at FROM checkpoints WHERE size >= ? ORDER BY size LIMIT ?");
static INSERT_CHECKPOINT: Stmt =
    Stmt::new("INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)");
static KEYS: Stmt = Stmt::new(
    "SELECT key_id, public_key, subject, role, valid_from, valid_until, enrolled_by, enrolled_at, revoked_at, alg, \
     sm2_id FROM keys ORDER BY enrolled_at, key_id",
);
static INSERT_KEY: Stmt = Stmt::new(
    "INSERT INTO keys (key_id, public_key, subject, role, valid_from, valid_until, enrolled_by, enrolled_at, \
     revoked_at, alg, sm2_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
);
static SCHEMA_VERSION_UPDATE: Stmt = Stmt::new("UPDATE meta SET value = ? WHERE key = 'schema_version'");
static REVOKE_KEY: Stmt = Stmt::new("UPDATE keys SET revoked_at = ? WHERE key_id = ?");
static INSERT_SNAPSHOT: Stmt =
    Stmt::new("INSERT INTO policy_snapshots (size, root, format, sha256, state, created_at) VALUES (?, ?, ?, ?, ?, ?)");
static DELETE_SNAPSHOT_AT: Stmt = Stmt::new("DELETE FROM policy_snapshots WHERE size = ?");
static PRUNE_SNAPSHOTS: Stmt = Stmt::new(
    "DELETE FROM policy_snapshots WHERE size NOT IN \
     (SELECT size FROM policy_snapshots ORDER BY size DESC LIMIT ?)",
);
static SNAPSHOTS: Stmt =
    Stmt::new("SELECT size, root, format, sha256, state, created_at FROM policy_snapshots ORDER BY size DESC LIMIT ?");
static SCHEMA_VERSION_READ: Stmt = Stmt::new("SELECT value FROM meta WHERE key = 'schema_version'");
static SCHEMA_VERSION_WRITE: Stmt = Stmt::new("INSERT INTO meta (key, value) VALUES ('schema_version', ?)");

/// The ledger's tables.
const TABLES: [&str; 5] = ["meta", "events", "merkle_nodes", "checkpoints", "keys"];

/// The connections of one store.
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    /// Exactly one writer connection (every write transaction) and a few readers (WAL lets them read while a
    /// commit runs).
    Sqlite {
        /// Every write transaction.
        writer: SqlitePool,
        /// Read-only work.
        readers: SqlitePool,
    },
    /// One pool for reads and writes; appends serialise on the commit lock.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the store's `writer` or `readers` pool (the same PostgreSQL pool for both)
/// and `$d` to its [`Dialect`]. The body is written once and compiled for each backend.
macro_rules! with_pool {
    ($pools:expr, $role:ident, |$pool:ident, $d:ident| $body:expr) => {
        match $pools {
            Pools::Sqlite { $role: $pool, .. } => {
                let $d = Dialect::Sqlite;
                $body
            }
            Pools::Postgres($pool) => {
                let $d = Dialect::Postgres;
                $body
            }
        }
    };
}

/// An event row as stored (both backends decode into it).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    position: i64,
    event_id: Uuid,
    stream: String,
    stream_version: i64,
    kind: String,
    signer: String,
    signer_seq: i64,
    occurred_at: String,
    recorded_at: i64,
    leaf: Vec<u8>,
    leaf_hash: Vec<u8>,
}

impl EventRow {
    fn into_event(self) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            position: to_u64(self.position, "position")?,
            event_id: self.event_id,
            stream: self.stream,
            stream_version: to_u64(self.stream_version, "stream_version")?,
            kind: self.kind,
            signer: self.signer,
            signer_seq: to_u64(self.signer_seq, "signer_seq")?,
            occurred_at: self.occurred_at,
            recorded_at: from_micros(self.recorded_at)?,
            leaf: self.leaf,
            leaf_hash: to_hash(self.leaf_hash, "leaf_hash")?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct CheckpointRow {
    size: i64,
    root: Vec<u8>,
    note: String,
    created_at: i64,
}

impl CheckpointRow {
    fn into_checkpoint(self) -> Result<StoredCheckpoint, StoreError> {
        Ok(StoredCheckpoint {
            size: to_u64(self.size, "checkpoint size")?,
            root: to_hash(self.root, "checkpoint root")?,
            note: self.note,
            created_at: from_micros(self.created_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct SnapshotRow {
    size: i64,
    root: Vec<u8>,
    format: String,
    sha256: Vec<u8>,
    state: Vec<u8>,
    created_at: i64,
}

impl SnapshotRow {
    fn into_snapshot(self) -> Result<StoredSnapshot, StoreError> {
        Ok(StoredSnapshot {
            size: to_u64(self.size, "snapshot size")?,
            root: to_hash(self.root, "snapshot root")?,
            format: self.format,
            sha256: to_hash(self.sha256, "snapshot sha256")?,
            state: self.state,
            created_at: from_micros(self.created_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct KeyRow {
    key_id: String,
    public_key: Vec<u8>,
    subject: String,
    role: String,
    valid_from: String,
    valid_until: Option<String>,
    enrolled_by: Uuid,
    enrolled_at: i64,
    revoked_at: Option<String>,
    alg: Option<String>,
    sm2_id: Option<String>,
}

impl KeyRow {
    fn into_key(self) -> Result<StoredKey, StoreError> {
        let alg = match self.alg.as_deref() {
            None => KeyAlgorithm::Ed25519,
            Some(a) => KeyAlgorithm::parse(a).map_err(|e| StoreError::Corrupt(format!("key {}: {e}", self.key_id)))?,
        };
        let key = StoredKey {
            public_key: self.public_key,
            alg,
            sm2_id: self.sm2_id,
            subject: self.subject,
            role: self.role,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            enrolled_by: self.enrolled_by,
            enrolled_at: to_u64(self.enrolled_at, "enrolled_at")?,
            revoked_at: self.revoked_at,
            key_id: self.key_id,
        };
        // Whether the bytes are a key of the algorithm is the sequencer's check when it loads the registry.
        Ok(key)
    }
}

fn events(rows: Vec<EventRow>) -> Result<Vec<StoredEvent>, StoreError> {
    rows.into_iter().map(EventRow::into_event).collect()
}

/// A SQL event store on either backend: every [`EventStore`] method, once.
#[derive(Debug, Clone)]
pub(crate) struct SqlStore {
    pools: Pools,
    /// SQLite only: what keeps the WAL file bounded after commits.
    wal: Option<Arc<WalBound>>,
}

impl SqlStore {
    /// Wraps open connections, creating the schema if the database has none and checking its version otherwise.
    ///
    /// Refuses ([`StoreError::Corrupt`]) a database whose schema version is not [`SCHEMA_VERSION`], or that holds
    /// some of the ledger's tables but not all of them.
    pub(crate) async fn open(pools: Pools, wal: Option<WalBound>) -> Result<SqlStore, StoreError> {
        let store = SqlStore { pools, wal: wal.map(Arc::new) };
        store.ensure_schema().await?;
        Ok(store)
    }

    /// Closes every connection.
    pub(crate) async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { writer, readers } => {
                readers.close().await;
                writer.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }

    async fn ensure_schema(&self) -> Result<(), StoreError> {
        with_pool!(&self.pools, writer, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err("beginning schema check"))?;
            if let Some(lock) = d.schema_lock() {
                sqlx::query(lock).execute(&mut *tx).await.map_err(db_err("taking the schema lock"))?;
            }
            let present: Vec<String> =
                sqlx::query_scalar(d.list_tables()).fetch_all(&mut *tx).await.map_err(db_err("listing tables"))?;
            if present.is_empty() {
                sqlx::raw_sql(d.schema()).execute(&mut *tx).await.map_err(db_err("creating schema"))?;
                sqlx::raw_sql(d.snapshot_schema())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("creating the snapshot table"))?;
                sqlx::query(SCHEMA_VERSION_WRITE.get(d))
                    .bind(SCHEMA_VERSION.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("recording schema version"))?;
            } else {
                if !present.iter().any(|t| t == "meta") {
                    return Err(StoreError::Corrupt(format!(
                        "the {} database has tables {present:?} but no `meta` table: not a SiteLedger store",
                        d.name()
                    )));
                }
                let version: Option<String> = sqlx::query_scalar(SCHEMA_VERSION_READ.get(d))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err("reading schema version"))?;
                let from_v1 = check_version(version.as_deref())?;
                let missing: Vec<&str> = TABLES.iter().copied().filter(|t| !present.iter().any(|p| p == t)).collect();
                if !missing.is_empty() {
                    return Err(StoreError::Corrupt(format!("the {} store lacks the tables {missing:?}", d.name())));
                }
                if from_v1 {
                    // Migration 1 → 2: the key columns of SM2 keys. Idempotent (a column already there is kept).
                    let have: Vec<String> = sqlx::query_scalar(d.key_columns())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err("listing the key columns"))?;
                    for column in dialect::KEY_COLUMNS_V2.iter().filter(|c| !have.iter().any(|h| h == *c)) {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ALTER TABLE keys ADD COLUMN {column} TEXT")))
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err("adding the key columns of schema version 2"))?;
                    }
                    sqlx::query(SCHEMA_VERSION_UPDATE.get(d))
                        .bind(SCHEMA_VERSION.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err("recording schema version 2"))?;
                }
                // Stores created before snapshots existed get the (empty) table; their next open replays from zero.
                sqlx::raw_sql(d.snapshot_schema())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("creating the snapshot table"))?;
            }
            tx.commit().await.map_err(db_err("committing schema"))
        })
    }

    pub(crate) async fn head(&self) -> Result<u64, StoreError> {
        let head =
            with_pool!(&self.pools, readers, |pool, d| sqlx::query_scalar::<_, i64>(HEAD.get(d)).fetch_one(pool).await)
                .map_err(db_err("reading the head"))?;
        to_u64(head, "head")
    }

    pub(crate) async fn commit(&self, expected_head: u64, commit: &Commit) -> Result<(), StoreError> {
        validate_commit(expected_head, commit)?;
        with_pool!(&self.pools, writer, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err("beginning commit"))?;
            if let Some(lock) = d.commit_lock() {
                sqlx::query(lock).execute(&mut *tx).await.map_err(db_err("taking the commit lock"))?;
            }
            // A separate statement: on PostgreSQL its snapshot is taken after the lock was granted.
            let head: i64 =
                sqlx::query_scalar(HEAD.get(d)).fetch_one(&mut *tx).await.map_err(db_err("reading the head"))?;
            let head = to_u64(head, "head")?;
            if head != expected_head {
                return Err(StoreError::HeadMoved { expected: expected_head, found: head });
            }
            tx.insert_events(&commit.events).await?;
            tx.insert_nodes(&commit.nodes).await?;
            for key in &commit.new_keys {
                sqlx::query(INSERT_KEY.get(d))
                    .bind(key.key_id.as_str())
                    .bind(key.public_key.as_slice())
                    .bind(key.subject.as_str())
                    .bind(key.role.as_str())
                    .bind(key.valid_from.as_str())
                    .bind(key.valid_until.as_deref())
                    .bind(key.enrolled_by)
                    .bind(to_i64(key.enrolled_at, "key enrolled_at")?)
                    .bind(key.revoked_at.as_deref())
                    .bind((key.alg == KeyAlgorithm::Sm2).then(|| key.alg.as_str()))
                    .bind(key.sm2_id.as_deref())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err_with(|| format!("enrolling key {}", key.key_id)))?;
            }
            for (key_id, revoked_at) in &commit.revocations {
                let done = sqlx::query(REVOKE_KEY.get(d))
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
                sqlx::query(INSERT_CHECKPOINT.get(d))
                    .bind(to_i64(cp.size, "checkpoint size")?)
                    .bind(cp.root.as_slice())
                    .bind(cp.note.as_str())
                    .bind(to_micros(cp.created_at)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err_with(|| format!("storing checkpoint of size {}", cp.size)))?;
            }
            // Ok only once COMMIT returned: durable (SQLite `synchronous = FULL`; PostgreSQL with fsync on).
            tx.commit().await.map_err(db_err("committing"))
        })?;
        if let (Some(wal), Pools::Sqlite { writer, .. }) = (&self.wal, &self.pools) {
            wal.after_commit(writer).await;
        }
        Ok(())
    }

    pub(crate) async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, EventRow>(READ_ALL.get(d))
                .bind(clamp_i64(from))
                .bind(clamp_limit(limit))
                .fetch_all(pool)
                .await
        })
        .map_err(db_err("reading the log"))?;
        events(rows)
    }

    pub(crate) async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stmt = match direction {
            Direction::Forward => &READ_STREAM_FORWARD,
            Direction::Backward => &READ_STREAM_BACKWARD,
        };
        let rows = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, EventRow>(stmt.get(d))
                .bind(stream)
                .bind(clamp_i64(from))
                .bind(clamp_limit(limit))
                .fetch_all(pool)
                .await
        })
        .map_err(db_err("reading a stream"))?;
        events(rows)
    }

    pub(crate) async fn stream_head(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let version: Option<i64> = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_scalar(STREAM_HEAD.get(d)).bind(stream).fetch_one(pool).await
        })
        .map_err(db_err("reading a stream head"))?;
        version.map(|v| to_u64(v, "stream_version")).transpose()
    }

    pub(crate) async fn events_by_id(&self, ids: &[Uuid]) -> Result<Vec<StoredEvent>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let rows = with_pool!(&self.pools, readers, |pool, _d| pool.events_by_ids(&ids).await)?;
        events(rows)
    }

    pub(crate) async fn signer_head(&self, signer: &str) -> Result<Option<StoredEvent>, StoreError> {
        let row = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, EventRow>(SIGNER_HEAD.get(d)).bind(signer).fetch_optional(pool).await
        })
        .map_err(db_err("reading a signer head"))?;
        row.map(EventRow::into_event).transpose()
    }

    pub(crate) async fn signer_event(&self, signer: &str, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let row = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, EventRow>(SIGNER_EVENT.get(d)).bind(signer).bind(seq).fetch_optional(pool).await
        })
        .map_err(db_err("reading a signer event"))?;
        row.map(EventRow::into_event).transpose()
    }

    pub(crate) async fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
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
        let found = with_pool!(&self.pools, readers, |pool, _d| pool.find_nodes(&leaves, &inner).await)?;
        ids.iter()
            .map(|id| {
                found.get(id).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("Merkle node (level {}, index {}) is missing", id.level, id.index))
                })
            })
            .collect()
    }

    pub(crate) async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, CheckpointRow>(LATEST_CHECKPOINT.get(d)).fetch_optional(pool).await
        })
        .map_err(db_err("reading the latest checkpoint"))?;
        row.map(CheckpointRow::into_checkpoint).transpose()
    }

    pub(crate) async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let Ok(size) = i64::try_from(size) else {
            return Ok(None);
        };
        let row = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, CheckpointRow>(CHECKPOINT_AT.get(d)).bind(size).fetch_optional(pool).await
        })
        .map_err(db_err("reading a checkpoint"))?;
        row.map(CheckpointRow::into_checkpoint).transpose()
    }

    pub(crate) async fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<StoredCheckpoint>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, CheckpointRow>(CHECKPOINTS.get(d))
                .bind(clamp_i64(from))
                .bind(clamp_limit(limit))
                .fetch_all(pool)
                .await
        })
        .map_err(db_err("reading checkpoints"))?;
        rows.into_iter().map(CheckpointRow::into_checkpoint).collect()
    }

    pub(crate) async fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, KeyRow>(KEYS.get(d)).fetch_all(pool).await
        })
        .map_err(db_err("reading keys"))?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    pub(crate) async fn put_snapshot(&self, snapshot: &StoredSnapshot, keep: usize) -> Result<bool, StoreError> {
        let size = to_i64(snapshot.size, "snapshot size")?;
        with_pool!(&self.pools, writer, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err("beginning a snapshot write"))?;
            sqlx::query(DELETE_SNAPSHOT_AT.get(d))
                .bind(size)
                .execute(&mut *tx)
                .await
                .map_err(db_err("replacing a snapshot"))?;
            sqlx::query(INSERT_SNAPSHOT.get(d))
                .bind(size)
                .bind(snapshot.root.as_slice())
                .bind(snapshot.format.as_str())
                .bind(snapshot.sha256.as_slice())
                .bind(snapshot.state.as_slice())
                .bind(to_micros(snapshot.created_at)?)
                .execute(&mut *tx)
                .await
                .map_err(db_err_with(|| format!("storing the snapshot at size {}", snapshot.size)))?;
            sqlx::query(PRUNE_SNAPSHOTS.get(d))
                .bind(clamp_limit(keep.max(1)))
                .execute(&mut *tx)
                .await
                .map_err(db_err("pruning old snapshots"))?;
            tx.commit().await.map_err(db_err("committing a snapshot"))
        })?;
        if let (Some(wal), Pools::Sqlite { writer, .. }) = (&self.wal, &self.pools) {
            wal.after_commit(writer).await;
        }
        Ok(true)
    }

    pub(crate) async fn snapshots(&self, limit: usize) -> Result<Vec<StoredSnapshot>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = with_pool!(&self.pools, readers, |pool, d| {
            sqlx::query_as::<_, SnapshotRow>(SNAPSHOTS.get(d)).bind(clamp_limit(limit)).fetch_all(pool).await
        })
        .map_err(db_err("reading snapshots"))?;
        rows.into_iter().map(SnapshotRow::into_snapshot).collect()
    }
}

/// Implements [`crate::EventStore`] for a type whose field `$field` is a [`SqlStore`], by forwarding every method.
macro_rules! forward_event_store {
    ($ty:ty, $field:ident) => {
        impl $crate::store::EventStore for $ty {
            async fn head(&self) -> Result<u64, $crate::store::StoreError> {
                self.$field.head().await
            }
            async fn commit(
                &self,
                expected_head: u64,
                commit: &$crate::store::Commit,
            ) -> Result<(), $crate::store::StoreError> {
                self.$field.commit(expected_head, commit).await
            }
            async fn read_all(
                &self,
                from: u64,
                limit: usize,
            ) -> Result<Vec<$crate::store::StoredEvent>, $crate::store::StoreError> {
                self.$field.read_all(from, limit).await
            }
            async fn read_stream(
                &self,
                stream: &str,
                from: u64,
                direction: $crate::store::Direction,
                limit: usize,
            ) -> Result<Vec<$crate::store::StoredEvent>, $crate::store::StoreError> {
                self.$field.read_stream(stream, from, direction, limit).await
            }
            async fn stream_head(&self, stream: &str) -> Result<Option<u64>, $crate::store::StoreError> {
                self.$field.stream_head(stream).await
            }
            async fn events_by_id(
                &self,
                ids: &[::uuid::Uuid],
            ) -> Result<Vec<$crate::store::StoredEvent>, $crate::store::StoreError> {
                self.$field.events_by_id(ids).await
            }
            async fn signer_head(
                &self,
                signer: &str,
            ) -> Result<Option<$crate::store::StoredEvent>, $crate::store::StoreError> {
                self.$field.signer_head(signer).await
            }
            async fn signer_event(
                &self,
                signer: &str,
                seq: u64,
            ) -> Result<Option<$crate::store::StoredEvent>, $crate::store::StoreError> {
                self.$field.signer_event(signer, seq).await
            }
            async fn read_nodes(
                &self,
                ids: &[siteledger_signer::merkle::NodeId],
            ) -> Result<Vec<siteledger_signer::merkle::Hash>, $crate::store::StoreError> {
                self.$field.read_nodes(ids).await
            }
            async fn latest_checkpoint(
                &self,
            ) -> Result<Option<$crate::store::StoredCheckpoint>, $crate::store::StoreError> {
                self.$field.latest_checkpoint().await
            }
            async fn checkpoint_at(
                &self,
                size: u64,
            ) -> Result<Option<$crate::store::StoredCheckpoint>, $crate::store::StoreError> {
                self.$field.checkpoint_at(size).await
            }
            async fn checkpoints(
                &self,
                from: u64,
                limit: usize,
            ) -> Result<Vec<$crate::store::StoredCheckpoint>, $crate::store::StoreError> {
                self.$field.checkpoints(from, limit).await
            }
            async fn keys(&self) -> Result<Vec<$crate::store::StoredKey>, $crate::store::StoreError> {
                self.$field.keys().await
            }
            async fn put_snapshot(
                &self,
                snapshot: &$crate::store::StoredSnapshot,
                keep: usize,
            ) -> Result<bool, $crate::store::StoreError> {
                self.$field.put_snapshot(snapshot, keep).await
            }
            async fn snapshots(
                &self,
                limit: usize,
            ) -> Result<Vec<$crate::store::StoredSnapshot>, $crate::store::StoreError> {
                self.$field.snapshots(limit).await
            }
        }
    };
}
pub(crate) use forward_event_store;

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

/// Accepts the current schema version (`Ok(false)`) or version 1, which the caller migrates (`Ok(true)`).
fn check_version(version: Option<&str>) -> Result<bool, StoreError> {
    match version {
        Some(v) if v.trim() == SCHEMA_VERSION.to_string() => Ok(false),
        Some(v) if v.trim() == "1" => Ok(true),
        Some(v) => Err(StoreError::Corrupt(format!(
            "store schema version is {v:?} but this build only supports version {SCHEMA_VERSION}; \
             use a matching SiteLedger build or migrate the store"
        ))),
        None => Err(StoreError::Corrupt("the store's meta table has no schema_version".to_owned())),
    }
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

pub(crate) fn db_err(context: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| map_sqlx(context, err)
}

pub(crate) fn db_err_with(context: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
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
fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn clamp_limit(limit: usize) -> i64 {
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

fn from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| StoreError::Corrupt(format!("stored timestamp {micros} µs is out of range: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000).ok();
        let Some(t) = t else { return };
        assert_eq!(to_micros(t).ok().and_then(|m| from_micros(m).ok()), Some(t));
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1_500).ok();
        assert_eq!(before_epoch.and_then(|t| to_micros(t).ok()), Some(-2));
    }

    #[test]
    fn statements_are_numbered_for_postgres_once_and_kept_for_sqlite() {
        assert_eq!(SIGNER_EVENT.get(Dialect::Sqlite), concat!(select_events!(), "WHERE signer = ? AND signer_seq = ?"));
        assert_eq!(
            SIGNER_EVENT.get(Dialect::Postgres),
            concat!(select_events!(), "WHERE signer = $1 AND signer_seq = $2")
        );
        assert!(std::ptr::eq(SIGNER_EVENT.get(Dialect::Postgres), SIGNER_EVENT.get(Dialect::Postgres)));
    }
}
