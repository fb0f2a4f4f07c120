//! Read models folded from the log into SQL: rebuildable, checkpointed, with as-of replay.
//!
//! Starts empty; the projections runtime lands with the platform server.
