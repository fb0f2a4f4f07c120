//! The committed format vectors (`signer/tests/vectors/`): regenerated from the code and compared byte for byte.
//! Set `SITELEDGER_UPDATE_VECTORS=1` to rewrite them after a deliberate, versioned format change.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_signer::canonical::{parse_strict, to_canonical};
use siteledger_signer::note::NoteVerifier;
use siteledger_signer::sample::{SampleLog, SampleSigner};
use siteledger_signer::verify_bundle;

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Builds the vector document and the bundle file from the sample log.
pub fn build() -> (Value, Vec<u8>) {
    let log = SampleLog::new(13).expect("sample log");
    let n = log.tree.size();
    let keys = [
        ("city_bureau", 0x21u8, SampleSigner::City),
        ("district_bureau", 0x22, SampleSigner::District),
        ("gateway", 0x23, SampleSigner::Gateway),
    ];
    let keys: Vec<Value> = keys
        .iter()
        .map(|(role, seed, who)| {
            json!({
                "role": role,
                "seed": hex::encode([*seed; 32]),
                "public_key": log.key(*who).public().to_base64(),
                "key_id": log.key(*who).key_id().to_string(),
            })
        })
        .collect();
    let envelopes: Vec<Value> = log
        .envelopes
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let msg = e.signed_message();
            json!({
                "index": i,
                "envelope": e.to_value(),
                "signed_message": hex::encode(msg),
                "signature": B64.encode(e.signature()),
                "leaf": hex::encode(e.leaf_bytes()),
                "leaf_hash": hex::encode(e.leaf_hash()),
            })
        })
        .collect();
    let roots: Vec<Value> =
        (0..=n).map(|s| json!({"size": s, "root": hex::encode(log.tree.root_at(s).expect("root"))})).collect();
    let mut inclusion = Vec::new();
    for &(i, s) in &[(0u64, 1u64), (0, n), (3, n), (n - 1, n), (5, 8), (6, 7)] {
        let p = log.tree.inclusion_proof(i, s).expect("proof");
        inclusion.push(json!({"index": i, "size": s, "leaf_hash": hex::encode(log.envelopes[i as usize].leaf_hash()), "proof": p.iter().map(hex::encode).collect::<Vec<_>>()}));
    }
    let mut consistency = Vec::new();
    for &(m, s) in &[(1u64, n), (4, n), (7, n), (8, 13), (n, n)] {
        let p = log.tree.consistency_proof(m, s).expect("proof");
        consistency.push(json!({"old_size": m, "new_size": s, "proof": p.iter().map(hex::encode).collect::<Vec<_>>()}));
    }
    let note = log.checkpoint(n).expect("checkpoint");
    let bundle = log.bundle(&[5, 9], 12, Some(n)).expect("bundle").to_bytes();
    let canonical_cases: Vec<Value> = [
        r#"{"b":2,"a":1,"c":{"z":[3,{"y":null,"x":true}],"w":false}}"#,
        "{\"\u{20ac}\":1,\"\\r\":2,\"\u{fb33}\":3,\"\u{1d11e}\":4,\"1\":5,\"\u{80}\":6,\"\u{f6}\":7}",
        r#"{"s":"tab\there \"quoted\" back\\slash \u0001 \u001f \u007f / é 工地 😀","n":-9007199254740991,"m":9007199254740991,"z":0}"#,
        r#"  [ 1 , "x" , { } , [ ] ]  "#,
    ]
    .iter()
    .map(|input| {
        let v = parse_strict(input.as_bytes()).expect("valid");
        json!({"input": input, "canonical": String::from_utf8(to_canonical(&v)).expect("utf8")})
    })
    .collect();
    let signatures = signature_cases();
    let invalid_bundles = invalid_bundles(&log, &bundle);
    let envelope_inputs = envelope_inputs(&log);
    let log_must_refuse = log_must_refuse(&log);
    let rejected_json =
        [r#"{"a":1,"a":1}"#, r#"{"a":1.5}"#, r#"{"a":1e3}"#, r#"{"a":9007199254740992}"#, r#"{"a":1.0}"#];
    let doc = json!({
        "description": "SiteLedger format v1 test vectors; see docs/FORMAT.md and signer/tests/vectors/README.md",
        "format_version": 1,
        "canonical_json": canonical_cases,
        "rejected_json": rejected_json,
        "keys": keys,
        "envelopes": envelopes,
        "tree": {"leaf_count": n, "roots": roots},
        "inclusion_proofs": inclusion,
        "consistency_proofs": consistency,
        "checkpoint": {
            "log_key": log.log.verifier().vkey(),
            "log_seed": hex::encode([0x10u8; 32]),
            "size": n,
            "root": hex::encode(log.tree.root()),
            "note": note,
        },
        "signatures": signatures,
        "bundle": {"file": "bundle-v1.json", "trusted_log_key": log.log.verifier().vkey(), "valid": true},
        "invalid_bundles": invalid_bundles,
        "envelope_inputs": envelope_inputs,
        "log_must_refuse": log_must_refuse,
    });
    (doc, bundle)
}

