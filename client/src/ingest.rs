//! A producer's side of `POST /v1/events`: the request body (a JSON array of canonical envelopes), the answer as
//! the one wire type ([`IngestResponse`], one item per envelope sent), and which failures are worth retrying
//! ([`PostError::retryable`]). The ledger is idempotent for a byte-identical re-append (`duplicate`), so resending
//! a request whose answer was lost is harmless.
//!
//! [`IngestClient::post_blob`] sends a cited file to `POST /v1/blobs` (docs/ATTACHMENTS.md), which is idempotent
//! too: the same bytes again are answered `200` with the same digest.

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
        /// The error body (the first 500 characters).
        body: String,
    },
    /// A success status whose body is not the per-item answer.
    #[error("unreadable answer: {0}")]
    Unreadable(String),
}

impl PostError {
    /// Worth retrying the same request (nothing or everything of it was appended; a resend is idempotent).
    pub fn retryable(&self) -> bool {
        match self {
            PostError::Transport(_) | PostError::Unreadable(_) => true,
            PostError::Status { status, .. } => *status >= 500 || *status == 429,
        }
    }

    /// The HTTP status, when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            PostError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the server answered at all (an HTTP status), as opposed to no connection or a timeout.
    pub fn answered(&self) -> bool {
        !matches!(self, PostError::Transport(_))
    }
}

/// One request's result and the server's `Date` header (for clock-skew measurement), present whenever the server
/// answered.
#[derive(Debug)]
pub struct Exchange {
    /// The per-item answer, or why there is none.
    pub result: Result<IngestResponse, PostError>,
    /// The answer's `Date` header.
    pub date: Option<String>,
}

/// The platform's answer to `POST /v1/blobs`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct BlobAnswer {
    /// SHA-256 of the bytes the platform stored.
    pub sha256: String,
    /// Their size.
    pub bytes: u64,
    /// The media type the platform found in them.
    pub media_type: String,
}

/// Posts signed envelopes (and the files they cite) to one server.
#[derive(Debug, Clone)]
pub struct IngestClient {
    http: reqwest::Client,
    url: String,
    blobs_url: String,
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
        let base = base.trim_end_matches('/');
        IngestClient { http, url: format!("{base}/v1/events"), blobs_url: format!("{base}/v1/blobs") }
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

    /// The request body for envelopes already in canonical bytes (an outbox's rows), without re-parsing them.
    pub fn body_of_canonical<'a>(envs: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut body = vec![b'['];
        for (i, e) in envs.into_iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(e);
        }
        body.push(b']');
        body
    }

    /// Posts `envs` with `token`.
    pub async fn post(&self, token: &str, envs: &[Envelope]) -> Result<IngestResponse, PostError> {
        self.post_body(token, Self::body(envs)).await
    }

    /// Posts a prepared body (see [`IngestClient::body`]).
    pub async fn post_body(&self, token: &str, body: Vec<u8>) -> Result<IngestResponse, PostError> {
        self.exchange(token, body).await.result
    }

    /// Posts a file to `POST /v1/blobs` with `token`; the platform's answer (200 already held, 201 stored), or why
    /// there is none. A success whose digest is not `sha256` (the bytes were altered on the way) is
    /// [`PostError::Unreadable`].
    pub async fn post_blob(&self, token: &str, sha256: &str, bytes: Vec<u8>) -> Result<BlobAnswer, PostError> {
        let resp = self
            .http
            .post(&self.blobs_url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, siteledger_domain::attachment::sniff(&bytes))
            .body(bytes)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(PostError::Status { status: status.as_u16(), body: body.chars().take(500).collect() });
        }
        let answer: BlobAnswer =
            serde_json::from_slice(&resp.bytes().await?).map_err(|e| PostError::Unreadable(e.to_string()))?;
        if answer.sha256 != sha256 {
            return Err(PostError::Unreadable(format!(
                "the platform stored {} for the file {sha256}: the bytes were altered on the way",
                answer.sha256
            )));
        }
        Ok(answer)
    }

    /// Posts a prepared body and keeps the answer's `Date` header.
    pub async fn exchange(&self, token: &str, body: Vec<u8>) -> Exchange {
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Exchange { result: Err(PostError::Transport(e)), date: None },
        };
        let date = resp.headers().get(reqwest::header::DATE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let body = body.chars().take(500).collect();
            return Exchange { result: Err(PostError::Status { status: status.as_u16(), body }), date };
        }
        let result = match resp.bytes().await {
            Ok(b) => serde_json::from_slice::<IngestResponse>(&b).map_err(|e| PostError::Unreadable(e.to_string())),
            Err(e) => Err(PostError::Transport(e)),
        };
        Exchange { result, date }
    }
}
