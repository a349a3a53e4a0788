//! OAuth 1.0a consumers and nonces, in memory.

use super::{MemoryStore, ended_keys, remove_all};
use crate::error::StoreError;
use crate::oauth1::records::{ConsumerRecord, NonceRecord};
use crate::oauth1::store::{ConsumerStore, NonceStore};
use crate::records::AuditEvent;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

#[async_trait]
impl ConsumerStore for MemoryStore {
    async fn insert_consumer(
        &self,
        consumer: &ConsumerRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|t| {
            if t.consumers.contains_key(&consumer.key) {
                return Err(StoreError::Conflict(
                    "a consumer with this key already exists".into(),
                ));
            }
            t.consumers.insert(consumer.key.clone(), consumer.clone());
            t.audit.push(audit.clone());
            Ok(())
        })
    }

    async fn get_consumer(&self, key: &str) -> Result<Option<ConsumerRecord>, StoreError> {
        Ok(self.read(|t| t.consumers.get(key).cloned()))
    }

    async fn list_consumers(
        &self,
        after_key: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ConsumerRecord>, StoreError> {
        Ok(self.read(|t| {
            t.consumers
                .values()
                .filter(|c| after_key.is_none_or(|after| c.key.as_str() > after))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .cloned()
                .collect()
        }))
    }

    async fn update_consumer(
        &self,
        consumer: &ConsumerRecord,
        shorten_issued_to: Option<Duration>,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        self.write(|t| {
            let Some(stored) = t.consumers.get_mut(&consumer.key) else {
                return Ok(None);
            };
            *stored = consumer.clone();
            let mut shortened = 0;
            if let Some(ttl) = shorten_issued_to {
                for token in t.access_tokens.values_mut().filter(|token| {
                    token.consumer_key == consumer.key && token.revoked_at.is_none()
                }) {
                    let cut = token.created_at + ttl;
                    if token.expires_at > cut {
                        token.expires_at = cut;
                        shortened += 1;
                    }
                }
            }
            t.audit.push(audit.clone());
            Ok(Some(shortened))
        })
    }

    async fn delete_consumer(
        &self,
        key: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        self.write(|t| {
            if t.consumers.remove(key).is_none() {
                return Ok(None);
            }
            t.nonces.retain(|(consumer, _), _| consumer != key);
            t.request_tokens
                .retain(|_, token| token.consumer_key != key);
            let before = t.access_tokens.len();
            t.access_tokens.retain(|_, token| token.consumer_key != key);
            let tokens = (before - t.access_tokens.len()) as u64;
            t.audit.push(audit.clone());
            Ok(Some(tokens))
        })
    }
}

#[async_trait]
impl NonceStore for MemoryStore {
    async fn use_nonce(&self, nonce: &NonceRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.write(|t| {
            if !t.consumers.contains_key(&nonce.consumer_key) {
                return Err(super::missing_parent("consumer for the nonce"));
            }
            let key = (nonce.consumer_key.clone(), nonce.nonce.clone());
            if t.nonces.get(&key).is_some_and(|used| used.expires_at > now) {
                return Ok(false);
            }
            t.nonces.insert(key, nonce.clone());
            Ok(true)
        })
    }

    async fn delete_expired_nonces(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        self.write(|t| {
            let expired = ended_keys(&t.nonces, limit, |n| n.expires_at <= now);
            Ok(remove_all(&mut t.nonces, expired))
        })
    }
}
