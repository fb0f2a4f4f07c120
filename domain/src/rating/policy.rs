//! 星级评定政策 (the star-rating policy) as data: the applications, which star level needs which, the evidence rule
//! for "this project runs application X", and the required-level phases of 甬建发〔2020〕72号 三(三).
//!
//! The notice says the grading "根据年度工作需要适时调整": so the policy is a signed, versioned record
//! (`rating.policy.v1`, city bureau, stream `city/policy/rating`), never a constant. [`notice_2020_72`] is the
//! first version, encoded from the notice's text; docs/RATING.md explains every choice.
//!
//! Two pure functions carry the grading: [`required_level`] (what the notice requires of a project, from its
//! registry facts) and [`achieved_level`] (what its evidence shows it runs, as of a date).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::date::LocalDate;
use crate::quantity::{AreaM2, MoneyFen};
use crate::text::{Name, Text};

/// An application id: `[a-z][a-z0-9_]*`, at most 32 characters (`video`, `dust_noise`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApplicationId(String);

/// Why a string is not an [`ApplicationId`] or a [`KindPrefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenShapeError {
    /// Not of the required shape.
    #[error("{what} must match {pattern} (at most {max} characters), got {got:?}")]
    Shape {
        /// What was parsed.
        what: &'static str,
        /// The pattern.
        pattern: &'static str,
        /// Maximum length.
        max: usize,
        /// The input.
        got: String,
    },
}

fn is_token(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl ApplicationId {
    /// Parses an application id.
    pub fn parse(s: &str) -> Result<Self, TokenShapeError> {
        if s.len() <= 32 && is_token(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(TokenShapeError::Shape {
                what: "application id",
                pattern: "[a-z][a-z0-9_]*",
                max: 32,
                got: s.to_owned(),
            })
        }
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(ApplicationId, TokenShapeError);

/// A kind prefix: one or more `[a-z][a-z0-9_]*` segments each followed by `.` (`video.`, `env.`, `crane.`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KindPrefix(String);

impl KindPrefix {
    /// Parses a kind prefix.
    pub fn parse(s: &str) -> Result<Self, TokenShapeError> {
        let ok =
            s.len() <= 64 && s.strip_suffix('.').is_some_and(|body| !body.is_empty() && body.split('.').all(is_token));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(TokenShapeError::Shape {
                what: "kind prefix",
                pattern: "([a-z][a-z0-9_]*.)+",
                max: 64,
                got: s.to_owned(),
            })
        }
    }

    /// The prefix as written (ends with `.`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `kind` starts with this prefix.
    pub fn matches(&self, kind: &str) -> bool {
        kind.starts_with(&self.0)
    }
}

string_newtype!(KindPrefix, TokenShapeError);

/// A star level: 0 (connected to the platform, no star) to 3 (三星级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct StarLevel(u8);

/// Why an integer is not a [`StarLevel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("star level must be 0, 1, 2 or 3, got {0}")]
pub struct StarLevelError(pub u8);

impl StarLevel {
    /// No star: connected to the platform only.
    pub const NONE: Self = Self(0);
    /// 一星级.
    pub const ONE: Self = Self(1);
    /// 二星级.
    pub const TWO: Self = Self(2);
    /// 三星级.
    pub const THREE: Self = Self(3);

    /// The level as a number.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// `一星级` …, `未达星级` for 0.
    pub const fn name_zh(self) -> &'static str {
        match self.0 {
            1 => "一星级",
            2 => "二星级",
            3 => "三星级",
            _ => "未达星级",
        }
    }
}

impl TryFrom<u8> for StarLevel {
    type Error = StarLevelError;
    fn try_from(v: u8) -> Result<Self, StarLevelError> {
        if v <= 3 { Ok(Self(v)) } else { Err(StarLevelError(v)) }
    }
}

impl From<StarLevel> for u8 {
    fn from(l: StarLevel) -> u8 {
        l.0
    }
}

impl fmt::Display for StarLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}★", self.0)
    }
}

