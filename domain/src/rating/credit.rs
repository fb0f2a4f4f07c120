//! 信用评价 (credit evaluation): versioned scoring rules as data (`credit.rules.v1`) and the pure scoring function.
//!
//! **The scoring model is the platform's proposal, not a regulation** (DOMAIN.md §9: no Ningbo/Zhejiang rule was
//! found; the national frame 建市〔2017〕241号 has good and bad records with an effective period). A rule maps a
//! record kind (exact, or a prefix written `inspection.*`), optionally with one payload field's value, to a good
//! or bad credit record of a project participant (by role), worth some points and effective for some days from
//! the day it occurred. An enterprise's score is `base_points` plus the points of its records effective on the
//! as-of date; every point is traced to the event id and log position behind it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::date::LocalDate;
use crate::ids::{CreditCode, ProjectId};
use crate::registry::ParticipantRole;
use crate::text::{Name, Text};

use super::policy::ApplicationId;

/// Good (良好) or bad (不良) record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// 良好信用记录.
    Good,
    /// 不良信用记录.
    Bad,
}

/// One mapping from a record to a credit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditMapping {
    /// Stable id, cited by each credit record (`alarm_violation`).
    pub id: ApplicationId,
    /// The kind (`alarm.raised.v1`) or a prefix pattern (`inspection.*`).
    pub kind: String,
    /// A payload field that must have the value `equals` (strings compare as written, integers in decimal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value `field` must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// Good or bad.
    pub polarity: Polarity,
    /// Points: positive for good records, negative for bad ones.
    pub points: i64,
    /// Days the record is effective from the day it occurred (Asia/Shanghai).
    pub effective_days: u32,
    /// Which participant of the project the record is about.
    pub party: ParticipantRole,
    /// What it means, in Chinese.
    pub description: Text,
}

impl CreditMapping {
    /// Whether a record of `kind` with `payload` matches.
    pub fn matches(&self, kind: &str, payload: &Map<String, Value>) -> bool {
        let kind_ok = match self.kind.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => kind == self.kind,
        };
        if !kind_ok {
            return false;
        }
        match (&self.field, &self.equals) {
            (Some(f), Some(v)) => match payload.get(f) {
                Some(Value::String(s)) => s == v,
                Some(Value::Number(n)) => n.to_string() == *v,
                Some(Value::Bool(b)) => b.to_string() == *v,
                _ => false,
            },
            _ => true,
        }
    }
}

/// A grade band: scores at or above `min_points` (and below the next band) get `grade`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    /// `AAA`, `AA`, `A`, `B`, `C`.
    pub grade: Name,
    /// Lowest score of the band.
    pub min_points: i64,
}

/// Payload of `credit.rules.v1`: one version of the credit scoring rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditRules {
    /// Version, 1, 2, … (each the previous plus one).
    pub version: u32,
    /// Title.
    pub title: Text,
    /// Score of an enterprise without records.
    pub base_points: i64,
    /// Grade bands (any order).
    pub grades: Vec<Grade>,
    /// The mapping table.
    pub mappings: Vec<CreditMapping>,
}

impl CreditRules {
    /// Coherence beyond the schema: unique mapping ids, points signed by polarity, effective periods ≥ 1 day,
    /// a `field` only with an `equals`.
    pub fn check(&self) -> Result<(), String> {
        let mut ids = std::collections::BTreeSet::new();
        for m in &self.mappings {
            if !ids.insert(&m.id) {
                return Err(format!("mapping {} is listed twice", m.id));
            }
            if m.field.is_some() != m.equals.is_some() {
                return Err(format!("mapping {}: `field` and `equals` go together", m.id));
            }
            let sign_ok = match m.polarity {
                Polarity::Good => m.points >= 0,
                Polarity::Bad => m.points <= 0,
            };
            if !sign_ok {
                return Err(format!("mapping {}: good records add points, bad records deduct them", m.id));
            }
            if m.effective_days == 0 || m.effective_days > 3 * 366 {
                return Err(format!("mapping {}: effective_days must be 1 to 1098", m.id));
            }
            if m.kind.is_empty() || m.kind.len() > 100 {
                return Err(format!("mapping {}: kind must be 1 to 100 characters", m.id));
            }
        }
        if self.grades.is_empty() {
            return Err("at least one grade band".into());
        }
        Ok(())
    }

