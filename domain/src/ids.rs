//! Identifiers: 统一社会信用代码 (enterprises), 公民身份号码 (people), project ids and device-level tokens.
//!
//! Every type here has a private field and a `parse` constructor whose error names the check that failed.
//! Character positions in errors are 1-based and count characters (not bytes).

use std::fmt;

use crate::date::LocalDate;

// ---------------------------------------------------------------------------------------------------------------
// 统一社会信用代码 — GB 32100-2015
// ---------------------------------------------------------------------------------------------------------------

/// The 31 characters of GB 32100-2015 (no I, O, Z, S, V), in value order 0–30.
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1–17: Wᵢ = 3^(i−1) mod 31.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/// Weights of the first 8 characters of the embedded 组织机构代码 (GB 11714).
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// 统一社会信用代码: unified social credit code (GB 32100-2015) of an enterprise or other organisation.
///
/// 18 characters from `0123456789ABCDEFGHJKLMNPQRTUWXY` (uppercase only; I, O, Z, S and V never occur):
/// 1 登记管理部门码, 1 机构类别码, 6 登记管理机关行政区划码, 9 主体标识码 (the 组织机构代码), 1 校验码. The check
/// character C18 = charset[(31 − Σ Cᵢ·Wᵢ mod 31) mod 31] with Wᵢ = 3^(i−1) mod 31 is verified; the check digit of
/// the embedded 组织机构代码 is only reported by [`CreditCode::organization_code_is_valid`] (some registrations
/// predate GB 11714 rules, so it is a warning, not a parse failure).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditCode(String);

/// Why a string is not a [`CreditCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    /// Not 18 characters.
    #[error("统一社会信用代码 must be 18 characters, got {len}")]
    WrongLength {
        /// Characters found.
        len: usize,
    },
    /// A lowercase letter (the code is uppercase only).
    #[error("统一社会信用代码: lowercase {found:?} at position {position} (uppercase only)")]
    Lowercase {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
    /// A character outside the GB 32100 charset.
    #[error(
        "统一社会信用代码: invalid character {found:?} at position {position} (allowed: 0-9 and A-Z except I, O, Z, S, V)"
    )]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
    /// The 18th character is not the one computed from the first 17.
    #[error("统一社会信用代码: check character mismatch (expected {expected}, got {found})")]
    CheckCharacterMismatch {
        /// The computed check character.
        expected: char,
        /// The character found.
        found: char,
    },
}

fn uscc_value(c: char) -> Option<u32> {
    let b = u8::try_from(c).ok()?;
    USCC_CHARSET.iter().position(|&x| x == b).and_then(|p| u32::try_from(p).ok())
}

fn uscc_char(value: u32) -> char {
    // `value` is always < 31 here (a remainder mod 31).
    USCC_CHARSET.get(value as usize).map_or('?', |&b| char::from(b))
}

/// Values of the first 17 characters, or the first bad character.
fn uscc_values(first17: &str) -> Result<[u32; 17], CreditCodeError> {
    let mut values = [0u32; 17];
    for (i, (slot, c)) in values.iter_mut().zip(first17.chars()).enumerate() {
        *slot = check_uscc_char(i + 1, c)?;
    }
    Ok(values)
}

fn check_uscc_char(position: usize, c: char) -> Result<u32, CreditCodeError> {
    uscc_value(c).ok_or(if c.is_ascii_lowercase() {
        CreditCodeError::Lowercase { position, found: c }
    } else {
        CreditCodeError::InvalidCharacter { position, found: c }
    })
}

fn uscc_check_of(values: &[u32; 17]) -> char {
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    uscc_char((31 - sum % 31) % 31)
}

impl CreditCode {
    /// Length of a credit code in characters.
    pub const LEN: usize = 18;

    /// Parses a credit code: length, characters (uppercase only), then the check character.
    pub fn parse(s: &str) -> Result<Self, CreditCodeError> {
        let len = s.chars().count();
        if len != Self::LEN {
            return Err(CreditCodeError::WrongLength { len });
        }
        // Every character is checked before the check character, so errors name the first bad position.
        let mut chars = s.chars();
        let first17: String = chars.by_ref().take(17).collect();
        let values = uscc_values(&first17)?;
        let found = chars.next().unwrap_or('?');
        check_uscc_char(Self::LEN, found)?;
        let expected = uscc_check_of(&values);
        if found != expected {
            return Err(CreditCodeError::CheckCharacterMismatch { expected, found });
        }
        Ok(Self(s.to_owned()))
    }

