//! Queries of 工程质量检测: the report register, unqualified results with their reporting state, report-number gaps.

use std::collections::BTreeMap;

use serde::Serialize;
use siteledger_domain::supervision::testing;
use time::OffsetDateTime;

use super::{US, now_unix, us_text};
use crate::Scope;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// One test report in the register (检测报告台账).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TestReportRow {
    /// Project.
    pub project_id: String,
    /// Laboratory credit code.
    pub lab: String,
    /// Laboratory name, if registered.
    pub lab_name: Option<String>,
    /// Year.
    pub report_year: i64,
    /// Sequence.
    pub report_seq: i64,
    /// Sample.
    pub sample_id: String,
    /// 检测项目.
    pub item: String,
    /// 结构安全.
    pub structural: i64,
    /// `qualified` / `unqualified`.
    pub result: String,
    /// 检测人.
    pub tester: String,
    /// Summary.
    pub summary: String,
    /// Issued at.
    pub issued_at: String,
    /// Due for the non-conformity report (µs).
    #[serde(skip)]
    pub due_us: i64,
    /// Reported at.
    pub reported_at: Option<String>,
    /// Event id.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

/// An unqualified result in the 不合格项目台账 with its reporting state at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnqualifiedRow {
    /// The report.
    #[serde(flatten)]
    pub report: TestReportRow,
    /// Report due at.
    pub due_at: String,
    /// `reported` / `reported_late` / `pending` / `overdue`.
    pub reporting: String,
}

/// A gap in a laboratory's report numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportGapRow {
    /// Laboratory credit code.
    pub lab: String,
    /// Its name, if registered.
    pub lab_name: Option<String>,
    /// Year.
    pub year: i64,
    /// First missing number.
    pub from: u32,
    /// Last missing number.
    pub to: u32,
    /// Districts of the projects the laboratory reported on (for the command view).
    pub districts: Vec<String>,
}

impl ReadDb {
    /// Test reports (检测报告台账), newest first; `unqualified_only` for the 不合格项目台账.
    pub async fn test_reports(
        &self,
        scope: &Scope,
        project: Option<&str>,
        unqualified_only: bool,
    ) -> Result<Vec<TestReportRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, t.lab, e.name AS lab_name, t.report_year, t.report_seq, t.sample_id, t.item, \
             t.structural, t.result, t.tester, t.summary, t.issued_at, t.due_us, t.reported_at, t.event_id, \
             t.position FROM sv_test_reports t LEFT JOIN enterprises e ON e.credit_code = t.lab WHERE ",
        );
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        if unqualified_only {
            q.push(" AND t.result = 'unqualified'");
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        Ok(self.fetch_all(&q).await?)
    }

    /// The 不合格项目台账 with each result's reporting state at `now` (structural and overdue first).
    pub async fn unqualified_register(
        &self,
        scope: &Scope,
        now: OffsetDateTime,
    ) -> Result<Vec<UnqualifiedRow>, ProjectionError> {
        let rows = self.test_reports(scope, None, true).await?;
        let now_us = now_unix(now) * US;
        let reported: BTreeMap<String, i64> = {
            let q = Sql::new(
                "SELECT report_key, reported_us FROM sv_test_reports WHERE result = 'unqualified' AND reported_us IS NOT NULL",
            );
            let r: Vec<(String, i64)> = self.fetch_all(&q).await?;
            r.into_iter().collect()
        };
        let mut out: Vec<UnqualifiedRow> = rows
            .into_iter()
            .map(|r| {
                let key = format!("{}/{}/{}", r.lab, r.report_year, r.report_seq);
                let reporting = match reported.get(&key) {
                    Some(at) if *at > r.due_us => "reported_late",
                    Some(_) => "reported",
                    None if now_us > r.due_us => "overdue",
                    None => "pending",
                };
                UnqualifiedRow { due_at: us_text(r.due_us), reporting: reporting.to_owned(), report: r }
            })
            .collect();
        out.sort_by_key(|u| (u.reporting != "overdue", u.report.structural == 0, std::cmp::Reverse(u.report.position)));
        Ok(out)
    }

    /// Gaps in report numbers per laboratory and year (the laboratory's whole numbering; see the module docs for
    /// scoping).
    pub async fn report_gaps(&self, scope: &Scope) -> Result<Vec<ReportGapRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT DISTINCT t.lab FROM sv_test_reports t WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        let labs: Vec<(String,)> = self.fetch_all(&q).await?;
        let mut out = Vec::new();
        for (lab,) in labs {
            let rows: Vec<(i64, i64, Option<String>, Option<String>)> = self
                .fetch_all(
                    &Sql::new(
                        "SELECT t.report_year, t.report_seq, p.district, e.name FROM sv_test_reports t \
                         LEFT JOIN projects p ON p.project_id = t.project_id \
                         LEFT JOIN enterprises e ON e.credit_code = t.lab WHERE t.lab = ? ORDER BY t.report_year",
                    )
                    .arg(lab.as_str()),
                )
                .await?;
            let mut by_year: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
            let mut districts: Vec<String> = Vec::new();
            let mut name = None;
            for (year, seq, d, n) in rows {
                by_year.entry(year).or_default().push(u32::try_from(seq).unwrap_or(0));
                if let Some(d) = d
                    && !districts.contains(&d)
                {
                    districts.push(d);
                }
                name = name.or(n);
            }
            districts.sort();
            for (year, seqs) in by_year {
                for g in testing::gaps(seqs) {
                    out.push(ReportGapRow {
                        lab: lab.clone(),
                        lab_name: name.clone(),
                        year,
                        from: g.from,
                        to: g.to,
                        districts: districts.clone(),
                    });
                }
            }
        }
        Ok(out)
    }
}
