//! Integration tests of the domain crate (one test binary): identifier and quantity parsers, property tests of
//! the check-character algorithms, given/when/then tables for the registry's `decide`, the key-authority table,
//! payload validation and stream conventions.

#[path = "domain/fixtures.rs"]
mod fixtures;

#[path = "domain/authority.rs"]
mod authority;
#[path = "domain/ids.rs"]
mod ids;
#[path = "domain/payload.rs"]
mod payload;
#[path = "domain/personal.rs"]
mod personal;
#[path = "domain/props.rs"]
mod props;
#[path = "domain/quantity.rs"]
mod quantity;
#[path = "domain/rating.rs"]
mod rating;
#[path = "domain/registry.rs"]
mod registry;
#[path = "domain/site.rs"]
mod site;
#[path = "domain/stream.rs"]
mod stream;
#[path = "domain/supervision.rs"]
mod supervision;
#[path = "domain/uptime.rs"]
mod uptime;
#[path = "domain/vault.rs"]
mod vault;
#[path = "domain/workforce.rs"]
mod workforce;
