//! The uploader: the outbox's oldest records, in chain order, in batches to `POST /v1/events` with the producer's
//! token. A record leaves the outbox only after the platform answered for it: `accepted` or `duplicate` (the
//! ledger is idempotent for an identical re-append, so a resend after a lost answer is harmless) → removed;
//! `rejected` → parked with the platform's code and message (see [`crate::outbox`]). No answer (connection refused,
//! reset, timeout) or a 5xx/429 → the same batch again after exponential backoff with jitter (0.2 s doubling to
//! 60 s); 401/403 → a loud error and the same backoff (a token problem the operator must fix); 413 → half the batch.
//!
//! **Attachments first.** Before a batch is sent, every file its records cite (the outbox's `citations`) that the
//! platform has not answered for yet is read from the producer's [`LocalBlobs`] and sent to `POST /v1/blobs`; if
//! that fails (no answer, 5xx, 401/403) the batch waits and is retried like any failed request, so a record never
//! reaches the log before the files it cites, and the chain is never reordered. A file the producer does not hold
//! (the agent refuses such records at its intake; an operator may have removed the file since) or that the
//! platform refuses for good (larger than its `max_blob_bytes`) is logged as an error and the record goes on
//! without it: evidence packages then list the file as not included.
//!
//! [`Uploader::run`] serves a long-running producer (the site agent) until shutdown, retrying parked records every
//! ten minutes; [`Uploader::drain`] serves a batch import (`siteledger submit`): it sends until the outbox is empty
//! and counts the answers.
//!
//! Every answer's `Date` header gives the platform's clock: the skew (platform − producer, at the request's
//! midpoint; the header has 1 s resolution) is kept for the heartbeat and logged when over 5 s.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use siteledger_domain::wire::ItemStatus;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use tokio::sync::watch;

use crate::blobs::LocalBlobs;
use crate::ingest::IngestClient;
use crate::keys::Secret;
use crate::outbox::{Outbox, Queued};

/// Parked records are retried this often.
const PARKED_RETRY: Duration = Duration::from_secs(600);
/// Longest backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// First backoff.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Upload counters and the measured clock skew.
#[derive(Debug, Default)]
pub struct UploadStats {
    /// Requests that got no usable answer.
    pub failures: AtomicU64,
    /// Platform clock − producer clock, ms (valid when `skew_known`).
    pub clock_skew_ms: AtomicI64,
    /// Whether a skew was measured.
    pub skew_known: AtomicBool,
    /// Whether the platform answered the last request.
    pub connected: AtomicBool,
    /// Cited files sent to the platform's `POST /v1/blobs`.
    pub attachments_sent: AtomicU64,
    /// Cited files that could not be sent (not held, damaged, or refused by the platform): their records went
    /// on without them.
    pub attachments_missing: AtomicU64,
}

impl UploadStats {
    /// The measured skew, if any.
    pub fn skew_ms(&self) -> Option<i64> {
        self.skew_known.load(Ordering::Relaxed).then(|| self.clock_skew_ms.load(Ordering::Relaxed))
    }
}

/// What the platform answered for the records sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Newly appended.
    pub accepted: u64,
    /// Already in the log (an idempotent resend).
    pub duplicate: u64,
    /// Refused, by the platform's code.
    pub rejected: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.accepted += other.accepted;
        self.duplicate += other.duplicate;
        for (code, n) in &other.rejected {
            *self.rejected.entry(code.clone()).or_default() += n;
        }
    }

    /// Records refused.
    pub fn refused(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Why [`Uploader::drain`] stopped before the outbox was empty.
#[derive(Debug, thiserror::Error)]
#[error("the platform did not take the records ({reason}); they stay in the local queue: run again to send them")]
pub struct DrainError {
    /// What the platform answered before it stopped answering.
    pub sent: Tally,
    /// The last failure.
    pub reason: String,
}

enum Outcome {
    Settled(Tally),
    Retry(String),
    Shrink,
}

/// The uploader task.
pub struct Uploader {
    /// The outbox.
    pub outbox: Outbox,
    /// `POST /v1/events` of the platform.
    pub ingest: IngestClient,
    /// Bearer token (never logged, never in `Debug`).
    pub token: Secret,
    /// Records per request.
    pub batch: usize,
    /// The files the records cite (`None`: the producer holds none; cited files are then reported missing).
    pub blobs: Option<LocalBlobs>,
    /// Counters.
    pub stats: Arc<UploadStats>,
    /// Turns true at shutdown.
    pub shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("url", &self.ingest.events_url())
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

/// Resolves once `rx` turns true (or its sender is gone). A helper so that no `watch::Ref` is held in a
/// `select!` (it is not `Send`).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Full-jitter backoff: a random duration in [d/2, d].
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 8];
    let r = if getrandom::fill(&mut b).is_ok() { u64::from_le_bytes(b) } else { 0 };
    let frac = 0.5 + (r % 1000) as f64 / 2000.0;
    d.mul_f64(frac)
}

