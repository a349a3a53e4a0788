//! Consumers: registration, paging, replacement, deletion with their tokens; and the
//! schema itself (migrations, time precision).

use crate::support::*;
use chrono::{Duration, TimeZone, Utc};
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::SignatureMethod;
use latchkey_core::oauth1::records::ConsumerRecord;
use latchkey_core::oauth1::store::{
    AccessTokenStore, ConsumerStore, NonceStore, RequestTokenStore,
};
use latchkey_core::records::AuditAction;
use latchkey_core::store::Store;
use latchkey_migrations::{Migrator, MigratorTrait};
use std::sync::Arc;

pub async fn migrations_leave_nothing_pending_and_the_database_answers_pings(store: Arc<SeaStore>) {
    assert_eq!(store.pending_migrations().await.unwrap(), 0);
    // Running them again is a no-op, as at every start of every replica.
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

/// An operator who rolls a release back runs the migrations down: each must undo
/// itself on both backends, and the schema the migrations then rebuild must work.
pub async fn every_migration_rolls_back_and_applies_again(store: Arc<SeaStore>) {
    let db = store.connection();
    let redundant = "idx_access_tokens_consumer_key";
    assert!(!has_index(&store, redundant).await);
    assert!(has_table(&store, "access_tokens").await);
    assert!(has_column(&store, "consumers", "two_legged_allowed").await);

    // The newest first: the incoming-link settings, then the index drop.
    Migrator::down(db, Some(1)).await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 1);
    assert!(!has_column(&store, "consumers", "two_legged_allowed").await);
    assert!(!has_column(&store, "consumers", "two_legged_impersonation").await);
    Migrator::down(db, Some(1)).await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 2);
    assert!(has_index(&store, redundant).await);

    Migrator::down(db, None).await.unwrap();
    assert_eq!(
        store.pending_migrations().await.unwrap(),
        Migrator::migrations().len()
    );
    assert!(!has_table(&store, "access_tokens").await);

    Migrator::up(db, None).await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 0);
    assert!(!has_index(&store, redundant).await);
    assert!(has_column(&store, "consumers", "two_legged_execute_as").await);
    insert_consumer(&store, "c-after").await;
    let token =
        issue_access_token(&store, "c-after", "alice", now(), now() + Duration::days(1)).await;
    assert_eq!(
        store.find_access_token(&token.token_hash).await.unwrap(),
        Some(token)
    );
}

