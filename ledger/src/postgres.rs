//! PostgreSQL adapter: the production single-region store.
//!
//! * Every [`EventStore::commit`] is one transaction that first takes `pg_advisory_xact_lock(COMMIT_LOCK)`, then
//!   reads the head in a *later* statement (under READ COMMITTED each statement takes a fresh snapshot, so the
//!   head read after the lock sees every commit of the previous lock holder). Appends are therefore serialised
//!   across processes and positions become visible strictly in order: the sequence/commit-order trap cannot
//!   happen. The lock is released by COMMIT or ROLLBACK, including the rollback of a dropped transaction.
//! * Events and Merkle nodes go in with one `INSERT … SELECT FROM UNNEST(array, …)` each: one prepared
//!   statement and one round-trip whatever the commit size.
//! * Durability is the server's: Ok is returned only after COMMIT returned, which is durable when the server runs
//!   with `fsync = on` and `synchronous_commit` ≥ `on` (checked at connect; a warning is logged otherwise).
//!
//! Schema (version [`SCHEMA_VERSION`] in `meta`), created at connect under an advisory lock: `events`,
//! `merkle_nodes` (levels ≥ 1), `checkpoints`, `keys`, `meta`. Times are BIGINT unix microseconds (UTC), exactly
//! as in the SQLite store. Refusals are those of the SQLite store (see [`crate::sqlite`]).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use siteledger_signer::merkle::{Hash, NodeId};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use uuid::Uuid;

use crate::sqlite::{
    check_version, clamp_i64, clamp_limit, from_micros, map_sqlx, to_hash, to_i64, to_micros, to_u64, validate_commit,
};
use crate::store::{Commit, Direction, EventStore, StoreError, StoredCheckpoint, StoredEvent, StoredKey};

pub use crate::sqlite::SCHEMA_VERSION;

/// Explicitly READ COMMITTED (whatever `default_transaction_isolation` says): under REPEATABLE READ the snapshot
/// would be taken by the lock statement, before the lock is granted, and the head read after it could be stale.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Advisory lock key serialising appends ("SLCOMMIT" in ASCII). Advisory locks are per database.
pub const COMMIT_LOCK: i64 = 0x534C_434F_4D4D_4954;
/// Advisory lock key serialising schema creation ("SLSCHEMA" in ASCII).
pub const SCHEMA_LOCK: i64 = 0x534C_5343_4845_4D41;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
    position       BIGINT PRIMARY KEY,
    event_id       UUID   NOT NULL UNIQUE,
    stream         TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    kind           TEXT   NOT NULL,
    signer         TEXT   NOT NULL,
    signer_seq     BIGINT NOT NULL,
    occurred_at    TEXT   NOT NULL,
    recorded_at    BIGINT NOT NULL,
    leaf           BYTEA  NOT NULL,
    leaf_hash      BYTEA  NOT NULL,
    UNIQUE (stream, stream_version),
    UNIQUE (signer, signer_seq)
);

CREATE TABLE IF NOT EXISTS merkle_nodes (
    level SMALLINT NOT NULL,
    idx   BIGINT   NOT NULL,
    hash  BYTEA    NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE IF NOT EXISTS checkpoints (
    size       BIGINT PRIMARY KEY,
    root       BYTEA  NOT NULL,
    note       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS keys (
    key_id      TEXT   PRIMARY KEY,
    public_key  BYTEA  NOT NULL,
    subject     TEXT   NOT NULL,
    role        TEXT   NOT NULL,
    valid_from  TEXT   NOT NULL,
    valid_until TEXT,
    enrolled_by UUID   NOT NULL,
    enrolled_at BIGINT NOT NULL,
    revoked_at  TEXT
);
"#;

const TABLES: [&str; 5] = ["meta", "events", "merkle_nodes", "checkpoints", "keys"];

/// Pool settings for [`PgStore::connect_with`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Upper bound of pooled connections (readers and the writer share them; appends serialise on a lock anyway).
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long a call waits for a free connection before failing with [`StoreError::Database`].
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Duration,
    /// Connections are recycled after this long (lets a failover or a server-side setting change take effect).
    pub max_lifetime: Duration,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            application_name: "siteledger-ledger".to_owned(),
        }
    }
}

