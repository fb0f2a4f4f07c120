//! Corpus check: every packet of the HJ 212 corpus (`tests/fixtures/hj212/corpus.json`, public data with its
//! sources in the README beside it; DOMAIN.md §2.10) gets the verdict the corpus records. When the fixture is
//! missing this test fails and says where it looked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use siteledger_gateway_agent::hj212::crc::{CrcVariant, hj212_crc};
use siteledger_gateway_agent::hj212::{
    Decoder, FrameErrorKind, Packet, Rejection, Scanned, data_response, parse_frame, scan,
};

struct Entry {
    index: usize,
    packet: String,
    valid: bool,
    defect: Option<String>,
    crc_expected: u16,
    source: String,
}

fn corpus_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hj212/corpus.json")
}

fn load() -> Vec<Entry> {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "HJ 212 corpus not found at {} ({e}): it is a fixture of this repository (see the README beside it)",
            path.display()
        )
    });
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    let items = json.as_array().unwrap_or_else(|| panic!("{}: expected a JSON array", path.display()));
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let field = |name: &str| item.get(name).unwrap_or_else(|| panic!("entry {index}: no `{name}`"));
            let crc = field("crc_expected").as_str().unwrap_or_else(|| panic!("entry {index}: crc_expected"));
            Entry {
                index,
                packet: field("packet").as_str().unwrap_or_else(|| panic!("entry {index}: packet")).to_owned(),
                valid: field("valid").as_bool().unwrap_or_else(|| panic!("entry {index}: valid")),
                defect: field("defect").as_str().map(str::to_owned),
                crc_expected: u16::from_str_radix(crc, 16).unwrap_or_else(|e| panic!("entry {index}: {crc}: {e}")),
                source: item.get("source").and_then(Value::as_str).unwrap_or("?").to_owned(),
            }
        })
        .collect()
}

