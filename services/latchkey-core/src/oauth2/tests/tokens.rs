//! After the grant: refresh rotation and reuse, bearer validation, RFC 7009
//! revocation, RFC 7662 introspection, and a user's grants.

use crate::authority::Caller;
use crate::oauth2::OAuth2Error;
use crate::oauth2::clients::OAuth2ClientDraft;
use crate::oauth2::grant::{IssuedOAuth2Tokens, OAuth2TokenRequest};
use crate::oauth2::records::{OAuth2TokenKind, OAuth2TokenRecord};
use crate::oauth2::tokens::{GrantRevoker, Introspector};
use crate::policy::Policy;
use crate::records::AuditAction;
use crate::secret::TokenHash;
use crate::testing::refusals::{
    is_not_found, is_permission_denied, is_unauthenticated, oauth2_error,
};
use crate::testing::{Client, Fixture, USER, admin, frontend, service, value};
use chrono::Duration;
use uuid::Uuid;

fn stored(fx: &Fixture, token: &secrecy::SecretString) -> OAuth2TokenRecord {
    let hash = TokenHash::of(&value(token));
    fx.store
        .read(|t| {
            t.oauth2_tokens
                .values()
                .find(|r| r.token_hash == hash)
                .cloned()
        })
        .expect("the token is stored")
}

async fn refresh(
    fx: &Fixture,
    client: &Client,
    tokens: &IssuedOAuth2Tokens,
) -> crate::AuthorityResult<IssuedOAuth2Tokens> {
    fx.authority
        .exchange_oauth2(&client.refresh_request(&value(&tokens.refresh_token)))
        .await
}

async fn bearer_error(fx: &Fixture, tokens: &IssuedOAuth2Tokens) -> OAuth2Error {
    oauth2_error(
        fx.authority
            .validate_bearer(&service(), &value(&tokens.access_token))
            .await,
    )
}

#[tokio::test]
async fn a_refresh_issues_a_new_pair_and_retires_the_refresh_token_used() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let first = fx.tokens(&client).await;
    fx.advance(Duration::minutes(30));
    let second = refresh(&fx, &client, &first).await.unwrap();

    assert_ne!(value(&second.access_token), value(&first.access_token));
    assert_ne!(value(&second.refresh_token), value(&first.refresh_token));
    assert_eq!(second.grant_id, first.grant_id);
    assert_eq!(second.expires_at, fx.now() + Duration::hours(1));
    assert_eq!(stored(&fx, &first.refresh_token).rotated_at, Some(fx.now()));
    let new_refresh = stored(&fx, &second.refresh_token);
    assert_eq!(new_refresh.expires_at, fx.now() + Duration::days(90));
    assert_eq!(new_refresh.rotated_at, None);
    let grant = fx.store.read(|t| t.grants[&first.grant_id].clone());
    assert_eq!(grant.refreshed_at, fx.now());
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::OAuth2TokensRefreshed);
    assert_eq!(audit.token_id, Some(first.grant_id));
    // The old access token lives out its own hour: rotation retires refresh tokens.
    assert!(
        fx.authority
            .validate_bearer(&service(), &value(&first.access_token))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let first = fx.tokens(&client).await;
    let second = refresh(&fx, &client, &first).await.unwrap();

    let reuse = refresh(&fx, &client, &first).await;
    assert_eq!(oauth2_error(reuse), OAuth2Error::InvalidGrant);
    fx.store.read(|t| {
        assert!(
            t.oauth2_tokens
                .values()
                .all(|token| token.revoked_at.is_some())
        );
        assert!(t.grants[&first.grant_id].revoked_at.is_some());
    });
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::OAuth2GrantRevoked);
    assert_eq!(audit.detail, "refresh token reused");
    assert_eq!(bearer_error(&fx, &second).await, OAuth2Error::InvalidToken);
    let with_new = refresh(&fx, &client, &second).await;
    assert_eq!(oauth2_error(with_new), OAuth2Error::InvalidGrant);
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let first = fx.tokens(&client).await;
    let asking = |scope: &str| OAuth2TokenRequest {
        scope: scope.into(),
        ..client.refresh_request(&value(&first.refresh_token))
    };
    let widened = fx.authority.exchange_oauth2(&asking("read admin")).await;
    assert_eq!(oauth2_error(widened), OAuth2Error::InvalidScope);
    assert_eq!(stored(&fx, &first.refresh_token).rotated_at, None);

    let narrowed = fx.authority.exchange_oauth2(&asking("read")).await.unwrap();
    assert_eq!(narrowed.scopes, ["read"]);
    assert_eq!(stored(&fx, &narrowed.access_token).scopes, ["read"]);
    assert_eq!(
        stored(&fx, &narrowed.refresh_token).scopes,
        ["read", "write"],
        "the refresh token keeps the grant's scope"
    );
}