    /// The grade of `score`: the band with the highest `min_points` not above it (the lowest band otherwise).
    pub fn grade(&self, score: i64) -> String {
        let mut bands: Vec<&Grade> = self.grades.iter().collect();
        bands.sort_by_key(|g| std::cmp::Reverse(g.min_points));
        bands
            .iter()
            .find(|g| score >= g.min_points)
            .or(bands.last())
            .map(|g| g.grade.as_str().to_owned())
            .unwrap_or_default()
    }
}

/// A credit record derived from one log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRecord {
    /// The enterprise concerned.
    pub credit_code: CreditCode,
    /// The project, if the record is project-scoped.
    pub project_id: Option<ProjectId>,
    /// The mapping that produced it.
    pub mapping: String,
    /// Good or bad.
    pub polarity: Polarity,
    /// Points.
    pub points: i64,
    /// First effective day.
    pub effective_from: LocalDate,
    /// First day it no longer counts.
    pub effective_until: LocalDate,
    /// The log record behind it.
    pub event_id: String,
    /// Its log position (leaf index).
    pub position: u64,
    /// Its kind.
    pub kind: String,
}

impl CreditRecord {
    /// Whether it counts on `day`.
    pub fn effective_on(&self, day: LocalDate) -> bool {
        self.effective_from <= day && day < self.effective_until
    }
}

/// An enterprise's score on a day, with the records behind every point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditScore {
    /// The enterprise.
    pub credit_code: CreditCode,
    /// `base_points` + Σ points of `records`.
    pub score: i64,
    /// Grade from the rules' bands.
    pub grade: String,
    /// The effective records, by log position.
    pub records: Vec<CreditRecord>,
}

/// Scores every enterprise in `enterprises` (and every enterprise with a record) on `as_of`.
pub fn score_all<'a>(
    rules: &CreditRules,
    records: impl IntoIterator<Item = &'a CreditRecord>,
    enterprises: impl IntoIterator<Item = &'a CreditCode>,
    as_of: LocalDate,
) -> Vec<CreditScore> {
    let mut by: BTreeMap<CreditCode, Vec<CreditRecord>> =
        enterprises.into_iter().map(|c| (c.clone(), Vec::new())).collect();
    for r in records {
        if r.effective_on(as_of) {
            by.entry(r.credit_code.clone()).or_default().push(r.clone());
        }
    }
    by.into_iter()
        .map(|(credit_code, mut records)| {
            records.sort_by_key(|r| (r.position, r.mapping.clone()));
            let score = rules.base_points + records.iter().map(|r| r.points).sum::<i64>();
            CreditScore { credit_code, score, grade: rules.grade(score), records }
        })
        .collect()
}

fn name(s: &str) -> Name {
    Name::parse(s).expect("a literal grade name")
}

fn text(s: &str) -> Text {
    Text::parse(s).expect("a literal description")
}

#[expect(clippy::too_many_arguments, reason = "one literal table row")]
fn mapping(
    id: &str,
    kind: &str,
    field: Option<(&str, &str)>,
    polarity: Polarity,
    points: i64,
    effective_days: u32,
    party: ParticipantRole,
    description: &str,
) -> CreditMapping {
    CreditMapping {
        id: ApplicationId::parse(id).expect("a literal mapping id"),
        kind: kind.to_owned(),
        field: field.map(|f| f.0.to_owned()),
        equals: field.map(|f| f.1.to_owned()),
        polarity,
        points,
        effective_days,
        party,
        description: text(description),
    }
}

