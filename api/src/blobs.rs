//! The attachment store (附件): content-addressed by SHA-256, the files signed records cite by digest (rectification
//! photos, test report PDFs, plan documents, BIM models). Design and access rules: docs/ATTACHMENTS.md.
//!
//! * [`BlobStore`] is the contract, with two implementations: [`FsBlobStore`] (files under `<data_dir>/blobs/ab/cd/
//!   <sha256>`, their metadata in `<data_dir>/blobs.db`, SQLite) and [`PgBlobStore`] (one PostgreSQL table, used
//!   when the event store is PostgreSQL). [`AnyBlobStore`] picks one from a URL, as the token store does.
//! * A file is written to a temporary file, fsynced and renamed into place, and only then recorded: a crash never
//!   leaves a partial file under a digest. Reads recompute the digest and refuse a file that no longer matches.
//! * The media type served is the one [`sniff`] finds in the bytes (a short list of types, never HTML or SVG); the
//!   uploader's declared `Content-Type` is recorded only.
//! * Who uploaded what is kept (`blob_uploads`), so an uploader can always fetch its own upload; everyone else needs
//!   a record citing the digest that they may read (the `blob_citations` read model).
//!
//! Attachments never enter a leaf: the log holds the digest, the store the bytes.

use std::future::Future;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A database or file-system failure: retry later; details are logged.
    #[error("blob storage: {0}")]
    Storage(String),
    /// A stored file no longer hashes to its digest (disk corruption or tampering): not served.
    #[error("stored attachment {0} does not match its SHA-256 any more")]
    Corrupt(String),
    /// The store URL is not one this server opens.
    #[error("unsupported blob store URL {0:?}: use fs:PATH or postgres://…")]
    UnsupportedUrl(String),
}

impl From<sqlx::Error> for BlobError {
    fn from(e: sqlx::Error) -> Self {
        BlobError::Storage(e.to_string())
    }
}

impl From<std::io::Error> for BlobError {
    fn from(e: std::io::Error) -> Self {
        BlobError::Storage(e.to_string())
    }
}

impl From<BlobError> for crate::error::ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Storage(m) => crate::error::ApiError::store_unavailable(crate::error::Store::Blobs, m),
            other => crate::error::ApiError::internal(other),
        }
    }
}

/// What the store knows of a blob besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// SHA-256, 64 lowercase hex characters.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The media type sniffed from the bytes: what is served.
    pub media_type: String,
    /// The `Content-Type` the first uploader declared, if any (recorded, never served).
    pub declared_type: Option<String>,
}

/// An upload: the bytes, their digest and types, and who sent them.
#[derive(Debug, Clone)]
pub struct NewBlob<'a> {
    /// SHA-256 of `bytes`, lowercase hex (computed by [`NewBlob::new`]).
    pub sha256: String,
    /// The bytes.
    pub bytes: &'a [u8],
    /// The declared `Content-Type`.
    pub declared_type: Option<String>,
    /// The uploading token's public id.
    pub uploader: &'a str,
}

impl<'a> NewBlob<'a> {
    /// An upload of `bytes` by `uploader`.
    pub fn new(bytes: &'a [u8], declared_type: Option<String>, uploader: &'a str) -> NewBlob<'a> {
        NewBlob { sha256: sha256_hex(bytes), bytes, declared_type, uploader }
    }

    fn meta(&self) -> BlobMeta {
        BlobMeta {
            sha256: self.sha256.clone(),
            bytes: self.bytes.len() as u64,
            media_type: sniff(self.bytes).to_owned(),
            declared_type: self.declared_type.clone(),
        }
    }
}

/// The media type found in the bytes (one definition, in the domain: the agent sniffs with it too).
pub use siteledger_domain::attachment::sniff;

/// SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is a SHA-256 digest as records cite it: 64 lowercase hex characters.
pub fn is_sha256_hex(s: &str) -> bool {
    siteledger_signer::bundle::is_sha256_hex(s)
}

