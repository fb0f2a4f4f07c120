//! People sign in the browser (issue 15, docs/PEOPLE.md): personal keys held by the person, enrolment by their
//! organisation, sign-in by a signed challenge, and the workflow forms.
//!
//! The server never sees a private key. The page (`static/people.js`) generates an Ed25519 key with WebCrypto
//! (non-extractable, kept in IndexedDB), asks for enrolment here, and signs every record itself; the server only
//! stores the request, answers the key's chain head, checks login challenges, and ingests what the page signed
//! through `POST /v1/events` like any other record.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/people/enrolments` | anyone | a person asks their organisation to enrol their public key |
//! | `GET /v1/people/enrolments` | signed in | the caller's organisation's pending requests and enrolled people |
//! | `GET /v1/people/keys/{key_id}` | anyone (a person's or organisation's key); gateways and devices in scope | enrolment, revocation, chain head (`next_seq`, `prev`) |
//! | `POST /v1/people/challenge` | anyone | a single-use nonce for an enrolled key |
//! | `POST /v1/people/session` | anyone | the signed nonce opens a session (cookie) with the role and scope of the enrolment |
//! | `GET /people`, `GET /people/admin`, `GET /people/forms/{form}` | pages | key and sign-in; the administrator's approvals; the forms |
//!
//! A session is an ordinary API token (one day) in the `siteledger_token` cookie (`HttpOnly`, `SameSite=Strict`);
//! its state-changing requests carry the CSRF header ([`crate::auth::CSRF_HEADER`]). A person's key acts for their
//! organisation ([`siteledger_domain::authority::acting_for`]): an inspector's session is their district bureau's
//! scope, a contractor's person's session their enterprise's.

pub mod store;

use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use siteledger_domain::Name;
use siteledger_domain::authority::{KeySubject, Role as KeyRole, person_subject};
use siteledger_domain::ids::PersonHandle;
use siteledger_ledger::{EventStore, StoredKey};
use siteledger_signer::PublicKey;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::{Principal, Role, csrf_token, session_secret};
use crate::dashboard::{Layout, PageFail, Viewer, html};
use crate::error::ApiError;
use crate::extract::Json as ApiJson;
use crate::state::AppState;
pub use store::{Challenges, EnrolmentRequest, Inserted, RequestStore};

/// What a person signs to sign in: this prefix, a zero byte, then the nonce's ASCII bytes. The prefix keeps a login
/// signature from ever being a valid envelope signature (those start `siteledger-envelope-v1`).
pub const LOGIN_PREFIX: &str = "siteledger-login-v1";

/// The people's part of the server state.
#[derive(Debug, Clone)]
pub struct People {
    /// Pending enrolment requests.
    pub requests: RequestStore,
    /// Open login challenges.
    pub challenges: Challenges,
}

impl People {
    /// Opens the requests table in the token database.
    pub async fn open(tokens: &crate::auth::TokenStore) -> Result<People, ApiError> {
        Ok(People { requests: RequestStore::open(tokens).await?, challenges: Challenges::default() })
    }
}

/// The routes (API and pages).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/people/enrolments", post(request_enrolment).get(enrolments))
        .route("/v1/people/keys/{key_id}", get(key_status))
        .route("/v1/people/challenge", post(challenge))
        .route("/v1/people/session", post(session))
        .route("/people", get(home_page))
        .route("/people/admin", get(admin_page))
        .route("/people/forms/{form}", get(form_page))
}

// ---------------------------------------------------------------------------------------------------------------
// enrolment requests

/// A person's enrolment request.
#[derive(Debug, Deserialize)]
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

fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("{field}: {why}"))
}

