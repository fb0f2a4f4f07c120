//! Queries of 工程安全质量监管: rectification notices with their state at the time asked, inspections, stop-work orders.

use serde::Serialize;
use siteledger_domain::supervision::inspection::{self, RectificationStatus};
use time::OffsetDateTime;

use super::{PROJECT_JOIN, US, now_unix};
use crate::Scope;
use crate::db::{ReadDb, Sql, to_u64};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// Filter of [`ReadDb::rectifications`].
#[derive(Debug, Clone, Default)]
pub struct RectificationFilter {
    /// Only this project.
    pub project: Option<String>,
    /// Only notices not yet closed.
    pub open_only: bool,
    /// Only overdue notices.
    pub overdue_only: bool,
}

/// One rectification notice (整改通知) with its state at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RectificationRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// District code.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Notice id.
    pub notice_id: String,
    /// Finding id.
    pub finding_id: String,
    /// Inspection id.
    pub inspection_id: String,
    /// `minor` / `general` / `serious`.
    pub level: String,
    /// 问题类别.
    pub category: String,
    /// 问题描述.
    pub description: String,
    /// Responsible party (credit code).
    pub responsible: String,
    /// Its name, if registered.
    pub responsible_name: String,
    /// 整改期限.
    pub deadline: String,
    /// `open` / `submitted` / `reopened` / `passed` / `closed`.
    pub status: String,
    /// Chinese status.
    pub status_zh: String,
    /// Submissions so far.
    pub submissions: i64,
    /// Failed reviews so far.
    pub failed_reviews: i64,
    /// Overdue at the time asked.
    pub overdue: bool,
    /// Hours past the deadline (0 if not overdue).
    pub overdue_hours: i64,
    /// 下发时间.
    pub noticed_at: String,
    /// Closed at.
    pub closed_at: Option<String>,
    /// The notice's event id.
    pub event_id: String,
    /// Log position of the last change.
    pub position: u64,
}

#[derive(sqlx::FromRow)]
struct RectDb {
    project_id: String,
    project_name: Option<String>,
    district: Option<String>,
    district_name: Option<String>,
    notice_id: String,
    finding_id: String,
    inspection_id: String,
    level: String,
    category: String,
    description: String,
    responsible: String,
    responsible_name: Option<String>,
    deadline: String,
    deadline_us: i64,
    status: String,
    submissions: i64,
    failed_reviews: i64,
    noticed_at: String,
    closed_at: Option<String>,
    event_id: String,
    position: i64,
}

/// An inspection (监督检查) with its number of findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InspectionRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: Option<String>,
    /// Inspection id.
    pub inspection_id: String,
    /// `safety` / `quality`.
    pub inspection_kind: String,
    /// 检查人.
    pub inspector: String,
    /// 检查范围.
    pub scope: String,
    /// 受检单位 (credit code).
    pub inspected_party: String,
    /// Its name, if registered.
    pub inspected_party_name: Option<String>,
    /// When.
    pub at: String,
    /// Findings recorded.
    pub findings: i64,
    /// Event id.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

/// A stop-work order (停工令).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StopOrderRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: Option<String>,
    /// Order id.
    pub order_id: String,
    /// 停工原因.
    pub reason: String,
    /// 停工范围.
    pub scope: String,
    /// Ordered at.
    pub ordered_at: String,
    /// Lifted at (复工), if lifted.
    pub lifted_at: Option<String>,
    /// Event id.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

impl ReadDb {
    /// Rectification notices with their state at `now`: overdue first (most overdue first), then newest.
    pub async fn rectifications(
        &self,
        scope: &Scope,
        filter: &RectificationFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<RectificationRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, pj.district, dj.name AS district_name, t.notice_id, \
             t.finding_id, t.inspection_id, t.level, t.category, t.description, t.responsible, \
             e.name AS responsible_name, t.deadline, t.deadline_us, t.status, t.submissions, t.failed_reviews, \
             t.noticed_at, t.closed_at, t.event_id, t.position FROM sv_rectifications t",
        );
        q.push(PROJECT_JOIN);
        q.push(" LEFT JOIN enterprises e ON e.credit_code = t.responsible WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = &filter.project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        if filter.open_only || filter.overdue_only {
            q.push(" AND t.status <> 'closed'");
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        let rows: Vec<RectDb> = self.fetch_all(&q).await?;
        let now_s = now_unix(now);
        let mut out: Vec<RectificationRow> = rows
            .into_iter()
            .map(|r| {
                let status = RectificationStatus::parse(&r.status).unwrap_or(RectificationStatus::Open);
                let deadline = r.deadline_us / US;
                let overdue = inspection::is_overdue(status, deadline, now_s);
                RectificationRow {
                    project_id: r.project_id,
                    project_name: r.project_name.unwrap_or_default(),
                    district: r.district.clone().unwrap_or_default(),
                    district_name: r.district_name.or(r.district).unwrap_or_default(),
                    notice_id: r.notice_id,
                    finding_id: r.finding_id,
                    inspection_id: r.inspection_id,
                    level: r.level,
                    category: r.category,
                    description: r.description,
                    responsible: r.responsible,
                    responsible_name: r.responsible_name.unwrap_or_default(),
                    deadline: r.deadline,
                    status: status.as_str().to_owned(),
                    status_zh: status.name_zh().to_owned(),
                    submissions: r.submissions,
                    failed_reviews: r.failed_reviews,
                    overdue,
                    overdue_hours: if overdue { now_s.saturating_sub(deadline) / 3600 } else { 0 },
                    noticed_at: r.noticed_at,
                    closed_at: r.closed_at,
                    event_id: r.event_id,
                    position: to_u64(r.position),
                }
            })
            .filter(|r| !filter.overdue_only || r.overdue)
            .collect();
        out.sort_by_key(|r| (!r.overdue, -r.overdue_hours, std::cmp::Reverse(r.position)));
        Ok(out)
    }

    /// Inspections, newest first.
    pub async fn inspections(
        &self,
        scope: &Scope,
        project: Option<&str>,
    ) -> Result<Vec<InspectionRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, t.inspection_id, t.inspection_kind, t.inspector, t.scope, \
             t.inspected_party, e.name AS inspected_party_name, t.at, CAST((SELECT COUNT(*) FROM sv_findings f \
             WHERE f.project_id = t.project_id AND f.inspection_id = t.inspection_id) AS BIGINT) AS findings, \
             t.event_id, t.position FROM sv_inspections t",
        );
        q.push(PROJECT_JOIN);
        q.push(" LEFT JOIN enterprises e ON e.credit_code = t.inspected_party WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        Ok(self.fetch_all(&q).await?)
    }

    /// Stop-work orders, those in force first.
    pub async fn stop_orders(&self, scope: &Scope) -> Result<Vec<StopOrderRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, t.order_id, t.reason, t.scope, t.ordered_at, t.lifted_at, \
             t.event_id, t.position FROM sv_stop_orders t",
        );
        q.push(PROJECT_JOIN);
        q.push(" WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        q.push(" ORDER BY CASE WHEN t.lifted_at IS NULL THEN 0 ELSE 1 END, t.position DESC LIMIT 5000");
        Ok(self.fetch_all(&q).await?)
    }
}
