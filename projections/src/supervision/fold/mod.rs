//! The `supervision` fold, split by workflow like `siteledger_domain::supervision`: each record is dispatched on
//! its typed event to [`inspection`], [`testing`], [`hazard`], [`bim`] or [`task`]. Folds store facts only
//! (statuses, deadlines in µs); what depends on the time of the question is computed by the queries.

mod bim;
mod hazard;
mod inspection;
mod task;
mod testing;

use siteledger_domain::DomainEvent;
use siteledger_domain::supervision::SupervisionEvent;

use crate::db::Tx;
use crate::prepare::Prepared;

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    for x in events {
        let Some(DomainEvent::Supervision(event)) = x.domain() else { continue };
        match event {
            SupervisionEvent::Inspection(e) => inspection::fold(tx, x, e).await?,
            SupervisionEvent::Testing(e) => testing::fold(tx, x, e).await?,
            SupervisionEvent::Hazard(e) => hazard::fold(tx, x, e).await?,
            SupervisionEvent::Bim(e) => bim::fold(tx, x, e).await?,
            SupervisionEvent::Task(e) => task::fold(tx, x, e).await?,
        }
    }
    Ok(())
}
