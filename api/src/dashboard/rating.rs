//! Dashboard pages of 星级评定、信用评价与年度督查 (ratings, credit, reports, replay).
//!
//! | route | page |
//! |---|---|
//! | `GET /ratings` | every visible project's required and achieved level (latest issued decision), the districts' three-star quota, the credit ranking and the signed annual reports |
//! | `GET /ratings/projects/{id}` | a project's rating history and days with data per application; links to the recomputation and the replay |
//! | `GET /ratings/credit/{code}` | an enterprise's credit records, each linked to the record behind it |
//!
//! Issued decisions and days with data come from the read models (they are what was signed); the credit
//! ranking is computed from the log at its current size (cached for a minute per event store; each
//! recomputation resumes from the rating fold's newest snapshot and folds only the records after it), as the API does,
//! and cut to the viewer's scope the same way (`ratings::ScopedScore`): whole scores and grades, the records of
//! projects the viewer may see, the others only counted and summed (docs/ACCESS.md).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use siteledger_domain::ids::{CreditCode, ProjectId};
use siteledger_domain::rating::CreditScore;
use siteledger_projections::Scope;

use super::{PageResult, Viewer, format, html};
use crate::error::ApiError;
use crate::ratings::{self, LogPrefix};
use crate::state::{AppState, Clock};

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ratings", get(ratings_page))
        .route("/ratings/projects/{id}", get(project_page))
        .route("/ratings/credit/{code}", get(credit_page))
}

fn stars(level: Option<u64>) -> String {
    match level {
        None => "—".into(),
        Some(0) => "未达星级".into(),
        Some(n) => "★".repeat(usize::try_from(n).unwrap_or(0)),
    }
}

#[derive(Debug)]
struct RatingLine {
    /// Listing order: below the requirement (0), not rated (1), the others (2).
    order: u8,
    id: String,
    name: String,
    district: String,
    start_date: String,
    required: String,
    achieved: String,
    status: &'static str,
    status_class: &'static str,
    issued: String,
    event_id: String,
    policy: String,
}

#[derive(Debug)]
struct QuotaLine {
    code: String,
    name: String,
    new_starts: u64,
    three_star: u64,
    needed: u64,
    met: bool,
}

#[derive(Debug)]
struct CreditLine {
    rank: usize,
    code: String,
    name: String,
    score: i64,
    grade: String,
    records: usize,
}

#[derive(Debug)]
struct ReportLine {
    year: i64,
    scope: String,
    district_q: String,
    tree_size: i64,
    policy: i64,
    content: String,
    event_id: String,
    occurred_at: String,
}

#[derive(Template)]
#[template(path = "rating_list.html")]
struct RatingsPage<'a> {
    layout: super::Layout,
    year: i32,
    lines: &'a [RatingLine],
    /// Projects the list would hold unbounded (it lists at most [`PAGE_RATINGS`] unless a district is asked).
    total_lines: usize,
    /// The district asked (`?district=`), empty for all.
    district: &'a str,
    /// Enterprises ranked (the list shows at most [`PAGE_CREDIT`]).
    credit_total: usize,
    rated: usize,
    met: usize,
    below: usize,
    quotas: &'a [QuotaLine],
    credit: &'a [CreditLine],
    credit_note: &'a str,
    reports: &'a [ReportLine],
    head: u64,
}

/// What `/ratings` shows of a scope (and district) on a day, computed once for the viewers who ask at the same
/// read-model position (`crate::answers`). Its credit lines are the shared credit scores of the moment it was
/// computed (recomputed when a minute old, [`credit_scores`]): the next record folded brings the newer ones.
#[derive(Debug)]
struct RatingsView {
    year: i32,
    lines: Vec<RatingLine>,
    total_lines: usize,
    district: String,
    credit_total: usize,
    rated: usize,
    met: usize,
    below: usize,
    quotas: Vec<QuotaLine>,
    credit: Vec<CreditLine>,
    credit_note: String,
    reports: Vec<ReportLine>,
}

/// Credit scores at a tree size, with every enterprise's projects (who may see a score depends on them).
#[derive(Debug, Clone)]
struct Credit {
    size: u64,
    version: u32,
    scores: Vec<CreditScore>,
    projects: BTreeMap<String, Vec<ProjectId>>,
}

impl Credit {
    fn visible(&self, state: &AppState, scope: &Scope, code: &CreditCode) -> bool {
        let projects = self.projects.get(code.as_str()).into_iter().flatten();
        ratings::enterprise_visible(&state.access, scope, code, projects)
    }
}

/// Scores computed at a tree size, reused for a minute (a page load must not fold the whole log every time), per
/// event store: one process may serve several (tests do), and one's scores must never answer for another.
type CreditCache = BTreeMap<String, (Instant, Arc<Credit>)>;
static CREDIT_CACHE: Mutex<CreditCache> = Mutex::new(BTreeMap::new());

