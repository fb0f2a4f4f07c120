//! The client crate's one integration-test binary; each concern is a module under `tests/client/`.
//!
//! * `outbox`: the durable outbox on real SQLite files: source keys, refusals before signing, another key's
//!   outbox, and a SIGKILL mid-batch (a child process) after which the chain resumes with no `seq` reused.
//! * `retention`: local copies of attached files pruned after the platform holds them, never while a queued or
//!   parked record cites them.

#[path = "client/outbox.rs"]
mod outbox;
#[path = "client/retention.rs"]
mod retention;
