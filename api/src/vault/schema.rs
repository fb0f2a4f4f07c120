//! The vault database's tables, and the migration of a `vault.db` created by the first schema.
//!
//! Tables (all ciphertexts sealed under the person's data key, see the parent module):
//!
//! | table | row |
//! |---|---|
//! | `vault_people` | one person: wrapped data key, blind index, the creating owner |
//! | `vault_owners` | one tie between a person and an owner (an enterprise's credit code, or `city`) |
//! | `vault_sealed` | one sealed field: the person's own (`owner` = `''`: 证件类型, 证件号码) or one owner's (姓名, phone, each card) |
//! | `vault_erased` | one crypto-shredded person |
//! | `vault_attachments` | one sealed personal attachment (附件) of an owner, by the SHA-256 of its plaintext |
//! | `vault_access` | the local index of access records: the signed records themselves are in the log (`event_id`) |
//!
//! The first schema kept one set of fields per person in `vault_fields`, sealed with `person|field` as associated
//! data, shared by every owner (so a second enterprise read what the first registered). [`migrate`] moves each
//! of those fields to the new table, re-sealed under the new associated data: the ID fields stay the person's,
//! every other field becomes the first owner's (`vault_people.owner`). It runs in one transaction at open and then
//! drops `vault_fields`; a crash before the commit leaves the old table as it was.

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use super::{VaultError, field_aad, open, seal, unwrap_data_key};

const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS vault_people (person_ref TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL, \
     key_nonce BLOB NOT NULL, blind_index TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vault_owners (person_ref TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (person_ref, owner))",
    "CREATE TABLE IF NOT EXISTS vault_sealed (person_ref TEXT NOT NULL, owner TEXT NOT NULL, field TEXT NOT NULL, \
     nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, PRIMARY KEY (person_ref, owner, field))",
    "CREATE TABLE IF NOT EXISTS vault_erased (person_ref TEXT PRIMARY KEY, erased_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vault_access (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, \
     principal TEXT NOT NULL, person_ref TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, event_id TEXT)",
    "CREATE INDEX IF NOT EXISTS vault_access_person ON vault_access (person_ref, seq)",
];

/// Fields that belong to the person (whoever registers the person brings the same number), not to one owner.
pub(super) const PERSON_FIELDS: [&str; 2] = ["id_type", "id_number"];

/// Creates the tables, and migrates a vault of the first schema (see the module docs).
pub(super) async fn migrate(db: &SqlitePool, master: &[u8; 32]) -> Result<(), VaultError> {
    // The access index of the first schema has no `event_id`: add it (its old rows stay, as unsigned history).
    let access_exists = table_exists(db, "vault_access").await?;
    if access_exists && !column_exists(db, "vault_access", "event_id").await? {
        sqlx::query("ALTER TABLE vault_access ADD COLUMN event_id TEXT").execute(db).await?;
    }
    for t in TABLES.iter().chain([&super::attachments::TABLE]) {
        sqlx::query(*t).execute(db).await?;
    }
    if !table_exists(db, "vault_fields").await? {
        return Ok(());
    }
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(
        "SELECT f.person_ref, f.field, f.nonce, f.ciphertext, p.owner, p.wrapped_key, p.key_nonce \
         FROM vault_fields f LEFT JOIN vault_people p ON p.person_ref = f.person_ref",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut moved = 0usize;
    for r in rows {
        let person: String = r.try_get("person_ref")?;
        let field: String = r.try_get("field")?;
        let (Some(first_owner), Some(wrapped), Some(key_nonce)) = (
            r.try_get::<Option<String>, _>("owner")?,
            r.try_get::<Option<Vec<u8>>, _>("wrapped_key")?,
            r.try_get::<Option<Vec<u8>>, _>("key_nonce")?,
        ) else {
            // A field of a person whose key is gone (erased): it can never be opened again; it is dropped.
            continue;
        };
        let dek = unwrap_data_key(master, &person, &key_nonce, &wrapped)?;
        let nonce: Vec<u8> = r.try_get("nonce")?;
        let ct: Vec<u8> = r.try_get("ciphertext")?;
        let plain = open(&dek, format!("{person}|{field}").as_bytes(), &nonce, &ct)?;
        let owner = if PERSON_FIELDS.contains(&field.as_str()) { String::new() } else { first_owner.clone() };
        let (nonce, ct) = seal(&dek, &field_aad(&person, &owner, &field), &plain)?;
        sqlx::query(
            "INSERT INTO vault_sealed (person_ref, owner, field, nonce, ciphertext) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (person_ref, owner, field) DO NOTHING",
        )
        .bind(&person)
        .bind(&owner)
        .bind(&field)
        .bind(nonce.to_vec())
        .bind(ct)
        .execute(&mut *tx)
        .await?;
        // The first owner is an owner (the first schema recorded it in both places; make sure).
        sqlx::query(
            "INSERT INTO vault_owners (person_ref, owner) VALUES (?, ?) ON CONFLICT (person_ref, owner) DO NOTHING",
        )
        .bind(&person)
        .bind(&first_owner)
        .execute(&mut *tx)
        .await?;
        moved += 1;
    }
    sqlx::query("DROP TABLE vault_fields").execute(&mut *tx).await?;
    tx.commit().await?;
    // The old ciphertexts sit in freed pages until reused: overwrite them.
    super::scrub(db).await?;
    tracing::info!(fields = moved, "vault migrated to per-owner fields");
    Ok(())
}

async fn table_exists(db: &SqlitePool, table: &'static str) -> Result<bool, VaultError> {
    let n: i64 = sqlx::query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
        .bind(table)
        .fetch_one(db)
        .await?
        .try_get(0)?;
    Ok(n > 0)
}

async fn column_exists(db: &SqlitePool, table: &'static str, column: &str) -> Result<bool, VaultError> {
    let n: i64 = sqlx::query("SELECT count(*) FROM pragma_table_info(?) WHERE name = ?")
        .bind(table)
        .bind(column)
        .fetch_one(db)
        .await?
        .try_get(0)?;
    Ok(n > 0)
}
