//! The simulated demo city (being written).

use std::net::SocketAddr;

use tokio::sync::watch;

use crate::state::AppState;

/// Starts the simulated producers.
pub async fn start(_state: AppState, _addr: SocketAddr, _shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    Ok(())
}
