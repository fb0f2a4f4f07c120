//! The data segment (数据段, HJ 212-2017 表 3) parsed into a typed [`Packet`].
//!
//! ```text
//! QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857;a34002-Rtd=85.2,a34002-Flag=N&&
//! 请求编码              系统编码 命令编码 访问密码  设备唯一标识                   标志   指令参数 CP=&&数据区&&
//! ```
//!
//! * Header fields are `name=value` separated by `;`, up to `CP=`; their order is not checked. `PNUM`/`PNO`
//!   (总包数/包号) come with `Flag` bit D. Unknown fields (`USCC=`, `IMEI=`) are kept in [`Packet::extra`].
//! * The CP data area (6.3.3): "字段与其值用‘=’连接；…同一项目的不同分类值间用‘，’来分隔，不同项目之间用‘；’来分隔". A
//!   name `code-Field` (`a34002-Avg`) goes to [`Cp::items`]`[code][Field]`, split at the first `-`; a bare name
//!   (`QnRtn`, `RtdInterval`) to [`Cp::fields`]; `DataTime` to [`Cp::data_time`]. Names are case-sensitive.
//! * Values stay **strings as sent** (decimal strings, never floats): units are per-device configuration.
//!
//! Tolerated quirks become [`Deviation`]s; what cannot be trusted is a [`PacketError`] (see
//! [`deviation`](super::deviation) for the policy).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::codes::{cn, is_data_flag, st};
use super::deviation::Deviation;
use super::frame::Frame;

/// `Flag` (标志位, §2.3): bits `V5 V4 V3 V2 V1 V0 D A`, MSB first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Flag(pub u8);

impl Flag {
    /// Bit A: the sender wants a reply ("命令是否应答").
    pub const REPLY: u8 = 0b01;
    /// Bit D: the data segment is split; `PNUM`/`PNO` present.
    pub const SPLIT: u8 = 0b10;
    /// What an HJ 212-2017 (version 1) response carries: 4.
    pub const RESPONSE_2017: Flag = Flag(0b100);

    /// The version bits `flag >> 2`: 0 HJ/T 212-2005, 1 HJ 212-2017, 2 HJ 212-2025.
    #[must_use]
    pub fn version(self) -> u8 {
        self.0 >> 2
    }

    /// Bit A.
    #[must_use]
    pub fn reply_requested(self) -> bool {
        self.0 & Self::REPLY != 0
    }

    /// Bit D.
    #[must_use]
    pub fn split(self) -> bool {
        self.0 & Self::SPLIT != 0
    }

