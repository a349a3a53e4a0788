//! OAuth 2.0 clients, codes, grants and tokens: single redemption, guarded rotation,
//! family revocation, sweeping.

use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use latchkey_core::oauth2::pkce::PkceMethod;
use latchkey_core::oauth2::records::{
    AuthorizationCodeRecord, OAuth2ClientRecord, OAuth2GrantRecord, OAuth2TokenKind,
    OAuth2TokenRecord,
};
use latchkey_core::oauth2::store::{AuthorizationCodeStore, OAuth2ClientStore, OAuth2TokenStore};
use latchkey_core::records::AuditAction;
use latchkey_core::secret::TokenHash;
use std::sync::Arc;
use uuid::Uuid;

fn client(client_id: &str) -> OAuth2ClientRecord {
    OAuth2ClientRecord {
        client_id: client_id.to_owned(),
        name: "A client".to_owned(),
        secret_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        redirect_uris: vec![
            "https://a.example/cb".to_owned(),
            "com.example.app:/cb".to_owned(),
        ],
        scopes: vec!["read".to_owned(), "write".to_owned()],
        access_token_ttl_seconds: Some(600),
        refresh_token_idle_seconds: None,
        refresh_token_max_seconds: Some(86_400),
        enabled: true,
        created_at: now(),
        updated_at: now(),
    }
}

fn code(client_id: &str, expires_at: DateTime<Utc>) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        id: Uuid::new_v4(),
        code_hash: TokenHash::of(&Uuid::new_v4().to_string()),
        client_id: client_id.to_owned(),
        user_id: "alice".to_owned(),
        redirect_uri: "https://a.example/cb".to_owned(),
        scopes: vec!["read".to_owned()],
        pkce: Some(("c".repeat(43), PkceMethod::S256)),
        created_at: now(),
        expires_at,
        redeemed_at: None,
        grant_id: None,
    }
}

fn grant_of(code: &AuthorizationCodeRecord) -> OAuth2GrantRecord {
    OAuth2GrantRecord {
        id: Uuid::new_v4(),
        client_id: code.client_id.clone(),
        user_id: code.user_id.clone(),
        scopes: code.scopes.clone(),
        code_id: code.id,
        created_at: now(),
        expires_at: now() + Duration::days(365),
        refreshed_at: now(),
        revoked_at: None,
    }
}

fn token(grant: &OAuth2GrantRecord, kind: OAuth2TokenKind) -> OAuth2TokenRecord {
    OAuth2TokenRecord {
        id: Uuid::new_v4(),
        token_hash: TokenHash::of(&Uuid::new_v4().to_string()),
        kind,
        grant_id: grant.id,
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        scopes: grant.scopes.clone(),
        created_at: now(),
        expires_at: now() + Duration::hours(1),
        revoked_at: None,
        rotated_at: None,
    }
}

/// A redeemed code's grant with its access and refresh token.
async fn redeemed(
    store: &SeaStore,
    client_id: &str,
) -> (OAuth2GrantRecord, OAuth2TokenRecord, OAuth2TokenRecord) {
    let code = code(client_id, now() + Duration::minutes(1));
    store
        .insert_authorization_code(&code, &audit(AuditAction::OAuth2CodeIssued))
        .await
        .unwrap();
    let grant = grant_of(&code);
    let access = token(&grant, OAuth2TokenKind::Access);
    let refresh = token(&grant, OAuth2TokenKind::Refresh);
    assert!(
        store
            .redeem_authorization_code(
                code.id,
                now(),
                &grant,
                &[access.clone(), refresh.clone()],
                &audit(AuditAction::OAuth2CodeRedeemed),
            )
            .await
            .unwrap()
    );
    (grant, access, refresh)
}

pub async fn clients_round_trip_and_go_with_their_codes_grants_and_tokens(store: Arc<SeaStore>) {
    let mut stored = client("c-1");
    store
        .insert_oauth2_client(&stored, &audit(AuditAction::OAuth2ClientRegistered))
        .await
        .unwrap();
    assert_eq!(
        store.get_oauth2_client("c-1").await.unwrap(),
        Some(stored.clone())
    );
    assert!(
        store
            .insert_oauth2_client(&stored, &audit(AuditAction::OAuth2ClientRegistered))
            .await
            .is_err()
    );
    stored.secret_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3".to_owned());
    stored.enabled = false;
    assert!(
        store
            .update_oauth2_client(&stored, &audit(AuditAction::OAuth2ClientSecretRotated))
            .await
            .unwrap()
    );
    assert_eq!(store.get_oauth2_client("c-1").await.unwrap(), Some(stored));

    let (_, access, _) = redeemed(&store, "c-1").await;
    let deleted = store
        .delete_oauth2_client("c-1", &audit(AuditAction::OAuth2ClientDeleted))
        .await
        .unwrap();
    assert_eq!(deleted, Some(2));
    assert_eq!(
        store.find_oauth2_token(&access.token_hash).await.unwrap(),
        None
    );
    for table in [
        "oauth2_codes",
        "oauth2_grants",
        "oauth2_tokens",
        "oauth2_clients",
    ] {
        assert_eq!(count_rows(&store, table).await, 0, "{table}");
    }
    assert_eq!(
        store
            .delete_oauth2_client("c-1", &audit(AuditAction::OAuth2ClientDeleted))
            .await
            .unwrap(),
        None
    );
}

