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

pub mod api;
pub mod sessions;
pub mod store;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::auth::{Principal, csrf_token, session_secret};
use crate::dashboard::{Layout, PageFail, Viewer, html};
use crate::error::ApiError;
use crate::state::AppState;
pub use api::Doc;
pub use sessions::{Challenges, SessionGuard, Sessions};
pub use store::{EnrolmentRequest, Inserted, RequestStore};

/// What a person signs to sign in: this prefix, a zero byte, then the nonce's ASCII bytes. The prefix keeps a login
/// signature from ever being a valid envelope signature (those start `siteledger-envelope-v1`).
pub const LOGIN_PREFIX: &str = "siteledger-login-v1";

/// The people's part of the server state.
#[derive(Debug, Clone)]
pub struct People {
    /// Pending enrolment requests.
    pub requests: RequestStore,
    /// Open login challenges (in the token database, so any instance answers them).
    pub challenges: Challenges,
    /// People's sessions and the keys that opened them.
    pub sessions: Sessions,
}

impl People {
    /// Opens the requests table in the token database.
    pub async fn open(tokens: &crate::auth::TokenStore) -> Result<People, ApiError> {
        Ok(People {
            requests: RequestStore::open(tokens).await?,
            challenges: Challenges::open(tokens).await?,
            sessions: Sessions::open(tokens).await?,
        })
    }
}

/// The routes (API and pages).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/people/enrolments", post(api::request_enrolment).get(api::enrolments))
        .route("/v1/people/keys/{key_id}", get(api::key_status))
        .route("/v1/people/challenge", post(api::challenge))
        .route("/v1/people/session", post(api::session))
        .route("/people", get(home_page))
        .route("/people/admin", get(admin_page))
        .route("/people/forms/{form}", get(form_page))
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

/// Every form the pages offer (the fields and the payload each builds are in `static/people_forms.js`).
pub const FORMS: &[FormSpec] = &[
    FormSpec {
        id: "inspection", title: "监督检查与问题 · inspection and findings", who: "监督员 inspector"
    },
    FormSpec { id: "notice", title: "整改通知 · rectification notice", who: "监督员 inspector" },
    FormSpec { id: "review", title: "整改复查 · review", who: "监督员 inspector" },
    FormSpec { id: "closure", title: "整改销号 · closure", who: "监督员 inspector" },
    FormSpec { id: "stop-work", title: "停工令与复工 · stop-work and resumption", who: "监督员 inspector" },
    FormSpec { id: "submission", title: "整改回复 · rectification submission", who: "施工单位 contractor" },
    FormSpec { id: "sample-receipt", title: "样品接收 · sample receipt", who: "检测机构 tester" },
    FormSpec { id: "test-report", title: "检测报告 · test report", who: "检测机构 tester" },
    FormSpec { id: "commission", title: "检测委托 · testing commission", who: "建设单位 owner's staff" },
    FormSpec {
        id: "sample-witness",
        title: "见证取样 · witness of sampling",
        who: "监理/建设单位 supervisor's or owner's staff",
    },
    FormSpec {
        id: "acceptance",
        title: "危大工程方案审查与验收 · plan countersignature and acceptance",
        who: "监理单位 supervisor's staff",
    },
    FormSpec {
        id: "wage-account",
        title: "工资专用账户开立 · dedicated wage account opened",
        who: "施工总承包单位 general contractor's staff",
    },
    FormSpec {
        id: "labour-deposit", title: "人工费用拨付 · labour-cost deposit", who: "建设单位 owner's staff"
    },
    FormSpec {
        id: "wage-finding", title: "欠薪核查发现公布 · wage finding", who: "区县/市住建局 inspector"
    },
    FormSpec {
        id: "task",
        title: "协同任务派发、升级、办结 · task dispatch, escalation, closure",
        who: "区县/市住建局 inspector",
    },
    FormSpec {
        id: "rating-decision", title: "星级评定结果 · rating decision", who: "区县/市住建局 inspector"
    },
    FormSpec {
        id: "rating-policy",
        title: "星级评定政策 · rating policy",
        who: "市住建局单位密钥 the city bureau's own key",
    },
    FormSpec {
        id: "hazard-work", title: "危大工程清单 · hazardous work listing", who: "施工单位 contractor"
    },
    FormSpec {
        id: "hazard-plan", title: "危大工程专项方案 · hazardous work plan", who: "施工单位 contractor"
    },
    FormSpec {
        id: "hazard-step",
        title: "危大工程交底、公告、开工 · briefing, site notice, start",
        who: "施工单位 contractor",
    },
    FormSpec {
        id: "hazard-monitoring", title: "危大工程监测 · monitoring record", who: "施工单位 contractor"
    },
    FormSpec { id: "team", title: "班组登记 · team registration", who: "施工单位 contractor" },
    FormSpec { id: "worker", title: "工人实名登记 · worker registration", who: "施工单位 contractor" },
    FormSpec { id: "payroll", title: "工资支付表 · payroll", who: "施工单位 contractor" },
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
            let organisation = match api::administered(v.principal()) {
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
