//! 扬尘噪声: HJ 212 data packets and the older dust/noise readings into readings, latest values and windows; each
//! window is judged again (`domain::site::alarms::judge_window`) as its readings arrive.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use siteledger_domain::iot::DustNoiseReading;
use siteledger_domain::quantity::Decimal;
use siteledger_domain::site::alarms::{self, WindowReading, WindowSums};
use siteledger_domain::site::factors::{Metric, metric_of};
use siteledger_domain::site::rules::window_start;
use siteledger_domain::site::{DataCn, Hj212Data, Timestamp};
use time::OffsetDateTime;

use super::rollup::WindowId;
use super::store::{self, Place};
use super::{Batch, Rec, from_micros, micros};
use crate::db::{Arg, Sql, Tx, to_i64, to_u64};

/// One value of an environmental metric.
struct EnvValue {
    metric: Metric,
    value: Decimal,
    counts: bool,
    flag: Option<String>,
}

/// `env.dust_noise.reading.v1`: PM10, PM2.5 and noise as real-time data at the envelope's `occurred_at`.
pub(super) async fn dust_noise(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    r: &DustNoiseReading,
) -> Result<(), sqlx::Error> {
    let values = vec![
        EnvValue { metric: Metric::Pm10, value: r.pm10_ug_m3.clone(), counts: true, flag: None },
        EnvValue { metric: Metric::Pm25, value: r.pm25_ug_m3.clone(), counts: true, flag: None },
        EnvValue { metric: Metric::Noise, value: r.noise_db_a.clone(), counts: true, flag: None },
    ];
    let at = Timestamp::parse(rec.occurred_at).map_or_else(|_| from_micros(rec.occurred_us), |t| t.instant());
    let (project, device) = (r.project_id.as_str(), r.device_id.as_str());
    fold_values(tx, b, rec, (project, device), DataCn::RealTime, at, values).await
}

/// `env.hj212.data.v1`: the values of the factors that feed a series (status packets carry none), and the
/// monitor's latest packet.
pub(super) async fn hj212(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, d: &Hj212Data) -> Result<(), sqlx::Error> {
    let (project, device) = (d.project_id.as_str(), d.device_id.as_str());
    if d.cn != DataCn::Status {
        let values = d
            .items
            .iter()
            .filter_map(|i| {
                Some(EnvValue {
                    metric: metric_of(i.code.as_str())?,
                    value: i.value()?.clone(),
                    counts: i.counts(),
                    flag: i.flag.as_ref().map(ToString::to_string),
                })
            })
            .collect();
        fold_values(tx, b, rec, (project, device), d.cn, d.data_time.instant(), values).await?;
    }
    let latest = || {
        let mut latest = serde_json::Map::new();
        latest.insert("cn".into(), d.cn.as_str().into());
        latest.insert("deviations".into(), d.deviations.len().into());
        latest
    };
    b.device_latest((project, device), "env", latest, micros(d.data_time.instant()), &rec.event_id);
    Ok(())
}

