//! Access control: API tokens and the principals they stand for.
//!
//! Tokens are 256-bit random strings (`slt_` + base64url), shown once at creation and stored only as SHA-256
//! hashes; they expire and can be revoked. A token carries a role and a scope:
//!
//! | role | scope | may read | may write |
//! |---|---|---|---|
//! | `city` (市住建局) | — | everything | any signed record |
//! | `district` (区县(市)住建局 / 开发园区) | district code | its district's projects | any signed record |
//! | `enterprise` (参建企业, banks, labs) | credit code | projects it takes part in | any signed record |
//! | `auditor` | — | everything, read-only | nothing |
//! | `gateway` (site gateway / device) | signer key id | nothing | records signed by that key only |
//!
//! Writing "any signed record" is safe because the ledger checks every signature and the enrolling authority of
//! every key; the token only decides who may submit. Reads are filtered in every query ([`Principal::scope`]).
//!
//! Tokens the demo city creates (`serve --demo`) carry the `demo` mark in their row (column `demo`, added to
//! older token tables on open). A server not in demo mode refuses them ([`TokenStore::authenticate`]) and revokes
//! them when it starts ([`TokenStore::revoke_demo_tokens`]): the operator token the demo logs must not outlive the
//! demo when the same data directory is later served for real.

use std::fmt;
use std::str::FromStr;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use siteledger_projections::Scope;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiError;

/// A role a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 市住建局: everything.
    City,
    /// 区县(市)住建局 or 开发园区 administration: one district.
    District,
    /// 参建企业 (owner, contractor, supervisor, lab, bank): the projects it takes part in.
    Enterprise,
    /// Auditor: read-only, everything.
    Auditor,
    /// Site gateway or device: append records signed by its own key.
    Gateway,
}

impl Role {
    /// The name used on the command line and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::City => "city",
            Role::District => "district",
            Role::Enterprise => "enterprise",
            Role::Auditor => "auditor",
            Role::Gateway => "gateway",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Ok(match s {
            "city" => Role::City,
            "district" => Role::District,
            "enterprise" => Role::Enterprise,
            "auditor" => Role::Auditor,
            "gateway" => Role::Gateway,
            other => return Err(format!("unknown role {other:?}: use city, district, enterprise, auditor or gateway")),
        })
    }
}

/// Who is calling.
#[derive(Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Principal {
    /// Public id of the token (not a secret).
    pub token_id: String,
    /// Display name given at creation.
    pub name: String,
    /// Role.
    pub role: Role,
    /// District code, credit code or signer key id, depending on the role.
    pub scope: Option<String>,
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({} {} {:?})", self.token_id, self.role.as_str(), self.scope)
    }
}

impl Principal {
    /// The read scope every query must use for this caller.
    pub fn scope(&self) -> Scope {
        match (self.role, &self.scope) {
            (Role::City | Role::Auditor, _) => Scope::All,
            (Role::District, Some(d)) => Scope::District(d.clone()),
            (Role::Enterprise, Some(c)) => Scope::Enterprise(c.clone()),
            _ => Scope::Nothing,
        }
    }

    /// May this caller submit records at all?
    pub fn may_write(&self) -> bool {
        !matches!(self.role, Role::Auditor)
    }

    /// For gateway tokens, the only signer key whose records they may submit.
    pub fn signer_binding(&self) -> Option<&str> {
        match self.role {
            Role::Gateway => self.scope.as_deref(),
            _ => None,
        }
    }

    /// The demo's anonymous visitor: read-only, city-wide (only with `--demo`).
    pub fn demo_visitor() -> Principal {
        Principal {
            token_id: "demo".into(), name: "演示访客 demo visitor".into(), role: Role::Auditor, scope: None
        }
    }
}

/// A token as listed (never the secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Scope value.
    pub scope: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Expiry (RFC 3339).
    pub expires_at: String,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
    /// Created by the demo city: valid only on a server in demo mode.
    pub demo: bool,
}