/// One 智慧应用 and its evidence rule: records with one of `prefixes` in the project's streams on at least
/// `min_days` distinct days (Asia/Shanghai) of the `window_days` days ending on the as-of date. With
/// `min_camera_online_permille` (policy version 2 on), a day counts only if, besides, the project's cameras were
/// online for at least that share of the time their status reports cover that day (docs/RATING.md §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Stable id (`video`, `realname`, …).
    pub id: ApplicationId,
    /// The notice's name (`远程视频监控`).
    pub name: Name,
    /// Kind prefixes that count as evidence.
    pub prefixes: Vec<KindPrefix>,
    /// Window length in days (1–366).
    pub window_days: u32,
    /// Distinct days with records needed in the window (1–`window_days`).
    pub min_days: u32,
    /// Measured online time (在线率) [proposal]: a day counts only if the project's cameras were online for at
    /// least this many ‰ (1–1000) of the time covered by their `video.camera.status.v1` reports that day
    /// ([`crate::site::uptime`], the same measure as the site pages). Absent (and never written) in documents
    /// without the rule, so version 1 keeps its bytes and its results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_camera_online_permille: Option<u32>,
}

/// The applications a star level needs (the full list, as the notice writes it: "等4项/7项/11项应用").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRule {
    /// 1, 2 or 3.
    pub level: StarLevel,
    /// Application ids.
    pub applications: Vec<ApplicationId>,
}

/// Where a phase rule applies (三(三)1: "各地中心城区范围内"; 2 and 3: "全市范围内").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// The whole city.
    City,
    /// Only projects in their district's 中心城区.
    CentralUrban,
    /// Only projects in the 安全文明施工标准化工地 creation programme of their start year.
    StandardSiteProgramme,
}

/// One requirement of a phase: projects in `scope` whose floor area or contract cost reaches a threshold
/// (either one; a rule with neither threshold applies to every project in scope) must reach `level`.
/// Thresholds are inclusive ("以上" includes the figure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseRule {
    /// Stable id, cited in decisions (e.g. `2021-1star`).
    pub id: ApplicationId,
    /// Required level (0: connected to the platform).
    pub level: StarLevel,
    /// Where it applies.
    pub scope: RuleScope,
    /// 建筑面积 at least this (m²), if a threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_area_m2_at_least: Option<AreaM2>,
    /// 造价 at least this (fen), if a threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_cost_fen_at_least: Option<MoneyFen>,
    /// The notice's words.
    pub text: Text,
}

/// A phase: the rules for projects newly started (新开工) in the years `from_year..=to_year` (open-ended if
/// `to_year` is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Stable id (`2020`, `2021`, `2022`).
    pub id: ApplicationId,
    /// The notice's name (扩面阶段, 提质阶段, 增效阶段).
    pub name: Name,
    /// First start year.
    pub from_year: u16,
    /// Last start year, if bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_year: Option<u16>,
    /// Requirements on single projects.
    pub rules: Vec<PhaseRule>,
    /// Minimum share of the year's new starts at 三星级, in ‰, per district and for the city ("至少5%" → 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub three_star_share_permille: Option<u32>,
}

/// Payload of `rating.policy.v1`: one version of the star-rating policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingPolicy {
    /// Version, 1, 2, 3, … (each published version is the previous plus one).
    pub version: u32,
    /// Title (`甬建发〔2020〕72号 …`).
    pub title: Text,
    /// Date from which the bureau applies this version.
    pub effective_from: LocalDate,
    /// The applications and their evidence rules.
    pub applications: Vec<Application>,
    /// Levels 1, 2, 3 and their applications.
    pub levels: Vec<LevelRule>,
    /// Required-level phases by start year.
    pub phases: Vec<Phase>,
}

