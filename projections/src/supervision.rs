//! Read models of supervision workflows (inspections, testing, 危大工程, BIM, coordination tasks). (Scaffold: the subsystem's issue fills it in.)
//!
//! The projection `supervision` folds `inspection.*`, `testing.*`, `hazard.*`, `bim.*` and `task.*` records into its tables; its queries are `impl ReadDb` blocks here and
//! take a [`Scope`](crate::Scope).

use crate::db::Tx;
use crate::fold::Prepared;

/// Name in `projection_checkpoints`.
pub(crate) const NAME: &str = "supervision";
/// Code version: bump it when the fold or the tables change; the tables are re-created and refolded.
pub(crate) const VERSION: i64 = 1;
/// Tables this projection owns.
pub(crate) const TABLES: &[&str] = &[];
/// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
pub(crate) const DDL: &[&str] = &[];

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(crate) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let _ = (tx, events);
    Ok(())
}