/// Ed25519 cases probing each rule of FORMAT.md §3, with the verdict the rules give.
fn signature_cases() -> Vec<Value> {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    use siteledger_signer::SigningKey;

    let seed = [0x31u8; 32];
    let key = SigningKey::from_seed(&seed);
    let pk = *key.public().as_bytes();
    let msg = b"siteledger signature vector".to_vec();
    let good = key.sign(&msg);
    let case = |name: &str, public: [u8; 32], sig: [u8; 64], valid: bool, rule: &str| json!({"name": name, "public_key": B64.encode(public), "message": hex::encode(&msg), "signature": B64.encode(sig), "valid": valid, "rule": rule});
    let mut out = vec![case("valid", pk, good, true, "an ordinary RFC 8032 signature")];

    let mut flipped = good;
    flipped[40] ^= 0x01;
    out.push(case("wrong_s", pk, flipped, false, "equation does not hold"));

    // S + L: the same signature with a non-canonical scalar.
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut s_plus_l = good;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(good[32 + i]) + u16::from(l[i]) + carry;
        s_plus_l[32 + i] = v as u8;
        carry = v >> 8;
    }
    out.push(case("s_not_reduced", pk, s_plus_l, false, "S must be less than L"));

    // A small-order public key (the identity point) with a signature that satisfies the cofactored equation.
    let identity = ED25519_BASEPOINT_POINT * Scalar::ZERO;
    let mut weak = [0u8; 32];
    weak.copy_from_slice(identity.compress().as_bytes());
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(identity.compress().as_bytes());
    out.push(case("small_order_key", weak, sig, false, "A must not be of small order"));

    // Expanded secret scalar and nonce, to build signatures that only the rules (not the equation) reject or accept.
    let h: [u8; 64] = Sha512::digest(seed).into();
    let mut a_bytes = [0u8; 32];
    a_bytes.copy_from_slice(&h[..32]);
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(b"vector nonce").into());
    let sign_with_r = |r_point: curve25519_dalek::edwards::EdwardsPoint| {
        let r_enc = r_point.compress();
        let mut hh = Sha512::new();
        hh.update(r_enc.as_bytes());
        hh.update(pk);
        hh.update(&msg);
        let k = Scalar::from_bytes_mod_order_wide(&hh.finalize().into());
        let s = r + k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r_enc.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    };
    // R = rB + T with T of order 8: the cofactored equation holds (cofactorless would not): valid.
    let mixed = sign_with_r(ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[1]);
    out.push(case("mixed_order_r", pk, mixed, true, "cofactored equation: [8]R absorbs a torsion component"));
    // R of small order (r = 0): rejected by rule even though it is a signature by the key holder.
    let small_r = {
        let r0 = EIGHT_TORSION[1];
        let r_enc = r0.compress();
        let mut hh = Sha512::new();
        hh.update(r_enc.as_bytes());
        hh.update(pk);
        hh.update(&msg);
        let k = Scalar::from_bytes_mod_order_wide(&hh.finalize().into());
        let s = k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r_enc.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    };
    out.push(case("small_order_r", pk, small_r, false, "R must not be of small order"));
    // R with y ≥ p: a non-canonical encoding.
    let mut noncanon = good;
    noncanon[..32].copy_from_slice(&[0xffu8; 32]);
    noncanon[31] = 0x7f;
    noncanon[0] = 0xee;
    out.push(case("r_not_canonical", pk, noncanon, false, "R must be a canonical encoding (y < p)"));
    for c in &out {
        let public = B64.decode(c["public_key"].as_str().expect("pk")).expect("b64");
        let sig: [u8; 64] = B64.decode(c["signature"].as_str().expect("sig")).expect("b64").try_into().expect("64");
        let verdict = siteledger_signer::PublicKey::from_bytes(&public.try_into().expect("32"))
            .map(|k| k.verify(&msg, &sig).is_ok())
            .unwrap_or(false);
        assert_eq!(verdict, c["valid"].as_bool().expect("bool"), "signature case {}", c["name"]);
    }
    out
}

