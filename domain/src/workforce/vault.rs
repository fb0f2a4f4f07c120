//! `vault.access.v1`: the signed record of one access to the personal-data vault of 实名制 (intake, card
//! registration, reveal, unlinking or erasure), written by the platform itself (`docs/PERSONAL-DATA.md`).
//!
//! The vault holds plaintext ID numbers, names, phones and card numbers outside the log; who touched whose data,
//! which fields and why must not depend on the vault's own database, which its operator could rewrite. So every
//! access is a record in the public log, signed by the platform's vault-audit key (role `platform`, enrolled by the
//! ledger's system key). A record never holds personal data: the person's public reference, the action, the
//! *names* of the fields, the accessor (role, enterprise, API token id) and a purpose from a fixed code list (a
//! free-text purpose could carry a number).
//!
//! Stream: `vault/access/<person_ref>`, so one person's access history is one stream (PIPL 第四十五条: a person may
//! ask who handled their data).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::types::{PersonRef, ValueError};
use crate::ids::CreditCode;
use crate::payload::PayloadError;
use crate::rules::{RecordContext, RuleError};
use crate::schema::{Member, each, is, opt, req, typed};

/// `vault.access.v1`.
pub const VAULT_ACCESS: &str = "vault.access.v1";

/// Every kind of this module.
pub const KINDS: &[&str] = &[VAULT_ACCESS];

/// The prefix of the access streams: `vault/access/<person_ref>`.
pub const STREAM_PREFIX: &str = "vault/access/";

/// The key role that signs access records: the platform's own service keys, enrolled only by the ledger.
pub const SIGNER_ROLE: &str = "platform";

/// What was done to the person's vault entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultAction {
    /// 实名登记: the accessor took the person in (or registered its own fields again).
    Intake,
    /// A wage card (工资卡) registered by an owner.
    Card,
    /// A personal attachment (附件: ID card photo, labour contract) sealed by an owner.
    Attach,
    /// Plaintext read.
    Reveal,
    /// One owner's tie and the fields it brought destroyed; other owners keep theirs.
    Unlink,
    /// Crypto-shredding: the person's data key, every field and the blind index destroyed.
    Erase,
}

impl VaultAction {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Intake => "intake",
            Self::Card => "card",
            Self::Attach => "attach",
            Self::Reveal => "reveal",
            Self::Unlink => "unlink",
            Self::Erase => "erase",
        }
    }
}

/// A field of the vault (its name only: values never leave the vault through a record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultField {
    /// 证件类型 and 证件号码.
    Id,
    /// 姓名.
    Name,
    /// Phone.
    Phone,
    /// Bank card numbers (工资卡).
    Cards,
    /// Personal attachments (附件: ID card photos, labour contracts), sealed like the other fields.
    Attachments,
}

impl VaultField {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Name => "name",
            Self::Phone => "phone",
            Self::Cards => "cards",
            Self::Attachments => "attachments",
        }
    }
}

macro_rules! purposes {
    ($($(#[$m:meta])* $v:ident = $code:literal, $zh:literal;)*) => {
        /// Why the vault was accessed: a fixed code list (a free-text purpose could carry a number).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum VaultPurpose {
            $($(#[$m])* $v,)*
        }

        impl VaultPurpose {
            /// Every purpose.
            pub const ALL: &'static [Self] = &[$(Self::$v,)*];

            /// The code.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$v => $code,)* }
            }

            /// The Chinese name.
            pub const fn name_zh(self) -> &'static str {
                match self { $(Self::$v => $zh,)* }
            }

            /// Parses a code; the error lists the codes (and does not repeat the value).
            pub fn parse(s: &str) -> Result<Self, ValueError> {
                match s {
                    $($code => Ok(Self::$v),)*
                    _ => Err(ValueError::Shape {
                        what: "purpose",
                        expected: concat!("one of the codes:", $(" ", $code,)*),
                    }),
                }
            }
        }
    };
}

// Parsed through `parse` (not serde's derive, whose "unknown variant" error repeats the value sent).
purposes! {
    /// 实名登记: intake and card registration.
    Registration = "registration", "实名登记";
    /// 工资代发: the employer prepares the bank's payroll file.
    WagePayment = "wage_payment", "工资代发";
    /// 欠薪投诉核查: a wage complaint is investigated.
    WageComplaint = "wage_complaint", "欠薪投诉核查";
    /// 劳动争议调解仲裁: a labour dispute is mediated or arbitrated.
    LabourDispute = "labour_dispute", "劳动争议调解仲裁";
    /// 监督执法检查: supervision or law enforcement.
    Inspection = "inspection", "监督执法检查";
    /// 本人查阅复制更正 (个人信息保护法第四十五、四十六条): the person's own request.
    SubjectRequest = "subject_request", "本人查阅更正";
    /// 全国平台报送: the national worker platform's report.
    PlatformReport = "platform_report", "全国平台报送";
    /// 删除 (个人信息保护法第四十七条): unlinking and erasure.
    Erasure = "erasure", "删除";
}

string_newtype!(VaultPurpose, ValueError);

/// Who accessed the vault: the API token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessorRole {
    /// 市住建局 (city token).
    CityBureau,
    /// An enterprise (enterprise token, scoped to its credit code).
    Enterprise,
}

