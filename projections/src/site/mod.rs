//! Read models of site devices and environment: 扬尘噪声 time series with the policy's thresholds, latest values,
//! derived exceedances and alarms (citing the event ids they rest on), crane work cycles, hoist inspections,
//! meter consumption per day, camera status and gateway health.
//!
//! The projection `site` folds `env.hj212.data.v1` **and** the older `env.dust_noise.reading.v1`, `crane.*`,
//! `hoist.*`, `meter.*`, `video.*`, `gateway.*` and the bureaus' `env.policy.v1` / `crane.policy.v1`.
//!
//! | module | what |
//! |---|---|
//! | `schema` | the tables and their `CREATE` statements |
//! | `fold` | the fold, one module per sub-kind (env, crane, hoist, meter, video, gateway) and `store` for alarm rows |
//! | `rows` | the rows the queries answer (re-exported here) |
//! | `queries` | `impl ReadDb` blocks, each taking a [`Scope`](crate::Scope) |
//! | `retention` | the raw period: deleting raw readings and windows before it, in small batches |
//! | `uptime` | cameras' online time per day (在线率): folded day rows plus the open span up to the time asked |
//! | `summary` | each project's overview summary, marked due by the fold and computed by the runtime; the overview |
//!
//! **Rules live in the domain.** Which readings raise which alarm, at which level, with which message and on which
//! records is decided by `siteledger_domain::site::alarms` (codes, labels, citations, evaluators); the fold loads
//! the state an evaluator takes (window readings, open episode, operator session, inspections, previous meter
//! total) and stores what it returns.
//!
//! Derived alarms live in this projection's own table `site_alarms`, not in the shared `alarms` table: the shared
//! table holds *signed* alarm records (`alarm.raised.v1`) and ledger notices (signer gaps, equivocation), each
//! with one event behind it, while a derived alarm rests on a window of readings and is recomputed as readings
//! arrive (a window's Leq changes with each reading). Signer gaps are shown on the site pages from the shared
//! table ([`ReadDb::site_gaps`](crate::ReadDb::site_gaps)).
//!
//! Determinism: every value is computed from the rows of this projection and the policies folded before the
//! event, in log order, so a rebuild from the log gives the same rows. A policy applies to readings folded after
//! it (its `effective_from` picks the version for each reading's time among the versions known then); a policy
//! folded later does not re-judge windows already computed.
//!
//! Windows: noise Leq over `leq_window_min` (20) minutes, PM10/PM2.5/wind means over `pm_window_min` (60), aligned
//! on local midnight (Asia/Shanghai). A window uses its finest data present (real-time 2011 over minute 2051
//! over hourly 2061/daily 2031), and only data flagged `N` (or unflagged) counts (HJ 212 表 8).

mod fold;
mod queries;
mod retention;
mod rows;
mod schema;
mod summary;
mod uptime;

use siteledger_domain::site::{CranePolicy, EnvPolicy, PolicyBook, SiteEvent};

pub(crate) use self::fold::fold;
pub(crate) use self::fold::memo::Memo;
pub use self::retention::Pruned;
pub use self::rows::*;
pub(crate) use self::schema::{DDL, TABLES};
pub use self::summary::{SUMMARY_READ_THROUGH, SiteOverview};
pub use self::uptime::MAX_CAMERA_DAYS;

/// Name in `projection_checkpoints`.
pub(crate) const NAME: &str = "site";
/// Code version: bump it when the fold or the tables change; the tables are re-created and refolded.
/// 4: a day's water consumption was added to the electricity of the same device and day; refold the rows.
/// 5: hourly and daily roll-ups, the horizon and the raw period (issue 16).
/// 6: cameras' online time per day from their status transitions (`site_camera_state`, `site_camera_days`).
/// 6 (same release): crane cycles per day (`site_crane_days`); cycles move the horizon and are kept raw for the raw
/// period only.
/// 7: each project's overview summary (`site_summary`), marked by the fold and computed by the runtime.
pub(crate) const VERSION: i64 = 7;

/// How a policy is named in rows: `default`, or `<jurisdiction>#v<version>`.
fn policy_label(jurisdiction: &str, version: u32, default: bool) -> String {
    if default { "default".to_owned() } else { format!("{jurisdiction}#v{version}") }
}

/// The policy books of the stored `site_policies` rows `(kind, payload)`, in log order.
fn policy_books(rows: Vec<(String, String)>) -> (PolicyBook<EnvPolicy>, PolicyBook<CranePolicy>) {
    let mut env = PolicyBook::new();
    let mut crane = PolicyBook::new();
    for (kind, payload) in rows {
        let Ok(serde_json::Value::Object(p)) = serde_json::from_str::<serde_json::Value>(&payload) else {
            continue;
        };
        match SiteEvent::parse(&kind, &p) {
            Some(Ok(SiteEvent::EnvPolicy(e))) => env.add(*e),
            Some(Ok(SiteEvent::CranePolicy(c))) => crane.add(*c),
            _ => {}
        }
    }
    (env, crane)
}
