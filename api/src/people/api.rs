//! The people's JSON endpoints (`/v1/people/*`): enrolment requests, a key's chain head, and sign-in by a signed
//! challenge. Each is in the OpenAPI document ([`Doc`]) and in the access matrix (docs/ACCESS.md).

use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use siteledger_domain::Name;
use siteledger_domain::authority::{KeySubject, Role as KeyRole, acting_for, person_subject};
use siteledger_domain::ids::PersonHandle;
use siteledger_ledger::{EventStore, StoredKey};
use siteledger_signer::PublicKey;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{OpenApi, ToSchema};

use super::LOGIN_PREFIX;
use super::sessions::CHALLENGE_TTL;
use super::store::{EnrolmentRequest, Inserted};
use crate::auth::{Principal, Role, csrf_token};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// This area's part of the OpenAPI document (merged into `/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi(
    paths(request_enrolment, enrolments, key_status, challenge, session),
    components(schemas(
        EnrolBody, EnrolAnswer, Enrolments, EnrolmentRequest, EnrolledPerson, KeyStatus, KeyEnrolment, PendingRequest,
        ChallengeBody, ChallengeAnswer, SessionBody, SessionAnswer
    )),
    tags((name = "people", description = "人员密钥: people's own keys, enrolment by their organisation, sign-in by a signed challenge (docs/PEOPLE.md)"))
)]
pub struct Doc;

// ---------------------------------------------------------------------------------------------------------------
// enrolment requests

/// A person's enrolment request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    /// Base64 of the 32-byte Ed25519 public key the browser generated.
    pub public_key: String,
    /// `inspector` (监督员), `staff` (企业人员) or `tester` (检测人员).
    pub role: String,
    /// The organisation: a district code for inspectors, a credit code otherwise.
    pub organisation: String,
    /// The person's handle within it (a staff number; never an ID number).
    pub handle: String,
    /// The person's name, shown to the administrator.
    pub name: String,
}

/// What a stored request will enrol.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolAnswer {
    /// The key id (FORMAT.md §3).
    pub key_id: String,
    /// The subject the enrolment will name: `<organisation>/person/<handle>`.
    pub subject: String,
    /// `inspector`, `staff` or `tester`.
    pub role: String,
}

fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("{field}: {why}"))
}

/// Ask one's organisation to enrol a public key: stored as a pending request (not a log record; the name is for
/// the administrator only). A handle shaped like an ID number is refused without repeating it.
#[utoipa::path(post, path = "/v1/people/enrolments", tag = "people", request_body = EnrolBody,
    responses(
        (status = 201, description = "Stored", body = EnrolAnswer),
        (status = 200, description = "The same request again (harmless)", body = EnrolAnswer),
        (status = 400, description = "A member is wrong (named), or this key asked for something else", body = ErrorBody),
        (status = 404, description = "The organisation is not registered", body = ErrorBody),
        (status = 503, description = "Too many pending requests for the organisation", body = ErrorBody),
    ))]
