//! The store contract kept in memory: plain collections behind one std `Mutex`, so
//! each method, like one database transaction, sees and changes everything at once.
//! Each method does what its trait's doc comment says and no more: a guarded
//! transition whose guard fails writes nothing, an audit event is kept exactly when
//! the change it records happens, a taken unique key is [`StoreError::Conflict`], a
//! row that names a missing parent is refused as a foreign key would refuse it.
//!
//! The lock is never held across an `await` (no method awaits), and tests read or
//! arrange state through [`MemoryStore::read`] and [`MemoryStore::write`].

mod oauth1_consumers;
mod oauth1_tokens;
mod oauth2_clients;
mod oauth2_tokens;
mod tests;

use crate::error::StoreError;
use crate::oauth1::records::{AccessTokenRecord, ConsumerRecord, NonceRecord, RequestTokenRecord};
use crate::oauth2::records::{
    AuthorizationCodeRecord, OAuth2ClientRecord, OAuth2GrantRecord, OAuth2TokenRecord,
};
use crate::records::{AuditAction, AuditEvent};
use crate::store::{Store, SweepJob, SweepLease, SweepStore};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use uuid::Uuid;

/// Everything the store keeps, as a database would: one map per table, keyed by the
/// table's primary key.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    /// By consumer key.
    pub(crate) consumers: BTreeMap<String, ConsumerRecord>,
    /// By (consumer key, nonce).
    pub(crate) nonces: BTreeMap<(String, String), NonceRecord>,
    /// By id.
    pub(crate) request_tokens: BTreeMap<Uuid, RequestTokenRecord>,
    /// By id.
    pub(crate) access_tokens: BTreeMap<Uuid, AccessTokenRecord>,
    /// By client id.
    pub(crate) oauth2_clients: BTreeMap<String, OAuth2ClientRecord>,
    /// By id.
    pub(crate) codes: BTreeMap<Uuid, AuthorizationCodeRecord>,
    /// By id.
    pub(crate) grants: BTreeMap<Uuid, OAuth2GrantRecord>,
    /// By id.
    pub(crate) oauth2_tokens: BTreeMap<Uuid, OAuth2TokenRecord>,
    /// The audit log, oldest first.
    pub(crate) audit: Vec<AuditEvent>,
}

/// An in-memory [`Store`] for unit tests.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    tables: Mutex<Tables>,
    /// The sweep jobs whose cross-replica lock is held; shared with the leases, which
    /// give theirs back when released or dropped.
    sweep_locks: Arc<Mutex<HashSet<SweepJob>>>,
}

impl MemoryStore {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Reads the tables.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Tables) -> T) -> T {
        f(&self.lock())
    }

    /// Changes the tables directly, as another replica or an operator would.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Tables) -> T) -> T {
        f(&mut self.lock())
    }

    /// The actions of the audit log, oldest first.
    pub(crate) fn audit_actions(&self) -> Vec<AuditAction> {
        self.read(|t| t.audit.iter().map(|event| event.action).collect())
    }

    /// The audit log's last event.
    pub(crate) fn last_audit(&self) -> Option<AuditEvent> {
        self.read(|t| t.audit.last().cloned())
    }

    /// A poisoned lock still holds consistent tables: every method checks before it
    /// changes anything.
    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Up to `limit` keys of `map` whose rows `ended` selects, in key order (ids are
/// time-ordered, so the oldest go first, as the SQL stores' batches take them).
fn ended_keys<K: Clone + Ord, V>(
    map: &BTreeMap<K, V>,
    limit: u64,
    ended: impl Fn(&V) -> bool,
) -> Vec<K> {
    map.iter()
        .filter(|(_, row)| ended(row))
        .map(|(key, _)| key.clone())
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
}

/// Removes `keys` from `map`; returns how many went.
fn remove_all<K: Ord, V>(map: &mut BTreeMap<K, V>, keys: Vec<K>) -> u64 {
    keys.into_iter()
        .filter(|key| map.remove(key).is_some())
        .count() as u64
}

/// What a foreign key answers when a row names a parent that does not exist.
fn missing_parent(what: &str) -> StoreError {
    StoreError::Internal(format!("foreign key: no {what}"))
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl SweepStore for MemoryStore {
    async fn try_lock_sweep(
        &self,
        job: SweepJob,
    ) -> Result<Option<Box<dyn SweepLease>>, StoreError> {
        let mut held = self
            .sweep_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !held.insert(job) {
            return Ok(None);
        }
        Ok(Some(Box::new(MemoryLease {
            locks: self.sweep_locks.clone(),
            job,
        })))
    }
}

/// A held sweep lock; gone when released or dropped.
struct MemoryLease {
    locks: Arc<Mutex<HashSet<SweepJob>>>,
    job: SweepJob,
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        self.locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.job);
    }
}

#[async_trait]
impl SweepLease for MemoryLease {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
