//! The agent's durable queue is the client crate's outbox ([`siteledger_client::outbox`]): the signer chain and the
//! records in one SQLite transaction, group commit, the disk bound, parked rejections. These names keep the
//! agent's `crate::queue::…` paths.

pub use siteledger_client::outbox::{
    Outbox as Queue, OutboxError as QueueError, OutboxHandle as QueueHandle, OutboxStats as QueueStats, Queued,
};