/// One recomputation at a time: when the scores are a minute old, the request that takes this recomputes them
/// while the others answer with the old ones (fifty clients arriving together must not each fold the log).
static CREDIT_REFRESH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The cached scores of `key` and their age.
fn cached_credit(key: &str) -> Option<(Duration, Arc<Credit>)> {
    let cache = CREDIT_CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.get(key).map(|(at, credit)| (at.elapsed(), Arc::clone(credit)))
}

async fn credit_scores(state: &AppState) -> Result<Option<Arc<Credit>>, ratings::RatingError> {
    const FRESH: Duration = Duration::from_secs(60);
    let key = state.config.store_url();
    let cached = cached_credit(&key);
    if let Some((age, credit)) = &cached
        && *age < FRESH
    {
        return Ok(Some(Arc::clone(credit)));
    }
    let _refreshing = match (CREDIT_REFRESH.try_lock(), cached) {
        (Ok(guard), _) => guard,
        // Another request is recomputing: the scores it replaces are what this one shows.
        (Err(_), Some((_, credit))) => return Ok(Some(credit)),
        (Err(_), None) => CREDIT_REFRESH.lock().await,
    };
    // Recomputed while this request waited?
    if let Some((age, credit)) = cached_credit(&key)
        && age < FRESH
    {
        return Ok(Some(credit));
    }
    let store = state.ledger.store();
    let size = state.ledger.head();
    let Some(version) = ratings::latest_rules_version(store, size).await? else { return Ok(None) };
    // Resumed from the newest fold snapshot: a recomputation folds the records since the last one, not the log.
    let prefix = LogPrefix::load_with(store, Some(&state.read), size, Some(version)).await?;
    let rules = ratings::credit_rules_at(store, size, version).await?;
    let scores = ratings::credit_scores(&prefix, &rules, ratings::today_shanghai());
    let reg = &prefix.fold.registry;
    let projects = reg
        .enterprises()
        .map(|e| {
            let ids = reg.projects_of_enterprise(&e.credit_code).map(|p| p.project_id.clone()).collect();
            (e.credit_code.as_str().to_owned(), ids)
        })
        .collect();
    let credit = Arc::new(Credit { size, version, scores, projects });
    let mut cache = CREDIT_CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.insert(key, (Instant::now(), Arc::clone(&credit)));
    Ok(Some(credit))
}

/// Projects listed on `/ratings` (those below their requirement first, then those not rated): the counts and
/// quotas above the list cover every project; `?district=` lists all of one district's.
const PAGE_RATINGS: usize = 200;

/// Enterprises listed in the credit ranking (the highest; each enterprise's page has its score).
const PAGE_CREDIT: usize = 100;

#[derive(Debug, serde::Deserialize)]
struct RatingsQuery {
    district: Option<String>,
}

async fn ratings_page(State(state): State<AppState>, v: Viewer, Query(q): Query<RatingsQuery>) -> PageResult {
    let scope = v.scope();
    let only_district = q.district.filter(|d| !d.is_empty());
    let r = state
        .shared(format!("/ratings|{scope:?}|{only_district:?}|{}", ratings::today_shanghai()), Clock::No, || {
            ratings_view(&state, &scope, only_district.clone())
        })
        .await
        .map_err(|e| v.internal(e))?;
    let page = RatingsPage {
        layout: v.layout("星级与信用", "ratings"),
        year: r.year,
        rated: r.rated,
        met: r.met,
        below: r.below,
        total_lines: r.total_lines,
        district: &r.district,
        lines: &r.lines,
        credit_total: r.credit_total,
        quotas: &r.quotas,
        credit: &r.credit,
        credit_note: &r.credit_note,
        reports: &r.reports,
        head: state.ledger.head(),
    };
    Ok(html(&page))
}