pub async fn twenty_concurrent_redemptions_of_one_code_have_exactly_one_winner(
    store: Arc<SeaStore>,
) {
    store
        .insert_oauth2_client(&client("c-1"), &audit(AuditAction::OAuth2ClientRegistered))
        .await
        .unwrap();
    let code = code("c-1", now() + Duration::minutes(1));
    store
        .insert_authorization_code(&code, &audit(AuditAction::OAuth2CodeIssued))
        .await
        .unwrap();
    let attempts = (0..20).map(|_| {
        let store = store.clone();
        let code = code.clone();
        tokio::spawn(async move {
            let grant = grant_of(&code);
            let tokens = [
                token(&grant, OAuth2TokenKind::Access),
                token(&grant, OAuth2TokenKind::Refresh),
            ];
            store
                .redeem_authorization_code(
                    code.id,
                    now(),
                    &grant,
                    &tokens,
                    &audit(AuditAction::OAuth2CodeRedeemed),
                )
                .await
                .unwrap()
        })
    });
    let handles: Vec<_> = attempts.collect();
    let mut wins = 0;
    for handle in handles {
        wins += usize::from(handle.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(count_rows(&store, "oauth2_grants").await, 1);
    assert_eq!(count_rows(&store, "oauth2_tokens").await, 2);
    let stored = store
        .find_authorization_code(&code.code_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.redeemed_at.is_some() && stored.grant_id.is_some());
    assert_eq!(stored.pkce, code.pkce);

    // An expired code is never redeemed.
    let late = self::code("c-1", now() - Duration::seconds(1));
    store
        .insert_authorization_code(&late, &audit(AuditAction::OAuth2CodeIssued))
        .await
        .unwrap();
    let grant = grant_of(&late);
    assert!(
        !store
            .redeem_authorization_code(
                late.id,
                now(),
                &grant,
                &[],
                &audit(AuditAction::OAuth2CodeRedeemed)
            )
            .await
            .unwrap()
    );
}

pub async fn a_refresh_token_rotates_once_and_never_after_its_family_is_revoked(
    store: Arc<SeaStore>,
) {
    store
        .insert_oauth2_client(&client("c-1"), &audit(AuditAction::OAuth2ClientRegistered))
        .await
        .unwrap();
    let (grant, _, refresh) = redeemed(&store, "c-1").await;
    let attempts = (0..10).map(|_| {
        let store = store.clone();
        let grant = grant.clone();
        let refresh = refresh.clone();
        tokio::spawn(async move {
            let tokens = [
                token(&grant, OAuth2TokenKind::Access),
                token(&grant, OAuth2TokenKind::Refresh),
            ];
            store
                .rotate_refresh_token(
                    refresh.id,
                    grant.id,
                    now(),
                    &tokens,
                    &audit(AuditAction::OAuth2TokensRefreshed),
                )
                .await
                .unwrap()
        })
    });
    let handles: Vec<_> = attempts.collect();
    let mut wins = 0;
    for handle in handles {
        wins += usize::from(handle.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(count_rows(&store, "oauth2_tokens").await, 4);

    // Revoking the family revokes every token in it, the new ones included, once.
    let revoked = store
        .revoke_oauth2_grant(grant.id, now(), &audit(AuditAction::OAuth2GrantRevoked))
        .await
        .unwrap();
    assert_eq!(revoked, 4);
    assert_eq!(
        count_audit(&store, AuditAction::OAuth2GrantRevoked).await,
        1
    );
    store
        .revoke_oauth2_grant(grant.id, now(), &audit(AuditAction::OAuth2GrantRevoked))
        .await
        .unwrap();
    assert_eq!(
        count_audit(&store, AuditAction::OAuth2GrantRevoked).await,
        1
    );
    let live = store.get_oauth2_grant(grant.id).await.unwrap().unwrap();
    assert!(live.revoked_at.is_some());
    // A fresh refresh token of a revoked family never rotates.
    let orphan = token(&grant, OAuth2TokenKind::Refresh);
    let tokens = [token(&grant, OAuth2TokenKind::Access)];
    assert!(
        !store
            .rotate_refresh_token(
                orphan.id,
                grant.id,
                now(),
                &tokens,
                &audit(AuditAction::OAuth2TokensRefreshed)
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .list_live_oauth2_grants("alice", now())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn ended_codes_tokens_and_grants_are_swept_in_bounded_batches(store: Arc<SeaStore>) {
    store
        .insert_oauth2_client(&client("c-1"), &audit(AuditAction::OAuth2ClientRegistered))
        .await
        .unwrap();
    for _ in 0..3 {
        redeemed(&store, "c-1").await;
    }
    let (live_grant, _, _) = redeemed(&store, "c-1").await;
    let listed = store.list_live_oauth2_grants("alice", now()).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[0].client_name, "A client");
    // Nothing has ended yet.
    assert_eq!(
        store.delete_ended_oauth2_tokens(now(), 100).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_authorization_codes_expired_by(now(), 100)
            .await
            .unwrap(),
        0
    );
    let later = now() + Duration::hours(2);
    assert_eq!(
        store
            .delete_authorization_codes_expired_by(later, 3)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .delete_authorization_codes_expired_by(later, 3)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.delete_ended_oauth2_tokens(later, 5).await.unwrap(), 5);
    assert_eq!(store.delete_ended_oauth2_tokens(later, 5).await.unwrap(), 3);
    store
        .revoke_oauth2_grant(
            live_grant.id,
            now(),
            &audit(AuditAction::OAuth2GrantRevoked),
        )
        .await
        .unwrap();
    assert_eq!(
        store.delete_ended_oauth2_grants(now(), 100).await.unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_ended_oauth2_grants(now() + Duration::days(366), 100)
            .await
            .unwrap(),
        3
    );
}
