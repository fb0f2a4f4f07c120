//! Payload type-checking for every kind this crate defines, with errors that name the field and the rule.
//!
//! [`validate_envelope`] is what the ledger's `DomainPolicy` calls once per incoming record: it checks the
//! members of the payload object against the kind's schema (unknown members, missing members, then each
//! member's value with the newtype parsers, nested paths like `participants[1].credit_code`), then deserializes
//! the typed payload. Kinds the crate does not define yield [`PayloadError::UnknownKind`], so the caller decides
//! (e.g. the ledger's own `ledger.*` kinds).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::ProjectId;
use crate::iot::{self, AlarmCleared, AlarmRaised, DustNoiseReading};
use crate::rating::RatingEvent;
use crate::registry::{self, RegistryEvent};
use crate::schema::{Issue, Member, each, each_object, is, opt, req, typed};
use crate::site::SiteEvent;
use crate::supervision::SupervisionEvent;
use crate::workforce::WorkforceEvent;
use crate::workforce::vault::{self, VaultAccess};
use crate::{rating, site, stream, supervision, workforce};

/// The registry and minimal IoT kinds, defined in this module's schema tables; subsystem modules list theirs in
/// their own `KINDS` (see [`all_kinds`]).
pub const KINDS: [&str; 8] = [
    registry::ZONE_ADDED,
    registry::ENTERPRISE_REGISTERED,
    registry::PROJECT_REGISTERED,
    registry::PARTICIPANT_ADDED,
    registry::PARTICIPANT_REMOVED,
    iot::DUST_NOISE_READING,
    iot::ALARM_RAISED,
    iot::ALARM_CLEARED,
];

/// Every kind defined by this crate, subsystems included.
pub fn all_kinds() -> Vec<&'static str> {
    let mut all = KINDS.to_vec();
    for k in [workforce::KINDS, vault::KINDS, site::KINDS, supervision::KINDS, rating::KINDS] {
        all.extend_from_slice(k);
    }
    all
}

/// Why a payload does not fit its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The kind is not defined by this crate: the caller decides what to do with it.
    #[error("kind {kind:?} is not defined by the domain")]
    UnknownKind {
        /// The kind given.
        kind: String,
    },
    /// A required member is absent.
    #[error("{kind}: missing field `{field}`")]
    MissingField {
        /// The kind.
        kind: &'static str,
        /// Path of the member, e.g. `participants[0].role`.
        field: String,
    },
    /// A member the kind does not define.
    #[error("{kind}: unknown field `{field}`")]
    UnknownField {
        /// The kind.
        kind: &'static str,
        /// Path of the member.
        field: String,
    },
    /// A member whose value breaks a rule.
    #[error("{kind}: field `{field}`: {rule}")]
    InvalidField {
        /// The kind.
        kind: &'static str,
        /// Path of the member.
        field: String,
        /// The rule broken, e.g. `统一社会信用代码: check character mismatch (expected U, got X)`.
        rule: String,
    },
    /// The payload as a whole does not deserialize (not expected once every member passed).
    #[error("{kind}: {reason}")]
    Invalid {
        /// The kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// The event is in a stream its kind does not belong to (see [`validate_envelope`]).
    #[error("{kind}: stream {stream:?} does not fit: expected {expected}")]
    WrongStream {
        /// The kind.
        kind: &'static str,
        /// The stream given.
        stream: String,
        /// What was expected, e.g. `project/NB-2026-0001/…`.
        expected: String,
    },
}

/// A typed event of any kind this crate defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// `registry.*`.
    Registry(RegistryEvent),
    /// `env.dust_noise.reading.v1`.
    DustNoiseReading(DustNoiseReading),
    /// `alarm.raised.v1`.
    AlarmRaised(AlarmRaised),
    /// `alarm.cleared.v1`.
    AlarmCleared(AlarmCleared),
    /// `worker.*`, `wage.*` (实名制, 工资专用账户).
    Workforce(WorkforceEvent),
    /// `crane.*`, `hoist.*`, `meter.*`, `video.*`, `gateway.*`, `env.*` beyond the dust/noise reading.
    Site(SiteEvent),
    /// `inspection.*`, `testing.*`, `hazard.*`, `bim.*`, `task.*`.
    Supervision(SupervisionEvent),
    /// `rating.*`, `credit.*`, `report.*`.
    Rating(RatingEvent),
    /// `vault.access.v1`: the platform's record of an access to the personal-data vault.
    VaultAccess(VaultAccess),
}

