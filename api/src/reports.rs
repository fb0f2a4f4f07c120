//! 年度督查报告 (annual supervision report) per district and for the city, computed from the log's first N
//! records and a policy version, regenerable bit for bit (`siteledger report annual --year Y [--district D]
//! --at-size N`).
//!
//! The report is first a JSON document ([`AnnualReport::document`]); the HTML (printable, through the askama
//! template `templates/annual_report.html` like the dashboard's pages) and CSV renderings are pure functions of it. Nothing depends on the clock: the as-of date defaults to 31 December of the year,
//! and no "generated at" line is printed. `report.annual.v1` records the three SHA-256 digests.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use askama::Template;
use serde_json::{Value, json};
use siteledger_domain::LocalDate;
use siteledger_domain::district::DistrictCode;
use siteledger_domain::rating::policy::{self, StarLevel};
use siteledger_domain::rating::{AnnualReport as ReportRecord, Sha256Hex};
use siteledger_ledger::EventStore;

use crate::ratings::{self, LogPrefix, RatingError, sha256_hex};

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// The year.
    pub year: i32,
    /// A district, or the whole city.
    pub district: Option<DistrictCode>,
    /// Tree size.
    pub at_size: u64,
    /// Policy version; the newest published within the prefix if `None`.
    pub policy_version: Option<u32>,
    /// As-of date; 31 December of the year if `None`.
    pub as_of: Option<LocalDate>,
}

/// A computed report: the document and its renderings.
#[derive(Debug, Clone)]
pub struct AnnualReport {
    /// The canonical JSON document.
    pub document: Value,
    /// Its canonical bytes.
    pub json: Vec<u8>,
    /// The printable HTML.
    pub html: String,
    /// The CSV.
    pub csv: String,
    /// The `report.annual.v1` payload naming the three digests.
    pub record: ReportRecord,
}

fn permille(num: u64, den: u64) -> Option<u64> {
    (num * 1000).checked_div(den)
}

