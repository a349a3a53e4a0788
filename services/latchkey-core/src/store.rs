//! The storage contract. The core states what it needs; `latchkey-store` provides it
//! on sea-orm for Postgres and SQLite.
//!
//! Every method that changes state takes the audit event to write with it, and writes
//! both in one transaction: a change is never recorded without its audit line, nor the
//! other way round. Methods that guard a transition ("only if still pending") make the
//! check and the change one conditional statement, so concurrent callers on any number
//! of replicas cannot both win.

use crate::records::{
    AccessTokenRecord, AuditEvent, ConsumerRecord, GrantRecord, NonceRecord, RequestTokenDecision,
    RequestTokenRecord, RevocationSelector,
};
use crate::secret::TokenHash;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or timed out; retrying may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique key already exists (for example a consumer key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: a bug or a corrupt row.
    #[error("store failure: {0}")]
    Internal(String),
}

/// Everything the authority keeps.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    // ---- consumers ----

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

    /// Replaces every field of the consumer with `consumer.key`; `false` when there is
    /// no such consumer.
    async fn update_consumer(
        &self,
        consumer: &ConsumerRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Deletes a consumer with its request tokens, access tokens and nonces. `None`
    /// when there is no such consumer, else how many access tokens went with it.
    async fn delete_consumer(
        &self,
        key: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError>;

    // ---- nonces ----

    /// Records a nonce; `false` when this consumer already used it (the replay case).
    /// Atomic across replicas: a unique key on (consumer, nonce) decides.
    async fn use_nonce(&self, nonce: &NonceRecord) -> Result<bool, StoreError>;

    // ---- request tokens ----

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

    // ---- access tokens ----

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

    /// A user's access tokens that are neither revoked nor expired at `now`, newest
    /// first, with their consumers' names.
    async fn list_live_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<GrantRecord>, StoreError>;
}
