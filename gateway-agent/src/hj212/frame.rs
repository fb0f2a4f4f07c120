//! Sans-I/O framer (通讯包 framing, HJ 212-2017 表 2): bytes in, and one of *need more bytes*, *one frame and how
//! many bytes it used*, or *an error and how many bytes to skip to resynchronise on the next `##`*.
//!
//! ```text
//! ##  0101  QN=…;ST=32;CN=1062;…;CP=&&RtdInterval=30&&  1C80  \r\n
//! 包头 长度   数据段 (data segment, 101 bytes)             CRC   包尾
//! ```
//!
//! * 包头 `##`; 数据段长度: 4 ASCII digits, the data segment's length in **bytes** (UTF-8 for Chinese).
//! * CRC: 4 hex digits of the 附录 A CRC ([`hj212_crc`]) over the data segment only. Lowercase is accepted and
//!   flagged ([`Deviation::LowercaseCrc`]). A wrong CRC is rejected ("如果 CRC 错误，执行结束"), naming the
//!   CRC-16/MODBUS mix-up when that is what the sender used ([`CrcVariant`]).
//! * 包尾 `<CR><LF>`: a frame without it is accepted when it is followed by the next `##` or by the end of the
//!   stream ([`Decoder::decode_eof`]), flagged [`Deviation::MissingTrailer`].
//! * The standard caps the data segment at 1024 bytes; real packets reach 1623. Segments up to the configured
//!   [`Limits::max_segment`] (default 9999, what 4 digits can say) are accepted and flagged
//!   [`Deviation::OversizeSegment`]; longer ones are [`FrameErrorKind::TooLarge`].
//!
//! The declared length is tried first. When the bytes there are not `CRC` + trailer, the framer looks for where the
//! frame really ends (the first `<CR><LF>` or next `##`: a data segment is printable text and never contains them)
//! and reports [`FrameErrorKind::BadLength`] with both lengths. The parser never allocates for input it rejects, never reads
//! past `buf`, and always asks to skip at least one byte on error, so a caller loop always makes progress.
//!
//! Modelled on tokio-rs/mini-redis `Frame::check`/`Connection::parse_frame`: the caller owns the buffer, calls
//! [`Decoder::decode`] after each read, and drops `consumed` (or `skip`) bytes from its front.

use std::fmt;

use serde::Serialize;

use super::crc::{CrcField, CrcVariant, diagnose, hj212_crc, parse_crc_field};
use super::deviation::Deviation;

/// 包头: every frame starts with `##`.
pub const HEADER: &[u8; 2] = b"##";
/// 包尾: every frame should end with `<CR><LF>`.
pub const TRAILER: &[u8; 2] = b"\r\n";
/// The standard's limit on the data segment (表 2: `0 ≤ n ≤ 1024`).
pub const STANDARD_MAX_SEGMENT: usize = 1024;
/// The largest length 4 digits can declare.
pub const LENGTH_FIELD_MAX: usize = 9999;

const PREFIX_LEN: usize = 6; // "##" + 4 digits
const CRC_LEN: usize = 4;

/// Configurable limits of the [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest data segment accepted, in bytes. Above [`STANDARD_MAX_SEGMENT`] frames are accepted but flagged;
    /// above this they are rejected as [`FrameErrorKind::TooLarge`]. Default [`LENGTH_FIELD_MAX`].
    pub max_segment: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_segment: LENGTH_FIELD_MAX }
    }
}

impl Limits {
    /// Largest number of bytes one frame can occupy in the input, trailer included.
    #[must_use]
    pub fn max_frame(&self) -> usize {
        PREFIX_LEN + self.max_segment.min(LENGTH_FIELD_MAX) + CRC_LEN + TRAILER.len()
    }
}

/// One frame whose length and CRC are correct. The data segment is not parsed yet (see
/// [`Packet::parse`](super::packet::Packet::parse)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    segment: Vec<u8>,
    crc: u16,
    deviations: Vec<Deviation>,
}

impl Frame {
    /// The data segment (数据段), exactly as received.
    #[must_use]
    pub fn segment(&self) -> &[u8] {
        &self.segment
    }

    /// The CRC, verified equal to [`hj212_crc`] of the segment.
    #[must_use]
    pub fn crc(&self) -> u16 {
        self.crc
    }

