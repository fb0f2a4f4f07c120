//! 星级评定 (star rating), 信用评价 (credit evaluation) and 年度督查 (annual supervision): policies as signed data,
//! reproducible decisions, reports.
//!
//! | kind | stream | signer | what |
//! |---|---|---|---|
//! | `rating.policy.v1` | `city/policy/rating` | city bureau | a version of the star-rating policy ([`policy::RatingPolicy`]) |
//! | `credit.rules.v1` | `city/policy/credit` | city bureau | a version of the credit scoring rules ([`credit::CreditRules`]) |
//! | `rating.decision.v1` | `project/<id>/rating` | city or the project's district bureau | a rating decision ([`RatingDecision`]) |
//! | `rating.standard_site.enrolled.v1` | `project/<id>/rating` | bureau | the project is in the 标准化工地 programme of a year |
//! | `credit.award.granted.v1` | `project/<id>/credit` | bureau | an award (评优评先), a good credit record |
//! | `report.annual.v1` | `city/reports` or `district/<code>/reports` | bureau | an annual supervision report's hashes |
//!
//! Decisions and reports are pure functions of a log prefix (tree size N) and a policy version ([`fold`],
//! [`policy`]); the signed record names both, so anyone can recompute its bytes from the log.

pub mod credit;
pub mod fold;
pub mod policy;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::date::LocalDate;
use crate::district::DistrictCode;
use crate::ids::ProjectId;
use crate::payload::{PayloadError, to_map};
use crate::registry::RegistryState;
use crate::rules::{RecordContext, RuleError};
use crate::schema::{Issue, Member, each, each_object, is, opt, req, typed};
use crate::stream;
use crate::text::Text;

pub use credit::{CreditRecord, CreditRules, CreditScore, Polarity};
pub use policy::{Achieved, ApplicationId, ProjectFacts, RatingPolicy, Required, StarLevel};

/// Kind of [`RatingPolicy`].
pub const POLICY: &str = "rating.policy.v1";
/// Kind of [`CreditRules`].
pub const CREDIT_RULES: &str = "credit.rules.v1";
/// Kind of [`RatingDecision`].
pub const DECISION: &str = "rating.decision.v1";
/// Kind of [`StandardSiteEnrolled`].
pub const STANDARD_SITE: &str = "rating.standard_site.enrolled.v1";
/// Kind of [`AwardGranted`].
pub const AWARD: &str = "credit.award.granted.v1";
/// Kind of [`AnnualReport`].
pub const REPORT: &str = "report.annual.v1";

/// Stream of policy versions.
pub const POLICY_STREAM: &str = "city/policy/rating";
/// Stream of credit rule versions.
pub const CREDIT_RULES_STREAM: &str = "city/policy/credit";
/// Stream of the city's reports.
pub const CITY_REPORTS_STREAM: &str = "city/reports";

/// Every kind of this module.
pub const KINDS: &[&str] = &[POLICY, CREDIT_RULES, DECISION, STANDARD_SITE, AWARD, REPORT];

/// A SHA-256 digest written as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(String);

/// Why a string is not a [`Sha256Hex`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a SHA-256 digest is 64 lowercase hex characters")]
pub struct Sha256HexError;

impl Sha256Hex {
    /// Parses 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, Sha256HexError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Sha256HexError)
        }
    }

    /// The digest as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(Sha256Hex, Sha256HexError);

/// One application's line in a decision's evidence summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceLine {
    /// The application.
    pub id: ApplicationId,
    /// Days with records in its window.
    pub days: u32,
    /// Whether it counts as running.
    pub runs: bool,
}

