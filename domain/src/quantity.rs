//! Quantities: money in integer 分, decimal measurements carried as strings, floor area.
//!
//! Envelopes allow only integer JSON numbers (FORMAT.md §2), so money is an integer count of 分 (fen, 0.01 yuan)
//! and every non-integer quantity is a decimal *string*. No floating point is used anywhere.

use std::cmp::Ordering;
use std::fmt;

// ---------------------------------------------------------------------------------------------------------------
// Money
// ---------------------------------------------------------------------------------------------------------------

/// An amount of money in 分 (fen; 100 fen = 1 yuan), non-negative, at most 2^53 − 1 so that it is always a valid
/// envelope integer. JSON: an integer (never a float or a string). `Display`: `¥1,234.56`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MoneyFen(i64);

/// Why an integer is not a [`MoneyFen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Below zero.
    #[error("amount in fen must not be negative, got {fen}")]
    Negative {
        /// The amount given.
        fen: i64,
    },
    /// Above 2^53 − 1 (not representable in an envelope).
    #[error("amount in fen must be at most 9007199254740991 (2^53 - 1), got {fen}")]
    TooLarge {
        /// The amount given.
        fen: i64,
    },
}

impl MoneyFen {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The largest amount: 2^53 − 1 fen.
    pub const MAX: Self = Self(9_007_199_254_740_991);

    /// An amount of `fen` 分.
    pub fn parse(fen: i64) -> Result<Self, MoneyError> {
        if fen < 0 {
            Err(MoneyError::Negative { fen })
        } else if fen > Self::MAX.0 {
            Err(MoneyError::TooLarge { fen })
        } else {
            Ok(Self(fen))
        }
    }

    /// The amount in 分.
    pub fn fen(self) -> i64 {
        self.0
    }

    /// Sum, or `None` above [`MoneyFen::MAX`].
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).and_then(|f| Self::parse(f).ok())
    }

    /// Difference, or `None` below zero.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).and_then(|f| Self::parse(f).ok())
    }
}

impl TryFrom<i64> for MoneyFen {
    type Error = MoneyError;
    fn try_from(fen: i64) -> Result<Self, Self::Error> {
        Self::parse(fen)
    }
}

impl From<MoneyFen> for i64 {
    fn from(m: MoneyFen) -> i64 {
        m.0
    }
}

impl fmt::Display for MoneyFen {
    /// `¥` then the yuan with `,` every three digits, then `.` and two digits of 分: `¥1,234.56`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yuan = (self.0 / 100).to_string();
        let mut grouped = String::with_capacity(yuan.len() + yuan.len() / 3);
        for (i, c) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "¥{grouped}.{:02}", self.0 % 100)
    }
}

impl serde::Serialize for MoneyFen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MoneyFen {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fen = <i64 as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(fen).map_err(<D::Error as serde::de::Error>::custom)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Decimal strings
// ---------------------------------------------------------------------------------------------------------------

/// A decimal number carried as a string: an optional `-`, integer digits without redundant leading zeros, and an
/// optional `.` followed by 1–18 fraction digits; at most 18 significant digits; no exponent, no `+`, no spaces.
/// Examples: `0`, `85.2`, `-3.50`, `0.031`.
///
/// The text is kept exactly as written (it is what was signed), so `85.2` and `85.20` are different values of
/// this type (`==` compares the text); compare numerically with [`Decimal::cmp_value`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    text: String,
    mantissa: i64,
    scale: u32,
}

/// Why a string is not a [`Decimal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Empty string.
    #[error("decimal must not be empty")]
    Empty,
    /// A character that is not a digit, a leading `-` or a single `.`.
    #[error("decimal: invalid character {found:?} at position {position} (allowed: digits, one '.', a leading '-')")]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
    /// No digit before the `.` (e.g. `.5`, `-`).
    #[error("decimal: digits required before the decimal point")]
    MissingIntegerDigits,
    /// No digit after the `.` (e.g. `5.`).
    #[error("decimal: digits required after the decimal point")]
    MissingFractionDigits,
    /// The integer part has a redundant leading zero (e.g. `007`).
    #[error("decimal: redundant leading zero in the integer part")]
    LeadingZero,
    /// More than 18 digits after the point.
    #[error("decimal: at most 18 fraction digits, got {count}")]
    TooManyFractionDigits {
        /// Fraction digits found.
        count: usize,
    },
    /// More than 18 significant digits.
    #[error("decimal: at most 18 significant digits, got {count}")]
    TooManySignificantDigits {
        /// Significant digits found.
        count: usize,
    },
}

impl Decimal {
    /// Maximum number of significant digits (and of fraction digits).
    pub const MAX_DIGITS: usize = 18;

