//! The command view (指挥视图): what needs action, per district, overdue first.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::{
    HazardRow, RectificationFilter, RectificationRow, ReportGapRow, TaskRow, US, UnqualifiedRow, now_unix, us_text,
};
use crate::Scope;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;

/// Per-district counts of the command view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommandDistrict {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Open tasks.
    pub open_tasks: usize,
    /// Of which past their SLA.
    pub breached_tasks: usize,
    /// Overdue rectifications.
    pub overdue_rectifications: usize,
    /// 超规模 works without a valid expert review.
    pub missing_reviews: usize,
    /// 危大 works without approval / countersignature.
    pub missing_approvals: usize,
    /// Report-number gaps of labs working here.
    pub report_gaps: usize,
    /// Unqualified results not reported in time.
    pub unreported_unqualified: usize,
}

/// The command view (指挥视图): what needs action, overdue first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommandView {
    /// The time the view was computed for.
    pub now: String,
    /// Per district, the districts with the most overdue items first.
    pub districts: Vec<CommandDistrict>,
    /// Open tasks, breached first, then by due time.
    pub open_tasks: Vec<TaskRow>,
    /// Overdue rectifications, most overdue first.
    pub overdue_rectifications: Vec<RectificationRow>,
    /// 超规模 works lacking a valid expert review (and others lacking approval), not yet accepted.
    pub missing_reviews: Vec<HazardRow>,
    /// 危大工程 with monitoring anomalies (第三方监测异常), not yet accepted.
    pub monitoring_anomalies: Vec<HazardRow>,
    /// Report-number gaps.
    pub report_gaps: Vec<ReportGapRow>,
    /// Unqualified results not reported by their deadline.
    pub unreported_unqualified: Vec<UnqualifiedRow>,
}

impl ReadDb {
    /// The command view at `now`: open tasks, overdue rectifications, missing expert reviews and approvals,
    /// report-number gaps and unreported unqualified results, per district, overdue first.
    pub async fn command_view(&self, scope: &Scope, now: OffsetDateTime) -> Result<CommandView, ProjectionError> {
        let open_tasks = self.tasks(scope, true, now).await?;
        let filter = RectificationFilter { overdue_only: true, ..RectificationFilter::default() };
        let overdue_rectifications = self.rectifications(scope, &filter, now).await?;
        let hazards = self.hazards(scope, None).await?;
        let monitoring_anomalies: Vec<HazardRow> =
            hazards.iter().filter(|h| h.anomalies > 0 && h.accepted_at.is_none()).cloned().collect();
        let missing_reviews: Vec<HazardRow> = hazards.into_iter().filter(|h| !h.missing.is_empty()).collect();
        let report_gaps = self.report_gaps(scope).await?;
        let unreported_unqualified: Vec<UnqualifiedRow> =
            self.unqualified_register(scope, now).await?.into_iter().filter(|u| u.reporting == "overdue").collect();

        let names: Vec<(String, String)> = self.fetch_all(&Sql::new("SELECT code, name FROM districts")).await?;
        let names: BTreeMap<String, String> = names.into_iter().collect();
        let mut by: BTreeMap<String, CommandDistrict> = BTreeMap::new();
        fn slot<'a>(
            by: &'a mut BTreeMap<String, CommandDistrict>,
            names: &BTreeMap<String, String>,
            code: &str,
        ) -> &'a mut CommandDistrict {
            by.entry(code.to_owned()).or_insert_with(|| CommandDistrict {
                code: code.to_owned(),
                name: names.get(code).cloned().unwrap_or_else(|| code.to_owned()),
                ..CommandDistrict::default()
            })
        }
        macro_rules! entry {
            ($code:expr) => {
                slot(&mut by, &names, $code)
            };
        }
        for t in &open_tasks {
            let d = entry!(&t.district);
            d.open_tasks += 1;
            d.breached_tasks += usize::from(t.breached);
        }
        for r in &overdue_rectifications {
            entry!(&r.district).overdue_rectifications += 1;
        }
        for h in &missing_reviews {
            let d = entry!(&h.district);
            if h.missing.iter().any(|m| m == "expert_review") {
                d.missing_reviews += 1;
            } else {
                d.missing_approvals += 1;
            }
        }
        for g in &report_gaps {
            for code in &g.districts {
                if let Scope::District(own) = scope
                    && own != code
                {
                    continue;
                }
                entry!(code).report_gaps += 1;
            }
        }
        let districts_of: BTreeMap<String, String> = {
            let rows: Vec<(String, String)> =
                self.fetch_all(&Sql::new("SELECT project_id, district FROM projects")).await?;
            rows.into_iter().collect()
        };
        for u in &unreported_unqualified {
            if let Some(d) = districts_of.get(&u.report.project_id) {
                entry!(d).unreported_unqualified += 1;
            }
        }
        let mut districts: Vec<CommandDistrict> = by.into_values().collect();
        districts.sort_by_key(|d| {
            let urgent = d.breached_tasks + d.overdue_rectifications + d.unreported_unqualified;
            (
                std::cmp::Reverse(urgent),
                std::cmp::Reverse(d.missing_reviews + d.report_gaps + d.open_tasks),
                d.code.clone(),
            )
        });
        Ok(CommandView {
            now: us_text(now_unix(now) * US),
            districts,
            open_tasks,
            overdue_rectifications,
            missing_reviews,
            monitoring_anomalies,
            report_gaps,
            unreported_unqualified,
        })
    }
}
