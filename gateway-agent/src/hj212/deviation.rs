//! Deviations (偏离): what a frame or packet does differently from HJ 212-2017 while still being trustworthy.
//!
//! Policy (DOMAIN.md §2.9): real monitors deviate constantly (no `QN` or `Flag`, an `MN` that is not 24 hex digits,
//! lowercase CRC, 2005-style packets, `ST=101`, `Flag=8`, CP quirks). Such packets are **accepted, recorded as
//! sent, and flagged** with one [`Deviation`] per quirk, so that downstream rules can decide what a reading is
//! worth. What cannot be trusted (a wrong CRC or length, an unreadable `CN` or `Flag`, conflicting values, broken
//! syntax) is rejected instead, see [`FrameError`](super::frame::FrameError) and
//! [`PacketError`](super::packet::PacketError).

use std::fmt;

use serde::Serialize;

/// One tolerated departure from HJ 212-2017, recorded on the [`Frame`](super::frame::Frame) or
/// [`Packet`](super::packet::Packet). Serialises as `{"deviation": "snake_case_name", ...details}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "deviation", rename_all = "snake_case")]
pub enum Deviation {
    // ----- framing (表 2) -----
    /// The CRC was written with lowercase hex digits (the standard's examples are uppercase).
    LowercaseCrc,
    /// No `<CR><LF>` trailer (包尾): the frame ended at the next `##` or at the end of the stream.
    MissingTrailer,
    /// The data segment is longer than the standard's 1024 bytes (but within the configured cap).
    OversizeSegment {
        /// Data-segment length in bytes.
        len: usize,
    },

    // ----- data segment header (表 3) -----
    /// No `QN` (请求编码): typical of HJ/T 212-2005 packets.
    MissingQn,
    /// `QN` is not 17 digits `YYYYMMDDhhmmsszzz` of a real time (13-digit epoch ms, 14 or 18 digits, empty…).
    NonStandardQn {
        /// The value as sent.
        value: String,
    },
    /// No `ST` (系统编码).
    MissingSt,
    /// `ST` outside the ranges of 表 5 (e.g. `101`, `null`).
    NonStandardSt {
        /// The value as sent.
        value: String,
    },
    /// `CN` (命令编码) is 4 digits but not a code of 表 9 (a reserved code or a vendor extension).
    UnknownCn {
        /// The code.
        cn: u16,
    },
    /// No `PW` (访问密码).
    MissingPw,
    /// `PW` is not 6 characters.
    NonStandardPw {
        /// Its length in characters.
        len: usize,
    },
    /// No `MN` (设备唯一标识).
    MissingMn,
    /// `MN` is not 24 characters `0`–`9`/`A`–`F`.
    NonStandardMn {
        /// The value as sent.
        value: String,
    },
    /// No `Flag` (2005-style packet): no reply is requested.
    MissingFlag,
    /// `Flag` carries a version other than 1 (HJ 212-2017): 0 is HJ/T 212-2005, 2 is what HJ 212-2025 devices send.
    FlagVersion {
        /// `flag >> 2`.
        version: u8,
    },
    /// `PNUM`/`PNO` present although `Flag` does not announce a split packet (D bit clear or no `Flag`).
    SplitWithoutFlag,
    /// A response command (9xxx) asks for a reply (A bit set); no reply is sent to a reply.
    ReplyRequestedOnResponse,
    /// A header field the standard does not define (e.g. `USCC=`, `IMEI=` instead of `MN`), kept in
    /// [`Packet::extra`](super::packet::Packet::extra).
    UnknownHeaderField {
        /// The field name.
        name: String,
    },
    /// An empty header field (`;;`).
    EmptyHeaderField,