pub async fn request_enrolment(State(state): State<AppState>, Json(b): Json<EnrolBody>) -> Result<Response, ApiError> {
    let public = PublicKey::from_base64(&b.public_key).map_err(|e| bad("public_key 公钥", e))?;
    let role = KeyRole::parse(&b.role).filter(|r| r.organisation_role().is_some()).ok_or_else(|| {
        bad(
            "role 角色",
            "须为 inspector（监督员）、staff（企业人员）或 tester（检测人员）/ must be inspector, staff or tester",
        )
    })?;
    // Checked before the handle's own grammar so that no message about it can quote an ID number.
    if siteledger_domain::personal::looks_like_personal_number(&b.handle) {
        return Err(bad("handle 工号", siteledger_domain::personal::PERSONAL_NUMBER_MESSAGE));
    }
    let handle = PersonHandle::parse(&b.handle).map_err(|e| bad("handle 工号", e))?;
    let name = Name::parse(&b.name).map_err(|e| bad("name 姓名", e))?;
    let subject = person_subject(&b.organisation, &handle);
    let parsed = KeySubject::parse(role, &subject).map_err(|e| bad("organisation 单位", e))?;
    // The organisation must be one the registry knows (the enrolment would be refused otherwise).
    if !organisation_known(&state, &parsed).await? {
        return Err(ApiError::NotFound(format!(
            "单位 {} 未登记 / organisation {} is not registered",
            b.organisation, b.organisation
        )));
    }
    let key_id = public.key_id().to_string();
    let req = EnrolmentRequest {
        key_id: key_id.clone(),
        public_key: public.to_base64(),
        role: role.as_str().to_owned(),
        organisation: b.organisation.clone(),
        subject: subject.clone(),
        name: name.as_str().to_owned(),
        requested_at: String::new(),
    };
    let pending = state.people.requests.list(Some(&b.organisation)).await?.len();
    let status = match state.people.requests.insert(&req, i64::try_from(pending).unwrap_or(i64::MAX)).await? {
        Inserted::New => StatusCode::CREATED,
        Inserted::Same => StatusCode::OK,
        Inserted::Conflict => {
            return Err(ApiError::BadRequest(
                "此公钥已提交过不同的申请 / this key already asked for a different enrolment; generate a new key"
                    .into(),
            ));
        }
        Inserted::Full => {
            return Err(ApiError::Unavailable(
                "该单位待审批申请过多 / too many pending requests for this organisation; ask its administrator".into(),
            ));
        }
    };
    let answer = EnrolAnswer { key_id, subject, role: role.as_str().to_owned() };
    Ok((status, axum::Json(answer)).into_response())
}

/// Is the organisation named by a person's subject one the registry knows? (A district code is checked by its
/// parse; the ledger refuses the enrolment of an unregistered zone's inspector anyway.)
async fn organisation_known(state: &AppState, subject: &KeySubject) -> Result<bool, ApiError> {
    Ok(match subject {
        KeySubject::Inspector { .. } => true,
        KeySubject::Staff { credit_code, .. } => state
            .read
            .enterprises(&siteledger_projections::Scope::All)
            .await
            .map_err(ApiError::internal)?
            .iter()
            .any(|e| e.credit_code == credit_code.as_str()),
        _ => false,
    })
}

/// The organisation a principal administers, as a request's `organisation` (`None`: all, for the city bureau).
pub(super) fn administered(p: &Principal) -> Result<Option<String>, ApiError> {
    match (p.role, &p.scope) {
        (Role::City, _) => Ok(None),
        (Role::District | Role::Enterprise, Some(s)) => Ok(Some(s.clone())),
        _ => Err(ApiError::Forbidden(
            "只有单位管理员可以审批人员密钥 / only an organisation's administrator approves people's keys".into(),
        )),
    }
}

/// The pending requests and enrolled people of the caller's organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolments {
    /// The organisation administered (`null`: the city bureau, every organisation).
    pub organisation: Option<String>,
    /// Requests whose key is not enrolled yet, oldest first.
    pub pending: Vec<EnrolmentRequest>,
    /// People's keys enrolled in the log for the organisation.
    pub enrolled: Vec<EnrolledPerson>,
}

/// A person's key enrolled in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolledPerson {
    /// Key id.
    pub key_id: String,
    /// `inspector`, `staff` or `tester`.
    pub role: String,
    /// `<organisation>/person/<handle>`.
    pub subject: String,
    /// The name given in the request, if the request is still held.
    pub name: Option<String>,
    /// Start of validity.
    pub valid_from: String,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
    /// Event id of the enrolment record.
    pub enrolled_by: String,
}