    /// Computes the check character for the first 17 characters (e.g. to build test fixtures).
    pub fn check_character(first17: &str) -> Result<char, CreditCodeError> {
        let len = first17.chars().count();
        if len != 17 {
            return Err(CreditCodeError::WrongLength { len: len + 1 });
        }
        Ok(uscc_check_of(&uscc_values(first17)?))
    }

    /// The code as written (18 ASCII characters).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 登记管理部门码 (character 1), e.g. `9` for 市场监督管理 (工商).
    pub fn registration_authority(&self) -> char {
        self.0.chars().next().unwrap_or('?')
    }

    /// 机构类别码 (character 2), e.g. `1` for 企业 under authority `9`.
    pub fn category(&self) -> char {
        self.0.chars().nth(1).unwrap_or('?')
    }

    /// 登记管理机关行政区划码 (characters 3–8), e.g. `330200` for 宁波市.
    pub fn region_code(&self) -> &str {
        self.0.get(2..8).unwrap_or("")
    }

    /// 主体标识码 = 组织机构代码 (characters 9–17, GB 11714).
    pub fn organization_code(&self) -> &str {
        self.0.get(8..17).unwrap_or("")
    }

    /// Whether the embedded 组织机构代码 carries a correct GB 11714 check digit (character 17). A failure is a
    /// warning to show, never a reason to refuse the code.
    pub fn organization_code_is_valid(&self) -> bool {
        let org: Vec<char> = self.organization_code().chars().collect();
        let [body @ .., check] = org.as_slice() else { return false };
        let mut sum = 0u32;
        for (c, w) in body.iter().zip(ORG_WEIGHTS) {
            // Digits are 0–9, letters A = 10 … Z = 35.
            let Some(v) = c.to_digit(36) else { return false };
            sum += v * w;
        }
        let expected = match 11 - sum % 11 {
            10 => 'X',
            11 => '0',
            d => char::from_digit(d, 10).unwrap_or('?'),
        };
        *check == expected
    }
}

string_newtype!(CreditCode, CreditCodeError);

// ---------------------------------------------------------------------------------------------------------------
// 公民身份号码 — GB 11643-1999
// ---------------------------------------------------------------------------------------------------------------

/// Weights of positions 1–17: Wᵢ = 2^(18−i) mod 11.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check characters indexed by Σ aᵢWᵢ mod 11.
const ID_CHECK: &[u8; 11] = b"10X98765432";
/// Province-level (省级) prefixes of GB/T 2260, plus 81/82/83 (港澳台居民居住证).
const ID_PROVINCES: [u32; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82, 83,
];

/// 公民身份号码: citizen identity number (GB 11643-1999), personal data.
///
/// 18 characters: 6-digit 地址码 (region; its province prefix is checked against GB/T 2260), 8-digit 出生日期
/// `YYYYMMDD` (must be a real date), 3-digit 顺序码 (odd for men, even for women) and a 校验码 `0`–`9` or `X`
/// (lowercase `x` is accepted and normalised to `X`).
///
/// The number is sensitive: `Debug` prints only [`IdNumber::masked`], there is no `Display`, no `Serialize`
/// (it must never reach the public log in clear), and the full number is only available through
/// [`IdNumber::expose`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

/// Why a string is not an [`IdNumber`]. Errors never contain the number itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Not 18 characters.
    #[error("公民身份号码 must be 18 characters, got {len}")]
    WrongLength {
        /// Characters found.
        len: usize,
    },
    /// A non-digit in positions 1–17, or something other than a digit or X in position 18.
    #[error("公民身份号码: invalid character at position {position} (digits only, X allowed as the last character)")]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
    },
    /// The 地址码 does not start with a GB/T 2260 province code.
    #[error("公民身份号码: region code (positions 1-6) starts with unknown province code {province:02}")]
    UnknownProvince {
        /// The first two digits.
        province: u32,
    },
    /// Positions 7–14 are not a real date.
    #[error("公民身份号码: birth date (positions 7-14) is not a real calendar date")]
    InvalidBirthDate,
    /// The 18th character is not the one computed from the first 17.
    #[error("公民身份号码: check character mismatch (expected {expected}, got {found})")]
    CheckCharacterMismatch {
        /// The computed check character.
        expected: char,
        /// The character found (normalised to uppercase).
        found: char,
    },
}