/// The contract of an attachment store.
pub trait BlobStore {
    /// Stores `blob` (if new) and records its uploader. Returns the metadata and whether the bytes are new.
    fn put(&self, blob: &NewBlob<'_>) -> impl Future<Output = Result<(BlobMeta, bool), BlobError>> + Send;
    /// The metadata of a stored blob.
    fn meta(&self, sha256: &str) -> impl Future<Output = Result<Option<BlobMeta>, BlobError>> + Send;
    /// The bytes of a stored blob, checked against its digest.
    fn read(&self, sha256: &str) -> impl Future<Output = Result<Option<Vec<u8>>, BlobError>> + Send;
    /// Whether the token `token_id` uploaded `sha256`.
    fn uploaded_by(&self, sha256: &str, token_id: &str) -> impl Future<Output = Result<bool, BlobError>> + Send;
}

fn checked(sha256: &str, bytes: Vec<u8>) -> Result<Vec<u8>, BlobError> {
    if sha256_hex(&bytes) == sha256 { Ok(bytes) } else { Err(BlobError::Corrupt(sha256.to_owned())) }
}

const META_DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS blobs (
        sha256        TEXT PRIMARY KEY,
        bytes         BIGINT NOT NULL,
        media_type    TEXT NOT NULL,
        declared_type TEXT,
        created_at    BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS blob_uploads (
        sha256   TEXT NOT NULL,
        token_id TEXT NOT NULL,
        PRIMARY KEY (sha256, token_id)
    )",
];

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn meta_of<R: Row>(r: &R) -> Result<BlobMeta, BlobError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database>,
{
    let bytes: i64 = r.try_get("bytes")?;
    Ok(BlobMeta {
        sha256: r.try_get("sha256")?,
        bytes: u64::try_from(bytes).unwrap_or(0),
        media_type: r.try_get("media_type")?,
        declared_type: r.try_get("declared_type")?,
    })
}

/// Files under a directory (`ab/cd/<sha256>`), metadata in a SQLite file beside it.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    db: SqlitePool,
}

impl FsBlobStore {
    /// Opens (and creates) the store: files under `root`, metadata in `db_path`.
    pub async fn open(root: &Path, db_path: &Path) -> Result<FsBlobStore, BlobError> {
        std::fs::create_dir_all(root.join("tmp"))?;
        let opts = SqliteConnectOptions::new()
            .filename(db_path)
            .create_if_missing(true)
            .busy_timeout(siteledger_ledger::sqlite::BUSY_TIMEOUT)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let db = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        for ddl in META_DDL {
            sqlx::query(*ddl).execute(&db).await?;
        }
        Ok(FsBlobStore { root: root.to_path_buf(), db })
    }

