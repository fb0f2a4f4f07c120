//! What the vault answers: references and commitments for the signed records, plaintext for entitled readers
//! (redacted `Debug`), erasure results and access records.

use serde::Serialize;

/// What intake returns: what the signed records may carry (no plaintext).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Intake {
    /// The person's reference (`P-…`), the same across enterprises and projects.
    pub person_ref: String,
    /// Commitment to the document number.
    pub id_commitment: String,
    /// Masked document number.
    pub id_masked: String,
    /// 证件类型 code.
    pub id_type: String,
    /// Birth month `YYYY-MM` (for `worker.registered.v1`).
    pub birth_month: String,
    /// Whether *this caller* had already taken the person in (its fields were updated). Whether anyone else did is
    /// not said.
    pub existing: bool,
}

/// A card commitment and masked form.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CardIntake {
    /// The person.
    pub person_ref: String,
    /// Commitment to the card number (for `worker.card.registered.v1`, payroll lines and transfers).
    pub card_commitment: String,
    /// `6222 **** **** 1234`.
    pub card_masked: String,
}

/// What one owner registered for a person (in the city bureau's view).
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct OwnerFields {
    /// The owner: an enterprise's credit code, or `city`.
    pub owner: String,
    /// 姓名 as this owner registered it (none for a tie carried over from the first vault schema).
    pub name: Option<String>,
    /// Phone as this owner registered it.
    pub phone: Option<String>,
    /// Cards this owner registered.
    pub cards: Vec<String>,
}

impl std::fmt::Debug for OwnerFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OwnerFields({} <redacted>)", self.owner)
    }
}

/// Plaintext of a person, for a scoped principal. `Debug` is redacted.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Revealed {
    /// The person.
    pub person_ref: String,
    /// 证件类型.
    pub id_type: String,
    /// The document number.
    pub id_number: String,
    /// 姓名: as the calling enterprise registered it; for the city bureau, as the first owner did. Empty if the
    /// caller registered none.
    pub name: String,
    /// Phone, as above.
    pub phone: Option<String>,
    /// Bank cards: those the calling enterprise registered; for the city bureau, every owner's.
    pub cards: Vec<String>,
    /// The city bureau's view only: what each owner registered (empty for an enterprise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<OwnerFields>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Revealed({} <redacted>)", self.person_ref)
    }
}

/// What an erasure did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    /// The person.
    pub person_ref: String,
    /// Always true (the caller's data is gone).
    pub erased: bool,
    /// Whether the person was crypto-shredded (last tie, or the city bureau); otherwise only the caller's tie and
    /// fields went and other owners keep theirs.
    pub crypto_shredded: bool,
}

/// One access record: from the signed `vault.access.v1` record in the log (`event_id`), or, for accesses before
/// the records were signed, from the vault's own table (`event_id` null).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessRecord {
    /// Sequence in the vault's index.
    pub seq: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who (token id, role, enterprise).
    pub principal: String,
    /// Whose data.
    pub person_ref: String,
    /// `intake`, `card`, `reveal`, `unlink`, `erase`.
    pub action: String,
    /// Which fields (never values) and the purpose code.
    pub detail: String,
    /// The signed record in the log (null for the unsigned history of the first vault schema).
    pub event_id: Option<String>,
    /// Its log position.
    pub position: Option<u64>,
}
