//! The platform's device sessions, driven by messages as a camera and an NVR send them, with `now` passed in.

use std::collections::BTreeMap;

use time::macros::datetime;

use super::*;
use crate::gb28181::manscdp::{AlarmNotify, Root};
use crate::gb28181::sip::parse_datagram;

const PLATFORM: &str = "33021200002000000001";
const CAMERA: &str = "33021200001320000001";
const NVR: &str = "33021200001180000001";
const T0: OffsetDateTime = datetime!(2026-12-06 08:00:00 +08:00);

fn id(s: &str) -> DeviceId {
    DeviceId::parse(s).expect("valid id")
}

fn platform() -> Platform {
    let mut p = Platform::new(PlatformConfig::new(id(PLATFORM), "10.0.0.1:5060"), "s");
    p.add_device(id(CAMERA), Password::new("cam-pass"));
    p.add_device(id(NVR), Password::new("nvr-pass"));
    p
}

fn at(seconds: i64) -> OffsetDateTime {
    T0 + Duration::seconds(seconds)
}

/// What a device sends: a REGISTER, with an Authorization header when given.
fn register(device: &str, cseq: u32, expires: u32, authorization: Option<&str>) -> Message {
    let mut m = Message::request(Method::Register, "sip:33021200002000000001@3302120000")
        .with_header("Via", "SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1")
        .with_header("From", &format!("<sip:{device}@3302120000>;tag=7"))
        .with_header("To", &format!("<sip:{device}@3302120000>"))
        .with_header("Call-ID", &format!("reg-{device}"))
        .with_header("CSeq", &format!("{cseq} REGISTER"))
        .with_header("Contact", &format!("<sip:{device}@192.168.1.64:5060>"))
        .with_header("Max-Forwards", "70")
        .with_header("Expires", &expires.to_string());
    if let Some(a) = authorization {
        m = m.with_header("Authorization", a);
    }
    // Through the wire and back, as the platform receives it.
    parse_datagram(&m.encode(), &Limits::default()).expect("valid").expect("a message")
}

fn message(device: &str, body: Vec<u8>) -> Message {
    let m = Message::request(Method::Message, "sip:33021200002000000001@3302120000")
        .with_header("Via", "SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK2")
        .with_header("From", &format!("<sip:{device}@3302120000>;tag=8"))
        .with_header("To", "<sip:33021200002000000001@3302120000>")
        .with_header("Call-ID", "msg-1")
        .with_header("CSeq", "20 MESSAGE")
        .with_body(manscdp::CONTENT_TYPE, body);
    parse_datagram(&m.encode(), &Limits::default()).expect("valid").expect("a message")
}

fn replies(out: &[Output]) -> Vec<u16> {
    out.iter().filter_map(|o| if let Output::Reply(m) = o { m.status() } else { None }).collect()
}

fn events(out: &[Output]) -> Vec<Event> {
    out.iter().filter_map(|o| if let Output::Event(e) = o { Some(e.clone()) } else { None }).collect()
}

fn requests(out: &[Output]) -> Vec<(DeviceId, Body)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Request { device, message } => {
                let body = manscdp::parse(&message.body, message.headers.get("Content-Type"), &XmlLimits::default());
                Some((device.clone(), body.expect("our own body parses").body))
            }
            _ => None,
        })
        .collect()
}

/// Registers `device` with its password through the 401 challenge; returns the outputs of the second REGISTER.
fn registered(p: &mut Platform, device: &str, password: &str, now: OffsetDateTime) -> Vec<Output> {
    let first = p.receive(register(device, 1, 3600, None), now, "nonce-1");
    let Some(Output::Reply(challenge)) = first.first() else { panic!("no 401: {first:?}") };
    assert_eq!(challenge.status(), Some(401));
    let header = challenge.headers.get("WWW-Authenticate").expect("a challenge");
    assert!(header.contains("realm=\"3302120000\"") && header.contains("nonce=\"nonce-1\""), "{header}");
    let ch = Challenge { realm: "3302120000".into(), nonce: "nonce-1".into(), qop: false };
    let creds =
        Credentials::answer(&ch, device, &Password::new(password), "REGISTER", "sip:33021200002000000001@3302120000");
    p.receive(register(device, 2, 3600, Some(&creds.header())), now, "nonce-2")
}

