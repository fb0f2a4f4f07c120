//! The personal-data vault of 实名制: ID numbers, names, phones and bank card numbers, encrypted per person,
//! outside the public log (design and threat model: `docs/PERSONAL-DATA.md`).
//!
//! * Each person gets a random 256-bit **data key**, stored only wrapped (ChaCha20-Poly1305) under the vault's
//!   master key (`<data_dir>/keys/vault.key`, 32 random bytes, mode 0600). Each field is sealed with the data key
//!   (ChaCha20-Poly1305, random 96-bit nonce, the person's reference and the field name as associated data, so a
//!   ciphertext cannot be moved to another person or field).
//! * The public log carries a random [`PersonRef`] and **commitments**: HMAC-SHA256 under the person's data key of
//!   a domain-separated message (`siteledger/id/v1|<type>|<number>`, `siteledger/card/v1|<number>`). Without the
//!   data key a commitment reveals nothing and cannot be tested against guessed numbers (ID numbers have little
//!   entropy: an unkeyed hash would be brute-forced in minutes).
//! * A **blind index** (HMAC under a key derived from the master key) finds an existing person at intake, so one
//!   person has one reference across projects.
//! * **Erasure** deletes the wrapped data key, the fields and the blind index row: the commitments in the log
//!   become unlinkable values, every signature and Merkle proof still verifies (the leaves are unchanged).
//! * Every reveal and erasure writes an **access record** (who, when, which person, what), never the plaintext.
//!
//! Nothing here implements `Debug` with secrets: [`Vault`] and [`Revealed`] print redacted forms.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use siteledger_domain::workforce::{IdType, Masked, PersonRef, YearMonth};
use siteledger_domain::{IdNumber, LocalDate};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use zeroize::Zeroizing;

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The input is invalid: the message says which check failed (never the value).
    #[error("{0}")]
    Invalid(String),
    /// No such person (or erased).
    #[error("no person {0} in the vault (unknown or erased)")]
    NotFound(String),
    /// Storage or key-file failure.
    #[error("vault storage: {0}")]
    Storage(String),
    /// Decryption failed (tampered or wrong key).
    #[error("vault: a sealed value does not open (tampered or wrong key)")]
    Crypto,
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
            other => crate::error::ApiError::internal(other),
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS vault_people (person_ref TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL, \
     key_nonce BLOB NOT NULL, blind_index TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vault_fields (person_ref TEXT NOT NULL, field TEXT NOT NULL, nonce BLOB NOT NULL, \
     ciphertext BLOB NOT NULL, PRIMARY KEY (person_ref, field))",
    "CREATE TABLE IF NOT EXISTS vault_owners (person_ref TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (person_ref, owner))",
    "CREATE TABLE IF NOT EXISTS vault_erased (person_ref TEXT PRIMARY KEY, erased_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vault_access (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, \
     principal TEXT NOT NULL, person_ref TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)",
];

/// The vault: master key and database. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    master: std::sync::Arc<Zeroizing<[u8; 32]>>,
    db: SqlitePool,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

/// What intake returns: what the signed records may carry (no plaintext).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Intake {
    /// The person's reference (`P-…`).
    pub person_ref: String,
    /// Commitment to the document number.
    pub id_commitment: String,
    /// Masked document number.
    pub id_masked: String,
    /// 证件类型 code.
    pub id_type: String,
    /// Birth month `YYYY-MM` (for `worker.registered.v1`).
    pub birth_month: String,
    /// Whether the person was already in the vault (same reference returned).
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

/// Plaintext of a person, for a scoped principal. `Debug` is redacted.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Revealed {
    /// The person.
    pub person_ref: String,
    /// 证件类型.
    pub id_type: String,
    /// The document number.
    pub id_number: String,
    /// 姓名.
    pub name: String,
    /// Phone, if given.
    pub phone: Option<String>,
    /// Bank card numbers registered.
    pub cards: Vec<String>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Revealed({} <redacted>)", self.person_ref)
    }
}

