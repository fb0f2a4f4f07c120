//! The HJ 212-2017 check code (附录 A «CRC 校验算法», "ANSI CRC16") and the CRC-16/MODBUS it is often confused with.
//!
//! The standard's CRC runs over the **data segment** (数据段) only: the bytes between the 4-digit length and the
//! 4 hex digits of the CRC. The register starts at `0xFFFF`; each byte is XORed into the register **after shifting
//! it right by 8** ("与 CRC16 校验寄存器的高位字节进行异或"), then 8 shifts right with XOR `0xA001` whenever a 1 falls
//! out. The result is written high byte first as 4 hex digits ("校验码按照先高字节后低字节的顺序存放").
//!
//! CRC-16/MODBUS differs in one operation (`crc ^= byte` instead of `crc = (crc >> 8) ^ byte`). Vendors mix them up,
//! because the same analysers speak Modbus RTU to the data logger (HJ 212-2017 7.2.2). [`modbus_crc`] exists only
//! to **diagnose** that mistake in error messages ([`diagnose`]); a frame carrying a Modbus CRC is rejected.

use std::fmt;

use serde::Serialize;

/// HJ 212-2017 附录 A CRC16 over the data-segment bytes.
///
/// ```
/// use siteledger_gateway_agent::hj212::crc::hj212_crc;
/// assert_eq!(hj212_crc(b"123456789"), 0x2F80);
/// ```
#[must_use]
pub fn hj212_crc(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc = (crc >> 8) ^ u16::from(byte);
        for _ in 0..8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb == 1 {
                crc ^= 0xA001;
            }
        }
    }
    crc
}

/// CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF), **for diagnosis only**: HJ 212 does not use it.
#[must_use]
pub fn modbus_crc(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb == 1 {
                crc ^= 0xA001;
            }
        }
    }
    crc
}

/// Which wrong check code a rejected frame carries, when it is a known vendor mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrcVariant {
    /// CRC-16/MODBUS of the data segment, high byte first.
    Modbus,
    /// CRC-16/MODBUS of the data segment, low byte first (as a Modbus RTU frame stores it).
    ModbusSwapped,
}

impl fmt::Display for CrcVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Modbus => "CRC-16/MODBUS used instead of the HJ 212 CRC",
            Self::ModbusSwapped => "CRC-16/MODBUS used instead of the HJ 212 CRC, low byte first",
        })
    }
}

/// Explains a declared CRC that is not the HJ 212 CRC of `data`: `Some` when it is the Modbus CRC (either byte
/// order), `None` for any other wrong value (and when the declared value is in fact correct).
#[must_use]
pub fn diagnose(data: &[u8], declared: u16) -> Option<CrcVariant> {
    if declared == hj212_crc(data) {
        return None;
    }
    let modbus = modbus_crc(data);
    if declared == modbus {
        Some(CrcVariant::Modbus)
    } else if declared == modbus.swap_bytes() {
        Some(CrcVariant::ModbusSwapped)
    } else {
        None
    }
}

/// The 4 uppercase hex digits the standard writes for `crc`.
#[must_use]
pub fn format_crc(crc: u16) -> String {
    format!("{crc:04X}")
}

/// A CRC field read from the wire: its value and whether any digit was lowercase (tolerated, flagged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcField {
    /// The value.
    pub value: u16,
    /// `true` when at least one hex digit was `a`–`f`.
    pub lowercase: bool,
}

/// Reads 4 hex digits (either case). `None` unless `field` is exactly 4 ASCII hex digits.
#[must_use]
pub fn parse_crc_field(field: &[u8]) -> Option<CrcField> {
    if field.len() != 4 {
        return None;
    }
    let mut value: u16 = 0;
    let mut lowercase = false;
    for &b in field {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'F' => b - b'A' + 10,
            b'a'..=b'f' => {
                lowercase = true;
                b - b'a' + 10
            }
            _ => return None,
        };
        value = (value << 4) | u16::from(digit);
    }
    Some(CrcField { value, lowercase })
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_A: &[u8] =
        b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";
    const TABLE_C25: &[u8] = b"QN=20160801085857223;ST=23;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857; LA-Rtd=50.1&&";

    #[test]
    fn standard_vectors() {
        assert_eq!(hj212_crc(b"123456789"), 0x2F80);
        assert_eq!(modbus_crc(b"123456789"), 0x4B37);
        assert_eq!(APPENDIX_A.len(), 101);
        // 附录 A: the prose says "1C08", a typo; the packet itself ends in 1C80.
        assert_eq!(hj212_crc(APPENDIX_A), 0x1C80);
        assert_eq!(modbus_crc(APPENDIX_A), 0x0759);
        assert_eq!(TABLE_C25.len(), 123);
        assert_eq!(hj212_crc(TABLE_C25), 0x1E00);
        assert_eq!(modbus_crc(TABLE_C25), 0x25FB);
    }

    /// `crc = (crc >> 8) ^ byte` drops the register's low byte before each byte: the result depends on 8 bits of
    /// state, so there are only 256 possible CRCs, all ending in 00/01/40/41/80/81/C0/C1. Single-byte changes are
    /// still always caught (the 8-shift step maps the 256 inputs to 256 distinct high bytes).
    #[test]
    fn only_256_values_exist() {
        let mut seen = std::collections::BTreeSet::new();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                seen.insert(hj212_crc(&[a, b]));
                seen.insert(hj212_crc(&[b'Q', a, b]));
            }
        }
        assert_eq!(seen.len(), 256);
        assert!(seen.iter().all(|crc| matches!(crc & 0xFF, 0x00 | 0x01 | 0x40 | 0x41 | 0x80 | 0x81 | 0xC0 | 0xC1)));
        let high: std::collections::BTreeSet<u16> = (0..=255u8).map(|v| hj212_crc(&[0, v]) >> 8).collect();
        assert_eq!(high.len(), 256);
    }

    #[test]
    fn empty_input_is_the_initial_register() {
        assert_eq!(hj212_crc(b""), 0xFFFF);
        assert_eq!(modbus_crc(b""), 0xFFFF);
    }

    #[test]
    fn diagnosis_names_the_modbus_variants() {
        let modbus = modbus_crc(APPENDIX_A);
        assert_eq!(diagnose(APPENDIX_A, modbus), Some(CrcVariant::Modbus));
        assert_eq!(diagnose(APPENDIX_A, modbus.swap_bytes()), Some(CrcVariant::ModbusSwapped));
        assert_eq!(diagnose(APPENDIX_A, 0x1C80), None);
        assert_eq!(diagnose(APPENDIX_A, 0x1C08), None);
    }

    #[test]
    fn crc_field_parsing() {
        assert_eq!(parse_crc_field(b"1C80"), Some(CrcField { value: 0x1C80, lowercase: false }));
        assert_eq!(parse_crc_field(b"cc01"), Some(CrcField { value: 0xCC01, lowercase: true }));
        assert_eq!(parse_crc_field(b"1C8"), None);
        assert_eq!(parse_crc_field(b"1C8G"), None);
        assert_eq!(parse_crc_field(b"+C80"), None);
        assert_eq!(format_crc(0x0440), "0440");
    }
}
