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
//! date (see the `latchkey-migrations` crate), and the [`Store`] impl below only
//! delegates to one module per table.

mod access_tokens;
mod audit;
mod batch;
mod changes;
mod connect;
mod consumers;
mod convert;
mod dance_statements;
pub mod entities;
mod error;
mod nonces;
mod oauth2_clients;
mod oauth2_codes;
mod oauth2_store;
mod oauth2_tokens;
mod request_tokens;
mod sweep_lock;

pub use changes::SESSION_NAME as CHANGE_FEED_SESSION_NAME;
pub use connect::{PoolUsage, SeaStore};
pub use latchkey_core::store::{Store, StoreError};

use async_trait::async_trait;
use chrono::Duration;
use chrono::{DateTime, Utc};
use latchkey_core::records::{
    AccessTokenRecord, AuditEvent, ConsumerRecord, ConsumerTokenRecord, EndedAccessTokens,
    GrantRecord, NonceRecord, RequestTokenDecision, RequestTokenRecord, RevocationSelector,
};
use latchkey_core::secret::TokenHash;
use latchkey_core::store::SweepLease;
use latchkey_core::sweep::SweepJob;
use uuid::Uuid;

#[async_trait]
impl Store for SeaStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.connection().ping().await.map_err(error::db_err)
    }

    fn change_feed(&self) -> Option<latchkey_core::store::ChangeFeed> {
        self.change_hub().map(|hub| hub.subscribe())
    }

    async fn insert_consumer(
        &self,
        consumer: &ConsumerRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        consumers::insert(self, consumer, audit).await
    }

    async fn get_consumer(&self, key: &str) -> Result<Option<ConsumerRecord>, StoreError> {
        consumers::get(self, key).await
    }

    async fn list_consumers(
        &self,
        after_key: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ConsumerRecord>, StoreError> {
        consumers::list(self, after_key, limit).await
    }

    async fn update_consumer(
        &self,
        consumer: &ConsumerRecord,
        shorten_issued_to: Option<Duration>,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        consumers::update(self, consumer, shorten_issued_to, audit).await
    }

    async fn delete_consumer(
        &self,
        key: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        consumers::delete(self, key, audit).await
    }

    async fn use_nonce(&self, nonce: &NonceRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        nonces::use_nonce(self, nonce, now).await
    }

    async fn insert_request_token(
        &self,
        token: &RequestTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        request_tokens::insert(self, token, audit).await
    }

    async fn find_request_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RequestTokenRecord>, StoreError> {
        request_tokens::find(self, hash).await
    }

    async fn decide_request_token(
        &self,
        id: Uuid,
        decision: &RequestTokenDecision,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        request_tokens::decide(self, id, decision, now, audit).await
    }

    async fn record_verifier_failure(
        &self,
        id: Uuid,
        max_failures: u32,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError> {
        request_tokens::record_verifier_failure(self, id, max_failures, audit).await
    }

    async fn exchange_request_token(
        &self,
        request_token_id: Uuid,
        now: DateTime<Utc>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        request_tokens::exchange(self, request_token_id, now, access, audit).await
    }

    async fn find_access_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        access_tokens::find(self, hash).await
    }

    async fn get_access_token(&self, id: Uuid) -> Result<Option<AccessTokenRecord>, StoreError> {
        access_tokens::get(self, id).await
    }

    async fn revoke_access_tokens(
        &self,
        selector: &RevocationSelector,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        access_tokens::revoke(self, selector, now, audit).await
    }

    async fn record_access_token_use(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        access_tokens::record_use(self, id, at).await
    }

    async fn list_live_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        access_tokens::list_live_grants(self, user_id, now).await
    }

    async fn list_live_consumer_tokens(
        &self,
        consumer_key: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ConsumerTokenRecord>, StoreError> {
        access_tokens::list_live_consumer_tokens(self, consumer_key, now, limit).await
    }

    fn sweep_batch_budget(&self) -> std::time::Duration {
        SeaStore::sweep_batch_budget(self)
    }

    async fn try_lock_sweep(
        &self,
        job: SweepJob,
    ) -> Result<Option<Box<dyn SweepLease>>, StoreError> {
        sweep_lock::try_lock(self, job).await
    }

    async fn delete_expired_nonces(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        nonces::delete_expired(self, now, limit).await
    }

    async fn delete_request_tokens_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        request_tokens::delete_expired_by(self, by, limit).await
    }

    async fn delete_ended_access_tokens(
        &self,
        which: &EndedAccessTokens,
        limit: u64,
    ) -> Result<u64, StoreError> {
        access_tokens::delete_ended(self, which, limit).await
    }
}