    // ----- CP data area (6.3.3, 表 4) -----
    /// No `CP=&&…&&` at all.
    MissingCp,
    /// The data segment ends in a stray `&&` without any `CP=` (kept off the last header value).
    StrayCpTerminator,
    /// The CP area has no closing `&&`.
    MissingCpClosing,
    /// An empty CP group, e.g. `;` right before the closing `&&`.
    EmptyCpGroup,
    /// Whitespace before a CP field name (even 表 C.25 has `; LA-Rtd`).
    SpaceBeforeName {
        /// The name, trimmed.
        name: String,
    },
    /// A CP field without a factor code where one is expected, e.g. a bare `Flag=N` item.
    BareField {
        /// The name.
        name: String,
    },
    /// A CP field name with more than one `-`, e.g. `LA-Rtd-Rtd`: split at the first `-`.
    OddFieldName {
        /// The whole name.
        name: String,
    },
    /// The same CP field twice with the same value.
    DuplicateCpField {
        /// The name.
        name: String,
    },
    /// `DataTime` is digits but not the 14 of `YYYYMMDDhhmmss` of a real time (16–17 digits occur).
    NonStandardDataTime {
        /// The value as sent.
        value: String,
    },
    /// A data upload (2011/2021/2031/2041/2051/2061) without `DataTime`.
    MissingDataTime,
    /// A measurement (`-Rtd`, `-Avg`, `-Min`, `-Max`, `-Cou`, `-Zs…`, `-Data`, …) that is not a decimal number.
    NonDecimalValue {
        /// `code-Field`.
        name: String,
        /// The value as sent.
        value: String,
    },
    /// A data flag (`-Flag`) outside 表 8 (`N F M S D C T B`).
    UnknownDataFlag {
        /// `code-Flag`.
        name: String,
        /// The value as sent.
        value: String,
    },
}

impl Deviation {
    /// Pushes `self` onto `list` unless an equal deviation is already there.
    pub(crate) fn record(self, list: &mut Vec<Deviation>) {
        if !list.contains(&self) {
            list.push(self);
        }
    }
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LowercaseCrc => f.write_str("CRC written in lowercase hex"),
            Self::MissingTrailer => f.write_str("no <CR><LF> trailer (包尾)"),
            Self::OversizeSegment { len } => write!(f, "data segment of {len} bytes exceeds the standard's 1024"),
            Self::MissingQn => f.write_str("no QN (请求编码)"),
            Self::NonStandardQn { value } => write!(f, "QN {value:?} is not 17 digits YYYYMMDDhhmmsszzz"),
            Self::MissingSt => f.write_str("no ST (系统编码)"),
            Self::NonStandardSt { value } => write!(f, "ST {value:?} is outside 表 5"),
            Self::UnknownCn { cn } => write!(f, "CN {cn:04} is not in 表 9 (reserved or vendor extension)"),
            Self::MissingPw => f.write_str("no PW (访问密码)"),
            Self::NonStandardPw { len } => write!(f, "PW of {len} characters (the standard has 6)"),
            Self::MissingMn => f.write_str("no MN (设备唯一标识)"),
            Self::NonStandardMn { value } => write!(f, "MN {value:?} is not 24 hex digits"),
            Self::MissingFlag => f.write_str("no Flag (2005 style)"),
            Self::FlagVersion { version } => write!(f, "Flag version {version} (HJ 212-2017 is version 1)"),
            Self::SplitWithoutFlag => f.write_str("PNUM/PNO without the Flag D bit"),
            Self::ReplyRequestedOnResponse => f.write_str("a response (9xxx) asks for a reply"),
            Self::UnknownHeaderField { name } => write!(f, "unknown header field {name:?}"),
            Self::EmptyHeaderField => f.write_str("empty header field (;;)"),
            Self::MissingCp => f.write_str("no CP=&&…&& (指令参数)"),
            Self::StrayCpTerminator => f.write_str("stray && at the end of the header"),
            Self::MissingCpClosing => f.write_str("CP area without closing &&"),
            Self::EmptyCpGroup => f.write_str("empty CP group (e.g. ; before the closing &&)"),
            Self::SpaceBeforeName { name } => write!(f, "whitespace before CP field {name:?}"),
            Self::BareField { name } => write!(f, "CP field {name:?} without a factor code"),
            Self::OddFieldName { name } => write!(f, "CP field name {name:?} has more than one '-'"),
            Self::DuplicateCpField { name } => write!(f, "CP field {name:?} repeated with the same value"),
            Self::NonStandardDataTime { value } => write!(f, "DataTime {value:?} is not 14 digits YYYYMMDDhhmmss"),
            Self::MissingDataTime => f.write_str("data upload without DataTime"),
            Self::NonDecimalValue { name, value } => write!(f, "{name}={value:?} is not a decimal number"),
            Self::UnknownDataFlag { name, value } => write!(f, "{name}={value:?} is not a data flag of 表 8"),
        }
    }
}
