//! Scoped queries over the read models and the log. Every handler passes the caller's scope down; a project outside
//! the scope answers 404, exactly like a missing one.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use siteledger_projections::{AccessCache, AlarmFilter, KeyPage, Scope, stream_project};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::{encode_query_value, json_bytes, paged, to_json_bytes};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::{AppState, Clock};

/// Who the token belongs to.
#[utoipa::path(get, path = "/v1/whoami", tag = "query", responses((status = 200, body = Principal)), security(("bearer" = [])))]
pub async fn whoami(principal: Principal) -> Json<Principal> {
    Json(principal)
}

/// Districts (区县(市) and 开发园区) with today's activity: projects, projects with data today, alarms.
#[utoipa::path(get, path = "/v1/districts", tag = "query",
    responses((status = 200, description = "Visible districts with counts", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn districts(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, ApiError> {
    let rows = state.read.districts_overview(&principal.scope(), siteledger_projections::ReadDb::today()).await?;
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
}

/// Project filter and paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ProjectsQuery {
    /// Only this district code.
    pub district: Option<String>,
    /// Page size (1–1000). With `limit` or `after` the answer is one page in project id order and, when more
    /// follow, a `Link: <…>; rel="next"` header gives the next page's address; without either, every visible
    /// project (the original answer, which grows with the city).
    pub limit: Option<usize>,
    /// Projects after this project id (exclusive): the `after` of the previous page's `next` link. Default page
    /// size 100.
    pub after: Option<String>,
}

/// Page size of `/v1/projects?after=…` without a `limit`.
const PROJECTS_PAGE: usize = 100;

/// Projects visible to the caller, by project id; paged with `limit` and `after` (keyset: every page costs its
/// own rows, however deep).
#[utoipa::path(get, path = "/v1/projects", tag = "query", params(ProjectsQuery),
    responses(
        (status = 200, description = "Visible projects: one page when `limit` or `after` is given, else every visible project", body = Vec<Object>,
            headers(("Link" = String, description = "`</v1/projects?limit=N&after=ID>; rel=\"next\"` when a paged answer has more projects after it"))),
        (status = 400, description = "`limit` outside 1–1000", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn projects(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ProjectsQuery>,
) -> Result<Response, ApiError> {
    let scope = principal.scope();
    if q.limit.is_none() && q.after.is_none() {
        // Every visible project: the heaviest answer, one computation shared by the callers of the same scope and
        // filter that arrive while it runs (crate::answers), at most one computation older than the question.
        let key = format!("/v1/projects|{scope:?}|{:?}", q.district);
        let bytes = state
            .shared(key, Clock::No, || async {
                let rows = state.read.projects(&scope, q.district.as_deref()).await?;
                to_json_bytes(&rows)
            })
            .await?;
        return Ok(json_bytes(&bytes));
    }
    let limit = q.limit.unwrap_or(PROJECTS_PAGE);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit 须在 1 到 1000 之间，收到 {limit} / limit must be 1–1000, got {limit}"
        )));
    }
    // One row more than the page tells whether a next page exists without a second statement.
    let mut rows = state.read.projects_page(&scope, q.district.as_deref(), q.after.as_deref(), limit + 1).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(last) if more => {
            let mut next = format!("/v1/projects?limit={limit}&after={}", encode_query_value(&last.project_id));
            if let Some(d) = &q.district {
                next.push_str(&format!("&district={}", encode_query_value(d)));
            }
            Some(next)
        }
        _ => None,
    };
    paged(rows, next)
}

/// One project with participants and subsystem tiles.
#[utoipa::path(get, path = "/v1/projects/{id}", tag = "query", params(("id" = String, Path, description = "Project id")),
    responses((status = 200, description = "Project detail", body = Object), (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn project(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = state.read.project(&principal.scope(), &id).await?.ok_or_else(|| not_found(&id))?;
    Ok(Json(serde_json::to_value(p).map_err(ApiError::internal)?))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("没有项目 {id}，或您无权查看 / no project {id} in your scope"))
}

/// Timeline paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TimelineQuery {
    /// Records before this position (exclusive), for paging back.
    pub before: Option<u64>,
    /// How many (1–1000, default 100).
    pub limit: Option<usize>,
}

