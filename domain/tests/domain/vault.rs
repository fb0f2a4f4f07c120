//! `vault.access.v1`: the schema, the stream, and who may sign it (only a `platform` key, which only the ledger's
//! system key may enrol; a platform key signs nothing else).

use serde_json::{Map, Value, json};
use siteledger_domain::authority::may_enroll;
use siteledger_domain::workforce::vault::{self, VaultPurpose};
use siteledger_domain::{DomainState, PayloadError, RecordContext, validate_envelope, validate_payload};

const PERSON: &str = "P-0123456789abcdef0123456789abcdef";

fn access(over: Value) -> Map<String, Value> {
    let mut p = json!({"person_ref": PERSON, "action": "reveal", "fields": ["id", "name", "cards"],
        "purpose": "wage_complaint", "accessor_role": "enterprise", "accessor_enterprise": "91330200MA2CL3XX9U",
        "token_id": "0a1b2c3d4e5f"});
    for (k, v) in over.as_object().expect("object") {
        if v.is_null() {
            p.as_object_mut().expect("object").remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    p.as_object().expect("object").clone()
}

fn decide(role: &str, payload: &Map<String, Value>) -> Result<(), String> {
    let stream = format!("vault/access/{PERSON}");
    let event = validate_envelope(vault::VAULT_ACCESS, &stream, payload).map_err(|e| e.to_string())?;
    let ctx = RecordContext {
        event_id: "e",
        stream: &stream,
        occurred_at: "2026-11-24T10:15:00+08:00",
        signer_key_id: "k",
        signer_role: role,
        signer_subject: "test.siteledger.example/log vault audit",
    };
    DomainState::new().decide(&ctx, &event).map_err(|e| e.to_string())
}

#[test]
fn a_valid_access_record_round_trips_and_is_in_the_kind_list() {
    let p = access(json!({}));
    let event = siteledger_domain::DomainEvent::parse(vault::VAULT_ACCESS, &p).expect("valid");
    assert_eq!(event.to_payload(), p);
    assert_eq!(event.project_id(), None);
    assert!(siteledger_domain::all_kinds().contains(&vault::VAULT_ACCESS));
    assert_eq!(decide("platform", &p), Ok(()));
}

#[test]
fn only_a_platform_key_signs_access_records_and_a_platform_key_signs_nothing_else() {
    for role in ["city_bureau", "enterprise", "ledger", "gateway"] {
        let err = decide(role, &access(json!({}))).expect_err("refused");
        assert!(err.starts_with("vault.access_signer rule: "), "{role}: {err}");
    }
    // A platform key signing a participant's record: refused.
    let stream = "project/NB-2026-0001/site/DUST-01";
    let reading = json!({"project_id": "NB-2026-0001", "device_id": "DUST-01", "pm10_ug_m3": "85.2",
        "pm25_ug_m3": "40.1", "noise_db_a": "61.0"});
    let event =
        validate_envelope("env.dust_noise.reading.v1", stream, reading.as_object().expect("object")).expect("valid");
    let ctx = RecordContext {
        event_id: "e",
        stream,
        occurred_at: "2026-11-24T10:15:00+08:00",
        signer_key_id: "k",
        signer_role: "platform",
        signer_subject: "x",
    };
    let err = DomainState::new().decide(&ctx, &event).expect_err("refused").to_string();
    assert!(err.starts_with("platform.kinds rule: "), "{err}");
    // Only the ledger's system key enrols a platform key.
    assert_eq!(may_enroll("ledger", "test.siteledger.example/log", "platform", "vault audit"), Ok(()));
    assert!(may_enroll("city_bureau", "宁波市住房和城乡建设局", "platform", "vault audit").is_err());
}

#[test]
fn accessor_fields_and_purpose_must_fit() {
    let cases = [
        (json!({"accessor_enterprise": null}), "vault.accessor"),
        (json!({"accessor_role": "city_bureau"}), "vault.accessor"),
        (json!({"fields": []}), "vault.fields"),
        (json!({"fields": ["name", "name"]}), "vault.fields"),
        (json!({"purpose": "registration"}), "vault.purpose"),
        (json!({"action": "erase"}), "vault.purpose"),
        (json!({"action": "intake", "purpose": "erasure"}), "vault.purpose"),
    ];
    for (over, rule) in cases {
        let err = decide("platform", &access(over.clone())).expect_err("refused");
        assert!(err.starts_with(&format!("{rule} rule: ")), "{over}: {err}");
    }
    assert_eq!(decide("platform", &access(json!({"action": "erase", "purpose": "erasure"}))), Ok(()));
    assert_eq!(
        decide("platform", &access(json!({"accessor_role": "city_bureau", "accessor_enterprise": null}))),
        Ok(())
    );
}

#[test]
fn the_purpose_is_a_code_and_a_number_is_never_repeated() {
    let id = "330203199001011234";
    let err = validate_payload(vault::VAULT_ACCESS, &access(json!({"purpose": id}))).expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, PayloadError::InvalidField { ref field, .. } if field == "purpose"), "{text}");
    assert!(text.contains("wage_complaint") && !text.contains(id), "{text}");
    assert_eq!(VaultPurpose::parse("subject_request"), Ok(VaultPurpose::SubjectRequest));
    let err = validate_payload(vault::VAULT_ACCESS, &access(json!({"token_id": id}))).expect_err("refused");
    assert!(!err.to_string().contains(id), "{err}");
}

#[test]
fn the_stream_is_the_persons_access_stream() {
    let p = access(json!({}));
    let err = validate_envelope(vault::VAULT_ACCESS, "vault/access/P-00000000000000000000000000000001", &p)
        .expect_err("another person's stream");
    assert!(
        matches!(err, PayloadError::WrongStream { ref expected, .. } if expected == &format!("vault/access/{PERSON}"))
    );
}
