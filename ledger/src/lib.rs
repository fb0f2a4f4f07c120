//! The event-store contract and its adapters.
