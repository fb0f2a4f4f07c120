//! Dashboard pages of 设备监测 (扬尘噪声, 塔吊, 升降机, 用电用水, 视频监控).
//!
//! | route | page |
//! |---|---|
//! | `GET /site` | 设备监测总览: per district and per project, latest PM10/PM2.5/noise/wind, today's exceedances, cameras |
//! | `GET /site/districts/{code}` | a district's PM10 and noise windows over 24 h, one line per monitor, and its projects |
//! | `GET /site/projects/{id}` | a project's site page: charts with threshold lines, alarms, crane cycles, hoists, meters, cameras |
//!
//! Charts are inline SVG rendered here (no chart library, nothing to load); `static/site.js` follows the live
//! feed and re-renders the page's live part from the server when a site record arrives.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use siteledger_domain::LocalDate;
use siteledger_domain::site::alarms::{AlarmLevel, AlarmRule};
use siteledger_projections::Scope;
use siteledger_projections::site::{SiteAlarmRow, SiteOverviewRow, SiteProject, ThresholdsRow, WindowRow};
use time::OffsetDateTime;

use super::{Layout, PageResult, Viewer, format, html};
use crate::error::ApiError;
use crate::routes::site::{DistrictTotals, district_totals};
use crate::state::{AppState, Clock};

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/site", get(overview))
        .route("/site/districts/{code}", get(district))
        .route("/site/projects/{id}", get(project))
}

fn micros_to_local(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map(|t| {
            let l = siteledger_domain::time::in_shanghai(t);
            format!("{}-{:02}-{:02} {:02}:{:02}", l.year(), u8::from(l.month()), l.day(), l.hour(), l.minute())
        })
        .unwrap_or_default()
}

#[derive(Debug)]
struct AlarmLine {
    project_id: String,
    rule: String,
    device: String,
    level: &'static str,
    level_class: &'static str,
    message: String,
    at: String,
    open: bool,
    cited: Vec<String>,
    samples: i64,
}

fn alarm_line(a: &SiteAlarmRow) -> AlarmLine {
    AlarmLine {
        project_id: a.project_id.clone(),
        rule: AlarmRule::label_of(&a.rule),
        device: a.device_id.clone(),
        level: format::alarm_level(&a.level),
        level_class: if AlarmLevel::parse(&a.level) == Some(AlarmLevel::Violation) { "bad" } else { "warn" },
        message: a.message.clone(),
        at: micros_to_local(a.at_us),
        open: a.is_open(),
        cited: a.cited().into_iter().take(3).collect(),
        samples: a.samples,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// /site

#[derive(Template)]
#[template(path = "site_overview.html")]
struct OverviewPage<'a> {
    layout: Layout,
    day: &'a str,
    districts: &'a [(DistrictTotals, String)],
    /// Projects with site data in the viewer's scope (the list shows at most [`SITE_OVERVIEW_PROJECTS`]).
    total_projects: usize,
    /// Projects whose latest values are being recomputed ([`siteledger_projections::site::SiteOverview::pending`]).
    pending: usize,
    projects: &'a [SiteOverviewRow],
    /// Names of the projects in `alarms`.
    names: &'a BTreeMap<String, String>,
    alarms: &'a [AlarmLine],
}

/// What `/site` shows of a scope on a day, computed once for the viewers who ask meanwhile (`crate::answers`).
#[derive(Debug)]
struct Overview {
    day: String,
    districts: Vec<(DistrictTotals, String)>,
    total_projects: usize,
    pending: usize,
    projects: Vec<SiteOverviewRow>,
    names: BTreeMap<String, String>,
    alarms: Vec<AlarmLine>,
}

fn today() -> LocalDate {
    LocalDate::try_from(siteledger_domain::time::shanghai_date(OffsetDateTime::now_utc())).unwrap_or(LocalDate::MIN)
}

/// Projects listed on `/site`: those with the most open alarms, then the most alarms today. The page refreshes
/// itself while site records arrive (`site.js`), so it stays this size whatever the city's; every project is listed
/// on its district's page.
const SITE_OVERVIEW_PROJECTS: usize = 50;

async fn overview_of(state: &AppState, scope: &Scope, day: String) -> Result<Overview, ApiError> {
    let overview = state.read.site_overview(scope, &day, None).await?;
    let pending = overview.pending;
    let mut projects = overview.rows;
    let total_projects = projects.len();
    let alarms: Vec<AlarmLine> = state.read.site_alarms(scope, None, false, 30).await?.iter().map(alarm_line).collect();
    let districts = district_totals(&projects)
        .into_iter()
        .map(|t| {
            let name = siteledger_domain::DistrictCode::parse(&t.district)
                .ok()
                .and_then(|d| d.fixed_name())
                .unwrap_or("开发园区")
                .to_owned();
            (t, name)
        })
        .collect();
    let cited: std::collections::HashSet<&str> = alarms.iter().map(|a| a.project_id.as_str()).collect();
    let names = projects
        .iter()
        .filter(|p| cited.contains(p.project_id.as_str()))
        .map(|p| (p.project_id.clone(), p.name.clone()))
        .collect();
    projects.sort_by(|a, b| {
        (b.open_alarms, b.alarms_today)
            .cmp(&(a.open_alarms, a.alarms_today))
            .then_with(|| a.project_id.cmp(&b.project_id))
    });
    projects.truncate(SITE_OVERVIEW_PROJECTS);
    for p in &mut projects {
        p.latest_at = p.latest_at.as_deref().map(format::time);
    }
    Ok(Overview { day, districts, total_projects, pending, projects, names, alarms })
}

async fn overview(State(state): State<AppState>, v: Viewer) -> PageResult {
    let scope = v.scope();
    let day = today().to_string();
    let o = state
        .shared(format!("/site|{scope:?}|{day}"), Clock::No, || overview_of(&state, &scope, day.clone()))
        .await
        .map_err(|e| v.internal(e))?;
    let page = OverviewPage {
        layout: v.layout("设备监测", "site"),
        day: &o.day,
        districts: &o.districts,
        total_projects: o.total_projects,
        pending: o.pending,
        projects: &o.projects,
        names: &o.names,
        alarms: &o.alarms,
    };
    Ok(html(&page))
}

// ---------------------------------------------------------------------------------------------------------------
// /site/districts/{code}

#[derive(Template)]
#[template(path = "site_district.html")]
struct DistrictPage<'a> {
    layout: Layout,
    code: &'a str,
    name: &'a str,
    charts: &'a [Chart],
    /// Projects whose latest values are being recomputed.
    pending: usize,
    projects: &'a [SiteOverviewRow],
}

