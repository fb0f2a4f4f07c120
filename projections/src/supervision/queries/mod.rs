//! Scoped queries over the supervision read models, one module per workflow. Everything that depends on the time
//! of the question is computed here from the `now` the caller passes, with the domain's own functions.

mod bim;
mod command;
mod hazard;
mod inspection;
mod task;
mod testing;

pub use bim::BimNodeRow;
pub use command::{CommandDistrict, CommandView};
pub use hazard::HazardRow;
pub use inspection::{InspectionRow, RectificationFilter, RectificationRow, StopOrderRow};
pub use task::TaskRow;
pub use testing::{ReportGapRow, TestReportRow, UnqualifiedRow};

use time::OffsetDateTime;

use super::schema::US;

pub(super) fn now_unix(now: OffsetDateTime) -> i64 {
    now.unix_timestamp()
}

pub(super) fn us_text(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp(us / US)
        .map(|t| {
            let t = crate::shanghai(t);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}

pub(super) const PROJECT_JOIN: &str = " LEFT JOIN projects pj ON pj.project_id = t.project_id \
     LEFT JOIN districts dj ON dj.code = pj.district ";
