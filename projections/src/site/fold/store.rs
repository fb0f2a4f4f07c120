//! Alarm rows of `site_alarms`: writes what the domain's evaluators decide, nothing more. A row's key is its
//! base `<project>:<rule code>:<device>` with `@<event id>` (one-off alarms, episodes) or `@<window start µs>`.

use siteledger_domain::site::alarms::{
    AlarmLevel, AlarmRule, DerivedAlarm, EpisodeStep, Finding, MAX_CITED, OpenEpisode, step_episode,
};

use std::collections::BTreeMap;

use super::memo::{Memo, OpenRow};
use super::{Rec, local_day};
use crate::db::{Arg, Sql, Tx, to_i64, to_u64};

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

/// A closed alarm's row (a window exceedance, or a one-off) under `key`, for [`write_puts`].
pub(super) fn put_row(key: &str, place: &Place<'_>, a: &DerivedAlarm, at_us: i64, position: u64) -> Vec<Arg> {
    vec![
        Arg::from(key),
        Arg::from(base(place, a.rule)),
        Arg::from(place.project),
        Arg::from(place.district),
        Arg::from(place.device),
        Arg::from(a.rule.code()),
        Arg::from(a.level.as_str()),
        Arg::from(a.message.clone()),
        Arg::from(decimal(a.value.as_ref())),
        Arg::from(decimal(a.threshold.as_ref())),
        Arg::from(at_us),
        Arg::from(local_day(at_us)),
        Arg::from(to_i64(a.samples)),
        Arg::from(json_ids(a.cited.iter().take(MAX_CITED))),
        Arg::from(position),
    ]
}

/// Writes closed alarms ([`put_row`], one per key), each replacing an earlier version of its row, many rows per
/// statement.
pub(super) async fn write_puts(tx: &mut Tx, rows: Vec<Vec<Arg>>) -> Result<(), sqlx::Error> {
    tx.execute_rows_as(
        "INSERT INTO site_alarms (alarm_key, base, project_id, district, device_id, rule, level, message, value, \
         threshold, at_us, day, open, cleared_us, cleared_event_id, samples, event_ids, position)",
        Some("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?, ?, ?)"),
        "ON CONFLICT (alarm_key) DO UPDATE SET level = excluded.level, message = excluded.message, \
         value = excluded.value, threshold = excluded.threshold, samples = excluded.samples, \
         event_ids = excluded.event_ids, position = excluded.position",
        rows,
    )
    .await?;
    Ok(())
}

/// Writes a closed alarm (a window exceedance, or a one-off) under `key`, replacing an earlier version of it.
pub(super) async fn put(
    tx: &mut Tx,
    memo: &mut Memo,
    key: &str,
    place: &Place<'_>,
    a: &DerivedAlarm,
    at_us: i64,
    position: u64,
) -> Result<(), sqlx::Error> {
    memo.open.remove(&base(place, a.rule));
    write_puts(tx, vec![put_row(key, place, a, at_us, position)]).await
}

/// Writes a one-off alarm raised by the record `rec`.
pub(super) async fn one_off(
    tx: &mut Tx,
    memo: &mut Memo,
    place: &Place<'_>,
    a: &DerivedAlarm,
    at_us: i64,
    rec: &Rec<'_>,
) -> Result<(), sqlx::Error> {
    let key = format!("{}@{}", base(place, a.rule), rec.event_id);
    put(tx, memo, &key, place, a, at_us, rec.position).await
}

/// Removes the alarm under `key` (a window back in the normal band).
pub(super) async fn remove(tx: &mut Tx, memo: &mut Memo, key: &str) -> Result<(), sqlx::Error> {
    memo.forget_key(key);
    tx.execute(&Sql::new("DELETE FROM site_alarms WHERE alarm_key = ?").arg(key)).await?;
    Ok(())
}

