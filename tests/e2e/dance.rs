//! The whole OAuth 1.0a dance through a real server and client.

use latchkey_api::v1 as pb;
use latchkey_server::http::REQUEST_TOKEN_PATH;
use latchkey_tests::app::{ADMIN, FRONTEND, with_credential};
use latchkey_tests::consumer::{Extras, REQUEST_TOKEN_URL, Signer, TestConsumer};
use latchkey_tests::flows::{
    decide, describe, grants, hmac_consumer, oauth1_access_token, register, request_token,
    rsa_consumer,
};
use latchkey_tests::http::send_signed;
use latchkey_tests::{TestApp, assert_problem};
use tonic::Code;

on_both_backends!(
    the_whole_dance_with_hmac_sha1_ends_in_a_token_that_fails_once_revoked,
    the_whole_dance_with_rsa_sha1_works_for_a_consumer_registered_from_a_certificate,
    the_whole_dance_with_rsa_sha1_works_for_a_key_pair_generated_here,
    an_out_of_band_dance_yields_a_verification_code_to_type,
    a_denied_request_token_can_be_neither_exchanged_nor_decided_again,
    plaintext_is_accepted_over_https_for_a_consumer_that_allows_it,
    calls_that_assert_a_user_need_the_frontend_credential,
    a_callback_outside_the_registered_one_is_refused,
    a_callback_that_leaves_the_registered_path_once_decoded_is_refused,
);

