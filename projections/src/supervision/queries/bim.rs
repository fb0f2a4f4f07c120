//! Queries of BIM施工: progress nodes with their deviation on the day asked.

use serde::Serialize;
use siteledger_domain::LocalDate;
use siteledger_domain::supervision::bim;

use super::PROJECT_JOIN;
use crate::Scope;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// A BIM progress node with its deviation on `today`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BimNodeRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// Node id.
    pub node_id: String,
    /// Name.
    pub name: String,
    /// Model.
    pub model_id: String,
    /// Latest model version.
    pub model_version: i64,
    /// Elements linked.
    pub elements: i64,
    /// Planned start.
    pub planned_start: String,
    /// Planned finish.
    pub planned_finish: String,
    /// 0/1/2.
    pub status: i64,
    /// 未开始/进行中/已完成.
    pub status_zh: String,
    /// Actual start.
    pub actual_start: Option<String>,
    /// Actual finish.
    pub actual_finish: Option<String>,
    /// Days late (negative: early).
    pub deviation_days: i64,
}

#[derive(sqlx::FromRow)]
struct BimDb {
    project_id: String,
    project_name: Option<String>,
    node_id: String,
    name: String,
    model_id: String,
    model_version: Option<i64>,
    elements: i64,
    planned_start: String,
    planned_finish: String,
    status: i64,
    actual_start: Option<String>,
    actual_finish: Option<String>,
}

impl ReadDb {
    /// BIM progress nodes with their deviation on `today` (latest first).
    pub async fn bim_nodes(
        &self,
        scope: &Scope,
        project: Option<&str>,
        today: LocalDate,
    ) -> Result<Vec<BimNodeRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, t.node_id, t.name, t.model_id, \
             (SELECT MAX(m.version) FROM sv_bim_models m WHERE m.project_id = t.project_id AND m.model_id = t.model_id) \
             AS model_version, t.elements, t.planned_start, t.planned_finish, t.status, t.actual_start, \
             t.actual_finish FROM sv_bim_nodes t",
        );
        q.push(PROJECT_JOIN);
        q.push(" WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        q.push(" ORDER BY t.project_id, t.planned_finish LIMIT 5000");
        let rows: Vec<BimDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let planned = LocalDate::parse(&r.planned_finish).ok();
                let actual = r.actual_finish.as_deref().and_then(|s| LocalDate::parse(s).ok());
                let deviation = planned.map_or(0, |p| bim::deviation_days(p, actual, today));
                BimNodeRow {
                    project_id: r.project_id,
                    project_name: r.project_name.unwrap_or_default(),
                    node_id: r.node_id,
                    name: r.name,
                    model_id: r.model_id,
                    model_version: r.model_version.unwrap_or(0),
                    elements: r.elements,
                    planned_start: r.planned_start,
                    planned_finish: r.planned_finish,
                    status: r.status,
                    status_zh: bim::NodeStatus::from_code(r.status).map_or("", |s| s.name_zh()).to_owned(),
                    actual_start: r.actual_start,
                    actual_finish: r.actual_finish,
                    deviation_days: deviation,
                }
            })
            .collect())
    }
}