/// What a district's page shows of a scope, computed once for the viewers who ask within the same second and
/// read-model position (`crate::answers`: its charts end now).
#[derive(Debug)]
struct DistrictView {
    name: String,
    charts: Vec<Chart>,
    pending: usize,
    projects: Vec<SiteOverviewRow>,
}

async fn district(State(state): State<AppState>, v: Viewer, Path(code): Path<String>) -> PageResult {
    let scope = v.scope();
    let day = today().to_string();
    let d = state
        .shared(format!("/site/districts|{scope:?}|{code}|{day}"), Clock::Second, || {
            district_of(&state, &scope, &code, day.clone())
        })
        .await
        .map_err(|e| v.internal(e))?;
    if d.projects.is_empty() {
        return Err(
            v.not_found(format!("区域 {code} 没有您可查看的设备数据。No site data of district {code} in your scope."))
        );
    }
    let page = DistrictPage {
        layout: v.layout(format!("{} · 设备监测", d.name), "site"),
        code: &code,
        name: &d.name,
        charts: &d.charts,
        pending: d.pending,
        projects: &d.projects,
    };
    Ok(html(&page))
}

/// Monitors drawn per chart on a district's page.
const CHART_MONITORS: usize = 12;

async fn district_of(state: &AppState, scope: &Scope, code: &str, day: String) -> Result<DistrictView, ApiError> {
    let overview = state.read.site_overview(scope, &day, Some(code)).await?;
    let pending = overview.pending;
    let mut projects = overview.rows;
    if projects.is_empty() {
        return Ok(DistrictView { name: String::new(), charts: Vec::new(), pending, projects });
    }
    for p in &mut projects {
        p.latest_at = p.latest_at.as_deref().map(format::time);
    }
    let now = OffsetDateTime::now_utc();
    let to_us = i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(0);
    let day_ago = to_us - 24 * 3_600_000_000;
    let mut charts = Vec::new();
    for (metric, title) in [("pm10", "PM10 小时均值 hourly mean"), ("noise", "噪声 Leq（20 分钟）noise Leq")]
    {
        // The monitors drawn: the CHART_MONITORS with the highest window of the period, ranked by the read
        // database (a district has hundreds; a line each made pages of megabytes that nobody can read). Every
        // monitor's windows stay available from `GET /v1/site/districts/{code}/series`.
        let (drawn, monitors) =
            state.read.site_district_top_monitors(scope, code, metric, day_ago, CHART_MONITORS).await?;
        if monitors == 0 {
            continue;
        }
        let mut rows = Vec::new();
        for (project, device) in &drawn {
            rows.extend(state.read.site_monitor_series(scope, project, device, metric, day_ago).await?);
        }
        // One line per monitor: device ids repeat across projects (HJ-01), so label them with the project.
        for r in &mut rows {
            r.device_id = format!("{} {}", r.project_id, r.device_id);
        }
        let first = rows.iter().map(|w| w.window_start_us).min().unwrap_or(day_ago);
        let from_us = (first - 3_600_000_000).max(day_ago);
        // The thresholds each window was judged by, as recorded (they may differ per project's policy), once per
        // window and value.
        let mut limit: Vec<(i64, i64, f64)> = rows
            .iter()
            .filter_map(|w| {
                let v = w.limit_value.as_deref()?.parse::<f64>().ok()?;
                Some((w.window_start_us, w.window_start_us + w.window_min * 60_000_000, v))
            })
            .collect();
        limit.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| a.2.total_cmp(&b.2)));
        limit.dedup();
        let refs: Vec<&WindowRow> = rows.iter().collect();
        let unit = metric_label(metric).1;
        let note = if monitors > CHART_MONITORS {
            format!(
                "最高的 {CHART_MONITORS} 个监测点（共 {monitors} 个）· the {CHART_MONITORS} monitors with the highest \
                 windows of {monitors}"
            )
        } else {
            format!("{monitors} 个监测点 monitors")
        };
        charts.push(Chart { title, svg: svg_chart(&refs, from_us, to_us, unit, &[("limit", limit)]), note });
    }
    let name =
        siteledger_domain::DistrictCode::parse(code).ok().and_then(|d| d.fixed_name()).unwrap_or("开发园区").to_owned();
    Ok(DistrictView { name, charts, pending, projects })
}