impl DomainEvent {
    /// Type-checks `payload` as kind `kind` and returns the typed event.
    pub fn parse(kind: &str, payload: &Map<String, Value>) -> Result<Self, PayloadError> {
        use RegistryEvent as R;
        Ok(match kind {
            registry::ZONE_ADDED => Self::Registry(R::ZoneAdded(typed(registry::ZONE_ADDED, payload, ZONE)?)),
            registry::ENTERPRISE_REGISTERED => {
                Self::Registry(R::EnterpriseRegistered(typed(registry::ENTERPRISE_REGISTERED, payload, ENTERPRISE)?))
            }
            registry::PROJECT_REGISTERED => {
                Self::Registry(R::ProjectRegistered(typed(registry::PROJECT_REGISTERED, payload, PROJECT)?))
            }
            registry::PARTICIPANT_ADDED => {
                Self::Registry(R::ParticipantAdded(typed(registry::PARTICIPANT_ADDED, payload, ADDED)?))
            }
            registry::PARTICIPANT_REMOVED => {
                Self::Registry(R::ParticipantRemoved(typed(registry::PARTICIPANT_REMOVED, payload, REMOVED)?))
            }
            iot::DUST_NOISE_READING => Self::DustNoiseReading(typed(iot::DUST_NOISE_READING, payload, READING)?),
            iot::ALARM_RAISED => Self::AlarmRaised(typed(iot::ALARM_RAISED, payload, RAISED)?),
            iot::ALARM_CLEARED => Self::AlarmCleared(typed(iot::ALARM_CLEARED, payload, CLEARED)?),
            other => {
                if let Some(r) = WorkforceEvent::parse(other, payload) {
                    return r.map(Self::Workforce);
                }
                if let Some(r) = SiteEvent::parse(other, payload) {
                    return r.map(Self::Site);
                }
                if let Some(r) = SupervisionEvent::parse(other, payload) {
                    return r.map(Self::Supervision);
                }
                if let Some(r) = RatingEvent::parse(other, payload) {
                    return r.map(Self::Rating);
                }
                if let Some(r) = vault::parse(other, payload) {
                    return r.map(Self::VaultAccess);
                }
                return Err(PayloadError::UnknownKind { kind: other.to_owned() });
            }
        })
    }

    /// The versioned kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Registry(e) => e.kind(),
            Self::DustNoiseReading(_) => iot::DUST_NOISE_READING,
            Self::AlarmRaised(_) => iot::ALARM_RAISED,
            Self::AlarmCleared(_) => iot::ALARM_CLEARED,
            Self::Workforce(e) => e.kind(),
            Self::Site(e) => e.kind(),
            Self::Supervision(e) => e.kind(),
            Self::Rating(e) => e.kind(),
            Self::VaultAccess(_) => vault::VAULT_ACCESS,
        }
    }

    /// The envelope payload.
    pub fn to_payload(&self) -> Map<String, Value> {
        match self {
            Self::Registry(e) => e.to_payload(),
            Self::DustNoiseReading(p) => to_map(p),
            Self::AlarmRaised(p) => to_map(p),
            Self::AlarmCleared(p) => to_map(p),
            Self::Workforce(e) => e.to_payload(),
            Self::Site(e) => e.to_payload(),
            Self::Supervision(e) => e.to_payload(),
            Self::Rating(e) => e.to_payload(),
            Self::VaultAccess(p) => to_map(p),
        }
    }

    /// The project concerned, if any.
    pub fn project_id(&self) -> Option<&ProjectId> {
        match self {
            Self::Registry(e) => e.project_id(),
            Self::DustNoiseReading(p) => Some(&p.project_id),
            Self::AlarmRaised(p) => Some(&p.project_id),
            Self::AlarmCleared(p) => Some(&p.project_id),
            Self::Workforce(e) => e.project_id(),
            Self::Site(e) => e.project_id(),
            Self::Supervision(e) => e.project_id(),
            Self::Rating(e) => e.project_id(),
            Self::VaultAccess(_) => None,
        }
    }

    /// The SHA-256 digests of the files (附件) the record cites, sorted, each once (none for most kinds): see
    /// [`SupervisionEvent::cited_hashes`], the one list of the members that cite attachments.
    pub fn cited_hashes(&self) -> Vec<&crate::supervision::Sha256Hex> {
        match self {
            Self::Supervision(e) => e.cited_hashes(),
            _ => Vec::new(),
        }
    }

    /// The registry event, if it is one.
    pub fn into_registry(self) -> Option<RegistryEvent> {
        match self {
            Self::Registry(e) => Some(e),
            _ => None,
        }
    }
}

/// Type-checks the payload of a kind this crate defines; [`PayloadError::UnknownKind`] for any other kind.
pub fn validate_payload(kind: &str, payload: &Map<String, Value>) -> Result<(), PayloadError> {
    DomainEvent::parse(kind, payload).map(drop)
}

/// [`validate_payload`], plus the stream convention of the kind: registry kinds in `registry/…`, project-scoped
/// kinds in `project/<the payload's project_id>[/…]`.
pub fn validate_envelope(kind: &str, stream: &str, payload: &Map<String, Value>) -> Result<DomainEvent, PayloadError> {
    let event = DomainEvent::parse(kind, payload)?;
    check_stream(&event, stream)?;
    Ok(event)
}