/// Tampered bundles and the check each must fail.
fn invalid_bundles(log: &SampleLog, good: &[u8]) -> Vec<Value> {
    let text = String::from_utf8(good.to_vec()).expect("utf8");
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).expect("json")).expect("pretty");
    let mut cases = vec![
        ("payload_changed", text.replacen("\"pm10_ug_m3\":\"46.6\"", "\"pm10_ug_m3\":\"26.6\"", 1), "signature"),
        ("index_changed", text.replacen("\"index\":9}", "\"index\":8}", 1), "inclusion"),
        (
            "checkpoint_size_changed",
            text.replacen("ningbo/log\\n12\\n", "ningbo/log\\n11\\n", 1),
            "checkpoint_signature",
        ),
        ("reformatted", pretty, "bundle_format"),
    ];
    // The same records proven by a different log key.
    let mut other = SampleLog::new(13).expect("log");
    other.log = siteledger_signer::NoteSigner::new(
        siteledger_signer::sample::SAMPLE_ORIGIN,
        siteledger_signer::SigningKey::from_seed(&[0x5a; 32]),
    )
    .expect("signer");
    let foreign = String::from_utf8(other.bundle(&[5, 9], 12, Some(16)).expect("bundle").to_bytes()).expect("utf8");
    cases.push(("other_log", foreign, "log_key"));
    let _ = log;
    cases
        .into_iter()
        .map(|(name, bundle, check)| {
            assert_ne!(bundle.as_bytes(), good, "case {name} changed nothing");
            json!({"name": name, "bundle": bundle, "must_fail": check})
        })
        .collect()
}

/// Signs `v` (an envelope object, any `sig` dropped) with `seed` as it stands, bypassing the signer's own
/// validation, so that a case breaks exactly one rule and its signature is otherwise good.
fn resign(mut v: Value, seed: u8) -> Value {
    let key = siteledger_signer::SigningKey::from_seed(&[seed; 32]);
    v.as_object_mut().expect("object").remove("sig");
    let mut message = siteledger_signer::envelope::SIGNATURE_CONTEXT.to_vec();
    message.extend_from_slice(&to_canonical(&v));
    v["sig"] = json!(B64.encode(key.sign(&message)));
    v
}

fn text(v: &Value) -> String {
    String::from_utf8(to_canonical(v)).expect("utf8")
}