/// The PostgreSQL event store. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` with [`PgOptions::default`] and creates the schema if missing.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, PgOptions::default()).await
    }

    /// Connects to `url` and creates the schema if missing (under an advisory lock, so processes starting together
    /// do not race). Refuses ([`StoreError::Corrupt`]) a database whose schema version is not [`SCHEMA_VERSION`].
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?
            .application_name(&options.application_name);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections.min(options.max_connections.max(1)))
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .max_lifetime(options.max_lifetime)
            .connect_with(connect)
            .await
            .map_err(db_err("connecting to PostgreSQL"))?;
        let store = PgStore { pool };
        store.ensure_schema().await?;
        store.warn_if_not_durable().await?;
        Ok(store)
    }

    /// The underlying pool (for projections that share the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn ensure_schema(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(db_err("beginning schema check"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err("taking the schema lock"))?;
        let present: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') \
             AND c.relname = ANY($1)",
        )
        .bind(TABLES.as_slice())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err("listing tables"))?;
        if present.is_empty() {
            sqlx::raw_sql(SCHEMA).execute(&mut *tx).await.map_err(db_err("creating schema"))?;
            sqlx::query("INSERT INTO meta (key, value) VALUES ('schema_version', $1)")
                .bind(SCHEMA_VERSION.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err("recording schema version"))?;
        } else {
            if !present.iter().any(|t| t == "meta") {
                return Err(StoreError::Corrupt(format!(
                    "the database has tables {present:?} but no `meta` table: not a SiteLedger store"
                )));
            }
            let version: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'schema_version'")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("reading schema version"))?;
            check_version(version.as_deref())?;
            let missing: Vec<&str> = TABLES.iter().copied().filter(|t| !present.iter().any(|p| p == t)).collect();
            if !missing.is_empty() {
                return Err(StoreError::Corrupt(format!("the PostgreSQL store lacks the tables {missing:?}")));
            }
        }
        tx.commit().await.map_err(db_err("committing schema"))
    }

    async fn warn_if_not_durable(&self) -> Result<(), StoreError> {
        let (fsync, sync_commit): (String, String) =
            sqlx::query_as("SELECT current_setting('fsync'), current_setting('synchronous_commit')")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err("reading durability settings"))?;
        // Every synchronous_commit level but `off` flushes the local WAL before COMMIT returns.
        if fsync != "on" || sync_commit == "off" {
            tracing::warn!(
                fsync = %fsync,
                synchronous_commit = %sync_commit,
                "PostgreSQL is not configured for durable commits: acknowledged events may be lost on a crash"
            );
        }
        Ok(())
    }

    async fn fetch_events(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
        context: &'static str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(db_err(context))?;
        rows.iter().map(decode_event).collect()
    }
}

