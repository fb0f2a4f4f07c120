//! The personal-data vault of 实名制: ID numbers, names, phones and bank card numbers, encrypted per person,
//! outside the public log (design and threat model: `docs/PERSONAL-DATA.md`).
//!
//! * Each person gets a random 256-bit **data key**, stored only wrapped (ChaCha20-Poly1305) under the vault's
//!   master key (`<data_dir>/keys/vault.key`, 32 random bytes, mode 0600). Each field is sealed with the data key
//!   (ChaCha20-Poly1305, random 96-bit nonce; the person's reference, the owner and the field name as associated
//!   data, so a ciphertext cannot be moved to another person, owner or field).
//! * The public log carries a random [`PersonRef`] and **commitments**: HMAC-SHA256 under the person's data key of
//!   a domain-separated message (`siteledger/id/v1|<type>|<number>`, `siteledger/card/v1|<number>`). Without the
//!   data key a commitment reveals nothing and cannot be tested against guessed numbers (ID numbers have little
//!   entropy: an unkeyed hash would be brute-forced in minutes).
//! * A **blind index** (HMAC under a key derived from the master key) finds an existing person at intake, so one
//!   person has one reference across projects and enterprises.
//! * **Owners.** Every enterprise (or the city bureau) that takes a person in is an owner, with its own sealed
//!   fields: the name, phone and cards *it* brought. The ID number is the person's (every owner brought the same
//!   number: that is how the blind index matched). An owner reads back the ID and its own fields, never another
//!   owner's; the city bureau reads every owner's. Registering a known person grants nothing the caller did not
//!   bring.
//! * **Erasure** by an owner removes its tie and its fields; when the last tie goes (or the city bureau erases,
//!   PIPL 第四十七条), the person is crypto-shredded: the wrapped data key, every field and the blind index go, the
//!   commitments in the log become unlinkable values, every signature and Merkle proof still verifies.
//! * **Personal attachments** (ID card photos, labour contracts, [`attachments`]) are sealed with the same data key
//!   and shredded with it.
//! * Every intake, card registration, reveal and erasure is a **signed record in the log** (`vault.access.v1`,
//!   [`audit`]), never the plaintext; if the record cannot be written, the access fails.
//!
//! Nothing here implements `Debug` with secrets: [`Vault`], [`Revealed`] and [`PersonIntake`] print redacted forms.

mod answers;
mod attachments;
mod audit;
mod intake;
mod schema;

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use siteledger_domain::workforce::vault::{AccessorRole, TokenId, VaultAccess, VaultAction, VaultField, VaultPurpose};
use siteledger_domain::workforce::{IdType, Masked, PersonRef, YearMonth};
use siteledger_domain::{CreditCode, LocalDate};
use siteledger_ledger::EventStore;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;
use zeroize::Zeroizing;

pub use answers::{AccessRecord, CardIntake, Erasure, Intake, OwnerFields, Revealed};
pub use attachments::{OpenedAttachment, SealedAttachment};
pub use audit::{AuditLog, KEY_FILE as AUDIT_KEY_FILE, Recorded, enrollment as audit_enrollment};
use intake::check;
pub use intake::{IntakeField, MIN_AGE, PersonIntake, check_intake, parse_card};

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The input is invalid: the message says which check failed (never the value).
    #[error("{0}")]
    Invalid(String),
    /// No such person (or erased, or not the caller's).
    #[error("no person {0} in the vault (unknown or erased)")]
    NotFound(String),
    /// Storage or key-file failure.
    #[error("vault storage: {0}")]
    Storage(String),
    /// Decryption failed (tampered or wrong key).
    #[error("vault: a sealed value does not open (tampered or wrong key)")]
    Crypto,
    /// The access record could not be written to the log: nothing was revealed or changed; retry later.
    #[error("the vault access could not be recorded in the log ({0}): nothing was revealed or changed")]
    Unrecorded(String),
}

impl From<sqlx::Error> for VaultError {
    fn from(e: sqlx::Error) -> Self {
        VaultError::Storage(e.to_string())
    }
}

