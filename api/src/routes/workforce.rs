//! Open-API handlers of 实名制与工资: the vault intake (plaintext in, references and commitments out), scoped
//! plaintext reads (each recorded), erasure, and the read models (roster, who is on site, daily attendance,
//! payroll against attendance, arrears with CSV export and summaries by project, enterprise and district).
//!
//! Plaintext never leaves through any other endpoint: the records built from an intake carry only the reference,
//! the commitments and masked forms. Reads of plaintext are allowed to the city bureau (市住建局, every owner's
//! fields) and to each enterprise that took the person in (the ID and the fields it registered itself); every
//! intake, card, read and erasure is a signed `vault.access.v1` record in the log (`GET /v1/workforce/vault/access`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use siteledger_domain::workforce::vault::{TokenId, VaultPurpose};
use siteledger_domain::workforce::{
    CardRegistered, Commitment, IdType, Masked, PersonRef, TeamId, Trade, WorkRole, WorkerRegistered, YearMonth,
};
use siteledger_domain::{CreditCode, LocalDate, Name, ProjectId};
use siteledger_projections::Scope;
use siteledger_projections::workforce::{ArrearsView, DEFAULT_DAYS_TOLERANCE, FindingsPage, RosterPage};
use utoipa::{IntoParams, OpenApi};

use super::{encode_query_value, json_bytes, paged, to_json_bytes};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::state::{AppState, Clock};
use crate::vault::{
    AccessRecord, Accessor, CardIntake, Erasure, Intake, IntakeField, OwnerFields, PersonIntake, Revealed,
};

/// The routes of this area (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/workforce/people", post(intake))
        .route("/v1/workforce/people/{person_ref}", get(reveal).delete(erase))
        .route("/v1/workforce/people/{person_ref}/cards", post(add_card))
        .route("/v1/workforce/vault/access", get(access_log))
        .route("/v1/workforce/roster", get(roster))
        .route("/v1/workforce/attendance", get(attendance))
        .route("/v1/workforce/payroll", get(payroll))
        .route("/v1/workforce/arrears", get(arrears))
        .route("/v1/workforce/arrears/summary", get(arrears_summary))
        .route("/v1/workforce/import/project-workers", post(import_project_workers))
        .route("/v1/workforce/export/payroll", get(export_payroll))
}

/// This area's part of the OpenAPI document (merged into `/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi(
    paths(intake, reveal, erase, add_card, access_log, roster, attendance, payroll, arrears, arrears_summary,
        import_project_workers, export_payroll),
    components(schemas(PersonIntake, Intake, CardIntake, Revealed, OwnerFields, Erasure, AccessRecord, CardBody,
        PlatformWorker, PlatformProjectWorkers)),
    tags((name = "workforce", description = "实名制与工资专用账户: vault intake, roster, attendance, payroll, arrears"))
)]
pub struct Doc;

/// The vault accessor a principal acts as: the city bureau, or an enterprise (its token's credit code).
pub(crate) fn accessor(p: &Principal) -> Result<Accessor, ApiError> {
    let token = TokenId::parse(&p.token_id).map_err(ApiError::internal)?;
    match (p.role, p.scope.as_deref()) {
        (Role::City, _) => Ok(Accessor::city(token)),
        (Role::Enterprise, Some(cc)) => CreditCode::parse(cc)
            .map(|c| Accessor::enterprise(token, c))
            .map_err(|_| ApiError::Forbidden("this enterprise token's scope is not a 统一社会信用代码".into())),
        _ => Err(ApiError::Forbidden("only an enterprise or the city bureau uses the vault".into())),
    }
}

fn today_shanghai() -> LocalDate {
    let now = siteledger_domain::time::shanghai_date(time::OffsetDateTime::now_utc());
    LocalDate::try_from(now).unwrap_or(LocalDate::MIN)
}

