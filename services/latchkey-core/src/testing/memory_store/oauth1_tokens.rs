//! OAuth 1.0a request and access tokens, in memory.

use super::{MemoryStore, Tables, ended_keys, missing_parent, remove_all};
use crate::error::StoreError;
use crate::oauth1::records::{
    AccessTokenRecord, ConsumerTokenRecord, EndedAccessTokens, GrantRecord, RequestTokenDecision,
    RequestTokenRecord, RequestTokenState, RevocationSelector,
};
use crate::oauth1::store::{AccessTokenStore, RequestTokenStore};
use crate::records::{AuditAction, AuditEvent};
use crate::secret::TokenHash;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Whether `access` may be inserted: its consumer and request token exist, and its id,
/// hash and request token are all unused.
fn check_access_token_insert(t: &Tables, access: &AccessTokenRecord) -> Result<(), StoreError> {
    if !t.consumers.contains_key(&access.consumer_key) {
        return Err(missing_parent("consumer for the access token"));
    }
    if !t.request_tokens.contains_key(&access.request_token_id) {
        return Err(missing_parent("request token for the access token"));
    }
    let taken = t.access_tokens.values().any(|token| {
        token.id == access.id
            || token.token_hash == access.token_hash
            || token.request_token_id == access.request_token_id
    });
    if taken {
        return Err(StoreError::Conflict(
            "an access token with this id, hash or request token exists".into(),
        ));
    }
    Ok(())
}

/// Whether a live token (not revoked, `expires_at > now`) is one `selector` names.
fn selected(selector: &RevocationSelector, token: &AccessTokenRecord) -> bool {
    match selector {
        RevocationSelector::Token(id) => token.id == *id,
        RevocationSelector::UserGrants {
            user_id,
            consumer_key,
        } => token.user_id == *user_id && token.consumer_key == *consumer_key,
        RevocationSelector::Consumer(key) => token.consumer_key == *key,
    }
}

fn live(token: &AccessTokenRecord, now: DateTime<Utc>) -> bool {
    token.revoked_at.is_none() && token.expires_at > now
}

/// Newest first: by `created_at`, then by id.
fn newest_first(tokens: &mut [&AccessTokenRecord]) {
    tokens.sort_by_key(|token| std::cmp::Reverse((token.created_at, token.id)));
}

#[async_trait]
impl RequestTokenStore for MemoryStore {
    async fn insert_request_token(
        &self,
        token: &RequestTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|t| {
            if !t.consumers.contains_key(&token.consumer_key) {
                return Err(missing_parent("consumer for the request token"));
            }
            let taken = t
                .request_tokens
                .values()
                .any(|held| held.id == token.id || held.token_hash == token.token_hash);
            if taken {
                return Err(StoreError::Conflict(
                    "a request token with this id or hash exists".into(),
                ));
            }
            t.request_tokens.insert(token.id, token.clone());
            t.audit.push(audit.clone());
            Ok(())
        })
    }

    async fn find_request_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RequestTokenRecord>, StoreError> {
        Ok(self.read(|t| {
            t.request_tokens
                .values()
                .find(|token| token.token_hash == *hash)
                .cloned()
        }))
    }

    async fn decide_request_token(
        &self,
        id: Uuid,
        decision: &RequestTokenDecision,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.write(|t| {
            let Some(token) = t.request_tokens.get_mut(&id).filter(|token| {
                token.state == RequestTokenState::Pending && token.expires_at > now
            }) else {
                return Ok(false);
            };
            match decision {
                RequestTokenDecision::Approve {
                    user_id,
                    verifier_hash,
                } => {
                    token.state = RequestTokenState::Approved;
                    token.user_id = Some(user_id.clone());
                    token.verifier_hash = Some(*verifier_hash);
                }
                RequestTokenDecision::Deny { user_id } => {
                    token.state = RequestTokenState::Denied;
                    token.user_id = Some(user_id.clone());
                }
            }
            token.decided_at = Some(now);
            t.audit.push(audit.clone());
            Ok(true)
        })
    }

    async fn record_verifier_failure(
        &self,
        id: Uuid,
        max_failures: u32,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError> {
        self.write(|t| {
            let Some(token) = t
                .request_tokens
                .get_mut(&id)
                .filter(|token| token.state == RequestTokenState::Approved)
            else {
                return Ok(0);
            };
            token.verifier_failures += 1;
            let count = token.verifier_failures;
            t.audit.push(audit.clone());
            if count >= max_failures {
                token.state = RequestTokenState::Dead;
                // The second line the one change implies, as the SQL store writes it.
                t.audit.push(AuditEvent {
                    action: AuditAction::RequestTokenKilled,
                    detail: format!("killed after {count} wrong verifiers"),
                    ..audit.clone()
                });
            }
            Ok(count)
        })
    }

    async fn exchange_request_token(
        &self,
        request_token_id: Uuid,
        now: DateTime<Utc>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.write(|t| {
            let exchangeable = t
                .request_tokens
                .get(&request_token_id)
                .is_some_and(|token| {
                    token.state == RequestTokenState::Approved && token.expires_at > now
                });
            if !exchangeable {
                return Ok(false);
            }
            check_access_token_insert(t, access)?;
            if let Some(token) = t.request_tokens.get_mut(&request_token_id) {
                token.state = RequestTokenState::Exchanged;
            }
            t.access_tokens.insert(access.id, access.clone());
            t.audit.push(audit.clone());
            Ok(true)
        })
    }

    async fn delete_request_tokens_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let expired = ended_keys(&t.request_tokens, limit, |token| token.expires_at <= by);
            Ok(remove_all(&mut t.request_tokens, expired))
        })
    }
}

