//! Opening the database: [`SeaStore`], its pool settings and its migrations.
//!
//! One code path serves both backends. SQLite needs care that Postgres does not: every
//! pooled connection gets foreign keys on, WAL (readers never block the writer) and a
//! busy timeout, and every writing transaction starts with `BEGIN IMMEDIATE`, so
//! SQLite takes the write lock up front, where the busy timeout applies, instead of
//! failing at the first write of a transaction that began by reading. Postgres ignores
//! that option; there the guarded `UPDATE`s are re-checked after the row lock.
//!
//! A SQLite file also gets a second pool of exactly one connection, through which
//! every write goes, so that this process's writers queue for it in arrival order and
//! each starts the moment the one before it commits. Left to SQLite's own lock, a
//! writer that finds it taken sleeps and retries on a growing schedule (1, 2, 5, 10,
//! 15, 20 ms...), so it may start many milliseconds after the lock came free, and
//! not in the order writers arrived. The busy timeout still covers writers in other
//! processes on the same file.

use crate::changes::ChangeHub;
use crate::error::db_err;
use crate::oauth1::nonces::NonceWriter;
use latchkey_core::error::StoreError;
use latchkey_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
use std::time::Duration;

/// How long a SQLite writer waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled connection before the store reports
/// [`StoreError::Unavailable`]. Short, so that while the database is away a call
/// answers UNAVAILABLE (HTTP 503) well inside any caller's deadline, the HTTP
/// request timeout (10 s) and the gRPC call timeout (30 s), instead of racing them.
/// A pool that cannot lend a connection for a second is overloaded or cut off, and
/// retrying later is the right answer either way.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long opening a new connection may take: no longer than the acquire it serves.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a pooled connection may sit idle before it is pinged on its way out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Nonce batches Postgres writes at once (see [`crate::oauth1::nonces`]). Each batch costs the
/// server a round trip's fixed work whatever its size, so fewer writers make larger,
/// cheaper batches: in the HMAC-SHA1 benchmark at 64 callers, 12 writers cost the
/// server 113 µs per validation, 4 cost 83, 2 cost 72-78 and 1 cost 66. Two, not one,
/// so that one slow batch (a lock held by another replica, a checkpoint) does not stop
/// every validation of the process: the one-writer runs had the worst p99.9 (96 ms).
const NONCE_WRITERS: usize = 2;

/// URL prefixes of the backends this store is built and tested for.
const SUPPORTED_SCHEMES: [&str; 3] = ["sqlite:", "postgres://", "postgresql://"];

/// A moment's view of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Open connections waiting for work.
    pub idle: u32,
}

/// The [`latchkey_core::store::Store`] on sea-orm, for Postgres and SQLite.
#[derive(Debug, Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    /// Where writes go: on a SQLite file, a pool of one connection of its own (see the
    /// module documentation); elsewhere the same pool as `db`.
    writer: DatabaseConnection,
    nonces: NonceWriter,
    /// Postgres only: the change feed (see [`crate::changes`]).
    changes: Option<Arc<ChangeHub>>,
}