/// The stream convention of [`validate_envelope`] for an event already parsed (a producer that parsed the payload
/// once checks the stream without parsing it again).
pub fn check_stream(event: &DomainEvent, stream: &str) -> Result<(), PayloadError> {
    let kind = event.kind();
    match event {
        DomainEvent::Registry(_) => {
            if !stream::is_registry_stream(stream) {
                return Err(PayloadError::WrongStream {
                    kind,
                    stream: stream.to_owned(),
                    expected: format!("{}…", stream::REGISTRY_PREFIX),
                });
            }
        }
        DomainEvent::DustNoiseReading(_) | DomainEvent::AlarmRaised(_) | DomainEvent::AlarmCleared(_) => {
            let wanted = event.project_id();
            if stream::project_of_stream(stream).as_ref() != wanted {
                return Err(PayloadError::WrongStream {
                    kind,
                    stream: stream.to_owned(),
                    expected: format!("{}{}/…", stream::PROJECT_PREFIX, wanted.map_or("", ProjectId::as_str)),
                });
            }
        }
        DomainEvent::Workforce(_) | DomainEvent::Site(_) | DomainEvent::Supervision(_) | DomainEvent::Rating(_) => {
            let checked = match event {
                DomainEvent::Workforce(e) => e.check_stream(stream),
                DomainEvent::Site(e) => e.check_stream(stream),
                DomainEvent::Supervision(e) => e.check_stream(stream),
                DomainEvent::Rating(e) => e.check_stream(stream),
                _ => Ok(()),
            };
            checked.map_err(|expected| PayloadError::WrongStream { kind, stream: stream.to_owned(), expected })?;
        }
        DomainEvent::VaultAccess(e) => {
            e.check_stream(stream).map_err(|expected| PayloadError::WrongStream {
                kind,
                stream: stream.to_owned(),
                expected,
            })?;
        }
    }
    Ok(())
}

/// Serialises a payload struct into a JSON object (every payload type serialises to an object).
pub(crate) fn to_map<T: Serialize>(p: &T) -> Map<String, Value> {
    match serde_json::to_value(p) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

mod t {
    //! Member types, for the schema tables.
    pub(super) use crate::date::LocalDate;
    pub(super) use crate::district::{DistrictCode, ZoneCode};
    pub(super) use crate::ids::{AlarmId, AlarmSource, CreditCode, DeviceId, ProjectId};
    pub(super) use crate::iot::{AlarmCategory, AlarmLevel};
    pub(super) use crate::quantity::{AreaM2, Decimal, MoneyFen};
    pub(super) use crate::registry::{EnterpriseType, ParticipantRole};
    pub(super) use crate::text::{Name, Text};
}

const ZONE: &[Member] = &[req("code", is::<t::ZoneCode>), req("name", is::<t::Name>)];

const ENTERPRISE: &[Member] =
    &[req("credit_code", is::<t::CreditCode>), req("name", is::<t::Name>), req("types", each::<t::EnterpriseType>)];

const PARTICIPANT: &[Member] = &[req("role", is::<t::ParticipantRole>), req("credit_code", is::<t::CreditCode>)];

fn participants(v: &Value) -> Result<(), Issue> {
    each_object(v, PARTICIPANT)
}

const PROJECT: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("name", is::<t::Name>),
    req("district", is::<t::DistrictCode>),
    req("central_urban", is::<bool>),
    req("floor_area_m2", is::<t::AreaM2>),
    req("contract_cost_fen", is::<t::MoneyFen>),
    req("start_date", is::<t::LocalDate>),
    req("participants", participants),
];

const ADDED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("role", is::<t::ParticipantRole>),
    req("credit_code", is::<t::CreditCode>),
];

const REMOVED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("role", is::<t::ParticipantRole>),
    req("credit_code", is::<t::CreditCode>),
    req("reason", is::<t::Text>),
];

const READING: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("device_id", is::<t::DeviceId>),
    req("pm10_ug_m3", is::<t::Decimal>),
    req("pm25_ug_m3", is::<t::Decimal>),
    req("noise_db_a", is::<t::Decimal>),
];

const RAISED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("alarm_id", is::<t::AlarmId>),
    req("source", is::<t::AlarmSource>),
    req("category", is::<t::AlarmCategory>),
    req("level", is::<t::AlarmLevel>),
    req("message", is::<t::Text>),
    opt("value", is::<t::Decimal>),
    opt("threshold", is::<t::Decimal>),
];

const CLEARED: &[Member] =
    &[req("project_id", is::<t::ProjectId>), req("alarm_id", is::<t::AlarmId>), req("note", is::<t::Text>)];

/// The member names of a kind's schema (top level), for tests that keep schemas and payload types in step.
#[doc(hidden)]
pub fn schema_members(kind: &str) -> Option<Vec<(&'static str, bool)>> {
    let members = match kind {
        registry::ZONE_ADDED => ZONE,
        registry::ENTERPRISE_REGISTERED => ENTERPRISE,
        registry::PROJECT_REGISTERED => PROJECT,
        registry::PARTICIPANT_ADDED => ADDED,
        registry::PARTICIPANT_REMOVED => REMOVED,
        iot::DUST_NOISE_READING => READING,
        iot::ALARM_RAISED => RAISED,
        iot::ALARM_CLEARED => CLEARED,
        _ => return None,
    };
    Some(members.iter().map(|m| (m.name, m.required)).collect())
}
