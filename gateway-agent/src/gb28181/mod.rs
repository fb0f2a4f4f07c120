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
//! | [`session`] | the platform's device sessions: register with digest, re-register, unregister, keepalive deadline, catalog, alarms |
//! | [`counters`] | named counts of every refusal and tolerated deviation |
//! | [`fuzz`] | the fuzz oracles shared by `fuzz/fuzz_targets/gb28181_*.rs` and the seed-replay test |
//!
//! Not here: media (RTP/PS, `INVITE`), PTZ control, cascading to higher platforms, and the sockets and signing
//! (the events are plain data the agent turns into `video.camera.*` records).

pub mod auth;
pub mod counters;
pub mod fuzz;
pub mod id;
pub mod manscdp;
pub mod session;
pub mod sip;
pub mod stream;

pub use auth::{AuthError, Challenge, Credentials, Password};
pub use counters::Counters;
pub use id::{DeviceClass, DeviceId, IdError};
pub use manscdp::{Body, XmlError, XmlLimits};
pub use session::{Event, Output, Platform, PlatformConfig};
pub use sip::{Limits, Message, Method, SipError, parse_datagram};
pub use stream::{StreamError, StreamFramer};