    /// The flag of a response to a packet with this flag: same version, A and D clear (4 for 2017).
    #[must_use]
    pub fn response(self) -> Flag {
        Flag(self.0 & !(Self::REPLY | Self::SPLIT))
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The CP data area (指令参数 `CP=&&数据区&&`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cp {
    /// `DataTime` as sent: the interval start for 2051/2061/2031/2041, the sampling instant for 2011/2021.
    pub data_time: Option<String>,
    /// Fields without a factor code (`QnRtn`, `ExeRtn`, `RtdInterval`, `RestartTime`, `SystemTime`, a bare `Flag`…).
    pub fields: BTreeMap<String, String>,
    /// Per factor code (`a34002`, `LA`, `SB1`…): field (`Rtd`, `Avg`, `Flag`, …) → value as sent.
    pub items: BTreeMap<String, BTreeMap<String, String>>,
}

impl Cp {
    /// `true` without any field.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data_time.is_none() && self.fields.is_empty() && self.items.is_empty()
    }

    /// The value of `code-field`, e.g. `cp.get("a34002", "Avg")`.
    #[must_use]
    pub fn get(&self, code: &str, field: &str) -> Option<&str> {
        self.items.get(code)?.get(field).map(String::as_str)
    }

    /// The data area in canonical form (`DataTime` first, then bare fields, then one `;`-group per code), without
    /// the surrounding `&&`.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut groups: Vec<String> = Vec::new();
        if let Some(t) = &self.data_time {
            groups.push(format!("DataTime={t}"));
        }
        groups.extend(self.fields.iter().map(|(k, v)| format!("{k}={v}")));
        for (code, fields) in &self.items {
            let group: Vec<String> = fields.iter().map(|(f, v)| format!("{code}-{f}={v}")).collect();
            groups.push(group.join(","));
        }
        groups.join(";")
    }
}

/// One parsed HJ 212 packet (a data segment whose frame passed length and CRC checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packet {
    /// `QN` 请求编码, as sent (normally 17 digits `YYYYMMDDhhmmsszzz`); echoed in replies.
    pub qn: Option<String>,
    /// `ST` 系统编码 as sent (表 5; 39 工地扬尘, 22, 23, 27 occur).
    pub st: Option<String>,
    /// `CN` 命令编码 (表 9), see [`cn`].
    pub cn: u16,
    /// `PW` 访问密码 as sent.
    pub pw: Option<String>,
    /// `MN` 设备唯一标识 as sent (normally 24 hex digits).
    pub mn: Option<String>,
    /// `Flag` 标志位.
    pub flag: Option<Flag>,
    /// `PNUM` 总包数, with [`pno`](Self::pno).
    pub pnum: Option<u16>,
    /// `PNO` 包号 (1-based).
    pub pno: Option<u16>,
    /// Header fields the standard does not define (`USCC`, `IMEI`…), as sent.
    pub extra: BTreeMap<String, String>,
    /// `CP` 指令参数.
    pub cp: Cp,
    /// Tolerated departures from the standard (framing ones first), each once.
    pub deviations: Vec<Deviation>,
}

/// Why a data segment cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum PacketError {
    /// Not UTF-8 (6.3: ASCII, Chinese as UTF-8).
    #[error("data segment is not UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 {
        /// Offset in the segment.
        offset: usize,
    },
    /// A control character (CR, LF, NUL, TAB…) inside the data segment.
    #[error("control character 0x{byte:02X} at offset {offset} of the data segment")]
    ControlCharacter {
        /// Offset in the segment.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A header field without `=`.
    #[error("header field {field:?} has no '='")]
    HeaderSyntax {
        /// The field.
        field: String,
    },
    /// A header field twice.
    #[error("header field {name} appears twice")]
    DuplicateHeaderField {
        /// Its name.
        name: String,
    },
    /// A standard header field with a non-ASCII value.
    #[error("header field {name} is not ASCII")]
    NonAsciiHeader {
        /// Its name.
        name: String,
    },
    /// No `CN`: what the packet is cannot be known.
    #[error("no CN (命令编码)")]
    MissingCn,
    /// `CN` is not 4 digits.
    #[error("CN {value:?} is not 4 digits")]
    BadCn {
        /// As sent.
        value: String,
    },
    /// `Flag` is not a number 0–255.
    #[error("Flag {value:?} is not a number 0-255")]
    BadFlag {
        /// As sent.
        value: String,
    },
    /// `PNUM`/`PNO` missing, not 1–4 digits, zero, or `PNO > PNUM`.
    #[error("split packet fields: {reason}")]
    BadSplit {
        /// What is wrong.
        reason: String,
    },
    /// The CP area is not `name=value` groups.
    #[error("CP syntax: {reason} in {item:?}")]
    CpSyntax {
        /// What is wrong.
        reason: &'static str,
        /// The offending item.
        item: String,
    },
    /// The same CP field twice with different values: which one holds is unknowable.
    #[error("CP field {name} has two values {first:?} and {second:?}")]
    ConflictingCpField {
        /// The name.
        name: String,
        /// First value.
        first: String,
        /// Second value.
        second: String,
    },
    /// `DataTime` is not 14–17 digits.
    #[error("DataTime {value:?} is not 14 to 17 digits")]
    BadDataTime {
        /// As sent.
        value: String,
    },
}

/// CP fields whose values are measurements (decimal strings).
const MEASUREMENT_FIELDS: &[&str] =
    &["Rtd", "Min", "Avg", "Max", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "Cou", "ZsCou", "Data", "DayData", "NightData"];

