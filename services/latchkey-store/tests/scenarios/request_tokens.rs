//! Request tokens: one decision, one exchange, a bounded number of wrong verifiers.

use crate::support::*;
use chrono::Duration;
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::records::{RequestTokenDecision, RequestTokenState};
use latchkey_core::oauth1::store::{AccessTokenStore, RequestTokenStore};
use latchkey_core::records::AuditAction;
use latchkey_core::secret::TokenHash;
use std::sync::Arc;
use uuid::Uuid;

pub async fn a_pending_request_token_is_decided_once_and_an_expired_one_never(
    store: Arc<SeaStore>,
) {
    let now = now();
    insert_consumer(&store, "c-1").await;
    let token = request_token("c-1", now + Duration::minutes(10));
    insert_request_token(&store, &token).await;
    let approve = RequestTokenDecision::Approve {
        user_id: "alice".to_owned(),
        verifier_hash: TokenHash::of("verifier"),
    };
    let deny = RequestTokenDecision::Deny {
        user_id: "mallory".to_owned(),
    };

    let approved = audit(AuditAction::RequestTokenApproved);
    assert!(
        store
            .decide_request_token(token.id, &approve, now, &approved)
            .await
            .unwrap()
    );
    let denied = audit(AuditAction::RequestTokenDenied);
    assert!(
        !store
            .decide_request_token(token.id, &deny, now, &denied)
            .await
            .unwrap()
    );
    let stored = store
        .find_request_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, RequestTokenState::Approved);
    assert_eq!(stored.user_id.as_deref(), Some("alice"));
    assert_eq!(stored.verifier_hash, Some(TokenHash::of("verifier")));
    assert_eq!(stored.decided_at, Some(now));

    let refused = request_token("c-1", now + Duration::minutes(10));
    insert_request_token(&store, &refused).await;
    assert!(
        store
            .decide_request_token(refused.id, &deny, now, &denied)
            .await
            .unwrap()
    );
    let stored = store
        .find_request_token(&refused.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, RequestTokenState::Denied);
    assert_eq!(stored.user_id.as_deref(), Some("mallory"));
    assert_eq!(stored.verifier_hash, None);

    // Expiry is `expires_at > now`: at the very instant it ends, it is over.
    let expired = request_token("c-1", now);
    insert_request_token(&store, &expired).await;
    assert!(
        !store
            .decide_request_token(expired.id, &approve, now, &approved)
            .await
            .unwrap()
    );
    let stored = store
        .find_request_token(&expired.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, RequestTokenState::Pending);
    assert!(
        !store
            .decide_request_token(Uuid::new_v4(), &approve, now, &approved)
            .await
            .unwrap()
    );

    assert_eq!(
        count_audit(&store, AuditAction::RequestTokenApproved).await,
        1
    );
    assert_eq!(
        count_audit(&store, AuditAction::RequestTokenDenied).await,
        1
    );
}