/// May `p` read or erase the plaintext of a person taken in by `owners`? The city bureau, or an owner
/// enterprise (which then sees only what it registered itself); nobody for an unknown or erased person.
pub(crate) fn may_see(p: &Principal, owners: &[String]) -> bool {
    !owners.is_empty()
        && match p.role {
            Role::City => true,
            Role::Enterprise => p.scope.as_ref().is_some_and(|s| owners.contains(s)),
            _ => false,
        }
}

/// Takes a person into the vault (证件, 姓名, 电话, 银行卡) and returns what the signed records carry: the
/// person's `person_ref` (the same for every enterprise that knows the document number), the commitment and masked
/// form of the document number and the birth month. A person already in the vault is not revealed: the caller
/// becomes an owner of its own name, phone and cards only. Invalid ID numbers are refused with the check that
/// failed; persons under 16 are refused (劳动法第十五条). Recorded in the log (`vault.access.v1`).
#[utoipa::path(post, path = "/v1/workforce/people", tag = "workforce", request_body = PersonIntake,
    responses((status = 200, body = Intake), (status = 400, description = "Invalid document, age or card", body = crate::error::ErrorBody),
        (status = 503, description = "The access could not be recorded: nothing stored", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn intake(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<PersonIntake>,
) -> Result<Json<Intake>, ApiError> {
    let who = accessor(&principal)?;
    Ok(Json(state.vault.intake(&who, &who.owner(), &body, today_shanghai()).await?))
}

/// A bank card number.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CardBody {
    /// The card number (plaintext; vault only).
    pub card_number: String,
}

impl std::fmt::Debug for CardBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardBody(<redacted>)")
    }
}

