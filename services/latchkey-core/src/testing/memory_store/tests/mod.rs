//! The memory store keeps the contract where the use cases cannot show it: they check
//! a guard before they call the store, so a guard the store forgot would go unseen.
#![allow(clippy::unwrap_used)]

mod oauth1;
mod oauth2;

use super::MemoryStore;
use crate::records::{AuditAction, AuditEvent};
use crate::store::{SweepJob, SweepStore};
use chrono::{DateTime, Duration, TimeZone, Utc};

pub(super) fn at(minutes: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_900_000_000, 0).unwrap() + Duration::minutes(minutes)
}

pub(super) fn audit(action: AuditAction) -> AuditEvent {
    AuditEvent {
        at: at(0),
        action,
        actor: "test".into(),
        consumer_key: None,
        user_id: None,
        token_id: None,
        detail: String::new(),
    }
}

#[tokio::test]
async fn a_sweep_lock_is_held_once_until_its_lease_is_released_or_dropped() {
    let store = MemoryStore::new();
    let lease = store.try_lock_sweep(SweepJob::Nonces).await.unwrap();
    assert!(lease.is_some());
    assert!(
        store
            .try_lock_sweep(SweepJob::Nonces)
            .await
            .unwrap()
            .is_none()
    );
    let other = store.try_lock_sweep(SweepJob::AccessTokens).await.unwrap();
    assert!(other.is_some(), "each job has its own lock");
    lease.unwrap().release().await.unwrap();
    let again = store.try_lock_sweep(SweepJob::Nonces).await.unwrap();
    assert!(again.is_some());
    drop(again);
    assert!(
        store
            .try_lock_sweep(SweepJob::Nonces)
            .await
            .unwrap()
            .is_some()
    );
}
