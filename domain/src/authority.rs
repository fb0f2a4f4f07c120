//! Key authority: who may enrol and revoke whose signing keys (`ledger.key.enrolled.v1`, `ledger.key.revoked.v1`).
//!
//! The chain of authority is ledger system key → 市住建局 (city bureau) → 区县(市)/开发园区 住建部门 (district
//! bureaus) → 参建企业 (enterprises) → project gateways and devices:
//!
//! | signer role | may enrol |
//! |---|---|
//! | `ledger` | `city_bureau`, `platform` |
//! | `city_bureau` | `district_bureau`, `enterprise`, `auditor`, `bank`, `testing_lab`, `gateway`, `device` |
//! | `district_bureau` | `enterprise`, `gateway`, `device`, `inspector` (its own 监督员) |
//! | `enterprise` | `gateway`, `device`, `staff` (its own 企业人员) |
//! | `testing_lab` | `tester` (its own 检测人员) |
//! | `gateway`, `device`, `auditor`, `bank`, `platform`, `inspector`, `staff`, `tester` | nobody |
//!
//! (The city bureau also enrols `inspector` keys of any district.)
//!
//! A key may revoke exactly the keys it may enrol; the `ledger` system key may revoke any key.
//!
//! Subjects (the enrollment's `subject` member) have a format per role:
//!
//! | role | subject |
//! |---|---|
//! | `ledger`, `city_bureau`, `auditor`, `platform` | a [`Name`] (e.g. `宁波市住房和城乡建设局`) |
//! | `district_bureau` | a [`DistrictCode`] (`330212`, `ZONE-NBHTZ`) |
//! | `enterprise`, `bank`, `testing_lab` | a [`CreditCode`] |
//! | `gateway` | `project/<ProjectId>/gateway/<DeviceId>` |
//! | `device` | `project/<ProjectId>/device/<DeviceId>` |
//! | `inspector` | `<DistrictCode>/person/<PersonHandle>` |
//! | `staff`, `tester` | `<CreditCode>/person/<PersonHandle>` |
//!
//! **People** (issue 15, docs/PEOPLE.md) hold their own keys, generated in their browser: a district bureau's
//! 监督员 (`inspector`), an enterprise's staff (`staff`: 项目负责人, 技术负责人, 总监 …) and a laboratory's testers
//! (`tester`). Their organisation enrols them (a bureau or enterprise only its own people: the subject names the
//! organisation, [`AuthorityError::OtherOrganisation`]), and they sign **for** it: the rules see the organisation's
//! role and subject ([`acting_for`]), while the envelope names the person's key as its signer, so a court holds a
//! notice signed by the inspector's own key.
//!
//! [`may_enroll`] and [`may_revoke`] check roles and subject formats only. [`may_enroll_in`] and
//! [`may_revoke_in`] also consult the registry: a district bureau acts only on gateways and devices of projects
//! in its district, an enterprise only on those of projects it takes part in, and (for enrolment) the project,
//! the district and the enterprise named by a subject must be registered.
//!
//! Who may sign which record, whatever its subsystem ([`may_sign`], applied by [`crate::DomainState::decide`] after
//! the subsystem's own rules, which name the more specific fault first):
//!
//! | rule | signer | may sign |
//! |---|---|---|
//! | `authority.registry_signer` | any | `registry.*` only with a `city_bureau` or `district_bureau` key |
//! | `authority.signer_role` | any | a kind only with a key of one of the roles [`KIND_SIGNERS`] names for it |
//! | `authority.own_project` | `gateway`, `device` | only records in a stream of its own project (`project/<id>/…`) |
//!
//! [`KIND_SIGNERS`] is the one table of which roles sign which kind, as far as the kind alone says (no ledger
//! state): producers ask it before signing ([`signer_roles`]: the site agent's `POST /v1/records` answers 403 with
//! it), the producers' guide is generated from it, and [`may_sign`] applies it. Which holder of a role (the
//! project's general contractor, the commissioned laboratory) is each subsystem's own rule, against the registry.

use std::fmt;

use crate::district::{DistrictCode, DistrictCodeError};
use crate::ids::{CreditCode, CreditCodeError, DeviceId, PersonHandle, ProjectId, ProjectIdError, TokenError};
use crate::payload::DomainEvent;
use crate::registry::RegistryState;
use crate::rules::{RecordContext, RuleError};
use crate::stream::project_of_stream;
use crate::text::{Name, NameError};
use crate::{iot, rating, registry, site, supervision, workforce};

