//! Read models of site devices and environment: 扬尘噪声 time series with the policy's thresholds, latest values,
//! derived exceedances and alarms (citing the event ids they rest on), crane work cycles, hoist inspections,
//! meter consumption per day, camera status and gateway health.
//!
//! The projection `site` folds `env.hj212.data.v1` **and** the older `env.dust_noise.reading.v1`, `crane.*`,
//! `hoist.*`, `meter.*`, `video.*`, `gateway.*` and the bureaus' `env.policy.v1` / `crane.policy.v1`. Its queries
//! are `impl ReadDb` blocks here and take a [`Scope`].
//!
//! Derived alarms live in this projection's own table `site_alarms`, not in the shared `alarms` table: the shared
//! table holds *signed* alarm records (`alarm.raised.v1`) and ledger notices (signer gaps, equivocation), each
//! with one event behind it, while a derived alarm rests on a window of readings and is recomputed as readings
//! arrive (a window's Leq changes with each reading). Signer gaps are shown on the site pages from the shared
//! table ([`ReadDb::site_gaps`]).
//!
//! Determinism: every value is computed from the rows of this projection and the policies folded before the
//! event, in log order, so a rebuild from the log gives the same rows. A policy applies to readings folded after
//! it (its `effective_from` picks the version for each reading's time among the versions known then); a policy
//! folded later does not re-judge windows already computed.
//!
//! Windows: noise Leq over `leq_window_min` (20) minutes, PM10/PM2.5/wind means over `pm_window_min` (60), aligned
//! on local midnight (Asia/Shanghai). A window uses its finest data present (real-time 2011 over minute 2051
//! over hourly 2061/daily 2031), and only data flagged `N` (or unflagged) counts (HJ 212 表 8).

use std::collections::HashMap;

use serde::Serialize;
use siteledger_domain::iot::DustNoiseReading;
use siteledger_domain::quantity::Decimal;
use siteledger_domain::site::rules::{
    self, Band, Due, MeterStep, OperatorSession, calibration_due, drop_test_due, leakage_alarm, load_band,
    load_pct_band, meter_step, moment_band, noise_verdict, pm_mean, pm10_band, wind_stop, window_start,
};
use siteledger_domain::site::{
    CRANE_POLICY, CranePolicy, DataCn, ENV_POLICY, EnvPolicy, PolicyBook, SiteEvent, Timestamp,
};
use siteledger_domain::{DistrictCode, DomainEvent, LocalDate};
use time::OffsetDateTime;

use crate::Scope;
use crate::db::{ReadDb, Sql, Tx, to_i64};
use crate::error::ProjectionError;
use crate::fold::Prepared;
use crate::queries::project_visible;

/// Name in `projection_checkpoints`.
pub(crate) const NAME: &str = "site";
/// Code version: bump it when the fold or the tables change; the tables are re-created and refolded.
pub(crate) const VERSION: i64 = 3;
/// Tables this projection owns.
pub(crate) const TABLES: &[&str] = &[
    "site_policies",
    "site_readings",
    "site_latest",
    "site_windows",
    "site_alarms",
    "site_devices",
    "site_crane_cycles",
    "site_hoist_checks",
    "site_meters",
    "site_meter_days",
    "site_cameras",
    "site_gateways",
];
/// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS site_policies (
        kind         TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        version      BIGINT NOT NULL,
        effective_us BIGINT NOT NULL,
        payload      TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        position     BIGINT NOT NULL,
        PRIMARY KEY (kind, jurisdiction, version)
    )",
    "CREATE TABLE IF NOT EXISTS site_readings (
        event_id   TEXT NOT NULL,
        metric     TEXT NOT NULL,
        project_id TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        cn         TEXT NOT NULL,
        at_us      BIGINT NOT NULL,
        value      TEXT NOT NULL,
        counts     BIGINT NOT NULL,
        position   BIGINT NOT NULL,
        PRIMARY KEY (event_id, metric)
    )",
    "CREATE INDEX IF NOT EXISTS site_readings_series ON site_readings (project_id, device_id, metric, at_us)",
    "CREATE TABLE IF NOT EXISTS site_latest (
        project_id TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        metric     TEXT NOT NULL,
        at_us      BIGINT NOT NULL,
        at         TEXT NOT NULL,
        value      TEXT NOT NULL,
        flag       TEXT,
        event_id   TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id, metric)
    )",
    "CREATE TABLE IF NOT EXISTS site_windows (
        project_id      TEXT NOT NULL,
        district        TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        metric          TEXT NOT NULL,
        window_start_us BIGINT NOT NULL,
        window_min      BIGINT NOT NULL,
        value           TEXT NOT NULL,
        readings        BIGINT NOT NULL,
        band            TEXT NOT NULL,
        limit_value     TEXT,
        warn_value      TEXT,
        night           BIGINT NOT NULL,
        policy          TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id, metric, window_start_us)
    )",
    "CREATE INDEX IF NOT EXISTS site_windows_district ON site_windows (district, metric, window_start_us)",
    "CREATE TABLE IF NOT EXISTS site_alarms (
        alarm_key  TEXT PRIMARY KEY,
        base       TEXT NOT NULL,
        project_id TEXT NOT NULL,
        district   TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        rule       TEXT NOT NULL,
        level      TEXT NOT NULL,
        message    TEXT NOT NULL,
        value      TEXT,
        threshold  TEXT,
        at_us      BIGINT NOT NULL,
        day        TEXT NOT NULL,
        open       BIGINT NOT NULL,
        cleared_us BIGINT,
        cleared_event_id TEXT,
        samples    BIGINT NOT NULL,
        event_ids  TEXT NOT NULL,
        position   BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS site_alarms_project ON site_alarms (project_id, at_us)",
    "CREATE INDEX IF NOT EXISTS site_alarms_base ON site_alarms (base, open)",
    "CREATE INDEX IF NOT EXISTS site_alarms_day ON site_alarms (district, day)",
    "CREATE TABLE IF NOT EXISTS site_devices (
        project_id       TEXT NOT NULL,
        device_id        TEXT NOT NULL,
        family           TEXT NOT NULL,
        latest           TEXT NOT NULL,
        at_us            BIGINT NOT NULL,
        operator_ref     TEXT,
        cert_valid_until TEXT,
        login_event_id   TEXT,
        event_id         TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id)
    )",
    "CREATE TABLE IF NOT EXISTS site_crane_cycles (
        event_id          TEXT PRIMARY KEY,
        project_id        TEXT NOT NULL,
        device_id         TEXT NOT NULL,
        started_us        BIGINT NOT NULL,
        started_at        TEXT NOT NULL,
        ended_at          TEXT NOT NULL,
        max_load_t        TEXT NOT NULL,
        max_moment_pct    TEXT NOT NULL,
        max_wind_m_s      TEXT NOT NULL,
        radius_m          TEXT NOT NULL,
        height_m          TEXT NOT NULL,
        over_moment_count BIGINT NOT NULL,
        operator_ref      TEXT,
        band              TEXT NOT NULL,
        operator_issue    TEXT,
        position          BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS site_crane_cycles_project ON site_crane_cycles (project_id, started_us)",
    "CREATE TABLE IF NOT EXISTS site_hoist_checks (
        project_id           TEXT NOT NULL,
        device_id            TEXT NOT NULL,
        calibrated_on        TEXT,
        valid_until          TEXT,
        certificate_no       TEXT,
        calibration_event_id TEXT,
        last_drop_test       TEXT,
        last_drop_passed     BIGINT,
        last_passed_drop     TEXT,
        drop_event_id        TEXT,
        PRIMARY KEY (project_id, device_id)
    )",
    "CREATE TABLE IF NOT EXISTS site_meters (
        project_id    TEXT NOT NULL,
        device_id     TEXT NOT NULL,
        meter         TEXT NOT NULL,
        last_total    TEXT NOT NULL,
        last_read_us  BIGINT NOT NULL,
        last_read_at  TEXT NOT NULL,
        residual_ma   TEXT,
        temperature_c TEXT,
        last_event_id TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id, meter)
    )",
    "CREATE TABLE IF NOT EXISTS site_meter_days (
        project_id  TEXT NOT NULL,
        device_id   TEXT NOT NULL,
        meter       TEXT NOT NULL,
        day         TEXT NOT NULL,
        consumption TEXT NOT NULL,
        readings    BIGINT NOT NULL,
        PRIMARY KEY (project_id, device_id, meter, day)
    )",
    "CREATE TABLE IF NOT EXISTS site_cameras (
        project_id        TEXT NOT NULL,
        device_id         TEXT NOT NULL,
        name              TEXT NOT NULL,
        position_name     TEXT NOT NULL,
        registered        BIGINT NOT NULL,
        status            TEXT NOT NULL,
        status_us         BIGINT NOT NULL,
        last_keepalive_at TEXT,
        event_id          TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id)
    )",
    "CREATE TABLE IF NOT EXISTS site_gateways (
        project_id       TEXT NOT NULL,
        gateway_id       TEXT NOT NULL,
        at               TEXT NOT NULL,
        at_us            BIGINT NOT NULL,
        queue_depth      BIGINT NOT NULL,
        queue_bytes      BIGINT NOT NULL,
        clock_skew_ms    BIGINT,
        rejected_packets BIGINT NOT NULL,
        deviations       BIGINT NOT NULL,
        event_id         TEXT NOT NULL,
        PRIMARY KEY (project_id, gateway_id)
    )",
];

/// How many event ids an alarm row cites at most (the first ones of an episode or a window).
const MAX_CITED: usize = 50;

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0)
}

fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn local_day(us: i64) -> String {
    crate::shanghai(from_micros(us)).date().to_string()
}