/// Registers a worker's own bank card (工资卡) in the vault for the calling owner; returns its commitment and
/// masked form. Recorded in the log.
#[utoipa::path(post, path = "/v1/workforce/people/{person_ref}/cards", tag = "workforce", request_body = CardBody,
    params(("person_ref" = String, Path, description = "Person reference")),
    responses((status = 200, body = CardIntake), (status = 403, description = "Not an enterprise token", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn add_card(
    State(state): State<AppState>,
    principal: Principal,
    Path(person): Path<String>,
    JsonBody(body): JsonBody<CardBody>,
) -> Result<Json<CardIntake>, ApiError> {
    let owners = state.vault.owners(&person).await?;
    if !may_see(&principal, &owners) {
        return Err(ApiError::NotFound(format!("no person {person} in the vault")));
    }
    if principal.role != Role::Enterprise {
        // A card is tied to the enterprise that pays wages into it (per-owner fields).
        return Err(ApiError::Forbidden(
            "工资卡由用工企业登记 / a wage card is registered by an enterprise that took the person in".into(),
        ));
    }
    let who = accessor(&principal)?;
    Ok(Json(state.vault.add_card(&who, &who.owner(), &person, &body.card_number).await?))
}

/// Why the plaintext is read (recorded in the log with the access).
#[derive(Debug, Deserialize, IntoParams)]
pub struct RevealQuery {
    /// Purpose code (required): `wage_payment` 工资代发, `wage_complaint` 欠薪投诉核查, `labour_dispute`
    /// 劳动争议调解仲裁, `inspection` 监督执法检查, `subject_request` 本人查阅更正, `platform_report` 全国平台报送.
    pub purpose: Option<String>,
}

/// The plaintext of a person: for an owner enterprise, the ID and what it registered itself; for the city bureau,
/// every owner's registration. Every call is a signed access record in the log, written before the answer (if it
/// cannot be written, nothing is answered: 503).
#[utoipa::path(get, path = "/v1/workforce/people/{person_ref}", tag = "workforce",
    params(("person_ref" = String, Path, description = "Person reference"), RevealQuery),
    responses((status = 200, body = Revealed), (status = 400, description = "Missing or unknown purpose code", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown, erased, or not yours", body = crate::error::ErrorBody),
        (status = 503, description = "The access could not be recorded: nothing revealed", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reveal(
    State(state): State<AppState>,
    principal: Principal,
    Path(person): Path<String>,
    Query(q): Query<RevealQuery>,
) -> Result<Json<Revealed>, ApiError> {
    // A code, never free text (a free-text purpose could carry a number into the public log).
    let purpose = VaultPurpose::parse(q.purpose.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("用途代码 / purpose code required: {e}")))?;
    let owners = state.vault.owners(&person).await?;
    if !may_see(&principal, &owners) {
        return Err(ApiError::NotFound(format!("no person {person} in the vault")));
    }
    Ok(Json(state.vault.reveal(&accessor(&principal)?, &person, purpose).await?))
}

/// Erasure. An enterprise removes its own tie and the fields it registered (other owners keep theirs); when the
/// last tie goes, or when the city bureau erases (个人信息保护法第四十七条), the person is crypto-shredded: the data
/// key, every sealed field and the blind index are destroyed. The log is untouched and every proof still verifies.
/// Recorded in the log.
#[utoipa::path(delete, path = "/v1/workforce/people/{person_ref}", tag = "workforce",
    params(("person_ref" = String, Path, description = "Person reference")),
    responses((status = 200, body = Erasure), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    principal: Principal,
    Path(person): Path<String>,
) -> Result<Json<Erasure>, ApiError> {
    let owners = state.vault.owners(&person).await?;
    if !may_see(&principal, &owners) {
        return Err(ApiError::NotFound(format!("no person {person} in the vault")));
    }
    Ok(Json(state.vault.erase(&accessor(&principal)?, &person).await?))
}

/// Access-record filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AccessQuery {
    /// Only this person.
    pub person_ref: Option<String>,
    /// How many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The vault's access records (city bureau and auditors), newest first, each read from its signed
/// `vault.access.v1` record in the log (`event_id`, `position`: verify it with `/v1/evidence/{event_id}`).
#[utoipa::path(get, path = "/v1/workforce/vault/access", tag = "workforce", params(AccessQuery),
    responses((status = 200, body = Vec<AccessRecord>)), security(("bearer" = [])))]
pub async fn access_log(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AccessQuery>,
) -> Result<Json<Vec<AccessRecord>>, ApiError> {
    if !matches!(principal.role, Role::City | Role::Auditor) {
        return Err(ApiError::Forbidden("the vault's access records are for the city bureau and auditors".into()));
    }
    Ok(Json(state.vault.access_log(q.person_ref.as_deref(), q.limit.unwrap_or(100).clamp(1, 1000)).await?))
}

/// Roster filter and paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RosterQuery {
    /// Project id.
    pub project: Option<String>,
    /// Only who is on site now (entered, last passage inward).
    #[serde(default)]
    pub on_site: bool,
    /// At most this many workers (1–20000, default 20000); when there are more, the `Link` header's `rel="next"`
    /// URL asks for the next page.
    pub limit: Option<usize>,
    /// With `after_person`: only the workers after this one (the last row of the previous page) in roster order.
    pub after_project: Option<String>,
    /// The person ref of that worker.
    pub after_person: Option<String>,
}

/// The most workers one roster answer holds.
const ROSTER_MAX: usize = 20_000;

/// The roster (masked data only), or who is on site now, by project, team and worker.
///
/// Paged: a `Link` header with `rel="next"` gives the next page's URL while more workers follow.
#[utoipa::path(get, path = "/v1/workforce/roster", tag = "workforce", params(RosterQuery),
    responses((status = 200, body = Vec<Object>, headers(("link" = String, description = "`<URL>; rel=\"next\"` while more workers follow"))),
              (status = 400, description = "Bad limit, or the `after_*` worker is not in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn roster(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<RosterQuery>,
) -> Result<Response, ApiError> {
    let scope = principal.scope();
    let limit = q.limit.unwrap_or(ROSTER_MAX);
    if !(1..=ROSTER_MAX).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit: {limit} is not between 1 and {ROSTER_MAX}")));
    }
    let after = match (q.after_project.as_deref(), q.after_person.as_deref()) {
        (None, None) => None,
        (Some(p), Some(w)) => match state.read.workforce_roster_cursor(&scope, p, w).await? {
            Some(c) => Some(c),
            None => {
                return Err(ApiError::BadRequest(format!(
                    "after_project/after_person: no worker {w} of project {p} in your scope (give the last row \
                     of the previous page)"
                )));
            }
        },
        _ => {
            return Err(ApiError::BadRequest(
                "after_project and after_person go together (the last row of the previous page)".into(),
            ));
        }
    };
    let page = RosterPage { after, limit: Some(limit + 1) };
    let mut rows = state.read.workforce_roster(&scope, q.project.as_deref(), q.on_site, &page).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = rows.last().filter(|_| more).map(|last| {
        let mut next = String::from("/v1/workforce/roster?");
        if let Some(p) = &q.project {
            next.push_str(&format!("project={}&", encode_query_value(p)));
        }
        if q.on_site {
            next.push_str("on_site=true&");
        }
        next.push_str(&format!(
            "limit={limit}&after_project={}&after_person={}",
            encode_query_value(&last.project_id),
            encode_query_value(&last.person_ref)
        ));
        next
    });
    paged(rows, next)
}

/// Attendance filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AttendanceQuery {
    /// Project id.
    pub project: String,
    /// Day `YYYY-MM-DD`.
    pub day: String,
}

