//! The platform's admission rules over every signed record: one [`DomainState`] folded from the log, one
//! [`DomainState::decide`] that holds the rules of every subsystem, one [`DomainState::evolve`] that holds none.
//!
//! The ledger's `DomainPolicy` plugs this into its ingest: each incoming record is type-checked once
//! ([`crate::validate_envelope`]), then decided against the state as of the records accepted before it, then the
//! same typed event is folded. Because the state is a pure fold of the accepted log, rebuilding it from the log
//! gives the same state, and the same record gets the same verdict.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::payload::DomainEvent;
use crate::registry::{self, RegistryCommand, RegistryState};
use crate::{authority, rating, site, supervision, workforce};

/// What the ingest policy knows about a record besides its payload: the envelope's fields and its signer.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    /// The envelope's `event_id`.
    pub event_id: &'a str,
    /// The envelope's stream.
    pub stream: &'a str,
    /// The envelope's `occurred_at` (RFC 3339, as signed).
    pub occurred_at: &'a str,
    /// The signer's key id.
    pub signer_key_id: &'a str,
    /// The signer's enrolled role (`city_bureau`, `enterprise`, `bank`, `gateway`, …).
    pub signer_role: &'a str,
    /// The signer's enrolled subject (`district/330212`, `enterprise/<credit code>`, `project/<id>/gateway/GW-01`).
    pub signer_subject: &'a str,
}

/// A record that breaks a rule: which rule (a short stable name, often the regulation's article) and why, in
/// words the sender can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule broken, e.g. `条例第二十八条` or `inspection.review_needs_submission`.
    pub rule: String,
    /// What is wrong.
    pub message: String,
}

impl RuleError {
    /// A rule error.
    pub fn new(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self { rule: rule.into(), message: message.into() }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rule: {}", self.rule, self.message)
    }
}

impl std::error::Error for RuleError {}

/// Everything the admission rules need to remember, per subsystem. Its canonical bytes are the ledger's snapshot
/// of the admission state ([`crate::snapshot`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainState {
    /// Districts, zones, enterprises, projects, participants.
    pub registry: RegistryState,
    /// 实名制 and 工资专用账户: workers, contracts, entries, payroll.
    pub workforce: workforce::WorkforceState,
    /// Site devices: gateways, cranes, hoists, meters, cameras, environmental policy.
    pub site: site::SiteState,
    /// Inspections, testing, hazardous works, BIM, coordination tasks.
    pub supervision: supervision::SupervisionState,
    /// Rating and credit policies and decisions.
    pub rating: rating::RatingState,
}

impl DomainState {
    /// An empty state (no records yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether records of `kind` change the state (so that a restart must fold them again).
    pub fn wants(kind: &str) -> bool {
        kind.starts_with("registry.")
            || workforce::WorkforceState::wants(kind)
            || site::SiteState::wants(kind)
            || supervision::SupervisionState::wants(kind)
            || rating::RatingState::wants(kind)
    }

    /// May this record be accepted now? Every rule of every subsystem is here (or in the functions it calls), and
    /// then who may sign it at all ([`authority::may_sign`]: registry records need a bureau key, a gateway or device
    /// signs only for its own project).
    pub fn decide(&self, ctx: &RecordContext<'_>, event: &DomainEvent) -> Result<(), RuleError> {
        // The platform's service keys sign only the platform's own records: nothing a participant is responsible for.
        if ctx.signer_role == workforce::vault::SIGNER_ROLE && !matches!(event, DomainEvent::VaultAccess(_)) {
            return Err(RuleError::new(
                "platform.kinds",
                format!("a platform key signs only {}, not {}", workforce::vault::VAULT_ACCESS, event.kind()),
            ));
        }
        match event {
            DomainEvent::Registry(e) => registry::decide(&self.registry, RegistryCommand::from(e.clone()))
                .map(drop)
                .map_err(|e| RuleError::new("registry", e.to_string()))?,
            DomainEvent::DustNoiseReading(_) | DomainEvent::AlarmRaised(_) | DomainEvent::AlarmCleared(_) => {}
            DomainEvent::Workforce(e) => self.workforce.decide(ctx, &self.registry, e)?,
            DomainEvent::Site(e) => self.site.decide(ctx, &self.registry, e)?,
            DomainEvent::Supervision(e) => self.supervision.decide(ctx, &self.registry, e)?,
            DomainEvent::Rating(e) => self.rating.decide(ctx, &self.registry, e)?,
            DomainEvent::VaultAccess(e) => workforce::vault::decide(ctx, e)?,
        }
        authority::may_sign(ctx, event)
    }

    /// Folds an accepted record. No rules here.
    pub fn evolve(&mut self, ctx: &RecordContext<'_>, event: &DomainEvent) {
        match event {
            DomainEvent::Registry(e) => registry::evolve(&mut self.registry, e),
            DomainEvent::DustNoiseReading(_) | DomainEvent::AlarmRaised(_) | DomainEvent::AlarmCleared(_) => {}
            DomainEvent::Workforce(e) => self.workforce.evolve(ctx, e),
            DomainEvent::Site(e) => self.site.evolve(ctx, e),
            DomainEvent::Supervision(e) => self.supervision.evolve(ctx, e),
            DomainEvent::Rating(e) => self.rating.evolve(ctx, e),
            DomainEvent::VaultAccess(_) => {}
        }
    }
}
