//! The authorization-code grant: the authorization request, the code, its
//! redemption, and client authentication at the token endpoint.

use crate::authority::{Caller, UserDecision};
use crate::oauth2::OAuth2Error;
use crate::oauth2::clients::OAuth2ClientDraft;
use crate::oauth2::grant::{
    OAuth2AuthorizationRequest, OAuth2AuthorizeOutcome, OAuth2ClientCredentials, OAuth2TokenRequest,
};
use crate::oauth2::pkce::{PkceMethod, s256_challenge};
use crate::oauth2::records::{AuthorizationCodeRecord, OAuth2TokenKind};
use crate::records::AuditAction;
use crate::secret::TokenHash;
use crate::testing::refusals::{invalid_field, is_unauthenticated, oauth2_error};
use crate::testing::{
    Fixture, REDIRECT_URI, USER, VERIFIER, admin, frontend, query_parameter, service, value,
};
use chrono::Duration;
use secrecy::SecretString;

fn stored_code(fx: &Fixture, code: &str) -> AuthorizationCodeRecord {
    let hash = TokenHash::of(code);
    fx.store
        .read(|t| t.codes.values().find(|c| c.code_hash == hash).cloned())
        .expect("the code is stored")
}

async fn decide(
    fx: &Fixture,
    request: &OAuth2AuthorizationRequest,
    decision: Option<UserDecision>,
) -> crate::AuthorityResult<OAuth2AuthorizeOutcome> {
    fx.authority
        .authorize_oauth2(&frontend(), request, USER, decision)
        .await
}

#[tokio::test]
async fn a_request_without_a_decision_is_only_checked_and_described() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    let outcome = decide(&fx, &client.authorization_request(), None)
        .await
        .unwrap();
    assert_eq!(outcome.client_name, "app app");
    assert_eq!(outcome.scopes, ["read", "write"]);
    assert_eq!(outcome.redirect_uri, REDIRECT_URI);
    assert_eq!((outcome.redirect_url, outcome.error), (None, None));
    assert!(fx.store.read(|t| t.codes.is_empty()));
}

#[tokio::test]
async fn an_approval_issues_a_one_minute_code_bound_to_the_request() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    let request = OAuth2AuthorizationRequest {
        scope: "read".into(),
        ..client.authorization_request()
    };
    let outcome = decide(&fx, &request, Some(UserDecision::Approve))
        .await
        .unwrap();
    let redirect = outcome.redirect_url.unwrap();
    assert!(
        redirect.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{redirect}"
    );
    assert_eq!(query_parameter(&redirect, "state").as_deref(), Some("xyz"));
    let code = stored_code(&fx, &query_parameter(&redirect, "code").unwrap());
    assert_eq!(code.client_id, "app");
    assert_eq!(code.user_id, USER);
    assert_eq!(code.redirect_uri, REDIRECT_URI);
    assert_eq!(code.scopes, ["read"]);
    assert_eq!(
        code.pkce,
        Some((s256_challenge(VERIFIER), PkceMethod::S256))
    );
    assert_eq!(code.expires_at, fx.now() + Duration::minutes(1));
    assert_eq!((code.redeemed_at, code.grant_id), (None, None));
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::OAuth2CodeIssued);
    assert_eq!(audit.actor, "user:ann");
}

#[tokio::test]
async fn a_redirect_uri_not_registered_exactly_is_an_error_for_the_user() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    for redirect_uri in [
        "https://app.example.com/callback/",
        "https://app.example.com/callback?next=1",
        "https://APP.example.com/callback",
        "https://evil.example.com/callback",
    ] {
        let request = OAuth2AuthorizationRequest {
            redirect_uri: redirect_uri.into(),
            ..client.authorization_request()
        };
        let result = decide(&fx, &request, Some(UserDecision::Approve)).await;
        assert_eq!(invalid_field(result), "redirect_uri", "{redirect_uri}");
    }
    assert!(fx.store.read(|t| t.codes.is_empty()));
}

#[tokio::test]
async fn an_unknown_or_disabled_client_is_an_error_for_the_user() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    let unknown = OAuth2AuthorizationRequest {
        client_id: "nobody".into(),
        ..client.authorization_request()
    };
    assert_eq!(
        invalid_field(decide(&fx, &unknown, None).await),
        "client_id"
    );
    fx.store
        .write(|t| t.oauth2_clients.get_mut("app").unwrap().enabled = false);
    let disabled = decide(&fx, &client.authorization_request(), None).await;
    assert_eq!(invalid_field(disabled), "client_id");
}

