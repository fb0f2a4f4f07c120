//! The crate's error type.

use siteledger_ledger::LedgerError;

/// Errors of the read database and the projection runtime.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The URL names no supported database.
    #[error("unsupported read database URL {0:?}: use sqlite:PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The read database failed or is unreachable: retry later (nothing half-applied stays).
    #[error("read database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Reading the ledger failed.
    #[error("ledger error: {0}")]
    Ledger(#[from] LedgerError),
    /// The events handed to a projection do not continue at its checkpoint (a skipped range): the caller must
    /// re-read from the checkpoint. Nothing was applied.
    #[error("projection {name} expects position {expected} next, got {found}")]
    NotContiguous {
        /// Projection name.
        name: &'static str,
        /// Its checkpoint (next position to apply).
        expected: u64,
        /// First position offered at or after it.
        found: u64,
    },
    /// The read database holds something this version cannot use.
    #[error("read database is inconsistent: {0}")]
    Corrupt(String),
}
