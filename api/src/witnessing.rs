//! The log's witnesses (C2SP tlog-witness, docs/FORMAT.md §9): each new checkpoint is submitted to the configured
//! witnesses, the cosignature lines they answer are stored with the checkpoint's size, and `/v1/log/checkpoint`
//! publishes the checkpoint with them appended.
//!
//! The witnesses are other parties (`siteledger witness`, the `siteledger-witness` crate); this module only drives
//! its client. A witness that is down or refuses is logged and skipped: the log never waits for one. Cosignatures
//! cannot be rebuilt from the log, so they live beside the tokens (the server's own durable tables), not in the
//! rebuildable read models: table `checkpoint_cosignatures`, one row per checkpoint size and witness, keeping the
//! rows of the newest [`KEEP_CHECKPOINTS`] cosigned sizes.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use siteledger_ledger::AnyStore;
use siteledger_ledger::sequencer::Ledger;
use siteledger_signer::Hash;
use siteledger_signer::bundle::{BUNDLE_FORMAT_V1_2, Bundle};
use siteledger_signer::cosignature::{WitnessVerifier, verify_cosignatures};
use siteledger_signer::note::Checkpoint;
use siteledger_witness::client::{Outcome, ProofSource, WitnessClient, WitnessEndpoint, Witnessing};
use tokio::sync::watch;

use crate::auth::TokenStore;
use crate::error::ApiError;
use crate::sql::{Db, each_db};

/// Rows kept: the cosignatures of this many most recent checkpoint sizes.
pub const KEEP_CHECKPOINTS: i64 = 256;
/// A witness that has not answered by then is skipped for this checkpoint.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured witness (`[[witnesses]]` in the server's TOML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessTarget {
    /// The witness's submission prefix, e.g. `http://witness.court.example:7380`.
    pub url: String,
    /// Its witness key string (`<name>+<hex id>+<base64(0x04 ‖ key)>`).
    pub key: String,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS checkpoint_cosignatures (
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (size, witness)
)";
const PRUNE: &str = "DELETE FROM checkpoint_cosignatures WHERE size < (SELECT MIN(size) FROM \
    (SELECT DISTINCT size FROM checkpoint_cosignatures ORDER BY size DESC LIMIT $1) AS newest)";

/// The stored cosignatures, in the token database.
#[derive(Debug, Clone)]
pub struct CosignatureStore {
    db: Db,
}

impl CosignatureStore {
    /// Creates the table if needed.
    pub async fn open(db: &TokenStore) -> Result<CosignatureStore, ApiError> {
        let db = Db::from(db);
        each_db!(&db, p, _D => sqlx::query(SCHEMA).execute(p).await.map(drop)).map_err(ApiError::internal)?;
        Ok(CosignatureStore { db })
    }

    /// Stores a witness's verified line for the checkpoint of `size` and prunes old sizes.
    pub async fn put(&self, size: u64, witness: &str, line: &str) -> Result<(), ApiError> {
        let size = i64::try_from(size).map_err(ApiError::internal)?;
        const UPSERT: &str = "INSERT INTO checkpoint_cosignatures (size, witness, line) VALUES ($1, $2, $3) \
            ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line";
        each_db!(&self.db, p, _D => {
                sqlx::query(UPSERT).bind(size).bind(witness).bind(line).execute(p).await.map_err(ApiError::internal)?;
                sqlx::query(PRUNE).bind(KEEP_CHECKPOINTS).execute(p).await.map_err(ApiError::internal)?;
        });
        Ok(())
    }

    /// The stored lines for the checkpoint of `size`, by witness name.
    pub async fn lines(&self, size: u64) -> Result<Vec<String>, ApiError> {
        let size = i64::try_from(size).map_err(ApiError::internal)?;
        const SELECT: &str = "SELECT line FROM checkpoint_cosignatures WHERE size = $1 ORDER BY witness";
        each_db!(&self.db, p, _D => sqlx::query_scalar(SELECT).bind(size).fetch_all(p).await)
            .map_err(ApiError::internal)
    }
}

