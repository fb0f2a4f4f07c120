//! GB/T 28181 cameras and NVRs against the running agent over real loopback UDP and TCP: the device role
//! (`gb28181::device`) plays the NVR or camera, the agent is its platform, and every outcome is read back as a
//! signed envelope from the agent's queue (the platform URL is a closed port, so nothing leaves it) or from its
//! status counters (`GET /v1/status`). Keepalives run on the agent's real clock (1 s interval × 3), so the waits
//! below are bounded waits for a condition, never fixed sleeps.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use siteledger_domain::site::{AlarmMethod, AlarmPriority};
use siteledger_gateway_agent::config::{Gb28181Config, Gb28181Device};
use siteledger_gateway_agent::gb28181::device::{Device, DeviceConfig};
use siteledger_gateway_agent::gb28181::manscdp::AlarmNotify;
use siteledger_gateway_agent::gb28181::{DeviceId, Limits, Message, Password, StreamFramer, parse_datagram};
use siteledger_gateway_agent::{Agent, AgentConfig, AgentHandle};
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const PLATFORM: &str = "33021200002000000001";
const NVR: &str = "33021200001180000001";
const CAMERA: &str = "33021200001320000009";
const SEED: [u8; 32] = [7; 32];

fn id(s: &str) -> DeviceId {
    DeviceId::parse(s).expect("a valid id")
}

fn channel(i: u32) -> String {
    format!("3302120000132000000{i}")
}

async fn agent(dir: &tempfile::TempDir) -> AgentHandle {
    agent_with(dir, |_| {}).await
}

async fn agent_with(dir: &tempfile::TempDir, tune: impl FnOnce(&mut Gb28181Config)) -> AgentHandle {
    let mut c =
        AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-V", &dir.path().join("k"), &dir.path().join("q"));
    c.heartbeat_secs = 0;
    c.hj212_listen = None;
    c.http_listen = None;
    let mut g = Gb28181Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), PLATFORM);
    g.keepalive_interval_secs = 1;
    g.keepalive_count = 3;
    g.devices = vec![
        Gb28181Device { id: NVR.into(), password: Some("nvr-pass".into()), password_file: None },
        Gb28181Device { id: CAMERA.into(), password: Some("cam-pass".into()), password_file: None },
    ];
    tune(&mut g);
    c.gb28181 = Some(g);
    Agent::start(c, SigningKey::from_seed(&SEED), "test-token".into()).await.expect("agent starts")
}

/// A device's socket to the agent.
enum Link {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream, StreamFramer),
}

impl Link {
    async fn udp(agent: SocketAddr) -> Link {
        Link::Udp(UdpSocket::bind("127.0.0.1:0").await.expect("bind"), agent)
    }

    async fn tcp(agent: SocketAddr) -> Link {
        Link::Tcp(TcpStream::connect(agent).await.expect("connect"), StreamFramer::new(Limits::default()))
    }

    fn host(&self) -> String {
        match self {
            Link::Udp(s, _) => s.local_addr(),
            Link::Tcp(s, _) => s.local_addr(),
        }
        .expect("local address")
        .to_string()
    }

    async fn send(&mut self, m: &Message) {
        match self {
            Link::Udp(s, to) => {
                s.send_to(&m.encode(), *to).await.expect("send");
            }
            Link::Tcp(s, _) => s.write_all(&m.encode()).await.expect("write"),
        }
    }

    /// The next message from the agent, or `None` when none comes within `wait`.
    async fn recv(&mut self, wait: Duration) -> Option<Message> {
        let mut buf = vec![0u8; 65_536];
        match self {
            Link::Udp(s, _) => {
                let (n, _) = tokio::time::timeout(wait, s.recv_from(&mut buf)).await.ok()?.expect("recv");
                Some(parse_datagram(&buf[..n], &Limits::default()).expect("the agent sends valid SIP")?)
            }
            Link::Tcp(s, framer) => loop {
                if let Some(m) = framer.next_message().expect("the agent sends valid SIP") {
                    return Some(m);
                }
                let n = tokio::time::timeout(wait, s.read(&mut buf)).await.ok()?.expect("read");
                assert!(n > 0, "the agent closed the connection");
                framer.push(&buf[..n]).expect("room");
            },
        }
    }
}

