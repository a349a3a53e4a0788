//! Consumers, nonces, request and access tokens.

use super::{at, audit};
use crate::error::StoreError;
use crate::oauth1::records::{
    AccessTokenRecord, ConsumerRecord, NonceRecord, RequestTokenDecision, RequestTokenRecord,
    RequestTokenState, RevocationSelector,
};
use crate::oauth1::store::{AccessTokenStore, ConsumerStore, NonceStore, RequestTokenStore};
use crate::records::{AuditAction, new_record_id};
use crate::secret::{EncryptedSecret, TokenHash};
use crate::testing::MemoryStore;

fn consumer(key: &str) -> ConsumerRecord {
    ConsumerRecord {
        key: key.into(),
        name: key.into(),
        description: String::new(),
        callback_url: None,
        public_key_pem: None,
        shared_secret: None,
        signature_methods: Vec::new(),
        access_token_ttl_seconds: None,
        access_token_idle_seconds: None,
        two_legged: Default::default(),
        enabled: true,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn request_token(consumer_key: &str, state: RequestTokenState) -> RequestTokenRecord {
    let id = new_record_id();
    RequestTokenRecord {
        id,
        token_hash: TokenHash::of(&id.to_string()),
        consumer_key: consumer_key.into(),
        secret: EncryptedSecret(Vec::new()),
        callback: "oob".into(),
        state,
        user_id: None,
        verifier_hash: None,
        verifier_failures: 0,
        created_at: at(0),
        expires_at: at(10),
        decided_at: None,
    }
}

fn access_token(request: &RequestTokenRecord) -> AccessTokenRecord {
    let id = new_record_id();
    AccessTokenRecord {
        id,
        token_hash: TokenHash::of(&id.to_string()),
        consumer_key: request.consumer_key.clone(),
        user_id: "ann".into(),
        secret: EncryptedSecret(Vec::new()),
        request_token_id: request.id,
        created_at: at(0),
        expires_at: at(60),
        revoked_at: None,
        last_used_at: at(0),
    }
}

/// A store holding consumer `jira` and a request token of it in `state`.
async fn with_request_token(state: RequestTokenState) -> (MemoryStore, RequestTokenRecord) {
    let store = MemoryStore::new();
    let noted = audit(AuditAction::ConsumerRegistered);
    store
        .insert_consumer(&consumer("jira"), &noted)
        .await
        .unwrap();
    let token = request_token("jira", state);
    let issued = audit(AuditAction::RequestTokenIssued);
    store.insert_request_token(&token, &issued).await.unwrap();
    (store, token)
}

#[tokio::test]
async fn a_decision_is_recorded_only_on_a_pending_unexpired_token() {
    let deny = RequestTokenDecision::Deny {
        user_id: "ann".into(),
    };
    let decided = audit(AuditAction::RequestTokenDenied);
    for (state, now, wins) in [
        (RequestTokenState::Pending, at(9), true),
        (RequestTokenState::Pending, at(10), false),
        (RequestTokenState::Approved, at(1), false),
    ] {
        let (store, token) = with_request_token(state).await;
        let changed = store
            .decide_request_token(token.id, &deny, now, &decided)
            .await
            .unwrap();
        assert_eq!(changed, wins, "{state:?} at {now}");
        let stored = store.read(|t| t.request_tokens[&token.id].clone());
        let lines = store.audit_actions().len();
        if wins {
            assert_eq!(stored.state, RequestTokenState::Denied);
            assert_eq!(stored.decided_at, Some(now));
            assert_eq!(lines, 3);
        } else {
            assert_eq!(stored, token, "a lost guard writes nothing");
            assert_eq!(lines, 2);
        }
    }
}

#[tokio::test]
async fn an_exchange_happens_once_and_only_before_expiry() {
    let (store, token) = with_request_token(RequestTokenState::Approved).await;
    let issued = audit(AuditAction::AccessTokenIssued);
    let late = access_token(&token);
    assert!(
        !store
            .exchange_request_token(token.id, at(10), &late, &issued)
            .await
            .unwrap()
    );
    let access = access_token(&token);
    assert!(
        store
            .exchange_request_token(token.id, at(9), &access, &issued)
            .await
            .unwrap()
    );
    let again = access_token(&token);
    assert!(
        !store
            .exchange_request_token(token.id, at(9), &again, &issued)
            .await
            .unwrap()
    );
    store.read(|t| {
        assert_eq!(
            t.request_tokens[&token.id].state,
            RequestTokenState::Exchanged
        );
        assert_eq!(t.access_tokens.keys().collect::<Vec<_>>(), [&access.id]);
    });
}

#[tokio::test]
async fn a_verifier_failure_counts_only_against_an_approved_token() {
    let (store, token) = with_request_token(RequestTokenState::Pending).await;
    let rejected = audit(AuditAction::VerifierRejected);
    assert_eq!(
        store
            .record_verifier_failure(token.id, 3, &rejected)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.read(|t| t.request_tokens[&token.id].verifier_failures),
        0
    );
    assert_eq!(store.audit_actions().len(), 2);
}

#[tokio::test]
async fn a_taken_key_is_a_conflict_and_a_missing_parent_is_refused() {
    let (store, token) = with_request_token(RequestTokenState::Pending).await;
    let noted = audit(AuditAction::ConsumerRegistered);
    let taken = store.insert_consumer(&consumer("jira"), &noted).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    let same_hash = RequestTokenRecord {
        id: new_record_id(),
        ..token.clone()
    };
    let issued = audit(AuditAction::RequestTokenIssued);
    let duplicate = store.insert_request_token(&same_hash, &issued).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let orphan = request_token("nobody", RequestTokenState::Pending);
    let refused = store.insert_request_token(&orphan, &issued).await;
    assert!(
        matches!(refused, Err(StoreError::Internal(_))),
        "{refused:?}"
    );
    assert_eq!(store.audit_actions().len(), 2);
}

#[tokio::test]
async fn a_revocation_writes_its_audit_line_only_when_it_revoked_something() {
    let (store, token) = with_request_token(RequestTokenState::Approved).await;
    let access = access_token(&token);
    let issued = audit(AuditAction::AccessTokenIssued);
    store
        .exchange_request_token(token.id, at(1), &access, &issued)
        .await
        .unwrap();
    let revoked = audit(AuditAction::AccessTokensRevoked);
    let everything = RevocationSelector::Consumer("jira".into());
    assert_eq!(
        store
            .revoke_access_tokens(&everything, at(2), &revoked)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .revoke_access_tokens(&everything, at(3), &revoked)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .audit_actions()
            .iter()
            .filter(|a| **a == AuditAction::AccessTokensRevoked)
            .count(),
        1
    );
    assert_eq!(
        store.read(|t| t.access_tokens[&access.id].revoked_at),
        Some(at(2))
    );
}

#[tokio::test]
async fn a_nonce_is_refused_while_its_record_lives_and_replaced_after() {
    let (store, _) = with_request_token(RequestTokenState::Pending).await;
    let nonce = NonceRecord {
        consumer_key: "jira".into(),
        nonce: "n".into(),
        timestamp: 0,
        expires_at: at(5),
    };
    assert!(store.use_nonce(&nonce, at(0)).await.unwrap());
    assert!(!store.use_nonce(&nonce, at(4)).await.unwrap());
    let later = NonceRecord {
        expires_at: at(10),
        ..nonce.clone()
    };
    assert!(store.use_nonce(&later, at(5)).await.unwrap());
    assert_eq!(store.delete_expired_nonces(at(9), 10).await.unwrap(), 0);
    assert_eq!(store.delete_expired_nonces(at(10), 10).await.unwrap(), 1);
}

#[tokio::test]
async fn deleting_a_consumer_takes_its_tokens_and_nonces() {
    let (store, token) = with_request_token(RequestTokenState::Approved).await;
    let issued = audit(AuditAction::AccessTokenIssued);
    store
        .exchange_request_token(token.id, at(1), &access_token(&token), &issued)
        .await
        .unwrap();
    let nonce = NonceRecord {
        consumer_key: "jira".into(),
        nonce: "n".into(),
        timestamp: 0,
        expires_at: at(5),
    };
    assert!(store.use_nonce(&nonce, at(1)).await.unwrap());
    let deleted = audit(AuditAction::ConsumerDeleted);
    assert_eq!(
        store.delete_consumer("jira", &deleted).await.unwrap(),
        Some(1)
    );
    store.read(|t| {
        assert!(
            t.consumers.is_empty() && t.request_tokens.is_empty() && t.access_tokens.is_empty()
        );
        assert!(t.nonces.is_empty());
    });
    assert_eq!(
        store.last_audit().map(|a| a.action),
        Some(AuditAction::ConsumerDeleted)
    );
}
