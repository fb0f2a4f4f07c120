//! Read models of star ratings, credit evaluation and annual reports.
//!
//! The projection `rating` folds (typed events, parsed once per batch):
//! * every project-scoped record whose kind has an application's prefix (the shared table of the notice's
//!   eleven applications, [`APPLICATIONS`]) into `rating_app_days` (project × application × Asia/Shanghai day →
//!   records), which the dashboard shows as "days with data";
//! * `rating.decision.v1` into `rating_decisions` (a project's rating history), `rating.policy.v1` and
//!   `credit.rules.v1` into `rating_policies`, `report.annual.v1` into `rating_reports`,
//!   `rating.standard_site.enrolled.v1` and `credit.award.granted.v1` into `rating_facts`.
//!
//! These tables are for display only: decisions, scores and reports are always computed from the log itself
//! (`siteledger_api::ratings`), never from here, so that they are reproducible. Queries take a [`crate::Scope`].
//!
//! The computation's own fold lives here too, because it is a read model of the log: [`prefix::LogPrefix`] folds
//! the log's first N records with the domain's `RatingFold`, from record 0 or resumed from a snapshot of the fold
//! kept in the read database ([`snapshots`], table `rating_fold_snapshots`) and checked against the log first.
//!
//! Layout: `schema` (name, version, tables, DDL), `fold`, `queries` (row types and scoped queries), `prefix`
//! (the log prefix for computations), `snapshots` (the fold's snapshots).

mod fold;
pub mod prefix;
mod queries;
mod schema;
pub mod snapshots;

pub use queries::{AppDaysRow, DecisionRow, PolicyRow, ReportRow};

use crate::db::Tx;
use crate::prepare::Prepared;
use crate::projection::{Effects, FoldFuture, Projection};

/// The notice's eleven applications and their kind prefixes (the shared vocabulary of the subsystems).
pub const APPLICATIONS: &[(&str, &str, &[&str])] = &[
    ("video", "远程视频监控", &["video."]),
    ("realname", "人员实名制管理", &["worker."]),
    ("dust_noise", "扬尘噪声监测", &["env."]),
    ("wage_account", "工资专用账户管理", &["wage."]),
    ("crane", "起重机械安全监控", &["crane.", "hoist."]),
    ("safety_quality", "工程安全质量监管", &["inspection."]),
    ("quality_testing", "工程质量检测监管", &["testing."]),
    ("power_water", "施工用电用水监测", &["meter."]),
    ("hazardous_works", "危险性较大的分部分项工程安全管理", &["hazard."]),
    ("bim", "BIM施工", &["bim."]),
    ("coordination", "政府协同联动", &["task."]),
];

/// The application of a kind, if any.
pub fn application_of(kind: &str) -> Option<&'static str> {
    APPLICATIONS.iter().find(|(_, _, prefixes)| prefixes.iter().any(|p| kind.starts_with(p))).map(|(id, _, _)| *id)
}

/// Ratings, credit and reports (`rating.*`, `credit.*`, `report.*`), and days with data per application.
pub(crate) struct Rating;

impl Projection for Rating {
    fn name(&self) -> &'static str {
        schema::NAME
    }
    fn version(&self) -> i64 {
        schema::VERSION
    }
    fn tables(&self) -> &'static [&'static str] {
        schema::TABLES
    }
    fn ddl(&self) -> &'static [&'static str] {
        schema::DDL
    }
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], _fx: &'a mut Effects) -> FoldFuture<'a> {
        Box::pin(fold::fold(tx, batch))
    }
}
