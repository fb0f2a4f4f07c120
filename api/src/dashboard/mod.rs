//! The bureau dashboard: server-rendered Chinese pages over the scoped read models, live updates over the feed
//! (`EventSource('/v1/feed')`, same-origin cookie), and in-browser proof checking of any record.
//!
//! | route | page |
//! |---|---|
//! | `GET /` | 城市总览: one card per 区县(市) / 开发园区 with today's counts, live record counter, latest alarms |
//! | `GET /districts/{code}` | a district's projects |
//! | `GET /projects/{id}` | a project: participants, subsystem tiles, timeline (paged with `?before=`), live rows |
//! | `GET /verify/{event_id}` | checks the record's evidence bundle in the browser (`static/verify.js`: WebCrypto, and `static/sm2.js` for SM2/SM3) |
//! | `GET /alarms` | alarms (`?open=1`, `?project=ID`) |
//! | `GET /keys` | signer keys with status, gaps and equivocations |
//! | `GET /login`, `POST /login`, `POST /logout` | token sign-in (sets the `siteledger_token` cookie) |
//! | `GET /static/{name}` | CSS, JS and icon compiled into the binary |
//!
//! Every page reads through [`Principal::scope`], so a district bureau sees its district only; a project or record
//! outside the scope answers the same 404 page as a missing one. Without a valid token pages redirect to `/login`,
//! except in demo mode, where an anonymous visitor is the read-only demo visitor and a banner says so.

pub(crate) mod assets;
mod format;
mod rating;
mod site;
mod supervision;
mod workforce;

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use siteledger_ledger::EventStore;
use siteledger_projections::{AlarmFilter, AlarmRow, ReadDb, Scope};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// The cookie the login page sets and [`Principal`] reads.
pub const COOKIE: &str = "siteledger_token";

/// Timeline rows per page.
const TIMELINE_PAGE: usize = 50;

/// Dashboard routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/districts/{code}", get(district))
        .route("/projects/{id}", get(project))
        .route("/verify/{event_id}", get(verify))
        .route("/alarms", get(alarms))
        .route("/keys", get(keys))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/static/{name}", get(assets::serve))
        .merge(workforce::routes())
        .merge(site::routes())
        .merge(supervision::routes())
        .merge(rating::routes())
}

// ---------------------------------------------------------------------------------------------------------------
// who is looking, layout, errors

/// The caller of a page. Rejects with a redirect to `/login` when there is no valid token (outside demo mode).
#[derive(Debug, Clone)]
pub struct Viewer {
    principal: Principal,
    demo: bool,
    signed_in: bool,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, Response> {
        let demo = state.config.demo;
        match Principal::from_request_parts(parts, state).await {
            Ok(principal) => {
                let signed_in = principal != Principal::demo_visitor();
                Ok(Viewer { principal, demo, signed_in })
            }
            Err(ApiError::Unauthorized(_)) => {
                let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let mut resp = Redirect::to(&format!("/login?next={}", encode_component(next))).into_response();
                if has_cookie(&parts.headers) {
                    // An expired or revoked token: forget it, so the login page starts clean.
                    resp.headers_mut().insert(header::SET_COOKIE, clear_cookie());
                }
                Err(resp)
            }
            Err(e) => {
                tracing::error!(error = %e, "dashboard: authentication failed");
                Err(PageFail::internal(Layout::anonymous(demo), e).into_response())
            }
        }
    }
}

impl Viewer {
    fn scope(&self) -> Scope {
        self.principal.scope()
    }

    /// Who is looking (for the people's pages, `crate::people`).
    pub(crate) fn principal(&self) -> &Principal {
        &self.principal
    }

    pub(crate) fn layout(&self, title: impl Into<String>, nav: &'static str) -> Layout {
        let user = self.signed_in.then(|| {
            let role = match self.principal.role {
                Role::City => "市住建局",
                Role::District => "区县(市)住建部门",
                Role::Enterprise => "参建企业",
                Role::Auditor => "审计",
                Role::Gateway => "工地网关",
            };
            match &self.principal.scope {
                Some(s) => format!("{} · {role} {s}", self.principal.name),
                None => format!("{} · {role}", self.principal.name),
            }
        });
        Layout { title: title.into(), nav, demo: self.demo, user, v: assets::version() }
    }