/// The caller's organisation's pending requests and enrolled people (the city bureau: everyone's).
#[utoipa::path(get, path = "/v1/people/enrolments", tag = "people",
    responses(
        (status = 200, description = "The organisation's requests and people", body = Enrolments),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an organisation's administrator (auditor, gateway)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn enrolments(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<axum::Json<Enrolments>, ApiError> {
    let org = administered(&principal)?;
    let requests = state.people.requests.list(org.as_deref()).await?;
    let keys = state.ledger.store().keys().await.map_err(ApiError::internal)?;
    let enrolled = keys
        .iter()
        .filter(|k| KeyRole::parse(&k.role).is_some_and(|r| r.organisation_role().is_some()))
        .filter(|k| {
            let (_, of) = acting_for(&k.role, &k.subject);
            org.as_deref().is_none_or(|o| o == of)
        })
        .map(|k| EnrolledPerson {
            key_id: k.key_id.clone(),
            role: k.role.clone(),
            subject: k.subject.clone(),
            name: requests.iter().find(|r| r.key_id == k.key_id).map(|r| r.name.clone()),
            valid_from: k.valid_from.clone(),
            revoked_at: k.revoked_at.clone(),
            enrolled_by: k.enrolled_by.to_string(),
        })
        .collect();
    let pending = requests.into_iter().filter(|r| !keys.iter().any(|k| k.key_id == r.key_id)).collect();
    Ok(axum::Json(Enrolments { organisation: org, pending, enrolled }))
}

// ---------------------------------------------------------------------------------------------------------------
// keys and chain heads

pub(super) async fn find_key(state: &AppState, key_id: &str) -> Result<Option<StoredKey>, ApiError> {
    let keys = state.ledger.store().keys().await.map_err(ApiError::internal)?;
    Ok(keys.into_iter().find(|k| k.key_id == key_id))
}

/// A key's enrolment, pending request and chain head.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyStatus {
    /// Key id.
    pub key_id: String,
    /// The enrolment in the log, if enrolled.
    pub enrolled: Option<KeyEnrolment>,
    /// The pending request, if one is held.
    pub pending: Option<PendingRequest>,
    /// The `seq` the key's next record must carry (1 for a key that never signed).
    pub next_seq: u64,
    /// The leaf hash (hex) its next record's `prev` must name; `null` before the first record.
    pub prev: Option<String>,
}

/// A key's enrolment in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyEnrolment {
    /// Role.
    pub role: String,
    /// Holder.
    pub subject: String,
    /// Start of validity.
    pub valid_from: String,
    /// Exclusive end of validity.
    pub valid_until: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
    /// Event id of the enrolment record.
    pub enrolled_by: String,
}

/// A key's pending enrolment request.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingRequest {
    /// Role asked for.
    pub role: String,
    /// Subject asked for.
    pub subject: String,
    /// Name given.
    pub name: String,
}

/// A key's enrolment and the head of its chain, for the page that signs next. A person's or organisation's key
/// is answered to anyone; a gateway's or device's key names its project and is answered only to callers who may
/// see that project (404 otherwise, like an unknown key).
#[utoipa::path(get, path = "/v1/people/keys/{key_id}", tag = "people",
    params(("key_id" = String, Path, description = "32 lowercase hex characters")),
    responses(
        (status = 200, description = "The key's status and chain head", body = KeyStatus),
        (status = 400, description = "Not a key id", body = ErrorBody),
        (status = 401, description = "A gateway's or device's key asked without a token", body = ErrorBody),
        (status = 404, description = "A gateway's or device's key outside the caller's projects", body = ErrorBody),
    ))]
pub async fn key_status(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
    req: axum::extract::Request,
) -> Result<axum::Json<KeyStatus>, ApiError> {
    let (mut parts, _) = req.into_parts();
    if siteledger_signer::KeyId::parse(&key_id).is_err() {
        return Err(bad("key_id", "须为 32 位小写十六进制 / must be 32 lowercase hex characters"));
    }
    let key = find_key(&state, &key_id).await?;
    if let Some(k) = &key
        && matches!(KeyRole::parse(&k.role), Some(KeyRole::Gateway | KeyRole::Device))
    {
        let principal = Principal::from_request_parts(&mut parts, &state).await?;
        if !state.access.allows(&principal.scope(), &k.subject) {
            return Err(ApiError::NotFound("no such key".into()));
        }
    }
    let pending = state.people.requests.get(&key_id).await?;
    let head = match &key {
        Some(_) => state.ledger.store().signer_head(&key_id).await.map_err(ApiError::internal)?,
        None => None,
    };
    Ok(axum::Json(KeyStatus {
        key_id,
        enrolled: key.map(|k| KeyEnrolment {
            role: k.role,
            subject: k.subject,
            valid_from: k.valid_from,
            valid_until: k.valid_until,
            revoked_at: k.revoked_at,
            enrolled_by: k.enrolled_by.to_string(),
        }),
        pending: pending.map(|r| PendingRequest { role: r.role, subject: r.subject, name: r.name }),
        next_seq: head.as_ref().map_or(1, |h| h.signer_seq + 1),
        prev: head.map(|h| hex::encode(h.leaf_hash)),
    }))
}