    /// Framing deviations: [`Deviation::LowercaseCrc`], [`Deviation::MissingTrailer`],
    /// [`Deviation::OversizeSegment`].
    #[must_use]
    pub fn deviations(&self) -> &[Deviation] {
        &self.deviations
    }

    /// The segment and the deviations.
    #[must_use]
    pub fn into_parts(self) -> (Vec<u8>, Vec<Deviation>) {
        (self.segment, self.deviations)
    }
}

/// Which fixed-format field of the envelope a [`FrameErrorKind::NonAscii`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvelopeField {
    /// 数据段长度, the 4 digits after `##`.
    Length,
    /// The 4 hex digits of the CRC.
    Crc,
}

impl fmt::Display for EnvelopeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Length => "length field (数据段长度)",
            Self::Crc => "CRC field",
        })
    }
}

/// Why the envelope is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum FramingFault {
    /// Bytes that are not a `##` header (noise, or the rest of a frame rejected earlier).
    NoHeader,
    /// The 4 characters after `##` are not 4 ASCII digits (e.g. `##81…`).
    LengthNotDigits {
        /// What was there (escaped).
        found: String,
    },
    /// Where the frame ends, the 4 characters before it are not hex digits.
    CrcNotHex {
        /// What was there (escaped).
        found: String,
    },
    /// The stream ended inside a frame.
    Truncated {
        /// Bytes of the frame received.
        have: usize,
    },
    /// No `<CR><LF>` or `##` within the longest frame the limits allow.
    NoTrailer {
        /// That limit, in bytes.
        limit: usize,
    },
}

impl fmt::Display for FramingFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHeader => f.write_str("no `##` header (包头)"),
            Self::LengthNotDigits { found } => write!(f, "length field {found:?} is not 4 decimal digits"),
            Self::CrcNotHex { found } => write!(f, "CRC field {found:?} is not 4 hex digits"),
            Self::Truncated { have } => write!(f, "stream ended inside a frame after {have} bytes"),
            Self::NoTrailer { limit } => write!(f, "no <CR><LF> or next `##` within {limit} bytes"),
        }
    }
}

/// What is wrong with the bytes at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum FrameErrorKind {
    /// The envelope (`##`, length digits, CRC digits, trailer) is broken.
    #[error("bad framing: {reason}")]
    BadFraming {
        /// Why.
        reason: FramingFault,
    },
    /// A byte above 0x7F where the envelope requires ASCII.
    #[error("non-ASCII byte 0x{byte:02X} at offset {offset} in the {field}")]
    NonAscii {
        /// Which field.
        field: EnvelopeField,
        /// Offset from the start of the frame (`##`).
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The declared data segment is longer than [`Limits::max_segment`].
    #[error("declared data segment of {declared} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Declared length.
        declared: usize,
        /// Configured limit.
        max: usize,
    },
    /// The length field does not match the data segment found before the CRC and trailer.
    #[error("length field says {declared} bytes but the data segment has {actual}{}", if *crc_matches { " (its CRC matches)" } else { " (its CRC does not match either)" })]
    BadLength {
        /// The 4 digits.
        declared: usize,
        /// Bytes between the length field and the CRC field.
        actual: usize,
        /// Whether the CRC field is the CRC of those `actual` bytes.
        crc_matches: bool,
    },
    /// The CRC field is not the 附录 A CRC of the data segment.
    #[error("CRC field {declared:04X} but the data segment's HJ 212 CRC is {computed:04X}{}", looks_like.map(|v| format!(" ({v})")).unwrap_or_default())]
    BadCrc {
        /// The CRC field.
        declared: u16,
        /// [`hj212_crc`] of the data segment.
        computed: u16,
        /// Set when the field is the CRC-16/MODBUS of the segment (a common vendor mistake).
        looks_like: Option<CrcVariant>,
    },
}

/// A rejected frame or run of noise: what is wrong, and how many bytes at the front of the buffer to drop
/// (those bytes are the raw rejected frame, to be kept with the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{kind} (skipping {skip} bytes)")]
pub struct FrameError {
    /// What is wrong.
    pub kind: FrameErrorKind,
    /// Bytes to drop from the front of the buffer; always at least 1.
    pub skip: usize,
}

