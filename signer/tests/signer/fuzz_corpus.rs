//! The committed fuzz corpus of `POST /v1/events` bodies (`signer/fuzz/corpus/ingest_body/`), replayed through the
//! server's reader with the fuzz target's invariants, and the attack seeds of issue 12 with their expected
//! verdicts. The seeds are built here from the deterministic sample log; `SITELEDGER_UPDATE_FUZZ_SEEDS=1` writes
//! them (the fuzzer adds other files beside them, which are replayed for the invariants only).

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_signer::SigningKey;
use siteledger_signer::batch::BodyError;
use siteledger_signer::canonical::{CanonicalError, to_canonical};
use siteledger_signer::envelope::{EnvelopeError, SIGNATURE_CONTEXT};
use siteledger_signer::sample::SampleLog;

#[path = "../../fuzz/invariants.rs"]
mod invariants;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ingest_body")
}

/// What the server must answer for one item.
#[derive(Debug, Clone, Copy)]
enum Item {
    Accepted,
    Duplicate(&'static str, &'static str),
    Time,
    Number(&'static str),
    LoneSurrogate,
    NotAnEnvelope,
}

/// What the server must answer for a body: a 400 for the whole body, or one verdict per item.
#[derive(Debug)]
enum Verdict {
    Body,
    Items(Vec<Item>),
}

fn resign(mut v: Value) -> Value {
    let key = SigningKey::from_seed(&[0x23; 32]);
    v.as_object_mut().expect("object").remove("sig");
    let message = [SIGNATURE_CONTEXT, &to_canonical(&v)].concat();
    v["sig"] = json!(B64.encode(key.sign(&message)));
    v
}

fn text(v: &Value) -> String {
    String::from_utf8(to_canonical(v)).expect("utf8")
}

fn insert_after(t: &str, after: &str, extra: &str) -> String {
    assert!(t.contains(after), "{after} in {t}");
    t.replacen(after, &format!("{after}{extra},"), 1)
}

/// The seeds: every attack of issue 12 items 4 and 5 and the JSON edge cases, plus valid bodies.
fn seeds() -> Vec<(&'static str, Vec<u8>, Verdict)> {
    use Item::*;
    let log = SampleLog::new(3).expect("sample log");
    let (e3, e4) = (log.envelopes[3].to_value(), log.envelopes[4].to_value());
    let (t3, t4) = (text(&e3), text(&e4));
    let with = |member: &str, value: Value| {
        let mut v = e3.clone();
        v[member] = value;
        resign(v)
    };
    let with_payload = |member: &str, value: Value| {
        let mut v = e3.clone();
        v["payload"][member] = value;
        resign(v)
    };
    let one = |s: String| format!("[{s}]").into_bytes();
    let mut out: Vec<(&'static str, Vec<u8>, Verdict)> = vec![
        ("valid-array", format!("[{t3},{t4}]").into_bytes(), Verdict::Items(vec![Accepted, Accepted])),
        ("valid-wrapper", format!(r#"{{"events":[{t3}]}}"#).into_bytes(), Verdict::Items(vec![Accepted])),
        (
            "valid-pretty",
            serde_json::to_vec_pretty(&json!({"events": [e3, e4], "note": "ignored"})).expect("json"),
            Verdict::Items(vec![Accepted, Accepted]),
        ),
        ("valid-empty", b"[]".to_vec(), Verdict::Items(vec![])),
        (
            "attack-dup-kind",
            one(insert_after(&t3, "{", r#""kind":"ledger.key.enrolled.v1""#)),
            Verdict::Items(vec![Duplicate("kind", "")]),
        ),
        (
            "attack-dup-payload-member",
            one(insert_after(
                &text(&with_payload("pm10_ug_m3", json!("999.0"))),
                r#""payload":{"#,
                r#""pm10_ug_m3":"1.0""#,
            )),
            Verdict::Items(vec![Duplicate("pm10_ug_m3", "/payload")]),
        ),
        ("attack-dup-seq", one(insert_after(&t3, "{", r#""seq":2"#)), Verdict::Items(vec![Duplicate("seq", "")])),
        (
            "attack-dup-nested",
            one(insert_after(
                &text(&with_payload("location", json!({"lat": "29.87"}))),
                r#""location":{"#,
                r#""lat":"0""#,
            )),
            Verdict::Items(vec![Duplicate("lat", "/payload/location")]),
        ),
        ("attack-dup-wrapper", format!(r#"{{"events":[],"events":[{t3}]}}"#).into_bytes(), Verdict::Body),
        (
            "attack-mixed-batch",
            format!(r#"[{t3},{},"x",{t4}]"#, insert_after(&t3, "{", r#""kind":"x.v1""#)).into_bytes(),
            Verdict::Items(vec![Accepted, Duplicate("kind", ""), NotAnEnvelope, Accepted]),
        ),
        (
            "attack-huge-integer",
            one(text(&e3).replacen(r#""noise_db_a""#, r#""n":9007199254740992,"noise_db_a""#, 1)),
            Verdict::Items(vec![Number("/payload/n")]),
        ),
        (
            "attack-huge-number",
            one(text(&e3).replacen(r#""noise_db_a""#, &format!(r#""n":{},"noise_db_a""#, "9".repeat(400)), 1)),
            Verdict::Items(vec![Number("/payload/n")]),
        ),
        (
            "attack-float",
            one(text(&e3).replacen(r#""pm10_ug_m3":"40.0""#, r#""pm10_ug_m3":40.0"#, 1)),
            Verdict::Items(vec![Number("/payload/pm10_ug_m3")]),
        ),
        (
            "attack-exponent",
            one(text(&e3).replacen(r#""seq":1"#, r#""seq":1e0"#, 1)),
            Verdict::Items(vec![Number("/seq")]),
        ),
        (
            "attack-lone-surrogate",
            one(text(&e3).replacen(r#""mn":""#, r#""mn":"\ud800"#, 1)),
            Verdict::Items(vec![LoneSurrogate]),
        ),
        (
            "attack-deep-nesting",
            one(text(&with_payload("deep", json!(0))).replacen(
                "\"deep\":0",
                &format!("\"deep\":{}0{}", "[".repeat(200), "]".repeat(200)),
                1,
            )),
            Verdict::Body,
        ),
        ("attack-bom", [&b"\xEF\xBB\xBF"[..], &one(t3.clone())].concat(), Verdict::Body),
        ("attack-trailing-garbage", format!("[{t3}] x").into_bytes(), Verdict::Body),
        ("attack-not-an-array", br#"{"envelope":{}}"#.to_vec(), Verdict::Body),
        ("attack-scalar-body", b"42".to_vec(), Verdict::Body),
        ("attack-truncated", t3.as_bytes()[..t3.len() / 2].to_vec(), Verdict::Body),
        (
            "attack-invalid-utf8",
            one(t3.replacen("project/", "project/\u{80}", 1))
                .into_iter()
                .map(|b| if b == 0xC2 { 0xFF } else { b })
                .collect(),
            Verdict::Body,
        ),
        (
            "valid-minus-zero",
            one(text(&with_payload("count", json!(0))).replacen(r#""count":0"#, r#""count":-0"#, 1)),
            Verdict::Items(vec![Accepted]),
        ),
        (
            "valid-escapes",
            one(text(&with_payload("note", json!("é/工地"))).replacen("é/工地", r"\u00e9\/\u5de5\u5730", 1)),
            Verdict::Items(vec![Accepted]),
        ),
    ];
    for (name, t) in [
        ("attack-time-space", "2026-03-01 08:00:00+08:00"),
        ("attack-time-lowercase-t", "2026-03-01t08:00:00+08:00"),
        ("attack-time-lowercase-z", "2026-03-01T00:00:00z"),
        ("attack-time-no-offset", "2026-03-01T08:00:00"),
        ("attack-time-year-1999", "1999-12-31T23:59:59Z"),
        ("attack-time-year-10000", "10000-01-01T00:00:00Z"),
        ("attack-time-hour-24", "2026-03-01T24:00:00+08:00"),
        ("attack-time-month-13", "2026-13-01T08:00:00+08:00"),
        ("attack-time-feb-30", "2026-02-30T08:00:00+08:00"),
        ("attack-time-leap-second", "2026-12-31T23:59:60Z"),
        ("attack-time-ten-fraction-digits", "2026-03-01T08:00:00.1234567891+08:00"),
        ("attack-time-empty-fraction", "2026-03-01T08:00:00.+08:00"),
    ] {
        out.push((name, one(text(&with("occurred_at", json!(t)))), Verdict::Items(vec![Time])));
    }
    for (name, t) in [
        ("valid-time-minus-0000", "2026-03-01T00:00:00-00:00"),
        ("valid-time-nanoseconds", "2026-03-01T00:00:00.123456789Z"),
    ] {
        out.push((name, one(text(&with("occurred_at", json!(t)))), Verdict::Items(vec![Accepted])));
    }
    out
}

#[test]
fn the_attack_seeds_get_their_verdicts() {
    let write = std::env::var_os("SITELEDGER_UPDATE_FUZZ_SEEDS").is_some();
    for (name, bytes, verdict) in seeds() {
        let path = corpus_dir().join(format!("{name}.json"));
        if write {
            std::fs::write(&path, &bytes).expect("write seed");
        }
        assert_eq!(std::fs::read(&path).expect("seed committed"), bytes, "{name}: seed file differs from its builder");
        let got = invariants::check(&bytes);
        match (&verdict, &got) {
            (Verdict::Body, Err(_)) => {}
            (Verdict::Items(want), Ok(items)) => {
                assert_eq!(want.len(), items.len(), "{name}");
                for (w, item) in want.iter().zip(items) {
                    let r = &item.result;
                    let ok = match w {
                        Item::Accepted => r.is_ok(),
                        Item::Duplicate(m, at) => {
                            matches!(r, Err(EnvelopeError::Json(CanonicalError::Duplicate { name, path })) if name == m && path == at)
                        }
                        Item::Time => matches!(r, Err(EnvelopeError::Field { field: "occurred_at", .. })),
                        Item::Number(at) => {
                            matches!(r, Err(EnvelopeError::Json(CanonicalError::Number { path })) if path == at)
                        }
                        Item::LoneSurrogate => {
                            matches!(r, Err(EnvelopeError::Json(CanonicalError::LoneSurrogate { .. })))
                        }
                        Item::NotAnEnvelope => matches!(r, Err(EnvelopeError::Field { field: "(envelope)", .. })),
                    };
                    assert!(ok, "{name}: expected {w:?}, got {r:?}");
                }
            }
            _ => panic!("{name}: expected {verdict:?}, got {:?}", got.map(|i| i.len())),
        }
    }
}

#[test]
fn the_whole_fuzz_corpus_replays_with_every_invariant() {
    let mut n = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let _: Result<_, BodyError> = invariants::check(&bytes);
        n += 1;
    }
    assert!(n >= seeds().len(), "the corpus holds at least the seeds ({n} files)");
}
