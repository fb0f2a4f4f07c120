//! `siteledger-client`: the one way SiteLedger's Rust code produces records. A producer (the site agent, the
//! `siteledger submit` command, the demo city, the load bench) builds a [`Record`] from the domain's payload types,
//! and the client checks it against the domain ([`siteledger_domain::validate_envelope`]) before anything is
//! signed, signs it into the producer's own chain (`seq`/`prev`, docs/FORMAT.md), keeps it durably until the
//! platform has answered for it, and posts it to `POST /v1/events`.
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | key files (load; generate with mode 0600; refuse a file readable by group or others) and secret files (tokens) |
//! | [`record`] | a record to sign (kind, stream, occurred_at, payload), built from the domain's types and checked against them |
//! | [`blobs`] | [`LocalBlobs`]: the files records cite, content-addressed beside the outbox until uploaded |
//! | [`chain`] | [`MemoryChain`]: a signer chain kept in memory, for producers that resume from the ledger's head themselves; [`KeyedChain`]: a key with its memory chain |
//! | [`outbox`] | the durable SQLite outbox: chain and records in one transaction, group commit, bounded bytes, parked rejections, idempotent source keys |
//! | [`idempotency`] | source keys for batch imports (`<sha256 of the file>:<line>`) |
//! | [`ingest`] | [`IngestClient`]: `POST /v1/events`, per-item answers as `domain::wire` types, which failures to retry |
//! | [`uploader`] | [`Uploader`]: drains the outbox in chain order with retries, backoff and idempotent resends |
//!
//! Crash safety is the outbox's job: the chain's head is stored in the same SQLite transaction as the records it
//! signed (WAL, `synchronous = FULL`), so after SIGKILL or power loss the chain resumes exactly after the last
//! durable record and never reuses a `seq` (which the platform would record as equivocation).
//!
//! ```text
//! producers (gateway-agent, cli `submit`, demo, bench)
//!         │
//!   siteledger-client ──► domain (payload types, validate_envelope, wire answers)
//!         └─────────────► signer (canonical envelopes, Ed25519, key files)
//! ```

pub mod blobs;
pub mod chain;
pub mod idempotency;
pub mod ingest;
pub mod keys;
pub mod outbox;
pub mod record;
pub mod retention;
pub mod uploader;

pub use blobs::LocalBlobs;
pub use chain::{KeyedChain, MemoryChain};
pub use ingest::{IngestClient, PostError};
pub use outbox::{Outbox, OutboxError, OutboxHandle, Stored, Submitted};
pub use record::{Record, RecordError};
pub use uploader::{UploadStats, Uploader};