/// Payload of `rating.decision.v1`: a project's rating, computed from the log's first `tree_size` records under
/// policy `policy_version` as of `as_of`. Its canonical JSON is exactly the decision document the platform
/// recomputes (docs/RATING.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingDecision {
    /// The project.
    pub project_id: ProjectId,
    /// Policy version used.
    pub policy_version: u32,
    /// Log size the decision was computed at.
    pub tree_size: u64,
    /// Date the evidence windows end (inclusive).
    pub as_of: LocalDate,
    /// Required level, if the notice requires one of this project.
    pub required: Option<StarLevel>,
    /// The rule that requires it.
    pub required_rule: Option<ApplicationId>,
    /// Level achieved.
    pub achieved: StarLevel,
    /// Whether any application has data in its window.
    pub connected: bool,
    /// Whether the requirement is met (`null` when none applies).
    pub meets: Option<bool>,
    /// Evidence summary per application.
    pub applications: Vec<EvidenceLine>,
    /// SHA-256 of the canonical evidence document (every day counted, per application).
    pub evidence_sha256: Sha256Hex,
}

/// Payload of `rating.standard_site.enrolled.v1`: the project takes part in the year's 宁波市建设工程安全文明施工
/// 标准化工地创建 (the notice's 2020 scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardSiteEnrolled {
    /// The project.
    pub project_id: ProjectId,
    /// The programme's year.
    pub year: u16,
    /// Reference (e.g. the list it appears on).
    pub note: Text,
}

/// Payload of `credit.award.granted.v1`: an award (评优评先) to a project, a good credit record of its parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardGranted {
    /// The project.
    pub project_id: ProjectId,
    /// Award title (e.g. `宁波市建设工程安全文明施工标准化优良工地`).
    pub title: Text,
    /// Year of the award.
    pub year: u16,
}

/// Payload of `report.annual.v1`: an annual supervision report's identity and hashes. The report itself (HTML
/// and CSV) is regenerated from the log by `siteledger report annual --year Y [--district D] --at-size N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnualReport {
    /// The year reported on.
    pub year: u16,
    /// The district, or `null` for the whole city.
    pub district: Option<DistrictCode>,
    /// Log size it was computed at.
    pub tree_size: u64,
    /// Policy version used.
    pub policy_version: u32,
    /// Date the evidence windows end.
    pub as_of: LocalDate,
    /// SHA-256 of the canonical report document (JSON).
    pub content_sha256: Sha256Hex,
    /// SHA-256 of the HTML rendering.
    pub html_sha256: Sha256Hex,
    /// SHA-256 of the CSV rendering.
    pub csv_sha256: Sha256Hex,
}

/// A typed event of this subsystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingEvent {
    /// `rating.policy.v1`.
    Policy(RatingPolicy),
    /// `credit.rules.v1`.
    CreditRules(CreditRules),
    /// `rating.decision.v1`.
    Decision(RatingDecision),
    /// `rating.standard_site.enrolled.v1`.
    StandardSite(StandardSiteEnrolled),
    /// `credit.award.granted.v1`.
    Award(AwardGranted),
    /// `report.annual.v1`.
    Report(AnnualReport),
}

mod t {
    //! Member types, for the schema tables.
    pub(super) use super::Sha256Hex;
    pub(super) use super::credit::Polarity;
    pub(super) use super::policy::{ApplicationId, KindPrefix, RuleScope, StarLevel};
    pub(super) use crate::date::LocalDate;
    pub(super) use crate::district::DistrictCode;
    pub(super) use crate::ids::ProjectId;
    pub(super) use crate::quantity::{AreaM2, MoneyFen};
    pub(super) use crate::registry::ParticipantRole;
    pub(super) use crate::text::{Name, Text};
}

