//! Property tests of the framer and the packet parser.

use std::collections::BTreeMap;

use proptest::prelude::*;
use siteledger_gateway_agent::hj212::stream::fuzz_one;
use siteledger_gateway_agent::hj212::{Cp, Decoder, Deviation, Flag, Packet, Scanned, encode_frame, scan};

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n).prop_map(|d| d.into_iter().map(|d| char::from(b'0' + d)).collect())
}

/// `YYYYMMDDhhmmss` of a real time.
fn timestamp() -> impl Strategy<Value = String> {
    (2000u16..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60)
        .prop_map(|(y, mo, d, h, mi, s)| format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}"))
}

fn decimal() -> impl Strategy<Value = String> {
    (any::<bool>(), 0u32..100_000, proptest::option::of(digits(3))).prop_map(|(neg, int, frac)| {
        format!("{}{int}{}", if neg { "-" } else { "" }, frac.map(|f| format!(".{f}")).unwrap_or_default())
    })
}

fn item_fields() -> impl Strategy<Value = BTreeMap<String, String>> {
    let measurement = prop_oneof![Just("Rtd"), Just("Avg"), Just("Min"), Just("Max"), Just("Cou"), Just("ZsAvg")];
    let flag = prop_oneof![Just("N"), Just("F"), Just("M"), Just("S"), Just("D"), Just("C"), Just("T"), Just("B")];
    (
        proptest::collection::btree_map(measurement.prop_map(str::to_owned), decimal(), 1..4),
        proptest::option::of(flag.prop_map(str::to_owned)),
        proptest::option::of(timestamp()),
    )
        .prop_map(|(mut fields, flag, sample_time)| {
            if let Some(flag) = flag {
                fields.insert("Flag".to_owned(), flag);
            }
            if let Some(t) = sample_time {
                fields.insert("SampleTime".to_owned(), t);
            }
            fields
        })
}

fn factor_code() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop_oneof![Just('a'), Just('w')], digits(5)).prop_map(|(c, d)| format!("{c}{d}")),
        Just("LA".to_owned()),
        Just("Leq".to_owned()),
    ]
}

/// A packet that follows HJ 212-2017 exactly (so it parses without deviations).
fn standard_packet() -> impl Strategy<Value = Packet> {
    let cn = prop_oneof![Just(2011u16), Just(2051), Just(2061), Just(2031), Just(2021), Just(1062), Just(9014)];
    let st = prop_oneof![Just("22"), Just("23"), Just("27"), Just("31"), Just("39"), Just("91")];
    let hex24 = proptest::collection::vec(proptest::sample::select(b"0123456789ABCDEF".to_vec()), 24)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let pw = proptest::collection::vec(proptest::sample::select(b"0123456789abcdefXYZ".to_vec()), 6)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let split = proptest::option::of((2u16..10).prop_flat_map(|n| (Just(n), 1..=n)));
    (
        (timestamp(), digits(3)),
        st,
        cn,
        pw,
        hex24,
        any::<bool>(),
        split,
        timestamp(),
        proptest::collection::btree_map(factor_code(), item_fields(), 0..6),
        proptest::option::of(0u32..3600),
    )
        .prop_map(|((qn, ms), st, cn, pw, mn, reply, split, data_time, items, interval)| {
            // A response (9014) asking for a reply is itself a deviation.
            let reply = reply && cn != 9014;
            let flag = 4 | u8::from(reply) | if split.is_some() { 2 } else { 0 };
            let mut fields = BTreeMap::new();
            if let Some(i) = interval {
                fields.insert("RtdInterval".to_owned(), i.to_string());
            }
            Packet {
                qn: Some(format!("{qn}{ms}")),
                st: Some(st.to_owned()),
                cn,
                pw: Some(pw),
                mn: Some(mn),
                flag: Some(Flag(flag)),
                pnum: split.map(|(n, _)| n),
                pno: split.map(|(_, p)| p),
                extra: BTreeMap::new(),
                cp: Cp { data_time: Some(data_time), fields, items },
                deviations: Vec::new(),
            }
        })
}

fn wire(packet: &Packet) -> Vec<u8> {
    encode_frame(&packet.encode()).expect("fits 9999 bytes").into_bytes()
}

