//! HJ 212-2017 《污染物在线监控（监测）系统数据传输标准》, the protocol of site dust and noise monitors (扬尘噪声监测).
//!
//! Sans-I/O, in layers (each usable alone):
//!
//! | module | what |
//! |---|---|
//! | [`crc`] | the 附录 A CRC ([`crc::hj212_crc`]), and CRC-16/MODBUS only to diagnose the vendor mix-up |
//! | [`frame`] | the framer: `##` + length + 数据段 + CRC + `<CR><LF>` → [`Frame`] or [`FrameError`] with bytes to skip |
//! | [`packet`] | the data segment → [`Packet`] (`QN ST CN PW MN Flag PNUM PNO CP`), values kept as strings |
//! | [`deviation`] | tolerated departures from the standard, recorded per frame and packet |
//! | [`datetime`] | `QN` and `DataTime` (`YYYYMMDDhhmmss[zzz]`, Asia/Shanghai local time) |
//! | [`codes`] | 表 9 命令编码 ([`cn`]), 表 5 系统编码 ([`codes::st`]), 表 6/7 `ExeRtn`/`QnRtn`, 表 8 data flags |
//! | [`reply`] | 9014 数据应答, 9011 请求应答, 9012 执行结果 frames |
//! | [`reassembly`] | split packets (拆分包, `PNUM`/`PNO`) |
//! | [`stream`] | a whole capture through framer and parser: every byte accepted or rejected, with its position |
//! | [`connection`] | one monitor connection as a state machine: bytes in → packets, rejections, 9014 replies, close |
//!
//! ```
//! use siteledger_gateway_agent::hj212::{Packet, data_response, parse_frame};
//!
//! let wire = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
//! let (frame, used) = parse_frame(wire)?.expect("a whole frame");
//! assert_eq!(used, wire.len());
//! let packet = Packet::from_frame(frame)?;
//! assert_eq!(packet.cp.fields["RtdInterval"], "30");
//! assert!(packet.deviations.is_empty());
//! assert_eq!(data_response(&packet), None); // a request (1062) is answered with 9011/9012, not 9014
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod codes;
pub mod connection;
pub mod crc;
pub mod datetime;
pub mod deviation;
pub mod frame;
pub mod packet;
pub mod reassembly;
pub mod reply;
pub mod stream;

pub use codes::{ExeRtn, QnRtn, cn};
pub use connection::{CloseReason, Connection, ConnectionLimits, Event};
pub use deviation::Deviation;
pub use frame::{Decoder, Frame, FrameError, FrameErrorKind, Limits, encode_frame, parse_frame};
pub use packet::{Cp, Flag, Packet, PacketError};
pub use reassembly::{Reassembler, ReassemblyError, ReassemblyLimits};
pub use reply::{data_response, execution_result, request_response};
pub use stream::{Rejection, Scanned, scan};