#[tokio::test]
async fn a_refresh_token_unused_for_its_idle_timeout_is_refused() {
    let fx = Fixture::new();
    let client = fx
        .client_from(OAuth2ClientDraft {
            refresh_token_idle_seconds: 3600,
            ..Fixture::client_draft("app", true)
        })
        .await;
    let first = fx.tokens(&client).await;
    fx.advance(Duration::minutes(59));
    let second = refresh(&fx, &client, &first).await.unwrap();
    fx.advance(Duration::hours(1));
    assert_eq!(
        oauth2_error(refresh(&fx, &client, &second).await),
        OAuth2Error::InvalidGrant
    );
    assert_eq!(stored(&fx, &second.refresh_token).revoked_at, None);
}

#[tokio::test]
async fn a_refresh_token_never_outlives_its_grant() {
    let fx = Fixture::new();
    let client = fx
        .client_from(OAuth2ClientDraft {
            refresh_token_idle_seconds: 3600,
            refresh_token_max_seconds: 5000,
            ..Fixture::client_draft("app", true)
        })
        .await;
    let started = fx.now();
    let first = fx.tokens(&client).await;
    assert_eq!(
        stored(&fx, &first.refresh_token).expires_at,
        started + Duration::hours(1)
    );
    fx.advance(Duration::minutes(50));
    let second = refresh(&fx, &client, &first).await.unwrap();
    assert_eq!(
        stored(&fx, &second.refresh_token).expires_at,
        started + Duration::seconds(5000)
    );
}

#[tokio::test]
async fn only_a_refresh_token_of_this_client_refreshes() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let other = fx.client("other", true).await;
    let tokens = fx.tokens(&client).await;
    let access_as_refresh = client.refresh_request(&value(&tokens.access_token));
    assert_eq!(
        oauth2_error(fx.authority.exchange_oauth2(&access_as_refresh).await),
        OAuth2Error::InvalidGrant
    );
    assert_eq!(
        oauth2_error(refresh(&fx, &other, &tokens).await),
        OAuth2Error::InvalidGrant
    );
    assert_eq!(
        oauth2_error(
            fx.authority
                .exchange_oauth2(&client.refresh_request(""))
                .await
        ),
        OAuth2Error::InvalidRequest
    );
    let still_good = refresh(&fx, &client, &tokens).await;
    assert!(still_good.is_ok(), "{still_good:?}");
}

#[tokio::test]
async fn a_bearer_token_validates_to_its_principal_until_it_expires() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let tokens = fx.tokens(&client).await;
    let principal = fx
        .authority
        .validate_bearer(&Caller::ANONYMOUS, &value(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(principal.user_id, USER);
    assert_eq!(principal.client_id, "app");
    assert_eq!(principal.grant_id, tokens.grant_id);
    assert_eq!(principal.scopes, ["read", "write"]);
    assert_eq!(principal.expires_at, tokens.expires_at);
    fx.advance(Duration::hours(1));
    assert_eq!(bearer_error(&fx, &tokens).await, OAuth2Error::InvalidToken);
}

#[tokio::test]
async fn a_revoked_unknown_or_refresh_token_is_no_bearer_token() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let tokens = fx.tokens(&client).await;
    for presented in [value(&tokens.refresh_token), "unknown".to_owned()] {
        let refused = fx.authority.validate_bearer(&service(), &presented).await;
        assert_eq!(oauth2_error(refused), OAuth2Error::InvalidToken);
    }
    fx.authority
        .revoke_oauth2_token(&client.credentials, &value(&tokens.access_token))
        .await
        .unwrap();
    assert_eq!(bearer_error(&fx, &tokens).await, OAuth2Error::InvalidToken);
}

#[tokio::test]
async fn a_disabled_clients_bearer_tokens_are_refused() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let tokens = fx.tokens(&client).await;
    fx.store
        .write(|t| t.oauth2_clients.get_mut("app").unwrap().enabled = false);
    assert_eq!(bearer_error(&fx, &tokens).await, OAuth2Error::InvalidToken);
}

