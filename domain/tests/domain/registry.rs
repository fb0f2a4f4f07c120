//! Given/when/then tables for the registry's `decide`, and the state's queries after `evolve`.

use std::collections::BTreeSet;

use siteledger_domain::registry::{
    EnterpriseType as T, ParticipantAdded, ParticipantRemoved, ParticipantRole as R, RegistryCommand as C,
    RegistryError as E, RegistryEvent, RegistryState, ZoneAdded, decide, evolve,
};
use siteledger_domain::{DistrictCode, Text, ZoneCode};

use crate::fixtures::*;

/// One row: given these events, when this command, then these events or this error.
struct Case {
    name: &'static str,
    given: Vec<RegistryEvent>,
    when: C,
    then: Result<Vec<RegistryEvent>, E>,
}

/// The events of a command that succeeds with exactly its own payload.
fn recorded(cmd: &C) -> Result<Vec<RegistryEvent>, E> {
    Ok(vec![match cmd.clone() {
        C::AddZone(p) => RegistryEvent::ZoneAdded(p),
        C::RegisterEnterprise(p) => RegistryEvent::EnterpriseRegistered(p),
        C::RegisterProject(p) => RegistryEvent::ProjectRegistered(p),
        C::AddParticipant(p) => RegistryEvent::ParticipantAdded(p),
        C::RemoveParticipant(p) => RegistryEvent::ParticipantRemoved(p),
    }])
}

fn ok(name: &'static str, given: Vec<RegistryEvent>, when: C) -> Case {
    let then = recorded(&when);
    Case { name, given, when, then }
}

fn err(name: &'static str, given: Vec<RegistryEvent>, when: C, error: E) -> Case {
    Case { name, given, when, then: Err(error) }
}

fn hightech() -> RegistryEvent {
    zone("ZONE-NBHTZ", "宁波国家高新区")
}

fn zone_cmd(code: &str, zh: &str) -> C {
    C::AddZone(ZoneAdded { code: ZoneCode::parse(code).expect("zone"), name: name(zh) })
}

/// Enterprises + project NB-2026-0001 in 鄞州区 with owner, gc, supervisor.
fn with_project() -> Vec<RegistryEvent> {
    let mut given = enterprises();
    given.push(project("NB-2026-0001", "330212"));
    given
}

fn added(role: R, code: &siteledger_domain::CreditCode) -> ParticipantAdded {
    ParticipantAdded { project_id: pid("NB-2026-0001"), role, credit_code: code.clone() }
}

fn removed(role: R, code: &siteledger_domain::CreditCode) -> ParticipantRemoved {
    ParticipantRemoved {
        project_id: pid("NB-2026-0001"),
        role,
        credit_code: code.clone(),
        reason: Text::parse("分包合同终止").expect("text"),
    }
}