    /// The 403 page: signed in, but not allowed here.
    pub(crate) fn forbidden(&self, message: impl Into<String>) -> PageFail {
        PageFail {
            layout: self.layout("无权访问 forbidden", ""),
            status: StatusCode::FORBIDDEN,
            heading: "无权访问 · forbidden",
            message: message.into(),
        }
    }

    pub(crate) fn not_found(&self, message: impl Into<String>) -> PageFail {
        PageFail {
            layout: self.layout("未找到 not found", ""),
            status: StatusCode::NOT_FOUND,
            heading: "未找到 · not found",
            message: message.into(),
        }
    }

    fn internal(&self, e: impl std::fmt::Display) -> PageFail {
        PageFail::internal(self.layout("出错了 error", ""), e)
    }
}

/// What the shared page frame (`base.html`) needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub(crate) title: String,
    pub(crate) nav: &'static str,
    pub(crate) demo: bool,
    pub(crate) user: Option<String>,
    pub(crate) v: &'static str,
}

impl Layout {
    pub(crate) fn anonymous(demo: bool) -> Layout {
        Layout { title: String::new(), nav: "", demo, user: None, v: assets::version() }
    }
}

/// A page that could not be shown: rendered as the friendly error page.
#[derive(Debug)]
pub struct PageFail {
    layout: Layout,
    status: StatusCode,
    heading: &'static str,
    message: String,
}