/// Sex encoded in the 顺序码 of an [`IdNumber`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Odd 顺序码.
    Male,
    /// Even 顺序码.
    Female,
}

fn id_check_of(digits: &[u32; 17]) -> char {
    let sum: u32 = digits.iter().zip(ID_WEIGHTS).map(|(d, w)| d * w).sum();
    ID_CHECK.get((sum % 11) as usize).map_or('?', |&b| char::from(b))
}

fn id_digits(first17: &str) -> Result<[u32; 17], IdNumberError> {
    let mut digits = [0u32; 17];
    for (i, (slot, c)) in digits.iter_mut().zip(first17.chars()).enumerate() {
        *slot = c.to_digit(10).ok_or(IdNumberError::InvalidCharacter { position: i + 1 })?;
    }
    Ok(digits)
}

impl IdNumber {
    /// Length in characters.
    pub const LEN: usize = 18;

    /// Parses an ID number: length, characters, province, birth date, then the check character.
    pub fn parse(s: &str) -> Result<Self, IdNumberError> {
        let len = s.chars().count();
        if len != Self::LEN {
            return Err(IdNumberError::WrongLength { len });
        }
        let mut chars = s.chars();
        let first17: String = chars.by_ref().take(17).collect();
        let digits = id_digits(&first17)?;
        let found = match chars.next() {
            Some(c @ '0'..='9') => c,
            Some('X' | 'x') => 'X',
            _ => return Err(IdNumberError::InvalidCharacter { position: 18 }),
        };
        let province = digits[0] * 10 + digits[1];
        if !ID_PROVINCES.contains(&province) {
            return Err(IdNumberError::UnknownProvince { province });
        }
        if birth_date_of(&first17).is_none() {
            return Err(IdNumberError::InvalidBirthDate);
        }
        let expected = id_check_of(&digits);
        if found != expected {
            return Err(IdNumberError::CheckCharacterMismatch { expected, found });
        }
        let mut normalised = first17;
        normalised.push(found);
        Ok(Self(normalised))
    }

    /// Computes the check character for the first 17 digits (e.g. to build test fixtures).
    pub fn check_character(first17: &str) -> Result<char, IdNumberError> {
        let len = first17.chars().count();
        if len != 17 {
            return Err(IdNumberError::WrongLength { len: len + 1 });
        }
        Ok(id_check_of(&id_digits(first17)?))
    }

    /// The full number (with uppercase `X`). Sensitive: never log it or put it into a public record.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The number with positions 5–14 hidden, e.g. `3302**********123X`.
    pub fn masked(&self) -> String {
        let head: String = self.0.chars().take(4).collect();
        let tail: String = self.0.chars().skip(14).collect();
        format!("{head}**********{tail}")
    }

    /// 地址码 (positions 1–6).
    pub fn region_code(&self) -> &str {
        self.0.get(0..6).unwrap_or("")
    }

    /// 出生日期 (positions 7–14).
    pub fn birth_date(&self) -> LocalDate {
        // Checked in `parse`; the fallback is unreachable.
        birth_date_of(&self.0).unwrap_or(LocalDate::MIN)
    }

    /// Sex from the parity of the 顺序码 (position 17).
    pub fn sex(&self) -> Sex {
        match self.0.chars().nth(16).and_then(|c| c.to_digit(10)) {
            Some(d) if d % 2 == 1 => Sex::Male,
            _ => Sex::Female,
        }
    }
}