/// The role of a key holder, as recorded in its enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// `ledger`: the ledger's own system key (self-enrolled root).
    Ledger,
    /// `city_bureau`: 宁波市住房和城乡建设局 (市住建局).
    CityBureau,
    /// `district_bureau`: a 区县(市) or 开发园区 住房城乡建设主管部门.
    DistrictBureau,
    /// `enterprise`: a 参建企业 (owner, contractor, supervisor, …).
    Enterprise,
    /// `gateway`: a site gateway (工地网关) forwarding device data for one project.
    Gateway,
    /// `device`: a site device signing its own data.
    Device,
    /// `auditor`: an auditor with read and verification duties.
    Auditor,
    /// `bank`: a bank holding 工资专用账户.
    Bank,
    /// `testing_lab`: a 检测机构.
    TestingLab,
    /// `platform`: a service key of the platform server itself (the vault-audit key that signs
    /// `vault.access.v1`), enrolled only by the ledger's system key.
    Platform,
    /// `inspector`: a district bureau's 监督员, a person signing for the bureau with their own key.
    Inspector,
    /// `staff`: an enterprise's person (项目负责人, 技术负责人, 总监理工程师 …) signing for it with their own key.
    Staff,
    /// `tester`: a laboratory's 检测人员, signing for the laboratory with their own key.
    Tester,
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 13] = [
        Self::Ledger,
        Self::CityBureau,
        Self::DistrictBureau,
        Self::Enterprise,
        Self::Gateway,
        Self::Device,
        Self::Auditor,
        Self::Bank,
        Self::TestingLab,
        Self::Platform,
        Self::Inspector,
        Self::Staff,
        Self::Tester,
    ];

    /// The role by its recorded name, e.g. `district_bureau`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The recorded name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ledger => "ledger",
            Self::CityBureau => "city_bureau",
            Self::DistrictBureau => "district_bureau",
            Self::Enterprise => "enterprise",
            Self::Gateway => "gateway",
            Self::Device => "device",
            Self::Auditor => "auditor",
            Self::Bank => "bank",
            Self::TestingLab => "testing_lab",
            Self::Platform => "platform",
            Self::Inspector => "inspector",
            Self::Staff => "staff",
            Self::Tester => "tester",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Ledger => "系统",
            Self::CityBureau => "市住建局",
            Self::DistrictBureau => "区县(市)住建部门",
            Self::Enterprise => "参建企业",
            Self::Gateway => "工地网关",
            Self::Device => "现场设备",
            Self::Auditor => "审计",
            Self::Bank => "银行",
            Self::TestingLab => "检测机构",
            Self::Platform => "平台服务",
            Self::Inspector => "监督员",
            Self::Staff => "企业人员",
            Self::Tester => "检测人员",
        }
    }

    /// The roles a key of this role may enrol.
    pub const fn may_enrol(self) -> &'static [Role] {
        match self {
            Self::Ledger => &[Self::CityBureau, Self::Platform],
            Self::CityBureau => &[
                Self::DistrictBureau,
                Self::Enterprise,
                Self::Auditor,
                Self::Bank,
                Self::TestingLab,
                Self::Gateway,
                Self::Device,
                Self::Inspector,
            ],
            Self::DistrictBureau => &[Self::Enterprise, Self::Gateway, Self::Device, Self::Inspector],
            Self::Enterprise => &[Self::Gateway, Self::Device, Self::Staff],
            Self::TestingLab => &[Self::Tester],
            Self::Gateway
            | Self::Device
            | Self::Auditor
            | Self::Bank
            | Self::Platform
            | Self::Inspector
            | Self::Staff
            | Self::Tester => &[],
        }
    }

    /// The subject format of this role, for messages.
    pub const fn subject_format(self) -> &'static str {
        match self {
            Self::Ledger | Self::CityBureau | Self::Auditor | Self::Platform => "a name",
            Self::DistrictBureau => "a district code (330203…330282 or ZONE-…)",
            Self::Enterprise | Self::Bank | Self::TestingLab => "a 统一社会信用代码",
            Self::Gateway => "project/<ProjectId>/gateway/<id>",
            Self::Device => "project/<ProjectId>/device/<id>",
            Self::Inspector => "<district code>/person/<handle>",
            Self::Staff | Self::Tester => "<统一社会信用代码>/person/<handle>",
        }
    }

    /// The organisation role a person of this role signs for (`inspector` → `district_bureau`, `staff` →
    /// `enterprise`, `tester` → `testing_lab`); `None` for organisation, device and service keys.
    pub const fn organisation_role(self) -> Option<Role> {
        match self {
            Self::Inspector => Some(Self::DistrictBureau),
            Self::Staff => Some(Self::Enterprise),
            Self::Tester => Some(Self::TestingLab),
            _ => None,
        }
    }

    /// The person role an organisation of this role enrols for its own people.
    pub const fn person_role(self) -> Option<Role> {
        match self {
            Self::DistrictBureau => Some(Self::Inspector),
            Self::Enterprise => Some(Self::Staff),
            Self::TestingLab => Some(Self::Tester),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key holder, parsed from an enrollment's `subject` according to its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySubject {
    /// `ledger`, `city_bureau`, `auditor`, `platform`.
    Named(Name),
    /// `district_bureau`.
    District(DistrictCode),
    /// `enterprise`, `bank`, `testing_lab`.
    Organisation(CreditCode),
    /// `gateway`: `project/<ProjectId>/gateway/<id>`.
    Gateway {
        /// The project.
        project_id: ProjectId,
        /// The gateway's id.
        id: DeviceId,
    },
    /// `device`: `project/<ProjectId>/device/<id>`.
    Device {
        /// The project.
        project_id: ProjectId,
        /// The device's id.
        id: DeviceId,
    },
    /// `inspector`: `<DistrictCode>/person/<handle>`.
    Inspector {
        /// The bureau's district.
        district: DistrictCode,
        /// The person's handle within the bureau.
        person: PersonHandle,
    },
    /// `staff`, `tester`: `<CreditCode>/person/<handle>`.
    Staff {
        /// The enterprise or laboratory.
        credit_code: CreditCode,
        /// The person's handle within it.
        person: PersonHandle,
    },
}

/// Why a subject does not fit its role's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// Not a valid name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Not a valid district code.
    #[error(transparent)]
    District(#[from] DistrictCodeError),
    /// Not a valid credit code.
    #[error(transparent)]
    CreditCode(#[from] CreditCodeError),
    /// Not of the shape `project/<ProjectId>/<kind>/<id>`.
    #[error("expected {expected}")]
    NotAProjectPath {
        /// The expected shape.
        expected: &'static str,
    },
    /// The project id part is invalid.
    #[error("{0}")]
    ProjectId(#[from] ProjectIdError),
    /// The gateway or device id part is invalid.
    #[error("gateway/device id: {0}")]
    DeviceId(#[from] TokenError),
    /// Not of the shape `<organisation>/person/<handle>`.
    #[error("expected {expected}")]
    NotAPersonPath {
        /// The expected shape.
        expected: &'static str,
    },
    /// The person's handle is not a token.
    #[error("person handle: {0}")]
    PersonHandle(TokenError),
    /// The person's handle looks like an ID or bank card number (the value is not repeated).
    #[error("person handle: {0}")]
    PersonalNumber(#[from] crate::personal::PersonalNumber),
}

impl KeySubject {
    /// Parses `subject` in the format of `role`.
    pub fn parse(role: Role, subject: &str) -> Result<Self, SubjectError> {
        Ok(match role {
            Role::Ledger | Role::CityBureau | Role::Auditor | Role::Platform => Self::Named(Name::parse(subject)?),
            Role::DistrictBureau => Self::District(DistrictCode::parse(subject)?),
            Role::Enterprise | Role::Bank | Role::TestingLab => Self::Organisation(CreditCode::parse(subject)?),
            Role::Gateway => {
                let (project_id, id) = project_path(subject, "gateway", role.subject_format())?;
                Self::Gateway { project_id, id }
            }
            Role::Device => {
                let (project_id, id) = project_path(subject, "device", role.subject_format())?;
                Self::Device { project_id, id }
            }
            Role::Inspector => {
                let (district, person) = person_path(subject, role.subject_format())?;
                Self::Inspector { district: DistrictCode::parse(district)?, person }
            }
            Role::Staff | Role::Tester => {
                let (credit_code, person) = person_path(subject, role.subject_format())?;
                Self::Staff { credit_code: CreditCode::parse(credit_code)?, person }
            }
        })
    }

    /// The organisation a person's key belongs to, as that organisation's own subject.
    fn person_organisation(&self) -> Option<String> {
        match self {
            Self::Inspector { district, .. } => Some(district.to_string()),
            Self::Staff { credit_code, .. } => Some(credit_code.to_string()),
            _ => None,
        }
    }

    /// The subject as written.
    fn organisation_subject(&self) -> Option<String> {
        match self {
            Self::District(d) => Some(d.to_string()),
            Self::Organisation(c) => Some(c.to_string()),
            _ => None,
        }
    }

    /// The project of a gateway or device.
    pub fn project_id(&self) -> Option<&ProjectId> {
        match self {
            Self::Gateway { project_id, .. } | Self::Device { project_id, .. } => Some(project_id),
            _ => None,
        }
    }
}

fn project_path(subject: &str, middle: &str, expected: &'static str) -> Result<(ProjectId, DeviceId), SubjectError> {
    let parts: Vec<&str> = subject.split('/').collect();
    let [first, project, kind, id] = parts.as_slice() else { return Err(SubjectError::NotAProjectPath { expected }) };
    if *first != "project" || *kind != middle {
        return Err(SubjectError::NotAProjectPath { expected });
    }
    Ok((ProjectId::parse(project)?, DeviceId::parse(id)?))
}

/// `<organisation>/person/<handle>`, the handle a token that is not shaped like a personal number.
fn person_path<'a>(subject: &'a str, expected: &'static str) -> Result<(&'a str, PersonHandle), SubjectError> {
    let parts: Vec<&str> = subject.split('/').collect();
    let [organisation, middle, handle] = parts.as_slice() else {
        return Err(SubjectError::NotAPersonPath { expected });
    };
    if *middle != "person" {
        return Err(SubjectError::NotAPersonPath { expected });
    }
    crate::personal::refuse_personal_number(handle)?;
    Ok((organisation, PersonHandle::parse(handle).map_err(SubjectError::PersonHandle)?))
}

/// The subject of a person's key: `<organisation subject>/person/<handle>`.
pub fn person_subject(organisation: &str, handle: &PersonHandle) -> String {
    format!("{organisation}/person/{handle}")
}

/// Who a key signs as, for the rules: a person's key (`inspector`, `staff`, `tester`) acts for its organisation, so
/// the rules see the organisation's role and subject (`inspector` of `330212/person/wang` → `district_bureau` of
/// `330212`); any other key as enrolled. The envelope still names the person's key as signer. A person subject that
/// does not parse is passed through unchanged (the rules then refuse it as the unknown role it is).
pub fn acting_for<'a>(role: &'a str, subject: &'a str) -> (&'a str, &'a str) {
    let Some(org) = Role::parse(role).and_then(Role::organisation_role) else { return (role, subject) };
    match subject.split_once("/person/") {
        Some((organisation, _)) => (org.as_str(), organisation),
        None => (role, subject),
    }
}

/// The subject of a project gateway key: `project/<ProjectId>/gateway/<id>`.
pub fn gateway_subject(project_id: &ProjectId, id: &DeviceId) -> String {
    format!("project/{project_id}/gateway/{id}")
}

/// The subject of a device key: `project/<ProjectId>/device/<id>`.
pub fn device_subject(project_id: &ProjectId, id: &DeviceId) -> String {
    format!("project/{project_id}/device/{id}")
}

/// Enrolment or revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `ledger.key.enrolled.v1`.
    Enrol,
    /// `ledger.key.revoked.v1`.
    Revoke,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enrol => "enrol",
            Self::Revoke => "revoke",
        })
    }
}

