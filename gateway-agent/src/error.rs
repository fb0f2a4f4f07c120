//! The crate's error type at its boundary: configuration, queue, network service and upload failures.

/// What went wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration file is unreadable or invalid; the message names the field.
    #[error("configuration: {0}")]
    Config(String),
    /// The key file could not be read or written.
    #[error("key file {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The local queue failed (disk, database).
    #[error("local queue: {0}")]
    Queue(#[from] siteledger_client::OutboxError),
    /// The local attachment store (`queue_dir/blobs`) could not be opened.
    #[error("local attachment store: {0}")]
    Blobs(#[from] siteledger_client::blobs::BlobError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}