#[tokio::test]
async fn an_omitted_redirect_uri_means_the_only_registered_one_at_the_token_endpoint_too() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    let omitted_at_authorization = OAuth2AuthorizationRequest {
        redirect_uri: String::new(),
        ..client.authorization_request()
    };
    async fn approved(fx: &Fixture, request: &OAuth2AuthorizationRequest) -> String {
        let outcome = decide(fx, request, Some(UserDecision::Approve))
            .await
            .unwrap();
        let redirect = outcome.redirect_url.unwrap();
        assert!(redirect.starts_with(REDIRECT_URI), "{redirect}");
        query_parameter(&redirect, "code").unwrap()
    }

    // RFC 6749 section 4.1.3: the registered URI is the one the code went to.
    let sent_registered = approved(&fx, &omitted_at_authorization).await;
    assert_eq!(stored_code(&fx, &sent_registered).redirect_uri, "");
    assert!(
        fx.authority
            .exchange_oauth2(&client.code_request(&sent_registered))
            .await
            .is_ok()
    );
    let omitted = approved(&fx, &omitted_at_authorization).await;
    let omitted_again = OAuth2TokenRequest {
        redirect_uri: String::new(),
        ..client.code_request(&omitted)
    };
    assert!(fx.authority.exchange_oauth2(&omitted_again).await.is_ok());
    let elsewhere = approved(&fx, &omitted_at_authorization).await;
    let sent_other = OAuth2TokenRequest {
        redirect_uri: "https://app.example.com/other".into(),
        ..client.code_request(&elsewhere)
    };
    assert_eq!(
        oauth2_error(fx.authority.exchange_oauth2(&sent_other).await),
        OAuth2Error::InvalidGrant
    );
    assert_eq!(stored_code(&fx, &elsewhere).redeemed_at, None);

    let several = fx
        .client_from(OAuth2ClientDraft {
            redirect_uris: vec![REDIRECT_URI.into(), "https://app.example.com/other".into()],
            ..Fixture::client_draft("several", false)
        })
        .await;
    let request = OAuth2AuthorizationRequest {
        redirect_uri: String::new(),
        ..several.authorization_request()
    };
    assert_eq!(
        invalid_field(decide(&fx, &request, None).await),
        "redirect_uri"
    );
}

#[tokio::test]
async fn other_problems_go_back_to_the_client_with_the_state_and_issue_no_code() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    let base = client.authorization_request();
    let cases = [
        (
            OAuth2AuthorizationRequest {
                response_type: "token".into(),
                ..base.clone()
            },
            OAuth2Error::UnsupportedResponseType,
        ),
        (
            OAuth2AuthorizationRequest {
                response_type: String::new(),
                ..base.clone()
            },
            OAuth2Error::InvalidRequest,
        ),
        (
            OAuth2AuthorizationRequest {
                scope: "read admin".into(),
                ..base.clone()
            },
            OAuth2Error::InvalidScope,
        ),
        (
            OAuth2AuthorizationRequest {
                code_challenge: String::new(),
                code_challenge_method: String::new(),
                ..base.clone()
            },
            OAuth2Error::InvalidRequest,
        ),
        (
            OAuth2AuthorizationRequest {
                code_challenge: VERIFIER.into(),
                code_challenge_method: "plain".into(),
                ..base.clone()
            },
            OAuth2Error::InvalidRequest,
        ),
        (
            OAuth2AuthorizationRequest {
                code_challenge: "short".into(),
                ..base.clone()
            },
            OAuth2Error::InvalidRequest,
        ),
    ];
    for (request, error) in cases {
        let outcome = decide(&fx, &request, Some(UserDecision::Approve))
            .await
            .unwrap();
        assert_eq!(outcome.error, Some(error), "{request:?}");
        let redirect = outcome.redirect_url.unwrap();
        assert_eq!(
            query_parameter(&redirect, "error").as_deref(),
            Some(error.as_str())
        );
        assert_eq!(query_parameter(&redirect, "state").as_deref(), Some("xyz"));
        assert_eq!(query_parameter(&redirect, "code"), None);
    }
    assert!(fx.store.read(|t| t.codes.is_empty()));
}

#[tokio::test]
async fn a_denial_goes_back_as_access_denied() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    let outcome = decide(
        &fx,
        &client.authorization_request(),
        Some(UserDecision::Deny),
    )
    .await
    .unwrap();
    assert_eq!(outcome.error, Some(OAuth2Error::AccessDenied));
    let redirect = outcome.redirect_url.unwrap();
    assert_eq!(
        query_parameter(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert!(fx.store.read(|t| t.codes.is_empty()));
}

#[tokio::test]
async fn only_the_frontend_authorizes() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    for caller in [admin(), service(), Caller::ANONYMOUS] {
        let result = fx
            .authority
            .authorize_oauth2(
                &caller,
                &client.authorization_request(),
                USER,
                Some(UserDecision::Approve),
            )
            .await;
        assert!(is_unauthenticated(&result), "{caller:?}: {result:?}");
    }
    assert!(fx.store.read(|t| t.codes.is_empty()));
}

