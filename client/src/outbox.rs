//! The durable outbox (store-and-forward) and the producer's signer chain, in one local SQLite file.
//!
//! **Why SQLite** (sqlx, WAL, `synchronous = FULL`): a commit that returned is on disk (the WAL is fsync'ed
//! before COMMIT returns), a crash mid-write rolls back to the last commit, and the signer chain's state lives in
//! the same transaction as the records it signed — so after SIGKILL or power loss the chain resumes exactly after
//! the last durable record, never reusing a sequence number (which the platform would record as equivocation).
//! An fsync'ed append-only file would need its own torn-write recovery, compaction and index; SQLite gives
//! those, and the ledger already uses it the same way.
//!
//! **Group commit**: one writer task owns the connection, the key and the chain. Submitters (HJ 212 connections,
//! the HTTP intake, the heartbeat, an import) send a [`Record`] and wait; the writer takes everything waiting (up
//! to 1024), signs each into the chain, inserts them in one transaction and commits once (one fsync), then answers
//! all. Only then does a device get its acknowledgement (9014 / HTTP 2xx). Each record is checked against the
//! domain ([`Record::check`]) by its submitter before it reaches the writer: a bad payload is refused locally,
//! naming the member, and never takes a `seq`.
//!
//! **Bounded disk**: the outbox counts the bytes of the envelopes it holds. From 80 % of `max_bytes` it warns
//! loudly (once per crossing); at the limit it **refuses new records** ([`OutboxError::Full`]) — the device gets
//! no acknowledgement and keeps its data to resend — rather than dropping old, already-acknowledged ones.
//!
//! **Rejected records** (the platform answered `rejected` for an item) are moved to the `parked` table with the
//! platform's code and message, never deleted: they are retried later (a rule or key fixed on the platform makes
//! them a late fill of the chain) and stay for the operator.
//!
//! **Source keys** ([`crate::idempotency`]): a record submitted with [`OutboxHandle::submit_once`] stores its
//! caller-given key in the same transaction as the record; a later submission with the same key signs nothing
//! and answers the earlier `seq`. One row per key is kept.
//!
//! **Citations** (附件): the digests of the files a record cites (`DomainEvent::cited_hashes`) are stored with it,
//! in the same transaction (`citations`), so the uploader sends those files (from [`crate::blobs::LocalBlobs`])
//! before the record without parsing queued envelopes again; `blobs_sent` remembers which files the platform
//! has answered for, and when, so each is sent once and the local copy can be pruned after a retention period
//! ([`crate::retention`]) once no queued or parked record cites it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use siteledger_signer::Envelope;
use siteledger_signer::keys::{AnySigningKey, EnvelopeSigner as _};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use crate::chain::MemoryChain;
use crate::record::{Record, RecordError};

/// Outbox failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OutboxError {
    /// The outbox holds `max_bytes`: new data is refused until the platform takes some.
    #[error("the local queue is full ({bytes} of {max} bytes): new data refused until the upload catches up")]
    Full {
        /// Bytes held.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(String),
    /// The record does not fit its kind (the member is named); nothing was signed.
    #[error("record refused before signing: {0}")]
    Invalid(RecordError),
    /// The record could not be signed (a field is invalid).
    #[error("cannot sign record: {0}")]
    Sign(String),
    /// The outbox belongs to another key.
    #[error("the queue in this directory belongs to key {stored}, not {configured}; use a new queue_dir for a new key")]
    WrongKey {
        /// Key id in the outbox.
        stored: String,
        /// The configured key.
        configured: String,
    },
    /// The writer has stopped (shutdown).
    #[error("the queue is closed")]
    Closed,
}

fn db(e: sqlx::Error) -> OutboxError {
    OutboxError::Db(e.to_string())
}

fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One queued envelope.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Chain sequence number.
    pub seq: u64,
    /// Canonical envelope bytes.
    pub envelope: Vec<u8>,
}

/// A record signed and durably stored by [`OutboxHandle::store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The record's chain sequence number.
    pub seq: u64,
    /// The envelope's `id`: what a producer later asks the platform for (its evidence, `POST /v1/evidence/export`).
    pub event_id: Uuid,
}

