//! OAuth 2.0 authorization-code grants over gRPC, as the consent frontend and an edge
//! in front of the token endpoint would drive them: every RFC 6749 / RFC 7636 error
//! case, refresh rotation with reuse detection, revocation, listing, sweeping.

use latchkey_api::v1 as pb;
use latchkey_core::store::SweepJob;
use latchkey_tests::TestApp;
use latchkey_tests::app::{ADMIN, FRONTEND, with_credential};
use latchkey_tests::oauth2::*;
use tonic::Code;

on_both_backends!(
    a_confidential_client_completes_the_grant_and_its_access_token_validates,
    every_token_request_error_has_its_rfc_6749_word,
    authorization_errors_redirect_with_error_and_state_except_for_client_and_redirect_uri,
    a_public_client_needs_pkce_and_presents_no_secret,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_family,
    two_concurrent_refreshes_with_one_token_have_one_winner_and_lose_the_family,
    two_concurrent_redemptions_of_one_code_have_one_winner,
    a_revoked_refresh_token_takes_its_family_and_an_access_token_goes_alone,
    a_user_sees_and_revokes_oauth2_grants_beside_oauth1_ones,
    a_rotated_client_secret_replaces_the_old_one_at_once,
    the_sweeper_removes_expired_codes_and_ended_oauth2_tokens,
);

async fn a_confidential_client_completes_the_grant_and_its_access_token_validates(app: &TestApp) {
    let client = register_client(app, "jira-cloud", true).await;
    let (verifier, challenge) = pkce();
    let mut asked = request(&client, &challenge);
    asked.scope = "read write".into();
    // Without a decision the consent frontend learns what to show.
    let described = decide(app, asked.clone(), pb::Decision::Unspecified)
        .await
        .unwrap();
    assert_eq!(described.client_name, "jira-cloud app");
    assert_eq!(described.scopes, ["read", "write"]);
    assert!(described.redirect_url.is_empty());

    let code = approve(app, asked).await;
    let tokens = token(app, code_request(&client, &code, &verifier))
        .await
        .unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 3600);
    assert_eq!(tokens.scope, "read write");
    assert!(!tokens.refresh_token.is_empty());

    let principal = validate(app, &tokens.access_token).await.unwrap();
    assert_eq!(principal.user_id, "alice");
    assert_eq!(principal.consumer_key, "jira-cloud");
    assert_eq!(principal.scopes, ["read", "write"]);
    // A refresh token is not an access token.
    assert_oauth2_error(
        validate(app, &tokens.refresh_token).await,
        Code::Unauthenticated,
        "invalid_token",
    );
    // An hour later the access token has ended.
    app.clock.advance(chrono::Duration::seconds(3600));
    assert_oauth2_error(
        validate(app, &tokens.access_token).await,
        Code::Unauthenticated,
        "invalid_token",
    );
}

