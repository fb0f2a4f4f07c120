//! Open-API handlers of 实名制与工资: the vault intake (plaintext in, references and commitments out), scoped
//! plaintext reads (each recorded), erasure, and the read models (roster, who is on site, daily attendance,
//! payroll against attendance, arrears with CSV export and summaries by project, enterprise and district).
//!
//! Plaintext never leaves through any other endpoint: the records built from an intake carry only the reference,
//! the commitments and masked forms. Reads of plaintext are allowed to the city bureau (市住建局) and to the
//! enterprise that took the person in; every read is an access record (`GET /v1/workforce/vault/access`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use siteledger_domain::LocalDate;
use siteledger_projections::{Scope, workforce::ArrearsRow};
use utoipa::{IntoParams, OpenApi};

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;
use crate::vault::{AccessRecord, CardIntake, Intake, PersonIntake, Revealed};

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
    components(schemas(PersonIntake, Intake, CardIntake, Revealed, AccessRecord, CardBody, PlatformWorker, PlatformProjectWorkers)),
    tags((name = "workforce", description = "实名制与工资专用账户: vault intake, roster, attendance, payroll, arrears"))
)]
pub struct Doc;

fn who(p: &Principal) -> String {
    format!("{} {}:{}", p.token_id, p.role.as_str(), p.scope.as_deref().unwrap_or("-"))
}

fn today_shanghai() -> LocalDate {
    let now = time::OffsetDateTime::now_utc().to_offset(siteledger_projections::SHANGHAI).date();
    LocalDate::try_from(now).unwrap_or(LocalDate::MIN)
}

/// May `p` read or erase the plaintext of a person taken in by `owners`? The city bureau, or an owner
/// enterprise; nobody for an unknown or erased person.
fn may_see(p: &Principal, owners: &[String]) -> bool {
    !owners.is_empty()
        && match p.role {
            Role::City => true,
            Role::Enterprise => p.scope.as_ref().is_some_and(|s| owners.contains(s)),
            _ => false,
        }
}

