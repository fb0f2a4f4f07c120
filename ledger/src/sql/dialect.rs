//! Everything SQLite and PostgreSQL do differently for the ledger, in one place: placeholders (`?` against `$n`),
//! column types (`INTEGER`/`BLOB` against `BIGINT`/`BYTEA`/`UUID`/`SMALLINT`, SQLite's `STRICT` tables), how a
//! write transaction starts and is serialised (`BEGIN IMMEDIATE` against READ COMMITTED plus an advisory lock), how
//! the schema's tables are listed, and how many rows travel in one statement (multi-row `VALUES` and `IN (…)` lists
//! against one array per column under `UNNEST` / `= ANY`). The statements themselves are in [`super`], written once.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use siteledger_signer::merkle::{Hash, NodeId};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, SqlSafeStr, SqlStr, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use super::{EventRow, db_err, db_err_with, to_hash, to_i64, to_micros, to_u64};
use crate::store::{StoreError, StoredEvent};

/// The two SQL databases the ledger stores into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// One file, WAL; a single writer connection.
    Sqlite,
    /// A server; appends from any number of processes serialise on an advisory lock.
    Postgres,
}

/// Advisory lock key serialising appends on PostgreSQL ("SLCOMMIT" in ASCII). Advisory locks are per database.
pub const COMMIT_LOCK: i64 = 0x534C_434F_4D4D_4954;
/// Advisory lock key serialising schema creation on PostgreSQL ("SLSCHEMA" in ASCII).
pub const SCHEMA_LOCK: i64 = 0x534C_5343_4845_4D41;

static COMMIT_LOCK_SQL: LazyLock<String> = LazyLock::new(|| format!("SELECT pg_advisory_xact_lock({COMMIT_LOCK})"));
static SCHEMA_LOCK_SQL: LazyLock<String> = LazyLock::new(|| format!("SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"));

/// The schema, with `{int}`, `{small}`, `{bytes}`, `{uuid}`, `{strict}` and `{strict_norowid}` standing for what
/// differs. Times are unix microseconds (UTC) in both.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
){strict_norowid};

CREATE TABLE IF NOT EXISTS events (
    position       {int}   NOT NULL PRIMARY KEY,
    event_id       {uuid}  NOT NULL UNIQUE,
    stream         TEXT    NOT NULL,
    stream_version {int}   NOT NULL,
    kind           TEXT    NOT NULL,
    signer         TEXT    NOT NULL,
    signer_seq     {int}   NOT NULL,
    occurred_at    TEXT    NOT NULL,
    recorded_at    {int}   NOT NULL,
    leaf           {bytes} NOT NULL,
    leaf_hash      {bytes} NOT NULL,
    UNIQUE (stream, stream_version),
    UNIQUE (signer, signer_seq)
){strict};

CREATE TABLE IF NOT EXISTS merkle_nodes (
    level {small} NOT NULL,
    idx   {int}   NOT NULL,
    hash  {bytes} NOT NULL,
    PRIMARY KEY (level, idx)
){strict_norowid};

CREATE TABLE IF NOT EXISTS checkpoints (
    size       {int}   NOT NULL PRIMARY KEY,
    root       {bytes} NOT NULL,
    note       TEXT    NOT NULL,
    created_at {int}   NOT NULL
){strict};

CREATE TABLE IF NOT EXISTS keys (
    key_id      TEXT    NOT NULL PRIMARY KEY,
    public_key  {bytes} NOT NULL,
    subject     TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    valid_from  TEXT    NOT NULL,
    valid_until TEXT,
    enrolled_by {uuid}  NOT NULL,
    enrolled_at {int}   NOT NULL,
    revoked_at  TEXT,
    alg         TEXT,
    sm2_id      TEXT
){strict};
"#;

