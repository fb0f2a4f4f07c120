//! The log's side of tlog-witness: submit a signed checkpoint to each configured witness and collect the
//! cosignatures that verify.
//!
//! The client remembers nothing between calls: it starts from the size the caller believes the witness holds
//! (`0` when unknown), and after a 409 answering the witness's size it retries once from that size with the
//! matching consistency proof. A witness that is down, slow or refusing yields an [`Outcome`] explaining why; it
//! never blocks the others (they are asked concurrently, each with a timeout) nor the log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use siteledger_signer::Hash;
use siteledger_signer::cosignature::{WitnessVerifier, verify_cosignatures};
use siteledger_signer::note::Checkpoint;

use crate::request;
use crate::server::TLOG_SIZE;

/// One configured witness: where to reach it and the key its cosignatures must verify with.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// The submission prefix (`http://host:port`); `/add-checkpoint` is appended.
    pub url: String,
    /// The witness's verifier key.
    pub verifier: WitnessVerifier,
}

/// What one witness answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It cosigned: the verified signature line.
    Cosigned(String),
    /// It could not be reached (connection refused, timeout): try again with the next checkpoint.
    Unreachable(String),
    /// It refused the checkpoint (the status and its message): a fork, a rollback or a configuration error.
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its body, bounded.
        message: String,
    },
    /// It answered 200 with something that is not a valid cosignature by its key.
    BadAnswer(String),
}

/// Supplies consistency proofs from an old size to the checkpoint's size (the log's Merkle tree; a database read
/// for a real log, hence async).
pub trait ProofSource: Sync {
    /// The proof from `old` to `new`, or `None` if the log cannot produce it (then the witness is skipped).
    fn consistency(&self, old: u64, new: u64) -> BoxFuture<'_, Option<Vec<Hash>>>;
}

impl ProofSource for siteledger_signer::MemoryTree {
    fn consistency(&self, old: u64, new: u64) -> BoxFuture<'_, Option<Vec<Hash>>> {
        Box::pin(std::future::ready(self.consistency_proof(old, new).ok()))
    }
}

/// The submitting client.
#[derive(Debug, Clone)]
pub struct WitnessClient {
    http: reqwest::Client,
}

impl WitnessClient {
    /// A client whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Result<WitnessClient, reqwest::Error> {
        Ok(WitnessClient { http: reqwest::Client::builder().timeout(timeout).build()? })
    }

    /// Submits `note` (a checkpoint signed by the log) to one witness, starting from `old`.
    pub async fn submit(&self, w: &WitnessEndpoint, note: &str, old: u64, proofs: &dyn ProofSource) -> Outcome {
        let size = match siteledger_signer::note::split(note).ok().and_then(|(text, _)| Checkpoint::parse(text).ok()) {
            Some(cp) => cp.size,
            None => return Outcome::BadAnswer("the log's own checkpoint is malformed".into()),
        };
        let mut old = old.min(size);
        // One retry is enough: after a 409 the witness told us its size, and only a concurrent submission by
        // another log instance can move it again.
        for _ in 0..2 {
            let proof = if old == 0 { Some(Vec::new()) } else { proofs.consistency(old, size).await };
            let Some(proof) = proof else {
                return Outcome::Refused {
                    status: 409,
                    message: format!("the witness holds size {old}, which this log cannot prove consistent"),
                };
            };
            let url = format!("{}/add-checkpoint", w.url.trim_end_matches('/'));
            let resp = match self.http.post(&url).body(request::encode(old, &proof, note)).send().await {
                Ok(r) => r,
                Err(e) => return Outcome::Unreachable(e.to_string()),
            };
            let status = resp.status().as_u16();
            let is_size = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(TLOG_SIZE.as_bytes()));
            let body = match resp.bytes().await {
                Ok(b) => String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned(),
                Err(e) => return Outcome::Unreachable(e.to_string()),
            };
            match status {
                200 => return verify_answer(w, note, &body),
                409 if is_size => {
                    let Some(theirs) = body.strip_suffix('\n').and_then(|s| s.parse::<u64>().ok()) else {
                        return Outcome::BadAnswer(format!("409 with an unreadable size {body:?}"));
                    };
                    if theirs == old || theirs > size {
                        // Same size, other root (split view), or the witness saw a larger tree than ours.
                        return Outcome::Refused { status, message: format!("witness size {theirs}") };
                    }
                    old = theirs;
                }
                _ => return Outcome::Refused { status, message: body },
            }
        }
        Outcome::Refused { status: 409, message: "the witness's size kept changing".into() }
    }

    /// Submits `note` to every witness concurrently (each from size `old_for(witness)`), and answers the note with
    /// the verified cosignature lines appended, plus each witness's outcome in the given order.
    pub async fn cosign_all(
        &self,
        witnesses: &[WitnessEndpoint],
        note: &str,
        old_for: impl Fn(&WitnessEndpoint) -> u64,
        proofs: &dyn ProofSource,
    ) -> (String, Vec<Outcome>) {
        let outcomes =
            futures::future::join_all(witnesses.iter().map(|w| self.submit(w, note, old_for(w), proofs))).await;
        let mut cosigned = note.to_owned();
        for o in &outcomes {
            if let Outcome::Cosigned(line) = o {
                cosigned.push_str(line);
            }
        }
        (cosigned, outcomes)
    }
}

