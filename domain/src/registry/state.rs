//! The registry state: a fold of registry events, with the queries the rules and the API need.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::date::LocalDate;
use crate::district::{DistrictCode, NingboDistrict, ZoneCode};
use crate::ids::{CreditCode, ProjectId};
use crate::quantity::{AreaM2, MoneyFen};
use crate::text::Name;

use super::event::{EnterpriseType, Participant, ParticipantRole, ProjectRegistered, RegistryEvent};

/// A registered enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enterprise {
    /// 统一社会信用代码.
    pub credit_code: CreditCode,
    /// 企业名称.
    pub name: Name,
    /// What it is.
    pub types: Vec<EnterpriseType>,
}

/// A registered project with its current participants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Platform id.
    pub project_id: ProjectId,
    /// 项目名称.
    pub name: Name,
    /// Supervising 区县(市) or 开发园区.
    pub district: DistrictCode,
    /// In the 中心城区.
    pub central_urban: bool,
    /// 建筑面积.
    pub floor_area_m2: AreaM2,
    /// 合同造价.
    pub contract_cost_fen: MoneyFen,
    /// 开工日期.
    pub start_date: LocalDate,
    /// 参建单位, in registration order, then in order of addition.
    pub participants: Vec<Participant>,
}

impl Project {
    /// Whether `credit_code` takes part in the project in any role.
    pub fn has_participant(&self, credit_code: &CreditCode) -> bool {
        self.participants.iter().any(|p| &p.credit_code == credit_code)
    }

    /// The participants in `role`.
    pub fn participants_in(&self, role: ParticipantRole) -> impl Iterator<Item = &CreditCode> {
        self.participants.iter().filter(move |p| p.role == role).map(|p| &p.credit_code)
    }

    /// The 建设单位, if any.
    pub fn owner(&self) -> Option<&CreditCode> {
        self.participants_in(ParticipantRole::Owner).next()
    }
}

impl From<ProjectRegistered> for Project {
    fn from(p: ProjectRegistered) -> Self {
        Self {
            project_id: p.project_id,
            name: p.name,
            district: p.district,
            central_urban: p.central_urban,
            floor_area_m2: p.floor_area_m2,
            contract_cost_fen: p.contract_cost_fen,
            start_date: p.start_date,
            participants: p.participants,
        }
    }
}

/// A jurisdiction as listed by [`RegistryState::districts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    /// Its code.
    pub code: DistrictCode,
    /// Its Chinese name.
    pub name: String,
}

/// Everything the registry knows: 开发园区, enterprises and projects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryState {
    #[serde(with = "crate::snapshot::pairs")]
    zones: BTreeMap<ZoneCode, Name>,
    #[serde(with = "crate::snapshot::pairs")]
    enterprises: BTreeMap<CreditCode, Enterprise>,
    #[serde(with = "crate::snapshot::pairs")]
    projects: BTreeMap<ProjectId, Project>,
}

impl RegistryState {
    /// The empty registry (the ten fixed districts exist, nothing else).
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds `events` into an empty registry.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a RegistryEvent>) -> Self {
        let mut state = Self::new();
        for e in events {
            evolve(&mut state, e);
        }
        state
    }

    /// Whether the district is one of the ten or an added zone.
    pub fn district_exists(&self, code: &DistrictCode) -> bool {
        match code {
            DistrictCode::Fixed(_) => true,
            DistrictCode::Zone(z) => self.zones.contains_key(z),
        }
    }

    /// The Chinese name of an existing district.
    pub fn district_name(&self, code: &DistrictCode) -> Option<&str> {
        match code {
            DistrictCode::Fixed(d) => Some(d.name()),
            DistrictCode::Zone(z) => self.zones.get(z).map(Name::as_str),
        }
    }

    /// Every district: the ten 区县(市) in code order, then the 开发园区 in code order.
    pub fn districts(&self) -> Vec<District> {
        NingboDistrict::ALL
            .into_iter()
            .map(|d| District { code: DistrictCode::Fixed(d), name: d.name().to_owned() })
            .chain(
                self.zones
                    .iter()
                    .map(|(z, n)| District { code: DistrictCode::Zone(z.clone()), name: n.as_str().to_owned() }),
            )
            .collect()
    }

    /// The name of an added zone.
    pub fn zone(&self, code: &ZoneCode) -> Option<&Name> {
        self.zones.get(code)
    }

    /// A registered enterprise.
    pub fn enterprise(&self, credit_code: &CreditCode) -> Option<&Enterprise> {
        self.enterprises.get(credit_code)
    }

    /// Every registered enterprise, in credit-code order.
    pub fn enterprises(&self) -> impl Iterator<Item = &Enterprise> {
        self.enterprises.values()
    }

    /// A registered project.
    pub fn project(&self, project_id: &ProjectId) -> Option<&Project> {
        self.projects.get(project_id)
    }

    /// Every registered project, in id order.
    pub fn projects(&self) -> impl Iterator<Item = &Project> {
        self.projects.values()
    }

    /// The projects supervised by `district`, in id order.
    pub fn projects_in_district<'a>(&'a self, district: &'a DistrictCode) -> impl Iterator<Item = &'a Project> {
        self.projects.values().filter(move |p| &p.district == district)
    }

    /// The projects `credit_code` takes part in (any role), in id order.
    pub fn projects_of_enterprise<'a>(&'a self, credit_code: &'a CreditCode) -> impl Iterator<Item = &'a Project> {
        self.projects.values().filter(move |p| p.has_participant(credit_code))
    }

    /// The district supervising a project.
    pub fn district_of(&self, project_id: &ProjectId) -> Option<&DistrictCode> {
        self.projects.get(project_id).map(|p| &p.district)
    }

    /// A project's participants.
    pub fn participants(&self, project_id: &ProjectId) -> Option<&[Participant]> {
        self.projects.get(project_id).map(|p| p.participants.as_slice())
    }

    // Mutations, for `evolve` only.

    pub(super) fn insert_zone(&mut self, code: ZoneCode, name: Name) {
        self.zones.insert(code, name);
    }

    pub(super) fn insert_enterprise(&mut self, e: Enterprise) {
        self.enterprises.insert(e.credit_code.clone(), e);
    }

    pub(super) fn insert_project(&mut self, p: Project) {
        self.projects.insert(p.project_id.clone(), p);
    }

    pub(super) fn project_mut(&mut self, project_id: &ProjectId) -> Option<&mut Project> {
        self.projects.get_mut(project_id)
    }
}

/// Folds one event into the state. It holds no rules: events are facts already decided. An event that could not
/// have been decided (e.g. a participant change of an unknown project) changes nothing.
pub fn evolve(state: &mut RegistryState, event: &RegistryEvent) {
    match event {
        RegistryEvent::ZoneAdded(z) => state.insert_zone(z.code.clone(), z.name.clone()),
        RegistryEvent::EnterpriseRegistered(e) => state.insert_enterprise(Enterprise {
            credit_code: e.credit_code.clone(),
            name: e.name.clone(),
            types: e.types.clone(),
        }),
        RegistryEvent::ProjectRegistered(p) => state.insert_project(Project::from(p.clone())),
        RegistryEvent::ParticipantAdded(a) => {
            if let Some(project) = state.project_mut(&a.project_id) {
                project.participants.push(Participant { role: a.role, credit_code: a.credit_code.clone() });
            }
        }
        RegistryEvent::ParticipantRemoved(r) => {
            if let Some(project) = state.project_mut(&r.project_id) {
                project.participants.retain(|p| !(p.role == r.role && p.credit_code == r.credit_code));
            }
        }
    }
}
