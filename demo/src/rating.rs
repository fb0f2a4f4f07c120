//! The demo city's 星级评定、信用评价与年度督查 traffic, through `POST /v1/events` like everything else:
//!
//! 1. The city bureau (市住建局) publishes the first rating policy (`rating.policy.v1` v1: 甬建发〔2020〕72号 as
//!    written, with the platform's default evidence rules), the second (v2: 远程视频监控 days also need the
//!    cameras' measured online time, docs/RATING.md §2.1) and the proposed credit rules (`credit.rules.v1` v1),
//!    once per data directory.
//! 2. It signs the city's annual supervision report for last year (`report.annual.v1`), computed at the log's
//!    size at that moment, once per data directory.
//! 3. Periodically (every 120 ticks, at least 30 s; the first round soon after going live; or whenever a test
//!    calls [`Issuer::round`]) it computes every project's rating from the log at its current size and the newest
//!    policy, and the project's district bureau signs a `rating.decision.v1` whenever the outcome (required,
//!    achieved, met) differs from the last one issued.
//!
//! Each signer's chain is read from the ledger right before signing, so restarts resume cleanly.

use std::collections::BTreeMap;
use std::time::Duration;

use siteledger_client::MemoryChain as Chain;
use siteledger_domain::ids::ProjectId;
use siteledger_domain::rating::{self, RatingEvent};
use siteledger_ledger::{Direction, EventStore};
use siteledger_projections::Scope;
use siteledger_signer::{Envelope, SigningKey};

use super::{DemoContext, KeyLocks, TOKEN_PREFIX, cst_text, post_with_retries};
use siteledger_api::auth::Role;
use siteledger_api::ratings::{self, LogPrefix};
use siteledger_api::reports::{self, ReportRequest};
use siteledger_api::state::AppState;

/// Publishes what is missing of the first policy, the credit rules and last year's report, and returns the issuer
/// of rating decisions (not running).
pub(super) async fn setup(ctx: &DemoContext) -> anyhow::Result<Issuer> {
    let token = ctx
        .state
        .tokens
        .create_demo(&format!("{TOKEN_PREFIX}rating bureau"), Role::City, None, 30)
        .await
        .map_err(|e| anyhow::anyhow!("rating token: {e}"))?;
    let token = token.secret;
    let store = ctx.state.ledger.store();
    let mut first = Vec::new();
    // Version 1 (the notice as written), then version 2 (video days need the cameras' measured online time):
    // whichever of them the log does not hold yet, in order.
    let published = policy_versions(store).await?;
    for p in [rating::policy::notice_2020_72(), rating::policy::notice_2020_72_v2()] {
        if !published.contains(&p.version) && published.last().is_none_or(|v| *v < p.version) {
            first.push(RatingEvent::Policy(p));
        }
    }
    if !has_kind(store, rating::CREDIT_RULES_STREAM, rating::CREDIT_RULES).await? {
        first.push(RatingEvent::CreditRules(rating::credit::proposal_v1()));
    }
    let city_lock = ctx.locks.of(&ctx.city.key_id().to_string());
    if !first.is_empty() {
        let _chain = city_lock.lock().await;
        let envs = sign_all(&ctx.state, &ctx.city, &first).await?;
        post(ctx, &token, &envs).await?;
        tracing::info!(
            records = first.len(),
            "demo: the city bureau published rating policies v1, v2 and credit rules v1"
        );
    }
    if !has_kind(store, rating::CITY_REPORTS_STREAM, rating::REPORT).await? {
        let year = ratings::today_shanghai().date().year() - 1;
        let req =
            ReportRequest { year, district: None, at_size: ctx.state.ledger.head(), policy_version: None, as_of: None };
        let report = reports::annual_with(store, Some(&ctx.state.read), &req).await?;
        let _chain = city_lock.lock().await;
        let envs = sign_all(&ctx.state, &ctx.city, &[RatingEvent::Report(report.record.clone())]).await?;
        post(ctx, &token, &envs).await?;
        tracing::info!(year, tree_size = req.at_size, content_sha256 = %report.record.content_sha256, "demo: annual report signed");
    }
    // Decisions already in the log (a restart): issue only what changed since. The read models must show them.
    let mut last = BTreeMap::new();
    super::wait_folded(&ctx.state, &ctx.shutdown, Duration::from_secs(300)).await;
    for r in ctx.state.read.rating_latest(&Scope::All).await? {
        let required = r.required.and_then(|v| u8::try_from(v).ok());
        let achieved = u8::try_from(r.achieved).unwrap_or(0);
        last.insert(r.project_id, (required, achieved, r.meets));
    }
    Ok(Issuer {
        state: ctx.state.clone(),
        ingest: ctx.ingest.clone(),
        token,
        // The same key files as the context's district keys (keys are not `Clone`, on purpose).
        districts: super::DISTRICTS
            .iter()
            .map(|d| ctx.key(&format!("district-{}", d.code)))
            .collect::<anyhow::Result<_>>()?,
        district_of: ctx.plan.projects.iter().map(|p| (p.project_id.clone(), p.district)).collect(),
        shutdown: ctx.shutdown.clone(),
        period: (ctx.tick * 120).clamp(Duration::from_secs(30), Duration::from_secs(3600)),
        first: (ctx.tick * 10).min(Duration::from_secs(60)),
        last,
        locks: ctx.locks.clone(),
    })
}