/// Why a key may not enrol or revoke another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    /// The signer's role is not one of [`Role::ALL`].
    #[error("unknown signer role {role:?}")]
    UnknownSignerRole {
        /// The role given.
        role: String,
    },
    /// The other key's role is not one of [`Role::ALL`].
    #[error("unknown role {role:?}")]
    UnknownRole {
        /// The role given.
        role: String,
    },
    /// The signer's subject does not fit its role.
    #[error("signer subject {subject:?} does not fit role {role} ({}): {reason}", role.subject_format())]
    InvalidSignerSubject {
        /// The signer's role.
        role: Role,
        /// The subject.
        subject: String,
        /// What is wrong.
        reason: SubjectError,
    },
    /// The other key's subject does not fit its role.
    #[error("subject {subject:?} does not fit role {role} ({}): {reason}", role.subject_format())]
    InvalidSubject {
        /// The role.
        role: Role,
        /// The subject.
        subject: String,
        /// What is wrong.
        reason: SubjectError,
    },
    /// The signer's role may not act on the other role.
    #[error("a {signer} key may not {action} a {target} key")]
    NotPermitted {
        /// Enrol or revoke.
        action: Action,
        /// The signer's role.
        signer: Role,
        /// The other key's role.
        target: Role,
    },
    /// (Registry) a district bureau key for a district that does not exist.
    #[error("district {district} does not exist")]
    UnknownDistrict {
        /// The district.
        district: DistrictCode,
    },
    /// (Registry) an organisation key for an unregistered enterprise.
    #[error("enterprise {credit_code} is not registered")]
    UnknownEnterprise {
        /// The enterprise.
        credit_code: CreditCode,
    },
    /// (Registry) a gateway or device of an unregistered project.
    #[error("project {project_id} is not registered")]
    UnknownProject {
        /// The project.
        project_id: ProjectId,
    },
    /// (Registry) a district bureau acting on a project of another district.
    #[error("project {project_id} is supervised by {project_district}, not by {bureau_district}")]
    OutsideDistrict {
        /// The project.
        project_id: ProjectId,
        /// Its district.
        project_district: DistrictCode,
        /// The signer's district.
        bureau_district: DistrictCode,
    },
    /// A bureau, enterprise or laboratory acting on a person of another organisation.
    #[error(
        "{target} belongs to another organisation than {signer}: an organisation enrols and revokes only its own people"
    )]
    OtherOrganisation {
        /// The signer's organisation.
        signer: String,
        /// The person's subject.
        target: String,
    },
    /// (Registry) an enterprise acting on a project it does not take part in.
    #[error("enterprise {credit_code} does not take part in project {project_id}")]
    NotAParticipant {
        /// The project.
        project_id: ProjectId,
        /// The signer's enterprise.
        credit_code: CreditCode,
    },
}