impl From<VaultError> for crate::error::ApiError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Invalid(m) => crate::error::ApiError::BadRequest(m),
            VaultError::NotFound(m) => crate::error::ApiError::NotFound(format!("no person {m} in the vault")),
            VaultError::Unrecorded(m) => crate::error::ApiError::store_unavailable(
                crate::error::Store::Vault,
                format!("vault access not recorded: {m}"),
            ),
            other => crate::error::ApiError::internal(other),
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The owner name of the city bureau's ties (enterprises are owners by credit code).
pub const CITY_OWNER: &str = "city";

/// Who is accessing the vault, as the access record names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accessor {
    /// The API token's public id.
    pub token_id: TokenId,
    /// City bureau or enterprise.
    pub role: AccessorRole,
    /// The enterprise, for [`AccessorRole::Enterprise`].
    pub enterprise: Option<CreditCode>,
}

impl Accessor {
    /// The city bureau, through token `token_id`.
    pub fn city(token_id: TokenId) -> Accessor {
        Accessor { token_id, role: AccessorRole::CityBureau, enterprise: None }
    }

    /// An enterprise, through token `token_id`.
    pub fn enterprise(token_id: TokenId, credit_code: CreditCode) -> Accessor {
        Accessor { token_id, role: AccessorRole::Enterprise, enterprise: Some(credit_code) }
    }

    /// The owner this accessor acts as: its credit code, or [`CITY_OWNER`].
    pub fn owner(&self) -> String {
        self.enterprise.as_ref().map_or_else(|| CITY_OWNER.to_owned(), |c| c.as_str().to_owned())
    }

    fn is_city(&self) -> bool {
        self.role == AccessorRole::CityBureau
    }

    fn text(&self) -> String {
        match &self.enterprise {
            Some(c) => format!("{} enterprise:{c}", self.token_id),
            None => format!("{} city_bureau:-", self.token_id),
        }
    }
}

/// The vault: master key, database and the writer of its access records. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    master: std::sync::Arc<Zeroizing<[u8; 32]>>,
    db: SqlitePool,
    audit: AuditLog,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| VaultError::Storage(format!("getrandom: {e}")))?;
    Ok(b)
}

fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<([u8; 12], Vec<u8>), VaultError> {
    let cipher = ChaCha20Poly1305::new_from_slice(key).map_err(|_| VaultError::Crypto)?;
    let nonce = random::<12>()?;
    let ct = cipher.encrypt(&Nonce::from(nonce), Payload { msg: plain, aad }).map_err(|_| VaultError::Crypto)?;
    Ok((nonce, ct))
}

fn open(key: &[u8; 32], aad: &[u8], nonce: &[u8], ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let cipher = ChaCha20Poly1305::new_from_slice(key).map_err(|_| VaultError::Crypto)?;
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| VaultError::Crypto)?;
    cipher.decrypt(&Nonce::from(nonce), Payload { msg: ct, aad }).map(Zeroizing::new).map_err(|_| VaultError::Crypto)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Commitment to a document number under a person's data key.
fn id_commitment(dek: &[u8; 32], id_type: IdType, number: &str) -> String {
    format!(
        "hmac-sha256:{}",
        hex::encode(hmac(dek, format!("siteledger/id/v1|{}|{number}", id_type.as_str()).as_bytes()))
    )
}

/// Commitment to a bank card number under a person's data key.
fn card_commitment(dek: &[u8; 32], number: &str) -> String {
    format!("hmac-sha256:{}", hex::encode(hmac(dek, format!("siteledger/card/v1|{number}").as_bytes())))
}

/// The associated data of a sealed field: person, owner (`''` for the person's own fields) and field.
fn field_aad(person: &str, owner: &str, field: &str) -> Vec<u8> {
    format!("siteledger/vault/field/v2|{person}|{owner}|{field}").into_bytes()
}

fn wrap_aad(person: &str) -> Vec<u8> {
    format!("siteledger/vault/dek/v1|{person}").into_bytes()
}

/// Opens a person's wrapped data key.
fn unwrap_data_key(
    master: &[u8; 32],
    person: &str,
    nonce: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let plain = open(master, &wrap_aad(person), nonce, wrapped)?;
    let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| VaultError::Crypto)?;
    Ok(Zeroizing::new(key))
}

