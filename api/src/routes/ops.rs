//! Operations endpoints: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use siteledger_ledger::EventStore;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive", body = String)))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the event store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready", body = String), (status = 503, description = "store unavailable", body = String)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.ledger.store().head().await {
        Ok(_) => "ready\n".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.ledger.stats();
    let head = state.ledger.head();
    let cp = state.ledger.latest_checkpoint().await.ok().flatten();
    let cp_size = cp.as_ref().map_or(0, |c| c.size);
    let cp_age =
        cp.as_ref().map_or(f64::NAN, |c| (time::OffsetDateTime::now_utc() - c.created_at).as_seconds_f64().max(0.0));
    let applied = state.read.applied();
    let lag = head.saturating_sub(applied);
    let rejected: u64 = stats.rejections.values().sum();
    let fold_errors = state.read.fold_error_count().await.map_or(f64::NAN, |n| n as f64);
    let gauges = [
        ("siteledger_ledger_size", "Records in the log.", head as f64),
        (
            "siteledger_ledger_accepted_total",
            "Records appended by this instance's sequencer (incl. system records).",
            stats.accepted as f64,
        ),
        ("siteledger_ledger_rejected_total", "Records refused by this instance's sequencer.", rejected as f64),
        ("siteledger_ledger_commits_total", "Group commits written.", stats.commits as f64),
        (
            "siteledger_ledger_pipelined_groups_total",
            "Groups decided while the store was committing the group before.",
            stats.pipelined as f64,
        ),
        ("siteledger_checkpoint_size", "Tree size of the latest checkpoint.", cp_size as f64),
        ("siteledger_checkpoint_age_seconds", "Age of the latest checkpoint.", cp_age),
        ("siteledger_projection_lag", "Records the read models are behind the log.", lag as f64),
        (
            "siteledger_projection_fold_errors",
            "Records a read model skipped because they could not be folded (listed in the read database's fold_errors).",
            fold_errors,
        ),
        ("siteledger_feed_subscribers", "Connected live-feed subscribers.", state.feed.subscribers() as f64),
        (
            "siteledger_feed_published_total",
            "Records the live feed read from the log and published (none while nobody listens).",
            state.feed.published() as f64,
        ),
        (
            "siteledger_shared_answers_computed_total",
            "Answers over a whole scope computed (the callers asking meanwhile share each: crate::answers).",
            state.answers.computed() as f64,
        ),
        ("siteledger_uptime_seconds", "Seconds since start.", state.started.elapsed().as_secs_f64()),
    ];
    let mut r = state.metrics.render(&gauges).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}