/// A freshly created token: the only time the secret exists outside its holder.
pub struct NewToken {
    /// Public id.
    pub id: String,
    /// The secret to hand over.
    pub secret: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewToken({}, secret redacted)", self.id)
    }
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn now_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn fmt_micros(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Where tokens live: a small table in SQLite or PostgreSQL, separate from the rebuildable read models.
#[derive(Debug, Clone)]
pub enum TokenStore {
    /// `sqlite:PATH`.
    Sqlite(SqlitePool),
    /// `postgres://…`.
    Postgres(PgPool),
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    hash BYTEA NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    demo BOOLEAN NOT NULL DEFAULT FALSE
)";

/// Adds the `demo` column to a token table created before it existed. Tokens named like the demo's (`demo …`)
/// were all created by the demo then (it revoked them by that prefix), so they are marked as demo tokens.
const MIGRATE_DEMO_SQLITE: &str = "ALTER TABLE api_tokens ADD COLUMN demo BOOLEAN NOT NULL DEFAULT FALSE";
const MIGRATE_DEMO_PG: &str = "ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS demo BOOLEAN NOT NULL DEFAULT FALSE";
const MARK_OLD_DEMO_TOKENS: &str = "UPDATE api_tokens SET demo = TRUE WHERE name LIKE 'demo %'";

impl TokenStore {
    /// Opens (and creates) the token table.
    pub async fn open(url: &str) -> Result<TokenStore, ApiError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let opts = SqliteConnectOptions::new()
                .filename(path.strip_prefix("//").unwrap_or(path))
                .create_if_missing(true)
                .busy_timeout(siteledger_ledger::sqlite::BUSY_TIMEOUT)
                .journal_mode(SqliteJournalMode::Wal);
            let pool =
                SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(ApiError::internal)?;
            sqlx::query(SCHEMA).execute(&pool).await.map_err(ApiError::internal)?;
            let has_demo: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_info('api_tokens') WHERE name = 'demo'")
                    .fetch_one(&pool)
                    .await
                    .map_err(ApiError::internal)?;
            if has_demo == 0 {
                let mut tx = pool.begin().await.map_err(ApiError::internal)?;
                sqlx::query(MIGRATE_DEMO_SQLITE).execute(&mut *tx).await.map_err(ApiError::internal)?;
                sqlx::query(MARK_OLD_DEMO_TOKENS).execute(&mut *tx).await.map_err(ApiError::internal)?;
                tx.commit().await.map_err(ApiError::internal)?;
            }
            Ok(TokenStore::Sqlite(pool))
        } else {
            let pool = PgPoolOptions::new().max_connections(4).connect(url).await.map_err(ApiError::internal)?;
            sqlx::query(SCHEMA).execute(&pool).await.map_err(ApiError::internal)?;
            let has_demo: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'api_tokens' AND column_name = 'demo' \
                 AND table_schema = current_schema()",
            )
            .fetch_one(&pool)
            .await
            .map_err(ApiError::internal)?;
            if has_demo == 0 {
                let mut tx = pool.begin().await.map_err(ApiError::internal)?;
                sqlx::query(MIGRATE_DEMO_PG).execute(&mut *tx).await.map_err(ApiError::internal)?;
                sqlx::query(MARK_OLD_DEMO_TOKENS).execute(&mut *tx).await.map_err(ApiError::internal)?;
                tx.commit().await.map_err(ApiError::internal)?;
            }
            Ok(TokenStore::Postgres(pool))
        }
    }

    /// Creates a token valid for `days`, returning its secret once.
    pub async fn create(&self, name: &str, role: Role, scope: Option<&str>, days: u32) -> Result<NewToken, ApiError> {
        self.insert(name, role, scope, in_days(days), false).await
    }

    /// Creates a token that expires at `until` (a person's session ends when their key's validity does).
    pub async fn create_until(
        &self,
        name: &str,
        role: Role,
        scope: Option<&str>,
        until: OffsetDateTime,
    ) -> Result<NewToken, ApiError> {
        self.insert(name, role, scope, until, false).await
    }

    /// Creates a demo token (marked `demo`): valid only while the data directory is served in demo mode.
    pub async fn create_demo(
        &self,
        name: &str,
        role: Role,
        scope: Option<&str>,
        days: u32,
    ) -> Result<NewToken, ApiError> {
        self.insert(name, role, scope, in_days(days), true).await
    }

    async fn insert(
        &self,
        name: &str,
        role: Role,
        scope: Option<&str>,
        until: OffsetDateTime,
        demo: bool,
    ) -> Result<NewToken, ApiError> {
        match (role, scope) {
            (Role::District | Role::Enterprise | Role::Gateway, None) => {
                return Err(ApiError::BadRequest(format!(
                    "a {} token needs a scope (district code, credit code or signer key id)",
                    role.as_str()
                )));
            }
            (Role::City | Role::Auditor, Some(_)) => {
                return Err(ApiError::BadRequest(format!("a {} token has no scope", role.as_str())));
            }
            _ => {}
        }
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(ApiError::internal)?;
        let secret = format!("slt_{}", URL_SAFE_NO_PAD.encode(raw));
        let mut idb = [0u8; 6];
        getrandom::fill(&mut idb).map_err(ApiError::internal)?;
        let id = hex::encode(idb);
        let now = OffsetDateTime::now_utc();
        let created = now_micros(now);
        let expires = now_micros(until);
        let h = hash(&secret);
        match self {
            TokenStore::Sqlite(p) => {
                sqlx::query("INSERT INTO api_tokens (id, hash, name, role, scope, created_at, expires_at, demo) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                    .bind(&id).bind(&h).bind(name).bind(role.as_str()).bind(scope).bind(created).bind(expires).bind(demo)
                    .execute(p).await.map_err(ApiError::internal)?;
            }
            TokenStore::Postgres(p) => {
                sqlx::query("INSERT INTO api_tokens (id, hash, name, role, scope, created_at, expires_at, demo) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&id).bind(&h).bind(name).bind(role.as_str()).bind(scope).bind(created).bind(expires).bind(demo)
                    .execute(p).await.map_err(ApiError::internal)?;
            }
        }
        Ok(NewToken { id, secret })
    }

    /// Revokes a token by its public id. Returns whether it existed.
    pub async fn revoke(&self, id: &str) -> Result<bool, ApiError> {
        let now = now_micros(OffsetDateTime::now_utc());
        let n = match self {
            TokenStore::Sqlite(p) => {
                sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(p)
                    .await
                    .map_err(ApiError::internal)?
                    .rows_affected()
            }
            TokenStore::Postgres(p) => {
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(p)
                    .await
                    .map_err(ApiError::internal)?
                    .rows_affected()
            }
        };
        Ok(n == 1)
    }

    /// Revokes every unrevoked demo token; returns how many. A server not in demo mode calls it at start.
    pub async fn revoke_demo_tokens(&self) -> Result<u64, ApiError> {
        let now = now_micros(OffsetDateTime::now_utc());
        let n = match self {
            TokenStore::Sqlite(p) => {
                sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE demo = TRUE AND revoked_at IS NULL")
                    .bind(now)
                    .execute(p)
                    .await
                    .map_err(ApiError::internal)?
                    .rows_affected()
            }
            TokenStore::Postgres(p) => {
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE demo = TRUE AND revoked_at IS NULL")
                    .bind(now)
                    .execute(p)
                    .await
                    .map_err(ApiError::internal)?
                    .rows_affected()
            }
        };
        Ok(n)
    }

    /// Every token, newest first.
    pub async fn list(&self) -> Result<Vec<TokenInfo>, ApiError> {
        let sql = "SELECT id, name, role, scope, created_at, expires_at, revoked_at, demo FROM api_tokens \
                   ORDER BY created_at DESC";
        let rows = match self {
            TokenStore::Sqlite(p) => sqlx::query(sql)
                .fetch_all(p)
                .await
                .map_err(ApiError::internal)?
                .into_iter()
                .map(|r| row_info(&r))
                .collect::<Result<Vec<_>, _>>()?,
            TokenStore::Postgres(p) => sqlx::query(sql)
                .fetch_all(p)
                .await
                .map_err(ApiError::internal)?
                .into_iter()
                .map(|r| row_info(&r))
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(rows)
    }

    /// Resolves a presented secret to its principal, if valid, unexpired and unrevoked. A demo token resolves only
    /// when `demo_mode` (the server serves the demo); anywhere else it is as invalid as an unknown one.
    pub async fn authenticate(&self, secret: &str, demo_mode: bool) -> Result<Option<Principal>, ApiError> {
        if !secret.starts_with("slt_") || secret.len() > 100 {
            return Ok(None);
        }
        let h = hash(secret);
        let now = now_micros(OffsetDateTime::now_utc());
        let sql_sqlite = "SELECT id, name, role, scope FROM api_tokens WHERE hash = ? AND revoked_at IS NULL \
                          AND expires_at > ? AND (demo = FALSE OR ?)";
        let sql_pg = "SELECT id, name, role, scope FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL \
                      AND expires_at > $2 AND (demo = FALSE OR $3)";
        match self {
            TokenStore::Sqlite(p) => sqlx::query(sql_sqlite)
                .bind(&h)
                .bind(now)
                .bind(demo_mode)
                .fetch_optional(p)
                .await
                .map_err(ApiError::internal)?
                .map(|r| row_principal(&r))
                .transpose(),
            TokenStore::Postgres(p) => sqlx::query(sql_pg)
                .bind(&h)
                .bind(now)
                .bind(demo_mode)
                .fetch_optional(p)
                .await
                .map_err(ApiError::internal)?
                .map(|r| row_principal(&r))
                .transpose(),
        }
    }
}

/// Reads a column, turning a decoding failure into an internal error (never a panic).
fn col<'r, R, T>(r: &'r R, i: usize) -> Result<T, ApiError>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    r.try_get(i).map_err(ApiError::internal)
}