/// An API token's public id (never its secret): 1–64 characters `A–Z a–z 0–9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(String);

impl TokenId {
    /// Parses a token id.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
        if !ok {
            return Err(ValueError::Shape { what: "token_id", expected: "1-64 characters A-Z a-z 0-9 . _ : -" });
        }
        if crate::personal::looks_like_personal_number(s) {
            return Err(ValueError::PersonalNumber { what: "token_id" });
        }
        Ok(Self(s.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(TokenId, ValueError);

/// `vault.access.v1`: one access to a person's vault entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultAccess {
    /// The person (public reference).
    pub person_ref: PersonRef,
    /// What was done.
    pub action: VaultAction,
    /// Which fields (names only), at least one.
    pub fields: Vec<VaultField>,
    /// Why.
    pub purpose: VaultPurpose,
    /// The accessor's role.
    pub accessor_role: AccessorRole,
    /// The accessor's enterprise (present exactly for [`AccessorRole::Enterprise`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessor_enterprise: Option<CreditCode>,
    /// The API token used (its public id).
    pub token_id: TokenId,
}

impl VaultAccess {
    /// The stream of the record: `vault/access/<person_ref>`.
    pub fn stream(&self) -> String {
        format!("{STREAM_PREFIX}{}", self.person_ref)
    }

    /// Whether `stream` is the record's; `Err` is the expected stream.
    pub fn check_stream(&self, stream: &str) -> Result<(), String> {
        let want = self.stream();
        if stream == want { Ok(()) } else { Err(want) }
    }
}

/// The admission rules of `vault.access.v1`.
///
/// | rule | refuses |
/// |---|---|
/// | `vault.access_signer` | a record not signed by a `platform` key (only the platform writes its access records) |
/// | `vault.accessor` | an enterprise accessor without its credit code, or a city accessor with one |
/// | `vault.fields` | no field, or a field named twice |
/// | `vault.purpose` | intake, card or attach not for `registration`; unlink or erase not for `erasure`; a reveal for either |
pub fn decide(ctx: &RecordContext<'_>, e: &VaultAccess) -> Result<(), RuleError> {
    if ctx.signer_role != SIGNER_ROLE {
        return Err(RuleError::new(
            "vault.access_signer",
            format!("vault access records are signed by the platform's own key, not by a {} key", ctx.signer_role),
        ));
    }
    match (e.accessor_role, &e.accessor_enterprise) {
        (AccessorRole::Enterprise, None) => {
            return Err(RuleError::new("vault.accessor", "an enterprise accessor needs accessor_enterprise"));
        }
        (AccessorRole::CityBureau, Some(_)) => {
            return Err(RuleError::new("vault.accessor", "a city_bureau accessor has no accessor_enterprise"));
        }
        _ => {}
    }
    if e.fields.is_empty() {
        return Err(RuleError::new("vault.fields", "name at least one field"));
    }
    let mut seen = e.fields.clone();
    seen.sort();
    seen.dedup();
    if seen.len() != e.fields.len() {
        return Err(RuleError::new("vault.fields", "a field is named twice"));
    }
    let fits = match e.action {
        VaultAction::Intake | VaultAction::Card | VaultAction::Attach => e.purpose == VaultPurpose::Registration,
        VaultAction::Unlink | VaultAction::Erase => e.purpose == VaultPurpose::Erasure,
        VaultAction::Reveal => !matches!(e.purpose, VaultPurpose::Registration | VaultPurpose::Erasure),
    };
    if !fits {
        return Err(RuleError::new(
            "vault.purpose",
            format!("purpose {} does not fit action {}", e.purpose.as_str(), e.action.as_str()),
        ));
    }
    Ok(())
}

const MEMBERS: &[Member] = &[
    req("person_ref", is::<PersonRef>),
    req("action", is::<VaultAction>),
    req("fields", each::<VaultField>),
    req("purpose", is::<VaultPurpose>),
    req("accessor_role", is::<AccessorRole>),
    opt("accessor_enterprise", is::<CreditCode>),
    req("token_id", is::<TokenId>),
];

/// Type-checks `payload` as `kind`; `None` if the kind is not this module's.
pub fn parse(kind: &str, payload: &Map<String, Value>) -> Option<Result<VaultAccess, PayloadError>> {
    (kind == VAULT_ACCESS).then(|| typed(VAULT_ACCESS, payload, MEMBERS))
}

/// The schema members of a kind of this module (top level), for tests that keep schemas and types in step.
#[doc(hidden)]
pub fn schema_members(kind: &str) -> Option<Vec<(&'static str, bool)>> {
    (kind == VAULT_ACCESS).then(|| MEMBERS.iter().map(|m| (m.name, m.required)).collect())
}
