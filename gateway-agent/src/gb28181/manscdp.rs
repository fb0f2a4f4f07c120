//! MANSCDP XML bodies (GB/T 28181-2016 附录 A, 监控报警联网系统控制描述协议): `Keepalive` and `Alarm`
//! notifications, `Catalog`, `DeviceInfo` and `DeviceStatus` queries and responses.
//!
//! Bodies arrive in GB2312/GBK more often than UTF-8 (the standard's examples declare `encoding="GB2312"`). The
//! charset is taken from the `Content-Type` `charset` parameter, else from the XML declaration, else UTF-8; when
//! the bytes do not decode in the declared charset but do in the other one (a device declaring GB2312 and
//! sending UTF-8, or the reverse), they are accepted and flagged [`XmlDeviation::CharsetMismatch`]. A document
//! type declaration is refused outright (`<!DOCTYPE`/`<!ENTITY`: no entity is ever expanded, so no billion
//! laughs), as is anything over the [`XmlLimits`].

use std::fmt;

use encoding_rs::{Encoding, GBK, UTF_8};
use siteledger_domain::site::{AlarmMethod, AlarmPriority};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::id::{DeviceId, IdError};

/// Limits on one body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Largest body in bytes. Default 64 KiB.
    pub max_bytes: usize,
    /// Most XML nodes. Default 20 000.
    pub max_nodes: u32,
    /// Most catalog items in one body. Default 1 000.
    pub max_items: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024, max_nodes: 20_000, max_items: 1_000 }
    }
}

/// Why a body is refused. Each variant has a stable [`name`](Self::name) for counters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Over [`XmlLimits`].
    #[error("MANSCDP body exceeds the limit of {max} {what} / 消息体过大")]
    TooLarge {
        /// Bytes, nodes or items.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The declared charset is not one an encoder knows.
    #[error("unknown charset {0:?} / 未知字符集")]
    UnknownCharset(String),
    /// The bytes decode neither in the declared charset nor in UTF-8/GB18030.
    #[error("body is not valid {0} (nor UTF-8/GBK) / 字符编码错误")]
    Undecodable(&'static str),
    /// A DTD: entity declarations are refused, never expanded.
    #[error("document type declarations (DOCTYPE/ENTITY) are refused / 拒绝 DTD 实体")]
    Doctype,
    /// Not well-formed XML.
    #[error("XML syntax error: {0} / XML 格式错误")]
    Syntax(String),
    /// The root is not `Query`, `Notify`, `Response` or `Control`.
    #[error("MANSCDP root element must be Query, Notify, Response or Control / 根元素错误")]
    UnknownRoot,
    /// A required element is missing or empty.
    #[error("MANSCDP {0} missing / 缺少 {0}")]
    Missing(&'static str),
    /// An element's text is not what the standard allows.
    #[error("MANSCDP {field}: {reason} / 字段错误")]
    Bad {
        /// The element.
        field: &'static str,
        /// Why (no value echoed).
        reason: &'static str,
    },
    /// An id element is not a valid 20-digit code.
    #[error("MANSCDP {field}: {error}")]
    BadId {
        /// The element.
        field: &'static str,
        /// Why.
        error: IdError,
    },
}

impl XmlError {
    /// A stable name for counters.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "xml_too_large",
            Self::UnknownCharset(_) => "xml_unknown_charset",
            Self::Undecodable(_) => "xml_undecodable",
            Self::Doctype => "xml_doctype_refused",
            Self::Syntax(_) => "xml_syntax",
            Self::UnknownRoot => "xml_unknown_root",
            Self::Missing(_) => "xml_missing_field",
            Self::Bad { .. } => "xml_bad_field",
            Self::BadId { .. } => "xml_bad_id",
        }
    }
}

/// A tolerated departure, noted on the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlDeviation {
    /// The bytes were not in the declared charset but in the other common one.
    CharsetMismatch,
    /// `AlarmType` at the top level instead of inside `<Info>` (2011-style devices).
    TopLevelAlarmType,
}