/// What the writer answers one submission: [`Submitted`], and the envelope id of a record signed now.
#[derive(Debug, Clone, Copy)]
struct Ack {
    submitted: Submitted,
    event_id: Option<Uuid>,
}

/// What a submission became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    /// The record's chain sequence number.
    pub seq: u64,
    /// True when the source key was submitted before: nothing new was signed and `seq` is the earlier record's.
    pub earlier: bool,
}

/// Where a record of the outbox is now ([`Outbox::places`]); a record in neither place was settled (the platform
/// accepted it or already held it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Waiting for upload.
    Queued,
    /// Refused by the platform, with its code.
    Parked {
        /// The platform's refusal code.
        code: String,
    },
}

/// Counters shared by the writer, the uploader and the heartbeat.
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Records waiting for upload.
    pub depth: AtomicU64,
    /// Bytes held (queued + parked).
    pub bytes: AtomicU64,
    /// Records parked after a rejection.
    pub parked: AtomicU64,
    /// Records committed since start.
    pub committed: AtomicU64,
    /// Records the platform acknowledged since start.
    pub uploaded: AtomicU64,
    warned: AtomicBool,
}

struct Submit {
    record: Record,
    cites: Vec<String>,
    source: Option<String>,
    reply: Reply,
}

impl std::fmt::Debug for Submit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submit").field("kind", &self.record.kind).finish_non_exhaustive()
    }
}

/// A handle to submit records (cheap to clone).
#[derive(Debug, Clone)]
pub struct OutboxHandle {
    tx: mpsc::Sender<Submit>,
}

impl OutboxHandle {
    /// Checks, signs and durably stores `record`; returns its chain sequence number once committed.
    pub async fn submit(&self, record: Record) -> Result<u64, OutboxError> {
        self.enqueue(record).await?.await
    }

    /// [`OutboxHandle::submit`], answering the envelope's id too (the agent's `201` carries it).
    pub async fn store(&self, record: Record) -> Result<Stored, OutboxError> {
        let ack = self.send(record, None).await?.await.map_err(|_| OutboxError::Closed)??;
        let event_id = ack.event_id.ok_or_else(|| OutboxError::Db("the writer answered without an id".into()))?;
        Ok(Stored { seq: ack.submitted.seq, event_id })
    }

    /// Hands `record` to the writer and returns a future of its commit, so that a caller with several records
    /// (one socket read) lets them share one group commit.
    pub async fn enqueue(
        &self,
        record: Record,
    ) -> Result<impl std::future::Future<Output = Result<u64, OutboxError>> + use<>, OutboxError> {
        let rx = self.send(record, None).await?;
        Ok(async move { rx.await.map_err(|_| OutboxError::Closed)?.map(|a| a.submitted.seq) })
    }

    /// [`OutboxHandle::submit`] with a source key: if the key was submitted before, nothing is signed and the
    /// earlier record's `seq` is answered ([`Submitted::earlier`]).
    pub async fn submit_once(&self, record: Record, source_key: String) -> Result<Submitted, OutboxError> {
        self.enqueue_once(record, source_key).await?.await
    }

    /// [`OutboxHandle::enqueue`] with a source key (see [`OutboxHandle::submit_once`]).
    pub async fn enqueue_once(
        &self,
        record: Record,
        source_key: String,
    ) -> Result<impl std::future::Future<Output = Result<Submitted, OutboxError>> + use<>, OutboxError> {
        let rx = self.send(record, Some(source_key)).await?;
        Ok(async move { rx.await.map_err(|_| OutboxError::Closed)?.map(|a| a.submitted) })
    }

    async fn send(
        &self,
        record: Record,
        source: Option<String>,
    ) -> Result<oneshot::Receiver<Result<Ack, OutboxError>>, OutboxError> {
        // Checked here, on the submitter's task: the writer only signs and commits.
        let cites = record.check().map_err(OutboxError::Invalid)?;
        let (reply, rx) = oneshot::channel();
        self.tx.send(Submit { record, cites, source, reply }).await.map_err(|_| OutboxError::Closed)?;
        Ok(rx)
    }
}