#[test]
fn register_with_digest_then_online_and_catalog_device_info_and_device_status_queries() {
    let mut p = platform();
    let out = registered(&mut p, CAMERA, "cam-pass", T0);
    assert_eq!(replies(&out), vec![200]);
    let Some(Output::Reply(ok)) = out.first() else { panic!("{out:?}") };
    assert_eq!(ok.headers.get("Date"), Some("2026-12-06T08:00:00.000"), "校时: local time, no zone");
    assert_eq!(ok.headers.get("Expires"), Some("3600"));
    assert_eq!(
        events(&out),
        vec![
            Event::Registered { device: id(CAMERA), expires: 3600, refresh: false, at: T0 },
            Event::Online { device: id(CAMERA), at: T0 },
        ]
    );
    let queries: Vec<_> = requests(&out)
        .into_iter()
        .map(|(d, b)| match b {
            Body::Query { cmd_type, device_id, .. } => (d, cmd_type, device_id),
            other => panic!("not a query: {other:?}"),
        })
        .collect();
    assert_eq!(
        queries,
        vec![
            (id(CAMERA), "Catalog".to_owned(), CAMERA.to_owned()),
            (id(CAMERA), "DeviceInfo".to_owned(), CAMERA.to_owned()),
            (id(CAMERA), "DeviceStatus".to_owned(), CAMERA.to_owned()),
        ]
    );
    let Some(Output::Request { message, .. }) = out.iter().find(|o| matches!(o, Output::Request { .. })) else {
        panic!("no request")
    };
    assert_eq!(
        message.start,
        StartLine::Request { method: Method::Message, uri: format!("sip:{CAMERA}@192.168.1.64:5060") },
        "sent to the contact it registered"
    );
    assert!(p.is_online(&id(CAMERA)) && p.is_registered(&id(CAMERA)));
    assert_eq!(p.counters().iter().collect::<Vec<_>>(), vec![("device_status_asked", 1)], "nothing refused");
}

#[test]
fn wrong_password_is_refused_counted_and_never_online() {
    let mut p = platform();
    let out = registered(&mut p, CAMERA, "guess", T0);
    assert_eq!(replies(&out), vec![403]);
    assert_eq!(events(&out), vec![Event::AuthRefused { device: id(CAMERA), reason: AuthError::WrongPassword, at: T0 }]);
    assert_eq!(p.counters().get("auth_wrong_password"), 1);
    assert!(!p.is_online(&id(CAMERA)) && !p.is_registered(&id(CAMERA)));
    // The NVR's password does not open the camera either.
    let out = registered(&mut p, CAMERA, "nvr-pass", T0);
    assert_eq!(replies(&out), vec![403]);
    assert_eq!(p.counters().get("auth_wrong_password"), 2);
}

#[test]
fn replayed_authorization_is_challenged_again_not_accepted() {
    let mut p = platform();
    registered(&mut p, CAMERA, "cam-pass", T0);
    // The same Authorization again (its nonce was used up): a fresh 401, no registration event.
    let ch = Challenge { realm: "3302120000".into(), nonce: "nonce-1".into(), qop: false };
    let creds = Credentials::answer(&ch, CAMERA, &Password::new("cam-pass"), "REGISTER", "sip:x");
    let out = p.receive(register(CAMERA, 3, 3600, Some(&creds.header())), at(10), "nonce-3");
    assert_eq!(replies(&out), vec![401]);
    assert!(events(&out).is_empty());
    assert_eq!(p.counters().get("auth_unknown_nonce"), 1);
}

#[test]
fn keepalives_keep_it_online_until_interval_times_count_then_offline_then_back() {
    let mut p = platform();
    registered(&mut p, CAMERA, "cam-pass", T0);
    let keepalive = |sn| message(CAMERA, manscdp::keepalive(sn, &id(CAMERA)));
    // The DeviceStatus query asked at registration times out at 30 s (a deadline of its own).
    assert_eq!(p.next_deadline(), Some(at(30)));
    assert!(p.poll(at(30)).is_empty());
    assert_eq!(p.counters().get("device_status_unanswered"), 1);
    let out = p.receive(keepalive(1), at(60), "n");
    assert_eq!((replies(&out), events(&out)), (vec![200], vec![]));
    assert_eq!(p.next_deadline(), Some(at(60 + 180)));
    assert!(p.poll(at(239)).is_empty(), "still within 3 × 60 s");
    let out = p.poll(at(240));
    assert_eq!(
        events(&out),
        vec![Event::Offline {
            device: id(CAMERA),
            at: at(240),
            last_keepalive: Some(at(60)),
            reason: OfflineReason::KeepaliveTimeout
        }]
    );
    assert!(p.poll(at(300)).is_empty(), "one transition, not one per poll");
    let out = p.receive(keepalive(2), at(400), "n");
    assert_eq!(events(&out), vec![Event::Online { device: id(CAMERA), at: at(400) }]);
}