const APPLICATION: &[Member] = &[
    req("id", is::<t::ApplicationId>),
    req("name", is::<t::Name>),
    req("prefixes", each::<t::KindPrefix>),
    req("window_days", is::<u32>),
    req("min_days", is::<u32>),
    opt("min_camera_online_permille", is::<u32>),
];
const LEVEL: &[Member] = &[req("level", is::<t::StarLevel>), req("applications", each::<t::ApplicationId>)];
const RULE: &[Member] = &[
    req("id", is::<t::ApplicationId>),
    req("level", is::<t::StarLevel>),
    req("scope", is::<t::RuleScope>),
    opt("floor_area_m2_at_least", is::<t::AreaM2>),
    opt("contract_cost_fen_at_least", is::<t::MoneyFen>),
    req("text", is::<t::Text>),
];
fn rules(v: &Value) -> Result<(), Issue> {
    each_object(v, RULE)
}
const PHASE: &[Member] = &[
    req("id", is::<t::ApplicationId>),
    req("name", is::<t::Name>),
    req("from_year", is::<u16>),
    opt("to_year", is::<u16>),
    req("rules", rules),
    opt("three_star_share_permille", is::<u32>),
];
fn applications(v: &Value) -> Result<(), Issue> {
    each_object(v, APPLICATION)
}
fn levels(v: &Value) -> Result<(), Issue> {
    each_object(v, LEVEL)
}
fn phases(v: &Value) -> Result<(), Issue> {
    each_object(v, PHASE)
}
const POLICY_SCHEMA: &[Member] = &[
    req("version", is::<u32>),
    req("title", is::<t::Text>),
    req("effective_from", is::<t::LocalDate>),
    req("applications", applications),
    req("levels", levels),
    req("phases", phases),
];

const GRADE: &[Member] = &[req("grade", is::<t::Name>), req("min_points", is::<i64>)];
const MAPPING: &[Member] = &[
    req("id", is::<t::ApplicationId>),
    req("kind", is::<t::Text>),
    opt("field", is::<t::Text>),
    opt("equals", is::<String>),
    req("polarity", is::<t::Polarity>),
    req("points", is::<i64>),
    req("effective_days", is::<u32>),
    req("party", is::<t::ParticipantRole>),
    req("description", is::<t::Text>),
];
fn grades(v: &Value) -> Result<(), Issue> {
    each_object(v, GRADE)
}
fn mappings(v: &Value) -> Result<(), Issue> {
    each_object(v, MAPPING)
}
const RULES_SCHEMA: &[Member] = &[
    req("version", is::<u32>),
    req("title", is::<t::Text>),
    req("base_points", is::<i64>),
    req("grades", grades),
    req("mappings", mappings),
];

const EVIDENCE_LINE: &[Member] = &[req("id", is::<t::ApplicationId>), req("days", is::<u32>), req("runs", is::<bool>)];
fn evidence_lines(v: &Value) -> Result<(), Issue> {
    each_object(v, EVIDENCE_LINE)
}
const DECISION_SCHEMA: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("policy_version", is::<u32>),
    req("tree_size", is::<u64>),
    req("as_of", is::<t::LocalDate>),
    req("required", is_nullable::<t::StarLevel>),
    req("required_rule", is_nullable::<t::ApplicationId>),
    req("achieved", is::<t::StarLevel>),
    req("connected", is::<bool>),
    req("meets", is_nullable::<bool>),
    req("applications", evidence_lines),
    req("evidence_sha256", is::<t::Sha256Hex>),
];
const STANDARD_SITE_SCHEMA: &[Member] =
    &[req("project_id", is::<t::ProjectId>), req("year", is::<u16>), req("note", is::<t::Text>)];
const AWARD_SCHEMA: &[Member] =
    &[req("project_id", is::<t::ProjectId>), req("title", is::<t::Text>), req("year", is::<u16>)];
const REPORT_SCHEMA: &[Member] = &[
    req("year", is::<u16>),
    req("district", is_nullable::<t::DistrictCode>),
    req("tree_size", is::<u64>),
    req("policy_version", is::<u32>),
    req("as_of", is::<t::LocalDate>),
    req("content_sha256", is::<t::Sha256Hex>),
    req("html_sha256", is::<t::Sha256Hex>),
    req("csv_sha256", is::<t::Sha256Hex>),
];