/// The outbox's database, shared by the writer and the uploader.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: SqlitePool,
    /// Counters.
    pub stats: Arc<OutboxStats>,
    /// Notified after each commit.
    pub committed: Arc<Notify>,
    max_bytes: u64,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, kind TEXT NOT NULL, \
     envelope BLOB NOT NULL, bytes INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS parked (seq INTEGER PRIMARY KEY, envelope BLOB NOT NULL, bytes INTEGER NOT NULL, \
     code TEXT, message TEXT, parked_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1)",
    "CREATE TABLE IF NOT EXISTS chain (id INTEGER PRIMARY KEY CHECK (id = 1), key_id TEXT NOT NULL, \
     last_seq INTEGER NOT NULL, last_hash BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sources (source_key TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS citations (seq INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (seq, sha256)) \
     WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS blobs_sent (sha256 TEXT PRIMARY KEY) WITHOUT ROWID",
];

/// Added after the first release: when the platform answered for each file (unix seconds), so the local copy can
/// be pruned; rows of older queues get the time of the upgrade (their files are kept one full period).
const BLOBS_SENT_AT: &str = "ALTER TABLE blobs_sent ADD COLUMN sent_at INTEGER NOT NULL DEFAULT 0";
/// The retention pass looks files up by digest among the citations of records not yet taken by the platform.
const CITATIONS_BY_DIGEST: &str = "CREATE INDEX IF NOT EXISTS citations_by_sha256 ON citations (sha256)";

/// Most parameters per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 500;