    /// Closes the metadata database (its WAL folded back into the file).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Stores files exported from another store with their metadata rows as they were (creation time and
    /// uploaders kept): each file durably first, then all rows in one transaction, as [`BlobStore::put`] orders
    /// them. `blobs` are `(metadata, created_at, bytes)`, `uploads` `(sha256, token_id)`.
    pub async fn import(
        &self,
        blobs: &[(BlobMeta, i64, Vec<u8>)],
        uploads: &[(String, String)],
    ) -> Result<(), BlobError> {
        for (meta, _, bytes) in blobs {
            let bytes = checked(&meta.sha256, bytes.clone())?;
            let (root, path) = (self.root.clone(), self.path_of(&meta.sha256));
            tokio::task::spawn_blocking(move || Self::write_file(&root, &path, &bytes))
                .await
                .map_err(|e| BlobError::Storage(e.to_string()))??;
        }
        let mut tx = self.db.begin().await?;
        for (meta, created_at, _) in blobs {
            sqlx::query(
                "INSERT INTO blobs (sha256, bytes, media_type, declared_type, created_at) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&meta.sha256)
            .bind(i64::try_from(meta.bytes).unwrap_or(i64::MAX))
            .bind(&meta.media_type)
            .bind(&meta.declared_type)
            .bind(created_at)
            .execute(&mut *tx)
            .await?;
        }
        for (sha256, token_id) in uploads {
            sqlx::query("INSERT INTO blob_uploads (sha256, token_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
                .bind(sha256)
                .bind(token_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Where the file of `sha256` lives: `root/ab/cd/<sha256>` (two levels keep directories small).
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let (a, b) = (sha256.get(0..2).unwrap_or("00"), sha256.get(2..4).unwrap_or("00"));
        self.root.join(a).join(b).join(sha256)
    }

    /// Writes the file durably: a temporary file, fsync, rename, fsync of the directory.
    fn write_file(root: &Path, path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        use std::io::Write;
        let dir = path.parent().ok_or_else(|| BlobError::Storage("blob path has no directory".into()))?;
        std::fs::create_dir_all(dir)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| BlobError::Storage(format!("getrandom: {e}")))?;
        let tmp = root.join("tmp").join(hex::encode(nonce));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(result?)
    }
}

impl BlobStore for FsBlobStore {
    async fn put(&self, blob: &NewBlob<'_>) -> Result<(BlobMeta, bool), BlobError> {
        let path = self.path_of(&blob.sha256);
        let known = self.meta(&blob.sha256).await?;
        let fresh = match &known {
            Some(_) if path.is_file() => false,
            // A crash after the rename and before the row, or a row whose file went missing: write it (again).
            _ => {
                let (root, path, bytes) = (self.root.clone(), path.clone(), blob.bytes.to_vec());
                tokio::task::spawn_blocking(move || Self::write_file(&root, &path, &bytes))
                    .await
                    .map_err(|e| BlobError::Storage(e.to_string()))??;
                known.is_none()
            }
        };
        let meta = blob.meta();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO blobs (sha256, bytes, media_type, declared_type, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&meta.sha256)
        .bind(i64::try_from(meta.bytes).unwrap_or(i64::MAX))
        .bind(&meta.media_type)
        .bind(&meta.declared_type)
        .bind(now_unix())
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO blob_uploads (sha256, token_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(&meta.sha256)
            .bind(blob.uploader)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let stored = self.meta(&blob.sha256).await?.unwrap_or(meta);
        Ok((stored, fresh))
    }

    async fn meta(&self, sha256: &str) -> Result<Option<BlobMeta>, BlobError> {
        sqlx::query("SELECT sha256, bytes, media_type, declared_type FROM blobs WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.db)
            .await?
            .map(|r| meta_of(&r))
            .transpose()
    }

    async fn read(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        if self.meta(sha256).await?.is_none() {
            return Ok(None);
        }
        let path = self.path_of(sha256);
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| BlobError::Storage(e.to_string()))??;
        checked(sha256, bytes).map(Some)
    }

    async fn uploaded_by(&self, sha256: &str, token_id: &str) -> Result<bool, BlobError> {
        Ok(sqlx::query("SELECT 1 FROM blob_uploads WHERE sha256 = ? AND token_id = ?")
            .bind(sha256)
            .bind(token_id)
            .fetch_optional(&self.db)
            .await?
            .is_some())
    }
}

/// Blobs in PostgreSQL: the bytes in `blob_content`, the metadata in `blobs` and `blob_uploads`, all committed in
/// one transaction.
#[derive(Debug, Clone)]
pub struct PgBlobStore {
    db: PgPool,
}

impl PgBlobStore {
    /// Opens the store on `url` and creates its tables.
    pub async fn open(url: &str) -> Result<PgBlobStore, BlobError> {
        let db = PgPoolOptions::new().max_connections(4).connect(url).await?;
        for ddl in META_DDL {
            sqlx::query(*ddl).execute(&db).await?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS blob_content (sha256 TEXT PRIMARY KEY, content BYTEA NOT NULL)")
            .execute(&db)
            .await?;
        Ok(PgBlobStore { db })
    }

    /// Copies every attachment, its metadata and its uploaders into `target`, all read in one `REPEATABLE READ
    /// READ ONLY` snapshot (one commit's state however long the server keeps writing): how `siteledger backup`
    /// takes the attachments of a PostgreSQL deployment into the same layout as a data directory's. Files are
    /// read `EXPORT_BATCH` at a time, so memory holds one batch, not the store. Returns the number of files.
    pub async fn export_into(&self, target: &FsBlobStore) -> Result<u64, BlobError> {
        const EXPORT_BATCH: i64 = 16;
        let mut tx = self.db.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let mut after = String::new();
        let mut files = 0u64;
        loop {
            let rows = sqlx::query(
                "SELECT b.sha256, b.bytes, b.media_type, b.declared_type, b.created_at, c.content \
                 FROM blobs b JOIN blob_content c ON c.sha256 = b.sha256 WHERE b.sha256 > $1 \
                 ORDER BY b.sha256 LIMIT $2",
            )
            .bind(&after)
            .bind(EXPORT_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("sha256")?;
            let mut batch = Vec::with_capacity(rows.len());
            for r in &rows {
                batch.push((meta_of(r)?, r.try_get::<i64, _>("created_at")?, r.try_get::<Vec<u8>, _>("content")?));
            }
            let shas: Vec<String> = batch.iter().map(|(m, ..)| m.sha256.clone()).collect();
            let uploads: Vec<(String, String)> =
                sqlx::query_as("SELECT sha256, token_id FROM blob_uploads WHERE sha256 = ANY($1)")
                    .bind(&shas)
                    .fetch_all(&mut *tx)
                    .await?;
            target.import(&batch, &uploads).await?;
            files += batch.len() as u64;
        }
        tx.commit().await?;
        Ok(files)
    }
}

impl BlobStore for PgBlobStore {
    async fn put(&self, blob: &NewBlob<'_>) -> Result<(BlobMeta, bool), BlobError> {
        let meta = blob.meta();
        let mut tx = self.db.begin().await?;
        let fresh = sqlx::query("INSERT INTO blob_content (sha256, content) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&meta.sha256)
            .bind(blob.bytes)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        sqlx::query(
            "INSERT INTO blobs (sha256, bytes, media_type, declared_type, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&meta.sha256)
        .bind(i64::try_from(meta.bytes).unwrap_or(i64::MAX))
        .bind(&meta.media_type)
        .bind(&meta.declared_type)
        .bind(now_unix())
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO blob_uploads (sha256, token_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&meta.sha256)
            .bind(blob.uploader)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let stored = self.meta(&blob.sha256).await?.unwrap_or(meta);
        Ok((stored, fresh))
    }

    async fn meta(&self, sha256: &str) -> Result<Option<BlobMeta>, BlobError> {
        sqlx::query("SELECT sha256, bytes, media_type, declared_type FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.db)
            .await?
            .map(|r| meta_of(&r))
            .transpose()
    }

    async fn read(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let row = sqlx::query("SELECT content FROM blob_content WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.db)
            .await?;
        match row {
            None => Ok(None),
            Some(r) => checked(sha256, r.try_get("content")?).map(Some),
        }
    }

    async fn uploaded_by(&self, sha256: &str, token_id: &str) -> Result<bool, BlobError> {
        Ok(sqlx::query("SELECT 1 FROM blob_uploads WHERE sha256 = $1 AND token_id = $2")
            .bind(sha256)
            .bind(token_id)
            .fetch_optional(&self.db)
            .await?
            .is_some())
    }
}

/// The store a configuration names: `fs:PATH` (files under PATH, metadata in `PATH.db`) or `postgres://…`.
#[derive(Debug, Clone)]
pub enum AnyBlobStore {
    /// Files and SQLite.
    Fs(FsBlobStore),
    /// PostgreSQL.
    Pg(PgBlobStore),
}

impl AnyBlobStore {
    /// Opens the store `url` names.
    pub async fn open(url: &str) -> Result<AnyBlobStore, BlobError> {
        if let Some(path) = url.strip_prefix("fs:") {
            let root = PathBuf::from(path);
            let db = root.with_extension("db");
            Ok(AnyBlobStore::Fs(FsBlobStore::open(&root, &db).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(AnyBlobStore::Pg(PgBlobStore::open(url).await?))
        } else {
            Err(BlobError::UnsupportedUrl(url.to_owned()))
        }
    }
}

impl BlobStore for AnyBlobStore {
    async fn put(&self, blob: &NewBlob<'_>) -> Result<(BlobMeta, bool), BlobError> {
        match self {
            AnyBlobStore::Fs(s) => s.put(blob).await,
            AnyBlobStore::Pg(s) => s.put(blob).await,
        }
    }
    async fn meta(&self, sha256: &str) -> Result<Option<BlobMeta>, BlobError> {
        match self {
            AnyBlobStore::Fs(s) => s.meta(sha256).await,
            AnyBlobStore::Pg(s) => s.meta(sha256).await,
        }
    }
    async fn read(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match self {
            AnyBlobStore::Fs(s) => s.read(sha256).await,
            AnyBlobStore::Pg(s) => s.read(sha256).await,
        }
    }
    async fn uploaded_by(&self, sha256: &str, token_id: &str) -> Result<bool, BlobError> {
        match self {
            AnyBlobStore::Fs(s) => s.uploaded_by(sha256, token_id).await,
            AnyBlobStore::Pg(s) => s.uploaded_by(sha256, token_id).await,
        }
    }
}
