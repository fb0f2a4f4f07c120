//! Fuzz oracles shared by `fuzz/fuzz_targets/gb28181_{sip,stream,xml}.rs` and the seed-replay test: each runs
//! arbitrary bytes through a parser and panics when an invariant breaks (never on the input being bad).

use super::manscdp::{self, Body, XmlLimits};
use super::sip::{Limits, Message, parse_datagram};
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
            let again = parse_datagram(&wire, &Limits { max_head: usize::MAX / 4, ..limits });
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
        let room = framer.capacity() - framer.buffered();
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