/// The columns schema version 2 added to `keys` (SM2 keys, docs/FORMAT.md §11): `alg` (NULL for Ed25519, `sm2`)
/// and `sm2_id` (an SM2 key's declared signer identity, NULL for the default). A version-1 store gets them when it
/// is opened ([`super::SqlStore`]'s schema check); every existing row is an Ed25519 key, which NULL means.
pub(crate) const KEY_COLUMNS_V2: [&str; 2] = ["alg", "sm2_id"];

/// The policy-state snapshot table, in the same notation: a bounded cache beside the log (the ledger keeps only the
/// newest few rows), created on stores of schema version 1 that predate it too, since nothing in the log depends on
/// it and an empty table only means a replay from zero.
const SNAPSHOT_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS policy_snapshots (
    size       {int}   NOT NULL PRIMARY KEY,
    root       {bytes} NOT NULL,
    format     TEXT    NOT NULL,
    sha256     {bytes} NOT NULL,
    state      {bytes} NOT NULL,
    created_at {int}   NOT NULL
){strict};
"#;

impl Dialect {
    /// The database's name, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    }

    /// The schema in this dialect. SQLite: `INTEGER` (so `position` is the rowid), `BLOB`, `STRICT` tables.
    pub(crate) fn schema(self) -> &'static str {
        static SQLITE: OnceLock<String> = OnceLock::new();
        static POSTGRES: OnceLock<String> = OnceLock::new();
        self.fill(
            SCHEMA,
            match self {
                Dialect::Sqlite => &SQLITE,
                Dialect::Postgres => &POSTGRES,
            },
        )
    }

    /// The policy-state snapshot table in this dialect (see [`SNAPSHOT_SCHEMA`]).
    pub(crate) fn snapshot_schema(self) -> &'static str {
        static SQLITE: OnceLock<String> = OnceLock::new();
        static POSTGRES: OnceLock<String> = OnceLock::new();
        self.fill(
            SNAPSHOT_SCHEMA,
            match self {
                Dialect::Sqlite => &SQLITE,
                Dialect::Postgres => &POSTGRES,
            },
        )
    }

    /// `template` with this dialect's column types, computed once into `cache`.
    fn fill(self, template: &str, cache: &'static OnceLock<String>) -> &'static str {
        let types = match self {
            Dialect::Sqlite => [
                ("{int}", "INTEGER"),
                ("{small}", "INTEGER"),
                ("{bytes}", "BLOB"),
                ("{uuid}", "BLOB"),
                ("{strict_norowid}", " STRICT, WITHOUT ROWID"),
                ("{strict}", " STRICT"),
            ],
            Dialect::Postgres => [
                ("{int}", "BIGINT"),
                ("{small}", "SMALLINT"),
                ("{bytes}", "BYTEA"),
                ("{uuid}", "UUID"),
                ("{strict_norowid}", ""),
                ("{strict}", ""),
            ],
        };
        cache.get_or_init(|| types.iter().fold(template.to_owned(), |s, (token, ty)| s.replace(token, ty)))
    }

    /// How a write transaction starts. SQLite: `IMMEDIATE` takes the file's write lock at `BEGIN`, so writers in
    /// other processes serialise there and the head is read under the lock. PostgreSQL: explicitly READ COMMITTED
    /// (whatever `default_transaction_isolation` says): under REPEATABLE READ the snapshot would be taken by the lock
    /// statement, before the lock is granted, and the head read after it could be stale.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED",
        }
    }

    /// The statement that serialises commits across processes after `BEGIN`, if `BEGIN` did not already. It is
    /// released by COMMIT or ROLLBACK, including the rollback of a dropped transaction.
    pub(crate) fn commit_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(COMMIT_LOCK_SQL.as_str()),
        }
    }

    /// The statement that serialises schema creation across processes after `BEGIN`, if `BEGIN` did not already.
    pub(crate) fn schema_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(SCHEMA_LOCK_SQL.as_str()),
        }
    }

    /// The column names of the `keys` table (one `TEXT` column).
    pub(crate) fn key_columns(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT name FROM pragma_table_info('keys')",
            Dialect::Postgres => {
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'keys'"
            }
        }
    }

    /// Which of the ledger's tables exist (one `TEXT` column of names).
    pub(crate) fn list_tables(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_schema WHERE type = 'table' \
                 AND name IN ('meta', 'events', 'merkle_nodes', 'checkpoints', 'keys')"
            }
            Dialect::Postgres => {
                "SELECT c.relname::text FROM pg_catalog.pg_class c \
                 WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') \
                 AND c.relname IN ('meta', 'events', 'merkle_nodes', 'checkpoints', 'keys')"
            }
        }
    }
}