impl SeaStore {
    /// Connects with a pool of at most `max_connections` for statements and, for
    /// SQLite, turns on WAL, foreign keys and a 5 s busy timeout on every connection.
    /// A SQLite file gets one connection more, its own, for every write.
    /// On Postgres the pool holds one connection more, which the change feed's
    /// listening session keeps for as long as it lasts (it would otherwise leave a
    /// one-connection pool nothing to run statements on).
    ///
    /// URLs look like `sqlite://latchkey.db?mode=rwc`, `sqlite::memory:` or
    /// `postgres://postgres@127.0.0.1:5432/latchkey`. An in-memory SQLite database
    /// lives only as long as a connection to it, so it gets exactly one connection,
    /// kept forever, whatever `max_connections` says.
    pub async fn connect(url: &str, max_connections: u32) -> Result<SeaStore, StoreError> {
        // Checked here because sea-orm's own error would quote the whole URL, password
        // included.
        if !SUPPORTED_SCHEMES
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            return Err(StoreError::Internal(
                "unsupported database URL: expected sqlite:, postgres:// or postgresql://"
                    .to_owned(),
            ));
        }
        let max_connections = max_connections.max(1);
        let sqlite = url.starts_with("sqlite:");
        let listening_session = u32::from(!sqlite);
        let options = pool_options(url, max_connections + listening_session);
        let db = Database::connect(options).await.map_err(db_err)?;
        let writer = if sqlite && !is_in_memory(url) {
            let mut options = pool_options(url, 1);
            // A writer waits for the one before it as long as it would have waited for
            // SQLite's lock.
            options.acquire_timeout(SQLITE_BUSY_TIMEOUT);
            Database::connect(options).await.map_err(db_err)?
        } else {
            db.clone()
        };
        // SQLite has one writer at a time: more nonce writers would only queue on its
        // lock. Postgres takes several batches at once.
        let nonce_writers = match db.get_database_backend() {
            DbBackend::Sqlite => 1,
            _ => NONCE_WRITERS,
        };
        // A Postgres writer keeps a connection between batches only if that leaves the
        // pool at least half of its connections for everything else.
        let keep_connections = nonce_writers * 2 <= max_connections as usize;
        let nonces = NonceWriter::start(writer.clone(), nonce_writers, keep_connections);
        let changes = match db.get_database_backend() {
            DbBackend::Postgres => {
                Some(ChangeHub::start(db.get_postgres_connection_pool().clone()))
            }
            _ => None,
        };
        Ok(SeaStore {
            db,
            writer,
            nonces,
            changes,
        })
    }

    /// Runs every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(db_err)
    }

    /// How many migrations have not run yet. Reads only: it does not even create
    /// the migrations table, so it works with a user that may not change the schema.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Migrator::get_pending_migrations_read_only(&self.db)
            .await
            .map(|pending| pending.len())
            .map_err(db_err)
    }

    /// Whether this store is on Postgres (some writes take a Postgres-only shape).
    pub(crate) fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// The queue that writes spent nonces in batches.
    pub(crate) fn nonce_writer(&self) -> &NonceWriter {
        &self.nonces
    }

    /// The change feed, on Postgres.
    pub(crate) fn change_hub(&self) -> Option<&ChangeHub> {
        self.changes.as_deref()
    }

    /// The underlying connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pools, waiting for their connections to come back (a SQLite file's
    /// writer first, so that its last commit is in before the readers go).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.writer.clone().close().await.map_err(db_err)?;
        self.db.clone().close().await.map_err(db_err)
    }

    /// The connection every write outside [`SeaStore::begin_write`] goes through.
    pub(crate) fn write_connection(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// How many connections the pool holds and how many of them are idle, for metrics.
    pub fn pool_usage(&self) -> PoolUsage {
        let (open, idle) = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        };
        PoolUsage {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        }
    }

    /// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the
    /// write lock is taken (waiting up to the busy timeout) before anything is read.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        self.writer
            .begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await
            .map_err(db_err)
    }
}

/// The settings of a pool of at most `max_connections` on `url`: those both backends
/// share, and SQLite's own (an in-memory database gets its one connection, kept).
fn pool_options(url: &str, max_connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        // A ping on every acquire would double the round trips of every one-statement
        // operation (a nonce batch, each dance write) under load, where a connection
        // is seldom idle for a millisecond. One idle for a while is still pinged; one
        // that died meanwhile fails its statement as Unavailable (retry later) and
        // leaves the pool.
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        // Statement logs can carry bound values; errors are logged by the callers.
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        let in_memory = is_in_memory(url);
        if in_memory {
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        options.map_sqlx_sqlite_opts(move |opts| {
            let opts = opts.foreign_keys(true).busy_timeout(SQLITE_BUSY_TIMEOUT);
            if in_memory {
                opts
            } else {
                opts.journal_mode(SqliteJournalMode::Wal)
            }
        });
    }
    options
}

/// Whether a SQLite URL names a database that lives only in memory.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use latchkey_core::store::Store;

    #[tokio::test]
    async fn an_unsupported_url_is_refused_without_being_echoed() {
        let err = SeaStore::connect("mysql://root:hunter2@db/latchkey", 1)
            .await
            .err();
        assert!(matches!(&err, Some(StoreError::Internal(m)) if !m.contains("hunter2")));
    }

    #[tokio::test]
    async fn an_in_memory_database_migrates_and_keeps_its_schema_on_its_one_connection() {
        let store = SeaStore::connect("sqlite::memory:", 8).await.unwrap();
        // Every migration is pending on a new database, however many there are.
        let all =
            <latchkey_migrations::Migrator as latchkey_migrations::MigratorTrait>::migrations()
                .len();
        assert_eq!(store.pending_migrations().await, Ok(all));
        store.migrate().await.unwrap();
        assert_eq!(store.pending_migrations().await, Ok(0));
        store.ping().await.unwrap();
    }

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(!is_in_memory("sqlite://latchkey.db?mode=rwc"));
    }
}
