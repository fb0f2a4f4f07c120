//! GB/T 28181-2016/2022 《公共安全视频监控联网系统信息传输、交换、控制技术要求》 signalling, the platform role
//! (the agent is the SIP server cameras and NVRs register with), sans-I/O: bytes and times in, messages to send
//! and events out. No sockets, clocks or randomness inside: the caller passes `now` and fresh nonces.
//!
//! | module | what |
//! |---|---|
//! | [`id`] | 20-digit codes: 中心编码, 行业编码, 类型编码, 网络标识, 序号, checked with the domain's [`CameraId`](siteledger_domain::site::CameraId) |
//! | [`sip`] | SIP messages (RFC 3261): parse (compact and folded headers, `Content-Length` checked, limits), build, UDP datagrams |
//! | [`stream`] | SIP over TCP: a bounded framer splitting a byte stream by `Content-Length` |
//! | [`auth`] | digest authentication (RFC 2617 MD5, `qop=auth` or none) |
//! | [`manscdp`] | MANSCDP XML bodies: `Keepalive`, `Catalog`, `Alarm`, `DeviceInfo`, `DeviceStatus`; GB2312/GBK; DTDs refused |
//! | [`session`] | the platform's device sessions: register with digest, re-register, unregister, keepalive deadline, catalog, alarms, `DeviceStatus` queries |
//! | [`device`] | the device role (register, keepalives, catalog, device-info, device-status and alarm answers), for the simulator and tests |
//! | [`state`] | the versioned state file that carries the sessions and camera statuses across an agent restart |
//! | [`counters`] | named counts of every refusal and tolerated deviation |
//! | [`fuzz`] | the fuzz oracles shared by `fuzz/fuzz_targets/gb28181_*.rs` and the seed-replay test |
//!
//! ```
//! use siteledger_gateway_agent::gb28181::{DeviceId, Output, Password, Platform, PlatformConfig};
//! use time::macros::datetime;
//!
//! let mut platform = Platform::new(PlatformConfig::new(DeviceId::parse("33021200002000000001")?, "10.0.0.1:5060"), "a1");
//! platform.add_device(DeviceId::parse("33021200001320000001")?, Password::new("from the agent's configuration"));
//! let register = b"REGISTER sip:33021200002000000001@3302120000 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1\r\n\
//!     From: <sip:33021200001320000001@3302120000>;tag=1\r\nTo: <sip:33021200001320000001@3302120000>\r\n\
//!     Call-ID: 1\r\nCSeq: 1 REGISTER\r\nContact: <sip:33021200001320000001@192.168.1.64:5060>\r\n\
//!     Expires: 3600\r\nContent-Length: 0\r\n\r\n";
//! let now = datetime!(2026-12-06 08:00 +08:00);
//! let out = platform.receive_datagram(register, now, "fresh-random-nonce");
//! let [Output::Reply(challenge)] = out.as_slice() else { panic!("{out:?}") };
//! assert_eq!(challenge.status(), Some(401));
//! assert!(challenge.headers.get("WWW-Authenticate").is_some_and(|c| c.contains("nonce=\"fresh-random-nonce\"")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Not here: media (RTP/PS, `INVITE`), PTZ control, cascading to higher platforms, and the sockets and signing
//! (the events are plain data the agent turns into `video.camera.*` records).

pub mod auth;
pub mod counters;
pub mod device;
pub mod fuzz;
pub mod id;
pub mod manscdp;
pub mod session;
pub mod sip;
pub mod state;
pub mod stream;

pub use auth::{AuthError, Challenge, Credentials, Password};
pub use counters::Counters;
pub use id::{DeviceClass, DeviceId, IdError};
pub use manscdp::{Body, XmlError, XmlLimits};
pub use session::{Event, Output, Platform, PlatformConfig, SessionState};
pub use sip::{Limits, Message, Method, SipError, parse_datagram};
pub use stream::{StreamError, StreamFramer};
