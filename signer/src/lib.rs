//! The cryptographic core of SiteLedger: what makes a record evidence.
//!
//! Every record on the platform is an [`envelope::Envelope`]: a JSON object with an event id, stream, kind,
//! time, the signer's key id, the signer's own sequence number and the hash of that signer's previous envelope,
//! and an Ed25519 signature over its RFC 8785 canonical form. Envelopes are the leaves of an append-only RFC 9162
//! Merkle log whose state is published as C2SP signed checkpoints; an evidence bundle packs records with their
//! proofs so that `siteledger-verify` can check them offline with nothing but the log's public key.
//!
//! Layout:
//! * [`canonical`]: strict JSON input and RFC 8785 canonical output (integer-only I-JSON subset).
//! * [`keys`]: Ed25519 keys, key ids, 0600 key files, strict verification with identical single and batch verdicts.
//! * [`sm2`]: SM2 keys, key ids and key files, SM2 signatures over SM3 (GB/T 32918, GM/T 0009); signer keys of format
//!   1.4 ([`keys::SignerKey`], [`keys::AnySigningKey`], docs/FORMAT.md §11).
//! * [`envelope`]: the signed envelope, its validation and signature.
//! * [`batch`]: a `POST /v1/events` body read into per-item envelopes or refusals (shared by the server and the
//!   fuzz target).
//! * [`merkle`]: RFC 9162 §2.1 hashes and proofs, and the storage-facing node model the `ledger` persists.
//! * [`note`]: C2SP signed notes and tlog checkpoints (interoperable with Go's `sumdb/note` and `sumdb/tlog`).
//! * [`cosignature`]: C2SP tlog-cosignature/v1 witness cosignatures and the `k` of `n` witness policy.
//! * [`bundle`]: evidence bundles and their verification report.
//! * [`court`]: the court report of a verification (电子数据核验报告), as self-contained HTML and as PDF.
//! * [`timestamp`]: RFC 3161 timestamp requests for checkpoints and offline verification of TSA tokens.
//! * [`sample`]: a deterministic sample log for tests, vectors, benchmarks and the demo.
//!
//! The formats are specified in `docs/FORMAT.md`; committed test vectors live in `signer/tests/vectors/`.
//! This crate does no I/O beyond key files, and depends on no database, network or async runtime.

pub mod batch;
pub mod bundle;
pub mod canonical;
pub mod cosignature;
pub mod court;
pub mod envelope;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod sample;
pub mod sm2;
pub mod timestamp;

pub use bundle::{Bundle, Report, verify_bundle, verify_witnessed};
pub use envelope::{Envelope, UnsignedEnvelope};
pub use keys::{KeyId, PublicKey, SigningKey};
pub use merkle::{Hash, MemoryTree};
pub use note::{Checkpoint, NoteSigner, NoteVerifier};