impl EventStore for PgStore {
    async fn head(&self) -> Result<u64, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("reading the head"))?;
        to_u64(head, "head")
    }

    async fn commit(&self, expected_head: u64, commit: &Commit) -> Result<(), StoreError> {
        validate_commit(expected_head, commit)?;
        let events = EventColumns::new(&commit.events)?;
        let mut node_levels = Vec::with_capacity(commit.nodes.len());
        let mut node_indices = Vec::with_capacity(commit.nodes.len());
        let mut node_hashes: Vec<&[u8]> = Vec::with_capacity(commit.nodes.len());
        for (id, hash) in &commit.nodes {
            node_levels.push(i16::from(id.level));
            node_indices.push(to_i64(id.index, "node index")?);
            node_hashes.push(hash.as_slice());
        }

        let mut tx = self.pool.begin_with(BEGIN).await.map_err(db_err("beginning commit"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(COMMIT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err("taking the commit lock"))?;
        // A separate statement: its snapshot is taken after the lock was granted.
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM events")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err("reading the head"))?;
        let head = to_u64(head, "head")?;
        if head != expected_head {
            return Err(StoreError::HeadMoved { expected: expected_head, found: head });
        }
        if !commit.events.is_empty() {
            sqlx::query(
                "INSERT INTO events (position, event_id, stream, stream_version, kind, signer, signer_seq, \
                 occurred_at, recorded_at, leaf, leaf_hash) \
                 SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
                 $7::bigint[], $8::text[], $9::bigint[], $10::bytea[], $11::bytea[])",
            )
            .bind(events.position.as_slice())
            .bind(events.event_id.as_slice())
            .bind(events.stream.as_slice())
            .bind(events.stream_version.as_slice())
            .bind(events.kind.as_slice())
            .bind(events.signer.as_slice())
            .bind(events.signer_seq.as_slice())
            .bind(events.occurred_at.as_slice())
            .bind(events.recorded_at.as_slice())
            .bind(events.leaf.as_slice())
            .bind(events.leaf_hash.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db_err_with(|| {
                format!("inserting events at positions {expected_head}..{}", expected_head + commit.events.len() as u64)
            }))?;
        }
        if !commit.nodes.is_empty() {
            sqlx::query(
                "INSERT INTO merkle_nodes (level, idx, hash) \
                 SELECT * FROM UNNEST($1::smallint[], $2::bigint[], $3::bytea[])",
            )
            .bind(node_levels.as_slice())
            .bind(node_indices.as_slice())
            .bind(node_hashes.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db_err("inserting Merkle nodes"))?;
        }
        for key in &commit.new_keys {
            sqlx::query(
                "INSERT INTO keys (key_id, public_key, subject, role, valid_from, valid_until, enrolled_by, \
                 enrolled_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
            let done = sqlx::query("UPDATE keys SET revoked_at = $1 WHERE key_id = $2")
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
            sqlx::query("INSERT INTO checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4)")
                .bind(to_i64(cp.size, "checkpoint size")?)
                .bind(cp.root.as_slice())
                .bind(cp.note.as_str())
                .bind(to_micros(cp.created_at)?)
                .execute(&mut *tx)
                .await
                .map_err(db_err_with(|| format!("storing checkpoint of size {}", cp.size)))?;
        }
        tx.commit().await.map_err(db_err("committing"))
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let q = sqlx::query(
            "SELECT position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, recorded_at, \
             leaf, leaf_hash FROM events WHERE position >= $1 ORDER BY position LIMIT $2",
        )
        .bind(clamp_i64(from))
        .bind(clamp_limit(limit));
        self.fetch_events(q, "reading the log").await
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
        let sql = match direction {
            Direction::Forward => {
                "SELECT position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, \
                 recorded_at, leaf, leaf_hash FROM events WHERE stream = $1 AND stream_version >= $2 \
                 ORDER BY stream_version ASC LIMIT $3"
            }
            Direction::Backward => {
                "SELECT position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, \
                 recorded_at, leaf, leaf_hash FROM events WHERE stream = $1 AND stream_version <= $2 \
                 ORDER BY stream_version DESC LIMIT $3"
            }
        };
        let q = sqlx::query(sql).bind(stream).bind(clamp_i64(from)).bind(clamp_limit(limit));
        self.fetch_events(q, "reading a stream").await
    }

    async fn stream_head(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let version: Option<i64> = sqlx::query_scalar("SELECT MAX(stream_version) FROM events WHERE stream = $1")
            .bind(stream)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("reading a stream head"))?;
        version.map(|v| to_u64(v, "stream_version")).transpose()
    }

    async fn events_by_id(&self, ids: &[Uuid]) -> Result<Vec<StoredEvent>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let q = sqlx::query(
            "SELECT position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, recorded_at, \
             leaf, leaf_hash FROM events WHERE event_id = ANY($1)",
        )
        .bind(ids);
        self.fetch_events(q, "reading events by id").await
    }

    async fn signer_head(&self, signer: &str) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query(
            "SELECT position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, recorded_at, \
             leaf, leaf_hash FROM events WHERE signer = $1 ORDER BY signer_seq DESC LIMIT 1",
        )
        .bind(signer)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a signer head"))?;
        row.as_ref().map(decode_event).transpose()
    }

    async fn signer_event(&self, signer: &str, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT position, event_id, stream, stream_version, kind, signer, signer_seq, occurred_at, recorded_at, \
             leaf, leaf_hash FROM events WHERE signer = $1 AND signer_seq = $2",
        )
        .bind(signer)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a signer event"))?;
        row.as_ref().map(decode_event).transpose()
    }

    async fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut unique: Vec<NodeId> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut leaves: Vec<i64> = Vec::new();
        let mut levels: Vec<i16> = Vec::new();
        let mut indices: Vec<i64> = Vec::new();
        for id in &unique {
            // Indices beyond i64 cannot be stored: leave them out and report them missing below.
            let Ok(index) = i64::try_from(id.index) else {
                continue;
            };
            if id.level == 0 {
                leaves.push(index);
            } else {
                levels.push(i16::from(id.level));
                indices.push(index);
            }
        }
        // One round-trip for every level.
        let rows = sqlx::query(
            "SELECT 0::smallint AS level, e.position AS idx, e.leaf_hash AS hash FROM events e \
             WHERE e.position = ANY($1) \
             UNION ALL \
             SELECT n.level, n.idx, n.hash FROM merkle_nodes n \
             JOIN UNNEST($2::smallint[], $3::bigint[]) AS r(level, idx) ON n.level = r.level AND n.idx = r.idx",
        )
        .bind(leaves.as_slice())
        .bind(levels.as_slice())
        .bind(indices.as_slice())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading Merkle nodes"))?;
        let mut found: HashMap<NodeId, Hash> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let level: i16 = row.try_get(0).map_err(db_err("decoding level"))?;
            let level = u8::try_from(level)
                .map_err(|_| StoreError::Corrupt(format!("Merkle node level {level} out of range")))?;
            let index = to_u64(row.try_get(1).map_err(db_err("decoding idx"))?, "idx")?;
            let hash = to_hash(row.try_get(2).map_err(db_err("decoding hash"))?, "Merkle node hash")?;
            found.insert(NodeId::new(level, index), hash);
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
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading the latest checkpoint"))?;
        row.as_ref().map(decode_checkpoint).transpose()
    }

    async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let Ok(size) = i64::try_from(size) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT size, root, note, created_at FROM checkpoints WHERE size = $1")
            .bind(size)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a checkpoint"))?;
        row.as_ref().map(decode_checkpoint).transpose()
    }

    async fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<StoredCheckpoint>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows =
            sqlx::query("SELECT size, root, note, created_at FROM checkpoints WHERE size >= $1 ORDER BY size LIMIT $2")
                .bind(clamp_i64(from))
                .bind(clamp_limit(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("reading checkpoints"))?;
        rows.iter().map(decode_checkpoint).collect()
    }

    async fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, public_key, subject, role, valid_from, valid_until, enrolled_by, enrolled_at, revoked_at \
             FROM keys ORDER BY enrolled_at, key_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading keys"))?;
        rows.iter().map(decode_key).collect()
    }
}