/// Roles and subjects of both keys, parsed and permitted.
struct Checked {
    signer: KeySubject,
    target: KeySubject,
}

fn check_roles(
    action: Action,
    signer_role: &str,
    signer_subject: &str,
    target_role: &str,
    target_subject: &str,
) -> Result<Checked, AuthorityError> {
    let signer_r =
        Role::parse(signer_role).ok_or_else(|| AuthorityError::UnknownSignerRole { role: signer_role.to_owned() })?;
    let target_r =
        Role::parse(target_role).ok_or_else(|| AuthorityError::UnknownRole { role: target_role.to_owned() })?;
    let signer = KeySubject::parse(signer_r, signer_subject).map_err(|reason| {
        AuthorityError::InvalidSignerSubject { role: signer_r, subject: signer_subject.to_owned(), reason }
    })?;
    let permitted = signer_r.may_enrol().contains(&target_r) || (action == Action::Revoke && signer_r == Role::Ledger);
    if !permitted {
        return Err(AuthorityError::NotPermitted { action, signer: signer_r, target: target_r });
    }
    let target = KeySubject::parse(target_r, target_subject).map_err(|reason| AuthorityError::InvalidSubject {
        role: target_r,
        subject: target_subject.to_owned(),
        reason,
    })?;
    // An organisation acts on its own people only (the city bureau and the ledger on any).
    if let (Some(own), Some(theirs)) = (signer.organisation_subject(), target.person_organisation())
        && own != theirs
    {
        return Err(AuthorityError::OtherOrganisation { signer: own, target: target_subject.to_owned() });
    }
    Ok(Checked { signer, target })
}