impl Packet {
    /// Parses a frame's data segment, keeping the frame's deviations first.
    pub fn from_frame(frame: Frame) -> Result<Packet, PacketError> {
        let (segment, frame_deviations) = frame.into_parts();
        let mut packet = Packet::parse(&segment)?;
        let mut deviations = frame_deviations;
        for d in packet.deviations.drain(..) {
            d.record(&mut deviations);
        }
        packet.deviations = deviations;
        Ok(packet)
    }

    /// Parses a data segment (the bytes between the length field and the CRC).
    pub fn parse(segment: &[u8]) -> Result<Packet, PacketError> {
        let text = std::str::from_utf8(segment).map_err(|e| PacketError::NotUtf8 { offset: e.valid_up_to() })?;
        if let Some((offset, &byte)) = segment.iter().enumerate().find(|(_, b)| b.is_ascii_control()) {
            return Err(PacketError::ControlCharacter { offset, byte });
        }
        let mut header_dev = Vec::new();
        let mut cp_dev = Vec::new();
        let (header, cp_text) = split_header(text);
        let header = parse_header(header, cp_text.is_none(), &mut header_dev)?;
        let cp = match cp_text {
            Some(cp_text) => parse_cp(cp_text, &mut cp_dev)?,
            None => {
                Deviation::MissingCp.record(&mut cp_dev);
                Cp::default()
            }
        };
        let mut packet = check_header(header, cp, header_dev)?;
        for d in cp_dev {
            d.record(&mut packet.deviations);
        }
        Ok(packet)
    }

    /// The data segment in canonical form: `QN;ST;CN;PW;MN;Flag;PNUM;PNO;`extra`;CP=&&…&&`, each only if present.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut push = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                parts.push(format!("{name}={v}"));
            }
        };
        push("QN", self.qn.clone());
        push("ST", self.st.clone());
        push("CN", Some(format!("{:04}", self.cn)));
        push("PW", self.pw.clone());
        push("MN", self.mn.clone());
        push("Flag", self.flag.map(|f| f.to_string()));
        push("PNUM", self.pnum.map(|n| n.to_string()));
        push("PNO", self.pno.map(|n| n.to_string()));
        for (k, v) in &self.extra {
            parts.push(format!("{k}={v}"));
        }
        parts.push(format!("CP=&&{}&&", self.cp.encode()));
        parts.join(";")
    }

    /// Whether the sender asked for a reply (Flag bit A).
    #[must_use]
    pub fn reply_requested(&self) -> bool {
        self.flag.is_some_and(Flag::reply_requested)
    }

    /// Whether this is one part of a split packet (`PNUM` > 1; `PNUM=1;PNO=1` is a whole packet).
    #[must_use]
    pub fn is_part(&self) -> bool {
        self.pnum.is_some_and(|n| n > 1)
    }
}

/// Header fields as sent, before checking.
#[derive(Default)]
struct RawHeader<'a> {
    qn: Option<&'a str>,
    st: Option<&'a str>,
    cn: Option<&'a str>,
    pw: Option<&'a str>,
    mn: Option<&'a str>,
    flag: Option<&'a str>,
    pnum: Option<&'a str>,
    pno: Option<&'a str>,
    extra: BTreeMap<String, String>,
}

/// Splits at the `CP=` that starts a header field: (header fields without the `;` before `CP=`, text after `CP=`).
fn split_header(text: &str) -> (&str, Option<&str>) {
    let mut start = 0;
    loop {
        let rest = &text[start..];
        if let Some(cp) = rest.strip_prefix("CP=") {
            return (text[..start].strip_suffix(';').unwrap_or(&text[..start]), Some(cp));
        }
        match rest.find(';') {
            Some(i) => start += i + 1,
            None => return (text, None),
        }
    }
}