fn device(link: &Link, id_: &str, password: &str, channels: u32) -> Device {
    Device::new(DeviceConfig {
        id: id(id_),
        password: Password::new(password),
        platform: id(PLATFORM),
        host: link.host(),
        transport: if matches!(link, Link::Udp(..)) { "UDP" } else { "TCP" },
        expires: 3600,
        keepalive_interval: time::Duration::seconds(1),
        channels: (1..=channels).map(|i| (id(&channel(i)), format!("通道{i}"))).collect(),
    })
}

/// The signed envelopes in the agent's queue, each checked against the agent's key.
async fn queued(a: &AgentHandle) -> Vec<Envelope> {
    let key = SigningKey::from_seed(&SEED);
    let envs: Vec<Envelope> = a
        .shared
        .store
        .peek(1000)
        .await
        .expect("peek")
        .iter()
        .map(|q| Envelope::parse(&q.envelope).expect("envelope"))
        .collect();
    for e in &envs {
        e.verify(key.public()).expect("signed by the agent's key");
    }
    envs
}

fn of_kind<'a>(envs: &'a [Envelope], kind: &str) -> Vec<&'a Envelope> {
    envs.iter().filter(|e| e.kind() == kind).collect()
}

/// `(device_id, status)` of every `video.camera.status.v1` record, in order.
fn statuses(envs: &[Envelope]) -> Vec<(String, String)> {
    of_kind(envs, "video.camera.status.v1")
        .iter()
        .map(|e| {
            (
                e.payload()["device_id"].as_str().unwrap_or("").into(),
                e.payload()["status"].as_str().unwrap_or("").into(),
            )
        })
        .collect()
}

/// Plays the device (its answers, and its keepalives when due on the real clock) until `done` holds for the
/// agent's queue and status, or fails after 20 s. Returns the number of keepalives the device sent.
async fn drive(
    a: &AgentHandle,
    link: &mut Link,
    dev: &mut Device,
    first: Vec<Message>,
    done: impl Fn(&[Envelope], &Value, usize) -> bool,
) -> usize {
    for m in &first {
        link.send(m).await;
    }
    let mut keepalives = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if done(&queued(a).await, &a.shared.status(), keepalives) {
            return keepalives;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached; queue: {:?}; status: {}",
            statuses(&queued(a).await),
            a.shared.status()
        );
        for m in dev.poll(OffsetDateTime::now_utc()) {
            keepalives += usize::from(m.body.windows(9).any(|w| w == b"Keepalive"));
            link.send(&m).await;
        }
        if let Some(m) = link.recv(Duration::from_millis(50)).await {
            for answer in dev.receive(&m, OffsetDateTime::now_utc()) {
                link.send(&answer).await;
            }
        }
    }
}

fn alarm(channel_id: &str) -> AlarmNotify {
    AlarmNotify {
        sn: 0,
        device_id: id(channel_id),
        priority: AlarmPriority::new(1).expect("1-4"),
        method: AlarmMethod::new(5).expect("1-7"),
        alarm_type: Some(2),
        time: time::macros::datetime!(2026-12-06 08:03:20 +08:00),
        description: Some("区域入侵".into()),
    }
}