/// The offline record's time is written to the millisecond (`occurred_at`); the keepalive it names must be too, or
/// a poll within a millisecond of the deadline signs an offline less than interval × count after its keepalive.
#[test]
fn an_offline_is_never_signed_less_than_interval_times_count_after_the_keepalive_it_names() {
    let mut p = platform();
    registered(&mut p, CAMERA, "cam-pass", T0);
    let keepalive_at = at(60) + time::Duration::nanoseconds(123_456_789);
    p.receive(message(CAMERA, manscdp::keepalive(1, &id(CAMERA))), keepalive_at, "n");
    // Polled at each deadline the platform names (the status query's, then the keepalives'), as the agent does.
    let mut out = Vec::new();
    for _ in 0..4 {
        out = p.poll(p.next_deadline().expect("a deadline"));
        if !events(&out).is_empty() {
            break;
        }
    }
    let Some(Event::Offline { at: offline_at, last_keepalive: Some(last), .. }) = events(&out).into_iter().next()
    else {
        panic!("offline at the deadline: {:?}", events(&out));
    };
    assert_eq!(last, at(60) + time::Duration::milliseconds(123), "the keepalive to the millisecond");
    let written = offline_at.replace_nanosecond(offline_at.nanosecond() / 1_000_000 * 1_000_000).expect("ms");
    assert!(written - last >= time::Duration::seconds(180), "{written} - {last}");
}

#[test]
fn re_register_after_offline_is_online_again_and_refresh_does_not_requery() {
    let mut p = platform();
    registered(&mut p, CAMERA, "cam-pass", T0);
    p.poll(at(180));
    assert!(!p.is_online(&id(CAMERA)));
    let out = registered(&mut p, CAMERA, "cam-pass", at(500));
    assert_eq!(
        events(&out),
        vec![
            Event::Registered { device: id(CAMERA), expires: 3600, refresh: true, at: at(500) },
            Event::Online { device: id(CAMERA), at: at(500) },
        ]
    );
    assert!(requests(&out).is_empty(), "a refresh does not ask for the catalog again");
}

#[test]
fn unregister_and_expiry_end_the_registration() {
    let mut p = platform();
    registered(&mut p, CAMERA, "cam-pass", T0);
    let ch = Challenge { realm: "3302120000".into(), nonce: "nonce-9".into(), qop: false };
    p.receive(register(CAMERA, 5, 0, None), at(30), "nonce-9");
    let creds = Credentials::answer(&ch, CAMERA, &Password::new("cam-pass"), "REGISTER", "sip:x");
    let out = p.receive(register(CAMERA, 6, 0, Some(&creds.header())), at(31), "n");
    assert_eq!(replies(&out), vec![200]);
    assert_eq!(
        events(&out),
        vec![
            Event::Unregistered { device: id(CAMERA), at: at(31) },
            Event::Offline {
                device: id(CAMERA),
                at: at(31),
                last_keepalive: Some(T0),
                reason: OfflineReason::Unregistered
            },
        ]
    );
    assert!(!p.is_registered(&id(CAMERA)));

    // Expiry: a 120 s registration with keepalives, not refreshed.
    let mut p = platform();
    let first = p.receive(register(NVR, 1, 120, None), T0, "k");
    assert_eq!(replies(&first), vec![401]);
    let ch = Challenge { realm: "3302120000".into(), nonce: "k".into(), qop: false };
    let creds = Credentials::answer(&ch, NVR, &Password::new("nvr-pass"), "REGISTER", "sip:x");
    p.receive(register(NVR, 2, 120, Some(&creds.header())), T0, "k2");
    p.receive(message(NVR, manscdp::keepalive(1, &id(NVR))), at(100), "n");
    let out = p.poll(at(120));
    assert_eq!(
        events(&out),
        vec![
            Event::Unregistered { device: id(NVR), at: at(120) },
            Event::Offline {
                device: id(NVR),
                at: at(120),
                last_keepalive: Some(at(100)),
                reason: OfflineReason::RegistrationExpired
            },
        ]
    );
}