fn cn_rank(cn: &str) -> u8 {
    match cn {
        "2011" => 0,
        "2051" => 1,
        "2061" => 2,
        _ => 3,
    }
}

/// Policies and project districts, loaded once per batch and updated as policies fold.
struct Batch {
    env: PolicyBook<EnvPolicy>,
    crane: PolicyBook<CranePolicy>,
    districts: HashMap<String, String>,
    env_default: EnvPolicy,
    crane_default: CranePolicy,
}

impl Batch {
    async fn load(tx: &mut Tx) -> Result<Self, sqlx::Error> {
        let mut b = Batch {
            env: PolicyBook::new(),
            crane: PolicyBook::new(),
            districts: HashMap::new(),
            env_default: EnvPolicy::default_policy(),
            crane_default: CranePolicy::default_policy(),
        };
        let rows: Vec<(String, String)> =
            tx.fetch_all(&Sql::new("SELECT kind, payload FROM site_policies ORDER BY position")).await?;
        for (kind, payload) in rows {
            let Ok(serde_json::Value::Object(p)) = serde_json::from_str::<serde_json::Value>(&payload) else {
                continue;
            };
            b.add(&kind, &p);
        }
        Ok(b)
    }

    fn add(&mut self, kind: &str, p: &serde_json::Map<String, serde_json::Value>) {
        match SiteEvent::parse(kind, p) {
            Some(Ok(SiteEvent::EnvPolicy(e))) => self.env.add(*e),
            Some(Ok(SiteEvent::CranePolicy(c))) => self.crane.add(*c),
            _ => {}
        }
    }

    async fn district(&mut self, tx: &mut Tx, project: &str) -> Result<String, sqlx::Error> {
        if let Some(d) = self.districts.get(project) {
            return Ok(d.clone());
        }
        let row: Option<(String,)> =
            tx.fetch_optional(&Sql::new("SELECT district FROM projects WHERE project_id = ?").arg(project)).await?;
        let d = row.map(|(d,)| d).unwrap_or_default();
        self.districts.insert(project.to_owned(), d.clone());
        Ok(d)
    }

    fn env_at(&self, district: &str, at: OffsetDateTime) -> &EnvPolicy {
        let d = DistrictCode::parse(district).ok();
        self.env.in_force(d.as_ref(), at).unwrap_or(&self.env_default)
    }

    fn crane_at(&self, district: &str, at: OffsetDateTime) -> &CranePolicy {
        let d = DistrictCode::parse(district).ok();
        self.crane.in_force(d.as_ref(), at).unwrap_or(&self.crane_default)
    }
}

fn policy_label(jurisdiction: &str, version: u32, default: bool) -> String {
    if default { "default".to_owned() } else { format!("{jurisdiction}#v{version}") }
}

/// A derived alarm to write.
struct Alarm<'a> {
    project: &'a str,
    district: &'a str,
    device: &'a str,
    rule: &'a str,
    level: &'static str,
    message: String,
    value: Option<String>,
    threshold: Option<String>,
    at_us: i64,
}

impl Alarm<'_> {
    fn base(&self) -> String {
        format!("{}:{}:{}", self.project, self.rule, self.device)
    }
}

/// Writes a one-off alarm (a window exceedance, a cycle without a certified operator, a meter decrease…) under
/// `key`, replacing any earlier version of it.
async fn put_alarm(tx: &mut Tx, key: &str, a: &Alarm<'_>, ids: &[String], pos: u64) -> Result<(), sqlx::Error> {
    let cited: Vec<&String> = ids.iter().take(MAX_CITED).collect();
    tx.execute(
        &Sql::new(
            "INSERT INTO site_alarms (alarm_key, base, project_id, district, device_id, rule, level, message, value, \
             threshold, at_us, day, open, cleared_us, cleared_event_id, samples, event_ids, position) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?, ?, ?) \
             ON CONFLICT (alarm_key) DO UPDATE SET level = excluded.level, message = excluded.message, \
             value = excluded.value, threshold = excluded.threshold, samples = excluded.samples, \
             event_ids = excluded.event_ids, position = excluded.position",
        )
        .arg(key)
        .arg(a.base())
        .arg(a.project)
        .arg(a.district)
        .arg(a.device)
        .arg(a.rule)
        .arg(a.level)
        .arg(a.message.clone())
        .arg(a.value.clone())
        .arg(a.threshold.clone())
        .arg(a.at_us)
        .arg(local_day(a.at_us))
        .arg(to_i64(ids.len() as u64))
        .arg(serde_json::to_string(&cited).unwrap_or_else(|_| "[]".into()))
        .arg(pos),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OpenEpisode {
    alarm_key: String,
    level: String,
    samples: i64,
    event_ids: String,
}

/// An episode alarm (moment band, wind stop, leakage, device alarm…): raised by the first offending record,
/// kept open while records offend (citing them), cleared by the first record that does not (`a == None`).
async fn episode(
    tx: &mut Tx,
    base: &str,
    a: Option<&Alarm<'_>>,
    event_id: &str,
    at_us: i64,
    pos: u64,
) -> Result<(), sqlx::Error> {
    let open: Option<OpenEpisode> = tx
        .fetch_optional(
            &Sql::new("SELECT alarm_key, level, samples, event_ids FROM site_alarms WHERE base = ? AND open = 1")
                .arg(base),
        )
        .await?;
    match (open, a) {
        (None, None) => {}
        (Some(o), None) => {
            tx.execute(
                &Sql::new(
                    "UPDATE site_alarms SET open = 0, cleared_us = ?, cleared_event_id = ?, position = ? \
                     WHERE alarm_key = ?",
                )
                .arg(at_us)
                .arg(event_id)
                .arg(pos)
                .arg(o.alarm_key),
            )
            .await?;
        }
        (None, Some(a)) => {
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_alarms (alarm_key, base, project_id, district, device_id, rule, level, message, \
                     value, threshold, at_us, day, open, cleared_us, cleared_event_id, samples, event_ids, position) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL, 1, ?, ?) \
                     ON CONFLICT (alarm_key) DO NOTHING",
                )
                .arg(format!("{base}@{event_id}"))
                .arg(base)
                .arg(a.project)
                .arg(a.district)
                .arg(a.device)
                .arg(a.rule)
                .arg(a.level)
                .arg(a.message.clone())
                .arg(a.value.clone())
                .arg(a.threshold.clone())
                .arg(a.at_us)
                .arg(local_day(a.at_us))
                .arg(serde_json::to_string(&[event_id]).unwrap_or_else(|_| "[]".into()))
                .arg(pos),
            )
            .await?;
        }
        (Some(o), Some(a)) => {
            let mut ids: Vec<String> = serde_json::from_str(&o.event_ids).unwrap_or_default();
            if ids.len() < MAX_CITED {
                ids.push(event_id.to_owned());
            }
            // The level only rises within an episode (a violation stays a violation until cleared).
            let level = if o.level == "violation" { "violation" } else { a.level };
            tx.execute(
                &Sql::new(
                    "UPDATE site_alarms SET level = ?, samples = ?, event_ids = ?, position = ?, \
                     message = CASE WHEN ? = level THEN message ELSE ? END, \
                     value = CASE WHEN ? = level THEN value ELSE ? END WHERE alarm_key = ?",
                )
                .arg(level)
                .arg(o.samples.saturating_add(1))
                .arg(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
                .arg(pos)
                .arg(level)
                .arg(a.message.clone())
                .arg(level)
                .arg(a.value.clone())
                .arg(o.alarm_key),
            )
            .await?;
        }
    }
    Ok(())
}

/// One value of an environmental metric.
struct EnvValue {
    metric: &'static str,
    value: Decimal,
    counts: bool,
    flag: Option<String>,
}

