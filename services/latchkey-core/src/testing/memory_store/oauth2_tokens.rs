//! OAuth 2.0 grants and their tokens, in memory.

use super::oauth2_clients::check_token_inserts;
use super::{MemoryStore, ended_keys, remove_all};
use crate::error::StoreError;
use crate::oauth2::records::{OAuth2GrantListing, OAuth2GrantRecord, OAuth2TokenRecord};
use crate::oauth2::store::OAuth2TokenStore;
use crate::records::AuditEvent;
use crate::secret::TokenHash;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[async_trait]
impl OAuth2TokenStore for MemoryStore {
    async fn find_oauth2_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<OAuth2TokenRecord>, StoreError> {
        Ok(self.read(|t| {
            t.oauth2_tokens
                .values()
                .find(|token| token.token_hash == *hash)
                .cloned()
        }))
    }

    async fn get_oauth2_grant(&self, id: Uuid) -> Result<Option<OAuth2GrantRecord>, StoreError> {
        Ok(self.read(|t| t.grants.get(&id).cloned()))
    }

    async fn rotate_refresh_token(
        &self,
        refresh_token_id: Uuid,
        grant_id: Uuid,
        now: DateTime<Utc>,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.write(|t| {
            let grant_live = t
                .grants
                .get(&grant_id)
                .is_some_and(|grant| grant.revoked_at.is_none());
            let rotatable = t.oauth2_tokens.get(&refresh_token_id).is_some_and(|token| {
                token.grant_id == grant_id
                    && token.rotated_at.is_none()
                    && token.revoked_at.is_none()
                    && token.expires_at > now
            });
            if !grant_live || !rotatable {
                return Ok(false);
            }
            check_token_inserts(t, grant_id, tokens)?;
            if let Some(grant) = t.grants.get_mut(&grant_id) {
                grant.refreshed_at = now;
            }
            if let Some(token) = t.oauth2_tokens.get_mut(&refresh_token_id) {
                token.rotated_at = Some(now);
            }
            for token in tokens {
                t.oauth2_tokens.insert(token.id, token.clone());
            }
            t.audit.push(audit.clone());
            Ok(true)
        })
    }

    async fn revoke_oauth2_grant(
        &self,
        grant_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let newly_revoked = match t.grants.get_mut(&grant_id) {
                Some(grant) if grant.revoked_at.is_none() => {
                    grant.revoked_at = Some(now);
                    true
                }
                _ => false,
            };
            let mut tokens = 0;
            for token in t
                .oauth2_tokens
                .values_mut()
                .filter(|token| token.grant_id == grant_id && token.revoked_at.is_none())
            {
                token.revoked_at = Some(now);
                tokens += 1;
            }
            if newly_revoked {
                t.audit.push(audit.clone());
            }
            Ok(tokens)
        })
    }

    async fn revoke_oauth2_token(
        &self,
        token_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let Some(token) = t
                .oauth2_tokens
                .get_mut(&token_id)
                .filter(|token| token.revoked_at.is_none())
            else {
                return Ok(0);
            };
            token.revoked_at = Some(now);
            // A change, so its audit line; a token revoked already changes nothing.
            t.audit.push(audit.clone());
            Ok(1)
        })
    }

    async fn list_live_oauth2_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OAuth2GrantListing>, StoreError> {
        Ok(self.read(|t| {
            let mut grants: Vec<&OAuth2GrantRecord> = t
                .grants
                .values()
                .filter(|grant| {
                    grant.user_id == user_id && grant.revoked_at.is_none() && grant.expires_at > now
                })
                .collect();
            grants.sort_by_key(|grant| std::cmp::Reverse((grant.created_at, grant.id)));
            grants
                .into_iter()
                .map(|grant| OAuth2GrantListing {
                    client_name: t
                        .oauth2_clients
                        .get(&grant.client_id)
                        .map(|client| client.name.clone())
                        .unwrap_or_default(),
                    grant: grant.clone(),
                })
                .collect()
        }))
    }

    async fn delete_ended_oauth2_tokens(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let ended = ended_keys(&t.oauth2_tokens, limit, |token| {
                token.expires_at <= by || token.revoked_at.is_some_and(|at| at <= by)
            });
            Ok(remove_all(&mut t.oauth2_tokens, ended))
        })
    }

    async fn delete_ended_oauth2_grants(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let ended = ended_keys(&t.grants, limit, |grant| {
                grant.expires_at <= by || grant.revoked_at.is_some_and(|at| at <= by)
            });
            Ok(remove_all(&mut t.grants, ended))
        })
    }
}
