//! Pure domain rules and event payload types of every SiteLedger subsystem.
//!
//! No I/O, no async, no database: each subsystem is a `decide(state, command) -> Result<Vec<Event>, Error>`
//! function holding every rule, and an `evolve(state, event)` that only folds. Subsystems land here issue by issue.