/// What the rating needs to know of a project (from `registry.project.registered.v1` and the programme records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectFacts {
    /// In the 中心城区.
    pub central_urban: bool,
    /// 建筑面积.
    pub floor_area_m2: AreaM2,
    /// 合同造价.
    pub contract_cost_fen: MoneyFen,
    /// 开工日期 (its year selects the phase).
    pub start_date: LocalDate,
    /// In the 安全文明施工标准化工地 creation programme of its start year (`rating.standard_site.enrolled.v1`).
    pub standard_site_programme: bool,
}

/// A project's required level and the rule that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Required {
    /// The level.
    pub level: StarLevel,
    /// The phase.
    pub phase: String,
    /// The rule (the highest-level rule that applies; the first such rule in the policy's order).
    pub rule: String,
}

/// What the notice requires of this project under `policy`; `None` when no rule of its start year's phase
/// applies (e.g. a small 2020 project outside the 中心城区).
pub fn required_level(project: &ProjectFacts, policy: &RatingPolicy) -> Option<Required> {
    let year = u16::try_from(project.start_date.date().year()).ok()?;
    let phase = policy.phases.iter().find(|p| p.from_year <= year && p.to_year.is_none_or(|t| year <= t))?;
    let mut best: Option<&PhaseRule> = None;
    for rule in &phase.rules {
        if rule_applies(rule, project) && best.is_none_or(|b| rule.level > b.level) {
            best = Some(rule);
        }
    }
    best.map(|r| Required { level: r.level, phase: phase.id.as_str().to_owned(), rule: r.id.as_str().to_owned() })
}

fn rule_applies(rule: &PhaseRule, p: &ProjectFacts) -> bool {
    let in_scope = match rule.scope {
        RuleScope::City => true,
        RuleScope::CentralUrban => p.central_urban,
        RuleScope::StandardSiteProgramme => p.standard_site_programme,
    };
    let by_area = rule.floor_area_m2_at_least.map(|a| p.floor_area_m2 >= a);
    let by_cost = rule.contract_cost_fen_at_least.map(|c| p.contract_cost_fen >= c);
    let size_ok = match (by_area, by_cost) {
        (None, None) => true,
        (a, c) => a.unwrap_or(false) || c.unwrap_or(false),
    };
    in_scope && size_ok
}

/// The phase whose years include `year`, if any.
pub fn phase_of_year(policy: &RatingPolicy, year: i32) -> Option<&Phase> {
    let year = u16::try_from(year).ok()?;
    policy.phases.iter().find(|p| p.from_year <= year && p.to_year.is_none_or(|t| year <= t))
}

/// Days with evidence per application: application id → distinct Asia/Shanghai days with at least one record.
pub type EvidenceDays = BTreeMap<ApplicationId, BTreeSet<LocalDate>>;

/// One application's evidence as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationStatus {
    /// The application.
    pub id: ApplicationId,
    /// Days with records in the window.
    pub days: u32,
    /// Days needed.
    pub min_days: u32,
    /// The window.
    pub window_days: u32,
    /// Whether the project runs it (`days ≥ min_days`).
    pub runs: bool,
}

/// What a project's evidence shows, as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Achieved {
    /// The highest level all of whose applications run (0 if not even 一星级).
    pub level: StarLevel,
    /// Whether any application has a record in its window (the project is connected to the platform).
    pub connected: bool,
    /// Each application of the policy, in the policy's order.
    pub applications: Vec<ApplicationStatus>,
}