/// Takes a person into the vault (证件, 姓名, 电话, 银行卡) and returns what the signed records carry: a random
/// `person_ref`, the commitment and masked form of the document number and the birth month. Invalid ID numbers are
/// refused with the check that failed; persons under 16 are refused (劳动法第十五条).
#[utoipa::path(post, path = "/v1/workforce/people", tag = "workforce", request_body = PersonIntake,
    responses((status = 200, body = Intake), (status = 400, description = "Invalid document, age or card", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn intake(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<PersonIntake>,
) -> Result<Json<Intake>, ApiError> {
    let owner = match (principal.role, principal.scope.as_deref()) {
        (Role::Enterprise, Some(cc)) => cc.to_owned(),
        (Role::City, _) => "city".to_owned(),
        _ => {
            return Err(ApiError::Forbidden(
                "only an enterprise or the city bureau takes people into the vault".into(),
            ));
        }
    };
    Ok(Json(state.vault.intake(&who(&principal), &owner, &body, today_shanghai()).await?))
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

/// Registers a worker's own bank card (工资卡) in the vault; returns its commitment and masked form.
#[utoipa::path(post, path = "/v1/workforce/people/{person_ref}/cards", tag = "workforce", request_body = CardBody,
    params(("person_ref" = String, Path, description = "Person reference")),
    responses((status = 200, body = CardIntake), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn add_card(
    State(state): State<AppState>,
    principal: Principal,
    Path(person): Path<String>,
    Json(body): Json<CardBody>,
) -> Result<Json<CardIntake>, ApiError> {
    let owners = state.vault.owners(&person).await?;
    if !may_see(&principal, &owners) {
        return Err(ApiError::NotFound(format!("no person {person} in the vault")));
    }
    Ok(Json(state.vault.add_card(&who(&principal), &person, &body.card_number).await?))
}

/// Why the plaintext is read (recorded).
#[derive(Debug, Deserialize, IntoParams)]
pub struct RevealQuery {
    /// Purpose of the access, recorded with it (e.g. `欠薪投诉核查`).
    pub purpose: Option<String>,
}

/// The plaintext of a person, for the city bureau or the enterprise that took the person in. Every call writes
/// an access record.
#[utoipa::path(get, path = "/v1/workforce/people/{person_ref}", tag = "workforce",
    params(("person_ref" = String, Path, description = "Person reference"), RevealQuery),
    responses((status = 200, body = Revealed), (status = 404, description = "Unknown, erased, or not yours", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reveal(
    State(state): State<AppState>,
    principal: Principal,
    Path(person): Path<String>,
    Query(q): Query<RevealQuery>,
) -> Result<Json<Revealed>, ApiError> {
    let owners = state.vault.owners(&person).await?;
    if !may_see(&principal, &owners) {
        return Err(ApiError::NotFound(format!("no person {person} in the vault")));
    }
    Ok(Json(state.vault.reveal(&who(&principal), &person, q.purpose.as_deref().unwrap_or("")).await?))
}

/// Erases a person (crypto-shredding): the data key and every sealed field are destroyed; the log is untouched
/// and every proof still verifies.
#[utoipa::path(delete, path = "/v1/workforce/people/{person_ref}", tag = "workforce",
    params(("person_ref" = String, Path, description = "Person reference")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    principal: Principal,
    Path(person): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let owners = state.vault.owners(&person).await?;
    if !may_see(&principal, &owners) {
        return Err(ApiError::NotFound(format!("no person {person} in the vault")));
    }
    state.vault.erase(&who(&principal), &person).await?;
    Ok(Json(serde_json::json!({"person_ref": person, "erased": true})))
}

/// Access-record filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AccessQuery {
    /// Only this person.
    pub person_ref: Option<String>,
    /// How many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The vault's access records (city bureau and auditors).
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

/// Roster filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RosterQuery {
    /// Project id.
    pub project: Option<String>,
    /// Only who is on site now (entered, last passage inward).
    #[serde(default)]
    pub on_site: bool,
}

/// The roster (masked data only), or who is on site now.
#[utoipa::path(get, path = "/v1/workforce/roster", tag = "workforce", params(RosterQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn roster(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<RosterQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = state.read.workforce_roster(&principal.scope(), q.project.as_deref(), q.on_site).await?;
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
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
    /// Check as of this day `YYYY-MM-DD` (default: the latest day of any workforce record in the log).
    pub as_of: Option<String>,
    /// Allowed difference between payroll and attendance days (default 1).
    pub tolerance: Option<u32>,
    /// `csv` for a CSV file.
    pub format: Option<String>,
    /// Summary grouping: `project`, `enterprise` or `district`.
    pub by: Option<String>,
}

async fn arrears_rows(state: &AppState, scope: &Scope, q: &ArrearsQuery) -> Result<Vec<ArrearsRow>, ApiError> {
    let as_of = q
        .as_of
        .as_deref()
        .map(|d| LocalDate::parse(d).map_err(|e| ApiError::BadRequest(format!("as_of: {e}"))))
        .transpose()?;
    Ok(state.read.workforce_arrears(scope, q.project.as_deref(), as_of, q.tolerance.unwrap_or(1)).await?)
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
    let rows = arrears_rows(&state, &principal.scope(), &q).await?;
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
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"arrears.csv\""),
            ],
            out,
        )
            .into_response());
    }
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?).into_response())
}

/// Counts of findings per project, enterprise (general contractor) or district, and per rule.
#[utoipa::path(get, path = "/v1/workforce/arrears/summary", tag = "workforce", params(ArrearsQuery),
    responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn arrears_summary(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ArrearsQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = arrears_rows(&state, &principal.scope(), &q).await?;
    Ok(Json(summarize(&rows, q.by.as_deref().unwrap_or("project"))?))
}