async fn ratings_view(state: &AppState, scope: &Scope, only_district: Option<String>) -> Result<RatingsView, ApiError> {
    let year = ratings::today_shanghai().date().year();
    let projects = state.read.projects(scope, None).await?;
    let latest = state.read.rating_latest(scope).await?;
    let by_project: BTreeMap<&str, _> = latest.iter().map(|d| (d.project_id.as_str(), d)).collect();
    let district_names = state.read.district_names().await?;
    let mut lines = Vec::new();
    let mut quotas: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut met, mut below) = (0, 0);
    for p in &projects {
        let d = by_project.get(p.project_id.as_str());
        let (status, status_class) = match d.map(|d| d.meets) {
            None => ("未评定 not rated", "muted"),
            Some(None) => ("无要求 none required", "ok"),
            Some(Some(true)) => ("达标 meets", "ok"),
            Some(Some(false)) => ("未达标 below", "bad"),
        };
        match d.and_then(|d| d.meets) {
            Some(true) => met += 1,
            Some(false) => below += 1,
            None => {}
        }
        if p.start_date.starts_with(&format!("{year:04}-")) {
            let q = quotas.entry(p.district.clone()).or_default();
            q.0 += 1;
            if d.is_some_and(|d| d.achieved == 3) {
                q.1 += 1;
            }
        }
        if only_district.as_ref().is_some_and(|d| *d != p.district) {
            continue;
        }
        lines.push(RatingLine {
            order: match d.map(|d| d.meets) {
                Some(Some(false)) => 0,
                None => 1,
                _ => 2,
            },
            id: p.project_id.clone(),
            name: p.name.clone(),
            district: p.district_name.clone(),
            start_date: p.start_date.clone(),
            required: d.map_or_else(|| "—".into(), |d| stars(d.required)),
            achieved: d.map_or_else(|| "—".into(), |d| stars(Some(d.achieved))),
            status,
            status_class,
            issued: d.map(|d| format::time(&d.occurred_at)).unwrap_or_default(),
            event_id: d.map(|d| d.event_id.clone()).unwrap_or_default(),
            policy: d.map(|d| format!("v{} · N={} · {}", d.policy_version, d.tree_size, d.as_of)).unwrap_or_default(),
        });
    }
    let quotas = quotas
        .into_iter()
        .map(|(code, (n, three))| {
            let q = siteledger_domain::rating::policy::three_star_quota(
                u32::try_from(n).unwrap_or(u32::MAX),
                u32::try_from(three).unwrap_or(u32::MAX),
                50,
            );
            QuotaLine {
                name: district_names.get(&code).map_or_else(|| code.clone(), Clone::clone),
                code,
                new_starts: n,
                three_star: three,
                needed: u64::from(q.needed),
                met: q.met,
            }
        })
        .collect();
    let mut credit_total = 0;
    let (credit, credit_note) = match credit_scores(state).await {
        Ok(Some(c)) => {
            let visible: Vec<&CreditScore> =
                c.scores.iter().filter(|s| c.visible(state, scope, &s.credit_code)).collect();
            credit_total = visible.len();
            let lines = visible
                .into_iter()
                .take(PAGE_CREDIT)
                .enumerate()
                .map(|(i, s)| CreditLine {
                    rank: i + 1,
                    code: s.credit_code.as_str().to_owned(),
                    name: String::new(),
                    score: s.score,
                    grade: s.grade.clone(),
                    records: s.records.iter().filter(|r| ratings::record_visible(&state.access, scope, r)).count(),
                })
                .collect();
            (lines, format!("按信用规则 v{} 于日志规模 N={} 计算（平台建议模型，非规范性文件）", c.version, c.size))
        }
        Ok(None) => (Vec::new(), "尚未发布信用评分规则 credit.rules.v1".to_owned()),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let mut credit: Vec<CreditLine> = credit;
    let codes: Vec<String> = credit.iter().map(|c| c.code.clone()).collect();
    let names = state.read.enterprise_names(&codes).await?;
    for c in &mut credit {
        c.name = names.get(&c.code).cloned().unwrap_or_else(|| c.code.clone());
    }
    let reports = state
        .read
        .rating_reports(scope)
        .await?
        .into_iter()
        .map(|r| ReportLine {
            year: r.year,
            scope: if r.district.is_empty() {
                "宁波市".to_owned()
            } else {
                district_names.get(&r.district).map_or_else(|| r.district.clone(), Clone::clone)
            },
            district_q: if r.district.is_empty() { String::new() } else { format!("&district={}", r.district) },
            tree_size: r.tree_size,
            policy: r.policy_version,
            content: format::short(&r.content_sha256, 16),
            event_id: r.event_id,
            occurred_at: format::time(&r.occurred_at),
        })
        .collect();
    // Stable: project order within each group.
    lines.sort_by_key(|l| l.order);
    let total_lines = lines.len();
    if only_district.is_none() {
        lines.truncate(PAGE_RATINGS);
    }
    Ok(RatingsView {
        year,
        rated: latest.len(),
        met,
        below,
        total_lines,
        district: only_district.unwrap_or_default(),
        lines,
        credit_total,
        quotas,
        credit,
        credit_note,
        reports,
    })
}

#[derive(Debug)]
struct HistoryLine {
    issued: String,
    required: String,
    achieved: String,
    meets: &'static str,
    policy: u64,
    tree_size: u64,
    as_of: String,
    event_id: String,
}

#[derive(Debug)]
struct AppLine {
    name: &'static str,
    days: u64,
    records: u64,
    last_day: String,
}