/// Folds a finding of an episode rule on the record `rec` (at `at_us`) into the rule's episode on `place`.
pub(super) async fn episode(
    tx: &mut Tx,
    memo: &mut Memo,
    place: &Place<'_>,
    (rule, finding): (AlarmRule, Finding),
    at_us: i64,
    rec: &Rec<'_>,
) -> Result<(), sqlx::Error> {
    let base = base(place, rule);
    let open = match memo.open.get(&base) {
        Some(open) => open.clone(),
        None => {
            let open: Option<OpenRow> = tx
                .fetch_optional(
                    &Sql::new(
                        "SELECT alarm_key, level, samples, event_ids FROM site_alarms WHERE base = ? AND open = 1",
                    )
                    .arg(base.as_str()),
                )
                .await?;
            memo.open.insert(base.clone(), open.clone());
            open
        }
    };
    let key = open.as_ref().map(|o| o.alarm_key.clone());
    let state = open.map(|o| OpenEpisode {
        level: AlarmLevel::parse(&o.level).unwrap_or(AlarmLevel::Warning),
        samples: to_u64(o.samples),
        cited: serde_json::from_str(&o.event_ids).unwrap_or_default(),
    });
    let eid = rec.event_id.as_str();
    match (step_episode(state, finding, eid), key) {
        (EpisodeStep::Raise(a), _) => {
            // The new episode's row as inserted; read back at the next sample if it was there already.
            let row = OpenRow {
                alarm_key: format!("{base}@{}", rec.event_id),
                level: a.level.as_str().to_owned(),
                samples: to_i64(a.cited.len() as u64),
                event_ids: json_ids(a.cited.iter().take(MAX_CITED)),
            };
            if raise(tx, &base, place, &a, at_us, rec).await? == 1 {
                memo.open.insert(base, Some(row));
            } else {
                memo.open.remove(&base);
            }
            Ok(())
        }
        (EpisodeStep::Clear, Some(key)) => {
            memo.open.remove(&base);
            write_continued(tx, memo.continued.remove_entry(&key).into_iter().collect()).await?;
            let q = Sql::new(
                "UPDATE site_alarms SET open = 0, cleared_us = ?, cleared_event_id = ?, position = ? \
                 WHERE alarm_key = ?",
            );
            tx.execute(&q.arg(at_us).arg(eid).arg(rec.position).arg(key)).await?;
            Ok(())
        }
        (EpisodeStep::Continue { level, samples, cited, risen }, Some(key)) => {
            // The row as this update leaves it (its key found it, so the update hits it).
            let row = OpenRow {
                alarm_key: key.clone(),
                level: level.as_str().to_owned(),
                samples: to_i64(samples),
                event_ids: json_ids(&cited),
            };
            // Written when the batch ends ([`write_continued`]): only the episode's last state reaches the row.
            let kept = memo.continued.entry(key).or_default();
            kept.level = row.level.clone();
            kept.samples = row.samples;
            kept.event_ids = row.event_ids.clone();
            kept.position = rec.position;
            if let Some(a) = &risen {
                kept.risen = Some((a.message.clone(), decimal(a.value.as_ref())));
            }
            memo.open.insert(base, Some(row));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An open episode's row as its latest `Continue` steps leave it (`site_alarms`): level, samples, citations, the
/// position of the last record, and the message and value of the last step that raised the level.
#[derive(Debug, Default)]
pub(super) struct Continued {
    level: String,
    samples: i64,
    event_ids: String,
    position: u64,
    risen: Option<(String, Option<String>)>,
}

/// Writes continued episodes by alarm key: the rows the per-record updates would have left, many per statement
/// (those whose level rose, which also set the message and value, one by one: rare).
pub(super) async fn write_continued(tx: &mut Tx, continued: BTreeMap<String, Continued>) -> Result<(), sqlx::Error> {
    let mut rows = Vec::with_capacity(continued.len());
    for (key, c) in continued {
        if let Some((message, value)) = c.risen {
            let q = Sql::new(
                "UPDATE site_alarms SET level = ?, samples = ?, event_ids = ?, position = ?, message = ?, value = ? \
                 WHERE alarm_key = ?",
            );
            tx.execute(
                &q.arg(c.level).arg(c.samples).arg(c.event_ids).arg(c.position).arg(message).arg(value).arg(key),
            )
            .await?;
            continue;
        }
        rows.push(vec![
            Arg::from(key),
            Arg::from(c.level),
            Arg::from(c.samples),
            Arg::from(c.event_ids),
            Arg::from(c.position),
        ]);
    }
    tx.execute_rows_as(
        "UPDATE site_alarms SET level = v.column2, samples = v.column3, event_ids = v.column4, \
         position = v.column5 FROM (",
        Some("(?, ?, CAST(? AS BIGINT), ?, CAST(? AS BIGINT))"),
        ") AS v WHERE site_alarms.alarm_key = v.column1",
        rows,
    )
    .await?;
    Ok(())
}

async fn raise(
    tx: &mut Tx,
    base: &str,
    place: &Place<'_>,
    a: &DerivedAlarm,
    at_us: i64,
    rec: &Rec<'_>,
) -> Result<u64, sqlx::Error> {
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
    .await
}