/// The level `evidence` shows as of `as_of` (inclusive), under `policy`. Days after `as_of` are ignored.
pub fn achieved_level(evidence: &EvidenceDays, policy: &RatingPolicy, as_of: LocalDate) -> Achieved {
    let empty = BTreeSet::new();
    let mut applications = Vec::with_capacity(policy.applications.len());
    let mut connected = false;
    for app in &policy.applications {
        let days_all = evidence.get(&app.id).unwrap_or(&empty);
        let start = as_of.date().checked_sub(time::Duration::days(i64::from(app.window_days.max(1)) - 1));
        let days = days_all.iter().filter(|d| d.date() <= as_of.date() && start.is_none_or(|s| d.date() >= s)).count();
        let days = u32::try_from(days).unwrap_or(u32::MAX);
        connected |= days > 0;
        applications.push(ApplicationStatus {
            id: app.id.clone(),
            days,
            min_days: app.min_days,
            window_days: app.window_days,
            runs: days >= app.min_days.max(1),
        });
    }
    let runs: BTreeSet<&ApplicationId> = applications.iter().filter(|a| a.runs).map(|a| &a.id).collect();
    let mut level = StarLevel::NONE;
    let mut levels: Vec<&LevelRule> = policy.levels.iter().collect();
    levels.sort_by_key(|l| l.level);
    for l in levels {
        if l.applications.iter().all(|a| runs.contains(a)) {
            level = l.level;
        } else {
            break;
        }
    }
    Achieved { level, connected, applications }
}

/// Whether `achieved` meets `required`: the level, and for level 0 a connection to the platform.
pub fn meets(required: &Required, achieved: &Achieved) -> bool {
    achieved.level >= required.level && (required.level > StarLevel::NONE || achieved.connected)
}

/// The 5 % rule for one jurisdiction: how many of `new_starts` must be 三星级 (rounded up), and whether
/// `three_star` reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quota {
    /// Projects newly started in the year (the denominator; see docs/RATING.md).
    pub new_starts: u32,
    /// Of those, achieved 三星级.
    pub three_star: u32,
    /// The minimum share, ‰.
    pub share_permille: u32,
    /// Three-star projects needed: ⌈new_starts × share / 1000⌉.
    pub needed: u32,
    /// `three_star ≥ needed`.
    pub met: bool,
}

/// Computes the three-star quota.
pub fn three_star_quota(new_starts: u32, three_star: u32, share_permille: u32) -> Quota {
    let needed = (u64::from(new_starts) * u64::from(share_permille)).div_ceil(1000);
    let needed = u32::try_from(needed).unwrap_or(u32::MAX);
    Quota { new_starts, three_star, share_permille, needed, met: three_star >= needed }
}

/// The reasons a policy document is not coherent (beyond its schema): used by the admission rule.
pub fn check_policy(p: &RatingPolicy) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    for a in &p.applications {
        if !ids.insert(&a.id) {
            return Err(format!("application {} is listed twice", a.id));
        }
        if a.prefixes.is_empty() {
            return Err(format!("application {} has no kind prefix", a.id));
        }
        if !(1..=366).contains(&a.window_days) || a.min_days == 0 || a.min_days > a.window_days {
            return Err(format!(
                "application {}: need 1 ≤ min_days ≤ window_days ≤ 366, got {} of {}",
                a.id, a.min_days, a.window_days
            ));
        }
        if let Some(p) = a.min_camera_online_permille {
            if !(1..=1000).contains(&p) {
                return Err(format!("application {}: min_camera_online_permille must be 1–1000 ‰, got {p}", a.id));
            }
            if !a.prefixes.iter().any(|x| x.matches(crate::site::CAMERA_STATUS)) {
                return Err(format!(
                    "application {}: min_camera_online_permille needs a prefix that counts {} records (e.g. video.)",
                    a.id,
                    crate::site::CAMERA_STATUS
                ));
            }
        }
    }
    let mut prev: Option<&LevelRule> = None;
    let mut levels: Vec<&LevelRule> = p.levels.iter().collect();
    levels.sort_by_key(|l| l.level);
    for (i, l) in levels.iter().enumerate() {
        if usize::from(l.level.get()) != i + 1 {
            return Err("levels must be exactly 1, 2 and 3 (or a prefix of them), each once".into());
        }
        if let Some(a) = l.applications.iter().find(|a| !ids.contains(a)) {
            return Err(format!("level {} names unknown application {a}", l.level.get()));
        }
        if let Some(pr) = prev
            && let Some(a) = pr.applications.iter().find(|a| !l.applications.contains(a))
        {
            return Err(format!(
                "level {} must include every application of level {} ({a})",
                l.level.get(),
                pr.level.get()
            ));
        }
        prev = Some(l);
    }
    let mut phases: Vec<&Phase> = p.phases.iter().collect();
    phases.sort_by_key(|ph| ph.from_year);
    for w in phases.windows(2) {
        let end = w[0].to_year.unwrap_or(u16::MAX);
        if end >= w[1].from_year {
            return Err(format!("phases {} and {} overlap", w[0].id, w[1].id));
        }
    }
    for ph in &phases {
        if ph.to_year.is_some_and(|t| t < ph.from_year) {
            return Err(format!("phase {}: to_year before from_year", ph.id));
        }
        if ph.three_star_share_permille.is_some_and(|s| s > 1000) {
            return Err(format!("phase {}: three_star_share_permille above 1000", ph.id));
        }
    }
    Ok(())
}