/// One broken token request, and what it must answer.
struct Case {
    name: &'static str,
    expected: (Code, &'static str),
}

async fn every_token_request_error_has_its_rfc_6749_word(app: &TestApp) {
    let client = register_client(app, "confidential", true).await;
    let other = register_client(app, "other", true).await;
    let cases = [
        Case {
            name: "code reuse",
            expected: (Code::PermissionDenied, "invalid_grant"),
        },
        Case {
            name: "redirect mismatch",
            expected: (Code::PermissionDenied, "invalid_grant"),
        },
        Case {
            name: "wrong verifier",
            expected: (Code::PermissionDenied, "invalid_grant"),
        },
        Case {
            name: "missing verifier",
            expected: (Code::PermissionDenied, "invalid_grant"),
        },
        Case {
            name: "wrong client",
            expected: (Code::PermissionDenied, "invalid_grant"),
        },
        Case {
            name: "wrong secret",
            expected: (Code::Unauthenticated, "invalid_client"),
        },
        Case {
            name: "unknown client",
            expected: (Code::Unauthenticated, "invalid_client"),
        },
        Case {
            name: "expired code",
            expected: (Code::PermissionDenied, "invalid_grant"),
        },
        Case {
            name: "unknown grant type",
            expected: (Code::InvalidArgument, "unsupported_grant_type"),
        },
        Case {
            name: "missing code",
            expected: (Code::InvalidArgument, "invalid_request"),
        },
        Case {
            name: "unknown code",
            expected: (Code::PermissionDenied, "invalid_grant"),
        },
        Case {
            name: "bad refresh scope",
            expected: (Code::InvalidArgument, "invalid_scope"),
        },
    ];
    for case in cases {
        let (verifier, challenge) = pkce();
        let code = approve(app, request(&client, &challenge)).await;
        let mut asked = code_request(&client, &code, &verifier);
        let mut first_tokens = None;
        match case.name {
            "code reuse" => {
                first_tokens = Some(token(app, asked.clone()).await.unwrap());
            }
            "redirect mismatch" => asked.redirect_uri = "http://127.0.0.1:9/cb".into(),
            "wrong verifier" => asked.code_verifier = pkce().0,
            "missing verifier" => asked.code_verifier.clear(),
            "wrong client" => asked.client = Some(other.credentials()),
            "wrong secret" => asked.client.as_mut().unwrap().client_secret = "nope".into(),
            "unknown client" => asked.client.as_mut().unwrap().client_id = "ghost".into(),
            "expired code" => app.clock.advance(chrono::Duration::seconds(60)),
            "unknown grant type" => asked.grant_type = "password".into(),
            "missing code" => asked.code.clear(),
            "unknown code" => asked.code = "not-a-code".into(),
            "bad refresh scope" => {
                let tokens = token(app, asked.clone()).await.unwrap();
                asked = refresh_request(&client, &tokens.refresh_token);
                asked.scope = "read admin".into();
            }
            other => panic!("no case {other}"),
        }
        let status = token(app, asked).await;
        let (code, word) = case.expected;
        assert!(status.is_err(), "{}: should fail", case.name);
        assert_oauth2_error(status, code, word);
        if let Some(first) = first_tokens {
            // RFC 6749 section 4.1.2: the tokens issued from a reused code are revoked.
            assert_oauth2_error(
                validate(app, &first.access_token).await,
                Code::Unauthenticated,
                "invalid_token",
            );
            assert_oauth2_error(
                token(app, refresh_request(&client, &first.refresh_token)).await,
                Code::PermissionDenied,
                "invalid_grant",
            );
        }
    }
    // The failed attempts spent no code: a wrong verifier may be corrected.
    let (verifier, challenge) = pkce();
    let code = approve(app, request(&client, &challenge)).await;
    let mut wrong = code_request(&client, &code, &pkce().0);
    assert!(token(app, wrong.clone()).await.is_err());
    wrong.code_verifier = verifier;
    token(app, wrong).await.unwrap();
}

async fn authorization_errors_redirect_with_error_and_state_except_for_client_and_redirect_uri(
    app: &TestApp,
) {
    let client = register_client(app, "web", true).await;
    let public = register_client(app, "spa", false).await;
    let (_, challenge) = pkce();

    // Errors shown to the user: never a redirect.
    let mut unknown = request(&client, &challenge);
    unknown.client_id = "ghost".into();
    let status = decide(app, unknown, pb::Decision::Approve)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut elsewhere = request(&client, &challenge);
    elsewhere.redirect_uri = "https://client.example.com/callback/../evil".into();
    let status = decide(app, elsewhere, pb::Decision::Approve)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut prefix = request(&client, &challenge);
    prefix.redirect_uri = format!("{REDIRECT_URI}?x=1");
    assert!(decide(app, prefix, pb::Decision::Approve).await.is_err());

    // Errors sent back to the client, with its state.
    type Change = fn(&mut pb::OAuth2AuthorizationRequest);
    let cases: [(&str, Change, &str); 7] = [
        (
            "bad scope",
            |r| r.scope = "read admin".into(),
            "invalid_scope",
        ),
        (
            "token response type",
            |r| r.response_type = "token".into(),
            "unsupported_response_type",
        ),
        (
            "no response type",
            |r| r.response_type.clear(),
            "invalid_request",
        ),
        (
            "plain pkce",
            |r| r.code_challenge_method = "plain".into(),
            "invalid_request",
        ),
        (
            "implicit plain pkce",
            |r| r.code_challenge_method.clear(),
            "invalid_request",
        ),
        (
            "unknown method",
            |r| r.code_challenge_method = "S512".into(),
            "invalid_request",
        ),
        (
            "short challenge",
            |r| r.code_challenge = "abc".into(),
            "invalid_request",
        ),
    ];
    for (name, change, word) in cases {
        let mut asked = request(&client, &challenge);
        change(&mut asked);
        let response = decide(app, asked, pb::Decision::Approve).await.unwrap();
        assert_eq!(response.oauth2_error, word, "{name}");
        assert!(response.redirect_url.starts_with(REDIRECT_URI), "{name}");
        assert_eq!(
            param(&response.redirect_url, "error").as_deref(),
            Some(word),
            "{name}"
        );
        assert_eq!(
            param(&response.redirect_url, "state").as_deref(),
            Some("xyz"),
            "{name}"
        );
        assert_eq!(param(&response.redirect_url, "code"), None, "{name}");
    }
    // A public client without PKCE.
    let mut bare = request(&public, "");
    bare.code_challenge_method.clear();
    let response = decide(app, bare, pb::Decision::Approve).await.unwrap();
    assert_eq!(response.oauth2_error, "invalid_request");
    // A denial.
    let response = decide(app, request(&client, &challenge), pb::Decision::Deny)
        .await
        .unwrap();
    assert_eq!(
        param(&response.redirect_url, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        param(&response.redirect_url, "state").as_deref(),
        Some("xyz")
    );
}

async fn a_public_client_needs_pkce_and_presents_no_secret(app: &TestApp) {
    let client = register_client(app, "cli", false).await;
    let (verifier, challenge) = pkce();
    let code = approve(app, request(&client, &challenge)).await;
    let mut with_secret = code_request(&client, &code, &verifier);
    with_secret.client.as_mut().unwrap().client_secret = "made-up".into();
    assert_oauth2_error(
        token(app, with_secret).await,
        Code::Unauthenticated,
        "invalid_client",
    );
    let tokens = token(app, code_request(&client, &code, &verifier))
        .await
        .unwrap();
    validate(app, &tokens.access_token).await.unwrap();
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family(app: &TestApp) {
    let client = register_client(app, "rotating", true).await;
    let first = grant(app, &client).await;
    let second = token(app, refresh_request(&client, &first.refresh_token))
        .await
        .unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.grant_id, first.grant_id);
    validate(app, &second.access_token).await.unwrap();
    // A narrower scope for the new access token only.
    let mut narrower = refresh_request(&client, &second.refresh_token);
    narrower.scope = "read".into();
    let third = token(app, narrower).await.unwrap();
    assert_eq!(third.scope, "read");

    // The first refresh token again: reuse. The whole family goes.
    assert_oauth2_error(
        token(app, refresh_request(&client, &first.refresh_token)).await,
        Code::PermissionDenied,
        "invalid_grant",
    );
    for access in [
        &first.access_token,
        &second.access_token,
        &third.access_token,
    ] {
        assert_oauth2_error(
            validate(app, access).await,
            Code::Unauthenticated,
            "invalid_token",
        );
    }
    assert_oauth2_error(
        token(app, refresh_request(&client, &third.refresh_token)).await,
        Code::PermissionDenied,
        "invalid_grant",
    );
}

async fn two_concurrent_refreshes_with_one_token_have_one_winner_and_lose_the_family(
    app: &TestApp,
) {
    let client = register_client(app, "racing", true).await;
    let first = grant(app, &client).await;
    let attempts = (0..4).map(|_| token(app, refresh_request(&client, &first.refresh_token)));
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for loser in results.iter().filter(|r| r.is_err()) {
        let status = loser.as_ref().unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // As documented: a concurrent reuse is a reuse, so even the winner's tokens go.
    let winner = winners[0];
    assert_oauth2_error(
        validate(app, &winner.access_token).await,
        Code::Unauthenticated,
        "invalid_token",
    );
    assert_oauth2_error(
        token(app, refresh_request(&client, &winner.refresh_token)).await,
        Code::PermissionDenied,
        "invalid_grant",
    );
}

async fn two_concurrent_redemptions_of_one_code_have_one_winner(app: &TestApp) {
    let client = register_client(app, "doubler", true).await;
    let (verifier, challenge) = pkce();
    let code = approve(app, request(&client, &challenge)).await;
    let attempts = (0..4).map(|_| token(app, code_request(&client, &code, &verifier)));
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    // The losers were replays of a used code: the winner's tokens are revoked too.
    assert!(validate(app, &winners[0].access_token).await.is_err());
}

async fn a_revoked_refresh_token_takes_its_family_and_an_access_token_goes_alone(app: &TestApp) {
    let client = register_client(app, "revoker", true).await;
    let other = register_client(app, "bystander", true).await;
    let revoke = |target: pb::revoke_request::Target, by: &TestClient| pb::RevokeRequest {
        target: Some(target),
        actor: Some(pb::revoke_request::Actor::Oauth2Client(by.credentials())),
    };
    let tokens = grant(app, &client).await;
    // Another client may not revoke it.
    let status = app
        .authority
        .clone()
        .revoke(revoke(
            pb::revoke_request::Target::Oauth2Token(tokens.access_token.clone()),
            &other,
        ))
        .await;
    assert_oauth2_error(status, Code::PermissionDenied, "unauthorized_client");
    // Nor may a user or an admin by value: they revoke by grant id (RFC 7009 is the
    // client's own revocation).
    for (actor, credential) in [
        (pb::revoke_request::Actor::UserId("alice".into()), FRONTEND),
        (pb::revoke_request::Actor::Admin(pb::AdminActor {}), ADMIN),
    ] {
        let status = app
            .authority
            .clone()
            .revoke(with_credential(
                pb::RevokeRequest {
                    target: Some(pb::revoke_request::Target::Oauth2Token(
                        tokens.access_token.clone(),
                    )),
                    actor: Some(actor),
                },
                credential,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    assert!(validate(app, &tokens.access_token).await.is_ok());
    // An access token goes alone.
    let revoked = app
        .authority
        .clone()
        .revoke(revoke(
            pb::revoke_request::Target::Oauth2Token(tokens.access_token.clone()),
            &client,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1);
    assert!(validate(app, &tokens.access_token).await.is_err());
    let refreshed = token(app, refresh_request(&client, &tokens.refresh_token))
        .await
        .unwrap();
    // A refresh token takes its family.
    app.authority
        .clone()
        .revoke(revoke(
            pb::revoke_request::Target::Oauth2Token(refreshed.refresh_token.clone()),
            &client,
        ))
        .await
        .unwrap();
    assert!(validate(app, &refreshed.access_token).await.is_err());
    assert!(
        token(app, refresh_request(&client, &refreshed.refresh_token))
            .await
            .is_err()
    );
    // An unknown token is no error (RFC 7009 section 2.2).
    let revoked = app
        .authority
        .clone()
        .revoke(revoke(
            pb::revoke_request::Target::Oauth2Token("unknown".into()),
            &client,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 0);
}

async fn a_user_sees_and_revokes_oauth2_grants_beside_oauth1_ones(app: &TestApp) {
    let client = register_client(app, "listed", true).await;
    let tokens = grant(app, &client).await;
    let consumer = latchkey_tests::flows::hmac_consumer(app, "oauth1-consumer").await;
    latchkey_tests::flows::access_token(app, &consumer, "alice").await;
    let listed = app
        .authority
        .clone()
        .list_authorizations(with_credential(
            pb::ListAuthorizationsRequest {
                user_id: "alice".into(),
            },
            FRONTEND,
        ))
        .await
        .unwrap()
        .into_inner()
        .authorizations;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let oauth2 = listed
        .iter()
        .find(|a| a.kind == pb::AuthorizationKind::Oauth2 as i32)
        .unwrap();
    assert_eq!(oauth2.token_id, tokens.grant_id);
    assert_eq!(oauth2.consumer_name, "listed app");
    assert_eq!(oauth2.scopes, ["read"]);
    assert!(
        listed
            .iter()
            .any(|a| a.kind == pb::AuthorizationKind::Oauth1 as i32)
    );

    let by = |user: &str| pb::RevokeRequest {
        target: Some(pb::revoke_request::Target::Oauth2GrantId(
            tokens.grant_id.clone(),
        )),
        actor: Some(pb::revoke_request::Actor::UserId(user.into())),
    };
    let status = app
        .authority
        .clone()
        .revoke(with_credential(by("mallory"), FRONTEND))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    app.authority
        .clone()
        .revoke(with_credential(by("alice"), FRONTEND))
        .await
        .unwrap();
    assert!(validate(app, &tokens.access_token).await.is_err());
    let listed = app
        .authority
        .clone()
        .list_authorizations(with_credential(
            pb::ListAuthorizationsRequest {
                user_id: "alice".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner()
        .authorizations;
    assert_eq!(listed.len(), 1);
}

async fn a_rotated_client_secret_replaces_the_old_one_at_once(app: &TestApp) {
    let mut client = register_client(app, "rotated", true).await;
    let got = app
        .admin
        .clone()
        .get_o_auth2_client(with_credential(
            pb::GetOAuth2ClientRequest {
                client_id: "rotated".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(got.confidential);
    assert_eq!(got.redirect_uris[0], REDIRECT_URI);
    let new_secret = app
        .admin
        .clone()
        .rotate_o_auth2_client_secret(with_credential(
            pb::RotateOAuth2ClientSecretRequest {
                client_id: "rotated".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    let (verifier, challenge) = pkce();
    let code = approve(app, request(&client, &challenge)).await;
    assert_oauth2_error(
        token(app, code_request(&client, &code, &verifier)).await,
        Code::Unauthenticated,
        "invalid_client",
    );
    client.secret = new_secret;
    token(app, code_request(&client, &code, &verifier))
        .await
        .unwrap();
    // Without the admin credential nothing is registered.
    let status = app
        .admin
        .clone()
        .register_o_auth2_client(pb::RegisterOAuth2ClientRequest {
            name: "x".into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // A redirect URI that is not exact-matchable is refused at registration.
    let status = app
        .admin
        .clone()
        .register_o_auth2_client(with_credential(
            pb::RegisterOAuth2ClientRequest {
                name: "x".into(),
                redirect_uris: vec!["http://client.example.com/cb".into()],
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

async fn the_sweeper_removes_expired_codes_and_ended_oauth2_tokens(app: &TestApp) {
    let client = register_client(app, "swept", true).await;
    let (_, challenge) = pkce();
    approve(app, request(&client, &challenge)).await;
    let tokens = grant(app, &client).await;
    app.authority
        .clone()
        .revoke(pb::RevokeRequest {
            target: Some(pb::revoke_request::Target::Oauth2Token(
                tokens.refresh_token.clone(),
            )),
            actor: Some(pb::revoke_request::Actor::Oauth2Client(
                client.credentials(),
            )),
        })
        .await
        .unwrap();
    // Nothing is due yet.
    let report = app.sweeper.run(SweepJob::RequestTokens).await.unwrap();
    assert_eq!(report.removed, 0);
    // Past the codes' life plus the retention (1 hour), and the tokens' retention (7 days).
    app.clock.advance(chrono::Duration::days(8));
    let report = app.sweeper.run(SweepJob::RequestTokens).await.unwrap();
    assert_eq!(report.removed, 2, "both codes");
    let report = app.sweeper.run(SweepJob::AccessTokens).await.unwrap();
    assert_eq!(report.removed, 3, "two tokens and their grant");
    assert!(validate(app, &tokens.access_token).await.is_err());
}