/// Groups findings by `by` (`project`, `enterprise`, `district`): `[{key, total, by_rule: {rule: n}}]`.
pub fn summarize(rows: &[ArrearsRow], by: &str) -> Result<Value, ApiError> {
    let mut groups: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> = Default::default();
    for r in rows {
        let keys: Vec<String> = match by {
            "project" => vec![r.project_id.clone()],
            "district" => vec![r.district.clone()],
            "enterprise" => r.general_contractor.split(',').map(str::to_owned).collect(),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "by: unknown grouping {other:?} (project, enterprise, district)"
                )));
            }
        };
        for k in keys {
            *groups.entry(k).or_default().entry(r.rule.clone()).or_default() += 1;
        }
    }
    Ok(Value::Array(
        groups
            .into_iter()
            .map(|(key, by_rule)| {
                let total: u64 = by_rule.values().sum();
                serde_json::json!({"key": key, "total": total, "by_rule": by_rule})
            })
            .collect(),
    ))
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

/// Imports a national-platform `ProjectWorker.Add` body: every worker goes through the vault intake (ID checks
/// named on failure, per item), and the answer carries, per worker, the `worker.registered.v1` and
/// `worker.card.registered.v1` payloads ready to sign. The server never signs for the enterprise: the enterprise
/// signs these payloads with its enrolled key and posts them to `/v1/events`.
#[utoipa::path(post, path = "/v1/workforce/import/project-workers", tag = "workforce", request_body = PlatformProjectWorkers,
    responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn import_project_workers(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<PlatformProjectWorkers>,
) -> Result<Json<Value>, ApiError> {
    let owner = match (principal.role, principal.scope.as_deref()) {
        (Role::Enterprise, Some(cc)) => cc.to_owned(),
        _ => return Err(ApiError::Forbidden("imports come from an enterprise token (its own workers)".into())),
    };
    if !state.access.allows(&principal.scope(), &format!("project/{}/workforce", body.project_code)) {
        return Err(ApiError::NotFound(format!("no project {} in your scope", body.project_code)));
    }
    let today = today_shanghai();
    let mut items = Vec::new();
    for (i, w) in body.worker_list.iter().enumerate() {
        let intake = PersonIntake {
            id_type: w.id_card_type.clone(),
            id_number: w.id_card_number.clone(),
            name: w.worker_name.clone(),
            phone: w.cell_phone.clone(),
            birth_date: w.birthday.clone(),
            cards: vec![],
        };
        let result = async {
            let p = state.vault.intake(&who(&principal), &owner, &intake, today).await?;
            let card = match w.pay_roll_bank_card_number.as_deref() {
                Some(n) => Some(state.vault.add_card(&who(&principal), &p.person_ref, n).await?),
                None => None,
            };
            Ok::<_, crate::vault::VaultError>((p, card))
        }
        .await;
        items.push(match result {
            Ok((p, card)) => {
                let mut records = vec![serde_json::json!({
                    "kind": "worker.registered.v1",
                    "stream": format!("project/{}/workforce", body.project_code),
                    "payload": {"project_id": body.project_code, "person_ref": p.person_ref, "id_type": p.id_type,
                        "id_commitment": p.id_commitment, "id_masked": p.id_masked, "birth_month": p.birth_month,
                        "employer": body.corp_code, "team_id": body.team_sys_no, "trade": w.work_type, "work_role": w.work_role},
                })];
                if let Some(c) = card {
                    records.push(serde_json::json!({
                        "kind": "worker.card.registered.v1",
                        "stream": format!("project/{}/workforce", body.project_code),
                        "payload": {"project_id": body.project_code, "person_ref": c.person_ref, "card_commitment": c.card_commitment,
                            "card_masked": c.card_masked, "bank_name": w.pay_roll_bank_name.clone().unwrap_or_else(|| "未填写".into())},
                    }));
                }
                serde_json::json!({"index": i, "status": "ok", "person_ref": p.person_ref, "records": records})
            }
            Err(e) => serde_json::json!({"index": i, "status": "rejected", "message": e.to_string()}),
        });
    }
    Ok(Json(serde_json::json!({"items": items})))
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
