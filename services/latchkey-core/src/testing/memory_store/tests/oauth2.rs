//! OAuth 2.0 clients, codes, grants and tokens.

use super::{at, audit};
use crate::oauth2::records::{
    AuthorizationCodeRecord, OAuth2ClientRecord, OAuth2GrantRecord, OAuth2TokenKind,
    OAuth2TokenRecord,
};
use crate::oauth2::store::{AuthorizationCodeStore, OAuth2ClientStore, OAuth2TokenStore};
use crate::records::{AuditAction, new_record_id};
use crate::secret::TokenHash;
use crate::testing::MemoryStore;

fn client(id: &str) -> OAuth2ClientRecord {
    OAuth2ClientRecord {
        client_id: id.into(),
        name: id.into(),
        secret_hash: None,
        redirect_uris: vec!["https://app.example.com/cb".into()],
        scopes: Vec::new(),
        access_token_ttl_seconds: None,
        refresh_token_idle_seconds: None,
        refresh_token_max_seconds: None,
        enabled: true,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn oauth2_token(grant: &OAuth2GrantRecord, kind: OAuth2TokenKind) -> OAuth2TokenRecord {
    let id = new_record_id();
    OAuth2TokenRecord {
        id,
        token_hash: TokenHash::of(&id.to_string()),
        kind,
        grant_id: grant.id,
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        scopes: Vec::new(),
        created_at: at(0),
        expires_at: at(60),
        revoked_at: None,
        rotated_at: None,
    }
}

/// A store holding client `app` and a redeemed code's grant with its refresh token.
async fn with_grant() -> (MemoryStore, OAuth2GrantRecord, OAuth2TokenRecord) {
    let store = MemoryStore::new();
    let registered = audit(AuditAction::OAuth2ClientRegistered);
    store
        .insert_oauth2_client(&client("app"), &registered)
        .await
        .unwrap();
    let code = AuthorizationCodeRecord {
        id: new_record_id(),
        code_hash: TokenHash::of("code"),
        client_id: "app".into(),
        user_id: "ann".into(),
        redirect_uri: String::new(),
        scopes: Vec::new(),
        pkce: None,
        created_at: at(0),
        expires_at: at(1),
        redeemed_at: None,
        grant_id: None,
    };
    let issued = audit(AuditAction::OAuth2CodeIssued);
    store
        .insert_authorization_code(&code, &issued)
        .await
        .unwrap();
    let grant = OAuth2GrantRecord {
        id: new_record_id(),
        client_id: "app".into(),
        user_id: "ann".into(),
        scopes: Vec::new(),
        code_id: code.id,
        created_at: at(0),
        expires_at: at(600),
        refreshed_at: at(0),
        revoked_at: None,
    };
    let refresh = oauth2_token(&grant, OAuth2TokenKind::Refresh);
    let redeemed = audit(AuditAction::OAuth2CodeRedeemed);
    let tokens = [refresh.clone()];
    assert!(
        store
            .redeem_authorization_code(code.id, at(0), &grant, &tokens, &redeemed)
            .await
            .unwrap()
    );
    let other_grant = OAuth2GrantRecord {
        id: new_record_id(),
        ..grant.clone()
    };
    assert!(
        !store
            .redeem_authorization_code(code.id, at(0), &other_grant, &[], &redeemed)
            .await
            .unwrap(),
        "a code redeems once"
    );
    (store, grant, refresh)
}

#[tokio::test]
async fn a_rotation_needs_a_live_grant_and_an_unrotated_refresh_token() {
    let (store, grant, refresh) = with_grant().await;
    let refreshed = audit(AuditAction::OAuth2TokensRefreshed);
    let next = [oauth2_token(&grant, OAuth2TokenKind::Refresh)];
    assert!(
        store
            .rotate_refresh_token(refresh.id, grant.id, at(1), &next, &refreshed)
            .await
            .unwrap()
    );
    let after = [oauth2_token(&grant, OAuth2TokenKind::Refresh)];
    assert!(
        !store
            .rotate_refresh_token(refresh.id, grant.id, at(2), &after, &refreshed)
            .await
            .unwrap()
    );

    let revoked = audit(AuditAction::OAuth2GrantRevoked);
    assert_eq!(
        store
            .revoke_oauth2_grant(grant.id, at(3), &revoked)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .revoke_oauth2_grant(grant.id, at(4), &revoked)
            .await
            .unwrap(),
        0
    );
    let late = [oauth2_token(&grant, OAuth2TokenKind::Refresh)];
    assert!(
        !store
            .rotate_refresh_token(next[0].id, grant.id, at(5), &late, &revoked)
            .await
            .unwrap()
    );
    store.read(|t| {
        assert_eq!(
            t.oauth2_tokens.len(),
            2,
            "no losing rotation inserted its tokens"
        );
        assert_eq!(t.grants[&grant.id].refreshed_at, at(1));
        assert_eq!(t.grants[&grant.id].revoked_at, Some(at(3)));
    });
    let actions = store.audit_actions();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == AuditAction::OAuth2GrantRevoked)
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == AuditAction::OAuth2TokensRefreshed)
            .count(),
        1
    );
}

#[tokio::test]
async fn deleting_a_client_takes_its_codes_grants_and_tokens() {
    let (store, grant, _) = with_grant().await;
    let deleted = audit(AuditAction::OAuth2ClientDeleted);
    assert_eq!(
        store.delete_oauth2_client("app", &deleted).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.delete_oauth2_client("app", &deleted).await.unwrap(),
        None
    );
    store.read(|t| {
        assert!(t.codes.is_empty() && t.oauth2_tokens.is_empty());
        assert!(!t.grants.contains_key(&grant.id));
    });
}