fn birth_date_of(number: &str) -> Option<LocalDate> {
    let d = number.get(6..14)?;
    LocalDate::parse(&format!("{}-{}-{}", d.get(0..4)?, d.get(4..6)?, d.get(6..8)?)).ok()
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl std::str::FromStr for IdNumber {
    type Err = IdNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for IdNumber {
    type Error = IdNumberError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for IdNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&s).map_err(<D::Error as serde::de::Error>::custom)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Project id
// ---------------------------------------------------------------------------------------------------------------

/// A project's id on the platform (工程项目编号), e.g. `NB-2026-0001`.
///
/// 4–40 characters from `A–Z`, `0–9` and `-`, starting and ending with a letter or digit. It is used verbatim
/// in stream names (`project/<ProjectId>/…`) and key subjects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectId(String);

/// Why a string is not a [`ProjectId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectIdError {
    /// Fewer than 4 or more than 40 characters.
    #[error("project id must be 4 to 40 characters, got {len}")]
    WrongLength {
        /// Characters found.
        len: usize,
    },
    /// A character other than `A–Z`, `0–9`, `-`.
    #[error("project id: invalid character {found:?} at position {position} (allowed: A-Z, 0-9, -)")]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
    /// Starts or ends with `-`.
    #[error("project id must start and end with a letter or digit")]
    HyphenAtEdge,
}

impl ProjectId {
    /// Minimum length.
    pub const MIN_LEN: usize = 4;
    /// Maximum length.
    pub const MAX_LEN: usize = 40;

    /// Parses a project id.
    pub fn parse(s: &str) -> Result<Self, ProjectIdError> {
        let len = s.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(ProjectIdError::WrongLength { len });
        }
        if let Some((i, c)) =
            s.chars().enumerate().find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(ProjectIdError::InvalidCharacter { position: i + 1, found: c });
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(ProjectIdError::HyphenAtEdge);
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(ProjectId, ProjectIdError);

// ---------------------------------------------------------------------------------------------------------------
// Tokens: device ids, alarm ids, alarm sources
// ---------------------------------------------------------------------------------------------------------------

/// Why a string is not a token ([`DeviceId`], [`AlarmId`], [`AlarmSource`]): 1–64 characters from
/// `A–Z a–z 0–9 . _ : -`, the first a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Empty string.
    #[error("must not be empty")]
    Empty,
    /// More than 64 characters.
    #[error("must be at most {max} characters, got {len}")]
    TooLong {
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside the token charset.
    #[error("invalid character {found:?} at position {position} (allowed: A-Z, a-z, 0-9, '.', '_', ':', '-')")]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
    /// The first character is punctuation.
    #[error("must start with a letter or digit, got {found:?}")]
    FirstCharacter {
        /// The character.
        found: char,
    },
}

const TOKEN_MAX: usize = 64;

fn parse_token(s: &str) -> Result<(), TokenError> {
    let Some(first) = s.chars().next() else { return Err(TokenError::Empty) };
    let len = s.chars().count();
    if len > TOKEN_MAX {
        return Err(TokenError::TooLong { len, max: TOKEN_MAX });
    }
    if let Some((i, c)) =
        s.chars().enumerate().find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
    {
        return Err(TokenError::InvalidCharacter { position: i + 1, found: c });
    }
    if !first.is_ascii_alphanumeric() {
        return Err(TokenError::FirstCharacter { found: first });
    }
    Ok(())
}

macro_rules! token_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses the token: 1–64 characters from `A–Z a–z 0–9 . _ : -`, the first a letter or digit.
            pub fn parse(s: &str) -> Result<Self, TokenError> {
                parse_token(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The token as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_newtype!($name, TokenError);
    };
}

token_newtype!(
    /// A site device's id within its project (a dust monitor's HJ 212 `MN`, a camera's GB/T 28181 id, a crane
    /// black box's serial), as used in key subjects `project/<ProjectId>/device/<DeviceId>`.
    DeviceId
);

token_newtype!(
    /// A person's handle within their organisation, in the key subjects of people (`<organisation>/person/<handle>`:
    /// 监督员, 企业人员, 检测人员). Chosen by the organisation (a staff number, `insp-wang`); never an ID number
    /// ([`crate::authority::KeySubject::parse`] refuses one).
    PersonHandle
);

token_newtype!(
    /// An alarm's id, unique within its project; `alarm.cleared.v1` refers to it.
    AlarmId
);

token_newtype!(
    /// What raised an alarm: a device id or a subsystem name (e.g. `env`, `crane`, `wage`).
    AlarmSource
);
