//! The uploader: the queue's oldest records, in chain order, in batches to `POST /v1/events` with the gateway
//! token. A record leaves the queue only after the platform answered for it: `accepted` or `duplicate` (the
//! ledger is idempotent for an identical re-append, so a resend after a lost answer is harmless) → removed;
//! `rejected` → parked with the platform's code and message (see [`crate::queue`]). No answer (connection refused,
//! reset, timeout) or a 5xx/429 → the same batch again after exponential backoff with jitter (0.2 s doubling to
//! 60 s); 401/403 → a loud error and the same backoff (a token problem the operator must fix); 413 → half the batch.
//!
//! Every answer's `Date` header gives the platform's clock: the skew (platform − gateway, at the request's
//! midpoint; the header has 1 s resolution) is kept for the heartbeat and logged when over 5 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use siteledger_domain::wire::{IngestResponse, ItemStatus};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use tokio::sync::watch;

use crate::queue::{Queue, Queued};

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
    /// Platform clock − gateway clock, ms (valid when `skew_known`).
    pub clock_skew_ms: AtomicI64,
    /// Whether a skew was measured.
    pub skew_known: AtomicBool,
    /// Whether the platform answered the last request.
    pub connected: AtomicBool,
}

impl UploadStats {
    /// The measured skew, if any.
    pub fn skew_ms(&self) -> Option<i64> {
        self.skew_known.load(Ordering::Relaxed).then(|| self.clock_skew_ms.load(Ordering::Relaxed))
    }
}

enum Outcome {
    Settled,
    Retry(String),
    Shrink,
}

/// The uploader task.
#[derive(Debug)]
pub struct Uploader {
    /// The queue.
    pub queue: Queue,
    /// HTTP client.
    pub http: reqwest::Client,
    /// `…/v1/events`.
    pub url: String,
    /// Bearer token (never logged).
    pub token: String,
    /// Records per request.
    pub batch: usize,
    /// Counters.
    pub stats: Arc<UploadStats>,
    /// Turns true at shutdown.
    pub shutdown: watch::Receiver<bool>,
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
            let items = match self.queue.peek(batch).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the local queue");
                    self.pause(backoff).await;
                    continue;
                }
            };
            let items = if items.is_empty() && last_parked_try.elapsed() >= PARKED_RETRY {
                last_parked_try = Instant::now();
                self.queue.peek_parked(batch).await.unwrap_or_default()
            } else {
                items
            };
            if items.is_empty() {
                // Wait for the next commit (or shutdown, or the parked-retry period).
                let notified = self.queue.committed.notified();
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(PARKED_RETRY) => {}
                    () = crate::agent::stopped(&mut self.shutdown) => return,
                }
                continue;
            }
            match self.send(&items).await {
                Outcome::Settled => {
                    // A batch size the platform refused (413) stays reduced: its limit does not change.
                    backoff = FIRST_BACKOFF;
                }
                Outcome::Shrink => {
                    batch = (batch / 2).max(1);
                    tracing::warn!(batch, "the platform refused the batch size; sending smaller batches");
                }
                Outcome::Retry(why) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        reason = %why,
                        retry_in_ms = backoff.as_millis() as u64,
                        queued = self.queue.stats.depth.load(Ordering::Relaxed),
                        "upload failed; records stay in the local queue"
                    );
                    self.pause(jitter(backoff)).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn pause(&mut self, d: Duration) {
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = crate::agent::stopped(&mut self.shutdown) => {}
        }
    }

    async fn send(&self, items: &[Queued]) -> Outcome {
        let mut body = Vec::with_capacity(items.iter().map(|q| q.envelope.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, q) in items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&q.envelope);
        }
        body.push(b']');
        let sent = OffsetDateTime::now_utc();
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                self.stats.connected.store(false, Ordering::Relaxed);
                return Outcome::Retry(format!("no answer from the platform: {e}"));
            }
        };
        self.stats.connected.store(true, Ordering::Relaxed);
        self.measure_skew(sent, resp.headers());
        let status = resp.status();
        if status.as_u16() == 413 {
            return Outcome::Shrink;
        }
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            if status.as_u16() == 401 || status.as_u16() == 403 {
                tracing::error!(%status, body = %text, "the platform refuses the gateway token: check token and key enrolment");
            }
            return Outcome::Retry(format!("HTTP {status}: {}", text.chars().take(300).collect::<String>()));
        }
        let answer: IngestResponse = match resp.json().await {
            Ok(a) => a,
            Err(e) => return Outcome::Retry(format!("unreadable answer: {e}")),
        };
        let mut done = Vec::new();
        let mut rejected = Vec::new();
        for r in answer.results {
            let Some(q) = items.get(r.index) else { continue };
            match r.status {
                ItemStatus::Accepted | ItemStatus::Duplicate => done.push(q.seq),
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
                    rejected.push((q.seq, code, message));
                }
            }
        }
        if done.len() + rejected.len() < items.len() {
            tracing::warn!("the platform answered for fewer records than sent; the rest will be resent");
        }
        match self.queue.settle(&done, &rejected).await {
            Ok(()) => Outcome::Settled,
            Err(e) => Outcome::Retry(format!("local queue: {e}")),
        }
    }

    fn measure_skew(&self, sent: OffsetDateTime, headers: &reqwest::header::HeaderMap) {
        let Some(date) = headers.get(reqwest::header::DATE).and_then(|v| v.to_str().ok()) else { return };
        let Some(skew) = clock_skew_ms(sent, OffsetDateTime::now_utc(), date) else { return };
        self.stats.clock_skew_ms.store(skew, Ordering::Relaxed);
        if skew.abs() > 5_000 && !self.stats.skew_known.load(Ordering::Relaxed) {
            tracing::warn!(skew_ms = skew, "the gateway's clock differs from the platform's by more than 5 s");
        }
        self.stats.skew_known.store(true, Ordering::Relaxed);
    }
}

/// Platform clock − gateway clock in ms, from an HTTP `Date` header received for a request sent at `sent` and
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
