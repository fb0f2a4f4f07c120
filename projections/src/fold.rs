//! The fold engine: a batch of records prepared once, folded into every projection of [`PROJECTIONS`] in one
//! transaction that also advances their checkpoints (exactly-once effect on at-least-once delivery), with records
//! that break a projection isolated and skipped ([`crate::fold_errors`]).

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use siteledger_ledger::StoredEvent;

use crate::db::{ReadDb, Sql, to_u64};
use crate::error::ProjectionError;
// `crate::site` names the prepared record `crate::fold::Prepared`.
pub(crate) use crate::prepare::Prepared;
use crate::prepare::prepare;
use crate::projection::{Effects, PROJECTIONS, Projection};

/// Folds `events` (ascending, consecutive positions) into every projection in one transaction that also
/// advances the checkpoints. Each projection applies only the events at and after its checkpoint, so handing the
/// same events in again (a retry, a redelivery after a crash) changes nothing. Returns how many events the
/// furthest-behind projection applied (0 if all were already applied).
///
/// A record that cannot be folded (its fold panics, or the database refuses its data) never stops a projection:
/// the batch is folded again record by record, and that record is skipped in the projection it breaks, with the
/// reason in the `fold_errors` table ([`ReadDb::fold_errors`]) and the log; every other record and projection
/// folds as usual. Only failures of the database or the ledger themselves are returned (nothing applied; retry).
///
/// Fails with [`ProjectionError::NotContiguous`] (and applies nothing) if the slice starts after some
/// projection's checkpoint: the caller must read from [`ReadDb::applied`].
pub async fn apply_events(db: &ReadDb, events: &[StoredEvent]) -> Result<usize, ProjectionError> {
    if db.access_cache_dirty() {
        db.reload_access().await?;
        db.mark_access_clean();
    }
    let Some(first) = events.first() else {
        return Ok(0);
    };
    for (i, e) in events.iter().enumerate() {
        if e.position != first.position + i as u64 {
            return Err(ProjectionError::Corrupt(format!(
                "events to fold are not consecutive: position {} at index {i} after {}",
                e.position, first.position
            )));
        }
    }
    let prepared: Vec<Prepared<'_>> = events.iter().map(prepare).collect();
    match apply_prepared(db, &prepared, None).await {
        Ok(n) => Ok(n),
        Err(Failure::Store(e)) => Err(e),
        Err(Failure::Record { projection, reason }) => {
            tracing::warn!(
                first = first.position,
                events = events.len(),
                projection = projection.name(),
                %reason,
                "projections: a record of the batch cannot be folded; folding the batch record by record to skip it"
            );
            crate::fold_errors::isolate(db, &prepared).await
        }
    }
}

/// Why a fold did not commit.
pub(crate) enum Failure {
    /// The read database (or the ledger) failed: nothing was applied; retry later.
    Store(ProjectionError),
    /// Folding into `projection` panicked, or the database refused the data it wrote: retrying the same records
    /// cannot help. Nothing was applied.
    Record {
        /// The projection that failed.
        projection: &'static dyn Projection,
        /// What went wrong.
        reason: String,
    },
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Failure {
        Failure::Store(e.into())
    }
}

impl From<ProjectionError> for Failure {
    fn from(e: ProjectionError) -> Failure {
        Failure::Store(e)
    }
}

/// Folds `prepared` into every projection (or only into `only`) in one transaction. A panic of a fold is caught
/// and reported as [`Failure::Record`], as is a database refusal of the data a fold wrote.
pub(crate) async fn apply_prepared(
    db: &ReadDb,
    prepared: &[Prepared<'_>],
    only: Option<&'static dyn Projection>,
) -> Result<usize, Failure> {
    let mut tx = db.begin().await?;
    let lock = if tx.is_postgres() {
        "SELECT name, position FROM projection_checkpoints FOR UPDATE"
    } else {
        "SELECT name, position FROM projection_checkpoints"
    };
    let checkpoints: Vec<(String, i64)> = tx.fetch_all(&Sql::new(lock)).await?;
    let mut fx = Effects::default();
    let mut applied = 0;
    let mut next_positions = Vec::with_capacity(PROJECTIONS.len());
    for &p in PROJECTIONS {
        let cp = checkpoints
            .iter()
            .find(|(n, _)| n == p.name())
            .map(|(_, c)| to_u64(*c))
            .ok_or_else(|| ProjectionError::Corrupt(format!("no checkpoint row for projection {}", p.name())))?;
        if only.is_some_and(|o| o.name() != p.name()) {
            next_positions.push(cp);
            continue;
        }
        let Some(start) = prepared.iter().position(|x| x.e.position >= cp) else {
            next_positions.push(cp);
            continue;
        };
        if prepared[start].e.position != cp {
            return Err(Failure::Store(ProjectionError::NotContiguous {
                name: p.name(),
                expected: cp,
                found: prepared[start].e.position,
            }));
        }
        let slice = &prepared[start..];
        // The transaction is dropped (rolled back) after a panic, never used again.
        match AssertUnwindSafe(p.fold(&mut tx, slice, &mut fx)).catch_unwind().await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if crate::fold_errors::refuses_data(&e) => {
                return Err(Failure::Record { projection: p, reason: format!("the read database refused: {e}") });
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(panic) => {
                return Err(Failure::Record { projection: p, reason: crate::fold_errors::panic_message(&*panic) });
            }
        }
        let next = slice.last().map_or(cp, |x| x.e.position + 1);
        tx.execute(
            &Sql::new("UPDATE projection_checkpoints SET position = ? WHERE name = ? AND position = ?")
                .arg(next)
                .arg(p.name())
                .arg(cp),
        )
        .await?;
        applied = applied.max(slice.len());
        next_positions.push(next);
    }
    tx.commit().await?;
    db.after_commit().await;
    db.set_applied(next_positions.iter().copied().min().unwrap_or(0));
    if let Err(e) = db.refresh_access(&fx.access_changed).await {
        tracing::warn!(error = %e, "could not refresh the access cache; it is reloaded before the next batch");
        db.mark_access_dirty();
    }
    Ok(applied)
}