impl FrameError {
    fn new(kind: FrameErrorKind, skip: usize) -> Self {
        Self { kind, skip: skip.max(1) }
    }

    fn framing(reason: FramingFault, skip: usize) -> Self {
        Self::new(FrameErrorKind::BadFraming { reason }, skip)
    }
}

/// The framer. Holds only its [`Limits`]; the caller owns the buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoder {
    limits: Limits,
}

/// `Ok(Some((frame, consumed)))`, `Ok(None)` (need more bytes) or `Err` (skip [`FrameError::skip`] bytes).
pub type DecodeResult = Result<Option<(Frame, usize)>, FrameError>;

impl Decoder {
    /// A decoder with these limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// Its limits.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Decodes the frame at the front of `buf`, which may grow later.
    pub fn decode(&self, buf: &[u8]) -> DecodeResult {
        self.decode_inner(buf, false)
    }

    /// Like [`decode`](Self::decode), when no more bytes will come: a frame without trailer at the very end is
    /// accepted (flagged), a partial frame is an error instead of `Ok(None)`. `Ok(None)` only for an empty buffer.
    pub fn decode_eof(&self, buf: &[u8]) -> DecodeResult {
        self.decode_inner(buf, true)
    }

    fn decode_inner(&self, buf: &[u8], eof: bool) -> DecodeResult {
        if buf.is_empty() {
            return Ok(None);
        }
        // 包头
        let header_have = buf.len().min(HEADER.len());
        if buf[..header_have] != HEADER[..header_have] {
            return Err(FrameError::framing(FramingFault::NoHeader, resync(buf, 1, eof)));
        }
        // 数据段长度: reject as soon as a non-digit shows, even before all 4 have arrived.
        let length_have = &buf[header_have..buf.len().min(PREFIX_LEN)];
        if let Some(i) = length_have.iter().position(|b| !b.is_ascii_digit()) {
            let byte = length_have[i];
            let kind = if byte.is_ascii() {
                FrameErrorKind::BadFraming { reason: FramingFault::LengthNotDigits { found: escape(length_have) } }
            } else {
                FrameErrorKind::NonAscii { field: EnvelopeField::Length, offset: HEADER.len() + i, byte }
            };
            return Err(FrameError::new(kind, resync(buf, 1, eof)));
        }
        if buf.len() < PREFIX_LEN {
            return if eof {
                Err(FrameError::framing(FramingFault::Truncated { have: buf.len() }, buf.len()))
            } else {
                Ok(None)
            };
        }
        let declared = length_have.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        let max = self.limits.max_segment.min(LENGTH_FIELD_MAX);
        if declared > max {
            return Err(FrameError::new(FrameErrorKind::TooLarge { declared, max }, resync(buf, 1, eof)));
        }

        // Fast path: CRC and trailer where the length says, and no frame boundary inside the segment (which keeps
        // decoding byte by byte and decoding at once in agreement).
        let crc_at = PREFIX_LEN + declared;
        let field = buf.get(crc_at..crc_at + CRC_LEN).and_then(parse_crc_field);
        let field = field.filter(|_| !has_boundary(&buf[PREFIX_LEN..crc_at]));
        if let Some(field) = field {
            let after = &buf[crc_at + CRC_LEN..];
            if after.starts_with(TRAILER) {
                return self.check(buf, declared, field, crc_at + CRC_LEN + TRAILER.len(), false);
            }
            if after.starts_with(HEADER) {
                return self.check(buf, declared, field, crc_at + CRC_LEN, true);
            }
            if after.is_empty() || after == b"\r" || after == b"#" {
                if !eof {
                    return Ok(None);
                }
                // A lone CR is a partial trailer and belongs to this frame; a lone `#` is left as noise.
                let consumed = crc_at + CRC_LEN + usize::from(after == b"\r");
                return self.check(buf, declared, field, consumed, true);
            }
        }

        // The length does not hold (or not enough bytes yet): find where the frame really ends.
        let limit = self.limits.max_frame();
        let region = &buf[PREFIX_LEN..buf.len().min(limit)];
        let crlf = find(region, TRAILER).map(|i| i + PREFIX_LEN);
        let next_header = find(region, HEADER).map(|i| i + PREFIX_LEN);
        let (end, consumed, at_eof) = match (crlf, next_header) {
            (Some(p), Some(q)) if q < p => (q, q, false),
            (Some(p), _) => (p, p + TRAILER.len(), false),
            (None, Some(q)) => (q, q, false),
            (None, None) if eof => (buf.len(), buf.len(), true),
            (None, None) if buf.len() >= limit => {
                return Err(FrameError::framing(FramingFault::NoTrailer { limit }, resync(buf, 1, eof)));
            }
            (None, None) => return Ok(None),
        };
        let body = &buf[PREFIX_LEN..end];
        if at_eof && body.len() < declared + CRC_LEN && !looks_complete(body) {
            return Err(FrameError::framing(FramingFault::Truncated { have: end }, consumed));
        }
        let Some(crc_field) = body.len().checked_sub(CRC_LEN).map(|actual| &body[actual..]) else {
            // The frame ends before 4 characters of CRC could fit.
            return Err(FrameError::framing(FramingFault::CrcNotHex { found: escape(body) }, consumed));
        };
        let Some(field) = parse_crc_field(crc_field) else {
            if at_eof {
                return Err(FrameError::framing(FramingFault::Truncated { have: end }, consumed));
            }
            if let Some(i) = crc_field.iter().position(|b| !b.is_ascii()) {
                let kind = FrameErrorKind::NonAscii {
                    field: EnvelopeField::Crc,
                    offset: end - CRC_LEN + i,
                    byte: crc_field[i],
                };
                return Err(FrameError::new(kind, consumed));
            }
            return Err(FrameError::framing(FramingFault::CrcNotHex { found: escape(crc_field) }, consumed));
        };
        let actual = body.len() - CRC_LEN;
        if actual != declared {
            let crc_matches = hj212_crc(&body[..actual]) == field.value;
            return Err(FrameError::new(FrameErrorKind::BadLength { declared, actual, crc_matches }, consumed));
        }
        // Only reachable when the fast path could not see it (defensive; same checks).
        self.check(buf, declared, field, consumed, consumed == end)
    }