fn metric_of(code: &str) -> Option<&'static str> {
    siteledger_domain::site::factors::metric_of(code).map(|m| m.as_str())
}

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(crate) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let wanted =
        |k: &str| k == siteledger_domain::iot::DUST_NOISE_READING || siteledger_domain::site::KINDS.contains(&k);
    if !events.iter().any(|x| wanted(&x.e.kind)) {
        return Ok(());
    }
    let mut b = Batch::load(tx).await?;
    for x in events {
        if !wanted(&x.e.kind) {
            continue;
        }
        let event = match DomainEvent::parse(&x.e.kind, &x.payload) {
            Ok(e) => e,
            Err(err) => {
                tracing::warn!(position = x.e.position, kind = %x.e.kind, error = %err, "site record does not parse; not folded");
                continue;
            }
        };
        match event {
            DomainEvent::DustNoiseReading(r) => fold_dust_noise(tx, &mut b, x, &r).await?,
            DomainEvent::Site(e) => fold_site(tx, &mut b, x, e).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn fold_dust_noise(
    tx: &mut Tx,
    b: &mut Batch,
    x: &Prepared<'_>,
    r: &DustNoiseReading,
) -> Result<(), sqlx::Error> {
    let values = vec![
        EnvValue { metric: "pm10", value: r.pm10_ug_m3.clone(), counts: true, flag: None },
        EnvValue { metric: "pm25", value: r.pm25_ug_m3.clone(), counts: true, flag: None },
        EnvValue { metric: "noise", value: r.noise_db_a.clone(), counts: true, flag: None },
    ];
    let at = Timestamp::parse(&x.e.occurred_at).map_or_else(|_| from_micros(x.occurred_us), |t| t.instant());
    fold_env(tx, b, x, r.project_id.as_str(), r.device_id.as_str(), DataCn::RealTime, at, values).await
}

#[expect(clippy::too_many_arguments, reason = "one reading's coordinates")]
async fn fold_env(
    tx: &mut Tx,
    b: &mut Batch,
    x: &Prepared<'_>,
    project: &str,
    device: &str,
    cn: DataCn,
    at: OffsetDateTime,
    values: Vec<EnvValue>,
) -> Result<(), sqlx::Error> {
    let district = b.district(tx, project).await?;
    let at_us = micros(at);
    let at_text = Timestamp::from_instant(at).as_str().to_owned();
    let eid = x.e.event_id.to_string();
    for v in values {
        tx.execute(
            &Sql::new(
                "INSERT INTO site_readings (event_id, metric, project_id, device_id, cn, at_us, value, counts, position) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, metric) DO NOTHING",
            )
            .arg(eid.clone())
            .arg(v.metric)
            .arg(project)
            .arg(device)
            .arg(cn.as_str())
            .arg(at_us)
            .arg(v.value.as_str())
            .arg(v.counts)
            .arg(x.e.position),
        )
        .await?;
        tx.execute(
            &Sql::new(
                "INSERT INTO site_latest (project_id, device_id, metric, at_us, at, value, flag, event_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, device_id, metric) DO UPDATE SET \
                 at_us = excluded.at_us, at = excluded.at, value = excluded.value, flag = excluded.flag, \
                 event_id = excluded.event_id WHERE excluded.at_us >= site_latest.at_us",
            )
            .arg(project)
            .arg(device)
            .arg(v.metric)
            .arg(at_us)
            .arg(at_text.clone())
            .arg(v.value.as_str())
            .arg(v.flag.clone())
            .arg(eid.clone()),
        )
        .await?;
        if v.counts && matches!(v.metric, "pm10" | "pm25" | "noise" | "wind") {
            recompute_window(tx, b, x, project, &district, device, v.metric, at).await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct WindowReading {
    value: String,
    cn: String,
    event_id: String,
}

#[expect(clippy::too_many_arguments, reason = "one window's coordinates")]
async fn recompute_window(
    tx: &mut Tx,
    b: &Batch,
    x: &Prepared<'_>,
    project: &str,
    district: &str,
    device: &str,
    metric: &'static str,
    at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let policy = b.env_at(district, at);
    let is_default = std::ptr::eq(policy, &b.env_default);
    let label = policy_label(policy.jurisdiction.as_str(), policy.version.get(), is_default);
    let minutes = if metric == "noise" { policy.leq_window_min.get() } else { policy.pm_window_min.get() };
    let start = window_start(at, minutes);
    let start_us = micros(start);
    let end_us = start_us.saturating_add(i64::from(minutes) * 60_000_000);
    let rows: Vec<WindowReading> = tx
        .fetch_all(
            &Sql::new(
                "SELECT value, cn, event_id FROM site_readings WHERE project_id = ? AND device_id = ? AND metric = ? \
                 AND at_us >= ? AND at_us < ? AND counts = 1 ORDER BY at_us, event_id",
            )
            .arg(project)
            .arg(device)
            .arg(metric)
            .arg(start_us)
            .arg(end_us),
        )
        .await?;
    let finest = rows.iter().map(|r| cn_rank(&r.cn)).min().unwrap_or(0);
    let used: Vec<&WindowReading> = rows.iter().filter(|r| cn_rank(&r.cn) == finest).collect();
    let values: Vec<f64> = used.iter().filter_map(|r| r.value.parse::<f64>().ok()).collect();
    let ids: Vec<String> = used.iter().map(|r| r.event_id.clone()).collect();
    let (value, band, limit, warn, night) = match metric {
        "noise" => {
            let Some(v) = noise_verdict(policy, start, &values) else { return Ok(()) };
            let band = if v.exceeds { Band::Violation } else { Band::Normal };
            (v.leq, band, Some(v.limit), None, v.night)
        }
        "pm10" => {
            let Some(m) = pm_mean(&values) else { return Ok(()) };
            let band = pm10_band(policy, &m);
            (m, band, Some(policy.pm10_alarm_ug_m3.clone()), Some(policy.pm10_warn_ug_m3.clone()), false)
        }
        _ => {
            let Some(m) = pm_mean(&values) else { return Ok(()) };
            (m, Band::Normal, None, None, false)
        }
    };
    tx.execute(
        &Sql::new(
            "INSERT INTO site_windows (project_id, district, device_id, metric, window_start_us, window_min, value, \
             readings, band, limit_value, warn_value, night, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (project_id, device_id, metric, window_start_us) DO UPDATE SET value = excluded.value, \
             readings = excluded.readings, band = excluded.band, limit_value = excluded.limit_value, \
             warn_value = excluded.warn_value, night = excluded.night, policy = excluded.policy, \
             window_min = excluded.window_min, district = excluded.district",
        )
        .arg(project)
        .arg(district)
        .arg(device)
        .arg(metric)
        .arg(start_us)
        .arg(i64::from(minutes))
        .arg(value.as_str())
        .arg(to_i64(values.len() as u64))
        .arg(band.as_str())
        .arg(limit.as_ref().map(|d| d.to_string()))
        .arg(warn.as_ref().map(|d| d.to_string()))
        .arg(night)
        .arg(label.clone()),
    )
    .await?;
    let key = format!("{project}:env_{metric}:{device}@{start_us}");
    if band == Band::Normal {
        tx.execute(&Sql::new("DELETE FROM site_alarms WHERE alarm_key = ?").arg(key)).await?;
        return Ok(());
    }
    let local = crate::shanghai(start);
    let hhmm = format!("{:02}:{:02}", local.hour(), local.minute());
    let (rule, message, threshold) = if metric == "noise" {
        let period = if night { "夜间" } else { "昼间" };
        let lim = limit.as_ref().map(ToString::to_string).unwrap_or_default();
        (
            "env_noise",
            format!(
                "{period}噪声 Leq({minutes}min, {hhmm}起) {value} dB(A) 超过 {lim} dB(A) / noise Leq exceeds limit"
            ),
            lim,
        )
    } else {
        let th = if band == Band::Violation { &policy.pm10_alarm_ug_m3 } else { &policy.pm10_warn_ug_m3 };
        let what = if band == Band::Violation { "超标" } else { "预警" };
        let placeholder = if policy.pm10_placeholder { "（占位阈值 placeholder）" } else { "" };
        (
            "env_pm10",
            format!(
                "PM10 {minutes}分钟均值（{hhmm}起）{value} µg/m³ {what}，阈值 {th}{placeholder} / PM10 mean above threshold"
            ),
            th.to_string(),
        )
    };
    let a = Alarm {
        project,
        district,
        device,
        rule,
        level: if band == Band::Violation { "violation" } else { "warning" },
        message,
        value: Some(value.to_string()),
        threshold: Some(threshold),
        at_us: start_us,
    };
    put_alarm(tx, &key, &a, &ids, x.e.position).await
}

async fn upsert_device(
    tx: &mut Tx,
    project: &str,
    device: &str,
    family: &str,
    latest: &serde_json::Map<String, serde_json::Value>,
    at_us: i64,
    eid: &str,
) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO site_devices (project_id, device_id, family, latest, at_us, operator_ref, cert_valid_until, \
             login_event_id, event_id) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?) \
             ON CONFLICT (project_id, device_id) DO UPDATE SET family = excluded.family, latest = excluded.latest, \
             at_us = excluded.at_us, event_id = excluded.event_id WHERE excluded.at_us >= site_devices.at_us",
        )
        .arg(project)
        .arg(device)
        .arg(family)
        .arg(serde_json::Value::Object(latest.clone()).to_string())
        .arg(at_us)
        .arg(eid),
    )
    .await?;
    Ok(())
}

async fn session(tx: &mut Tx, project: &str, device: &str) -> Result<Option<(OperatorSession, String)>, sqlx::Error> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> = tx
        .fetch_optional(
            &Sql::new(
                "SELECT operator_ref, cert_valid_until, login_event_id FROM site_devices \
                 WHERE project_id = ? AND device_id = ?",
            )
            .arg(project)
            .arg(device),
        )
        .await?;
    Ok(row.and_then(|(op, until, eid)| {
        let until = LocalDate::parse(&until?).ok()?;
        Some((OperatorSession { operator_ref: op?, certificate_valid_until: until }, eid.unwrap_or_default()))
    }))
}

fn band_level(b: Band) -> &'static str {
    if b == Band::Violation { "violation" } else { "warning" }
}

