//! Hourly and daily roll-ups of environmental readings and the raw period's line (issue 16): every counting reading
//! updates one hour row and one day row, and every window judgement the exceedance minutes of the rows its window
//! starts in. Rows a batch touches are read once, kept in memory and written once when the batch ends, so a
//! reading costs a bounded amount of work whatever the bucket already holds.

use std::collections::HashMap;

use siteledger_domain::quantity::Decimal;
use siteledger_domain::site::DataCn;
use siteledger_domain::site::alarms::{TIERS, tier};
use siteledger_domain::site::factors::Metric;
use siteledger_domain::site::rules::{self, Band};

use super::memo::Memo;
use super::store::Place;
use crate::db::{Arg, Sql, Tx};

/// One hour in µs.
pub(crate) const HOUR_US: i64 = 3_600_000_000;
/// One day in µs.
pub(crate) const DAY_US: i64 = 24 * HOUR_US;
/// Asia/Shanghai is UTC+08:00 all year: local hours are UTC hours, local days start at 16:00 UTC.
const SHANGHAI_US: i64 = 8 * HOUR_US;
/// `tier` of a row that holds no reading yet (only exceedance minutes): any reading is finer.
const NO_TIER: i64 = TIERS as i64;

/// A roll-up's bucket length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Span {
    /// Clock hours (`site_rollup_hour`).
    Hour,
    /// Local days, Asia/Shanghai (`site_rollup_day`).
    Day,
}

impl Span {
    /// The table holding this span's rows.
    pub(crate) fn table(self) -> &'static str {
        match self {
            Span::Hour => "site_rollup_hour",
            Span::Day => "site_rollup_day",
        }
    }

    /// The start (µs) of the bucket holding `at_us`.
    pub(crate) fn start(self, at_us: i64) -> i64 {
        match self {
            Span::Hour => at_us.div_euclid(HOUR_US) * HOUR_US,
            Span::Day => (at_us + SHANGHAI_US).div_euclid(DAY_US) * DAY_US - SHANGHAI_US,
        }
    }

    /// The bucket length in minutes.
    pub(crate) fn minutes(self) -> i64 {
        match self {
            Span::Hour => 60,
            Span::Day => 1440,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    span: Span,
    project: String,
    device: String,
    metric: &'static str,
    bucket_us: i64,
}

/// A roll-up row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Row {
    district: String,
    tier: i64,
    readings: i64,
    value_sum: String,
    min_value: Option<String>,
    max_value: Option<String>,
    exceed_min: i64,
    warn_min: i64,
}

impl Row {
    fn empty(district: &str) -> Row {
        Row {
            district: district.to_owned(),
            tier: NO_TIER,
            readings: 0,
            value_sum: "0".into(),
            min_value: None,
            max_value: None,
            exceed_min: 0,
            warn_min: 0,
        }
    }

    /// Adds a counting reading: the finest data present decides, as in a window (a finer reading starts the
    /// bucket's statistics again, a coarser one is left out), so the result does not depend on arrival order.
    fn add(&mut self, metric: Metric, cn: DataCn, value: &Decimal) {
        let t = i64::try_from(tier(cn)).unwrap_or(NO_TIER);
        if t > self.tier {
            return;
        }
        if t < self.tier {
            self.tier = t;
            self.readings = 0;
            self.value_sum = "0".into();
            self.min_value = None;
            self.max_value = None;
        }
        let x = rules::to_f64(value);
        let sum: f64 = self.value_sum.parse().unwrap_or(0.0);
        // Rust's shortest representation of an f64 parses back to the same bits: the sum is kept exactly.
        self.value_sum = (sum + if metric == Metric::Noise { rules::energy(x) } else { x }).to_string();
        self.readings = self.readings.saturating_add(1);
        let keep = |stored: &Option<String>, better: std::cmp::Ordering| match stored.as_deref().map(Decimal::parse) {
            Some(Ok(s)) if value.cmp_value(&s) != better => stored.clone(),
            _ => Some(value.to_string()),
        };
        self.min_value = keep(&self.min_value, std::cmp::Ordering::Less);
        self.max_value = keep(&self.max_value, std::cmp::Ordering::Greater);
    }
}

