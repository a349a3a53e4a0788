//! OAuth 2.0 client administration: registration rules, secrets, deletion.

use crate::credentials::digest_credential;
use crate::error::AuthorityError;
use crate::oauth2::OAuth2Error;
use crate::oauth2::clients::OAuth2ClientDraft;
use crate::oauth2::grant::OAuth2ClientCredentials;
use crate::oauth2::tokens::Introspector;
use crate::records::AuditAction;
use crate::testing::refusals::{invalid_field, is_not_found, is_unauthenticated, oauth2_error};
use crate::testing::{Client, Fixture, admin, frontend, service, value};
use secrecy::{ExposeSecret, SecretString};

/// Whether `credentials` authenticate, seen through introspection (any token will do:
/// authentication comes first).
async fn authenticates(fx: &Fixture, credentials: &OAuth2ClientCredentials) -> bool {
    fx.authority
        .introspect_oauth2(&Introspector::Client(credentials.clone()), "any")
        .await
        .is_ok()
}

#[tokio::test]
async fn a_confidential_client_gets_a_secret_shown_once_and_kept_as_its_digest() {
    let fx = Fixture::new();
    let registered = fx
        .authority
        .register_oauth2_client(&admin(), Fixture::client_draft("app", true))
        .await
        .unwrap();
    let secret = registered.secret.unwrap();
    assert_eq!(
        registered.client.secret_hash,
        Some(digest_credential(secret.expose_secret()))
    );
    assert!(registered.client.is_confidential());
    assert_eq!(
        fx.store.read(|t| t.oauth2_clients.get("app").cloned()),
        Some(registered.client)
    );
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::OAuth2ClientRegistered);
    assert_eq!(audit.consumer_key.as_deref(), Some("app"));
}

#[tokio::test]
async fn a_public_client_has_no_secret_and_an_empty_id_is_generated() {
    let fx = Fixture::new();
    let registered = fx
        .authority
        .register_oauth2_client(&admin(), Fixture::client_draft("", false))
        .await
        .unwrap();
    assert!(registered.secret.is_none());
    assert_eq!(registered.client.secret_hash, None);
    assert_eq!(registered.client.client_id.len(), 22);
}

#[tokio::test]
async fn what_a_client_may_not_be_registered_with_is_refused_and_nothing_is_stored() {
    let fx = Fixture::new();
    let draft = || Fixture::client_draft("app", true);
    let cases: Vec<(OAuth2ClientDraft, &str)> = vec![
        (
            OAuth2ClientDraft {
                client_id: "has:colon".into(),
                ..draft()
            },
            "client_id",
        ),
        (
            OAuth2ClientDraft {
                client_id: "has space".into(),
                ..draft()
            },
            "client_id",
        ),
        (
            OAuth2ClientDraft {
                name: " ".into(),
                ..draft()
            },
            "name",
        ),
        (
            OAuth2ClientDraft {
                redirect_uris: Vec::new(),
                ..draft()
            },
            "redirect_uris",
        ),
        (
            OAuth2ClientDraft {
                redirect_uris: vec!["http://app.example.com/cb".into()],
                ..draft()
            },
            "redirect_uris",
        ),
        (
            OAuth2ClientDraft {
                redirect_uris: vec!["https://app.example.com/cb#here".into()],
                ..draft()
            },
            "redirect_uris",
        ),
        (
            OAuth2ClientDraft {
                scopes: vec!["say\"what".into()],
                ..draft()
            },
            "scopes",
        ),
        (
            OAuth2ClientDraft {
                access_token_ttl_seconds: 5 * 365 * 24 * 3600 + 1,
                ..draft()
            },
            "access_token_ttl_seconds",
        ),
        (
            OAuth2ClientDraft {
                refresh_token_max_seconds: u64::MAX,
                ..draft()
            },
            "refresh_token_max_seconds",
        ),
    ];
    for (draft, field) in cases {
        let described = format!("{draft:?}");
        let result = fx.authority.register_oauth2_client(&admin(), draft).await;
        assert_eq!(invalid_field(result), field, "{described}");
    }
    fx.store.read(|t| {
        assert!(t.oauth2_clients.is_empty());
        assert!(t.audit.is_empty());
    });
}