#[tokio::test]
async fn a_code_redeems_for_a_one_hour_access_token_and_a_refresh_token() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let code = fx.code(&client).await;
    fx.advance(Duration::seconds(30));
    let issued = fx
        .authority
        .exchange_oauth2(&client.code_request(&code))
        .await
        .unwrap();
    assert_eq!(issued.expires_in, Duration::hours(1));
    assert_eq!(issued.expires_at, fx.now() + Duration::hours(1));
    assert_eq!(issued.scopes, ["read", "write"]);

    let redeemed = stored_code(&fx, &code);
    assert_eq!(redeemed.redeemed_at, Some(fx.now()));
    assert_eq!(redeemed.grant_id, Some(issued.grant_id));
    let grant = fx
        .store
        .read(|t| t.grants.get(&issued.grant_id).cloned())
        .unwrap();
    assert_eq!(
        (grant.user_id.as_str(), grant.client_id.as_str()),
        (USER, "app")
    );
    assert_eq!(grant.code_id, redeemed.id);
    assert_eq!(grant.expires_at, fx.now() + Duration::days(365));
    let tokens = fx.store.read(|t| {
        let mut tokens: Vec<_> = t
            .oauth2_tokens
            .values()
            .map(|token| {
                (
                    token.kind,
                    token.token_hash,
                    token.expires_at,
                    token.grant_id,
                )
            })
            .collect();
        tokens.sort_by_key(|(kind, ..)| kind.as_str());
        tokens
    });
    assert_eq!(
        tokens,
        [
            (
                OAuth2TokenKind::Access,
                TokenHash::of(&value(&issued.access_token)),
                fx.now() + Duration::hours(1),
                grant.id
            ),
            (
                OAuth2TokenKind::Refresh,
                TokenHash::of(&value(&issued.refresh_token)),
                fx.now() + Duration::days(90),
                grant.id
            ),
        ]
    );
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::OAuth2CodeRedeemed);
    assert_eq!(audit.actor, "client:app");
}

#[tokio::test]
async fn a_wrong_or_missing_pkce_verifier_is_refused_and_leaves_the_code_unredeemed() {
    let fx = Fixture::new();
    let client = fx.client("app", false).await;
    let code = fx.code(&client).await;
    for verifier in ["", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", "short"] {
        let request = OAuth2TokenRequest {
            code_verifier: verifier.into(),
            ..client.code_request(&code)
        };
        let refused = fx.authority.exchange_oauth2(&request).await;
        assert_eq!(
            oauth2_error(refused),
            OAuth2Error::InvalidGrant,
            "{verifier:?}"
        );
    }
    assert_eq!(stored_code(&fx, &code).redeemed_at, None);
    assert!(
        fx.authority
            .exchange_oauth2(&client.code_request(&code))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_confidential_client_may_go_without_pkce_but_then_sends_no_verifier() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let request = OAuth2AuthorizationRequest {
        code_challenge: String::new(),
        code_challenge_method: String::new(),
        ..client.authorization_request()
    };
    let outcome = decide(&fx, &request, Some(UserDecision::Approve))
        .await
        .unwrap();
    let code = query_parameter(&outcome.redirect_url.unwrap(), "code").unwrap();
    assert_eq!(stored_code(&fx, &code).pkce, None);
    let with_verifier = fx
        .authority
        .exchange_oauth2(&client.code_request(&code))
        .await;
    assert_eq!(oauth2_error(with_verifier), OAuth2Error::InvalidGrant);
    let without = OAuth2TokenRequest {
        code_verifier: String::new(),
        ..client.code_request(&code)
    };
    assert!(fx.authority.exchange_oauth2(&without).await.is_ok());
}

#[tokio::test]
async fn a_code_is_redeemed_once_and_its_second_use_revokes_the_whole_family() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let code = fx.code(&client).await;
    let first = fx
        .authority
        .exchange_oauth2(&client.code_request(&code))
        .await
        .unwrap();
    let refreshed = fx
        .authority
        .exchange_oauth2(&client.refresh_request(&value(&first.refresh_token)))
        .await
        .unwrap();

    let replay = fx
        .authority
        .exchange_oauth2(&client.code_request(&code))
        .await;
    assert_eq!(oauth2_error(replay), OAuth2Error::InvalidGrant);
    fx.store.read(|t| {
        assert_eq!(t.oauth2_tokens.len(), 4);
        assert!(
            t.oauth2_tokens
                .values()
                .all(|token| token.revoked_at == Some(fx.now()))
        );
        assert_eq!(t.grants[&first.grant_id].revoked_at, Some(fx.now()));
    });
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::OAuth2GrantRevoked);
    assert_eq!(audit.detail, "authorization code reused");
    for access in [&first.access_token, &refreshed.access_token] {
        let refused = fx
            .authority
            .validate_bearer(&service(), &value(access))
            .await;
        assert_eq!(oauth2_error(refused), OAuth2Error::InvalidToken);
    }
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let code = fx.code(&client).await;
    fx.advance(Duration::minutes(1));
    let refused = fx
        .authority
        .exchange_oauth2(&client.code_request(&code))
        .await;
    assert_eq!(oauth2_error(refused), OAuth2Error::InvalidGrant);
    fx.store.read(|t| {
        assert!(t.grants.is_empty());
        assert!(t.oauth2_tokens.is_empty());
    });
}

