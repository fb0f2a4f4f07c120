//! The witness's decision on one `add-checkpoint` request and its cosignature (C2SP tlog-witness).
//!
//! Order of checks, each with the spec's status: a well-formed body (400), a known origin (404), a valid signature
//! by that log's key (403), old size not above the new size (400), old size equal to the size this witness last
//! cosigned (409 with its size), an equal size with an equal root (409: a split view), a consistency proof that
//! verifies (422). Only then does the witness persist the new tree and cosign it. Check and update run under one
//! lock, so two concurrent requests cannot roll the state back (the race the spec describes).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use siteledger_signer::cosignature::{CosignatureError, Cosigner, WitnessVerifier};
use siteledger_signer::merkle::{empty_root, verify_consistency};
use siteledger_signer::note::{self, Checkpoint, NoteError, NoteVerifier};

use crate::request::{self, AddCheckpoint, RequestError};
use crate::state::{LogState, StateError, StateStore};

/// The witness's clock: POSIX seconds, injected so tests do not depend on the wall clock.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// Why the witness does not cosign. Each variant is one of the spec's answers; [`WitnessError::status`] names it.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// 400: the body breaks the request grammar.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// 400: the note or its checkpoint text is malformed.
    #[error("检查点格式错误 / malformed checkpoint: {0}")]
    Checkpoint(String),
    /// 400: the old size is above the checkpoint's size.
    #[error("old 大小 {old} 大于检查点大小 {size} / old size {old} is larger than the checkpoint size {size}")]
    OldAboveNew {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// 404: this witness does not follow the origin.
    #[error("未知日志 / unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// 403: no signature by the log's key verifies.
    #[error("检查点未经该日志密钥签名 / the checkpoint is not signed by the log's key: {0}")]
    NotSigned(String),
    /// 409: the old size is not the size this witness last cosigned (answer: its size).
    #[error("old 大小与见证人记录不符 / old size {old} differs from the witness's size {size}")]
    SizeMismatch {
        /// The request's old size.
        old: u64,
        /// The size this witness last cosigned for the origin.
        size: u64,
    },
    /// 409: the same size with a different root than the one this witness cosigned: a split view.
    #[error(
        "同一大小的不同根：分叉视图 / a different root for size {size} than the one this witness cosigned: split view"
    )]
    SplitView {
        /// The size (this witness's size).
        size: u64,
    },
    /// 422: the consistency proof does not verify from this witness's tree to the new one.
    #[error("一致性证明无效 / the consistency proof from {old} to {size} does not verify: {reason}")]
    Inconsistent {
        /// The witness's (and request's) old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        reason: String,
    },
    /// 500: the state could not be read or written; nothing was cosigned.
    #[error(transparent)]
    State(#[from] StateError),
    /// 500: signing failed (a clock beyond 2^63 − 1).
    #[error(transparent)]
    Cosign(#[from] CosignatureError),
}

impl WitnessError {
    /// The HTTP status the spec gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::Request(_) | WitnessError::Checkpoint(_) | WitnessError::OldAboveNew { .. } => 400,
            WitnessError::NotSigned(_) => 403,
            WitnessError::UnknownOrigin(_) => 404,
            WitnessError::SizeMismatch { .. } | WitnessError::SplitView { .. } => 409,
            WitnessError::Inconsistent { .. } => 422,
            WitnessError::State(_) | WitnessError::Cosign(_) => 500,
        }
    }
    /// For a 409, the witness's size (the `text/x.tlog.size` body).
    pub fn witness_size(&self) -> Option<u64> {
        match self {
            WitnessError::SizeMismatch { size, .. } | WitnessError::SplitView { size } => Some(*size),
            _ => None,
        }
    }
}

/// A witness: its cosigning key, the logs it follows, its durable state and its clock.
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, NoteVerifier>,
    state: StateStore,
    clock: Clock,
    /// Held across check and update of the state (the spec's atomicity requirement).
    lock: Mutex<()>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("cosigner", &self.cosigner)
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness following `logs` (each log's origin is its key name).
    pub fn new(cosigner: Cosigner, logs: Vec<NoteVerifier>, state: StateStore, clock: Clock) -> Witness {
        let logs = logs.into_iter().map(|v| (v.name().to_owned(), v)).collect();
        Witness { cosigner, logs, state, clock, lock: Mutex::new(()) }
    }

    /// The witness's verifier key (what a log and a verifier configure).
    pub fn verifier(&self) -> WitnessVerifier {
        self.cosigner.verifier()
    }

    /// Handles an `add-checkpoint` body: the cosignature line on success. Blocking (it fsyncs); call it from a
    /// blocking thread in async code.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, WitnessError> {
        let req = request::parse(body)?;
        self.add(&req)
    }

    /// Handles a parsed request.
    pub fn add(&self, req: &AddCheckpoint) -> Result<String, WitnessError> {
        let (text, _) = note::split(&req.note).map_err(|e| WitnessError::Checkpoint(e.to_string()))?;
        let cp = Checkpoint::parse(text).map_err(|e| WitnessError::Checkpoint(e.to_string()))?;
        let log = self.logs.get(&cp.origin).ok_or_else(|| WitnessError::UnknownOrigin(cp.origin.clone()))?;
        match note::open(&req.note, log, false) {
            Ok(_) => {}
            Err(e @ (NoteError::NotSigned(_) | NoteError::BadSignature(_))) => {
                return Err(WitnessError::NotSigned(e.to_string()));
            }
            Err(e) => return Err(WitnessError::Checkpoint(e.to_string())),
        }
        if req.old > cp.size {
            return Err(WitnessError::OldAboveNew { old: req.old, size: cp.size });
        }
        // A poisoned lock only means another request panicked mid-check; the state on disk is still whole.
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = self.state.load(&cp.origin)?.unwrap_or(LogState { size: 0, root: empty_root() });
        if req.old != held.size {
            return Err(WitnessError::SizeMismatch { old: req.old, size: held.size });
        }
        if req.old == cp.size && held.root != cp.root {
            return Err(WitnessError::SplitView { size: held.size });
        }
        if req.old == 0 && !req.proof.is_empty() {
            return Err(WitnessError::Inconsistent {
                old: 0,
                size: cp.size,
                reason: "the proof must be empty when the old size is 0".into(),
            });
        }
        verify_consistency(held.size, cp.size, &req.proof, &held.root, &cp.root)
            .map_err(|e| WitnessError::Inconsistent { old: held.size, size: cp.size, reason: e.to_string() })?;
        let line = self.cosigner.cosign(text, (self.clock)())?;
        self.state.store(&cp.origin, LogState { size: cp.size, root: cp.root })?;
        Ok(line)
    }
}