impl PageFail {
    fn internal(mut layout: Layout, e: impl std::fmt::Display) -> PageFail {
        tracing::error!(error = %e, "dashboard page failed");
        layout.title = "出错了 error".into();
        PageFail {
            layout,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            heading: "系统内部错误 · internal error",
            message: "页面暂时无法显示，错误已记录，请稍后重试。The page cannot be shown right now; the error has been logged."
                .into(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: &'a Layout,
    status: u16,
    heading: &'a str,
    message: &'a str,
}

impl IntoResponse for PageFail {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: &self.layout,
            status: self.status.as_u16(),
            heading: self.heading,
            message: &self.message,
        };
        let mut resp = html(&page);
        *resp.status_mut() = self.status;
        resp
    }
}

type PageResult = Result<Response, PageFail>;

/// Renders a template as an HTML response with the dashboard's security headers.
pub(crate) fn html(t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => {
            let mut resp = body.into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "内部错误 / internal error\n").into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 城市总览

#[derive(Debug)]
struct DistrictCard {
    code: String,
    name: String,
    kind: &'static str,
    projects: String,
    online: String,
    online_pct: u64,
    alarms_today: u64,
    open_alarms: u64,
}

#[derive(Debug)]
struct AlarmItem {
    project_id: String,
    project_name: String,
    category: String,
    level: &'static str,
    level_class: &'static str,
    message: String,
    value: String,
    raised_at: String,
    open: bool,
    cleared_at: String,
    event_id: String,
}

fn alarm_item(a: &AlarmRow, names: &BTreeMap<String, String>) -> AlarmItem {
    let project_id = a.project_id.clone().unwrap_or_default();
    let value = match (&a.value, &a.threshold) {
        (Some(v), Some(t)) => format!("{v} / 阈值 {t}"),
        (Some(v), None) => v.clone(),
        _ => String::new(),
    };
    AlarmItem {
        project_name: names.get(&project_id).cloned().unwrap_or_else(|| project_id.clone()),
        project_id,
        category: format::alarm_category(&a.category),
        level: format::alarm_level(&a.level),
        level_class: if a.level == "violation" { "bad" } else { "warn" },
        message: a.message.clone(),
        value,
        raised_at: format::time(&a.raised_at),
        open: a.open,
        cleared_at: format::time_opt(a.cleared_at.as_deref()),
        event_id: a.event_id.clone(),
    }
}

/// A project on the overview's short list of projects with open alarms.
#[derive(Debug)]
struct HotProject {
    id: String,
    name: String,
    district: String,
    district_name: String,
    open_alarms: u64,
}

/// Projects on the overview's short list of projects with the most open alarms.
const HOT_PROJECTS: usize = 10;

/// Latest alarms on the overview.
const LATEST_ALARMS: usize = 12;

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    today: String,
    counties: Vec<DistrictCard>,
    zones: Vec<DistrictCard>,
    total_projects: String,
    total_online: String,
    total_alarms_today: u64,
    total_open: u64,
    alarms: Vec<AlarmItem>,
    hot: Vec<HotProject>,
    project_districts: String,
}

/// The city overview: one card per visible district, the latest alarms and the projects with the most open
/// alarms. Every list on it is bounded (districts, [`LATEST_ALARMS`], [`HOT_PROJECTS`]) whatever the size of the
/// city; the projects themselves are listed, paged, on the district pages.
async fn overview(State(state): State<AppState>, v: Viewer) -> PageResult {
    let scope = v.scope();
    let today = ReadDb::today();
    let rows = state.read.districts_overview(&scope, today).await.map_err(|e| v.internal(e))?;
    let filter = AlarmFilter { limit: Some(LATEST_ALARMS), ..AlarmFilter::default() };
    let alarms = state.read.alarms(&scope, &filter).await.map_err(|e| v.internal(e))?;
    let hot = state.read.projects_with_open_alarms(&scope, HOT_PROJECTS).await.map_err(|e| v.internal(e))?;
    let mut ids: Vec<String> = alarms.iter().filter_map(|a| a.project_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let labels = state.read.project_labels(&scope, &ids).await.map_err(|e| v.internal(e))?;
    let names: BTreeMap<String, String> = labels.iter().map(|p| (p.project_id.clone(), p.name.clone())).collect();
    // For live updates: project id → [district code, project name] of the projects on the page; the script asks
    // `/v1/projects/{id}` for any other project a live alarm names.
    let mut map: BTreeMap<&str, [&str; 2]> =
        labels.iter().map(|p| (p.project_id.as_str(), [p.district.as_str(), p.name.as_str()])).collect();
    map.extend(hot.iter().map(|p| (p.project_id.as_str(), [p.district.as_str(), p.name.as_str()])));

    let (mut counties, mut zones) = (Vec::new(), Vec::new());
    let (mut tp, mut to, mut ta, mut tx) = (0u64, 0u64, 0u64, 0u64);
    for r in &rows {
        tp += r.projects;
        to += r.projects_with_data_today;
        ta += r.alarms_today;
        tx += r.open_alarms;
        let card = DistrictCard {
            code: r.code.clone(),
            name: r.name.clone(),
            kind: format::district_kind(&r.code),
            projects: format::count(r.projects),
            online: format::count(r.projects_with_data_today),
            online_pct: (r.projects_with_data_today * 100).checked_div(r.projects).unwrap_or(0).min(100),
            alarms_today: r.alarms_today,
            open_alarms: r.open_alarms,
        };
        if format::is_county(&r.code) { counties.push(card) } else { zones.push(card) }
    }
    let page = OverviewPage {
        layout: v.layout("城市总览", "overview"),
        today: today.to_string(),
        counties,
        zones,
        total_projects: format::count(tp),
        total_online: format::count(to),
        total_alarms_today: ta,
        total_open: tx,
        alarms: alarms.iter().map(|a| alarm_item(a, &names)).collect(),
        project_districts: serde_json::to_string(&map).map_err(|e| v.internal(e))?,
        hot: hot
            .into_iter()
            .map(|p| HotProject {
                id: p.project_id,
                name: p.name,
                district: p.district,
                district_name: p.district_name,
                open_alarms: p.open_alarms,
            })
            .collect(),
    };
    Ok(html(&page))
}

// ---------------------------------------------------------------------------------------------------------------
// a district's projects

#[derive(Debug)]
struct ProjectLine {
    id: String,
    name: String,
    contractor: String,
    central_urban: bool,
    start_date: String,
    events: String,
    last_event_at: String,
    open_alarms: u64,
    /// Latest rating decision: achieved stars (★…), required, met; empty before any decision.
    rating: String,
    rating_title: String,
    rating_met: Option<bool>,
}

/// `★★☆`-style text of a level out of three (0: `☆☆☆`).
fn stars(level: u64) -> String {
    let n = usize::try_from(level.min(3)).unwrap_or(0);
    format!("{}{}", "★".repeat(n), "☆".repeat(3 - n))
}

#[derive(Template)]
#[template(path = "district.html")]
struct DistrictPage {
    layout: Layout,
    code: String,
    name: String,
    kind: &'static str,
    projects_count: String,
    online: String,
    alarms_today: u64,
    open_alarms: u64,
    projects: Vec<ProjectLine>,
    /// The next page's `after`, when more projects follow.
    next_after: Option<String>,
    /// Whether this is a later page (a link back to the first).
    paged: bool,
}

/// Projects per page of a district page.
const DISTRICT_PAGE: usize = 50;

/// A district page's paging: projects after this id.
#[derive(Debug, Deserialize)]
struct DistrictQuery {
    after: Option<String>,
}

/// Names of the general contractors (施工总承包) of a visible project.
async fn contractors(state: &AppState, scope: &Scope, project_id: &str) -> Result<String, ApiError> {
    let detail = state.read.project(scope, project_id).await?;
    let names: Vec<String> = detail
        .map(|d| {
            d.participants
                .into_iter()
                .filter(|x| x.role == "general_contractor")
                .map(|x| x.enterprise_name.unwrap_or(x.credit_code))
                .collect()
        })
        .unwrap_or_default();
    Ok(if names.is_empty() { "—".into() } else { names.join("、") })
}

async fn district(
    State(state): State<AppState>,
    v: Viewer,
    Path(code): Path<String>,
    Query(page): Query<DistrictQuery>,
) -> PageResult {
    let scope = v.scope();
    let rows = state.read.districts_overview(&scope, ReadDb::today()).await.map_err(|e| v.internal(e))?;
    let Some(row) = rows.into_iter().find(|r| r.code == code) else {
        return Err(
            v.not_found(format!("没有区县(市)或开发园区 {code}，或您无权查看。No district {code} in your scope."))
        );
    };
    // One page (keyset, by project id): a district of hundreds of projects costs a page of them per request.
    let mut projects = state
        .read
        .projects_page(&scope, Some(&code), page.after.as_deref(), DISTRICT_PAGE + 1)
        .await
        .map_err(|e| v.internal(e))?;
    let next_after = (projects.len() > DISTRICT_PAGE).then(|| {
        projects.truncate(DISTRICT_PAGE);
        projects.last().map(|p| p.project_id.clone()).unwrap_or_default()
    });
    let ids: Vec<String> = projects.iter().map(|p| p.project_id.clone()).collect();
    let gcs: Vec<String> = futures::stream::iter(ids.clone())
        .map(|id| {
            let (state, scope) = (state.clone(), scope.clone());
            async move { contractors(&state, &scope, &id).await }
        })
        .buffered(4)
        .try_collect()
        .await
        .map_err(|e| v.internal(e))?;
    let ratings: BTreeMap<String, siteledger_projections::rating::DecisionRow> = state
        .read
        .rating_latest_of(&scope, &ids)
        .await
        .map_err(|e| v.internal(e))?
        .into_iter()
        .map(|d| (d.project_id.clone(), d))
        .collect();
    let lines = projects
        .iter()
        .zip(gcs)
        .map(|(p, contractor)| {
            let d = ratings.get(&p.project_id);
            (p, contractor, d)
        })
        .map(|(p, contractor, d)| ProjectLine {
            rating: d.map(|d| stars(d.achieved)).unwrap_or_default(),
            rating_title: d
                .map(|d| {
                    let required = d.required.map_or_else(|| "无要求 none".to_owned(), stars);
                    format!("达到 achieved {} · 要求 required {required} · 评定于 as of {}", stars(d.achieved), d.as_of)
                })
                .unwrap_or_else(|| "尚未评定 not rated yet".into()),
            rating_met: d.and_then(|d| d.meets),
            id: p.project_id.clone(),
            name: p.name.clone(),
            contractor,
            central_urban: p.central_urban,
            start_date: p.start_date.clone(),
            events: format::count(p.events),
            last_event_at: format::time_opt(p.last_event_at.as_deref()),
            open_alarms: p.open_alarms,
        })
        .collect();
    let page = DistrictPage {
        layout: v.layout(row.name.clone(), "overview"),
        kind: format::district_kind(&row.code),
        projects_count: format::count(row.projects),
        online: format::count(row.projects_with_data_today),
        alarms_today: row.alarms_today,
        open_alarms: row.open_alarms,
        code: row.code,
        name: row.name,
        projects: lines,
        next_after,
        paged: page.after.is_some(),
    };
    Ok(html(&page))
}

// ---------------------------------------------------------------------------------------------------------------
// a project

#[derive(Debug)]
struct Participant {
    role: String,
    name: String,
    credit_code: String,
}

#[derive(Debug)]
struct Tile {
    subsystem: String,
    label: &'static str,
    english: &'static str,
    events: String,
    kinds: u64,
    last_event_at: String,
}

#[derive(Debug)]
struct TimelineLine {
    position: u64,
    event_id: String,
    kind: String,
    subsystem: &'static str,
    occurred_at: String,
    occurred_raw: String,
    signer: String,
    signer_short: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    layout: Layout,
    id: String,
    name: String,
    district: String,
    district_name: String,
    central_urban: bool,
    floor_area: String,
    cost: String,
    cost_words: String,
    start_date: String,
    registered_at: String,
    events: String,
    last_event_at: String,
    participants: Vec<Participant>,
    tiles: Vec<Tile>,
    open_alarms: Vec<AlarmItem>,
    timeline: Vec<TimelineLine>,
    paged: bool,
    older: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct TimelineQuery {
    before: Option<String>,
}

async fn project(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> PageResult {
    let scope = v.scope();
    let Some(d) = state.read.project(&scope, &id).await.map_err(|e| v.internal(e))? else {
        return Err(v.not_found(format!("没有项目 {id}，或您无权查看。No project {id} in your scope.")));
    };
    let before = q.before.as_deref().and_then(|b| b.trim().parse::<u64>().ok());
    let rows = state.read.project_timeline(&scope, &id, before, TIMELINE_PAGE).await.map_err(|e| v.internal(e))?;
    let filter = AlarmFilter { project: Some(id.clone()), open_only: true, limit: Some(20), ..AlarmFilter::default() };
    let alarms = state.read.alarms(&scope, &filter).await.map_err(|e| v.internal(e))?;
    let names = BTreeMap::from([(id.clone(), d.project.name.clone())]);

    let mut participants: Vec<_> = d.participants.iter().collect();
    participants.sort_by_key(|p| (format::participant_rank(&p.role), p.position));
    let older = (rows.len() == TIMELINE_PAGE).then(|| rows.last().map(|r| r.position)).flatten();
    let p = &d.project;
    let page = ProjectPage {
        layout: v.layout(p.name.clone(), "overview"),
        id: p.project_id.clone(),
        name: p.name.clone(),
        district: p.district.clone(),
        district_name: p.district_name.clone(),
        central_urban: p.central_urban,
        floor_area: if p.floor_area_m2.is_empty() {
            "—".into()
        } else {
            format!("{} m²", format::decimal(&p.floor_area_m2))
        },
        cost: format::yuan(p.contract_cost_fen),
        cost_words: format::yuan_words(p.contract_cost_fen),
        start_date: if p.start_date.is_empty() { "—".into() } else { p.start_date.clone() },
        registered_at: format::time(&p.registered_at),
        events: format::count(p.events),
        last_event_at: format::time_opt(p.last_event_at.as_deref()),
        participants: participants
            .into_iter()
            .map(|x| Participant {
                role: format::participant_role(&x.role),
                name: x.enterprise_name.clone().unwrap_or_else(|| "（未登记企业）".into()),
                credit_code: x.credit_code.clone(),
            })
            .collect(),
        tiles: d
            .tiles
            .iter()
            .map(|t| {
                let (label, english) = format::subsystem(&t.subsystem);
                Tile {
                    subsystem: t.subsystem.clone(),
                    label,
                    english,
                    events: format::count(t.events),
                    kinds: t.kinds,
                    last_event_at: format::time(&t.last_event_at),
                }
            })
            .collect(),
        open_alarms: alarms.iter().map(|a| alarm_item(a, &names)).collect(),
        timeline: rows
            .into_iter()
            .map(|r| TimelineLine {
                subsystem: format::subsystem(r.kind.split('.').next().unwrap_or_default()).0,
                occurred_at: format::time(&r.occurred_at),
                signer_short: format::short(&r.signer, 8),
                position: r.position,
                event_id: r.event_id,
                kind: r.kind,
                occurred_raw: r.occurred_at,
                signer: r.signer,
                summary: r.summary,
            })
            .collect(),
        paged: before.is_some(),
        older,
    };
    Ok(html(&page))
}

// ---------------------------------------------------------------------------------------------------------------
// 核验 verify

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    layout: Layout,
    event_id: String,
    position: u64,
    kind: String,
    stream: String,
    project_id: Option<String>,
    occurred_at: String,
    log_key: String,
}

async fn verify(State(state): State<AppState>, v: Viewer, Path(event_id): Path<String>) -> PageResult {
    let missing = || v.not_found(format!("没有记录 {event_id}，或您无权查看。No record {event_id} in your scope."));
    let Ok(id) = Uuid::parse_str(&event_id) else {
        return Err(missing());
    };
    let found = state.ledger.store().events_by_id(&[id]).await.map_err(|e| v.internal(e))?;
    let Some(e) = found.into_iter().next() else {
        return Err(missing());
    };
    if !state.access.allows(&v.scope(), &e.stream) {
        return Err(missing());
    }
    let page = VerifyPage {
        layout: v.layout("记录核验", ""),
        event_id: e.event_id.to_string(),
        position: e.position,
        project_id: siteledger_projections::stream_project(&e.stream).map(str::to_owned),
        kind: e.kind,
        stream: e.stream,
        occurred_at: format::time(&e.occurred_at),
        log_key: state.ledger.log_verifier().vkey().to_string(),
    };
    Ok(html(&page))
}

// ---------------------------------------------------------------------------------------------------------------
// 告警

#[derive(Template)]
#[template(path = "alarms.html")]
struct AlarmsPage {
    layout: Layout,
    open_only: bool,
    project: Option<String>,
    project_q: String,
    alarms: Vec<AlarmItem>,
}

#[derive(Debug, Deserialize)]
struct AlarmsQuery {
    open: Option<String>,
    project: Option<String>,
}

async fn alarms(State(state): State<AppState>, v: Viewer, Query(q): Query<AlarmsQuery>) -> PageResult {
    let scope = v.scope();
    let open_only = matches!(q.open.as_deref(), Some("1" | "true" | "on"));
    let project = q.project.filter(|p| !p.trim().is_empty());
    let filter = AlarmFilter { project: project.clone(), open_only, limit: Some(500), ..AlarmFilter::default() };
    let rows = state.read.alarms(&scope, &filter).await.map_err(|e| v.internal(e))?;
    let projects = state.read.projects(&scope, None).await.map_err(|e| v.internal(e))?;
    let names: BTreeMap<String, String> = projects.into_iter().map(|p| (p.project_id, p.name)).collect();
    let page = AlarmsPage {
        layout: v.layout("告警", "alarms"),
        open_only,
        project_q: project.as_deref().map(|p| format!("&project={}", encode_component(p))).unwrap_or_default(),
        project,
        alarms: rows.iter().map(|a| alarm_item(a, &names)).collect(),
    };
    Ok(html(&page))
}

// ---------------------------------------------------------------------------------------------------------------
// 密钥与设备

#[derive(Debug)]
struct KeyLine {
    key_id: String,
    key_short: String,
    subject: String,
    project_id: Option<String>,
    role: String,
    status: &'static str,
    status_class: &'static str,
    valid: String,
    records: String,
    last_seq: String,
    last_at: String,
    gaps: u64,
    missing: u64,
    equivocations: u64,
    revoked: String,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage<'a> {
    layout: Layout,
    keys: &'a [KeyLine],
    counts: &'a siteledger_projections::KeyCounts,
    /// Listing only keys with gaps or equivocations.
    problems: bool,
    /// The query of the next page (`after=…`), if there are more keys.
    next: Option<&'a str>,
    /// Whether this is a later page (a link back to the first).
    later: bool,
}

/// A page of `/keys`: the counts of every visible key, the page's lines and the next page's query.
#[derive(Debug)]
struct KeysView {
    counts: siteledger_projections::KeyCounts,
    keys: Vec<KeyLine>,
    next: Option<String>,
}

/// Keys listed on a page of `/keys` (the counts above cover them all; the next page follows the last).
const PAGE_KEYS: usize = 200;

#[derive(Debug, Deserialize)]
struct KeysPageQuery {
    after: Option<String>,
    #[serde(default)]
    problems: bool,
}

async fn keys(State(state): State<AppState>, v: Viewer, Query(q): Query<KeysPageQuery>) -> PageResult {
    let scope = v.scope();
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        Some(id) => match state.read.key_position(&scope, id).await.map_err(|e| v.internal(e))? {
            Some(position) => Some((position, id.to_owned())),
            None => return Err(v.not_found(format!("没有您可查看的密钥 {id}。No key {id} in your scope."))),
        },
        None => None,
    };
    let later = after.is_some();
    let view = if later {
        std::sync::Arc::new(keys_view(&state, &scope, after, q.problems).await.map_err(|e| v.internal(e))?)
    } else {
        // The first page and the counts (a row per key: the city's are ~10^4) are what every viewer opens: shared by
        // the viewers of a scope within the second (a key's status reads the clock) and read-model position
        // (crate::answers). A later page seeks an index and costs its own rows.
        state
            .shared(format!("/keys|{scope:?}|{}", q.problems), crate::state::Clock::Second, || {
                keys_view(&state, &scope, None, q.problems)
            })
            .await
            .map_err(|e| v.internal(e))?
    };
    let page = KeysPage {
        layout: v.layout("密钥与设备", "keys"),
        counts: &view.counts,
        problems: q.problems,
        next: view.next.as_deref(),
        later,
        keys: &view.keys,
    };
    Ok(html(&page))
}

async fn keys_view(
    state: &AppState,
    scope: &Scope,
    after: Option<(u64, String)>,
    problems: bool,
) -> Result<KeysView, crate::error::ApiError> {
    let now = OffsetDateTime::now_utc();
    let counts = state.read.key_counts(scope, now).await?;
    let page = siteledger_projections::KeyPage { after, limit: Some(PAGE_KEYS + 1), problems };
    let mut rows = state.read.keys_page(scope, now, &page).await?;
    let more = rows.len() > PAGE_KEYS;
    rows.truncate(PAGE_KEYS);
    let next = rows
        .last()
        .filter(|_| more)
        .map(|k| format!("after={}{}", encode_component(&k.key_id), if problems { "&problems=true" } else { "" }));
    let lines: Vec<KeyLine> = rows
        .iter()
        .map(|k| {
            let (status, status_class) = format::key_status(k.status);
            KeyLine {
                key_id: k.key_id.clone(),
                key_short: format::short(&k.key_id, 12),
                subject: k.subject.clone(),
                project_id: k.project_id.clone(),
                role: format::key_role(&k.role),
                status,
                status_class,
                valid: format!(
                    "{} 至 {}",
                    format::day(&k.valid_from),
                    k.valid_until.as_deref().map_or_else(|| "长期".to_owned(), format::day)
                ),
                records: format::count(k.records),
                last_seq: k.last_seq.map_or_else(|| "—".into(), |s| s.to_string()),
                last_at: format::time_opt(k.last_occurred_at.as_deref()),
                gaps: k.gaps,
                missing: k.missing,
                equivocations: k.equivocations,
                revoked: match (&k.revoked_at, &k.revoked_reason) {
                    (Some(at), Some(r)) => format!("{} 吊销：{r}", format::time(at)),
                    (Some(at), None) => format!("{} 吊销", format::time(at)),
                    _ => String::new(),
                },
            }
        })
        .collect();
    Ok(KeysView { counts, keys: lines, next })
}

// ---------------------------------------------------------------------------------------------------------------
// login / logout

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

/// A local path to go back to after login (never another origin).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && !n.starts_with("/login") =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn has_cookie(headers: &HeaderMap) -> bool {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|c| {
        c.split(';').map(str::trim).any(|kv| kv.strip_prefix(COOKIE).is_some_and(|rest| rest.starts_with('=')))
    })
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("siteledger_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

fn secure_request(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A form POST must come from this origin (when the browser says where it comes from).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

async fn login_form(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let mut layout = Layout::anonymous(state.config.demo);
    layout.title = "登录".into();
    layout.nav = "login";
    html(&LoginPage { layout, next: safe_next(q.next.as_deref()), error: None })
}

async fn login(State(state): State<AppState>, headers: HeaderMap, axum::Form(f): axum::Form<LoginForm>) -> Response {
    let next = safe_next(f.next.as_deref());
    let mut layout = Layout::anonymous(state.config.demo);
    layout.title = "登录".into();
    layout.nav = "login";
    let fail = |layout: Layout, status: StatusCode, msg: &str| {
        let mut r = html(&LoginPage { layout, next: next.clone(), error: Some(msg.to_owned()) });
        *r.status_mut() = status;
        r
    };
    if !same_origin(&headers) {
        return fail(layout, StatusCode::FORBIDDEN, "请求来源不符 · cross-origin request refused");
    }
    let token = f.token.trim();
    let principal = match state.tokens.authenticate(token, state.config.demo).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return fail(
                layout,
                StatusCode::UNAUTHORIZED,
                "令牌无效、已过期或已吊销 · the token is invalid, expired or revoked",
            );
        }
        Err(e) => return PageFail::internal(layout, e).into_response(),
    };
    if principal.role == Role::Gateway {
        return fail(
            layout,
            StatusCode::FORBIDDEN,
            "工地网关令牌不能登录看板 · gateway tokens cannot sign in to the dashboard",
        );
    }
    let secure = if secure_request(&headers) { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let Ok(cookie) = HeaderValue::from_str(&cookie) else {
        return fail(layout, StatusCode::BAD_REQUEST, "令牌格式错误 · malformed token");
    };
    let mut resp = Redirect::to(&next).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    resp
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-origin request refused\n").into_response();
    }
    // A person's session is revoked server-side (a copied cookie dies with the logout); a machine token pasted
    // into the login page is not.
    if let Some(secret) = crate::auth::session_secret(&headers)
        && let Err(e) = state.people.sessions.end(&state.tokens, &secret).await
    {
        return e.into_response();
    }
    let target = if state.config.demo { "/" } else { "/login" };
    let mut resp = Redirect::to(target).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, clear_cookie());
    resp
}

/// Percent-encodes a query component (unreserved characters and `/` stay as they are).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_always_local() {
        assert_eq!(safe_next(Some("/projects/NB-1?before=3")), "/projects/NB-1?before=3");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(Some("/login?next=/")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn components_are_encoded() {
        assert_eq!(encode_component("/projects/A B?x=1&y"), "/projects/A%20B%3Fx%3D1%26y");
        assert_eq!(encode_component("鄞"), "%E9%84%9E");
    }

    #[test]
    fn origin_check() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
    }
}