/// Daily attendance of a project: one row per worker with a passage that day.
#[utoipa::path(get, path = "/v1/workforce/attendance", tag = "workforce", params(AttendanceQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn attendance(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AttendanceQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = state.read.workforce_attendance(&principal.scope(), &q.project, &q.day).await?;
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
}

/// Payroll filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PayrollQuery {
    /// Project id.
    pub project: String,
    /// Month `YYYY-MM`.
    pub month: String,
}

/// Payroll against attendance for a project and month.
#[utoipa::path(get, path = "/v1/workforce/payroll", tag = "workforce", params(PayrollQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn payroll(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<PayrollQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = state.read.workforce_payroll_vs_attendance(&principal.scope(), &q.project, &q.month).await?;
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
}

/// Arrears filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ArrearsQuery {
    /// Only this project.
    pub project: Option<String>,
    /// Check as of this day `YYYY-MM-DD` (default, per project: the latest day of that project's workforce
    /// records). Without `project`, `as_of` or `tolerance`, every visible project's findings are those the server
    /// keeps current (recomputed within about a minute of a project's newest records; the response header
    /// `x-siteledger-findings-pending` counts the projects whose newest records are not in them yet).
    pub as_of: Option<String>,
    /// Allowed difference between payroll and attendance days (default 1).
    pub tolerance: Option<u32>,
    /// `csv` for a CSV file.
    pub format: Option<String>,
    /// Summary grouping: `project`, `enterprise` or `district`.
    pub by: Option<String>,
}

/// The response header counting the projects whose newest records are not yet in the findings answered.
const FINDINGS_PENDING: &str = "x-siteledger-findings-pending";

/// The view's `as_of` day and tolerance asked.
fn as_of_and_tolerance(q: &ArrearsQuery) -> Result<(Option<LocalDate>, u32), ApiError> {
    let as_of = q
        .as_of
        .as_deref()
        .map(|d| LocalDate::parse(d).map_err(|e| ApiError::BadRequest(format!("as_of: {e}"))))
        .transpose()?;
    Ok((as_of, q.tolerance.unwrap_or(DEFAULT_DAYS_TOLERANCE)))
}

async fn arrears_rows(state: &AppState, scope: &Scope, q: &ArrearsQuery) -> Result<ArrearsView, ApiError> {
    let (as_of, tolerance) = as_of_and_tolerance(q)?;
    Ok(state.read.workforce_arrears_view(scope, q.project.as_deref(), as_of, tolerance).await?)
}