/// Envelope texts a verifier and the server must reject (each breaks one rule of §2 or §4, and is otherwise
/// valid and correctly signed), and ones they must accept, with the leaf and instant they must compute.
fn envelope_inputs(log: &SampleLog) -> Value {
    const GATEWAY: u8 = 0x23;
    let base = log.envelopes[3].to_value();
    let enrollment = log.envelopes[2].to_value(); // signed by the district bureau (seed 0x22)
    let with = |member: &str, value: Value| {
        let mut v = base.clone();
        v[member] = value;
        resign(v, GATEWAY)
    };
    let mut reject: Vec<Value> = Vec::new();
    let mut dup = |name: &str, signed: Value, after: &str, extra: &str, member: &str, object: &str, rule: &str| {
        let t = text(&signed);
        assert!(t.contains(after), "{name}: {after} not in {t}");
        let input = t.replacen(after, &format!("{after}{extra},"), 1);
        reject.push(json!({"name": name, "input": input, "rule": rule,
            "error": {"kind": "duplicate_member", "member": member, "object": object}}));
    };
    let mut pm10 = base.clone();
    pm10["payload"]["pm10_ug_m3"] = json!("999.0");
    let pm10 = resign(pm10, GATEWAY);
    let mut nested = base.clone();
    nested["payload"]["location"] = json!({"lat": "29.87", "lng": "121.55"});
    let nested = resign(nested, GATEWAY);
    let signed = base.clone();
    dup(
        "duplicate_kind",
        signed.clone(),
        "{",
        r#""kind":"ledger.key.enrolled.v1""#,
        "kind",
        "",
        "two `kind` members; the signature covers the last, a first-wins reader sees another kind",
    );
    dup(
        "duplicate_payload_member",
        pm10,
        r#""payload":{"#,
        r#""pm10_ug_m3":"1.0""#,
        "pm10_ug_m3",
        "/payload",
        "the bytes say 1.0 first, the signature covers 999.0 (last)",
    );
    dup("duplicate_seq", signed.clone(), "{", r#""seq":2"#, "seq", "", "two `seq` members");
    dup(
        "duplicate_nested_member",
        nested,
        r#""location":{"#,
        r#""lat":"0.00""#,
        "lat",
        "/payload/location",
        "a repeated name in an object nested in the payload",
    );
    dup(
        "duplicate_with_equal_values",
        signed,
        "{",
        r#""v":1"#,
        "v",
        "",
        "a repeated name is refused even when both values are equal",
    );
    let json_rule = |name: &str, input: String, rule: &str, kind: &str, at: &str| json!({"name": name, "input": input, "rule": rule, "error": {"kind": kind, "at": at}});
    let t = text(&base);
    reject.push(json_rule(
        "float_in_payload",
        t.replacen(r#""pm10_ug_m3":"40.0""#, r#""pm10_ug_m3":40.0"#, 1),
        "numbers are integers; decimals travel as strings",
        "number",
        "/payload/pm10_ug_m3",
    ));
    reject.push(json_rule(
        "lone_surrogate_in_payload",
        t.replacen(r#""mn":"#, r#""mn":"\ud800","x":"#, 1),
        "no escaped lone surrogates",
        "lone_surrogate",
        "/payload/mn",
    ));
    reject.push(json_rule("byte_order_mark", format!("\u{feff}{t}"), "no byte-order mark", "syntax", ""));
    for (name, t, why) in [
        ("time_space_separator", "2026-03-01 08:00:00+08:00", "date and time separated by a space"),
        ("time_lowercase_t", "2026-03-01t08:00:00+08:00", "lowercase t"),
        ("time_lowercase_z", "2026-03-01T00:00:00z", "lowercase z"),
        ("time_missing_offset", "2026-03-01T08:00:00", "no offset"),
        ("time_offset_without_colon", "2026-03-01T08:00:00+0800", "offset not ±hh:mm"),
        ("time_offset_hours_only", "2026-03-01T08:00:00+08", "offset not ±hh:mm"),
        ("time_offset_24", "2026-03-01T08:00:00+24:00", "offset hours above 23"),
        ("time_offset_minutes_60", "2026-03-01T08:00:00+08:60", "offset minutes above 59"),
        ("time_year_1999", "1999-12-31T23:59:59Z", "year before 2000"),
        ("time_year_10000", "10000-01-01T00:00:00Z", "five-digit year"),
        ("time_hour_24", "2026-03-01T24:00:00+08:00", "hour 24"),
        ("time_minute_60", "2026-03-01T08:60:00+08:00", "minute 60"),
        ("time_leap_second", "2026-12-31T23:59:60Z", "second 60: leap seconds are not accepted"),
        ("time_month_13", "2026-13-01T08:00:00+08:00", "month 13"),
        ("time_month_00", "2026-00-01T08:00:00+08:00", "month 0"),
        ("time_day_00", "2026-03-00T08:00:00+08:00", "day 0"),
        ("time_february_29_not_leap", "2026-02-29T08:00:00+08:00", "2026 is not a leap year"),
        ("time_april_31", "2026-04-31T08:00:00+08:00", "April has 30 days"),
        ("time_empty_fraction", "2026-03-01T08:00:00.+08:00", "a decimal point without digits"),
        ("time_comma_fraction", "2026-03-01T08:00:00,5+08:00", "fraction with a comma"),
        ("time_ten_fraction_digits", "2026-03-01T08:00:00.1234567891+08:00", "more than 9 fraction digits"),
        ("time_single_digit_month", "2026-3-01T08:00:00+08:00", "month without leading zero"),
        ("time_non_ascii_digit", "\u{0662}026-03-01T08:00:00+08:00", "an Arabic-Indic digit"),
        ("time_trailing_space", "2026-03-01T08:00:00+08:00 ", "something after the offset"),
    ] {
        reject.push(json!({"name": name, "input": text(&with("occurred_at", json!(t))), "rule": why,
            "error": {"kind": "date_time", "member": "occurred_at"}}));
    }
    for (name, member, t) in [
        ("enrollment_valid_from_lowercase_t", "valid_from", "2026-01-01t00:00:00+08:00"),
        ("enrollment_valid_until_space", "valid_until", "2028-01-01 00:00:00+08:00"),
    ] {
        let mut v = enrollment.clone();
        v["payload"][member] = json!(t);
        reject.push(json!({"name": name, "input": text(&resign(v, 0x22)),
            "rule": "enrollment times follow the occurred_at rules",
            "error": {"kind": "date_time", "member": member}}));
    }

    let mut accept: Vec<Value> = Vec::new();
    let mut ok = |name: &str, input: String, why: &str| {
        let env = siteledger_signer::Envelope::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        accept.push(json!({"name": name, "input": input, "rule": why,
            "leaf": String::from_utf8(env.leaf_bytes().to_vec()).expect("utf8"),
            "leaf_hash": hex::encode(env.leaf_hash()),
            "occurred_unix_ns": env.occurred().unix_timestamp_nanos().to_string()}));
    };
    for (name, t, why) in [
        ("time_utc_z", "2026-03-01T00:00:00Z", "Z offset"),
        ("time_plus_0800", "2026-03-01T08:00:00+08:00", "the sites' offset; same instant as time_utc_z"),
        ("time_minus_0530", "2026-02-28T18:30:00-05:30", "negative offset; same instant"),
        ("time_minus_0000", "2026-03-01T00:00:00-00:00", "-00:00 is UTC (RFC 3339 §4.3); same instant"),
        ("time_plus_2359", "2026-03-01T23:59:00+23:59", "largest offset; same instant"),
        ("time_one_fraction_digit", "2026-03-01T00:00:00.5Z", "fractional seconds"),
        ("time_nine_fraction_digits", "2026-03-01T00:00:00.123456789Z", "nanoseconds, the finest allowed"),
        ("time_trailing_zero_fraction", "2026-03-01T00:00:00.100Z", "kept as written, same instant as .1"),
        ("time_leap_day", "2028-02-29T08:00:00+08:00", "2028 is a leap year"),
        ("time_year_2000_local", "2000-01-01T00:00:00+08:00", "the year rule reads the year as written (1999 in UTC)"),
        ("time_year_9999_end", "9999-12-31T23:59:59.999999999Z", "last instant of the range"),
    ] {
        ok(name, text(&with("occurred_at", json!(t))), why);
    }
    // JSON forms that canonicalise: whitespace and member order, escapes, `-0`.
    // Members in reverse order, one per line.
    let members: Vec<String> = base
        .as_object()
        .expect("object")
        .iter()
        .rev()
        .map(|(k, v)| format!("  {} : {}", serde_json::to_string(k).expect("k"), serde_json::to_string(v).expect("v")))
        .collect();
    let pretty = format!("\r\n{{\n{}\n}}\t ", members.join(",\n"));
    ok("whitespace_and_member_order", pretty, "any whitespace and member order; the leaf is canonical");
    let mut neg = base.clone();
    neg["payload"]["count"] = json!(0);
    let t = text(&resign(neg, GATEWAY)).replacen(r#""count":0"#, r#""count":-0"#, 1);
    ok("minus_zero", t, "-0 is the integer zero (canonical 0), and the signature covers 0");
    let mut esc = base.clone();
    esc["payload"]["note"] = json!("é/工地");
    let t = text(&resign(esc, GATEWAY)).replacen("é/工地", r"\u00e9\/\u5de5\u5730", 1);
    ok("escaped_characters", t, "escapes in the input are written as the characters themselves in the leaf");
    json!({"must_reject": reject, "must_accept": accept})
}

/// Well-formed, correctly signed envelopes a log must refuse under the reserved `ledger.` kind rule (§4). Each
/// continues its signer's chain after `envelopes[]`.
fn log_must_refuse(log: &SampleLog) -> Value {
    use siteledger_signer::sample::sample_uuid;
    let at = "2026-03-02T09:00:00+08:00";
    let obj = |v: Value| v.as_object().expect("object").clone();
    let role_of = |kid: siteledger_signer::KeyId| {
        [
            ("city_bureau", SampleSigner::City),
            ("district_bureau", SampleSigner::District),
            ("gateway", SampleSigner::Gateway),
        ]
        .into_iter()
        .find(|(_, who)| log.key(*who).key_id() == kid)
        .map(|(r, _)| r)
        .expect("known key")
    };
    let cases = [
        (
            "ledger_note_kind",
            SampleSigner::City,
            "ledger/notes",
            "ledger.note.v1",
            json!({"text": "a note in the reserved namespace"}),
            "only four ledger.* kinds exist; not even the system key may use another",
        ),
        (
            "ledger_unknown_kind",
            SampleSigner::District,
            "ledger/keys",
            "ledger.unknown.v1",
            json!({"key_id": log.key(SampleSigner::Gateway).key_id().to_string()}),
            "unknown kind in the reserved ledger namespace",
        ),
        (
            "gap_by_non_system_key",
            SampleSigner::District,
            "ledger/signers",
            "ledger.signer.gap.v1",
            json!({"key_id": log.key(SampleSigner::Gateway).key_id().to_string(), "last_seq": 13, "next_seq": 15, "missing": 1, "event_id": sample_uuid(200).to_string()}),
            "a gap notice signed by an enrolled key that is not the log's system key",
        ),
        (
            "equivocation_by_non_system_key",
            SampleSigner::Gateway,
            "ledger/signers",
            "ledger.signer.equivocation.v1",
            json!({"key_id": log.key(SampleSigner::District).key_id().to_string(), "seq": 1, "accepted_position": 2,
                   "accepted_leaf_hash": hex::encode(log.envelopes[2].leaf_hash()), "refused_envelope": log.envelopes[2].to_value()}),
            "an equivocation notice signed by an enrolled key that is not the log's system key",
        ),
    ];
    let cases: Vec<Value> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (name, who, stream, kind, payload, rule))| {
            let mut chain = log.chain(who);
            let env =
                chain.sign(log.key(who), sample_uuid(100 + i as u64), stream, kind, at, obj(payload)).expect("sign");
            json!({"name": name, "envelope": env.to_value(), "leaf_hash": hex::encode(env.leaf_hash()),
                   "signer_role": role_of(env.signer()), "rule": rule})
        })
        .collect();
    json!({
        "system_key_id": log.envelopes[0].signer().to_string(),
        "after_index": log.envelopes.len() - 1,
        "cases": cases,
    })
}

#[test]
fn committed_vectors_match_the_code() {
    let (doc, bundle) = build();
    let mut text = serde_json::to_string_pretty(&doc).expect("json");
    text.push('\n');
    let dir = vectors_dir();
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("v1.json"), &text).expect("write");
        std::fs::write(dir.join("bundle-v1.json"), &bundle).expect("write");
    }
    let committed = std::fs::read_to_string(dir.join("v1.json"))
        .expect("vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)");
    assert_eq!(committed, text, "format vectors changed: a format change needs a version bump");
    let committed_bundle = std::fs::read(dir.join("bundle-v1.json")).expect("bundle committed");
    assert_eq!(committed_bundle, bundle);
    let report = verify_bundle(
        &committed_bundle,
        &NoteVerifier::parse(doc["bundle"]["trusted_log_key"].as_str().expect("key")).expect("vkey"),
    );
    assert!(report.ok, "{}", report.to_text());
    let vkey = NoteVerifier::parse(doc["bundle"]["trusted_log_key"].as_str().expect("key")).expect("vkey");
    for case in doc["invalid_bundles"].as_array().expect("cases") {
        let report = verify_bundle(case["bundle"].as_str().expect("bundle").as_bytes(), &vkey);
        let failed: Vec<String> = report
            .failures()
            .map(|c| serde_json::to_value(c.check).expect("name").as_str().expect("str").to_owned())
            .collect();
        assert!(
            !report.ok && failed.iter().any(|f| f == case["must_fail"].as_str().expect("check")),
            "{}: failed {failed:?}",
            case["name"]
        );
    }
}