#[tokio::test]
async fn an_nvr_over_udp_registers_reports_four_cameras_alarms_goes_offline_and_comes_back() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir).await;
    let addr = a.gb28181_addr.expect("a GB/T 28181 listener");
    let mut link = Link::udp(addr).await;

    // A wrong password first: refused (403), counted, nothing recorded.
    let mut impostor = device(&link, NVR, "not-the-password", 4);
    let first = impostor.register();
    drive(&a, &mut link, &mut impostor, vec![first], |_, s, _| s["gb28181"]["wrong_password"] == 1).await;
    assert!(!impostor.is_registered());
    assert!(queued(&a).await.is_empty());

    // The real NVR: digest registration, then the catalog query it answers with 4 channels (2 per MESSAGE):
    // the 4 channels become cameras, online; the NVR itself is not a camera and gets no status record.
    let mut nvr = device(&link, NVR, "nvr-pass", 4);
    let first = nvr.register();
    drive(&a, &mut link, &mut nvr, vec![first], |q, _, _| statuses(q).len() == 4).await;
    assert!(nvr.is_registered());
    let online: Vec<_> = (1..=4).map(|i| (channel(i), "online".to_owned())).collect();
    assert_eq!(statuses(&queued(&a).await), online);
    for e in of_kind(&queued(&a).await, "video.camera.status.v1") {
        assert_eq!(e.payload()["project_id"], "NB-2025-0001");
        assert!(e.payload().get("last_keepalive_at").is_none(), "online records carry no last keepalive");
    }

    // Keepalives every second keep it online past the 3 s timeout (5 keepalives span 5 s): no new record.
    drive(&a, &mut link, &mut nvr, vec![], |_, _, keepalives| keepalives >= 5).await;
    assert_eq!(statuses(&queued(&a).await).len(), 4, "keepalives kept every camera online");

    // An alarm on channel 2 → one signed video.camera.alarm.v1 for that camera.
    let msg = nvr.alarm(alarm(&channel(2)));
    drive(&a, &mut link, &mut nvr, vec![msg], |q, _, _| of_kind(q, "video.camera.alarm.v1").len() == 1).await;
    let envs = queued(&a).await;
    let p = of_kind(&envs, "video.camera.alarm.v1")[0].payload();
    assert_eq!(
        (&p["device_id"], &p["priority"], &p["method"], &p["alarm_type"], &p["description"]),
        (&Value::from(channel(2)), &Value::from(1), &Value::from(5), &Value::from(2), &Value::from("区域入侵"))
    );
    assert_eq!(p["alarm_at"], "2026-12-06T08:03:20+08:00");

    // Keepalives stop: after interval × count every camera is offline, from the NVR's last keepalive.
    nvr.set_silent(true);
    drive(&a, &mut link, &mut nvr, vec![], |q, _, _| statuses(q).len() == 8).await;
    let envs = queued(&a).await;
    let offline: Vec<_> = (1..=4).map(|i| (channel(i), "offline".to_owned())).collect();
    assert_eq!(statuses(&envs)[4..], offline[..]);
    let status = of_kind(&envs, "video.camera.status.v1");
    let last = status[4].payload()["last_keepalive_at"].as_str().expect("offline records carry the last keepalive");
    let last = siteledger_signer::envelope::parse_time(last).expect("a time");
    assert!(last < status[4].occurred(), "offline is noticed after the last keepalive");
    assert!(status[4].occurred() - last >= time::Duration::seconds(3), "not before interval × count");

    // It re-registers: every camera online again.
    nvr.set_silent(false);
    let again = nvr.register();
    drive(&a, &mut link, &mut nvr, vec![again], |q, _, _| statuses(q).len() == 12).await;
    assert_eq!(statuses(&queued(&a).await)[8..], online[..]);
    let s = a.shared.status();
    assert_eq!(s["gb28181"]["wrong_password"], 1);
    assert_eq!(s["gb28181"]["cameras_online"], 4);
    assert_eq!(s["gb28181"]["malformed"], 0);
    a.shutdown().await;
}

#[tokio::test]
async fn a_camera_over_tcp_registers_and_alarms_and_is_itself_the_camera() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir).await;
    let mut link = Link::tcp(a.gb28181_addr.expect("listener")).await;
    let mut cam = device(&link, CAMERA, "cam-pass", 0);
    let first = cam.register();
    drive(&a, &mut link, &mut cam, vec![first], |q, _, _| statuses(q).len() == 1).await;
    assert_eq!(statuses(&queued(&a).await), vec![(CAMERA.to_owned(), "online".to_owned())]);
    let msg = cam.alarm(alarm(CAMERA));
    drive(&a, &mut link, &mut cam, vec![msg], |q, _, _| of_kind(q, "video.camera.alarm.v1").len() == 1).await;
    assert_eq!(of_kind(&queued(&a).await, "video.camera.alarm.v1")[0].payload()["device_id"], CAMERA);
    assert_eq!(a.shared.status()["gb28181"]["open_connections"], 1);
    a.shutdown().await;
}