/// Input that looks like HJ 212 often enough to reach deep paths.
fn hj212_ish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"##".to_vec()),
        digits(4).prop_map(String::into_bytes),
        Just(b"QN=20160801085857223;".to_vec()),
        Just(b"ST=39;CN=2011;".to_vec()),
        Just(b"Flag=5;".to_vec()),
        Just(b"PNUM=2;PNO=1;".to_vec()),
        Just(b"CP=&&".to_vec()),
        Just(b"&&".to_vec()),
        Just(b"a34002-Rtd=1.5,a34002-Flag=N;".to_vec()),
        Just(b"DataTime=20160801085857;".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"1C80".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    // No regression files: the sources live under tests/gateway/, where proptest cannot place them.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz_one(&bytes);
    }

    #[test]
    fn hj212_like_bytes_never_panic(bytes in hj212_ish()) {
        fuzz_one(&bytes);
    }

    #[test]
    fn valid_frames_round_trip(packet in standard_packet()) {
        let bytes = wire(&packet);
        let (frame, used) = Decoder::default().decode(&bytes).expect("valid").expect("complete");
        prop_assert_eq!(used, bytes.len());
        let parsed = Packet::from_frame(frame).expect("parses");
        prop_assert_eq!(&parsed, &packet);
        prop_assert_eq!(parsed.encode(), packet.encode());
    }

    #[test]
    fn single_byte_changes_are_caught(packet in standard_packet(), at in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let original = wire(&packet);
        let i = at.index(original.len());
        let byte = original[i] ^ delta;
        let mut mutated = original.clone();
        mutated[i] = byte;
        let scanned = scan(&Decoder::default(), &mutated);
        let same = matches!(scanned.as_slice(), [Scanned::Packet { packet: p, .. }] if *p == packet);
        prop_assert!(!same, "byte {} changed to {:#04x} but the same packet came out", i, byte);
    }

    #[test]
    fn split_stream_recovers_every_frame(
        packets in proptest::collection::vec((standard_packet(), any::<bool>()), 1..6),
        cuts in proptest::collection::vec(1usize..64, 0..40),
    ) {
        let mut stream = Vec::new();
        for (packet, trailer) in &packets {
            let mut bytes = wire(packet);
            if !trailer {
                bytes.truncate(bytes.len() - 2);
            }
            stream.extend(bytes);
        }
        let decoder = Decoder::default();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut rest = stream.as_slice();
        let mut cuts = cuts.into_iter();
        loop {
            let n = cuts.next().unwrap_or(rest.len()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            let eof = rest.is_empty();
            loop {
                let result = if eof { decoder.decode_eof(&buf) } else { decoder.decode(&buf) };
                match result {
                    Ok(Some((frame, used))) => {
                        got.push(Packet::from_frame(frame).expect("parses"));
                        buf.drain(..used);
                    }
                    Ok(None) => break,
                    Err(e) => prop_assert!(false, "unexpected error {e}"),
                }
            }
            if eof {
                break;
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got.len(), packets.len());
        for (parsed, (packet, trailer)) in got.iter().zip(&packets) {
            let expected: &[Deviation] = if *trailer { &[] } else { &[Deviation::MissingTrailer] };
            prop_assert_eq!(parsed.deviations.as_slice(), expected);
            let mut bare = parsed.clone();
            bare.deviations.clear();
            prop_assert_eq!(&bare, packet);
        }
    }
}

mod connection {
    use std::time::Instant;

    use proptest::prelude::*;
    use siteledger_gateway_agent::hj212::{Connection, ConnectionLimits, Event};

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the bytes and however they are cut, every byte comes back exactly once, in order, as part of
        /// an accepted or a rejected frame (with limits high enough that the connection stays open).
        #[test]
        fn every_byte_is_accounted_for(bytes in super::hj212_ish(), cuts in proptest::collection::vec(1usize..50, 0..30)) {
            let now = Instant::now();
            let limits = ConnectionLimits { max_consecutive_rejections: u32::MAX, max_noise_bytes: usize::MAX, ..Default::default() };
            let mut c = Connection::new(limits, now);
            let mut events = Vec::new();
            let mut rest = bytes.as_slice();
            for n in cuts {
                let n = n.min(rest.len());
                events.extend(c.receive(&rest[..n], now));
                rest = &rest[n..];
            }
            events.extend(c.receive(rest, now));
            events.extend(c.finish(now));
            let mut seen = Vec::new();
            for e in &events {
                match e {
                    Event::Packet { raw, .. } | Event::Rejected { raw, .. } => seen.extend_from_slice(raw),
                    Event::Reply(reply) => prop_assert!(reply.starts_with("##") && reply.ends_with("\r\n")),
                    _ => {}
                }
            }
            prop_assert_eq!(seen, bytes);
            prop_assert!(c.is_closed());
        }
    }
}
