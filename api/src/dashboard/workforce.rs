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
use siteledger_projections::Scope;
use siteledger_projections::workforce::DEFAULT_DAYS_TOLERANCE;

use super::{PageResult, Viewer, html};
use crate::error::ApiError;
use crate::state::{AppState, Clock};

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
struct WorkforcePage<'a> {
    layout: super::Layout,
    as_of: &'a str,
    project_q: String,
    findings: &'a [FindingLine],
    /// Findings in the view (the table lists at most [`PAGE_FINDINGS`] of them).
    total_findings: usize,
    by_rule: &'a [Count],
    by_district: &'a [Count],
    registered: u64,
    on_site: u64,
    /// Projects whose newest facts are not yet in the findings shown (being recomputed).
    pending: usize,
}

/// What the page shows of a scope (and project, and day), computed once for the viewers who ask at the same
/// read-model position (`crate::answers`; findings are as of each project's latest day of facts, never the clock).
#[derive(Debug)]
struct View {
    as_of: String,
    findings: Vec<FindingLine>,
    total_findings: usize,
    by_rule: Vec<Count>,
    by_district: Vec<Count>,
    registered: u64,
    on_site: u64,
    pending: usize,
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    project: Option<String>,
    as_of: Option<String>,
}

/// Findings listed on the page (the counts above it cover them all; the CSV export lists them all).
const PAGE_FINDINGS: usize = 500;

async fn page(State(state): State<AppState>, v: Viewer, Query(q): Query<PageQuery>) -> PageResult {
    let scope = v.scope();
    let project = q.project.filter(|p| !p.trim().is_empty());
    let as_of = q.as_of.as_deref().and_then(|d| LocalDate::parse(d).ok());
    let view = state
        .shared(format!("/workforce|{scope:?}|{project:?}|{as_of:?}"), Clock::No, || {
            view_of(&state, &scope, project.as_deref(), as_of)
        })
        .await
        .map_err(|e| v.internal(e))?;
    let page = WorkforcePage {
        layout: v.layout("实名制与工资", "workforce"),
        as_of: &view.as_of,
        project_q: project.as_deref().map(|p| format!("&project={}", super::encode_component(p))).unwrap_or_default(),
        findings: &view.findings,
        total_findings: view.total_findings,
        by_rule: &view.by_rule,
        by_district: &view.by_district,
        registered: view.registered,
        on_site: view.on_site,
        pending: view.pending,
    };
    Ok(html(&page))
}

async fn view_of(
    state: &AppState,
    scope: &Scope,
    project: Option<&str>,
    as_of: Option<LocalDate>,
) -> Result<View, ApiError> {
    let view = state.read.workforce_findings_page(scope, project, as_of, DEFAULT_DAYS_TOLERANCE, PAGE_FINDINGS).await?;
    let latest = state.read.workforce_latest_day().await?;
    let (registered, on_site) = state.read.workforce_counts(scope, project).await?;
    let districts = state.read.district_names().await?;
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_district: BTreeMap<String, usize> = BTreeMap::new();
    let mut total_findings = 0;
    for c in &view.counts {
        let n = usize::try_from(c.n).unwrap_or(0);
        total_findings += n;
        *by_rule.entry(c.rule_zh.clone()).or_default() += n;
        *by_district.entry(districts.get(&c.district).cloned().unwrap_or_else(|| c.district.clone())).or_default() += n;
    }
    Ok(View {
        as_of: as_of.map(|d| d.to_string()).or(latest).unwrap_or_else(|| "—".into()),
        total_findings,
        findings: view
            .rows
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
        registered,
        on_site,
        pending: view.pending,
    })
}
