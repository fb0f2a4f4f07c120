//! Key authority: the full role × role table for enrolment and revocation, subject formats, and the registry
//! variant's scope rules.

use siteledger_domain::authority::{
    Action, AuthorityError as A, KeySubject, Role, SubjectError, device_subject, gateway_subject, may_enroll,
    may_enroll_in, may_revoke, may_revoke_in,
};
use siteledger_domain::registry::{ParticipantRole as R, RegistryEvent, RegistryState};
use siteledger_domain::{DeviceId, DistrictCodeError, TokenError, ZoneCodeError};

use crate::fixtures::*;

/// Every role's name (as recorded) and a valid subject for it.
const ROLES: [(&str, &str); 13] = [
    ("ledger", "siteledger.example/ningbo/log"),
    ("city_bureau", "宁波市住房和城乡建设局"),
    ("district_bureau", "330212"),
    ("enterprise", "91330200MA2CL3XX9U"),
    ("gateway", "project/NB-2026-0001/gateway/gw-1"),
    ("device", "project/NB-2026-0001/device/010000A8900016F000169DC0"),
    ("auditor", "宁波市审计局"),
    ("bank", "91330200MA2AAAAA76"),
    ("testing_lab", "913311001484116584"),
    ("platform", "test.siteledger.example/log vault audit"),
    // People of the organisations above (the district bureau, the enterprise, the laboratory).
    ("inspector", "330212/person/insp-wang"),
    ("staff", "91330200MA2CL3XX9U/person/tech-lead-01"),
    ("tester", "913311001484116584/person/tester-7"),
];

/// The enrolment table, written out from the specification (not from the code).
fn may_enrol_expected(signer: &str, target: &str) -> bool {
    let allowed: &[&str] = match signer {
        "ledger" => &["city_bureau", "platform"],
        "city_bureau" => {
            &["district_bureau", "enterprise", "auditor", "bank", "testing_lab", "gateway", "device", "inspector"]
        }
        "district_bureau" => &["enterprise", "gateway", "device", "inspector"],
        "enterprise" => &["gateway", "device", "staff"],
        "testing_lab" => &["tester"],
        _ => &[],
    };
    allowed.contains(&target)
}

#[test]
fn enrolment_table_every_role_pair() {
    let mut permitted = 0;
    for (signer, signer_subject) in ROLES {
        for (target, target_subject) in ROLES {
            let got = may_enroll(signer, signer_subject, target, target_subject);
            if may_enrol_expected(signer, target) {
                assert_eq!(got, Ok(()), "{signer} → {target}");
                permitted += 1;
            } else {
                let (s, t) = (Role::parse(signer).expect("role"), Role::parse(target).expect("role"));
                assert_eq!(
                    got,
                    Err(A::NotPermitted { action: Action::Enrol, signer: s, target: t }),
                    "{signer} → {target}"
                );
            }
        }
    }
    assert_eq!(permitted, 2 + 8 + 4 + 3 + 1);
}

#[test]
fn revocation_table_every_role_pair() {
    for (signer, signer_subject) in ROLES {
        for (target, target_subject) in ROLES {
            let got = may_revoke(signer, signer_subject, target, target_subject);
            if signer == "ledger" || may_enrol_expected(signer, target) {
                assert_eq!(got, Ok(()), "{signer} revokes {target}");
            } else {
                let (s, t) = (Role::parse(signer).expect("role"), Role::parse(target).expect("role"));
                assert_eq!(
                    got,
                    Err(A::NotPermitted { action: Action::Revoke, signer: s, target: t }),
                    "{signer} revokes {target}"
                );
            }
        }
    }
}

#[test]
fn roles_round_trip() {
    for (name, _) in ROLES {
        let role = Role::parse(name).expect("known role");
        assert_eq!(role.as_str(), name);
        assert_eq!(role.to_string(), name);
        assert!(!role.name_zh().is_empty());
    }
    assert_eq!(Role::ALL.len(), ROLES.len());
    assert_eq!(Role::parse("City_Bureau"), None);
}

#[test]
fn unknown_roles() {
    assert_eq!(
        may_enroll("mayor", "x", "gateway", "project/NB-2026-0001/gateway/gw-1"),
        Err(A::UnknownSignerRole { role: "mayor".into() })
    );
    assert_eq!(may_enroll("city_bureau", "宁波市住建局", "root", "x"), Err(A::UnknownRole { role: "root".into() }));
    assert_eq!(may_revoke("", "x", "gateway", "x"), Err(A::UnknownSignerRole { role: String::new() }));
}