fn csv_cell(s: &str) -> String {
    // Quote every cell; neutralise spreadsheet formulas (CSV injection).
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Findings of the arrears and anomaly rules, each citing the event ids it rests on; `format=csv` for CSV.
#[utoipa::path(get, path = "/v1/workforce/arrears", tag = "workforce", params(ArrearsQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn arrears(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ArrearsQuery>,
) -> Result<Response, ApiError> {
    let ArrearsView { rows, pending } = arrears_rows(&state, &principal.scope(), &q).await?;
    let pending = [(HeaderName::from_static(FINDINGS_PENDING), HeaderValue::from(pending))];
    if q.format.as_deref() == Some("csv") {
        let mut out = String::from(
            "\u{feff}project_id,project_name,district,general_contractor,rule,rule_zh,basis,month,person_ref,id_masked,evidence,detail,finding_id,published_event_id\n",
        );
        for r in &rows {
            let cells = [
                r.project_id.as_str(),
                &r.project_name,
                &r.district,
                &r.general_contractor,
                &r.rule,
                &r.rule_zh,
                &r.basis,
                &r.month,
                r.person_ref.as_deref().unwrap_or(""),
                r.id_masked.as_deref().unwrap_or(""),
                &r.evidence.join(" "),
                &r.detail,
                &r.finding_id,
                r.published_event_id.as_deref().unwrap_or(""),
            ];
            out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        return Ok((
            pending,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"arrears.csv\""),
            ],
            out,
        )
            .into_response());
    }
    Ok((pending, Json(serde_json::to_value(rows).map_err(ApiError::internal)?)).into_response())
}

/// Counts of findings per project, enterprise (general contractor) or district, and per rule.
#[utoipa::path(get, path = "/v1/workforce/arrears/summary", tag = "workforce", params(ArrearsQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn arrears_summary(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ArrearsQuery>,
) -> Result<Response, ApiError> {
    let by = q.by.as_deref().unwrap_or("project");
    if !matches!(by, "project" | "district" | "enterprise") {
        return Err(ApiError::BadRequest(format!("by: unknown grouping {by:?} (project, enterprise, district)")));
    }
    let (as_of, tolerance) = as_of_and_tolerance(&q)?;
    let scope = principal.scope();
    // Counts over the whole scope: one computation shared by the callers of the same question (crate::answers).
    let key = format!("/v1/workforce/arrears/summary|{scope:?}|{:?}|{as_of:?}|{tolerance}|{by}", q.project);
    let answer = state
        .shared(key, Clock::No, || async {
            let page = state.read.workforce_findings_page(&scope, q.project.as_deref(), as_of, tolerance, 0).await?;
            let contractors = if by == "enterprise" {
                let projects: std::collections::BTreeSet<&str> =
                    page.counts.iter().map(|c| c.project_id.as_str()).collect();
                let projects: Vec<String> = projects.into_iter().map(str::to_owned).collect();
                state.read.workforce_general_contractors(&scope, Some(&projects)).await?
            } else {
                std::collections::HashMap::new()
            };
            Ok((page.pending, to_json_bytes(&summarize(&page, &contractors, by))?))
        })
        .await?;
    let (pending, bytes) = answer.as_ref();
    let mut resp = json_bytes(bytes);
    resp.headers_mut().insert(HeaderName::from_static(FINDINGS_PENDING), HeaderValue::from(*pending));
    Ok(resp)
}

