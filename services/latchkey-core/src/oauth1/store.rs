//! The OAuth 1.0a half of the storage contract, one trait per table family, so
//! that each is implemented in one place. [`OAuth1Store`] is their sum.
//!
//! Every method that changes state takes the audit event to write with it, and writes
//! both in one transaction: a change is never recorded without its audit line, nor the
//! other way round. Methods that guard a transition ("only if still pending") make the
//! check and the change one conditional statement, so concurrent callers on any number
//! of replicas cannot both win.

use super::records::{
    AccessTokenRecord, ConsumerRecord, ConsumerTokenRecord, EndedAccessTokens, GrantRecord,
    NonceRecord, RequestTokenDecision, RequestTokenRecord, RevocationSelector,
};
use crate::error::StoreError;
use crate::records::AuditEvent;
use crate::secret::TokenHash;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// Registered consumers.
#[async_trait]
pub trait ConsumerStore: Send + Sync + 'static {
    /// Inserts a consumer; [`StoreError::Conflict`] when the key is taken.
    async fn insert_consumer(
        &self,
        consumer: &ConsumerRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The consumer with this key.
    async fn get_consumer(&self, key: &str) -> Result<Option<ConsumerRecord>, StoreError>;

    /// Up to `limit` consumers ordered by key, starting after `after_key`.
    async fn list_consumers(
        &self,
        after_key: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ConsumerRecord>, StoreError>;

    /// Replaces every field of the consumer with `consumer.key`; `None` when there is
    /// no such consumer. With `shorten_issued_to`, in the same transaction, every
    /// unrevoked access token of the consumer that would outlive
    /// `created_at + shorten_issued_to` is cut to that; returns how many were cut.
    async fn update_consumer(
        &self,
        consumer: &ConsumerRecord,
        shorten_issued_to: Option<Duration>,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError>;

    /// Deletes a consumer with its request tokens, access tokens and nonces. `None`
    /// when there is no such consumer, else how many access tokens went with it.
    async fn delete_consumer(
        &self,
        key: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError>;
}

/// Used nonces: replay protection.
#[async_trait]
pub trait NonceStore: Send + Sync + 'static {
    /// Records a nonce; `false` when this consumer already used it and that record has
    /// not expired at `now` (the replay case). An expired record is replaced, so
    /// replay protection never depends on the sweeper. Atomic across replicas: a
    /// unique key on (consumer, nonce) decides.
    async fn use_nonce(&self, nonce: &NonceRecord, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Deletes up to `limit` nonce records with `expires_at <= now`; returns how many.
    async fn delete_expired_nonces(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError>;
}

/// Request tokens and their three legs.
#[async_trait]
pub trait RequestTokenStore: Send + Sync + 'static {
    /// Stores a new request token.
    async fn insert_request_token(
        &self,
        token: &RequestTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The request token with this hash.
    async fn find_request_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RequestTokenRecord>, StoreError>;

    /// Records the user's decision, only if the token is still pending and
    /// `expires_at > now`. `true` when this call made the change.
    async fn decide_request_token(
        &self,
        id: Uuid,
        decision: &RequestTokenDecision,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Counts a wrong verifier against an approved token and, when the count reaches
    /// `max_failures`, kills it (state `dead`). Returns the new count; 0 when the token
    /// was no longer approved (nothing changed).
    async fn record_verifier_failure(
        &self,
        id: Uuid,
        max_failures: u32,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError>;

    /// Moves an approved, unexpired (`expires_at > now`) request token to `exchanged`
    /// and inserts `access`, in one transaction. `false`, with nothing written, when
    /// the token was not approved any more (another exchange won) or had expired.
    async fn exchange_request_token(
        &self,
        request_token_id: Uuid,
        now: DateTime<Utc>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Deletes up to `limit` request tokens, whatever their state, with
    /// `expires_at <= by`; returns how many.
    async fn delete_request_tokens_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError>;
}

/// Access tokens: lookup, use, revocation and listings.
#[async_trait]
pub trait AccessTokenStore: Send + Sync + 'static {
    /// The access token with this hash, revoked or not.
    async fn find_access_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// The access token with this id, revoked or not.
    async fn get_access_token(&self, id: Uuid) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// Sets `revoked_at = now` on every selected token that is neither revoked nor
    /// expired at `now`; returns how many. Writes the audit event only when the count
    /// is not zero.
    async fn revoke_access_tokens(
        &self,
        selector: &RevocationSelector,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// Records a use of the access token at `at`, unless a later one is recorded.
    async fn record_access_token_use(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// A user's access tokens that are neither revoked nor expired at `now`, newest
    /// first, with their consumers' names.
    async fn list_live_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<GrantRecord>, StoreError>;

    /// Up to `limit` of a consumer's access tokens that are neither revoked nor expired
    /// at `now`, newest first.
    async fn list_live_consumer_tokens(
        &self,
        consumer_key: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ConsumerTokenRecord>, StoreError>;

    /// Deletes up to `limit` of the selected access tokens; returns how many.
    async fn delete_ended_access_tokens(
        &self,
        which: &EndedAccessTokens,
        limit: u64,
    ) -> Result<u64, StoreError>;
}

/// Everything OAuth 1.0a keeps.
pub trait OAuth1Store: ConsumerStore + NonceStore + RequestTokenStore + AccessTokenStore {}

impl<T> OAuth1Store for T where T: ConsumerStore + NonceStore + RequestTokenStore + AccessTokenStore {}