/// A statement written once with `?` placeholders; its PostgreSQL form (`$1`, `$2`, …) is derived once per process.
#[derive(Debug)]
pub(crate) struct Stmt {
    text: &'static str,
    numbered: OnceLock<String>,
}

impl Stmt {
    pub(crate) const fn new(text: &'static str) -> Stmt {
        Stmt { text, numbered: OnceLock::new() }
    }

    /// The statement in `dialect`.
    pub(crate) fn get(&'static self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.text,
            Dialect::Postgres => self.numbered.get_or_init(|| to_postgres(self.text)),
        }
    }
}

/// Numbers `?` placeholders as `$1`, `$2`, … (outside quoted literals and identifiers): one statement text serves
/// SQLite and PostgreSQL. Shared with the read models (`siteledger-projections`).
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(c),
            },
        }
    }
    out
}

/// Writing many rows in one commit.
pub(crate) trait BulkWrite {
    /// Inserts the commit's events (positions already validated).
    fn insert_events(&mut self, events: &[StoredEvent]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Inserts complete Merkle nodes of levels ≥ 1.
    fn insert_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reading many rows by key.
pub(crate) trait BulkRead {
    /// The events with these ids (distinct, sorted).
    fn events_by_ids(&self, ids: &[Uuid]) -> impl Future<Output = Result<Vec<EventRow>, StoreError>> + Send;
    /// Leaf hashes at these positions (distinct) and inner nodes with these ids (distinct, levels ≥ 1), as found.
    fn find_nodes(
        &self,
        leaves: &[i64],
        inner: &[NodeId],
    ) -> impl Future<Output = Result<HashMap<NodeId, Hash>, StoreError>> + Send;
}

// ---- SQLite: multi-row VALUES and IN lists, in power-of-two sizes so that a handful of statements stay prepared
// ---- whatever the commit size.

/// Largest number of event rows per `INSERT` (11 parameters each; SQLite allows 32766).
const EVENT_ROWS: usize = 256;
/// Largest number of Merkle node rows per `INSERT` (3 parameters each).
const NODE_ROWS: usize = 1024;
/// Largest number of ids per `IN (...)` list.
const ID_ROWS: usize = 4096;

static EVENTS_INSERT_SQL: OnceLock<Vec<String>> = OnceLock::new();
static NODES_INSERT_SQL: OnceLock<Vec<String>> = OnceLock::new();
static EVENTS_BY_ID_SQL: OnceLock<Vec<String>> = OnceLock::new();
static LEAF_HASHES_SQL: OnceLock<Vec<String>> = OnceLock::new();
static NODES_SQL: OnceLock<Vec<String>> = OnceLock::new();

impl BulkWrite for Transaction<'static, Sqlite> {
    async fn insert_events(&mut self, events: &[StoredEvent]) -> Result<(), StoreError> {
        for chunk in pow2_chunks(events, EVENT_ROWS) {
            let sql = cached_sql(&EVENTS_INSERT_SQL, chunk.len(), |n| {
                format!(
                    concat!("INSERT INTO events (", event_columns!(), ") VALUES {}"),
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
            q.execute(&mut **self).await.map_err(db_err_with(|| {
                let first = chunk.first().map_or(0, |e| e.position);
                format!("inserting events at positions {first}..{}", first + chunk.len() as u64)
            }))?;
        }
        Ok(())
    }

    async fn insert_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        for chunk in pow2_chunks(nodes, NODE_ROWS) {
            let sql = cached_sql(&NODES_INSERT_SQL, chunk.len(), |n| {
                format!("INSERT INTO merkle_nodes (level, idx, hash) VALUES {}", placeholders(n, "(?, ?, ?)"))
            });
            let mut q = sqlx::query(sql);
            for (id, hash) in chunk {
                q = q.bind(i64::from(id.level)).bind(to_i64(id.index, "node index")?).bind(hash.as_slice());
            }
            q.execute(&mut **self).await.map_err(db_err("inserting Merkle nodes"))?;
        }
        Ok(())
    }
}

impl BulkRead for SqlitePool {
    async fn events_by_ids(&self, ids: &[Uuid]) -> Result<Vec<EventRow>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in pow2_chunks(ids, ID_ROWS) {
            let sql = cached_sql(&EVENTS_BY_ID_SQL, chunk.len(), |n| {
                format!(concat!(select_events!(), "WHERE event_id IN ({})"), placeholders(n, "?"))
            });
            let mut q = sqlx::query_as::<_, EventRow>(sql);
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(q.fetch_all(self).await.map_err(db_err("reading events by id"))?);
        }
        Ok(out)
    }

    async fn find_nodes(&self, leaves: &[i64], inner: &[NodeId]) -> Result<HashMap<NodeId, Hash>, StoreError> {
        let mut found: HashMap<NodeId, Hash> = HashMap::with_capacity(leaves.len() + inner.len());
        for chunk in pow2_chunks(leaves, ID_ROWS) {
            let sql = cached_sql(&LEAF_HASHES_SQL, chunk.len(), |n| {
                format!("SELECT position, leaf_hash FROM events WHERE position IN ({})", placeholders(n, "?"))
            });
            let mut q = sqlx::query(sql);
            for p in chunk {
                q = q.bind(*p);
            }
            let rows = q.fetch_all(self).await.map_err(db_err("reading leaf hashes"))?;
            for row in &rows {
                let position = to_u64(row.try_get::<i64, _>(0).map_err(db_err("decoding position"))?, "position")?;
                let hash = to_hash(row.try_get::<Vec<u8>, _>(1).map_err(db_err("decoding leaf_hash"))?, "leaf_hash")?;
                found.insert(NodeId::new(0, position), hash);
            }
        }
        for chunk in pow2_chunks(inner, ID_ROWS) {
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
                q = q.bind(i64::from(id.level)).bind(i64::try_from(id.index).unwrap_or(i64::MAX));
            }
            let rows = q.fetch_all(self).await.map_err(db_err("reading Merkle nodes"))?;
            for row in &rows {
                let level = row.try_get::<i64, _>(0).map_err(db_err("decoding level"))?;
                let level = u8::try_from(level)
                    .map_err(|_| StoreError::Corrupt(format!("Merkle node level {level} out of range")))?;
                let index = to_u64(row.try_get::<i64, _>(1).map_err(db_err("decoding idx"))?, "idx")?;
                let hash = to_hash(row.try_get::<Vec<u8>, _>(2).map_err(db_err("decoding hash"))?, "hash")?;
                found.insert(NodeId::new(level, index), hash);
            }
        }
        Ok(found)
    }
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

// ---- PostgreSQL: one array per column, one statement and one round trip whatever the number of rows.

impl BulkWrite for Transaction<'static, Postgres> {
    async fn insert_events(&mut self, events: &[StoredEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let c = EventColumns::new(events)?;
        sqlx::query(concat!(
            "INSERT INTO events (",
            event_columns!(),
            ") SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
             $7::bigint[], $8::text[], $9::bigint[], $10::bytea[], $11::bytea[])"
        ))
        .bind(c.position.as_slice())
        .bind(c.event_id.as_slice())
        .bind(c.stream.as_slice())
        .bind(c.stream_version.as_slice())
        .bind(c.kind.as_slice())
        .bind(c.signer.as_slice())
        .bind(c.signer_seq.as_slice())
        .bind(c.occurred_at.as_slice())
        .bind(c.recorded_at.as_slice())
        .bind(c.leaf.as_slice())
        .bind(c.leaf_hash.as_slice())
        .execute(&mut **self)
        .await
        .map_err(db_err_with(|| {
            let first = events.first().map_or(0, |e| e.position);
            format!("inserting events at positions {first}..{}", first + events.len() as u64)
        }))?;
        Ok(())
    }

    async fn insert_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let mut levels = Vec::with_capacity(nodes.len());
        let mut indices = Vec::with_capacity(nodes.len());
        let mut hashes: Vec<&[u8]> = Vec::with_capacity(nodes.len());
        for (id, hash) in nodes {
            levels.push(i16::from(id.level));
            indices.push(to_i64(id.index, "node index")?);
            hashes.push(hash.as_slice());
        }
        sqlx::query(
            "INSERT INTO merkle_nodes (level, idx, hash) SELECT * FROM UNNEST($1::smallint[], $2::bigint[], $3::bytea[])",
        )
        .bind(levels.as_slice())
        .bind(indices.as_slice())
        .bind(hashes.as_slice())
        .execute(&mut **self)
        .await
        .map_err(db_err("inserting Merkle nodes"))?;
        Ok(())
    }
}