/// `days` from now.
fn in_days(days: u32) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(i64::from(days))
}

/// A token row `(id, name, role, scope, created_at, expires_at, revoked_at, demo)`, from either database.
fn row_info<'r, R>(r: &'r R) -> Result<TokenInfo, ApiError>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(TokenInfo {
        id: col(r, 0)?,
        name: col(r, 1)?,
        role: col(r, 2)?,
        scope: col::<_, Option<String>>(r, 3)?,
        created_at: fmt_micros(col(r, 4)?),
        expires_at: fmt_micros(col(r, 5)?),
        revoked_at: col::<_, Option<i64>>(r, 6)?.map(fmt_micros),
        demo: col(r, 7)?,
    })
}

/// A principal row `(id, name, role, scope)`, from either database.
fn row_principal<'r, R>(r: &'r R) -> Result<Principal, ApiError>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let role: String = col(r, 2)?;
    Ok(Principal {
        token_id: col(r, 0)?,
        name: col(r, 1)?,
        role: role.parse().map_err(ApiError::Internal)?,
        scope: col::<_, Option<String>>(r, 3)?,
    })
}

/// What the extractors need of a server's state: its token store and whether it runs in demo mode. The state
/// provides it through `FromRef` (`state.rs`), so this module does not depend on the state.
#[derive(Debug, Clone)]
pub struct AuthGate {
    /// The token store.
    pub tokens: TokenStore,
    /// Demo mode: anonymous callers are the demo visitor and demo tokens are accepted.
    pub demo: bool,
    /// Run on every authenticated request after the token is found (a person's session ends when its key is
    /// revoked: `crate::people::SessionGuard`).
    pub check: Option<std::sync::Arc<dyn SessionCheck>>,
}

