//! The read database: one SQL dialect for SQLite and PostgreSQL, the schema, and the transaction helper.
//!
//! Portability rules kept by every statement in this crate: only `TEXT` and `BIGINT` columns (booleans are 0/1),
//! `?` placeholders (numbered for PostgreSQL by [`to_postgres`]), `INSERT … ON CONFLICT … DO UPDATE/NOTHING`,
//! and every computed integer is `CAST(… AS BIGINT)` so that PostgreSQL returns `INT8` (sqlx decodes strictly).

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use siteledger_ledger::sqlite::WalBound;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, FromRow, Postgres, Sqlite, Transaction};
use tokio::sync::watch;

use crate::access::{AccessCache, ProjectAccess};
use crate::error::ProjectionError;
use crate::projection::{PROJECTIONS, Projection};
use crate::site::Memo;

/// Version of the read-model schema (in `meta.schema_version`). A database of another version is dropped and
/// rebuilt from the ledger on open.
pub const SCHEMA_VERSION: i64 = 1;

/// The read database's WAL bound on SQLite: a fold that leaves the WAL larger than this is followed by a truncating
/// checkpoint (see `docs/LEDGER.md`, "Bounded files").
pub const WAL_CHECKPOINT_BYTES: u64 = 64 << 20;

/// Days of raw site readings the read models keep by default (`raw_retention_days`); older ones live on in the
/// hourly and daily roll-ups, and in the log (docs/SITE.md, "Retention").
pub const DEFAULT_RAW_RETENTION_DAYS: u32 = 35;

/// Rows a reader connection buffers for its caller (the largest page a query answers is 5,000 rows).
const READ_BUFFER_ROWS: usize = 8192;

/// Advisory lock key serialising schema work on PostgreSQL ("SLPROJSC" in ASCII).
const SCHEMA_LOCK: i64 = 0x534C_5052_4F4A_5343;

/// The engine's own tables, besides `meta`: checkpoints, the records projections skipped (whose rows are
/// removed with their projection's), and the rating fold's snapshots (`rating::snapshots`). Each projection creates
/// its own tables ([`Projection::ddl`]).
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS projection_checkpoints (
        name     TEXT PRIMARY KEY,
        position BIGINT NOT NULL,
        version  BIGINT NOT NULL
    )",
    crate::fold_errors::DDL,
    crate::rating::snapshots::DDL,
];

/// A bound parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}
impl From<u64> for Arg {
    fn from(v: u64) -> Arg {
        Arg::Int(to_i64(v))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Int(i64::from(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_owned())
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        v.map_or(Arg::NullText, Arg::Text)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        v.map_or(Arg::NullText, |s| Arg::Text(s.to_owned()))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        v.map_or(Arg::NullInt, Arg::Int)
    }
}

/// Positions are u64 in the ledger and BIGINT in SQL (they never come near 2^63).
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A statement with `?` placeholders and its arguments, in textual order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Sql {
        Sql { text: text.to_owned(), args: Vec::new() }
    }

    /// Appends an argument for the next `?` already in the text.
    pub(crate) fn arg(mut self, a: impl Into<Arg>) -> Sql {
        self.args.push(a.into());
        self
    }

    /// Appends text (which must contain no `?`).
    pub(crate) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a `?` bound to `a`.
    pub(crate) fn bind(&mut self, a: impl Into<Arg>) -> &mut Sql {
        self.text.push('?');
        self.args.push(a.into());
        self
    }

    /// Appends `(?, ?, …)` bound to `items` (which must not be empty: `()` is no SQL).
    pub(crate) fn bind_list<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> &mut Sql {
        self.text.push('(');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(item);
        }
        self.text.push(')');
        self
    }
}

/// Numbers `?` placeholders as `$1`, `$2`, … (outside quoted literals and identifiers): the ledger's function, one
/// copy for every SQL text of both crates.
pub(crate) use siteledger_ledger::sql::to_postgres;

macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(s) => q.bind(s.clone()),
                Arg::NullInt => q.bind(None::<i64>),
                Arg::NullText => q.bind(None::<String>),
            };
        }
        q
    }};
}