async fn fold_values(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    (project, device): (&str, &str),
    cn: DataCn,
    at: OffsetDateTime,
    values: Vec<EnvValue>,
) -> Result<(), sqlx::Error> {
    let district = b.district(tx, project).await?;
    let place = Place { project, district: &district, device };
    let at_us = micros(at);
    let at_text = Timestamp::from_instant(at).as_str().to_owned();
    b.advance_horizon(at_us, rec.occurred_us);
    // Readings before the raw period (a gateway back after weeks offline) go to the roll-ups only: the read
    // models keep raw rows for the raw period, the log keeps everything.
    let raw_from = b.raw_from(tx.raw_retention_days());
    let keep_raw = at_us >= raw_from;
    let mut not_kept: Vec<Metric> = Vec::new();
    for v in values {
        let metric = v.metric.as_str();
        let inserted = if keep_raw {
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_readings (event_id, metric, project_id, device_id, cn, at_us, value, counts, \
                     position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, metric) DO NOTHING",
                )
                .arg(rec.event_id.clone())
                .arg(metric)
                .arg(project)
                .arg(device)
                .arg(cn.as_str())
                .arg(at_us)
                .arg(v.value.as_str())
                .arg(v.counts)
                .arg(rec.position),
            )
            .await?
                == 1
        } else if not_kept.contains(&v.metric) {
            false
        } else {
            not_kept.push(v.metric);
            true
        };
        b.latest_value((project, device, metric), at_us, &at_text, &v.value, v.flag.as_deref(), &rec.event_id);
        // A reading already stored (the same metric twice in one packet) is counted once.
        if v.counts && inserted {
            b.rollups.add(tx, &b.memo, &place, (v.metric, cn, at_us), &v.value).await?;
        }
        if v.counts && alarms::windowed(v.metric) {
            let added = inserted.then_some(WindowReading { value: v.value, cn, event_id: rec.event_id.clone() });
            judge_window(tx, b, rec, &place, (v.metric, at, at_us), added, (raw_from, keep_raw)).await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ReadingRow {
    value: String,
    cn: String,
    event_id: String,
    at_us: i64,
}

fn data_cn(code: &str) -> Option<DataCn> {
    [DataCn::RealTime, DataCn::Minute, DataCn::Hourly, DataCn::Daily, DataCn::Status]
        .into_iter()
        .find(|c| c.as_str() == code)
}

impl ReadingRow {
    /// The stored reading, typed again (the row holds what a typed record wrote), and its time.
    fn reading(self) -> Option<(WindowReading, i64)> {
        let cn = data_cn(&self.cn)?;
        Some((WindowReading { value: Decimal::parse(&self.value).ok()?, cn, event_id: self.event_id }, self.at_us))
    }
}

/// One fineness of a window's running sums, as stored in `site_window_sums`.
#[derive(sqlx::FromRow)]
struct SumRow {
    tier: i64,
    readings: i64,
    value_sum: String,
    cited: String,
}

/// A window of one metric of one device: what `site_window_sums` is keyed by.
struct WindowKey<'a> {
    place: &'a Place<'a>,
    metric: Metric,
    start_us: i64,
    minutes: u16,
}

/// The columns that name a window in `site_window_sums`, for a `WHERE` clause.
const WINDOW: &str = "project_id = ? AND device_id = ? AND metric = ? AND window_start_us = ? AND window_min = ?";

/// A window's sums in `site_window_sums`: (project, device, metric, start µs, minutes).
pub(super) type WindowSumsId = (String, String, &'static str, i64, u16);

impl WindowKey<'_> {
    fn id(&self) -> WindowSumsId {
        (self.place.project.to_owned(), self.place.device.to_owned(), self.metric.as_str(), self.start_us, self.minutes)
    }

    /// Binds the window's columns to the next `?`s (in the order of [`WINDOW`]).
    fn bind(&self, q: Sql) -> Sql {
        q.arg(self.place.project)
            .arg(self.place.device)
            .arg(self.metric.as_str())
            .arg(self.start_us)
            .arg(i64::from(self.minutes))
    }
}

