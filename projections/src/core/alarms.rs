//! The `alarms` fold: `alarm.raised.v1` / `alarm.cleared.v1` from their typed events, and the ledger's signer-gap
//! and equivocation notices as `data_gap` / `equivocation` violations of the project the key belongs to.

use siteledger_domain::DomainEvent;
use siteledger_domain::iot::{AlarmCleared, AlarmRaised};
use siteledger_ledger::system::{Equivocation, SignerGap};
use siteledger_signer::Envelope;

use crate::db::{Sql, Tx};
use crate::prepare::{Event, LedgerEvent, Prepared};
use crate::stream_project;

fn alarm_key(project: Option<&str>, alarm_id: &str) -> String {
    format!("{}/{alarm_id}", project.unwrap_or("-"))
}

struct NewAlarm {
    project: Option<String>,
    alarm_id: String,
    source: String,
    category: String,
    level: String,
    message: String,
    value: Option<String>,
    threshold: Option<String>,
    key_id: Option<String>,
}

async fn raise(tx: &mut Tx, x: &Prepared<'_>, a: NewAlarm) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO alarms (alarm_key, project_id, alarm_id, source, category, level, message, value, threshold, \
             key_id, event_id, raised_at, raised_us, raised_day, position, open, cleared_at, cleared_note, \
             cleared_position, cleared_event_id, district) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, \
             NULL, NULL, NULL, NULL, (SELECT district FROM projects WHERE project_id = ?)) \
             ON CONFLICT (alarm_key) DO UPDATE SET source = excluded.source, category = excluded.category, \
             level = excluded.level, message = excluded.message, value = excluded.value, \
             threshold = excluded.threshold, key_id = excluded.key_id, event_id = excluded.event_id, \
             raised_at = excluded.raised_at, raised_us = excluded.raised_us, raised_day = excluded.raised_day, \
             position = excluded.position, open = 1, cleared_at = NULL, cleared_note = NULL, \
             cleared_position = NULL, cleared_event_id = NULL, district = excluded.district",
        )
        .arg(alarm_key(a.project.as_deref(), &a.alarm_id))
        .arg(a.project.clone())
        .arg(a.alarm_id)
        .arg(a.source)
        .arg(a.category)
        .arg(a.level)
        .arg(a.message)
        .arg(a.value)
        .arg(a.threshold)
        .arg(a.key_id)
        .arg(x.e.event_id.to_string())
        .arg(x.e.occurred_at.clone())
        .arg(x.occurred_us)
        .arg(x.day.clone())
        .arg(x.e.position)
        // The project's district (the registry folds first): the district overview counts alarms without a lookup
        // per alarm.
        .arg(a.project),
    )
    .await?;
    Ok(())
}

/// The project a misbehaving key belongs to: its subject's project, else `fallback`.
async fn key_project(tx: &mut Tx, key_id: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> =
        tx.fetch_optional(&Sql::new("SELECT subject_project FROM signer_keys WHERE key_id = ?").arg(key_id)).await?;
    Ok(row.and_then(|(p,)| p))
}

/// Folds the batch's alarms and the ledger's notices.
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    for x in events {
        match &x.event {
            Some(Event::Domain(DomainEvent::AlarmRaised(a))) => raised(tx, x, a).await?,
            Some(Event::Domain(DomainEvent::AlarmCleared(c))) => cleared(tx, x, c).await?,
            Some(Event::Ledger(LedgerEvent::SignerGap(g))) => gap(tx, x, g).await?,
            Some(Event::Ledger(LedgerEvent::Equivocation(q))) => equivocation(tx, x, q).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn raised(tx: &mut Tx, x: &Prepared<'_>, a: &AlarmRaised) -> Result<(), sqlx::Error> {
    let alarm = NewAlarm {
        project: Some(a.project_id.as_str().to_owned()),
        alarm_id: a.alarm_id.as_str().to_owned(),
        source: a.source.as_str().to_owned(),
        category: a.category.as_str().to_owned(),
        level: a.level.as_str().to_owned(),
        message: a.message.as_str().to_owned(),
        value: a.value.as_ref().map(|v| v.as_str().to_owned()),
        threshold: a.threshold.as_ref().map(|v| v.as_str().to_owned()),
        key_id: Some(x.e.signer.clone()),
    };
    raise(tx, x, alarm).await
}

async fn cleared(tx: &mut Tx, x: &Prepared<'_>, c: &AlarmCleared) -> Result<(), sqlx::Error> {
    let n = tx
        .execute(
            &Sql::new(
                "UPDATE alarms SET open = 0, cleared_at = ?, cleared_note = ?, cleared_position = ?, \
                 cleared_event_id = ? WHERE alarm_key = ? AND open = 1",
            )
            .arg(x.e.occurred_at.as_str())
            .arg(c.note.as_str())
            .arg(x.e.position)
            .arg(x.e.event_id.to_string())
            .arg(alarm_key(Some(c.project_id.as_str()), c.alarm_id.as_str())),
        )
        .await?;
    if n == 0 {
        tracing::debug!(position = x.e.position, alarm_id = c.alarm_id.as_str(), "clearing an alarm that is not open");
    }
    Ok(())
}

async fn gap(tx: &mut Tx, x: &Prepared<'_>, g: &SignerGap) -> Result<(), sqlx::Error> {
    let mut project = key_project(tx, &g.key_id).await?;
    if project.is_none() {
        // The record that revealed the gap (committed just before the notice).
        let row: Option<(String,)> = tx
            .fetch_optional(
                &Sql::new("SELECT project_id FROM project_events WHERE event_id = ?").arg(g.event_id.as_str()),
            )
            .await?;
        project = row.map(|(p,)| p);
    }
    let missing = g.missing;
    let alarm = NewAlarm {
        project,
        alarm_id: x.e.event_id.to_string(),
        source: "ledger".into(),
        category: "data_gap".into(),
        level: "violation".into(),
        message: format!(
            "数据缺失: 签名序号 {}→{} 之间缺 {missing} 条 / signer gap: {missing} record(s) missing",
            g.last_seq, g.next_seq
        ),
        value: Some(missing.to_string()),
        threshold: None,
        key_id: Some(g.key_id.clone()),
    };
    raise(tx, x, alarm).await
}

async fn equivocation(tx: &mut Tx, x: &Prepared<'_>, q: &Equivocation) -> Result<(), sqlx::Error> {
    let seq = q.seq;
    let mut project = key_project(tx, &q.key_id).await?;
    if project.is_none() {
        // The refused envelope is the signer's own signed record: its stream names the project.
        project = Envelope::from_value(q.refused_envelope.clone())
            .ok()
            .and_then(|env| stream_project(env.stream()).map(str::to_owned));
    }
    let alarm = NewAlarm {
        project,
        alarm_id: x.e.event_id.to_string(),
        source: "ledger".into(),
        category: "equivocation".into(),
        level: "violation".into(),
        message: format!(
            "重复序号: 同一签名序号 {seq} 出现两条不同记录 / equivocation: two different records for seq {seq}"
        ),
        value: Some(seq.to_string()),
        threshold: None,
        key_id: Some(q.key_id.clone()),
    };
    raise(tx, x, alarm).await
}
