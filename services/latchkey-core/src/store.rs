//! The storage contract. The core states what it needs; `latchkey-store` provides it
//! on sea-orm for Postgres and SQLite. Each protocol states its half
//! ([`crate::oauth1::store`], [`crate::oauth2::store`]); [`Store`] is their sum with
//! the sweeper's lock and the database's health.

use crate::change_feed::ChangeFeed;
use crate::error::StoreError;
use crate::oauth1::store::OAuth1Store;
use crate::oauth2::store::OAuth2Store;
use async_trait::async_trait;

/// Everything the authority keeps.
#[async_trait]
pub trait Store: OAuth1Store + OAuth2Store + SweepStore {
    /// Answers when the database is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Changes to consumers and OAuth 2.0 clients, whichever process makes them.
    /// `None` when the store cannot hear other processes (SQLite).
    fn change_feed(&self) -> Option<ChangeFeed> {
        None
    }
}

/// One kind of sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SweepJob {
    /// Used nonces.
    Nonces,
    /// Request tokens.
    RequestTokens,
    /// Access tokens.
    AccessTokens,
}

impl SweepJob {
    /// Every job.
    pub const ALL: [SweepJob; 3] = [
        SweepJob::Nonces,
        SweepJob::RequestTokens,
        SweepJob::AccessTokens,
    ];

    /// The job's name in logs and configuration.
    pub fn name(self) -> &'static str {
        match self {
            SweepJob::Nonces => "nonces",
            SweepJob::RequestTokens => "request_tokens",
            SweepJob::AccessTokens => "access_tokens",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            SweepJob::Nonces => 0,
            SweepJob::RequestTokens => 1,
            SweepJob::AccessTokens => 2,
        }
    }
}

/// How long one delete batch should hold the database, unless the store asks for
/// less ([`SweepStore::sweep_batch_budget`]).
pub const BATCH_TIME_BUDGET: std::time::Duration = std::time::Duration::from_millis(20);
/// What the sweeper needs beyond each protocol's deletes: how big its batches may be,
/// and a lock so that one replica sweeps at a time.
#[async_trait]
pub trait SweepStore: Send + Sync + 'static {
    /// How long one sweeper batch should hold the database (see [`crate::sweep`]). A
    /// store whose writes queue behind one another (SQLite's one writer) asks for
    /// shorter batches than one whose deletes and inserts go side by side.
    fn sweep_batch_budget(&self) -> std::time::Duration {
        BATCH_TIME_BUDGET
    }

    /// Takes the cross-replica lock for one sweep job without waiting: `None` when
    /// another process holds it. The lock ends when the lease is released or dropped,
    /// or when the process dies.
    async fn try_lock_sweep(
        &self,
        job: SweepJob,
    ) -> Result<Option<Box<dyn SweepLease>>, StoreError>;
}

/// A held sweep lock.
#[async_trait]
pub trait SweepLease: Send {
    /// Gives the lock back.
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}
