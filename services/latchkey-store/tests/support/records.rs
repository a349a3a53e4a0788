//! Records built by hand, and the few steps (approve, exchange) that make realistic
//! rows through the store itself.

use chrono::{DateTime, Duration, TimeZone, Utc};
use latchkey_core::oauth1::SignatureMethod;
use latchkey_core::oauth1::records::{
    AccessTokenRecord, ConsumerRecord, NonceRecord, RequestTokenDecision, RequestTokenRecord,
    RequestTokenState, TwoLeggedPolicy,
};
use latchkey_core::oauth1::store::{ConsumerStore, RequestTokenStore};
use latchkey_core::records::{AuditAction, AuditEvent};
use latchkey_core::secret::{EncryptedSecret, TokenHash};
use latchkey_store::SeaStore;
use uuid::Uuid;

/// Now, cut to milliseconds, as the store keeps it.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap()
}

/// A consumer with every optional field set.
pub fn consumer(key: &str) -> ConsumerRecord {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    ConsumerRecord {
        key: key.to_owned(),
        name: format!("Consumer {key}"),
        description: "A test consumer".to_owned(),
        callback_url: Some(format!("https://{key}.example/callback")),
        public_key_pem: Some(
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n".to_owned(),
        ),
        shared_secret: Some(EncryptedSecret(vec![0, 1, 2, 254, 255])),
        signature_methods: vec![SignatureMethod::RsaSha1, SignatureMethod::HmacSha1],
        access_token_ttl_seconds: Some(3600),
        access_token_idle_seconds: Some(86400),
        two_legged: TwoLeggedPolicy {
            allowed: true,
            execute_as: Some("robot".to_owned()),
            impersonation: true,
        },
        enabled: true,
        created_at: at,
        updated_at: at,
    }
}

pub fn nonce(consumer_key: &str, nonce: &str) -> NonceRecord {
    NonceRecord {
        consumer_key: consumer_key.to_owned(),
        nonce: nonce.to_owned(),
        timestamp: Utc::now().timestamp(),
        expires_at: now() + Duration::minutes(10),
    }
}

pub fn audit(action: AuditAction) -> AuditEvent {
    AuditEvent {
        at: now(),
        action,
        actor: "admin".to_owned(),
        consumer_key: None,
        user_id: None,
        token_id: Some(Uuid::new_v4()),
        detail: String::new(),
    }
}

/// Registers `consumer(key)`.
pub async fn insert_consumer(store: &SeaStore, key: &str) {
    store
        .insert_consumer(&consumer(key), &audit(AuditAction::ConsumerRegistered))
        .await
        .unwrap();
}

/// A pending request token with random value and secret.
pub fn request_token(consumer_key: &str, expires_at: DateTime<Utc>) -> RequestTokenRecord {
    let at = now();
    RequestTokenRecord {
        id: Uuid::new_v4(),
        token_hash: TokenHash::of(&Uuid::new_v4().to_string()),
        consumer_key: consumer_key.to_owned(),
        secret: EncryptedSecret(Uuid::new_v4().as_bytes().to_vec()),
        callback: "oob".to_owned(),
        state: RequestTokenState::Pending,
        user_id: None,
        verifier_hash: None,
        verifier_failures: 0,
        created_at: at,
        expires_at,
        decided_at: None,
    }
}

pub async fn insert_request_token(store: &SeaStore, token: &RequestTokenRecord) {
    store
        .insert_request_token(token, &audit(AuditAction::RequestTokenIssued))
        .await
        .unwrap();
}

/// A request token approved by `user_id`, valid ten minutes after `now`.
pub async fn approved_request_token(
    store: &SeaStore,
    consumer_key: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> RequestTokenRecord {
    let token = request_token(consumer_key, now + Duration::minutes(10));
    insert_request_token(store, &token).await;
    let decision = RequestTokenDecision::Approve {
        user_id: user_id.to_owned(),
        verifier_hash: TokenHash::of("verifier"),
    };
    let approved = store
        .decide_request_token(
            token.id,
            &decision,
            now,
            &audit(AuditAction::RequestTokenApproved),
        )
        .await
        .unwrap();
    assert!(approved);
    token
}

/// An access token record with random value and secret.
pub fn access_token(
    consumer_key: &str,
    user_id: &str,
    request_token_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> AccessTokenRecord {
    AccessTokenRecord {
        id: Uuid::new_v4(),
        token_hash: TokenHash::of(&Uuid::new_v4().to_string()),
        consumer_key: consumer_key.to_owned(),
        user_id: user_id.to_owned(),
        secret: EncryptedSecret(Uuid::new_v4().as_bytes().to_vec()),
        request_token_id,
        created_at,
        expires_at,
        revoked_at: None,
        last_used_at: created_at,
    }
}

/// Issues an access token the way the authority does: approve, then exchange.
pub async fn issue_access_token(
    store: &SeaStore,
    consumer_key: &str,
    user_id: &str,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> AccessTokenRecord {
    let now = now();
    let token = approved_request_token(store, consumer_key, user_id, now).await;
    let access = access_token(consumer_key, user_id, token.id, created_at, expires_at);
    let exchanged = store
        .exchange_request_token(
            token.id,
            now,
            &access,
            &audit(AuditAction::AccessTokenIssued),
        )
        .await
        .unwrap();
    assert!(exchanged);
    access
}
