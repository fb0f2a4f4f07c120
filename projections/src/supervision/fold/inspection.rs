//! `inspection.*` (工程安全质量监管): inspections, findings, rectification notices and their life cycle, stop-work
//! orders.

use siteledger_domain::supervision::inspection::{
    FindingRecorded, InspectionEvent, InspectionRecorded, NoticeIssued, ReviewResult, StopWorkOrdered,
};

use crate::db::{Sql, Tx};
use crate::prepare::Prepared;
use crate::supervision::schema::{US, k2};

pub(super) async fn fold(tx: &mut Tx, x: &Prepared<'_>, event: &InspectionEvent) -> Result<(), sqlx::Error> {
    let at = x.e.occurred_at.as_str();
    let pos = x.e.position;
    let project = event.project().as_str();
    match event {
        InspectionEvent::Inspected(e) => inspected(tx, x, e).await?,
        InspectionEvent::Finding(e) => finding(tx, x, e).await?,
        InspectionEvent::Notice(e) => notice(tx, x, e).await?,
        InspectionEvent::Submitted(e) => {
            let q = Sql::new(
                "UPDATE sv_rectifications SET status = 'submitted', submissions = submissions + 1, \
                 submitted_at = ?, position = ? WHERE notice_key = ?",
            );
            tx.execute(&q.arg(at).arg(pos).arg(k2(project, e.notice_id.as_str()))).await?;
        }
        InspectionEvent::Reviewed(e) => {
            let pass = e.result == ReviewResult::Pass;
            let q = Sql::new(
                "UPDATE sv_rectifications SET status = ?, failed_reviews = failed_reviews + ?, \
                 reviewed_at = ?, position = ? WHERE notice_key = ?",
            )
            .arg(if pass { "passed" } else { "reopened" })
            .arg(i64::from(!pass))
            .arg(at)
            .arg(pos);
            tx.execute(&q.arg(k2(project, e.notice_id.as_str()))).await?;
        }
        InspectionEvent::Closed(e) => {
            let q = Sql::new(
                "UPDATE sv_rectifications SET status = 'closed', closed_at = ?, position = ? WHERE notice_key = ?",
            );
            tx.execute(&q.arg(at).arg(pos).arg(k2(project, e.notice_id.as_str()))).await?;
        }
        InspectionEvent::StopWork(e) => stop_work(tx, x, e).await?,
        InspectionEvent::Resumed(e) => {
            tx.execute(
                &Sql::new("UPDATE sv_stop_orders SET lifted_at = ?, position = ? WHERE order_key = ?")
                    .arg(at)
                    .arg(pos)
                    .arg(k2(project, e.order_id.as_str())),
            )
            .await?;
        }
    }
    Ok(())
}

async fn inspected(tx: &mut Tx, x: &Prepared<'_>, e: &InspectionRecorded) -> Result<(), sqlx::Error> {
    let project = e.project_id.as_str();
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_inspections (ins_key, project_id, inspection_id, inspection_kind, inspector, \
             scope, inspected_party, at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (ins_key) DO NOTHING",
        )
        .arg(k2(project, e.inspection_id.as_str()))
        .arg(project)
        .arg(e.inspection_id.as_str())
        .arg(e.inspection_kind.as_str())
        .arg(e.inspector.as_str())
        .arg(e.scope.as_str())
        .arg(e.inspected_party.as_str())
        .arg(x.e.occurred_at.as_str())
        .arg(x.e.event_id.to_string())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}

async fn finding(tx: &mut Tx, x: &Prepared<'_>, e: &FindingRecorded) -> Result<(), sqlx::Error> {
    let project = e.project_id.as_str();
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_findings (finding_key, project_id, inspection_id, finding_id, level, category, \
             description, at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (finding_key) DO NOTHING",
        )
        .arg(k2(project, e.finding_id.as_str()))
        .arg(project)
        .arg(e.inspection_id.as_str())
        .arg(e.finding_id.as_str())
        .arg(e.level.as_str())
        .arg(e.category.as_str())
        .arg(e.description.as_str())
        .arg(x.e.occurred_at.as_str())
        .arg(x.e.event_id.to_string())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}

/// A notice copies its finding's level, category and description (the register shows them without a join).
async fn notice(tx: &mut Tx, x: &Prepared<'_>, e: &NoticeIssued) -> Result<(), sqlx::Error> {
    let project = e.project_id.as_str();
    let finding: Option<(String, String, String, String)> = tx
        .fetch_optional(
            &Sql::new("SELECT inspection_id, level, category, description FROM sv_findings WHERE finding_key = ?")
                .arg(k2(project, e.finding_id.as_str())),
        )
        .await?;
    let (ins, level, category, description) = finding.unwrap_or_default();
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_rectifications (notice_key, project_id, notice_id, finding_id, inspection_id, \
             level, category, description, responsible, requirement, deadline, deadline_us, status, \
             submissions, failed_reviews, noticed_at, event_id, position) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', 0, 0, ?, ?, ?) \
             ON CONFLICT (notice_key) DO NOTHING",
        )
        .arg(k2(project, e.notice_id.as_str()))
        .arg(project)
        .arg(e.notice_id.as_str())
        .arg(e.finding_id.as_str())
        .arg(ins)
        .arg(level)
        .arg(category)
        .arg(description)
        .arg(e.responsible.as_str())
        .arg(e.requirement.as_str())
        .arg(e.deadline.as_str())
        .arg(e.deadline.unix().saturating_mul(US))
        .arg(x.e.occurred_at.as_str())
        .arg(x.e.event_id.to_string())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}

async fn stop_work(tx: &mut Tx, x: &Prepared<'_>, e: &StopWorkOrdered) -> Result<(), sqlx::Error> {
    let project = e.project_id.as_str();
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_stop_orders (order_key, project_id, order_id, reason, scope, ordered_at, \
             event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_key) DO NOTHING",
        )
        .arg(k2(project, e.order_id.as_str()))
        .arg(project)
        .arg(e.order_id.as_str())
        .arg(e.reason.as_str())
        .arg(e.scope.as_str())
        .arg(x.e.occurred_at.as_str())
        .arg(x.e.event_id.to_string())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}
