//! Fuzz oracles shared by `fuzz/fuzz_targets/gb28181_{sip,stream,xml,state}.rs` and the seed-replay test: each runs
//! arbitrary bytes through a parser and panics when an invariant breaks (never on the input being bad).

use super::manscdp::{self, Body, XmlLimits};
use super::sip::{Limits, Message, parse_datagram};
use super::state;
use super::stream::{StreamError, StreamFramer};

/// What one input did, for the seed test's `good-*`/`bad-*` verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Messages or bodies accepted.
    pub accepted: usize,
    /// Refusals, by name.
    pub refused: Vec<&'static str>,
}

/// A UDP datagram: parse; an accepted message must survive `encode` → parse with the same start line, headers
/// (but `Content-Length`, rewritten) and body.
#[doc(hidden)]
#[must_use]
pub fn fuzz_sip(bytes: &[u8]) -> Verdict {
    let limits = Limits::default();
    match parse_datagram(bytes, &limits) {
        Ok(None) => Verdict { accepted: 0, refused: Vec::new() },
        Ok(Some(m)) => {
            let wire = m.encode();
            // Encoding may add the `Content-Length` a UDP datagram lacked: one more header, a few more head bytes.
            let again = parse_datagram(
                &wire,
                &Limits { max_head: usize::MAX / 4, max_headers: limits.max_headers + 1, ..limits },
            );
            let again = again.unwrap_or_else(|e| panic!("re-encoded message refused: {e}")).expect("a message");
            assert_eq!(again.start, m.start, "start line survives encoding");
            assert_eq!(without_length(&again), without_length(&m), "headers survive encoding");
            assert_eq!(again.body, m.body, "body survives encoding");
            Verdict { accepted: 1, refused: Vec::new() }
        }
        Err(e) => Verdict { accepted: 0, refused: vec![e.name()] },
    }
}

fn without_length(m: &Message) -> Vec<(String, String)> {
    m.headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// A TCP stream: framed in chunks as large as the buffer allows and one byte at a time, the outcomes (messages and
/// refusal names) must be the same; the buffer never passes its bound; a full buffer always makes progress.
#[doc(hidden)]
#[must_use]
pub fn fuzz_stream(bytes: &[u8]) -> Verdict {
    let limits = Limits { max_head: 1024, max_body: 4096, max_headers: 32 };
    let chunked = frame(bytes, limits, usize::MAX);
    let bytewise = frame(bytes, limits, 1);
    assert_eq!(chunked, bytewise, "chunked and byte-by-byte framing agree");
    let mut verdict = Verdict { accepted: 0, refused: Vec::new() };
    for outcome in chunked {
        match outcome {
            Ok(_) => verdict.accepted += 1,
            Err(name) => verdict.refused.push(name),
        }
    }
    verdict
}

type Outcome = Result<Vec<u8>, &'static str>;

fn frame(bytes: &[u8], limits: Limits, chunk: usize) -> Vec<Outcome> {
    let mut framer = StreamFramer::new(limits);
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let room = framer.room();
        let take = chunk.min(room).min(bytes.len() - at);
        if take > 0 {
            framer.push(&bytes[at..at + take]).expect("never pushes past the bound");
            at += take;
        }
        loop {
            assert!(framer.buffered() <= framer.capacity(), "bounded buffer");
            match framer.next_message() {
                Ok(Some(m)) => out.push(Ok(m.encode())),
                Ok(None) => break,
                Err(StreamError::Closed) => return out,
                Err(e @ StreamError::Fatal(_)) => {
                    out.push(Err(e.name()));
                    return out;
                }
                Err(e) => out.push(Err(e.name())),
            }
        }
        if at == bytes.len() {
            if let Err(e) = framer.finish() {
                out.push(Err(e.name()));
            }
            return out;
        }
        assert!(take > 0 || framer.buffered() < framer.capacity(), "a full buffer made no progress");
    }
}