/// A camera online for longer than `status_every_secs` without a change gets its status recorded again (the kind
/// promises one at least hourly; the platform counts a camera silent beyond that as offline from its last report).
#[tokio::test]
async fn an_unchanged_online_camera_is_recorded_again_after_the_status_period() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent_with(&dir, |g| g.status_every_secs = 2).await;
    let mut link = Link::tcp(a.gb28181_addr.expect("listener")).await;
    let mut cam = device(&link, CAMERA, "cam-pass", 0);
    let first = cam.register();
    drive(&a, &mut link, &mut cam, vec![first], |q, _, _| statuses(q).len() == 2).await;
    let online = (CAMERA.to_owned(), "online".to_owned());
    assert_eq!(statuses(&queued(&a).await), vec![online.clone(), online]);
    let times: Vec<String> =
        of_kind(&queued(&a).await, "video.camera.status.v1").iter().map(|e| e.occurred_at().to_owned()).collect();
    assert!(times[0] < times[1], "the second record is a later report, not a copy: {times:?}");
    a.shutdown().await;
}

/// Truncated, oversized and non-SIP input over UDP and TCP, and an XML body with entity definitions, never stop
/// the agent: each is counted as malformed and dropped, and the agent goes on answering a real device. (The
/// alarms of the other tests travel GB2312-encoded, as `manscdp::document` writes them and real devices send.)
#[tokio::test]
async fn malformed_sip_over_udp_and_tcp_is_counted_and_the_agent_keeps_serving() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir).await;
    let addr = a.gb28181_addr.expect("listener");
    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let truncated = b"REGISTER sip:33021200002000000001@3302120000 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5060\r\nContent-Length: 500\r\n\r\nshort";
    let oversized = vec![b'A'; 60_000];
    for bytes in [&truncated[..], &oversized, b"\xff\xfe\x00garbage\r\n\r\n"] {
        udp.send_to(bytes, addr).await.expect("send");
    }
    let mut garbage = TcpStream::connect(addr).await.expect("connect");
    garbage.write_all(b"NOT SIP AT ALL\r\nContent-Length: x\r\n\r\n").await.expect("write");
    let mut link = Link::udp(addr).await;
    let mut cam = device(&link, CAMERA, "cam-pass", 0);
    let first = cam.register();
    drive(&a, &mut link, &mut cam, vec![first], |q, s, _| statuses(q).len() == 1 && s["gb28181"]["malformed"] == 4)
        .await;
    // XML entity expansion (a DTD) in a registered camera's MESSAGE: refused (400), counted, nothing recorded.
    let mut laughs = cam.alarm(alarm(CAMERA));
    laughs.body = b"<?xml version=\"1.0\"?>\r\n<!DOCTYPE l [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\r\n<Notify><CmdType>Alarm</CmdType><AlarmDescription>&b;</AlarmDescription></Notify>\r\n".to_vec();
    link.send(&laughs).await;
    // Skip what else is in flight (the platform's queries, answers to keepalives) until the answer to this one.
    let answer = loop {
        let m = link.recv(Duration::from_secs(10)).await.expect("an answer");
        if m.status().is_some() && m.cseq() == laughs.cseq() {
            break m;
        }
    };
    assert_eq!(answer.status(), Some(400));
    let s = a.shared.status();
    assert_eq!((&s["gb28181"]["malformed"], &s["gb28181"]["counters"]["xml_doctype_refused"]), (&5.into(), &1.into()));
    assert!(of_kind(&queued(&a).await, "video.camera.alarm.v1").is_empty());
    // The agent closed the garbage connection after the framing error.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), garbage.read_to_end(&mut rest))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "no answer to garbage");
    a.shutdown().await;
}

