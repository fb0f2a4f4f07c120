//! A platform and simulated devices talking through encoded datagrams in memory: the whole exchange of the
//! acceptance scenario (register with digest and a wrong password, keepalives, an NVR's catalog of 4 channels,
//! an alarm, keepalives stopping, re-registering, unregistering) without sockets.

use time::macros::datetime;

use super::*;
use crate::gb28181::AuthError;
use crate::gb28181::manscdp::AlarmNotify;
use crate::gb28181::session::{Event, OfflineReason, Output, Platform, PlatformConfig, reported_working};
use crate::gb28181::sip::{Limits, parse_datagram};

const T0: OffsetDateTime = datetime!(2026-12-06 08:00:00 +08:00);

fn id(s: &str) -> DeviceId {
    DeviceId::parse(s).expect("valid id")
}

fn wire(m: &Message) -> Message {
    parse_datagram(&m.encode(), &Limits::default()).expect("valid").expect("a message")
}

/// Delivers `to_platform` and everything it causes, back and forth, until quiet; returns the platform's events.
fn exchange(p: &mut Platform, d: &mut Device, to_platform: Vec<Message>, now: OffsetDateTime) -> Vec<Event> {
    let mut events = Vec::new();
    let mut queue = to_platform;
    let mut rounds = 0;
    while !queue.is_empty() {
        rounds += 1;
        assert!(rounds < 20, "the exchange settles");
        let mut to_device = Vec::new();
        for m in queue.drain(..) {
            for o in p.receive(wire(&m), now, &format!("nonce{rounds}")) {
                match o {
                    Output::Reply(m) | Output::Request { message: m, .. } => to_device.push(m),
                    Output::Event(e) => events.push(e),
                }
            }
        }
        for m in to_device {
            queue.extend(d.receive(&wire(&m), now));
        }
    }
    events
}

fn nvr_config(password: &str) -> DeviceConfig {
    DeviceConfig {
        id: id("33021200001180000001"),
        password: Password::new(password),
        platform: id("33021200002000000001"),
        host: "192.168.1.108:5060".into(),
        transport: "UDP",
        expires: 3600,
        keepalive_interval: Duration::seconds(60),
        channels: (1..=4).map(|i| (id(&format!("3302120000132000000{i}")), format!("通道{i}"))).collect(),
    }
}

fn platform() -> Platform {
    let mut p = Platform::new(PlatformConfig::new(id("33021200002000000001"), "10.0.0.1:5060"), "p");
    p.add_device(id("33021200001180000001"), Password::new("nvr-pass"));
    p
}