// ---------------------------------------------------------------------------------------------------------------
// /site/projects/{id}

#[derive(Template)]
#[template(path = "site_project.html")]
struct ProjectPage {
    layout: Layout,
    p: SiteProject,
    charts: Vec<Chart>,
    alarms: Vec<AlarmLine>,
    gap_count: usize,
    camera_rate: String,
    /// Per camera id, its online share over the last 7 and 30 days (today included), as `12.3%` or `—`.
    camera_periods: BTreeMap<String, [String; 2]>,
    latest: Vec<LatestLine>,
    devices: Vec<DeviceLine>,
}

impl ProjectPage {
    /// A camera's share over the last 7 (`i = 0`) or 30 (`i = 1`) days.
    fn camera_period(&self, device_id: &str, i: usize) -> &str {
        self.camera_periods.get(device_id).map_or("—", |p| p[i].as_str())
    }
}

/// Each camera's online share over the last 7 and 30 days (today up to `now` included), from the day rows of
/// `GET /v1/site/projects/{id}/cameras/days` (`domain::site::uptime`): Σ online / Σ known over the days, so a day
/// the camera's reports do not cover weighs nothing. The star rating's video evidence (policy version 2 on) uses the
/// same measure per day.
fn camera_periods(
    rows: &[siteledger_projections::site::CameraDayRow],
    today: LocalDate,
) -> BTreeMap<String, [String; 2]> {
    let week_start = today.date().checked_sub(time::Duration::days(6)).map(|d| d.to_string()).unwrap_or_default();
    let mut sums: BTreeMap<&str, [(i64, i64); 2]> = BTreeMap::new();
    for r in rows {
        let e = sums.entry(r.device_id.as_str()).or_default();
        e[1].0 += r.online_s;
        e[1].1 += r.known_s;
        if r.day >= week_start {
            e[0].0 += r.online_s;
            e[0].1 += r.known_s;
        }
    }
    let show = |(on, known): (i64, i64)| {
        siteledger_domain::site::uptime::share_permille(on, known)
            .map_or_else(|| "—".to_owned(), |m| format!("{}.{}%", m / 10, m % 10))
    };
    sums.into_iter().map(|(d, [w, m])| (d.to_owned(), [show(w), show(m)])).collect()
}

