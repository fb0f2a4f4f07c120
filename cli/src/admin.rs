//! Administration actions behind CLI commands.

use siteledger_ledger::snapshot::{SnapshotCheck, verify_newest};
use siteledger_ledger::{AnyStore, DomainPolicy, EventStore, Ledger, LedgerConfig};
use siteledger_signer::NoteSigner;

use siteledger_api::config::Config;
use siteledger_api::node;

/// Drops and rebuilds every read model from the log; returns the number of records folded.
pub async fn rebuild_projections(config: &Config) -> anyhow::Result<u64> {
    let log_key = node::load_or_create(&config.key_dir().join("log.key"))?;
    let system_key = node::load_or_create(&config.key_dir().join("system.key"))?;
    let store = AnyStore::open(&config.store_url()).await?;
    let mut lc = LedgerConfig::new(NoteSigner::new(&config.log_origin, log_key)?, system_key);
    lc.policy = std::sync::Arc::new(siteledger_ledger::DomainPolicy::default());
    let ledger = Ledger::open(store, lc).await?;
    let read = siteledger_projections::ReadDb::open(&config.read_url()).await?;
    read.set_raw_retention_days(config.raw_retention_days);
    siteledger_projections::rebuild(&ledger, &read).await?;
    read.prune_site_raw().await?;
    Ok(ledger.store().head().await?)
}

/// The log key string and the system key id.
pub fn show_keys(config: &Config) -> anyhow::Result<(String, String)> {
    let log_key = node::load_or_create(&config.key_dir().join("log.key"))?;
    let system_key = node::load_or_create(&config.key_dir().join("system.key"))?;
    let signer = NoteSigner::new(&config.log_origin, log_key)?;
    Ok((signer.verifier().vkey(), system_key.key_id().to_string()))
}

/// Replays the log from zero up to the newest admission-state snapshot and compares the canonical bytes with the
/// stored ones (`siteledger ledger verify-snapshot`). `None` if no snapshot is stored. Reads only: nothing is written.
pub async fn verify_snapshot(config: &Config) -> anyhow::Result<Option<SnapshotCheck>> {
    let store = AnyStore::open(&config.store_url()).await?;
    Ok(verify_newest(&store, &DomainPolicy::default()).await?)
}
