//! Dashboard page of 实名制与工资 (`/workforce`): findings of the arrears and anomaly rules with their evidence,
//! counts by rule and by district, who is on site now, and the CSV export; scoped to the viewer. Only masked
//! numbers appear.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;
use siteledger_domain::LocalDate;

use super::{PageResult, Viewer, html};
use crate::state::AppState;

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new().route("/workforce", get(page))
}

#[derive(Debug)]
struct FindingLine {
    project_id: String,
    project_name: String,
    rule_zh: String,
    basis: String,
    month: String,
    id_masked: String,
    detail: String,
    first_evidence: String,
    evidence_count: usize,
    /// The event id of the bureau's `wage.finding.recorded.v1`, empty while unpublished.
    published: String,
}

#[derive(Debug)]
struct Count {
    label: String,
    n: usize,
}

#[derive(Template)]
#[template(path = "workforce_arrears.html")]
struct WorkforcePage {
    layout: super::Layout,
    as_of: String,
    project_q: String,
    findings: Vec<FindingLine>,
    by_rule: Vec<Count>,
    by_district: Vec<Count>,
    registered: usize,
    on_site: usize,
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    project: Option<String>,
    as_of: Option<String>,
}

async fn page(State(state): State<AppState>, v: Viewer, Query(q): Query<PageQuery>) -> PageResult {
    let scope = v.scope();
    let project = q.project.filter(|p| !p.trim().is_empty());
    let as_of = q.as_of.as_deref().and_then(|d| LocalDate::parse(d).ok());
    let rows = state.read.workforce_arrears(&scope, project.as_deref(), as_of, 1).await.map_err(|e| v.internal(e))?;
    let latest = state.read.workforce_latest_day().await.map_err(|e| v.internal(e))?;
    let roster = state.read.workforce_roster(&scope, project.as_deref(), false).await.map_err(|e| v.internal(e))?;
    let on_site = roster.iter().filter(|w| w.on_site == 1 && w.last_direction.as_deref() == Some("in")).count();
    let districts: BTreeMap<String, String> = state
        .read
        .districts_overview(&scope, siteledger_projections::ReadDb::today())
        .await
        .map_err(|e| v.internal(e))?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect();
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_district: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *by_rule.entry(r.rule_zh.clone()).or_default() += 1;
        *by_district.entry(districts.get(&r.district).cloned().unwrap_or_else(|| r.district.clone())).or_default() += 1;
    }
    let page = WorkforcePage {
        layout: v.layout("实名制与工资", "workforce"),
        as_of: as_of.map(|d| d.to_string()).or(latest).unwrap_or_else(|| "—".into()),
        project_q: project.as_deref().map(|p| format!("&project={}", super::encode_component(p))).unwrap_or_default(),
        findings: rows
            .iter()
            .map(|r| FindingLine {
                project_id: r.project_id.clone(),
                project_name: r.project_name.clone(),
                rule_zh: r.rule_zh.clone(),
                basis: r.basis.clone(),
                month: r.month.clone(),
                id_masked: r.id_masked.clone().unwrap_or_else(|| "—".into()),
                detail: r.detail.clone(),
                first_evidence: r.evidence.first().cloned().unwrap_or_default(),
                evidence_count: r.evidence.len(),
                published: r.published_event_id.clone().unwrap_or_default(),
            })
            .collect(),
        by_rule: by_rule.into_iter().map(|(label, n)| Count { label, n }).collect(),
        by_district: by_district.into_iter().map(|(label, n)| Count { label, n }).collect(),
        registered: roster.len(),
        on_site,
    };
    Ok(html(&page))
}
