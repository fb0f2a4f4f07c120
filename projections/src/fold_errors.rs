//! Records that cannot be folded: found record by record, skipped in the projection they break, and kept in the
//! `fold_errors` table (and the log) so a bureau sees what its read models lack.
//!
//! One record must never stall a projection: the log is append-only, so a record that makes a fold panic (or that
//! the read database refuses) would otherwise be retried forever, after every restart, while the lag grows. Such
//! a record is skipped in that projection only (the other projections fold it), the projection's checkpoint moves
//! past it in the same transaction that records the error, and a later code version that can fold it replays the
//! projection from 0 (its version bump clears the projection and its errors).

use serde::Serialize;
use sqlx::error::ErrorKind;

use crate::Scope;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;
use crate::fold::{Failure, Prepared, apply_prepared};
use crate::projection::{PROJECTIONS, Projection};
use crate::queries::project_visible;

/// The table (in the base schema; rows are removed with their projection's other rows).
pub(crate) const DDL: &str = "CREATE TABLE IF NOT EXISTS fold_errors (
        projection  TEXT NOT NULL,
        position    BIGINT NOT NULL,
        event_id    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        project_id  TEXT,
        error       TEXT NOT NULL,
        PRIMARY KEY (projection, position)
    )";

/// Longest error text kept (a panic message is short; this bounds what a record can make us store).
const MAX_ERROR_CHARS: usize = 500;

/// Whether a fold's database error is the database refusing the data (a constraint, a value out of range, text it
/// cannot store), which retrying cannot cure — as opposed to the database being unavailable or busy.
pub(crate) fn refuses_data(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            matches!(
                d.kind(),
                ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation
            ) || (d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some()
                // SQLSTATE class 22: data exception (numeric out of range, invalid text such as NUL, …).
                && d.code().is_some_and(|c| c.starts_with("22")))
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    format!("the fold panicked: {text}")
}

/// Folds `prepared` record by record after a batch failed on one of them: each record that fails in a projection
/// is skipped there (and recorded); as soon as the failing record is past, the rest is folded as a batch again.
/// Returns the number of records applied or skipped.
pub(crate) async fn isolate(db: &ReadDb, prepared: &[Prepared<'_>]) -> Result<usize, ProjectionError> {
    let mut done = 0;
    let mut i = 0;
    while i < prepared.len() {
        let one = &prepared[i..=i];
        match apply_prepared(db, one, None).await {
            Ok(n) => {
                done += n;
                i += 1;
                continue;
            }
            Err(Failure::Store(e)) => return Err(e),
            Err(Failure::Record { .. }) => {}
        }
        // This record breaks at least one projection: fold it into each alone, and skip it where it fails.
        for &p in PROJECTIONS {
            match apply_prepared(db, one, Some(p)).await {
                Ok(_) => {}
                Err(Failure::Store(e)) => return Err(e),
                Err(Failure::Record { reason, .. }) => skip(db, p, &one[0], &reason).await?,
            }
        }
        done += 1;
        i += 1;
        if i < prepared.len() {
            match apply_prepared(db, &prepared[i..], None).await {
                Ok(n) => return Ok(done + n),
                Err(Failure::Store(e)) => return Err(e),
                // Another bad record further on: continue record by record.
                Err(Failure::Record { .. }) => {}
            }
        }
    }
    db.publish_applied().await?;
    Ok(done)
}

/// Records that `x` cannot be folded into `p` and moves `p`'s checkpoint past it, in one transaction.
async fn skip(db: &ReadDb, p: &dyn Projection, x: &Prepared<'_>, reason: &str) -> Result<(), ProjectionError> {
    let reason: String = reason.chars().take(MAX_ERROR_CHARS).collect();
    tracing::error!(
        projection = p.name(),
        position = x.e.position,
        kind = %x.e.kind,
        event_id = %x.e.event_id,
        error = %reason,
        "projections: a record cannot be folded; it is skipped in this projection (see fold_errors)"
    );
    let mut tx = db.begin().await?;
    let lock = if tx.is_postgres() {
        "SELECT name, position FROM projection_checkpoints WHERE name = ? FOR UPDATE"
    } else {
        "SELECT name, position FROM projection_checkpoints WHERE name = ?"
    };
    let cp: Option<(String, i64)> = tx.fetch_optional(&Sql::new(lock).arg(p.name())).await?;
    if cp.map(|(_, c)| c) != Some(crate::db::to_i64(x.e.position)) {
        // Another runner moved the checkpoint meanwhile: nothing to skip here.
        tx.commit().await?;
        return Ok(());
    }
    tx.execute(
        &Sql::new(
            "INSERT INTO fold_errors (projection, position, event_id, kind, project_id, error) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (projection, position) DO UPDATE SET error = excluded.error",
        )
        .arg(p.name())
        .arg(x.e.position)
        .arg(x.e.event_id.to_string())
        .arg(x.e.kind.as_str())
        .arg(x.project)
        .arg(reason),
    )
    .await?;
    tx.execute(
        &Sql::new("UPDATE projection_checkpoints SET position = ? WHERE name = ? AND position = ?")
            .arg(x.e.position + 1)
            .arg(p.name())
            .arg(x.e.position),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A record a projection skipped because it could not be folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct FoldErrorRow {
    /// The projection that lacks the record (`workforce`, `site`, …).
    pub projection: String,
    /// Log position of the record.
    pub position: i64,
    /// Its event id.
    pub event_id: String,
    /// Its kind.
    pub kind: String,
    /// Its project, for `project/<id>/…` streams.
    pub project_id: Option<String>,
    /// What went wrong.
    pub error: String,
}

impl ReadDb {
    /// The records the read models skipped because they could not be folded, newest first (at most `limit`),
    /// restricted to `scope` (records outside any project only for [`Scope::All`]).
    pub async fn fold_errors(&self, scope: &Scope, limit: u32) -> Result<Vec<FoldErrorRow>, ProjectionError> {
        let mut q = Sql::new("SELECT projection, position, event_id, kind, project_id, error FROM fold_errors WHERE ");
        if *scope == Scope::All {
            q.push("1 = 1");
        } else {
            q.push("project_id IS NOT NULL AND ");
            project_visible(&mut q, scope, "project_id");
        }
        q.push(" ORDER BY position DESC, projection LIMIT ");
        q.bind(i64::from(limit.clamp(1, 10_000)));
        Ok(self.fetch_all(&q).await?)
    }

    /// How many (projection, record) pairs were skipped because they could not be folded (a metric).
    pub async fn fold_error_count(&self) -> Result<u64, ProjectionError> {
        let n: Option<(i64,)> =
            self.fetch_optional(&Sql::new("SELECT CAST(COUNT(*) AS BIGINT) FROM fold_errors")).await?;
        Ok(n.map_or(0, |(n,)| crate::db::to_u64(n)))
    }
}
