//! The `site` fold: a batch of records into the site tables, each record by its sub-kind (`env`, `crane`,
//! `hoist`, `meter`, `video`, `gateway`), storing what `siteledger_domain::site::alarms` decides (`store`).
//!
//! The fold sees a record as its typed event ([`typed_event`], the one place a payload is parsed) and a [`Rec`]
//! (event id, position, `occurred_at`); it loads per batch the policies and project districts ([`Batch`]).

mod crane;
mod env;
mod gateway;
mod hoist;
pub(crate) mod memo;
mod meter;
pub(crate) mod rollup;
mod store;
mod video;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use siteledger_domain::quantity::Decimal;
use siteledger_domain::site::alarms::WindowSums;
use siteledger_domain::site::rules::OperatorSession;
use siteledger_domain::site::{CranePolicy, EnvPolicy, PolicyBook, SiteEvent};
use siteledger_domain::{DistrictCode, DomainEvent, LocalDate};
use time::OffsetDateTime;

use self::memo::{DeviceKey, Memo, SeriesKey};
use super::{policy_books, policy_label};
use crate::db::{Arg, Sql, Tx};
use crate::fold::Prepared;

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0)
}

fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn local_day(us: i64) -> String {
    crate::shanghai(from_micros(us)).date().to_string()
}

/// What the fold uses of a record besides its typed event.
struct Rec<'a> {
    /// Event id.
    event_id: String,
    /// Log position.
    position: u64,
    /// `occurred_at` as signed.
    occurred_at: &'a str,
    /// `occurred_at` in µs since the epoch.
    occurred_us: i64,
}

/// Whether this projection folds records of `kind`.
fn wanted(kind: &str) -> bool {
    kind == siteledger_domain::iot::DUST_NOISE_READING || siteledger_domain::site::KINDS.contains(&kind)
}

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(crate) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else { return Ok(()) };
    let mut memo = tx.take_site_memo().resume(first.e.position);
    let next = last.e.position + 1;
    if !events.iter().any(|x| wanted(&x.e.kind)) {
        memo.advance(next);
        tx.stage_site_memo(memo);
        return Ok(());
    }
    if events.iter().any(|x| x.e.kind.starts_with("registry.")) {
        memo.districts.clear();
    }
    let mut b = Batch::load(tx, memo).await?;
    for x in events {
        if !wanted(&x.e.kind) {
            continue;
        }
        // The engine parsed the payload once (`crate::prepare`) and logged one that does not parse.
        let Some(event) = x.domain() else { continue };
        if let Some(project) = event.project_id() {
            b.changed.insert(project.as_str().to_owned(), x.e.position);
        }
        let rec = Rec {
            event_id: x.e.event_id.to_string(),
            position: x.e.position,
            occurred_at: &x.e.occurred_at,
            occurred_us: x.occurred_us,
        };
        match event {
            DomainEvent::DustNoiseReading(r) => env::dust_noise(tx, &mut b, &rec, r).await?,
            DomainEvent::Site(e) => fold_site(tx, &mut b, &rec, e).await?,
            _ => {}
        }
    }
    b.finish(tx, next).await
}

/// One site record, by sub-kind.
async fn fold_site(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, e: &SiteEvent) -> Result<(), sqlx::Error> {
    match e {
        SiteEvent::EnvPolicy(_) | SiteEvent::CranePolicy(_) => policy(tx, b, rec, e).await,
        SiteEvent::Hj212Data(d) => env::hj212(tx, b, rec, d).await,
        SiteEvent::CraneSample(s) => crane::sample(tx, b, rec, s, e).await,
        SiteEvent::CraneCycle(c) => crane::cycle(tx, b, rec, c).await,
        SiteEvent::OperatorLogin(l) => crane::login(tx, b, rec, l).await,
        SiteEvent::OperatorLogout(l) => crane::logout(tx, b, l).await,
        SiteEvent::CraneAlarm(a) => crane::black_box_alarm(tx, b, rec, a).await,
        SiteEvent::CraneCutoff(c) => crane::cutoff(tx, b, rec, c).await,
        SiteEvent::HoistSample(s) => hoist::sample(tx, b, rec, s, e).await,
        SiteEvent::SafetyGearCalibrated(c) => hoist::calibrated(tx, b, rec, c).await,
        SiteEvent::DropTestPerformed(d) => hoist::drop_test(tx, b, rec, d).await,
        SiteEvent::MeterReading(m) => meter::reading(tx, b, rec, m).await,
        SiteEvent::CameraRegistered(c) => video::registered(tx, rec, c).await,
        SiteEvent::CameraStatus(s) => video::status(tx, rec, s).await,
        SiteEvent::CameraAlarm(c) => video::alarm(tx, b, rec, c).await,
        SiteEvent::GatewayHeartbeat(h) => gateway::heartbeat(tx, rec, h).await,
    }
}