fn parse_header<'a>(header: &'a str, no_cp: bool, dev: &mut Vec<Deviation>) -> Result<RawHeader<'a>, PacketError> {
    let mut raw = RawHeader::default();
    if header.is_empty() {
        return Ok(raw);
    }
    let fields: Vec<&str> = header.split(';').collect();
    let last = fields.len() - 1;
    for (i, field) in fields.into_iter().enumerate() {
        if field.is_empty() {
            Deviation::EmptyHeaderField.record(dev);
            continue;
        }
        let Some((name, mut value)) = field.split_once('=') else {
            return Err(PacketError::HeaderSyntax { field: field.to_owned() });
        };
        if no_cp
            && i == last
            && let Some(v) = value.strip_suffix("&&")
        {
            Deviation::StrayCpTerminator.record(dev);
            value = v;
        }
        let slot = match name {
            "QN" => &mut raw.qn,
            "ST" => &mut raw.st,
            "CN" => &mut raw.cn,
            "PW" => &mut raw.pw,
            "MN" => &mut raw.mn,
            "Flag" => &mut raw.flag,
            "PNUM" => &mut raw.pnum,
            "PNO" => &mut raw.pno,
            _ => {
                if raw.extra.insert(name.to_owned(), value.to_owned()).is_some() {
                    return Err(PacketError::DuplicateHeaderField { name: name.to_owned() });
                }
                Deviation::UnknownHeaderField { name: name.to_owned() }.record(dev);
                continue;
            }
        };
        if slot.is_some() {
            return Err(PacketError::DuplicateHeaderField { name: name.to_owned() });
        }
        if !value.is_ascii() {
            return Err(PacketError::NonAsciiHeader { name: name.to_owned() });
        }
        *slot = Some(value);
    }
    Ok(raw)
}

fn check_header(raw: RawHeader<'_>, cp: Cp, mut dev: Vec<Deviation>) -> Result<Packet, PacketError> {
    match raw.qn {
        None => Deviation::MissingQn.record(&mut dev),
        Some(qn) if !(qn.len() == 17 && is_timestamp(qn)) => {
            Deviation::NonStandardQn { value: qn.to_owned() }.record(&mut dev);
        }
        Some(_) => {}
    }
    match raw.st {
        None => Deviation::MissingSt.record(&mut dev),
        Some(s) if !st::is_standard(s) => Deviation::NonStandardSt { value: s.to_owned() }.record(&mut dev),
        Some(_) => {}
    }
    // CN: without it nothing can be interpreted.
    let cn_text = raw.cn.ok_or(PacketError::MissingCn)?;
    if cn_text.len() != 4 || !cn_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PacketError::BadCn { value: cn_text.to_owned() });
    }
    let cn = cn_text.bytes().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if cn::describe(cn).is_none() {
        Deviation::UnknownCn { cn }.record(&mut dev);
    }

    match raw.pw {
        None => Deviation::MissingPw.record(&mut dev),
        Some(pw) if pw.len() != 6 => Deviation::NonStandardPw { len: pw.len() }.record(&mut dev),
        Some(_) => {}
    }
    match raw.mn {
        None => Deviation::MissingMn.record(&mut dev),
        Some(mn) if !(mn.len() == 24 && mn.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))) => {
            Deviation::NonStandardMn { value: mn.to_owned() }.record(&mut dev);
        }
        Some(_) => {}
    }
    // Flag: a number 0–255, else its bits cannot be read.
    let flag = match raw.flag {
        None => {
            Deviation::MissingFlag.record(&mut dev);
            None
        }
        Some(v) => {
            let n = (1..=3)
                .contains(&v.len())
                .then(|| v.parse::<u8>().ok())
                .flatten()
                .filter(|_| v.bytes().all(|b| b.is_ascii_digit()));
            let flag = Flag(n.ok_or_else(|| PacketError::BadFlag { value: v.to_owned() })?);
            if flag.version() != 1 {
                Deviation::FlagVersion { version: flag.version() }.record(&mut dev);
            }
            if flag.reply_requested() && cn::is_response(cn) {
                Deviation::ReplyRequestedOnResponse.record(&mut dev);
            }
            Some(flag)
        }
    };

    // PNUM / PNO.
    let split_flag = flag.is_some_and(Flag::split);
    let (pnum, pno) = match (raw.pnum, raw.pno) {
        (None, None) if split_flag => return Err(bad_split("Flag has bit D but PNUM and PNO are missing")),
        (None, None) => (None, None),
        (Some(pnum), Some(pno)) => {
            let pnum = split_number("PNUM", pnum)?;
            let pno = split_number("PNO", pno)?;
            if pno > pnum {
                return Err(bad_split(&format!("PNO {pno} > PNUM {pnum}")));
            }
            if !split_flag {
                Deviation::SplitWithoutFlag.record(&mut dev);
            }
            (Some(pnum), Some(pno))
        }
        (Some(_), None) => return Err(bad_split("PNUM without PNO")),
        (None, Some(_)) => return Err(bad_split("PNO without PNUM")),
    };

    if cn::needs_data_time(cn) && cp.data_time.is_none() && !cp.items.is_empty() {
        Deviation::MissingDataTime.record(&mut dev);
    }

    Ok(Packet {
        qn: raw.qn.map(str::to_owned),
        st: raw.st.map(str::to_owned),
        cn,
        pw: raw.pw.map(str::to_owned),
        mn: raw.mn.map(str::to_owned),
        flag,
        pnum,
        pno,
        extra: raw.extra,
        cp,
        deviations: dev,
    })
}