/// A decrypted field with its owner.
struct Opened {
    owner: String,
    field: String,
    value: Zeroizing<String>,
}

impl Vault {
    /// Opens (or creates) the vault under `data_dir`: `vault.db` and `keys/vault.key` (0600); migrates a vault of
    /// the first schema. Access records are written through `audit`.
    pub async fn open(data_dir: &Path, audit: AuditLog) -> Result<Vault, VaultError> {
        let key_path = data_dir.join("keys").join("vault.key");
        let master = load_or_create_key(&key_path)?;
        let opts = SqliteConnectOptions::new()
            .filename(data_dir.join("vault.db"))
            .create_if_missing(true)
            .busy_timeout(siteledger_ledger::sqlite::BUSY_TIMEOUT)
            .journal_mode(SqliteJournalMode::Wal);
        let db = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        schema::migrate(&db, &master).await?;
        Ok(Vault { master: std::sync::Arc::new(master), db, audit })
    }

    fn index_key(&self) -> [u8; 32] {
        hmac(&**self.master, b"siteledger/vault/index/v1")
    }

    async fn data_key(&self, conn: &mut SqliteConnection, person: &str) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let row = sqlx::query("SELECT wrapped_key, key_nonce FROM vault_people WHERE person_ref = ?")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| VaultError::NotFound(person.to_owned()))?;
        let wrapped: Vec<u8> = row.try_get("wrapped_key")?;
        let nonce: Vec<u8> = row.try_get("key_nonce")?;
        unwrap_data_key(&self.master, person, &nonce, &wrapped)
    }

    async fn put_field(
        conn: &mut SqliteConnection,
        person: &str,
        owner: &str,
        field: &str,
        dek: &[u8; 32],
        value: &str,
    ) -> Result<(), VaultError> {
        let (nonce, ct) = seal(dek, &field_aad(person, owner, field), value.as_bytes())?;
        sqlx::query(
            "INSERT INTO vault_sealed (person_ref, owner, field, nonce, ciphertext) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (person_ref, owner, field) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext",
        )
        .bind(person)
        .bind(owner)
        .bind(field)
        .bind(nonce.to_vec())
        .bind(ct)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The fields of `person` visible to `owners` (`None`: every owner's), decrypted.
    async fn open_fields(
        &self,
        conn: &mut SqliteConnection,
        person: &str,
        owners: Option<&[&str]>,
    ) -> Result<Vec<Opened>, VaultError> {
        let dek = self.data_key(conn, person).await?;
        let rows = sqlx::query(
            "SELECT owner, field, nonce, ciphertext FROM vault_sealed WHERE person_ref = ? ORDER BY owner, field",
        )
        .bind(person)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let owner: String = r.try_get("owner")?;
            if owners.is_some_and(|o| !o.contains(&owner.as_str())) {
                continue;
            }
            let field: String = r.try_get("field")?;
            let nonce: Vec<u8> = r.try_get("nonce")?;
            let ct: Vec<u8> = r.try_get("ciphertext")?;
            let plain = open(&dek, &field_aad(person, &owner, &field), &nonce, &ct)?;
            let value = Zeroizing::new(String::from_utf8(plain.to_vec()).map_err(|_| VaultError::Crypto)?);
            out.push(Opened { owner, field, value });
        }
        Ok(out)
    }

    /// Records an access: the local index row (in the caller's transaction) and the signed record in the log. The
    /// caller commits only if this succeeded, so an access the log does not show did not happen.
    async fn record(
        &self,
        conn: &mut SqliteConnection,
        who: &Accessor,
        person: &str,
        action: VaultAction,
        mut fields: Vec<VaultField>,
        purpose: VaultPurpose,
    ) -> Result<Recorded, VaultError> {
        fields.sort();
        fields.dedup();
        let access = VaultAccess {
            person_ref: PersonRef::parse(person).map_err(|e| VaultError::Invalid(e.to_string()))?,
            action,
            fields,
            purpose,
            accessor_role: who.role,
            accessor_enterprise: who.enterprise.clone(),
            token_id: who.token_id.clone(),
        };
        let event_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO vault_access (at, principal, person_ref, action, detail, event_id) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(now_rfc3339())
        .bind(who.text())
        .bind(person)
        .bind(action.as_str())
        .bind(detail(&access))
        .bind(event_id.to_string())
        .execute(&mut *conn)
        .await?;
        let recorded = self.audit.write(event_id, &access).await?;
        tracing::info!(principal = %who.text(), person_ref = person, action = action.as_str(), position = recorded.position, "vault access recorded");
        Ok(recorded)
    }

    /// Takes a person in for `owner` (the caller's credit code, `city`, or the enterprise the city bureau imports
    /// for): checks the document, the exact age on `today`, name, phone and cards, and returns the reference and
    /// commitments for the signed records. A known person (same document) keeps its reference; the caller becomes
    /// an owner with its own name, phone and cards and is granted nothing another owner brought.
    pub async fn intake(
        &self,
        who: &Accessor,
        owner: &str,
        p: &PersonIntake,
        today: LocalDate,
    ) -> Result<Intake, VaultError> {
        let c = check(p, today).map_err(|(_, m)| VaultError::Invalid(m))?;
        let blind =
            hex::encode(hmac(&self.index_key(), format!("id|{}|{}", c.id_type.as_str(), c.number.as_str()).as_bytes()));
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        let known: Option<String> = sqlx::query("SELECT person_ref FROM vault_people WHERE blind_index = ?")
            .bind(&blind)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("person_ref"))
            .transpose()?;
        let (person, dek) = match known {
            Some(person) => {
                let dek = self.data_key(&mut tx, &person).await?;
                (person, dek)
            }
            None => {
                let person = format!("P-{}", hex::encode(random::<16>()?));
                let dek = Zeroizing::new(random::<32>()?);
                let (nonce, wrapped) = seal(&self.master, &wrap_aad(&person), dek.as_ref())?;
                sqlx::query(
                    "INSERT INTO vault_people (person_ref, wrapped_key, key_nonce, blind_index, owner, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(&person)
                .bind(wrapped)
                .bind(nonce.to_vec())
                .bind(&blind)
                .bind(owner)
                .bind(now_rfc3339())
                .execute(&mut *tx)
                .await?;
                Self::put_field(&mut tx, &person, "", "id_type", &dek, c.id_type.as_str()).await?;
                Self::put_field(&mut tx, &person, "", "id_number", &dek, &c.number).await?;
                (person, dek)
            }
        };
        let had: bool = sqlx::query("SELECT 1 FROM vault_owners WHERE person_ref = ? AND owner = ?")
            .bind(&person)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        sqlx::query(
            "INSERT INTO vault_owners (person_ref, owner) VALUES (?, ?) ON CONFLICT (person_ref, owner) DO NOTHING",
        )
        .bind(&person)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        // The caller's own fields: a later intake by the same owner updates them, never another owner's.
        let mut fields = vec![VaultField::Id, VaultField::Name];
        Self::put_field(&mut tx, &person, owner, "name", &dek, &c.name).await?;
        if let Some(phone) = &c.phone {
            Self::put_field(&mut tx, &person, owner, "phone", &dek, phone).await?;
            fields.push(VaultField::Phone);
        }
        for card in &c.cards {
            let cm = card_commitment(&dek, card);
            Self::put_field(&mut tx, &person, owner, &format!("card:{cm}"), &dek, card).await?;
            fields.push(VaultField::Cards);
        }
        self.record(&mut tx, who, &person, VaultAction::Intake, fields, VaultPurpose::Registration).await?;
        tx.commit().await?;
        Ok(Intake {
            id_commitment: id_commitment(&dek, c.id_type, &c.number),
            person_ref: person,
            id_masked: c.masked,
            id_type: c.id_type.as_str().to_owned(),
            birth_month: YearMonth::of(c.birth).as_string(),
            existing: had,
        })
    }

    /// Registers a bank card of `person` for `owner` (which must have taken the person in) and returns its
    /// commitment and masked form.
    pub async fn add_card(
        &self,
        who: &Accessor,
        owner: &str,
        person: &str,
        number: &str,
    ) -> Result<CardIntake, VaultError> {
        PersonRef::parse(person).map_err(|e| VaultError::Invalid(e.to_string()))?;
        let n = Zeroizing::new(parse_card(number)?);
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        let tied = sqlx::query("SELECT 1 FROM vault_owners WHERE person_ref = ? AND owner = ?")
            .bind(person)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !tied {
            return Err(VaultError::NotFound(person.to_owned()));
        }
        let dek = self.data_key(&mut tx, person).await?;
        let cm = card_commitment(&dek, &n);
        Self::put_field(&mut tx, person, owner, &format!("card:{cm}"), &dek, &n).await?;
        self.record(&mut tx, who, person, VaultAction::Card, vec![VaultField::Cards], VaultPurpose::Registration)
            .await?;
        tx.commit().await?;
        Ok(CardIntake { person_ref: person.to_owned(), card_commitment: cm, card_masked: Masked::card(&n) })
    }

    /// The owners (credit codes, or `city`) that took `person` in; empty for an unknown or erased person.
    pub async fn owners(&self, person: &str) -> Result<Vec<String>, VaultError> {
        let rows = sqlx::query("SELECT owner FROM vault_owners WHERE person_ref = ? ORDER BY owner")
            .bind(person)
            .fetch_all(&self.db)
            .await?;
        rows.into_iter().map(|r| r.try_get("owner").map_err(VaultError::from)).collect()
    }

    /// The plaintext of `person` for `who`: the ID and the fields the calling enterprise registered itself, or,
    /// for the city bureau, every owner's. Recorded (signed, in the log) before anything is returned. The caller
    /// checks that `who` may see the person at all.
    pub async fn reveal(&self, who: &Accessor, person: &str, purpose: VaultPurpose) -> Result<Revealed, VaultError> {
        if matches!(purpose, VaultPurpose::Registration | VaultPurpose::Erasure) {
            return Err(VaultError::Invalid(format!(
                "purpose: {} is not a reason to read plaintext; use one of: wage_payment, wage_complaint, \
                 labour_dispute, inspection, subject_request, platform_report",
                purpose.as_str()
            )));
        }
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        let me = who.owner();
        let tied = sqlx::query("SELECT 1 FROM vault_owners WHERE person_ref = ? AND owner = ?")
            .bind(person)
            .bind(&me)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !who.is_city() && !tied {
            return Err(VaultError::NotFound(person.to_owned()));
        }
        let visible: Option<Vec<&str>> = if who.is_city() { None } else { Some(vec!["", me.as_str()]) };
        let opened = self.open_fields(&mut tx, person, visible.as_deref()).await?;
        let creator: String = sqlx::query("SELECT owner FROM vault_people WHERE person_ref = ?")
            .bind(person)
            .fetch_one(&mut *tx)
            .await?
            .try_get("owner")?;
        let ties: Vec<String> = sqlx::query("SELECT owner FROM vault_owners WHERE person_ref = ? ORDER BY owner")
            .bind(person)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| r.try_get("owner"))
            .collect::<Result<_, _>>()?;
        let mut out = Revealed {
            person_ref: person.to_owned(),
            id_type: String::new(),
            id_number: String::new(),
            name: String::new(),
            phone: None,
            cards: Vec::new(),
            owners: Vec::new(),
        };
        let mut owners: Vec<OwnerFields> = Vec::new();
        for o in &ties {
            if who.is_city() || *o == me {
                owners.push(OwnerFields { owner: o.clone(), name: None, phone: None, cards: Vec::new() });
            }
        }
        // The first owner first: its name is the one shown at the top for the city bureau.
        owners.sort_by_key(|o| (o.owner != creator, o.owner.clone()));
        for f in &opened {
            if f.owner.is_empty() {
                match f.field.as_str() {
                    "id_type" => out.id_type = f.value.to_string(),
                    "id_number" => out.id_number = f.value.to_string(),
                    _ => {}
                }
                continue;
            }
            let Some(o) = owners.iter_mut().find(|o| o.owner == f.owner) else { continue };
            match f.field.as_str() {
                "name" => o.name = Some(f.value.to_string()),
                "phone" => o.phone = Some(f.value.to_string()),
                c if c.starts_with("card:") => o.cards.push(f.value.to_string()),
                _ => {}
            }
        }
        if let Some(top) = owners.iter().find(|o| o.name.is_some()) {
            out.name = top.name.clone().unwrap_or_default();
            out.phone = top.phone.clone();
        }
        for o in &owners {
            for c in &o.cards {
                if !out.cards.contains(c) {
                    out.cards.push(c.clone());
                }
            }
        }
        let mut fields = vec![VaultField::Id];
        if !out.name.is_empty() || owners.iter().any(|o| o.name.is_some()) {
            fields.push(VaultField::Name);
        }
        if owners.iter().any(|o| o.phone.is_some()) {
            fields.push(VaultField::Phone);
        }
        if !out.cards.is_empty() {
            fields.push(VaultField::Cards);
        }
        if who.is_city() {
            out.owners = owners;
        }
        self.record(&mut tx, who, person, VaultAction::Reveal, fields, purpose).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Erases for `who`: an enterprise removes its tie and the fields it brought (`unlink`), other owners keep
    /// theirs; when the last tie goes, or when the city bureau erases (个人信息保护法第四十七条: the person's
    /// deletion request against the platform), the person is crypto-shredded (`erase`): the wrapped data key,
    /// every field and the blind index. Recorded in the log in the same step: an erasure the log does not show did
    /// not happen. The caller checks that `who` may see the person at all.
    pub async fn erase(&self, who: &Accessor, person: &str) -> Result<Erasure, VaultError> {
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        let ties: Vec<String> = sqlx::query("SELECT owner FROM vault_owners WHERE person_ref = ?")
            .bind(person)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| r.try_get("owner"))
            .collect::<Result<_, _>>()?;
        let me = who.owner();
        if ties.is_empty() || (!who.is_city() && !ties.contains(&me)) {
            return Err(VaultError::NotFound(person.to_owned()));
        }
        let shred = who.is_city() || ties.iter().all(|t| *t == me);
        let scope: Vec<(String, String)> = sqlx::query("SELECT owner, field FROM vault_sealed WHERE person_ref = ?")
            .bind(person)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("owner")?, r.try_get("field")?)))
            .collect::<Result<_, _>>()?;
        // The tie is the access to the ID number: unlinking destroys that access too.
        let mut fields = vec![VaultField::Id];
        for (owner, field) in &scope {
            if shred || *owner == me {
                fields.extend(match field.as_str() {
                    "name" => Some(VaultField::Name),
                    "phone" => Some(VaultField::Phone),
                    f if f.starts_with("card:") => Some(VaultField::Cards),
                    _ => None,
                });
            }
        }
        let attached: Vec<String> = sqlx::query("SELECT owner FROM vault_attachments WHERE person_ref = ?")
            .bind(person)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| r.try_get("owner"))
            .collect::<Result<_, _>>()?;
        if attached.iter().any(|o| shred || *o == me) {
            fields.push(VaultField::Attachments);
        }
        if shred {
            sqlx::query("DELETE FROM vault_attachments WHERE person_ref = ?").bind(person).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM vault_people WHERE person_ref = ?").bind(person).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM vault_sealed WHERE person_ref = ?").bind(person).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM vault_owners WHERE person_ref = ?").bind(person).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO vault_erased (person_ref, erased_at) VALUES (?, ?) ON CONFLICT (person_ref) DO NOTHING",
            )
            .bind(person)
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("DELETE FROM vault_attachments WHERE person_ref = ? AND owner = ?")
                .bind(person)
                .bind(&me)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM vault_sealed WHERE person_ref = ? AND owner = ?")
                .bind(person)
                .bind(&me)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM vault_owners WHERE person_ref = ? AND owner = ?")
                .bind(person)
                .bind(&me)
                .execute(&mut *tx)
                .await?;
        }
        let action = if shred { VaultAction::Erase } else { VaultAction::Unlink };
        self.record(&mut tx, who, person, action, fields, VaultPurpose::Erasure).await?;
        tx.commit().await?;
        scrub(&self.db).await?;
        Ok(Erasure { person_ref: person.to_owned(), erased: true, crypto_shredded: shred })
    }

    /// The latest access records (newest first), read from the signed records in the log through the vault's
    /// index; an index row whose record never reached the log (the access failed) is skipped.
    pub async fn access_log(&self, person: Option<&str>, limit: i64) -> Result<Vec<AccessRecord>, VaultError> {
        let rows = match person {
            Some(p) => {
                sqlx::query("SELECT seq, at, principal, person_ref, action, detail, event_id FROM vault_access WHERE person_ref = ? ORDER BY seq DESC LIMIT ?")
                    .bind(p)
                    .bind(limit)
                    .fetch_all(&self.db)
                    .await?
            }
            None => {
                sqlx::query("SELECT seq, at, principal, person_ref, action, detail, event_id FROM vault_access ORDER BY seq DESC LIMIT ?")
                    .bind(limit)
                    .fetch_all(&self.db)
                    .await?
            }
        };
        let ids: Vec<Uuid> = rows
            .iter()
            .filter_map(|r| r.try_get::<Option<String>, _>("event_id").ok().flatten())
            .filter_map(|s| Uuid::parse_str(&s).ok())
            .collect();
        let signed = if ids.is_empty() {
            Vec::new()
        } else {
            self.audit
                .ledger()
                .store()
                .events_by_id(&ids)
                .await
                .map_err(|e| VaultError::Storage(format!("reading access records from the log: {e}")))?
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let seq: i64 = r.try_get("seq")?;
            let event_id: Option<String> = r.try_get("event_id")?;
            let Some(id) = event_id else {
                out.push(AccessRecord {
                    seq,
                    at: r.try_get("at")?,
                    principal: r.try_get("principal")?,
                    person_ref: r.try_get("person_ref")?,
                    action: r.try_get("action")?,
                    detail: r.try_get("detail")?,
                    event_id: None,
                    position: None,
                });
                continue;
            };
            let Some(e) = signed.iter().find(|e| e.event_id.to_string() == id) else { continue };
            let env = siteledger_signer::Envelope::parse(&e.leaf)
                .map_err(|err| VaultError::Storage(format!("access record {id}: {err}")))?;
            let access: VaultAccess = serde_json::from_value(serde_json::Value::Object(env.payload().clone()))
                .map_err(|err| VaultError::Storage(format!("access record {id}: {err}")))?;
            let who = Accessor {
                token_id: access.token_id.clone(),
                role: access.accessor_role,
                enterprise: access.accessor_enterprise.clone(),
            };
            out.push(AccessRecord {
                seq,
                at: env.occurred_at().to_owned(),
                principal: who.text(),
                person_ref: access.person_ref.as_str().to_owned(),
                action: access.action.as_str().to_owned(),
                detail: detail(&access),
                event_id: Some(id),
                position: Some(e.position),
            });
        }
        Ok(out)
    }
}