/// `POST /v1/people/enrolments`: stores a pending request (201), or answers 200 for the same request again.
async fn request_enrolment(
    State(state): State<AppState>,
    ApiJson(b): ApiJson<EnrolBody>,
) -> Result<Response, ApiError> {
    let public = PublicKey::from_base64(&b.public_key).map_err(|e| bad("public_key 公钥", e))?;
    let role = KeyRole::parse(&b.role).filter(|r| r.organisation_role().is_some()).ok_or_else(|| {
        bad(
            "role 角色",
            "须为 inspector（监督员）、staff（企业人员）或 tester（检测人员）/ must be inspector, staff or tester",
        )
    })?;
    let handle = PersonHandle::parse(&b.handle).map_err(|e| bad("handle 工号", e))?;
    if siteledger_domain::personal::looks_like_personal_number(&b.handle) {
        return Err(bad("handle 工号", siteledger_domain::personal::PERSONAL_NUMBER_MESSAGE));
    }
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
    Ok((status, Json(json!({"key_id": key_id, "subject": subject, "role": role.as_str()}))).into_response())
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
fn administered(p: &Principal) -> Result<Option<String>, ApiError> {
    match (p.role, &p.scope) {
        (Role::City, _) => Ok(None),
        (Role::District | Role::Enterprise, Some(s)) => Ok(Some(s.clone())),
        _ => Err(ApiError::Forbidden(
            "只有单位管理员可以审批人员密钥 / only an organisation's administrator approves people's keys".into(),
        )),
    }
}

/// `GET /v1/people/enrolments`: the caller's organisation's pending requests and enrolled people.
async fn enrolments(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, ApiError> {
    let org = administered(&principal)?;
    let requests = state.people.requests.list(org.as_deref()).await?;
    let keys = state.ledger.store().keys().await.map_err(ApiError::internal)?;
    let pending: Vec<&EnrolmentRequest> =
        requests.iter().filter(|r| !keys.iter().any(|k| k.key_id == r.key_id)).collect();
    let enrolled: Vec<Value> = keys
        .iter()
        .filter(|k| KeyRole::parse(&k.role).is_some_and(|r| r.organisation_role().is_some()))
        .filter(|k| {
            let (_, of) = siteledger_domain::authority::acting_for(&k.role, &k.subject);
            org.as_deref().is_none_or(|o| o == of)
        })
        .map(|k| {
            let name = requests.iter().find(|r| r.key_id == k.key_id).map(|r| r.name.clone());
            json!({
                "key_id": k.key_id, "role": k.role, "subject": k.subject, "name": name,
                "valid_from": k.valid_from, "revoked_at": k.revoked_at, "enrolled_by": k.enrolled_by.to_string(),
            })
        })
        .collect();
    Ok(Json(json!({"organisation": org, "pending": pending, "enrolled": enrolled})))
}

// ---------------------------------------------------------------------------------------------------------------
// keys and chain heads

async fn find_key(state: &AppState, key_id: &str) -> Result<Option<StoredKey>, ApiError> {
    let keys = state.ledger.store().keys().await.map_err(ApiError::internal)?;
    Ok(keys.into_iter().find(|k| k.key_id == key_id))
}

/// `GET /v1/people/keys/{key_id}`: the key's enrolment and the head of its chain, for the page that signs next.
/// A gateway's or device's key names its project: answered only to callers who may see that project.
async fn key_status(
    State(state): State<AppState>,
    Path(key_id): Path<String>,
    req: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    let (mut parts, _) = req.into_parts();
    if siteledger_signer::KeyId::parse(&key_id).is_err() {
        return Err(bad("key_id", "须为 32 位小写十六进制 / must be 32 lowercase hex characters"));
    }
    let pending = state.people.requests.get(&key_id).await?;
    let key = find_key(&state, &key_id).await?;
    if let Some(k) = &key
        && matches!(KeyRole::parse(&k.role), Some(KeyRole::Gateway | KeyRole::Device))
    {
        let principal = Principal::from_request_parts(&mut parts, &state).await?;
        if !state.access.allows(&principal.scope(), &k.subject) {
            return Err(ApiError::NotFound("no such key".into()));
        }
    }
    let head = match &key {
        Some(_) => state.ledger.store().signer_head(&key_id).await.map_err(ApiError::internal)?,
        None => None,
    };
    Ok(Json(json!({
        "key_id": key_id,
        "enrolled": key.as_ref().map(|k| json!({
            "role": k.role, "subject": k.subject, "valid_from": k.valid_from, "valid_until": k.valid_until,
            "revoked_at": k.revoked_at, "enrolled_by": k.enrolled_by.to_string(),
        })),
        "pending": pending.map(|r| json!({"role": r.role, "subject": r.subject, "name": r.name})),
        "next_seq": head.as_ref().map_or(1, |h| h.signer_seq + 1),
        "prev": head.map(|h| hex::encode(h.leaf_hash)),
    })))
}

// ---------------------------------------------------------------------------------------------------------------
// sign-in by a signed challenge

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeBody {
    key_id: String,
}

/// `POST /v1/people/challenge`: a single-use nonce for an enrolled, unrevoked key.
async fn challenge(State(state): State<AppState>, ApiJson(b): ApiJson<ChallengeBody>) -> Result<Json<Value>, ApiError> {
    let key = find_key(&state, &b.key_id).await?.ok_or_else(not_enrolled)?;
    session_role(&key)?;
    let nonce = state.people.challenges.issue(&key.key_id)?;
    Ok(Json(json!({"nonce": nonce, "prefix": LOGIN_PREFIX, "expires_in_s": store::CHALLENGE_TTL.as_secs()})))
}

fn not_enrolled() -> ApiError {
    ApiError::NotFound("此密钥尚未登记 / this key is not enrolled (yet): ask your organisation's administrator".into())
}

/// The session a key opens: a person's key its organisation's scope; an organisation's own key (an
/// administrator who keeps it in the browser) that organisation's. Gateways, devices and service keys cannot.
fn session_role(key: &StoredKey) -> Result<(Role, Option<String>), ApiError> {
    let (role, subject) = siteledger_domain::authority::acting_for(&key.role, &key.subject);
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

fn instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    key_id: String,
    nonce: String,
    /// Base64 of the Ed25519 signature over [`LOGIN_PREFIX`] ‖ 0x00 ‖ nonce.
    signature: String,
}

/// `POST /v1/people/session`: checks the signed challenge against the enrolled, unrevoked key and opens a session.
async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<SessionBody>,
) -> Result<Response, ApiError> {
    let refused = || ApiError::Unauthorized("签名登录失败 / the signed challenge is wrong, used or expired".into());
    if !state.people.challenges.take(&b.nonce, &b.key_id) {
        return Err(refused());
    }
    let key = find_key(&state, &b.key_id).await?.ok_or_else(not_enrolled)?;
    let public = PublicKey::from_bytes(&key.public_key).map_err(ApiError::internal)?;
    let sig = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &b.signature)
        .ok()
        .and_then(|v| <[u8; 64]>::try_from(v).ok())
        .ok_or_else(refused)?;
    let mut message = Vec::with_capacity(LOGIN_PREFIX.len() + 1 + b.nonce.len());
    message.extend_from_slice(LOGIN_PREFIX.as_bytes());
    message.push(0);
    message.extend_from_slice(b.nonce.as_bytes());
    public.verify(&message, &sig).map_err(|_| refused())?;
    let now = OffsetDateTime::now_utc();
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
    let token = state.tokens.create(&name, role, scope.as_deref(), 1).await?;
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
    let body = json!({
        "name": name, "role": role.as_str(), "scope": scope, "key_role": key.role, "subject": key.subject,
        "csrf": csrf_token(&token.secret),
    });
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------------------------
// pages

/// The forms, by path segment: what they sign and who signs them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FormSpec {
    /// Path segment, `/people/forms/{id}`.
    pub id: &'static str,
    /// Title (Chinese first).
    pub title: &'static str,
    /// Who uses it.
    pub who: &'static str,
}