fn bad_split(reason: &str) -> PacketError {
    PacketError::BadSplit { reason: reason.to_owned() }
}

fn split_number(name: &str, value: &str) -> Result<u16, PacketError> {
    let n = ((1..=4).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u16>().ok())
        .flatten()
        .filter(|n| *n > 0);
    n.ok_or_else(|| bad_split(&format!("{name} {value:?} is not a number 1-9999")))
}

fn parse_cp(cp_text: &str, dev: &mut Vec<Deviation>) -> Result<Cp, PacketError> {
    let Some(body) = cp_text.strip_prefix("&&") else {
        return Err(PacketError::CpSyntax { reason: "CP= not followed by &&", item: truncate(cp_text) });
    };
    let inner = match body.find("&&") {
        Some(end) if end + 2 == body.len() => &body[..end],
        Some(_) => {
            return Err(PacketError::CpSyntax { reason: "text after the closing &&", item: truncate(body) });
        }
        None => {
            Deviation::MissingCpClosing.record(dev);
            body
        }
    };
    if inner.contains('&') {
        return Err(PacketError::CpSyntax { reason: "'&' inside the CP area", item: truncate(inner) });
    }
    let mut cp = Cp::default();
    if inner.is_empty() {
        return Ok(cp);
    }
    for group in inner.split(';') {
        for field in group.split(',') {
            let item = field.trim_start();
            if item.is_empty() {
                Deviation::EmptyCpGroup.record(dev);
                continue;
            }
            let Some((name, value)) = item.split_once('=') else {
                return Err(PacketError::CpSyntax { reason: "field without '='", item: truncate(field) });
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
                return Err(PacketError::CpSyntax { reason: "bad field name", item: truncate(field) });
            }
            if item.len() != field.len() {
                Deviation::SpaceBeforeName { name: name.to_owned() }.record(dev);
            }
            add_cp_field(&mut cp, name, value, dev)?;
        }
    }
    Ok(cp)
}