// ---------------------------------------------------------------------------------------------------------------
// sign-in by a signed challenge

/// Asks for a login challenge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    /// The enrolled key that will sign it.
    pub key_id: String,
}

/// A login challenge.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeAnswer {
    /// The single-use nonce (base64url).
    pub nonce: String,
    /// What is signed: this prefix, a zero byte, then the nonce's ASCII bytes.
    pub prefix: &'static str,
    /// Seconds the nonce may be answered.
    pub expires_in_s: u64,
}

/// A single-use nonce for an enrolled, unrevoked key of a person or organisation.
#[utoipa::path(post, path = "/v1/people/challenge", tag = "people", request_body = ChallengeBody,
    responses(
        (status = 200, description = "The nonce to sign", body = ChallengeAnswer),
        (status = 400, description = "A member is missing or wrong (named)", body = ErrorBody),
        (status = 403, description = "A key that cannot sign in (gateway, device, service)", body = ErrorBody),
        (status = 404, description = "The key is not enrolled", body = ErrorBody),
    ))]
pub async fn challenge(
    State(state): State<AppState>,
    Json(b): Json<ChallengeBody>,
) -> Result<axum::Json<ChallengeAnswer>, ApiError> {
    let key = find_key(&state, &b.key_id).await?.ok_or_else(not_enrolled)?;
    session_role(&key)?;
    let nonce = state.people.challenges.issue(&key.key_id, OffsetDateTime::now_utc()).await?;
    Ok(axum::Json(ChallengeAnswer { nonce, prefix: LOGIN_PREFIX, expires_in_s: CHALLENGE_TTL.as_secs() }))
}

fn not_enrolled() -> ApiError {
    ApiError::NotFound("此密钥尚未登记 / this key is not enrolled (yet): ask your organisation's administrator".into())
}

/// The session a key opens: a person's key its organisation's scope; an organisation's own key (an
/// administrator who keeps it in the browser) that organisation's. Gateways, devices and service keys cannot.
fn session_role(key: &StoredKey) -> Result<(Role, Option<String>), ApiError> {
    let (role, subject) = acting_for(&key.role, &key.subject);
    match KeyRole::parse(role) {
        Some(KeyRole::CityBureau) => Ok((Role::City, None)),
        Some(KeyRole::DistrictBureau) => Ok((Role::District, Some(subject.to_owned()))),
        Some(KeyRole::Enterprise | KeyRole::TestingLab | KeyRole::Bank) => {
            Ok((Role::Enterprise, Some(subject.to_owned())))
        }
        _ => Err(ApiError::Forbidden(format!(
            "{} 密钥不能登录 / a {} key cannot sign in (only people and organisations)",
            key.role, key.role
        ))),
    }
}

/// How long a person's session lasts.
const SESSION_DAYS: u32 = 1;

fn instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// A signed challenge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// The key that signed.
    pub key_id: String,
    /// The nonce from `POST /v1/people/challenge`.
    pub nonce: String,
    /// Base64 of the Ed25519 signature over `siteledger-login-v1` ‖ 0x00 ‖ nonce.
    pub signature: String,
}