#[test]
fn new_subject_formats() {
    let city = ("city_bureau", "宁波市住建局");
    let bad: &[(&str, &str, SubjectError)] = &[
        ("district_bureau", "330204", SubjectError::District(DistrictCodeError::NotNingbo { code: "330204".into() })),
        ("district_bureau", "鄞州区", SubjectError::District(DistrictCodeError::Unrecognised)),
        (
            "district_bureau",
            "ZONE-x",
            SubjectError::District(DistrictCodeError::Zone(ZoneCodeError::WrongLength { len: 1 })),
        ),
        (
            "enterprise",
            "91330200MA2CL3XX9X",
            SubjectError::CreditCode(siteledger_domain::CreditCodeError::CheckCharacterMismatch {
                expected: 'U',
                found: 'X',
            }),
        ),
        ("bank", "宁波银行", SubjectError::CreditCode(siteledger_domain::CreditCodeError::WrongLength { len: 4 })),
        ("gateway", "gateway-1", SubjectError::NotAProjectPath { expected: "project/<ProjectId>/gateway/<id>" }),
        (
            "gateway",
            "project/NB-2026-0001/device/gw-1",
            SubjectError::NotAProjectPath { expected: "project/<ProjectId>/gateway/<id>" },
        ),
        (
            "gateway",
            "project/NB-2026-0001/gateway/gw-1/extra",
            SubjectError::NotAProjectPath { expected: "project/<ProjectId>/gateway/<id>" },
        ),
        (
            "device",
            "project/nb-2026/device/d1",
            SubjectError::ProjectId(siteledger_domain::ProjectIdError::InvalidCharacter { position: 1, found: 'n' }),
        ),
        ("device", "project/NB-2026-0001/device/", SubjectError::DeviceId(TokenError::Empty)),
        (
            "device",
            "project/NB-2026-0001/device/d 1",
            SubjectError::DeviceId(TokenError::InvalidCharacter { position: 2, found: ' ' }),
        ),
        ("auditor", "", SubjectError::Name(siteledger_domain::NameError::Empty)),
    ];
    for (role, subject, reason) in bad {
        let role_enum = Role::parse(role).expect("role");
        assert_eq!(
            may_enroll(city.0, city.1, role, subject),
            Err(A::InvalidSubject { role: role_enum, subject: (*subject).to_owned(), reason: reason.clone() }),
            "{role} {subject:?}"
        );
    }
    // The ledger enrols the city bureau by name.
    assert_eq!(
        may_enroll("ledger", "siteledger.example/ningbo/log", "city_bureau", " 宁波"),
        Err(A::InvalidSubject {
            role: Role::CityBureau,
            subject: " 宁波".into(),
            reason: SubjectError::Name(siteledger_domain::NameError::SurroundingWhitespace)
        })
    );
}

#[test]
fn signer_subject_formats() {
    assert_eq!(
        may_enroll("district_bureau", "宁波", "gateway", "project/NB-2026-0001/gateway/gw-1"),
        Err(A::InvalidSignerSubject {
            role: Role::DistrictBureau,
            subject: "宁波".into(),
            reason: SubjectError::District(DistrictCodeError::Unrecognised),
        })
    );
    assert!(matches!(
        may_enroll("enterprise", "not-a-code", "device", "project/NB-2026-0001/device/d1"),
        Err(A::InvalidSignerSubject { role: Role::Enterprise, .. })
    ));
    // A zone bureau is a district bureau.
    assert_eq!(may_enroll("district_bureau", "ZONE-NBHTZ", "device", "project/NB-2026-0001/device/d1"), Ok(()));
}

#[test]
fn error_messages_are_readable() {
    let e = may_enroll("district_bureau", "330212", "bank", "91330200MA2AAAAA76").expect_err("not permitted");
    assert_eq!(e.to_string(), "a district_bureau key may not enrol a bank key");
    let e = may_enroll("enterprise", "91330200MA2CL3XX9U", "device", "dev-1").expect_err("bad subject");
    assert_eq!(
        e.to_string(),
        "subject \"dev-1\" does not fit role device (project/<ProjectId>/device/<id>): expected \
         project/<ProjectId>/device/<id>"
    );
}

#[test]
fn subject_builders_and_parser() {
    let p = pid("NB-2026-0001");
    let d = DeviceId::parse("gw-1").expect("id");
    assert_eq!(gateway_subject(&p, &d), "project/NB-2026-0001/gateway/gw-1");
    assert_eq!(device_subject(&p, &d), "project/NB-2026-0001/device/gw-1");
    assert_eq!(
        KeySubject::parse(Role::Gateway, &gateway_subject(&p, &d)),
        Ok(KeySubject::Gateway { project_id: p.clone(), id: d.clone() })
    );
    assert_eq!(KeySubject::parse(Role::Device, &device_subject(&p, &d)).expect("device").project_id(), Some(&p));
    assert_eq!(KeySubject::parse(Role::Bank, "91330200MA2AAAAA76").expect("bank").project_id(), None);
}

