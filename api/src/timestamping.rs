//! Trusted time for the log's checkpoints (RFC 3161, 可信时间戳, docs/FORMAT.md §10): each new checkpoint is sent to
//! the configured time-stamping authorities (`application/timestamp-query`), every token they answer is verified
//! against the TSA's configured root and the nonce sent, and stored with the checkpoint's size; evidence bundles of
//! a checkpoint with tokens carry them (format v1.3, §10.1).
//!
//! Like cosignatures (`crate::witnessing`), tokens cannot be rebuilt from the log, so they live in the server's own
//! durable tables: `checkpoint_timestamps`, one row per checkpoint size and TSA, newest [`KEEP_CHECKPOINTS`] sizes.
//! A TSA that is down or refuses is logged and skipped: the log never waits for one.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use siteledger_ledger::AnyStore;
use siteledger_ledger::sequencer::Ledger;
use siteledger_signer::bundle::Bundle;
use siteledger_signer::timestamp::{
    Certificate, request_for_checkpoint, roots_from_pem, token_from_response, verify_token,
};
use tokio::sync::watch;

use crate::auth::TokenStore;
use crate::error::ApiError;
use crate::sql::{Db, each_db};

/// Rows kept: the tokens of this many most recent checkpoint sizes.
pub const KEEP_CHECKPOINTS: i64 = 256;
/// A TSA that has not answered by then is skipped for this checkpoint.
const TSA_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response read from a TSA (a token with a certificate chain is a few kilobytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// One configured TSA (`[[tsas]]` in the server's TOML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsaTarget {
    /// The TSA's URL, to which requests are POSTed.
    pub url: String,
    /// PEM file with the root certificate(s) its tokens must chain to.
    pub root: PathBuf,
}

/// A configured TSA with its roots read.
#[derive(Debug, Clone)]
pub struct Tsa {
    /// The TSA's URL.
    pub url: String,
    /// The roots its tokens must chain to.
    pub roots: Vec<Certificate>,
}

/// Reads the configured TSAs' root files (a missing or bad file stops the server at start-up, naming it).
pub fn tsas(targets: &[TsaTarget]) -> anyhow::Result<Vec<Tsa>> {
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let pem =
                std::fs::read(&t.root).map_err(|e| anyhow::anyhow!("tsas[{i}].root {}: {e}", t.root.display()))?;
            let roots =
                roots_from_pem(&pem).map_err(|e| anyhow::anyhow!("tsas[{i}].root {}: {e}", t.root.display()))?;
            Ok(Tsa { url: t.url.clone(), roots })
        })
        .collect()
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS checkpoint_timestamps (
    size BIGINT NOT NULL,
    tsa TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (size, tsa)
)";
const PRUNE: &str = "DELETE FROM checkpoint_timestamps WHERE size < (SELECT MIN(size) FROM \
    (SELECT DISTINCT size FROM checkpoint_timestamps ORDER BY size DESC LIMIT $1) AS newest)";

/// The stored tokens, in the token database.
#[derive(Debug, Clone)]
pub struct TimestampStore {
    db: Db,
}

impl TimestampStore {
    /// Creates the table if needed.
    pub async fn open(db: &TokenStore) -> Result<TimestampStore, ApiError> {
        let db = Db::from(db);
        each_db!(&db, p, _D => sqlx::query(SCHEMA).execute(p).await.map(drop)).map_err(ApiError::internal)?;
        Ok(TimestampStore { db })
    }

    /// Stores a TSA's verified token (DER) for the checkpoint of `size` and prunes old sizes.
    pub async fn put(&self, size: u64, tsa: &str, token: &[u8]) -> Result<(), ApiError> {
        let size = i64::try_from(size).map_err(ApiError::internal)?;
        let token = B64.encode(token);
        const UPSERT: &str = "INSERT INTO checkpoint_timestamps (size, tsa, token) VALUES ($1, $2, $3) \
            ON CONFLICT (size, tsa) DO UPDATE SET token = excluded.token";
        each_db!(&self.db, p, _D => {
                sqlx::query(UPSERT).bind(size).bind(tsa).bind(&token).execute(p).await.map_err(ApiError::internal)?;
                sqlx::query(PRUNE).bind(KEEP_CHECKPOINTS).execute(p).await.map_err(ApiError::internal)?;
        });
        Ok(())
    }

