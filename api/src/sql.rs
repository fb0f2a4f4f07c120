//! SQL the API writes once for its own tables in the token database (people's challenges and sessions, witness
//! cosignatures, timestamp tokens), on SQLite
//! or PostgreSQL. Statements use `?` placeholders; [`stmt`] numbers them for PostgreSQL (`$1`, `$2`, …, with the
//! ledger's [`siteledger_ledger::sql::to_postgres`]) once per statement and keeps the result, and [`each_db!`]
//! runs one body against whichever pool the store holds, so each statement and each transaction is written once.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Postgres, Sqlite};

/// A pool of either database.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

impl From<&crate::auth::TokenStore> for Db {
    /// The token database's pool (the API's own tables live beside the tokens).
    fn from(tokens: &crate::auth::TokenStore) -> Db {
        match tokens {
            crate::auth::TokenStore::Sqlite(p) => Db::Sqlite(p.clone()),
            crate::auth::TokenStore::Postgres(p) => Db::Postgres(p.clone()),
        }
    }
}

/// How a database spells a statement written with `?` placeholders.
pub(crate) trait Dialect: sqlx::Database {
    /// The statement for this database.
    fn stmt(sql: &'static str) -> &'static str;
}

impl Dialect for Sqlite {
    fn stmt(sql: &'static str) -> &'static str {
        sql
    }
}

/// PostgreSQL spellings of the statements seen so far: one entry per statement of the source (a constant), so the
/// map is bounded by the code, and each is leaked once to live as long as the constant it translates.
static NUMBERED: LazyLock<Mutex<HashMap<&'static str, &'static str>>> = LazyLock::new(Mutex::default);

impl Dialect for Postgres {
    fn stmt(sql: &'static str) -> &'static str {
        let mut map = NUMBERED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(sql).or_insert_with(|| Box::leak(siteledger_ledger::sql::to_postgres(sql).into_boxed_str()))
    }
}

/// `sql` (with `?` placeholders) as the database `D` takes it.
pub(crate) fn stmt<D: Dialect>(sql: &'static str) -> &'static str {
    D::stmt(sql)
}

/// Runs `$body` with `$pool` bound to the pool `$db` holds and `$D` naming its database type (for [`stmt`]).
macro_rules! each_db {
    ($db:expr, $pool:ident, $D:ident => $body:expr) => {
        match $db {
            $crate::sql::Db::Sqlite($pool) => {
                type $D = sqlx::Sqlite;
                $body
            }
            $crate::sql::Db::Postgres($pool) => {
                type $D = sqlx::Postgres;
                $body
            }
        }
    };
}
pub(crate) use each_db;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_once_and_kept_for_sqlite() {
        let sql = "UPDATE t SET a = ? WHERE b = ? AND c = '?'";
        assert_eq!(stmt::<Sqlite>(sql), sql);
        let pg = stmt::<Postgres>(sql);
        assert_eq!(pg, "UPDATE t SET a = $1 WHERE b = $2 AND c = '?'");
        assert!(std::ptr::eq(pg, stmt::<Postgres>(sql)), "translated once, then reused");
    }
}