/// The root element (命令类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `Query`.
    Query,
    /// `Notify`.
    Notify,
    /// `Response`.
    Response,
    /// `Control`.
    Control,
}

impl Root {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Query" => Self::Query,
            "Notify" => Self::Notify,
            "Response" => Self::Response,
            "Control" => Self::Control,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Query => "Query",
            Self::Notify => "Notify",
            Self::Response => "Response",
            Self::Control => "Control",
        }
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Notify`/`Keepalive`: 设备状态信息报送 (心跳).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keepalive {
    /// `SN`.
    pub sn: u32,
    /// `DeviceID`.
    pub device_id: DeviceId,
    /// `Status` is `OK` (anything else is `ERROR` in the standard).
    pub ok: bool,
}

/// A channel's `Status` in a catalog item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    /// `ON` (or `ONLINE`, as some NVRs write it).
    On,
    /// `OFF`/`OFFLINE`.
    Off,
}

/// One `Item` of a `DeviceList` with a 20-digit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    /// `DeviceID`.
    pub device_id: DeviceId,
    /// `Name`.
    pub name: String,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `Address`.
    pub address: Option<String>,
    /// `ParentID`.
    pub parent_id: Option<String>,
    /// `Status`.
    pub status: Option<ItemStatus>,
}

/// `Response`/`Catalog`: one part of a device's catalog (a long catalog comes in several `MESSAGE`s with the same
/// `SN`, each with some of `SumNum` items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPart {
    /// `SN` of the query answered.
    pub sn: u32,
    /// `DeviceID` of the device answering.
    pub device_id: DeviceId,
    /// `SumNum`: items in the whole catalog.
    pub sum_num: u32,
    /// Items with valid 20-digit ids.
    pub items: Vec<CatalogItem>,
    /// 行政区划 nodes (2, 4, 6 or 8 digits) some platforms list among items.
    pub civil_codes: Vec<String>,
    /// Items refused: their position in this part and why (their id is not repeated).
    pub rejected: Vec<(usize, IdError)>,
}

/// `Notify`/`Alarm`: 报警通知.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmNotify {
    /// `SN`.
    pub sn: u32,
    /// `DeviceID`: the alarming device or channel.
    pub device_id: DeviceId,
    /// `AlarmPriority` 1–4.
    pub priority: AlarmPriority,
    /// `AlarmMethod` 1–7.
    pub method: AlarmMethod,
    /// `Info/AlarmType`, when sent (optional in the standard).
    pub alarm_type: Option<u16>,
    /// `AlarmTime`, local time (Asia/Shanghai) as devices send it.
    pub time: OffsetDateTime,
    /// `AlarmDescription`.
    pub description: Option<String>,
}

/// `Response`/`DeviceInfo`: 设备信息查询应答.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `SN`.
    pub sn: u32,
    /// `DeviceID`.
    pub device_id: DeviceId,
    /// `Result` is `OK`.
    pub ok: bool,
    /// `DeviceName`.
    pub name: Option<String>,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `Firmware`.
    pub firmware: Option<String>,
    /// `Channel`: number of video channels.
    pub channels: Option<u32>,
}

/// `Response`/`DeviceStatus`: 设备状态查询应答.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    /// `SN`.
    pub sn: u32,
    /// `DeviceID`.
    pub device_id: DeviceId,
    /// `Result` is `OK`.
    pub ok: bool,
    /// `Online`: `ONLINE`/`OFFLINE`.
    pub online: Option<bool>,
    /// `Status` is `OK` (working normally).
    pub working: Option<bool>,
    /// `Record` is `ON`.
    pub recording: Option<bool>,
    /// `Encode` is `ON`.
    pub encoding: Option<bool>,
    /// `DeviceTime` as sent (local time, e.g. `2026-12-06T14:03:09`).
    pub device_time: Option<String>,
    /// `Alarmstatus` items: each alarm input's (or channel's) `DeviceID` and `DutyStatus` (`ONDUTY` 布防,
    /// `OFFDUTY` 撤防, `ALARM` 报警) as sent. Duty is not online state.
    pub alarm_status: Vec<(DeviceId, String)>,
    /// `Alarmstatus` items refused for their id (or beyond `max_items`).
    pub alarm_status_rejected: usize,
}

/// A parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `Notify`/`Keepalive`.
    Keepalive(Keepalive),
    /// `Notify`/`Alarm`.
    Alarm(AlarmNotify),
    /// `Response`/`Catalog`.
    Catalog(CatalogPart),
    /// `Response`/`DeviceInfo`.
    DeviceInfo(DeviceInfo),
    /// `Response`/`DeviceStatus`.
    DeviceStatus(DeviceStatus),
    /// A query (`Catalog`, `DeviceInfo`, `DeviceStatus`, …) sent to us.
    Query {
        /// `CmdType`.
        cmd_type: String,
        /// `SN`.
        sn: u32,
        /// `DeviceID`.
        device_id: String,
    },
    /// Another well-formed command the platform does not act on (e.g. `MobilePosition`, `RecordInfo`).
    Other {
        /// The root.
        root: Root,
        /// `CmdType`.
        cmd_type: String,
        /// `SN`, when a number.
        sn: Option<u32>,
    },
}

/// A parsed body and the departures tolerated on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The body.
    pub body: Body,
    /// Tolerated departures.
    pub deviations: Vec<XmlDeviation>,
}

/// Decodes and parses a MANSCDP body. `content_type` is the SIP `Content-Type` value, when there is one.
pub fn parse(bytes: &[u8], content_type: Option<&str>, limits: &XmlLimits) -> Result<Parsed, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge { what: "bytes", max: limits.max_bytes });
    }
    let mut deviations = Vec::new();
    let text = decode(bytes, content_type, &mut deviations)?;
    if has_dtd(&text) {
        return Err(XmlError::Doctype);
    }
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: limits.max_nodes, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(&text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Doctype,
        roxmltree::Error::NodesLimitReached => XmlError::TooLarge { what: "nodes", max: limits.max_nodes as usize },
        e => XmlError::Syntax(e.to_string().chars().take(120).collect()),
    })?;
    let root_el = doc.root_element();
    let root = Root::parse(root_el.tag_name().name()).ok_or(XmlError::UnknownRoot)?;
    let cmd_type = text_of(root_el, "CmdType").ok_or(XmlError::Missing("CmdType"))?;
    let body = match (root, cmd_type) {
        (Root::Notify, "Keepalive") => Body::Keepalive(Keepalive {
            sn: sn(root_el)?,
            device_id: id(root_el, "DeviceID")?,
            ok: text_of(root_el, "Status").is_none_or(|s| s.eq_ignore_ascii_case("OK")),
        }),
        (Root::Notify, "Alarm") => Body::Alarm(alarm(root_el, &mut deviations)?),
        (Root::Response, "Catalog") => Body::Catalog(catalog(root_el, limits)?),
        (Root::Response, "DeviceInfo") => Body::DeviceInfo(DeviceInfo {
            sn: sn(root_el)?,
            device_id: id(root_el, "DeviceID")?,
            ok: result_ok(root_el),
            name: owned(root_el, "DeviceName"),
            manufacturer: owned(root_el, "Manufacturer"),
            model: owned(root_el, "Model"),
            firmware: owned(root_el, "Firmware"),
            channels: number(root_el, "Channel")?,
        }),
        (Root::Response, "DeviceStatus") => {
            let (alarm_status, alarm_status_rejected) = alarm_status(root_el, limits);
            Body::DeviceStatus(DeviceStatus {
                sn: sn(root_el)?,
                device_id: id(root_el, "DeviceID")?,
                ok: result_ok(root_el),
                online: flag(root_el, "Online", "ONLINE", "OFFLINE"),
                working: flag(root_el, "Status", "OK", "ERROR"),
                recording: flag(root_el, "Record", "ON", "OFF"),
                encoding: flag(root_el, "Encode", "ON", "OFF"),
                device_time: owned(root_el, "DeviceTime"),
                alarm_status,
                alarm_status_rejected,
            })
        }
        (Root::Query, cmd) => Body::Query {
            cmd_type: cmd.to_owned(),
            sn: sn(root_el)?,
            device_id: text_of(root_el, "DeviceID").ok_or(XmlError::Missing("DeviceID"))?.to_owned(),
        },
        (root, cmd) => Body::Other { root, cmd_type: cmd.to_owned(), sn: sn(root_el).ok() },
    };
    Ok(Parsed { body, deviations })
}

/// Whether the text declares a DTD or an entity anywhere (checked before the parser sees it).
fn has_dtd(text: &str) -> bool {
    let upper = |needle: &str| text.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
    upper("<!DOCTYPE") || upper("<!ENTITY")
}

/// The charset to decode with: `Content-Type` `charset=`, else the XML declaration's `encoding`, else UTF-8.
fn declared_charset(bytes: &[u8], content_type: Option<&str>) -> Option<String> {
    let from_type = content_type.and_then(|ct| {
        ct.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_owned())
        })
    });
    from_type.or_else(|| {
        let head = &bytes[..bytes.len().min(200)];
        let decl_end = head.windows(2).position(|w| w == b"?>")?;
        let decl = std::str::from_utf8(&head[..decl_end]).ok()?;
        if !decl.trim_start().starts_with("<?xml") {
            return None;
        }
        let at = decl.find("encoding")? + "encoding".len();
        let rest = decl[at..].trim_start().strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let rest = &rest[1..];
        Some(rest[..rest.find(quote)?].to_owned())
    })
}

fn decode(bytes: &[u8], content_type: Option<&str>, deviations: &mut Vec<XmlDeviation>) -> Result<String, XmlError> {
    let encoding = match declared_charset(bytes, content_type) {
        Some(label) => Encoding::for_label(label.trim().as_bytes())
            .ok_or_else(|| XmlError::UnknownCharset(label.escape_debug().take(32).collect()))?,
        None => UTF_8,
    };
    // GB2312 and GBK labels map to GBK, whose decoder reads GB18030: a superset of what devices send.
    let strict = |enc: &'static Encoding| enc.decode_without_bom_handling_and_without_replacement(bytes);
    if let Some(text) = strict(encoding) {
        return Ok(text.into_owned());
    }
    let other = if encoding == UTF_8 { GBK } else { UTF_8 };
    if (encoding == UTF_8 || encoding == GBK || encoding.name() == "gb18030")
        && let Some(text) = strict(other)
    {
        deviations.push(XmlDeviation::CharsetMismatch);
        return Ok(text.into_owned());
    }
    Err(XmlError::Undecodable(encoding.name()))
}

fn text_of<'a>(parent: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    let el = parent.children().find(|n| n.is_element() && n.tag_name().name() == name)?;
    let text = el.text()?.trim();
    (!text.is_empty()).then_some(text)
}

fn owned(parent: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    text_of(parent, name).map(str::to_owned)
}

fn sn(parent: roxmltree::Node<'_, '_>) -> Result<u32, XmlError> {
    number(parent, "SN")?.ok_or(XmlError::Missing("SN"))
}

fn number<T: std::str::FromStr>(parent: roxmltree::Node<'_, '_>, name: &'static str) -> Result<Option<T>, XmlError> {
    text_of(parent, name)
        .map(|t| t.parse().map_err(|_| XmlError::Bad { field: name, reason: "not a number in range" }))
        .transpose()
}

fn id(parent: roxmltree::Node<'_, '_>, name: &'static str) -> Result<DeviceId, XmlError> {
    let text = text_of(parent, name).ok_or(XmlError::Missing(name))?;
    DeviceId::parse(text).map_err(|error| XmlError::BadId { field: name, error })
}

fn result_ok(parent: roxmltree::Node<'_, '_>) -> bool {
    text_of(parent, "Result").is_none_or(|r| r.eq_ignore_ascii_case("OK"))
}

fn flag(parent: roxmltree::Node<'_, '_>, name: &str, yes: &str, no: &str) -> Option<bool> {
    let t = text_of(parent, name)?;
    if t.eq_ignore_ascii_case(yes) {
        Some(true)
    } else if t.eq_ignore_ascii_case(no) {
        Some(false)
    } else {
        None
    }
}

/// `Alarmstatus/Item`s with valid ids (at most `max_items`), and how many were refused.
fn alarm_status(root: roxmltree::Node<'_, '_>, limits: &XmlLimits) -> (Vec<(DeviceId, String)>, usize) {
    let Some(list) =
        root.children().find(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("Alarmstatus"))
    else {
        return (Vec::new(), 0);
    };
    let (mut items, mut rejected) = (Vec::new(), 0);
    for item in list.children().filter(|n| n.is_element() && n.tag_name().name() == "Item") {
        match text_of(item, "DeviceID").map(DeviceId::parse) {
            Some(Ok(id)) if items.len() < limits.max_items => {
                items.push((id, text_of(item, "DutyStatus").unwrap_or_default().to_owned()));
            }
            _ => rejected += 1,
        }
    }
    (items, rejected)
}

fn alarm(root: roxmltree::Node<'_, '_>, deviations: &mut Vec<XmlDeviation>) -> Result<AlarmNotify, XmlError> {
    let coded = |name: &'static str, range: &'static str| -> Result<u8, XmlError> {
        number::<u8>(root, name)?.ok_or(XmlError::Missing(name)).map_err(|e| match e {
            XmlError::Bad { field, .. } => XmlError::Bad { field, reason: range },
            e => e,
        })
    };
    let priority = AlarmPriority::new(coded("AlarmPriority", "must be 1-4")?)
        .map_err(|_| XmlError::Bad { field: "AlarmPriority", reason: "must be 1-4" })?;
    let method = AlarmMethod::new(coded("AlarmMethod", "must be 1-7")?)
        .map_err(|_| XmlError::Bad { field: "AlarmMethod", reason: "must be 1-7" })?;
    let info = root.children().find(|n| n.is_element() && n.tag_name().name() == "Info");
    let alarm_type = match info.map(|i| number::<u16>(i, "AlarmType")).transpose()?.flatten() {
        Some(t) => Some(t),
        None => {
            let top = number::<u16>(root, "AlarmType")?;
            if top.is_some() {
                deviations.push(XmlDeviation::TopLevelAlarmType);
            }
            top
        }
    };
    let raw_time = text_of(root, "AlarmTime").ok_or(XmlError::Missing("AlarmTime"))?;
    let time = local_time(raw_time).ok_or(XmlError::Bad { field: "AlarmTime", reason: "not YYYY-MM-DDThh:mm:ss" })?;
    Ok(AlarmNotify {
        sn: sn(root)?,
        device_id: id(root, "DeviceID")?,
        priority,
        method,
        alarm_type,
        time,
        description: owned(root, "AlarmDescription"),
    })
}

/// `YYYY-MM-DDThh:mm:ss[.fff]` (the standard's 时间格式, no zone) read as Asia/Shanghai time.
pub fn local_time(s: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    let t = PrimitiveDateTime::parse(s.trim(), &format).ok()?;
    Some(t.assume_offset(siteledger_domain::time::SHANGHAI))
}

/// `t` as the standard writes times (`2026-12-06T20:11:25`, Asia/Shanghai, no zone): `AlarmTime`, `DeviceTime`.
#[must_use]
pub fn format_local_time(t: OffsetDateTime) -> String {
    let t = siteledger_domain::time::in_shanghai(t);
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    t.format(&format).unwrap_or_default()
}

/// The `Date` header of a `200` to `REGISTER` (校时, 2016 §9.10): local time with milliseconds,
/// `2026-12-06T20:11:25.123`, as platforms (wvp-GB28181-pro's `GbSipDate`) write it.
#[must_use]
pub fn format_date_header(t: OffsetDateTime) -> String {
    let t = siteledger_domain::time::in_shanghai(t);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]");
    t.format(&format).unwrap_or_default()
}

fn catalog(root: roxmltree::Node<'_, '_>, limits: &XmlLimits) -> Result<CatalogPart, XmlError> {
    let sum_num = number::<u32>(root, "SumNum")?.ok_or(XmlError::Missing("SumNum"))?;
    let mut part = CatalogPart {
        sn: sn(root)?,
        device_id: id(root, "DeviceID")?,
        sum_num,
        items: Vec::new(),
        civil_codes: Vec::new(),
        rejected: Vec::new(),
    };
    let Some(list) = root.children().find(|n| n.is_element() && n.tag_name().name() == "DeviceList") else {
        return Ok(part); // SumNum 0: no list
    };
    let items = list.children().filter(|n| n.is_element() && n.tag_name().name() == "Item");
    for (index, item) in items.enumerate() {
        if index == limits.max_items {
            return Err(XmlError::TooLarge { what: "items", max: limits.max_items });
        }
        let raw = text_of(item, "DeviceID").unwrap_or_default();
        if matches!(raw.len(), 2 | 4 | 6 | 8) && raw.bytes().all(|b| b.is_ascii_digit()) {
            part.civil_codes.push(raw.to_owned());
            continue;
        }
        match DeviceId::parse(raw) {
            Ok(device_id) => part.items.push(CatalogItem {
                device_id,
                name: owned(item, "Name").unwrap_or_default(),
                manufacturer: owned(item, "Manufacturer"),
                model: owned(item, "Model"),
                address: owned(item, "Address"),
                parent_id: owned(item, "ParentID"),
                status: text_of(item, "Status").and_then(|s| {
                    if s.eq_ignore_ascii_case("ON") || s.eq_ignore_ascii_case("ONLINE") {
                        Some(ItemStatus::On)
                    } else if s.eq_ignore_ascii_case("OFF") || s.eq_ignore_ascii_case("OFFLINE") {
                        Some(ItemStatus::Off)
                    } else {
                        None
                    }
                }),
            }),
            Err(e) => part.rejected.push((index, e)),
        }
    }
    Ok(part)
}

// ---------------------------------------------------------------------------------------------------------------
// Building bodies
// ---------------------------------------------------------------------------------------------------------------

/// The `Content-Type` of MANSCDP bodies (GB/T 28181-2016 §9.3.1 writes `Application/MANSCDP+xml`).
pub const CONTENT_TYPE: &str = "Application/MANSCDP+xml";

/// Escapes text for an XML element (so that parsing it gives back exactly `s`).
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A raw CR would be read back as LF (XML 1.0 §2.11 end-of-line handling); a reference keeps it.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// A document with the standard's GB2312 declaration, encoded in GBK (what devices and platforms exchange):
/// `elements` as escaped text, then `raw` (XML built here, e.g. a `DeviceList`) before the end tag.
#[must_use]
pub fn document(root: Root, elements: &[(&str, String)], raw: &str) -> Vec<u8> {
    let mut xml = format!("<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<{root}>\r\n");
    for (name, value) in elements {
        xml.push_str(&format!("<{name}>{}</{name}>\r\n", escape(value)));
    }
    xml.push_str(raw);
    xml.push_str(&format!("</{root}>\r\n"));
    GBK.encode(&xml).0.into_owned()
}

/// A `Query` the platform sends (`Catalog`, `DeviceInfo`, `DeviceStatus`).
#[must_use]
pub fn query(cmd_type: &str, sn: u32, device_id: &DeviceId) -> Vec<u8> {
    document(
        Root::Query,
        &[("CmdType", cmd_type.to_owned()), ("SN", sn.to_string()), ("DeviceID", device_id.to_string())],
        "",
    )
}

/// The platform's `Response`/`Alarm` with `Result` `OK` (报警通知响应, 2016 §9.4.2).
#[must_use]
pub fn alarm_response(sn: u32, device_id: &DeviceId) -> Vec<u8> {
    document(
        Root::Response,
        &[
            ("CmdType", "Alarm".to_owned()),
            ("SN", sn.to_string()),
            ("DeviceID", device_id.to_string()),
            ("Result", "OK".to_owned()),
        ],
        "",
    )
}

/// A device's `Keepalive` (for the simulator and tests).
#[must_use]
pub fn keepalive(sn: u32, device_id: &DeviceId) -> Vec<u8> {
    document(
        Root::Notify,
        &[
            ("CmdType", "Keepalive".to_owned()),
            ("SN", sn.to_string()),
            ("DeviceID", device_id.to_string()),
            ("Status", "OK".to_owned()),
        ],
        "",
    )
}

/// A device's `Alarm` notification (for the simulator and tests).
#[must_use]
pub fn alarm_notify(a: &AlarmNotify) -> Vec<u8> {
    let mut elements = vec![
        ("CmdType", "Alarm".to_owned()),
        ("SN", a.sn.to_string()),
        ("DeviceID", a.device_id.to_string()),
        ("AlarmPriority", a.priority.get().to_string()),
        ("AlarmMethod", a.method.get().to_string()),
        ("AlarmTime", format_local_time(a.time)),
    ];
    if let Some(d) = &a.description {
        elements.push(("AlarmDescription", d.clone()));
    }
    let info = a.alarm_type.map(|t| format!("<Info>\r\n<AlarmType>{t}</AlarmType>\r\n</Info>\r\n"));
    document(Root::Notify, &elements, info.as_deref().unwrap_or_default())
}

/// A device's `Response`/`DeviceStatus` (设备状态查询应答, for the simulator and tests): `Online`, `Status`, `Encode`
/// and `Record`, and an `Alarmstatus` item (`DutyStatus` `ONDUTY`) for each of `alarm_inputs`.
#[must_use]
pub fn device_status_response(
    sn: u32,
    device_id: &DeviceId,
    online: bool,
    working: bool,
    alarm_inputs: &[DeviceId],
) -> Vec<u8> {
    let mut items = String::new();
    for id in alarm_inputs {
        items.push_str(&format!(
            "<Item>\r\n<DeviceID>{id}</DeviceID>\r\n<DutyStatus>ONDUTY</DutyStatus>\r\n</Item>\r\n"
        ));
    }
    let raw = format!("<Alarmstatus Num=\"{}\">\r\n{items}</Alarmstatus>\r\n", alarm_inputs.len());
    document(
        Root::Response,
        &[
            ("CmdType", "DeviceStatus".to_owned()),
            ("SN", sn.to_string()),
            ("DeviceID", device_id.to_string()),
            ("Result", "OK".to_owned()),
            ("Online", if online { "ONLINE" } else { "OFFLINE" }.to_owned()),
            ("Status", if working { "OK" } else { "ERROR" }.to_owned()),
            ("Encode", if online { "ON" } else { "OFF" }.to_owned()),
            ("Record", "OFF".to_owned()),
        ],
        &raw,
    )
}

/// A device's catalog response part (for the simulator and tests): `items` as (id, name, online).
#[must_use]
pub fn catalog_response(sn: u32, device_id: &DeviceId, sum_num: u32, items: &[(DeviceId, &str, bool)]) -> Vec<u8> {
    let mut list = String::new();
    for (id, name, on) in items {
        list.push_str(&format!(
            "\r\n<Item>\r\n<DeviceID>{id}</DeviceID>\r\n<Name>{}</Name>\r\n<Manufacturer>SiteLedger</Manufacturer>\r\n\
             <ParentID>{device_id}</ParentID>\r\n<Status>{}</Status>\r\n</Item>",
            escape(name),
            if *on { "ON" } else { "OFF" }
        ));
    }
    let list = format!("<SumNum>{sum_num}</SumNum>\r\n<DeviceList Num=\"{}\">{list}\r\n</DeviceList>\r\n", items.len());
    document(
        Root::Response,
        &[("CmdType", "Catalog".to_owned()), ("SN", sn.to_string()), ("DeviceID", device_id.to_string())],
        &list,
    )
}

#[cfg(test)]
#[path = "manscdp_tests.rs"]
mod tests;
