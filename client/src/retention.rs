//! Pruning the producer's local copies of files (附件) the platform already holds, so `queue_dir/blobs` stays
//! bounded by what is still in flight plus one retention period, not by everything ever attached.
//!
//! A file may go when all of these hold: the platform answered for it (`blobs_sent`, with the time it did) more
//! than the retention period ago, and no record still in the queue or in the parked table cites it (a parked
//! record may be retried after a fix on the platform and must still find its file). The file is deleted before its
//! `blobs_sent` row: a crash in between leaves a row whose file is gone, which the next pass deletes again
//! (removing a missing file is not an error). A producer citing a pruned file later posts it again
//! (`POST /v1/blobs` on the agent); the platform answers that it already holds it.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::blobs::{BlobError, LocalBlobs};
use crate::outbox::{Outbox, OutboxError};

/// Files deleted per database round trip.
const BATCH: usize = 256;

/// Why a retention pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The local queue database failed.
    #[error("local queue: {0}")]
    Queue(#[from] OutboxError),
    /// A file could not be deleted.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Files deleted.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Deletes the local copies of files the platform answered for before `now − keep` and that no queued or parked
/// record cites; returns what went.
pub async fn prune_blobs(
    outbox: &Outbox,
    blobs: &LocalBlobs,
    keep: Duration,
    now: OffsetDateTime,
) -> Result<Pruned, RetentionError> {
    let cutoff = now.unix_timestamp().saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
    let mut pruned = Pruned::default();
    loop {
        let digests = outbox.blobs_to_prune(cutoff, BATCH).await?;
        if digests.is_empty() {
            return Ok(pruned);
        }
        let store = blobs.clone();
        let batch = digests.clone();
        let removed = tokio::task::spawn_blocking(move || -> Result<Pruned, BlobError> {
            let mut p = Pruned::default();
            for d in &batch {
                if let Some(bytes) = store.remove(d)? {
                    p.files += 1;
                    p.bytes += bytes;
                }
            }
            Ok(p)
        })
        .await
        .map_err(|e| BlobError::Io { path: blobs.root().display().to_string(), source: std::io::Error::other(e) })??;
        outbox.forget_blobs(&digests).await?;
        pruned.files += removed.files;
        pruned.bytes += removed.bytes;
        if digests.len() < BATCH {
            return Ok(pruned);
        }
    }
}

/// Runs [`prune_blobs`] every `every` until shutdown; failures are logged and retried at the next pass.
pub async fn run(
    outbox: Outbox,
    blobs: LocalBlobs,
    keep: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match prune_blobs(&outbox, &blobs, keep, OffsetDateTime::now_utc()).await {
            Ok(p) if p.files > 0 => {
                tracing::info!(files = p.files, bytes = p.bytes, "pruned local copies of files the platform holds")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning local attachment copies failed; retried at the next pass"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = crate::uploader::stopped(&mut shutdown) => return,
        }
    }
}
