//! `hazard.*` (危大工程): each work listed with the class the domain computes from its parameters, then the steps
//! of its life cycle as counters and versions on its row.

use siteledger_domain::supervision::hazard::{self, HazardEvent, WorkListed};

use crate::db::{Sql, Tx};
use crate::prepare::Prepared;
use crate::supervision::schema::k2;

pub(super) async fn fold(tx: &mut Tx, x: &Prepared<'_>, event: &HazardEvent) -> Result<(), sqlx::Error> {
    let at = x.e.occurred_at.as_str();
    let q = match event {
        HazardEvent::Listed(w) => return listed(tx, x, w).await,
        HazardEvent::Approved(e) => {
            Sql::new("UPDATE sv_hazards SET approved_version = ?, position = ?").arg(i64::from(e.plan_version.get()))
        }
        HazardEvent::Countersigned(e) => Sql::new("UPDATE sv_hazards SET countersigned_version = ?, position = ?")
            .arg(i64::from(e.plan_version.get())),
        HazardEvent::Review(e) => {
            Sql::new("UPDATE sv_hazards SET review_version = ?, review_outcome = ?, position = ?")
                .arg(i64::from(e.plan_version.get()))
                .arg(e.outcome.as_str())
        }
        HazardEvent::SiteNotice(_) => Sql::new("UPDATE sv_hazards SET site_notice = 1, position = ?"),
        HazardEvent::Briefing(_) => Sql::new("UPDATE sv_hazards SET briefing = 1, position = ?"),
        HazardEvent::Started(_) => Sql::new("UPDATE sv_hazards SET started_at = ?, position = ?").arg(at),
        HazardEvent::Monitoring(e) => {
            Sql::new("UPDATE sv_hazards SET readings = readings + 1, anomalies = anomalies + ?, position = ?")
                .arg(i64::from(e.anomaly))
        }
        HazardEvent::Accepted(_) => Sql::new("UPDATE sv_hazards SET accepted_at = ?, position = ?").arg(at),
    };
    let mut q = q.arg(x.e.position);
    q.push(" WHERE work_key = ");
    q.bind(k2(event.project().as_str(), event.work().as_str()));
    tx.execute(&q).await?;
    Ok(())
}

/// A listed work, with its class; one the table cannot classify is not a 危大工程 and is not listed.
async fn listed(tx: &mut Tx, x: &Prepared<'_>, w: &WorkListed) -> Result<(), sqlx::Error> {
    let Some(class) = hazard::classify(w.category, &w.parameters) else {
        tracing::warn!(
            position = x.e.position,
            work_id = w.work_id.as_str(),
            "hazard work without a class; not listed"
        );
        return Ok(());
    };
    // The parameters as the record carries them (canonical JSON of the typed value: the members given, in order).
    let parameters = serde_json::to_value(&w.parameters).map(|v| v.to_string()).unwrap_or_default();
    let project = w.project_id.as_str();
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_hazards (work_key, project_id, work_id, name, category, class, parameters, \
             approved_version, countersigned_version, site_notice, briefing, readings, anomalies, \
             listed_at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, ?, ?, ?) \
             ON CONFLICT (work_key) DO NOTHING",
        )
        .arg(k2(project, w.work_id.as_str()))
        .arg(project)
        .arg(w.work_id.as_str())
        .arg(w.name.as_str())
        .arg(w.category.as_str())
        .arg(class.as_str())
        .arg(parameters)
        .arg(x.e.occurred_at.as_str())
        .arg(x.e.event_id.to_string())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}