#[expect(clippy::too_many_lines, reason = "one match arm per site kind")]
async fn fold_site(tx: &mut Tx, b: &mut Batch, x: &Prepared<'_>, e: SiteEvent) -> Result<(), sqlx::Error> {
    let eid = x.e.event_id.to_string();
    let pos = x.e.position;
    match &e {
        SiteEvent::EnvPolicy(_) | SiteEvent::CranePolicy(_) => {
            let (jurisdiction, version, from) = match &e {
                SiteEvent::EnvPolicy(p) => (p.jurisdiction.to_string(), p.version.get(), p.effective_from.instant()),
                SiteEvent::CranePolicy(p) => (p.jurisdiction.to_string(), p.version.get(), p.effective_from.instant()),
                _ => return Ok(()),
            };
            let payload = serde_json::Value::Object(e.to_payload()).to_string();
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_policies (kind, jurisdiction, version, effective_us, payload, event_id, position) \
                     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, jurisdiction, version) DO NOTHING",
                )
                .arg(e.kind())
                .arg(jurisdiction)
                .arg(i64::from(version))
                .arg(micros(from))
                .arg(payload)
                .arg(eid)
                .arg(pos),
            )
            .await?;
            b.add(e.kind(), &e.to_payload());
        }
        SiteEvent::Hj212Data(d) => {
            let values = d
                .items
                .iter()
                .filter_map(|i| {
                    let metric = metric_of(i.code.as_str())?;
                    Some(EnvValue {
                        metric,
                        value: i.value()?.clone(),
                        counts: i.counts(),
                        flag: i.flag.as_ref().map(ToString::to_string),
                    })
                })
                .collect();
            if d.cn != DataCn::Status {
                fold_env(tx, b, x, d.project_id.as_str(), d.device_id.as_str(), d.cn, d.data_time.instant(), values)
                    .await?;
            }
            let mut latest = serde_json::Map::new();
            latest.insert("cn".into(), d.cn.as_str().into());
            latest.insert("deviations".into(), d.deviations.len().into());
            upsert_device(
                tx,
                d.project_id.as_str(),
                d.device_id.as_str(),
                "env",
                &latest,
                micros(d.data_time.instant()),
                &eid,
            )
            .await?;
        }
        SiteEvent::CraneSample(s) => {
            let project = s.project_id.as_str();
            let device = s.device_id.as_str();
            let district = b.district(tx, project).await?;
            let at = s.sampled_at.instant();
            let at_us = micros(at);
            upsert_device(tx, project, device, "crane", &e.to_payload(), at_us, &eid).await?;
            let p = b.crane_at(&district, at).clone();
            let base = |rule: &str| format!("{project}:{rule}:{device}");
            let mb = moment_band(&p, &s.moment_pct);
            let lb = s.rated_load_t.as_ref().and_then(|r| load_band(&p, &s.load_t, r)).unwrap_or(Band::Normal);
            let band = mb.max(lb);
            let moment = (band != Band::Normal).then(|| Alarm {
                project,
                district: &district,
                device,
                rule: "crane_moment",
                level: band_level(band),
                message: format!(
                    "塔吊力矩 {}%、起重量 {} t{}（预警 {}%，违规 {}%） / crane moment/load band",
                    s.moment_pct,
                    s.load_t,
                    s.rated_load_t.as_ref().map(|r| format!("/额定 {r} t")).unwrap_or_default(),
                    p.moment_warn_pct,
                    p.moment_violation_pct
                ),
                value: Some(s.moment_pct.to_string()),
                threshold: Some(
                    if band == Band::Violation { &p.moment_violation_pct } else { &p.moment_warn_pct }.to_string(),
                ),
                at_us,
            });
            episode(tx, &base("crane_moment"), moment.as_ref(), &eid, at_us, pos).await?;
            let wind = wind_stop(&p, &s.wind_m_s).then(|| Alarm {
                project,
                district: &district,
                device,
                rule: "crane_wind",
                level: "violation",
                message: format!("风速 {} m/s ≥ {} m/s，应停止作业 / wind stop", s.wind_m_s, p.wind_stop_m_s),
                value: Some(s.wind_m_s.to_string()),
                threshold: Some(p.wind_stop_m_s.to_string()),
                at_us,
            });
            episode(tx, &base("crane_wind"), wind.as_ref(), &eid, at_us, pos).await?;
            // Operation (a load on the hook) needs a logged-in, certified operator.
            let operating = s.load_t.mantissa() > 0;
            let issue = if operating {
                let sess = session(tx, project, device).await?;
                let day = rules::local_date(&s.sampled_at).unwrap_or(LocalDate::MIN);
                rules::operator_check(sess.as_ref().map(|(s, _)| s), s.operator_ref.as_ref().map(|o| o.as_str()), day)
                    .err()
            } else {
                None
            };
            let op = issue.map(|i| Alarm {
                project,
                district: &district,
                device,
                rule: "crane_operator",
                level: "violation",
                message: i.message(),
                value: None,
                threshold: None,
                at_us,
            });
            if operating || op.is_some() {
                episode(tx, &base("crane_operator"), op.as_ref(), &eid, at_us, pos).await?;
            }
        }
        SiteEvent::CraneCycle(c) => {
            let project = c.project_id.as_str();
            let device = c.device_id.as_str();
            let district = b.district(tx, project).await?;
            let at = c.started_at.instant();
            let p = b.crane_at(&district, at).clone();
            let band = moment_band(&p, &c.max_moment_pct);
            let sess = session(tx, project, device).await?;
            let day = rules::local_date(&c.started_at).unwrap_or(LocalDate::MIN);
            let issue =
                rules::operator_check(sess.as_ref().map(|(s, _)| s), c.operator_ref.as_ref().map(|o| o.as_str()), day)
                    .err();
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_crane_cycles (event_id, project_id, device_id, started_us, started_at, ended_at, \
                     max_load_t, max_moment_pct, max_wind_m_s, radius_m, height_m, over_moment_count, operator_ref, \
                     band, operator_issue, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (event_id) DO NOTHING",
                )
                .arg(eid.clone())
                .arg(project)
                .arg(device)
                .arg(micros(at))
                .arg(c.started_at.as_str())
                .arg(c.ended_at.as_str())
                .arg(c.max_load_t.as_str())
                .arg(c.max_moment_pct.as_str())
                .arg(c.max_wind_m_s.as_str())
                .arg(c.radius_m.as_str())
                .arg(c.height_m.as_str())
                .arg(i64::from(c.over_moment_count))
                .arg(c.operator_ref.as_ref().map(ToString::to_string))
                .arg(band.as_str())
                .arg(issue.as_ref().map(rules::OperatorIssue::message))
                .arg(pos),
            )
            .await?;
            if let Some(i) = issue {
                let mut ids = vec![eid.clone()];
                if let Some((_, login)) = sess {
                    ids.push(login);
                }
                let a = Alarm {
                    project,
                    district: &district,
                    device,
                    rule: "crane_cycle_operator",
                    level: "violation",
                    message: format!("工作循环 {}：{}", c.started_at, i.message()),
                    value: None,
                    threshold: None,
                    at_us: micros(at),
                };
                put_alarm(tx, &format!("{}@{eid}", a.base()), &a, &ids, pos).await?;
            }
            if band != Band::Normal {
                let a = Alarm {
                    project,
                    district: &district,
                    device,
                    rule: "crane_cycle_moment",
                    level: band_level(band),
                    message: format!(
                        "工作循环 {} 最大力矩 {}%（超力矩 {} 次） / cycle moment band",
                        c.started_at, c.max_moment_pct, c.over_moment_count
                    ),
                    value: Some(c.max_moment_pct.to_string()),
                    threshold: Some(
                        if band == Band::Violation { &p.moment_violation_pct } else { &p.moment_warn_pct }.to_string(),
                    ),
                    at_us: micros(at),
                };
                put_alarm(tx, &format!("{}@{eid}", a.base()), &a, std::slice::from_ref(&eid), pos).await?;
            }
        }
        SiteEvent::OperatorLogin(l) => {
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_devices (project_id, device_id, family, latest, at_us, operator_ref, \
                     cert_valid_until, login_event_id, event_id) VALUES (?, ?, 'crane', '{}', 0, ?, ?, ?, ?) \
                     ON CONFLICT (project_id, device_id) DO UPDATE SET operator_ref = excluded.operator_ref, \
                     cert_valid_until = excluded.cert_valid_until, login_event_id = excluded.login_event_id",
                )
                .arg(l.project_id.as_str())
                .arg(l.device_id.as_str())
                .arg(l.operator_ref.as_str())
                .arg(l.certificate_valid_until.to_string())
                .arg(eid.clone())
                .arg(eid),
            )
            .await?;
        }
        SiteEvent::OperatorLogout(l) => {
            tx.execute(
                &Sql::new(
                    "UPDATE site_devices SET operator_ref = NULL, cert_valid_until = NULL, login_event_id = NULL \
                     WHERE project_id = ? AND device_id = ? AND operator_ref = ?",
                )
                .arg(l.project_id.as_str())
                .arg(l.device_id.as_str())
                .arg(l.operator_ref.as_str()),
            )
            .await?;
        }
        SiteEvent::CraneAlarm(a) => {
            let project = a.project_id.as_str();
            let device = a.device_id.as_str();
            let district = b.district(tx, project).await?;
            let rule = format!("crane_device_{}", a.alarm_code);
            let base = format!("{project}:{rule}:{device}");
            let alarm = Alarm {
                project,
                district: &district,
                device,
                rule: &rule,
                level: "warning",
                message: format!(
                    "黑匣子报警 {}（{}）{} / black-box alarm",
                    a.alarm_code,
                    crane_alarm_name(a.alarm_code),
                    a.message.as_ref().map(ToString::to_string).unwrap_or_default()
                ),
                value: a.value.as_ref().map(ToString::to_string),
                threshold: None,
                at_us: x.occurred_us,
            };
            let raised = a.action == siteledger_domain::site::AlarmAction::Raised;
            episode(tx, &base, raised.then_some(&alarm), &eid, x.occurred_us, pos).await?;
        }
        SiteEvent::CraneCutoff(c) => {
            let project = c.project_id.as_str();
            let district = b.district(tx, project).await?;
            let a = Alarm {
                project,
                district: &district,
                device: c.device_id.as_str(),
                rule: "crane_cutoff",
                level: "violation",
                message: format!("控制回路断电（JGJ 332 §3.1.1）：{}", c.reason),
                value: None,
                threshold: None,
                at_us: x.occurred_us,
            };
            put_alarm(tx, &format!("{}@{eid}", a.base()), &a, std::slice::from_ref(&eid), pos).await?;
        }
        SiteEvent::HoistSample(s) => {
            let project = s.project_id.as_str();
            let device = s.device_id.as_str();
            let district = b.district(tx, project).await?;
            let at = s.sampled_at.instant();
            let at_us = micros(at);
            upsert_device(tx, project, device, "hoist", &e.to_payload(), at_us, &eid).await?;
            let p = b.crane_at(&district, at).clone();
            let band = load_pct_band(&p, &s.load_pct);
            let load = (band != Band::Normal).then(|| Alarm {
                project,
                district: &district,
                device,
                rule: "hoist_load",
                level: band_level(band),
                message: format!("升降机载重 {}%（{} kg，{} 人） / hoist load band", s.load_pct, s.load_kg, s.people),
                value: Some(s.load_pct.to_string()),
                threshold: Some(
                    if band == Band::Violation { &p.load_violation_pct } else { &p.load_warn_pct }.to_string(),
                ),
                at_us,
            });
            episode(tx, &format!("{project}:hoist_load:{device}"), load.as_ref(), &eid, at_us, pos).await?;
            let wind = wind_stop(&p, &s.wind_m_s).then(|| Alarm {
                project,
                district: &district,
                device,
                rule: "hoist_wind",
                level: "violation",
                message: format!("风速 {} m/s ≥ {} m/s，升降机应停止运行 / wind stop", s.wind_m_s, p.wind_stop_m_s),
                value: Some(s.wind_m_s.to_string()),
                threshold: Some(p.wind_stop_m_s.to_string()),
                at_us,
            });
            episode(tx, &format!("{project}:hoist_wind:{device}"), wind.as_ref(), &eid, at_us, pos).await?;
            let moving = s.direction.get() != 0;
            // Operating a hoist whose safety gear calibration has expired, or whose drop test is overdue, on the
            // sample's day (JGJ 215-2010 §4.1.7, §5.3.6): judged at each moving sample, cleared once inspected.
            if moving {
                let day = rules::local_date(&s.sampled_at).unwrap_or(LocalDate::MIN);
                let checks: Option<(Option<String>, Option<String>, Option<String>)> = tx
                    .fetch_optional(
                        &Sql::new(
                            "SELECT calibrated_on, valid_until, last_passed_drop FROM site_hoist_checks \
                             WHERE project_id = ? AND device_id = ?",
                        )
                        .arg(project)
                        .arg(device),
                    )
                    .await?;
                let (cal_on, cal_until, passed) = checks.unwrap_or_default();
                let date = |s: &Option<String>| s.as_deref().and_then(|d| LocalDate::parse(d).ok());
                let cal = date(&cal_on).zip(date(&cal_until));
                let due_alarm = |rule: &'static str, due: Due, what: &str| match due {
                    Due::ValidUntil(_) => None,
                    Due::Overdue(since) => Some(Alarm {
                        project,
                        district: &district,
                        device,
                        rule,
                        level: "violation",
                        message: format!("升降机运行时{what}已于 {since} 到期 / {rule}"),
                        value: None,
                        threshold: None,
                        at_us,
                    }),
                    Due::Missing => Some(Alarm {
                        project,
                        district: &district,
                        device,
                        rule,
                        level: "violation",
                        message: format!("升降机运行时无{what}记录 / {rule}"),
                        value: None,
                        threshold: None,
                        at_us,
                    }),
                };
                let a = due_alarm("hoist_calibration", calibration_due(&p, cal, day), "防坠安全器标定");
                episode(tx, &format!("{project}:hoist_calibration:{device}"), a.as_ref(), &eid, at_us, pos).await?;
                let a = due_alarm("hoist_drop_test", drop_test_due(&p, date(&passed), day), "坠落试验");
                episode(tx, &format!("{project}:hoist_drop_test:{device}"), a.as_ref(), &eid, at_us, pos).await?;
            }
            if moving {
                let sess = session(tx, project, device).await?;
                let day = rules::local_date(&s.sampled_at).unwrap_or(LocalDate::MIN);
                let issue = rules::operator_check(
                    sess.as_ref().map(|(s, _)| s),
                    s.operator_ref.as_ref().map(|o| o.as_str()),
                    day,
                )
                .err();
                let op = issue.map(|i| Alarm {
                    project,
                    district: &district,
                    device,
                    rule: "hoist_operator",
                    level: "violation",
                    message: i.message(),
                    value: None,
                    threshold: None,
                    at_us,
                });
                episode(tx, &format!("{project}:hoist_operator:{device}"), op.as_ref(), &eid, at_us, pos).await?;
            }
        }
        SiteEvent::SafetyGearCalibrated(c) => {
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_hoist_checks (project_id, device_id, calibrated_on, valid_until, certificate_no, \
                     calibration_event_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, device_id) DO UPDATE SET \
                     calibrated_on = excluded.calibrated_on, valid_until = excluded.valid_until, \
                     certificate_no = excluded.certificate_no, calibration_event_id = excluded.calibration_event_id",
                )
                .arg(c.project_id.as_str())
                .arg(c.device_id.as_str())
                .arg(c.calibrated_on.to_string())
                .arg(c.valid_until.to_string())
                .arg(c.certificate_no.as_str())
                .arg(eid),
            )
            .await?;
        }
        SiteEvent::DropTestPerformed(d) => {
            let passed_date = d.passed.then(|| d.performed_on.to_string());
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_hoist_checks (project_id, device_id, last_drop_test, last_drop_passed, \
                     last_passed_drop, drop_event_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, device_id) \
                     DO UPDATE SET last_drop_test = excluded.last_drop_test, \
                     last_drop_passed = excluded.last_drop_passed, drop_event_id = excluded.drop_event_id, \
                     last_passed_drop = COALESCE(excluded.last_passed_drop, site_hoist_checks.last_passed_drop)",
                )
                .arg(d.project_id.as_str())
                .arg(d.device_id.as_str())
                .arg(d.performed_on.to_string())
                .arg(d.passed)
                .arg(passed_date)
                .arg(eid.clone()),
            )
            .await?;
            if !d.passed {
                let project = d.project_id.as_str();
                let district = b.district(tx, project).await?;
                let a = Alarm {
                    project,
                    district: &district,
                    device: d.device_id.as_str(),
                    rule: "hoist_drop_test_failed",
                    level: "violation",
                    message: format!("{} 坠落试验未通过（JGJ 215 §5.3.6） / drop test failed", d.performed_on),
                    value: None,
                    threshold: None,
                    at_us: x.occurred_us,
                };
                put_alarm(tx, &format!("{}@{eid}", a.base()), &a, std::slice::from_ref(&eid), pos).await?;
            }
        }
        SiteEvent::MeterReading(m) => fold_meter(tx, b, x, m).await?,
        SiteEvent::CameraRegistered(c) => {
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_cameras (project_id, device_id, name, position_name, registered, status, \
                     status_us, last_keepalive_at, event_id) VALUES (?, ?, ?, ?, 1, 'offline', 0, NULL, ?) \
                     ON CONFLICT (project_id, device_id) DO UPDATE SET name = excluded.name, \
                     position_name = excluded.position_name, registered = 1",
                )
                .arg(c.project_id.as_str())
                .arg(c.device_id.as_str())
                .arg(c.name.as_str())
                .arg(c.position.as_str())
                .arg(eid),
            )
            .await?;
        }
        SiteEvent::CameraStatus(s) => {
            let status = match s.status {
                siteledger_domain::site::CameraStatus::Online => "online",
                siteledger_domain::site::CameraStatus::Offline => "offline",
            };
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_cameras (project_id, device_id, name, position_name, registered, status, \
                     status_us, last_keepalive_at, event_id) VALUES (?, ?, ?, '', 0, ?, ?, ?, ?) \
                     ON CONFLICT (project_id, device_id) DO UPDATE SET status = excluded.status, \
                     status_us = excluded.status_us, last_keepalive_at = excluded.last_keepalive_at, \
                     event_id = excluded.event_id",
                )
                .arg(s.project_id.as_str())
                .arg(s.device_id.as_str())
                .arg(s.device_id.as_str())
                .arg(status)
                .arg(x.occurred_us)
                .arg(s.last_keepalive_at.as_ref().map(ToString::to_string))
                .arg(eid),
            )
            .await?;
        }
        SiteEvent::CameraAlarm(c) => {
            let project = c.project_id.as_str();
            let district = b.district(tx, project).await?;
            let rule = format!("video_alarm_{}_{}", c.method.get(), c.alarm_type);
            let a = Alarm {
                project,
                district: &district,
                device: c.device_id.as_str(),
                rule: &rule,
                level: if c.priority.get() <= 2 { "violation" } else { "warning" },
                message: format!(
                    "视频报警 {}级 方式{} 类型{} {} / camera alarm",
                    c.priority.get(),
                    c.method.get(),
                    c.alarm_type,
                    c.description.as_ref().map(ToString::to_string).unwrap_or_default()
                ),
                value: None,
                threshold: None,
                at_us: micros(c.alarm_at.instant()),
            };
            put_alarm(tx, &format!("{}@{eid}", a.base()), &a, std::slice::from_ref(&eid), pos).await?;
        }
        SiteEvent::GatewayHeartbeat(h) => {
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_gateways (project_id, gateway_id, at, at_us, queue_depth, queue_bytes, \
                     clock_skew_ms, rejected_packets, deviations, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (project_id, gateway_id) DO UPDATE SET at = excluded.at, at_us = excluded.at_us, \
                     queue_depth = excluded.queue_depth, queue_bytes = excluded.queue_bytes, \
                     clock_skew_ms = excluded.clock_skew_ms, rejected_packets = excluded.rejected_packets, \
                     deviations = excluded.deviations, event_id = excluded.event_id",
                )
                .arg(h.project_id.as_str())
                .arg(h.gateway_id.as_str())
                .arg(x.e.occurred_at.clone())
                .arg(x.occurred_us)
                .arg(h.queue_depth)
                .arg(h.queue_bytes)
                .arg(h.clock_skew_ms)
                .arg(h.rejected_packets)
                .arg(h.deviations)
                .arg(eid),
            )
            .await?;
        }
    }
    Ok(())
}