#[tokio::test]
async fn bearer_validation_needs_the_service_credential_when_the_policy_says_so() {
    let fx = Fixture::with_policy(Policy {
        require_service_credential: true,
        ..Policy::default()
    });
    let client = fx.client("app", true).await;
    let tokens = fx.tokens(&client).await;
    let token = value(&tokens.access_token);
    for caller in [Caller::ANONYMOUS, frontend()] {
        let result = fx.authority.validate_bearer(&caller, &token).await;
        assert!(is_unauthenticated(&result), "{caller:?}: {result:?}");
    }
    for caller in [service(), admin()] {
        assert!(fx.authority.validate_bearer(&caller, &token).await.is_ok());
    }
}

#[tokio::test]
async fn revoking_an_access_token_revokes_it_alone_and_once() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let tokens = fx.tokens(&client).await;
    let access = value(&tokens.access_token);
    let revoked = fx
        .authority
        .revoke_oauth2_token(&client.credentials, &access)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::OAuth2TokenRevoked);
    assert_eq!(audit.token_id, Some(stored(&fx, &tokens.access_token).id));
    let lines = fx.store.audit_actions().len();
    let again = fx
        .authority
        .revoke_oauth2_token(&client.credentials, &access)
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(fx.store.audit_actions().len(), lines);
    assert!(
        refresh(&fx, &client, &tokens).await.is_ok(),
        "the grant lives on"
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_whole_grant() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let first = fx.tokens(&client).await;
    let second = refresh(&fx, &client, &first).await.unwrap();
    let revoked = fx
        .authority
        .revoke_oauth2_token(&client.credentials, &value(&second.refresh_token))
        .await
        .unwrap();
    assert_eq!(
        revoked, 4,
        "both pairs, the rotated refresh token among them"
    );
    assert!(
        fx.store
            .read(|t| t.grants[&first.grant_id].revoked_at.is_some())
    );
    assert_eq!(bearer_error(&fx, &first).await, OAuth2Error::InvalidToken);
    assert_eq!(bearer_error(&fx, &second).await, OAuth2Error::InvalidToken);
    assert_eq!(
        fx.store.last_audit().unwrap().detail,
        "refresh token revoked"
    );
}

#[tokio::test]
async fn revocation_ignores_unknown_tokens_and_refuses_another_clients() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let other = fx.client("other", true).await;
    let tokens = fx.tokens(&client).await;
    assert_eq!(
        fx.authority
            .revoke_oauth2_token(&client.credentials, "unknown")
            .await
            .unwrap(),
        0
    );
    let foreign = fx
        .authority
        .revoke_oauth2_token(&other.credentials, &value(&tokens.access_token))
        .await;
    assert_eq!(oauth2_error(foreign), OAuth2Error::UnauthorizedClient);
    let empty = fx
        .authority
        .revoke_oauth2_token(&client.credentials, "")
        .await;
    assert_eq!(oauth2_error(empty), OAuth2Error::InvalidRequest);
    let mut wrong = client.credentials.clone();
    wrong.client_secret = Some("wrong".into());
    let unauthenticated = fx
        .authority
        .revoke_oauth2_token(&wrong, &value(&tokens.access_token))
        .await;
    assert_eq!(oauth2_error(unauthenticated), OAuth2Error::InvalidClient);
    assert_eq!(stored(&fx, &tokens.access_token).revoked_at, None);
}

#[tokio::test]
async fn introspection_shows_a_live_token_to_its_client_and_the_service_only() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let other = fx.client("other", true).await;
    let tokens = fx.tokens(&client).await;
    let access = value(&tokens.access_token);
    let own = Introspector::Client(client.credentials.clone());

    let seen = fx.authority.introspect_oauth2(&own, &access).await.unwrap();
    assert!(seen.active);
    let token = seen.token.unwrap();
    assert_eq!(token.kind, OAuth2TokenKind::Access);
    assert_eq!(
        (token.client_id.as_str(), token.user_id.as_str()),
        ("app", USER)
    );
    assert_eq!(token.scopes, ["read", "write"]);
    assert_eq!(token.expires_at, tokens.expires_at);
    let by_service = Introspector::Service(service());
    assert!(
        fx.authority
            .introspect_oauth2(&by_service, &access)
            .await
            .unwrap()
            .active
    );
    let refresh_seen = fx
        .authority
        .introspect_oauth2(&own, &value(&tokens.refresh_token))
        .await
        .unwrap();
    assert_eq!(refresh_seen.token.unwrap().kind, OAuth2TokenKind::Refresh);

    let foreign = Introspector::Client(other.credentials.clone());
    let hidden = fx
        .authority
        .introspect_oauth2(&foreign, &access)
        .await
        .unwrap();
    assert_eq!((hidden.active, hidden.token), (false, None));
    let by_frontend = fx
        .authority
        .introspect_oauth2(&Introspector::Service(frontend()), &access)
        .await;
    assert!(is_unauthenticated(&by_frontend), "{by_frontend:?}");
}