/// The rating policy versions published in the log.
async fn policy_versions<S: EventStore>(store: &S) -> anyhow::Result<std::collections::BTreeSet<u32>> {
    let events = store.read_stream(rating::POLICY_STREAM, 0, Direction::Forward, 1000).await?;
    Ok(events
        .iter()
        .filter(|e| e.kind == rating::POLICY)
        .filter_map(|e| Envelope::parse(&e.leaf).ok())
        .filter_map(|env| env.payload().get("version").and_then(serde_json::Value::as_u64))
        .filter_map(|v| u32::try_from(v).ok())
        .collect())
}

async fn has_kind<S: EventStore>(store: &S, stream: &str, kind: &str) -> anyhow::Result<bool> {
    Ok(store.read_stream(stream, 0, Direction::Forward, 1000).await?.iter().any(|e| e.kind == kind))
}

/// Signs `events` in order with `key`, continuing its chain as stored in the ledger.
async fn sign_all(state: &AppState, key: &SigningKey, events: &[RatingEvent]) -> anyhow::Result<Vec<Envelope>> {
    let key_id = key.key_id().to_string();
    let mut chain = match state.ledger.store().signer_head(&key_id).await? {
        Some(h) => Chain::after(h.signer_seq, h.leaf_hash),
        None => Chain::new(),
    };
    let at = cst_text(time::OffsetDateTime::now_utc());
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let stream = e.expected_stream();
        out.push(chain.sign(key, uuid::Uuid::now_v7(), &stream, e.kind(), &at, e.to_payload())?);
    }
    Ok(out)
}

async fn post(ctx: &DemoContext, token: &str, envs: &[Envelope]) -> anyhow::Result<()> {
    let answer = post_with_retries(&ctx.ingest, token, envs, &ctx.shutdown).await?;
    for r in answer.rejections() {
        tracing::warn!(code = ?r.code, message = ?r.message, "demo rating record rejected");
    }
    Ok(())
}

/// Issues rating decisions, periodically once live.
pub(super) struct Issuer {
    state: AppState,
    ingest: super::IngestClient,
    token: String,
    districts: Vec<SigningKey>,
    district_of: BTreeMap<String, usize>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    period: Duration,
    first: Duration,
    /// Project → (required, achieved, meets) of the last decision issued.
    last: BTreeMap<String, (Option<u8>, u8, Option<bool>)>,
    locks: KeyLocks,
}

impl Issuer {
    pub(super) async fn run(mut self) {
        let mut shutdown = self.shutdown.clone();
        let mut wait = self.first;
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            wait = self.period;
            if let Err(e) = self.round().await {
                if *self.shutdown.borrow() {
                    return;
                }
                tracing::warn!(error = %e, "demo: rating round failed; retrying next period");
            }
        }
    }

    /// One round; returns the decisions accepted.
    pub(super) async fn round(&mut self) -> anyhow::Result<usize> {
        let store = self.state.ledger.store();
        let size = self.state.ledger.head();
        let prefix = LogPrefix::load_with(store, Some(&self.state.read), size, None).await?;
        let Some(version) = prefix.latest_policy_version() else { return Ok(0) };
        let as_of = ratings::today_shanghai();
        let mut by_district: BTreeMap<usize, Vec<RatingEvent>> = BTreeMap::new();
        let mut outcomes = Vec::new();
        for p in prefix.fold.registry.projects() {
            let Some(&district) = self.district_of.get(p.project_id.as_str()) else { continue };
            let id: &ProjectId = &p.project_id;
            let d = ratings::decision(&prefix, id, version, as_of)?;
            let outcome = (d.required.map(|l| l.get()), d.achieved.get(), d.meets);
            if self.last.get(id.as_str()) == Some(&outcome) {
                continue;
            }
            outcomes.push((id.as_str().to_owned(), outcome));
            by_district.entry(district).or_default().push(RatingEvent::Decision(d));
        }
        let mut issued = 0;
        for (district, events) in by_district {
            let Some(key) = self.districts.get(district) else { continue };
            let lock = self.locks.of(&key.key_id().to_string());
            let _chain = lock.lock().await;
            let envs = sign_all(&self.state, key, &events).await?;
            let answer = post_with_retries(&self.ingest, &self.token, &envs, &self.shutdown).await?;
            for r in answer.rejections() {
                tracing::warn!(code = ?r.code, message = ?r.message, "demo rating decision rejected");
            }
            issued += answer.accepted;
        }
        for (id, outcome) in outcomes {
            self.last.insert(id, outcome);
        }
        if issued > 0 {
            tracing::info!(issued, tree_size = size, policy_version = version, "demo: rating decisions issued");
        }
        Ok(issued)
    }
}