fn cases() -> Vec<Case> {
    let p1 = pid("NB-2026-0001");
    let project_with = |parts| C::RegisterProject(project_payload("NB-2026-0002", "330212", parts));
    vec![
        // -------------------------------------------------------------------------------- zones
        ok("add a zone", vec![], zone_cmd("ZONE-NBHTZ", "宁波国家高新区")),
        ok("add a second zone", vec![hightech()], zone_cmd("ZONE-MEISHAN", "梅山保税港区")),
        err(
            "zone code unique",
            vec![hightech()],
            zone_cmd("ZONE-NBHTZ", "另一个名字"),
            E::ZoneAlreadyExists { code: ZoneCode::parse("ZONE-NBHTZ").expect("zone") },
        ),
        // -------------------------------------------------------------------------------- enterprises
        ok("register an enterprise", vec![], C::RegisterEnterprise(enterprise_payload(&gc(), &[T::Construction]))),
        ok(
            "an enterprise with several types",
            vec![],
            C::RegisterEnterprise(enterprise_payload(&gc(), &[T::Construction, T::Equipment, T::LabourService])),
        ),
        err(
            "credit code registered twice",
            enterprises(),
            C::RegisterEnterprise(enterprise_payload(&gc(), &[T::Supervision])),
            E::EnterpriseAlreadyRegistered { credit_code: gc() },
        ),
        err(
            "enterprise without type",
            vec![],
            C::RegisterEnterprise(enterprise_payload(&gc(), &[])),
            E::NoEnterpriseType,
        ),
        err(
            "enterprise type repeated",
            vec![],
            C::RegisterEnterprise(enterprise_payload(&gc(), &[T::Bank, T::TestingLab, T::Bank])),
            E::DuplicateEnterpriseType { ty: T::Bank },
        ),
        // -------------------------------------------------------------------------------- projects
        ok("register a project in a fixed district", enterprises(), project_with(standard_participants())),
        ok(
            "register a project in an added zone",
            [vec![hightech()], enterprises()].concat(),
            C::RegisterProject(project_payload("NB-2026-0002", "ZONE-NBHTZ", standard_participants())),
        ),
        ok(
            "owner and general contractor only, two contractors, the same enterprise in two roles",
            enterprises(),
            project_with(vec![
                part(R::Owner, &owner()),
                part(R::GeneralContractor, &gc()),
                part(R::GeneralContractor, &gc2()),
                part(R::Subcontractor, &gc2()),
            ]),
        ),
        err(
            "project id unique",
            with_project(),
            C::RegisterProject(project_payload("NB-2026-0001", "330203", standard_participants())),
            E::ProjectAlreadyRegistered { project_id: p1.clone() },
        ),
        err(
            "zone not added",
            enterprises(),
            C::RegisterProject(project_payload("NB-2026-0002", "ZONE-NBHTZ", standard_participants())),
            E::UnknownDistrict { district: district("ZONE-NBHTZ") },
        ),
        err(
            "participant not registered",
            enterprises(),
            project_with(vec![
                part(R::Owner, &owner()),
                part(R::GeneralContractor, &gc()),
                part(R::Supervisor, &stranger()),
            ]),
            E::EnterpriseNotRegistered { role: R::Supervisor, credit_code: stranger() },
        ),
        err(
            "participant listed twice",
            enterprises(),
            project_with(vec![
                part(R::Owner, &owner()),
                part(R::GeneralContractor, &gc()),
                part(R::GeneralContractor, &gc()),
            ]),
            E::DuplicateParticipant { role: R::GeneralContractor, credit_code: gc() },
        ),
        err(
            "no owner",
            enterprises(),
            project_with(vec![part(R::GeneralContractor, &gc()), part(R::Supervisor, &supervisor())]),
            E::NoOwner,
        ),
        err(
            "two owners",
            enterprises(),
            project_with(vec![part(R::Owner, &owner()), part(R::Owner, &owner2()), part(R::GeneralContractor, &gc())]),
            E::MultipleOwners { count: 2 },
        ),
        err(
            "no general contractor",
            enterprises(),
            project_with(vec![part(R::Owner, &owner()), part(R::Supervisor, &supervisor())]),
            E::NoGeneralContractor,
        ),
        err("no participants at all", enterprises(), project_with(vec![]), E::NoOwner),
        // -------------------------------------------------------------------------------- participant added
        ok("add a subcontractor", with_project(), C::AddParticipant(added(R::Subcontractor, &sub()))),
        ok("add a second general contractor", with_project(), C::AddParticipant(added(R::GeneralContractor, &gc2()))),
        ok(
            "the supervisor may also be a subcontractor",
            with_project(),
            C::AddParticipant(added(R::Subcontractor, &supervisor())),
        ),
        err(
            "add to an unknown project",
            enterprises(),
            C::AddParticipant(added(R::Subcontractor, &sub())),
            E::UnknownProject { project_id: p1.clone() },
        ),
        err(
            "add an unregistered enterprise",
            with_project(),
            C::AddParticipant(added(R::Subcontractor, &stranger())),
            E::EnterpriseNotRegistered { role: R::Subcontractor, credit_code: stranger() },
        ),
        err(
            "add twice in the same role",
            with_project(),
            C::AddParticipant(added(R::Supervisor, &supervisor())),
            E::AlreadyParticipant { project_id: p1.clone(), role: R::Supervisor, credit_code: supervisor() },
        ),
        err(
            "a second owner",
            with_project(),
            C::AddParticipant(added(R::Owner, &owner2())),
            E::OwnerAlreadySet { project_id: p1.clone(), owner: owner() },
        ),
        // -------------------------------------------------------------------------------- participant removed
        ok(
            "remove a subcontractor",
            [with_project(), vec![RegistryEvent::ParticipantAdded(added(R::Subcontractor, &sub()))]].concat(),
            C::RemoveParticipant(removed(R::Subcontractor, &sub())),
        ),
        ok("remove the supervisor", with_project(), C::RemoveParticipant(removed(R::Supervisor, &supervisor()))),
        ok(
            "remove one of two general contractors",
            [with_project(), vec![RegistryEvent::ParticipantAdded(added(R::GeneralContractor, &gc2()))]].concat(),
            C::RemoveParticipant(removed(R::GeneralContractor, &gc())),
        ),
        err(
            "remove from an unknown project",
            enterprises(),
            C::RemoveParticipant(removed(R::Supervisor, &supervisor())),
            E::UnknownProject { project_id: p1.clone() },
        ),
        err(
            "remove a non-participant",
            with_project(),
            C::RemoveParticipant(removed(R::Subcontractor, &sub())),
            E::NotAParticipant { project_id: p1.clone(), role: R::Subcontractor, credit_code: sub() },
        ),
        err(
            "remove in the wrong role",
            with_project(),
            C::RemoveParticipant(removed(R::Subcontractor, &gc())),
            E::NotAParticipant { project_id: p1.clone(), role: R::Subcontractor, credit_code: gc() },
        ),
        err(
            "remove the owner",
            with_project(),
            C::RemoveParticipant(removed(R::Owner, &owner())),
            E::WouldLeaveNoOwner { project_id: p1.clone() },
        ),
        err(
            "remove the last general contractor",
            with_project(),
            C::RemoveParticipant(removed(R::GeneralContractor, &gc())),
            E::WouldLeaveNoGeneralContractor { project_id: p1 },
        ),
    ]
}