#[test]
fn nvr_registers_reports_four_channels_alarms_goes_silent_and_comes_back() {
    let mut p = platform();
    let mut nvr = Device::new(nvr_config("nvr-pass"));
    let nvr_id = id("33021200001180000001");

    let first = nvr.register();
    let events = exchange(&mut p, &mut nvr, vec![first], T0);
    assert!(nvr.is_registered());
    let kinds: Vec<_> = events.iter().map(std::mem::discriminant).collect();
    // Registered, Online, Catalog, DeviceInfo, and DeviceStatus about the NVR and each of its 4 channels.
    assert_eq!(kinds.len(), 9, "{events:?}");
    assert_eq!(events[0], Event::Registered { device: nvr_id.clone(), expires: 3600, refresh: false, at: T0 });
    assert_eq!(events[1], Event::Online { device: nvr_id.clone(), at: T0 });
    let Some(Event::Catalog { items, rejected: 0, .. }) = events.iter().find(|e| matches!(e, Event::Catalog { .. }))
    else {
        panic!("no catalog: {events:?}")
    };
    let names: Vec<_> = items.iter().map(|i| (i.device_id.type_code(), i.name.as_str())).collect();
    assert_eq!(names, vec![(132, "通道1"), (132, "通道2"), (132, "通道3"), (132, "通道4")]);
    assert!(events.iter().any(|e| matches!(e, Event::DeviceInfo(info) if info.channels == Some(4))));
    let answered: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::DeviceStatus { status, .. } => Some((status.device_id.type_code(), reported_working(status))),
            _ => None,
        })
        .collect();
    assert_eq!(
        answered,
        vec![(118, Some(true)), (132, Some(true)), (132, Some(true)), (132, Some(true)), (132, Some(true))]
    );
    assert_eq!(p.counters().get("device_status_answered"), 5);

    // Keepalives every 60 s keep it online.
    for minute in 1..=3 {
        let now = T0 + Duration::minutes(minute);
        let due = nvr.poll(now);
        assert_eq!(due.len(), 1, "one keepalive due");
        assert!(exchange(&mut p, &mut nvr, due, now).is_empty());
        assert!(p.poll(now).is_empty());
    }

    // An alarm from channel 2: one event, answered.
    let alarm = AlarmNotify {
        sn: 0,
        device_id: id("33021200001320000002"),
        priority: siteledger_domain::site::AlarmPriority::new(1).expect("1-4"),
        method: siteledger_domain::site::AlarmMethod::new(5).expect("1-7"),
        alarm_type: Some(2),
        time: T0 + Duration::seconds(200),
        description: Some("区域入侵".into()),
    };
    let msg = nvr.alarm(alarm);
    let events = exchange(&mut p, &mut nvr, vec![msg], T0 + Duration::seconds(201));
    let [Event::Alarm { device, alarm }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((device, alarm.device_id.as_str(), alarm.priority.get()), (&nvr_id, "33021200001320000002", 1));

    // The network drops: no keepalive after minute 3; offline at 3 + 3 × 1 minutes, from the last keepalive.
    nvr.set_silent(true);
    let last = T0 + Duration::minutes(3);
    for minute in 4..=5 {
        assert!(nvr.poll(T0 + Duration::minutes(minute)).is_empty());
        assert!(p.poll(T0 + Duration::minutes(minute)).is_empty());
    }
    let at = T0 + Duration::minutes(6);
    assert_eq!(
        p.poll(at),
        vec![Output::Event(Event::Offline {
            device: nvr_id.clone(),
            at,
            last_keepalive: Some(last),
            reason: OfflineReason::KeepaliveTimeout
        })]
    );

    // Back: it re-registers (a refresh of a live registration) and is online again.
    nvr.set_silent(false);
    let back = T0 + Duration::minutes(10);
    let again = nvr.register();
    let events = exchange(&mut p, &mut nvr, vec![again], back);
    assert_eq!(
        events,
        vec![
            Event::Registered { device: nvr_id.clone(), expires: 3600, refresh: true, at: back },
            Event::Online { device: nvr_id.clone(), at: back },
        ]
    );

    // Unregistering (注销) through the same challenge.
    let bye = nvr.unregister();
    let events = exchange(&mut p, &mut nvr, vec![bye], back + Duration::minutes(1));
    assert!(matches!(
        events.as_slice(),
        [Event::Unregistered { .. }, Event::Offline { reason: OfflineReason::Unregistered, .. }]
    ));
    assert!(!nvr.is_registered() && !p.is_registered(&nvr_id));
    // Nothing refused: the only counts are of the DeviceStatus queries asked and answered.
    let counts: Vec<_> = p.counters().iter().collect();
    assert_eq!(counts, vec![("device_status_answered", 5), ("device_status_asked", 5)], "nothing refused");
}

#[test]
fn nvr_with_a_wrong_password_is_refused_and_counted() {
    let mut p = platform();
    let mut nvr = Device::new(nvr_config("not-the-password"));
    let first = nvr.register();
    let events = exchange(&mut p, &mut nvr, vec![first], T0);
    assert!(matches!(events.as_slice(), [Event::AuthRefused { reason: AuthError::WrongPassword, .. }]), "{events:?}");
    assert!(!nvr.is_registered());
    assert!(!p.is_online(&id("33021200001180000001")));
    assert_eq!(p.counters().get("auth_wrong_password"), 1);
}

#[test]
fn with_qop_auth_offered_the_device_answers_with_qop() {
    let mut config = PlatformConfig::new(id("33021200002000000001"), "10.0.0.1:5060");
    config.qop = true;
    let mut p = Platform::new(config, "p");
    p.add_device(id("33021200001180000001"), Password::new("nvr-pass"));
    let mut nvr = Device::new(nvr_config("nvr-pass"));
    let first = nvr.register();
    let events = exchange(&mut p, &mut nvr, vec![first], T0);
    assert!(matches!(events.first(), Some(Event::Registered { .. })), "{events:?}");
}