/// May a key of `signer_role` held by `signer_subject` enrol a key of `new_role` for `new_subject`? Checks the
/// roles (table in the module docs) and the subject formats of both.
pub fn may_enroll(
    signer_role: &str,
    signer_subject: &str,
    new_role: &str,
    new_subject: &str,
) -> Result<(), AuthorityError> {
    check_roles(Action::Enrol, signer_role, signer_subject, new_role, new_subject).map(drop)
}

/// May a key of `signer_role` held by `signer_subject` revoke a key of `target_role` held by `target_subject`?
/// A key may revoke what it may enrol; the `ledger` key may revoke any key.
pub fn may_revoke(
    signer_role: &str,
    signer_subject: &str,
    target_role: &str,
    target_subject: &str,
) -> Result<(), AuthorityError> {
    check_roles(Action::Revoke, signer_role, signer_subject, target_role, target_subject).map(drop)
}

/// [`may_enroll`], plus the registry: the named project, district or enterprise is registered; a district bureau
/// enrols gateways and devices only of projects in its district; an enterprise only of projects it takes part in.
pub fn may_enroll_in(
    registry: &RegistryState,
    signer_role: &str,
    signer_subject: &str,
    new_role: &str,
    new_subject: &str,
) -> Result<(), AuthorityError> {
    let checked = check_roles(Action::Enrol, signer_role, signer_subject, new_role, new_subject)?;
    match &checked.target {
        KeySubject::District(d) if !registry.district_exists(d) => {
            return Err(AuthorityError::UnknownDistrict { district: d.clone() });
        }
        KeySubject::Organisation(c) | KeySubject::Staff { credit_code: c, .. } if registry.enterprise(c).is_none() => {
            return Err(AuthorityError::UnknownEnterprise { credit_code: c.clone() });
        }
        KeySubject::Inspector { district: d, .. } if !registry.district_exists(d) => {
            return Err(AuthorityError::UnknownDistrict { district: d.clone() });
        }
        KeySubject::Gateway { project_id, .. } | KeySubject::Device { project_id, .. }
            if registry.project(project_id).is_none() =>
        {
            return Err(AuthorityError::UnknownProject { project_id: project_id.clone() });
        }
        _ => {}
    }
    check_scope(registry, &checked)
}

/// [`may_revoke`], plus the registry: a district bureau revokes gateways and devices only of projects in its
/// district; an enterprise only of projects it takes part in.
pub fn may_revoke_in(
    registry: &RegistryState,
    signer_role: &str,
    signer_subject: &str,
    target_role: &str,
    target_subject: &str,
) -> Result<(), AuthorityError> {
    let checked = check_roles(Action::Revoke, signer_role, signer_subject, target_role, target_subject)?;
    check_scope(registry, &checked)
}

