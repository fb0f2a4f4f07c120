//! The projection runtime: follow the ledger, fold in batches, survive errors, stop on shutdown.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use siteledger_ledger::{EventStore, Ledger};

use tokio::task::JoinHandle;

use crate::db::ReadDb;
use crate::error::ProjectionError;
use crate::fold::apply_events;
use crate::rating::prefix::{EAGER_SNAPSHOT_BYTES_PER_RECORD, EagerFolds, take_fold_snapshots};

/// Most events folded in one transaction.
pub const BATCH_EVENTS: usize = 1000;

/// How often [`run`] deletes raw site rows from before the raw period ([`ReadDb::prune_site_raw`]).
pub const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// The pause [`run`] makes between two passes recomputing the stored workforce findings of the projects whose facts
/// changed ([`ReadDb::refresh_workforce_findings`]; [`ReadDb::set_findings_every`]). The views over many projects
/// are at most about this much plus two passes behind the facts (and say how many projects are).
pub const FINDINGS_EVERY: Duration = Duration::from_secs(30);

/// The pause between two passes recomputing the site overview summaries of the projects whose site records changed
/// ([`ReadDb::refresh_site_summaries`]; never longer than [`ReadDb::findings_every`]): four reading statements per 128
/// projects, so the city's latest values are at most about this much plus a pass old.
pub const SUMMARIES_EVERY: Duration = Duration::from_secs(5);

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Follows the ledger from the read database's checkpoint and folds every record, one transaction per group of
/// events that are ready together (at most [`BATCH_EVENTS`]), until `shutdown` completes (the batch in progress
/// is finished first) or the ledger shuts down. Errors of the ledger or the read database are logged and retried
/// with backoff from the stored checkpoint, so this only returns `Ok`. Every [`RETENTION_EVERY`], between batches,
/// it deletes the raw site rows older than the raw period (`raw_retention_days`) in small transactions.
///
/// Beside the folds it leaves rating fold snapshots at the latest checkpoint's size whenever the log has grown by
/// [`ReadDb::fold_snapshot_every`] records since the newest one, or later for a large state ([`eager_gap`])
/// ([`take_fold_snapshots`], on a task of its own, one at a time, carrying its folds from one snapshot to the
/// next; the fold itself on the blocking pool), so the first rating, credit or report computation after a long
/// ingest resumes near the head instead of folding the log. On shutdown it waits for a snapshot in progress.
/// And it recomputes the stored workforce findings and site summaries of the projects whose facts changed, on a task
/// of its own (stopped at shutdown): findings passes at most every [`FINDINGS_EVERY`], summary passes every
/// [`SUMMARIES_EVERY`].
pub async fn run<S: EventStore>(
    ledger: Ledger<S>,
    db: ReadDb,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProjectionError> {
    let mut snapshots = EagerSnapshots::default();
    let mut findings = FindingsRefresh::default();
    let outcome = follow(&ledger, &db, shutdown, &mut snapshots, &mut findings).await;
    snapshots.finish().await;
    findings.stop().await;
    outcome
}

/// The refresh of stored workforce findings and site summaries [`run`] keeps going beside the folds: on a task of
/// its own, site summary passes [`summaries_pause`] apart and a workforce findings pass whenever
/// [`ReadDb::findings_every`] has passed since the last one, until a findings pass and a summary pass find nothing
/// due and no batch was folded since the pass began; started again by the next batch or retention tick, its first
/// pass [`summaries_pause`] after the last start (never sooner, never later).
#[derive(Default)]
struct FindingsRefresh {
    task: Option<JoinHandle<()>>,
    last_start: Option<tokio::time::Instant>,
    /// When the last workforce findings pass started: kept across tasks (each task reads and sets it).
    last_findings: Arc<Mutex<Option<tokio::time::Instant>>>,
    /// Set by every batch: a pass that began before it may have missed what it marked due, so the task does not end.
    marked: Arc<std::sync::atomic::AtomicBool>,
}

/// The pause between two summary passes: [`SUMMARIES_EVERY`], or the findings' pause if shorter (tests set it 0).
fn summaries_pause(db: &ReadDb) -> Duration {
    SUMMARIES_EVERY.min(db.findings_every())
}

impl FindingsRefresh {
    /// Notes a folded batch and starts the task if it is not running, its first pass [`summaries_pause`] after the
    /// last start (a batch right after a task ended is refreshed then, not left for a later batch). Cheap otherwise.
    fn poll(&mut self, db: &ReadDb) {
        use std::sync::atomic::Ordering;
        self.marked.store(true, Ordering::SeqCst);
        if self.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let now = tokio::time::Instant::now();
        let start = self.last_start.map_or(now, |t| (t + summaries_pause(db)).max(now));
        self.last_start = Some(start);
        let (db, last_findings, marked) = (db.clone(), Arc::clone(&self.last_findings), Arc::clone(&self.marked));
        self.task = Some(tokio::spawn(async move {
            tokio::time::sleep_until(start).await;
            loop {
                // Cleared before this pass reads what is due: a batch folded during the pass sets it again.
                marked.store(false, Ordering::SeqCst);
                let findings_due = {
                    let mut last = last_findings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let due = last.is_none_or(|t| t.elapsed() >= db.findings_every());
                    if due {
                        *last = Some(tokio::time::Instant::now());
                    }
                    due
                };
                let findings = if findings_due {
                    match db.refresh_workforce_findings().await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::warn!(error = %e, "projections: workforce findings refresh failed; retried later");
                            return;
                        }
                    }
                } else {
                    0
                };
                let summaries = match db.refresh_site_summaries().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "projections: site summaries refresh failed; retried later");
                        return;
                    }
                };
                if findings_due && findings + summaries == 0 && !marked.load(Ordering::SeqCst) {
                    return;
                }
                if findings + summaries > 0 {
                    tracing::debug!(findings, summaries, "projections: stored findings and summaries recomputed");
                }
                tokio::time::sleep(summaries_pause(&db)).await;
            }
        }));
    }

    /// Stops a pass in progress (its open transaction rolls back; the projects stay due).
    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Records between two of [`run`]'s rating fold snapshots: `every` ([`ReadDb::fold_snapshot_every`]; 0: none), or