/// Every form the pages offer (the fields and the payload each builds are in `static/people.js`).
pub const FORMS: &[FormSpec] = &[
    FormSpec {
        id: "inspection", title: "监督检查与问题 · inspection and findings", who: "监督员 inspector"
    },
    FormSpec { id: "notice", title: "整改通知 · rectification notice", who: "监督员 inspector" },
    FormSpec { id: "review", title: "整改复查 · review", who: "监督员 inspector" },
    FormSpec { id: "closure", title: "整改销号 · closure", who: "监督员 inspector" },
    FormSpec { id: "stop-work", title: "停工令与复工 · stop-work and resumption", who: "监督员 inspector" },
    FormSpec { id: "submission", title: "整改回复 · rectification submission", who: "施工单位 contractor" },
];

#[derive(Template)]
#[template(path = "people_home.html")]
struct HomePage {
    layout: Layout,
    csrf: String,
    signed_in: bool,
    forms: &'static [FormSpec],
}

#[derive(Template)]
#[template(path = "people_admin.html")]
struct AdminPage {
    layout: Layout,
    csrf: String,
    organisation: String,
}

#[derive(Template)]
#[template(path = "people_form.html")]
struct FormPage {
    layout: Layout,
    csrf: String,
    form: FormSpec,
    forms: &'static [FormSpec],
}

