//! 区县(市) and 开发园区: the jurisdictions under Ningbo's city bureau (市住建局).
//!
//! Ningbo has ten county-level divisions with fixed GB/T 2260 codes ([`NingboDistrict`]). The city bureau also
//! supervises 开发园区 (development zones) through their own construction departments; those are added at run time
//! by `registry.zone.added.v1` and carry a [`ZoneCode`] of the form `ZONE-<2..20 uppercase letters or digits>`.
//! A [`DistrictCode`] is either; whether a zone exists is known only to the registry state
//! ([`crate::registry::RegistryState::district_exists`]).

use std::fmt;

/// One of Ningbo's ten 区县(市), with its GB/T 2260 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NingboDistrict {
    /// 海曙区 330203.
    Haishu,
    /// 江北区 330205.
    Jiangbei,
    /// 北仑区 330206.
    Beilun,
    /// 镇海区 330211.
    Zhenhai,
    /// 鄞州区 330212.
    Yinzhou,
    /// 奉化区 330213.
    Fenghua,
    /// 象山县 330225.
    Xiangshan,
    /// 宁海县 330226.
    Ninghai,
    /// 余姚市 330281.
    Yuyao,
    /// 慈溪市 330282.
    Cixi,
}

impl NingboDistrict {
    /// All ten, in code order.
    pub const ALL: [Self; 10] = [
        Self::Haishu,
        Self::Jiangbei,
        Self::Beilun,
        Self::Zhenhai,
        Self::Yinzhou,
        Self::Fenghua,
        Self::Xiangshan,
        Self::Ninghai,
        Self::Yuyao,
        Self::Cixi,
    ];

    /// GB/T 2260 code, e.g. `330212`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Haishu => "330203",
            Self::Jiangbei => "330205",
            Self::Beilun => "330206",
            Self::Zhenhai => "330211",
            Self::Yinzhou => "330212",
            Self::Fenghua => "330213",
            Self::Xiangshan => "330225",
            Self::Ninghai => "330226",
            Self::Yuyao => "330281",
            Self::Cixi => "330282",
        }
    }

    /// Chinese name, e.g. `鄞州区`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Haishu => "海曙区",
            Self::Jiangbei => "江北区",
            Self::Beilun => "北仑区",
            Self::Zhenhai => "镇海区",
            Self::Yinzhou => "鄞州区",
            Self::Fenghua => "奉化区",
            Self::Xiangshan => "象山县",
            Self::Ninghai => "宁海县",
            Self::Yuyao => "余姚市",
            Self::Cixi => "慈溪市",
        }
    }

    /// The district with this GB/T 2260 code, if it is one of the ten.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == code)
    }
}

impl fmt::Display for NingboDistrict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// 开发园区 code: `ZONE-` followed by 2–20 uppercase ASCII letters or digits, e.g. `ZONE-NBHTZ` (宁波国家高新区).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneCode(String);

/// Why a string is not a [`ZoneCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneCodeError {
    /// Does not start with `ZONE-`.
    #[error("开发园区 code must start with \"ZONE-\"")]
    MissingPrefix,
    /// The part after `ZONE-` is not 2–20 characters.
    #[error("开发园区 code: the part after \"ZONE-\" must be 2 to 20 characters, got {len}")]
    WrongLength {
        /// Characters after the prefix.
        len: usize,
    },
    /// A character other than `A–Z`, `0–9` after the prefix.
    #[error("开发园区 code: invalid character {found:?} at position {position} (allowed after \"ZONE-\": A-Z, 0-9)")]
    InvalidCharacter {
        /// 1-based position in the whole code.
        position: usize,
        /// The character.
        found: char,
    },
}

impl ZoneCode {
    /// The fixed prefix.
    pub const PREFIX: &'static str = "ZONE-";

    /// Parses a zone code.
    pub fn parse(s: &str) -> Result<Self, ZoneCodeError> {
        let Some(rest) = s.strip_prefix(Self::PREFIX) else { return Err(ZoneCodeError::MissingPrefix) };
        let len = rest.chars().count();
        if !(2..=20).contains(&len) {
            return Err(ZoneCodeError::WrongLength { len });
        }
        if let Some((i, c)) = rest.chars().enumerate().find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit())) {
            return Err(ZoneCodeError::InvalidCharacter { position: Self::PREFIX.len() + i + 1, found: c });
        }
        Ok(Self(s.to_owned()))
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(ZoneCode, ZoneCodeError);

/// A jurisdiction under the city bureau: one of the ten 区县(市) or a 开发园区.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DistrictCode {
    /// A 区县(市) with a GB/T 2260 code.
    Fixed(NingboDistrict),
    /// A 开发园区 added by the city bureau (it exists only once the registry has recorded it).
    Zone(ZoneCode),
}

/// Why a string is not a [`DistrictCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistrictCodeError {
    /// Six digits, but not one of Ningbo's ten codes.
    #[error(
        "{code} is not one of Ningbo's 区县(市) codes (330203, 330205, 330206, 330211, 330212, 330213, 330225, \
         330226, 330281, 330282)"
    )]
    NotNingbo {
        /// The code given.
        code: String,
    },
    /// Looks like a zone code but is malformed.
    #[error(transparent)]
    Zone(#[from] ZoneCodeError),
    /// Neither six digits nor `ZONE-…`.
    #[error("district code must be a 6-digit 区县(市) code or a 开发园区 code \"ZONE-<2..20 of A-Z 0-9>\"")]
    Unrecognised,
}

impl DistrictCode {
    /// Parses a district code: one of the ten fixed GB/T 2260 codes, or the zone pattern (existence of the zone
    /// is not checked here).
    pub fn parse(s: &str) -> Result<Self, DistrictCodeError> {
        if s.starts_with(ZoneCode::PREFIX) {
            return Ok(Self::Zone(ZoneCode::parse(s)?));
        }
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            return NingboDistrict::from_code(s)
                .map(Self::Fixed)
                .ok_or_else(|| DistrictCodeError::NotNingbo { code: s.to_owned() });
        }
        Err(DistrictCodeError::Unrecognised)
    }

    /// The code as written (`330212`, `ZONE-NBHTZ`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Fixed(d) => d.code(),
            Self::Zone(z) => z.as_str(),
        }
    }

    /// The Chinese name of a fixed district; zones' names live in the registry
    /// ([`crate::registry::RegistryState::district_name`]).
    pub fn fixed_name(&self) -> Option<&'static str> {
        match self {
            Self::Fixed(d) => Some(d.name()),
            Self::Zone(_) => None,
        }
    }

    /// Whether this is a 开发园区.
    pub fn is_zone(&self) -> bool {
        matches!(self, Self::Zone(_))
    }
}

impl From<NingboDistrict> for DistrictCode {
    fn from(d: NingboDistrict) -> Self {
        Self::Fixed(d)
    }
}

impl From<ZoneCode> for DistrictCode {
    fn from(z: ZoneCode) -> Self {
        Self::Zone(z)
    }
}

string_newtype!(DistrictCode, DistrictCodeError);
