//! `bim.*` (BIM施工): model versions and progress nodes (planned dates, then status and actual dates).

use siteledger_domain::supervision::bim::BimEvent;

use crate::db::{Sql, Tx};
use crate::prepare::Prepared;
use crate::supervision::schema::k2;

pub(super) async fn fold(tx: &mut Tx, x: &Prepared<'_>, event: &BimEvent) -> Result<(), sqlx::Error> {
    let pos = x.e.position;
    let project = event.project().as_str();
    match event {
        BimEvent::Model(e) => {
            let version = i64::from(e.version.get());
            tx.execute(
                &Sql::new(
                    "INSERT INTO sv_bim_models (model_key, project_id, model_id, version, sha256, format, file_name, \
                     at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_key) DO NOTHING",
                )
                .arg(format!("{project}/{}/{version}", e.model_id.as_str()))
                .arg(project)
                .arg(e.model_id.as_str())
                .arg(version)
                .arg(e.sha256.as_str())
                .arg(e.format.as_str())
                .arg(e.file_name.as_str())
                .arg(x.e.occurred_at.as_str())
                .arg(x.e.event_id.to_string())
                .arg(pos),
            )
            .await?;
        }
        BimEvent::Planned(e) => {
            tx.execute(
                &Sql::new(
                    "INSERT INTO sv_bim_nodes (node_key, project_id, node_id, name, model_id, elements, \
                     planned_start, planned_finish, status, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) \
                     ON CONFLICT (node_key) DO NOTHING",
                )
                .arg(k2(project, e.node_id.as_str()))
                .arg(project)
                .arg(e.node_id.as_str())
                .arg(e.name.as_str())
                .arg(e.model_id.as_str())
                .arg(i64::try_from(e.element_ids.len()).unwrap_or(0))
                .arg(e.planned_start.to_string())
                .arg(e.planned_finish.to_string())
                .arg(pos),
            )
            .await?;
        }
        BimEvent::Progressed(e) => {
            tx.execute(
                &Sql::new(
                    "UPDATE sv_bim_nodes SET status = ?, actual_start = COALESCE(?, actual_start), \
                     actual_finish = COALESCE(?, actual_finish), position = ? WHERE node_key = ?",
                )
                .arg(e.status.code())
                .arg(e.actual_start.map(|d| d.to_string()))
                .arg(e.actual_finish.map(|d| d.to_string()))
                .arg(pos)
                .arg(k2(project, e.node_id.as_str())),
            )
            .await?;
        }
    }
    Ok(())
}
