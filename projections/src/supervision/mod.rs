//! Read models of supervision workflows: inspections and rectifications (工程安全质量监管), the testing register with
//! its unqualified results and report-number gaps (工程质量检测), 危大工程 with classification and what each still
//! lacks, BIM progress nodes with deviation, and coordination tasks (协同指挥); plus the command view (指挥视图).
//!
//! The projection `supervision` folds `inspection.*`, `testing.*`, `hazard.*`, `bim.*` and `task.*` records into its
//! `sv_*` tables from their typed events (parsed once per batch). Folds store facts only (statuses, deadlines in
//! µs); everything that depends on the time of the question — overdue rectifications, SLA breaches,
//! non-conformities not reported in time, BIM deviation — is computed by the queries from a `now` the caller
//! passes, with the domain's own functions (`siteledger_domain::supervision::{inspection::is_overdue,
//! task::sla_breached, hazard::missing, bim::deviation_days, testing::gaps}`), so the rules live in one place and
//! a rebuild gives the same rows.
//!
//! Queries are `impl ReadDb` blocks taking a [`crate::Scope`]. Tasks without a project belong to their district's scope.
//! Report-number gaps are per laboratory and year across all projects (numbering is the laboratory's): a scoped
//! caller sees the gaps of laboratories that issued at least one report on a visible project.
//!
//! Layout: `schema` (name, version, tables, DDL, row keys), `fold` (one module per workflow, as
//! `siteledger_domain::supervision` is split), `queries` (row types and scoped queries, one module per workflow
//! and the command view).

mod fold;
mod queries;
mod schema;

pub use queries::{
    BimNodeRow, CommandDistrict, CommandView, HazardRow, InspectionRow, RectificationFilter, RectificationRow,
    ReportGapRow, StopOrderRow, TaskRow, TestReportRow, UnqualifiedRow,
};

use crate::db::Tx;
use crate::prepare::Prepared;
use crate::projection::{Effects, FoldFuture, Projection};

/// Supervision workflows (`inspection.*`, `testing.*`, `hazard.*`, `bim.*`, `task.*`).
pub(crate) struct Supervision;

impl Projection for Supervision {
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