fn add_cp_field(cp: &mut Cp, name: &str, value: &str, dev: &mut Vec<Deviation>) -> Result<(), PacketError> {
    let slot: &mut BTreeMap<String, String>;
    let key: &str;
    match name.split_once('-') {
        Some((code, field)) => {
            if code.is_empty() || field.is_empty() {
                return Err(PacketError::CpSyntax { reason: "empty factor code or field", item: truncate(name) });
            }
            if field.contains('-') {
                Deviation::OddFieldName { name: name.to_owned() }.record(dev);
            }
            if MEASUREMENT_FIELDS.contains(&field) && !is_decimal(value) {
                Deviation::NonDecimalValue { name: name.to_owned(), value: value.to_owned() }.record(dev);
            }
            if field == "Flag" && !is_data_flag(value) {
                Deviation::UnknownDataFlag { name: name.to_owned(), value: value.to_owned() }.record(dev);
            }
            slot = cp.items.entry(code.to_owned()).or_default();
            key = field;
        }
        None if name == "DataTime" => {
            if !(14..=17).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PacketError::BadDataTime { value: value.to_owned() });
            }
            if !(value.len() == 14 && is_timestamp(value)) {
                Deviation::NonStandardDataTime { value: value.to_owned() }.record(dev);
            }
            match &cp.data_time {
                None => cp.data_time = Some(value.to_owned()),
                Some(first) if first == value => Deviation::DuplicateCpField { name: name.to_owned() }.record(dev),
                Some(first) => return Err(conflict(name, first, value)),
            }
            return Ok(());
        }
        None => {
            if name == "Flag" {
                Deviation::BareField { name: name.to_owned() }.record(dev);
            }
            slot = &mut cp.fields;
            key = name;
        }
    }
    match slot.get(key) {
        None => {
            slot.insert(key.to_owned(), value.to_owned());
        }
        Some(first) if first == value => Deviation::DuplicateCpField { name: name.to_owned() }.record(dev),
        Some(first) => return Err(conflict(name, first, value)),
    }
    Ok(())
}

fn conflict(name: &str, first: &str, second: &str) -> PacketError {
    PacketError::ConflictingCpField { name: name.to_owned(), first: first.to_owned(), second: second.to_owned() }
}

/// `[+-]?digits(.digits)?`: the numeric types of 6.3.3 (`N14.2` is signed).
#[must_use]
pub fn is_decimal(value: &str) -> bool {
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// Whether `value` is all digits and its first 14 are `YYYYMMDDhhmmss` of a real calendar time.
fn is_timestamp(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit()) && super::datetime::parse_local(value).is_some()
}

fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_A: &str =
        "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    fn parse(s: &str) -> Packet {
        Packet::parse(s.as_bytes()).expect("parses")
    }

    fn reject(s: &str) -> PacketError {
        Packet::parse(s.as_bytes()).expect_err("rejected")
    }

    #[test]
    fn appendix_a() {
        let p = parse(APPENDIX_A);
        assert_eq!(p.qn.as_deref(), Some("20160801085857223"));
        assert_eq!(p.st.as_deref(), Some("32"));
        assert_eq!(p.cn, cn::SET_RTD_INTERVAL);
        assert_eq!(p.pw.as_deref(), Some("100000"));
        assert_eq!(p.mn.as_deref(), Some("010000A8900016F000169DC0"));
        assert_eq!(p.flag, Some(Flag(5)));
        assert!(p.reply_requested() && !p.flag.is_some_and(Flag::split));
        assert_eq!(p.cp.fields.get("RtdInterval").map(String::as_str), Some("30"));
        assert!(p.deviations.is_empty(), "{:?}", p.deviations);
        assert_eq!(p.encode(), APPENDIX_A);
    }

    #[test]
    fn table_c25_space_before_name() {
        let p = parse(
            "QN=20160801085857223;ST=23;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857; LA-Rtd=50.1&&",
        );
        assert_eq!(p.cp.data_time.as_deref(), Some("20160801085857"));
        assert_eq!(p.cp.get("LA", "Rtd"), Some("50.1"));
        assert_eq!(p.deviations, vec![Deviation::SpaceBeforeName { name: "LA-Rtd".into() }]);
    }

    #[test]
    fn items_and_flags() {
        let p = parse(
            "QN=20240101120000000;ST=39;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20240101115000;a34002-Avg=85.2,a34002-Flag=N;a34004-Avg=-0.50,a34004-Flag=D;LA-Data=61.3&&",
        );
        assert_eq!(p.cp.get("a34002", "Avg"), Some("85.2"));
        assert_eq!(p.cp.get("a34002", "Flag"), Some("N"));
        assert_eq!(p.cp.get("a34004", "Avg"), Some("-0.50"));
        assert_eq!(p.cp.get("LA", "Data"), Some("61.3"));
        assert!(p.deviations.is_empty(), "{:?}", p.deviations);
    }

    #[test]
    fn deviations_2005_style() {
        let p = parse(
            "ST=101;CN=2011;PW=123456;MN=41050022000017;CP=&&DataTime=20200922110000;ua19004-Rtd=2.017,ua19004-Flag=N&&",
        );
        assert_eq!(
            p.deviations,
            vec![
                Deviation::MissingQn,
                Deviation::NonStandardSt { value: "101".into() },
                Deviation::NonStandardMn { value: "41050022000017".into() },
                Deviation::MissingFlag,
            ]
        );
        assert_eq!(p.flag, None);
        assert!(!p.reply_requested());
    }

    #[test]
    fn deviations_cp_quirks() {
        let p = parse(
            "QN=20250131202809340;ST=39;CN=2011;PW=123456;MN=0507A010003242;Flag=4;CP=&&DataTime=20250131202809;a34001-Rtd=92;Flag=N;LA-Rtd-Rtd=71.0;&&",
        );
        assert!(p.deviations.contains(&Deviation::BareField { name: "Flag".into() }));
        assert!(p.deviations.contains(&Deviation::OddFieldName { name: "LA-Rtd-Rtd".into() }));
        assert!(p.deviations.contains(&Deviation::EmptyCpGroup));
        assert_eq!(p.cp.fields.get("Flag").map(String::as_str), Some("N"));
        assert_eq!(p.cp.get("LA", "Rtd-Rtd"), Some("71.0"));

        let p = parse(
            "QN=20250131202809340;ST=39;CN=2011;PW=123456;MN=0507A010003242;Flag=4;CP=&&DataTime=20250131202809;a34001-Rtd=9x2,a34001-Flag=Z",
        );
        assert!(p.deviations.contains(&Deviation::MissingCpClosing));
        assert!(p.deviations.contains(&Deviation::NonDecimalValue { name: "a34001-Rtd".into(), value: "9x2".into() }));
        assert!(p.deviations.contains(&Deviation::UnknownDataFlag { name: "a34001-Flag".into(), value: "Z".into() }));
    }

    #[test]
    fn no_cp_and_unknown_header_fields() {
        let p = parse("QN=20180904160638000;ST=39;CN=2011;PW=123456;USCC=91440101MA59F70720;IMEI=867732039951777&&");
        assert_eq!(p.extra.get("IMEI").map(String::as_str), Some("867732039951777"));
        assert!(p.deviations.contains(&Deviation::MissingCp));
        assert!(p.deviations.contains(&Deviation::StrayCpTerminator));
        assert!(p.deviations.contains(&Deviation::MissingMn));
        assert!(p.deviations.contains(&Deviation::UnknownHeaderField { name: "USCC".into() }));
    }

    #[test]
    fn qn_and_data_time_variants() {
        let p = parse(
            "QN=20180507000558;ST=39;CN=2011;PW=123456;MN=010000A00000000000A00654;Flag=4;CP=&&DataTime=20210305003817000;a-Rtd=1&&",
        );
        assert!(p.deviations.contains(&Deviation::NonStandardQn { value: "20180507000558".into() }));
        assert!(p.deviations.contains(&Deviation::NonStandardDataTime { value: "20210305003817000".into() }));
        let p = parse("QN=20181301000000000;ST=39;CN=2011;Flag=4;CP=&&DataTime=20180230000000&&");
        assert!(p.deviations.contains(&Deviation::NonStandardQn { value: "20181301000000000".into() }));
        assert!(p.deviations.contains(&Deviation::NonStandardDataTime { value: "20180230000000".into() }));
        assert_eq!(reject("CN=2011;CP=&&DataTime=2018&&"), PacketError::BadDataTime { value: "2018".into() });
        assert_eq!(
            reject("CN=2011;CP=&&DataTime=2018010100000a&&"),
            PacketError::BadDataTime { value: "2018010100000a".into() }
        );
    }

    #[test]
    fn flag_versions_and_split() {
        let p = parse(
            "QN=20210301111100112;ST=21;CN=2011;PW=123456;MN=ZLDSZ20210127;Flag=8;CP=&&DataTime=20210301111100&&",
        );
        assert!(p.deviations.contains(&Deviation::FlagVersion { version: 2 }));
        assert!(!p.reply_requested());
        let p = parse(
            "QN=20191112091100598;ST=31;CN=2051;PW=123456;MN=14513567846884;PNO=0002;PNUM=0002;CP=&&DataTime=20191112090000&&",
        );
        assert_eq!((p.pnum, p.pno), (Some(2), Some(2)));
        assert!(p.deviations.contains(&Deviation::SplitWithoutFlag));
        let p = parse(
            "QN=20201029122005355;ST=31;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20201029121000&&",
        );
        assert!(p.is_part() && p.deviations.is_empty(), "{:?}", p.deviations);
        assert!(matches!(reject("CN=2051;Flag=7;CP=&&&&"), PacketError::BadSplit { .. }));
        assert!(matches!(reject("CN=2051;Flag=7;PNUM=2;PNO=3;CP=&&&&"), PacketError::BadSplit { .. }));
        assert!(matches!(reject("CN=2051;Flag=7;PNUM=0;PNO=0;CP=&&&&"), PacketError::BadSplit { .. }));
        assert!(matches!(reject("CN=2051;Flag=4;PNUM=2;CP=&&&&"), PacketError::BadSplit { .. }));
        assert_eq!(reject("CN=2051;Flag=256;CP=&&&&"), PacketError::BadFlag { value: "256".into() });
        assert_eq!(reject("CN=2051;Flag=+5;CP=&&&&"), PacketError::BadFlag { value: "+5".into() });
        assert_eq!(reject("CN=2051;Flag=;CP=&&&&"), PacketError::BadFlag { value: "".into() });
    }

    #[test]
    fn rejections() {
        assert_eq!(reject("QN=1;ST=39;CP=&&&&"), PacketError::MissingCn);
        assert_eq!(reject("CN=20111;CP=&&&&"), PacketError::BadCn { value: "20111".into() });
        assert_eq!(reject("CN=2011;CN=2011;CP=&&&&"), PacketError::DuplicateHeaderField { name: "CN".into() });
        assert_eq!(reject("CN=2011;MN;CP=&&&&"), PacketError::HeaderSyntax { field: "MN".into() });
        assert_eq!(reject("CN=2011;MN=设备;CP=&&&&"), PacketError::NonAsciiHeader { name: "MN".into() });
        assert!(matches!(reject("CN=2011;CP=DataTime=20200101000000"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&a34002-Rtd&&"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&-Rtd=1&&"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&a 1=1&&"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&&&&&"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&a-Rtd=1&&;MN=1"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&a-Rtd=1&"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&a-Rtd=1&2&&"), PacketError::CpSyntax { .. }));
        assert!(matches!(reject("CN=2011;CP=&&a-Rtd=1;a-Rtd=2&&"), PacketError::ConflictingCpField { .. }));
        assert!(matches!(Packet::parse(b"CN=2011;CP=&&a-Rtd=\xFF&&"), Err(PacketError::NotUtf8 { offset: 19 })));
        assert!(matches!(Packet::parse(b"CN=2011;CP=&&a-Rtd=1\r\n&&"), Err(PacketError::ControlCharacter { .. })));
        let p = parse("CN=2011;CP=&&a-Rtd=1;a-Rtd=1&&");
        assert!(p.deviations.contains(&Deviation::DuplicateCpField { name: "a-Rtd".into() }));
    }

    #[test]
    fn chinese_values_are_utf8() {
        let p = parse(
            "QN=20240101120000000;ST=39;CN=3020;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&PolId=a34002;SiteName=宁波工地&&",
        );
        assert_eq!(p.cp.fields.get("SiteName").map(String::as_str), Some("宁波工地"));
    }

    #[test]
    fn decimals() {
        for ok in ["0", "85.2", "-0.50", "+3", "140600.000", "235.292750833832"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", "-", ".5", "5.", "1e3", "NaN", "1,2", "0x10", "1.2.3"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