/// Black-box `AlarmType` names (xieyagit/zhgd).
fn crane_alarm_name(code: u16) -> &'static str {
    match code {
        11 | 12 => "角度限位",
        13 | 14 => "变幅限位",
        15 => "高度上限位",
        21..=24 => "多机防碰撞",
        31..=34 => "禁吊区",
        41 | 42 => "禁入区",
        51 => "吊重",
        61 => "风速",
        71 => "未打卡操作",
        81 => "倾角",
        _ => "其他",
    }
}

#[derive(sqlx::FromRow)]
struct MeterState {
    last_total: String,
    last_event_id: String,
}

async fn fold_meter(
    tx: &mut Tx,
    b: &mut Batch,
    x: &Prepared<'_>,
    m: &siteledger_domain::site::MeterReading,
) -> Result<(), sqlx::Error> {
    let project = m.project_id.as_str();
    let device = m.device_id.as_str();
    let district = b.district(tx, project).await?;
    let eid = x.e.event_id.to_string();
    let pos = x.e.position;
    let at = m.read_at.instant();
    let at_us = micros(at);
    let prev: Option<MeterState> = tx
        .fetch_optional(
            &Sql::new(
                "SELECT last_total, last_event_id FROM site_meters WHERE project_id = ? AND device_id = ? AND meter = ?",
            )
            .arg(project)
            .arg(device)
            .arg(m.meter.as_str()),
        )
        .await?;
    let step = prev.as_ref().and_then(|p| Decimal::parse(&p.last_total).ok().and_then(|t| meter_step(&t, &m.total)));
    match (&step, &prev) {
        (Some(MeterStep::Consumption(c)), _) => {
            let day = local_day(at_us);
            let existing: Option<(String,)> = tx
                .fetch_optional(
                    &Sql::new(
                        "SELECT consumption FROM site_meter_days WHERE project_id = ? AND device_id = ? AND day = ?",
                    )
                    .arg(project)
                    .arg(device)
                    .arg(day.clone()),
                )
                .await?;
            let sum = existing
                .and_then(|(s,)| Decimal::parse(&s).ok())
                .and_then(|s| rules::dec_add(&s, c))
                .unwrap_or_else(|| c.clone());
            tx.execute(
                &Sql::new(
                    "INSERT INTO site_meter_days (project_id, device_id, meter, day, consumption, readings) \
                     VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (project_id, device_id, meter, day) DO UPDATE SET \
                     consumption = excluded.consumption, readings = site_meter_days.readings + 1",
                )
                .arg(project)
                .arg(device)
                .arg(m.meter.as_str())
                .arg(day)
                .arg(sum.to_string()),
            )
            .await?;
        }
        (Some(MeterStep::Decrease(d)), Some(p)) => {
            let a = Alarm {
                project,
                district: &district,
                device,
                rule: "meter_decrease",
                level: "warning",
                message: format!(
                    "{}表读数下降 {} → {}（差 {}），累计值应单调不减 / meter total decreased",
                    if m.meter.as_str() == "water" { "水" } else { "电" },
                    p.last_total,
                    m.total,
                    d
                ),
                value: Some(m.total.to_string()),
                threshold: Some(p.last_total.clone()),
                at_us,
            };
            put_alarm(tx, &format!("{}@{eid}", a.base()), &a, &[p.last_event_id.clone(), eid.clone()], pos).await?;
        }
        _ => {}
    }
    tx.execute(
        &Sql::new(
            "INSERT INTO site_meters (project_id, device_id, meter, last_total, last_read_us, last_read_at, residual_ma, \
             temperature_c, last_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, device_id, meter) \
             DO UPDATE SET last_total = excluded.last_total, \
             last_read_us = excluded.last_read_us, last_read_at = excluded.last_read_at, \
             residual_ma = excluded.residual_ma, temperature_c = excluded.temperature_c, \
             last_event_id = excluded.last_event_id",
        )
        .arg(project)
        .arg(device)
        .arg(m.meter.as_str())
        .arg(m.total.as_str())
        .arg(at_us)
        .arg(m.read_at.as_str())
        .arg(m.residual_current_ma.as_ref().map(ToString::to_string))
        .arg(m.temperature_c.as_ref().map(ToString::to_string))
        .arg(eid.clone()),
    )
    .await?;
    if let Some(r) = &m.residual_current_ma {
        let p = b.crane_at(&district, at).clone();
        let leak = leakage_alarm(&p, r).then(|| Alarm {
            project,
            district: &district,
            device,
            rule: "meter_leakage",
            level: "violation",
            message: format!("剩余电流 {r} mA 超过 {} mA（JGJ 46） / leakage current alarm", p.leakage_alarm_ma),
            value: Some(r.to_string()),
            threshold: Some(p.leakage_alarm_ma.to_string()),
            at_us,
        });
        episode(tx, &format!("{project}:meter_leakage:{device}"), leak.as_ref(), &eid, at_us, pos).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------------------------

/// A derived site alarm or exceedance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SiteAlarmRow {
    /// Unique key.
    pub alarm_key: String,
    /// Project.
    pub project_id: String,
    /// District code.
    pub district: String,
    /// Device.
    pub device_id: String,
    /// Rule (`env_noise`, `env_pm10`, `crane_moment`, `crane_wind`, `crane_operator`, `meter_leakage`, …).
    pub rule: String,
    /// `warning` or `violation`.
    pub level: String,
    /// Chinese first.
    pub message: String,
    /// Value (decimal string).
    pub value: Option<String>,
    /// Threshold (decimal string).
    pub threshold: Option<String>,
    /// When (µs since the epoch): window start, first offending record, or the record's time.
    pub at_us: i64,
    /// Local day.
    pub day: String,
    /// Episode still open (0/1).
    #[serde(serialize_with = "as_bool")]
    pub open: i64,
    /// Cleared when (µs), for episodes.
    pub cleared_us: Option<i64>,
    /// The record that cleared it.
    pub cleared_event_id: Option<String>,
    /// How many records rest on it.
    pub samples: i64,
    /// The event ids it rests on (at most 50; stored as a JSON array).
    #[serde(serialize_with = "as_json_array")]
    pub event_ids: String,
}

fn as_bool<S: serde::Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*v != 0)
}