/// The platform's proposed first version of the scoring rules, over the kinds the platform defines (docs/KINDS.md):
/// ratings, awards, violation alarms, signer gaps, inspection findings by level, failed rectification reviews,
/// stop-work orders, crane power cut-offs, and wage findings a bureau has published (`wage.finding.recorded.v1`
/// with rule `arrears_suspected` or `underpayment`). Rows for facts that are derived from time rather than signed
/// (overdue rectifications, late labour-cost funding, unreported unqualified results) match nothing until a bureau
/// signs such records; the bureau adjusts all of it by publishing a new version.
pub fn proposal_v1() -> CreditRules {
    use ParticipantRole::{GeneralContractor as Gc, Owner};
    use Polarity::{Bad, Good};
    CreditRules {
        version: 1,
        title: text("平台建议的信用评分规则（非规范性文件）第1版 · platform proposal, not a regulation"),
        base_points: 100,
        grades: vec![
            Grade { grade: name("AAA"), min_points: 110 },
            Grade { grade: name("AA"), min_points: 100 },
            Grade { grade: name("A"), min_points: 90 },
            Grade { grade: name("B"), min_points: 75 },
            Grade { grade: name("C"), min_points: 0 },
        ],
        mappings: vec![
            mapping(
                "rating_three_star",
                "rating.decision.v1",
                Some(("achieved", "3")),
                Good,
                5,
                365,
                Gc,
                "项目评为三星级智慧工地",
            ),
            mapping(
                "rating_two_star",
                "rating.decision.v1",
                Some(("achieved", "2")),
                Good,
                3,
                365,
                Gc,
                "项目评为二星级智慧工地",
            ),
            mapping(
                "alarm_violation",
                "alarm.raised.v1",
                Some(("level", "violation")),
                Bad,
                -1,
                180,
                Gc,
                "监测超标/违规告警",
            ),
            mapping("data_gap", "ledger.signer.gap.v1", None, Bad, -2, 365, Gc, "监测数据缺失（签名序号断档）"),
            mapping("award", "credit.award.granted.v1", None, Good, 5, 730, Gc, "评优评先（安全文明施工标准化工地等）"),
            mapping(
                "finding_serious",
                "inspection.finding.recorded.v1",
                Some(("level", "serious")),
                Bad,
                -5,
                365,
                Gc,
                "监督检查严重问题",
            ),
            mapping(
                "finding_general",
                "inspection.finding.recorded.v1",
                Some(("level", "general")),
                Bad,
                -2,
                180,
                Gc,
                "监督检查一般问题",
            ),
            mapping(
                "rectification_failed",
                "inspection.rectification.reviewed.v1",
                Some(("result", "fail")),
                Bad,
                -3,
                365,
                Gc,
                "整改复查未通过",
            ),
            mapping("stop_work", "inspection.stop_work.ordered.v1", None, Bad, -5, 365, Gc, "责令停工"),
            // Wage findings count once a bureau has published them (wage.finding.recorded.v1).
            mapping(
                "wage_arrears",
                "wage.finding.recorded.v1",
                Some(("rule", "arrears_suspected")),
                Bad,
                -10,
                1095,
                Gc,
                "拖欠农民工工资（住建部门公布的欠薪认定：有考勤、发薪日已过未见转账）",
            ),
            mapping(
                "wage_underpayment",
                "wage.finding.recorded.v1",
                Some(("rule", "underpayment")),
                Bad,
                -5,
                1095,
                Gc,
                "克扣农民工工资（住建部门公布：实发低于应发）",
            ),
            // Overdue rectifications, late labour-cost funding and unreported unqualified results are
            // derived from time, not signed records yet: these rows match nothing until a bureau signs them.
            mapping("rectification_overdue", "inspection.rectification.overdue.v1", None, Bad, -3, 365, Gc, "整改逾期"),
            mapping(
                "wage_funding_late",
                "wage.labour_cost.late.v1",
                None,
                Bad,
                -5,
                365,
                Owner,
                "人工费用拨付逾期（建设单位）",
            ),
            mapping("crane_cutoff", "crane.cutoff.v1", None, Bad, -3, 365, Gc, "起重机械超限断电（违规作业）"),
            mapping(
                "test_unreported",
                "testing.nonconformity.overdue.v1",
                None,
                Bad,
                -5,
                365,
                Gc,
                "不合格检测结果未及时报告",
            ),
        ],
    }
}
