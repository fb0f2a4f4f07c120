//! Open-API handlers of 设备监测 (扬尘噪声, 塔吊, 升降机, 用电用水, 视频): the site read models, scoped by the
//! caller's token. A project outside the scope answers 404, exactly like a missing one.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/site/overview` | projects with site data: latest PM10/PM2.5/noise/wind, alarms today, cameras; per-district totals |
//! | `GET /v1/site/projects/{id}` | a project's site page: thresholds in force, latest values, series, alarms, cycles, hoists, meters, cameras, gateways, signer gaps |
//! | `GET /v1/site/projects/{id}/series` | window series (Leq 20 min, PM hourly means) with their thresholds |
//! | `GET /v1/site/projects/{id}/cameras/days` | each camera's online time per day (在线率 from its status transitions) |
//! | `GET /v1/site/districts/{code}/series` | one metric's windows of every visible project of a district |
//! | `GET /v1/site/alarms` | derived site alarms (exceedances, bands, wind stop, operator, leakage …) with the event ids they rest on |

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use siteledger_domain::LocalDate;
use siteledger_projections::site::{Resolution, SiteOverviewRow};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::routes::{encode_query_value, json_bytes, paged, to_json_bytes};
use crate::state::{AppState, Clock};

/// The routes of this area (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/site/overview", get(overview))
        .route("/v1/site/projects/{id}", get(project))
        .route("/v1/site/projects/{id}/series", get(series))
        .route("/v1/site/projects/{id}/cameras/days", get(camera_days))
        .route("/v1/site/districts/{code}/series", get(district_series))
        .route("/v1/site/alarms", get(alarms))
}

/// This area's part of the OpenAPI document (merged into `/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi(paths(overview, project, series, camera_days, district_series, alarms), components(schemas(DistrictTotals)), tags((name = "site", description = "设备监测: dust/noise, cranes, hoists, meters, cameras")))]
pub struct Doc;

fn now_or(at: Option<&str>) -> Result<OffsetDateTime, ApiError> {
    match at {
        None => Ok(OffsetDateTime::now_utc()),
        Some(s) => OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
            ApiError::BadRequest(format!("at: 时间须为 RFC 3339 / must be RFC 3339 with an offset ({e})"))
        }),
    }
}

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0)
}

fn today(now: OffsetDateTime) -> LocalDate {
    LocalDate::try_from(siteledger_domain::time::shanghai_date(now)).unwrap_or(LocalDate::MIN)
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("没有项目 {id}，或您无权查看 / no project {id} in your scope"))
}

/// Totals of one district on the site overview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DistrictTotals {
    /// District code.
    pub district: String,
    /// Projects with site data.
    pub projects: u64,
    /// Derived alarms raised on the day.
    pub alarms_today: i64,
    /// Alarm episodes open.
    pub open_alarms: i64,
    /// Highest latest PM10 (µg/m³).
    pub max_pm10: Option<String>,
    /// Highest latest noise (dB(A)).
    pub max_noise: Option<String>,
    /// Cameras online / registered.
    pub cameras_online: i64,
    /// Cameras registered.
    pub cameras: i64,
}

/// Per-district totals of overview rows (in the rows' order).
pub fn district_totals(rows: &[SiteOverviewRow]) -> Vec<DistrictTotals> {
    let mut out: Vec<DistrictTotals> = Vec::new();
    let max = |a: &Option<String>, b: &Option<String>| -> Option<String> {
        let pa = a.as_deref().and_then(|s| siteledger_domain::Decimal::parse(s).ok());
        let pb = b.as_deref().and_then(|s| siteledger_domain::Decimal::parse(s).ok());
        match (pa, pb) {
            (Some(x), Some(y)) => Some(if x.cmp_value(&y).is_ge() { x } else { y }.to_string()),
            (Some(x), None) | (None, Some(x)) => Some(x.to_string()),
            (None, None) => None,
        }
    };
    for r in rows {
        if out.last().is_none_or(|t| t.district != r.district) {
            out.push(DistrictTotals {
                district: r.district.clone(),
                projects: 0,
                alarms_today: 0,
                open_alarms: 0,
                max_pm10: None,
                max_noise: None,
                cameras_online: 0,
                cameras: 0,
            });
        }
        if let Some(t) = out.last_mut() {
            t.projects += 1;
            t.alarms_today += r.alarms_today;
            t.open_alarms += r.open_alarms;
            t.max_pm10 = max(&t.max_pm10, &r.pm10);
            t.max_noise = max(&t.max_noise, &r.noise);
            t.cameras_online += r.cameras_online;
            t.cameras += r.cameras;
        }
    }
    out
}

