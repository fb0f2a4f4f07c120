//! A producer's side of `POST /v1/events` (the demo's gateways and the bench's writers use it); the answer is the
//! one wire type, [`IngestResponse`].

use std::time::Duration;

use serde_json::Value;
use siteledger_domain::wire::IngestResponse;
use siteledger_signer::Envelope;

/// Why a request got no per-item answer.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// No answer (connection refused or reset, timeout): the records may or may not have been appended.
    #[error("no answer from the server: {0}")]
    Transport(#[from] reqwest::Error),
    /// An HTTP error status (401, 403, 413, 503…).
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The error body.
        body: String,
    },
}

impl PostError {
    /// Worth retrying the same request (nothing or everything of it was appended; a resend is idempotent).
    pub fn retryable(&self) -> bool {
        match self {
            PostError::Transport(_) => true,
            PostError::Status { status, .. } => *status >= 500 || *status == 429,
        }
    }
}

/// Posts signed envelopes to one server.
#[derive(Debug, Clone)]
pub struct IngestClient {
    http: reqwest::Client,
    url: String,
}

impl IngestClient {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`), never through a proxy.
    pub fn new(base: &str) -> Result<IngestClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(IngestClient::with_client(http, base))
    }

    /// A client sharing an existing connection pool.
    pub fn with_client(http: reqwest::Client, base: &str) -> IngestClient {
        IngestClient { http, url: format!("{}/v1/events", base.trim_end_matches('/')) }
    }

    /// The `…/v1/events` URL this client posts to.
    pub fn events_url(&self) -> &str {
        &self.url
    }

    /// The underlying HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The request body for `envs`: a JSON array of envelopes.
    pub fn body(envs: &[Envelope]) -> Vec<u8> {
        serde_json::to_vec(&Value::Array(envs.iter().map(Envelope::to_value).collect())).unwrap_or_default()
    }

    /// Posts `envs` with `token`.
    pub async fn post(&self, token: &str, envs: &[Envelope]) -> Result<IngestResponse, PostError> {
        self.post_body(token, Self::body(envs)).await
    }

    /// Posts a prepared body (see [`IngestClient::body`]).
    pub async fn post_body(&self, token: &str, body: Vec<u8>) -> Result<IngestResponse, PostError> {
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(PostError::Status { status: status.as_u16(), body: body.chars().take(500).collect() });
        }
        Ok(resp.json::<IngestResponse>().await?)
    }
}
