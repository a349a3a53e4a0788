//! OAuth 2.0 clients and authorization codes, in memory.

use super::{MemoryStore, Tables, ended_keys, missing_parent, remove_all};
use crate::error::StoreError;
use crate::oauth2::records::{
    AuthorizationCodeRecord, OAuth2ClientRecord, OAuth2GrantRecord, OAuth2TokenRecord,
};
use crate::oauth2::store::{AuthorizationCodeStore, OAuth2ClientStore};
use crate::records::AuditEvent;
use crate::secret::TokenHash;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Whether `tokens` may be inserted into `grant_id`: each names that grant, and no id
/// or hash is taken (the grant itself is checked by the caller).
pub(super) fn check_token_inserts(
    t: &Tables,
    grant_id: Uuid,
    tokens: &[OAuth2TokenRecord],
) -> Result<(), StoreError> {
    if tokens.iter().any(|token| token.grant_id != grant_id) {
        return Err(missing_parent("grant for the token"));
    }
    for (index, token) in tokens.iter().enumerate() {
        let taken = t
            .oauth2_tokens
            .values()
            .chain(&tokens[..index])
            .any(|held| held.id == token.id || held.token_hash == token.token_hash);
        if taken {
            return Err(StoreError::Conflict(
                "an OAuth 2.0 token with this id or hash exists".into(),
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl OAuth2ClientStore for MemoryStore {
    async fn insert_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|t| {
            if t.oauth2_clients.contains_key(&client.client_id) {
                return Err(StoreError::Conflict(
                    "an OAuth 2.0 client with this id exists".into(),
                ));
            }
            t.oauth2_clients
                .insert(client.client_id.clone(), client.clone());
            t.audit.push(audit.clone());
            Ok(())
        })
    }

    async fn get_oauth2_client(
        &self,
        client_id: &str,
    ) -> Result<Option<OAuth2ClientRecord>, StoreError> {
        Ok(self.read(|t| t.oauth2_clients.get(client_id).cloned()))
    }

    async fn update_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.write(|t| {
            let Some(stored) = t.oauth2_clients.get_mut(&client.client_id) else {
                return Ok(false);
            };
            *stored = client.clone();
            t.audit.push(audit.clone());
            Ok(true)
        })
    }

    async fn delete_oauth2_client(
        &self,
        client_id: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        self.write(|t| {
            if t.oauth2_clients.remove(client_id).is_none() {
                return Ok(None);
            }
            let before = t.oauth2_tokens.len();
            t.oauth2_tokens
                .retain(|_, token| token.client_id != client_id);
            let tokens = (before - t.oauth2_tokens.len()) as u64;
            t.grants.retain(|_, grant| grant.client_id != client_id);
            t.codes.retain(|_, code| code.client_id != client_id);
            t.audit.push(audit.clone());
            Ok(Some(tokens))
        })
    }
}

#[async_trait]
impl AuthorizationCodeStore for MemoryStore {
    async fn insert_authorization_code(
        &self,
        code: &AuthorizationCodeRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|t| {
            if !t.oauth2_clients.contains_key(&code.client_id) {
                return Err(missing_parent("client for the code"));
            }
            let taken = t
                .codes
                .values()
                .any(|held| held.id == code.id || held.code_hash == code.code_hash);
            if taken {
                return Err(StoreError::Conflict(
                    "a code with this id or hash exists".into(),
                ));
            }
            t.codes.insert(code.id, code.clone());
            t.audit.push(audit.clone());
            Ok(())
        })
    }

    async fn find_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        Ok(self.read(|t| {
            t.codes
                .values()
                .find(|code| code.code_hash == *hash)
                .cloned()
        }))
    }

    async fn redeem_authorization_code(
        &self,
        code_id: Uuid,
        now: DateTime<Utc>,
        grant: &OAuth2GrantRecord,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.write(|t| {
            let redeemable = t
                .codes
                .get(&code_id)
                .is_some_and(|code| code.redeemed_at.is_none() && code.expires_at > now);
            if !redeemable {
                return Ok(false);
            }
            if !t.oauth2_clients.contains_key(&grant.client_id) {
                return Err(missing_parent("client for the grant"));
            }
            if t.grants.contains_key(&grant.id) {
                return Err(StoreError::Conflict("a grant with this id exists".into()));
            }
            check_token_inserts(t, grant.id, tokens)?;
            if let Some(code) = t.codes.get_mut(&code_id) {
                code.redeemed_at = Some(now);
                code.grant_id = Some(grant.id);
            }
            t.grants.insert(grant.id, grant.clone());
            for token in tokens {
                t.oauth2_tokens.insert(token.id, token.clone());
            }
            t.audit.push(audit.clone());
            Ok(true)
        })
    }

    async fn delete_authorization_codes_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let expired = ended_keys(&t.codes, limit, |code| code.expires_at <= by);
            Ok(remove_all(&mut t.codes, expired))
        })
    }
}
