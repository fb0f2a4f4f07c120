//! Site devices beyond the minimal dust/noise reading: 塔式起重机 and 施工升降机 monitors, electricity and water meters, GB/T 28181 cameras, gateways, and environmental threshold policy.
//!
//! Kinds of this module start with `crane.`, `hoist.`, `meter.`, `video.`, `gateway.` and `env.`. (Scaffold: the subsystem's issue fills it in.)

use serde_json::{Map, Value};

use crate::ids::ProjectId;
use crate::payload::PayloadError;
use crate::registry::RegistryState;
use crate::rules::{RecordContext, RuleError};

/// Every kind of this module.
pub const KINDS: &[&str] = &[];

/// A typed event of this subsystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteEvent {}

impl SiteEvent {
    /// Type-checks `payload` as `kind`; `None` if the kind is not this module's.
    pub fn parse(kind: &str, payload: &Map<String, Value>) -> Option<Result<Self, PayloadError>> {
        let _ = (kind, payload);
        None
    }

    /// The versioned kind name.
    pub fn kind(&self) -> &'static str {
        match *self {}
    }

    /// The envelope payload.
    pub fn to_payload(&self) -> Map<String, Value> {
        match *self {}
    }

    /// The project concerned, if any.
    pub fn project_id(&self) -> Option<&ProjectId> {
        match *self {}
    }

    /// Whether `stream` fits the event; `Err` describes the expected stream (e.g. `project/<id>/…`).
    pub fn check_stream(&self, stream: &str) -> Result<(), String> {
        let _ = stream;
        match *self {}
    }
}

/// What the admission rules of this subsystem remember.
#[derive(Debug, Clone, Default)]
pub struct SiteState {}

impl SiteState {
    /// Whether records of `kind` change this state.
    pub fn wants(kind: &str) -> bool {
        KINDS.contains(&kind)
    }

    /// May this record be accepted now? Every rule of the subsystem.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &SiteEvent,
    ) -> Result<(), RuleError> {
        let _ = (ctx, registry);
        match *event {}
    }

    /// Folds an accepted record; no rules.
    pub fn evolve(&mut self, ctx: &RecordContext<'_>, event: &SiteEvent) {
        let _ = ctx;
        match *event {}
    }
}
