//! `task.*` (协同指挥): dispatched tasks with their SLA deadline, then acknowledgement, escalation (a new level,
//! assignee and deadline), resolution and closing.

use siteledger_domain::supervision::task::{TaskDispatched, TaskEvent};

use crate::db::{Sql, Tx};
use crate::prepare::Prepared;
use crate::supervision::schema::US;

/// `sla_hours` after `from_us`, in µs.
fn due(from_us: i64, sla_hours: i64) -> i64 {
    from_us.saturating_add(sla_hours.saturating_mul(3600 * US))
}

pub(super) async fn fold(tx: &mut Tx, x: &Prepared<'_>, event: &TaskEvent) -> Result<(), sqlx::Error> {
    let at = x.e.occurred_at.as_str();
    let mut q = match event {
        TaskEvent::Dispatched(e) => return dispatched(tx, x, e).await,
        TaskEvent::Acknowledged(e) => {
            Sql::new("UPDATE sv_tasks SET status = 'acknowledged', note = ?").arg(e.note.as_str())
        }
        TaskEvent::Escalated(e) => {
            let sla = i64::from(e.sla_hours.get());
            Sql::new(
                "UPDATE sv_tasks SET status = 'dispatched', level = ?, assignee_kind = ?, assignee = ?, \
                 sla_hours = ?, due_us = ?, escalations = escalations + 1, note = ?",
            )
            .arg(e.to_level.as_str())
            .arg(e.assignee_kind.as_str())
            .arg(e.assignee.as_str())
            .arg(sla)
            .arg(due(x.occurred_us, sla))
            .arg(e.reason.as_str())
        }
        TaskEvent::Resolved(e) => {
            Sql::new("UPDATE sv_tasks SET status = 'resolved', resolved_at = ?, note = ?").arg(at).arg(e.note.as_str())
        }
        TaskEvent::Closed(e) => {
            Sql::new("UPDATE sv_tasks SET status = 'closed', closed_at = ?, note = ?").arg(at).arg(e.note.as_str())
        }
    };
    q.push(", position = ");
    q.bind(x.e.position);
    q.push(" WHERE task_id = ");
    q.bind(event.task().as_str());
    tx.execute(&q).await?;
    Ok(())
}

async fn dispatched(tx: &mut Tx, x: &Prepared<'_>, e: &TaskDispatched) -> Result<(), sqlx::Error> {
    let sla = i64::from(e.sla_hours.get());
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_tasks (task_id, district, project_id, title, source_kind, source_event_id, \
             assignee_kind, assignee, level, status, sla_hours, dispatched_at, due_us, escalations, \
             event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'dispatched', ?, ?, ?, 0, ?, ?) \
             ON CONFLICT (task_id) DO NOTHING",
        )
        .arg(e.task_id.as_str())
        .arg(e.district.as_str())
        .arg(e.project_id.as_ref().map(|p| p.as_str()))
        .arg(e.title.as_str())
        .arg(e.source_kind.as_str())
        .arg(e.source_event_id.as_str())
        .arg(e.assignee_kind.as_str())
        .arg(e.assignee.as_str())
        .arg(e.level.as_str())
        .arg(sla)
        .arg(x.e.occurred_at.as_str())
        .arg(due(x.occurred_us, sla))
        .arg(x.e.event_id.to_string())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}
