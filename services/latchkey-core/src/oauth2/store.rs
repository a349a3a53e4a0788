//! The OAuth 2.0 half of the storage contract, one trait per table family, so that
//! each is implemented in one place; [`OAuth2Store`] is their sum. As in the OAuth
//! 1.0a half, every change writes its audit event in the same transaction, and every
//! guarded transition is one conditional statement whose affected-row count names the
//! one winner.

use super::records::{
    AuthorizationCodeRecord, OAuth2ClientRecord, OAuth2GrantListing, OAuth2GrantRecord,
    OAuth2TokenRecord,
};
use crate::error::StoreError;
use crate::records::AuditEvent;
use crate::secret::TokenHash;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Registered clients.
#[async_trait]
pub trait OAuth2ClientStore: Send + Sync + 'static {
    /// Inserts a client; [`StoreError::Conflict`] when the id is taken.
    async fn insert_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The client with this id.
    async fn get_oauth2_client(
        &self,
        client_id: &str,
    ) -> Result<Option<OAuth2ClientRecord>, StoreError>;

    /// Replaces every field of the client with `client.client_id`; `false` when there
    /// is no such client.
    async fn update_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Deletes a client with its codes, grants and tokens. `None` when there is no such
    /// client, else how many tokens went with it.
    async fn delete_oauth2_client(
        &self,
        client_id: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError>;
}

/// Authorization codes, and the grant each one starts.
#[async_trait]
pub trait AuthorizationCodeStore: Send + Sync + 'static {
    /// Stores a new authorization code.
    async fn insert_authorization_code(
        &self,
        code: &AuthorizationCodeRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The code with this hash, redeemed or not.
    async fn find_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError>;

    /// Marks the code redeemed into `grant`, only if it is unredeemed and
    /// `expires_at > now`, and inserts the grant and its first `tokens`, in one
    /// transaction. `false`, with nothing written, when another redemption won or the
    /// code expired.
    async fn redeem_authorization_code(
        &self,
        code_id: Uuid,
        now: DateTime<Utc>,
        grant: &OAuth2GrantRecord,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Deletes up to `limit` codes with `expires_at <= by`, redeemed or not.
    async fn delete_authorization_codes_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError>;
}

/// Grants and their access and refresh tokens.
#[async_trait]
pub trait OAuth2TokenStore: Send + Sync + 'static {
    /// The token with this hash, whatever its state.
    async fn find_oauth2_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<OAuth2TokenRecord>, StoreError>;

    /// The grant with this id.
    async fn get_oauth2_grant(&self, id: Uuid) -> Result<Option<OAuth2GrantRecord>, StoreError>;

    /// Rotates a refresh token: in one transaction, touches the grant only if it is
    /// unrevoked (which orders this call against a concurrent revocation of the
    /// family), marks the refresh token rotated only if it is unrotated, unrevoked and
    /// `expires_at > now`, and inserts `tokens`. `false`, with nothing written, when
    /// either guard fails: another rotation won, or the family was revoked.
    async fn rotate_refresh_token(
        &self,
        refresh_token_id: Uuid,
        grant_id: Uuid,
        now: DateTime<Utc>,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Revokes a grant and every token in it that is not yet revoked; returns how many
    /// tokens that was. Writes the audit event only when the grant was not revoked yet.
    async fn revoke_oauth2_grant(
        &self,
        grant_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// Revokes one token, unless revoked already; returns how many (0 or 1).
    async fn revoke_oauth2_token(
        &self,
        token_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// A user's grants that are unrevoked and not past their absolute end at `now`,
    /// newest first, with their clients' names.
    async fn list_live_oauth2_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OAuth2GrantListing>, StoreError>;

    /// Deletes up to `limit` tokens that expired or were revoked at or before `by`.
    async fn delete_ended_oauth2_tokens(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError>;

    /// Deletes up to `limit` grants past their absolute end or revoked at or before
    /// `by` (their tokens ended no later).
    async fn delete_ended_oauth2_grants(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError>;
}

/// Everything OAuth 2.0 keeps.
pub trait OAuth2Store: OAuth2ClientStore + AuthorizationCodeStore + OAuth2TokenStore {}

impl<T> OAuth2Store for T where T: OAuth2ClientStore + AuthorizationCodeStore + OAuth2TokenStore {}
