//! PostgreSQL adapter: the production single-region store. It only opens connections; every statement is in
//! [`crate::sql`] (shared with SQLite) and what PostgreSQL does differently in [`crate::sql::dialect`].
//!
//! * Every [`EventStore::commit`](crate::EventStore::commit) is one transaction that first takes
//!   `pg_advisory_xact_lock(COMMIT_LOCK)`, then reads the head in a *later* statement (under READ COMMITTED each
//!   statement takes a fresh snapshot, so the head read after the lock sees every commit of the previous lock
//!   holder). Appends are therefore serialised across processes and positions become visible strictly in order: the
//!   sequence/commit-order trap cannot happen. The lock is released by COMMIT or ROLLBACK, including the rollback of
//!   a dropped transaction.
//! * Events and Merkle nodes go in with one `INSERT … SELECT FROM UNNEST(array, …)` each: one prepared statement and
//!   one round-trip whatever the commit size.
//! * Durability is the server's: Ok is returned only after COMMIT returned, which is durable when the server runs
//!   with `fsync = on` and `synchronous_commit` ≥ `on` (checked at connect; a warning is logged otherwise).
//!
//! The schema (the same tables as SQLite's, `BIGINT`/`BYTEA`/`UUID`) is created at connect under an advisory lock.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use crate::sql::{COMMIT_LOCK, SCHEMA_LOCK, SCHEMA_VERSION};
use crate::sql::{Pools, SqlStore, db_err, forward_event_store};
use crate::store::StoreError;

/// Pool settings for [`PgStore::connect_with`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Upper bound of pooled connections (readers and the writer share them; appends serialise on a lock anyway).
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long a call waits for a free connection before failing with [`StoreError::Database`].
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Duration,
    /// Connections are recycled after this long (lets a failover or a server-side setting change take effect).
    pub max_lifetime: Duration,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            max_connections: 16,
            min_connections: 1,
            // Short: while a failover has no leader, a request should fail (503, retry) in seconds, not hang.
            acquire_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            application_name: "siteledger-ledger".to_owned(),
        }
    }
}

/// The PostgreSQL event store. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug, Clone)]
pub struct PgStore {
    /// The same pool as the one inside `sql` (a pool is a shared handle), for [`PgStore::pool`].
    pool: PgPool,
    sql: SqlStore,
}

impl PgStore {
    /// Connects to `url` with [`PgOptions::default`] and creates the schema if missing.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, PgOptions::default()).await
    }

    /// Connects to `url` and creates the schema if missing (under an advisory lock, so processes starting together
    /// do not race). Refuses ([`StoreError::Corrupt`]) a database whose schema version is not [`SCHEMA_VERSION`].
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?
            .application_name(&options.application_name);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections.min(options.max_connections.max(1)))
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .max_lifetime(options.max_lifetime)
            .connect_with(connect)
            .await
            .map_err(db_err("connecting to PostgreSQL"))?;
        let sql = SqlStore::open(Pools::Postgres(pool.clone()), None).await?;
        let store = PgStore { pool, sql };
        store.warn_if_not_durable().await?;
        Ok(store)
    }

    /// The underlying pool (for projections that share the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.sql.close().await;
    }

    async fn warn_if_not_durable(&self) -> Result<(), StoreError> {
        let (fsync, sync_commit): (String, String) =
            sqlx::query_as("SELECT current_setting('fsync'), current_setting('synchronous_commit')")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err("reading durability settings"))?;
        // Every synchronous_commit level but `off` flushes the local WAL before COMMIT returns.
        if fsync != "on" || sync_commit == "off" {
            tracing::warn!(
                fsync = %fsync,
                synchronous_commit = %sync_commit,
                "PostgreSQL is not configured for durable commits: acknowledged events may be lost on a crash"
            );
        }
        Ok(())
    }
}

forward_event_store!(PgStore, sql);
