//! Dashboard pages of 监管协同 (nav "command"):
//!
//! | route | page |
//! |---|---|
//! | `GET /command` | 协同指挥 command view: per district, open tasks, overdue rectifications, 危大工程 lacking expert review or approval, report-number gaps, unreported unqualified results; overdue first |
//! | `GET /command/rectifications` | 整改通知: every notice, overdue first (`?open=1`) |
//! | `GET /command/testing` | 检测台账: reports, the 不合格项目台账, report-number gaps |
//! | `GET /command/hazards` | 危大工程: classification and what each lacks |
//! | `GET /command/bim` | BIM 进度节点 with deviation |
//! | `GET /command/tasks` | 协同任务 (`?open=1`) |
//!
//! Pages read through the viewer's scope and compute time-dependent states for the time of the request. They are
//! live over the feed: `static/supervision.js` follows `/v1/feed?kinds=inspection.,testing.,hazard.,bim.,task.`
//! and reloads the page a few seconds after new records arrive; a 60 s `<meta refresh>` covers the passing of
//! time (a deadline passing) when nothing arrives.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;
use siteledger_projections::supervision::{
    BimNodeRow, CommandDistrict, HazardRow, InspectionRow, RectificationFilter, RectificationRow, ReportGapRow,
    StopOrderRow, TaskRow, TestReportRow, UnqualifiedRow,
};
use time::OffsetDateTime;

use super::{Layout, PageResult, Viewer, html};
use crate::state::AppState;

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/command", get(command))
        .route("/command/rectifications", get(rectifications))
        .route("/command/testing", get(testing))
        .route("/command/hazards", get(hazards))
        .route("/command/bim", get(bim))
        .route("/command/tasks", get(tasks))
}

#[derive(Debug, Deserialize)]
struct OpenQuery {
    open: Option<String>,
}

impl OpenQuery {
    fn open_only(&self) -> bool {
        matches!(self.open.as_deref(), Some("1" | "true" | "on"))
    }
}

fn level_zh(level: &str) -> &'static str {
    match level {
        "minor" => "轻微",
        "general" => "一般",
        "serious" => "严重",
        _ => "—",
    }
}

fn task_status_zh(s: &str) -> &'static str {
    match s {
        "dispatched" => "待签收",
        "acknowledged" => "处置中",
        "resolved" => "已办结",
        "closed" => "已关闭",
        _ => "—",
    }
}

fn level_name(l: &str) -> &'static str {
    match l {
        "project" => "项目级",
        "district" => "区县级",
        "city" => "市级",
        _ => "—",
    }
}

fn category_zh(c: &str) -> &'static str {
    match c {
        "excavation" => "基坑工程",
        "formwork" => "模板工程及支撑体系",
        "lifting" => "起重吊装及安装拆卸",
        "scaffolding" => "脚手架工程",
        "demolition" => "拆除工程",
        "underground" => "暗挖工程",
        _ => "其它",
    }
}

/// The sub-navigation of the area.
struct Tab {
    href: &'static str,
    label: &'static str,
    active: bool,
}

fn tabs(active: &str) -> Vec<Tab> {
    [
        ("/command", "指挥视图"),
        ("/command/rectifications", "检查与整改"),
        ("/command/testing", "检测台账"),
        ("/command/hazards", "危大工程"),
        ("/command/bim", "BIM进度"),
        ("/command/tasks", "协同任务"),
    ]
    .into_iter()
    .map(|(href, label)| Tab { href, label, active: href == active })
    .collect()
}