fn variant_name(e: &E) -> String {
    format!("{e:?}").split([' ', '{', '(']).next().unwrap_or_default().to_owned()
}

#[test]
fn decide_table() {
    let mut seen = BTreeSet::new();
    for case in cases() {
        let state = RegistryState::from_events(&case.given);
        let got = decide(&state, case.when.clone());
        assert_eq!(got, case.then, "case {:?}", case.name);
        match got {
            Ok(events) => {
                // Every decided event folds, and the registry then refuses the same command.
                let mut next = state.clone();
                for e in &events {
                    evolve(&mut next, e);
                }
                assert_ne!(next, state, "case {:?}: evolve changed nothing", case.name);
            }
            Err(e) => {
                seen.insert(variant_name(&e));
                assert!(!e.to_string().is_empty());
            }
        }
    }
    let all: BTreeSet<String> = [
        "ZoneAlreadyExists",
        "EnterpriseAlreadyRegistered",
        "NoEnterpriseType",
        "DuplicateEnterpriseType",
        "ProjectAlreadyRegistered",
        "UnknownDistrict",
        "EnterpriseNotRegistered",
        "DuplicateParticipant",
        "NoOwner",
        "MultipleOwners",
        "NoGeneralContractor",
        "UnknownProject",
        "OwnerAlreadySet",
        "AlreadyParticipant",
        "NotAParticipant",
        "WouldLeaveNoOwner",
        "WouldLeaveNoGeneralContractor",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(seen, all, "every RegistryError variant has a row");
}

#[test]
fn decided_events_are_refused_the_second_time() {
    // Replaying a successful command after its event has been folded is refused (no duplicates in the log).
    for case in cases().into_iter().filter(|c| c.then.is_ok()) {
        let mut state = RegistryState::from_events(&case.given);
        for e in decide(&state, case.when.clone()).expect("ok row") {
            evolve(&mut state, &e);
        }
        assert!(decide(&state, case.when).is_err(), "case {:?} accepted twice", case.name);
    }
}

#[test]
fn an_event_checks_as_its_own_command() {
    let events = [hightech(), enterprises().remove(0)];
    let mut state = RegistryState::new();
    for e in events {
        assert_eq!(decide(&state, C::from(e.clone())), Ok(vec![e.clone()]));
        evolve(&mut state, &e);
    }
}

#[test]
fn error_messages() {
    assert_eq!(E::NoOwner.to_string(), "a project needs exactly one owner (建设单位), got none");
    assert_eq!(
        E::UnknownDistrict { district: district("ZONE-NBHTZ") }.to_string(),
        "district ZONE-NBHTZ does not exist (not one of the ten 区县(市) and no 开发园区 with this code)"
    );
    assert_eq!(
        E::EnterpriseNotRegistered { role: R::Supervisor, credit_code: stranger() }.to_string(),
        format!("supervisor {} is not a registered enterprise", stranger())
    );
}

/// A registry with zones, enterprises and three projects, one participant change each way.
fn sample_state() -> RegistryState {
    let mut events = vec![hightech(), zone("ZONE-MEISHAN", "梅山保税港区")];
    events.extend(enterprises());
    events.push(project("NB-2026-0001", "330212"));
    events.push(project("NB-2026-0002", "330212"));
    events.push(RegistryEvent::ProjectRegistered(project_payload(
        "NB-2026-0003",
        "ZONE-NBHTZ",
        vec![part(R::Owner, &owner2()), part(R::GeneralContractor, &gc2())],
    )));
    events.push(RegistryEvent::ParticipantAdded(added(R::Subcontractor, &sub())));
    events.push(RegistryEvent::ParticipantRemoved(removed(R::Supervisor, &supervisor())));
    let state = RegistryState::from_events(&events);
    // Every event also passed `decide` in order.
    let mut replay = RegistryState::new();
    for e in &events {
        assert_eq!(decide(&replay, C::from(e.clone())), Ok(vec![e.clone()]), "{e:?}");
        evolve(&mut replay, e);
    }
    assert_eq!(replay, state);
    state
}

#[test]
fn state_queries() {
    let s = sample_state();
    let p1 = pid("NB-2026-0001");
    let yinzhou = district("330212");
    let hightech = district("ZONE-NBHTZ");

    let project = s.project(&p1).expect("registered");
    assert_eq!(project.name.as_str(), "NB-2026-0001 住宅项目");
    assert_eq!(project.owner(), Some(&owner()));
    assert_eq!(s.project(&pid("NB-2099-0001")), None);

    let ids = |it: Vec<&siteledger_domain::registry::Project>| {
        it.into_iter().map(|p| p.project_id.as_str().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(ids(s.projects_in_district(&yinzhou).collect()), ["NB-2026-0001", "NB-2026-0002"]);
    assert_eq!(ids(s.projects_in_district(&hightech).collect()), ["NB-2026-0003"]);
    assert!(s.projects_in_district(&district("330282")).next().is_none());

    assert_eq!(ids(s.projects_of_enterprise(&gc()).collect()), ["NB-2026-0001", "NB-2026-0002"]);
    assert_eq!(ids(s.projects_of_enterprise(&gc2()).collect()), ["NB-2026-0003"]);
    assert_eq!(ids(s.projects_of_enterprise(&sub()).collect()), ["NB-2026-0001"]);
    // The supervisor left NB-2026-0001 but is still on NB-2026-0002.
    assert_eq!(ids(s.projects_of_enterprise(&supervisor()).collect()), ["NB-2026-0002"]);
    assert!(s.projects_of_enterprise(&stranger()).next().is_none());

    assert_eq!(s.district_of(&p1), Some(&yinzhou));
    assert_eq!(s.district_of(&pid("NB-2026-0003")), Some(&hightech));
    assert_eq!(s.district_of(&pid("NB-2099-0001")), None);

    assert_eq!(
        s.participants(&p1),
        Some(&[part(R::Owner, &owner()), part(R::GeneralContractor, &gc()), part(R::Subcontractor, &sub()),][..])
    );
    assert_eq!(s.participants(&pid("NB-2099-0001")), None);

    let districts: Vec<(String, String)> = s.districts().into_iter().map(|d| (d.code.to_string(), d.name)).collect();
    assert_eq!(districts.len(), 12);
    assert_eq!(districts[0], ("330203".to_owned(), "海曙区".to_owned()));
    assert_eq!(districts[9], ("330282".to_owned(), "慈溪市".to_owned()));
    assert_eq!(districts[10], ("ZONE-MEISHAN".to_owned(), "梅山保税港区".to_owned()));
    assert_eq!(districts[11], ("ZONE-NBHTZ".to_owned(), "宁波国家高新区".to_owned()));

    assert_eq!(s.district_name(&hightech), Some("宁波国家高新区"));
    assert_eq!(s.district_name(&yinzhou), Some("鄞州区"));
    assert_eq!(s.district_name(&district("ZONE-UNKNOWN")), None);
    assert!(s.district_exists(&DistrictCode::parse("330225").expect("fixed")));
    assert!(!s.district_exists(&district("ZONE-UNKNOWN")));
    assert_eq!(s.enterprise(&sub()).map(|e| e.types.clone()), Some(vec![T::Construction, T::LabourService]));
    assert_eq!(s.enterprises().count(), 6);
    assert_eq!(s.projects().count(), 3);
}

#[test]
fn evolve_has_no_rules() {
    // An event that `decide` would refuse still folds (events are facts), or changes nothing when it cannot.
    let mut s = RegistryState::new();
    evolve(&mut s, &project("NB-2026-0001", "ZONE-NBHTZ"));
    assert_eq!(s.district_of(&pid("NB-2026-0001")), Some(&district("ZONE-NBHTZ")));
    let before = s.clone();
    evolve(
        &mut s,
        &RegistryEvent::ParticipantAdded(ParticipantAdded {
            project_id: pid("NB-2099-0001"),
            role: R::Subcontractor,
            credit_code: sub(),
        }),
    );
    assert_eq!(s, before);
}

#[test]
fn registry_events_name_their_kind_and_stream() {
    let cases = [
        (hightech(), "registry.zone.added.v1", "registry/zones"),
        (enterprises().remove(0), "registry.enterprise.registered.v1", "registry/enterprises"),
        (project("NB-2026-0001", "330212"), "registry.project.registered.v1", "registry/projects"),
        (
            RegistryEvent::ParticipantAdded(added(R::Subcontractor, &sub())),
            "registry.project.participant_added.v1",
            "registry/projects",
        ),
        (
            RegistryEvent::ParticipantRemoved(removed(R::Subcontractor, &sub())),
            "registry.project.participant_removed.v1",
            "registry/projects",
        ),
    ];
    for (event, kind, stream) in cases {
        assert_eq!((event.kind(), event.stream().as_str()), (kind, stream));
    }
}