#[test]
fn nvr_catalog_of_four_channels_in_two_parts_is_one_event() {
    let mut p = platform();
    registered(&mut p, NVR, "nvr-pass", T0);
    let nvr = id(NVR);
    let ch: Vec<(DeviceId, &str, bool)> =
        (1..=4).map(|i| (id(&format!("3302120000132000010{i}")), "塔吊", true)).collect();
    let out = p.receive(message(NVR, manscdp::catalog_response(1, &nvr, 4, &ch[..2])), at(1), "n");
    assert_eq!((replies(&out), events(&out)), (vec![200], vec![]));
    let out = p.receive(message(NVR, manscdp::catalog_response(1, &nvr, 4, &ch[2..])), at(1), "n");
    let evs = events(&out);
    let [Event::Catalog { device, items, rejected }] = evs.as_slice() else { panic!("{out:?}") };
    assert_eq!((device, *rejected), (&nvr, 0));
    let ids: Vec<_> = items.iter().map(|i| i.device_id.clone()).collect();
    assert_eq!(ids, ch.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
    assert!(items.iter().all(|i| i.device_id.class() == crate::gb28181::DeviceClass::Camera && i.name == "塔吊"));
}

#[test]
fn alarm_is_an_event_and_answered_with_result_ok() {
    let mut p = platform();
    registered(&mut p, NVR, "nvr-pass", T0);
    let alarm = AlarmNotify {
        sn: 77,
        device_id: id("33021200001320000102"),
        priority: siteledger_domain::site::AlarmPriority::new(2).expect("1-4"),
        method: siteledger_domain::site::AlarmMethod::new(5).expect("1-7"),
        alarm_type: Some(2),
        time: at(5),
        description: Some("区域入侵".into()),
    };
    let out = p.receive(message(NVR, manscdp::alarm_notify(&alarm)), at(6), "n");
    assert_eq!(replies(&out), vec![200]);
    assert_eq!(events(&out), vec![Event::Alarm { device: id(NVR), alarm: alarm.clone() }]);
    let reqs = requests(&out);
    let [(to, Body::Other { root, cmd_type, sn })] = reqs.as_slice() else { panic!("{out:?}") };
    assert_eq!((to, *root, cmd_type.as_str(), *sn), (&id(NVR), Root::Response, "Alarm", Some(77)));
}

#[test]
fn strangers_unregistered_and_malformed_bodies_are_refused_and_counted() {
    let mut p = platform();
    let stranger = "33021200001320000999";
    let out = p.receive(register(stranger, 1, 3600, None), T0, "n");
    assert_eq!(replies(&out), vec![403]);
    assert_eq!(p.counters().get("register_unknown_device"), 1);

    let out = p.receive(message(CAMERA, manscdp::keepalive(1, &id(CAMERA))), T0, "n");
    assert_eq!((replies(&out), events(&out)), (vec![403], vec![]), "keepalive before registering");
    assert_eq!(p.counters().get("message_from_unregistered"), 1);

    registered(&mut p, CAMERA, "cam-pass", T0);
    let laughs =
        b"<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY a \"aaaaaaaa\">]><Notify><CmdType>Keepalive</CmdType></Notify>";
    let out = p.receive(message(CAMERA, laughs.to_vec()), at(1), "n");
    assert_eq!(replies(&out), vec![400]);
    assert_eq!(p.counters().get("xml_doctype_refused"), 1);
    let out = p.receive(message(CAMERA, b"<Notify><CmdType>Keep".to_vec()), at(2), "n");
    assert_eq!(replies(&out), vec![400]);
    assert_eq!(p.counters().get("xml_syntax"), 1);

    assert!(p.receive_datagram(b"REGISTER sip:x SIP/2.0\r\nContent-Length: 9\r\n\r\n", at(3), "n").is_empty());
    assert_eq!(p.counters().get("sip_truncated_body"), 1);
    let bad_from = register("1234", 1, 3600, None);
    assert_eq!(replies(&p.receive(bad_from, at(4), "n")), vec![400]);
    assert_eq!(p.counters().get("id_not_20_digits"), 1);
}

#[test]
fn a_catalog_that_never_completes_or_is_too_large_stays_bounded() {
    let mut config = PlatformConfig::new(id(PLATFORM), "10.0.0.1:5060");
    config.max_catalog_items = 5;
    let mut p = Platform::new(config, "s");
    p.add_device(id(NVR), Password::new("nvr-pass"));
    registered(&mut p, NVR, "nvr-pass", T0);
    let nvr = id(NVR);
    let two: Vec<(DeviceId, &str, bool)> =
        (1..=2).map(|i| (id(&format!("3302120000132000010{i}")), "c", true)).collect();
    let out = p.receive(message(NVR, manscdp::catalog_response(1, &nvr, 100, &two)), at(1), "n");
    assert_eq!((replies(&out), events(&out)), (vec![200], vec![]));
    assert_eq!(p.counters().get("catalog_too_large"), 1, "SumNum over the bound");
    // SumNum within the bound but more items keep coming under it than it said.
    for _ in 0..3 {
        p.receive(message(NVR, manscdp::catalog_response(2, &nvr, 5, &two)), at(2), "n");
    }
    assert_eq!(p.counters().get("catalog_too_large"), 2, "more items than the bound");
    // Many SNs left open: only the newest few are kept.
    for sn in 10..20 {
        p.receive(message(NVR, manscdp::catalog_response(sn, &nvr, 5, &two)), at(3), "n");
    }
    assert_eq!(p.counters().get("catalog_abandoned"), 6);
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Register { nvr: bool, right_password: bool, expires: u32 },
    Keepalive { nvr: bool },
    Advance { seconds: i64 },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<bool>(), any::<bool>(), prop_oneof![Just(0u32), Just(120), Just(3600)])
            .prop_map(|(nvr, right_password, expires)| Step::Register { nvr, right_password, expires }),
        any::<bool>().prop_map(|nvr| Step::Keepalive { nvr }),
        (1i64..400).prop_map(|seconds| Step::Advance { seconds }),
    ]
}