/// A district bureau or enterprise acting on a project's gateway or device must be responsible for the project.
fn check_scope(registry: &RegistryState, checked: &Checked) -> Result<(), AuthorityError> {
    let Some(project_id) = checked.target.project_id() else { return Ok(()) };
    match &checked.signer {
        KeySubject::District(bureau) => {
            let Some(project) = registry.project(project_id) else {
                return Err(AuthorityError::UnknownProject { project_id: project_id.clone() });
            };
            if &project.district != bureau {
                return Err(AuthorityError::OutsideDistrict {
                    project_id: project_id.clone(),
                    project_district: project.district.clone(),
                    bureau_district: bureau.clone(),
                });
            }
        }
        KeySubject::Organisation(enterprise) => {
            let Some(project) = registry.project(project_id) else {
                return Err(AuthorityError::UnknownProject { project_id: project_id.clone() });
            };
            if !project.has_participant(enterprise) {
                return Err(AuthorityError::NotAParticipant {
                    project_id: project_id.clone(),
                    credit_code: enterprise.clone(),
                });
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rule name: registry records (`registry.*`) are signed by a bureau key.
pub const REGISTRY_SIGNER_RULE: &str = "authority.registry_signer";
/// Rule name: a kind is signed only by a key of one of the roles [`KIND_SIGNERS`] names for it.
pub const SIGNER_ROLE_RULE: &str = "authority.signer_role";
/// Rule name: a project's gateway or device key signs only records of its own project.
pub const OWN_PROJECT_RULE: &str = "authority.own_project";

/// The roles whose keys sign registry records (organisations, projects, zones).
pub const REGISTRY_SIGNERS: [Role; 2] = [Role::CityBureau, Role::DistrictBureau];

/// Who signs one kind: the roles whose keys may sign it at all, and which holder of those roles the subsystem's
/// rules then require (in words, for messages and the producers' guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSigners {
    /// The kind, e.g. `testing.report.issued.v1`.
    pub kind: &'static str,
    /// The roles whose keys may sign it.
    pub roles: &'static [Role],
    /// Which holder, e.g. `the commissioned laboratory (检测机构)`.
    pub who: &'static str,
}

impl KindSigners {
    /// The roles as `bank or enterprise`.
    pub fn roles_text(&self) -> String {
        let names: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        match names.as_slice() {
            [] => "no".to_owned(),
            [one] => (*one).to_owned(),
            [head @ .., last] => format!("{} or {last}", head.join(", ")),
        }
    }

    /// Why a key of `role` may not sign this kind, naming the kind, the role and the roles that may.
    pub fn refusal(&self, role: &str) -> String {
        format!(
            "{} 须由 {} 密钥签名，不能由 {role} 密钥签名 / {} is signed by a {} key ({}), not by a {role} key",
            self.kind,
            self.roles_text(),
            self.kind,
            self.roles_text(),
            self.who
        )
    }
}

const fn row(kind: &'static str, roles: &'static [Role], who: &'static str) -> KindSigners {
    KindSigners { kind, roles, who }
}

const BUREAUS: &[Role] = &REGISTRY_SIGNERS;
const CITY: &[Role] = &[Role::CityBureau];
const ENTERPRISE: &[Role] = &[Role::Enterprise];
const DEVICES: &[Role] = &[Role::Gateway, Role::Device];
const DEVICES_OR_ENTERPRISE: &[Role] = &[Role::Gateway, Role::Device, Role::Enterprise];
const BANK_OR_ENTERPRISE: &[Role] = &[Role::Bank, Role::Enterprise];
const LAB: &[Role] = &[Role::TestingLab];
const ENTERPRISE_OR_LAB: &[Role] = &[Role::Enterprise, Role::TestingLab];
const ASSIGNEES: &[Role] = &[Role::Enterprise, Role::CityBureau, Role::DistrictBureau];
const PLATFORM: &[Role] = &[Role::Platform];

const A_BUREAU: &str = "the city bureau, or the project's (district's) bureau";
const A_PARTICIPANT: &str = "a participant of the project (employer: 施工总承包 or 分包)";
const GC: &str = "the project's general contractor (施工总承包)";
const THE_DEVICE: &str = "the project's own gateway or device";
const THE_LAB: &str = "the commissioned laboratory (检测机构)";

/// Every kind the domain defines and who signs it (the one table; see the module docs). The subsystems' `decide`
/// check the holder against the registry and name the more specific rule first.
pub const KIND_SIGNERS: &[KindSigners] = &[
    row(registry::ZONE_ADDED, BUREAUS, "a 住建 bureau"),
    row(registry::ENTERPRISE_REGISTERED, BUREAUS, "a 住建 bureau"),
    row(registry::PROJECT_REGISTERED, BUREAUS, "a 住建 bureau"),
    row(registry::PARTICIPANT_ADDED, BUREAUS, "a 住建 bureau"),
    row(registry::PARTICIPANT_REMOVED, BUREAUS, "a 住建 bureau"),
    // The first, minimal IoT kinds had no signer rule of their own; an enterprise key (a contractor's own
    // monitoring system) has always been able to sign them, and still may.
    row(iot::DUST_NOISE_READING, DEVICES_OR_ENTERPRISE, "the project's gateway or device, or an enterprise"),
    row(iot::ALARM_RAISED, DEVICES_OR_ENTERPRISE, "the project's gateway or device, or an enterprise"),
    row(iot::ALARM_CLEARED, DEVICES_OR_ENTERPRISE, "the project's gateway or device, or an enterprise"),
    row(workforce::TEAM_FORMED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::WORKER_REGISTERED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::CARD_REGISTERED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::CONTRACT_SIGNED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::TRAINING_COMPLETED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::CERTIFICATE_RECORDED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::ENTERED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::EXITED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::PASSAGE, DEVICES_OR_ENTERPRISE, "the project's gate (gateway or device key), or a participant"),
    row(workforce::WAGE_CLERK_APPOINTED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::ACCOUNT_OPENED, ENTERPRISE, GC),
    row(
        workforce::LABOUR_COST_DEPOSITED,
        BANK_OR_ENTERPRISE,
        "the bank of the wage account, or a participant (建设单位 pays)",
    ),
    row(workforce::PAYROLL_SUBMITTED, ENTERPRISE, A_PARTICIPANT),
    row(workforce::PAYROLL_CONFIRMED, ENTERPRISE, A_PARTICIPANT),
    row(
        workforce::TRANSFER_MADE,
        BANK_OR_ENTERPRISE,
        "the bank of the wage account (工资专用账户), or the general contractor (总包代发)",
    ),
    row(workforce::GUARANTEE_DEPOSITED, BANK_OR_ENTERPRISE, "the bank, or a participant"),
    row(workforce::FINDING_RECORDED, BUREAUS, A_BUREAU),
    row(workforce::vault::VAULT_ACCESS, PLATFORM, "the platform's own vault-audit key"),
    row(site::HJ212_DATA, DEVICES, THE_DEVICE),
    row(site::CRANE_SAMPLE, DEVICES, THE_DEVICE),
    row(site::CRANE_CYCLE, DEVICES, THE_DEVICE),
    row(site::OPERATOR_LOGIN, DEVICES, THE_DEVICE),
    row(site::OPERATOR_LOGOUT, DEVICES, THE_DEVICE),
    row(site::CRANE_ALARM, DEVICES, THE_DEVICE),
    row(site::CRANE_CUTOFF, DEVICES, THE_DEVICE),
    row(site::HOIST_SAMPLE, DEVICES, THE_DEVICE),
    row(site::SAFETY_GEAR_CALIBRATED, DEVICES_OR_ENTERPRISE, "the project's gateway or device, or a participant"),
    row(site::DROP_TEST_PERFORMED, DEVICES_OR_ENTERPRISE, "the project's gateway or device, or a participant"),
    row(site::METER_READING, DEVICES, THE_DEVICE),
    row(site::CAMERA_REGISTERED, DEVICES_OR_ENTERPRISE, "the project's gateway or device, or a participant"),
    row(site::CAMERA_STATUS, DEVICES, THE_DEVICE),
    row(site::CAMERA_ALARM, DEVICES, THE_DEVICE),
    row(site::GATEWAY_HEARTBEAT, DEVICES, "the gateway itself"),
    row(site::ENV_POLICY, BUREAUS, "the city bureau, or the district's own bureau"),
    row(site::CRANE_POLICY, BUREAUS, "the city bureau, or the district's own bureau"),
    row(supervision::inspection::INSPECTION_RECORDED, BUREAUS, A_BUREAU),
    row(supervision::inspection::FINDING_RECORDED, BUREAUS, A_BUREAU),
    row(supervision::inspection::NOTICE_ISSUED, BUREAUS, A_BUREAU),
    row(supervision::inspection::RECTIFICATION_SUBMITTED, ENTERPRISE, "the responsible participant"),
    row(supervision::inspection::RECTIFICATION_REVIEWED, BUREAUS, A_BUREAU),
    row(supervision::inspection::RECTIFICATION_CLOSED, BUREAUS, A_BUREAU),
    row(supervision::inspection::STOP_WORK_ORDERED, BUREAUS, A_BUREAU),
    row(supervision::inspection::STOP_WORK_LIFTED, BUREAUS, A_BUREAU),
    row(supervision::testing::POLICY_SET, CITY, "the city bureau (市住建局)"),
    row(supervision::testing::COMMISSIONED, ENTERPRISE, "the owner (建设单位)"),
    row(supervision::testing::SAMPLE_TAKEN, ENTERPRISE, "the owner or the supervisor (见证取样)"),
    row(supervision::testing::SAMPLE_RECEIVED, LAB, THE_LAB),
    row(supervision::testing::REPORT_ISSUED, LAB, THE_LAB),
    row(supervision::testing::NONCONFORMITY_REPORTED, LAB, THE_LAB),
    row(supervision::hazard::WORK_LISTED, ENTERPRISE, "the owner or the general contractor"),
    row(supervision::hazard::PLAN_APPROVED, ENTERPRISE, GC),
    row(supervision::hazard::PLAN_COUNTERSIGNED, ENTERPRISE, "the supervisor (监理)"),
    row(supervision::hazard::EXPERT_REVIEW_HELD, ENTERPRISE, GC),
    row(supervision::hazard::SITE_NOTICE_POSTED, ENTERPRISE, GC),
    row(supervision::hazard::BRIEFING_HELD, ENTERPRISE, GC),
    row(supervision::hazard::WORK_STARTED, ENTERPRISE, GC),
    row(supervision::hazard::MONITORING_RECORDED, ENTERPRISE_OR_LAB, "a participant, or a laboratory"),
    row(supervision::hazard::WORK_ACCEPTED, ENTERPRISE, "the supervisor (监理)"),
    row(supervision::bim::MODEL_REGISTERED, ENTERPRISE, "the general contractor or the owner"),
    row(supervision::bim::NODE_PLANNED, ENTERPRISE, "the general contractor or the owner"),
    row(supervision::bim::NODE_PROGRESSED, ENTERPRISE, "the general contractor or the owner"),
    row(supervision::task::DISPATCHED, BUREAUS, "a bureau of the task's district, or the city bureau"),
    row(supervision::task::ACKNOWLEDGED, ASSIGNEES, "the task's assignee"),
    row(supervision::task::ESCALATED, BUREAUS, "a bureau of the task's district, or the city bureau"),
    row(supervision::task::RESOLVED, ASSIGNEES, "the task's assignee"),
    row(supervision::task::CLOSED, BUREAUS, "a bureau of the task's district, or the city bureau"),
    row(rating::POLICY, CITY, "the city bureau (市住建局)"),
    row(rating::CREDIT_RULES, CITY, "the city bureau (市住建局)"),
    row(rating::DECISION, BUREAUS, A_BUREAU),
    row(rating::STANDARD_SITE, BUREAUS, A_BUREAU),
    row(rating::AWARD, BUREAUS, A_BUREAU),
    row(rating::REPORT, BUREAUS, "the city bureau, or a district bureau for its own district"),
];

/// The row of `kind` in [`KIND_SIGNERS`]; `None` for a kind the domain does not define.
pub fn kind_signers(kind: &str) -> Option<&'static KindSigners> {
    KIND_SIGNERS.iter().find(|r| r.kind == kind)
}

/// The roles whose keys may sign `kind` at all, without the ledger's state; `None` for a kind the domain does
/// not define.
pub fn signer_roles(kind: &str) -> Option<&'static [Role]> {
    kind_signers(kind).map(|r| r.roles)
}

/// May a key of `signer_role` sign records of `kind` at all ([`KIND_SIGNERS`])? Kinds the domain does not define
/// are left to their owner (the ledger's `ledger.*`). Refusals name the kind, the role and the roles that may:
/// `authority.registry_signer` for registry kinds, `authority.signer_role` for the others.
pub fn may_sign_kind(signer_role: &str, kind: &str) -> Result<(), RuleError> {
    let Some(row) = kind_signers(kind) else { return Ok(()) };
    if Role::parse(signer_role).is_some_and(|r| row.roles.contains(&r)) {
        return Ok(());
    }
    let rule = if kind.starts_with("registry.") { REGISTRY_SIGNER_RULE } else { SIGNER_ROLE_RULE };
    Err(RuleError::new(rule, row.refusal(signer_role)))
}

/// May the record's signer (its enrolled role and subject in `ctx`) sign `event` in `ctx.stream`? The table in the
/// module docs: the role must be one [`KIND_SIGNERS`] names for the kind ([`may_sign_kind`]), and a gateway or
/// device signs only for its own project; subsystems add their own signer rules in their `decide`. Pure: a
/// producer can ask it before signing.
pub fn may_sign(ctx: &RecordContext<'_>, event: &DomainEvent) -> Result<(), RuleError> {
    may_sign_kind(ctx.signer_role, event.kind())?;
    let role = Role::parse(ctx.signer_role);
    if matches!(role, Some(Role::Gateway | Role::Device)) {
        let own = project_of_stream(ctx.signer_subject);
        if own.is_none() || own != project_of_stream(ctx.stream) {
            return Err(RuleError::new(
                OWN_PROJECT_RULE,
                format!(
                    "key {} belongs to {} and may sign only records of its own project",
                    ctx.signer_key_id, ctx.signer_subject
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;

    /// One table: every kind the domain defines has exactly one row, and no row names a kind it does not define.
    #[test]
    fn every_domain_kind_has_exactly_one_signer_row() {
        let rows: Vec<&str> = KIND_SIGNERS.iter().map(|r| r.kind).collect();
        let unique: BTreeSet<&str> = rows.iter().copied().collect();
        assert_eq!(unique.len(), rows.len(), "a kind listed twice");
        let defined: BTreeSet<&str> = crate::all_kinds().into_iter().collect();
        assert_eq!(unique, defined);
        assert!(KIND_SIGNERS.iter().all(|r| !r.roles.is_empty()));
        assert_eq!(signer_roles(workforce::TRANSFER_MADE), Some(BANK_OR_ENTERPRISE));
        assert_eq!(signer_roles("ledger.key.enrolled.v1"), None);
    }

    /// A testing laboratory's key signing a wage transfer used to pass `may_sign` (only registry records were
    /// checked there); now the table refuses it, naming the kind, the key's role and the roles that may.
    #[test]
    fn a_lab_key_may_not_sign_a_wage_transfer() {
        let payload = json!({
            "project_id": "NB-2026-0001", "transfer_id": "T-1", "payroll_id": "PR-1",
            "person_ref": "P-0123456789abcdef0123456789abcdef", "amount_fen": 100,
            "card_commitment": format!("hmac-sha256:{}", "a".repeat(64)), "card_masked": "6222********1234",
            "paid_on": "2026-03-10", "back_pay": false,
        });
        let payload = payload.as_object().cloned().unwrap_or_default();
        let stream = "project/NB-2026-0001/wage";
        let event = crate::validate_envelope(workforce::TRANSFER_MADE, stream, &payload).expect("a valid transfer");
        let ctx = |role| RecordContext {
            event_id: "e",
            stream,
            occurred_at: "2026-03-10T10:00:00+08:00",
            signer_key_id: "k",
            signer_role: role,
            signer_subject: "91330200MA2E2E0104",
        };
        let err = may_sign(&ctx("testing_lab"), &event).expect_err("refused");
        assert_eq!(err.rule, SIGNER_ROLE_RULE);
        for part in ["wage.transfer.made.v1", "testing_lab", "bank or enterprise"] {
            assert!(err.message.contains(part), "{part}: {}", err.message);
        }
        assert!(may_sign(&ctx("bank"), &event).is_ok());
    }
}