/// A MANSCDP body, as sent with no charset and with `charset=GB2312`: parse; a keepalive or alarm accepted must
/// survive rebuilding (the builders' GBK output parsed again gives the same values).
#[doc(hidden)]
#[must_use]
pub fn fuzz_xml(bytes: &[u8]) -> Verdict {
    let limits = XmlLimits::default();
    let mut verdict = Verdict { accepted: 0, refused: Vec::new() };
    for content_type in [None, Some("Application/MANSCDP+xml; charset=GB2312")] {
        match manscdp::parse(bytes, content_type, &limits) {
            Ok(parsed) => {
                verdict.accepted += 1;
                match parsed.body {
                    Body::Keepalive(k) => {
                        let again = manscdp::parse(&manscdp::keepalive(k.sn, &k.device_id), None, &limits);
                        let again = again.unwrap_or_else(|e| panic!("rebuilt keepalive refused: {e}"));
                        assert_eq!(again.body, Body::Keepalive(manscdp::Keepalive { ok: true, ..k }));
                    }
                    Body::Alarm(a) => {
                        let again = manscdp::parse(&manscdp::alarm_notify(&a), None, &limits);
                        let again = again.unwrap_or_else(|e| panic!("rebuilt alarm refused: {e}"));
                        let whole_seconds = a.time.replace_nanosecond(0).unwrap_or(a.time);
                        let Body::Alarm(b) = again.body else { panic!("rebuilt alarm is not an alarm") };
                        assert_eq!(
                            (b.sn, &b.device_id, b.priority, b.method, b.alarm_type, b.time),
                            (a.sn, &a.device_id, a.priority, a.method, a.alarm_type, whole_seconds),
                        );
                        assert_eq!(b.description, a.description, "description survives GBK rebuilding");
                    }
                    _ => {}
                }
            }
            Err(e) => verdict.refused.push(e.name()),
        }
    }
    verdict
}

