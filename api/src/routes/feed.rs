//! `GET /v1/feed`: the live feed as Server-Sent Events, filtered to the caller's scope.
//!
//! Every subscriber catches up from the store (from `Last-Event-ID` + 1) and then switches to the hub's broadcast
//! ([`crate::feed::FeedHub`]), skipping what it already sent, so there are no gaps and no duplicates. Memory is
//! bounded by the channel: a subscriber that falls more than `feed_buffer` records behind gets a final `resume`
//! event with the position to reconnect from, and is disconnected.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use siteledger_projections::Scope;
use tokio::sync::broadcast;
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::Query;
use crate::feed::{FeedPlace, FeedRecord};
use crate::state::AppState;

/// Feed filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// Comma-separated kind prefixes, e.g. `alarm.,env.dust_noise`.
    pub kinds: Option<String>,
    /// Only this project's records.
    pub project: Option<String>,
    /// Start after this position (like `Last-Event-ID`; the header wins).
    pub after: Option<u64>,
}

struct Filter {
    scope: Scope,
    kinds: Vec<String>,
    project_prefix: Option<String>,
}

impl Filter {
    fn wants(&self, state: &AppState, r: &FeedRecord) -> bool {
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| r.kind.starts_with(k.as_str())) {
            return false;
        }
        if let Some(p) = &self.project_prefix
            && !r.stream.starts_with(p.as_str())
        {
            return false;
        }
        state.access.allows(&self.scope, &r.stream)
            && super::query::names_only_visible_projects(&state.access, &self.scope, &r.stream, Some(&r.payload))
    }
}

fn sse(r: &FeedRecord) -> Event {
    Event::default().id(r.position.to_string()).event("record").data(serde_json::to_string(r).unwrap_or_default())
}

/// Live records, scoped to the caller, resumable with `Last-Event-ID`.
#[utoipa::path(get, path = "/v1/feed", tag = "feed", params(FeedQuery),
    responses(
        (status = 200, description = "text/event-stream of `record` events (data: FeedRecord, id: position); a final `resume` event {\"resume_from\": N} (the next position; reconnect with Last-Event-ID N-1) if the client fell too far behind or the server is stopping", content_type = "text/event-stream", body = FeedRecord),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 503, description = "Too many subscribers", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(q): Query<FeedQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let place = state.feed.join().ok_or_else(|| ApiError::Unavailable(
        "实时推送订阅已满，请稍后重试 / too many live-feed subscribers on this server; retry later or use another instance".into(),
    ))?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::BadRequest(format!("Last-Event-ID {s:?} is not a log position")))
        })
        .transpose()?;
    let filter = Filter {
        scope: principal.scope(),
        kinds: q
            .kinds
            .as_deref()
            .map(|k| k.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
        project_prefix: q.project.map(|p| format!("project/{p}/")),
    };
    // Subscribe before catching up, so nothing committed meanwhile is missed.
    let rx = state.feed.receiver();
    let start = match last_id.or(q.after) {
        Some(p) => p + 1,
        None => state.ledger.head(),
    };
    struct St {
        state: AppState,
        filter: Filter,
        rx: broadcast::Receiver<Arc<FeedRecord>>,
        next: u64,
        catching_up: bool,
        done: bool,
        _place: FeedPlace,
        buf: std::collections::VecDeque<Event>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    }
    let shutdown = state.shutdown.clone();
    let st = St {
        state,
        filter,
        rx,
        next: start,
        catching_up: true,
        done: false,
        _place: place,
        buf: Default::default(),
        shutdown,
    };
    let stream = futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.buf.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.done {
                return None;
            }
            if st.catching_up {
                if st.next >= st.state.ledger.head() {
                    st.catching_up = false;
                    continue;
                }
                match st.state.ledger.read_all(st.next, 256).await {
                    Ok(events) if !events.is_empty() => {
                        for e in events {
                            st.next = e.position + 1;
                            let r = FeedRecord::from_stored(&e);
                            if st.filter.wants(&st.state, &r) {
                                st.buf.push_back(sse(&r));
                            }
                        }
                    }
                    Ok(_) => st.catching_up = false,
                    Err(e) => {
                        tracing::warn!(error = %e, "feed catch-up read failed");
                        st.buf.push_back(
                            Event::default().event("resume").data(format!("{{\"resume_from\":{}}}", st.next)),
                        );
                        st.done = true;
                    }
                }
                continue;
            }
            let received = tokio::select! {
                r = st.rx.recv() => r,
                _ = st.shutdown.wait_for(|s| *s) => {
                    // Server stopping: tell the client where to resume, then end the stream.
                    st.buf.push_back(Event::default().event("resume").data(format!("{{\"resume_from\":{}}}", st.next)));
                    st.done = true;
                    continue;
                }
            };
            match received {
                Ok(r) => {
                    if r.position < st.next {
                        continue;
                    }
                    if r.position > st.next {
                        // Records between were published before we subscribed or while catching up: read them.
                        st.catching_up = true;
                        continue;
                    }
                    st.next = r.position + 1;
                    if st.filter.wants(&st.state, &r) {
                        return Some((Ok(sse(&r)), st));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow: never buffer without bound. Tell the client where to resume.
                    st.buf.push_back(Event::default().event("resume").data(format!("{{\"resume_from\":{}}}", st.next)));
                    st.done = true;
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
