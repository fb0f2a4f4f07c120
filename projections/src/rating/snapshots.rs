//! Snapshots of the rating fold (`rating_fold_snapshots`): the state of
//! [`RatingFold`](siteledger_domain::rating::fold::RatingFold) after the log's first N
//! records, stored in the read database with N, the root hash of the tree of size N and the SHA-256 of its bytes.
//!
//! They live in the read database, not in the event store: the fold is a read-side computation (derived,
//! disposable, rebuilt from the log at will), the read database is where derived state lives, and writing a
//! snapshot there never takes the ledger's writer, so ingest is never blocked by one. Nothing is trusted blindly:
//! a snapshot is used only if its bytes hash to the stored digest, its root equals the log's own root at its size
//! (so a read database of another log, or one left behind by a rewritten test log, is useless rather than
//! harmful), it parses, and it was folded with the same credit rules; anything else is ignored with a warning and
//! deleted.
//!
//! Bounded: per fold version and credit-rules version, the [`KEEP_LAST`] largest sizes, the [`KEEP_RECENT`] most
//! recently written (so repeated as-of queries near an older size, an auditor's pattern, find theirs), plus the
//! newest of each day (the Asia/Shanghai day record N − 1 was sequenced) for the [`KEEP_DAYS`] days before the
//! newest, plus the newest of each older month. So the table holds at most `KEEP_LAST + KEEP_RECENT + KEEP_DAYS +
//! months of log` rows per rules version in use, whatever the log's length, and an as-of query at an old size
//! resumes at most a day (a month, beyond [`KEEP_DAYS`]) of records before it, or from its own earlier snapshot.

use crate::db::{ReadDb, Sql, to_i64, to_u64};
use crate::error::ProjectionError;

/// Version of the snapshot layout and of the fold code it was made by: snapshots of another version are
/// ignored and deleted (bump it whenever `RatingFold` or what it folds changes). 2: the fold measures cameras'
/// online time (`ProjectLog::cameras`, issue 19); a version-1 snapshot lacks it.
pub const FOLD_VERSION: i64 = 2;

/// Snapshots of the largest sizes always kept (per credit-rules version).
pub const KEEP_LAST: usize = 3;

/// Most recently written snapshots always kept (per credit-rules version).
pub const KEEP_RECENT: usize = 4;

/// Days before the newest snapshot for which the newest snapshot of each day is kept; older ones keep one per month.
pub const KEEP_DAYS: i64 = 31;

/// DDL of the snapshot table (part of the read database's own schema).
pub(crate) const DDL: &str = "CREATE TABLE IF NOT EXISTS rating_fold_snapshots (
        fold_version  BIGINT NOT NULL,
        rules_version BIGINT NOT NULL,
        tree_size     BIGINT NOT NULL,
        root          TEXT NOT NULL,
        sha256        TEXT NOT NULL,
        day           TEXT NOT NULL,
        written       BIGINT NOT NULL,
        state         TEXT NOT NULL,
        PRIMARY KEY (fold_version, rules_version, tree_size)
    )";

/// A stored snapshot's description (without its state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Credit-rules version the fold derived credit records with (0: none).
    pub rules_version: u32,
    /// Tree size N: the fold holds the log's first N records.
    pub tree_size: u64,
    /// Root hash of the tree of size N (lowercase hex).
    pub root: String,
    /// SHA-256 of the state bytes (lowercase hex).
    pub sha256: String,
    /// Asia/Shanghai day (`YYYY-MM-DD`) on which record N − 1 was sequenced (for thinning).
    pub day: String,
}

/// A snapshot to store: its description and the canonical bytes of the fold's state.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// Its description.
    pub meta: SnapshotMeta,
    /// Canonical JSON (RFC 8785) of the fold.
    pub state: String,
}

#[derive(sqlx::FromRow)]
struct MetaRow {
    rules_version: i64,
    tree_size: i64,
    root: String,
    sha256: String,
    day: String,
}