/// A state file (`gb28181::state`): parse; an accepted state must survive `encode` → parse unchanged, and encoding
/// it again gives the same bytes.
#[doc(hidden)]
#[must_use]
pub fn fuzz_state(bytes: &[u8]) -> Verdict {
    match state::parse(bytes) {
        Ok(s) => {
            let wire = state::encode(&s);
            let again = state::parse(&wire).unwrap_or_else(|e| panic!("re-encoded state refused: {e}"));
            assert_eq!(again, s, "a state survives encoding");
            assert_eq!(state::encode(&again), wire, "encoding is stable");
            Verdict { accepted: 1, refused: Vec::new() }
        }
        Err(_) => Verdict { accepted: 0, refused: vec!["state_file_unreadable"] },
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Replays `fuzz/corpus/<target>/` through `oracle`: seeds named `good-*` must be accepted with no refusal,
    /// `bad-*` must be refused at least once (every refusal counted by name); none may break an invariant.
    fn replay(target: &str, oracle: fn(&[u8]) -> Verdict) -> (usize, usize) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path())
            .collect();
        paths.sort();
        let (mut good, mut bad) = (0, 0);
        for path in &paths {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let verdict = oracle(&bytes);
            if name.starts_with("good-") {
                assert!(verdict.accepted > 0 && verdict.refused.is_empty(), "{target}/{name}: {verdict:?}");
                good += 1;
            } else if name.starts_with("bad-") {
                assert!(!verdict.refused.is_empty(), "{target}/{name}: nothing refused");
                bad += 1;
            }
        }
        assert!(good >= 2 && bad >= 5, "{target}: expected the committed seeds, found {good} good and {bad} bad");
        (good, bad)
    }

    #[test]
    fn sip_seeds_replay() {
        replay("gb28181_sip", fuzz_sip);
    }

    #[test]
    fn stream_seeds_replay() {
        replay("gb28181_stream", fuzz_stream);
    }

    #[test]
    fn xml_seeds_replay() {
        replay("gb28181_xml", fuzz_xml);
    }

    #[test]
    fn state_seeds_replay() {
        replay("gb28181_state", fuzz_state);
        for seed in seeds("gb28181_state") {
            for n in 0..seed.len() {
                let _ = fuzz_state(&seed[..n]);
            }
        }
    }

    /// The refusals the issue names, each with its counter name: truncated, oversized, bad `Content-Length`,
    /// entity expansion, and GB2312 bodies accepted.
    #[test]
    fn named_seeds_are_refused_for_the_named_reason() {
        let read = |t: &str, n: &str| {
            std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(t).join(n))
                .unwrap_or_else(|e| panic!("{t}/{n}: {e}"))
        };
        let sip = |n: &str| fuzz_sip(&read("gb28181_sip", n)).refused;
        assert_eq!(sip("bad-truncated-head"), vec!["sip_truncated_head"]);
        assert_eq!(sip("bad-oversized-head"), vec!["sip_too_large"]);
        assert_eq!(sip("bad-content-length-longer-than-body"), vec!["sip_truncated_body"]);
        assert_eq!(sip("bad-content-length-not-digits"), vec!["sip_bad_content_length"]);
        let stream = |n: &str| fuzz_stream(&read("gb28181_stream", n)).refused;
        assert_eq!(stream("bad-missing-content-length"), vec!["sip_missing_content_length"]);
        assert_eq!(stream("bad-body-over-limit"), vec!["sip_too_large"]);
        let skipped = fuzz_stream(&read("gb28181_stream", "bad-skipped-then-good"));
        assert_eq!((skipped.accepted, skipped.refused), (1, vec!["sip_missing_header"]));
        let xml = |n: &str| fuzz_xml(&read("gb28181_xml", n)).refused;
        assert_eq!(xml("bad-billion-laughs"), vec!["xml_doctype_refused"; 2]);
        assert_eq!(xml("bad-doctype-external-entity"), vec!["xml_doctype_refused"; 2]);
        assert_eq!(fuzz_xml(&read("gb28181_xml", "good-catalog-nvr-4-channels-gbk")).accepted, 2);
    }

    fn seeds(target: &str) -> Vec<Vec<u8>> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).collect()
    }

    /// Every message and body cut short at every byte (what a lossy link delivers) keeps the invariants.
    #[test]
    fn every_prefix_of_every_seed_keeps_the_invariants() {
        for seed in seeds("gb28181_sip") {
            for n in 0..seed.len().min(2048) {
                let _ = fuzz_sip(&seed[..n]);
            }
        }
        for seed in seeds("gb28181_xml") {
            for n in (0..seed.len()).step_by(7) {
                let _ = fuzz_xml(&seed[..n]);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

        /// Arbitrary bytes never break an oracle.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1500)) {
            let _ = fuzz_sip(&bytes);
            let _ = fuzz_xml(&bytes);
            let _ = fuzz_stream(&bytes);
            let _ = fuzz_state(&bytes);
        }

        /// Seeds with one byte changed (a flipped bit on the wire) never break an oracle.
        #[test]
        fn seeds_with_one_byte_changed(which in 0usize..64, at in 0usize..4096, byte in proptest::prelude::any::<u8>()) {
            for target in ["gb28181_sip", "gb28181_stream", "gb28181_xml", "gb28181_state"] {
                let all = seeds(target);
                let mut seed = all[which % all.len()].clone();
                if seed.is_empty() {
                    continue;
                }
                let i = at % seed.len();
                seed[i] = byte;
                match target {
                    "gb28181_sip" => { let _ = fuzz_sip(&seed); }
                    "gb28181_stream" => { let _ = fuzz_stream(&seed); }
                    "gb28181_state" => { let _ = fuzz_state(&seed); }
                    _ => { let _ = fuzz_xml(&seed); }
                }
            }
        }
    }
}
