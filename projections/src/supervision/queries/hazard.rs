//! Queries of 危大工程: each work with its classification and what it still lacks.

use serde::Serialize;
use siteledger_domain::supervision::hazard::{self, Class, ReviewOutcome};

use super::PROJECT_JOIN;
use crate::Scope;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// A 危大工程 with its classification and what it still lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HazardRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// District.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Work id.
    pub work_id: String,
    /// Name.
    pub name: String,
    /// Category (JSON name).
    pub category: String,
    /// `hazardous` / `major`.
    pub class: String,
    /// 危大工程 / 超过一定规模.
    pub class_zh: String,
    /// Parameters as listed (JSON text).
    pub parameters: String,
    /// Approved plan version.
    pub approved_version: i64,
    /// Countersigned plan version.
    pub countersigned_version: i64,
    /// Last review outcome.
    pub review_outcome: Option<String>,
    /// Missing before start (`approval`, `countersignature`, `expert_review`).
    pub missing: Vec<String>,
    /// Missing, in Chinese.
    pub missing_zh: Vec<String>,
    /// Started (even though something is missing would be impossible: decide refuses it).
    pub started_at: Option<String>,
    /// Accepted.
    pub accepted_at: Option<String>,
    /// Monitoring readings.
    pub readings: i64,
    /// Anomalies.
    pub anomalies: i64,
    /// Listed at.
    pub listed_at: String,
    /// Position.
    pub position: i64,
}

#[derive(sqlx::FromRow)]
struct HazardDb {
    project_id: String,
    project_name: Option<String>,
    district: Option<String>,
    district_name: Option<String>,
    work_id: String,
    name: String,
    category: String,
    class: String,
    parameters: String,
    approved_version: i64,
    countersigned_version: i64,
    review_version: Option<i64>,
    review_outcome: Option<String>,
    started_at: Option<String>,
    accepted_at: Option<String>,
    readings: i64,
    anomalies: i64,
    listed_at: String,
    position: i64,
}

impl ReadDb {
    /// 危大工程 with classification and what they lack (lacking first).
    pub async fn hazards(&self, scope: &Scope, project: Option<&str>) -> Result<Vec<HazardRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, pj.district, dj.name AS district_name, t.work_id, t.name, \
             t.category, t.class, t.parameters, t.approved_version, t.countersigned_version, t.review_version, \
             t.review_outcome, t.started_at, t.accepted_at, t.readings, t.anomalies, t.listed_at, t.position \
             FROM sv_hazards t",
        );
        q.push(PROJECT_JOIN);
        q.push(" WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        let rows: Vec<HazardDb> = self.fetch_all(&q).await?;
        let mut out: Vec<HazardRow> = rows
            .into_iter()
            .map(|r| {
                let class = if r.class == "major" { Class::Major } else { Class::Hazardous };
                let outcome = match r.review_outcome.as_deref() {
                    Some("passed") => Some(ReviewOutcome::Passed),
                    Some("passed_with_changes") => Some(ReviewOutcome::PassedWithChanges),
                    Some("failed") => Some(ReviewOutcome::Failed),
                    _ => None,
                };
                let review = r.review_version.zip(outcome).map(|(v, o)| (u32::try_from(v).unwrap_or(0), o));
                let v = |x: i64| u32::try_from(x).unwrap_or(0);
                let missing = if r.accepted_at.is_some() {
                    Vec::new()
                } else {
                    hazard::missing(class, v(r.approved_version), v(r.countersigned_version), review)
                };
                HazardRow {
                    project_id: r.project_id,
                    project_name: r.project_name.unwrap_or_default(),
                    district: r.district.clone().unwrap_or_default(),
                    district_name: r.district_name.or(r.district).unwrap_or_default(),
                    work_id: r.work_id,
                    name: r.name,
                    category: r.category,
                    class: class.as_str().to_owned(),
                    class_zh: class.name_zh().to_owned(),
                    parameters: r.parameters,
                    approved_version: r.approved_version,
                    countersigned_version: r.countersigned_version,
                    review_outcome: r.review_outcome,
                    missing: missing.iter().map(|m| m.as_str().to_owned()).collect(),
                    missing_zh: missing.iter().map(|m| m.name_zh().to_owned()).collect(),
                    started_at: r.started_at,
                    accepted_at: r.accepted_at,
                    readings: r.readings,
                    anomalies: r.anomalies,
                    listed_at: r.listed_at,
                    position: r.position,
                }
            })
            .collect();
        out.sort_by_key(|h| (h.missing.is_empty(), h.class != "major", std::cmp::Reverse(h.position)));
        Ok(out)
    }
}
