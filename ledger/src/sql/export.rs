//! A PostgreSQL log exported, consistently, into a fresh store of any kind (`siteledger backup` writes it to a SQLite
//! file). Everything is read inside one `REPEATABLE READ READ ONLY` transaction, so the export is the log exactly as
//! of one commit however long the server keeps writing: the same records, keys, checkpoints and snapshots a reader
//! would have seen at that instant. The Merkle nodes are not copied but rebuilt from the leaves (the backup then
//! verifies the whole copy against the signed checkpoints, `crate::integrity`).

use siteledger_signer::merkle::{Frontier, Hash, NodeId};

use super::{
    CHECKPOINTS, CheckpointRow, Dialect, EventRow, HEAD, KEYS, KeyRow, READ_ALL, SNAPSHOTS, SnapshotRow, clamp_i64,
    clamp_limit, db_err,
};
use crate::postgres::PgStore;
use crate::store::{Commit, EventStore, StoreError, StoredCheckpoint};

/// Records read (and committed to the target) per page.
const PAGE: usize = 4096;

/// Copies the log of `source` into `target`, which must be empty, from one snapshot; returns the number of records.
/// Each stored checkpoint goes in with the commit that ends at its size, so the target holds every checkpoint.
pub async fn export_postgres<T: EventStore>(source: &PgStore, target: &T) -> Result<u64, StoreError> {
    let d = Dialect::Postgres;
    if target.head().await? != 0 {
        return Err(StoreError::Conflict("the export's target store is not empty".into()));
    }
    let mut conn = source.pool().acquire().await.map_err(db_err("connecting for the export"))?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *conn)
        .await
        .map_err(db_err("beginning the export's snapshot"))?;
    let head: i64 = sqlx::query_scalar(HEAD.get(d)).fetch_one(&mut *conn).await.map_err(db_err("reading the head"))?;
    let head = u64::try_from(head).map_err(|_| StoreError::Corrupt(format!("negative head {head}")))?;
    let checkpoints: Vec<StoredCheckpoint> = sqlx::query_as::<_, CheckpointRow>(CHECKPOINTS.get(d))
        .bind(0i64)
        .bind(i64::MAX)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err("reading the checkpoints"))?
        .into_iter()
        .map(CheckpointRow::into_checkpoint)
        .collect::<Result<_, _>>()?;
    let mut keys = sqlx::query_as::<_, KeyRow>(KEYS.get(d))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err("reading the keys"))?
        .into_iter()
        .map(KeyRow::into_key)
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_by_key(|k| k.enrolled_at);
    let mut keys = keys.into_iter().peekable();
    let mut checkpoints = checkpoints.into_iter().filter(|c| c.size <= head).peekable();

    let mut frontier = Frontier::new();
    let mut buffered = Vec::new();
    while let Some(cp) = checkpoints.next_if(|c| c.size == 0) {
        target.commit(0, &Commit { checkpoint: Some(cp), ..Commit::default() }).await?;
    }
    while frontier.size() < head {
        if buffered.is_empty() {
            buffered = sqlx::query_as::<_, EventRow>(READ_ALL.get(d))
                .bind(clamp_i64(frontier.size()))
                .bind(clamp_limit(PAGE))
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err("reading records"))?
                .into_iter()
                .map(EventRow::into_event)
                .collect::<Result<Vec<_>, _>>()?;
            buffered.reverse();
            if buffered.is_empty() {
                return Err(StoreError::Corrupt(format!("the log ends at {} below its head {head}", frontier.size())));
            }
        }
        // One commit: up to the next checkpoint's size or the end of the page.
        let start = frontier.size();
        let stop = checkpoints.peek().map_or(head, |c| c.size).min(start + buffered.len() as u64);
        let mut commit = Commit::default();
        let mut nodes: Vec<(NodeId, Hash)> = Vec::new();
        while frontier.size() < stop {
            let event = buffered.pop().ok_or_else(|| StoreError::Corrupt("a page ended early".into()))?;
            if event.position != frontier.size() {
                return Err(StoreError::Corrupt(format!("no record at position {}", frontier.size())));
            }
            frontier.push_into(event.leaf_hash, &mut nodes);
            commit.events.push(event);
        }
        commit.nodes = nodes.into_iter().filter(|(id, _)| id.level > 0).collect();
        while let Some(k) = keys.next_if(|k| k.enrolled_at < stop) {
            commit.new_keys.push(k);
        }
        commit.checkpoint = checkpoints.next_if(|c| c.size == stop);
        target.commit(start, &commit).await?;
    }
    // Keys whose enrolment position lies past the head cannot exist; anything left is corruption.
    if let Some(k) = keys.next() {
        return Err(StoreError::Corrupt(format!(
            "key {} is enrolled at position {} past the head",
            k.key_id, k.enrolled_at
        )));
    }
    let snapshots = sqlx::query_as::<_, SnapshotRow>(SNAPSHOTS.get(d))
        .bind(clamp_limit(16))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err("reading the snapshots"))?;
    sqlx::query("COMMIT").execute(&mut *conn).await.map_err(db_err("ending the export's snapshot"))?;
    for row in snapshots.into_iter().rev() {
        let snapshot = row.into_snapshot()?;
        if snapshot.size <= head {
            target.put_snapshot(&snapshot, 3).await?;
        }
    }
    Ok(head)
}
