//! Access tokens: revocation by each selector and the list of live grants.

use crate::support::*;
use chrono::Duration;
use latchkey_core::oauth1::records::RevocationSelector;
use latchkey_core::oauth1::store::AccessTokenStore;
use latchkey_core::records::AuditAction;
use std::sync::Arc;

pub async fn revocation_selectors_count_only_live_tokens_and_audit_only_real_revocations(
    store: Arc<SeaStore>,
) {
    let now = now();
    let hour = now + Duration::hours(1);
    insert_consumer(&store, "c-a").await;
    insert_consumer(&store, "c-b").await;
    let alice_a1 = issue_access_token(&store, "c-a", "alice", now, hour).await;
    let alice_a2 = issue_access_token(&store, "c-a", "alice", now, hour).await;
    let alice_expired = issue_access_token(&store, "c-a", "alice", now, now).await;
    let alice_b = issue_access_token(&store, "c-b", "alice", now, hour).await;
    let bob_a = issue_access_token(&store, "c-a", "bob", now, hour).await;
    let revoked = audit(AuditAction::AccessTokensRevoked);
    let revoke = |selector: RevocationSelector| {
        let store = store.clone();
        let revoked = revoked.clone();
        async move {
            store
                .revoke_access_tokens(&selector, now, &revoked)
                .await
                .unwrap()
        }
    };

    assert_eq!(revoke(RevocationSelector::Token(alice_a1.id)).await, 1);
    assert_eq!(revoke(RevocationSelector::Token(alice_a1.id)).await, 0);
    assert_eq!(revoke(RevocationSelector::Token(alice_expired.id)).await, 0);
    let alice_on_a = RevocationSelector::UserGrants {
        user_id: "alice".to_owned(),
        consumer_key: "c-a".to_owned(),
    };
    assert_eq!(revoke(alice_on_a.clone()).await, 1);
    assert_eq!(revoke(alice_on_a).await, 0);
    assert_eq!(
        revoke(RevocationSelector::Consumer("c-a".to_owned())).await,
        1
    );
    assert_eq!(
        revoke(RevocationSelector::Consumer("c-a".to_owned())).await,
        0
    );

    for (token, expect_revoked) in [
        (&alice_a1, true),
        (&alice_a2, true),
        (&bob_a, true),
        (&alice_expired, false),
        (&alice_b, false),
    ] {
        let stored = store.get_access_token(token.id).await.unwrap().unwrap();
        assert_eq!(
            stored.revoked_at,
            expect_revoked.then_some(now),
            "{}",
            token.user_id
        );
    }
    assert_eq!(
        count_audit(&store, AuditAction::AccessTokensRevoked).await,
        3
    );
}

pub async fn live_grants_exclude_revoked_and_expired_tokens_and_list_the_newest_first(
    store: Arc<SeaStore>,
) {
    let now = now();
    let hour = now + Duration::hours(1);
    insert_consumer(&store, "c-a").await;
    insert_consumer(&store, "c-b").await;
    let oldest = issue_access_token(&store, "c-a", "alice", now - Duration::seconds(3), hour).await;
    let newer = issue_access_token(&store, "c-b", "alice", now - Duration::seconds(2), hour).await;
    let revoked =
        issue_access_token(&store, "c-a", "alice", now - Duration::seconds(1), hour).await;
    issue_access_token(&store, "c-a", "alice", now, now).await; // expired at `now`
    issue_access_token(&store, "c-a", "bob", now, hour).await;
    let selector = RevocationSelector::Token(revoked.id);
    let revocation = audit(AuditAction::AccessTokensRevoked);
    store
        .revoke_access_tokens(&selector, now, &revocation)
        .await
        .unwrap();

    let grants = store.list_live_grants("alice", now).await.unwrap();
    let seen: Vec<_> = grants
        .iter()
        .map(|g| {
            (
                g.token_id,
                g.consumer_key.as_str(),
                g.consumer_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (newer.id, "c-b", "Consumer c-b"),
            (oldest.id, "c-a", "Consumer c-a")
        ]
    );
    assert_eq!(grants[0].times.created_at, newer.created_at);
    assert_eq!(grants[0].times.expires_at, hour);
    assert_eq!(grants[0].times.last_used_at, newer.created_at);
    assert_eq!(grants[0].consumer_idle_seconds, Some(86400));
    assert!(
        store
            .list_live_grants("carol", now)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_consumers_live_tokens_are_listed_newest_first_up_to_the_limit(store: Arc<SeaStore>) {
    let now = now();
    let hour = now + Duration::hours(1);
    insert_consumer(&store, "c-a").await;
    insert_consumer(&store, "c-b").await;
    let oldest = issue_access_token(&store, "c-a", "alice", now - Duration::seconds(3), hour).await;
    let newer = issue_access_token(&store, "c-a", "bob", now - Duration::seconds(2), hour).await;
    let revoked =
        issue_access_token(&store, "c-a", "carol", now - Duration::seconds(1), hour).await;
    issue_access_token(&store, "c-a", "dave", now, now).await; // expired at `now`
    issue_access_token(&store, "c-b", "alice", now, hour).await; // another consumer's
    store
        .revoke_access_tokens(
            &RevocationSelector::Token(revoked.id),
            now,
            &audit(AuditAction::AccessTokensRevoked),
        )
        .await
        .unwrap();

    let tokens = store
        .list_live_consumer_tokens("c-a", now, 10)
        .await
        .unwrap();
    let seen: Vec<_> = tokens
        .iter()
        .map(|t| (t.token_id, t.user_id.as_str()))
        .collect();
    assert_eq!(seen, [(newer.id, "bob"), (oldest.id, "alice")]);
    assert_eq!(tokens[0].times.created_at, newer.created_at);
    assert_eq!(tokens[0].times.expires_at, hour);
    assert_eq!(tokens[0].times.last_used_at, newer.created_at);

    let first = store
        .list_live_consumer_tokens("c-a", now, 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].token_id, newer.id);
    assert!(
        store
            .list_live_consumer_tokens("c-none", now, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