/// Waits (bounded, 20 s) until `done` holds for the agent's queue and status, with no device playing.
async fn wait_for(a: &AgentHandle, done: impl Fn(&[Envelope], &Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&queued(a).await, &a.shared.status()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached; queue: {:?}",
            statuses(&queued(a).await)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn state_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("q").join(siteledger_gateway_agent::video::STATE_FILE)
}

/// The same device socket, now towards the restarted agent's address.
fn towards(link: Link, agent: SocketAddr) -> Link {
    match link {
        Link::Udp(s, _) => Link::Udp(s, agent),
        Link::Tcp(..) => panic!("a TCP device reconnects; these tests use UDP"),
    }
}

/// DeviceStatus (设备状态查询) over UDP: the NVR is asked about itself at registration and about each camera channel
/// once its catalog is in; it reports channel 3 OFFLINE (its catalog still says ON), and channel 3 gets an offline
/// record without `last_keepalive_at` (the NVR's keepalives go on; the offline time counts from the record).
#[tokio::test]
async fn a_channel_its_nvr_reports_offline_in_device_status_gets_an_offline_record() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir).await;
    let mut link = Link::udp(a.gb28181_addr.expect("listener")).await;
    let mut nvr = device(&link, NVR, "nvr-pass", 4);
    nvr.set_channel_online(&id(&channel(3)), false);
    let first = nvr.register();
    drive(&a, &mut link, &mut nvr, vec![first], |q, s, _| {
        statuses(q).len() == 5 && s["gb28181"]["counters"]["device_status_answered"] == 5
    })
    .await;
    let envs = queued(&a).await;
    let mut expected: Vec<_> = (1..=4).map(|i| (channel(i), "online".to_owned())).collect();
    expected.push((channel(3), "offline".to_owned()));
    assert_eq!(statuses(&envs), expected);
    let offline = of_kind(&envs, "video.camera.status.v1")[4].payload();
    assert!(offline.get("last_keepalive_at").is_none(), "{offline:?}");
    let s = a.shared.status();
    assert_eq!(s["gb28181"]["cameras_online"], 3);
    assert_eq!(s["gb28181"]["counters"]["device_status_asked"], 5, "the NVR and its 4 channels");
    assert!(s["gb28181"]["counters"].get("device_status_unanswered").is_none(), "{s}");
    a.shutdown().await;
}

/// A camera registered directly that answers its own DeviceStatus with `Status` `ERROR` is recorded offline,
/// although its keepalives go on (over TCP here); the record carries no `last_keepalive_at`.
#[tokio::test]
async fn a_camera_answering_status_error_about_itself_is_recorded_offline() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir).await;
    let mut link = Link::tcp(a.gb28181_addr.expect("listener")).await;
    let mut cam = device(&link, CAMERA, "cam-pass", 0);
    cam.set_working(false);
    let first = cam.register();
    drive(&a, &mut link, &mut cam, vec![first], |q, _, keepalives| statuses(q).len() == 2 && keepalives >= 4).await;
    let envs = queued(&a).await;
    let expected = vec![(CAMERA.to_owned(), "online".to_owned()), (CAMERA.to_owned(), "offline".to_owned())];
    assert_eq!(statuses(&envs), expected, "keepalives do not bring it back");
    assert!(of_kind(&envs, "video.camera.status.v1")[1].payload().get("last_keepalive_at").is_none());
    assert_eq!(a.shared.status()["gb28181"]["cameras_online"], 0);
    a.shutdown().await;
}

/// Restart (a): an NVR online before the agent restarts goes on sending keepalives to the new agent. Its
/// registration, its catalog and its cameras' statuses come back from the state file: the keepalives are accepted
/// (no 403, no re-registration), no online record is repeated, and when it later falls silent its four cameras go
/// offline although it never sent its catalog to the new agent.
#[tokio::test]
async fn an_nvr_that_keeps_its_keepalives_across_an_agent_restart_gets_no_new_online_record() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir).await;
    let mut link = Link::udp(a.gb28181_addr.expect("listener")).await;
    let mut nvr = device(&link, NVR, "nvr-pass", 4);
    let first = nvr.register();
    drive(&a, &mut link, &mut nvr, vec![first], |q, s, _| {
        statuses(q).len() == 4 && s["gb28181"]["counters"]["device_status_answered"] == 5
    })
    .await;
    a.shutdown().await;

    let b = agent(&dir).await;
    let mut link = towards(link, b.gb28181_addr.expect("listener"));
    assert_eq!(b.shared.status()["gb28181"]["cameras_online"], 4, "restored");
    // 5 keepalives span 5 s, past the 3 s timeout; the new agent also asks DeviceStatus (its restored catalog).
    drive(&b, &mut link, &mut nvr, vec![], |_, s, keepalives| {
        keepalives >= 5 && s["gb28181"]["counters"]["device_status_answered"] == 5
    })
    .await;
    assert_eq!(statuses(&queued(&b).await).len(), 4, "no new record after the restart");
    let s = b.shared.status();
    assert!(s["gb28181"]["counters"].get("message_from_unregistered").is_none(), "{s}");
    assert_eq!(s["gb28181"]["cameras_online"], 4);

    nvr.set_silent(true);
    drive(&b, &mut link, &mut nvr, vec![], |q, _, _| statuses(q).len() == 8).await;
    let offline: Vec<_> = (1..=4).map(|i| (channel(i), "offline".to_owned())).collect();
    assert_eq!(statuses(&queued(&b).await)[4..], offline[..]);
    b.shutdown().await;
}

