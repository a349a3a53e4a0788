//! The one mapping from database errors to [`StoreError`].
//!
//! Callers can act on three outcomes: retry later ([`StoreError::Unavailable`]: the
//! pool, the network, a busy SQLite file, a Postgres serialization failure), tell the
//! user the key is taken ([`StoreError::Conflict`]), or report a bug
//! ([`StoreError::Internal`]). Messages are built from error codes, constraint names
//! and the database's primary message only: never from the statement's bound values or
//! the Postgres `DETAIL` line (which quotes the conflicting key), so a secret bound into
//! a statement cannot reach a log or a client through an error.

use latchkey_core::error::StoreError;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

/// Maps a sea-orm error to the store's error.
pub(crate) fn db_err(err: DbErr) -> StoreError {
    match &err {
        DbErr::ConnectionAcquire(inner) => {
            StoreError::Unavailable(format!("connection pool: {inner}"))
        }
        DbErr::Conn(RuntimeErr::SqlxError(e))
            if matches!(
                e.as_ref(),
                sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_)
            ) =>
        {
            // Retrying a bad URL or option cannot help.
            StoreError::Internal(format!("connection settings: {e}"))
        }
        DbErr::Conn(runtime) => {
            StoreError::Unavailable(format!("connection: {}", runtime_text(runtime)))
        }
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime_err(runtime),
        _ => StoreError::Internal(err.to_string()),
    }
}

/// Whether the error is a unique or primary key violation.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))
            if matches!(e.as_ref(), sqlx::Error::Database(db) if db.is_unique_violation())
    )
}

/// [`db_err`], except that a unique or primary key violation is
/// [`StoreError::Conflict`] with `what` (which row already exists) as its message.
pub(crate) fn conflict_or_db_err(err: DbErr, what: &str) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Conflict(what.to_owned())
    } else {
        db_err(err)
    }
}

fn runtime_err(runtime: &RuntimeErr) -> StoreError {
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return StoreError::Internal(runtime.to_string());
    };
    match sqlx_err.as_ref() {
        sqlx::Error::Database(db) => database_err(db.as_ref()),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(sqlx_err.to_string()),
        other => StoreError::Internal(other.to_string()),
    }
}

fn database_err(db: &dyn sqlx::error::DatabaseError) -> StoreError {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let constraint = db
        .constraint()
        .map(|c| format!(" on {c}"))
        .unwrap_or_default();
    let text = format!("database error {code}{constraint}: {}", db.message());
    if db.is_unique_violation() {
        return StoreError::Conflict(text);
    }
    let retryable = if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        postgres_retryable(&code)
    } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        sqlite_retryable(&code)
    } else {
        false
    };
    if retryable {
        StoreError::Unavailable(text)
    } else {
        StoreError::Internal(text)
    }
}

/// SQLSTATEs where the statement was fine and trying again later may succeed.
fn postgres_retryable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") // connection exception
        || sqlstate.starts_with("53") // insufficient resources
        || sqlstate.starts_with("57P") // admin or crash shutdown, cannot connect now
        // The database is not accepting connections (ALLOW_CONNECTIONS false, or
        // being dropped): what a session opened during an outage hears.
        || sqlstate == "55000"
        || matches!(
            sqlstate,
            "40001" // serialization failure
                | "40P01" // deadlock detected
                | "55P03" // lock not available
                | "57014" // query cancelled (statement timeout)
        )
}

/// SQLite result codes (extended codes carry the primary code in the low byte).
fn sqlite_retryable(code: &str) -> bool {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const IOERR: i64 = 10;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    code.parse::<i64>()
        .map(|c| matches!(c & 0xff, BUSY | LOCKED | IOERR | FULL | CANTOPEN))
        .unwrap_or(false)
}

fn runtime_text(runtime: &RuntimeErr) -> String {
    match runtime {
        RuntimeErr::SqlxError(e) => match e.as_ref() {
            sqlx::Error::Database(db) => {
                format!("{} {}", db.code().unwrap_or_default(), db.message())
            }
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_sqlite_codes_are_retryable_and_constraint_codes_are_not() {
        assert!(sqlite_retryable("5"));
        assert!(sqlite_retryable("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_retryable("6"));
        assert!(!sqlite_retryable("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!sqlite_retryable("787")); // SQLITE_CONSTRAINT_FOREIGNKEY
        assert!(!sqlite_retryable("not a number"));
    }

    #[test]
    fn postgres_serialization_and_connection_states_are_retryable() {
        assert!(postgres_retryable("40001"));
        assert!(postgres_retryable("08006"));
        assert!(postgres_retryable("57P01"));
        // "database ... is not currently accepting connections", mid-outage.
        assert!(postgres_retryable("55000"));
        assert!(!postgres_retryable("23505"));
        assert!(!postgres_retryable("42P01"));
    }

    #[test]
    fn pool_exhaustion_is_unavailable() {
        let err = db_err(DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        ));
        assert!(matches!(err, StoreError::Unavailable(_)));
    }
}