async fn active(fx: &Fixture, token: String) -> bool {
    fx.authority
        .introspect_oauth2(&Introspector::Service(service()), &token)
        .await
        .unwrap()
        .active
}

#[tokio::test]
async fn introspection_calls_expired_revoked_rotated_and_unknown_tokens_inactive() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let first = fx.tokens(&client).await;
    let second = refresh(&fx, &client, &first).await.unwrap();
    assert!(!active(&fx, value(&first.refresh_token)).await, "rotated");
    assert!(!active(&fx, "unknown".into()).await);
    fx.authority
        .revoke_oauth2_token(&client.credentials, &value(&second.access_token))
        .await
        .unwrap();
    assert!(!active(&fx, value(&second.access_token)).await, "revoked");
    assert!(active(&fx, value(&first.access_token)).await);
    fx.advance(Duration::hours(1));
    assert!(!active(&fx, value(&first.access_token)).await, "expired");
    assert!(active(&fx, value(&second.refresh_token)).await);
}

#[tokio::test]
async fn a_user_revokes_their_own_grant_and_an_admin_any() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let tokens = fx.tokens(&client).await;
    let grant = tokens.grant_id;

    let not_bobs = fx
        .authority
        .revoke_oauth2_grant(&frontend(), GrantRevoker::User("bob"), grant)
        .await;
    assert!(is_permission_denied(&not_bobs), "{not_bobs:?}");
    let wrong_credential = fx
        .authority
        .revoke_oauth2_grant(&admin(), GrantRevoker::User(USER), grant)
        .await;
    assert!(
        is_unauthenticated(&wrong_credential),
        "{wrong_credential:?}"
    );
    assert!(fx.store.read(|t| t.grants[&grant].revoked_at.is_none()));

    let revoked = fx
        .authority
        .revoke_oauth2_grant(&frontend(), GrantRevoker::User(USER), grant)
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    assert_eq!(fx.store.last_audit().unwrap().actor, "user:ann");
    assert_eq!(bearer_error(&fx, &tokens).await, OAuth2Error::InvalidToken);

    let second = fx.tokens(&client).await;
    let by_admin = fx
        .authority
        .revoke_oauth2_grant(&admin(), GrantRevoker::Admin, second.grant_id)
        .await
        .unwrap();
    assert_eq!(by_admin, 2);
    let unknown = fx
        .authority
        .revoke_oauth2_grant(&admin(), GrantRevoker::Admin, Uuid::nil())
        .await;
    assert!(is_not_found(&unknown), "{unknown:?}");
}

#[tokio::test]
async fn a_users_grants_are_the_live_ones_newest_first_with_client_names() {
    let fx = Fixture::new();
    let app = fx.client("app", true).await;
    let other = fx.client("other", true).await;
    let older = fx.tokens(&app).await;
    fx.advance(Duration::minutes(1));
    let revoked = fx.tokens(&app).await;
    fx.advance(Duration::minutes(1));
    let newest = fx.tokens(&other).await;
    fx.authority
        .revoke_oauth2_grant(&admin(), GrantRevoker::Admin, revoked.grant_id)
        .await
        .unwrap();

    let grants = fx
        .authority
        .list_oauth2_authorizations(&frontend(), USER)
        .await
        .unwrap();
    let listed: Vec<(Uuid, &str)> = grants
        .iter()
        .map(|g| (g.grant.id, g.client_name.as_str()))
        .collect();
    assert_eq!(
        listed,
        [(newest.grant_id, "other app"), (older.grant_id, "app app")]
    );
    assert!(
        fx.authority
            .list_oauth2_authorizations(&admin(), "bob")
            .await
            .unwrap()
            .is_empty()
    );
    let by_service = fx
        .authority
        .list_oauth2_authorizations(&service(), USER)
        .await;
    assert!(is_unauthenticated(&by_service), "{by_service:?}");
}
