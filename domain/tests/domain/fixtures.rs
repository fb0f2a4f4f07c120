//! Shared fixtures: valid identifiers built by computing check characters, and registry events.

use siteledger_domain::registry::{
    EnterpriseRegistered, EnterpriseType, Participant, ParticipantRole, ProjectRegistered, RegistryEvent, ZoneAdded,
};
use siteledger_domain::{AreaM2, CreditCode, DistrictCode, LocalDate, MoneyFen, Name, ProjectId, ZoneCode};

/// A valid credit code from its first 17 characters.
pub fn cc(first17: &str) -> CreditCode {
    let check = CreditCode::check_character(first17).expect("17 valid characters");
    CreditCode::parse(&format!("{first17}{check}")).expect("a computed check character is valid")
}

/// 建设单位 A.
pub fn owner() -> CreditCode {
    cc("91330212MA2A00001")
}

/// A second owner-type enterprise.
pub fn owner2() -> CreditCode {
    cc("91330203MA2B00002")
}

/// 施工总承包 A.
pub fn gc() -> CreditCode {
    cc("91330200MA2C00003")
}

/// 施工总承包 B.
pub fn gc2() -> CreditCode {
    cc("91330281MA2D00004")
}

/// 监理.
pub fn supervisor() -> CreditCode {
    cc("91330205MA2E00005")
}

/// 分包.
pub fn sub() -> CreditCode {
    cc("91330206MA2F00006")
}

/// Never registered.
pub fn stranger() -> CreditCode {
    cc("91330211MA2G00007")
}

pub fn pid(s: &str) -> ProjectId {
    ProjectId::parse(s).expect("valid project id")
}

pub fn name(s: &str) -> Name {
    Name::parse(s).expect("valid name")
}

pub fn district(s: &str) -> DistrictCode {
    DistrictCode::parse(s).expect("valid district code")
}

pub fn zone(code: &str, zh: &str) -> RegistryEvent {
    RegistryEvent::ZoneAdded(ZoneAdded { code: ZoneCode::parse(code).expect("zone code"), name: name(zh) })
}

pub fn enterprise_payload(code: &CreditCode, types: &[EnterpriseType]) -> EnterpriseRegistered {
    EnterpriseRegistered {
        credit_code: code.clone(),
        name: name(&format!("企业{}", code.as_str())),
        types: types.to_vec(),
    }
}

pub fn enterprise(code: &CreditCode, types: &[EnterpriseType]) -> RegistryEvent {
    RegistryEvent::EnterpriseRegistered(enterprise_payload(code, types))
}

/// The six enterprises of the fixtures (not `stranger`).
pub fn enterprises() -> Vec<RegistryEvent> {
    use EnterpriseType as T;
    vec![
        enterprise(&owner(), &[T::Owner]),
        enterprise(&owner2(), &[T::Owner]),
        enterprise(&gc(), &[T::Construction]),
        enterprise(&gc2(), &[T::Construction]),
        enterprise(&supervisor(), &[T::Supervision]),
        enterprise(&sub(), &[T::Construction, T::LabourService]),
    ]
}

pub fn part(role: ParticipantRole, code: &CreditCode) -> Participant {
    Participant { role, credit_code: code.clone() }
}

/// A project payload in `district` with the given participants.
pub fn project_payload(id: &str, district_code: &str, participants: Vec<Participant>) -> ProjectRegistered {
    ProjectRegistered {
        project_id: pid(id),
        name: name(&format!("{id} 住宅项目")),
        district: district(district_code),
        central_urban: true,
        floor_area_m2: AreaM2::parse("52000.5").expect("area"),
        contract_cost_fen: MoneyFen::parse(12_000_000_000).expect("money"),
        start_date: LocalDate::parse("2026-03-01").expect("date"),
        participants,
    }
}

/// Owner + general contractor + supervisor.
pub fn standard_participants() -> Vec<Participant> {
    use ParticipantRole as R;
    vec![part(R::Owner, &owner()), part(R::GeneralContractor, &gc()), part(R::Supervisor, &supervisor())]
}

pub fn project(id: &str, district_code: &str) -> RegistryEvent {
    RegistryEvent::ProjectRegistered(project_payload(id, district_code, standard_participants()))
}