pub async fn thirty_concurrent_exchanges_of_one_request_token_yield_exactly_one_access_token(
    store: Arc<SeaStore>,
) {
    let now = now();
    insert_consumer(&store, "c-1").await;
    let token = approved_request_token(&store, "c-1", "alice", now).await;
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let store = store.clone();
            let access = access_token("c-1", "alice", token.id, now, now + Duration::hours(1));
            tokio::spawn(async move {
                let issued = audit(AuditAction::AccessTokenIssued);
                let won = store
                    .exchange_request_token(token.id, now, &access, &issued)
                    .await
                    .unwrap();
                (won, access)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (won, access) = task.await.unwrap();
        if won {
            winners.push(access);
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(count_rows(&store, "access_tokens").await, 1);
    assert_eq!(count_audit(&store, AuditAction::AccessTokenIssued).await, 1);
    let winner = &winners[0];
    assert_eq!(
        store.get_access_token(winner.id).await.unwrap().as_ref(),
        Some(winner)
    );
    assert_eq!(
        store
            .find_access_token(&winner.token_hash)
            .await
            .unwrap()
            .as_ref(),
        Some(winner)
    );
    let stored = store
        .find_request_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, RequestTokenState::Exchanged);
}

pub async fn an_expired_or_unapproved_request_token_cannot_be_exchanged(store: Arc<SeaStore>) {
    let now = now();
    insert_consumer(&store, "c-1").await;
    let approved = approved_request_token(&store, "c-1", "alice", now).await;
    let later = approved.expires_at;
    let access = access_token("c-1", "alice", approved.id, now, now + Duration::hours(1));
    let issued = audit(AuditAction::AccessTokenIssued);
    assert!(
        !store
            .exchange_request_token(approved.id, later, &access, &issued)
            .await
            .unwrap()
    );

    let pending = request_token("c-1", now + Duration::minutes(10));
    insert_request_token(&store, &pending).await;
    let access = access_token("c-1", "alice", pending.id, now, now + Duration::hours(1));
    assert!(
        !store
            .exchange_request_token(pending.id, now, &access, &issued)
            .await
            .unwrap()
    );

    assert_eq!(count_rows(&store, "access_tokens").await, 0);
    assert_eq!(count_audit(&store, AuditAction::AccessTokenIssued).await, 0);
    let stored = store
        .find_request_token(&approved.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, RequestTokenState::Approved);
}

pub async fn wrong_verifiers_are_counted_and_kill_the_token_at_the_maximum(store: Arc<SeaStore>) {
    let now = now();
    insert_consumer(&store, "c-1").await;
    let token = approved_request_token(&store, "c-1", "alice", now).await;
    let rejected = audit(AuditAction::VerifierRejected);
    assert_eq!(
        store
            .record_verifier_failure(token.id, 3, &rejected)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .record_verifier_failure(token.id, 3, &rejected)
            .await
            .unwrap(),
        2
    );
    let stored = store
        .find_request_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.state, stored.verifier_failures),
        (RequestTokenState::Approved, 2)
    );
    assert_eq!(
        store
            .record_verifier_failure(token.id, 3, &rejected)
            .await
            .unwrap(),
        3
    );
    let stored = store
        .find_request_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.state, stored.verifier_failures),
        (RequestTokenState::Dead, 3)
    );
    // Dead is final: nothing more is counted and it cannot be exchanged.
    assert_eq!(
        store
            .record_verifier_failure(token.id, 3, &rejected)
            .await
            .unwrap(),
        0
    );
    let access = access_token("c-1", "alice", token.id, now, now + Duration::hours(1));
    let issued = audit(AuditAction::AccessTokenIssued);
    assert!(
        !store
            .exchange_request_token(token.id, now, &access, &issued)
            .await
            .unwrap()
    );

    let pending = request_token("c-1", now + Duration::minutes(10));
    insert_request_token(&store, &pending).await;
    assert_eq!(
        store
            .record_verifier_failure(pending.id, 3, &rejected)
            .await
            .unwrap(),
        0
    );

    assert_eq!(count_audit(&store, AuditAction::VerifierRejected).await, 3);
    assert_eq!(
        count_audit(&store, AuditAction::RequestTokenKilled).await,
        1
    );
}

/// Each write of the dance commits with exactly its audit line, and a write that fails
/// leaves neither: the row is read back whole, a refused write adds no line, and an
/// exchange whose access token cannot be inserted does not spend the request token.
pub async fn each_dance_write_commits_with_its_audit_line_or_not_at_all(store: Arc<SeaStore>) {
    let now = now();
    insert_consumer(&store, "c-1").await;
    let token = request_token("c-1", now + Duration::minutes(10));
    insert_request_token(&store, &token).await;
    assert_eq!(
        store
            .find_request_token(&token.token_hash)
            .await
            .unwrap()
            .as_ref(),
        Some(&token)
    );
    assert_eq!(
        count_audit(&store, AuditAction::RequestTokenIssued).await,
        1
    );

    let again = store
        .insert_request_token(&token, &audit(AuditAction::RequestTokenIssued))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        count_audit(&store, AuditAction::RequestTokenIssued).await,
        1
    );

    let approve = RequestTokenDecision::Approve {
        user_id: "alice".to_owned(),
        verifier_hash: TokenHash::of("verifier"),
    };
    let approved = audit(AuditAction::RequestTokenApproved);
    assert!(
        store
            .decide_request_token(token.id, &approve, now, &approved)
            .await
            .unwrap()
    );
    let stored = store
        .find_request_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.state,
            stored.user_id.as_deref(),
            stored.verifier_hash,
            stored.decided_at
        ),
        (
            RequestTokenState::Approved,
            Some("alice"),
            Some(TokenHash::of("verifier")),
            Some(now)
        )
    );

    // An access token whose hash another token already has cannot be inserted: the
    // exchange fails whole, and the request token can still be exchanged.
    let other = issue_access_token(&store, "c-1", "bob", now, now + Duration::hours(1)).await;
    let mut clash = access_token("c-1", "alice", token.id, now, now + Duration::hours(1));
    clash.token_hash = other.token_hash;
    let issued = audit(AuditAction::AccessTokenIssued);
    let lines_before = count_audit(&store, AuditAction::AccessTokenIssued).await;
    let clashed = store
        .exchange_request_token(token.id, now, &clash, &issued)
        .await;
    assert!(
        matches!(clashed, Err(StoreError::Conflict(_))),
        "{clashed:?}"
    );
    assert_eq!(store.get_access_token(clash.id).await.unwrap(), None);
    assert_eq!(
        count_audit(&store, AuditAction::AccessTokenIssued).await,
        lines_before
    );
    let access = access_token("c-1", "alice", token.id, now, now + Duration::hours(1));
    assert!(
        store
            .exchange_request_token(token.id, now, &access, &issued)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_access_token(access.id).await.unwrap().as_ref(),
        Some(&access)
    );
    assert_eq!(
        count_audit(&store, AuditAction::AccessTokenIssued).await,
        lines_before + 1
    );
}
