//! Open-API handlers of 星级评定、信用评价与年度督查 (ratings, credit, reports, replay, court packages).
//!
//! Lists of issued decisions and signed reports come from the read models; everything that is *computed* —
//! a decision, credit scores, an annual report, a replay, a court package — is computed from the ledger's first
//! N records (`at_size`, default the current head), never from read models, so the answer for a given N never
//! changes. Decisions, credit and annual reports resume from a checked snapshot of the rating fold (the records
//! after it are folded; headers `X-Fold-Resumed-From`, `X-Fold-Records`); `from_zero=true` folds from record 0
//! and gives the same bytes. Replays always read the whole prefix. Every handler applies the caller's scope.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use siteledger_domain::LocalDate;
use siteledger_domain::district::DistrictCode;
use siteledger_domain::ids::{CreditCode, ProjectId};
use siteledger_ledger::EventStore;
use siteledger_projections::Scope;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::evidence::{self, Selection};
use crate::extract::{Path, Query};
use crate::ratings::{self, LogPrefix};
use crate::replay::{self, Subject};
use crate::reports::{self, ReportRequest};
use crate::state::AppState;

/// The routes of this area (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/ratings", get(latest))
        .route("/v1/ratings/{project_id}", get(history))
        .route("/v1/ratings/{project_id}/compute", get(compute))
        .route("/v1/rating-policies", get(policies))
        .route("/v1/credit", get(credit))
        .route("/v1/reports", get(reports_list))
        .route("/v1/reports/annual", get(annual))
        .route("/v1/replay/projects/{project_id}", get(replay_project))
        .route("/v1/replay/enterprises/{credit_code}", get(replay_enterprise))
        .route("/v1/evidence/export", post(export))
}

/// This area's part of the OpenAPI document (merged into `/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi(paths(
    latest,
    history,
    compute,
    policies,
    credit,
    reports_list,
    annual,
    replay_project,
    replay_enterprise,
    export
))]
pub struct Doc;

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("没有项目 {id}，或您无权查看 / no project {id} in your scope"))
}

fn json_value<T: serde::Serialize>(v: &T) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(v).map_err(ApiError::internal)?))
}