/// A required member whose value may be `null` (written explicitly, so the decision document has one shape).
fn is_nullable<T: serde::de::DeserializeOwned>(v: &Value) -> Result<(), Issue> {
    if v.is_null() { Ok(()) } else { is::<T>(v) }
}

impl RatingEvent {
    /// Type-checks `payload` as `kind`; `None` if the kind is not this module's.
    pub fn parse(kind: &str, payload: &Map<String, Value>) -> Option<Result<Self, PayloadError>> {
        Some(match kind {
            POLICY => typed(POLICY, payload, POLICY_SCHEMA).map(Self::Policy),
            CREDIT_RULES => typed(CREDIT_RULES, payload, RULES_SCHEMA).map(Self::CreditRules),
            DECISION => typed(DECISION, payload, DECISION_SCHEMA).map(Self::Decision),
            STANDARD_SITE => typed(STANDARD_SITE, payload, STANDARD_SITE_SCHEMA).map(Self::StandardSite),
            AWARD => typed(AWARD, payload, AWARD_SCHEMA).map(Self::Award),
            REPORT => typed(REPORT, payload, REPORT_SCHEMA).map(Self::Report),
            _ => return None,
        })
    }

    /// The versioned kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Policy(_) => POLICY,
            Self::CreditRules(_) => CREDIT_RULES,
            Self::Decision(_) => DECISION,
            Self::StandardSite(_) => STANDARD_SITE,
            Self::Award(_) => AWARD,
            Self::Report(_) => REPORT,
        }
    }

    /// The envelope payload.
    pub fn to_payload(&self) -> Map<String, Value> {
        match self {
            Self::Policy(p) => to_map(p),
            Self::CreditRules(p) => to_map(p),
            Self::Decision(p) => to_map(p),
            Self::StandardSite(p) => to_map(p),
            Self::Award(p) => to_map(p),
            Self::Report(p) => to_map(p),
        }
    }

    /// The project concerned, if any.
    pub fn project_id(&self) -> Option<&ProjectId> {
        match self {
            Self::Decision(d) => Some(&d.project_id),
            Self::StandardSite(s) => Some(&s.project_id),
            Self::Award(a) => Some(&a.project_id),
            Self::Policy(_) | Self::CreditRules(_) | Self::Report(_) => None,
        }
    }

    /// The stream the event belongs in.
    pub fn expected_stream(&self) -> String {
        match self {
            Self::Policy(_) => POLICY_STREAM.to_owned(),
            Self::CreditRules(_) => CREDIT_RULES_STREAM.to_owned(),
            Self::Decision(d) => stream::project_stream(&d.project_id, "rating"),
            Self::StandardSite(s) => stream::project_stream(&s.project_id, "rating"),
            Self::Award(a) => stream::project_stream(&a.project_id, "credit"),
            Self::Report(r) => match &r.district {
                None => CITY_REPORTS_STREAM.to_owned(),
                Some(d) => stream::district_stream(d, "reports"),
            },
        }
    }

    /// Whether `stream` fits the event; `Err` describes the expected stream.
    pub fn check_stream(&self, stream: &str) -> Result<(), String> {
        let expected = self.expected_stream();
        if stream == expected { Ok(()) } else { Err(expected) }
    }
}

/// What the admission rules of this subsystem remember: the published versions (the documents themselves are
/// read from the log when a decision is computed, so the state stays small).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingState {
    policy_versions: BTreeSet<u32>,
    rules_versions: BTreeSet<u32>,
}

const BUREAUS: [&str; 2] = ["city_bureau", "district_bureau"];

impl RatingState {
    /// Whether records of `kind` change this state.
    pub fn wants(kind: &str) -> bool {
        kind == POLICY || kind == CREDIT_RULES
    }

    /// Published policy versions.
    pub fn policy_versions(&self) -> &BTreeSet<u32> {
        &self.policy_versions
    }