fn with_trailer(packet: &str) -> Vec<u8> {
    let mut bytes = packet.as_bytes().to_vec();
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// The verdict of the framer and parser on one packet, or why it disagrees with the corpus.
fn check(entry: &Entry, bytes: &[u8], eof: bool) -> Result<String, String> {
    let decoder = Decoder::default();
    let result = if eof { decoder.decode_eof(bytes) } else { parse_frame(bytes) };
    match (entry.valid, result) {
        (true, Ok(Some((frame, used)))) => {
            if used != bytes.len() {
                return Err(format!("consumed {used} of {} bytes", bytes.len()));
            }
            if frame.crc() != entry.crc_expected {
                return Err(format!("CRC {:04X}, corpus says {:04X}", frame.crc(), entry.crc_expected));
            }
            let packet = Packet::from_frame(frame).map_err(|e| format!("packet rejected: {e}"))?;
            Ok(format!("valid, {} deviation(s)", packet.deviations.len()))
        }
        (true, other) => Err(format!("valid packet not accepted: {other:?}")),
        (false, Ok(Some(_))) => Err("invalid packet accepted".to_owned()),
        (false, Ok(None)) => Err("invalid packet: decoder wants more bytes".to_owned()),
        (false, Err(err)) => {
            if err.skip != bytes.len() {
                return Err(format!("skip {} of {} bytes", err.skip, bytes.len()));
            }
            let defect = entry.defect.as_deref().unwrap_or("<none>");
            let ok = match (defect, &err.kind) {
                ("bad_crc", FrameErrorKind::BadCrc { looks_like: None, computed, .. }) => {
                    *computed == entry.crc_expected
                }
                ("modbus_crc", FrameErrorKind::BadCrc { looks_like: Some(CrcVariant::Modbus), computed, .. })
                | (
                    "modbus_crc_swapped",
                    FrameErrorKind::BadCrc { looks_like: Some(CrcVariant::ModbusSwapped), computed, .. },
                ) => *computed == entry.crc_expected,
                ("bad_length", FrameErrorKind::BadLength { crc_matches: true, .. }) => true,
                ("bad_length_and_crc", FrameErrorKind::BadLength { .. } | FrameErrorKind::BadCrc { .. }) => true,
                _ => false,
            };
            if ok {
                Ok(format!("{defect}: {}", err.kind))
            } else {
                Err(format!("defect {defect} but got {}", err.kind))
            }
        }
    }
}

#[test]
fn corpus_verdicts_match() {
    let entries = load();
    assert_eq!(entries.len(), 64, "the corpus README promises 64 packets");
    let mut failures = Vec::new();
    let mut per_defect: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut deviations: BTreeMap<String, usize> = BTreeMap::new();
    let mut replies = 0;
    for entry in &entries {
        // The corpus's CRC of the data segment (between the 4 length digits and the last 4 characters).
        let raw = entry.packet.as_bytes();
        assert!(raw.len() >= 10, "entry {}: too short", entry.index);
        assert_eq!(hj212_crc(&raw[6..raw.len() - 4]), entry.crc_expected, "entry {} crc_expected", entry.index);

        let with = with_trailer(&entry.packet);
        let verdicts = [check(entry, &with, false), check(entry, raw, true)];
        let key = entry.defect.clone().unwrap_or_else(|| "valid".to_owned());
        let slot = per_defect.entry(key).or_default();
        slot.0 += 1;
        match verdicts {
            [Ok(_), Ok(_)] => slot.1 += 1,
            [a, b] => failures.push(format!("#{} ({}): with CRLF {a:?}; without {b:?}", entry.index, entry.source)),
        }
        if entry.valid
            && let Ok(Some((frame, _))) = parse_frame(&with)
            && let Ok(packet) = Packet::from_frame(frame)
        {
            for d in &packet.deviations {
                let name = serde_json::to_value(d).ok().and_then(|v| v["deviation"].as_str().map(str::to_owned));
                *deviations.entry(name.unwrap_or_default()).or_default() += 1;
            }
            replies += usize::from(data_response(&packet).is_some());
        }
    }
    let matched: usize = per_defect.values().map(|(_, ok)| ok).sum();
    println!("HJ 212 corpus ({}): {matched}/{} verdicts match", corpus_path().display(), entries.len());
    for (defect, (n, ok)) in &per_defect {
        println!("  {defect:<20} {ok}/{n}");
    }
    println!("  deviations recorded on the valid packets:");
    for (name, n) in &deviations {
        println!("    {name:<28} {n}");
    }
    println!("  valid packets asking for a 9014 reply: {replies}");
    assert!(failures.is_empty(), "{} verdicts differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(matched, 64);
    assert_eq!(per_defect.get("valid").map(|v| v.0), Some(51));
}

/// The whole corpus as one TCP stream (each packet with CR LF): the framer resynchronises after every broken
/// frame, accepts the 51 valid ones and rejects exactly the 13 broken ones, nothing else.
#[test]
fn corpus_as_one_stream() {
    let entries = load();
    let stream: Vec<u8> = entries.iter().flat_map(|e| with_trailer(&e.packet)).collect();
    let scanned = scan(&Decoder::default(), &stream);
    assert_eq!(scanned.len(), entries.len());
    for (entry, item) in entries.iter().zip(&scanned) {
        match item {
            Scanned::Packet { .. } => assert!(entry.valid, "#{} accepted", entry.index),
            Scanned::Rejected { error: Rejection::Frame(_), .. } => assert!(!entry.valid, "#{} rejected", entry.index),
            Scanned::Rejected { error, .. } => panic!("#{}: {error}", entry.index),
        }
    }
    // And without any trailer: frames end at the next `##`.
    let bare: Vec<u8> = entries.iter().flat_map(|e| e.packet.as_bytes().to_vec()).collect();
    let accepted = scan(&Decoder::default(), &bare).iter().filter(|s| matches!(s, Scanned::Packet { .. })).count();
    assert_eq!(accepted, 51);
}