/// A bureau's policy: kept (first version wins on redelivery) and in force for the records folded after it.
async fn policy(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, e: &SiteEvent) -> Result<(), sqlx::Error> {
    let (jurisdiction, version, from) = match e {
        SiteEvent::EnvPolicy(p) => (p.jurisdiction.to_string(), p.version.get(), p.effective_from.instant()),
        SiteEvent::CranePolicy(p) => (p.jurisdiction.to_string(), p.version.get(), p.effective_from.instant()),
        _ => return Ok(()),
    };
    let inserted = tx
        .execute(
            &Sql::new(
                "INSERT INTO site_policies (kind, jurisdiction, version, effective_us, payload, event_id, position) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, jurisdiction, version) DO NOTHING",
            )
            .arg(e.kind())
            .arg(jurisdiction)
            .arg(i64::from(version))
            .arg(micros(from))
            .arg(serde_json::Value::Object(e.to_payload()).to_string())
            .arg(rec.event_id.clone())
            .arg(rec.position),
        )
        .await?;
    if inserted == 1 && matches!(e, SiteEvent::EnvPolicy(_)) {
        // A new policy may change window lengths from a time already folded: the running sums of a window then no
        // longer hold every reading in it. Each window is summed again from its readings at its next reading
        // (once; policies are rare), so the windows stay what summing their stored readings gives.
        tx.execute(&Sql::new("DELETE FROM site_window_sums")).await?;
        b.sums.clear();
        b.dirty_sums.clear();
        b.memo.sums.clear();
    }
    match e {
        SiteEvent::EnvPolicy(p) => b.env.add(p.as_ref().clone()),
        SiteEvent::CranePolicy(p) => b.crane.add(p.as_ref().clone()),
        _ => {}
    }
    Ok(())
}