    /// Parses a decimal string.
    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        if s.is_empty() {
            return Err(DecimalError::Empty);
        }
        let mut point: Option<usize> = None;
        for (i, c) in s.char_indices() {
            let ok = c.is_ascii_digit() || (c == '-' && i == 0) || (c == '.' && point.is_none());
            if !ok {
                return Err(DecimalError::InvalidCharacter { position: s[..i].chars().count() + 1, found: c });
            }
            if c == '.' {
                point = Some(i);
            }
        }
        // Only ASCII remains.
        let negative = s.starts_with('-');
        let unsigned = if negative { &s[1..] } else { s };
        let (int, frac) = match unsigned.split_once('.') {
            Some((int, frac)) => (int, frac),
            None => (unsigned, ""),
        };
        if int.is_empty() {
            return Err(DecimalError::MissingIntegerDigits);
        }
        if point.is_some() && frac.is_empty() {
            return Err(DecimalError::MissingFractionDigits);
        }
        if int.len() > 1 && int.starts_with('0') {
            return Err(DecimalError::LeadingZero);
        }
        if frac.len() > Self::MAX_DIGITS {
            return Err(DecimalError::TooManyFractionDigits { count: frac.len() });
        }
        // Without allocating: every decimal of every record is parsed here (the gateway's hot path included).
        let digits = || int.bytes().chain(frac.bytes());
        let significant = digits().skip_while(|b| *b == b'0').count();
        if significant > Self::MAX_DIGITS {
            return Err(DecimalError::TooManySignificantDigits { count: significant });
        }
        // At most 18 significant digits (leading zeros add nothing): fits in i64.
        let magnitude: i64 = digits().fold(0, |m, b| m * 10 + i64::from(b - b'0'));
        let mantissa = if negative { -magnitude } else { magnitude };
        let scale = u32::try_from(frac.len()).unwrap_or(0);
        Ok(Self { text: s.to_owned(), mantissa, scale })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value is `mantissa × 10^−scale`.
    pub fn mantissa(&self) -> i64 {
        self.mantissa
    }

    /// Number of fraction digits as written.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// The value scaled to 18 fraction digits (exact: |mantissa| < 10^18, so this is below 10^36).
    fn scaled(&self) -> i128 {
        i128::from(self.mantissa) * 10i128.pow(Self::MAX_DIGITS as u32 - self.scale)
    }

    /// Numeric comparison (`85.2` equals `85.20`).
    pub fn cmp_value(&self, other: &Self) -> Ordering {
        self.scaled().cmp(&other.scaled())
    }
}

string_newtype!(Decimal, DecimalError);

// ---------------------------------------------------------------------------------------------------------------
// Floor area
// ---------------------------------------------------------------------------------------------------------------

/// 建筑面积: floor area in m², non-negative, with at most two decimals.
///
/// Stored as an integer number of hundredths of a square metre (so thresholds such as the notice's 5000 m²
/// compare exactly). JSON: a decimal string with 0–2 fraction digits (`"52000"`, `"1234.5"`, `"1234.56"`),
/// parsed with the [`Decimal`] grammar; it is written back in the shortest form (`"1234.50"` → `"1234.5"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AreaM2(u64);

/// Why a string is not an [`AreaM2`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaError {
    /// Not a decimal string.
    #[error("floor area: {0}")]
    Syntax(#[from] DecimalError),
    /// Has a minus sign.
    #[error("floor area must not be negative")]
    Negative,
    /// More than two decimals.
    #[error("floor area: at most 2 decimals (hundredths of a square metre), got {count}")]
    TooManyFractionDigits {
        /// Fraction digits found.
        count: u32,
    },
    /// Too large to hold in hundredths.
    #[error("floor area too large")]
    TooLarge,
}

impl AreaM2 {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// Parses a decimal string of square metres.
    pub fn parse(s: &str) -> Result<Self, AreaError> {
        let d = Decimal::parse(s)?;
        if s.starts_with('-') {
            return Err(AreaError::Negative);
        }
        if d.scale() > 2 {
            return Err(AreaError::TooManyFractionDigits { count: d.scale() });
        }
        let mantissa = u64::try_from(d.mantissa()).map_err(|_| AreaError::Negative)?;
        let hundredths = mantissa.checked_mul(10u64.pow(2 - d.scale())).ok_or(AreaError::TooLarge)?;
        Ok(Self(hundredths))
    }

    /// An area of `hundredths` × 0.01 m².
    pub const fn from_hundredths(hundredths: u64) -> Self {
        Self(hundredths)
    }

    /// An area of whole square metres, or `None` on overflow.
    pub fn from_m2(m2: u64) -> Option<Self> {
        m2.checked_mul(100).map(Self)
    }

    /// The area in hundredths of a square metre.
    pub const fn hundredths(self) -> u64 {
        self.0
    }

    /// The area with exactly two decimals, its full precision (`52000.00`, `1234.50`), as registers write it.
    pub fn to_fixed_2(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Display for AreaM2 {
    /// Shortest decimal form in m²: `52000`, `1234.5`, `1234.56`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{whole}"),
            _ if frac % 10 == 0 => write!(f, "{whole}.{}", frac / 10),
            _ => write!(f, "{whole}.{frac:02}"),
        }
    }
}

impl std::str::FromStr for AreaM2 {
    type Err = AreaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for AreaM2 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AreaM2 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&s).map_err(<D::Error as serde::de::Error>::custom)
    }
}
