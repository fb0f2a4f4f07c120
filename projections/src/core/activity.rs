//! The `activity` fold: every `project/<id>/…` record as a timeline row with its one-line summary, and counts
//! per project, kind and day. It needs only the envelope (and the summary), so records whose payload does not
//! type-check are counted too.

use std::collections::BTreeMap;

use crate::db::{Sql, Tx};
use crate::prepare::Prepared;
use crate::summary::summarize;

/// Count, highest position, and the latest occurred time as (micros, position, text).
#[derive(Default)]
struct CountAgg {
    events: i64,
    last_position: u64,
    latest: Option<(i64, u64, String)>,
}

impl CountAgg {
    fn add(&mut self, x: &Prepared<'_>) {
        self.events += 1;
        self.last_position = self.last_position.max(x.e.position);
        let cand = (x.occurred_us, x.e.position);
        if self.latest.as_ref().is_none_or(|(us, pos, _)| cand > (*us, *pos)) {
            self.latest = Some((x.occurred_us, x.e.position, x.e.occurred_at.clone()));
        }
    }
}

const EVENT_ROWS_PER_INSERT: usize = 64;

/// Folds every `project/<id>/…` record of the batch: one timeline row each, and the counts per project, kind and
/// day aggregated in the batch before one upsert each.
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let mut stats: BTreeMap<&str, CountAgg> = BTreeMap::new();
    let mut kinds: BTreeMap<(&str, &str), CountAgg> = BTreeMap::new();
    let mut days: BTreeMap<(&str, &str), (i64, u64)> = BTreeMap::new();
    let rows: Vec<&Prepared<'_>> = events.iter().filter(|x| x.project.is_some()).collect();
    for x in &rows {
        let Some(project) = x.project else { continue };
        stats.entry(project).or_default().add(x);
        kinds.entry((project, x.e.kind.as_str())).or_default().add(x);
        let d = days.entry((project, x.day.as_str())).or_default();
        d.0 += 1;
        d.1 = d.1.max(x.e.position);
    }
    for chunk in rows.chunks(EVENT_ROWS_PER_INSERT) {
        let mut q = Sql::new(
            "INSERT INTO project_events (position, project_id, stream, event_id, kind, occurred_at, occurred_us, \
             signer, summary) VALUES ",
        );
        for (i, x) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(");
            q.bind(x.e.position).push(", ");
            q.bind(x.project.unwrap_or_default()).push(", ");
            q.bind(&x.e.stream).push(", ");
            q.bind(x.e.event_id.to_string()).push(", ");
            q.bind(&x.e.kind).push(", ");
            q.bind(&x.e.occurred_at).push(", ");
            q.bind(x.occurred_us).push(", ");
            q.bind(&x.e.signer).push(", ");
            q.bind(summarize(&x.e.kind, x.event.as_ref(), &x.payload)).push(")");
        }
        q.push(" ON CONFLICT (position) DO NOTHING");
        tx.execute(&q).await?;
    }
    for (project, a) in stats {
        let (us, _, at) = a.latest.unwrap_or_default();
        tx.execute(
            &Sql::new(
                "INSERT INTO project_stats (project_id, events, last_position, last_occurred_at, last_occurred_us) \
                 VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (project_id) DO UPDATE SET events = project_stats.events + excluded.events, \
                 last_position = CASE WHEN excluded.last_position > project_stats.last_position \
                   THEN excluded.last_position ELSE project_stats.last_position END, \
                 last_occurred_at = CASE WHEN excluded.last_occurred_us >= project_stats.last_occurred_us \
                   THEN excluded.last_occurred_at ELSE project_stats.last_occurred_at END, \
                 last_occurred_us = CASE WHEN excluded.last_occurred_us >= project_stats.last_occurred_us \
                   THEN excluded.last_occurred_us ELSE project_stats.last_occurred_us END",
            )
            .arg(project)
            .arg(a.events)
            .arg(a.last_position)
            .arg(at)
            .arg(us),
        )
        .await?;
    }
    for ((project, kind), a) in kinds {
        let (us, _, at) = a.latest.unwrap_or_default();
        tx.execute(
            &Sql::new(
                "INSERT INTO project_kinds (project_id, kind, events, last_position, last_occurred_at, \
                 last_occurred_us) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (project_id, kind) DO UPDATE SET events = project_kinds.events + excluded.events, \
                 last_position = CASE WHEN excluded.last_position > project_kinds.last_position \
                   THEN excluded.last_position ELSE project_kinds.last_position END, \
                 last_occurred_at = CASE WHEN excluded.last_occurred_us >= project_kinds.last_occurred_us \
                   THEN excluded.last_occurred_at ELSE project_kinds.last_occurred_at END, \
                 last_occurred_us = CASE WHEN excluded.last_occurred_us >= project_kinds.last_occurred_us \
                   THEN excluded.last_occurred_us ELSE project_kinds.last_occurred_us END",
            )
            .arg(project)
            .arg(kind)
            .arg(a.events)
            .arg(a.last_position)
            .arg(at)
            .arg(us),
        )
        .await?;
    }
    for ((project, day), (n, last)) in days {
        tx.execute(
            &Sql::new(
                "INSERT INTO project_days (project_id, day, events, last_position) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (project_id, day) DO UPDATE SET events = project_days.events + excluded.events, \
                 last_position = CASE WHEN excluded.last_position > project_days.last_position \
                   THEN excluded.last_position ELSE project_days.last_position END",
            )
            .arg(project)
            .arg(day)
            .arg(n)
            .arg(last),
        )
        .await?;
    }
    Ok(())
}
