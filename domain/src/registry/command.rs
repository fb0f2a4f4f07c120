//! Registry commands and `decide`, which holds every registry rule.

use crate::district::{DistrictCode, ZoneCode};
use crate::ids::{CreditCode, ProjectId};

use super::event::{
    EnterpriseRegistered, EnterpriseType, ParticipantAdded, ParticipantRemoved, ParticipantRole, ProjectRegistered,
    RegistryEvent, ZoneAdded,
};
use super::state::RegistryState;

/// A request to change the registry. Each command proposes one fact and carries exactly the payload it would
/// record, so an incoming signed event can be checked with `decide(state, RegistryCommand::from(event))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryCommand {
    /// The city bureau adds a 开发园区.
    AddZone(ZoneAdded),
    /// An organisation is registered.
    RegisterEnterprise(EnterpriseRegistered),
    /// A project is registered.
    RegisterProject(ProjectRegistered),
    /// An enterprise joins a project.
    AddParticipant(ParticipantAdded),
    /// An enterprise leaves a project.
    RemoveParticipant(ParticipantRemoved),
}

impl From<RegistryEvent> for RegistryCommand {
    /// The command that records exactly this event.
    fn from(e: RegistryEvent) -> Self {
        match e {
            RegistryEvent::ZoneAdded(p) => Self::AddZone(p),
            RegistryEvent::EnterpriseRegistered(p) => Self::RegisterEnterprise(p),
            RegistryEvent::ProjectRegistered(p) => Self::RegisterProject(p),
            RegistryEvent::ParticipantAdded(p) => Self::AddParticipant(p),
            RegistryEvent::ParticipantRemoved(p) => Self::RemoveParticipant(p),
        }
    }
}

/// Why the registry refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// `AddZone` with a code already added.
    #[error("开发园区 {code} already exists")]
    ZoneAlreadyExists {
        /// The code.
        code: ZoneCode,
    },
    /// `RegisterEnterprise` with a credit code already registered.
    #[error("enterprise {credit_code} is already registered")]
    EnterpriseAlreadyRegistered {
        /// The code.
        credit_code: CreditCode,
    },
    /// `RegisterEnterprise` with no type.
    #[error("an enterprise needs at least one type")]
    NoEnterpriseType,
    /// `RegisterEnterprise` listing a type twice.
    #[error("enterprise type {ty} is listed twice")]
    DuplicateEnterpriseType {
        /// The repeated type.
        ty: EnterpriseType,
    },
    /// `RegisterProject` with an id already registered.
    #[error("project {project_id} is already registered")]
    ProjectAlreadyRegistered {
        /// The id.
        project_id: ProjectId,
    },
    /// `RegisterProject` in a 开发园区 that has not been added.
    #[error("district {district} does not exist (not one of the ten 区县(市) and no 开发园区 with this code)")]
    UnknownDistrict {
        /// The code.
        district: DistrictCode,
    },
    /// A participant that is not a registered enterprise.
    #[error("{role} {credit_code} is not a registered enterprise")]
    EnterpriseNotRegistered {
        /// The role it was to take.
        role: ParticipantRole,
        /// Its code.
        credit_code: CreditCode,
    },
    /// `RegisterProject` listing the same enterprise in the same role twice.
    #[error("participant {role} {credit_code} is listed twice")]
    DuplicateParticipant {
        /// The role.
        role: ParticipantRole,
        /// The enterprise.
        credit_code: CreditCode,
    },
    /// `RegisterProject` without a 建设单位.
    #[error("a project needs exactly one owner (建设单位), got none")]
    NoOwner,
    /// `RegisterProject` with more than one 建设单位.
    #[error("a project needs exactly one owner (建设单位), got {count}")]
    MultipleOwners {
        /// How many.
        count: usize,
    },
    /// `RegisterProject` without a 施工总承包.
    #[error("a project needs at least one general contractor (施工总承包)")]
    NoGeneralContractor,
    /// A participant command for a project that is not registered.
    #[error("project {project_id} is not registered")]
    UnknownProject {
        /// The id.
        project_id: ProjectId,
    },
    /// `AddParticipant` of an owner when the project has one.
    #[error("project {project_id} already has an owner (建设单位): {owner}")]
    OwnerAlreadySet {
        /// The project.
        project_id: ProjectId,
        /// Its owner.
        owner: CreditCode,
    },
    /// `AddParticipant` of an enterprise already in that role.
    #[error("{credit_code} is already {role} of project {project_id}")]
    AlreadyParticipant {
        /// The project.
        project_id: ProjectId,
        /// The role.
        role: ParticipantRole,
        /// The enterprise.
        credit_code: CreditCode,
    },
    /// `RemoveParticipant` of an enterprise not in that role.
    #[error("{credit_code} is not {role} of project {project_id}")]
    NotAParticipant {
        /// The project.
        project_id: ProjectId,
        /// The role.
        role: ParticipantRole,
        /// The enterprise.
        credit_code: CreditCode,
    },
    /// `RemoveParticipant` of the owner.
    #[error("project {project_id} must keep its owner (建设单位)")]
    WouldLeaveNoOwner {
        /// The project.
        project_id: ProjectId,
    },
    /// `RemoveParticipant` of the last general contractor.
    #[error("project {project_id} must keep at least one general contractor (施工总承包)")]
    WouldLeaveNoGeneralContractor {
        /// The project.
        project_id: ProjectId,
    },
}

