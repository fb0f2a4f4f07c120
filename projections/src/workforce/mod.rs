//! Read models of 实名制 and 工资专用账户: roster and who is on site, daily attendance, payroll lines, transfers,
//! cards, certificates, accounts and deposits; and the arrears view, which runs the domain's pure rules
//! ([`siteledger_domain::workforce::arrears`]) over those tables.
//!
//! The fold receives each `worker.*`/`wage.*` record typed by the domain (parsed once per batch) and
//! aggregates gate passages per (project, person, day) inside the batch before writing, so a batch of passages
//! costs one upsert per worker-day, not one per passage. The fold never computes findings: they depend on "as of" (a
//! date taken from the log — the latest `occurred_at` day folded of that project's workforce records, so no other
//! project's traffic moves a project's findings — or given by the caller), and computing them from the tables
//! keeps the fold deterministic and idempotent. One project's view is computed at query time; the views over
//! many projects (the city's, a district's) read each project's findings with the default options as the runtime
//! last computed them when its facts changed ([`findings`]: the city's view would otherwise cost its whole
//! workforce history per request). Only masked forms and commitments are stored: this database never holds a
//! plaintext ID or card number.
//!
//! Published findings (`wage.finding.recorded.v1`) are folded into `wf_findings_published` (finding id → the
//! signed record's event id): the arrears view marks each computed finding with its publication, if any; the
//! computation itself does not look at them.
//!
//! Layout: [`schema`] (name, version, tables, DDL), [`fold`] (by sub-kind), [`queries`] (row types and scoped
//! queries), [`findings`] (the stored findings and their refresh).

mod findings;
mod fold;
mod queries;
mod schema;

pub use findings::{ArrearsView, DEFAULT_DAYS_TOLERANCE, FindingCount, FindingsPage, READ_THROUGH_PROJECTS};
pub use queries::{
    ArrearsRow, AttendanceRow, PayrollLineRow, PayrollVsAttendance, RosterCursor, RosterPage, WorkerRow,
};

use crate::db::Tx;
use crate::prepare::Prepared;
use crate::projection::{Effects, FoldFuture, Projection};

/// 实名制 and wages (`worker.*`, `wage.*`).
pub(crate) struct Workforce;

impl Projection for Workforce {
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
