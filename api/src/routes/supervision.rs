//! Open-API handlers of 监管协同: rectifications (工程安全质量监管), the testing register with unqualified results and
//! report-number gaps (工程质量检测), 危大工程, BIM progress, coordination tasks (协同指挥) and the command view.
//!
//! Every list is scoped by the caller's token and answers JSON, or CSV with `?format=csv` (UTF-8 with a BOM, so
//! spreadsheet programs read the Chinese text). Time-dependent fields (overdue, SLA breached, reporting state,
//! BIM deviation) are computed for the server's current time, or for `?at=<RFC 3339>` to ask "as of" another
//! instant; the read models never fold a clock.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use siteledger_projections::supervision::RectificationFilter;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, OpenApi};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

/// The routes of this area (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/supervision/command", get(command))
        .route("/v1/supervision/inspections", get(inspections))
        .route("/v1/supervision/stop-orders", get(stop_orders))
        .route("/v1/supervision/rectifications", get(rectifications))
        .route("/v1/supervision/testing/reports", get(test_reports))
        .route("/v1/supervision/testing/unqualified", get(unqualified))
        .route("/v1/supervision/testing/gaps", get(gaps))
        .route("/v1/supervision/hazards", get(hazards))
        .route("/v1/supervision/bim/nodes", get(bim_nodes))
        .route("/v1/tasks", get(tasks))
}

/// This area's part of the OpenAPI document (merged into `/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi(
    paths(command, inspections, stop_orders, rectifications, test_reports, unqualified, gaps, hazards, bim_nodes, tasks),
    tags((name = "supervision", description = "监管协同: inspections, testing, 危大工程, BIM, coordination tasks"))
)]
pub struct Doc;

/// Common list parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only this project.
    pub project: Option<String>,
    /// `csv` for CSV; JSON otherwise.
    pub format: Option<String>,
    /// Evaluate time-dependent fields at this instant (RFC 3339) instead of now.
    pub at: Option<String>,
    /// Only open items (rectifications not closed, tasks not resolved).
    pub open: Option<bool>,
    /// Only overdue rectifications.
    pub overdue: Option<bool>,
    /// Only unqualified reports.
    pub unqualified: Option<bool>,
}

impl ListQuery {
    fn now(&self) -> Result<OffsetDateTime, ApiError> {
        match &self.at {
            None => Ok(OffsetDateTime::now_utc()),
            Some(s) => OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                ApiError::BadRequest(format!("at: {s:?} is not an RFC 3339 instant (e.g. 2026-03-01T12:00:00+08:00)"))
            }),
        }
    }

    fn csv(&self) -> Result<bool, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!("format: {other:?} is not json or csv"))),
        }
    }
}

/// JSON, or CSV of the rows when asked.
fn answer<T: Serialize>(rows: &[T], csv: bool, name: &str) -> Result<Response, ApiError> {
    let v = serde_json::to_value(rows).map_err(ApiError::internal)?;
    if !csv {
        return Ok(Json(v).into_response());
    }
    let mut resp = to_csv(&v).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(d) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}