#[derive(Debug)]
struct LatestLine {
    device: String,
    metric: &'static str,
    value: String,
    at: String,
    flag: String,
}

#[derive(Debug)]
struct DeviceLine {
    device: String,
    family: &'static str,
    summary: String,
    operator: String,
}

#[derive(Debug)]
struct Chart {
    title: &'static str,
    svg: String,
    note: String,
}

fn metric_label(m: &str) -> (&'static str, &'static str) {
    match m {
        "pm10" => ("PM10", "µg/m³"),
        "pm25" => ("PM2.5", "µg/m³"),
        "noise" => ("噪声", "dB(A)"),
        "wind" => ("风速", "m/s"),
        "tsp" => ("TSP", "µg/m³"),
        "temperature" => ("温度", "°C"),
        "humidity" => ("湿度", "%"),
        _ => ("其他", ""),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A threshold line: CSS class (`limit` red, `warn` amber) and its steps `(from µs, to µs, value)`.
type Threshold = (&'static str, Vec<(i64, i64, f64)>);

/// An inline SVG line chart of one metric's windows (one line per device, a dot per window at its start) with
/// threshold step lines across the whole span (noise: the day and night limits alternate). Windows outside the
/// normal band are marked red or amber.
fn svg_chart(windows: &[&WindowRow], from_us: i64, to_us: i64, unit: &str, thresholds: &[Threshold]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const L: f64 = 44.0;
    const R: f64 = 12.0;
    const T: f64 = 18.0;
    const B: f64 = 24.0;
    let num = |s: &str| s.parse::<f64>().ok();
    let mut ymax: f64 = 1.0;
    for (_, steps) in thresholds {
        for (_, _, v) in steps {
            ymax = ymax.max(*v);
        }
    }
    for w in windows {
        for v in [num(&w.value), w.limit_value.as_deref().and_then(num), w.warn_value.as_deref().and_then(num)]
            .into_iter()
            .flatten()
        {
            ymax = ymax.max(v);
        }
    }
    let ymax = (ymax * 1.15).ceil();
    #[expect(clippy::cast_precision_loss, reason = "µs spans of days fit a chart's precision")]
    let span = (to_us - from_us).max(1) as f64;
    #[expect(clippy::cast_precision_loss, reason = "µs spans of days fit a chart's precision")]
    let x = |us: i64| L + (W - L - R) * ((us - from_us) as f64 / span).clamp(0.0, 1.0);
    let y = |v: f64| T + (H - T - B) * (1.0 - (v / ymax).clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="site-chart" viewBox="0 0 {W} {H}" role="img" xmlns="http://www.w3.org/2000/svg"><g class="axis">"#
    );
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r#"<line x1="{L}" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="gridline"/><text x="{:.1}" y="{:.1}" class="tick">{v:.0}</text>"#,
            W - R,
            y(v),
            y(v),
            L - 4.0,
            y(v) + 4.0
        );
    }
    for i in 0..=4 {
        let us = from_us + (to_us - from_us) * i / 4;
        let label = micros_to_local(us);
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="tick x">{}</text>"#,
            x(us),
            H - 6.0,
            esc(label.get(11..).unwrap_or(&label))
        );
    }
    let _ = write!(s, r#"<text x="4" y="10" class="tick unit">{}</text></g>"#, esc(unit));
    for (class, steps) in thresholds {
        let mut d = String::new();
        for (a, b, v) in steps {
            let _ = write!(d, "M{:.1},{:.1}H{:.1}", x(*a), y(*v), x(*b));
        }
        if !d.is_empty() {
            let _ = write!(s, r#"<path class="threshold {class}" d="{d}"/>"#);
        }
    }
    let mut by_device: BTreeMap<&str, Vec<&WindowRow>> = BTreeMap::new();
    for w in windows {
        by_device.entry(w.device_id.as_str()).or_default().push(w);
    }
    for (i, (device, ws)) in by_device.iter().enumerate() {
        let pts: Vec<String> = ws
            .iter()
            .filter_map(|w| num(&w.value).map(|v| format!("{:.1},{:.1}", x(w.window_start_us), y(v))))
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="series s{}" points="{}"><title>{}</title></polyline>"#,
            i % 4,
            pts.join(" "),
            esc(device)
        );
        for p in &pts {
            if let Some((cx, cy)) = p.split_once(',') {
                let _ = write!(s, r#"<circle class="pt s{}" cx="{cx}" cy="{cy}" r="2"/>"#, i % 4);
            }
        }
        for w in ws.iter().filter(|w| w.band != "normal") {
            if let Some(v) = num(&w.value) {
                let _ = write!(
                    s,
                    r#"<circle class="hit {}" cx="{:.1}" cy="{:.1}" r="3.5"><title>{} {} {}</title></circle>"#,
                    esc(&w.band),
                    x(w.window_start_us),
                    y(v),
                    esc(device),
                    micros_to_local(w.window_start_us),
                    esc(&w.value)
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// The day and night limits as steps across `[from_us, to_us)`, switching at the night's start and end.
fn noise_steps(t: &ThresholdsRow, from_us: i64, to_us: i64) -> Vec<(i64, i64, f64)> {
    let (Ok(day), Ok(night)) = (t.noise_day.parse::<f64>(), t.noise_night.parse::<f64>()) else { return Vec::new() };
    let minute = |s: &str| -> Option<i64> {
        let (h, m) = s.split_once(':')?;
        Some(h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
    };
    let Some((start, end)) = t.night.split_once('–').and_then(|(a, b)| Some((minute(a)?, minute(b)?))) else {
        return Vec::new();
    };
    let is_night = |m: i64| if start <= end { (start..end).contains(&m) } else { m >= start || m < end };
    // Walk in 10-minute steps (night bounds are whole minutes; 10 is fine for a 24 h chart of 720 px).
    const STEP: i64 = 600_000_000;
    let offset = 8 * 3_600_000_000_i64;
    let mut out: Vec<(i64, i64, f64)> = Vec::new();
    let mut t0 = from_us;
    while t0 < to_us {
        let t1 = (t0 + STEP).min(to_us);
        let m = ((t0 + offset).rem_euclid(86_400_000_000)) / 60_000_000;
        let v = if is_night(m) { night } else { day };
        match out.last_mut() {
            Some(last) if (last.2 - v).abs() < f64::EPSILON => last.1 = t1,
            _ => out.push((t0, t1, v)),
        }
        t0 = t1;
    }
    out
}

fn charts(p: &SiteProject, from_us: i64, to_us: i64) -> Vec<Chart> {
    let t = &p.thresholds;
    let flat = |class: &'static str, v: &str| -> Option<Threshold> {
        v.parse::<f64>().ok().map(|v| (class, vec![(from_us, to_us, v)]))
    };
    let mut out = Vec::new();
    for (metric, title, note, lines) in [
        (
            "pm10",
            "PM10 小时均值 hourly mean",
            format!(
                "预警 > {} · 超标 > {} µg/m³{}（{}）",
                t.pm10_warn,
                t.pm10_alarm,
                if t.pm10_placeholder { "，占位阈值 placeholder" } else { "" },
                t.env_policy
            ),
            [flat("warn", &t.pm10_warn), flat("limit", &t.pm10_alarm)].into_iter().flatten().collect::<Vec<_>>(),
        ),
        ("pm25", "PM2.5 小时均值 hourly mean", String::new(), Vec::new()),
        (
            "noise",
            "噪声 Leq（20 分钟）noise Leq",
            format!("昼间 {} · 夜间 {} dB(A)，夜间 {}（GB 12523-2011）", t.noise_day, t.noise_night, t.night),
            vec![("limit", noise_steps(t, from_us, to_us))],
        ),
        (
            "wind",
            "风速 小时均值 wind",
            format!("塔吊停机 ≥ {} m/s", t.wind_stop),
            flat("limit", &t.wind_stop).into_iter().collect(),
        ),
    ] {
        let ws: Vec<&WindowRow> = p.windows.iter().filter(|w| w.metric == metric).collect();
        if ws.is_empty() {
            continue;
        }
        let unit = metric_label(metric).1;
        out.push(Chart { title, svg: svg_chart(&ws, from_us, to_us, unit, &lines), note });
    }
    out
}

fn family_label(f: &str) -> &'static str {
    match f {
        "crane" => "塔式起重机",
        "hoist" => "施工升降机",
        "env" => "扬尘噪声监测仪",
        _ => "设备",
    }
}

fn device_summary(family: &str, latest: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(latest).unwrap_or_default();
    let g = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("—").to_owned();
    match family {
        "crane" => format!(
            "起重量 {} t · 力矩 {}% · 幅度 {} m · 高度 {} m · 风速 {} m/s · 倾角 {}°",
            g("load_t"),
            g("moment_pct"),
            g("radius_m"),
            g("height_m"),
            g("wind_m_s"),
            g("tilt_deg")
        ),
        "hoist" => format!(
            "载重 {} kg（{}%）· {} 人 · 高度 {} m · 速度 {} m/s · 风速 {} m/s",
            g("load_kg"),
            g("load_pct"),
            v.get("people").and_then(serde_json::Value::as_u64).unwrap_or(0),
            g("height_m"),
            g("speed_m_s"),
            g("wind_m_s")
        ),
        _ => format!("CN {}", g("cn")),
    }
}

async fn project(State(state): State<AppState>, v: Viewer, Path(id): Path<String>) -> PageResult {
    let now = OffsetDateTime::now_utc();
    let to_us = i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(0);
    let day_ago = to_us - 24 * 3_600_000_000;
    let p = state
        .read
        .site_project(&v.scope(), &id, day_ago, now, today())
        .await
        .map_err(|e| v.internal(e))?
        .ok_or_else(|| v.not_found(format!("没有项目 {id}，或您无权查看。No project {id} in your scope.")))?;
    let today = today();
    let month_start =
        today.date().checked_sub(time::Duration::days(29)).and_then(|d| LocalDate::try_from(d).ok()).unwrap_or(today);
    let camera_days = if p.cameras.is_empty() {
        Vec::new()
    } else {
        state
            .read
            .site_camera_days(&v.scope(), &id, month_start, today, now)
            .await
            .map_err(|e| v.internal(e))?
            .unwrap_or_default()
    };
    // The charts span the last 24 h, or less when the data is younger (an hour before the first window).
    let first = p.windows.iter().map(|w| w.window_start_us).min().unwrap_or(day_ago);
    let from_us = (first - 3_600_000_000).max(day_ago);
    let page = ProjectPage {
        layout: v.layout(format!("{} · 设备监测", p.name), "site"),
        charts: charts(&p, from_us, to_us),
        alarms: p.alarms.iter().map(alarm_line).collect(),
        gap_count: p.gaps.len(),
        camera_rate: p.camera_online_permille.map_or_else(|| "—".to_owned(), |m| format!("{}.{}%", m / 10, m % 10)),
        camera_periods: camera_periods(&camera_days, today),
        latest: p
            .latest
            .iter()
            .map(|l| {
                let (label, unit) = metric_label(&l.metric);
                LatestLine {
                    device: l.device_id.clone(),
                    metric: label,
                    value: format!("{} {unit}", l.value),
                    at: format::time(&l.at),
                    flag: l.flag.clone().unwrap_or_default(),
                }
            })
            .collect(),
        devices: p
            .devices
            .iter()
            .filter(|d| d.family != "env")
            .map(|d| DeviceLine {
                device: d.device_id.clone(),
                family: family_label(&d.family),
                summary: device_summary(&d.family, &d.latest),
                operator: match (&d.operator_ref, &d.cert_valid_until) {
                    (Some(o), Some(u)) => format!("{o}（证书至 {u}）"),
                    _ => "未登录 not logged in".to_owned(),
                },
            })
            .collect(),
        p,
    };
    Ok(html(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds() -> ThresholdsRow {
        ThresholdsRow {
            env_policy: "default".into(),
            noise_day: "70".into(),
            noise_night: "55".into(),
            night: "22:00–06:00".into(),
            leq_window_min: 20,
            pm10_warn: "150".into(),
            pm10_alarm: "200".into(),
            pm_window_min: 60,
            pm10_placeholder: true,
            crane_policy: "default".into(),
            moment_warn: "90".into(),
            moment_violation: "100".into(),
            wind_stop: "12".into(),
            leakage: "30".into(),
        }
    }

    #[test]
    fn alarm_lines_name_each_rule_by_its_domain_label() {
        let row = |rule: &str, level: &str| SiteAlarmRow {
            alarm_key: format!("P:{rule}:D@1"),
            project_id: "P".into(),
            district: "330212".into(),
            device_id: "D".into(),
            rule: rule.into(),
            level: level.into(),
            message: "m".into(),
            value: None,
            threshold: None,
            at_us: 0,
            day: "1970-01-01".into(),
            open: 1,
            cleared_us: None,
            cleared_event_id: None,
            samples: 1,
            event_ids: "[]".into(),
        };
        for (rule, level, label, class) in [
            (AlarmRule::EnvNoise.code(), "violation", "噪声超标", "bad"),
            (AlarmRule::HoistDropTest.code(), "violation", "坠落试验逾期", "bad"),
            (AlarmRule::CraneDevice(71).code(), "warning", "黑匣子报警 71", "warn"),
            (AlarmRule::VideoAlarm { method: 5, alarm_type: 2 }.code(), "warning", "视频报警", "warn"),
            ("not_a_rule".to_owned(), "violation", "not_a_rule", "bad"),
        ] {
            let line = alarm_line(&row(&rule, level));
            assert_eq!((line.rule.as_str(), line.level_class), (label, class), "{rule}");
        }
    }

    #[test]
    fn noise_threshold_steps_switch_at_22_and_06_beijing_time() {
        // 2026-03-01 21:00 +08:00 = 13:00Z
        let from = 1_772_370_000_000_000_i64;
        let to = from + 24 * 3_600_000_000;
        let h = 3_600_000_000_i64;
        let steps = noise_steps(&thresholds(), from, to);
        assert_eq!(steps, vec![(from, from + h, 70.0), (from + h, from + 9 * h, 55.0), (from + 9 * h, to, 70.0)]);
    }

    #[test]
    fn chart_draws_threshold_lines_and_marks_exceedances() {
        let w = |start: i64, value: &str, band: &str| WindowRow {
            project_id: "NB-2026-0001".into(),
            device_id: "HJ-<1>".into(),
            metric: "noise".into(),
            window_start_us: start,
            window_min: 20,
            value: value.into(),
            readings: 1,
            band: band.into(),
            limit_value: Some("55".into()),
            warn_value: None,
            night: 1,
            policy: "default".into(),
            resolution: "window".into(),
            min_value: None,
            max_value: None,
            exceed_min: None,
            warn_min: None,
        };
        let from = 1_772_370_000_000_000_i64;
        let rows = [w(from + 3_600_000_000, "55.0", "normal"), w(from + 4_800_000_000, "55.1", "violation")];
        let refs: Vec<&WindowRow> = rows.iter().collect();
        let svg = svg_chart(
            &refs,
            from,
            from + 86_400_000_000,
            "dB(A)",
            &[("limit", noise_steps(&thresholds(), from, from + 86_400_000_000))],
        );
        assert_eq!(svg.matches("threshold limit").count(), 1);
        assert_eq!(svg.matches("class=\"hit violation\"").count(), 1);
        assert_eq!(svg.matches("class=\"pt s0\"").count(), 2, "a dot per window");
        assert!(svg.contains("HJ-&lt;1&gt;") && !svg.contains("HJ-<1>"), "device ids are escaped");
    }

    #[test]
    fn camera_periods_sum_online_over_known_time_of_the_last_7_and_30_days() {
        let today = LocalDate::parse("2026-03-30").expect("date");
        let row = |device: &str, day: &str, online_s: i64, known_s: i64| siteledger_projections::site::CameraDayRow {
            device_id: device.into(),
            day: day.into(),
            online_s,
            known_s,
            online_permille: siteledger_domain::site::uptime::share_permille(online_s, known_s),
        };
        let rows = [
            row("A", "2026-03-10", 86_400, 86_400), // in the 30 days only
            row("A", "2026-03-24", 0, 86_400),      // the first of the 7 days: offline, reporting
            row("A", "2026-03-30", 43_200, 43_200), // today so far
            row("B", "2026-03-23", 86_400, 86_400), // 8 days ago: not in the 7
        ];
        let p = camera_periods(&rows, today);
        assert_eq!(p["A"], ["33.3%".to_owned(), "60.0%".to_owned()]);
        assert_eq!(p["B"], ["—".to_owned(), "100.0%".to_owned()]);
        assert!(!p.contains_key("C"), "a camera without day rows shows —");
    }
}
