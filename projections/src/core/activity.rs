//! The `activity` fold: every `project/<id>/…` record as a timeline row with its one-line summary, and counts
//! per project, kind and day. It needs only the envelope (and the summary), so records whose payload does not
//! type-check are counted too.

use std::collections::{BTreeMap, BTreeSet};

use crate::db::{Arg, Sql, Tx};
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

/// Folds every `project/<id>/…` record of the batch: one timeline row each, and the counts per project, kind and
/// day aggregated in the batch before one row each (many rows per statement, [`Tx::execute_rows`]).
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
    let timeline = rows
        .iter()
        .map(|x| {
            vec![
                Arg::from(x.e.position),
                Arg::from(x.project.unwrap_or_default()),
                Arg::from(&x.e.stream),
                Arg::from(x.e.event_id.to_string()),
                Arg::from(&x.e.kind),
                Arg::from(&x.e.occurred_at),
                Arg::from(x.occurred_us),
                Arg::from(&x.e.signer),
                Arg::from(summarize(&x.e.kind, x.event.as_ref(), &x.payload)),
            ]
        })
        .collect();
    tx.execute_rows(
        "INSERT INTO project_events (position, project_id, stream, event_id, kind, occurred_at, occurred_us, signer, \
         summary)",
        "ON CONFLICT (position) DO NOTHING",
        timeline,
    )
    .await?;
    // One row per project, per (project, kind) and per (project, day) of the batch: many rows per statement (a
    // city's batch touches about as many projects as it holds records).
    let latest = |a: CountAgg| {
        let (us, _, at) = a.latest.unwrap_or_default();
        [Arg::from(a.events), Arg::from(a.last_position), Arg::from(at), Arg::from(us)]
    };
    let stats = stats.into_iter().map(|(project, a)| [vec![Arg::from(project)], latest(a).to_vec()].concat()).collect();
    tx.execute_rows(
        "INSERT INTO project_stats (project_id, events, last_position, last_occurred_at, last_occurred_us)",
        &add_counts("project_stats", "project_id"),
        stats,
    )
    .await?;
    let kinds = kinds
        .into_iter()
        .map(|((project, kind), a)| [vec![Arg::from(project), Arg::from(kind)], latest(a).to_vec()].concat())
        .collect();
    tx.execute_rows(
        "INSERT INTO project_kinds (project_id, kind, events, last_position, last_occurred_at, last_occurred_us)",
        &add_counts("project_kinds", "project_id, kind"),
        kinds,
    )
    .await?;
    // Each day row carries its project's district (the registry folds first), so the district overview counts
    // today's projects with data from one index range instead of a lookup per project.
    let districts = project_districts(tx, days.keys().map(|(project, _)| *project).collect()).await?;
    let days = days
        .into_iter()
        .map(|((project, day), (n, last))| {
            let district = districts.get(project).cloned();
            vec![Arg::from(project), Arg::from(day), Arg::from(n), Arg::from(last), Arg::from(district)]
        })
        .collect();
    tx.execute_rows(
        "INSERT INTO project_days (project_id, day, events, last_position, district)",
        "ON CONFLICT (project_id, day) DO UPDATE SET events = project_days.events + excluded.events, \
         last_position = CASE WHEN excluded.last_position > project_days.last_position \
           THEN excluded.last_position ELSE project_days.last_position END, \
         district = COALESCE(project_days.district, excluded.district)",
        days,
    )
    .await?;
    Ok(())
}

/// The districts of those of `projects` the registry knows, in statements of at most 500 ids (a project it does not
/// know has no district, and the overview leaves its days out, as it leaves out its project).
async fn project_districts(tx: &mut Tx, projects: BTreeSet<&str>) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let projects: Vec<&str> = projects.into_iter().collect();
    let mut out = BTreeMap::new();
    for chunk in projects.chunks(500) {
        let mut q = Sql::new("SELECT project_id, district FROM projects WHERE project_id IN (");
        for (i, project) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*project);
        }
        q.push(")");
        let rows: Vec<(String, String)> = tx.fetch_all(&q).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// The `ON CONFLICT` clause of the count tables (`project_stats`, `project_kinds`): the batch's events added to the
/// row's, and the latest position and occurrence kept.
fn add_counts(table: &str, key: &str) -> String {
    format!(
        "ON CONFLICT ({key}) DO UPDATE SET events = {table}.events + excluded.events, \
         last_position = CASE WHEN excluded.last_position > {table}.last_position \
           THEN excluded.last_position ELSE {table}.last_position END, \
         last_occurred_at = CASE WHEN excluded.last_occurred_us >= {table}.last_occurred_us \
           THEN excluded.last_occurred_at ELSE {table}.last_occurred_at END, \
         last_occurred_us = CASE WHEN excluded.last_occurred_us >= {table}.last_occurred_us \
           THEN excluded.last_occurred_us ELSE {table}.last_occurred_us END"
    )
}