/// The committed `envelope_inputs` and `log_must_refuse` sections, judged by this crate: each `must_reject` input
/// is refused for the rule its `error` names, alone and inside a request body; each `must_accept` input gives the
/// leaf, leaf hash and instant the vector states and a valid signature.
#[test]
fn envelope_inputs_and_reserved_kinds_are_judged_as_the_vectors_say() {
    use siteledger_signer::batch;
    use siteledger_signer::bundle::KeyEnrollment;
    use siteledger_signer::canonical::CanonicalError;
    use siteledger_signer::envelope::EnvelopeError;
    use siteledger_signer::{Envelope, PublicKey};

    let doc: Value =
        serde_json::from_slice(&std::fs::read(vectors_dir().join("v1.json")).expect("vectors")).expect("json");
    let key_of = |kid: &str| {
        let k = doc["keys"].as_array().expect("keys").iter().find(|k| k["key_id"] == kid).expect("known signer");
        PublicKey::from_base64(k["public_key"].as_str().expect("pk")).expect("public key")
    };
    let cases = &doc["envelope_inputs"];
    let reject = cases["must_reject"].as_array().expect("must_reject");
    assert!(reject.len() >= 30, "{}", reject.len());
    for case in reject {
        let (name, input, error) = (&case["name"], case["input"].as_str().expect("input"), &case["error"]);
        let parsed = Envelope::parse(input.as_bytes());
        let s = |k: &str| error[k].as_str().expect("error member");
        match s("kind") {
            "duplicate_member" => assert!(
                matches!(&parsed, Err(EnvelopeError::Json(CanonicalError::Duplicate { name, path }))
                    if name == s("member") && path == s("object")),
                "{name}: {parsed:?}"
            ),
            "number" => assert!(
                matches!(&parsed, Err(EnvelopeError::Json(CanonicalError::Number { path })) if path == s("at")),
                "{name}: {parsed:?}"
            ),
            "lone_surrogate" => assert!(
                matches!(&parsed, Err(EnvelopeError::Json(CanonicalError::LoneSurrogate { path })) if path == s("at")),
                "{name}: {parsed:?}"
            ),
            "syntax" => assert!(matches!(&parsed, Err(EnvelopeError::Json(CanonicalError::Syntax(_)))), "{name}"),
            "date_time" if s("member") == "occurred_at" => {
                assert!(matches!(&parsed, Err(EnvelopeError::Field { field: "occurred_at", .. })), "{name}: {parsed:?}")
            }
            "date_time" => {
                // An enrollment's validity times: the envelope is well formed, its payload is not.
                let env = parsed.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(KeyEnrollment::from_payload(env.payload()).is_err(), "{name}");
            }
            other => panic!("{name}: unknown error kind {other}"),
        }
        if s("kind") != "date_time" || s("member") == "occurred_at" {
            // The server's reading of a request body gives the same verdict.
            let body = format!("[{input}]");
            match batch::parse_body(body.as_bytes()) {
                Ok(items) => assert!(items.len() == 1 && items[0].result.is_err(), "{name} accepted in a batch"),
                Err(_) => assert_eq!(s("kind"), "syntax", "{name}: only a syntax fault may refuse the whole body"),
            }
        }
    }
    let accept = cases["must_accept"].as_array().expect("must_accept");
    for case in accept {
        let (name, input) = (&case["name"], case["input"].as_str().expect("input"));
        let env = Envelope::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(env.leaf_bytes(), case["leaf"].as_str().expect("leaf").as_bytes(), "{name}");
        assert_eq!(hex::encode(env.leaf_hash()), case["leaf_hash"], "{name}");
        assert_eq!(env.occurred().unix_timestamp_nanos().to_string(), case["occurred_unix_ns"], "{name}");
        env.verify(&key_of(&env.signer().to_string())).unwrap_or_else(|e| panic!("{name}: {e}"));
        let items = batch::parse_body(format!("{{\"events\":[{input}]}}").as_bytes()).expect("body");
        assert_eq!(items[0].result.as_ref().ok(), Some(&env), "{name}");
    }
    // The four forms of one instant agree.
    let instant = |n: &str| accept.iter().find(|c| c["name"] == n).expect("case")["occurred_unix_ns"].clone();
    for n in ["time_plus_0800", "time_minus_0530", "time_minus_0000", "time_plus_2359"] {
        assert_eq!(instant(n), instant("time_utc_z"), "{n}");
    }

    let refuse = &doc["log_must_refuse"];
    let system = refuse["system_key_id"].as_str().expect("system key");
    assert_eq!(system, doc["envelopes"][0]["envelope"]["signer"], "the key enrolled by the log's first record");
    const LEDGER_KINDS: [&str; 4] =
        ["ledger.key.enrolled.v1", "ledger.key.revoked.v1", "ledger.signer.gap.v1", "ledger.signer.equivocation.v1"];
    let envelopes = doc["envelopes"].as_array().expect("envelopes");
    for case in refuse["cases"].as_array().expect("cases") {
        let name = &case["name"];
        let env = Envelope::from_value(case["envelope"].clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        env.verify(&key_of(&env.signer().to_string())).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex::encode(env.leaf_hash()), case["leaf_hash"], "{name}");
        let signer = env.signer().to_string();
        let last = envelopes.iter().rev().find(|e| e["envelope"]["signer"] == signer.as_str()).expect("chain");
        assert_eq!(env.seq(), last["envelope"]["seq"].as_u64().expect("seq") + 1, "{name} continues its chain");
        assert_eq!(env.prev().map(hex::encode).as_deref(), last["leaf_hash"].as_str(), "{name}");
        let notice = matches!(env.kind(), "ledger.signer.gap.v1" | "ledger.signer.equivocation.v1");
        assert!(env.kind().starts_with("ledger."), "{name}");
        assert!(!LEDGER_KINDS.contains(&env.kind()) || (notice && signer != system), "{name} is not refused by §4");
    }
}