fn app(id: &str, name: &str, prefixes: &[&str], window_days: u32, min_days: u32) -> Application {
    Application {
        id: ApplicationId(id.to_owned()),
        name: name_of(name),
        prefixes: prefixes.iter().map(|p| KindPrefix((*p).to_owned())).collect(),
        window_days,
        min_days,
        min_camera_online_permille: None,
    }
}

/// Literal names and texts of the built-in policy (they all parse; the domain tests check it).
fn name_of(s: &str) -> Name {
    Name::parse(s).expect("a literal name of the built-in policy")
}

fn text(s: &str) -> Text {
    Text::parse(s).expect("a literal text of the built-in policy")
}

fn id(s: &str) -> ApplicationId {
    ApplicationId(s.to_owned())
}

fn rule(
    rid: &str,
    level: StarLevel,
    scope: RuleScope,
    area_m2: Option<u64>,
    cost_yuan: Option<i64>,
    words: &str,
) -> PhaseRule {
    PhaseRule {
        id: id(rid),
        level,
        scope,
        floor_area_m2_at_least: area_m2.and_then(AreaM2::from_m2),
        contract_cost_fen_at_least: cost_yuan.and_then(|y| MoneyFen::parse(y * 100).ok()),
        text: text(words),
    }
}

/// The first policy version: 甬建发〔2020〕72号 as written (三(二) levels, 三(三) phases), with the platform's
/// default evidence rules (docs/RATING.md §2 gives the reasons for each window).
pub fn notice_2020_72() -> RatingPolicy {
    let one = ["video", "realname", "dust_noise", "wage_account"];
    let two = ["crane", "safety_quality", "quality_testing"];
    let three = ["power_water", "hazardous_works", "bim", "coordination"];
    let ids = |xs: &[&[&str]]| xs.iter().flat_map(|x| x.iter()).map(|s| id(s)).collect::<Vec<_>>();
    RatingPolicy {
        version: 1,
        title: text("甬建发〔2020〕72号《宁波市住房和城乡建设局关于全面加快宁波市智慧工地建设的通知》三(二)、三(三)"),
        effective_from: LocalDate::parse("2020-08-28").expect("a literal date"),
        applications: vec![
            app("video", "远程视频监控", &["video."], 30, 20),
            app("realname", "人员实名制管理", &["worker."], 30, 20),
            app("dust_noise", "扬尘噪声监测", &["env."], 30, 20),
            app("wage_account", "工资专用账户管理", &["wage."], 35, 1),
            app("crane", "起重机械安全监控", &["crane.", "hoist."], 30, 15),
            app("safety_quality", "工程安全质量监管", &["inspection."], 30, 1),
            app("quality_testing", "工程质量检测监管", &["testing."], 60, 1),
            app("power_water", "施工用电用水监测", &["meter."], 30, 20),
            app("hazardous_works", "危险性较大的分部分项工程安全管理", &["hazard."], 30, 1),
            app("bim", "BIM施工", &["bim."], 60, 1),
            app("coordination", "政府协同联动", &["task."], 90, 1),
        ],
        levels: vec![
            LevelRule { level: StarLevel::ONE, applications: ids(&[&one]) },
            LevelRule { level: StarLevel::TWO, applications: ids(&[&one, &two]) },
            LevelRule { level: StarLevel::THREE, applications: ids(&[&one, &two, &three]) },
        ],
        phases: vec![
            Phase {
                id: id("p2020"),
                name: name_of("扩面阶段"),
                from_year: 2020,
                to_year: Some(2020),
                rules: vec![
                    rule(
                        "p2020_standard_site",
                        StarLevel::ONE,
                        RuleScope::StandardSiteProgramme,
                        None,
                        None,
                        "参加宁波市建设工程安全文明施工标准化工地创建的项目……均达到一星级“智慧工地”标准",
                    ),
                    rule(
                        "p2020_central_urban",
                        StarLevel::ONE,
                        RuleScope::CentralUrban,
                        Some(5_000),
                        Some(50_000_000),
                        "各地中心城区范围内建筑面积5000平方米或5000万造价以上新开工工程均达到一星级“智慧工地”标准",
                    ),
                ],
                three_star_share_permille: None,
            },
            Phase {
                id: id("p2021"),
                name: name_of("提质阶段"),
                from_year: 2021,
                to_year: Some(2021),
                rules: vec![
                    rule(
                        "p2021_one_star",
                        StarLevel::ONE,
                        RuleScope::City,
                        Some(5_000),
                        Some(20_000_000),
                        "全市范围内建筑面积5000平方米以上或造价2000万以上新开工工程应达到一星级“智慧工地”标准",
                    ),
                    rule(
                        "p2021_two_star",
                        StarLevel::TWO,
                        RuleScope::City,
                        Some(100_000),
                        Some(200_000_000),
                        "其中建筑面积10万平方米以上或造价2亿以上的新开工工程，应达到两星级“智慧工地”标准",
                    ),
                ],
                three_star_share_permille: None,
            },
            Phase {
                id: id("p2022"),
                name: name_of("增效阶段"),
                from_year: 2022,
                to_year: None,
                rules: vec![
                    rule(
                        "p2022_connected",
                        StarLevel::NONE,
                        RuleScope::City,
                        None,
                        None,
                        "新建项目全部接入平台进行智慧化监管",
                    ),
                    rule(
                        "p2022_two_star",
                        StarLevel::TWO,
                        RuleScope::City,
                        Some(50_000),
                        Some(100_000_000),
                        "全市范围内建筑面积5万平方米以上或造价1亿以上新开工工程应达到两星级“智慧工地”标准",
                    ),
                ],
                three_star_share_permille: Some(50),
            },
        ],
    }
}

/// The online-time rule of [`notice_2020_72_v2`] for 远程视频监控 [proposal]: a day counts if the project's cameras
/// were online at least 800 ‰ of the time their reports cover (a camera down 4 h 48 min of 24 h still counts; one
/// down 6 h, 750 ‰, does not). docs/RATING.md §2.1 gives the reasons.
pub const VIDEO_MIN_ONLINE_PERMILLE: u32 = 800;

/// The second policy version [proposal]: version 1 with one change, 远程视频监控's evidence day also needs the
/// project's cameras online at least [`VIDEO_MIN_ONLINE_PERMILLE`] of the time their status reports cover that
/// day (issue 19: an offline camera that keeps reporting "offline" no longer makes the day count). Published by the
/// bureau as `rating.policy.v1` version 2 (the kind gains an optional member, docs/KINDS.md).
pub fn notice_2020_72_v2() -> RatingPolicy {
    let mut p = notice_2020_72();
    p.version = 2;
    p.effective_from = LocalDate::parse("2026-01-01").expect("a literal date");
    for a in &mut p.applications {
        if a.id.as_str() == "video" {
            a.min_camera_online_permille = Some(VIDEO_MIN_ONLINE_PERMILLE);
        }
    }
    p
}