/// The latest issued rating decision of every visible project.
#[utoipa::path(get, path = "/v1/ratings", tag = "rating",
    responses((status = 200, description = "Latest rating.decision.v1 per project", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn latest(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, ApiError> {
    json_value(&state.read.rating_latest(&principal.scope()).await?)
}

/// A project's rating history (issued decisions, newest first) and its days with data per application over the
/// last 30 days.
#[utoipa::path(get, path = "/v1/ratings/{project_id}", tag = "rating", params(("project_id" = String, Path, description = "Project id")),
    responses((status = 200, description = "History and days with data", body = Object), (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let scope = principal.scope();
    if !state.access.allows_project(&scope, &project_id) {
        return Err(not_found(&project_id));
    }
    let since = ratings::today_shanghai()
        .date()
        .checked_sub(time::Duration::days(29))
        .map(|d| d.to_string())
        .unwrap_or_default();
    let history = state.read.rating_history(&scope, &project_id).await?;
    let days = state.read.rating_app_days(&scope, &project_id, &since).await?;
    Ok(Json(
        json!({"project_id": project_id, "decisions": history, "days_with_data_since": since, "applications": days}),
    ))
}

/// Where and how to compute.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ComputeQuery {
    /// Tree size (default: the current log size).
    pub at_size: Option<u64>,
    /// Policy version (default: the newest published within the prefix).
    pub policy_version: Option<u32>,
    /// As-of date `YYYY-MM-DD` (default: today in Asia/Shanghai).
    pub as_of: Option<String>,
    /// `true`: fold the log from record 0 instead of resuming from a fold snapshot (same answer; for auditors).
    pub from_zero: Option<bool>,
}

async fn at_size(state: &AppState, at: Option<u64>) -> Result<u64, ApiError> {
    let head = state.ledger.head();
    match at {
        Some(n) if n > head => Err(ApiError::BadRequest(format!("tree size {n} exceeds the log size {head}"))),
        Some(n) => Ok(n),
        None => Ok(head),
    }
}

/// Where a computation starts: the read database's fold snapshots, or record 0 when the caller asks.
fn snapshots(state: &AppState, from_zero: Option<bool>) -> Option<&siteledger_projections::ReadDb> {
    (!from_zero.unwrap_or(false)).then_some(&state.read)
}

/// Says how a computed answer was folded: `X-Fold-Resumed-From` (the snapshot's tree size, 0 for record 0) and
/// `X-Fold-Records` (records read and folded). The body is the same either way.
fn fold_headers(resp: &mut Response, resumed_from: u64, folded: u64) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&resumed_from.to_string()) {
        h.insert("x-fold-resumed-from", v);
    }
    if let Ok(v) = HeaderValue::from_str(&folded.to_string()) {
        h.insert("x-fold-records", v);
    }
}

fn as_of(s: Option<&str>) -> Result<LocalDate, ApiError> {
    match s {
        Some(s) => LocalDate::parse(s).map_err(|e| ApiError::BadRequest(format!("as_of: {e}"))),
        None => Ok(ratings::today_shanghai()),
    }
}

/// Computes a project's rating from the log's first N records: the exact `rating.decision.v1` payload, its
/// canonical bytes' SHA-256, and the evidence document it hashes.
#[utoipa::path(get, path = "/v1/ratings/{project_id}/compute", tag = "rating", params(("project_id" = String, Path, description = "Project id"), ComputeQuery),
    responses((status = 200, description = "Decision, its hash and the evidence", body = Object), (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn compute(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<String>,
    Query(q): Query<ComputeQuery>,
) -> Result<Response, ApiError> {
    if !state.access.allows_project(&principal.scope(), &project_id) {
        return Err(not_found(&project_id));
    }
    let id = ProjectId::parse(&project_id).map_err(|_| not_found(&project_id))?;
    let n = at_size(&state, q.at_size).await?;
    let prefix = LogPrefix::load_with(state.ledger.store(), snapshots(&state, q.from_zero), n, None).await?;
    let version = match q.policy_version {
        Some(v) => v,
        None => prefix
            .latest_policy_version()
            .ok_or_else(|| ApiError::BadRequest(format!("no rating policy is published at tree size {n}")))?,
    };
    let as_of = as_of(q.as_of.as_deref())?;
    let d = ratings::decision(&prefix, &id, version, as_of)?;
    let policy = prefix.policy(version)?;
    let mut resp = Json(json!({
        "decision": d,
        "decision_sha256": ratings::sha256_hex(&ratings::decision_bytes(&d)),
        "evidence": ratings::evidence_document(&prefix, &id, policy, as_of),
    }))
    .into_response();
    fold_headers(&mut resp, prefix.resumed_from, prefix.folded);
    Ok(resp)
}

/// Published rating policies and credit rules (public documents).
#[utoipa::path(get, path = "/v1/rating-policies", tag = "rating",
    responses((status = 200, description = "Versions of rating.policy.v1 and credit.rules.v1", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn policies(State(state): State<AppState>, _principal: Principal) -> Result<Json<Value>, ApiError> {
    json_value(&state.read.rating_policies().await?)
}

/// Credit computation parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CreditQuery {
    /// Tree size (default: the current log size).
    pub at_size: Option<u64>,
    /// Credit rules version (default: the newest published within the prefix).
    pub rules_version: Option<u32>,
    /// As-of date `YYYY-MM-DD` (default: today in Asia/Shanghai).
    pub as_of: Option<String>,
    /// Only this enterprise.
    pub enterprise: Option<String>,
    /// `true`: fold the log from record 0 instead of resuming from a fold snapshot (same answer; for auditors).
    pub from_zero: Option<bool>,
}

/// Enterprise credit scores computed from the log: every point with the event id and position behind it
/// (prove each with `GET /v1/log/proof/inclusion?index=<position>&size=<tree_size>`). The scoring model is the
/// platform's proposal, not a regulation (docs/RATING.md). Enterprises see their own score; district bureaus
/// the enterprises taking part in their district's projects. Scores and grades are whole; `records` lists only
/// the records of projects the caller may see, and `withheld` counts the others and sums their points, without
/// ids (docs/ACCESS.md).
#[utoipa::path(get, path = "/v1/credit", tag = "rating", params(CreditQuery),
    responses((status = 200, description = "Scores, grades and records", body = Object)), security(("bearer" = [])))]
pub async fn credit(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<CreditQuery>,
) -> Result<Response, ApiError> {
    let scope = principal.scope();
    let n = at_size(&state, q.at_size).await?;
    let store = state.ledger.store();
    let version = match q.rules_version {
        Some(v) => v,
        None => ratings::latest_rules_version(store, n)
            .await?
            .ok_or_else(|| ApiError::BadRequest(format!("no credit rules are published at tree size {n}")))?,
    };
    let prefix = LogPrefix::load_with(store, snapshots(&state, q.from_zero), n, Some(version)).await?;
    let rules = ratings::credit_rules_at(store, n, version).await?;
    let as_of = as_of(q.as_of.as_deref())?;
    let reg = &prefix.fold.registry;
    let access = &state.access;
    let scores: Vec<_> = ratings::credit_scores(&prefix, &rules, as_of)
        .into_iter()
        .filter(|s| q.enterprise.as_deref().is_none_or(|e| s.credit_code.as_str() == e))
        .filter(|s| {
            let projects = reg.projects_of_enterprise(&s.credit_code).map(|p| &p.project_id);
            ratings::enterprise_visible(access, &scope, &s.credit_code, projects)
        })
        .map(|s| {
            let name = reg.enterprise(&s.credit_code).map(|e| e.name.as_str().to_owned());
            let s = ratings::ScopedScore::new(s, |r| ratings::record_visible(access, &scope, r));
            json!({"credit_code": s.credit_code.as_str(), "name": name, "score": s.score, "grade": s.grade,
                   "records": s.records, "withheld": s.withheld})
        })
        .collect();
    let mut resp = Json(
        json!({"tree_size": n, "rules_version": version, "as_of": as_of.to_string(), "base_points": rules.base_points, "scores": scores}),
    )
    .into_response();
    fold_headers(&mut resp, prefix.resumed_from, prefix.folded);
    Ok(resp)
}

/// Signed annual reports visible to the caller.
#[utoipa::path(get, path = "/v1/reports", tag = "rating",
    responses((status = 200, description = "report.annual.v1 records", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn reports_list(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, ApiError> {
    json_value(&state.read.rating_reports(&principal.scope()).await?)
}

/// Annual report parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AnnualQuery {
    /// The year.
    pub year: i32,
    /// District code; the whole city if absent.
    pub district: Option<String>,
    /// Tree size (default: the current log size).
    pub at_size: Option<u64>,
    /// Policy version (default: the newest within the prefix).
    pub policy_version: Option<u32>,
    /// `html` (default), `csv` or `json`.
    pub format: Option<String>,
    /// `true`: fold the log from record 0 instead of resuming from a fold snapshot (same bytes; for auditors).
    pub from_zero: Option<bool>,
}

/// The annual supervision report of a district or the city, computed at a tree size: the same size always gives
/// the same bytes (response header `X-Content-SHA256` is the document's digest, as `report.annual.v1` records it).
#[utoipa::path(get, path = "/v1/reports/annual", tag = "rating", params(AnnualQuery),
    responses((status = 200, description = "The report (HTML, CSV or JSON)", body = String), (status = 403, description = "Not the caller's district", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn annual(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AnnualQuery>,
) -> Result<Response, ApiError> {
    let district = q
        .district
        .as_deref()
        .map(DistrictCode::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("district: {e}")))?;
    match (principal.scope(), &district) {
        (Scope::All, _) => {}
        (Scope::District(d), Some(x)) if x.as_str() == d => {}
        _ => {
            return Err(ApiError::Forbidden(
                "年度督查报告仅对市住建局、审计和本区县(市)住建部门开放 / annual reports: city, auditors, or a district's own".into(),
            ));
        }
    }
    let n = at_size(&state, q.at_size).await?;
    let req = ReportRequest { year: q.year, district, at_size: n, policy_version: q.policy_version, as_of: None };
    let r = reports::annual_with(state.ledger.store(), snapshots(&state, q.from_zero), &req).await?;
    let (resumed_from, folded) = (r.resumed_from, r.folded);
    let (body, ctype) = match q.format.as_deref().unwrap_or("html") {
        "html" => (r.html.into_bytes(), "text/html; charset=utf-8"),
        "csv" => (r.csv.into_bytes(), "text/csv; charset=utf-8"),
        "json" => (r.json, "application/json"),
        other => return Err(ApiError::BadRequest(format!("format {other:?}: use html, csv or json"))),
    };
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(r.record.content_sha256.as_str()) {
        h.insert("x-content-sha256", v);
    }
    if let Ok(v) = HeaderValue::from_str(&n.to_string()) {
        h.insert("x-tree-size", v);
    }
    fold_headers(&mut resp, resumed_from, folded);
    Ok(resp)
}

/// Replay point.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ReplayQuery {
    /// A tree size, or an RFC 3339 instant (the size the ledger had then); default the current size.
    pub as_of: Option<String>,
}

async fn replay_size(state: &AppState, as_of: Option<&str>) -> Result<u64, ApiError> {
    match as_of {
        Some(a) => Ok(ratings::resolve_as_of(state.ledger.store(), a).await?),
        None => Ok(state.ledger.head()),
    }
}

/// A project's state at a tree size or instant, the records that produced it and their inclusion proofs.
#[utoipa::path(get, path = "/v1/replay/projects/{project_id}", tag = "rating", params(("project_id" = String, Path, description = "Project id"), ReplayQuery),
    responses((status = 200, description = "Replay document", body = Object), (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay_project(
    State(state): State<AppState>,
    principal: Principal,
    Path(project_id): Path<String>,
    Query(q): Query<ReplayQuery>,
) -> Result<Json<Value>, ApiError> {
    if !state.access.allows_project(&principal.scope(), &project_id) {
        return Err(not_found(&project_id));
    }
    let id = ProjectId::parse(&project_id).map_err(|_| not_found(&project_id))?;
    let n = replay_size(&state, q.as_of.as_deref()).await?;
    Ok(Json(replay::replay(state.ledger.store(), &Subject::Project(id), n).await?))
}

/// An enterprise's state (projects, credit score and the records behind it) at a tree size or instant. City
/// and auditors see any enterprise; an enterprise sees itself.
#[utoipa::path(get, path = "/v1/replay/enterprises/{credit_code}", tag = "rating", params(("credit_code" = String, Path, description = "统一社会信用代码"), ReplayQuery),
    responses((status = 200, description = "Replay document", body = Object), (status = 404, description = "No such enterprise in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay_enterprise(
    State(state): State<AppState>,
    principal: Principal,
    Path(credit_code): Path<String>,
    Query(q): Query<ReplayQuery>,
) -> Result<Json<Value>, ApiError> {
    let missing = || {
        ApiError::NotFound(format!("没有企业 {credit_code}，或您无权查看 / no enterprise {credit_code} in your scope"))
    };
    match principal.scope() {
        Scope::All => {}
        Scope::Enterprise(c) if c == credit_code => {}
        _ => return Err(missing()),
    }
    let code = CreditCode::parse(&credit_code).map_err(|_| missing())?;
    let n = replay_size(&state, q.as_of.as_deref()).await?;
    Ok(Json(replay::replay(state.ledger.store(), &Subject::Enterprise(code), n).await?))
}

/// What goes into a court package: event ids, or a stream (prefix) with optional kind prefix and time range.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Event ids.
    #[serde(default)]
    pub event_ids: Vec<String>,
    /// A stream, or a prefix ending in `/` or `*`.
    pub stream: Option<String>,
    /// Kind prefix.
    pub kind: Option<String>,
    /// Occurred at or after (RFC 3339).
    pub from: Option<String>,
    /// Occurred before (RFC 3339).
    pub to: Option<String>,
    /// Payload members that must have these values (e.g. `{"source": "TC-01"}`).
    #[serde(default, rename = "where")]
    pub payload_equals: std::collections::BTreeMap<String, String>,
    /// Include the files the records cite (附件): the answer is then an evidence package as a tar archive
    /// (`bundle.json` in format v1.1 when a record cites a file, `attachments/<sha256>`,
    /// `attachments-not-included.txt`), not the bare bundle. Default false: the bundle alone, format v1.
    #[serde(default)]
    pub attachments: bool,
}

/// Most attachment bytes one HTTP package carries; files past it are listed as not included (the CLI's
/// `siteledger evidence export --attachments` writes any size).
const MAX_PACKAGE_ATTACHMENT_BYTES: u64 = 256 * 1024 * 1024;

/// One evidence bundle (docs/FORMAT.md §7) for the selected records, for `siteledger-verify`. Every record named
/// by id must be visible to the caller (404 otherwise, as for a missing one); a stream filter selects among the
/// records the caller may see. With `"attachments": true` the answer is an evidence package (tar) holding the
/// files the records cite, each only if the caller may read a record citing it (as `GET /v1/blobs/{sha256}`); the
/// others, and personal attachments, are listed in `attachments-not-included.txt`.
#[utoipa::path(post, path = "/v1/evidence/export", tag = "transparency", request_body = ExportRequest,
    responses((status = 200, description = "Canonical evidence bundle (JSON), or with `attachments` an evidence package (tar)", content_type = "application/json", body = Object), (status = 400, description = "Bad selection", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    crate::extract::Json(req): crate::extract::Json<ExportRequest>,
) -> Result<Response, ApiError> {
    let time = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                siteledger_signer::envelope::parse_time(s).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
            })
            .transpose()
    };
    let sel = if req.event_ids.is_empty() {
        let stream = req.stream.clone().ok_or_else(|| ApiError::BadRequest("give event_ids or stream".into()))?;
        Selection::Filter {
            stream,
            kind_prefix: req.kind.clone(),
            from: time("from", &req.from)?,
            to: time("to", &req.to)?,
            payload_equals: req.payload_equals.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    } else {
        let ids = req
            .event_ids
            .iter()
            .map(|s| Uuid::parse_str(s).map_err(|_| ApiError::BadRequest(format!("{s:?} is not an event id"))))
            .collect::<Result<Vec<_>, _>>()?;
        Selection::Ids(ids)
    };
    let store = state.ledger.store();
    let scope = principal.scope();
    let sel = match sel {
        // Named records: each must exist and be visible; a hidden one answers like a missing one.
        Selection::Ids(ids) => {
            let found = store.events_by_id(&ids).await.map_err(ratings::RatingError::from)?;
            for id in &ids {
                if !found.iter().any(|e| e.event_id == *id && state.access.allows(&scope, &e.stream)) {
                    return Err(ApiError::NotFound(format!(
                        "没有记录 {id}，或您无权查看 / no record {id} in your scope"
                    )));
                }
            }
            Selection::Ids(ids)
        }
        // A filter selects among the records the caller may see: records outside the scope are never named.
        filter @ Selection::Filter { .. } => {
            let visible: Vec<Uuid> = evidence::select(store, &filter)
                .await?
                .into_iter()
                .filter(|e| state.access.allows(&scope, &e.stream))
                .map(|e| e.event_id)
                .collect();
            if visible.is_empty() {
                return Err(ApiError::BadRequest("no record in your scope matches the selection".into()));
            }
            Selection::Ids(visible)
        }
    };
    let vkey = state.ledger.log_verifier().vkey();
    let bundle = match evidence::export(store, &vkey, &sel).await {
        Err(ratings::RatingError::Invalid(m)) if m.contains("newer than the latest checkpoint") => {
            state.ledger.checkpoint_now().await?;
            evidence::export(store, &vkey, &sel).await?
        }
        other => other?,
    };
    if req.attachments {
        return package(&state, &scope, bundle).await;
    }
    let mut bundle = bundle;
    crate::witnessing::cosign_bundle(&state, &mut bundle).await?;
    crate::timestamping::timestamp_bundle(&state, &mut bundle).await?;
    let mut r = Response::new(Body::from(bundle.to_bytes()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"evidence-package.json\""),
    );
    Ok(r.into_response())
}

/// The evidence package of `bundle` as a tar archive: the files its records cite that the store holds and that
/// the caller may read (a record citing the digest is in the caller's scope, the rule of `GET /v1/blobs/{sha256}`),
/// up to [`MAX_PACKAGE_ATTACHMENT_BYTES`]; every other cited digest is listed as not included.
async fn package(
    state: &AppState,
    scope: &Scope,
    mut bundle: siteledger_signer::bundle::Bundle,
) -> Result<Response, ApiError> {
    use crate::blobs::BlobStore;
    let cited = evidence::cite_attachments(&mut bundle);
    crate::witnessing::cosign_bundle(state, &mut bundle).await?;
    crate::timestamping::timestamp_bundle(state, &mut bundle).await?;
    let stream_of: std::collections::HashMap<String, String> = bundle
        .records
        .iter()
        .filter_map(|r| {
            let id = r.envelope.get("id")?.as_str()?.to_owned();
            Some((id, r.envelope.get("stream")?.as_str()?.to_owned()))
        })
        .collect();
    let (mut files, mut missing, mut total) = (Vec::new(), Vec::new(), 0u64);
    for (sha, ids) in cited {
        let entitled = ids.iter().any(|id| stream_of.get(id).is_some_and(|s| state.access.allows(scope, s)));
        let held = if entitled && total < MAX_PACKAGE_ATTACHMENT_BYTES { state.blobs.read(&sha).await? } else { None };
        match held {
            Some(bytes) if total + bytes.len() as u64 <= MAX_PACKAGE_ATTACHMENT_BYTES => {
                total += bytes.len() as u64;
                files.push((sha, bytes));
            }
            _ => missing.push((sha, ids)),
        }
    }
    let mut r = Response::new(Body::from(evidence::package_tar(&bundle, &files, &missing)));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    r.headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"evidence-package.tar\""));
    Ok(r.into_response())
}