/// A judged window: (project, device, metric, start µs).
pub(super) type WindowId = (String, String, &'static str, i64);
/// A window's band and length in minutes, as stored in `site_windows`.
pub(super) type Judged = Option<(String, i64)>;

/// The roll-up rows a batch has touched, and the batch's view of the raw period.
#[derive(Debug, Default)]
pub(super) struct Rollups {
    rows: HashMap<Key, Row>,
    /// Window bands already read or written in this batch: (project, device, metric, start) → (band, minutes).
    bands: HashMap<WindowId, Judged>,
}

impl Rollups {
    /// The row of `key`: as this batch left it, else as the memo remembers it (the series' latest bucket), else as
    /// stored.
    async fn row(&mut self, tx: &mut Tx, memo: &Memo, key: Key, district: &str) -> Result<&mut Row, sqlx::Error> {
        if !self.rows.contains_key(&key) {
            let series = (key.project.clone(), key.device.clone(), key.metric);
            let remembered = memo.rollups.get(&(key.span, series)).filter(|(b, _)| *b == key.bucket_us);
            let stored: Option<Row> = match remembered {
                Some((_, row)) => Some(row.clone()),
                None => {
                    tx.fetch_optional(
                        &Sql::new(&format!(
                            "SELECT district, tier, readings, value_sum, min_value, max_value, exceed_min, warn_min \
                         FROM {} WHERE project_id = ? AND device_id = ? AND metric = ? AND bucket_us = ?",
                            key.span.table()
                        ))
                        .arg(key.project.as_str())
                        .arg(key.device.as_str())
                        .arg(key.metric)
                        .arg(key.bucket_us),
                    )
                    .await?
                }
            };
            self.rows.insert(key.clone(), stored.unwrap_or_else(|| Row::empty(district)));
        }
        let row = self.rows.get_mut(&key).expect("inserted above");
        // A project registered after its first readings gets its district on the next reading.
        if row.district != district && !district.is_empty() {
            district.clone_into(&mut row.district);
        }
        Ok(row)
    }

    fn key(span: Span, place: &Place<'_>, metric: Metric, at_us: i64) -> Key {
        Key {
            span,
            project: place.project.to_owned(),
            device: place.device.to_owned(),
            metric: metric.as_str(),
            bucket_us: span.start(at_us),
        }
    }

    /// Adds a counting reading at `at_us` to its hour and its day.
    pub(super) async fn add(
        &mut self,
        tx: &mut Tx,
        memo: &Memo,
        place: &Place<'_>,
        (metric, cn, at_us): (Metric, DataCn, i64),
        value: &Decimal,
    ) -> Result<(), sqlx::Error> {
        for span in [Span::Hour, Span::Day] {
            self.row(tx, memo, Self::key(span, place, metric, at_us), place.district).await?.add(metric, cn, value);
        }
        Ok(())
    }

    /// The band a window had before this judgement (`None`: not judged yet), and records its new band.
    /// Windows judged in this batch are read from the batch, the series' latest window from the memo; the
    /// batch's own window rows are written when it ends, so only windows it has not judged are read.
    pub(super) async fn swap_band(
        &mut self,
        tx: &mut Tx,
        memo: &Memo,
        place: &Place<'_>,
        (metric, start_us): (Metric, i64),
        new: (Band, i64),
    ) -> Result<Judged, sqlx::Error> {
        let k = (place.project.to_owned(), place.device.to_owned(), metric.as_str(), start_us);
        let remembered = || {
            let series = (k.0.clone(), k.1.clone(), k.2);
            memo.bands.get(&series).filter(|(s, _)| *s == start_us).map(|(_, j)| j.clone())
        };
        let old = match self.bands.get(&k).cloned().or_else(remembered) {
            Some(old) => old,
            None => {
                tx.fetch_optional(
                    &Sql::new(
                        "SELECT band, window_min FROM site_windows WHERE project_id = ? AND device_id = ? \
                         AND metric = ? AND window_start_us = ?",
                    )
                    .arg(place.project)
                    .arg(place.device)
                    .arg(metric.as_str())
                    .arg(start_us),
                )
                .await?
            }
        };
        self.bands.insert(k, Some((new.0.as_str().to_owned(), new.1)));
        Ok(old)
    }

    /// Moves the exceedance minutes of a window starting at `start_us` from its old band to its new one, in the
    /// hour and the day it starts in.
    pub(super) async fn rejudged(
        &mut self,
        tx: &mut Tx,
        memo: &Memo,
        place: &Place<'_>,
        (metric, start_us): (Metric, i64),
        old: Judged,
        new: (Band, i64),
    ) -> Result<(), sqlx::Error> {
        let minutes = |band: &str, (b, m): (&str, i64)| if b == band { m } else { 0 };
        let old = old.as_ref().map_or(("normal", 0), |(b, m)| (b.as_str(), *m));
        let new = (new.0.as_str(), new.1);
        let exceed = minutes("violation", new) - minutes("violation", old);
        let warn = minutes("warning", new) - minutes("warning", old);
        if exceed == 0 && warn == 0 {
            return Ok(());
        }
        for span in [Span::Hour, Span::Day] {
            let row = self.row(tx, memo, Self::key(span, place, metric, start_us), place.district).await?;
            row.exceed_min += exceed;
            row.warn_min += warn;
        }
        Ok(())
    }

    /// Writes every touched row (in a fixed order, so two runs issue the same statements; many rows per
    /// statement), then remembers each series' latest bucket and latest judged window in `memo`.
    pub(super) async fn flush(self, tx: &mut Tx, memo: &mut Memo) -> Result<(), sqlx::Error> {
        let mut rows: Vec<(Key, Row)> = self.rows.into_iter().collect();
        rows.sort_by(|(a, _), (b, _)| {
            (a.span == Span::Day, &a.project, &a.device, a.metric, a.bucket_us).cmp(&(
                b.span == Span::Day,
                &b.project,
                &b.device,
                b.metric,
                b.bucket_us,
            ))
        });
        for span in [Span::Hour, Span::Day] {
            let args = rows
                .iter()
                .filter(|(k, _)| k.span == span)
                .map(|(k, r)| {
                    vec![
                        Arg::from(&k.project),
                        Arg::from(&r.district),
                        Arg::from(&k.device),
                        Arg::from(k.metric),
                        Arg::from(k.bucket_us),
                        Arg::from(r.tier),
                        Arg::from(r.readings),
                        Arg::from(&r.value_sum),
                        Arg::from(r.min_value.clone()),
                        Arg::from(r.max_value.clone()),
                        Arg::from(r.exceed_min),
                        Arg::from(r.warn_min),
                    ]
                })
                .collect();
            tx.execute_rows(
                &format!(
                    "INSERT INTO {} (project_id, district, device_id, metric, bucket_us, tier, readings, value_sum, \
                     min_value, max_value, exceed_min, warn_min)",
                    span.table()
                ),
                "ON CONFLICT (project_id, device_id, metric, bucket_us) DO UPDATE SET district = excluded.district, \
                 tier = excluded.tier, readings = excluded.readings, value_sum = excluded.value_sum, \
                 min_value = excluded.min_value, max_value = excluded.max_value, \
                 exceed_min = excluded.exceed_min, warn_min = excluded.warn_min",
                args,
            )
            .await?;
        }
        // Sorted by bucket within a series: the last one kept is the series' latest.
        for (k, r) in rows {
            memo.rollups.insert((k.span, (k.project, k.device, k.metric)), (k.bucket_us, r));
        }
        for ((project, device, metric, start_us), judged) in self.bands {
            let latest = memo.bands.entry((project, device, metric)).or_insert((start_us, None));
            if start_us >= latest.0 {
                *latest = (start_us, judged);
            }
        }
        Ok(())
    }
}

/// The latest reading time folded, `None` before the first reading.
pub(super) async fn load_horizon(tx: &mut Tx) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = tx.fetch_optional(&Sql::new("SELECT horizon_us FROM site_horizon WHERE id = 1")).await?;
    Ok(row.map(|(h,)| h))
}

/// Stores the latest reading time folded.
pub(super) async fn store_horizon(tx: &mut Tx, horizon_us: i64) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO site_horizon (id, horizon_us) VALUES (1, ?) \
             ON CONFLICT (id) DO UPDATE SET horizon_us = excluded.horizon_us",
        )
        .arg(horizon_us),
    )
    .await?;
    Ok(())
}

/// Where the raw period starts: `days` before the horizon (`i64::MIN`, keep everything, when `days` is 0 or
/// nothing was folded yet).
pub(crate) fn raw_from(horizon_us: Option<i64>, days: u32) -> i64 {
    match horizon_us {
        Some(h) if days > 0 => h.saturating_sub(i64::from(days) * DAY_US),
        _ => i64::MIN,
    }
}
