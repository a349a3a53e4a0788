//! The core's [`OAuth2Store`] on sea-orm: only delegation to one module per table.

use crate::connect::SeaStore;
use crate::{oauth2_clients, oauth2_codes, oauth2_tokens};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use latchkey_core::oauth2::records::{
    AuthorizationCodeRecord, OAuth2ClientRecord, OAuth2GrantListing, OAuth2GrantRecord,
    OAuth2TokenRecord,
};
use latchkey_core::oauth2::store::OAuth2Store;
use latchkey_core::records::AuditEvent;
use latchkey_core::secret::TokenHash;
use latchkey_core::store::StoreError;
use uuid::Uuid;

#[async_trait]
impl OAuth2Store for SeaStore {
    async fn insert_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        oauth2_clients::insert(self, client, audit).await
    }

    async fn get_oauth2_client(
        &self,
        client_id: &str,
    ) -> Result<Option<OAuth2ClientRecord>, StoreError> {
        oauth2_clients::get(self, client_id).await
    }

    async fn update_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        oauth2_clients::update(self, client, audit).await
    }

    async fn delete_oauth2_client(
        &self,
        client_id: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        oauth2_clients::delete(self, client_id, audit).await
    }

    async fn insert_authorization_code(
        &self,
        code: &AuthorizationCodeRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        oauth2_codes::insert(self, code, audit).await
    }

    async fn find_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        oauth2_codes::find(self, hash).await
    }

    async fn redeem_authorization_code(
        &self,
        code_id: Uuid,
        now: DateTime<Utc>,
        grant: &OAuth2GrantRecord,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        oauth2_codes::redeem(self, code_id, now, grant, tokens, audit).await
    }

    async fn find_oauth2_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<OAuth2TokenRecord>, StoreError> {
        oauth2_tokens::find(self, hash).await
    }

    async fn get_oauth2_grant(&self, id: Uuid) -> Result<Option<OAuth2GrantRecord>, StoreError> {
        oauth2_tokens::get_grant(self, id).await
    }

    async fn rotate_refresh_token(
        &self,
        refresh_token_id: Uuid,
        grant_id: Uuid,
        now: DateTime<Utc>,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        oauth2_tokens::rotate(self, refresh_token_id, grant_id, now, tokens, audit).await
    }

    async fn revoke_oauth2_grant(
        &self,
        grant_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        oauth2_tokens::revoke_grant(self, grant_id, now, audit).await
    }

    async fn revoke_oauth2_token(
        &self,
        token_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        oauth2_tokens::revoke_token(self, token_id, now, audit).await
    }

    async fn list_live_oauth2_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OAuth2GrantListing>, StoreError> {
        oauth2_tokens::list_live_grants(self, user_id, now).await
    }

    async fn delete_authorization_codes_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        oauth2_codes::delete_expired_by(self, by, limit).await
    }

    async fn delete_ended_oauth2_tokens(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        oauth2_tokens::delete_ended(self, by, limit).await
    }

    async fn delete_ended_oauth2_grants(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        oauth2_tokens::delete_ended_grants(self, by, limit).await
    }
}
