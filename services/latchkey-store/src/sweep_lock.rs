//! The sweeper's cross-replica lock.
//!
//! On Postgres, a session-level advisory lock (`pg_try_advisory_lock`) on a connection
//! taken from the pool for the length of the run. That connection is marked to close
//! when dropped instead of going back to the pool: however the run ends (released,
//! failed, cancelled, panicked), the session ends and the lock with it, and a crashed
//! replica's lock is freed by the server when its connection dies. The deletes run on
//! other pooled connections, in their own short transactions.
//!
//! SQLite is a file owned by one process: the lease is always granted (the sweeper's
//! own per-job flag keeps runs in one process apart), and a second process on the same
//! file would only delete rows the first had not, never count a row twice.

use crate::connect::SeaStore;
use crate::error::db_err;
use async_trait::async_trait;
use latchkey_core::error::StoreError;
use latchkey_core::store::{BATCH_TIME_BUDGET, SweepStore};

use latchkey_core::store::{SweepJob, SweepLease};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Postgres};
use sea_orm::{DatabaseBackend, DbErr, RuntimeErr};
use std::sync::Arc;

/// Advisory lock keys: one per job, in a range unlikely to meet another
/// application's keys on a shared server ("LK" in the high bytes).
fn lock_key(job: SweepJob) -> i64 {
    const BASE: i64 = 0x4c4b_0000_0000_0000;
    BASE + match job {
        SweepJob::Nonces => 1,
        SweepJob::RequestTokens => 2,
        SweepJob::AccessTokens => 3,
    }
}

/// How long a sweeper batch may hold SQLite's write lock, which every nonce write waits
/// for (Postgres takes the sweeper's default: its deletes block no insert). Chosen in
/// the benchmark's sweep scenario: see BENCHMARKS.md.
const SQLITE_SWEEP_BATCH_BUDGET: std::time::Duration = std::time::Duration::from_millis(4);

#[async_trait]
impl SweepStore for SeaStore {
    fn sweep_batch_budget(&self) -> std::time::Duration {
        if self.is_postgres() {
            BATCH_TIME_BUDGET
        } else {
            SQLITE_SWEEP_BATCH_BUDGET
        }
    }

    async fn try_lock_sweep(
        &self,
        job: SweepJob,
    ) -> Result<Option<Box<dyn SweepLease>>, StoreError> {
        let db = self.connection();
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(Some(Box::new(ProcessLease)));
        }
        let mut connection = db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(sqlx_err)?;
        connection.close_on_drop();
        let key = lock_key(job);
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *connection)
            .await
            .map_err(sqlx_err)?;
        Ok(locked.then(|| Box::new(AdvisoryLease { connection, key }) as Box<dyn SweepLease>))
    }
}

fn sqlx_err(err: sqlx::Error) -> StoreError {
    db_err(DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))))
}

/// A held Postgres advisory lock and the session that holds it.
struct AdvisoryLease {
    connection: PoolConnection<Postgres>,
    key: i64,
}

#[async_trait]
impl SweepLease for AdvisoryLease {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        let AdvisoryLease {
            mut connection,
            key,
        } = *self;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(key)
            .execute(&mut *connection)
            .await
            .map_err(sqlx_err)?;
        // Dropping closes the session (see `close_on_drop` above).
        Ok(())
    }
}

/// SQLite: one process owns the file.
struct ProcessLease;

#[async_trait]
impl SweepLease for ProcessLease {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
