//! SIP parsing and building: real devices' messages, tolerated deviations, named refusals.

use super::*;

const REGISTER: &str = "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273\r\n\
    From: <sip:34020000001320000001@3402000000>;tag=2043466181\r\n\
    To: <sip:34020000001320000001@3402000000>\r\n\
    Call-ID: 1011047669\r\n\
    CSeq: 1 REGISTER\r\n\
    Contact: <sip:34020000001320000001@192.168.1.64:5060>\r\n\
    Max-Forwards: 70\r\n\
    User-Agent: IP Camera\r\n\
    Expires: 3600\r\n\
    Content-Length: 0\r\n\r\n";

fn udp(bytes: &[u8]) -> Result<Option<Message>, SipError> {
    parse_datagram(bytes, &Limits::default())
}

#[test]
fn a_camera_register_parses_and_round_trips() {
    let m = udp(REGISTER.as_bytes()).expect("valid").expect("a message");
    assert_eq!(m.method(), Some(&Method::Register));
    assert_eq!(m.from_user(), Some("34020000001320000001"));
    assert_eq!(m.cseq(), Some((1, "REGISTER")));
    assert_eq!(m.expires(), Some(3600));
    assert!(m.deviations.is_empty());
    let again = udp(&m.encode()).expect("valid").expect("a message");
    assert_eq!((again.start, again.headers), (m.start, m.headers));
}

#[test]
fn compact_and_folded_headers_are_expanded_and_noted() {
    let wire = "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n\
        v: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\n\
        f: <sip:34020000001320000001@3402000000>;tag=1\r\n\
        t: <sip:34020000002000000001@3402000000>\r\n\
        i: abc\r\n\
        CSeq: 20\r\n MESSAGE\r\n\
        c: Application/MANSCDP+xml\r\n\
        l: 4\r\n\r\nbody";
    let m = udp(wire.as_bytes()).expect("valid").expect("a message");
    assert_eq!(m.headers.get("Content-Type"), Some("Application/MANSCDP+xml"));
    assert_eq!(m.headers.get("via"), Some("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1"));
    assert_eq!(m.cseq(), Some((20, "MESSAGE")));
    assert_eq!(m.body, b"body");
    assert_eq!(m.deviations, vec![Deviation::CompactHeader, Deviation::FoldedHeader]);
}

#[test]
fn content_length_is_checked_on_udp() {
    let without = REGISTER.replace("Content-Length: 0\r\n", "");
    let m = udp(without.as_bytes()).expect("tolerated").expect("a message");
    assert_eq!(m.deviations, vec![Deviation::MissingContentLength]);

    let bad = REGISTER.replace("Content-Length: 0", "Content-Length: zero");
    assert_eq!(udp(bad.as_bytes()).expect_err("bad").name(), "sip_bad_content_length");
    let negative = REGISTER.replace("Content-Length: 0", "Content-Length: -1");
    assert_eq!(udp(negative.as_bytes()).expect_err("bad").name(), "sip_bad_content_length");
    let twice = REGISTER.replace("Content-Length: 0", "Content-Length: 0\r\nl: 3");
    assert_eq!(udp(twice.as_bytes()).expect_err("disagree").name(), "sip_bad_content_length");
    let long = REGISTER.replace("Content-Length: 0", "Content-Length: 10");
    assert_eq!(udp(long.as_bytes()).expect_err("truncated"), SipError::TruncatedBody { declared: 10, actual: 0 });
    let short = format!("{}extra", REGISTER);
    let m = udp(short.as_bytes()).expect("trailing bytes dropped").expect("a message");
    assert_eq!((m.body.len(), m.deviations), (0, vec![Deviation::TrailingBytes]));
}

#[test]
fn oversized_and_truncated_messages_are_refused() {
    let limits = Limits { max_head: 200, max_body: 10, max_headers: 5 };
    let e = parse_datagram(REGISTER.as_bytes(), &limits).expect_err("head too large");
    assert_eq!(e.name(), "sip_too_large");
    let big = vec![b'x'; 300];
    assert!(matches!(parse_datagram(&big, &limits), Err(SipError::TooLarge { part: Part::Datagram, .. })));
    let limits = Limits { max_headers: 5, ..Limits::default() };
    assert_eq!(
        parse_datagram(REGISTER.as_bytes(), &limits).expect_err("too many"),
        SipError::TooManyHeaders { max: 5 }
    );
    let cut = &REGISTER.as_bytes()[..REGISTER.len() - 10];
    assert_eq!(udp(cut).expect_err("truncated").name(), "sip_truncated_head");
    assert_eq!(udp(b"\r\n\r\n"), Ok(None), "a CRLF keep-alive is not a message");
}

#[test]
fn broken_heads_are_named() {
    let cases = [
        (REGISTER.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"), "sip_bad_start_line"),
        (REGISTER.replace("CSeq: 1 REGISTER", "CSeq: 1 MESSAGE"), "sip_bad_cseq"),
        (REGISTER.replace("Call-ID: 1011047669\r\n", ""), "sip_missing_header"),
        (REGISTER.replace("Max-Forwards: 70", "Max Forwards 70"), "sip_bad_header"),
        (REGISTER.replace("User-Agent: IP Camera", "User-Agent: \u{FFFD}"), ""),
    ];
    for (wire, name) in cases {
        match udp(wire.as_bytes()) {
            Err(e) => assert_eq!(e.name(), name, "{wire}"),
            Ok(_) => assert!(name.is_empty(), "{wire} should fail with {name}"),
        }
    }
    let mut gbk = REGISTER.as_bytes().to_vec();
    let at = REGISTER.find("IP Camera").expect("there");
    gbk[at] = 0xC9; // a GBK lead byte in the head
    assert_eq!(udp(&gbk).expect_err("not UTF-8").name(), "sip_head_not_utf8");
    assert!(matches!(udp(b"SIP/2.0 99 Odd\r\n\r\n"), Err(SipError::BadStartLine { .. })));
}

#[test]
fn response_echoes_the_transaction_and_tags_to() {
    let req = udp(REGISTER.as_bytes()).expect("valid").expect("a message");
    let resp = Message::response_to(&req, 401, "Unauthorized", "t1");
    let wire = String::from_utf8(resp.encode()).expect("ascii");
    assert!(wire.starts_with("SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.168.1.64:5060;rport;"));
    assert!(wire.contains("To: <sip:34020000001320000001@3402000000>;tag=t1\r\n"));
    assert!(wire.ends_with("CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"));
    let parsed = udp(wire.as_bytes()).expect("valid").expect("a message");
    assert_eq!(parsed.status(), Some(401));
}

#[test]
fn uri_helpers() {
    assert_eq!(uri_user("\"cam\" <sip:34020000001320000001@3402000000>;tag=9"), Some("34020000001320000001"));
    assert_eq!(uri_user("<sip:3402000000>"), None);
    assert_eq!(param("<sip:a@b;lr>;tag=9;expires=0", "expires"), Some("0"));
    assert_eq!(param("<sip:a@b;expires=5>", "expires"), None);
}

/// Found by `cargo fuzz run gb28181_sip`: a folded header whose continuation line is blank (`\t\r\n`) kept a
/// trailing space that re-encoding lost, so the message did not survive encode → parse.
#[test]
fn folded_blank_continuation_adds_no_trailing_space() {
    let wire = REGISTER.replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\n\t\r\n");
    let m = udp(wire.as_bytes()).expect("valid").expect("a message");
    assert_eq!(m.headers.get("Max-Forwards"), Some("70"));
    let again = udp(&m.encode()).expect("valid").expect("a message");
    assert_eq!(again.headers, m.headers);
}
