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
//! When that key is revoked in the log, the session ends at its next request ([`SessionGuard`]): the key is looked
//! up in the ledger's in-memory revocation cache (which catches a revocation however it was admitted) and in the
//! revocations the API admitted, noted in the token database ([`Sessions::note_revoked`]) so that every instance
//! sees them; the request is refused with the reason and the session's token revoked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::Row;
use time::OffsetDateTime;

use crate::auth::{Principal, Role, SessionCheck, TokenStore};
use crate::error::ApiError;
use crate::sql::{Db, each_db, stmt};
use siteledger_ledger::{AnyStore, Ledger};

/// How long a login challenge may be answered.
pub const CHALLENGE_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// At most this many open challenges (the oldest are dropped first).
pub const MAX_CHALLENGES: i64 = 10_000;

const SCHEMA: [&str; 4] = [
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
    // Keys whose revocation the API admitted, so that every instance ends their sessions (the ledger's own cache
    // knows only what this instance's ledger has seen).
    "CREATE TABLE IF NOT EXISTS people_revoked_keys (
        key_id TEXT PRIMARY KEY,
        revoked_at TEXT NOT NULL
    )",
];

async fn open(tokens: &TokenStore) -> Result<Db, ApiError> {
    let db = Db::from(tokens);
    for sql in SCHEMA {
        each_db!(&db, p, D => sqlx::query(stmt::<D>(sql)).execute(p).await.map(drop)).map_err(ApiError::internal)?;
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
        each_db!(&self.db, p, D => {
            let mut tx = p.begin().await.map_err(ApiError::internal)?;
            sqlx::query(stmt::<D>("DELETE FROM people_challenges WHERE expires_at <= ?"))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(ApiError::internal)?;
            // `LIMIT ? OFFSET ?` with no practical limit: both databases take it (SQLite needs a LIMIT before an
            // OFFSET, PostgreSQL refuses SQLite's `LIMIT -1`).
            sqlx::query(stmt::<D>(
                "DELETE FROM people_challenges WHERE nonce_hash IN (SELECT nonce_hash FROM people_challenges \
                 ORDER BY expires_at DESC LIMIT ? OFFSET ?)",
            ))
            .bind(i64::MAX)
            .bind(keep)
            .execute(&mut *tx)
            .await
            .map_err(ApiError::internal)?;
            sqlx::query(stmt::<D>("INSERT INTO people_challenges (nonce_hash, key_id, expires_at) VALUES (?, ?, ?)"))
                .bind(hash(&nonce))
                .bind(key_id)
                .bind(expires)
                .execute(&mut *tx)
                .await
                .map_err(ApiError::internal)?;
            tx.commit().await.map_err(ApiError::internal)?;
        });
        Ok(nonce)
    }

    /// Takes the challenge `nonce`: true if it was issued for `key_id` and has not expired at `now`. Either way it
    /// cannot be used again.
    pub async fn take(&self, nonce: &str, key_id: &str, now: OffsetDateTime) -> Result<bool, ApiError> {
        let row = each_db!(&self.db, p, D => {
            sqlx::query(stmt::<D>("DELETE FROM people_challenges WHERE nonce_hash = ? RETURNING key_id, expires_at"))
                .bind(hash(nonce))
                .fetch_optional(p)
                .await
                .map_err(ApiError::internal)?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        })
        .transpose()
        .map_err(ApiError::internal)?;
        Ok(row.is_some_and(|(k, expires)| k == key_id && seconds(now) < expires))
    }

    /// How many challenges are open (expired ones not yet pruned included).
    pub async fn open_count(&self) -> Result<i64, ApiError> {
        each_db!(&self.db, p, D => sqlx::query_scalar(stmt::<D>("SELECT COUNT(*) FROM people_challenges")).fetch_one(p).await)
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
        each_db!(&self.db, p, D => {
            let mut tx = p.begin().await.map_err(ApiError::internal)?;
            sqlx::query(stmt::<D>("DELETE FROM people_sessions WHERE expires_at <= ?"))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(ApiError::internal)?;
            sqlx::query(stmt::<D>("INSERT INTO people_sessions (token_id, key_id, expires_at) VALUES (?, ?, ?)"))
                .bind(token_id)
                .bind(key_id)
                .bind(seconds(expires))
                .execute(&mut *tx)
                .await
                .map_err(ApiError::internal)?;
            tx.commit().await.map_err(ApiError::internal)
        })
    }

    /// The key a person's session was opened with (`None`: the token is not a person's session).
    pub async fn key_of(&self, token_id: &str) -> Result<Option<String>, ApiError> {
        each_db!(&self.db, p, D => {
            sqlx::query_scalar(stmt::<D>("SELECT key_id FROM people_sessions WHERE token_id = ?"))
                .bind(token_id)
                .fetch_optional(p)
                .await
        })
        .map_err(ApiError::internal)
    }

    /// Notes that `key_id` was revoked at `at` (a revocation the API admitted): every instance sharing the token
    /// database then ends the key's sessions at their next request, even one whose own ledger has not seen the
    /// revocation yet.
    pub async fn note_revoked(&self, key_id: &str, at: &str) -> Result<(), ApiError> {
        each_db!(&self.db, p, D => {
            sqlx::query(stmt::<D>(
                "INSERT INTO people_revoked_keys (key_id, revoked_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            ))
            .bind(key_id)
            .bind(at)
            .execute(p)
            .await
            .map(drop)
        })
        .map_err(ApiError::internal)
    }

    /// The key a session was opened with and, if noted ([`Sessions::note_revoked`]), when that key was revoked.
    async fn key_and_revocation(&self, token_id: &str) -> Result<Option<(String, Option<String>)>, ApiError> {
        const SQL: &str = "SELECT s.key_id, r.revoked_at FROM people_sessions s \
                           LEFT JOIN people_revoked_keys r ON r.key_id = s.key_id WHERE s.token_id = ?";
        let row = each_db!(&self.db, p, D => {
            sqlx::query(stmt::<D>(SQL))
                .bind(token_id)
                .fetch_optional(p)
                .await
                .map_err(ApiError::internal)?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get::<String, _>(0)?, r.try_get::<Option<String>, _>(1)?)))
        });
        row.transpose().map_err(ApiError::internal)
    }

    /// Revokes the token `token_id` and forgets its binding.
    async fn end_token(&self, tokens: &TokenStore, token_id: &str) -> Result<(), ApiError> {
        tokens.revoke(token_id).await?;
        each_db!(&self.db, p, D => {
            sqlx::query(stmt::<D>("DELETE FROM people_sessions WHERE token_id = ?")).bind(token_id).execute(p).await.map(drop)
        })
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
        self.end_token(tokens, &principal.token_id).await?;
        Ok(true)
    }
}

