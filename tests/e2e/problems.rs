//! One bad input per OAuth problem word, each asserting the gRPC code and the word.

use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, FRONTEND, with_credential};
use latchkey_tests::consumer::{
    ACCESS_TOKEN_URL, Extras, REQUEST_TOKEN_URL, RESOURCE_URL, Signer, TestConsumer,
};
use latchkey_tests::flows::{
    access_token, decide, hmac_consumer, request_token, rsa_consumer, set_enabled,
};
use latchkey_tests::{TestApp, assert_problem};
use tonic::Code;

on_both_backends!(
    every_problem_word_comes_with_its_code,
    a_replayed_request_is_refused_as_nonce_used,
    a_call_that_names_neither_protocol_is_invalid_argument_naming_its_request,
);

fn issue(request: pb::SignedRequest) -> pb::IssueRequestTokenRequest {
    pb::IssueRequestTokenRequest {
        request: Some(request),
    }
}

async fn every_problem_word_comes_with_its_code(app: &TestApp) {
    let mut client = app.authority.clone();
    let consumer = hmac_consumer(app, "table").await;
    let oob = Extras {
        callback: Some("oob"),
        ..Extras::default()
    };

    // version_rejected: only 1.0 exists.
    let mut signed = consumer.sign("POST", REQUEST_TOKEN_URL, &oob);
    signed.authorization =
        signed
            .authorization
            .replacen("OAuth ", "OAuth oauth_version=\"2.0\",", 1);
    let status = assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::InvalidArgument,
        "version_rejected",
    );
    assert!(status.message().contains("version"));

    // parameter_absent: the request-token call needs oauth_callback.
    let signed = consumer.sign("POST", REQUEST_TOKEN_URL, &Extras::default());
    let status = assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::InvalidArgument,
        "parameter_absent",
    );
    let info = tonic_types::StatusExt::get_error_details(&status)
        .error_info()
        .cloned()
        .unwrap();
    assert_eq!(
        info.metadata
            .get("oauth_parameters_absent")
            .map(String::as_str),
        Some("oauth_callback")
    );

    // parameter_rejected: the same protocol parameter twice.
    let mut signed = consumer.sign("POST", REQUEST_TOKEN_URL, &oob);
    signed.url = format!("{REQUEST_TOKEN_URL}?oauth_nonce=again");
    assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::InvalidArgument,
        "parameter_rejected",
    );
    // ... and a header that is not a parameter list.
    let signed = pb::SignedRequest {
        method: "POST".into(),
        url: REQUEST_TOKEN_URL.into(),
        authorization: "OAuth oauth_consumer_key=unquoted".into(),
        form_body: String::new(),
    };
    assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::InvalidArgument,
        "parameter_rejected",
    );
    // ... and no request at all is a plain invalid argument.
    let status = client
        .issue_request_token(pb::IssueRequestTokenRequest { request: None })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // timestamp_refused: an hour old, with the acceptable window in the answer.
    let stale = (app.now_seconds() - 3600) as u64;
    let signed = consumer.sign(
        "POST",
        REQUEST_TOKEN_URL,
        &Extras {
            timestamp: Some(stale),
            ..oob.clone()
        },
    );
    let status = assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::InvalidArgument,
        "timestamp_refused",
    );
    let info = tonic_types::StatusExt::get_error_details(&status)
        .error_info()
        .cloned()
        .unwrap();
    let now = app.now_seconds();
    assert_eq!(
        info.metadata.get("oauth_acceptable_timestamps"),
        Some(&format!("{}-{}", now - 300, now + 300))
    );

    // nonce_used: see the replay scenario below; here a nonce reused across calls.
    let signed = consumer.sign(
        "POST",
        REQUEST_TOKEN_URL,
        &Extras {
            nonce: Some("fixed-nonce"),
            ..oob.clone()
        },
    );
    client.issue_request_token(issue(signed)).await.unwrap();
    let signed = consumer.sign(
        "POST",
        REQUEST_TOKEN_URL,
        &Extras {
            nonce: Some("fixed-nonce"),
            ..oob.clone()
        },
    );
    assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::Unauthenticated,
        "nonce_used",
    );

    // signature_method_rejected: an RSA-only consumer signing with HMAC-SHA1, and an
    // unknown method.
    rsa_consumer(app, "rsa-only").await;
    let pretender = TestConsumer::new(
        "rsa-only",
        Signer::HmacSha1(String::new()),
        app.clock.clone(),
    );
    assert_problem(
        client
            .issue_request_token(pretender.request_token("oob"))
            .await,
        Code::InvalidArgument,
        "signature_method_rejected",
    );
    let mut signed = consumer.sign("POST", REQUEST_TOKEN_URL, &oob);
    signed.authorization = signed.authorization.replace("HMAC-SHA1", "HMAC-MD5");
    assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::InvalidArgument,
        "signature_method_rejected",
    );

    // signature_invalid: the wrong secret, and a request changed after signing.
    let forger = TestConsumer::new("table", Signer::HmacSha1("wrong".into()), app.clock.clone());
    assert_problem(
        client
            .issue_request_token(forger.request_token("oob"))
            .await,
        Code::Unauthenticated,
        "signature_invalid",
    );
    let mut signed = consumer.sign("POST", REQUEST_TOKEN_URL, &oob);
    signed.url = "https://jira.example.com/plugins/servlet/oauth/request-token-elsewhere".into();
    assert_problem(
        client.issue_request_token(issue(signed)).await,
        Code::Unauthenticated,
        "signature_invalid",
    );

    // consumer_key_unknown.
    let stranger = TestConsumer::new("nobody", Signer::HmacSha1("x".into()), app.clock.clone());
    assert_problem(
        client
            .issue_request_token(stranger.request_token("oob"))
            .await,
        Code::Unauthenticated,
        "consumer_key_unknown",
    );

    // consumer_key_rejected: a disabled consumer.
    let disabled = hmac_consumer(app, "disabled").await;
    set_enabled(app, "disabled", false).await;
    assert_problem(
        client
            .issue_request_token(disabled.request_token("oob"))
            .await,
        Code::Unauthenticated,
        "consumer_key_rejected",
    );

    // permission_unknown: exchanging before the user decided.
    let (token, secret) = request_token(app, &consumer, "oob").await;
    assert_problem(
        client
            .exchange_token(consumer.exchange(&token, &secret, "anything"))
            .await,
        Code::FailedPrecondition,
        "permission_unknown",
    );

    // token_used: exchanging twice, and deciding twice.
    let verifier = decide(app, &token, "grace", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    client
        .exchange_token(consumer.exchange(&token, &secret, &verifier))
        .await
        .unwrap();
    assert_problem(
        client
            .exchange_token(consumer.exchange(&token, &secret, &verifier))
            .await,
        Code::Unauthenticated,
        "token_used",
    );
    assert_problem(
        decide(app, &token, "grace", pb::Decision::Approve).await,
        Code::FailedPrecondition,
        "token_used",
    );

    // token_rejected: an unknown access token, another consumer's token, an unknown
    // request token at the frontend, and a wrong verifier.
    assert_problem(
        client
            .validate_access(consumer.resource("not-a-token", "x"))
            .await,
        Code::Unauthenticated,
        "token_rejected",
    );
    let other = hmac_consumer(app, "other").await;
    let (others_token, others_secret, _) = access_token(app, &other, "heidi").await;
    assert_problem(
        client
            .validate_access(consumer.resource(&others_token, &others_secret))
            .await,
        Code::Unauthenticated,
        "token_rejected",
    );
    assert_problem(
        decide(app, "no-such-request-token", "grace", pb::Decision::Approve).await,
        Code::NotFound,
        "token_rejected",
    );
    let (token, secret) = request_token(app, &consumer, "oob").await;
    decide(app, &token, "grace", pb::Decision::Approve)
        .await
        .unwrap();
    assert_problem(
        client
            .exchange_token(consumer.exchange(&token, &secret, "WRONG"))
            .await,
        Code::Unauthenticated,
        "token_rejected",
    );
    // An exchange without a verifier is parameter_absent, naming it.
    let signed = consumer.sign(
        "POST",
        ACCESS_TOKEN_URL,
        &Extras {
            token: Some((&token, &secret)),
            ..Extras::default()
        },
    );
    assert_problem(
        client
            .exchange_token(pb::ExchangeTokenRequest {
                request: Some(pb::exchange_token_request::Request::Signed(signed)),
            })
            .await,
        Code::InvalidArgument,
        "parameter_absent",
    );

    // token_revoked and token_expired.
    let (access, access_secret, access_id) = access_token(app, &consumer, "ivan").await;
    client
        .revoke(with_credential(
            pb::RevokeRequest {
                target: Some(pb::revoke_request::Target::TokenId(access_id)),
                actor: Some(pb::revoke_request::Actor::Admin(pb::AdminActor {})),
            },
            ADMIN,
        ))
        .await
        .unwrap();
    assert_problem(
        client
            .validate_access(consumer.resource(&access, &access_secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );
    let (access, access_secret, _) = access_token(app, &consumer, "judy").await;
    app.advance(chrono::Duration::days(7));
    assert_problem(
        client
            .validate_access(consumer.resource(&access, &access_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );

    // permission_denied: a user revoking someone else's grant.
    let (_, _, judys) = access_token(app, &consumer, "judy").await;
    assert_problem(
        client
            .revoke(with_credential(
                pb::RevokeRequest {
                    target: Some(pb::revoke_request::Target::TokenId(judys)),
                    actor: Some(pb::revoke_request::Actor::UserId("mallory".into())),
                },
                FRONTEND,
            ))
            .await,
        Code::PermissionDenied,
        "permission_denied",
    );

    // A resource URL with a query signs and verifies (the query is part of the base string).
    let (access, access_secret, _) = access_token(app, &consumer, "ken").await;
    let signed = consumer.sign(
        "GET",
        RESOURCE_URL,
        &Extras {
            token: Some((&access, &access_secret)),
            query: vec![("jql", "project = LK & a+b"), ("a", "1")],
            ..Extras::default()
        },
    );
    client
        .validate_access(pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::Signed(signed)),
        })
        .await
        .unwrap();
}

async fn a_replayed_request_is_refused_as_nonce_used(app: &TestApp) {
    let consumer = hmac_consumer(app, "replayed").await;
    let (token, secret, _) = access_token(app, &consumer, "leo").await;
    let mut client = app.authority.clone();
    let request = consumer.resource(&token, &secret);
    client.validate_access(request.clone()).await.unwrap();
    assert_problem(
        client.validate_access(request.clone()).await,
        Code::Unauthenticated,
        "nonce_used",
    );
    // Another consumer may use the same nonce.
    let other = hmac_consumer(app, "replayed-other").await;
    let (token, secret, _) = access_token(app, &other, "leo").await;
    let extras = Extras {
        token: Some((&token, &secret)),
        nonce: Some("shared-nonce"),
        ..Extras::default()
    };
    client
        .validate_access(pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::Signed(other.sign(
                "GET",
                RESOURCE_URL,
                &extras,
            ))),
        })
        .await
        .unwrap();
    let (token, secret, _) = access_token(app, &consumer, "leo").await;
    let extras = Extras {
        token: Some((&token, &secret)),
        nonce: Some("shared-nonce"),
        ..Extras::default()
    };
    client
        .validate_access(pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::Signed(consumer.sign(
                "GET",
                RESOURCE_URL,
                &extras,
            ))),
        })
        .await
        .unwrap();
}

async fn a_call_that_names_neither_protocol_is_invalid_argument_naming_its_request(app: &TestApp) {
    let mut client = app.authority.clone();
    let refusals = [
        client
            .authorize(with_credential(
                pb::AuthorizeRequest {
                    request: None,
                    user_id: "alice".into(),
                    decision: pb::Decision::Approve as i32,
                },
                FRONTEND,
            ))
            .await
            .map(drop),
        client
            .exchange_token(pb::ExchangeTokenRequest { request: None })
            .await
            .map(drop),
        client
            .validate_access(pb::ValidateAccessRequest { request: None })
            .await
            .map(drop),
    ];
    for refusal in refusals {
        let status = refusal.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with("request: "), "{status:?}");
        let details = tonic_types::StatusExt::get_error_details(&status);
        let fields: Vec<&str> = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| v.field.as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["request"], "{status:?}");
        // As a missing signed request always was: a malformed call, no protocol's word.
        assert!(details.error_info().is_none(), "{status:?}");
        assert!(status.metadata().get("oauth-problem").is_none());
        assert!(status.metadata().get("oauth2-error").is_none());
    }
}