/// more for a large state, so that writing the two states costs at most about
/// [`EAGER_SNAPSHOT_BYTES_PER_RECORD`] bytes per record each, whatever the state grows to (it grows with projects ×
/// kinds × days with data: 3.6 MB for 3,000 projects after 2 hours, more over months). A computation at the head
/// folds at most about this many records.
pub fn eager_gap(every: u64, state_bytes: usize) -> u64 {
    if every == 0 {
        return 0;
    }
    every.max(u64::try_from(state_bytes).unwrap_or(u64::MAX) / EAGER_SNAPSHOT_BYTES_PER_RECORD)
}

/// The rating fold snapshots [`run`] takes by itself: the newest size known, the folds carried from the last
/// snapshot and the task taking one, if any (the folds are the task's while it runs).
#[derive(Default)]
struct EagerSnapshots {
    /// The newest snapshot's size known to this loop (0 until the first task has looked at the table).
    newest: u64,
    folds: EagerFolds,
    task: Option<JoinHandle<(u64, EagerFolds)>>,
}

impl EagerSnapshots {
    /// Starts a snapshot task when none is running and the log has grown by [`eager_gap`] records since the
    /// newest snapshot known; collects a finished task's size and folds. Cheap when nothing is due (the head is
    /// in memory).
    async fn poll<S: EventStore>(&mut self, ledger: &Ledger<S>, db: &ReadDb) {
        if let Some(task) = self.task.take_if(|t| t.is_finished()) {
            self.collect(task.await);
        }
        let gap = eager_gap(db.fold_snapshot_every(), self.folds.state_bytes());
        if self.task.is_some() || gap == 0 || ledger.head() < self.newest.saturating_add(gap) {
            return;
        }
        let (ledger, db, known, mut folds) = (ledger.clone(), db.clone(), self.newest, std::mem::take(&mut self.folds));
        self.task = Some(tokio::spawn(async move {
            let size = snapshot_at_checkpoint(&ledger, &db, known, gap, &mut folds).await;
            (size, folds)
        }));
    }

    fn collect(&mut self, done: Result<(u64, EagerFolds), tokio::task::JoinError>) {
        // A task that panicked lost its folds: the next one starts from the stored snapshots.
        let (size, folds) = done.unwrap_or_default();
        self.newest = self.newest.max(size);
        self.folds = folds;
    }

    /// Waits for the task in progress, if any.
    async fn finish(&mut self) {
        if let Some(task) = self.task.take() {
            self.collect(task.await);
        }
    }
}