/// Policies (loaded once per batch and updated as policies fold), project districts, and what the batch writes
/// when it ends.
struct Batch {
    env: PolicyBook<EnvPolicy>,
    crane: PolicyBook<CranePolicy>,
    districts: HashMap<String, String>,
    env_default: EnvPolicy,
    crane_default: CranePolicy,
    /// The latest reading time folded (`site_horizon`), and whether this batch moved it.
    horizon_us: Option<i64>,
    horizon_moved: bool,
    /// Roll-up rows touched by this batch, written by [`Batch::finish`].
    rollups: rollup::Rollups,
    /// Rows read back from batch to batch ([`Memo`]).
    memo: Memo,
    /// Each device's latest record of the batch (`site_devices`), written by [`Batch::finish`]: (family, latest
    /// as JSON, its time in µs, event id).
    devices: BTreeMap<DeviceKey, (&'static str, String, i64, String)>,
    /// Each series' latest value of the batch (`site_latest`), written by [`Batch::finish`]: (time µs, time as
    /// text, value, flag, event id).
    latest: BTreeMap<SeriesKey, (i64, String, String, Option<String>, String)>,
    /// Window sums read or changed in this batch, and the finenesses changed ([`env::write_sums`]).
    sums: HashMap<env::WindowSumsId, WindowSums>,
    dirty_sums: BTreeSet<(env::WindowSumsId, usize)>,
    /// Windows judged in this batch: their `site_windows` rows ([`env::write_windows`]).
    windows: BTreeMap<rollup::WindowId, Vec<Arg>>,
    /// Their alarm rows, by alarm key ([`store::write_puts`]; a later judgement back in the normal band drops the
    /// row kept and deletes the stored one).
    puts: BTreeMap<String, Vec<Arg>>,
    /// The projects of the batch's site records, with the position of the newest: their overview summaries are due
    /// (`site_summary`, [`mark_summaries_due`]).
    changed: BTreeMap<String, u64>,
}

impl Batch {
    async fn load(tx: &mut Tx, mut memo: Memo) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, String)> =
            tx.fetch_all(&Sql::new("SELECT kind, payload FROM site_policies ORDER BY position")).await?;
        let (env, crane) = policy_books(rows);
        let horizon_us = rollup::load_horizon(tx).await?;
        Ok(Batch {
            env,
            crane,
            districts: std::mem::take(&mut memo.districts),
            env_default: EnvPolicy::default_policy(),
            crane_default: CranePolicy::default_policy(),
            horizon_us,
            horizon_moved: false,
            rollups: rollup::Rollups::default(),
            memo,
            devices: BTreeMap::new(),
            latest: BTreeMap::new(),
            sums: HashMap::new(),
            dirty_sums: BTreeSet::new(),
            windows: BTreeMap::new(),
            puts: BTreeMap::new(),
            changed: BTreeMap::new(),
        })
    }

    /// Writes what the batch kept in memory (the roll-up rows it touched, the devices' latest records, the
    /// horizon) and stages the memo as the state at site checkpoint `next`.
    async fn finish(mut self, tx: &mut Tx, next: u64) -> Result<(), sqlx::Error> {
        self.rollups.flush(tx, &mut self.memo).await?;
        write_devices(tx, std::mem::take(&mut self.devices)).await?;
        write_latest(tx, std::mem::take(&mut self.latest)).await?;
        env::write_sums(tx, &self.sums, std::mem::take(&mut self.dirty_sums)).await?;
        env::write_windows(tx, std::mem::take(&mut self.windows)).await?;
        store::write_puts(tx, std::mem::take(&mut self.puts).into_values().collect()).await?;
        for ((project, device, metric, start_us, minutes), sums) in std::mem::take(&mut self.sums) {
            let latest = self.memo.sums.entry((project, device, metric)).or_insert(((start_us, minutes), sums.clone()));
            if start_us >= latest.0.0 {
                *latest = ((start_us, minutes), sums);
            }
        }
        if let Some(h) = self.horizon_us.filter(|_| self.horizon_moved) {
            rollup::store_horizon(tx, h).await?;
        }
        store::write_continued(tx, std::mem::take(&mut self.memo.continued)).await?;
        mark_summaries_due(tx, std::mem::take(&mut self.changed)).await?;
        self.memo.districts = std::mem::take(&mut self.districts);
        self.memo.advance(next);
        tx.stage_site_memo(self.memo);
        Ok(())
    }

    /// A device's latest record (cranes, hoists, env monitors): kept for [`Batch::finish`] if it is not older than
    /// the one kept, as the row is updated only by a record not older than the stored one (`latest` is rendered
    /// only then).
    fn device_latest(
        &mut self,
        (project, device): (&str, &str),
        family: &'static str,
        latest: impl FnOnce() -> serde_json::Map<String, serde_json::Value>,
        at_us: i64,
        eid: &str,
    ) {
        let key = (project.to_owned(), device.to_owned());
        if self.devices.get(&key).is_some_and(|(_, _, kept, _)| *kept > at_us) {
            return;
        }
        let latest = serde_json::Value::Object(latest()).to_string();
        self.devices.insert(key, (family, latest, at_us, eid.to_owned()));
    }

    /// A series' latest value (`site_latest`): kept for [`Batch::finish`] if it is not older than the one kept, as
    /// the row is updated only by a value not older than the stored one.
    fn latest_value(
        &mut self,
        (project, device, metric): (&str, &str, &'static str),
        at_us: i64,
        at: &str,
        value: &Decimal,
        flag: Option<&str>,
        eid: &str,
    ) {
        let key = (project.to_owned(), device.to_owned(), metric);
        if self.latest.get(&key).is_some_and(|(kept, ..)| *kept > at_us) {
            return;
        }
        self.latest
            .insert(key, (at_us, at.to_owned(), value.as_str().to_owned(), flag.map(str::to_owned), eid.to_owned()));
    }

    /// Writes the device's latest record kept so far, before a statement that writes its row in another way (an
    /// operator's login or logout), so the row sees the batch's records in log order.
    async fn write_device(&mut self, tx: &mut Tx, project: &str, device: &str) -> Result<(), sqlx::Error> {
        let key = (project.to_owned(), device.to_owned());
        match self.devices.remove_entry(&key) {
            Some(kept) => write_devices(tx, BTreeMap::from([kept])).await,
            None => Ok(()),
        }
    }

    /// Moves the horizon to a reading at `at_us` (a reading is never later than its record's `occurred_at`, which
    /// the ledger bounds by its clock: a device clock in 2099 cannot end everyone's raw period).
    fn advance_horizon(&mut self, at_us: i64, occurred_us: i64) {
        let at = at_us.min(occurred_us);
        if self.horizon_us.is_none_or(|h| at > h) {
            self.horizon_us = Some(at);
            self.horizon_moved = true;
        }
    }

    /// Where the raw period starts now (`i64::MIN`: keep everything).
    fn raw_from(&self, days: u32) -> i64 {
        rollup::raw_from(self.horizon_us, days)
    }

    /// The district of a project (empty if it is not registered).
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

    /// The env policy in force in `district` at `at`, and its label.
    fn env_at(&self, district: &str, at: OffsetDateTime) -> (&EnvPolicy, String) {
        let d = DistrictCode::parse(district).ok();
        match self.env.in_force(d.as_ref(), at) {
            Some(p) => (p, policy_label(p.jurisdiction.as_str(), p.version.get(), false)),
            None => (&self.env_default, policy_label("", 0, true)),
        }
    }

    /// The crane policy in force in `district` at `at`.
    fn crane_at(&self, district: &str, at: OffsetDateTime) -> &CranePolicy {
        let d = DistrictCode::parse(district).ok();
        self.crane.in_force(d.as_ref(), at).unwrap_or(&self.crane_default)
    }
}

