//! Steps most scenarios share: registering consumers, approving, a whole dance.

use crate::app::{ADMIN, FRONTEND, TestApp, with_credential};
use crate::consumer::{Signer, TestConsumer, fixture_private_key};
use latchkey_api::v1 as pb;

/// Registers an HMAC-SHA1 consumer with a generated secret.
pub async fn hmac_consumer(app: &TestApp, key: &str) -> TestConsumer {
    hmac_consumer_with_policy(app, key, None).await
}

/// Registers an HMAC-SHA1 consumer with a generated secret and its own token policy.
pub async fn hmac_consumer_with_policy(
    app: &TestApp,
    key: &str,
    token_policy: Option<pb::TokenPolicy>,
) -> TestConsumer {
    let mut admin = app.admin.clone();
    let response = admin
        .register_consumer(with_credential(
            pb::RegisterConsumerRequest {
                key: key.into(),
                name: format!("{key} app"),
                description: "A test consumer".into(),
                secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
                    true,
                )),
                token_policy,
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!response.generated_shared_secret.is_empty());
    TestConsumer::new(
        key,
        Signer::HmacSha1(response.generated_shared_secret),
        app.clock.clone(),
    )
}

/// Registers an RSA-SHA1 consumer from the fixture certificate, as Jira's
/// application-link screen takes one.
pub async fn rsa_consumer(app: &TestApp, key: &str) -> TestConsumer {
    let mut admin = app.admin.clone();
    admin
        .register_consumer(with_credential(
            pb::RegisterConsumerRequest {
                key: key.into(),
                name: format!("{key} app"),
                public_key: crate::consumer::FIXTURE_CERTIFICATE.into(),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap();
    TestConsumer::new(
        key,
        Signer::RsaSha1(fixture_private_key()),
        app.clock.clone(),
    )
}

/// A request token, with its secret.
pub async fn request_token(
    app: &TestApp,
    consumer: &TestConsumer,
    callback: &str,
) -> (String, String) {
    let mut client = app.authority.clone();
    let issued = client
        .issue_request_token(consumer.request_token(callback))
        .await
        .unwrap()
        .into_inner();
    (issued.token, issued.token_secret)
}

/// The frontend's Authorize call.
pub async fn decide(
    app: &TestApp,
    token: &str,
    user: &str,
    decision: pb::Decision,
) -> Result<pb::AuthorizeResponse, tonic::Status> {
    let mut client = app.authority.clone();
    client
        .authorize(with_credential(
            pb::AuthorizeRequest {
                request: Some(pb::authorize_request::Request::Token(token.into())),
                user_id: user.into(),
                decision: decision as i32,
            },
            FRONTEND,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// An access token after a whole dance: (token, secret, token id).
pub async fn access_token(
    app: &TestApp,
    consumer: &TestConsumer,
    user: &str,
) -> (String, String, String) {
    let (token, secret) = request_token(app, consumer, "https://app.example.com/cb").await;
    let verifier = decide(app, &token, user, pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    let mut client = app.authority.clone();
    let access = oauth1_access_token(
        client
            .exchange_token(consumer.exchange(&token, &secret, &verifier))
            .await
            .unwrap()
            .into_inner(),
    );
    (access.token, access.token_secret, access.token_id)
}

/// The OAuth 1.0a access token an ExchangeToken call answered with.
#[track_caller]
pub fn oauth1_access_token(response: pb::ExchangeTokenResponse) -> pb::OAuth1AccessToken {
    match response.issued {
        Some(pb::exchange_token_response::Issued::Oauth1(access)) => access,
        other => panic!("expected an OAuth 1.0a access token, got {other:?}"),
    }
}

/// Registers a consumer with the admin credential.
pub async fn register(
    app: &TestApp,
    request: pb::RegisterConsumerRequest,
) -> pb::RegisterConsumerResponse {
    let mut admin = app.admin.clone();
    admin
        .register_consumer(with_credential(request, ADMIN))
        .await
        .unwrap()
        .into_inner()
}

/// What the consent screen shows about a request token.
pub async fn describe(app: &TestApp, token: &str) -> pb::DescribeRequestTokenResponse {
    let mut client = app.authority.clone();
    client
        .describe_request_token(with_credential(
            pb::DescribeRequestTokenRequest {
                token: token.into(),
            },
            FRONTEND,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// A user's live grants.
pub async fn grants(app: &TestApp, user: &str) -> Vec<pb::Authorization> {
    let mut client = app.authority.clone();
    client
        .list_authorizations(with_credential(
            pb::ListAuthorizationsRequest {
                user_id: user.into(),
            },
            FRONTEND,
        ))
        .await
        .unwrap()
        .into_inner()
        .authorizations
}

/// Enables or disables a consumer with the admin credential.
pub async fn set_enabled(app: &TestApp, key: &str, enabled: bool) -> pb::Consumer {
    let mut admin = app.admin.clone();
    admin
        .set_consumer_enabled(with_credential(
            pb::SetConsumerEnabledRequest {
                key: key.into(),
                enabled,
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner()
}