/// One access record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessRecord {
    /// Sequence.
    pub seq: i64,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who (token id, role, scope).
    pub principal: String,
    /// Whose data.
    pub person_ref: String,
    /// `intake`, `card`, `reveal`, `erase`.
    pub action: String,
    /// Which fields (never values).
    pub detail: String,
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

impl Vault {
    /// Opens (or creates) the vault under `data_dir`: `vault.db` and `keys/vault.key` (0600).
    pub async fn open(data_dir: &Path) -> Result<Vault, VaultError> {
        let key_path = data_dir.join("keys").join("vault.key");
        let master = load_or_create_key(&key_path)?;
        let opts = SqliteConnectOptions::new()
            .filename(data_dir.join("vault.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let db = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        for s in SCHEMA {
            sqlx::query(*s).execute(&db).await?;
        }
        Ok(Vault { master: std::sync::Arc::new(master), db })
    }

    fn index_key(&self) -> [u8; 32] {
        hmac(&**self.master, b"siteledger/vault/index/v1")
    }

    fn wrap_aad(person: &str) -> Vec<u8> {
        format!("siteledger/vault/dek/v1|{person}").into_bytes()
    }

    async fn data_key(&self, person: &str) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let row = sqlx::query("SELECT wrapped_key, key_nonce FROM vault_people WHERE person_ref = ?")
            .bind(person)
            .fetch_optional(&self.db)
            .await?
            .ok_or_else(|| VaultError::NotFound(person.to_owned()))?;
        let wrapped: Vec<u8> = row.try_get("wrapped_key")?;
        let nonce: Vec<u8> = row.try_get("key_nonce")?;
        let plain = open(&self.master, &Self::wrap_aad(person), &nonce, &wrapped)?;
        let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| VaultError::Crypto)?;
        Ok(Zeroizing::new(key))
    }

    async fn put_field(&self, person: &str, field: &str, dek: &[u8; 32], value: &str) -> Result<(), VaultError> {
        let (nonce, ct) = seal(dek, format!("{person}|{field}").as_bytes(), value.as_bytes())?;
        sqlx::query(
            "INSERT INTO vault_fields (person_ref, field, nonce, ciphertext) VALUES (?, ?, ?, ?) \
             ON CONFLICT (person_ref, field) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext",
        )
        .bind(person)
        .bind(field)
        .bind(nonce.to_vec())
        .bind(ct)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    async fn audit(&self, principal: &str, person: &str, action: &str, detail: &str) -> Result<(), VaultError> {
        sqlx::query("INSERT INTO vault_access (at, principal, person_ref, action, detail) VALUES (?, ?, ?, ?, ?)")
            .bind(now_rfc3339())
            .bind(principal)
            .bind(person)
            .bind(action)
            .bind(detail)
            .execute(&self.db)
            .await?;
        tracing::info!(principal, person_ref = person, action, "vault access");
        Ok(())
    }

    /// Takes a person in: checks the document (GB 11643 for `01`, with the check that failed named), the exact
    /// age on `today`, and returns the reference and commitments for the signed records. `owner` is the
    /// registering principal's scope (an enterprise's credit code), who may later read the plaintext.
    pub async fn intake(
        &self,
        principal: &str,
        owner: &str,
        p: &PersonIntake,
        today: LocalDate,
    ) -> Result<Intake, VaultError> {
        let id_type = IdType::parse(&p.id_type).map_err(|e| VaultError::Invalid(e.to_string()))?;
        let (number, masked, birth) = if id_type == IdType::ResidentId {
            let id = IdNumber::parse(p.id_number.trim()).map_err(|e| VaultError::Invalid(e.to_string()))?;
            (id.expose().to_owned(), id.masked(), id.birth_date())
        } else {
            let n = p.id_number.trim().to_uppercase();
            if n.len() < 5 || n.len() > 32 || !n.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(VaultError::Invalid("证件号码: 5-32 letters and digits".into()));
            }
            let birth = p
                .birth_date
                .as_deref()
                .ok_or_else(|| {
                    VaultError::Invalid("birth_date is required for documents other than 01 居民身份证".into())
                })
                .and_then(|d| LocalDate::parse(d).map_err(|e| VaultError::Invalid(format!("birth_date: {e}"))))?;
            let m = mask_other(&n);
            (n, m, birth)
        };
        Masked::parse(&masked).map_err(|e| VaultError::Invalid(e.to_string()))?;
        let name = p.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(VaultError::Invalid("name: 1-64 characters".into()));
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
            return Err(VaultError::Invalid(format!(
                "劳动法第十五条: the person is {age} years old, under the legal working age of {MIN_AGE}: not taken in"
            )));
        }
        let cards = p.cards.iter().map(|c| parse_card(c)).collect::<Result<Vec<_>, _>>()?;
        let blind = hex::encode(hmac(&self.index_key(), format!("id|{}|{number}", id_type.as_str()).as_bytes()));
        let existing: Option<String> = sqlx::query("SELECT person_ref FROM vault_people WHERE blind_index = ?")
            .bind(&blind)
            .fetch_optional(&self.db)
            .await?
            .map(|r| r.try_get("person_ref"))
            .transpose()?;
        let (person, dek, was) = match existing {
            Some(person) => {
                let dek = self.data_key(&person).await?;
                (person, dek, true)
            }
            None => {
                let person = format!("P-{}", hex::encode(random::<16>()?));
                let dek = Zeroizing::new(random::<32>()?);
                let (nonce, wrapped) = seal(&self.master, &Self::wrap_aad(&person), dek.as_ref())?;
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
                .execute(&self.db)
                .await?;
                (person, dek, false)
            }
        };
        // Another enterprise taking in a known person (a worker changing employer) becomes one of its owners; only
        // the first owner's name and phone are kept (a later intake cannot overwrite them).
        let first_owner = self.owners(&person).await?.is_empty();
        sqlx::query(
            "INSERT INTO vault_owners (person_ref, owner) VALUES (?, ?) ON CONFLICT (person_ref, owner) DO NOTHING",
        )
        .bind(&person)
        .bind(owner)
        .execute(&self.db)
        .await?;
        if first_owner {
            self.put_field(&person, "id_type", &dek, id_type.as_str()).await?;
            self.put_field(&person, "id_number", &dek, &number).await?;
            self.put_field(&person, "name", &dek, name).await?;
            if let Some(phone) = p.phone.as_deref().filter(|s| !s.trim().is_empty()) {
                self.put_field(&person, "phone", &dek, phone.trim()).await?;
            }
        }
        for c in &cards {
            let cm = card_commitment(&dek, c);
            self.put_field(&person, &format!("card:{cm}"), &dek, c).await?;
        }
        self.audit(principal, &person, "intake", if was { "id,name (existing person)" } else { "id,name" }).await?;
        Ok(Intake {
            id_commitment: id_commitment(&dek, id_type, &number),
            person_ref: person,
            id_masked: masked,
            id_type: id_type.as_str().to_owned(),
            birth_month: YearMonth::of(birth).as_string(),
            existing: was,
        })
    }

    /// Registers a bank card of `person` and returns its commitment and masked form.
    pub async fn add_card(&self, principal: &str, person: &str, number: &str) -> Result<CardIntake, VaultError> {
        PersonRef::parse(person).map_err(|e| VaultError::Invalid(e.to_string()))?;
        let n = parse_card(number)?;
        let dek = self.data_key(person).await?;
        let cm = card_commitment(&dek, &n);
        self.put_field(person, &format!("card:{cm}"), &dek, &n).await?;
        self.audit(principal, person, "card", "card").await?;
        Ok(CardIntake { person_ref: person.to_owned(), card_commitment: cm, card_masked: Masked::card(&n) })
    }

    /// The enterprises (credit codes, or `city`) that took `person` in; empty for an unknown or erased person.
    pub async fn owners(&self, person: &str) -> Result<Vec<String>, VaultError> {
        let rows = sqlx::query("SELECT owner FROM vault_owners WHERE person_ref = ? ORDER BY owner")
            .bind(person)
            .fetch_all(&self.db)
            .await?;
        rows.into_iter().map(|r| r.try_get("owner").map_err(VaultError::from)).collect()
    }

    /// The plaintext of `person`, recorded as an access by `principal` for `purpose`. The caller checks the
    /// principal's right first.
    pub async fn reveal(&self, principal: &str, person: &str, purpose: &str) -> Result<Revealed, VaultError> {
        let dek = self.data_key(person).await?;
        let rows = sqlx::query("SELECT field, nonce, ciphertext FROM vault_fields WHERE person_ref = ? ORDER BY field")
            .bind(person)
            .fetch_all(&self.db)
            .await?;
        let mut out = Revealed {
            person_ref: person.to_owned(),
            id_type: String::new(),
            id_number: String::new(),
            name: String::new(),
            phone: None,
            cards: Vec::new(),
        };
        for r in rows {
            let field: String = r.try_get("field")?;
            let nonce: Vec<u8> = r.try_get("nonce")?;
            let ct: Vec<u8> = r.try_get("ciphertext")?;
            let plain = open(&dek, format!("{person}|{field}").as_bytes(), &nonce, &ct)?;
            let v = String::from_utf8(plain.to_vec()).map_err(|_| VaultError::Crypto)?;
            match field.as_str() {
                "id_type" => out.id_type = v,
                "id_number" => out.id_number = v,
                "name" => out.name = v,
                "phone" => out.phone = Some(v),
                f if f.starts_with("card:") => out.cards.push(v),
                _ => {}
            }
        }
        let purpose: String = purpose.chars().take(200).collect();
        self.audit(principal, person, "reveal", &format!("id,name,phone,cards; purpose: {purpose}")).await?;
        Ok(out)
    }

    /// Erases `person` (crypto-shredding): the wrapped data key, every sealed field and the blind index go; the
    /// person's commitments in the log can no longer be linked to anything. Recorded as an access.
    pub async fn erase(&self, principal: &str, person: &str) -> Result<(), VaultError> {
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("DELETE FROM vault_people WHERE person_ref = ?").bind(person).execute(&mut *tx).await?;
        if n.rows_affected() == 0 {
            return Err(VaultError::NotFound(person.to_owned()));
        }
        sqlx::query("DELETE FROM vault_fields WHERE person_ref = ?").bind(person).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM vault_owners WHERE person_ref = ?").bind(person).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO vault_erased (person_ref, erased_at) VALUES (?, ?) ON CONFLICT (person_ref) DO NOTHING",
        )
        .bind(person)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // SQLite keeps deleted pages until they are reused: overwrite them now.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.db).await?;
        sqlx::query("VACUUM").execute(&self.db).await?;
        self.audit(principal, person, "erase", "data key, fields and blind index destroyed").await?;
        Ok(())
    }

    /// The latest access records (newest first).
    pub async fn access_log(&self, person: Option<&str>, limit: i64) -> Result<Vec<AccessRecord>, VaultError> {
        let rows = match person {
            Some(p) => {
                sqlx::query("SELECT seq, at, principal, person_ref, action, detail FROM vault_access WHERE person_ref = ? ORDER BY seq DESC LIMIT ?")
                    .bind(p)
                    .bind(limit)
                    .fetch_all(&self.db)
                    .await?
            }
            None => {
                sqlx::query("SELECT seq, at, principal, person_ref, action, detail FROM vault_access ORDER BY seq DESC LIMIT ?")
                    .bind(limit)
                    .fetch_all(&self.db)
                    .await?
            }
        };
        rows.into_iter()
            .map(|r| {
                Ok(AccessRecord {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    principal: r.try_get("principal")?,
                    person_ref: r.try_get("person_ref")?,
                    action: r.try_get("action")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
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