#[tokio::test]
async fn loopback_http_and_private_scheme_redirect_uris_are_accepted_and_scopes_deduplicated() {
    let fx = Fixture::new();
    let client = fx
        .client_from(OAuth2ClientDraft {
            redirect_uris: vec![
                "http://127.0.0.1:8000/cb".into(),
                "com.example.app:/cb".into(),
            ],
            scopes: vec!["read".into(), "write".into(), "read".into()],
            ..Fixture::client_draft("native", false)
        })
        .await;
    assert_eq!(client.record.scopes, ["read", "write"]);
    assert_eq!(client.record.redirect_uris.len(), 2);
}

#[tokio::test]
async fn a_taken_client_id_is_a_conflict() {
    let fx = Fixture::new();
    let first = fx.client("app", true).await;
    let again = fx
        .authority
        .register_oauth2_client(&admin(), Fixture::client_draft("app", false))
        .await;
    assert!(
        matches!(again, Err(AuthorityError::AlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(
        fx.store.read(|t| t.oauth2_clients.get("app").cloned()),
        Some(first.record)
    );
}

#[tokio::test]
async fn only_the_admin_administers_clients() {
    let fx = Fixture::new();
    fx.client("app", true).await;
    for caller in [frontend(), service()] {
        let results = [
            is_unauthenticated(
                &fx.authority
                    .register_oauth2_client(&caller, Fixture::client_draft("x", true))
                    .await,
            ),
            is_unauthenticated(&fx.authority.get_oauth2_client(&caller, "app").await),
            is_unauthenticated(
                &fx.authority
                    .rotate_oauth2_client_secret(&caller, "app")
                    .await,
            ),
            is_unauthenticated(&fx.authority.delete_oauth2_client(&caller, "app").await),
        ];
        assert_eq!(results, [true; 4], "{caller:?}");
    }
    assert_eq!(
        fx.store.audit_actions(),
        [AuditAction::OAuth2ClientRegistered]
    );
    assert!(
        fx.authority
            .get_oauth2_client(&admin(), "app")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_rotated_secret_replaces_the_old_one_at_once() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    assert!(authenticates(&fx, &client.credentials).await);
    let new_secret = fx
        .authority
        .rotate_oauth2_client_secret(&admin(), "app")
        .await
        .unwrap();
    assert!(!authenticates(&fx, &client.credentials).await);
    let rotated = OAuth2ClientCredentials {
        client_id: "app".into(),
        client_secret: Some(SecretString::from(value(&new_secret))),
    };
    assert!(authenticates(&fx, &rotated).await);
    assert_eq!(
        fx.store.last_audit().unwrap().action,
        AuditAction::OAuth2ClientSecretRotated
    );

    fx.client("public", false).await;
    let public = fx
        .authority
        .rotate_oauth2_client_secret(&admin(), "public")
        .await;
    assert_eq!(invalid_field(public), "client_id");
    let unknown = fx
        .authority
        .rotate_oauth2_client_secret(&admin(), "nobody")
        .await;
    assert!(is_not_found(&unknown), "{unknown:?}");
}

#[tokio::test]
async fn deleting_a_client_takes_its_codes_grants_and_tokens() {
    let fx = Fixture::new();
    let app = fx.client("app", true).await;
    let other: Client = fx.client("other", true).await;
    let tokens = fx.tokens(&app).await;
    fx.code(&app).await;
    let kept = fx.tokens(&other).await;

    let deleted = fx
        .authority
        .delete_oauth2_client(&admin(), "app")
        .await
        .unwrap();
    assert_eq!(deleted, 2, "the access and refresh token that went");
    fx.store.read(|t| {
        assert!(
            t.oauth2_tokens
                .values()
                .all(|token| token.client_id == "other")
        );
        assert!(t.grants.values().all(|grant| grant.client_id == "other"));
        assert!(t.codes.values().all(|code| code.client_id == "other"));
    });
    let refused = fx
        .authority
        .validate_bearer(&service(), &value(&tokens.access_token))
        .await;
    assert_eq!(oauth2_error(refused), OAuth2Error::InvalidToken);
    assert!(
        fx.authority
            .validate_bearer(&service(), &value(&kept.access_token))
            .await
            .is_ok()
    );
    assert_eq!(
        fx.store.last_audit().unwrap().action,
        AuditAction::OAuth2ClientDeleted
    );
    let again = fx.authority.delete_oauth2_client(&admin(), "app").await;
    assert!(is_not_found(&again), "{again:?}");
}
