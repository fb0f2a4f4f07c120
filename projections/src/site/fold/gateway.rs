//! Gateway health: each gateway's last heartbeat.

use siteledger_domain::site::GatewayHeartbeat;

use super::Rec;
use crate::db::{Sql, Tx};

/// `gateway.heartbeat.v1`.
pub(super) async fn heartbeat(tx: &mut Tx, rec: &Rec<'_>, h: &GatewayHeartbeat) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO site_gateways (project_id, gateway_id, at, at_us, queue_depth, queue_bytes, \
             clock_skew_ms, rejected_packets, deviations, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (project_id, gateway_id) DO UPDATE SET at = excluded.at, at_us = excluded.at_us, \
             queue_depth = excluded.queue_depth, queue_bytes = excluded.queue_bytes, \
             clock_skew_ms = excluded.clock_skew_ms, rejected_packets = excluded.rejected_packets, \
             deviations = excluded.deviations, event_id = excluded.event_id",
        )
        .arg(h.project_id.as_str())
        .arg(h.gateway_id.as_str())
        .arg(rec.occurred_at.to_owned())
        .arg(rec.occurred_us)
        .arg(h.queue_depth)
        .arg(h.queue_bytes)
        .arg(h.clock_skew_ms)
        .arg(h.rejected_packets)
        .arg(h.deviations)
        .arg(rec.event_id.clone()),
    )
    .await?;
    Ok(())
}