pub async fn consumers_are_inserted_read_listed_in_pages_updated_and_deleted_with_their_tokens(
    store: Arc<SeaStore>,
) {
    let now = now();
    for key in ["c-a", "c-b", "c-c", "c-d", "c-e"] {
        store
            .insert_consumer(&consumer(key), &audit(AuditAction::ConsumerRegistered))
            .await
            .unwrap();
    }
    assert_eq!(
        store.get_consumer("c-a").await.unwrap(),
        Some(consumer("c-a"))
    );
    assert_eq!(store.get_consumer("nobody").await.unwrap(), None);

    let keys = |page: Vec<ConsumerRecord>| page.into_iter().map(|c| c.key).collect::<Vec<_>>();
    assert_eq!(
        keys(store.list_consumers(None, 2).await.unwrap()),
        ["c-a", "c-b"]
    );
    assert_eq!(
        keys(store.list_consumers(Some("c-b"), 2).await.unwrap()),
        ["c-c", "c-d"]
    );
    assert_eq!(
        keys(store.list_consumers(Some("c-d"), 2).await.unwrap()),
        ["c-e"]
    );
    assert!(store.list_consumers(None, 0).await.unwrap().is_empty());
    assert_eq!(store.list_consumers(None, u64::MAX).await.unwrap().len(), 5);

    let mut changed = consumer("c-b");
    changed.name = "Renamed".to_owned();
    changed.callback_url = None;
    changed.shared_secret = None;
    changed.signature_methods = vec![SignatureMethod::HmacSha1];
    changed.access_token_ttl_seconds = None;
    changed.access_token_idle_seconds = None;
    changed.enabled = false;
    changed.updated_at = now + Duration::seconds(5);
    let updated = store
        .update_consumer(&changed, None, &audit(AuditAction::ConsumerUpdated))
        .await
        .unwrap();
    assert_eq!(updated, Some(0));
    assert_eq!(store.get_consumer("c-b").await.unwrap(), Some(changed));
    let mut ghost = consumer("ghost");
    ghost.name = "Nobody".to_owned();
    let updated = store
        .update_consumer(&ghost, None, &audit(AuditAction::ConsumerUpdated))
        .await
        .unwrap();
    assert_eq!(updated, None);
    assert_eq!(count_audit(&store, AuditAction::ConsumerUpdated).await, 1);

    // c-a gets two access tokens, a pending request token and a nonce.
    let first = issue_access_token(&store, "c-a", "alice", now, now + Duration::hours(1)).await;
    let second = issue_access_token(&store, "c-a", "bob", now, now + Duration::hours(1)).await;
    let pending = request_token("c-a", now + Duration::minutes(10));
    insert_request_token(&store, &pending).await;
    assert!(store.use_nonce(&nonce("c-a", "n-1"), now).await.unwrap());
    // c-b's token must survive c-a's deletion.
    let other = issue_access_token(&store, "c-b", "alice", now, now + Duration::hours(1)).await;

    let deleted = store
        .delete_consumer("c-a", &audit(AuditAction::ConsumerDeleted))
        .await
        .unwrap();
    assert_eq!(deleted, Some(2));
    assert_eq!(store.get_consumer("c-a").await.unwrap(), None);
    assert_eq!(store.get_access_token(first.id).await.unwrap(), None);
    assert_eq!(store.get_access_token(second.id).await.unwrap(), None);
    assert_eq!(
        store.find_request_token(&pending.token_hash).await.unwrap(),
        None
    );
    assert!(store.get_access_token(other.id).await.unwrap().is_some());
    assert_eq!(count_rows(&store, "nonces").await, 0);
    assert_eq!(count_rows(&store, "request_tokens").await, 1); // c-b's, now exchanged
    let deleted_again = store
        .delete_consumer("c-a", &audit(AuditAction::ConsumerDeleted))
        .await
        .unwrap();
    assert_eq!(deleted_again, None);
    // The log outlives the consumer, and a failed deletion wrote no line.
    assert_eq!(count_audit(&store, AuditAction::ConsumerDeleted).await, 1);
    assert_eq!(
        count_audit(&store, AuditAction::ConsumerRegistered).await,
        5
    );
}

pub async fn inserting_a_consumer_with_a_taken_key_is_a_conflict_and_writes_no_audit_line(
    store: Arc<SeaStore>,
) {
    let registered = audit(AuditAction::ConsumerRegistered);
    store
        .insert_consumer(&consumer("dup"), &registered)
        .await
        .unwrap();
    let mut again = consumer("dup");
    again.name = "Impostor".to_owned();
    let err = store
        .insert_consumer(&again, &registered)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.get_consumer("dup").await.unwrap(),
        Some(consumer("dup"))
    );
    assert_eq!(
        count_audit(&store, AuditAction::ConsumerRegistered).await,
        1
    );
}

pub async fn times_round_trip_with_millisecond_precision(store: Arc<SeaStore>) {
    // Sub-millisecond digits are dropped, never rounded up; instants before 1970 and
    // far in the future survive too.
    let precise = Utc.timestamp_opt(1_795_000_000, 123_456_789).unwrap();
    let before_epoch = Utc.timestamp_opt(-1, 999_000_000).unwrap();
    let far = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    let mut record = consumer("times");
    record.created_at = before_epoch;
    record.updated_at = precise;
    store
        .insert_consumer(&record, &audit(AuditAction::ConsumerRegistered))
        .await
        .unwrap();
    let stored = store.get_consumer("times").await.unwrap().unwrap();
    assert_eq!(stored.created_at, before_epoch);
    assert_eq!(
        stored.updated_at,
        Utc.timestamp_opt(1_795_000_000, 123_000_000).unwrap()
    );
    assert_eq!(stored.updated_at.timestamp_subsec_nanos(), 123_000_000);

    let mut token = request_token("times", far);
    token.created_at = precise;
    insert_request_token(&store, &token).await;
    let stored = store
        .find_request_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.expires_at, far);
    assert_eq!(
        stored.created_at.timestamp_millis(),
        precise.timestamp_millis()
    );
}