/// A row type decodable from both backends (derive [`sqlx::FromRow`] with `i64`/`String`/`Option` fields).
pub(crate) trait AnyRow: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> AnyRow for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

#[derive(Debug)]
enum Backend {
    Sqlite {
        /// One connection: every write transaction (`BEGIN IMMEDIATE`).
        writer: SqlitePool,
        /// Queries.
        readers: SqlitePool,
        /// Keeps the WAL file bounded after folds.
        wal: WalBound,
    },
    Postgres(PgPool),
}

/// A write transaction on either backend, counting the rows its statements read ([`ReadDb::fold_rows_read`]).
pub(crate) struct Tx {
    conn: TxConn,
    rows_read: Arc<AtomicU64>,
    /// Statements run by write transactions ([`ReadDb::fold_statements`]).
    statements: Arc<AtomicU64>,
    /// The site fold's memo between batches (`site::fold::memo`), shared by the handle's clones.
    site_memo: Arc<Mutex<Memo>>,
    /// The memo this transaction publishes when it commits.
    staged_memo: Option<Memo>,
    /// Days of raw readings kept (0: all), as configured when the transaction began.
    raw_retention_days: u32,
}

enum TxConn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.conn {
            TxConn::Sqlite(_) => "Tx::Sqlite",
            TxConn::Postgres(_) => "Tx::Postgres",
        })
    }
}

impl Tx {
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.conn, TxConn::Postgres(_))
    }

    /// Days of raw readings the read models keep (0: all): the fold stores older readings in roll-ups only.
    pub(crate) fn raw_retention_days(&self) -> u32 {
        self.raw_retention_days
    }

    pub(crate) async fn execute(&mut self, q: &Sql) -> Result<u64, sqlx::Error> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        match &mut self.conn {
            TxConn::Sqlite(tx) => {
                let query = bind_args!(sqlx::query::<Sqlite>(AssertSqlSafe(q.text.clone())), &q.args);
                Ok(query.execute(&mut **tx).await?.rows_affected())
            }
            TxConn::Postgres(tx) => {
                let query = bind_args!(sqlx::query::<Postgres>(AssertSqlSafe(to_postgres(&q.text))), &q.args);
                Ok(query.execute(&mut **tx).await?.rows_affected())
            }
        }
    }

    pub(crate) async fn fetch_all<T: AnyRow>(&mut self, q: &Sql) -> Result<Vec<T>, sqlx::Error> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        let rows = match &mut self.conn {
            TxConn::Sqlite(tx) => {
                let query = bind_args!(sqlx::query_as::<Sqlite, T>(AssertSqlSafe(q.text.clone())), &q.args);
                query.fetch_all(&mut **tx).await?
            }
            TxConn::Postgres(tx) => {
                let query = bind_args!(sqlx::query_as::<Postgres, T>(AssertSqlSafe(to_postgres(&q.text))), &q.args);
                query.fetch_all(&mut **tx).await?
            }
        };
        self.rows_read.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(rows)
    }

    pub(crate) async fn fetch_optional<T: AnyRow>(&mut self, q: &Sql) -> Result<Option<T>, sqlx::Error> {
        Ok(self.fetch_all(q).await?.into_iter().next())
    }

    /// Runs `head VALUES (?, …), (?, …), … tail` for `rows` (the arguments of one row each, all of one length),
    /// many rows per statement: one round trip to the database for up to [`ROWS_PER_STATEMENT`] rows instead of
    /// one per row. Statements hold 64, 32, 16, … rows, so a statement text has at most seven shapes (each
    /// prepared once per connection). The rows of one call must not share a conflict key (PostgreSQL refuses to
    /// update a row twice in one statement): callers aggregate per key first, as the row-by-row upserts would
    /// have. Returns the rows affected.
    pub(crate) async fn execute_rows(
        &mut self,
        head: &str,
        tail: &str,
        rows: Vec<Vec<Arg>>,
    ) -> Result<u64, sqlx::Error> {
        self.execute_rows_as(head, None, tail, rows).await
    }

    /// [`Tx::execute_rows`] with each row written as `row` (its `?`s bound to the row's arguments in order), e.g.
    /// `(?, CAST(? AS BIGINT))` where PostgreSQL must know a type (`VALUES` in a `FROM` clause).
    pub(crate) async fn execute_rows_as(
        &mut self,
        head: &str,
        row: Option<&str>,
        tail: &str,
        rows: Vec<Vec<Arg>>,
    ) -> Result<u64, sqlx::Error> {
        let mut affected = 0;
        let mut left = rows.len();
        let mut rows = rows.into_iter();
        while left > 0 {
            let n = if left >= ROWS_PER_STATEMENT { ROWS_PER_STATEMENT } else { 1 << left.ilog2() };
            left -= n;
            let mut q = Sql::new(head);
            q.push(" VALUES ");
            for (i, args) in rows.by_ref().take(n).enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                if let Some(row) = row {
                    q.push(row);
                    q.args.extend(args);
                    continue;
                }
                q.push("(");
                for (j, a) in args.into_iter().enumerate() {
                    if j > 0 {
                        q.push(", ");
                    }
                    q.bind(a);
                }
                q.push(")");
            }
            q.push(" ").push(tail);
            affected += self.execute(&q).await?;
        }
        Ok(affected)
    }

    /// Commits, then publishes the site fold's memo staged in this transaction ([`Tx::stage_site_memo`]).
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self.conn {
            TxConn::Sqlite(tx) => tx.commit().await?,
            TxConn::Postgres(tx) => tx.commit().await?,
        }
        if let Some(m) = self.staged_memo {
            *self.site_memo.lock().unwrap_or_else(PoisonError::into_inner) = m;
        }
        Ok(())
    }

    /// Takes the site fold's memo out of the database handle (leaving an empty one there until this transaction
    /// commits a new one): a batch that fails or panics leaves nothing of itself in memory.
    pub(crate) fn take_site_memo(&mut self) -> Memo {
        std::mem::take(&mut *self.site_memo.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The site fold's memo after this transaction's writes, published by [`Tx::commit`].
    pub(crate) fn stage_site_memo(&mut self, m: Memo) {
        self.staged_memo = Some(m);
    }
}

/// Most rows in one statement of [`Tx::execute_rows`].
pub(crate) const ROWS_PER_STATEMENT: usize = 64;

/// Work done by queries, as counted by [`ReadDb::query_work`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryWork {
    /// Rows fetched.
    pub rows: u64,
    /// Statements run.
    pub statements: u64,
}