proptest::proptest! {
    /// Whatever devices do and however time passes: online implies registered, each device's status events
    /// alternate online/offline starting with online, every transition is at a time not before the previous one,
    /// and an offline device was silent for at least interval × count or unregistered.
    #[test]
    fn status_transitions_alternate_and_online_implies_registered(steps in proptest::collection::vec(step(), 1..40)) {
        let mut p = platform();
        let mut now = T0;
        let mut last: BTreeMap<DeviceId, (bool, OffsetDateTime)> = BTreeMap::new();
        let mut cseq = 10;
        for s in steps {
            let out = match s {
                Step::Register { nvr, right_password, expires } => {
                    let (dev, pw) = if nvr { (NVR, "nvr-pass") } else { (CAMERA, "cam-pass") };
                    cseq += 2;
                    p.receive(register(dev, cseq, expires, None), now, "nn");
                    let ch = Challenge { realm: "3302120000".into(), nonce: "nn".into(), qop: false };
                    let pw = if right_password { pw } else { "wrong" };
                    let creds = Credentials::answer(&ch, dev, &Password::new(pw), "REGISTER", "sip:x");
                    p.receive(register(dev, cseq + 1, expires, Some(&creds.header())), now, "nn")
                }
                Step::Keepalive { nvr } => {
                    let dev = if nvr { NVR } else { CAMERA };
                    p.receive(message(dev, manscdp::keepalive(1, &id(dev))), now, "nn")
                }
                Step::Advance { seconds } => {
                    now += Duration::seconds(seconds);
                    p.poll(now)
                }
            };
            for e in events(&out) {
                let (device, online, at) = match e {
                    Event::Online { device, at } => (device, true, at),
                    Event::Offline { device, at, last_keepalive, reason } => {
                        if reason == OfflineReason::KeepaliveTimeout {
                            let seen = last_keepalive.expect("a timed-out device was seen");
                            proptest::prop_assert!(at - seen >= Duration::seconds(180));
                        }
                        (device, false, at)
                    }
                    _ => continue,
                };
                let before = last.get(&device).copied();
                proptest::prop_assert_eq!(before.is_some_and(|b| b.0), !online, "transitions alternate");
                proptest::prop_assert!(before.is_none_or(|b| b.1 <= at));
                last.insert(device, (online, at));
            }
            for dev in [CAMERA, NVR] {
                let d = id(dev);
                proptest::prop_assert!(!p.is_online(&d) || p.is_registered(&d), "online implies registered");
                proptest::prop_assert_eq!(p.is_online(&d), last.get(&d).is_some_and(|l| l.0));
            }
        }
    }
}