/// Marks the overview summaries of `changed` (project, position of its newest record) due, many rows per statement:
/// a mark only moves forward.
async fn mark_summaries_due(tx: &mut Tx, changed: BTreeMap<String, u64>) -> Result<(), sqlx::Error> {
    let rows = changed
        .into_iter()
        .map(|(project, position)| {
            vec![
                Arg::from(project),
                Arg::from(position),
                Arg::from(-1_i64),
                Arg::from(0_i64),
                Arg::from(0_i64),
                Arg::from(0_i64),
                Arg::from(0_i64),
            ]
        })
        .collect();
    tx.execute_rows(
        "INSERT INTO site_summary (project_id, changed, computed, has_data, cameras, cameras_online, lifting_devices)",
        "ON CONFLICT (project_id) DO UPDATE SET changed = CASE WHEN excluded.changed > site_summary.changed \
         THEN excluded.changed ELSE site_summary.changed END",
        rows,
    )
    .await?;
    Ok(())
}

/// Writes series' latest values (`site_latest`), many rows per statement; a row is updated only by a value not
/// older than the one it holds.
async fn write_latest(
    tx: &mut Tx,
    latest: BTreeMap<SeriesKey, (i64, String, String, Option<String>, String)>,
) -> Result<(), sqlx::Error> {
    let rows = latest
        .into_iter()
        .map(|((project, device, metric), (at_us, at, value, flag, eid))| {
            vec![
                Arg::from(project),
                Arg::from(device),
                Arg::from(metric),
                Arg::from(at_us),
                Arg::from(at),
                Arg::from(value),
                Arg::from(flag),
                Arg::from(eid),
            ]
        })
        .collect();
    tx.execute_rows(
        "INSERT INTO site_latest (project_id, device_id, metric, at_us, at, value, flag, event_id)",
        "ON CONFLICT (project_id, device_id, metric) DO UPDATE SET at_us = excluded.at_us, at = excluded.at, \
         value = excluded.value, flag = excluded.flag, event_id = excluded.event_id \
         WHERE excluded.at_us >= site_latest.at_us",
        rows,
    )
    .await?;
    Ok(())
}

/// Writes devices' latest records (as many rows per statement as [`Tx::execute_rows`] takes); a row is updated only
/// by a record not older than the one it holds.
async fn write_devices(
    tx: &mut Tx,
    devices: BTreeMap<DeviceKey, (&'static str, String, i64, String)>,
) -> Result<(), sqlx::Error> {
    let rows = devices
        .into_iter()
        .map(|((project, device), (family, latest, at_us, eid))| {
            vec![
                Arg::from(project),
                Arg::from(device),
                Arg::from(family),
                Arg::from(latest),
                Arg::from(at_us),
                Arg::NullText,
                Arg::NullText,
                Arg::NullText,
                Arg::from(eid),
            ]
        })
        .collect();
    tx.execute_rows(
        "INSERT INTO site_devices (project_id, device_id, family, latest, at_us, operator_ref, cert_valid_until, \
         login_event_id, event_id)",
        "ON CONFLICT (project_id, device_id) DO UPDATE SET family = excluded.family, latest = excluded.latest, \
         at_us = excluded.at_us, event_id = excluded.event_id WHERE excluded.at_us >= site_devices.at_us",
        rows,
    )
    .await?;
    Ok(())
}

/// The operator logged in at a crane or hoist, with the login's event id (remembered from batch to batch).
async fn session(
    tx: &mut Tx,
    memo: &mut Memo,
    project: &str,
    device: &str,
) -> Result<Option<(OperatorSession, String)>, sqlx::Error> {
    let key = (project.to_owned(), device.to_owned());
    if let Some(s) = memo.sessions.get(&key) {
        return Ok(s.clone());
    }
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
    let s = row.and_then(|(op, until, eid)| {
        let until = LocalDate::parse(&until?).ok()?;
        Some((OperatorSession { operator_ref: op?, certificate_valid_until: until }, eid.unwrap_or_default()))
    });
    memo.sessions.insert(key, s.clone());
    Ok(s)
}