impl Outbox {
    /// Opens (creating) the outbox database file `path` for `key` (Ed25519 or SM2); returns the outbox, its submit handle (the
    /// writer task runs until every handle is dropped).
    pub async fn open(
        path: &Path,
        key: impl Into<AnySigningKey>,
        max_bytes: u64,
    ) -> Result<(Outbox, OutboxHandle), OutboxError> {
        let key: AnySigningKey = key.into();
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| OutboxError::Db(format!("creating {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        // One connection: the writer and the uploader take turns (each holds it for one short transaction).
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(120))
            .connect_with(options)
            .await
            .map_err(db)?;
        for s in SCHEMA.iter().copied() {
            sqlx::query(s).execute(&pool).await.map_err(db)?;
        }
        let has_sent_at: bool =
            sqlx::query_scalar("SELECT COUNT(*) > 0 FROM pragma_table_info('blobs_sent') WHERE name = 'sent_at'")
                .fetch_one(&pool)
                .await
                .map_err(db)?;
        if !has_sent_at {
            let mut tx = pool.begin().await.map_err(db)?;
            sqlx::query(BLOBS_SENT_AT).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("UPDATE blobs_sent SET sent_at = ?").bind(unix_now()).execute(&mut *tx).await.map_err(db)?;
            tx.commit().await.map_err(db)?;
        }
        sqlx::query(CITATIONS_BY_DIGEST).execute(&pool).await.map_err(db)?;
        let key_id = key.key_id().to_string();
        let chain = match sqlx::query("SELECT key_id, last_seq, last_hash FROM chain WHERE id = 1")
            .fetch_optional(&pool)
            .await
            .map_err(db)?
        {
            None => MemoryChain::new(),
            Some(row) => {
                let stored: String = row.get(0);
                if stored != key_id {
                    return Err(OutboxError::WrongKey { stored, configured: key_id });
                }
                let seq: i64 = row.get(1);
                let hash: Vec<u8> = row.get(2);
                let hash: [u8; 32] =
                    hash.try_into().map_err(|_| OutboxError::Db("chain.last_hash is not 32 bytes".into()))?;
                MemoryChain::after(u64::try_from(seq).unwrap_or(0), hash)
            }
        };
        let stats = Arc::new(OutboxStats::default());
        let (depth, qbytes): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), SUM(bytes) FROM outbox").fetch_one(&pool).await.map_err(db)?;
        let (parked, pbytes): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), SUM(bytes) FROM parked").fetch_one(&pool).await.map_err(db)?;
        stats.depth.store(u64::try_from(depth).unwrap_or(0), Ordering::Relaxed);
        stats.parked.store(u64::try_from(parked).unwrap_or(0), Ordering::Relaxed);
        stats.bytes.store(u64::try_from(qbytes.unwrap_or(0) + pbytes.unwrap_or(0)).unwrap_or(0), Ordering::Relaxed);
        tracing::info!(
            path = %path.display(),
            next_seq = chain.next_seq(),
            queued = depth,
            parked,
            "local queue opened; the signer chain resumes after its last durable record"
        );
        let outbox = Outbox { pool, stats, committed: Arc::new(Notify::new()), max_bytes };
        let (tx, rx) = mpsc::channel(4096);
        let writer = Writer { outbox: outbox.clone(), key, key_id, chain, rx };
        tokio::spawn(writer.run());
        Ok((outbox, OutboxHandle { tx }))
    }

    /// The oldest `n` queued records, in chain order.
    pub async fn peek(&self, n: usize) -> Result<Vec<Queued>, OutboxError> {
        self.oldest("SELECT seq, envelope FROM outbox ORDER BY seq LIMIT ?", n).await
    }

    /// The oldest `n` parked records.
    pub async fn peek_parked(&self, n: usize) -> Result<Vec<Queued>, OutboxError> {
        self.oldest("SELECT seq, envelope FROM parked ORDER BY seq LIMIT ?", n).await
    }

    async fn oldest(&self, sql: &'static str, n: usize) -> Result<Vec<Queued>, OutboxError> {
        let rows =
            sqlx::query(sql).bind(i64::try_from(n).unwrap_or(i64::MAX)).fetch_all(&self.pool).await.map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|r| Queued { seq: u64::try_from(r.get::<i64, _>(0)).unwrap_or(0), envelope: r.get(1) })
            .collect())
    }

    /// Where each of `seqs` is now: queued or parked (with the platform's code); a `seq` missing from the answer
    /// was settled (accepted or already held by the platform) or never existed.
    pub async fn places(&self, seqs: &[u64]) -> Result<HashMap<u64, Place>, OutboxError> {
        let mut out = HashMap::new();
        for chunk in seqs.chunks(LOOKUP_CHUNK) {
            for parked in [false, true] {
                let mut q: sqlx::QueryBuilder<Sqlite> = sqlx::QueryBuilder::new(if parked {
                    "SELECT seq, code FROM parked WHERE seq IN ("
                } else {
                    "SELECT seq, NULL FROM outbox WHERE seq IN ("
                });
                let mut list = q.separated(", ");
                for s in chunk {
                    list.push_bind(sql_int(*s));
                }
                list.push_unseparated(")");
                for row in q.build().fetch_all(&self.pool).await.map_err(db)? {
                    let seq = u64::try_from(row.get::<i64, _>(0)).unwrap_or(0);
                    let place = if parked {
                        Place::Parked { code: row.get::<Option<String>, _>(1).unwrap_or_default() }
                    } else {
                        Place::Queued
                    };
                    out.insert(seq, place);
                }
            }
        }
        Ok(out)
    }

    /// Applies the platform's answers in one transaction: `done` leave the outbox (or the parked table),
    /// `rejected` move to the parked table with the platform's code and message.
    pub async fn settle(&self, done: &[u64], rejected: &[(u64, String, String)]) -> Result<(), OutboxError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut freed: i64 = 0;
        let mut from_outbox: u64 = 0;
        let mut from_parked: u64 = 0;
        for &seq in done {
            let seq = sql_int(seq);
            sqlx::query("DELETE FROM citations WHERE seq = ?").bind(seq).execute(&mut *tx).await.map_err(db)?;
            if let Some(b) = delete_returning(&mut tx, "outbox", seq).await? {
                freed += b;
                from_outbox += 1;
            } else if let Some(b) = delete_returning(&mut tx, "parked", seq).await? {
                freed += b;
                from_parked += 1;
            }
        }
        let mut newly_parked = 0;
        for (seq, code, message) in rejected {
            let seq = sql_int(*seq);
            let moved = sqlx::query(
                "INSERT INTO parked (seq, envelope, bytes, code, message, parked_at) \
                 SELECT seq, envelope, bytes, ?, ?, ? FROM outbox WHERE seq = ?",
            )
            .bind(code)
            .bind(message)
            .bind(crate::record::now_text())
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
            if moved > 0 {
                sqlx::query("DELETE FROM outbox WHERE seq = ?").bind(seq).execute(&mut *tx).await.map_err(db)?;
                newly_parked += 1;
            } else {
                sqlx::query("UPDATE parked SET attempts = attempts + 1, code = ?, message = ? WHERE seq = ?")
                    .bind(code)
                    .bind(message)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)?;
        let s = &self.stats;
        s.depth.fetch_sub(from_outbox + newly_parked, Ordering::Relaxed);
        s.parked.fetch_add(newly_parked, Ordering::Relaxed);
        s.parked.fetch_sub(from_parked, Ordering::Relaxed);
        s.bytes.fetch_sub(u64::try_from(freed).unwrap_or(0), Ordering::Relaxed);
        s.uploaded.fetch_add(from_outbox + from_parked, Ordering::Relaxed);
        if s.bytes.load(Ordering::Relaxed) < self.max_bytes / 10 * 7 {
            s.warned.store(false, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The configured byte limit.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The files the records `seqs` cite, as `(seq, sha256)` in chain order.
    pub async fn citations(&self, seqs: &[u64]) -> Result<Vec<(u64, String)>, OutboxError> {
        let mut out = Vec::new();
        for chunk in seqs.chunks(LOOKUP_CHUNK) {
            let mut q: sqlx::QueryBuilder<Sqlite> =
                sqlx::QueryBuilder::new("SELECT seq, sha256 FROM citations WHERE seq IN (");
            let mut list = q.separated(", ");
            for s in chunk {
                list.push_bind(sql_int(*s));
            }
            list.push_unseparated(") ORDER BY seq, sha256");
            for row in q.build().fetch_all(&self.pool).await.map_err(db)? {
                out.push((u64::try_from(row.get::<i64, _>(0)).unwrap_or(0), row.get::<String, _>(1)));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Whether the platform has answered for the file `sha256` from this producer ([`Outbox::mark_blob_sent`]).
    pub async fn blob_sent(&self, sha256: &str) -> Result<bool, OutboxError> {
        let row = sqlx::query("SELECT 1 FROM blobs_sent WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.is_some())
    }

    /// Remembers that the platform answered for the file `sha256`: it holds it (`POST /v1/blobs` answered 200 or
    /// 201), or refused it for good (too large: logged by the uploader), so it is not sent again.
    pub async fn mark_blob_sent(&self, sha256: &str) -> Result<(), OutboxError> {
        sqlx::query("INSERT INTO blobs_sent (sha256, sent_at) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING")
            .bind(sha256)
            .bind(unix_now())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Up to `limit` files the platform answered for before `sent_before` (unix seconds) that no record in the
    /// queue or the parked table cites: their local copies may go ([`crate::retention`]).
    pub async fn blobs_to_prune(&self, sent_before: i64, limit: usize) -> Result<Vec<String>, OutboxError> {
        sqlx::query_scalar(
            "SELECT b.sha256 FROM blobs_sent b WHERE b.sent_at < ? \
             AND NOT EXISTS (SELECT 1 FROM citations c WHERE c.sha256 = b.sha256) ORDER BY b.sent_at LIMIT ?",
        )
        .bind(sent_before)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    /// Forgets that the platform answered for `digests` (their local copies are gone): a file posted to the
    /// producer again later is sent again, which the platform answers as already held.
    pub async fn forget_blobs(&self, digests: &[String]) -> Result<(), OutboxError> {
        for chunk in digests.chunks(LOOKUP_CHUNK) {
            let mut q: sqlx::QueryBuilder<Sqlite> = sqlx::QueryBuilder::new("DELETE FROM blobs_sent WHERE sha256 IN (");
            let mut list = q.separated(", ");
            for d in chunk {
                list.push_bind(d.as_str());
            }
            list.push_unseparated(")");
            q.build().execute(&self.pool).await.map_err(db)?;
        }
        Ok(())
    }

    /// How many files the platform has answered for and the producer still remembers.
    pub async fn blobs_sent_count(&self) -> Result<u64, OutboxError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs_sent").fetch_one(&self.pool).await.map_err(db)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Seconds since the Unix epoch, as stored in `blobs_sent.sent_at`.
fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn delete_returning(tx: &mut Transaction<'_, Sqlite>, table: &str, seq: i64) -> Result<Option<i64>, OutboxError> {
    let sql = if table == "outbox" {
        "DELETE FROM outbox WHERE seq = ? RETURNING bytes"
    } else {
        "DELETE FROM parked WHERE seq = ? RETURNING bytes"
    };
    let row = sqlx::query(sql).bind(seq).fetch_optional(&mut **tx).await.map_err(db)?;
    Ok(row.map(|r| r.get::<i64, _>(0)))
}

/// Most records per group commit.
const MAX_GROUP: usize = 1024;

type Reply = oneshot::Sender<Result<Ack, OutboxError>>;

/// A record signed in this group, waiting for the commit.
struct Signed {
    env: Envelope,
    cites: Vec<String>,
    source: Option<String>,
    reply: Reply,
}

struct Writer {
    outbox: Outbox,
    key: AnySigningKey,
    key_id: String,
    chain: MemoryChain,
    rx: mpsc::Receiver<Submit>,
}

impl Writer {
    async fn run(mut self) {
        let mut group: Vec<Submit> = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = self.rx.recv().await {
            group.push(first);
            while group.len() < MAX_GROUP {
                match self.rx.try_recv() {
                    Ok(s) => group.push(s),
                    Err(_) => break,
                }
            }
            self.commit_group(&mut group).await;
        }
        tracing::debug!("queue writer stopped");
    }

    /// The `seq` of each of the group's source keys that the outbox already holds.
    async fn known_sources(&self, group: &[Submit]) -> Result<HashMap<String, u64>, OutboxError> {
        let keys: Vec<&str> = group.iter().filter_map(|s| s.source.as_deref()).collect();
        let mut known = HashMap::new();
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            let mut q: sqlx::QueryBuilder<Sqlite> =
                sqlx::QueryBuilder::new("SELECT source_key, seq FROM sources WHERE source_key IN (");
            let mut list = q.separated(", ");
            for k in chunk {
                list.push_bind(*k);
            }
            list.push_unseparated(")");
            for row in q.build().fetch_all(&self.outbox.pool).await.map_err(db)? {
                known.insert(row.get::<String, _>(0), u64::try_from(row.get::<i64, _>(1)).unwrap_or(0));
            }
        }
        Ok(known)
    }

    async fn commit_group(&mut self, group: &mut Vec<Submit>) {
        let before = self.chain;
        let stats = Arc::clone(&self.outbox.stats);
        let max = self.outbox.max_bytes;
        let mut held = stats.bytes.load(Ordering::Relaxed);
        let known = match self.known_sources(group).await {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "local queue lookup failed; nothing of this group is stored");
                for s in group.drain(..) {
                    let _ = s.reply.send(Err(e.clone()));
                }
                return;
            }
        };
        // Sign in order; refuse what does not fit; answer a known source key with its earlier record.
        let mut signed: Vec<Signed> = Vec::with_capacity(group.len());
        let mut in_group: HashMap<String, u64> = HashMap::new();
        let mut repeats: Vec<(u64, Reply)> = Vec::new();
        for s in group.drain(..) {
            if let Some(k) = &s.source {
                if let Some(&seq) = known.get(k) {
                    let _ = s.reply.send(Ok(Ack { submitted: Submitted { seq, earlier: true }, event_id: None }));
                    continue;
                }
                if let Some(&seq) = in_group.get(k) {
                    repeats.push((seq, s.reply));
                    continue;
                }
            }
            let r = s.record;
            let mut next = self.chain;
            match next.sign(&self.key, Uuid::now_v7(), &r.stream, &r.kind, &r.occurred_at, r.payload) {
                Ok(env) => {
                    let size = env.leaf_bytes().len() as u64;
                    if held + size > max {
                        let _ = s.reply.send(Err(OutboxError::Full { bytes: held, max }));
                        continue;
                    }
                    held += size;
                    self.chain = next;
                    if let Some(k) = &s.source {
                        in_group.insert(k.clone(), env.seq());
                    }
                    signed.push(Signed { env, cites: s.cites, source: s.source, reply: s.reply });
                }
                Err(e) => {
                    let _ = s.reply.send(Err(OutboxError::Sign(e.to_string())));
                }
            }
        }
        if signed.is_empty() {
            return;
        }
        match self.insert(&signed).await {
            Ok(bytes) => {
                let n = signed.len() as u64;
                stats.depth.fetch_add(n, Ordering::Relaxed);
                let now = stats.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                stats.committed.fetch_add(n, Ordering::Relaxed);
                if now >= max / 10 * 8 && !stats.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        bytes = now,
                        max,
                        "LOCAL QUEUE NEARLY FULL ({} %): the platform is not taking data fast enough; at 100 % new \
                         readings are refused (devices get no acknowledgement and keep them)",
                        now * 100 / max.max(1)
                    );
                }
                for s in signed {
                    let submitted = Submitted { seq: s.env.seq(), earlier: false };
                    let _ = s.reply.send(Ok(Ack { submitted, event_id: Some(s.env.id()) }));
                }
                for (seq, reply) in repeats {
                    let _ = reply.send(Ok(Ack { submitted: Submitted { seq, earlier: true }, event_id: None }));
                }
                self.outbox.committed.notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, "local queue commit failed; devices get no acknowledgement");
                self.chain = before;
                for s in signed {
                    let _ = s.reply.send(Err(e.clone()));
                }
                for (_, reply) in repeats {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    async fn insert(&self, signed: &[Signed]) -> Result<u64, OutboxError> {
        let mut tx = self.outbox.pool.begin().await.map_err(db)?;
        let mut total = 0u64;
        // Multi-row INSERTs (100 rows per statement): one round trip to sqlx's SQLite thread per 100 records.
        for chunk in signed.chunks(100) {
            let mut q: sqlx::QueryBuilder<Sqlite> =
                sqlx::QueryBuilder::new("INSERT INTO outbox (seq, event_id, kind, envelope, bytes) ");
            q.push_values(chunk, |mut row, s| {
                let leaf = s.env.leaf_bytes();
                total += leaf.len() as u64;
                row.push_bind(sql_int(s.env.seq()))
                    .push_bind(s.env.id().to_string())
                    .push_bind(s.env.kind().to_owned())
                    .push_bind(leaf.to_vec())
                    .push_bind(i64::try_from(leaf.len()).unwrap_or(i64::MAX));
            });
            q.build().execute(&mut *tx).await.map_err(db)?;
            let cited: Vec<(u64, &str)> =
                chunk.iter().flat_map(|s| s.cites.iter().map(|h| (s.env.seq(), h.as_str()))).collect();
            if !cited.is_empty() {
                let mut q: sqlx::QueryBuilder<Sqlite> = sqlx::QueryBuilder::new("INSERT INTO citations (seq, sha256) ");
                q.push_values(cited, |mut row, (seq, h)| {
                    row.push_bind(sql_int(seq)).push_bind(h.to_owned());
                });
                q.build().execute(&mut *tx).await.map_err(db)?;
            }
            let keyed: Vec<&Signed> = chunk.iter().filter(|s| s.source.is_some()).collect();
            if !keyed.is_empty() {
                let mut q: sqlx::QueryBuilder<Sqlite> =
                    sqlx::QueryBuilder::new("INSERT INTO sources (source_key, seq) ");
                q.push_values(keyed, |mut row, s| {
                    row.push_bind(s.source.clone().unwrap_or_default()).push_bind(sql_int(s.env.seq()));
                });
                q.build().execute(&mut *tx).await.map_err(db)?;
            }
        }
        if let Some(last) = signed.last() {
            sqlx::query(
                "INSERT INTO chain (id, key_id, last_seq, last_hash) VALUES (1, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
            )
            .bind(&self.key_id)
            .bind(sql_int(last.env.seq()))
            .bind(last.env.leaf_hash().to_vec())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(total)
    }
}