impl BulkRead for PgPool {
    async fn events_by_ids(&self, ids: &[Uuid]) -> Result<Vec<EventRow>, StoreError> {
        sqlx::query_as::<_, EventRow>(concat!(select_events!(), "WHERE event_id = ANY($1)"))
            .bind(ids)
            .fetch_all(self)
            .await
            .map_err(db_err("reading events by id"))
    }

    async fn find_nodes(&self, leaves: &[i64], inner: &[NodeId]) -> Result<HashMap<NodeId, Hash>, StoreError> {
        let mut levels: Vec<i16> = Vec::with_capacity(inner.len());
        let mut indices: Vec<i64> = Vec::with_capacity(inner.len());
        for id in inner {
            // Indices beyond i64 cannot be stored: leave them out; the caller reports them missing.
            let Ok(index) = i64::try_from(id.index) else { continue };
            levels.push(i16::from(id.level));
            indices.push(index);
        }
        // One round trip for every level.
        let rows = sqlx::query(
            "SELECT 0::smallint AS level, e.position AS idx, e.leaf_hash AS hash FROM events e \
             WHERE e.position = ANY($1) \
             UNION ALL \
             SELECT n.level, n.idx, n.hash FROM merkle_nodes n \
             JOIN UNNEST($2::smallint[], $3::bigint[]) AS r(level, idx) ON n.level = r.level AND n.idx = r.idx",
        )
        .bind(leaves)
        .bind(levels.as_slice())
        .bind(indices.as_slice())
        .fetch_all(self)
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
        Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ? AND c = '?' AND \"d?\" = ? LIMIT ?"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND \"d?\" = $2 LIMIT $3"
        );
    }

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
    fn each_dialect_gets_its_own_column_types_and_nothing_else_differs() {
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let (sqlite, pg) = (words(Dialect::Sqlite.schema()), words(Dialect::Postgres.schema()));
        assert!(!sqlite.contains('{') && !pg.contains('{'), "every token replaced");
        // `position INTEGER … PRIMARY KEY` is SQLite's rowid: the type name must be exactly INTEGER.
        assert!(sqlite.contains("position INTEGER NOT NULL PRIMARY KEY"), "{sqlite}");
        assert!(pg.contains("position BIGINT NOT NULL PRIMARY KEY"), "{pg}");
        assert!(pg.contains("event_id UUID NOT NULL UNIQUE") && pg.contains("level SMALLINT NOT NULL"), "{pg}");
        assert_eq!(sqlite.matches("STRICT").count(), 5);
        assert!(!pg.contains("STRICT") && !pg.contains("BLOB"));
        assert!(Dialect::Postgres.commit_lock().is_some_and(|s| s.contains(&COMMIT_LOCK.to_string())));
        assert_eq!(Dialect::Sqlite.commit_lock(), None);
    }
}
