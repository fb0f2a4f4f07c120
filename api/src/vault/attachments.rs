//! Personal attachments (附件 of a person: ID card photos, labour contracts): sealed in the vault with the person's
//! data key, exactly like the person's fields, and crypto-shredded with the person.
//!
//! A record cites such a file by the SHA-256 of its plaintext, like any attachment; the vault keeps one row per
//! (person, owner, digest) in `vault_attachments`, sealed with the associated data
//! `siteledger/vault/attachment/v1|person|owner|sha256` (a ciphertext cannot be moved to another person, owner or
//! digest). Who reads them follows the reveal rules: the city bureau every owner's, an owner enterprise its own,
//! with a purpose code; sealing and every read are `vault.access.v1` records (`attach`, `reveal`, field
//! `attachments`). Erasure deletes the rows with the data key (an owner's unlink deletes its own rows).

use siteledger_domain::workforce::vault::{VaultAction, VaultField, VaultPurpose};
use sqlx::Row;
use zeroize::Zeroizing;

use super::{Accessor, Vault, VaultError, open, seal};

/// The table (created with the vault's others).
pub(super) const TABLE: &str = "CREATE TABLE IF NOT EXISTS vault_attachments (person_ref TEXT NOT NULL, \
     owner TEXT NOT NULL, sha256 TEXT NOT NULL, media_type TEXT NOT NULL, nonce BLOB NOT NULL, \
     ciphertext BLOB NOT NULL, PRIMARY KEY (person_ref, owner, sha256))";

fn attachment_aad(person: &str, owner: &str, sha256: &str) -> Vec<u8> {
    format!("siteledger/vault/attachment/v1|{person}|{owner}|{sha256}").into_bytes()
}

/// A sealed personal attachment.
#[derive(Debug, Clone)]
pub struct SealedAttachment {
    /// SHA-256 of the plaintext: what a record cites.
    pub sha256: String,
    /// Whether it was new for this person and owner.
    pub fresh: bool,
}

/// An opened personal attachment (the plaintext is wiped when dropped).
pub struct OpenedAttachment {
    /// The media type found in the bytes at upload.
    pub media_type: String,
    /// The plaintext.
    pub bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for OpenedAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenedAttachment({}, {} bytes, redacted)", self.media_type, self.bytes.len())
    }
}

impl Vault {
    /// Seals `bytes` for `person`, owned by `who` (its credit code, or `city`); recorded in the log (`attach`)
    /// before the commit. The caller checks that `who` may see the person at all.
    pub async fn seal_attachment(
        &self,
        who: &Accessor,
        person: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<SealedAttachment, VaultError> {
        let sha256 = crate::blobs::sha256_hex(bytes);
        let owner = who.owner();
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        let known = sqlx::query("SELECT 1 FROM vault_attachments WHERE person_ref = ? AND owner = ? AND sha256 = ?")
            .bind(person)
            .bind(&owner)
            .bind(&sha256)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if known {
            return Ok(SealedAttachment { sha256, fresh: false });
        }
        let dek = self.data_key(&mut tx, person).await?;
        let (nonce, ct) = seal(&dek, &attachment_aad(person, &owner, &sha256), bytes)?;
        sqlx::query(
            "INSERT INTO vault_attachments (person_ref, owner, sha256, media_type, nonce, ciphertext) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(person)
        .bind(&owner)
        .bind(&sha256)
        .bind(media_type)
        .bind(nonce.to_vec())
        .bind(ct)
        .execute(&mut *tx)
        .await?;
        self.record(
            &mut tx,
            who,
            person,
            VaultAction::Attach,
            vec![VaultField::Attachments],
            VaultPurpose::Registration,
        )
        .await?;
        tx.commit().await?;
        Ok(SealedAttachment { sha256, fresh: true })
    }

    /// Opens the attachment `sha256` of `person` for `who`: the city bureau any owner's, an enterprise its own
    /// (`None` otherwise, and for an erased person). Recorded in the log (`reveal`, `attachments`, `purpose`)
    /// before anything is returned. The caller checks that `who` may see the person at all.
    pub async fn open_attachment(
        &self,
        who: &Accessor,
        person: &str,
        sha256: &str,
        purpose: VaultPurpose,
    ) -> Result<Option<OpenedAttachment>, VaultError> {
        if matches!(purpose, VaultPurpose::Registration | VaultPurpose::Erasure) {
            return Err(VaultError::Invalid(format!(
                "purpose: {} is not a reason to read an attachment; use one of: wage_payment, wage_complaint, \
                 labour_dispute, inspection, subject_request, platform_report",
                purpose.as_str()
            )));
        }
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "SELECT owner, media_type, nonce, ciphertext FROM vault_attachments \
             WHERE person_ref = ? AND sha256 = ? ORDER BY owner",
        )
        .bind(person)
        .bind(sha256)
        .fetch_all(&mut *tx)
        .await?;
        let me = who.owner();
        let Some(row) = rows.iter().find(|r| who.is_city() || r.try_get::<String, _>("owner").is_ok_and(|o| o == me))
        else {
            return Ok(None);
        };
        let owner: String = row.try_get("owner")?;
        let media_type: String = row.try_get("media_type")?;
        let nonce: Vec<u8> = row.try_get("nonce")?;
        let ct: Vec<u8> = row.try_get("ciphertext")?;
        let dek = self.data_key(&mut tx, person).await?;
        let plain = open(&dek, &attachment_aad(person, &owner, sha256), &nonce, &ct)?;
        if crate::blobs::sha256_hex(&plain) != sha256 {
            return Err(VaultError::Crypto);
        }
        self.record(&mut tx, who, person, VaultAction::Reveal, vec![VaultField::Attachments], purpose).await?;
        tx.commit().await?;
        Ok(Some(OpenedAttachment { media_type, bytes: plain }))
    }
}