/// A check of a found token that the token store alone cannot make. A trait object, so that this module does not
/// depend on the modules above it that implement it.
pub trait SessionCheck: fmt::Debug + Send + Sync {
    /// `Ok` if `principal` may go on; otherwise the refusal its request is answered with.
    fn check<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>>;
}

/// The header a state-changing request authenticated by the session cookie must carry: [`csrf_token`] of the
/// cookie's secret (CSRF protection; bearer tokens are not sent by browsers on their own and need none).
pub const CSRF_HEADER: &str = "x-siteledger-csrf";

/// The CSRF token of a session: derived from the cookie's secret, so nothing more is stored and it dies with the
/// session. Pages of this origin are given it; another site can neither read the cookie nor compute the token.
pub fn csrf_token(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"siteledger-csrf-v1\0");
    h.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(&h.finalize()[..24])
}

/// The secret of the `siteledger_token` session cookie, if the request carries one.
pub fn session_secret(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        c.split(';').map(str::trim).find_map(|kv| kv.strip_prefix("siteledger_token=").map(str::to_owned))
    })
}

/// Extractor: the authenticated caller. `Authorization: Bearer <token>`, or the `siteledger_token` cookie set by the
/// dashboard's login page. In demo mode an anonymous caller is the read-only demo visitor. A state-changing request
/// (not `GET`, `HEAD` or `OPTIONS`) authenticated by the cookie must carry [`CSRF_HEADER`] (403 otherwise).
impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    AuthGate: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Principal, ApiError> {
        let gate = AuthGate::from_ref(state);
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .map(str::to_owned);
        let by_cookie = bearer.is_none();
        let presented = bearer.or_else(|| session_secret(&parts.headers));
        if by_cookie
            && let Some(secret) = &presented
            && !matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS)
        {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let want = csrf_token(secret);
            // Compared in constant time: the token is a secret of the page.
            let same =
                sent.len() == want.len() && sent.bytes().zip(want.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
            if !same {
                return Err(ApiError::Forbidden(format!(
                    "缺少或错误的 CSRF 令牌 / a request signed in by cookie must carry the page's `{CSRF_HEADER}` header"
                )));
            }
        }
        match presented {
            Some(secret) => {
                let principal = gate.tokens.authenticate(&secret, gate.demo).await?.ok_or_else(|| {
                    ApiError::Unauthorized("令牌无效、已过期或已吊销 / the token is invalid, expired or revoked".into())
                })?;
                if let Some(check) = &gate.check {
                    check.check(&principal).await?;
                }
                Ok(principal)
            }
            None if gate.demo => Ok(Principal::demo_visitor()),
            None => Err(ApiError::Unauthorized(
                "需要令牌 / a token is required: send `Authorization: Bearer <token>` (create one with `siteledger token create`)".into(),
            )),
        }
    }
}

/// Extractor: an optional caller (public endpoints that show more to authenticated callers).
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl<S> FromRequestParts<S> for MaybePrincipal
where
    S: Send + Sync,
    AuthGate: FromRef<S>,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<MaybePrincipal, ApiError> {
        Ok(MaybePrincipal(Principal::from_request_parts(parts, state).await.ok()))
    }
}