/// Decides a registry command: every registry rule is here.
///
/// * `AddZone`: the zone code is not yet added.
/// * `RegisterEnterprise`: the credit code (already valid by construction) is not registered yet; at least one
///   type, none twice.
/// * `RegisterProject`: the project id is new; the district exists (fixed or added zone); no participant twice
///   in the same role; every participant is a registered enterprise; exactly one owner; at least one general
///   contractor. (Start date, area and cost are valid and non-negative by construction.)
/// * `AddParticipant`: the project exists; the enterprise is registered; not already in that role; no second
///   owner.
/// * `RemoveParticipant`: the project exists; the enterprise is in that role; the owner and the last general
///   contractor cannot be removed.
pub fn decide(state: &RegistryState, command: RegistryCommand) -> Result<Vec<RegistryEvent>, RegistryError> {
    let event = match command {
        RegistryCommand::AddZone(z) => {
            if state.zone(&z.code).is_some() {
                return Err(RegistryError::ZoneAlreadyExists { code: z.code });
            }
            RegistryEvent::ZoneAdded(z)
        }
        RegistryCommand::RegisterEnterprise(e) => {
            if state.enterprise(&e.credit_code).is_some() {
                return Err(RegistryError::EnterpriseAlreadyRegistered { credit_code: e.credit_code });
            }
            if e.types.is_empty() {
                return Err(RegistryError::NoEnterpriseType);
            }
            for (i, ty) in e.types.iter().enumerate() {
                if e.types[..i].contains(ty) {
                    return Err(RegistryError::DuplicateEnterpriseType { ty: *ty });
                }
            }
            RegistryEvent::EnterpriseRegistered(e)
        }
        RegistryCommand::RegisterProject(p) => {
            check_new_project(state, &p)?;
            RegistryEvent::ProjectRegistered(p)
        }
        RegistryCommand::AddParticipant(a) => {
            let project = state
                .project(&a.project_id)
                .ok_or_else(|| RegistryError::UnknownProject { project_id: a.project_id.clone() })?;
            if state.enterprise(&a.credit_code).is_none() {
                return Err(RegistryError::EnterpriseNotRegistered { role: a.role, credit_code: a.credit_code });
            }
            if project.participants_in(a.role).any(|c| c == &a.credit_code) {
                return Err(RegistryError::AlreadyParticipant {
                    project_id: a.project_id,
                    role: a.role,
                    credit_code: a.credit_code,
                });
            }
            if a.role == ParticipantRole::Owner
                && let Some(owner) = project.owner()
            {
                return Err(RegistryError::OwnerAlreadySet { project_id: a.project_id, owner: owner.clone() });
            }
            RegistryEvent::ParticipantAdded(a)
        }
        RegistryCommand::RemoveParticipant(r) => {
            let project = state
                .project(&r.project_id)
                .ok_or_else(|| RegistryError::UnknownProject { project_id: r.project_id.clone() })?;
            if !project.participants_in(r.role).any(|c| c == &r.credit_code) {
                return Err(RegistryError::NotAParticipant {
                    project_id: r.project_id,
                    role: r.role,
                    credit_code: r.credit_code,
                });
            }
            match r.role {
                ParticipantRole::Owner => return Err(RegistryError::WouldLeaveNoOwner { project_id: r.project_id }),
                ParticipantRole::GeneralContractor
                    if project.participants_in(ParticipantRole::GeneralContractor).count() == 1 =>
                {
                    return Err(RegistryError::WouldLeaveNoGeneralContractor { project_id: r.project_id });
                }
                _ => {}
            }
            RegistryEvent::ParticipantRemoved(r)
        }
    };
    Ok(vec![event])
}

fn check_new_project(state: &RegistryState, p: &ProjectRegistered) -> Result<(), RegistryError> {
    if state.project(&p.project_id).is_some() {
        return Err(RegistryError::ProjectAlreadyRegistered { project_id: p.project_id.clone() });
    }
    if !state.district_exists(&p.district) {
        return Err(RegistryError::UnknownDistrict { district: p.district.clone() });
    }
    for (i, part) in p.participants.iter().enumerate() {
        if p.participants[..i].contains(part) {
            return Err(RegistryError::DuplicateParticipant { role: part.role, credit_code: part.credit_code.clone() });
        }
    }
    if let Some(part) = p.participants.iter().find(|part| state.enterprise(&part.credit_code).is_none()) {
        return Err(RegistryError::EnterpriseNotRegistered { role: part.role, credit_code: part.credit_code.clone() });
    }
    let count = |role| p.participants.iter().filter(|part| part.role == role).count();
    match count(ParticipantRole::Owner) {
        0 => return Err(RegistryError::NoOwner),
        1 => {}
        count => return Err(RegistryError::MultipleOwners { count }),
    }
    if count(ParticipantRole::GeneralContractor) == 0 {
        return Err(RegistryError::NoGeneralContractor);
    }
    Ok(())
}
