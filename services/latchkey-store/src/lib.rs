//! Latchkey's storage: the core's [`Store`] on sea-orm, for PostgreSQL in production
//! and SQLite embedded, from one code path.
//!
//! Invariants this crate keeps:
//! - every state change and its audit line commit in one transaction;
//! - every guarded transition is one conditional `UPDATE` whose affected-row count
//!   decides the winner, so concurrent callers on any number of replicas cannot both
//!   win;
//! - times are stored as `BIGINT` milliseconds since the epoch, tokens by their
//!   SHA-256, secrets only sealed;
//! - no error message carries a bound value.
//!
//! [`SeaStore::connect`] opens the pool, [`SeaStore::migrate`] brings the schema up to
//! date (see the `latchkey-migrations` crate). Each of the core's store traits is
//! implemented in the module of its tables, with no layer between.

mod audit;
mod batch;
mod changes;
mod connect;
mod convert;
pub mod entities;
mod error;
mod oauth1;
mod oauth2;
mod sweep_lock;

pub use changes::SESSION_NAME as CHANGE_FEED_SESSION_NAME;
pub use connect::{PoolUsage, SeaStore};
pub use latchkey_core::error::StoreError;
pub use latchkey_core::store::Store;

use async_trait::async_trait;
use latchkey_core::change_feed::ChangeFeed;

#[async_trait]
impl Store for SeaStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.connection().ping().await.map_err(error::db_err)
    }

    fn change_feed(&self) -> Option<ChangeFeed> {
        self.change_hub().map(|hub| hub.subscribe())
    }
}