    /// Verifies the CRC of a frame whose envelope is intact and builds it.
    fn check(&self, buf: &[u8], declared: usize, field: CrcField, consumed: usize, no_trailer: bool) -> DecodeResult {
        let segment = &buf[PREFIX_LEN..PREFIX_LEN + declared];
        let computed = hj212_crc(segment);
        if computed != field.value {
            let kind =
                FrameErrorKind::BadCrc { declared: field.value, computed, looks_like: diagnose(segment, field.value) };
            return Err(FrameError::new(kind, consumed));
        }
        let mut deviations = Vec::new();
        if field.lowercase {
            deviations.push(Deviation::LowercaseCrc);
        }
        if no_trailer {
            deviations.push(Deviation::MissingTrailer);
        }
        if declared > STANDARD_MAX_SEGMENT {
            deviations.push(Deviation::OversizeSegment { len: declared });
        }
        Ok(Some((Frame { segment: segment.to_vec(), crc: computed, deviations }, consumed)))
    }
}

/// Decodes the frame at the front of `buf` with the default [`Limits`]; see [`Decoder::decode`].
pub fn parse_frame(buf: &[u8]) -> DecodeResult {
    Decoder::default().decode(buf)
}

/// Why a frame cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The data segment does not fit the 4-digit length field.
    #[error("data segment of {len} bytes does not fit the 4-digit length field")]
    TooLong {
        /// Its length.
        len: usize,
    },
}

/// Builds `##` + length + segment + uppercase CRC + `<CR><LF>`.
///
/// ```
/// use siteledger_gateway_agent::hj212::frame::encode_frame;
/// let frame = encode_frame("QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&")?;
/// assert!(frame.starts_with("##0101QN="));
/// assert!(frame.ends_with("&&1C80\r\n"));
/// # Ok::<(), siteledger_gateway_agent::hj212::frame::EncodeError>(())
/// ```
pub fn encode_frame(segment: &str) -> Result<String, EncodeError> {
    let len = segment.len();
    if len > LENGTH_FIELD_MAX {
        return Err(EncodeError::TooLong { len });
    }
    Ok(format!("##{len:04}{segment}{:04X}\r\n", hj212_crc(segment.as_bytes())))
}