/// Turns `bundle` into an evidence bundle v1.2 (docs/FORMAT.md §9.1) when configured witnesses cosigned its
/// checkpoint: their stored lines are checked again against the configured keys, appended to the checkpoint and
/// listed in `witnesses`. A bundle whose checkpoint nobody cosigned is left as it was (v1 or v1.1), byte for byte.
/// Call it after [`crate::evidence::cite_attachments`], which sets v1.1.
pub async fn cosign_bundle(state: &crate::state::AppState, bundle: &mut Bundle) -> Result<(), ApiError> {
    cosign_bundle_with(&state.cosignatures, &state.config.witnesses, bundle).await
}

/// [`cosign_bundle`] from a cosignature store and the configured witnesses (for `siteledger evidence export`).
pub async fn cosign_bundle_with(
    store: &CosignatureStore,
    witnesses: &[WitnessTarget],
    bundle: &mut Bundle,
) -> Result<(), ApiError> {
    let Ok((text, _)) = siteledger_signer::note::split(&bundle.checkpoint) else { return Ok(()) };
    let Ok(cp) = Checkpoint::parse(text) else { return Ok(()) };
    let lines = store.lines(cp.size).await?;
    let configured: Vec<WitnessVerifier> =
        endpoints(witnesses).map_err(ApiError::internal)?.into_iter().map(|e| e.verifier).collect();
    let mut note = bundle.checkpoint.clone();
    let mut listed = Vec::new();
    for line in lines {
        let candidate = format!("{}{line}", bundle.checkpoint);
        // A line by a witness no longer configured, or not verifying, stays out (a bundle carries nothing unverified).
        if let Ok(found) = verify_cosignatures(&candidate, &configured)
            && let [one] = found.as_slice()
            && !listed.contains(&one.vkey)
        {
            note.push_str(&line);
            listed.push(one.vkey.clone());
        }
    }
    if !listed.is_empty() {
        bundle.checkpoint = note;
        bundle.witnesses = Some(listed);
        // Never lowers a later version (an SM2 signer's 1.4).
        bundle.raise_format(BUNDLE_FORMAT_V1_2);
    }
    Ok(())
}

/// Parses the configured witnesses (a bad key string stops the server at start-up, naming it).
pub fn endpoints(targets: &[WitnessTarget]) -> anyhow::Result<Vec<WitnessEndpoint>> {
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let verifier = WitnessVerifier::parse(&t.key).map_err(|e| anyhow::anyhow!("witnesses[{i}].key: {e}"))?;
            Ok(WitnessEndpoint { url: t.url.clone(), verifier })
        })
        .collect()
}

/// Consistency proofs read from the ledger's store.
struct LedgerProofs<'a>(&'a Ledger<AnyStore>);

impl ProofSource for LedgerProofs<'_> {
    fn consistency(&self, old: u64, new: u64) -> BoxFuture<'_, Option<Vec<Hash>>> {
        Box::pin(async move { self.0.consistency_proof(old, new).await.ok() })
    }
}

/// Follows the ledger's checkpoints until shutdown, submitting each new one to the witnesses and storing the
/// verified lines. Checks for a new checkpoint when the log grows and every `interval` (checkpoints are signed a
/// little after the records they cover).
pub async fn run(
    ledger: Ledger<AnyStore>,
    store: CosignatureStore,
    endpoints: Vec<WitnessEndpoint>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match WitnessClient::new(WITNESS_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "witness client could not start; checkpoints will not be cosigned");
            return;
        }
    };
    let witnessing = Arc::new(Witnessing::new(client, endpoints));
    let mut head = ledger.watch_head();
    let mut done = None::<u64>;
    loop {
        match ledger.latest_checkpoint().await {
            Ok(Some(cp)) if done.is_none_or(|d| cp.size > d) => {
                let outcomes = witnessing.cosign(&cp.note, cp.size, &LedgerProofs(&ledger)).await;
                for (w, o) in witnessing.endpoints().iter().zip(outcomes) {
                    match o {
                        Outcome::Cosigned(line) => {
                            if let Err(e) = store.put(cp.size, w.verifier.name(), &line).await {
                                tracing::error!(error = %e, "could not store a cosignature");
                            }
                        }
                        other => tracing::warn!(witness = %w.url, size = cp.size, outcome = ?other, "not cosigned"),
                    }
                }
                done = Some(cp.size);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the latest checkpoint for the witnesses"),
        }
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            r = head.changed() => if r.is_err() { return },
            () = tokio::time::sleep(interval) => {}
        }
    }
}