fn as_json_array<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    let ids: Vec<String> = serde_json::from_str(v).unwrap_or_default();
    serde::Serialize::serialize(&ids, s)
}

impl SiteAlarmRow {
    /// The event ids it rests on.
    pub fn cited(&self) -> Vec<String> {
        serde_json::from_str(&self.event_ids).unwrap_or_default()
    }
    /// Whether the episode is still open.
    pub fn is_open(&self) -> bool {
        self.open != 0
    }
}

/// A window value of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct WindowRow {
    /// Project.
    pub project_id: String,
    /// Device.
    pub device_id: String,
    /// `pm10`, `pm25`, `noise`, `wind`.
    pub metric: String,
    /// Window start, µs.
    pub window_start_us: i64,
    /// Window length.
    pub window_min: i64,
    /// Mean or Leq (decimal string, 0.1).
    pub value: String,
    /// Readings used.
    pub readings: i64,
    /// `normal`, `warning`, `violation`.
    pub band: String,
    /// The limit (noise: day/night limit; PM10: alarm threshold).
    pub limit_value: Option<String>,
    /// PM10 warning threshold.
    pub warn_value: Option<String>,
    /// Night window.
    pub night: i64,
    /// Policy used (`default` or `<jurisdiction>#v<n>`).
    pub policy: String,
}

/// A latest value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct LatestRow {
    /// Project.
    pub project_id: String,
    /// Device.
    pub device_id: String,
    /// Metric.
    pub metric: String,
    /// When, RFC 3339 (Asia/Shanghai).
    pub at: String,
    /// Value as sent (decimal string).
    pub value: String,
    /// Data flag, if any.
    pub flag: Option<String>,
    /// Event id.
    pub event_id: String,
}

/// A crane work cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CycleRow {
    /// Event id of the cycle record.
    pub event_id: String,
    /// Crane.
    pub device_id: String,
    /// Start.
    pub started_at: String,
    /// End.
    pub ended_at: String,
    /// Max load t.
    pub max_load_t: String,
    /// Max moment %.
    pub max_moment_pct: String,
    /// Max wind m/s.
    pub max_wind_m_s: String,
    /// Radius m.
    pub radius_m: String,
    /// Height m.
    pub height_m: String,
    /// 超力矩次数.
    pub over_moment_count: i64,
    /// Operator.
    pub operator_ref: Option<String>,
    /// Moment band.
    pub band: String,
    /// Why the operator was not valid, if not.
    pub operator_issue: Option<String>,
}

/// A device's latest state (cranes, hoists, env monitors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeviceRow {
    /// Device.
    pub device_id: String,
    /// `crane`, `hoist`, `env`.
    pub family: String,
    /// The latest record's payload (JSON).
    pub latest: String,
    /// Logged-in operator.
    pub operator_ref: Option<String>,
    /// Certificate expiry.
    pub cert_valid_until: Option<String>,
}

/// A hoist's inspections and their due status on the day asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoistCheckRow {
    /// Hoist.
    pub device_id: String,
    /// Calibration date.
    pub calibrated_on: Option<String>,
    /// Certificate number.
    pub certificate_no: Option<String>,
    /// `valid`, `overdue`, `missing`.
    pub calibration: String,
    /// Valid through / overdue since.
    pub calibration_until: Option<String>,
    /// Last drop test.
    pub last_drop_test: Option<String>,
    /// Whether it passed.
    pub last_drop_passed: Option<bool>,
    /// `valid`, `overdue`, `missing`.
    pub drop_test: String,
    /// Next due.
    pub drop_test_due: Option<String>,
}