/// An opened session (the token itself is only in the `HttpOnly` cookie).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionAnswer {
    /// Display name: the person's name (or the key's subject) and role.
    pub name: String,
    /// The session's API role (`city`, `district`, `enterprise`).
    pub role: &'static str,
    /// District or credit code of the organisation.
    pub scope: Option<String>,
    /// The key's role in the log.
    pub key_role: String,
    /// The key's subject.
    pub subject: String,
    /// The value of the `X-SiteLedger-CSRF` header the session's state-changing requests carry.
    pub csrf: String,
}

/// Checks the signed challenge against the enrolled, unrevoked, valid key and opens a session in the
/// `siteledger_token` cookie (`HttpOnly; SameSite=Strict`) with the scope of the key's organisation, for a day or
/// until the key's `valid_until` if that comes first.
#[utoipa::path(post, path = "/v1/people/session", tag = "people", request_body = SessionBody,
    responses(
        (status = 200, description = "Signed in; the session is in the Set-Cookie header", body = SessionAnswer),
        (status = 400, description = "A member is missing or wrong (named)", body = ErrorBody),
        (status = 401, description = "The signature is wrong, or the nonce used, expired or another key's", body = ErrorBody),
        (status = 403, description = "The key is revoked or not valid now", body = ErrorBody),
        (status = 404, description = "The key is not enrolled", body = ErrorBody),
    ))]
pub async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(b): Json<SessionBody>,
) -> Result<Response, ApiError> {
    let refused = || ApiError::Unauthorized("签名登录失败 / the signed challenge is wrong, used or expired".into());
    let now = OffsetDateTime::now_utc();
    if !state.people.challenges.take(&b.nonce, &b.key_id, now).await? {
        return Err(refused());
    }
    let key = find_key(&state, &b.key_id).await?.ok_or_else(not_enrolled)?;
    let public = key.signer_key().map_err(ApiError::internal)?;
    let sig = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &b.signature)
        .ok()
        .and_then(|v| <[u8; 64]>::try_from(v).ok())
        .ok_or_else(refused)?;
    let mut message = Vec::with_capacity(LOGIN_PREFIX.len() + 1 + b.nonce.len());
    message.extend_from_slice(LOGIN_PREFIX.as_bytes());
    message.push(0);
    message.extend_from_slice(b.nonce.as_bytes());
    public.verify(&message, &sig).map_err(|_| refused())?;
    if key.revoked_at.as_deref().and_then(instant).is_some_and(|r| r <= now) {
        return Err(ApiError::Forbidden("此密钥已吊销 / this key is revoked: enrol a new one".into()));
    }
    let from_ok = instant(&key.valid_from).is_some_and(|f| f <= now);
    let until_ok = key.valid_until.as_deref().is_none_or(|u| instant(u).is_some_and(|u| now < u));
    if !from_ok || !until_ok {
        return Err(ApiError::Forbidden("此密钥不在有效期内 / this key is not valid now".into()));
    }
    let (role, scope) = session_role(&key)?;
    let person = state.people.requests.get(&key.key_id).await?.map(|r| r.name);
    let zh = KeyRole::parse(&key.role).map_or("", KeyRole::name_zh);
    let name = format!("{} {zh}", person.unwrap_or_else(|| key.subject.clone()));
    // A session lasts a day, and never beyond the key's validity: its token expires when the key does.
    let expires =
        key.valid_until.as_deref().and_then(instant).map_or(now + time::Duration::days(i64::from(SESSION_DAYS)), |u| {
            u.min(now + time::Duration::days(i64::from(SESSION_DAYS)))
        });
    let token = state.tokens.create_until(&name, role, scope.as_deref(), expires).await?;
    // The session is bound to the key that signed in: records posted with it must be signed by that key.
    state.people.sessions.bind(&token.id, &key.key_id, expires).await?;
    let secure = if headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
    {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{}={}; HttpOnly; SameSite=Strict; Path=/{secure}", crate::dashboard::COOKIE, token.secret);
    let cookie = HeaderValue::from_str(&cookie).map_err(ApiError::internal)?;
    let body = SessionAnswer {
        name,
        role: role.as_str(),
        scope,
        key_role: key.role,
        subject: key.subject,
        csrf: csrf_token(&token.secret),
    };
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}