// ---------------------------------------------------------------------------------------------------- registry

/// Projects: NB-2026-0001 in 鄞州区 (owner, gc, supervisor), NB-2026-0003 in ZONE-NBHTZ (owner2, gc2).
fn registry() -> RegistryState {
    let mut events = vec![zone("ZONE-NBHTZ", "宁波国家高新区")];
    events.extend(enterprises());
    events.push(project("NB-2026-0001", "330212"));
    events.push(RegistryEvent::ProjectRegistered(project_payload(
        "NB-2026-0003",
        "ZONE-NBHTZ",
        vec![part(R::Owner, &owner2()), part(R::GeneralContractor, &gc2())],
    )));
    RegistryState::from_events(&events)
}

const DEV1: &str = "project/NB-2026-0001/device/d1";
const GW3: &str = "project/NB-2026-0003/gateway/gw-1";
const DEV_UNKNOWN: &str = "project/NB-2099-0001/device/d1";

#[test]
fn district_bureau_scope() {
    let r = registry();
    assert_eq!(may_enroll_in(&r, "district_bureau", "330212", "device", DEV1), Ok(()));
    assert_eq!(may_enroll_in(&r, "district_bureau", "ZONE-NBHTZ", "gateway", GW3), Ok(()));
    let outside = A::OutsideDistrict {
        project_id: pid("NB-2026-0001"),
        project_district: district("330212"),
        bureau_district: district("330203"),
    };
    assert_eq!(may_enroll_in(&r, "district_bureau", "330203", "device", DEV1), Err(outside.clone()));
    assert_eq!(may_revoke_in(&r, "district_bureau", "330203", "device", DEV1), Err(outside));
    assert_eq!(may_revoke_in(&r, "district_bureau", "330212", "device", DEV1), Ok(()));
    assert_eq!(
        may_enroll_in(&r, "district_bureau", "330212", "gateway", GW3),
        Err(A::OutsideDistrict {
            project_id: pid("NB-2026-0003"),
            project_district: district("ZONE-NBHTZ"),
            bureau_district: district("330212"),
        })
    );
    // District bureaus enrol registered enterprises anywhere.
    assert_eq!(may_enroll_in(&r, "district_bureau", "330203", "enterprise", gc().as_str()), Ok(()));
}

#[test]
fn enterprise_scope() {
    let r = registry();
    for member in [owner(), gc(), supervisor()] {
        assert_eq!(may_enroll_in(&r, "enterprise", member.as_str(), "device", DEV1), Ok(()), "{member}");
        assert_eq!(may_revoke_in(&r, "enterprise", member.as_str(), "device", DEV1), Ok(()), "{member}");
    }
    let not_member = A::NotAParticipant { project_id: pid("NB-2026-0001"), credit_code: gc2() };
    assert_eq!(may_enroll_in(&r, "enterprise", gc2().as_str(), "device", DEV1), Err(not_member.clone()));
    assert_eq!(may_revoke_in(&r, "enterprise", gc2().as_str(), "device", DEV1), Err(not_member));
    assert_eq!(may_enroll_in(&r, "enterprise", gc2().as_str(), "gateway", GW3), Ok(()));
}

#[test]
fn registry_existence_checks_on_enrolment() {
    let r = registry();
    let unknown_project = Err(A::UnknownProject { project_id: pid("NB-2099-0001") });
    assert_eq!(may_enroll_in(&r, "city_bureau", "宁波市住建局", "device", DEV_UNKNOWN), unknown_project.clone());
    assert_eq!(may_enroll_in(&r, "district_bureau", "330212", "device", DEV_UNKNOWN), unknown_project.clone());
    assert_eq!(may_enroll_in(&r, "enterprise", gc().as_str(), "device", DEV_UNKNOWN), unknown_project.clone());
    assert_eq!(
        may_enroll_in(&r, "city_bureau", "宁波市住建局", "district_bureau", "ZONE-MEISHAN"),
        Err(A::UnknownDistrict { district: district("ZONE-MEISHAN") })
    );
    assert_eq!(may_enroll_in(&r, "city_bureau", "宁波市住建局", "district_bureau", "ZONE-NBHTZ"), Ok(()));
    assert_eq!(may_enroll_in(&r, "city_bureau", "宁波市住建局", "district_bureau", "330282"), Ok(()));
    for role in ["enterprise", "bank", "testing_lab"] {
        assert_eq!(
            may_enroll_in(&r, "city_bureau", "宁波市住建局", role, stranger().as_str()),
            Err(A::UnknownEnterprise { credit_code: stranger() }),
            "{role}"
        );
    }
    assert_eq!(may_enroll_in(&r, "city_bureau", "宁波市住建局", "bank", sub().as_str()), Ok(()));
    assert_eq!(may_enroll_in(&r, "city_bureau", "宁波市住建局", "auditor", "宁波市审计局"), Ok(()));
    assert_eq!(may_enroll_in(&r, "ledger", "siteledger", "city_bureau", "宁波市住建局"), Ok(()));
}