/// A meter and its consumption per day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MeterRow {
    /// Meter.
    pub device_id: String,
    /// `electricity` or `water`.
    pub meter: String,
    /// Last total.
    pub last_total: String,
    /// Last read.
    pub last_read_at: String,
    /// Residual current mA.
    pub residual_ma: Option<String>,
    /// Temperature °C.
    pub temperature_c: Option<String>,
}

/// Consumption of one meter on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MeterDayRow {
    /// Meter.
    pub device_id: String,
    /// `electricity` or `water`.
    pub meter: String,
    /// Local day.
    pub day: String,
    /// kWh or m³ (decimal string).
    pub consumption: String,
    /// Readings that day.
    pub readings: i64,
}

/// A camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CameraRow {
    /// GB/T 28181 id.
    pub device_id: String,
    /// Name.
    pub name: String,
    /// Position.
    pub position_name: String,
    /// Registered.
    pub registered: i64,
    /// `online` or `offline`.
    pub status: String,
    /// Last keepalive.
    pub last_keepalive_at: Option<String>,
}

/// A gateway's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct GatewayRow {
    /// Gateway.
    pub gateway_id: String,
    /// When.
    pub at: String,
    /// Queue depth.
    pub queue_depth: i64,
    /// Queue bytes.
    pub queue_bytes: i64,
    /// Clock skew ms.
    pub clock_skew_ms: Option<i64>,
    /// Rejected packets.
    pub rejected_packets: i64,
    /// Deviations.
    pub deviations: i64,
}

/// A signer gap (数据缺失) on a project's keys, from the shared `alarms` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct GapRow {
    /// The ledger notice's event id.
    pub event_id: String,
    /// Message.
    pub message: String,
    /// Records missing.
    pub value: Option<String>,
    /// Signer key.
    pub key_id: Option<String>,
    /// When.
    pub raised_at: String,
}

/// The thresholds in force for a project (at the time asked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThresholdsRow {
    /// `default` or `<jurisdiction>#v<n>`.
    pub env_policy: String,
    /// Day limit dB(A).
    pub noise_day: String,
    /// Night limit dB(A).
    pub noise_night: String,
    /// Night hours `22:00–06:00`.
    pub night: String,
    /// Leq window minutes.
    pub leq_window_min: u16,
    /// PM10 warn µg/m³.
    pub pm10_warn: String,
    /// PM10 alarm µg/m³.
    pub pm10_alarm: String,
    /// PM window minutes.
    pub pm_window_min: u16,
    /// PM10 thresholds are placeholders.
    pub pm10_placeholder: bool,
    /// `default` or `<jurisdiction>#v<n>`.
    pub crane_policy: String,
    /// Moment warn %.
    pub moment_warn: String,
    /// Moment violation %.
    pub moment_violation: String,
    /// Wind stop m/s.
    pub wind_stop: String,
    /// Leakage mA.
    pub leakage: String,
}

/// Everything of one project's site page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteProject {
    /// Project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// District.
    pub district: String,
    /// Thresholds in force now.
    pub thresholds: ThresholdsRow,
    /// Latest values per device and metric.
    pub latest: Vec<LatestRow>,
    /// Window series since the time asked.
    pub windows: Vec<WindowRow>,
    /// Derived alarms, newest first.
    pub alarms: Vec<SiteAlarmRow>,
    /// Crane work cycles, newest first.
    pub cycles: Vec<CycleRow>,
    /// Cranes, hoists, monitors.
    pub devices: Vec<DeviceRow>,
    /// Hoist inspections.
    pub hoists: Vec<HoistCheckRow>,
    /// Meters.
    pub meters: Vec<MeterRow>,
    /// Consumption per day, newest first.
    pub meter_days: Vec<MeterDayRow>,
    /// Cameras.
    pub cameras: Vec<CameraRow>,
    /// Online cameras per mille of registered ones.
    pub camera_online_permille: Option<u64>,
    /// Gateways.
    pub gateways: Vec<GatewayRow>,
    /// Signer gaps.
    pub gaps: Vec<GapRow>,
}

/// One project on the site overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SiteOverviewRow {
    /// Project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// District code.
    pub district: String,
    /// Latest PM10 (max over monitors).
    pub pm10: Option<String>,
    /// Latest PM2.5.
    pub pm25: Option<String>,
    /// Latest noise.
    pub noise: Option<String>,
    /// Latest wind.
    pub wind: Option<String>,
    /// When the latest env value was taken.
    pub latest_at: Option<String>,
    /// Derived alarms raised on the day asked.
    pub alarms_today: i64,
    /// Episodes open.
    pub open_alarms: i64,
    /// Cameras registered.
    pub cameras: i64,
    /// Cameras online.
    pub cameras_online: i64,
    /// Cranes and hoists reporting.
    pub lifting_devices: i64,
}

fn max_decimal<'a>(vals: impl Iterator<Item = &'a String>) -> Option<String> {
    vals.filter_map(|v| Decimal::parse(v).ok()).max_by(Decimal::cmp_value).map(|d| d.to_string())
}

