//! 施工用电用水: meter totals, consumption per local day, decreases and leakage current.

use siteledger_domain::quantity::Decimal;
use siteledger_domain::site::MeterReading;
use siteledger_domain::site::alarms::{self, PreviousTotal};
use siteledger_domain::site::rules;

use super::store::{self, Place};
use super::{Batch, Rec, local_day, micros};
use crate::db::{Sql, Tx};

#[derive(sqlx::FromRow)]
struct LastRow {
    last_total: String,
    last_event_id: String,
}

/// `meter.reading.v1`: judged against the previous total of the same device and meter, then stored as its last.
pub(super) async fn reading(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, m: &MeterReading) -> Result<(), sqlx::Error> {
    let (project, device) = (m.project_id.as_str(), m.device_id.as_str());
    let district = b.district(tx, project).await?;
    let at = m.read_at.instant();
    let at_us = micros(at);
    let last: Option<LastRow> = tx
        .fetch_optional(
            &Sql::new(
                "SELECT last_total, last_event_id FROM site_meters WHERE project_id = ? AND device_id = ? AND meter = ?",
            )
            .arg(project)
            .arg(device)
            .arg(m.meter.as_str()),
        )
        .await?;
    let previous = last
        .and_then(|l| Some(PreviousTotal { total: Decimal::parse(&l.last_total).ok()?, event_id: l.last_event_id }));
    let j = alarms::judge_meter(b.crane_at(&district, at), m, previous.as_ref(), &rec.event_id);
    let place = Place { project, district: &district, device };
    if let Some(c) = &j.consumption {
        add_consumption(tx, m, c, local_day(at_us)).await?;
    }
    if let Some(a) = &j.decrease {
        store::one_off(tx, &mut b.memo, &place, a, at_us, rec).await?;
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
        .arg(rec.event_id.clone()),
    )
    .await?;
    if let Some(leakage) = j.leakage {
        store::episode(tx, &mut b.memo, &place, leakage, at_us, rec).await?;
    }
    Ok(())
}

/// Adds a reading's consumption to its meter's local day (a device's electricity and water are separate series).
async fn add_consumption(tx: &mut Tx, m: &MeterReading, c: &Decimal, day: String) -> Result<(), sqlx::Error> {
    let (project, device) = (m.project_id.as_str(), m.device_id.as_str());
    let existing: Option<(String,)> = tx
        .fetch_optional(
            &Sql::new(
                "SELECT consumption FROM site_meter_days WHERE project_id = ? AND device_id = ? AND meter = ? \
                 AND day = ?",
            )
            .arg(project)
            .arg(device)
            .arg(m.meter.as_str())
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
    Ok(())
}