/// Overwrites freed pages: SQLite keeps deleted rows in free pages until reused, and in WAL mode the rebuilt
/// database first goes to the WAL, so the checkpoint comes after the `VACUUM` (with readers on old snapshots it
/// completes at a later checkpoint).
async fn scrub(db: &SqlitePool) -> Result<(), VaultError> {
    sqlx::query("VACUUM").execute(db).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(db).await?;
    Ok(())
}

/// The index's summary of a record: field names and the purpose code (never values).
fn detail(a: &VaultAccess) -> String {
    let fields: Vec<&str> = a.fields.iter().map(|f| f.as_str()).collect();
    format!("fields: {}; purpose: {} ({})", fields.join(","), a.purpose.as_str(), a.purpose.name_zh())
}

fn load_or_create_key(path: &Path) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let io = |e: std::io::Error| VaultError::Storage(format!("vault key {}: {e}", path.display()));
    if path.exists() {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(io)?);
        let key: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| VaultError::Storage("vault key must be 32 bytes".into()))?;
        return Ok(Zeroizing::new(key));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let key = Zeroizing::new(random::<32>()?);
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
        f.write_all(key.as_ref()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, key.as_ref()).map_err(io)?;
    tracing::info!(path = %path.display(), "created the vault master key (0600)");
    Ok(key)
}
