//! [`AnyStore`]: the adapter chosen at run time from configuration, so the server is not generic over stores.

use siteledger_signer::merkle::{Hash, NodeId};
use uuid::Uuid;

#[cfg(feature = "kurrentdb")]
use crate::kurrent::KurrentStore;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::store::{
    Commit, Direction, EventStore, StoreError, StoredCheckpoint, StoredEvent, StoredKey, StoredSnapshot,
};

/// One of the compiled-in adapters.
#[derive(Debug)]
pub enum AnyStore {
    /// Embedded SQLite file.
    Sqlite(SqliteStore),
    /// PostgreSQL server.
    Postgres(PgStore),
    /// KurrentDB cluster.
    #[cfg(feature = "kurrentdb")]
    Kurrent(Box<KurrentStore>),
}

impl AnyStore {
    /// Opens the store a URL names: `sqlite:PATH`, `postgres://…`, or (with the `kurrentdb` feature) `kurrentdb://…`
    /// / `esdb://…`.
    pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            return Ok(AnyStore::Sqlite(SqliteStore::open(std::path::Path::new(path)).await?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(AnyStore::Postgres(PgStore::connect(url).await?));
        }
        #[cfg(feature = "kurrentdb")]
        if url.starts_with("kurrentdb://") || url.starts_with("esdb://") || url.starts_with("kdb://") {
            return Ok(AnyStore::Kurrent(Box::new(KurrentStore::connect(url).await?)));
        }
        Err(StoreError::Database(format!(
            "unsupported store URL {url:?}: use sqlite:PATH or postgres://…{}",
            if cfg!(feature = "kurrentdb") {
                " or kurrentdb://…"
            } else {
                " (KurrentDB needs the kurrentdb feature)"
            }
        )))
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
            #[cfg(feature = "kurrentdb")]
            AnyStore::Kurrent(_) => "kurrentdb",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
            #[cfg(feature = "kurrentdb")]
            AnyStore::Kurrent($s) => $e,
        }
    };
}

impl EventStore for AnyStore {
    async fn head(&self) -> Result<u64, StoreError> {
        delegate!(self, s => s.head().await)
    }
    async fn commit(&self, expected_head: u64, commit: &Commit) -> Result<(), StoreError> {
        delegate!(self, s => s.commit(expected_head, commit).await)
    }
    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        delegate!(self, s => s.read_all(from, limit).await)
    }
    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        delegate!(self, s => s.read_stream(stream, from, direction, limit).await)
    }
    async fn stream_head(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        delegate!(self, s => s.stream_head(stream).await)
    }
    async fn events_by_id(&self, ids: &[Uuid]) -> Result<Vec<StoredEvent>, StoreError> {
        delegate!(self, s => s.events_by_id(ids).await)
    }
    async fn signer_head(&self, signer: &str) -> Result<Option<StoredEvent>, StoreError> {
        delegate!(self, s => s.signer_head(signer).await)
    }
    async fn signer_event(&self, signer: &str, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        delegate!(self, s => s.signer_event(signer, seq).await)
    }
    async fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        delegate!(self, s => s.read_nodes(ids).await)
    }
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        delegate!(self, s => s.latest_checkpoint().await)
    }
    async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        delegate!(self, s => s.checkpoint_at(size).await)
    }
    async fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<StoredCheckpoint>, StoreError> {
        delegate!(self, s => s.checkpoints(from, limit).await)
    }
    async fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        delegate!(self, s => s.keys().await)
    }
    async fn put_snapshot(&self, snapshot: &StoredSnapshot, keep: usize) -> Result<bool, StoreError> {
        delegate!(self, s => s.put_snapshot(snapshot, keep).await)
    }
    async fn snapshots(&self, limit: usize) -> Result<Vec<StoredSnapshot>, StoreError> {
        delegate!(self, s => s.snapshots(limit).await)
    }
}
