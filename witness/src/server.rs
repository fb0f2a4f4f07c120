//! The witness's HTTP service: `POST /add-checkpoint` with the C2SP tlog-witness status codes and bodies.
//!
//! 200 answers the cosignature line; 409 answers `<size>\n` as `text/x.tlog.size`; every other refusal answers a
//! plain-text message saying what was wrong (Chinese, then English). Bodies over [`MAX_BODY`] get 413 before they
//! are read whole.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::net::TcpListener;

use crate::request::MAX_BODY;
use crate::witness::{Witness, WitnessError};

/// The `Content-Type` of a 409 body.
pub const TLOG_SIZE: &str = "text/x.tlog.size";

/// The router (for tests and for embedding).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    witness: Arc<Witness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(witness)).with_graceful_shutdown(shutdown).await
}

fn plain(status: StatusCode, body: String, content_type: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    // The check fsyncs the state: keep it off the async workers.
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body)).await;
    match result {
        Ok(Ok(line)) => plain(StatusCode::OK, line, "text/plain; charset=utf-8"),
        Ok(Err(e)) => refusal(&e),
        Err(join) => {
            tracing::error!(error = %join, "witness check task failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "内部错误 / internal error\n".into(), "text/plain; charset=utf-8")
        }
    }
}

fn refusal(e: &WitnessError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(size) = e.witness_size() {
        return plain(status, format!("{size}\n"), TLOG_SIZE);
    }
    if status.is_server_error() {
        // The state's paths and OS errors are for the operator's log, not for the caller.
        tracing::error!(error = %e, "witness could not complete a request");
        return plain(status, "内部错误 / internal error\n".into(), "text/plain; charset=utf-8");
    }
    tracing::info!(status = status.as_u16(), error = %e, "checkpoint refused");
    plain(status, format!("{e}\n"), "text/plain; charset=utf-8")
}