fn pct(p: Option<u64>) -> String {
    p.map_or_else(|| "—".to_owned(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// Computes the report from the store.
///
/// Without an explicit as-of date, the evidence windows end on 31 December of the year or, for a year still
/// running at size N, on the day (Asia/Shanghai) the ledger sequenced record N − 1, whichever is earlier: a
/// function of the store and N, recorded in the signed `report.annual.v1`.
pub async fn annual<S: EventStore>(store: &S, req: &ReportRequest) -> Result<AnnualReport, RatingError> {
    let prefix = LogPrefix::load(store, req.at_size, None).await?;
    let mut req = req.clone();
    if req.as_of.is_none() && req.at_size > 0 {
        let year_end = LocalDate::parse(&format!("{:04}-12-31", req.year))
            .map_err(|e| RatingError::Invalid(format!("year {}: {e}", req.year)))?;
        let last = store.read_all(req.at_size - 1, 1).await?;
        let sequenced = last
            .first()
            .and_then(|e| LocalDate::try_from(siteledger_domain::time::shanghai_date(e.recorded_at)).ok())
            .unwrap_or(year_end);
        req.as_of = Some(sequenced.min(year_end));
    }
    annual_from(&prefix, &req)
}

/// Computes the report from a loaded prefix.
pub fn annual_from(prefix: &LogPrefix, req: &ReportRequest) -> Result<AnnualReport, RatingError> {
    let version = match req.policy_version {
        Some(v) => v,
        None => prefix.latest_policy_version().ok_or_else(|| {
            RatingError::Invalid(format!("no rating policy is published in the log's first {} records", prefix.size))
        })?,
    };
    let policy = prefix.policy(version)?;
    let year = req.year;
    let as_of = match req.as_of {
        Some(d) => d,
        None => LocalDate::parse(&format!("{year:04}-12-31"))
            .map_err(|e| RatingError::Invalid(format!("year {year}: {e}")))?,
    };
    let jan1 = LocalDate::parse(&format!("{year:04}-01-01")).map_err(|e| RatingError::Invalid(e.to_string()))?;
    let reg = &prefix.fold.registry;
    let in_scope = |d: &DistrictCode| req.district.as_ref().is_none_or(|x| x == d);
    let district_name = |d: &DistrictCode| reg.district_name(d).map_or_else(|| d.as_str().to_owned(), str::to_owned);

    // Coverage and stars: projects newly started (新开工) in the year.
    let mut rows = Vec::new();
    let mut per_district: BTreeMap<String, [u64; 6]> = BTreeMap::new(); // new, required, met, 3★, gaps, _
    let mut stars = [0u64; 4];
    let mut required_by_level = [0u64; 4];
    let (mut required_n, mut met_n) = (0u64, 0u64);
    let mut gaps = Vec::new();
    for p in reg.projects().filter(|p| in_scope(&p.district) && p.start_date.date().year() == year) {
        let facts = prefix.fold.facts(&p.project_id).ok_or_else(|| RatingError::Corrupt("project facts".into()))?;
        let required = policy::required_level(&facts, policy);
        let achieved = policy::achieved_level(&prefix.fold.evidence(&p.project_id, policy), policy, as_of);
        let meets = required.as_ref().map(|r| policy::meets(r, &achieved));
        stars[usize::from(achieved.level.get())] += 1;
        let entry = per_district.entry(p.district.as_str().to_owned()).or_default();
        entry[0] += 1;
        if achieved.level == StarLevel::THREE {
            entry[3] += 1;
        }
        if let Some(r) = &required {
            required_n += 1;
            required_by_level[usize::from(r.level.get())] += 1;
            entry[1] += 1;
            if meets == Some(true) {
                met_n += 1;
                entry[2] += 1;
            } else {
                entry[4] += 1;
                gaps.push(json!({
                    "project_id": p.project_id.as_str(), "name": p.name.as_str(), "district": p.district.as_str(),
                    "required": r.level.get(), "rule": r.rule, "achieved": achieved.level.get(),
                }));
            }
        }
        rows.push(json!({
            "project_id": p.project_id.as_str(), "name": p.name.as_str(), "district": p.district.as_str(),
            "start_date": p.start_date.to_string(), "required": required.as_ref().map(|r| r.level.get()),
            "rule": required.as_ref().map(|r| r.rule.clone()), "achieved": achieved.level.get(), "meets": meets,
        }));
    }
    let new_starts: u64 = stars.iter().sum();
    let share = policy::phase_of_year(policy, year).and_then(|ph| ph.three_star_share_permille);
    let quota_of = |n: u64, three: u64| {
        share.map(|s| {
            let q = policy::three_star_quota(
                u32::try_from(n).unwrap_or(u32::MAX),
                u32::try_from(three).unwrap_or(u32::MAX),
                s,
            );
            json!({"share_permille": s, "new_starts": n, "three_star": three, "needed": q.needed, "met": q.met})
        })
    };
    let districts: Vec<Value> = per_district
        .iter()
        .map(|(code, c)| {
            let name = DistrictCode::parse(code).map_or_else(|_| code.clone(), |d| district_name(&d));
            json!({
                "code": code, "name": name, "new_starts": c[0], "required": c[1], "met": c[2], "three_star": c[3],
                "quota": quota_of(c[0], c[3]),
            })
        })
        .collect();

    // Data uptime per application and alarm closure: projects active in the year (started by its end).
    let active: Vec<&siteledger_domain::registry::Project> =
        reg.projects().filter(|p| in_scope(&p.district) && p.start_date.date().year() <= year).collect();
    let mut uptime = Vec::new();
    for app in &policy.applications {
        let (mut with_data, mut have, mut expected) = (0u64, 0u64, 0u64);
        for p in &active {
            let from = if p.start_date > jan1 { p.start_date } else { jan1 };
            if from > as_of {
                continue;
            }
            expected += u64::try_from((as_of.date() - from.date()).whole_days() + 1).unwrap_or(0);
            let ev = prefix.fold.evidence(&p.project_id, policy);
            let n = ev.get(&app.id).map_or(0, |d| d.iter().filter(|d| **d >= from && **d <= as_of).count());
            if n > 0 {
                with_data += 1;
            }
            have += n as u64;
        }
        uptime.push(json!({
            "application": app.id.as_str(), "name": app.name.as_str(), "projects_with_data": with_data,
            "projects": active.len(), "days_with_data": have, "expected_days": expected,
            "uptime_permille": permille(have, expected),
        }));
    }
    let mut raised = 0u64;
    let mut cleared = 0u64;
    let mut close_minutes = Vec::new();
    let mut kinds_in_year: BTreeMap<&str, u64> = BTreeMap::new();
    for p in &active {
        let Some(log) = prefix.fold.projects.get(&p.project_id) else { continue };
        for a in log.alarms.values().filter(|a| a.raised_day.date().year() == year && a.raised_day <= as_of) {
            raised += 1;
            if let Some(s) = a.cleared_after_s {
                cleared += 1;
                close_minutes.push(s / 60);
            }
        }
        for (kind, days) in &log.kind_days {
            let n = days.iter().filter(|d| d.date().year() == year).count() as u64;
            if n > 0 {
                *kinds_in_year.entry(kind.as_str()).or_default() += n;
            }
        }
    }
    close_minutes.sort_unstable();
    let median = close_minutes.get(close_minutes.len() / 2).copied();
    let mean = close_minutes.iter().sum::<i64>().checked_div(i64::try_from(close_minutes.len()).unwrap_or(0));
    let subsystem = |prefix_: &str, what: &str| {
        let kinds: BTreeSet<&str> = kinds_in_year.keys().filter(|k| k.starts_with(prefix_)).copied().collect();
        if kinds.is_empty() {
            json!({"available": false, "kinds": [], "note": format!(
                "本报告计算时日志中没有 {prefix_}* 记录：{what}子系统的数据尚未接入，相关指标不适用（非零值不可推断）。 \
                 No {prefix_}* records in the log at this size: the subsystem's data is absent, so these figures are not available.")})
        } else {
            json!({"available": true, "kinds": kinds, "note": format!(
                "日志中有 {prefix_}* 记录；闭环率与用时待该子系统的事件类型确定后按版本化规则计算。 \
                 {prefix_}* records exist; closure rates await the subsystem's kinds in a later rule version.")})
        }
    };
    let title = match &req.district {
        Some(d) => format!("{}{year}年度智慧工地建设督查报告", district_name(d)),
        None => format!("宁波市{year}年度智慧工地建设督查报告"),
    };
    let document = json!({
        "title": title,
        "year": year,
        "district": req.district.as_ref().map(DistrictCode::as_str),
        "tree_size": prefix.size,
        "policy_version": version,
        "as_of": as_of.to_string(),
        "coverage": {
            "new_starts": new_starts, "required": required_n, "met": met_n,
            "required_by_level": required_by_level, "met_permille": permille(met_n, required_n), "gaps": gaps,
        },
        "stars": stars,
        "quota": quota_of(new_starts, stars[3]),
        "districts": districts,
        "uptime": uptime,
        "alarms": {
            "raised": raised, "cleared": cleared, "closure_permille": permille(cleared, raised),
            "mean_close_minutes": mean, "median_close_minutes": median,
        },
        "tasks": subsystem("task.", "政府协同联动（协同指挥）"),
        "arrears": subsystem("wage.", "工资专用账户（欠薪）"),
        "projects": rows,
    });
    let json_bytes = ratings::canonical_bytes(&document);
    let html = render_html(&document)?;
    let csv = render_csv(&document);
    let digest = |b: &[u8]| Sha256Hex::parse(&sha256_hex(b)).map_err(|e| RatingError::Corrupt(e.to_string()));
    let record = ReportRecord {
        year: u16::try_from(year).map_err(|_| RatingError::Invalid(format!("year {year} out of range")))?,
        district: req.district.clone(),
        tree_size: prefix.size,
        policy_version: version,
        as_of,
        content_sha256: digest(&json_bytes)?,
        html_sha256: digest(html.as_bytes())?,
        csv_sha256: digest(csv.as_bytes())?,
    };
    Ok(AnnualReport { document, json: json_bytes, html, csv, record })
}

fn v(d: &Value) -> String {
    match d {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "是".into(),
        Value::Bool(false) => "否".into(),
        other => other.to_string(),
    }
}

fn stars(level: &Value) -> String {
    match level.as_u64() {
        Some(0) => "未达星级".into(),
        Some(n) => "★".repeat(usize::try_from(n).unwrap_or(0)),
        None => "—".into(),
    }
}

/// The printable report (`templates/annual_report.html`): every value is text taken from the document, escaped
/// by the template.
#[derive(Template)]
#[template(path = "annual_report.html")]
struct ReportPage {
    title: String,
    policy_version: String,
    as_of: String,
    tree_size: String,
    year: String,
    new_starts: String,
    required: String,
    met: String,
    met_share: String,
    gaps: Vec<GapRow>,
    stars: [String; 4],
    quota: Option<QuotaLine>,
    districts: Vec<DistrictRow>,
    uptime: Vec<UptimeRow>,
    alarms_raised: String,
    alarms_cleared: String,
    alarms_closure: String,
    alarms_mean_minutes: String,
    alarms_median_minutes: String,
    tasks_note: String,
    arrears_note: String,
    projects: Vec<ProjectRow>,
}

struct GapRow {
    project_id: String,
    name: String,
    district: String,
    required: String,
    rule: String,
    achieved: String,
}

struct QuotaLine {
    share_permille: String,
    new_starts: String,
    three_star: String,
    needed: String,
    verdict: &'static str,
}

struct DistrictRow {
    code: String,
    name: String,
    new_starts: String,
    required: String,
    met: String,
    three_star: String,
    needed: String,
    verdict: &'static str,
}

struct UptimeRow {
    name: String,
    projects_with_data: String,
    projects: String,
    days_with_data: String,
    expected_days: String,
    share: String,
}

struct ProjectRow {
    project_id: String,
    name: String,
    district: String,
    start_date: String,
    required: String,
    achieved: String,
    meets: String,
}

fn rows<T>(list: &Value, f: impl Fn(&Value) -> T) -> Vec<T> {
    list.as_array().into_iter().flatten().map(f).collect()
}

impl ReportPage {
    fn of(d: &Value) -> ReportPage {
        let c = &d["coverage"];
        let a = &d["alarms"];
        ReportPage {
            title: v(&d["title"]),
            policy_version: v(&d["policy_version"]),
            as_of: v(&d["as_of"]),
            tree_size: v(&d["tree_size"]),
            year: v(&d["year"]),
            new_starts: v(&c["new_starts"]),
            required: v(&c["required"]),
            met: v(&c["met"]),
            met_share: pct(c["met_permille"].as_u64()),
            gaps: rows(&c["gaps"], |g| GapRow {
                project_id: v(&g["project_id"]),
                name: v(&g["name"]),
                district: v(&g["district"]),
                required: stars(&g["required"]),
                rule: v(&g["rule"]),
                achieved: stars(&g["achieved"]),
            }),
            stars: [0, 1, 2, 3].map(|i| v(&d["stars"][i])),
            quota: d["quota"].as_object().map(|q| QuotaLine {
                share_permille: v(&q["share_permille"]),
                new_starts: v(&q["new_starts"]),
                three_star: v(&q["three_star"]),
                needed: v(&q["needed"]),
                verdict: if q["met"] == Value::Bool(true) { "达标 met" } else { "未达标 not met" },
            }),
            districts: rows(&d["districts"], |r| DistrictRow {
                code: v(&r["code"]),
                name: v(&r["name"]),
                new_starts: v(&r["new_starts"]),
                required: v(&r["required"]),
                met: v(&r["met"]),
                three_star: v(&r["three_star"]),
                needed: v(&r["quota"]["needed"]),
                verdict: match r["quota"]["met"].as_bool() {
                    Some(true) => "达标",
                    Some(false) => "未达标",
                    None => "—",
                },
            }),
            uptime: rows(&d["uptime"], |u| UptimeRow {
                name: v(&u["name"]),
                projects_with_data: v(&u["projects_with_data"]),
                projects: v(&u["projects"]),
                days_with_data: v(&u["days_with_data"]),
                expected_days: v(&u["expected_days"]),
                share: pct(u["uptime_permille"].as_u64()),
            }),
            alarms_raised: v(&a["raised"]),
            alarms_cleared: v(&a["cleared"]),
            alarms_closure: pct(a["closure_permille"].as_u64()),
            alarms_mean_minutes: v(&a["mean_close_minutes"]),
            alarms_median_minutes: v(&a["median_close_minutes"]),
            tasks_note: v(&d["tasks"]["note"]),
            arrears_note: v(&d["arrears"]["note"]),
            projects: rows(&d["projects"], |r| ProjectRow {
                project_id: v(&r["project_id"]),
                name: v(&r["name"]),
                district: v(&r["district"]),
                start_date: v(&r["start_date"]),
                required: if r["required"].is_null() { "—".into() } else { stars(&r["required"]) },
                achieved: stars(&r["achieved"]),
                meets: v(&r["meets"]),
            }),
        }
    }
}

/// The printable HTML (self-contained, no scripts), a pure function of the document: the same document gives the
/// same bytes.
pub fn render_html(d: &Value) -> Result<String, RatingError> {
    ReportPage::of(d).render().map_err(|e| RatingError::Corrupt(format!("report template: {e}")))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// The CSV: one line per figure, `section,key,district,value`.
pub fn render_csv(d: &Value) -> String {
    let mut out = String::from("section,key,district,value\n");
    let mut line = |section: &str, key: &str, district: &str, value: &Value| {
        let value = match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ =
            writeln!(out, "{},{},{},{}", csv_field(section), csv_field(key), csv_field(district), csv_field(&value));
    };
    let scope = d["district"].as_str().unwrap_or("city").to_owned();
    for k in ["year", "tree_size", "policy_version", "as_of"] {
        line("meta", k, &scope, &d[k]);
    }
    for k in ["new_starts", "required", "met", "met_permille"] {
        line("coverage", k, &scope, &d["coverage"][k]);
    }
    for (i, n) in d["stars"].as_array().into_iter().flatten().enumerate() {
        line("stars", &format!("level_{i}"), &scope, n);
    }
    if d["quota"].is_object() {
        for k in ["share_permille", "needed", "three_star", "met"] {
            line("quota", k, &scope, &d["quota"][k]);
        }
    }
    for r in d["districts"].as_array().into_iter().flatten() {
        let code = r["code"].as_str().unwrap_or_default();
        for k in ["new_starts", "required", "met", "three_star"] {
            line("district", k, code, &r[k]);
        }
        if r["quota"].is_object() {
            line("district", "three_star_needed", code, &r["quota"]["needed"]);
            line("district", "quota_met", code, &r["quota"]["met"]);
        }
    }
    for u in d["uptime"].as_array().into_iter().flatten() {
        let app = u["application"].as_str().unwrap_or_default();
        for k in ["projects_with_data", "days_with_data", "expected_days", "uptime_permille"] {
            line("uptime", &format!("{app}.{k}"), &scope, &u[k]);
        }
    }
    for k in ["raised", "cleared", "closure_permille", "mean_close_minutes", "median_close_minutes"] {
        line("alarms", k, &scope, &d["alarms"][k]);
    }
    line("tasks", "available", &scope, &d["tasks"]["available"]);
    line("arrears", "available", &scope, &d["arrears"]["available"]);
    for r in d["projects"].as_array().into_iter().flatten() {
        let id = r["project_id"].as_str().unwrap_or_default();
        line("project", &format!("{id}.required"), r["district"].as_str().unwrap_or_default(), &r["required"]);
        line("project", &format!("{id}.achieved"), r["district"].as_str().unwrap_or_default(), &r["achieved"]);
    }
    out
}