#[test]
fn registry_variant_keeps_the_role_table() {
    let r = registry();
    assert_eq!(
        may_enroll_in(&r, "enterprise", gc().as_str(), "enterprise", owner().as_str()),
        Err(A::NotPermitted { action: Action::Enrol, signer: Role::Enterprise, target: Role::Enterprise })
    );
    assert_eq!(
        may_revoke_in(&r, "gateway", "project/NB-2026-0001/gateway/gw-1", "device", DEV1),
        Err(A::NotPermitted { action: Action::Revoke, signer: Role::Gateway, target: Role::Device })
    );
    // The city bureau and the ledger are not scoped; revoking a key of a project no longer known is allowed to them.
    assert_eq!(may_revoke_in(&r, "city_bureau", "宁波市住建局", "device", DEV_UNKNOWN), Ok(()));
    assert_eq!(may_revoke_in(&r, "ledger", "siteledger", "device", DEV_UNKNOWN), Ok(()));
    assert_eq!(
        may_revoke_in(&r, "district_bureau", "330212", "device", DEV_UNKNOWN),
        Err(A::UnknownProject { project_id: pid("NB-2099-0001") })
    );
}

#[test]
fn format_only_variant_ignores_the_registry() {
    // Without a registry, scope cannot be checked: any well-formed project is accepted.
    assert_eq!(may_enroll("district_bureau", "330203", "device", DEV_UNKNOWN), Ok(()));
    assert_eq!(may_enroll("enterprise", gc2().as_str(), "device", DEV1), Ok(()));
}

// ---- Who may sign which record: `authority::may_sign`, the first rule of `DomainState::decide`. ----

fn reading(project: &str) -> siteledger_domain::DomainEvent {
    let payload = serde_json::json!({"project_id": project, "device_id": "DUST-01", "pm10_ug_m3": "40.1",
                                     "pm25_ug_m3": "20.2", "noise_db_a": "55.0"});
    siteledger_domain::DomainEvent::parse("env.dust_noise.reading.v1", payload.as_object().expect("object"))
        .expect("a valid reading")
}

/// `DomainState::decide` on an empty state for a record in `stream` signed by (`role`, `subject`).
fn decide_signed(
    stream: &str,
    role: &str,
    subject: &str,
    event: &siteledger_domain::DomainEvent,
) -> Result<(), siteledger_domain::RuleError> {
    let ctx = siteledger_domain::RecordContext {
        event_id: "0190f3c0-0000-7000-8000-000000000001",
        stream,
        occurred_at: "2026-04-01T08:00:00+08:00",
        signer_key_id: "0123456789abcdef0123456789abcdef",
        signer_role: role,
        signer_subject: subject,
    };
    siteledger_domain::DomainState::new().decide(&ctx, event)
}

#[test]
fn a_gateway_key_signing_for_another_project_is_refused_by_the_own_project_rule() {
    use siteledger_domain::authority::OWN_PROJECT_RULE;
    let other = reading("NB-2026-0002");
    for (role, subject) in
        [("gateway", "project/NB-2026-0001/gateway/GW-1"), ("device", "project/NB-2026-0001/device/DUST-01")]
    {
        let err = decide_signed("project/NB-2026-0002/device/DUST-01", role, subject, &other).expect_err(role);
        assert_eq!(err.rule, OWN_PROJECT_RULE, "{err}");
        assert!(err.message.contains(subject) && err.message.contains("its own project"), "{err}");
        // The same key in its own project's stream passes (a reading has no other rule).
        let own = reading("NB-2026-0001");
        assert_eq!(decide_signed("project/NB-2026-0001/device/DUST-01", role, subject, &own), Ok(()), "{role}");
    }
    // A gateway whose subject names no project signs for none.
    let err = decide_signed("project/NB-2026-0001/device/DUST-01", "gateway", "gw-1", &reading("NB-2026-0001"))
        .expect_err("no project in the subject");
    assert_eq!(err.rule, OWN_PROJECT_RULE);
    // Other roles are not bound to a project by this rule.
    assert_eq!(
        decide_signed("project/NB-2026-0002/device/DUST-01", "enterprise", gc().as_str(), &other),
        Ok(()),
        "an enterprise key is judged by the subsystems' own signer rules"
    );
}