/// A project's records, newest first.
#[utoipa::path(get, path = "/v1/projects/{id}/events", tag = "query", params(("id" = String, Path, description = "Project id"), TimelineQuery),
    responses((status = 200, description = "Timeline rows, newest first", body = Vec<Object>), (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn project_events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> Result<Json<Value>, ApiError> {
    let scope = principal.scope();
    if state.read.project(&scope, &id).await?.is_none() {
        return Err(not_found(&id));
    }
    let rows = state.read.project_timeline(&scope, &id, q.before, q.limit.unwrap_or(100)).await?;
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
}

/// Alarm filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AlarmsQuery {
    /// Only this project.
    pub project: Option<String>,
    /// Only open alarms.
    pub open: Option<bool>,
    /// At most this many (default 50, at most 10 000).
    pub limit: Option<usize>,
}

/// Alarms visible to the caller, newest first.
#[utoipa::path(get, path = "/v1/alarms", tag = "query", params(AlarmsQuery),
    responses((status = 200, description = "Alarms", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn alarms(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AlarmsQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = AlarmFilter {
        project: q.project,
        open_only: q.open.unwrap_or(false),
        since: None,
        limit: Some(q.limit.unwrap_or(50)),
    };
    let rows = state.read.alarms(&principal.scope(), &filter).await?;
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
}

/// Key paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct KeysQuery {
    /// At most this many keys (1–1000; default: all of them).
    pub limit: Option<usize>,
    /// Only the keys enrolled after this key id (the last `key_id` of the previous page).
    pub after: Option<String>,
    /// Only keys with signer gaps or equivocations.
    #[serde(default)]
    pub problems: bool,
}

/// Signer keys visible to the caller, with status and statistics, in enrolment order.
///
/// A city has tens of thousands: page with `limit`; while more keys follow, the `Link` header's `rel="next"` URL
/// asks for the next page (`after` the last `key_id` received).
#[utoipa::path(get, path = "/v1/keys", tag = "query", params(KeysQuery),
    responses((status = 200, description = "Keys", body = Vec<Object>, headers(("link" = String, description = "`<URL>; rel=\"next\"` while more keys follow"))),
              (status = 400, description = "Bad limit, or `after` is not a key the caller sees", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn keys(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<KeysQuery>,
) -> Result<Response, ApiError> {
    let scope = principal.scope();
    if let Some(limit) = q.limit.filter(|l| !(1..=1000).contains(l)) {
        return Err(ApiError::BadRequest(format!("limit: {limit} is not between 1 and 1000")));
    }
    if q.limit.is_none() && q.after.is_none() {
        // Every visible key (the v1 answer, about 1.9 MB for a city): shared by the callers of the same scope and
        // filter within the second (a key's status reads the clock), never older than the read models they saw.
        let key = format!("/v1/keys|{scope:?}|{}", q.problems);
        let bytes = state
            .shared(key, Clock::Second, || async {
                let page = KeyPage { after: None, limit: None, problems: q.problems };
                to_json_bytes(&state.read.keys_page(&scope, OffsetDateTime::now_utc(), &page).await?)
            })
            .await?;
        return Ok(json_bytes(&bytes));
    }
    let after = match q.after.as_deref() {
        Some(id) => match state.read.key_position(&scope, id).await? {
            Some(position) => Some((position, id.to_owned())),
            None => {
                return Err(ApiError::BadRequest(format!(
                    "after: no key {id:?} in your scope (give the last key_id of the previous page)"
                )));
            }
        },
        None => None,
    };
    let page = KeyPage { after, limit: q.limit.map(|l| l + 1), problems: q.problems };
    let mut rows = state.read.keys_page(&scope, OffsetDateTime::now_utc(), &page).await?;
    let next = q.limit.filter(|l| rows.len() > *l).and_then(|l| {
        rows.truncate(l);
        let last = rows.last()?;
        let problems = if q.problems { "&problems=true" } else { "" };
        Some(format!("/v1/keys?limit={l}&after={}{problems}", encode_query_value(&last.key_id)))
    });
    paged(rows, next)
}

/// Log paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// First position (default 0).
    pub from: Option<u64>,
    /// How many positions to scan (1–1000, default 100); records outside the scope are skipped.
    pub limit: Option<usize>,
    /// Kind prefix, e.g. `alarm.`.
    pub kind: Option<String>,
}

/// A record as the query API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventRow {
    /// Log position.
    pub position: u64,
    /// Stream.
    pub stream: String,
    /// Kind.
    pub kind: String,
    /// The signed envelope.
    pub envelope: Value,
}

/// Records of the log visible to the caller, in log order.
#[utoipa::path(get, path = "/v1/events", tag = "query", params(EventsQuery),
    responses((status = 200, body = Vec<EventRow>)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<EventRow>>, ApiError> {
    let scope = principal.scope();
    if scope == Scope::Nothing {
        return Ok(Json(Vec::new()));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let events = state.ledger.read_all(q.from.unwrap_or(0), limit).await?;
    let mut out = Vec::new();
    for e in events {
        if !state.access.allows(&scope, &e.stream) {
            continue;
        }
        if let Some(k) = &q.kind
            && !e.kind.starts_with(k.as_str())
        {
            continue;
        }
        let envelope: Value = serde_json::from_slice(&e.leaf).map_err(ApiError::internal)?;
        if !names_only_visible_projects(&state.access, &scope, &e.stream, envelope.get("payload")) {
            continue;
        }
        out.push(EventRow { position: e.position, stream: e.stream.clone(), kind: e.kind.clone(), envelope });
    }
    Ok(Json(out))
}

/// Whether a record the stream rule lets `scope` see (`AccessCache::allows`) names only projects the scope may see.
/// Records of a project's streams are that project's; but `registry/…` streams (shown to every scope) carry
/// project registrations and participants (`project_id`) and the enrolment of project keys (`subject`
/// `project/<id>/…`), and `ledger/…` notices (shown to all) quote a refused record (`refused_envelope`): such a
/// record is shown only to callers who may see every project it names. `/v1/events` and `/v1/feed` apply it.
pub fn names_only_visible_projects(access: &AccessCache, scope: &Scope, stream: &str, payload: Option<&Value>) -> bool {
    if *scope == Scope::All || stream_project(stream).is_some() {
        return true;
    }
    let Some(payload) = payload else { return true };
    let str_at = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut named: Vec<String> = Vec::new();
    named.extend(str_at(payload, "project_id"));
    named.extend(str_at(payload, "subject").as_deref().and_then(stream_project).map(str::to_owned));
    if let Some(quoted) = payload.get("refused_envelope") {
        named.extend(str_at(quoted, "stream").as_deref().and_then(stream_project).map(str::to_owned));
        named.extend(quoted.get("payload").and_then(|p| str_at(p, "project_id")));
    }
    named.iter().all(|p| access.allows_project(scope, p))
}