/// The log's standing relation to its witnesses: the client, the endpoints and the size each last cosigned (so the
/// next submission needs no 409 round trip; after a restart the first 409 teaches it again).
#[derive(Debug)]
pub struct Witnessing {
    client: WitnessClient,
    endpoints: Vec<WitnessEndpoint>,
    known: Mutex<HashMap<String, u64>>,
}

impl Witnessing {
    /// Witnessing by `endpoints` through `client`.
    pub fn new(client: WitnessClient, endpoints: Vec<WitnessEndpoint>) -> Witnessing {
        Witnessing { client, endpoints, known: Mutex::new(HashMap::new()) }
    }
    /// The configured witnesses.
    pub fn endpoints(&self) -> &[WitnessEndpoint] {
        &self.endpoints
    }

    /// Submits `note` (of tree size `size`) to every witness and answers each witness's outcome, in order.
    pub async fn cosign(&self, note: &str, size: u64, proofs: &dyn ProofSource) -> Vec<Outcome> {
        let known = self.known.lock().map(|k| k.clone()).unwrap_or_default();
        let (_, outcomes) =
            self.client.cosign_all(&self.endpoints, note, |w| known.get(&w.url).copied().unwrap_or(0), proofs).await;
        if let Ok(mut k) = self.known.lock() {
            for (w, o) in self.endpoints.iter().zip(&outcomes) {
                if matches!(o, Outcome::Cosigned(_)) {
                    k.insert(w.url.clone(), size);
                }
            }
        }
        outcomes
    }
}

/// Keeps only the answered lines by this witness's key, and only if they verify on this checkpoint.
fn verify_answer(w: &WitnessEndpoint, note: &str, body: &str) -> Outcome {
    let one = [w.verifier.clone()];
    let prefix = format!("\u{2014} {} ", w.verifier.name());
    let lines: String = body.split_inclusive('\n').filter(|l| l.starts_with(&prefix) && l.ends_with('\n')).collect();
    if lines.is_empty() {
        return Outcome::BadAnswer("no cosignature line by the configured witness key".into());
    }
    match verify_cosignatures(&format!("{note}{lines}"), &one) {
        Ok(found) if found.len() == 1 => Outcome::Cosigned(lines),
        Ok(_) => Outcome::BadAnswer("the answered line is not by the configured witness key".into()),
        Err(e) => Outcome::BadAnswer(e.to_string()),
    }
}