/// Restart (b): a camera online before the restart that never comes back gets, after interval × count, an offline
/// record whose `last_keepalive_at` is the last keepalive the first agent kept in its state file.
#[tokio::test]
async fn a_camera_that_never_returns_after_a_restart_is_offline_from_the_persisted_keepalive() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir).await;
    let mut link = Link::udp(a.gb28181_addr.expect("listener")).await;
    let mut cam = device(&link, CAMERA, "cam-pass", 0);
    let first = cam.register();
    drive(&a, &mut link, &mut cam, vec![first], |q, _, keepalives| statuses(q).len() == 1 && keepalives >= 2).await;
    a.shutdown().await;
    let kept = std::fs::read(state_path(&dir)).expect("the state file");
    let kept = siteledger_gateway_agent::gb28181::state::parse(&kept).expect("a valid state");
    let last = kept.devices[&id(CAMERA)].last_keepalive.expect("a last keepalive");
    assert!(kept.devices[&id(CAMERA)].online);

    let started = OffsetDateTime::now_utc();
    let b = agent(&dir).await;
    wait_for(&b, |q, _| statuses(q).len() == 2).await;
    let envs = queued(&b).await;
    assert_eq!(statuses(&envs)[1], (CAMERA.to_owned(), "offline".to_owned()));
    let record = of_kind(&envs, "video.camera.status.v1")[1];
    let at = record.payload()["last_keepalive_at"].as_str().expect("the last keepalive");
    assert_eq!(siteledger_signer::envelope::parse_time(at).expect("a time"), last);
    assert!(last < started, "from before the restart");
    assert!(record.occurred() - last >= time::Duration::seconds(3), "not before interval × count");
    assert_eq!(b.shared.status()["gb28181"]["cameras_online"], 0);
    b.shutdown().await;
}

/// Restart (c): a damaged state file is reported (logged, counted `state_file_unreadable`) and ignored: the agent
/// starts and serves, and its next write replaces the file with a valid one.
#[tokio::test]
async fn a_corrupt_state_file_is_counted_and_ignored_and_the_agent_serves() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(dir.path().join("q")).expect("queue dir");
    std::fs::write(state_path(&dir), b"{\"version\": 1, \"devices\": {\"3302").expect("damage");
    let a = agent(&dir).await;
    assert_eq!(a.shared.status()["gb28181"]["counters"]["state_file_unreadable"], 1);
    let mut link = Link::udp(a.gb28181_addr.expect("listener")).await;
    let mut cam = device(&link, CAMERA, "cam-pass", 0);
    let first = cam.register();
    drive(&a, &mut link, &mut cam, vec![first], |q, _, _| statuses(q).len() == 1).await;
    a.shutdown().await;
    let kept = std::fs::read(state_path(&dir)).expect("rewritten");
    let kept = siteledger_gateway_agent::gb28181::state::parse(&kept).expect("valid again");
    assert!(kept.cameras[&id(CAMERA)].online);
    // Another version, or more than the size bound: refused the same way.
    std::fs::write(state_path(&dir), b"{\"version\": 9}").expect("write");
    let b = agent(&dir).await;
    assert_eq!(b.shared.status()["gb28181"]["counters"]["state_file_unreadable"], 1);
    assert_eq!(b.shared.status()["gb28181"]["cameras_online"], 0);
    b.shutdown().await;
}