#[async_trait]
impl AccessTokenStore for MemoryStore {
    async fn find_access_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        Ok(self.read(|t| {
            t.access_tokens
                .values()
                .find(|token| token.token_hash == *hash)
                .cloned()
        }))
    }

    async fn get_access_token(&self, id: Uuid) -> Result<Option<AccessTokenRecord>, StoreError> {
        Ok(self.read(|t| t.access_tokens.get(&id).cloned()))
    }

    async fn revoke_access_tokens(
        &self,
        selector: &RevocationSelector,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let mut revoked = 0;
            for token in t
                .access_tokens
                .values_mut()
                .filter(|token| selected(selector, token) && live(token, now))
            {
                token.revoked_at = Some(now);
                revoked += 1;
            }
            if revoked > 0 {
                t.audit.push(audit.clone());
            }
            Ok(revoked)
        })
    }

    async fn record_access_token_use(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(|t| {
            if let Some(token) = t.access_tokens.get_mut(&id)
                && token.last_used_at < at
            {
                token.last_used_at = at;
            }
        });
        Ok(())
    }

    async fn list_live_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        Ok(self.read(|t| {
            let mut tokens: Vec<&AccessTokenRecord> = t
                .access_tokens
                .values()
                .filter(|token| token.user_id == user_id && live(token, now))
                .collect();
            newest_first(&mut tokens);
            tokens
                .into_iter()
                .filter_map(|token| {
                    let consumer = t.consumers.get(&token.consumer_key)?;
                    Some(GrantRecord {
                        token_id: token.id,
                        consumer_key: token.consumer_key.clone(),
                        consumer_name: consumer.name.clone(),
                        consumer_idle_seconds: consumer.access_token_idle_seconds,
                        times: token.times(),
                    })
                })
                .collect()
        }))
    }

    async fn list_live_consumer_tokens(
        &self,
        consumer_key: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ConsumerTokenRecord>, StoreError> {
        Ok(self.read(|t| {
            let mut tokens: Vec<&AccessTokenRecord> = t
                .access_tokens
                .values()
                .filter(|token| token.consumer_key == consumer_key && live(token, now))
                .collect();
            newest_first(&mut tokens);
            tokens
                .into_iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|token| ConsumerTokenRecord {
                    token_id: token.id,
                    user_id: token.user_id.clone(),
                    times: token.times(),
                })
                .collect()
        }))
    }

    async fn delete_ended_access_tokens(
        &self,
        which: &EndedAccessTokens,
        limit: u64,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let ended = ended_keys(&t.access_tokens, limit, |token| match which {
                EndedAccessTokens::ExpiredBy(at) => token.expires_at <= *at,
                EndedAccessTokens::RevokedBy(at) => token.revoked_at.is_some_and(|r| r <= *at),
                EndedAccessTokens::IssuedBy(at) => token.created_at <= *at,
                EndedAccessTokens::UnusedBy { consumer_key, at } => {
                    token.consumer_key == *consumer_key && token.last_used_at <= *at
                }
            });
            Ok(remove_all(&mut t.access_tokens, ended))
        })
    }
}