#[tokio::test]
async fn a_code_redeems_only_for_its_own_client_and_redirect_uri() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let other = fx.client("other", true).await;
    let code = fx.code(&client).await;
    let by_other = other.code_request(&code);
    assert_eq!(
        oauth2_error(fx.authority.exchange_oauth2(&by_other).await),
        OAuth2Error::InvalidGrant
    );
    let elsewhere = OAuth2TokenRequest {
        redirect_uri: "https://app.example.com/other".into(),
        ..client.code_request(&code)
    };
    assert_eq!(
        oauth2_error(fx.authority.exchange_oauth2(&elsewhere).await),
        OAuth2Error::InvalidGrant
    );
    assert_eq!(stored_code(&fx, &code).redeemed_at, None);
    assert!(
        fx.authority
            .exchange_oauth2(&client.code_request(&code))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn client_authentication_refuses_every_wrong_credential_alike() {
    let fx = Fixture::new();
    let confidential = fx.client("app", true).await;
    fx.client("public", false).await;
    let code = fx.code(&confidential).await;
    let with = |client_id: &str, secret: Option<&str>| OAuth2TokenRequest {
        client: OAuth2ClientCredentials {
            client_id: client_id.into(),
            client_secret: secret.map(SecretString::from),
        },
        ..confidential.code_request(&code)
    };
    for request in [
        with("app", Some("wrong")),
        with("app", None),
        with("public", Some("anything")),
        with("nobody", Some("anything")),
        with("", None),
    ] {
        let described = request.client.client_id.clone();
        let refused = fx.authority.exchange_oauth2(&request).await;
        assert_eq!(
            oauth2_error(refused),
            OAuth2Error::InvalidClient,
            "{described}"
        );
    }
    assert_eq!(stored_code(&fx, &code).redeemed_at, None);
}

#[tokio::test]
async fn an_unsupported_or_missing_grant_type_is_refused() {
    let fx = Fixture::new();
    let client = fx.client("app", true).await;
    let code = fx.code(&client).await;
    for (grant_type, error) in [
        ("password", OAuth2Error::UnsupportedGrantType),
        ("", OAuth2Error::InvalidRequest),
    ] {
        let request = OAuth2TokenRequest {
            grant_type: grant_type.into(),
            ..client.code_request(&code)
        };
        assert_eq!(
            oauth2_error(fx.authority.exchange_oauth2(&request).await),
            error
        );
    }
    let no_code = client.code_request("");
    assert_eq!(
        oauth2_error(fx.authority.exchange_oauth2(&no_code).await),
        OAuth2Error::InvalidRequest
    );
}

#[tokio::test]
async fn every_authorization_response_names_the_issuer() {
    let fx = Fixture::new();
    let issuer = fx.authority.policy().public_base_url.trim_end_matches('/');
    assert_eq!(issuer, crate::oauth2::grant::issuer(&format!("{issuer}/")));
    let client = fx.client("app", false).await;
    let request = client.authorization_request();
    let bad_scope = OAuth2AuthorizationRequest {
        scope: "admin".into(),
        ..request.clone()
    };
    let approved = decide(&fx, &request, Some(UserDecision::Approve)).await;
    let denied = decide(&fx, &request, Some(UserDecision::Deny)).await;
    let refused = decide(&fx, &bad_scope, Some(UserDecision::Approve)).await;
    for outcome in [approved, denied, refused] {
        let redirect = outcome.unwrap().redirect_url.unwrap();
        assert_eq!(
            query_parameter(&redirect, "iss").as_deref(),
            Some(issuer),
            "{redirect}"
        );
    }
}