#[derive(Template)]
#[template(path = "rating_project.html")]
struct ProjectRatingPage {
    layout: super::Layout,
    id: String,
    name: String,
    since: String,
    history: Vec<HistoryLine>,
    apps: Vec<AppLine>,
    head: u64,
}

async fn project_page(State(state): State<AppState>, v: Viewer, Path(id): Path<String>) -> PageResult {
    let scope = v.scope();
    let Some(d) = state.read.project(&scope, &id).await.map_err(|e| v.internal(e))? else {
        return Err(v.not_found(format!("没有项目 {id}，或您无权查看。No project {id} in your scope.")));
    };
    let since = ratings::today_shanghai()
        .date()
        .checked_sub(time::Duration::days(29))
        .map(|d| d.to_string())
        .unwrap_or_default();
    let history = state.read.rating_history(&scope, &id).await.map_err(|e| v.internal(e))?;
    let days = state.read.rating_app_days(&scope, &id, &since).await.map_err(|e| v.internal(e))?;
    let apps = siteledger_projections::rating::APPLICATIONS
        .iter()
        .map(|(app, name, _)| {
            let row = days.iter().find(|r| r.application == *app);
            AppLine {
                name,
                days: row.map_or(0, |r| r.days),
                records: row.map_or(0, |r| r.records),
                last_day: row.and_then(|r| r.last_day.clone()).unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    let history = history
        .into_iter()
        .map(|h| HistoryLine {
            issued: format::time(&h.occurred_at),
            required: stars(h.required),
            achieved: stars(Some(h.achieved)),
            meets: match h.meets {
                None => "无要求",
                Some(true) => "达标",
                Some(false) => "未达标",
            },
            policy: h.policy_version,
            tree_size: h.tree_size,
            as_of: h.as_of,
            event_id: h.event_id,
        })
        .collect();
    let page = ProjectRatingPage {
        layout: v.layout(format!("{} · 星级", d.project.name), "ratings"),
        id,
        name: d.project.name.clone(),
        since,
        history,
        apps,
        head: state.ledger.head(),
    };
    Ok(html(&page))
}

#[derive(Debug)]
struct RecordLine {
    mapping: String,
    polarity: &'static str,
    polarity_class: &'static str,
    points: i64,
    project: String,
    from: String,
    until: String,
    kind: String,
    position: u64,
    event_id: String,
}

#[derive(Template)]
#[template(path = "rating_credit.html")]
struct CreditPage {
    layout: super::Layout,
    code: String,
    name: String,
    score: i64,
    grade: String,
    note: String,
    size: u64,
    records: Vec<RecordLine>,
    replay: bool,
    /// Records of projects outside the viewer's scope: counted, not shown.
    withheld: usize,
    withheld_points: i64,
}

async fn credit_page(State(state): State<AppState>, v: Viewer, Path(code): Path<String>) -> PageResult {
    let scope = v.scope();
    let missing =
        || v.not_found(format!("没有企业 {code} 的信用记录，或您无权查看。No credit record of {code} in your scope."));
    let Some(credit) = credit_scores(&state).await.map_err(|e| v.internal(e))? else {
        return Err(missing());
    };
    let Some(s) = credit.scores.iter().find(|s| s.credit_code.as_str() == code) else { return Err(missing()) };
    if !credit.visible(&state, &scope, &s.credit_code) {
        return Err(missing());
    }
    let s = ratings::ScopedScore::new(s.clone(), |r| ratings::record_visible(&state.access, &scope, r));
    let (size, version) = (credit.size, credit.version);
    let names = state.read.enterprises(&scope).await.map_err(|e| v.internal(e))?;
    let name = names.iter().find(|e| e.credit_code == code).map_or_else(|| code.clone(), |e| e.name.clone());
    let records = s
        .records
        .iter()
        .map(|r| {
            let good = r.polarity == siteledger_domain::rating::Polarity::Good;
            RecordLine {
                mapping: r.mapping.clone(),
                polarity: if good { "良好" } else { "不良" },
                polarity_class: if good { "ok" } else { "bad" },
                points: r.points,
                project: r.project_id.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                from: r.effective_from.to_string(),
                until: r.effective_until.to_string(),
                kind: r.kind.clone(),
                position: r.position,
                event_id: r.event_id.clone(),
            }
        })
        .collect();
    let page = CreditPage {
        layout: v.layout(format!("{name} · 信用"), "ratings"),
        // The replay lists every record behind the score: for city, auditors and the enterprise itself.
        replay: match &scope {
            Scope::All => true,
            Scope::Enterprise(c) => *c == code,
            Scope::District(_) | Scope::Nothing => false,
        },
        code,
        name,
        score: s.score,
        grade: s.grade,
        note: format!("信用规则 v{version} · 日志规模 N={size}"),
        size,
        records,
        withheld: s.withheld.records,
        withheld_points: s.withheld.points,
    };
    Ok(html(&page))
}
