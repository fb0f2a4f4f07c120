//! The core read models every page uses: `registry` (districts, enterprises, projects, participants), `keys`
//! (signer keys and per-signer statistics), `activity` (per-project timeline, counts per kind and per day) and
//! `alarms` (`alarm.*`, and the ledger's gap and equivocation notices as violations) and `citations` (which records
//! cite which attachment by SHA-256, for the blob store's access rule).
//!
//! Layout: [`schema`] (names, versions, tables, DDL), one fold module per projection ([`registry`], [`keys`],
//! [`activity`], [`alarms`], [`citations`], which holds its one query too), and [`queries`] (row types and the
//! scoped queries over these tables).

mod activity;
mod alarms;
pub(crate) mod citations;
mod keys;
pub(crate) mod queries;
mod registry;
mod schema;

use siteledger_domain::NingboDistrict;

use crate::db::Tx;
use crate::prepare::Prepared;
use crate::projection::{Effects, FoldFuture, Projection};

/// Ningbo's ten county-level divisions, present without any event: (code, name), from the domain's
/// `NingboDistrict` (the one list of them).
pub const FIXED_DISTRICTS: &[(&str, &str)] = &FIXED;

const FIXED: [(&str, &str); NingboDistrict::ALL.len()] = {
    let mut out = [("", ""); NingboDistrict::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = (NingboDistrict::ALL[i].code(), NingboDistrict::ALL[i].name());
        i += 1;
    }
    out
};

/// Districts, enterprises, projects, participants (`registry.*`).
pub(crate) struct Registry;

impl Projection for Registry {
    fn name(&self) -> &'static str {
        schema::registry::NAME
    }
    fn version(&self) -> i64 {
        schema::registry::VERSION
    }
    fn tables(&self) -> &'static [&'static str] {
        schema::registry::TABLES
    }
    fn ddl(&self) -> &'static [&'static str] {
        schema::registry::DDL
    }
    fn seed<'a>(&'a self, tx: &'a mut Tx) -> FoldFuture<'a> {
        Box::pin(registry::seed_districts(tx))
    }
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], fx: &'a mut Effects) -> FoldFuture<'a> {
        Box::pin(registry::fold(tx, batch, fx))
    }
}

/// Signer keys and per-signer statistics (`ledger.key.*`, gaps, equivocations, every record's signer).
pub(crate) struct Keys;

impl Projection for Keys {
    fn name(&self) -> &'static str {
        schema::keys::NAME
    }
    fn version(&self) -> i64 {
        schema::keys::VERSION
    }
    fn tables(&self) -> &'static [&'static str] {
        schema::keys::TABLES
    }
    fn ddl(&self) -> &'static [&'static str] {
        schema::keys::DDL
    }
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], _fx: &'a mut Effects) -> FoldFuture<'a> {
        Box::pin(keys::fold(tx, batch))
    }
}

/// Per-project timeline, counts per kind and per day (every `project/<id>/…` record).
pub(crate) struct Activity;

impl Projection for Activity {
    fn name(&self) -> &'static str {
        schema::activity::NAME
    }
    fn version(&self) -> i64 {
        schema::activity::VERSION
    }
    fn tables(&self) -> &'static [&'static str] {
        schema::activity::TABLES
    }
    fn ddl(&self) -> &'static [&'static str] {
        schema::activity::DDL
    }
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], _fx: &'a mut Effects) -> FoldFuture<'a> {
        Box::pin(activity::fold(tx, batch))
    }
}

/// Alarms (`alarm.*`, and gaps and equivocations as `data_gap` / `equivocation` violations).
pub(crate) struct Alarms;

impl Projection for Alarms {
    fn name(&self) -> &'static str {
        schema::alarms::NAME
    }
    fn version(&self) -> i64 {
        schema::alarms::VERSION
    }
    fn tables(&self) -> &'static [&'static str] {
        schema::alarms::TABLES
    }
    fn ddl(&self) -> &'static [&'static str] {
        schema::alarms::DDL
    }
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], _fx: &'a mut Effects) -> FoldFuture<'a> {
        Box::pin(alarms::fold(tx, batch))
    }
}

/// Attachment citations (`blob_citations`: digest, citing record's position, project, stream, kind).
pub(crate) struct Citations;

impl Projection for Citations {
    fn name(&self) -> &'static str {
        schema::citations::NAME
    }
    fn version(&self) -> i64 {
        schema::citations::VERSION
    }
    fn tables(&self) -> &'static [&'static str] {
        schema::citations::TABLES
    }
    fn ddl(&self) -> &'static [&'static str] {
        schema::citations::DDL
    }
    fn fold<'a>(&'a self, tx: &'a mut Tx, batch: &'a [Prepared<'a>], _fx: &'a mut Effects) -> FoldFuture<'a> {
        Box::pin(citations::fold(tx, batch))
    }
}