/// The events of a commit, column by column, for `UNNEST`.
struct EventColumns<'a> {
    position: Vec<i64>,
    event_id: Vec<Uuid>,
    stream: Vec<&'a str>,
    stream_version: Vec<i64>,
    kind: Vec<&'a str>,
    signer: Vec<&'a str>,
    signer_seq: Vec<i64>,
    occurred_at: Vec<&'a str>,
    recorded_at: Vec<i64>,
    leaf: Vec<&'a [u8]>,
    leaf_hash: Vec<&'a [u8]>,
}

impl<'a> EventColumns<'a> {
    fn new(events: &'a [StoredEvent]) -> Result<EventColumns<'a>, StoreError> {
        let n = events.len();
        let mut c = EventColumns {
            position: Vec::with_capacity(n),
            event_id: Vec::with_capacity(n),
            stream: Vec::with_capacity(n),
            stream_version: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            signer: Vec::with_capacity(n),
            signer_seq: Vec::with_capacity(n),
            occurred_at: Vec::with_capacity(n),
            recorded_at: Vec::with_capacity(n),
            leaf: Vec::with_capacity(n),
            leaf_hash: Vec::with_capacity(n),
        };
        for e in events {
            c.position.push(to_i64(e.position, "position")?);
            c.event_id.push(e.event_id);
            c.stream.push(&e.stream);
            c.stream_version.push(to_i64(e.stream_version, "stream_version")?);
            c.kind.push(&e.kind);
            c.signer.push(&e.signer);
            c.signer_seq.push(to_i64(e.signer_seq, "signer_seq")?);
            c.occurred_at.push(&e.occurred_at);
            c.recorded_at.push(to_micros(e.recorded_at)?);
            c.leaf.push(&e.leaf);
            c.leaf_hash.push(&e.leaf_hash);
        }
        Ok(c)
    }
}

fn decode_event(row: &PgRow) -> Result<StoredEvent, StoreError> {
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

fn decode_checkpoint(row: &PgRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: to_u64(row.try_get("size").map_err(db_err("decoding checkpoint size"))?, "checkpoint size")?,
        root: to_hash(row.try_get("root").map_err(db_err("decoding checkpoint root"))?, "checkpoint root")?,
        note: row.try_get("note").map_err(db_err("decoding checkpoint note"))?,
        created_at: from_micros(row.try_get("created_at").map_err(db_err("decoding checkpoint created_at"))?)?,
    })
}

fn decode_key(row: &PgRow) -> Result<StoredKey, StoreError> {
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

fn db_err(context: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| map_sqlx(context, err)
}

fn db_err_with(context: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| map_sqlx(&context(), err)
}