/// CSV (RFC 4180) of an array of flat objects: columns in the first row's order; arrays joined with `;`.
pub fn to_csv(rows: &Value) -> String {
    let mut out = String::from("\u{FEFF}");
    let Some(rows) = rows.as_array() else { return out };
    let Some(first) = rows.first().and_then(Value::as_object) else { return out };
    let cols: Vec<&String> = first.keys().collect();
    let cell = |v: Option<&Value>| -> String {
        let s = match v {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => {
                a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)).collect::<Vec<_>>().join(";")
            }
            Some(other) => other.to_string(),
        };
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
    };
    out.push_str(&cols.iter().map(|c| cell(Some(&Value::String((*c).clone())))).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
    for r in rows {
        let o = r.as_object();
        out.push_str(&cols.iter().map(|c| cell(o.and_then(|o| o.get(c.as_str())))).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The command view (指挥视图): per district, open tasks, overdue rectifications, 危大工程 lacking expert review or
/// approval, report-number gaps and unreported unqualified results; overdue first.
#[utoipa::path(get, path = "/v1/supervision/command", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Command view", body = Object)), security(("bearer" = [])))]
pub async fn command(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let view = state.read.command_view(&principal.scope(), q.now()?).await?;
    Ok(Json(serde_json::to_value(view).map_err(ApiError::internal)?))
}

/// Inspections (监督检查) with their number of findings, newest first.
#[utoipa::path(get, path = "/v1/supervision/inspections", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Inspections (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn inspections(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let rows = state.read.inspections(&principal.scope(), q.project.as_deref()).await?;
    answer(&rows, q.csv()?, "inspections")
}

/// Stop-work orders (停工令), those in force first.
#[utoipa::path(get, path = "/v1/supervision/stop-orders", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Stop-work orders (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn stop_orders(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let rows = state.read.stop_orders(&principal.scope()).await?;
    answer(&rows, q.csv()?, "stop-orders")
}

/// Rectification notices (整改通知) with status and overdue state; overdue first.
#[utoipa::path(get, path = "/v1/supervision/rectifications", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Rectifications (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn rectifications(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = RectificationFilter {
        project: q.project.clone(),
        open_only: q.open.unwrap_or(false),
        overdue_only: q.overdue.unwrap_or(false),
    };
    let rows = state.read.rectifications(&principal.scope(), &filter, q.now()?).await?;
    answer(&rows, q.csv()?, "rectifications")
}

/// Test reports (检测报告台账), newest first.
#[utoipa::path(get, path = "/v1/supervision/testing/reports", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Reports (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn test_reports(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let rows =
        state.read.test_reports(&principal.scope(), q.project.as_deref(), q.unqualified.unwrap_or(false)).await?;
    answer(&rows, q.csv()?, "test-reports")
}

/// The unqualified-results register (不合格项目台账) with each result's reporting state.
#[utoipa::path(get, path = "/v1/supervision/testing/unqualified", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Unqualified results (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn unqualified(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let rows = state.read.unqualified_register(&principal.scope(), q.now()?).await?;
    answer(&rows, q.csv()?, "unqualified")
}

/// Gaps in laboratories' report numbers (编号连续: a gap is an alarm).
#[utoipa::path(get, path = "/v1/supervision/testing/gaps", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Gaps (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn gaps(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let rows = state.read.report_gaps(&principal.scope()).await?;
    answer(&rows, q.csv()?, "report-gaps")
}

/// 危大工程 with classification (危大 / 超过一定规模) and what each still lacks before it may start.
#[utoipa::path(get, path = "/v1/supervision/hazards", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Hazardous works (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn hazards(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let rows = state.read.hazards(&principal.scope(), q.project.as_deref()).await?;
    answer(&rows, q.csv()?, "hazards")
}

/// BIM progress nodes with their deviation (days late) as of the date in Asia/Shanghai.
#[utoipa::path(get, path = "/v1/supervision/bim/nodes", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Progress nodes (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn bim_nodes(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let today = siteledger_domain::time::shanghai_date(q.now()?);
    let today = siteledger_domain::LocalDate::try_from(today).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let rows = state.read.bim_nodes(&principal.scope(), q.project.as_deref(), today).await?;
    answer(&rows, q.csv()?, "bim-nodes")
}

/// Coordination tasks (协同指挥) with SLA state; open and breached first.
#[utoipa::path(get, path = "/v1/tasks", tag = "supervision", params(ListQuery),
    responses((status = 200, description = "Tasks (JSON array or CSV)", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn tasks(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let rows = state.read.tasks(&principal.scope(), q.open.unwrap_or(false), q.now()?).await?;
    answer(&rows, q.csv()?, "tasks")
}

#[cfg(test)]
mod tests {
    use super::to_csv;
    use serde_json::json;

    #[test]
    fn csv_quotes_and_joins() {
        let v = json!([{"a": "x,y", "b": ["p", "q"], "c": null, "d": 3}, {"a": "say \"hi\"", "b": [], "d": true}]);
        assert_eq!(to_csv(&v), "\u{FEFF}a,b,c,d\r\n\"x,y\",p;q,,3\r\n\"say \"\"hi\"\"\",,,true\r\n");
        assert_eq!(to_csv(&json!([])), "\u{FEFF}");
    }
}