/// Takes rating fold snapshots at the latest checkpoint's size if it is at least `gap` records past the newest
/// stored one (or `known`), continuing `folds`; returns the size from which the next one is due (the newest
/// snapshot's, or the failed attempt's). Failures cost only time: logged, retried when due again.
async fn snapshot_at_checkpoint<S: EventStore>(
    ledger: &Ledger<S>,
    db: &ReadDb,
    known: u64,
    gap: u64,
    folds: &mut EagerFolds,
) -> u64 {
    let stored = match db.fold_snapshots(0, u64::MAX, 1).await {
        Ok(s) => s.first().map_or(0, |m| m.tree_size),
        Err(e) => {
            tracing::warn!(error = %e, "projections: rating fold snapshots unreadable; retried later");
            return known;
        }
    };
    let newest = known.max(stored);
    let size = match ledger.latest_checkpoint().await {
        Ok(Some(cp)) => cp.size,
        Ok(None) => return newest,
        Err(e) => {
            tracing::warn!(error = %e, "projections: latest checkpoint unreadable; rating fold snapshot retried later");
            return newest;
        }
    };
    if size < newest.saturating_add(gap) {
        return newest;
    }
    match take_fold_snapshots(ledger.store(), db, size, folds).await {
        Ok(()) => {
            tracing::info!(tree_size = size, "projections: rating fold snapshot taken at the latest checkpoint");
            size
        }
        // Retried only once the log has grown by `gap` again: a snapshot that keeps failing must not fold the
        // same records after every batch (computations still leave their own snapshots).
        Err(e) => {
            tracing::warn!(error = %e, tree_size = size, "projections: rating fold snapshot failed; retried later");
            size
        }
    }
}

/// [`run`]'s loop.
async fn follow<S: EventStore>(
    ledger: &Ledger<S>,
    db: &ReadDb,
    shutdown: impl Future<Output = ()>,
    snapshots: &mut EagerSnapshots,
    findings: &mut FindingsRefresh,
) -> Result<(), ProjectionError> {
    tokio::pin!(shutdown);
    let mut backoff = MIN_BACKOFF;
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let from = match db.publish_applied().await {
            Ok(from) => from,
            Err(e) => {
                tracing::warn!(error = %e, "projections: cannot read checkpoints; retrying");
                if pause(&mut shutdown, &mut backoff).await {
                    return Ok(());
                }
                continue;
            }
        };
        tracing::info!(from, "projections: following the ledger");
        let stream = ledger.subscribe(from).ready_chunks(BATCH_EVENTS);
        tokio::pin!(stream);
        let failed = loop {
            let chunk = tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                _ = retention.tick() => {
                    match db.prune_site_raw().await {
                        Ok(p) if p != crate::site::Pruned::default() => {
                            tracing::info!(readings = p.readings, windows = p.windows, window_sums = p.window_sums,
                                crane_cycles = p.crane_cycles, timeline = p.timeline,
                                "projections: raw site rows before the raw period deleted");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "projections: retention pass failed; retried later"),
                    }
                    // A checkpoint signed after the last batch (the ledger signs one within a second of a record)
                    // is snapshotted here if no batch follows it.
                    snapshots.poll(ledger, db).await;
                    findings.poll(db);
                    continue;
                }
                chunk = stream.next() => chunk,
            };
            let Some(chunk) = chunk else {
                tracing::info!("projections: the ledger shut down");
                return Ok(());
            };
            let mut events = Vec::with_capacity(chunk.len());
            let mut read_error = None;
            for item in chunk {
                match item {
                    Ok(e) => events.push(e),
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                }
            }
            if let Err(e) = apply_events(db, &events).await {
                tracing::warn!(error = %e, "projections: folding a batch failed; resuming from the checkpoint");
                break true;
            }
            snapshots.poll(ledger, db).await;
            findings.poll(db);
            if let Some(e) = read_error {
                tracing::warn!(error = %e, "projections: reading the ledger failed; resubscribing");
                break true;
            }
            backoff = MIN_BACKOFF;
        };
        if failed && pause(&mut shutdown, &mut backoff).await {
            return Ok(());
        }
    }
}

/// Sleeps for the backoff (doubling it), or returns true if shutdown came first.
async fn pause<F: Future<Output = ()>>(shutdown: &mut std::pin::Pin<&mut F>, backoff: &mut Duration) -> bool {
    let d = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        () = shutdown.as_mut() => true,
        () = tokio::time::sleep(d) => false,
    }
}

/// Folds every record up to the ledger's head at the time of the call, then returns the applied position.
pub async fn catch_up<S: EventStore>(ledger: &Ledger<S>, db: &ReadDb) -> Result<u64, ProjectionError> {
    let target = ledger.head();
    let mut from = db.publish_applied().await?;
    while from < target {
        let events = ledger.read_all(from, BATCH_EVENTS).await?;
        let Some(last) = events.last() else { break };
        let next = last.position + 1;
        apply_events(db, &events).await?;
        from = next;
    }
    db.publish_applied().await
}

/// Clears every read model, resets every checkpoint to 0 and folds the whole log up to the current head
/// (`siteledger projections rebuild`). Returns the applied position. A [`run`] loop on the same database
/// notices the reset (its next batch no longer continues the checkpoint) and resumes from 0 by itself.
pub async fn rebuild<S: EventStore>(ledger: &Ledger<S>, db: &ReadDb) -> Result<u64, ProjectionError> {
    db.reset().await?;
    catch_up(ledger, db).await
}