/// Overview parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct OverviewQuery {
    /// Day of the alarm counts, `YYYY-MM-DD` (Asia/Shanghai; default today).
    pub day: Option<String>,
}

/// Projects with site data visible to the caller, with latest values and the day's alarms, and per-district totals.
///
/// Latest values, cameras and lifting devices come from each project's stored summary, recomputed by the server
/// within seconds of its records (`pending`: projects whose newer records are not in their summary yet);
/// alarm counts are current.
#[utoipa::path(get, path = "/v1/site/overview", tag = "site", params(OverviewQuery),
    responses((status = 200, description = "`{day, districts: [DistrictTotals], projects: [..], pending}`: `pending` counts the projects whose latest values are being recomputed", body = Object),
              (status = 400, description = "Bad day", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn overview(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, ApiError> {
    let day = match q.day {
        Some(d) => LocalDate::parse(&d).map_err(|e| ApiError::BadRequest(format!("day: {e}")))?,
        None => today(OffsetDateTime::now_utc()),
    };
    let scope = principal.scope();
    // Every project of the scope (about 0.8 MB for a city): one computation shared by the callers of the same
    // scope and day until the read models move on (crate::answers).
    let bytes = state
        .shared(format!("/v1/site/overview|{scope:?}|{day}"), Clock::No, || async {
            let overview = state.read.site_overview(&scope, &day.to_string(), None).await?;
            let districts = district_totals(&overview.rows);
            to_json_bytes(&serde_json::json!({
                "day": day.to_string(),
                "districts": districts,
                "projects": overview.rows,
                "pending": overview.pending,
            }))
        })
        .await?;
    Ok(json_bytes(&bytes))
}

/// Project page parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ProjectQuery {
    /// Series of the last this many hours (1–720, default 24).
    pub hours: Option<u32>,
    /// "Now" for the thresholds in force and the inspections' due dates (RFC 3339; default the server's time).
    pub at: Option<String>,
}

/// A project's site page: thresholds in force, latest values, series, alarms, crane cycles, hoist inspections,
/// meters, cameras, gateways and signer gaps.
#[utoipa::path(get, path = "/v1/site/projects/{id}", tag = "site", params(("id" = String, Path, description = "Project id"), ProjectQuery),
    responses((status = 200, description = "Site page of the project", body = Object),
              (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn project(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> Result<Json<Value>, ApiError> {
    let now = now_or(q.at.as_deref())?;
    let hours = i64::from(q.hours.unwrap_or(24).clamp(1, 720));
    let since = micros(now) - hours * 3_600_000_000;
    let p = state
        .read
        .site_project(&principal.scope(), &id, since, now, today(now))
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(serde_json::to_value(p).map_err(ApiError::internal)?))
}

/// Series parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SeriesQuery {
    /// `pm10`, `pm25`, `noise` or `wind` (default all).
    pub metric: Option<String>,
    /// Last this many hours (1–720, default 24).
    pub hours: Option<u32>,
    /// End of the series (RFC 3339; default now).
    pub at: Option<String>,
    /// `hour` or `day`: answer from the hourly or daily roll-ups. Default: judged windows within the raw period
    /// (`raw_retention_days`) and hourly roll-ups before it; each row says which (`resolution`).
    pub resolution: Option<String>,
}

/// Window series of a project: noise Leq per 20 minutes, PM10/PM2.5/wind hourly means, each with its band and the
/// threshold of the policy in force (`resolution: "window"`); before the raw period, or when asked, hourly or
/// daily roll-ups (`resolution: "hour"`/`"day"`: mean or Leq, min, max, readings, exceedance and warning minutes).
#[utoipa::path(get, path = "/v1/site/projects/{id}/series", tag = "site", params(("id" = String, Path, description = "Project id"), SeriesQuery),
    responses((status = 200, description = "Windows", body = Vec<Object>),
              (status = 400, description = "Unknown metric", body = crate::error::ErrorBody),
              (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn series(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(m) = q.metric.as_deref()
        && !matches!(m, "pm10" | "pm25" | "noise" | "wind")
    {
        return Err(ApiError::BadRequest(format!("metric: 须为 pm10、pm25、noise 或 wind / unknown metric {m:?}")));
    }
    let resolution = match q.resolution.as_deref() {
        None | Some("auto") => None,
        Some("hour") => Some(Resolution::Hour),
        Some("day") => Some(Resolution::Day),
        Some(r) => {
            return Err(ApiError::BadRequest(format!("resolution: 须为 hour、day 或 auto / unknown resolution {r:?}")));
        }
    };
    let scope = principal.scope();
    if state.read.project(&scope, &id).await?.is_none() {
        return Err(not_found(&id));
    }
    let now = now_or(q.at.as_deref())?;
    let since = micros(now) - i64::from(q.hours.unwrap_or(24).clamp(1, 720)) * 3_600_000_000;
    let rows = match resolution {
        None => state.read.site_series(&scope, &id, q.metric.as_deref(), since).await?,
        Some(r) => {
            let until = micros(now).saturating_add(1);
            state.read.site_rollups(&scope, &id, q.metric.as_deref(), r, (since, until)).await?
        }
    };
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
}

/// Camera online-time parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CameraDaysQuery {
    /// First day, `YYYY-MM-DD` (Asia/Shanghai; default the day of `at`).
    pub from: Option<String>,
    /// Last day, inclusive (default the day of `at`); at most 62 days from `from`.
    pub to: Option<String>,
    /// "Now": a camera's time after its latest status report is credited up to here (RFC 3339; default now).
    pub at: Option<String>,
}

fn day_param(name: &str, v: Option<&str>, default: LocalDate) -> Result<LocalDate, ApiError> {
    match v {
        None => Ok(default),
        Some(d) => LocalDate::parse(d).map_err(|e| ApiError::BadRequest(format!("{name}: {e}"))),
    }
}

/// Each camera's online time per day: seconds credited online, seconds its status reports cover, and the share
/// (‰), from the signed status transitions, keepalive gaps and the silence rule (online credited up to 65 minutes
/// after the last report), not the status at the moment of asking.
#[utoipa::path(get, path = "/v1/site/projects/{id}/cameras/days", tag = "site", params(("id" = String, Path, description = "Project id"), CameraDaysQuery),
    responses((status = 200, description = "`{project_id, from, to, days: [{device_id, day, online_s, known_s, online_permille}]}`", body = Object),
              (status = 400, description = "Bad day or range", body = crate::error::ErrorBody),
              (status = 404, description = "No such project in the caller's scope", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn camera_days(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(q): Query<CameraDaysQuery>,
) -> Result<Json<Value>, ApiError> {
    let now = now_or(q.at.as_deref())?;
    let from = day_param("from", q.from.as_deref(), today(now))?;
    let to = day_param("to", q.to.as_deref(), today(now))?;
    let span = (to.date() - from.date()).whole_days();
    if !(0..siteledger_projections::site::MAX_CAMERA_DAYS).contains(&span) {
        return Err(ApiError::BadRequest(format!(
            "to: 须不早于 from，且最多 {max} 天 / must not be before from, at most {max} days",
            max = siteledger_projections::site::MAX_CAMERA_DAYS
        )));
    }
    let days =
        state.read.site_camera_days(&principal.scope(), &id, from, to, now).await?.ok_or_else(|| not_found(&id))?;
    Ok(Json(serde_json::json!({"project_id": id, "from": from.to_string(), "to": to.to_string(), "days": days})))
}

/// District series parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DistrictSeriesQuery {
    /// `pm10`, `pm25`, `noise` or `wind` (default `pm10`).
    pub metric: Option<String>,
    /// Last this many hours (1–720, default 24).
    pub hours: Option<u32>,
    /// End of the series (RFC 3339; default now). The `Link` of the next page carries the first page's.
    pub at: Option<String>,
    /// At most this many windows (1–20000, default 20000); when there are more, the `Link` header's `rel="next"` URL
    /// asks for the next page.
    pub limit: Option<usize>,
    /// With `after_device` and `after_start_us`: only the windows after this one (the last row of the previous
    /// page) in (project, device, start) order.
    pub after_project: Option<String>,
    /// The device id of that window.
    pub after_device: Option<String>,
    /// Its `window_start_us`.
    pub after_start_us: Option<i64>,
}

/// The most windows one district series answer holds.
const DISTRICT_SERIES_MAX: usize = 20_000;

/// One metric's windows for every project of a district visible to the caller (a district token asking for another
/// district gets an empty list, like a district without data), in (project, device, start) order.
///
/// Paged: a `Link` header with `rel="next"` gives the next page's URL while more windows follow (a district's month
/// of noise windows is hundreds of thousands).
#[utoipa::path(get, path = "/v1/site/districts/{code}/series", tag = "site", params(("code" = String, Path, description = "District code"), DistrictSeriesQuery),
    responses((status = 200, description = "Windows of the district's visible projects", body = Vec<Object>,
               headers(("link" = String, description = "`<URL>; rel=\"next\"` while more windows follow"))),
              (status = 400, description = "Unknown metric, bad limit, or an incomplete `after_*` position", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn district_series(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    Query(q): Query<DistrictSeriesQuery>,
) -> Result<Response, ApiError> {
    let metric = q.metric.as_deref().unwrap_or("pm10");
    if !matches!(metric, "pm10" | "pm25" | "noise" | "wind") {
        return Err(ApiError::BadRequest(format!(
            "metric: 须为 pm10、pm25、noise 或 wind / unknown metric {metric:?}"
        )));
    }
    let limit = q.limit.unwrap_or(DISTRICT_SERIES_MAX);
    if !(1..=DISTRICT_SERIES_MAX).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit: {limit} is not between 1 and {DISTRICT_SERIES_MAX}")));
    }
    let after = match (q.after_project.as_deref(), q.after_device.as_deref(), q.after_start_us) {
        (None, None, None) => None,
        (Some(p), Some(d), Some(t)) => Some((p, d, t)),
        _ => {
            return Err(ApiError::BadRequest(
                "after_project, after_device and after_start_us go together (the last row of the previous page)".into(),
            ));
        }
    };
    let now = now_or(q.at.as_deref())?;
    let hours = q.hours.unwrap_or(24).clamp(1, 720);
    let since = micros(now) - i64::from(hours) * 3_600_000_000;
    let mut rows = state.read.site_district_series(&principal.scope(), &code, metric, since, after, limit).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = rows.last().filter(|_| more).map(|last| {
        let at = now.format(&Rfc3339).unwrap_or_default();
        format!(
            "/v1/site/districts/{}/series?metric={metric}&hours={hours}&at={}&limit={limit}&after_project={}\
             &after_device={}&after_start_us={}",
            encode_query_value(&code),
            encode_query_value(&at),
            encode_query_value(&last.project_id),
            encode_query_value(&last.device_id),
            last.window_start_us
        )
    });
    paged(rows, next)
}

/// Alarm filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SiteAlarmsQuery {
    /// Only this project.
    pub project: Option<String>,
    /// Only open episodes.
    pub open: Option<bool>,
    /// At most this many (default 100, at most 5000).
    pub limit: Option<u64>,
}

/// Derived site alarms visible to the caller, newest first, each with the event ids it rests on.
#[utoipa::path(get, path = "/v1/site/alarms", tag = "site", params(SiteAlarmsQuery),
    responses((status = 200, description = "Site alarms", body = Vec<Object>)), security(("bearer" = [])))]
pub async fn alarms(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<SiteAlarmsQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = state
        .read
        .site_alarms(&principal.scope(), q.project.as_deref(), q.open.unwrap_or(false), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(serde_json::to_value(rows).map_err(ApiError::internal)?))
}