/// `(about, SN)` of each `DeviceStatus` query among `out`.
fn status_queries(out: &[Output]) -> Vec<(String, u32)> {
    requests(out)
        .into_iter()
        .filter_map(|(_, b)| match b {
            Body::Query { cmd_type, sn, device_id } if cmd_type == "DeviceStatus" => Some((device_id, sn)),
            _ => None,
        })
        .collect()
}

fn channel(i: u32) -> DeviceId {
    id(&format!("3302120000132000010{i}"))
}

/// An NVR is asked DeviceStatus at registration, each camera channel once its catalog is complete, and all again
/// every `device_status_every`; answers are matched to the query (SN and DeviceID), counted answered, and
/// unanswered ones counted when they time out; an answer to nothing asked is counted and ignored.
#[test]
fn device_status_is_asked_after_registration_and_catalog_then_periodically_and_answers_are_matched() {
    let mut p = platform();
    let nvr = id(NVR);
    let out = registered(&mut p, NVR, "nvr-pass", T0);
    let own = status_queries(&out);
    assert_eq!(own.iter().map(|q| q.0.as_str()).collect::<Vec<_>>(), vec![NVR]);
    let ch: Vec<(DeviceId, &str, bool)> = (1..=2).map(|i| (channel(i), "塔吊", true)).collect();
    let out = p.receive(message(NVR, manscdp::catalog_response(1, &nvr, 2, &ch)), at(1), "n");
    let asked = status_queries(&out);
    assert_eq!(
        asked.iter().map(|q| q.0.clone()).collect::<Vec<_>>(),
        vec![channel(1).to_string(), channel(2).to_string()]
    );

    // Channel 2 answered OFFLINE by its NVR: an event, with the rule saying "not working".
    let answer = manscdp::device_status_response(asked[1].1, &channel(2), false, true, &[]);
    let out = p.receive(message(NVR, answer.clone()), at(2), "n");
    let evs = events(&out);
    let [Event::DeviceStatus { device, status, at: when }] = evs.as_slice() else { panic!("{out:?}") };
    assert_eq!((device, &status.device_id, *when), (&nvr, &channel(2), at(2)));
    assert_eq!(reported_working(status), Some(false));
    // The same answer again (a retransmission), and one about another id than asked: counted, no event.
    assert!(events(&p.receive(message(NVR, answer), at(2), "n")).is_empty());
    let wrong = manscdp::device_status_response(asked[0].1, &channel(2), true, true, &[]);
    assert!(events(&p.receive(message(NVR, wrong), at(2), "n")).is_empty());
    // The NVR's answer about itself, with an Alarmstatus item per channel: working.
    let mine = manscdp::device_status_response(own[0].1, &nvr, true, true, &[channel(1), channel(2)]);
    let evs = events(&p.receive(message(NVR, mine), at(3), "n"));
    let [Event::DeviceStatus { status, .. }] = evs.as_slice() else { panic!("{evs:?}") };
    assert_eq!((reported_working(status), status.alarm_status.len()), (Some(true), 2));
    assert_eq!((p.counters().get("device_status_asked"), p.counters().get("device_status_answered")), (3, 2));
    assert_eq!((p.counters().get("device_status_unsolicited"), p.counters().get("device_status_id_mismatch")), (1, 1));

    // Channel 1 never answers: unanswered after the 30 s timeout.
    assert!(p.poll(at(31)).is_empty());
    assert_eq!(p.counters().get("device_status_unanswered"), 1);

    // 600 s after registration: a new round (the NVR and both channels), with keepalives keeping it online.
    p.receive(message(NVR, manscdp::keepalive(2, &nvr)), at(590), "n");
    assert_eq!(p.next_deadline(), Some(at(600)));
    let round = status_queries(&p.poll(at(600)));
    assert_eq!(round.len(), 3);
    assert!(round.iter().all(|(_, sn)| asked.iter().all(|(_, old)| old != sn)), "fresh SNs");
    assert_eq!(p.next_deadline(), Some(at(630)));
    // An unregistered device is not asked.
    let mut q = platform();
    assert!(q.query_status(&nvr, T0).is_empty());
}

