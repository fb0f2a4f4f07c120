//! Queries of 协同指挥 tasks with their SLA state at the time asked.

use serde::Serialize;
use siteledger_domain::supervision::task::{self, TaskStatus};
use time::OffsetDateTime;

use super::{US, now_unix, us_text};
use crate::Scope;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// A coordination task with its SLA state at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    /// Task id.
    pub task_id: String,
    /// District.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Project.
    pub project_id: Option<String>,
    /// Project name.
    pub project_name: Option<String>,
    /// 事项.
    pub title: String,
    /// Source kind.
    pub source_kind: String,
    /// Source event id.
    pub source_event_id: String,
    /// Assignee kind.
    pub assignee_kind: String,
    /// Assignee.
    pub assignee: String,
    /// Level.
    pub level: String,
    /// Status.
    pub status: String,
    /// SLA hours.
    pub sla_hours: i64,
    /// Dispatched at.
    pub dispatched_at: String,
    /// Due at.
    pub due_at: String,
    /// SLA breached at the time asked.
    pub breached: bool,
    /// Hours past due (0 if not breached).
    pub overdue_hours: i64,
    /// Escalations.
    pub escalations: i64,
    /// Resolved at.
    pub resolved_at: Option<String>,
    /// Closed at.
    pub closed_at: Option<String>,
    /// Last note.
    pub note: Option<String>,
    /// Event id of the dispatch.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

#[derive(sqlx::FromRow)]
struct TaskDb {
    task_id: String,
    district: String,
    district_name: Option<String>,
    project_id: Option<String>,
    project_name: Option<String>,
    title: String,
    source_kind: String,
    source_event_id: String,
    assignee_kind: String,
    assignee: String,
    level: String,
    status: String,
    sla_hours: i64,
    dispatched_at: String,
    due_us: i64,
    escalations: i64,
    resolved_at: Option<String>,
    closed_at: Option<String>,
    note: Option<String>,
    event_id: String,
    position: i64,
}

impl ReadDb {
    /// Coordination tasks with their SLA state at `now`: open and breached first.
    pub async fn tasks(
        &self,
        scope: &Scope,
        open_only: bool,
        now: OffsetDateTime,
    ) -> Result<Vec<TaskRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT t.task_id, t.district, d.name AS district_name, t.project_id, pj.name AS project_name, t.title, \
             t.source_kind, t.source_event_id, t.assignee_kind, t.assignee, t.level, t.status, t.sla_hours, \
             t.dispatched_at, t.due_us, t.escalations, t.resolved_at, t.closed_at, t.note, t.event_id, t.position \
             FROM sv_tasks t LEFT JOIN projects pj ON pj.project_id = t.project_id \
             LEFT JOIN districts d ON d.code = t.district WHERE ",
        );
        match scope {
            Scope::Nothing => return Ok(Vec::new()),
            Scope::All => {
                q.push("1 = 1");
            }
            Scope::District(code) => {
                q.push("((t.project_id IS NULL AND t.district = ");
                q.bind(code.as_str());
                q.push(") OR (t.project_id IS NOT NULL AND ");
                project_visible(&mut q, scope, "t.project_id");
                q.push("))");
            }
            Scope::Enterprise(code) => {
                q.push("(t.assignee = ");
                q.bind(code.as_str());
                q.push(" OR (t.project_id IS NOT NULL AND ");
                project_visible(&mut q, scope, "t.project_id");
                q.push("))");
            }
        }
        if open_only {
            q.push(" AND t.status IN ('dispatched', 'acknowledged')");
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        let rows: Vec<TaskDb> = self.fetch_all(&q).await?;
        let now_s = now_unix(now);
        let mut out: Vec<TaskRow> = rows
            .into_iter()
            .map(|r| {
                let status = TaskStatus::parse(&r.status).unwrap_or(TaskStatus::Dispatched);
                let due = r.due_us / US;
                let breached = task::sla_breached(status, due, now_s);
                TaskRow {
                    task_id: r.task_id,
                    district_name: r.district_name.unwrap_or_else(|| r.district.clone()),
                    district: r.district,
                    project_id: r.project_id,
                    project_name: r.project_name,
                    title: r.title,
                    source_kind: r.source_kind,
                    source_event_id: r.source_event_id,
                    assignee_kind: r.assignee_kind,
                    assignee: r.assignee,
                    level: r.level,
                    status: r.status,
                    sla_hours: r.sla_hours,
                    dispatched_at: r.dispatched_at,
                    due_at: us_text(r.due_us),
                    breached,
                    overdue_hours: if breached { now_s.saturating_sub(due) / 3600 } else { 0 },
                    escalations: r.escalations,
                    resolved_at: r.resolved_at,
                    closed_at: r.closed_at,
                    note: r.note,
                    event_id: r.event_id,
                    position: r.position,
                }
            })
            .collect();
        out.sort_by_key(|t| {
            (
                !TaskStatus::parse(&t.status).is_some_and(TaskStatus::is_open),
                !t.breached,
                -t.overdue_hours,
                t.due_at.clone(),
            )
        });
        Ok(out)
    }
}