/// Bytes to skip to reach the next `##` at or after `from`; everything (but a trailing `#` that may start the next
/// header, unless at end of stream) when there is none. At least 1.
fn resync(buf: &[u8], from: usize, eof: bool) -> usize {
    let from = from.min(buf.len());
    match find(&buf[from..], HEADER) {
        Some(i) => (from + i).max(1),
        None if !eof && buf.last() == Some(&b'#') => (buf.len() - 1).max(1),
        None => buf.len().max(1),
    }
}

/// At the end of the stream, whether a body shorter than declared is a whole frame with a wrong length rather than
/// a cut one: its last 4 bytes are the CRC of the rest, or the rest ends with the CP area's closing `&&`.
fn looks_complete(body: &[u8]) -> bool {
    let Some(actual) = body.len().checked_sub(CRC_LEN) else {
        return false;
    };
    let (segment, crc) = body.split_at(actual);
    parse_crc_field(crc).is_some_and(|f| f.value == hj212_crc(segment) || segment.ends_with(b"&&"))
}

/// Whether `segment` holds a `<CR><LF>` or a `##`, which no data segment may contain.
fn has_boundary(segment: &[u8]) -> bool {
    segment.windows(2).any(|w| w == TRAILER || w == HEADER)
}

fn find(haystack: &[u8], needle: &[u8; 2]) -> Option<usize> {
    haystack.windows(2).position(|w| w == needle)
}

fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_A: &str =
        "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    fn frame(segment: &str) -> String {
        encode_frame(segment).expect("short segment")
    }

    fn kind(result: DecodeResult) -> (FrameErrorKind, usize) {
        let err = result.expect_err("an error");
        (err.kind, err.skip)
    }

    #[test]
    fn appendix_a_frame() {
        let wire = frame(APPENDIX_A);
        assert_eq!(wire, format!("##0101{APPENDIX_A}1C80\r\n"));
        let (f, used) = parse_frame(wire.as_bytes()).expect("ok").expect("complete");
        assert_eq!(used, wire.len());
        assert_eq!(f.segment(), APPENDIX_A.as_bytes());
        assert_eq!(f.crc(), 0x1C80);
        assert!(f.deviations().is_empty());
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let wire = frame(APPENDIX_A);
        for n in 0..wire.len() {
            assert_eq!(parse_frame(&wire.as_bytes()[..n]), Ok(None), "prefix of {n} bytes");
        }
    }

    #[test]
    fn lowercase_crc_and_missing_trailer_are_flagged() {
        let wire = format!("##0101{APPENDIX_A}1c80");
        assert_eq!(parse_frame(wire.as_bytes()), Ok(None));
        let (f, used) = Decoder::default().decode_eof(wire.as_bytes()).expect("ok").expect("complete");
        assert_eq!(used, wire.len());
        assert_eq!(f.deviations(), &[Deviation::LowercaseCrc, Deviation::MissingTrailer]);

        // Followed by the next frame instead of CR LF.
        let two = format!("##0101{APPENDIX_A}1C80{}", frame(APPENDIX_A));
        let (f, used) = parse_frame(two.as_bytes()).expect("ok").expect("complete");
        assert_eq!(used, 6 + 101 + 4);
        assert_eq!(f.deviations(), &[Deviation::MissingTrailer]);
        let (_, rest) = parse_frame(&two.as_bytes()[used..]).expect("ok").expect("complete");
        assert_eq!(used + rest, two.len());
    }

    #[test]
    fn bad_crc_names_modbus() {
        let wire = format!("##0101{APPENDIX_A}0759\r\n");
        let (k, skip) = kind(parse_frame(wire.as_bytes()));
        assert_eq!(
            k,
            FrameErrorKind::BadCrc { declared: 0x0759, computed: 0x1C80, looks_like: Some(CrcVariant::Modbus) }
        );
        assert_eq!(skip, wire.len());
        let wire = format!("##0101{APPENDIX_A}5907\r\n");
        let (k, _) = kind(parse_frame(wire.as_bytes()));
        assert!(matches!(k, FrameErrorKind::BadCrc { looks_like: Some(CrcVariant::ModbusSwapped), .. }));
        // The standard's typo.
        let wire = format!("##0101{APPENDIX_A}1C08\r\n");
        let (k, _) = kind(parse_frame(wire.as_bytes()));
        assert_eq!(k, FrameErrorKind::BadCrc { declared: 0x1C08, computed: 0x1C80, looks_like: None });
        assert_eq!(k.to_string(), "CRC field 1C08 but the data segment's HJ 212 CRC is 1C80");
    }

    #[test]
    fn bad_length_is_measured_from_the_trailer() {
        for declared in ["0099", "0103", "0500"] {
            let wire = format!("##{declared}{APPENDIX_A}1C80\r\nnext");
            let (k, skip) = kind(parse_frame(wire.as_bytes()));
            let declared: usize = declared.parse().expect("digits");
            assert_eq!(k, FrameErrorKind::BadLength { declared, actual: 101, crc_matches: true });
            assert_eq!(skip, wire.len() - 4);
        }
        // Too long a length, no trailer, next frame follows.
        let wire = format!("##0500{APPENDIX_A}1C80{}", frame(APPENDIX_A));
        let (k, skip) = kind(parse_frame(wire.as_bytes()));
        assert_eq!(k, FrameErrorKind::BadLength { declared: 500, actual: 101, crc_matches: true });
        assert_eq!(skip, 6 + 101 + 4);
    }

    #[test]
    fn framing_faults() {
        let (k, skip) = kind(parse_frame(b"xx##0101"));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::NoHeader });
        assert_eq!(skip, 2);
        let (k, skip) = kind(parse_frame(b"noise#"));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::NoHeader });
        assert_eq!(skip, 5);
        assert_eq!(parse_frame(b"#"), Ok(None));
        let (k, skip) = kind(parse_frame(b"##81QN=1"));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::LengthNotDigits { found: "81QN".into() } });
        assert_eq!(skip, 8);
        let (k, skip) = kind(parse_frame(b"##0\xE4"));
        assert_eq!(k, FrameErrorKind::NonAscii { field: EnvelopeField::Length, offset: 3, byte: 0xE4 });
        assert_eq!(skip, 4);
        let (k, skip) = kind(parse_frame(b"###0101"));
        assert!(matches!(k, FrameErrorKind::BadFraming { reason: FramingFault::LengthNotDigits { .. } }));
        assert_eq!(skip, 1);
        let wire = format!("##0101{APPENDIX_A}1CX0\r\n");
        let (k, _) = kind(parse_frame(wire.as_bytes()));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::CrcNotHex { found: "1CX0".into() } });
        let (k, skip) = kind(Decoder::default().decode_eof(b"##0101QN=2016"));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::Truncated { have: 13 } });
        assert_eq!(skip, 13);
        let (k, skip) = kind(parse_frame(b"##0101ab\r\n##"));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::CrcNotHex { found: "ab".into() } });
        assert_eq!(skip, 10);
        let (k, _) = kind(Decoder::default().decode_eof(b"##01"));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::Truncated { have: 4 } });
    }

    #[test]
    fn size_limits() {
        let small = Decoder::new(Limits { max_segment: 100 });
        let (k, _) = kind(small.decode(frame(APPENDIX_A).as_bytes()));
        assert_eq!(k, FrameErrorKind::TooLarge { declared: 101, max: 100 });
        // No trailer within the limit.
        let mut wire = b"##0010".to_vec();
        wire.extend(std::iter::repeat_n(b'x', 200));
        let (k, skip) = kind(small.decode(&wire));
        assert_eq!(k, FrameErrorKind::BadFraming { reason: FramingFault::NoTrailer { limit: 112 } });
        assert_eq!(skip, wire.len());
        // Over 1024 but within the cap: accepted, flagged.
        let long = format!(
            "QN=20160801085857223;ST=39;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&DataTime=20160801085800;{}&&",
            "a34002-Rtd=1.0;".repeat(70)
        );
        let (f, _) = parse_frame(frame(&long).as_bytes()).expect("ok").expect("complete");
        assert_eq!(f.deviations(), &[Deviation::OversizeSegment { len: long.len() }]);
    }

    #[test]
    fn zero_length_segment() {
        let wire = b"##0000FFFF\r\n";
        let (f, used) = parse_frame(wire).expect("ok").expect("complete");
        assert_eq!((f.segment(), used), (&b""[..], wire.len()));
    }
}