#[test]
fn the_rule_offline_or_error_is_not_working_a_failed_query_says_nothing() {
    let s = |online, working, ok| manscdp::DeviceStatus {
        sn: 1,
        device_id: id(CAMERA),
        ok,
        online,
        working,
        recording: None,
        encoding: None,
        device_time: None,
        alarm_status: Vec::new(),
        alarm_status_rejected: 0,
    };
    assert_eq!(reported_working(&s(Some(true), Some(true), true)), Some(true));
    assert_eq!(reported_working(&s(None, None, true)), Some(true));
    assert_eq!(reported_working(&s(Some(false), Some(true), true)), Some(false));
    assert_eq!(reported_working(&s(Some(true), Some(false), true)), Some(false));
    assert_eq!(reported_working(&s(Some(false), Some(false), false)), None);
}

/// A session taken back after a restart keeps the persisted times: keepalives within interval × count of the
/// persisted last one keep it online without an event; without them, it goes offline from the persisted keepalive.
#[test]
fn a_restored_session_keeps_its_times_online_without_an_event_or_offline_from_the_persisted_keepalive() {
    let mut before = platform();
    registered(&mut before, NVR, "nvr-pass", T0);
    let nvr = id(NVR);
    let ch: Vec<(DeviceId, &str, bool)> = vec![(channel(1), "塔吊", true)];
    before.receive(message(NVR, manscdp::catalog_response(1, &nvr, 1, &ch)), at(1), "n");
    before.receive(message(NVR, manscdp::keepalive(1, &nvr)), at(60), "n");
    let snapshot: BTreeMap<DeviceId, SessionState> = before.snapshot().into_iter().collect();
    let kept = snapshot[&nvr].clone();
    assert_eq!(
        (kept.last_keepalive, kept.online, kept.registered_until, kept.channels.clone()),
        (Some(at(60)), true, Some(at(3600)), vec![channel(1)])
    );
    assert!(!snapshot[&id(CAMERA)].online);

    // It keeps its keepalives: online at once, no event, a keepalive within the interval is just answered.
    let mut after = platform();
    assert!(after.restore(&nvr, kept.clone()));
    assert!(!after.restore(&id("33021200001320000077"), kept.clone()), "not configured");
    assert!(after.is_online(&nvr) && after.is_registered(&nvr));
    // Nothing is asked before it is heard from: the agent would not know where to send it.
    assert!(status_queries(&after.poll(at(110))).is_empty());
    let out = after.receive(message(NVR, manscdp::keepalive(2, &nvr)), at(120), "n");
    assert_eq!((replies(&out), events(&out)), (vec![200], vec![]));
    // Asked DeviceStatus once heard from again, about itself and its restored channel.
    let asked = status_queries(&after.poll(at(120)));
    assert_eq!(asked.iter().map(|q| q.0.clone()).collect::<Vec<_>>(), vec![NVR.to_owned(), channel(1).to_string()]);

    // It never comes back: offline at 60 + 180 s, from the persisted keepalive.
    let mut after = platform();
    after.restore(&nvr, kept.clone());
    assert_eq!(after.next_deadline(), Some(at(240)), "its keepalive timeout, from the persisted keepalive");
    let out = after.poll(at(240));
    assert_eq!(
        events(&out),
        vec![Event::Offline {
            device: nvr.clone(),
            at: at(240),
            last_keepalive: Some(at(60)),
            reason: OfflineReason::KeepaliveTimeout
        }]
    );

    // The agent was down past the timeout and the registration: offline at the first poll, still from it.
    let mut after = platform();
    after.restore(&nvr, kept);
    let out = after.poll(at(4000));
    assert_eq!(
        events(&out),
        vec![
            Event::Unregistered { device: nvr.clone(), at: at(4000) },
            Event::Offline {
                device: nvr,
                at: at(4000),
                last_keepalive: Some(at(60)),
                reason: OfflineReason::RegistrationExpired
            },
        ]
    );
}