fn csrf_of(headers: &HeaderMap) -> String {
    session_secret(headers).map(|s| csrf_token(&s)).unwrap_or_default()
}

/// `GET /people`: the person's key, enrolment request and sign-in (no session needed).
async fn home_page(State(state): State<AppState>, headers: HeaderMap, req: axum::extract::Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let viewer = Viewer::from_request_parts(&mut parts, &state).await.ok();
    let signed_in = viewer.as_ref().is_some_and(|v| v.principal() != &Principal::demo_visitor());
    let layout = match &viewer {
        Some(v) if signed_in => v.layout("个人密钥与签名", "people"),
        _ => {
            let mut l = Layout::anonymous(state.config.demo);
            l.title = "个人密钥与签名".into();
            l.nav = "people";
            l
        }
    };
    html(&HomePage { layout, csrf: if signed_in { csrf_of(&headers) } else { String::new() }, signed_in, forms: FORMS })
}

/// `GET /people/admin`: the administrator's approvals. Open without a session: an administrator who keeps the
/// organisation's key in this browser imports it and signs in here; the lists need the session.
async fn admin_page(State(state): State<AppState>, headers: HeaderMap, req: axum::extract::Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let viewer = Viewer::from_request_parts(&mut parts, &state).await.ok();
    match viewer.filter(|v| v.principal() != &Principal::demo_visitor()) {
        Some(v) => {
            let organisation = match administered(v.principal()) {
                Ok(o) => o.unwrap_or_else(|| "全市 city-wide".into()),
                Err(e) => return v.forbidden(e.to_string()).into_response(),
            };
            html(&AdminPage { layout: v.layout("人员密钥审批", "people"), csrf: csrf_of(&headers), organisation })
        }
        None => {
            let mut layout = Layout::anonymous(state.config.demo);
            layout.title = "人员密钥审批".into();
            layout.nav = "people";
            html(&AdminPage { layout, csrf: String::new(), organisation: "请先登录 sign in first".into() })
        }
    }
}

/// `GET /people/forms/{form}`: one workflow form.
async fn form_page(v: Viewer, headers: HeaderMap, Path(form): Path<String>) -> Result<Response, PageFail> {
    let Some(spec) = FORMS.iter().find(|f| f.id == form) else {
        return Err(v.not_found(format!("没有表单 {form} · no such form")));
    };
    Ok(html(&FormPage { layout: v.layout(spec.title, "people"), csrf: csrf_of(&headers), form: *spec, forms: FORMS }))
}
