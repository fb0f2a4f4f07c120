//! The `rating` fold: days with data per (project, application, day), counted in the batch before one upsert
//! each; decisions, published policies and rules, annual reports and rating facts from their typed events.

use std::collections::BTreeMap;

use siteledger_domain::DomainEvent;
use siteledger_domain::rating::RatingEvent;

use super::application_of;
use crate::db::{Sql, Tx, to_i64};
use crate::prepare::Prepared;

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    // Days with data need only the envelope: every project record of an application counts, typed or not.
    let mut days: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
    for x in events {
        if let (Some(project), Some(app)) = (x.project, application_of(&x.e.kind)) {
            *days.entry((project, app, x.day.as_str())).or_default() += 1;
            continue;
        }
        if let Some(DomainEvent::Rating(event)) = x.domain() {
            rating_event(tx, x, event).await?;
        }
    }
    for ((project, app, day), n) in days {
        tx.execute(
            &Sql::new(
                "INSERT INTO rating_app_days (project_id, application, day, records) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (project_id, application, day) DO UPDATE SET \
                 records = rating_app_days.records + excluded.records",
            )
            .arg(project)
            .arg(app)
            .arg(day)
            .arg(n),
        )
        .await?;
    }
    Ok(())
}

/// Where a rating record is: position, event id, time signed.
struct At<'a> {
    pos: u64,
    event_id: String,
    occurred_at: &'a str,
}

async fn rating_event(tx: &mut Tx, x: &Prepared<'_>, event: &RatingEvent) -> Result<(), sqlx::Error> {
    let at = At { pos: x.e.position, event_id: x.e.event_id.to_string(), occurred_at: x.e.occurred_at.as_str() };
    let q = match event {
        RatingEvent::Decision(d) => Sql::new(
            "INSERT INTO rating_decisions (position, event_id, project_id, policy_version, tree_size, \
             as_of, required, achieved, meets, evidence_sha256, occurred_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
        )
        .arg(at.pos)
        .arg(at.event_id)
        .arg(d.project_id.as_str())
        .arg(i64::from(d.policy_version))
        .arg(to_i64(d.tree_size))
        .arg(d.as_of.to_string())
        .arg(d.required.map(|l| i64::from(l.get())))
        .arg(i64::from(d.achieved.get()))
        .arg(d.meets.map(i64::from))
        .arg(d.evidence_sha256.as_str())
        .arg(at.occurred_at),
        RatingEvent::Policy(p) => policy(event.kind(), p.version, p.title.as_str(), at),
        RatingEvent::CreditRules(r) => policy(event.kind(), r.version, r.title.as_str(), at),
        RatingEvent::Report(r) => Sql::new(
            "INSERT INTO rating_reports (position, event_id, year, district, tree_size, policy_version, \
             as_of, content_sha256, html_sha256, csv_sha256, occurred_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
        )
        .arg(at.pos)
        .arg(at.event_id)
        .arg(i64::from(r.year))
        .arg(r.district.as_ref().map_or("", |d| d.as_str()))
        .arg(to_i64(r.tree_size))
        .arg(i64::from(r.policy_version))
        .arg(r.as_of.to_string())
        .arg(r.content_sha256.as_str())
        .arg(r.html_sha256.as_str())
        .arg(r.csv_sha256.as_str())
        .arg(at.occurred_at),
        RatingEvent::StandardSite(f) => fact(event.kind(), f.project_id.as_str(), f.year, f.note.as_str(), at),
        RatingEvent::Award(f) => fact(event.kind(), f.project_id.as_str(), f.year, f.title.as_str(), at),
    };
    tx.execute(&q).await?;
    Ok(())
}

/// A published rating policy or credit rules version.
fn policy(kind: &str, version: u32, title: &str, at: At<'_>) -> Sql {
    Sql::new(
        "INSERT INTO rating_policies (kind, version, position, event_id, title, occurred_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, version) DO NOTHING",
    )
    .arg(kind)
    .arg(i64::from(version))
    .arg(at.pos)
    .arg(at.event_id)
    .arg(title)
    .arg(at.occurred_at)
}

/// A standard-site enrolment or an award.
fn fact(kind: &str, project: &str, year: u16, note: &str, at: At<'_>) -> Sql {
    Sql::new(
        "INSERT INTO rating_facts (position, event_id, kind, project_id, year, note) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
    )
    .arg(at.pos)
    .arg(at.event_id)
    .arg(kind)
    .arg(project)
    .arg(i64::from(year))
    .arg(note)
}
