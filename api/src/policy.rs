//! The platform's ingest policy now lives in the ledger crate ([`siteledger_ledger::DomainPolicy`]), with its rules
//! in `domain`; this re-export keeps `crate::policy::DomainPolicy` working for the commands that install it.

pub use siteledger_ledger::DomainPolicy;
