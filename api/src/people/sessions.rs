//! Login challenges and people's sessions, in the token database (SQLite or PostgreSQL) beside the tokens.
//!
//! Both live in the database rather than in memory so that several server instances behind one address serve
//! one sign-in: the challenge one instance issued is answered at another, and a logout at one ends the session
//! everywhere. Nonces are stored as SHA-256 hashes (a database reader cannot answer them); a nonce is taken by one
//! `DELETE … RETURNING`, so two instances cannot both accept it. Expired challenges are pruned whenever one is
//! issued, and at most [`MAX_CHALLENGES`] are open (the oldest go first): unauthenticated callers cannot grow
//! the table without bound.
//!
//! A session binds an API token (stored as a hash in `api_tokens`, like every token) to the key that signed in:
//! records posted with it must be signed by that key ([`Sessions::key_of`]), and logout revokes the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use time::OffsetDateTime;

use crate::auth::TokenStore;
use crate::error::ApiError;

/// How long a login challenge may be answered.
pub const CHALLENGE_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// At most this many open challenges (the oldest are dropped first).
pub const MAX_CHALLENGES: i64 = 10_000;

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS people_challenges (
        nonce_hash BYTEA PRIMARY KEY,
        key_id TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS people_challenges_expiry ON people_challenges (expires_at)",
    "CREATE TABLE IF NOT EXISTS people_sessions (
        token_id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    )",
];

/// The database both tables live in.
#[derive(Debug, Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

async fn open(tokens: &TokenStore) -> Result<Db, ApiError> {
    let db = match tokens {
        TokenStore::Sqlite(p) => Db::Sqlite(p.clone()),
        TokenStore::Postgres(p) => Db::Postgres(p.clone()),
    };
    for sql in SCHEMA {
        match &db {
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop),
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop),
        }
        .map_err(ApiError::internal)?;
    }
    Ok(db)
}

fn hash(nonce: &str) -> Vec<u8> {
    Sha256::digest(nonce.as_bytes()).to_vec()
}

