//! What the site fold remembers from one batch to the next: the rows it reads back for nearly every record (a crane's
//! or hoist's operator session, the open episode of each rule, a hoist's checks; an environmental series' latest
//! window, its running sums, its alarm, its hourly and daily roll-ups), kept in memory exactly as the read database
//! holds them, so that in the steady state a sample or reading reads nothing back. Per series only the latest
//! window and bucket are kept: the memo grows with the devices, not with time.
//!
//! Correctness rests on two rules. The memo is the state of the tables at one site checkpoint: a batch starting
//! anywhere else (a rebuild, another runner folding the same database, a batch that failed and was rolled back)
//! starts from an empty memo ([`Memo::resume`]); and it is published only when the batch's transaction commits
//! (`Tx::stage_site_memo`), so it never holds what a rolled-back batch wrote. Within a batch, every statement that
//! may change a remembered row updates or forgets its entry. The read models are a function of the log prefix, so
//! the memo at checkpoint N holds what any database folded to N holds.

use std::collections::{BTreeMap, HashMap};

use siteledger_domain::site::alarms::{HoistChecks, WindowSums};
use siteledger_domain::site::rules::OperatorSession;

use super::rollup::{Judged, Row, Span};
use super::store::Continued;

/// Entries beyond which a memo starts again empty (a bound on memory; a city of 3,000 sites has ≈ 40,000).
const MAX_ENTRIES: usize = 1 << 20;

/// A device of a project: (project id, device id).
pub(super) type DeviceKey = (String, String);
/// A metric of a device: (project id, device id, metric).
pub(super) type SeriesKey = (String, String, &'static str);

/// The open episode of a rule on a device as stored in `site_alarms` (the columns the fold reads).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct OpenRow {
    pub(super) alarm_key: String,
    pub(super) level: String,
    pub(super) samples: i64,
    pub(super) event_ids: String,
}

/// The remembered rows (see the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// The site checkpoint the memo is the state at (the position after the last batch it saw); `None`: nothing.
    at: Option<u64>,
    /// The operator logged in at a crane or hoist, with the login's event id (`site_devices`).
    pub(super) sessions: HashMap<DeviceKey, Option<(OperatorSession, String)>>,
    /// The open episode under each alarm base (`site_alarms` with `open = 1`), `None` if there is none.
    pub(super) open: HashMap<String, Option<OpenRow>>,
    /// A hoist's last calibration and passed drop test (`site_hoist_checks`).
    pub(super) checks: HashMap<DeviceKey, HoistChecks>,
    /// Each environmental series' latest hourly and daily roll-up row (`site_rollup_hour`, `site_rollup_day`):
    /// (bucket start µs, row).
    pub(super) rollups: HashMap<(Span, SeriesKey), (i64, Row)>,
    /// Each series' latest judged window (`site_windows`): (start µs, band and minutes).
    pub(super) bands: HashMap<SeriesKey, (i64, Judged)>,
    /// Each series' latest window's running sums (`site_window_sums`): ((start µs, minutes), sums).
    pub(super) sums: HashMap<SeriesKey, ((i64, u16), WindowSums)>,
    /// The window whose alarm row (`<base>@<start µs>`) is known absent, by alarm base: its start µs.
    pub(super) no_alarm: HashMap<String, i64>,
    /// Each project's district (`projects`), as the registry left it; forgotten by a batch with `registry.*`
    /// records (the registry folds a batch before the site projection reads it).
    pub(super) districts: HashMap<String, String>,
    /// Not remembered between batches: the open episodes continued in this batch, by alarm key, written when it
    /// ends (`store::write_continued`; before that by a step that clears the episode).
    pub(super) continued: BTreeMap<String, Continued>,
}

impl Memo {
    /// The memo to fold a batch starting at site checkpoint `first` with: this one if it is the state there, else
    /// an empty one.
    pub(crate) fn resume(self, first: u64) -> Memo {
        let len = self.sessions.len()
            + self.open.len()
            + self.checks.len()
            + self.rollups.len()
            + self.bands.len()
            + self.sums.len()
            + self.no_alarm.len()
            + self.districts.len();
        if self.at == Some(first) && len <= MAX_ENTRIES { self } else { Memo::default() }
    }

    /// Marks the memo as the state at site checkpoint `next` (the batch folded up to it).
    pub(crate) fn advance(&mut self, next: u64) {
        self.at = Some(next);
    }

    /// Forgets the open episode under the alarm key `key` (`<base>@…`) after a write to that row.
    pub(super) fn forget_key(&mut self, key: &str) {
        if let Some((base, _)) = key.rsplit_once('@') {
            self.open.remove(base);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;

    #[test]
    fn a_memo_resumes_only_at_its_own_checkpoint() {
        let mut m = Memo::default();
        m.open.insert("P:crane_operator:TC-01".into(), None);
        m.advance(1000);
        let m = m.resume(1000);
        assert_eq!(m.open.len(), 1, "the batch after the one it saw");
        let mut m = m;
        m.advance(2000);
        assert!(m.resume(1500).open.is_empty(), "another runner folded 2000..; this batch starts elsewhere");
        assert!(Memo::default().resume(0).open.is_empty(), "nothing known yet");
    }

    #[test]
    fn writing_an_alarm_row_forgets_its_base() {
        let mut m = Memo::default();
        m.open.insert("P:crane_operator:TC-01".into(), None);
        m.open.insert("P:crane_wind:TC-01".into(), None);
        m.forget_key("P:crane_operator:TC-01@0190a3b0-0000-7000-8000-000000000001");
        assert!(!m.open.contains_key("P:crane_operator:TC-01"));
        assert!(m.open.contains_key("P:crane_wind:TC-01"));
    }
}