/// The window's stored running sums; `None` if it has none yet (a new window, or sums dropped by a new policy).
async fn load_sums(tx: &mut Tx, key: &WindowKey<'_>) -> Result<Option<WindowSums>, sqlx::Error> {
    let rows: Vec<SumRow> = tx
        .fetch_all(
            &key.bind(Sql::new(&format!(
                "SELECT tier, readings, value_sum, cited FROM site_window_sums WHERE {WINDOW}"
            ))),
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut sums = WindowSums::default();
    for r in rows {
        let Some(t) = usize::try_from(r.tier).ok().and_then(|t| sums.tiers.get_mut(t)) else { continue };
        t.readings = to_u64(r.readings);
        t.sum = r.value_sum.parse().unwrap_or(0.0);
        t.first = serde_json::from_str(&r.cited).unwrap_or_default();
    }
    Ok(Some(sums))
}

/// The arguments of one fineness of a window's sums as a `site_window_sums` row (see [`write_sums`]).
fn tier_row(id: &WindowSumsId, sums: &WindowSums, tier: usize) -> Option<Vec<Arg>> {
    let t = sums.tiers.get(tier)?;
    let (project, device, metric, start_us, minutes) = id;
    Some(vec![
        Arg::from(project),
        Arg::from(device),
        Arg::from(*metric),
        Arg::from(*start_us),
        Arg::from(i64::from(*minutes)),
        Arg::from(to_i64(tier as u64)),
        Arg::from(to_i64(t.readings)),
        // Rust's shortest representation of an f64 parses back to the same bits: the sum is kept exactly.
        Arg::from(t.sum.to_string()),
        Arg::from(serde_json::to_string(&t.first).unwrap_or_else(|_| "[]".into())),
    ])
}

/// Writes the finenesses of window sums the batch changed, many rows per statement: the rows the per-reading
/// writes would have left (their citations are rewritten with what they already hold when only the sums moved).
pub(super) async fn write_sums(
    tx: &mut Tx,
    sums: &HashMap<WindowSumsId, WindowSums>,
    dirty: BTreeSet<(WindowSumsId, usize)>,
) -> Result<(), sqlx::Error> {
    let rows = dirty.iter().filter_map(|(id, tier)| tier_row(id, sums.get(id)?, *tier)).collect();
    tx.execute_rows(
        "INSERT INTO site_window_sums (project_id, device_id, metric, window_start_us, window_min, tier, readings, \
         value_sum, cited)",
        "ON CONFLICT (project_id, device_id, metric, window_start_us, window_min, tier) DO UPDATE SET \
         readings = excluded.readings, value_sum = excluded.value_sum, cited = excluded.cited",
        rows,
    )
    .await?;
    Ok(())
}

/// The window's running sums: as this batch left them, else as the memo remembers them (the series' latest
/// window), else as stored; `None` if it has none yet.
async fn window_sums(tx: &mut Tx, b: &Batch, key: &WindowKey<'_>) -> Result<Option<WindowSums>, sqlx::Error> {
    if let Some(s) = b.sums.get(&key.id()) {
        return Ok(Some(s.clone()));
    }
    let series = (key.place.project.to_owned(), key.place.device.to_owned(), key.metric.as_str());
    if let Some((_, s)) = b.memo.sums.get(&series).filter(|(w, _)| *w == (key.start_us, key.minutes)) {
        return Ok(Some(s.clone()));
    }
    load_sums(tx, key).await
}

/// Judges the window of `metric` holding `at` and stores the window and its alarm (or removes the alarm when the
/// window is back in the normal band). The window's running sums are kept in `site_window_sums`: the new reading
/// (`added`, if it was newly counted) is added to them, so a judgement reads one row per fineness whatever the
/// window holds. A window without sums yet is summed once from its stored readings of the raw period, in window
/// order. A window that ended before the raw period (`raw_from`) is final: a late reading into it updates the
/// roll-ups only, so no judgement rests on raw rows the retention job may have deleted.
async fn judge_window(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    place: &Place<'_>,
    (metric, at, at_us): (Metric, OffsetDateTime, i64),
    added: Option<WindowReading>,
    (raw_from, kept_raw): (i64, bool),
) -> Result<(), sqlx::Error> {
    let (policy, label) = b.env_at(place.district, at);
    let policy = policy.clone();
    let minutes = alarms::window_minutes(&policy, metric);
    let start = window_start(at, minutes);
    let start_us = micros(start);
    if start_us.saturating_add(i64::from(minutes) * 60_000_000) <= raw_from {
        return Ok(());
    }
    let key = WindowKey { place, metric, start_us, minutes };
    // Changed sums are kept in the batch and written when it ends ([`write_sums`]).
    let sums = match (window_sums(tx, b, &key).await?, added) {
        (Some(mut sums), Some(r)) => {
            let a = sums.add(metric, &r, at_us);
            b.dirty_sums.insert((key.id(), a.tier));
            b.sums.insert(key.id(), sums.clone());
            sums
        }
        (Some(sums), None) => sums,
        (None, added) => {
            let mut sums = sum_stored(tx, &key, raw_from).await?;
            // A reading not kept raw is not among the stored ones.
            if let (Some(r), false) = (added, kept_raw) {
                sums.add(metric, &r, at_us);
            }
            let mut stored = false;
            for (tier, t) in sums.tiers.iter().enumerate() {
                if t.readings > 0 {
                    b.dirty_sums.insert((key.id(), tier));
                    stored = true;
                }
            }
            // Sums with no reading are not stored: the next reading sums the window from its readings again.
            if stored {
                b.sums.insert(key.id(), sums.clone());
            }
            sums
        }
    };
    let policy = &policy;
    let Some(j) = alarms::judge_sums(policy, metric, start, &sums) else { return Ok(()) };
    // The band before this judgement, read before the window row is replaced: its minutes move to the new band.
    let band = (j.band, i64::from(minutes));
    let old = b.rollups.swap_band(tx, &b.memo, place, (metric, start_us), band).await?;
    // Written when the batch ends (the last judgement of each window), many rows per statement.
    let row = vec![
        Arg::from(place.project),
        Arg::from(place.district),
        Arg::from(place.device),
        Arg::from(metric.as_str()),
        Arg::from(start_us),
        Arg::from(i64::from(minutes)),
        Arg::from(j.value.as_str()),
        Arg::from(to_i64(j.readings as u64)),
        Arg::from(j.band.as_str()),
        Arg::from(j.limit.as_ref().map(ToString::to_string)),
        Arg::from(j.warn.as_ref().map(ToString::to_string)),
        Arg::from(j.night),
        Arg::from(label),
    ];
    b.windows.insert((place.project.to_owned(), place.device.to_owned(), metric.as_str(), start_us), row);
    b.rollups.rejudged(tx, &b.memo, place, (metric, start_us), old, band).await?;
    let Some(rule) = alarms::window_rule(metric) else { return Ok(()) };
    let base = store::base(place, rule);
    let key = format!("{base}@{start_us}");
    match &j.alarm {
        // Written when the batch ends (the window's last judgement), many rows per statement.
        Some(a) => {
            b.memo.no_alarm.remove(&base);
            b.memo.open.remove(&base);
            let row = store::put_row(&key, place, a, start_us, rec.position);
            b.puts.insert(key, row);
            Ok(())
        }
        // Only this window's own judgements write its alarm row: once removed, it stays absent until one puts it.
        None if b.memo.no_alarm.get(&base) == Some(&start_us) => Ok(()),
        None => {
            b.puts.remove(&key);
            store::remove(tx, &mut b.memo, &key).await?;
            b.memo.no_alarm.insert(base, start_us);
            Ok(())
        }
    }
}

/// Writes the batch's judged windows (`site_windows`), many rows per statement.
pub(super) async fn write_windows(tx: &mut Tx, windows: BTreeMap<WindowId, Vec<Arg>>) -> Result<(), sqlx::Error> {
    tx.execute_rows(
        "INSERT INTO site_windows (project_id, district, device_id, metric, window_start_us, window_min, value, \
         readings, band, limit_value, warn_value, night, policy)",
        "ON CONFLICT (project_id, device_id, metric, window_start_us) DO UPDATE SET value = excluded.value, \
         readings = excluded.readings, band = excluded.band, limit_value = excluded.limit_value, \
         warn_value = excluded.warn_value, night = excluded.night, policy = excluded.policy, \
         window_min = excluded.window_min, district = excluded.district",
        windows.into_values().collect(),
    )
    .await?;
    Ok(())
}

/// Sums a window from its stored counting readings of the raw period (from `raw_from` on: older rows may be gone
/// or not, depending on when the retention job last ran), in window order (time, then event id): once per window.
async fn sum_stored(tx: &mut Tx, key: &WindowKey<'_>, raw_from: i64) -> Result<WindowSums, sqlx::Error> {
    let end_us = key.start_us.saturating_add(i64::from(key.minutes) * 60_000_000);
    let from_us = key.start_us.max(raw_from);
    let rows: Vec<ReadingRow> = tx
        .fetch_all(
            &Sql::new(
                "SELECT value, cn, event_id, at_us FROM site_readings WHERE project_id = ? AND device_id = ? \
                 AND metric = ? AND at_us >= ? AND at_us < ? AND counts = 1 ORDER BY at_us, event_id",
            )
            .arg(key.place.project)
            .arg(key.place.device)
            .arg(key.metric.as_str())
            .arg(from_us)
            .arg(end_us),
        )
        .await?;
    let mut sums = WindowSums::default();
    for (r, at_us) in rows.into_iter().filter_map(ReadingRow::reading) {
        sums.add(key.metric, &r, at_us);
    }
    Ok(sums)
}