#[test]
fn registry_records_signed_by_anyone_but_a_bureau_are_refused_by_the_registry_signer_rule() {
    use siteledger_domain::authority::REGISTRY_SIGNER_RULE;
    let event = siteledger_domain::DomainEvent::Registry(zone("ZONE-NBHTZ", "宁波国家高新区"));
    for (role, subject) in [
        ("enterprise", gc().as_str().to_owned()),
        ("gateway", "project/NB-2026-0001/gateway/GW-1".to_owned()),
        ("auditor", "宁波市审计局".to_owned()),
    ] {
        let err = decide_signed("registry/orgs", role, &subject, &event).expect_err(role);
        assert_eq!(err.rule, REGISTRY_SIGNER_RULE, "{role}: {err}");
        assert!(err.message.contains(role), "{err}");
    }
    assert_eq!(decide_signed("registry/orgs", "city_bureau", "宁波市住房和城乡建设局", &event), Ok(()));
    assert_eq!(decide_signed("registry/orgs", "district_bureau", "330212", &event), Ok(()));
}

/// A district bureau enrols its own 监督员, never another district's; an enterprise its own staff, a laboratory its
/// own testers; the city bureau any district's inspectors.
#[test]
fn an_organisation_enrols_only_its_own_people() {
    assert_eq!(may_enroll("district_bureau", "330212", "inspector", "330212/person/insp-wang"), Ok(()));
    assert_eq!(
        may_enroll("district_bureau", "330203", "inspector", "330212/person/insp-wang"),
        Err(A::OtherOrganisation { signer: "330203".into(), target: "330212/person/insp-wang".into() })
    );
    assert!(may_revoke("district_bureau", "330203", "inspector", "330212/person/insp-wang").is_err());
    assert_eq!(may_enroll("city_bureau", "宁波市住房和城乡建设局", "inspector", "330203/person/li"), Ok(()));
    assert_eq!(
        may_enroll("enterprise", "91330200MA2CL3XX9U", "staff", "913311001484116584/person/x"),
        Err(A::OtherOrganisation { signer: "91330200MA2CL3XX9U".into(), target: "913311001484116584/person/x".into() })
    );
    // A district bureau may not enrol an enterprise's staff, nor an enterprise a laboratory's tester.
    assert!(matches!(
        may_enroll("district_bureau", "330212", "staff", "91330200MA2CL3XX9U/person/x"),
        Err(A::NotPermitted { .. })
    ));
    assert!(matches!(
        may_enroll("enterprise", "913311001484116584", "tester", "913311001484116584/person/x"),
        Err(A::NotPermitted { .. })
    ));
}

/// A person's handle that is really a resident ID number is refused, and the refusal does not repeat it.
#[test]
fn a_person_subject_carrying_an_id_number_is_refused_without_echoing_it() {
    let id = "330203199001011234";
    let err =
        may_enroll("district_bureau", "330212", "inspector", &format!("330212/person/{id}")).expect_err("refused");
    assert!(matches!(err, A::InvalidSubject { reason: SubjectError::PersonalNumber(_), .. }), "{err:?}");
    let reason = match &err {
        A::InvalidSubject { reason, .. } => reason.to_string(),
        other => other.to_string(),
    };
    assert!(!reason.contains(id), "{reason}");
    assert!(matches!(
        KeySubject::parse(Role::Staff, "91330200MA2CL3XX9U/device/x"),
        Err(SubjectError::NotAPersonPath { .. })
    ));
}

/// A person's key signs for its organisation: the rules see the organisation's role and subject.
#[test]
fn a_person_acts_for_their_organisation() {
    use siteledger_domain::authority::acting_for;
    assert_eq!(acting_for("inspector", "330212/person/insp-wang"), ("district_bureau", "330212"));
    assert_eq!(acting_for("staff", "91330200MA2CL3XX9U/person/a"), ("enterprise", "91330200MA2CL3XX9U"));
    assert_eq!(acting_for("tester", "913311001484116584/person/t"), ("testing_lab", "913311001484116584"));
    assert_eq!(acting_for("enterprise", "91330200MA2CL3XX9U"), ("enterprise", "91330200MA2CL3XX9U"));
    assert_eq!(acting_for("gateway", "project/NB-2026-0001/gateway/gw-1").0, "gateway");
}