fn now_text(now: OffsetDateTime) -> String {
    let t = siteledger_domain::time::in_shanghai(now);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

#[derive(Template)]
#[template(path = "supervision_command.html")]
struct CommandPage {
    layout: Layout,
    tabs: Vec<Tab>,
    now: String,
    districts: Vec<CommandDistrict>,
    tasks: Vec<TaskRow>,
    rectifications: Vec<RectificationRow>,
    hazards: Vec<HazardRow>,
    anomalies: Vec<HazardRow>,
    gaps: Vec<ReportGapRow>,
    unreported: Vec<UnqualifiedRow>,
    breached: usize,
}

async fn command(State(state): State<AppState>, v: Viewer) -> PageResult {
    let now = OffsetDateTime::now_utc();
    let view = state.read.command_view(&v.scope(), now).await.map_err(|e| v.internal(e))?;
    let page = CommandPage {
        layout: v.layout("协同指挥", "command"),
        tabs: tabs("/command"),
        now: now_text(now),
        breached: view.open_tasks.iter().filter(|t| t.breached).count(),
        districts: view.districts,
        tasks: view.open_tasks,
        rectifications: view.overdue_rectifications,
        hazards: view.missing_reviews,
        anomalies: view.monitoring_anomalies,
        gaps: view.report_gaps,
        unreported: view.unreported_unqualified,
    };
    Ok(html(&page))
}

#[derive(Template)]
#[template(path = "supervision_rectifications.html")]
struct RectificationsPage {
    layout: Layout,
    tabs: Vec<Tab>,
    now: String,
    open_only: bool,
    rows: Vec<RectificationRow>,
    inspections: Vec<InspectionRow>,
    stop_orders: Vec<StopOrderRow>,
}

async fn rectifications(State(state): State<AppState>, v: Viewer, Query(q): Query<OpenQuery>) -> PageResult {
    let now = OffsetDateTime::now_utc();
    let filter = RectificationFilter { open_only: q.open_only(), ..RectificationFilter::default() };
    let rows = state.read.rectifications(&v.scope(), &filter, now).await.map_err(|e| v.internal(e))?;
    let inspections = state.read.inspections(&v.scope(), None).await.map_err(|e| v.internal(e))?;
    let stop_orders = state.read.stop_orders(&v.scope()).await.map_err(|e| v.internal(e))?;
    let page = RectificationsPage {
        inspections: inspections.into_iter().take(200).collect(),
        stop_orders,
        layout: v.layout("整改通知", "command"),
        tabs: tabs("/command/rectifications"),
        now: now_text(now),
        open_only: q.open_only(),
        rows,
    };
    Ok(html(&page))
}

#[derive(Template)]
#[template(path = "supervision_testing.html")]
struct TestingPage {
    layout: Layout,
    tabs: Vec<Tab>,
    now: String,
    reports: Vec<TestReportRow>,
    unqualified: Vec<UnqualifiedRow>,
    gaps: Vec<ReportGapRow>,
}

async fn testing(State(state): State<AppState>, v: Viewer) -> PageResult {
    let now = OffsetDateTime::now_utc();
    let scope = v.scope();
    let reports = state.read.test_reports(&scope, None, false).await.map_err(|e| v.internal(e))?;
    let unqualified = state.read.unqualified_register(&scope, now).await.map_err(|e| v.internal(e))?;
    let gaps = state.read.report_gaps(&scope).await.map_err(|e| v.internal(e))?;
    let page = TestingPage {
        layout: v.layout("检测台账", "command"),
        tabs: tabs("/command/testing"),
        now: now_text(now),
        reports: reports.into_iter().take(300).collect(),
        unqualified,
        gaps,
    };
    Ok(html(&page))
}

#[derive(Template)]
#[template(path = "supervision_hazards.html")]
struct HazardsPage {
    layout: Layout,
    tabs: Vec<Tab>,
    rows: Vec<HazardRow>,
}

async fn hazards(State(state): State<AppState>, v: Viewer) -> PageResult {
    let rows = state.read.hazards(&v.scope(), None).await.map_err(|e| v.internal(e))?;
    Ok(html(&HazardsPage { layout: v.layout("危大工程", "command"), tabs: tabs("/command/hazards"), rows }))
}

#[derive(Template)]
#[template(path = "supervision_bim.html")]
struct BimPage {
    layout: Layout,
    tabs: Vec<Tab>,
    today: String,
    rows: Vec<BimNodeRow>,
}

async fn bim(State(state): State<AppState>, v: Viewer) -> PageResult {
    let today = siteledger_domain::time::shanghai_date(OffsetDateTime::now_utc());
    let local = siteledger_domain::LocalDate::try_from(today).map_err(|e| v.internal(e))?;
    let rows = state.read.bim_nodes(&v.scope(), None, local).await.map_err(|e| v.internal(e))?;
    Ok(html(&BimPage {
        layout: v.layout("BIM进度", "command"),
        tabs: tabs("/command/bim"),
        today: local.to_string(),
        rows,
    }))
}

#[derive(Template)]
#[template(path = "supervision_tasks.html")]
struct TasksPage {
    layout: Layout,
    tabs: Vec<Tab>,
    now: String,
    open_only: bool,
    rows: Vec<TaskRow>,
}

async fn tasks(State(state): State<AppState>, v: Viewer, Query(q): Query<OpenQuery>) -> PageResult {
    let now = OffsetDateTime::now_utc();
    let rows = state.read.tasks(&v.scope(), q.open_only(), now).await.map_err(|e| v.internal(e))?;
    let page = TasksPage {
        layout: v.layout("协同任务", "command"),
        tabs: tabs("/command/tasks"),
        now: now_text(now),
        open_only: q.open_only(),
        rows,
    };
    Ok(html(&page))
}

/// Chinese labels for codes, callable from every page's template as `self.…`.
trait Labels {
    fn level_zh(&self, s: &str) -> &'static str {
        level_zh(s)
    }
    fn task_status_zh(&self, s: &str) -> &'static str {
        task_status_zh(s)
    }
    fn level_name(&self, s: &str) -> &'static str {
        level_name(s)
    }
    fn category_zh(&self, s: &str) -> &'static str {
        category_zh(s)
    }
}

impl Labels for CommandPage {}
impl Labels for RectificationsPage {}
impl Labels for TestingPage {}
impl Labels for HazardsPage {}
impl Labels for BimPage {}
impl Labels for TasksPage {}