/// The simulator's devices (`gateway-agent simulate`, the demo) from a `[gb28181]` section with password files:
/// an NVR over UDP whose four derived channels become cameras, and an IPC over TCP that goes silent after its
/// first keepalive, is recorded offline by the agent, and registers again (online once more).
#[tokio::test]
async fn the_simulators_devices_register_from_password_files_and_a_silent_one_comes_back() {
    use siteledger_gateway_agent::simulate::{SipOptions, Transport, nvr_channels, run_sip_device, sip_devices};
    let dir = tempfile::tempdir().expect("dir");
    let mut files = Vec::new();
    for (id_, password) in [(NVR, "nvr-file-pass"), (CAMERA, "cam-file-pass")] {
        let file = dir.path().join(format!("{id_}.password"));
        siteledger_client::keys::write_secret(&file, password).expect("password file");
        files.push(Gb28181Device { id: id_.into(), password: None, password_file: Some(file) });
    }
    let a = agent_with(&dir, |g| g.devices = files.clone()).await;
    let mut g = Gb28181Config::new(a.gb28181_addr.expect("listener"), PLATFORM);
    g.keepalive_interval_secs = 1;
    g.keepalive_count = 3;
    g.devices = files;
    let options = SipOptions { nvr_channels: 4, alarm_chance: 0.0, silence_chance: 0.0, silence_timeouts: (2, 2) };
    let mut specs = sip_devices(&g, &options, 1).expect("devices");
    let channels: Vec<String> = nvr_channels(&id(NVR), 4).iter().map(ToString::to_string).collect();
    assert_eq!(channels, (1..=4).map(|k| format!("3302120000131000010{k}")).collect::<Vec<_>>());
    assert_eq!((specs[0].transport, specs[1].transport), (Transport::Udp, Transport::Tcp));
    assert_eq!(specs[0].silence, (Duration::from_secs(6), Duration::from_secs(6)), "2 × interval × count");
    specs[1].silence_chance = 1.0; // silent after its first keepalive
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let addr = a.gb28181_addr.expect("listener");
    let tasks: Vec<_> = specs.into_iter().map(|s| tokio::spawn(run_sip_device(addr, s, stop.clone()))).collect();
    let camera = |s: &str| (CAMERA.to_owned(), s.to_owned());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = statuses(&queued(&a).await);
        let of_camera: Vec<_> = got.iter().filter(|(d, _)| d == CAMERA).cloned().collect();
        if of_camera.len() >= 3 && channels.iter().all(|c| got.contains(&(c.clone(), "online".to_owned()))) {
            assert_eq!(of_camera[..3], [camera("online"), camera("offline"), camera("online")]);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not reached: {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(true).expect("stop");
    let mut reports = Vec::new();
    for t in tasks {
        reports.push(
            tokio::time::timeout(Duration::from_secs(10), t).await.expect("stops on shutdown").expect("no panic"),
        );
    }
    assert!(reports[0].registrations >= 1 && reports[0].answered >= 2, "{:?}", reports[0]);
    assert!(reports[1].silences >= 1 && reports[1].registrations >= 2, "{:?}", reports[1]);
    let s = a.shared.status();
    assert_eq!((&s["gb28181"]["wrong_password"], &s["gb28181"]["malformed"]), (&0.into(), &0.into()));
    a.shutdown().await;
}

/// A password file others may read is refused by the simulator as by the agent, naming the file.
#[test]
fn the_simulator_refuses_a_password_file_others_may_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("nvr.password");
    std::fs::write(&file, "s3cr3t-value").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut g = Gb28181Config::new(SocketAddr::from(([127, 0, 0, 1], 5060)), PLATFORM);
    g.devices.push(Gb28181Device { id: NVR.into(), password: None, password_file: Some(file.clone()) });
    let e = siteledger_gateway_agent::simulate::sip_devices(&g, &Default::default(), 1).expect_err("refused");
    let m = e.to_string();
    assert!(m.contains("gb28181.devices[0].password_file") && m.contains(&file.display().to_string()), "{m}");
    assert!(!m.contains("s3cr3t"), "the password is never shown: {m}");
}
