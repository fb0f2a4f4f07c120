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
use siteledger_domain::rating::fold::OnlineDay;
use siteledger_domain::rating::policy::{self, StarLevel};
use siteledger_domain::rating::{AnnualReport as ReportRecord, Sha256Hex};
use siteledger_ledger::EventStore;
use siteledger_projections::ReadDb;

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
    /// The fold snapshot's size the computation resumed from (0: from record 0); not part of the report.
    pub resumed_from: u64,
    /// Records the computation read and folded; not part of the report.
    pub folded: u64,
}

fn permille(num: u64, den: u64) -> Option<u64> {
    (num * 1000).checked_div(den)
}

fn pct(p: Option<u64>) -> String {
    p.map_or_else(|| "—".to_owned(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// Computes the report from the store, folding the log from record 0 (the auditor's from-zero recomputation).
///
/// Without an explicit as-of date, the evidence windows end on 31 December of the year or, for a year still
/// running at size N, on the day (Asia/Shanghai) the ledger sequenced record N − 1, whichever is earlier: a
/// function of the store and N, recorded in the signed `report.annual.v1`.
pub async fn annual<S: EventStore>(store: &S, req: &ReportRequest) -> Result<AnnualReport, RatingError> {
    annual_with(store, None, req).await
}

/// As [`annual`], resumed from the newest usable fold snapshot in `snapshots` (the read database; `None`: from
/// record 0). The bytes are the same either way.
pub async fn annual_with<S: EventStore>(
    store: &S,
    snapshots: Option<&ReadDb>,
    req: &ReportRequest,
) -> Result<AnnualReport, RatingError> {
    let prefix = LogPrefix::load_with(store, snapshots, req.at_size, None).await?;
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
        let mut row = json!({
            "application": app.id.as_str(), "name": app.name.as_str(), "projects_with_data": with_data,
            "projects": active.len(), "days_with_data": have, "expected_days": expected,
            "uptime_permille": permille(have, expected),
        });
        // An application with a measured-online rule (policy version 2 on) counts only days whose cameras reached
        // it, and cites the cameras' measured online time over the same project-days; version-1 rows keep their
        // shape and bytes.
        if let Some(min) = app.min_camera_online_permille {
            let (mut total, mut measured) = (OnlineDay::default(), 0u64);
            for p in &active {
                let from = if p.start_date > jan1 { p.start_date } else { jan1 };
                if from > as_of {
                    continue;
                }
                let (line, t) = ratings::camera_online_line(&prefix.fold.camera_online(&p.project_id), from, as_of);
                total.online_us += t.online_us;
                total.known_us += t.known_us;
                measured += line["days_measured"].as_u64().unwrap_or(0);
            }
            row["camera_online"] = json!({
                "min_permille": min, "days_measured": measured, "days_counted": have,
                "online_s": total.online_us / 1_000_000, "known_s": total.known_us / 1_000_000,
                "online_permille": total.permille(),
            });
        }
        uptime.push(row);
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
    Ok(AnnualReport {
        document,
        json: json_bytes,
        html,
        csv,
        record,
        resumed_from: prefix.resumed_from,
        folded: prefix.folded,
    })
}

/// Report text, HTML-escaped once: `&`, `<`, `>`, `"` and `'` as the named entities `&amp;` `&lt;` `&gt;`
/// `&quot;` and the numeric `&#39;`. A report's `html_sha256` is signed in `report.annual.v1`, so its bytes are a
/// contract: reports already in the log must regenerate to the same bytes, and these are the entities they were
/// written with (askama's own escaper writes numeric ones). The template therefore does not escape
/// (`escape = "none"`), and every value it shows is a `Text`, which only [`Text::of`] makes.
struct Text(String);

impl Text {
    fn of(s: &str) -> Text {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        Text(out)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn v(d: &Value) -> Text {
    Text::of(&match d {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "是".into(),
        Value::Bool(false) => "否".into(),
        other => other.to_string(),
    })
}

fn stars(level: &Value) -> Text {
    Text::of(&match level.as_u64() {
        Some(0) => "未达星级".into(),
        Some(n) => "★".repeat(usize::try_from(n).unwrap_or(0)),
        None => "—".into(),
    })
}

fn share(permille: &Value) -> Text {
    Text::of(&pct(permille.as_u64()))
}

/// The printable report (`templates/annual_report.html`): every value is document text, escaped once ([`Text`]).
#[derive(Template)]
#[template(path = "annual_report.html", escape = "none")]
struct ReportPage {
    title: Text,
    policy_version: Text,
    as_of: Text,
    tree_size: Text,
    year: Text,
    new_starts: Text,
    required: Text,
    met: Text,
    met_share: Text,
    gaps: Vec<GapRow>,
    stars: [Text; 4],
    quota: Option<QuotaLine>,
    districts: Vec<DistrictRow>,
    uptime: Vec<UptimeRow>,
    camera_online: Vec<CameraOnlineRow>,
    alarms_raised: Text,
    alarms_cleared: Text,
    alarms_closure: Text,
    alarms_mean_minutes: Text,
    alarms_median_minutes: Text,
    tasks_note: Text,
    arrears_note: Text,
    projects: Vec<ProjectRow>,
}

struct GapRow {
    project_id: Text,
    name: Text,
    district: Text,
    required: Text,
    rule: Text,
    achieved: Text,
}

struct QuotaLine {
    share_permille: Text,
    new_starts: Text,
    three_star: Text,
    needed: Text,
    verdict: Text,
}

struct DistrictRow {
    code: Text,
    name: Text,
    new_starts: Text,
    required: Text,
    met: Text,
    three_star: Text,
    needed: Text,
    verdict: Text,
}

struct UptimeRow {
    name: Text,
    projects_with_data: Text,
    projects: Text,
    days_with_data: Text,
    expected_days: Text,
    share: Text,
}

/// An application counted by measured camera online time (policy version 2 on).
struct CameraOnlineRow {
    name: Text,
    min_share: Text,
    share: Text,
    online_hours: Text,
    known_hours: Text,
    days_measured: Text,
    days_counted: Text,
}

fn hours(seconds: &Value) -> Text {
    Text::of(&seconds.as_u64().map_or_else(|| "—".to_owned(), |s| format!("{}.{}", s / 3600, s % 3600 * 10 / 3600)))
}

struct ProjectRow {
    project_id: Text,
    name: Text,
    district: Text,
    start_date: Text,
    required: Text,
    achieved: Text,
    meets: Text,
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
            met_share: share(&c["met_permille"]),
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
                verdict: Text::of(if q["met"] == Value::Bool(true) { "达标 met" } else { "未达标 not met" }),
            }),
            districts: rows(&d["districts"], |r| DistrictRow {
                code: v(&r["code"]),
                name: v(&r["name"]),
                new_starts: v(&r["new_starts"]),
                required: v(&r["required"]),
                met: v(&r["met"]),
                three_star: v(&r["three_star"]),
                needed: v(&r["quota"]["needed"]),
                verdict: Text::of(match r["quota"]["met"].as_bool() {
                    Some(true) => "达标",
                    Some(false) => "未达标",
                    None => "—",
                }),
            }),
            uptime: rows(&d["uptime"], |u| UptimeRow {
                name: v(&u["name"]),
                projects_with_data: v(&u["projects_with_data"]),
                projects: v(&u["projects"]),
                days_with_data: v(&u["days_with_data"]),
                expected_days: v(&u["expected_days"]),
                share: share(&u["uptime_permille"]),
            }),
            camera_online: d["uptime"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|u| u["camera_online"].is_object())
                .map(|u| {
                    let c = &u["camera_online"];
                    CameraOnlineRow {
                        name: v(&u["name"]),
                        min_share: share(&c["min_permille"]),
                        share: share(&c["online_permille"]),
                        online_hours: hours(&c["online_s"]),
                        known_hours: hours(&c["known_s"]),
                        days_measured: v(&c["days_measured"]),
                        days_counted: v(&c["days_counted"]),
                    }
                })
                .collect(),
            alarms_raised: v(&a["raised"]),
            alarms_cleared: v(&a["cleared"]),
            alarms_closure: share(&a["closure_permille"]),
            alarms_mean_minutes: v(&a["mean_close_minutes"]),
            alarms_median_minutes: v(&a["median_close_minutes"]),
            tasks_note: v(&d["tasks"]["note"]),
            arrears_note: v(&d["arrears"]["note"]),
            projects: rows(&d["projects"], |r| ProjectRow {
                project_id: v(&r["project_id"]),
                name: v(&r["name"]),
                district: v(&r["district"]),
                start_date: v(&r["start_date"]),
                required: if r["required"].is_null() { Text::of("—") } else { stars(&r["required"]) },
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
        if u["camera_online"].is_object() {
            for k in ["min_permille", "days_measured", "days_counted", "online_s", "known_s", "online_permille"] {
                line("uptime", &format!("{app}.camera_online.{k}"), &scope, &u["camera_online"][k]);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A document with every section and every character the escaper changes.
    fn doc(gaps: bool, quota: bool) -> Value {
        let q = if quota {
            json!({"share_permille": 300, "new_starts": 4, "three_star": 1, "needed": 2, "met": false})
        } else {
            Value::Null
        };
        json!({
            "title": "宁波市2026年度智慧工地建设督查报告 <&\"'>", "year": 2026, "district": null, "tree_size": 1234, "policy_version": 2,
            "as_of": "2026-12-31",
            "coverage": {"new_starts": 4, "required": 3, "met": 1, "required_by_level": [0,1,2,0], "met_permille": 333,
                "gaps": if gaps { json!([{"project_id": "NB-1", "name": "A&B <x>", "district": "330212", "required": 2, "rule": "r'1", "achieved": 0},
                                          {"project_id": "NB-2", "name": "C", "district": "330203", "required": 3, "rule": "r2", "achieved": 1}]) } else { json!([]) }},
            "stars": [1, 2, 0, 1],
            "quota": q,
            "districts": if quota { json!([{"code": "330212", "name": "鄞州区", "new_starts": 2, "required": 2, "met": 1, "three_star": 1, "quota": {"needed": 1, "met": true}},
                                           {"code": "330203", "name": "海曙区", "new_starts": 2, "required": 1, "met": 0, "three_star": 0, "quota": null}]) } else { json!([]) },
            "uptime": [{"application": "dust", "name": "扬尘", "projects_with_data": 2, "projects": 3, "days_with_data": 40, "expected_days": 90, "uptime_permille": 444},
                       {"application": "x", "name": "X", "projects_with_data": 0, "projects": 3, "days_with_data": 0, "expected_days": 0, "uptime_permille": null}],
            "alarms": {"raised": 3, "cleared": 2, "closure_permille": 666, "mean_close_minutes": 12, "median_close_minutes": null},
            "tasks": {"note": "note's \"t\""}, "arrears": {"note": "a<b"},
            "projects": [{"project_id": "NB-1", "name": "A", "district": "330212", "start_date": "2026-03-01", "required": null, "achieved": 0, "meets": null},
                         {"project_id": "NB-2", "name": "B", "district": "330203", "start_date": "2026-04-01", "required": 2, "achieved": 3, "meets": true}],
        })
    }

    /// A report's `html_sha256` is signed: the HTML of a document must keep the bytes the renderer gave before the
    /// template (these digests are that renderer's, commit 679c797), or reports already in the log no longer
    /// regenerate to what was signed.
    #[test]
    fn html_keeps_the_bytes_of_reports_signed_before_the_template() {
        for (gaps, quota, digest) in [
            (true, true, "f7efea0f942574af340a017219f18c88e4bca8af8e63dd082a3faf141eae12c5"),
            (false, false, "73908da160e64b724551aeb757655afa1b86ff2d1ebc329aa49959d9f6ab0518"),
            (true, false, "32b5b7eee19101b63eace25abb96487682df47fa16979f7c3e36ee3266af0318"),
            (false, true, "0e60c34f39ee458c2c7e1e4356deb328362d852d0ff381af3c0947bed0bde0b7"),
        ] {
            let html = render_html(&doc(gaps, quota)).expect("render");
            assert_eq!(sha256_hex(html.as_bytes()), digest, "gaps {gaps}, quota {quota}:\n{html}");
        }
    }

    #[test]
    fn every_value_is_escaped_once() {
        let html = render_html(&doc(true, true)).expect("render");
        assert!(html.contains("<title>宁波市2026年度智慧工地建设督查报告 &lt;&amp;&quot;&#39;&gt;</title>"), "{html}");
        assert!(html.contains("<td>A&amp;B &lt;x&gt;</td>") && html.contains("<p>a&lt;b</p>"), "{html}");
        assert!(!html.contains("&amp;amp;") && !html.contains("<x>"), "{html}");
    }
}
