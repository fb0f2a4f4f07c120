//! The raw period (issue 16): the read models keep raw readings, and the windows judged from them, crane work
//! cycles and project timeline records, for `raw_retention_days` before the latest reading (or cycle) folded; the
//! hourly and daily roll-ups, the crane days and the project days keep the rest, and the log keeps everything. [`ReadDb::prune_site_raw`] deletes what lies before the raw period in small batches, each its
//! own short transaction, so it never holds the write lock for long; the projections runtime calls it periodically.
//!
//! The fold never reads a raw row from before the raw period (`fold::env`), so when this job runs changes nothing
//! in what the fold computes: a rebuild gives the same rows whether or not the job ran in between.

use super::fold::rollup;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;

/// Rows deleted per transaction.
const PRUNE_BATCH: i64 = 2000;

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Raw readings (`site_readings`).
    pub readings: u64,
    /// Judged windows (`site_windows`) that ended before the raw period.
    pub windows: u64,
    /// Their running sums (`site_window_sums`).
    pub window_sums: u64,
    /// Crane work cycles that started before the raw period (`site_crane_cycles`; their days stay in
    /// `site_crane_days`).
    pub crane_cycles: u64,
    /// Records of project timelines that occurred before the raw period (`project_events`; their days and kinds
    /// stay in `project_days` and `project_kinds`).
    pub timeline: u64,
}

/// `(table, its key columns, the condition "before the raw period" on `?` = raw_from)`.
///
/// Gate passages have no table of their own to prune: the workforce fold keeps one row per worker and day
/// (`wf_attendance`), and the arrears rules (`domain::workforce`) cite those days for any past month a payroll may
/// still concern, so they are kept for ever (they grow with workers × days, not with passages).
const PRUNED: [(&str, &str, &str); 5] = [
    ("site_readings", "event_id, metric", "at_us < ?"),
    ("site_windows", "project_id, device_id, metric, window_start_us", "window_start_us + window_min * 60000000 <= ?"),
    (
        "site_window_sums",
        "project_id, device_id, metric, window_start_us, window_min, tier",
        "window_start_us + window_min * 60000000 <= ?",
    ),
    ("site_crane_cycles", "event_id", "started_us < ?"),
    ("project_events", "position", "occurred_us < ?"),
];

impl ReadDb {
    /// Where the raw period starts (µs): [`ReadDb::raw_retention_days`] before the latest reading folded; `None`
    /// when everything is kept (0 days, or no reading folded yet). Series before it are answered from roll-ups.
    pub async fn site_raw_from(&self) -> Result<Option<i64>, ProjectionError> {
        let row: Option<(i64,)> =
            self.fetch_optional(&Sql::new("SELECT horizon_us FROM site_horizon WHERE id = 1")).await?;
        let from = rollup::raw_from(row.map(|(h,)| h), self.raw_retention_days());
        Ok((from != i64::MIN).then_some(from))
    }

    /// Rows in each table of the site projection, by table name: what the raw period and the roll-ups cost.
    pub async fn site_row_counts(&self) -> Result<Vec<(&'static str, u64)>, ProjectionError> {
        let mut out = Vec::new();
        for &t in super::TABLES {
            let n: Option<(i64,)> =
                self.fetch_optional(&Sql::new(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {t}"))).await?;
            out.push((t, crate::db::to_u64(n.map_or(0, |(n,)| n))));
        }
        Ok(out)
    }

    /// Deletes raw readings, judged windows and window sums, crane cycles and project timeline records from before
    /// the raw period, [`PRUNE_BATCH`] rows per transaction, until none is left. Roll-ups (hourly and daily readings,
    /// crane days, project days and kinds) and alarms are kept.
    pub async fn prune_site_raw(&self) -> Result<Pruned, ProjectionError> {
        let mut pruned = Pruned::default();
        let Some(raw_from) = self.site_raw_from().await? else { return Ok(pruned) };
        for (i, (table, key, before)) in PRUNED.into_iter().enumerate() {
            loop {
                let mut tx = self.begin().await?;
                let n = tx
                    .execute(
                        &Sql::new(&format!(
                            "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {before} LIMIT ?)"
                        ))
                        .arg(raw_from)
                        .arg(PRUNE_BATCH),
                    )
                    .await?;
                tx.commit().await?;
                match i {
                    0 => pruned.readings += n,
                    1 => pruned.windows += n,
                    2 => pruned.window_sums += n,
                    3 => pruned.crane_cycles += n,
                    _ => pruned.timeline += n,
                }
                if n < PRUNE_BATCH.unsigned_abs() {
                    break;
                }
            }
        }
        if pruned != Pruned::default() {
            self.after_commit().await;
        }
        Ok(pruned)
    }
}
