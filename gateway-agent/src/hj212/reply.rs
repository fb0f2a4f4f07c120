//! Replies (应答, HJ 212-2017 6.6, DOMAIN.md §2.8): complete frames, length, CRC and `<CR><LF>` included.
//!
//! * Data upload (2xxx) with Flag bit A (`Flag=5`, `7`) → **9014 数据应答** reusing the upload's `QN`, `ST=91`,
//!   the same `PW` and `MN`, `Flag=4` (the sender's version, A and D clear), `CP=&&&&`. Each part of a split upload
//!   gets its own 9014.
//! * Request (1xxx, 3xxx) with bit A → **9011 请求应答** (`QnRtn`, 表 7); after executing it, always **9012 执行结果**
//!   (`ExeRtn`, 表 6); both with the request's `QN`.
//! * A response (9xxx) is never answered, even when it (wrongly) sets bit A; a packet without `Flag` (2005 style)
//!   asks for nothing.
//!
//! Fields the packet lacks (`QN`, `PW`, `MN`) are left out of the reply rather than invented.

use super::codes::{ExeRtn, QnRtn, cn, st};
use super::frame::encode_frame;
use super::packet::{Flag, Packet};

/// The 9014 数据应答 frame for `packet`, exactly when it is a data upload (2xxx) whose `Flag` asks for a reply.
///
/// ```
/// use siteledger_gateway_agent::hj212::{Packet, data_response};
/// let upload = Packet::parse(b"QN=20160801085857223;ST=23;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857;LA-Rtd=50.1&&")?;
/// assert_eq!(
///     data_response(&upload).as_deref(),
///     Some("##0087QN=20160801085857223;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&3240\r\n"),
/// );
/// # Ok::<(), siteledger_gateway_agent::hj212::PacketError>(())
/// ```
#[must_use]
pub fn data_response(packet: &Packet) -> Option<String> {
    (packet.reply_requested() && cn::is_data(packet.cn)).then(|| respond(packet, cn::DATA_RESPONSE, ""))?
}

/// The 9011 请求应答 frame (`CP=&&QnRtn=n&&`) for a request (1xxx, 3xxx) whose `Flag` asks for a reply.
#[must_use]
pub fn request_response(packet: &Packet, rtn: QnRtn) -> Option<String> {
    (packet.reply_requested() && cn::is_request(packet.cn))
        .then(|| respond(packet, cn::REQUEST_RESPONSE, &format!("QnRtn={rtn}")))?
}

/// The 9012 执行结果 frame (`CP=&&ExeRtn=n&&`) for a request (1xxx, 3xxx), whatever its `Flag`.
#[must_use]
pub fn execution_result(packet: &Packet, rtn: ExeRtn) -> Option<String> {
    cn::is_request(packet.cn).then(|| respond(packet, cn::EXECUTION_RESULT, &format!("ExeRtn={rtn}")))?
}

fn respond(packet: &Packet, cn: u16, cp: &str) -> Option<String> {
    use std::fmt::Write as _;
    // One buffer: a 9014 is written for every upload that asks for it (the gateway's hot path).
    let mut segment = String::with_capacity(96 + cp.len());
    let mut field = |name: &str, value: &dyn std::fmt::Display| {
        if !segment.is_empty() {
            segment.push(';');
        }
        // Writing to a String cannot fail.
        let _ = write!(segment, "{name}={value}");
    };
    if let Some(qn) = &packet.qn {
        field("QN", qn);
    }
    field("ST", &st::SYSTEM_INTERACTION);
    field("CN", &format_args!("{cn:04}"));
    if let Some(pw) = &packet.pw {
        field("PW", pw);
    }
    if let Some(mn) = &packet.mn {
        field("MN", mn);
    }
    field("Flag", &packet.flag.map_or(Flag::RESPONSE_2017, Flag::response));
    field("CP", &format_args!("&&{cp}&&"));
    // Only fails for a segment over 9999 bytes, which a reply to a decoded packet cannot reach in practice.
    encode_frame(&segment).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hj212::frame::parse_frame;

    fn packet(s: &str) -> Packet {
        Packet::parse(s.as_bytes()).expect("parses")
    }

    #[test]
    fn data_response_follows_flag() {
        let upload = "QN=20160801085857223;ST=23;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857;LA-Rtd=50.1&&";
        let reply = data_response(&packet(upload)).expect("Flag=5 asks");
        let (frame, used) = parse_frame(reply.as_bytes()).expect("valid").expect("complete");
        assert_eq!(used, reply.len());
        let parsed = Packet::from_frame(frame).expect("parses");
        assert_eq!((parsed.cn, parsed.st.as_deref(), parsed.flag), (cn::DATA_RESPONSE, Some("91"), Some(Flag(4))));
        assert_eq!(parsed.qn.as_deref(), Some("20160801085857223"));
        assert!(parsed.cp.is_empty() && parsed.deviations.is_empty(), "{:?}", parsed.deviations);

        for no_reply in [
            upload.replace("Flag=5", "Flag=4"),
            upload.replace("Flag=5", "Flag=8"),
            upload.replace("Flag=5;", ""),
            upload.replace("CN=2011", "CN=9014"),
            upload.replace("CN=2011", "CN=1062"),
        ] {
            assert_eq!(data_response(&packet(&no_reply)), None, "{no_reply}");
        }
        // Split part (Flag=7): its own 9014 with Flag=4; version 2 (Flag=9) answered with Flag=8.
        let part = upload.replace("Flag=5", "Flag=7;PNUM=2;PNO=1");
        assert!(data_response(&packet(&part)).is_some_and(|r| r.contains(";Flag=4;CP=&&&&")));
        let v2 = upload.replace("Flag=5", "Flag=9");
        assert!(data_response(&packet(&v2)).is_some_and(|r| r.contains(";Flag=8;CP=&&&&")));
    }

    #[test]
    fn request_replies() {
        let request = packet(
            "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&",
        );
        let expected = encode_frame(
            "QN=20160801085857223;ST=91;CN=9011;PW=100000;MN=010000A8900016F000169DC0;Flag=4;CP=&&QnRtn=1&&",
        );
        assert_eq!(request_response(&request, QnRtn::Ready), expected.ok());
        let reply = request_response(&request, QnRtn::Ready).expect("asked");
        assert!(reply.contains(";CN=9011;") && reply.contains("CP=&&QnRtn=1&&"));
        let result = execution_result(&request, ExeRtn::Success).expect("a request");
        let (frame, _) = parse_frame(result.as_bytes()).expect("valid").expect("complete");
        let parsed = Packet::from_frame(frame).expect("parses");
        assert_eq!(parsed.cn, cn::EXECUTION_RESULT);
        assert_eq!(parsed.cp.fields.get("ExeRtn").map(String::as_str), Some("1"));
        assert_eq!(data_response(&request), None);

        let quiet = packet(
            "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=4;CP=&&RtdInterval=30&&",
        );
        assert_eq!(request_response(&quiet, QnRtn::Ready), None);
        assert!(execution_result(&quiet, ExeRtn::Success).is_some());
        let upload = packet("QN=20160801085857223;ST=39;CN=2011;Flag=5;CP=&&&&");
        assert_eq!((request_response(&upload, QnRtn::Ready), execution_result(&upload, ExeRtn::Success)), (None, None));
    }
}
