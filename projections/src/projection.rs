//! The [`Projection`] trait and the one list of projections ([`PROJECTIONS`]) the engine, the schema and the error
//! isolation iterate. Adding a projection is a module implementing the trait plus one line in the list.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use crate::db::Tx;
use crate::prepare::Prepared;

/// What a fold (or a seed) returns: it runs inside the batch's transaction.
pub(crate) type FoldFuture<'a> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// What a fold reports to the engine besides its writes, acted on after the batch commits.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Projects whose district or participants may have changed: their access-cache entries are reloaded.
    pub(crate) access_changed: HashSet<String>,
}

/// A read model: a set of tables folded from the log, with its own checkpoint row in `projection_checkpoints`.
///
/// The engine hands [`Projection::fold`] the records from this projection's checkpoint on (consecutive, typed
/// once per batch, see [`Prepared`]) inside the batch's transaction, and advances the checkpoint in the same
/// transaction: a fold must be deterministic and write only its own tables (it may read tables of projections
/// earlier in [`PROJECTIONS`]). A fold that panics or writes data the database refuses has the failing record
/// isolated and skipped (`fold_errors`); a fold never reads a clock.
pub(crate) trait Projection: Sync {
    /// Name in `projection_checkpoints` and `fold_errors`.
    fn name(&self) -> &'static str;
    /// Code version: bump it when the fold or the tables change; the projection alone is cleared and refolded.
    fn version(&self) -> i64;
    /// The tables this projection owns (dropped and re-created when it is cleared).
    fn tables(&self) -> &'static [&'static str];
    /// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
    fn ddl(&self) -> &'static [&'static str];
    /// Rows present without any record, written whenever the tables are (re-)created. None by default.
    fn seed<'a>(&'a self, _tx: &'a mut Tx) -> FoldFuture<'a> {
        Box::pin(std::future::ready(Ok(())))
    }
    /// Folds `batch` (consecutive records, this projection's checkpoint first) into the tables.
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], fx: &'a mut Effects) -> FoldFuture<'a>;
}

/// Every projection, in the order they fold each batch (later ones may read earlier ones' tables: the alarms read
/// signer keys and the timeline, supervision reads signer keys).
pub(crate) static PROJECTIONS: &[&dyn Projection] = &[
    &crate::core::Registry,
    &crate::core::Keys,
    &crate::core::Activity,
    &crate::core::Alarms,
    &crate::core::Citations,
    &crate::workforce::Workforce,
    &Site,
    &crate::supervision::Supervision,
    &crate::rating::Rating,
];

/// The site projection (`crate::site`), connected through its module's entry point.
///
/// What it is handed: `crate::site::fold(tx, batch)` with `batch: &[Prepared]` — every record from its checkpoint
/// on, each with `e` (the stored record), `event` (its typed [`crate::prepare::Event`], `None` if it does not
/// type-check), `payload` (the signed payload), `occurred_us`, `day` and `project`. A site fold that reads
/// `x.domain()` instead of parsing `x.payload` again needs no other change here.
struct Site;

impl Projection for Site {
    fn name(&self) -> &'static str {
        crate::site::NAME
    }
    fn version(&self) -> i64 {
        crate::site::VERSION
    }
    fn tables(&self) -> &'static [&'static str] {
        crate::site::TABLES
    }
    fn ddl(&self) -> &'static [&'static str] {
        crate::site::DDL
    }
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], _fx: &'a mut Effects) -> FoldFuture<'a> {
        Box::pin(crate::site::fold(tx, batch))
    }
}
