//! The checks of a person intake, before anything is stored: the document (GB 11643 for `01`), the exact working
//! age (劳动法第十五条), name, phone and card numbers. Errors name the member and the check, never the value.

use siteledger_domain::workforce::{IdType, Masked};
use siteledger_domain::{IdNumber, LocalDate};
use zeroize::Zeroizing;

use super::VaultError;

/// Masks a non-GB-11643 document number: first 2 and last 2 characters, at least 4 `*`.
fn mask_other(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let head: String = chars.iter().take(2).filter(|c| c.is_ascii_digit()).collect();
    let tail: String = chars.iter().rev().take(2).rev().filter(|c| c.is_ascii_digit() || **c == 'X').collect();
    let stars = "*".repeat(chars.len().saturating_sub(4).max(6));
    format!("{head}{stars}{tail}")
}

/// Checks a bank card number: 12–19 digits (银行卡号, GB/T 14917 lengths). Errors never echo it.
pub fn parse_card(number: &str) -> Result<String, VaultError> {
    let n: String = number.chars().filter(|c| !c.is_whitespace()).collect();
    if !(12..=19).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VaultError::Invalid("银行卡号: must be 12-19 digits".into()));
    }
    Ok(n)
}

/// The intake of a person: document type and number, name, optional phone, and the birth date for documents that
/// do not encode one (resident ID numbers carry it).
#[derive(Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct PersonIntake {
    /// 证件类型 code (`01` 居民身份证 …).
    pub id_type: String,
    /// The document number (plaintext; it goes into the vault only).
    pub id_number: String,
    /// 姓名.
    pub name: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Birth date `YYYY-MM-DD` (required unless `id_type` is `01`).
    #[serde(default)]
    pub birth_date: Option<String>,
    /// Bank cards to register at once.
    #[serde(default)]
    pub cards: Vec<String>,
}

impl std::fmt::Debug for PersonIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonIntake({} <redacted>)", self.id_type)
    }
}

/// The minimum working age (劳动法第十五条), checked at intake on the exact birth date.
pub const MIN_AGE: i32 = 16;

/// A person intake, checked: everything parsed, nothing stored yet.
pub(super) struct Checked {
    pub(super) id_type: IdType,
    pub(super) number: Zeroizing<String>,
    pub(super) masked: String,
    pub(super) birth: LocalDate,
    pub(super) name: String,
    pub(super) phone: Option<String>,
    pub(super) cards: Vec<Zeroizing<String>>,
}

/// Which member of an intake failed its check (the import names it in the national platform's terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeField {
    /// 证件类型.
    IdType,
    /// 证件号码 (its checks, and the working age it implies for `01`).
    IdNumber,
    /// The birth date given for other documents (and the working age).
    BirthDate,
    /// 姓名.
    Name,
    /// Phone.
    Phone,
    /// The card at this index.
    Card(usize),
}

/// Checks an intake: the document (GB 11643 for `01`, naming the check that failed), the exact age on `today`
/// (劳动法第十五条), name, phone and cards. Errors name the member and the check, never a value.
pub fn check_intake(p: &PersonIntake, today: LocalDate) -> Result<(), (IntakeField, String)> {
    check(p, today).map(drop)
}

pub(super) fn check(p: &PersonIntake, today: LocalDate) -> Result<Checked, (IntakeField, String)> {
    use IntakeField as F;
    let id_type = IdType::parse(&p.id_type).map_err(|e| (F::IdType, e.to_string()))?;
    let (number, masked, birth, age_field) = if id_type == IdType::ResidentId {
        let id = IdNumber::parse(p.id_number.trim()).map_err(|e| (F::IdNumber, e.to_string()))?;
        (id.expose().to_owned(), id.masked(), id.birth_date(), F::IdNumber)
    } else {
        let n = p.id_number.trim().to_uppercase();
        if n.len() < 5 || n.len() > 32 || !n.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err((F::IdNumber, "证件号码: 5-32 letters and digits".into()));
        }
        let birth = p
            .birth_date
            .as_deref()
            .ok_or_else(|| (F::BirthDate, "birth_date is required for documents other than 01 居民身份证".into()))
            .and_then(|d| LocalDate::parse(d).map_err(|e| (F::BirthDate, format!("birth_date: {e}"))))?;
        let m = mask_other(&n);
        (n, m, birth, F::BirthDate)
    };
    Masked::parse(&masked).map_err(|e| (F::IdNumber, e.to_string()))?;
    let name = p.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err((F::Name, "name: 1-64 characters, no control characters".into()));
    }
    let phone = p.phone.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(ph) = phone
        && (ph.len() > 20 || !ph.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ')))
    {
        return Err((F::Phone, "phone: at most 20 digits, spaces, + or -".into()));
    }
    let age = {
        let (b, t) = (birth.date(), today.date());
        let mut years = t.year() - b.year();
        if (u8::from(t.month()), t.day()) < (u8::from(b.month()), b.day()) {
            years -= 1;
        }
        years
    };
    if age < MIN_AGE {
        return Err((
            age_field,
            format!(
                "劳动法第十五条: the person is {age} years old, under the legal working age of {MIN_AGE}: not taken in"
            ),
        ));
    }
    let cards = p
        .cards
        .iter()
        .enumerate()
        .map(|(i, c)| parse_card(c).map(Zeroizing::new).map_err(|e| (F::Card(i), e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checked {
        id_type,
        number: Zeroizing::new(number),
        masked,
        birth,
        name: name.to_owned(),
        phone: phone.map(str::to_owned),
        cards,
    })
}
