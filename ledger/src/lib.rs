//! The ledger: where a signed record becomes evidence.
//!
//! Layout:
//! * [`store`]: the event-store port ([`store::EventStore`]) that every adapter implements.
//! * [`sqlite`]: the embedded default (one file, WAL); [`postgres`]: the production single-region store; both run
//!   the one SQL implementation in [`sql`], whose [`sql::dialect`] module holds every difference between them;
//!   `kurrent` (feature `kurrentdb`): KurrentDB/EventStoreDB for clusters.
//! * [`domain_policy`]: the platform's ingest policy, the `domain` crate's rules behind the [`system::Policy`] port.
//! * [`sequencer`]: the single writer: ingest rules, signer chains, positions, Merkle nodes, checkpoints,
//!   group commit. [`Ledger`] is its handle.
//! * [`integrity`]: a whole store verified against its leaves, Merkle nodes and signed checkpoints (restore).
//! * [`snapshot`]: the policy's state stored at checkpoints and restored at open (only the records after it are
//!   replayed), and the from-zero replay that checks it.
//!
//! Positions are dense Merkle leaf indices assigned by the sequencer; adapters persist what the sequencer decided,
//! atomically, and refuse a commit if another writer moved the head.

pub mod any;
pub mod domain_policy;
pub mod error;
pub mod integrity;
#[cfg(feature = "kurrentdb")]
pub mod kurrent;
pub mod postgres;
pub mod sequencer;
pub mod snapshot;
pub mod sql;
pub mod sqlite;
pub mod store;
pub mod system;
mod verifiers;

pub use any::AnyStore;
pub use domain_policy::DomainPolicy;
pub use error::{AppendError, ExpectedVersion, LedgerError, Rejection};
pub use sequencer::{IngestOutcome, Ledger, LedgerConfig, LedgerStats};
pub use store::{Commit, Direction, EventStore, StoreError, StoredCheckpoint, StoredEvent, StoredKey, StoredSnapshot};