/// Groups the findings counted in `page` by `by` (`project`, `enterprise`: each general contractor, `district`):
/// `[{key, total, by_rule: {rule: n}}]` by key.
fn summarize(page: &FindingsPage, contractors: &std::collections::HashMap<String, Vec<String>>, by: &str) -> Value {
    let mut groups: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    let none = vec![String::new()];
    for c in &page.counts {
        let keys: Vec<&str> = match by {
            "district" => vec![c.district.as_str()],
            "enterprise" => {
                let gcs = contractors.get(&c.project_id).filter(|g| !g.is_empty()).unwrap_or(&none);
                gcs.iter().map(String::as_str).collect()
            }
            _ => vec![c.project_id.as_str()],
        };
        for k in keys {
            *groups.entry(k).or_default().entry(c.rule.as_str()).or_default() += c.n;
        }
    }
    Value::Array(
        groups
            .into_iter()
            .map(|(key, by_rule)| {
                let total: i64 = by_rule.values().sum();
                serde_json::json!({"key": key, "total": total, "by_rule": by_rule})
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Interop with the national worker platform (全国建筑工人管理服务信息平台): docs/WORKFORCE.md

/// One worker of a `ProjectWorker.Add` request (the platform's field names).
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorker {
    /// `idCardType`.
    pub id_card_type: String,
    /// `idCardNumber` (plaintext; vault only).
    pub id_card_number: String,
    /// `workerName`.
    pub worker_name: String,
    /// `workType` 工种 code.
    pub work_type: String,
    /// `workRole` (10/20).
    pub work_role: String,
    /// `cellPhone`.
    #[serde(default)]
    pub cell_phone: Option<String>,
    /// `payRollBankCardNumber` (plaintext; vault only).
    #[serde(default)]
    pub pay_roll_bank_card_number: Option<String>,
    /// `payRollBankName`.
    #[serde(default)]
    pub pay_roll_bank_name: Option<String>,
    /// `birthday` `yyyy-MM-dd` for documents other than 01.
    #[serde(default)]
    pub birthday: Option<String>,
}

impl std::fmt::Debug for PlatformWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlatformWorker(<redacted>)")
    }
}

/// A `ProjectWorker.Add` request body as an enterprise's real-name system already produces it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformProjectWorkers {
    /// `projectCode` (the platform project id here).
    pub project_code: String,
    /// `corpCode` (统一社会信用代码 of the employer).
    pub corp_code: String,
    /// `teamSysNo`.
    pub team_sys_no: String,
    /// `workerList`.
    pub worker_list: Vec<PlatformWorker>,
}

/// At most this many workers per import (each is a vault intake and a signed access record).
pub const IMPORT_MAX_WORKERS: usize = 1000;

/// One worker of an import, checked: everything parsed, nothing stored yet.
struct ImportRow {
    intake: PersonIntake,
    card: Option<String>,
    trade: Trade,
    work_role: WorkRole,
    bank_name: Name,
}

/// Checks every identifier of an import with the domain's types, before anything reaches the vault. Errors name
/// the member (`workerList[2].idCardNumber`) and the check, never the value.
fn check_import(
    body: &PlatformProjectWorkers,
    today: LocalDate,
) -> Result<(ProjectId, CreditCode, TeamId, Vec<ImportRow>), Vec<String>> {
    let mut errors = Vec::new();
    let project = ProjectId::parse(&body.project_code).map_err(|e| errors.push(format!("`projectCode`: {e}"))).ok();
    let corp = CreditCode::parse(&body.corp_code).map_err(|e| errors.push(format!("`corpCode`: {e}"))).ok();
    let team = TeamId::parse(&body.team_sys_no).map_err(|e| errors.push(format!("`teamSysNo`: {e}"))).ok();
    if body.worker_list.is_empty() {
        errors.push("`workerList`: at least one worker".into());
    }
    if body.worker_list.len() > IMPORT_MAX_WORKERS {
        errors.push(format!(
            "`workerList`: at most {IMPORT_MAX_WORKERS} workers per request, got {}",
            body.worker_list.len()
        ));
    }
    let mut rows = Vec::new();
    for (i, w) in body.worker_list.iter().enumerate() {
        let at = |field: &str, m: String| format!("`workerList[{i}].{field}`: {m}");
        let intake = PersonIntake {
            id_type: w.id_card_type.clone(),
            id_number: w.id_card_number.clone(),
            name: w.worker_name.clone(),
            phone: w.cell_phone.clone(),
            birth_date: w.birthday.clone(),
            cards: w.pay_roll_bank_card_number.iter().cloned().collect(),
        };
        let mut ok = true;
        if let Err((field, m)) = crate::vault::check_intake(&intake, today) {
            let name = match field {
                IntakeField::IdType => "idCardType",
                IntakeField::IdNumber => "idCardNumber",
                IntakeField::BirthDate => "birthday",
                IntakeField::Name => "workerName",
                IntakeField::Phone => "cellPhone",
                IntakeField::Card(_) => "payRollBankCardNumber",
            };
            errors.push(at(name, m));
            ok = false;
        }
        let trade = Trade::parse(&w.work_type).map_err(|e| errors.push(at("workType", e.to_string()))).ok();
        let work_role = WorkRole::parse(&w.work_role).map_err(|e| errors.push(at("workRole", e.to_string()))).ok();
        let bank_name = Name::parse(w.pay_roll_bank_name.as_deref().unwrap_or("未填写"))
            .map_err(|e| errors.push(at("payRollBankName", e.to_string())))
            .ok();
        if let (true, Some(trade), Some(work_role), Some(bank_name)) = (ok, trade, work_role, bank_name) {
            let card = intake.cards.first().cloned();
            rows.push(ImportRow {
                intake: PersonIntake { cards: Vec::new(), ..intake },
                card,
                trade,
                work_role,
                bank_name,
            });
        }
    }
    match (project, corp, team) {
        (Some(p), Some(c), Some(t)) if errors.is_empty() => Ok((p, c, t, rows)),
        _ => Err(errors),
    }
}

/// Imports a national-platform `ProjectWorker.Add` body. Every identifier is checked first with the domain's
/// types (统一社会信用代码 GB 32100, 公民身份号码 GB 11643, 工种 and role codes, card numbers): one bad member refuses
/// the whole request (400, naming `workerList[i].field` and the check, never the value), so nothing is half
/// imported. `corpCode` must be the calling enterprise's own credit code (403 otherwise); the city bureau may import
/// for any enterprise (which then owns the registrations). Then every worker goes through the vault intake, and the
/// answer carries, per worker, the `worker.registered.v1` and `worker.card.registered.v1` payloads ready to sign.
/// The server never signs for the enterprise: the enterprise signs these payloads with its enrolled key and posts
/// them to `/v1/events`.
#[utoipa::path(post, path = "/v1/workforce/import/project-workers", tag = "workforce", request_body = PlatformProjectWorkers,
    responses((status = 200, body = Object), (status = 400, description = "An invalid identifier, named by row and member", body = crate::error::ErrorBody),
        (status = 403, description = "`corpCode` is not the caller's enterprise", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_project_workers(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<PlatformProjectWorkers>,
) -> Result<Json<Value>, ApiError> {
    // The records an import prepares are for the employer to sign, and intake ties the people to the caller:
    // only an enterprise imports, and only its own workers.
    let who = match principal.role {
        Role::Enterprise => accessor(&principal)?,
        _ => {
            return Err(ApiError::Forbidden(
                "导入须使用企业令牌 / imports come from an enterprise token (its own workers)".into(),
            ));
        }
    };
    let today = today_shanghai();
    let (project, corp, team, rows) = check_import(&body, today)
        .map_err(|errors| ApiError::BadRequest(format!("导入数据有误 / invalid import: {}", errors.join("; "))))?;
    if let Some(own) = &who.enterprise
        && *own != corp
    {
        return Err(ApiError::Forbidden(format!(
            "`corpCode` {corp} is not your enterprise ({own}): an enterprise imports only its own workers"
        )));
    }
    let stream = format!("project/{project}/workforce");
    if !state.access.allows(&principal.scope(), &stream) {
        return Err(ApiError::NotFound(format!("no project {project} in your scope")));
    }
    let owner = corp.as_str().to_owned();
    let mut items = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let result = async {
            let p = state.vault.intake(&who, &owner, &row.intake, today).await?;
            let card = match row.card.as_deref() {
                Some(n) => Some(state.vault.add_card(&who, &owner, &p.person_ref, n).await?),
                None => None,
            };
            Ok::<_, crate::vault::VaultError>((p, card))
        }
        .await;
        items.push(match result.and_then(|(p, card)| import_records(&project, &corp, &team, row, &p, card.as_ref())) {
            Ok((person_ref, records)) => {
                serde_json::json!({"index": i, "status": "ok", "person_ref": person_ref, "records": records})
            }
            Err(e) => serde_json::json!({"index": i, "status": "rejected", "message": e.to_string()}),
        });
    }
    Ok(Json(serde_json::json!({"items": items})))
}

/// The records to sign for one imported worker, built with the domain's payload types.
fn import_records(
    project: &ProjectId,
    corp: &CreditCode,
    team: &TeamId,
    row: &ImportRow,
    p: &Intake,
    card: Option<&CardIntake>,
) -> Result<(String, Vec<Value>), crate::vault::VaultError> {
    let bad = |e: siteledger_domain::workforce::ValueError| crate::vault::VaultError::Storage(e.to_string());
    let person_ref = PersonRef::parse(&p.person_ref).map_err(bad)?;
    let stream = format!("project/{project}/workforce");
    let registered = WorkerRegistered {
        project_id: project.clone(),
        person_ref: person_ref.clone(),
        id_type: IdType::parse(&p.id_type).map_err(bad)?,
        id_commitment: Commitment::parse(&p.id_commitment).map_err(bad)?,
        id_masked: Masked::parse(&p.id_masked).map_err(bad)?,
        birth_month: YearMonth::parse(&p.birth_month).map_err(bad)?,
        employer: corp.clone(),
        team_id: team.clone(),
        trade: row.trade,
        work_role: row.work_role,
    };
    let mut records = vec![
        serde_json::json!({"kind": siteledger_domain::workforce::WORKER_REGISTERED, "stream": stream, "payload": registered}),
    ];
    if let Some(c) = card {
        let card = CardRegistered {
            project_id: project.clone(),
            person_ref: person_ref.clone(),
            card_commitment: Commitment::parse(&c.card_commitment).map_err(bad)?,
            card_masked: Masked::parse(&c.card_masked).map_err(bad)?,
            bank_name: row.bank_name.clone(),
        };
        records.push(serde_json::json!({"kind": siteledger_domain::workforce::CARD_REGISTERED, "stream": stream, "payload": card}));
    }
    Ok((person_ref.as_str().to_owned(), records))
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Exports a month's payroll in the national platform's `Payroll.Add` shape (one object per payroll), with ID and
/// card numbers **masked** (the platform wants them AES-encrypted in clear; that export needs a recorded vault read
/// by the owner enterprise and is not offered here). Amounts in yuan with two decimals, as the platform expects.
#[utoipa::path(get, path = "/v1/workforce/export/payroll", tag = "workforce", params(PayrollQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn export_payroll(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<PayrollQuery>,
) -> Result<Json<Value>, ApiError> {
    let lines = state.read.workforce_payroll_lines(&principal.scope(), &q.project, &q.month).await?;
    let mut by_payroll: std::collections::BTreeMap<String, Vec<&siteledger_projections::workforce::PayrollLineRow>> =
        Default::default();
    for l in &lines {
        by_payroll.entry(l.payroll_id.clone()).or_default().push(l);
    }
    let out: Vec<Value> = by_payroll
        .into_values()
        .map(|ls| {
            let first = ls[0];
            serde_json::json!({
                "projectCode": first.project_id,
                "corpCode": first.employer,
                "teamSysNo": first.team_id,
                "payMonth": first.month,
                "detailList": ls.iter().map(|l| serde_json::json!({
                    "idCardType": l.id_type.clone().unwrap_or_default(),
                    "idCardNumber": l.id_masked.clone().unwrap_or_default(),
                    "days": l.days,
                    "workHours": l.hours,
                    "payRollBankCardNumber": l.card_masked,
                    "totalPayAmount": yuan(l.payable_fen),
                    "actualAmount": yuan(l.actual_fen),
                    "isBackPay": l.back_pay,
                    "balanceDate": l.paid_on.clone().unwrap_or_default(),
                    "thirdPayRollCode": l.payroll_id,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}