async fn the_whole_dance_with_hmac_sha1_ends_in_a_token_that_fails_once_revoked(app: &TestApp) {
    let consumer = hmac_consumer(app, "jira-hmac").await;
    let mut client = app.authority.clone();

    let issued = client
        .issue_request_token(consumer.request_token("https://app.example.com/cb?x=1"))
        .await
        .unwrap()
        .into_inner();
    assert!(issued.callback_confirmed);
    assert_eq!(issued.token.len(), 43);
    assert_eq!(
        issued.authorize_url,
        format!(
            "https://auth.example.com/plugins/servlet/oauth/authorize?oauth_token={}",
            issued.token
        )
    );
    let expires = issued.expires_at.unwrap().seconds - app.now_seconds();
    assert_eq!(expires, 600, "request tokens live 10 minutes");

    let described = describe(app, &issued.token).await;
    assert_eq!(described.consumer_key, "jira-hmac");
    assert_eq!(described.consumer_name, "jira-hmac app");
    assert_eq!(described.consumer_description, "A test consumer");
    assert_eq!(described.callback, "https://app.example.com/cb?x=1");
    assert_eq!(described.state(), pb::RequestTokenState::Pending);

    let approved = decide(app, &issued.token, "alice", pb::Decision::Approve)
        .await
        .unwrap();
    assert!(!approved.out_of_band);
    assert_eq!(
        approved.redirect_url,
        format!(
            "https://app.example.com/cb?x=1&oauth_token={}&oauth_verifier={}",
            issued.token, approved.verifier
        )
    );
    let described = describe(app, &issued.token).await;
    assert_eq!(described.state(), pb::RequestTokenState::Approved);

    let access = oauth1_access_token(
        client
            .exchange_token(consumer.exchange(
                &issued.token,
                &issued.token_secret,
                &approved.verifier,
            ))
            .await
            .unwrap()
            .into_inner(),
    );
    assert_ne!(access.token, issued.token);
    assert_eq!(
        access.expires_at.unwrap().seconds - app.now_seconds(),
        7 * 24 * 3600,
        "the default policy is 7 days"
    );

    let principal = client
        .validate_access(consumer.resource(&access.token, &access.token_secret))
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    assert_eq!(principal.user_id, "alice");
    assert_eq!(principal.consumer_key, "jira-hmac");
    assert_eq!(principal.token_id, access.token_id);

    let listed = grants(app, "alice").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].token_id, access.token_id);
    assert_eq!(listed[0].consumer_name, "jira-hmac app");

    let revoked = client
        .revoke(with_credential(
            pb::RevokeRequest {
                target: Some(pb::revoke_request::Target::TokenId(access.token_id.clone())),
                actor: Some(pb::revoke_request::Actor::UserId("alice".into())),
            },
            FRONTEND,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1);
    assert_problem(
        client
            .validate_access(consumer.resource(&access.token, &access.token_secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );
    assert!(grants(app, "alice").await.is_empty());
}

async fn the_whole_dance_with_rsa_sha1_works_for_a_consumer_registered_from_a_certificate(
    app: &TestApp,
) {
    let consumer = rsa_consumer(app, "jira-applink").await;
    let mut admin = app.admin.clone();
    let registered = admin
        .get_consumer(with_credential(
            pb::GetConsumerRequest {
                key: "jira-applink".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        registered
            .public_key_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert_eq!(
        registered.signature_methods,
        vec![pb::SignatureMethod::RsaSha1 as i32]
    );
    assert!(!registered.has_shared_secret);

    let (access, secret, _) = latchkey_tests::flows::access_token(app, &consumer, "bob").await;
    let mut client = app.authority.clone();
    let principal = client
        .validate_access(consumer.resource(&access, &secret))
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    assert_eq!(principal.user_id, "bob");

    // The same request signed by another RSA key does not verify.
    let impostor = TestConsumer::new(
        "jira-applink",
        Signer::RsaSha1(rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap()),
        app.clock.clone(),
    );
    assert_problem(
        client
            .validate_access(impostor.resource(&access, &secret))
            .await,
        Code::Unauthenticated,
        "signature_invalid",
    );
}

async fn the_whole_dance_with_rsa_sha1_works_for_a_key_pair_generated_here(app: &TestApp) {
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::CRLF)
        .unwrap();
    register(
        app,
        pb::RegisterConsumerRequest {
            key: "generated-rsa".into(),
            name: "Generated".into(),
            public_key: public_pem,
            ..Default::default()
        },
    )
    .await;
    let consumer = TestConsumer::new("generated-rsa", Signer::RsaSha1(private), app.clock.clone());
    let (access, secret, id) = latchkey_tests::flows::access_token(app, &consumer, "gina").await;
    let mut client = app.authority.clone();
    let principal = client
        .validate_access(consumer.resource(&access, &secret))
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    assert_eq!(
        (principal.user_id.as_str(), principal.token_id),
        ("gina", id)
    );
}

async fn an_out_of_band_dance_yields_a_verification_code_to_type(app: &TestApp) {
    let consumer = hmac_consumer(app, "desktop").await;
    let (token, secret) = request_token(app, &consumer, "oob").await;
    let approved = decide(app, &token, "carol", pb::Decision::Approve)
        .await
        .unwrap();
    assert!(approved.out_of_band);
    assert!(approved.redirect_url.is_empty());
    assert_eq!(approved.verifier.len(), 10);
    let mut client = app.authority.clone();
    let access = client
        .exchange_token(consumer.exchange(&token, &secret, &approved.verifier))
        .await
        .unwrap()
        .into_inner();
    assert!(!oauth1_access_token(access).token.is_empty());
}

async fn a_denied_request_token_can_be_neither_exchanged_nor_decided_again(app: &TestApp) {
    let consumer = hmac_consumer(app, "denied").await;
    let (token, secret) = request_token(app, &consumer, "https://app.example.com/cb").await;
    let denied = decide(app, &token, "dave", pb::Decision::Deny)
        .await
        .unwrap();
    assert!(denied.verifier.is_empty());
    assert_eq!(
        denied.redirect_url,
        format!("https://app.example.com/cb?oauth_token={token}&oauth_problem=user_refused")
    );

    let mut client = app.authority.clone();
    assert_problem(
        client
            .exchange_token(consumer.exchange(&token, &secret, "guess"))
            .await,
        Code::PermissionDenied,
        "permission_denied",
    );
    assert_problem(
        decide(app, &token, "dave", pb::Decision::Approve).await,
        Code::FailedPrecondition,
        "token_used",
    );
    let described = describe(app, &token).await;
    assert_eq!(described.state(), pb::RequestTokenState::Denied);
}

// The secret keeps to unreserved characters: oauth1-request writes a PLAINTEXT
// signature into the header without the second percent-encoding RFC 5849 section 3.5.1
// asks for, which only shows with reserved characters. The server follows the RFC (the
// core's unit tests cover secrets with reserved characters).
async fn plaintext_is_accepted_over_https_for_a_consumer_that_allows_it(app: &TestApp) {
    register(
        app,
        pb::RegisterConsumerRequest {
            key: "plain".into(),
            name: "Plain".into(),
            secret: Some(pb::register_consumer_request::Secret::SharedSecret(
                "plain-s3cret_1.0~".into(),
            )),
            signature_methods: vec![pb::SignatureMethod::Plaintext as i32],
            ..Default::default()
        },
    )
    .await;
    let consumer = TestConsumer::new(
        "plain",
        Signer::Plaintext("plain-s3cret_1.0~".into()),
        app.clock.clone(),
    );
    let mut client = app.authority.clone();
    client
        .issue_request_token(consumer.request_token("oob"))
        .await
        .unwrap();

    let mut over_http = consumer.request_token("oob");
    let request = over_http.request.as_mut().unwrap();
    request.url = REQUEST_TOKEN_URL.replace("https://", "http://");
    assert_problem(
        client.issue_request_token(over_http).await,
        Code::InvalidArgument,
        "signature_method_rejected",
    );

    let wrong = TestConsumer::new(
        "plain",
        Signer::Plaintext("not it".into()),
        app.clock.clone(),
    );
    assert_problem(
        client.issue_request_token(wrong.request_token("oob")).await,
        Code::Unauthenticated,
        "signature_invalid",
    );
}

async fn calls_that_assert_a_user_need_the_frontend_credential(app: &TestApp) {
    let consumer = hmac_consumer(app, "needs-frontend").await;
    let (token, _) = request_token(app, &consumer, "oob").await;
    let mut client = app.authority.clone();
    let status = client
        .authorize(pb::AuthorizeRequest {
            request: Some(pb::authorize_request::Request::Token(token.clone())),
            user_id: "eve".into(),
            decision: pb::Decision::Approve as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .authorize(with_credential(
            pb::AuthorizeRequest {
                request: Some(pb::authorize_request::Request::Token(token.clone())),
                user_id: "eve".into(),
                decision: pb::Decision::Approve as i32,
            },
            "a-wrong-credential",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .describe_request_token(pb::DescribeRequestTokenRequest {
            token: token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .list_authorizations(pb::ListAuthorizationsRequest {
            user_id: "eve".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // Nothing was decided by the refused calls.
    let approved = decide(app, &token, "eve", pb::Decision::Approve)
        .await
        .unwrap();
    assert!(approved.out_of_band);
}

async fn a_callback_outside_the_registered_one_is_refused(app: &TestApp) {
    let secret = register(
        app,
        pb::RegisterConsumerRequest {
            key: "strict".into(),
            name: "Strict".into(),
            callback_url: "https://app.example.com/cb".into(),
            secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
                true,
            )),
            ..Default::default()
        },
    )
    .await
    .generated_shared_secret;
    let consumer = TestConsumer::new("strict", Signer::HmacSha1(secret), app.clock.clone());
    let mut client = app.authority.clone();
    client
        .issue_request_token(consumer.request_token("https://app.example.com/cb/done"))
        .await
        .unwrap();
    for evil in [
        "https://app.example.com.evil.net/cb",
        "https://app.example.com/cbx",
        "http://app.example.com/cb",
        "javascript:alert(1)",
    ] {
        let status = assert_problem(
            client
                .issue_request_token(consumer.request_token(evil))
                .await,
            Code::InvalidArgument,
            "parameter_rejected",
        );
        assert!(status.message().contains("callback"), "{status:?}");
    }
}

async fn a_callback_that_leaves_the_registered_path_once_decoded_is_refused(app: &TestApp) {
    let secret = register(
        app,
        pb::RegisterConsumerRequest {
            key: "decoded".into(),
            name: "Decoded".into(),
            callback_url: "https://app.example.com/cb".into(),
            secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
                true,
            )),
            ..Default::default()
        },
    )
    .await
    .generated_shared_secret;
    let consumer = TestConsumer::new("decoded", Signer::HmacSha1(secret), app.clock.clone());
    let mut client = app.authority.clone();
    // The server behind the callback decodes `%2f` into a separator and walks out of
    // `/cb`; so would one that decodes twice, or reads `\` as `/`.
    for evil in [
        "https://app.example.com/cb/..%2fadmin",
        "https://app.example.com/cb/..%252fadmin",
        "https://app.example.com/cb/%252e%252e/admin",
        "https://app.example.com/cb/..%5cadmin",
    ] {
        let status = assert_problem(
            client
                .issue_request_token(consumer.request_token(evil))
                .await,
            Code::InvalidArgument,
            "parameter_rejected",
        );
        assert!(status.message().contains("callback"), "{status:?}");
    }
    let over_http = send_signed(
        app,
        &consumer,
        "POST",
        REQUEST_TOKEN_PATH,
        &Extras {
            callback: Some("https://app.example.com/cb/..%2fadmin"),
            ..Extras::default()
        },
    )
    .await;
    assert_eq!(over_http.status, 400);
    assert_eq!(over_http.problem(), "parameter_rejected");
    assert_eq!(
        over_http.form()["oauth_parameters_rejected"],
        "oauth_callback"
    );
}