impl QueryWork {
    /// The work done since `earlier`.
    #[must_use]
    pub fn since(self, earlier: QueryWork) -> QueryWork {
        QueryWork {
            rows: self.rows.saturating_sub(earlier.rows),
            statements: self.statements.saturating_sub(earlier.statements),
        }
    }
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    url_kind: &'static str,
    access: Arc<AccessCache>,
    applied: watch::Sender<u64>,
    /// Rows read by write transactions (folds) since open.
    rows_read: Arc<AtomicU64>,
    /// Statements run by write transactions (folds) since open.
    fold_statements: Arc<AtomicU64>,
    /// The site fold's memo between batches.
    site_memo: Arc<Mutex<Memo>>,
    /// Rows returned to queries (every read outside a write transaction) since open.
    query_rows: AtomicU64,
    /// Statements run by those queries since open.
    query_statements: AtomicU64,
    /// Days of raw readings kept (0: all).
    raw_retention_days: AtomicU32,
    /// Records between the rating fold snapshots the runtime takes by itself (0: none).
    fold_snapshot_every: AtomicU64,
    /// The runtime's pause between two passes of stored findings and summaries, in milliseconds.
    findings_every_ms: AtomicU64,
    /// Transactions that rewrote stored site summaries or workforce findings since open.
    derived_passes: AtomicU64,
}

/// The read database (SQLite file or PostgreSQL). Cheap to clone; clones share pools, the access cache and the
/// applied-position watch.
#[derive(Debug, Clone)]
pub struct ReadDb {
    inner: Arc<Inner>,
}