    /// The stored tokens (DER) for the checkpoint of `size`, by TSA URL.
    pub async fn tokens(&self, size: u64) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
        let size = i64::try_from(size).map_err(ApiError::internal)?;
        const SELECT: &str = "SELECT tsa, token FROM checkpoint_timestamps WHERE size = $1 ORDER BY tsa";
        let rows: Vec<(String, String)> =
            each_db!(&self.db, p, _D => sqlx::query_as(SELECT).bind(size).fetch_all(p).await)
                .map_err(ApiError::internal)?;
        rows.into_iter().map(|(tsa, t)| B64.decode(&t).map(|der| (tsa, der)).map_err(ApiError::internal)).collect()
    }
}

/// Adds to `bundle` the stored tokens of its checkpoint that still verify against the configured TSAs' roots,
/// making it v1.3 (docs/FORMAT.md §10.1); without such tokens it is left as it was, byte for byte. Call it last,
/// after the attachment and cosignature steps.
pub async fn timestamp_bundle_with(store: &TimestampStore, tsas: &[Tsa], bundle: &mut Bundle) -> Result<(), ApiError> {
    let Ok((text, _)) = siteledger_signer::note::split(&bundle.checkpoint) else { return Ok(()) };
    let Ok(cp) = siteledger_signer::note::Checkpoint::parse(text) else { return Ok(()) };
    let mut verified = Vec::new();
    for (url, token) in store.tokens(cp.size).await? {
        // A token of a TSA no longer configured, or no longer verifying, stays out (nothing unverified).
        if let Some(tsa) = tsas.iter().find(|t| t.url == url)
            && verify_token(&token, &bundle.checkpoint, None, &tsa.roots).is_ok()
        {
            verified.push(token);
        }
    }
    bundle.add_timestamps(&verified);
    Ok(())
}

/// [`timestamp_bundle_with`] from the server's state.
pub async fn timestamp_bundle(state: &crate::state::AppState, bundle: &mut Bundle) -> Result<(), ApiError> {
    timestamp_bundle_with(&state.timestamps, &state.tsas, bundle).await
}

/// Asks one TSA for a token for `note`, and verifies it (root, nonce, imprint) before returning it.
async fn stamp(http: &reqwest::Client, tsa: &Tsa, note: &str) -> Result<Vec<u8>, String> {
    let mut n = [0u8; 8];
    getrandom::fill(&mut n).map_err(|e| format!("getrandom: {e}"))?;
    let nonce = u64::from_be_bytes(n);
    let req = request_for_checkpoint(note, nonce).map_err(|e| e.to_string())?;
    let resp = http
        .post(&tsa.url)
        .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
        .body(req)
        .send()
        .await
        .map_err(|e| format!("request: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP status {}", resp.status()));
    }
    let body = resp.bytes().await.map_err(|e| format!("response: {e}"))?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(format!("response of {} bytes", body.len()));
    }
    let token = token_from_response(&body).map_err(|e| e.to_string())?;
    verify_token(&token, note, Some(nonce), &tsa.roots).map_err(|e| format!("{}: {e}", e.check()))?;
    Ok(token)
}

/// Follows the ledger's checkpoints until shutdown, asking each TSA for a token for each new one and storing the
/// verified tokens. Checks for a new checkpoint when the log grows and every `interval`.
pub async fn run(
    ledger: Ledger<AnyStore>,
    store: TimestampStore,
    tsas: Vec<Tsa>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder().timeout(TSA_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "TSA client could not start; checkpoints will not be time-stamped");
            return;
        }
    };
    let mut head = ledger.watch_head();
    let mut done = None::<u64>;
    loop {
        match ledger.latest_checkpoint().await {
            Ok(Some(cp)) if done.is_none_or(|d| cp.size > d) => {
                for tsa in &tsas {
                    match stamp(&http, tsa, &cp.note).await {
                        Ok(token) => {
                            if let Err(e) = store.put(cp.size, &tsa.url, &token).await {
                                tracing::error!(error = %e, "could not store a timestamp token");
                            }
                        }
                        Err(e) => tracing::warn!(tsa = %tsa.url, size = cp.size, error = %e, "not time-stamped"),
                    }
                }
                done = Some(cp.size);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the latest checkpoint for the TSAs"),
        }
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            r = head.changed() => if r.is_err() { return },
            () = tokio::time::sleep(interval) => {}
        }
    }
}
