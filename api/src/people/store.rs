//! Pending enrolment requests of people (a table beside the tokens).
//!
//! A request is what a person asks of their organisation: the public key their browser generated, the role, the
//! organisation and a handle, and a display name for the administrator who approves it. It is not a log record
//! and never becomes one: the administrator's `ledger.key.enrolled.v1` (signed in their own browser) is the record,
//! and it carries only what FORMAT.md §4 allows. A request is *pending* while its key is not enrolled in the log.
//! No ID number is ever stored: the handle and the name refuse anything shaped like one (`domain::personal`).

use serde::Serialize;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::TokenStore;
use crate::error::ApiError;

/// At most this many pending requests per organisation: unauthenticated callers cannot flood an administrator.
pub const MAX_PENDING_PER_ORGANISATION: i64 = 200;

/// One enrolment request, as the administrator's page lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentRequest {
    /// The key id (FORMAT.md §3) of the person's public key.
    pub key_id: String,
    /// The public key, base64 of its 32 bytes.
    pub public_key: String,
    /// `inspector`, `staff` or `tester`.
    pub role: String,
    /// The organisation: a district code or a credit code.
    pub organisation: String,
    /// The key subject the enrolment will name: `<organisation>/person/<handle>`.
    pub subject: String,
    /// The person's name, for the administrator (never in the log).
    pub name: String,
    /// When it was asked (RFC 3339).
    pub requested_at: String,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS people_enrolment_requests (
    key_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    role TEXT NOT NULL,
    organisation TEXT NOT NULL,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    requested_at BIGINT NOT NULL
)";

/// The requests table, in the token database (SQLite or PostgreSQL).
#[derive(Debug, Clone)]
pub enum RequestStore {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// What inserting a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A new request.
    New,
    /// The same request was already there (asking twice is harmless).
    Same,
    /// This key already asked for something else.
    Conflict,
    /// The organisation has too many pending requests.
    Full,
}

impl RequestStore {
    /// Creates the table in the token database.
    pub async fn open(tokens: &TokenStore) -> Result<RequestStore, ApiError> {
        let store = match tokens {
            TokenStore::Sqlite(p) => RequestStore::Sqlite(p.clone()),
            TokenStore::Postgres(p) => RequestStore::Postgres(p.clone()),
        };
        match &store {
            RequestStore::Sqlite(p) => sqlx::query(SCHEMA).execute(p).await.map(drop),
            RequestStore::Postgres(p) => sqlx::query(SCHEMA).execute(p).await.map(drop),
        }
        .map_err(ApiError::internal)?;
        Ok(store)
    }

    /// Stores a request unless its key asked already, or the organisation has too many pending.
    pub async fn insert(&self, r: &EnrolmentRequest, pending_in_org: i64) -> Result<Inserted, ApiError> {
        if let Some(old) = self.get(&r.key_id).await? {
            let same =
                old.public_key == r.public_key && old.role == r.role && old.subject == r.subject && old.name == r.name;
            return Ok(if same { Inserted::Same } else { Inserted::Conflict });
        }
        if pending_in_org >= MAX_PENDING_PER_ORGANISATION {
            return Ok(Inserted::Full);
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let n = match self {
            RequestStore::Sqlite(p) => sqlx::query(
                "INSERT INTO people_enrolment_requests \
                 (key_id, public_key, role, organisation, subject, name, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (key_id) DO NOTHING",
            )
            .bind(&r.key_id)
            .bind(&r.public_key)
            .bind(&r.role)
            .bind(&r.organisation)
            .bind(&r.subject)
            .bind(&r.name)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
            RequestStore::Postgres(p) => sqlx::query(
                "INSERT INTO people_enrolment_requests \
                 (key_id, public_key, role, organisation, subject, name, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (key_id) DO NOTHING",
            )
            .bind(&r.key_id)
            .bind(&r.public_key)
            .bind(&r.role)
            .bind(&r.organisation)
            .bind(&r.subject)
            .bind(&r.name)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
        }
        .map_err(ApiError::internal)?;
        // A concurrent insert of the same key: judge it like the check above.
        if n == 0 {
            return Ok(match self.get(&r.key_id).await? {
                Some(old) if old.public_key == r.public_key && old.subject == r.subject && old.name == r.name => {
                    Inserted::Same
                }
                _ => Inserted::Conflict,
            });
        }
        Ok(Inserted::New)
    }

    /// The request of one key.
    pub async fn get(&self, key_id: &str) -> Result<Option<EnrolmentRequest>, ApiError> {
        match self {
            RequestStore::Sqlite(p) => sqlx::query(
                "SELECT key_id, public_key, role, organisation, subject, name, requested_at \
                 FROM people_enrolment_requests WHERE key_id = ?",
            )
            .bind(key_id)
            .fetch_optional(p)
            .await
            .map_err(ApiError::internal)?
            .map(|r| row(&r))
            .transpose(),
            RequestStore::Postgres(p) => sqlx::query(
                "SELECT key_id, public_key, role, organisation, subject, name, requested_at \
                 FROM people_enrolment_requests WHERE key_id = $1",
            )
            .bind(key_id)
            .fetch_optional(p)
            .await
            .map_err(ApiError::internal)?
            .map(|r| row(&r))
            .transpose(),
        }
    }

    /// Every request for `organisation` (or all, for `None`), oldest first.
    pub async fn list(&self, organisation: Option<&str>) -> Result<Vec<EnrolmentRequest>, ApiError> {
        let sqlite = "SELECT key_id, public_key, role, organisation, subject, name, requested_at \
                      FROM people_enrolment_requests WHERE (? IS NULL OR organisation = ?) ORDER BY requested_at, key_id";
        let pg = "SELECT key_id, public_key, role, organisation, subject, name, requested_at \
                  FROM people_enrolment_requests WHERE ($1::TEXT IS NULL OR organisation = $1) ORDER BY requested_at, key_id";
        match self {
            RequestStore::Sqlite(p) => sqlx::query(sqlite)
                .bind(organisation)
                .bind(organisation)
                .fetch_all(p)
                .await
                .map_err(ApiError::internal)?
                .iter()
                .map(row)
                .collect(),
            RequestStore::Postgres(p) => sqlx::query(pg)
                .bind(organisation)
                .fetch_all(p)
                .await
                .map_err(ApiError::internal)?
                .iter()
                .map(row)
                .collect(),
        }
    }
}

fn row<'r, R>(r: &'r R) -> Result<EnrolmentRequest, ApiError>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let at: i64 = r.try_get(6).map_err(ApiError::internal)?;
    Ok(EnrolmentRequest {
        key_id: r.try_get(0).map_err(ApiError::internal)?,
        public_key: r.try_get(1).map_err(ApiError::internal)?,
        role: r.try_get(2).map_err(ApiError::internal)?,
        organisation: r.try_get(3).map_err(ApiError::internal)?,
        subject: r.try_get(4).map_err(ApiError::internal)?,
        name: r.try_get(5).map_err(ApiError::internal)?,
        requested_at: OffsetDateTime::from_unix_timestamp(at)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default(),
    })
}