impl ReadDb {
    /// Opens `sqlite:PATH` (the file is created if missing, WAL mode) or `postgres://…` / `postgresql://…`, creates
    /// or migrates the schema, and loads the access cache.
    pub async fn open(url: &str) -> Result<ReadDb, ProjectionError> {
        let backend = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() || path.starts_with(":memory:") {
                return Err(ProjectionError::UnsupportedUrl(url.to_owned()));
            }
            let base = SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(siteledger_ledger::sqlite::BUSY_TIMEOUT)
                .foreign_keys(false);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(
                    base.clone()
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        // Normal is enough: a lost tail of commits loses its checkpoint too and is simply replayed.
                        .synchronous(SqliteSynchronous::Normal)
                        .pragma("journal_size_limit", WAL_CHECKPOINT_BYTES.to_string()),
                )
                .await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(0)
                .idle_timeout(Duration::from_secs(600))
                .acquire_timeout(Duration::from_secs(60))
                // A query runs to its end and releases its snapshot even if the task that asked is slow to take
                // the rows (a snapshot held open keeps checkpoints from resetting the WAL).
                .connect_with(base.row_buffer_size(READ_BUFFER_ROWS))
                .await?;
            let wal = WalBound::new(Path::new(path), WAL_CHECKPOINT_BYTES, siteledger_ledger::sqlite::BUSY_TIMEOUT);
            Backend::Sqlite { writer, readers, wal }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options)
                .await?;
            Backend::Postgres(pool)
        } else {
            return Err(ProjectionError::UnsupportedUrl(url.to_owned()));
        };
        let url_kind = match backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        };
        let (applied, _) = watch::channel(0);
        let db = ReadDb {
            inner: Arc::new(Inner {
                backend,
                url_kind,
                access: Arc::new(AccessCache::default()),
                applied,
                rows_read: Arc::default(),
                fold_statements: Arc::default(),
                site_memo: Arc::default(),
                query_rows: AtomicU64::new(0),
                query_statements: AtomicU64::new(0),
                raw_retention_days: AtomicU32::new(DEFAULT_RAW_RETENTION_DAYS),
                fold_snapshot_every: AtomicU64::new(crate::rating::prefix::EAGER_SNAPSHOT_EVERY),
                findings_every_ms: AtomicU64::new(u64::try_from(crate::FINDINGS_EVERY.as_millis()).unwrap_or(u64::MAX)),
                derived_passes: AtomicU64::new(0),
            }),
        };
        db.ensure_schema().await?;
        db.reload_access().await?;
        db.publish_applied().await?;
        Ok(db)
    }

    /// Keeps raw site readings for `days` days before the latest reading folded (0: keep all; default
    /// [`DEFAULT_RAW_RETENTION_DAYS`]). Applies to the records folded from now on and to the next retention pass
    /// ([`ReadDb::prune_site_raw`]); set it once, before the projections run, so that a rebuild draws the same line.
    pub fn set_raw_retention_days(&self, days: u32) {
        self.inner.raw_retention_days.store(days, Ordering::Relaxed);
    }

    /// Days of raw site readings kept (0: all).
    pub fn raw_retention_days(&self) -> u32 {
        self.inner.raw_retention_days.load(Ordering::Relaxed)
    }

    /// Has the projections runtime ([`crate::run`]) leave a rating fold snapshot at the latest checkpoint's size
    /// whenever the log has grown by `records` since the newest one (0: only computations leave snapshots; default
    /// [`EAGER_SNAPSHOT_EVERY`](crate::rating::prefix::EAGER_SNAPSHOT_EVERY)).
    pub fn set_fold_snapshot_every(&self, records: u64) {
        self.inner.fold_snapshot_every.store(records, Ordering::Relaxed);
    }

    /// Records between the rating fold snapshots the runtime takes by itself (0: none).
    pub fn fold_snapshot_every(&self) -> u64 {
        self.inner.fold_snapshot_every.load(Ordering::Relaxed)
    }

    /// Has the projections runtime ([`crate::run`]) pause this long between two passes recomputing the stored
    /// workforce findings and site summaries of the projects whose facts changed (default [`FINDINGS_EVERY`](crate::FINDINGS_EVERY)).
    pub fn set_findings_every(&self, every: Duration) {
        self.inner.findings_every_ms.store(u64::try_from(every.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The runtime's pause between two passes of stored findings and summaries.
    pub fn findings_every(&self) -> Duration {
        Duration::from_millis(self.inner.findings_every_ms.load(Ordering::Relaxed))
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.inner.url_kind
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite { writer, readers, .. } => {
                readers.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// The in-memory project access table (district and participants per project), kept current by the
    /// projector; for the live feed's per-record scope checks.
    pub fn access_cache(&self) -> Arc<AccessCache> {
        Arc::clone(&self.inner.access)
    }

    /// District and participants of a project, from the access cache.
    pub fn project_access(&self, project_id: &str) -> Option<ProjectAccess> {
        self.inner.access.get(project_id)
    }

    /// Number of ledger events every projection has applied (the lowest checkpoint): the next position to fold.
    pub fn applied(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// How many transactions of this process have rewritten stored derived rows (site summaries, workforce findings)
    /// since open: with [`ReadDb::applied`], what a computed answer depends on besides the clock. An answer computed
    /// at the same `(applied, derived_passes)` reads the same rows.
    pub fn derived_passes(&self) -> u64 {
        self.inner.derived_passes.load(Ordering::Relaxed)
    }

    /// Counts a committed transaction that rewrote stored derived rows ([`ReadDb::derived_passes`]).
    pub(crate) fn note_derived_pass(&self) {
        self.inner.derived_passes.fetch_add(1, Ordering::Relaxed);
    }

    /// A receiver that changes whenever [`ReadDb::applied`] does (in this process).
    pub fn watch_applied(&self) -> watch::Receiver<u64> {
        self.inner.applied.subscribe()
    }

    /// Projection lag behind a ledger whose head is `ledger_head`: `ledger_head - applied`, 0 if ahead.
    pub fn lag(&self, ledger_head: u64) -> u64 {
        ledger_head.saturating_sub(self.applied())
    }

    /// Every projection's checkpoint (next position to apply), by name.
    pub async fn checkpoints(&self) -> Result<Vec<(String, u64)>, ProjectionError> {
        let rows: Vec<(String, i64)> =
            self.fetch_all(&Sql::new("SELECT name, position FROM projection_checkpoints ORDER BY name")).await?;
        Ok(rows.into_iter().map(|(n, p)| (n, to_u64(p))).collect())
    }

    /// Clears every read model and resets every checkpoint to 0 (then fold again with [`crate::catch_up`] or
    /// [`crate::run`]).
    pub async fn reset(&self) -> Result<(), ProjectionError> {
        let mut tx = self.begin().await?;
        for &p in PROJECTIONS {
            clear_projection(&mut tx, p).await?;
        }
        tx.commit().await?;
        self.reload_access().await?;
        self.publish_applied().await?;
        Ok(())
    }

    /// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock now, so the checkpoints read
    /// next cannot be stale), plain on PostgreSQL (callers lock checkpoint rows `FOR UPDATE`).
    pub(crate) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let conn = match &self.inner.backend {
            Backend::Sqlite { writer, .. } => TxConn::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres(pool) => TxConn::Postgres(pool.begin().await?),
        };
        Ok(Tx {
            conn,
            rows_read: Arc::clone(&self.inner.rows_read),
            statements: Arc::clone(&self.inner.fold_statements),
            site_memo: Arc::clone(&self.inner.site_memo),
            staged_memo: None,
            raw_retention_days: self.raw_retention_days(),
        })
    }

    /// After a fold committed: SQLite checkpoints and truncates the read database's WAL once it is past
    /// [`WAL_CHECKPOINT_BYTES`] (`siteledger_ledger::sqlite::WalBound`); nothing to do on PostgreSQL.
    pub(crate) async fn after_commit(&self) {
        if let Backend::Sqlite { writer, wal, .. } = &self.inner.backend {
            wal.after_commit(writer).await;
        }
    }

    /// Rows the folds (every write transaction of this handle and its clones) have read from the read database
    /// since it was opened: the work folding costs, counted rather than timed. A fold that re-reads earlier rows
    /// for each record shows up here as rows per record growing with the log.
    pub fn fold_rows_read(&self) -> u64 {
        self.inner.rows_read.load(Ordering::Relaxed)
    }

    /// Statements (reads and writes, each a round trip to the database) the folds of this handle and its clones
    /// have run since it was opened (`BEGIN` and `COMMIT` not included): with [`ReadDb::fold_rows_read`], the
    /// work a record costs, counted rather than timed (the `city_fold` bench reports both per record).
    pub fn fold_statements(&self) -> u64 {
        self.inner.fold_statements.load(Ordering::Relaxed)
    }

    /// Rows and statements the queries (reads outside the folds' write transactions) of this handle and its
    /// clones have fetched since it was opened: what an answer costs, counted rather than timed. A page whose
    /// cost grows with the city rather than with its own length shows up here.
    pub fn query_work(&self) -> QueryWork {
        QueryWork {
            rows: self.inner.query_rows.load(Ordering::Relaxed),
            statements: self.inner.query_statements.load(Ordering::Relaxed),
        }
    }

    pub(crate) async fn fetch_all<T: AnyRow>(&self, q: &Sql) -> Result<Vec<T>, sqlx::Error> {
        let rows = match &self.inner.backend {
            Backend::Sqlite { readers, .. } => {
                let query = bind_args!(sqlx::query_as::<Sqlite, T>(AssertSqlSafe(q.text.clone())), &q.args);
                query.fetch_all(readers).await?
            }
            Backend::Postgres(pool) => {
                let query = bind_args!(sqlx::query_as::<Postgres, T>(AssertSqlSafe(to_postgres(&q.text))), &q.args);
                query.fetch_all(pool).await?
            }
        };
        self.inner.query_statements.fetch_add(1, Ordering::Relaxed);
        self.inner.query_rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(rows)
    }

    pub(crate) async fn fetch_optional<T: AnyRow>(&self, q: &Sql) -> Result<Option<T>, sqlx::Error> {
        Ok(self.fetch_all(q).await?.into_iter().next())
    }

    /// Re-reads the lowest checkpoint and publishes it.
    pub(crate) async fn publish_applied(&self) -> Result<u64, ProjectionError> {
        let min: Option<(i64,)> =
            self.fetch_optional(&Sql::new("SELECT CAST(MIN(position) AS BIGINT) FROM projection_checkpoints")).await?;
        let v = min.map_or(0, |(m,)| to_u64(m));
        self.inner.applied.send_replace(v);
        Ok(v)
    }

    /// Publishes an applied position already known (after a commit).
    pub(crate) fn set_applied(&self, v: u64) {
        self.inner.applied.send_replace(v);
    }

    pub(crate) fn access_cache_dirty(&self) -> bool {
        self.inner.access.is_dirty()
    }

    pub(crate) fn mark_access_dirty(&self) {
        self.inner.access.set_dirty(true);
    }

    pub(crate) fn mark_access_clean(&self) {
        self.inner.access.set_dirty(false);
    }

    /// Reloads the whole access cache from the database.
    pub(crate) async fn reload_access(&self) -> Result<(), ProjectionError> {
        let all = self.load_access(None).await?;
        self.inner.access.replace_all(all);
        Ok(())
    }

    /// Reloads the access entries of these projects.
    pub(crate) async fn refresh_access(&self, projects: &HashSet<String>) -> Result<(), ProjectionError> {
        if projects.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = projects.iter().cloned().collect();
        for chunk in ids.chunks(200) {
            let found = self.load_access(Some(chunk)).await?;
            self.inner.access.update(chunk, found);
        }
        Ok(())
    }

    async fn load_access(&self, ids: Option<&[String]>) -> Result<Vec<(String, ProjectAccess)>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT p.project_id, p.district, pp.credit_code FROM projects p \
             LEFT JOIN participants pp ON pp.project_id = p.project_id",
        );
        if let Some(ids) = ids {
            q.push(" WHERE p.project_id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(id);
            }
            q.push(")");
        }
        q.push(" ORDER BY p.project_id, pp.credit_code");
        let rows: Vec<(String, String, Option<String>)> = self.fetch_all(&q).await?;
        let mut out: Vec<(String, ProjectAccess)> = Vec::new();
        for (id, district, credit) in rows {
            if out.last().is_none_or(|(last, _)| *last != id) {
                out.push((id.clone(), ProjectAccess { district, participants: Vec::new() }));
            }
            if let (Some(c), Some((_, a))) = (credit, out.last_mut())
                && !a.participants.contains(&c)
            {
                a.participants.push(c);
            }
        }
        Ok(out)
    }

    async fn ensure_schema(&self) -> Result<(), ProjectionError> {
        let mut tx = self.begin().await?;
        if tx.is_postgres() {
            tx.execute(&Sql::new("SELECT pg_advisory_xact_lock(?)").arg(SCHEMA_LOCK)).await?;
        }
        tx.execute(&Sql::new("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")).await?;
        let version: Option<(String,)> =
            tx.fetch_optional(&Sql::new("SELECT value FROM meta WHERE key = 'schema_version'")).await?;
        if let Some((v,)) = &version
            && v.parse::<i64>().ok() != Some(SCHEMA_VERSION)
        {
            tracing::warn!(
                found = %v,
                expected = SCHEMA_VERSION,
                "read database schema version differs: dropping the read models, they will be rebuilt from the ledger"
            );
            let tables = PROJECTIONS.iter().flat_map(|p| p.tables());
            for t in tables.chain(["fold_errors", "projection_checkpoints"].iter()) {
                tx.execute(&Sql::new(&format!("DROP TABLE IF EXISTS {t}"))).await?;
            }
        }
        for stmt in SCHEMA.iter().chain(PROJECTIONS.iter().flat_map(|p| p.ddl())) {
            tx.execute(&Sql::new(stmt)).await?;
        }
        tx.execute(
            &Sql::new(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .arg(SCHEMA_VERSION.to_string()),
        )
        .await?;
        for p in PROJECTIONS {
            p.seed(&mut tx).await?;
        }
        let stored: Vec<(String, i64)> =
            tx.fetch_all(&Sql::new("SELECT name, version FROM projection_checkpoints")).await?;
        for &p in PROJECTIONS {
            match stored.iter().find(|(n, _)| n == p.name()) {
                None => {
                    // A new projection (or a fresh database): starts at 0; its tables may hold rows from an older
                    // layout, so clear them.
                    clear_projection(&mut tx, p).await?;
                }
                Some((_, v)) if *v != p.version() => {
                    tracing::warn!(
                        projection = p.name(),
                        found = v,
                        expected = p.version(),
                        "projection version changed: clearing it, it will be rebuilt from the ledger"
                    );
                    clear_projection(&mut tx, p).await?;
                }
                Some(_) => {}
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Re-creates one projection's tables (its layout may have changed with its version), seeds them, and sets its
/// checkpoint to 0 at the current code version.
pub(crate) async fn clear_projection(tx: &mut Tx, p: &dyn Projection) -> Result<(), sqlx::Error> {
    for t in p.tables() {
        tx.execute(&Sql::new(&format!("DROP TABLE IF EXISTS {t}"))).await?;
    }
    for stmt in p.ddl() {
        tx.execute(&Sql::new(stmt)).await?;
    }
    p.seed(tx).await?;
    // Replayed from 0 by (possibly) new code: the records it could not fold before are tried again.
    tx.execute(&Sql::new("DELETE FROM fold_errors WHERE projection = ?").arg(p.name())).await?;
    tx.execute(
        &Sql::new(
            "INSERT INTO projection_checkpoints (name, position, version) VALUES (?, 0, ?) \
             ON CONFLICT (name) DO UPDATE SET position = 0, version = excluded.version",
        )
        .arg(p.name())
        .arg(p.version()),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::to_postgres;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(to_postgres("SELECT ? , '?' , \"a?\" , ?"), "SELECT $1 , '?' , \"a?\" , $2");
    }
}