fn seconds(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// Open login challenges: nonce (hashed) → key id and expiry. Single use.
#[derive(Debug, Clone)]
pub struct Challenges {
    db: Db,
}

impl Challenges {
    /// Creates the table in the token database.
    pub async fn open(tokens: &TokenStore) -> Result<Challenges, ApiError> {
        Ok(Challenges { db: open(tokens).await? })
    }

    /// Issues a fresh nonce for `key_id`, valid for [`CHALLENGE_TTL`] from `now`; prunes expired ones and keeps at
    /// most [`MAX_CHALLENGES`] open.
    pub async fn issue(&self, key_id: &str, now: OffsetDateTime) -> Result<String, ApiError> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(ApiError::internal)?;
        let nonce = URL_SAFE_NO_PAD.encode(raw);
        let (now, expires) = (seconds(now), seconds(now) + CHALLENGE_TTL.as_secs() as i64);
        let keep = MAX_CHALLENGES - 1;
        match &self.db {
            Db::Sqlite(p) => {
                let mut tx = p.begin().await.map_err(ApiError::internal)?;
                sqlx::query("DELETE FROM people_challenges WHERE expires_at <= ?")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                sqlx::query(
                    "DELETE FROM people_challenges WHERE nonce_hash IN (SELECT nonce_hash FROM people_challenges \
                     ORDER BY expires_at DESC LIMIT -1 OFFSET ?)",
                )
                .bind(keep)
                .execute(&mut *tx)
                .await
                .map_err(ApiError::internal)?;
                sqlx::query("INSERT INTO people_challenges (nonce_hash, key_id, expires_at) VALUES (?, ?, ?)")
                    .bind(hash(&nonce))
                    .bind(key_id)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                tx.commit().await.map_err(ApiError::internal)?;
            }
            Db::Postgres(p) => {
                let mut tx = p.begin().await.map_err(ApiError::internal)?;
                sqlx::query("DELETE FROM people_challenges WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                sqlx::query(
                    "DELETE FROM people_challenges WHERE nonce_hash IN (SELECT nonce_hash FROM people_challenges \
                     ORDER BY expires_at DESC OFFSET $1)",
                )
                .bind(keep)
                .execute(&mut *tx)
                .await
                .map_err(ApiError::internal)?;
                sqlx::query("INSERT INTO people_challenges (nonce_hash, key_id, expires_at) VALUES ($1, $2, $3)")
                    .bind(hash(&nonce))
                    .bind(key_id)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                tx.commit().await.map_err(ApiError::internal)?;
            }
        }
        Ok(nonce)
    }

    /// Takes the challenge `nonce`: true if it was issued for `key_id` and has not expired at `now`. Either way it
    /// cannot be used again.
    pub async fn take(&self, nonce: &str, key_id: &str, now: OffsetDateTime) -> Result<bool, ApiError> {
        let row = match &self.db {
            Db::Sqlite(p) => {
                sqlx::query("DELETE FROM people_challenges WHERE nonce_hash = ? RETURNING key_id, expires_at")
                    .bind(hash(nonce))
                    .fetch_optional(p)
                    .await
                    .map_err(ApiError::internal)?
                    .map(|r| Ok::<_, sqlx::Error>((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            }
            Db::Postgres(p) => {
                sqlx::query("DELETE FROM people_challenges WHERE nonce_hash = $1 RETURNING key_id, expires_at")
                    .bind(hash(nonce))
                    .fetch_optional(p)
                    .await
                    .map_err(ApiError::internal)?
                    .map(|r| Ok::<_, sqlx::Error>((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            }
        }
        .transpose()
        .map_err(ApiError::internal)?;
        Ok(row.is_some_and(|(k, expires)| k == key_id && seconds(now) < expires))
    }

    /// How many challenges are open (expired ones not yet pruned included).
    pub async fn open_count(&self) -> Result<i64, ApiError> {
        let sql = "SELECT COUNT(*) FROM people_challenges";
        match &self.db {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        }
        .map_err(ApiError::internal)
    }
}

/// People's sessions: which key signed in to open which token.
#[derive(Debug, Clone)]
pub struct Sessions {
    db: Db,
}

impl Sessions {
    /// Creates the table in the token database.
    pub async fn open(tokens: &TokenStore) -> Result<Sessions, ApiError> {
        Ok(Sessions { db: open(tokens).await? })
    }

    /// Records that token `token_id` was opened by `key_id` until `expires`; prunes expired sessions.
    pub async fn bind(&self, token_id: &str, key_id: &str, expires: OffsetDateTime) -> Result<(), ApiError> {
        let now = seconds(OffsetDateTime::now_utc());
        match &self.db {
            Db::Sqlite(p) => {
                let mut tx = p.begin().await.map_err(ApiError::internal)?;
                sqlx::query("DELETE FROM people_sessions WHERE expires_at <= ?")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                sqlx::query("INSERT INTO people_sessions (token_id, key_id, expires_at) VALUES (?, ?, ?)")
                    .bind(token_id)
                    .bind(key_id)
                    .bind(seconds(expires))
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                tx.commit().await.map_err(ApiError::internal)
            }
            Db::Postgres(p) => {
                let mut tx = p.begin().await.map_err(ApiError::internal)?;
                sqlx::query("DELETE FROM people_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                sqlx::query("INSERT INTO people_sessions (token_id, key_id, expires_at) VALUES ($1, $2, $3)")
                    .bind(token_id)
                    .bind(key_id)
                    .bind(seconds(expires))
                    .execute(&mut *tx)
                    .await
                    .map_err(ApiError::internal)?;
                tx.commit().await.map_err(ApiError::internal)
            }
        }
    }

    /// The key a person's session was opened with (`None`: the token is not a person's session).
    pub async fn key_of(&self, token_id: &str) -> Result<Option<String>, ApiError> {
        match &self.db {
            Db::Sqlite(p) => {
                sqlx::query_scalar("SELECT key_id FROM people_sessions WHERE token_id = ?")
                    .bind(token_id)
                    .fetch_optional(p)
                    .await
            }
            Db::Postgres(p) => {
                sqlx::query_scalar("SELECT key_id FROM people_sessions WHERE token_id = $1")
                    .bind(token_id)
                    .fetch_optional(p)
                    .await
            }
        }
        .map_err(ApiError::internal)
    }

    /// Ends the session of the presented secret, if it is a person's session: revokes its token (every instance
    /// refuses it from now on) and forgets the binding. Returns whether a session ended. Other tokens (a machine
    /// token pasted into the login page) are left alone: logging out of a page must not break a script.
    pub async fn end(&self, tokens: &TokenStore, secret: &str) -> Result<bool, ApiError> {
        // Demo mode only widens which tokens resolve; a person's session is never a demo token.
        let Some(principal) = tokens.authenticate(secret, true).await? else { return Ok(false) };
        if self.key_of(&principal.token_id).await?.is_none() {
            return Ok(false);
        }
        tokens.revoke(&principal.token_id).await?;
        match &self.db {
            Db::Sqlite(p) => sqlx::query("DELETE FROM people_sessions WHERE token_id = ?")
                .bind(&principal.token_id)
                .execute(p)
                .await
                .map(drop),
            Db::Postgres(p) => sqlx::query("DELETE FROM people_sessions WHERE token_id = $1")
                .bind(&principal.token_id)
                .execute(p)
                .await
                .map(drop),
        }
        .map_err(ApiError::internal)?;
        Ok(true)
    }
}