impl Uploader {
    /// Runs until shutdown.
    pub async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        let mut batch = self.batch;
        let mut last_parked_try = Instant::now();
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            let items = match self.outbox.peek(batch).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the local queue");
                    self.pause(backoff).await;
                    continue;
                }
            };
            let items = if items.is_empty() && last_parked_try.elapsed() >= PARKED_RETRY {
                last_parked_try = Instant::now();
                self.outbox.peek_parked(batch).await.unwrap_or_default()
            } else {
                items
            };
            if items.is_empty() {
                // Wait for the next commit (or shutdown, or the parked-retry period).
                let notified = self.outbox.committed.notified();
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(PARKED_RETRY) => {}
                    () = stopped(&mut self.shutdown) => return,
                }
                continue;
            }
            match self.send(&items).await {
                Outcome::Settled(_) => {
                    // A batch size the platform refused (413) stays reduced: its limit does not change.
                    backoff = FIRST_BACKOFF;
                }
                Outcome::Shrink => {
                    batch = (batch / 2).max(1);
                    tracing::warn!(batch, "the platform refused the batch size; sending smaller batches");
                }
                Outcome::Retry(why) => {
                    self.failed(&why, backoff);
                    self.pause(jitter(backoff)).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Sends the queued records (not the parked ones) until the outbox is empty, retrying failures with the same
    /// backoff as [`Uploader::run`] for at most `give_up_after` of consecutive failures (or until shutdown).
    /// Returns what the platform answered.
    pub async fn drain(&mut self, give_up_after: Duration) -> Result<Tally, DrainError> {
        let mut tally = Tally::default();
        let mut backoff = FIRST_BACKOFF;
        let mut batch = self.batch;
        let mut failing_since: Option<Instant> = None;
        loop {
            let failure = match self.outbox.peek(batch).await {
                Ok(items) if items.is_empty() => return Ok(tally),
                Ok(items) => match self.send(&items).await {
                    Outcome::Settled(t) => {
                        tally.add(&t);
                        backoff = FIRST_BACKOFF;
                        failing_since = None;
                        continue;
                    }
                    Outcome::Shrink => {
                        batch = (batch / 2).max(1);
                        continue;
                    }
                    Outcome::Retry(why) => why,
                },
                Err(e) => format!("local queue: {e}"),
            };
            let since = *failing_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= give_up_after || *self.shutdown.borrow() {
                return Err(DrainError { sent: tally, reason: failure });
            }
            self.failed(&failure, backoff);
            self.pause(jitter(backoff)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn failed(&self, why: &str, backoff: Duration) {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            reason = %why,
            retry_in_ms = backoff.as_millis() as u64,
            queued = self.outbox.stats.depth.load(Ordering::Relaxed),
            "upload failed; records stay in the local queue"
        );
    }

    async fn pause(&mut self, d: Duration) {
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = stopped(&mut self.shutdown) => {}
        }
    }

    /// Sends the files `items` cite that the platform has not answered for, oldest record first; `Err` (why) when
    /// the platform could not take one now: the batch must wait.
    async fn send_cited(&self, items: &[Queued]) -> Result<(), String> {
        let seqs: Vec<u64> = items.iter().map(|q| q.seq).collect();
        let cited = self.outbox.citations(&seqs).await.map_err(|e| format!("local queue: {e}"))?;
        let mut seen = HashSet::new();
        for (seq, sha) in cited {
            if !seen.insert(sha.clone())
                || self.outbox.blob_sent(&sha).await.map_err(|e| format!("local queue: {e}"))?
            {
                continue;
            }
            let held = match self.blobs.clone() {
                Some(store) => {
                    let key = sha.clone();
                    tokio::task::spawn_blocking(move || store.read(&key))
                        .await
                        .map_err(|e| format!("reading attachment {sha}: {e}"))?
                }
                None => Ok(None),
            };
            let bytes = match held {
                Ok(Some(b)) => b,
                Ok(None) | Err(_) => {
                    let why = match held {
                        Err(e) => e.to_string(),
                        _ => "not in the local attachment store".to_owned(),
                    };
                    tracing::error!(
                        seq,
                        sha256 = %sha,
                        reason = %why,
                        "a record cites a file this producer cannot send; the record goes on without it"
                    );
                    self.stats.attachments_missing.fetch_add(1, Ordering::Relaxed);
                    self.outbox.mark_blob_sent(&sha).await.map_err(|e| format!("local queue: {e}"))?;
                    continue;
                }
            };
            match self.ingest.post_blob(self.token.expose(), &sha, bytes).await {
                Ok(_) => self.stats.attachments_sent.fetch_add(1, Ordering::Relaxed),
                Err(e) if matches!(e.status(), Some(400 | 413 | 415 | 422)) => {
                    tracing::error!(
                        seq,
                        sha256 = %sha,
                        error = %e,
                        "the platform REFUSED a cited file; the record goes on without it (raise the platform's \
                         max_blob_bytes and post the file again to attach it)"
                    );
                    self.stats.attachments_missing.fetch_add(1, Ordering::Relaxed)
                }
                Err(e) => {
                    self.stats.connected.store(e.answered(), Ordering::Relaxed);
                    return Err(format!("attachment {sha} (cited by seq {seq}): {e}"));
                }
            };
            self.outbox.mark_blob_sent(&sha).await.map_err(|e| format!("local queue: {e}"))?;
        }
        Ok(())
    }

    async fn send(&self, items: &[Queued]) -> Outcome {
        if let Err(why) = self.send_cited(items).await {
            return Outcome::Retry(why);
        }
        let body = IngestClient::body_of_canonical(items.iter().map(|q| q.envelope.as_slice()));
        let sent = OffsetDateTime::now_utc();
        let exchange = self.ingest.exchange(self.token.expose(), body).await;
        if let Some(date) = &exchange.date {
            self.measure_skew(sent, date);
        }
        let answer = match exchange.result {
            Ok(a) => {
                self.stats.connected.store(true, Ordering::Relaxed);
                a
            }
            Err(e) => {
                self.stats.connected.store(e.answered(), Ordering::Relaxed);
                return match e.status() {
                    Some(413) => Outcome::Shrink,
                    Some(401 | 403) => {
                        tracing::error!(error = %e, "the platform refuses the token: check token and key enrolment");
                        Outcome::Retry(e.to_string())
                    }
                    _ if e.answered() => Outcome::Retry(e.to_string()),
                    _ => Outcome::Retry(format!("no answer from the platform: {e}")),
                };
            }
        };
        let mut done = Vec::new();
        let mut rejected = Vec::new();
        let mut tally = Tally::default();
        for r in answer.results {
            let Some(q) = items.get(r.index) else { continue };
            match r.status {
                ItemStatus::Accepted => {
                    tally.accepted += 1;
                    done.push(q.seq);
                }
                ItemStatus::Duplicate => {
                    tally.duplicate += 1;
                    done.push(q.seq);
                }
                ItemStatus::Rejected => {
                    let code = r.code.unwrap_or_default();
                    let message = r.message.unwrap_or_default();
                    tracing::error!(
                        seq = q.seq,
                        %code,
                        %message,
                        "the platform REJECTED a signed record; it is parked in the local queue (not deleted) and \
                         retried every {} min",
                        PARKED_RETRY.as_secs() / 60
                    );
                    *tally.rejected.entry(code.clone()).or_default() += 1;
                    rejected.push((q.seq, code, message));
                }
            }
        }
        if done.len() + rejected.len() < items.len() {
            tracing::warn!("the platform answered for fewer records than sent; the rest will be resent");
        }
        match self.outbox.settle(&done, &rejected).await {
            Ok(()) => Outcome::Settled(tally),
            Err(e) => Outcome::Retry(format!("local queue: {e}")),
        }
    }

    fn measure_skew(&self, sent: OffsetDateTime, date: &str) {
        let Some(skew) = clock_skew_ms(sent, OffsetDateTime::now_utc(), date) else { return };
        self.stats.clock_skew_ms.store(skew, Ordering::Relaxed);
        if skew.abs() > 5_000 && !self.stats.skew_known.load(Ordering::Relaxed) {
            tracing::warn!(skew_ms = skew, "this producer's clock differs from the platform's by more than 5 s");
        }
        self.stats.skew_known.store(true, Ordering::Relaxed);
    }
}

/// Platform clock − producer clock in ms, from an HTTP `Date` header received for a request sent at `sent` and
/// answered at `received`. The header truncates to whole seconds, so the platform's time is taken as the middle of
/// its second and anything within ±1.5 s counts as 0.
pub fn clock_skew_ms(sent: OffsetDateTime, received: OffsetDateTime, date: &str) -> Option<i64> {
    let platform = OffsetDateTime::parse(date, &Rfc2822).ok()?;
    let mid = sent + (received - sent) / 2_i32;
    let skew: i128 = (platform - mid).whole_milliseconds() + 500;
    let skew = i64::try_from(skew).ok()?;
    Some(if skew.abs() < 1500 { 0 } else { skew })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn skew_from_the_http_date_header() {
        let sent = datetime!(2026-11-24 05:00:00.200 UTC);
        let received = datetime!(2026-11-24 05:00:00.400 UTC);
        assert_eq!(clock_skew_ms(sent, received, "Tue, 24 Nov 2026 05:00:00 GMT"), Some(0));
        assert_eq!(clock_skew_ms(sent, received, "Tue, 24 Nov 2026 05:00:30 GMT"), Some(30_200));
        assert_eq!(clock_skew_ms(sent, received, "Tue, 24 Nov 2026 04:59:50 GMT"), Some(-9_800));
        assert_eq!(clock_skew_ms(sent, received, "yesterday"), None);
    }
}