impl From<MetaRow> for SnapshotMeta {
    fn from(r: MetaRow) -> Self {
        SnapshotMeta {
            rules_version: u32::try_from(r.rules_version).unwrap_or(u32::MAX),
            tree_size: to_u64(r.tree_size),
            root: r.root,
            sha256: r.sha256,
            day: r.day,
        }
    }
}

impl ReadDb {
    /// Stored snapshots of credit-rules version `rules_version` (0: without rules) at sizes up to `max_size`, the
    /// largest first, at most `limit`.
    pub async fn fold_snapshots(
        &self,
        rules_version: u32,
        max_size: u64,
        limit: usize,
    ) -> Result<Vec<SnapshotMeta>, ProjectionError> {
        let rows: Vec<MetaRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT rules_version, tree_size, root, sha256, day FROM rating_fold_snapshots \
                     WHERE fold_version = ? AND rules_version = ? AND tree_size <= ? \
                     ORDER BY tree_size DESC LIMIT ?",
                )
                .arg(FOLD_VERSION)
                .arg(i64::from(rules_version))
                .arg(max_size)
                .arg(to_i64(limit as u64)),
            )
            .await?;
        Ok(rows.into_iter().map(SnapshotMeta::from).collect())
    }

    /// The state bytes of one snapshot, as stored (unchecked: the caller checks them against the digest and root).
    pub async fn fold_snapshot_state(
        &self,
        rules_version: u32,
        tree_size: u64,
    ) -> Result<Option<String>, ProjectionError> {
        let row: Option<(String,)> = self
            .fetch_optional(
                &Sql::new(
                    "SELECT state FROM rating_fold_snapshots \
                     WHERE fold_version = ? AND rules_version = ? AND tree_size = ?",
                )
                .arg(FOLD_VERSION)
                .arg(i64::from(rules_version))
                .arg(tree_size),
            )
            .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Stores a snapshot (a second one at the same size and rules version is ignored: it would hold the same
    /// state), then thins the rules version's snapshots to the bound in the module's documentation and deletes
    /// those of other fold versions.
    pub async fn save_fold_snapshot(&self, s: &NewSnapshot) -> Result<(), ProjectionError> {
        let mut tx = self.begin().await?;
        // Write order, for keeping the most recently written; two concurrent writers may share a number, which only
        // keeps one more snapshot for a while.
        let (written,): (i64,) = tx
            .fetch_optional(&Sql::new(
                "SELECT CAST(COALESCE(MAX(written), 0) + 1 AS BIGINT) FROM rating_fold_snapshots",
            ))
            .await?
            .unwrap_or((1,));
        tx.execute(
            &Sql::new(
                "INSERT INTO rating_fold_snapshots \
                 (fold_version, rules_version, tree_size, root, sha256, day, written, state) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fold_version, rules_version, tree_size) DO NOTHING",
            )
            .arg(FOLD_VERSION)
            .arg(i64::from(s.meta.rules_version))
            .arg(s.meta.tree_size)
            .arg(&s.meta.root)
            .arg(&s.meta.sha256)
            .arg(&s.meta.day)
            .arg(written)
            .arg(&s.state),
        )
        .await?;
        tx.execute(&Sql::new("DELETE FROM rating_fold_snapshots WHERE fold_version <> ?").arg(FOLD_VERSION)).await?;
        let rows: Vec<(i64, String, i64)> = tx
            .fetch_all(
                &Sql::new(
                    "SELECT tree_size, day, written FROM rating_fold_snapshots \
                     WHERE fold_version = ? AND rules_version = ? ORDER BY tree_size DESC",
                )
                .arg(FOLD_VERSION)
                .arg(i64::from(s.meta.rules_version)),
            )
            .await?;
        for size in thinned(&rows) {
            tx.execute(
                &Sql::new(
                    "DELETE FROM rating_fold_snapshots WHERE fold_version = ? AND rules_version = ? AND tree_size = ?",
                )
                .arg(FOLD_VERSION)
                .arg(i64::from(s.meta.rules_version))
                .arg(size),
            )
            .await?;
        }
        tx.commit().await?;
        self.after_commit().await;
        Ok(())
    }

    /// Deletes one snapshot (found unusable).
    pub async fn delete_fold_snapshot(&self, rules_version: u32, tree_size: u64) -> Result<(), ProjectionError> {
        let mut tx = self.begin().await?;
        tx.execute(
            &Sql::new(
                "DELETE FROM rating_fold_snapshots WHERE fold_version = ? AND rules_version = ? AND tree_size = ?",
            )
            .arg(FOLD_VERSION)
            .arg(i64::from(rules_version))
            .arg(tree_size),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The snapshots to delete among `rows` ((size, day, written), the largest size first): all but the [`KEEP_LAST`]
/// largest, the [`KEEP_RECENT`] most recently written, the newest of each day within [`KEEP_DAYS`] days of the
/// newest, and the newest of each older month.
fn thinned(rows: &[(i64, String, i64)]) -> Vec<i64> {
    let Some((_, newest_day, _)) = rows.first() else { return Vec::new() };
    let newest = siteledger_domain::LocalDate::parse(newest_day).ok();
    let mut by_written: Vec<i64> = rows.iter().map(|(_, _, w)| *w).collect();
    by_written.sort_unstable_by(|a, b| b.cmp(a));
    let recent_from = by_written.get(KEEP_RECENT - 1).copied().unwrap_or(i64::MIN);
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, (size, day, written)) in rows.iter().enumerate() {
        let within_days = match (newest, siteledger_domain::LocalDate::parse(day).ok()) {
            (Some(n), Some(d)) => (n.date() - d.date()).whole_days() <= KEEP_DAYS,
            _ => false,
        };
        let bucket = if within_days { day.clone() } else { day.get(..7).unwrap_or(day).to_owned() };
        let first_of_bucket = seen.insert(bucket);
        if i < KEEP_LAST || *written >= recent_from || first_of_bucket {
            continue;
        }
        out.push(*size);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{KEEP_LAST, KEEP_RECENT, thinned};

    #[test]
    fn thinning_keeps_the_last_few_one_per_recent_day_and_one_per_older_month() {
        // Largest first: three on 2026-03-10, two on 03-09, one on 03-01, two in February (more than 31 days before
        // 03-10), two in January; written in size order (the oldest write first).
        let rows: Vec<(i64, String, i64)> = [
            (100, "2026-03-10"),
            (90, "2026-03-10"),
            (80, "2026-03-10"),
            (70, "2026-03-09"),
            (60, "2026-03-09"),
            (50, "2026-03-01"),
            (40, "2026-02-05"),
            (30, "2026-02-01"),
            (20, "2026-01-20"),
            (10, "2026-01-02"),
        ]
        .iter()
        .map(|(s, d)| (*s, (*d).to_owned(), *s))
        .collect();
        assert_eq!((KEEP_LAST, KEEP_RECENT), (3, 4));
        // The four most recent writes are 100..70 (kept anyway). 60: second of 03-09; 30: second of February
        // (02-05 kept); 10: second of January.
        assert_eq!(thinned(&rows), vec![60, 30, 10]);
    }

    #[test]
    fn an_as_of_snapshot_written_last_survives_the_thinning_of_its_busy_day() {
        // Every snapshot on one day: only the largest three and the most recently written four survive, so the one
        // an as-of query just left at an old size (written last) is there for the next query.
        let rows: Vec<(i64, String, i64)> =
            (1..=10).rev().map(|i| (i * 1000, "2026-12-07".to_owned(), if i == 2 { 99 } else { i })).collect();
        let gone = thinned(&rows);
        assert!(!gone.contains(&2000), "{gone:?}");
        assert_eq!(gone, vec![7000, 6000, 5000, 4000, 3000, 1000]);
    }
}