/// Is a revocation at `at` (RFC 3339) in effect now? One dated in the future takes effect then; an unreadable
/// time (the ledger admitted it, so it parsed there) counts as now.
pub fn in_effect(at: &str) -> bool {
    OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map_or(true, |t| t <= OffsetDateTime::now_utc())
}

/// The refusal of a session whose key was revoked at `at` (the token is revoked with it).
pub fn revoked_session(key_id: &str, at: &str) -> ApiError {
    ApiError::Unauthorized(format!(
        "登录此会话的密钥 {key_id} 已于 {at} 吊销，会话已结束；请生成新密钥并重新申请登记 / the key {key_id} that opened this \
         session was revoked at {at}: the session has ended; generate a new key and ask for its enrolment"
    ))
}

/// Per-request check of a person's session ([`SessionCheck`]): the key that opened it must not be revoked. The
/// revocation is looked up in the ledger's in-memory cache ([`Ledger::revoked_at`]); a session whose key is
/// revoked is ended (its token revoked) and its request refused.
#[derive(Debug, Clone)]
pub struct SessionGuard {
    /// People's sessions.
    pub sessions: Sessions,
    /// The token store (to revoke the session's token).
    pub tokens: TokenStore,
    /// The ledger, whose key cache knows revocations.
    pub ledger: Ledger<AnyStore>,
}

impl SessionGuard {
    async fn run(&self, principal: &Principal) -> Result<(), ApiError> {
        // Gateways post at a high rate and are never a person's session; the demo visitor has no token row.
        if principal.role == Role::Gateway || principal == &Principal::demo_visitor() {
            return Ok(());
        }
        let Some((key_id, noted)) = self.sessions.key_and_revocation(&principal.token_id).await? else {
            return Ok(());
        };
        let Some(at) = self.ledger.revoked_at(&key_id).or(noted) else { return Ok(()) };
        if !in_effect(&at) {
            return Ok(());
        }
        self.sessions.end_token(&self.tokens, &principal.token_id).await?;
        Err(revoked_session(&key_id, &at))
    }
}

impl SessionCheck for SessionGuard {
    fn check<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>> {
        Box::pin(self.run(principal))
    }
}
