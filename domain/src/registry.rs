//! The organisation registry: 开发园区, enterprises (参建企业) and projects (工程项目) with their participants.
//!
//! * payload types and kind names (`registry.*.v1`), serialised with `deny_unknown_fields`;
//! * [`RegistryCommand`] and [`decide`], which holds every rule and returns the events to record;
//! * [`RegistryState`] and [`evolve`], which folds events without any rule, plus the queries the API needs
//!   (projects of a district or an enterprise, a project's district and participants, the district list).
//!
//! ```
//! use siteledger_domain::registry::*;
//!
//! let state = RegistryState::new();
//! let zone = ZoneAdded { code: "ZONE-NBHTZ".parse()?, name: "宁波国家高新区".parse()? };
//! let events = decide(&state, RegistryCommand::AddZone(zone))?;
//! let state = RegistryState::from_events(&events);
//! assert_eq!(state.district_name(&"ZONE-NBHTZ".parse()?), Some("宁波国家高新区"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod command;
mod event;
mod state;

pub use command::{RegistryCommand, RegistryError, decide};
pub use event::{
    ENTERPRISE_REGISTERED, EnterpriseRegistered, EnterpriseType, KINDS, PARTICIPANT_ADDED, PARTICIPANT_REMOVED,
    PROJECT_REGISTERED, Participant, ParticipantAdded, ParticipantRemoved, ParticipantRole, ProjectRegistered,
    RegistryEvent, ZONE_ADDED, ZoneAdded,
};
pub use state::{District, Enterprise, Project, RegistryState, evolve};