impl ReadDb {
    /// Projects with site data visible to `scope`, with latest values and the alarms of `day` (`YYYY-MM-DD`).
    pub async fn site_overview(&self, scope: &Scope, day: &str) -> Result<Vec<SiteOverviewRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT p.project_id, p.name, p.district, \
             (SELECT COUNT(*) FROM site_alarms a WHERE a.project_id = p.project_id AND a.day = ",
        );
        q.bind(day).push(
            ") AS alarms_today, \
             (SELECT COUNT(*) FROM site_alarms a WHERE a.project_id = p.project_id AND a.open = 1) AS open_alarms, \
             (SELECT COUNT(*) FROM site_cameras c WHERE c.project_id = p.project_id) AS cameras, \
             (SELECT COUNT(*) FROM site_cameras c WHERE c.project_id = p.project_id AND c.status = 'online') \
             AS cameras_online, \
             (SELECT COUNT(*) FROM site_devices d WHERE d.project_id = p.project_id AND d.family IN ('crane', 'hoist')) \
             AS lifting_devices FROM projects p WHERE ",
        );
        project_visible(&mut q, scope, "p.project_id");
        q.push(
            " AND (EXISTS (SELECT 1 FROM site_latest l WHERE l.project_id = p.project_id) \
             OR EXISTS (SELECT 1 FROM site_devices d WHERE d.project_id = p.project_id) \
             OR EXISTS (SELECT 1 FROM site_cameras c WHERE c.project_id = p.project_id) \
             OR EXISTS (SELECT 1 FROM site_meters m WHERE m.project_id = p.project_id)) \
             ORDER BY p.district, p.project_id",
        );
        #[derive(sqlx::FromRow)]
        struct Base {
            project_id: String,
            name: String,
            district: String,
            alarms_today: i64,
            open_alarms: i64,
            cameras: i64,
            cameras_online: i64,
            lifting_devices: i64,
        }
        let base: Vec<Base> = self.fetch_all(&q).await?;
        let mut lq = Sql::new(
            "SELECT l.project_id, l.device_id, l.metric, l.at, l.value, l.flag, l.event_id FROM site_latest l WHERE ",
        );
        project_visible(&mut lq, scope, "l.project_id");
        let latest: Vec<LatestRow> = self.fetch_all(&lq).await?;
        Ok(base
            .into_iter()
            .map(|b| {
                let mine: Vec<&LatestRow> = latest.iter().filter(|l| l.project_id == b.project_id).collect();
                let of = |m: &str| max_decimal(mine.iter().filter(|l| l.metric == m).map(|l| &l.value));
                SiteOverviewRow {
                    pm10: of("pm10"),
                    pm25: of("pm25"),
                    noise: of("noise"),
                    wind: of("wind"),
                    latest_at: mine.iter().map(|l| l.at.clone()).max(),
                    project_id: b.project_id,
                    name: b.name,
                    district: b.district,
                    alarms_today: b.alarms_today,
                    open_alarms: b.open_alarms,
                    cameras: b.cameras,
                    cameras_online: b.cameras_online,
                    lifting_devices: b.lifting_devices,
                }
            })
            .collect())
    }

    /// Derived alarms visible to `scope`, newest first; `project` restricts to one project.
    pub async fn site_alarms(
        &self,
        scope: &Scope,
        project: Option<&str>,
        open_only: bool,
        limit: u64,
    ) -> Result<Vec<SiteAlarmRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT a.alarm_key, a.project_id, a.district, a.device_id, a.rule, a.level, a.message, a.value, \
             a.threshold, a.at_us, a.day, a.open, a.cleared_us, a.cleared_event_id, a.samples, \
             a.event_ids FROM site_alarms a WHERE ",
        );
        project_visible(&mut q, scope, "a.project_id");
        if let Some(p) = project {
            q.push(" AND a.project_id = ");
            q.bind(p);
        }
        if open_only {
            q.push(" AND a.open = 1");
        }
        q.push(" ORDER BY a.at_us DESC, a.alarm_key LIMIT ");
        q.bind(to_i64(limit.clamp(1, 5000)));
        Ok(self.fetch_all(&q).await?)
    }

    /// Window series of a project visible to `scope` since `since_us`; `metric` restricts to one metric.
    pub async fn site_series(
        &self,
        scope: &Scope,
        project: &str,
        metric: Option<&str>,
        since_us: i64,
    ) -> Result<Vec<WindowRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT w.project_id, w.device_id, w.metric, w.window_start_us, w.window_min, w.value, w.readings, w.band, \
             w.limit_value, w.warn_value, w.night, w.policy FROM site_windows w WHERE ",
        );
        project_visible(&mut q, scope, "w.project_id");
        q.push(" AND w.project_id = ");
        q.bind(project);
        if let Some(m) = metric {
            q.push(" AND w.metric = ");
            q.bind(m);
        }
        q.push(" AND w.window_start_us >= ");
        q.bind(since_us);
        q.push(" ORDER BY w.metric, w.device_id, w.window_start_us");
        Ok(self.fetch_all(&q).await?)
    }

    /// Window series of every visible project of a district since `since_us` (one metric), for district charts.
    pub async fn site_district_series(
        &self,
        scope: &Scope,
        district: &str,
        metric: &str,
        since_us: i64,
    ) -> Result<Vec<WindowRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT w.project_id, w.device_id, w.metric, w.window_start_us, w.window_min, w.value, w.readings, w.band, \
             w.limit_value, w.warn_value, w.night, w.policy FROM site_windows w WHERE w.district = ",
        );
        q.bind(district).push(" AND w.metric = ");
        q.bind(metric).push(" AND w.window_start_us >= ");
        q.bind(since_us).push(" AND ");
        project_visible(&mut q, scope, "w.project_id");
        q.push(" ORDER BY w.project_id, w.device_id, w.window_start_us LIMIT 20000");
        Ok(self.fetch_all(&q).await?)
    }

    /// A project's site page, if visible to `scope`: series since `since_us`, inspections judged on `today`, the
    /// thresholds in force at `now`.
    pub async fn site_project(
        &self,
        scope: &Scope,
        project: &str,
        since_us: i64,
        now: OffsetDateTime,
        today: LocalDate,
    ) -> Result<Option<SiteProject>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(None);
        }
        let mut q = Sql::new("SELECT p.project_id, p.name, p.district FROM projects p WHERE ");
        project_visible(&mut q, scope, "p.project_id");
        q.push(" AND p.project_id = ");
        q.bind(project);
        let Some((project_id, name, district)): Option<(String, String, String)> = self.fetch_optional(&q).await?
        else {
            return Ok(None);
        };
        let pid = project_id.as_str();
        let latest: Vec<LatestRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT project_id, device_id, metric, at, value, flag, event_id FROM site_latest \
                     WHERE project_id = ? ORDER BY device_id, metric",
                )
                .arg(pid),
            )
            .await?;
        let windows = self.site_series(scope, pid, None, since_us).await?;
        let alarms = self.site_alarms(scope, Some(pid), false, 200).await?;
        let cycles: Vec<CycleRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT event_id, device_id, started_at, ended_at, max_load_t, max_moment_pct, max_wind_m_s, \
                     radius_m, height_m, over_moment_count, operator_ref, band, operator_issue FROM site_crane_cycles \
                     WHERE project_id = ? ORDER BY started_us DESC, event_id LIMIT 100",
                )
                .arg(pid),
            )
            .await?;
        let devices: Vec<DeviceRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT device_id, family, latest, operator_ref, cert_valid_until FROM site_devices \
                     WHERE project_id = ? ORDER BY family, device_id",
                )
                .arg(pid),
            )
            .await?;
        #[derive(sqlx::FromRow)]
        struct Check {
            device_id: String,
            calibrated_on: Option<String>,
            valid_until: Option<String>,
            certificate_no: Option<String>,
            last_drop_test: Option<String>,
            last_drop_passed: Option<i64>,
            last_passed_drop: Option<String>,
        }
        let checks: Vec<Check> = self
            .fetch_all(
                &Sql::new(
                    "SELECT device_id, calibrated_on, valid_until, certificate_no, last_drop_test, last_drop_passed, \
                     last_passed_drop FROM site_hoist_checks WHERE project_id = ? ORDER BY device_id",
                )
                .arg(pid),
            )
            .await?;
        let crane_policy = {
            let mut book = PolicyBook::<CranePolicy>::new();
            let mut env_book = PolicyBook::<EnvPolicy>::new();
            let rows: Vec<(String, String)> =
                self.fetch_all(&Sql::new("SELECT kind, payload FROM site_policies ORDER BY position")).await?;
            for (kind, payload) in rows {
                let Ok(serde_json::Value::Object(p)) = serde_json::from_str::<serde_json::Value>(&payload) else {
                    continue;
                };
                match SiteEvent::parse(&kind, &p) {
                    Some(Ok(SiteEvent::CranePolicy(c))) if kind == CRANE_POLICY => book.add(*c),
                    Some(Ok(SiteEvent::EnvPolicy(e))) if kind == ENV_POLICY => env_book.add(*e),
                    _ => {}
                }
            }
            (book, env_book)
        };
        let d = DistrictCode::parse(&district).ok();
        let (cp, cp_default) = crane_policy
            .0
            .in_force(d.as_ref(), now)
            .map_or_else(|| (CranePolicy::default_policy(), true), |p| (p.clone(), false));
        let (ep, ep_default) = crane_policy
            .1
            .in_force(d.as_ref(), now)
            .map_or_else(|| (EnvPolicy::default_policy(), true), |p| (p.clone(), false));
        let due = |d: Due| match d {
            Due::ValidUntil(x) => ("valid".to_owned(), Some(x.to_string())),
            Due::Overdue(x) => ("overdue".to_owned(), Some(x.to_string())),
            Due::Missing => ("missing".to_owned(), None),
        };
        let hoists = checks
            .into_iter()
            .map(|c| {
                let cal = match (&c.calibrated_on, &c.valid_until) {
                    (Some(a), Some(b)) => LocalDate::parse(a).ok().zip(LocalDate::parse(b).ok()),
                    _ => None,
                };
                let (calibration, calibration_until) = due(calibration_due(&cp, cal, today));
                let passed = c.last_passed_drop.as_deref().and_then(|s| LocalDate::parse(s).ok());
                let (drop_test, drop_test_due) = due(drop_test_due(&cp, passed, today));
                HoistCheckRow {
                    device_id: c.device_id,
                    calibrated_on: c.calibrated_on,
                    certificate_no: c.certificate_no,
                    calibration,
                    calibration_until,
                    last_drop_test: c.last_drop_test,
                    last_drop_passed: c.last_drop_passed.map(|v| v != 0),
                    drop_test,
                    drop_test_due,
                }
            })
            .collect();
        let meters: Vec<MeterRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT device_id, meter, last_total, last_read_at, residual_ma, temperature_c FROM site_meters \
                     WHERE project_id = ? ORDER BY meter, device_id",
                )
                .arg(pid),
            )
            .await?;
        let meter_days: Vec<MeterDayRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT device_id, meter, day, consumption, readings FROM site_meter_days WHERE project_id = ? \
                     ORDER BY day DESC, meter, device_id LIMIT 120",
                )
                .arg(pid),
            )
            .await?;
        let cameras: Vec<CameraRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT device_id, name, position_name, registered, status, last_keepalive_at FROM site_cameras \
                     WHERE project_id = ? ORDER BY device_id",
                )
                .arg(pid),
            )
            .await?;
        let online = cameras.iter().filter(|c| c.status == "online").count() as u64;
        let camera_online_permille = rules::online_permille(online, cameras.len() as u64);
        let gateways: Vec<GatewayRow> = self
            .fetch_all(
                &Sql::new(
                    "SELECT gateway_id, at, queue_depth, queue_bytes, clock_skew_ms, rejected_packets, deviations \
                     FROM site_gateways WHERE project_id = ? ORDER BY gateway_id",
                )
                .arg(pid),
            )
            .await?;
        let gaps = self.site_gaps(scope, pid).await?;
        let thresholds = ThresholdsRow {
            env_policy: policy_label(ep.jurisdiction.as_str(), ep.version.get(), ep_default),
            noise_day: ep.noise_day_limit_db_a.to_string(),
            noise_night: ep.noise_night_limit_db_a.to_string(),
            night: format!("{}–{}", ep.night_start, ep.night_end),
            leq_window_min: ep.leq_window_min.get(),
            pm10_warn: ep.pm10_warn_ug_m3.to_string(),
            pm10_alarm: ep.pm10_alarm_ug_m3.to_string(),
            pm_window_min: ep.pm_window_min.get(),
            pm10_placeholder: ep.pm10_placeholder,
            crane_policy: policy_label(cp.jurisdiction.as_str(), cp.version.get(), cp_default),
            moment_warn: cp.moment_warn_pct.to_string(),
            moment_violation: cp.moment_violation_pct.to_string(),
            wind_stop: cp.wind_stop_m_s.to_string(),
            leakage: cp.leakage_alarm_ma.to_string(),
        };
        Ok(Some(SiteProject {
            project_id,
            name,
            district,
            thresholds,
            latest,
            windows,
            alarms,
            cycles,
            devices,
            hoists,
            meters,
            meter_days,
            cameras,
            camera_online_permille,
            gateways,
            gaps,
        }))
    }

    /// Signer gaps (数据缺失) of a project's keys, from the shared `alarms` table, newest first.
    pub async fn site_gaps(&self, scope: &Scope, project: &str) -> Result<Vec<GapRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT a.event_id, a.message, a.value, a.key_id, a.raised_at FROM alarms a \
             WHERE a.category = 'data_gap' AND ",
        );
        project_visible(&mut q, scope, "a.project_id");
        q.push(" AND a.project_id = ");
        q.bind(project);
        q.push(" ORDER BY a.position DESC LIMIT 100");
        Ok(self.fetch_all(&q).await?)
    }
}