    /// May this record be accepted now? Every rule of the subsystem.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &RatingEvent,
    ) -> Result<(), RuleError> {
        match event {
            RatingEvent::Policy(p) => {
                city_only(ctx, "rating.policy_signer")?;
                let next = self.policy_versions.last().map_or(1, |v| v + 1);
                if p.version != next {
                    return Err(RuleError::new(
                        "rating.policy_version",
                        format!("policy versions are published in order: the next one is {next}, not {}", p.version),
                    ));
                }
                policy::check_policy(p).map_err(|m| RuleError::new("rating.policy_coherent", m))
            }
            RatingEvent::CreditRules(r) => {
                city_only(ctx, "credit.rules_signer")?;
                let next = self.rules_versions.last().map_or(1, |v| v + 1);
                if r.version != next {
                    return Err(RuleError::new(
                        "credit.rules_version",
                        format!(
                            "credit rule versions are published in order: the next one is {next}, not {}",
                            r.version
                        ),
                    ));
                }
                r.check().map_err(|m| RuleError::new("credit.rules_coherent", m))
            }
            RatingEvent::Decision(d) => {
                self.known_policy(d.policy_version, "rating.decision_policy")?;
                if d.tree_size == 0 {
                    return Err(RuleError::new("rating.decision_size", "a decision is computed at a tree size ≥ 1"));
                }
                bureau_for_project(ctx, registry, &d.project_id, "rating.decision_signer")
            }
            RatingEvent::StandardSite(s) => bureau_for_project(ctx, registry, &s.project_id, "rating.programme_signer"),
            RatingEvent::Award(a) => bureau_for_project(ctx, registry, &a.project_id, "credit.award_signer"),
            RatingEvent::Report(r) => {
                self.known_policy(r.policy_version, "report.policy")?;
                match (ctx.signer_role, &r.district) {
                    ("city_bureau", _) => Ok(()),
                    ("district_bureau", Some(d)) if d.as_str() == ctx.signer_subject => Ok(()),
                    _ => Err(RuleError::new(
                        "report.signer",
                        "an annual report is signed by the city bureau, or by a district bureau for its own district",
                    )),
                }
            }
        }
    }

    fn known_policy(&self, version: u32, rule: &str) -> Result<(), RuleError> {
        if self.policy_versions.contains(&version) {
            Ok(())
        } else {
            Err(RuleError::new(
                rule,
                format!("policy version {version} has not been published (rating.policy.v1 in {POLICY_STREAM})"),
            ))
        }
    }

    /// Folds an accepted record; no rules.
    pub fn evolve(&mut self, ctx: &RecordContext<'_>, event: &RatingEvent) {
        let _ = ctx;
        match event {
            RatingEvent::Policy(p) => {
                self.policy_versions.insert(p.version);
            }
            RatingEvent::CreditRules(r) => {
                self.rules_versions.insert(r.version);
            }
            _ => {}
        }
    }
}

fn city_only(ctx: &RecordContext<'_>, rule: &str) -> Result<(), RuleError> {
    if ctx.signer_role == "city_bureau" {
        Ok(())
    } else {
        Err(RuleError::new(rule, format!("only the city bureau (市住建局) signs this, not a {} key", ctx.signer_role)))
    }
}

fn bureau_for_project(
    ctx: &RecordContext<'_>,
    registry: &RegistryState,
    project_id: &ProjectId,
    rule: &str,
) -> Result<(), RuleError> {
    let Some(district) = registry.district_of(project_id) else {
        return Err(RuleError::new(rule, format!("project {project_id} is not registered")));
    };
    match ctx.signer_role {
        "city_bureau" => Ok(()),
        "district_bureau" if district.as_str() == ctx.signer_subject => Ok(()),
        role if BUREAUS.contains(&role) => Err(RuleError::new(
            rule,
            format!("project {project_id} is supervised by district {district}, not by {}", ctx.signer_subject),
        )),
        role => Err(RuleError::new(rule, format!("only a bureau signs this, not a {role} key"))),
    }
}
