//! Alarm rows of `site_alarms`: writes what the domain's evaluators decide, nothing more. A row's key is its
//! base `<project>:<rule code>:<device>` with `@<event id>` (one-off alarms, episodes) or `@<window start µs>`.

use siteledger_domain::site::alarms::{
    AlarmLevel, AlarmRule, DerivedAlarm, EpisodeStep, Finding, MAX_CITED, OpenEpisode, step_episode,
};

use super::{Rec, local_day};
use crate::db::{Sql, Tx, to_i64, to_u64};

/// Where an alarm is: project, its district, device.
pub(super) struct Place<'a> {
    pub(super) project: &'a str,
    pub(super) district: &'a str,
    pub(super) device: &'a str,
}

/// The key of a rule's alarms on a device, without the `@…` part.
pub(super) fn base(place: &Place<'_>, rule: AlarmRule) -> String {
    format!("{}:{rule}:{}", place.project, place.device)
}

fn json_ids<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    serde_json::to_string(&ids.into_iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

fn decimal(d: Option<&siteledger_domain::quantity::Decimal>) -> Option<String> {
    d.map(ToString::to_string)
}

/// Writes a closed alarm (a window exceedance, or a one-off) under `key`, replacing an earlier version of it.
pub(super) async fn put(
    tx: &mut Tx,
    key: &str,
    place: &Place<'_>,
    a: &DerivedAlarm,
    at_us: i64,
    position: u64,
) -> Result<(), sqlx::Error> {
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
        .arg(base(place, a.rule))
        .arg(place.project)
        .arg(place.district)
        .arg(place.device)
        .arg(a.rule.code())
        .arg(a.level.as_str())
        .arg(a.message.clone())
        .arg(decimal(a.value.as_ref()))
        .arg(decimal(a.threshold.as_ref()))
        .arg(at_us)
        .arg(local_day(at_us))
        .arg(to_i64(a.samples))
        .arg(json_ids(a.cited.iter().take(MAX_CITED)))
        .arg(position),
    )
    .await?;
    Ok(())
}

/// Writes a one-off alarm raised by the record `rec`.
pub(super) async fn one_off(
    tx: &mut Tx,
    place: &Place<'_>,
    a: &DerivedAlarm,
    at_us: i64,
    rec: &Rec<'_>,
) -> Result<(), sqlx::Error> {
    let key = format!("{}@{}", base(place, a.rule), rec.event_id);
    put(tx, &key, place, a, at_us, rec.position).await
}

/// Removes the alarm under `key` (a window back in the normal band).
pub(super) async fn remove(tx: &mut Tx, key: &str) -> Result<(), sqlx::Error> {
    tx.execute(&Sql::new("DELETE FROM site_alarms WHERE alarm_key = ?").arg(key)).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OpenRow {
    alarm_key: String,
    level: String,
    samples: i64,
    event_ids: String,
}

/// Folds a finding of an episode rule on the record `rec` (at `at_us`) into the rule's episode on `place`.
pub(super) async fn episode(
    tx: &mut Tx,
    place: &Place<'_>,
    (rule, finding): (AlarmRule, Finding),
    at_us: i64,
    rec: &Rec<'_>,
) -> Result<(), sqlx::Error> {
    let base = base(place, rule);
    let open: Option<OpenRow> = tx
        .fetch_optional(
            &Sql::new("SELECT alarm_key, level, samples, event_ids FROM site_alarms WHERE base = ? AND open = 1")
                .arg(base.as_str()),
        )
        .await?;
    let key = open.as_ref().map(|o| o.alarm_key.clone());
    let state = open.map(|o| OpenEpisode {
        level: AlarmLevel::parse(&o.level).unwrap_or(AlarmLevel::Warning),
        samples: to_u64(o.samples),
        cited: serde_json::from_str(&o.event_ids).unwrap_or_default(),
    });
    let eid = rec.event_id.as_str();
    match (step_episode(state, finding, eid), key) {
        (EpisodeStep::Raise(a), _) => raise(tx, &base, place, &a, at_us, rec).await,
        (EpisodeStep::Clear, Some(key)) => {
            let q = Sql::new(
                "UPDATE site_alarms SET open = 0, cleared_us = ?, cleared_event_id = ?, position = ? \
                 WHERE alarm_key = ?",
            );
            tx.execute(&q.arg(at_us).arg(eid).arg(rec.position).arg(key)).await?;
            Ok(())
        }
        (EpisodeStep::Continue { level, samples, cited, risen }, Some(key)) => {
            let q = match &risen {
                Some(a) => Sql::new(
                    "UPDATE site_alarms SET level = ?, samples = ?, event_ids = ?, position = ?, message = ?, \
                     value = ? WHERE alarm_key = ?",
                )
                .arg(level.as_str())
                .arg(to_i64(samples))
                .arg(json_ids(&cited))
                .arg(rec.position)
                .arg(a.message.clone())
                .arg(decimal(a.value.as_ref())),
                None => Sql::new(
                    "UPDATE site_alarms SET level = ?, samples = ?, event_ids = ?, position = ? WHERE alarm_key = ?",
                )
                .arg(level.as_str())
                .arg(to_i64(samples))
                .arg(json_ids(&cited))
                .arg(rec.position),
            };
            tx.execute(&q.arg(key)).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn raise(
    tx: &mut Tx,
    base: &str,
    place: &Place<'_>,
    a: &DerivedAlarm,
    at_us: i64,
    rec: &Rec<'_>,
) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO site_alarms (alarm_key, base, project_id, district, device_id, rule, level, message, \
             value, threshold, at_us, day, open, cleared_us, cleared_event_id, samples, event_ids, position) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL, ?, ?, ?) \
             ON CONFLICT (alarm_key) DO NOTHING",
        )
        .arg(format!("{base}@{}", rec.event_id))
        .arg(base)
        .arg(place.project)
        .arg(place.district)
        .arg(place.device)
        .arg(a.rule.code())
        .arg(a.level.as_str())
        .arg(a.message.clone())
        .arg(decimal(a.value.as_ref()))
        .arg(decimal(a.threshold.as_ref()))
        .arg(at_us)
        .arg(local_day(at_us))
        .arg(to_i64(a.cited.len() as u64))
        .arg(json_ids(a.cited.iter().take(MAX_CITED)))
        .arg(rec.position),
    )
    .await?;
    Ok(())
}
