//! OAuth 2.0 steps most scenarios share: registering clients, approving as the
//! consent frontend would, redeeming codes, refreshing.

use crate::app::{ADMIN, FRONTEND, TestApp, with_credential};
use latchkey_api::v1 as pb;
use latchkey_core::oauth2::pkce::s256_challenge;
use tonic::Code;
use tonic_types::StatusExt;

/// The redirect URI every test client registers.
pub const REDIRECT_URI: &str = "https://client.example.com/callback";

/// A registered client and its secret (empty for a public client).
#[derive(Debug, Clone)]
pub struct TestClient {
    pub client_id: String,
    pub secret: String,
}

impl TestClient {
    pub fn credentials(&self) -> pb::OAuth2ClientCredentials {
        pb::OAuth2ClientCredentials {
            client_id: self.client_id.clone(),
            client_secret: self.secret.clone(),
        }
    }
}

/// Registers a client allowed `read write` on [`REDIRECT_URI`].
pub async fn register_client(app: &TestApp, client_id: &str, confidential: bool) -> TestClient {
    let response = app
        .admin
        .clone()
        .register_o_auth2_client(with_credential(
            pb::RegisterOAuth2ClientRequest {
                client_id: client_id.into(),
                name: format!("{client_id} app"),
                confidential,
                redirect_uris: vec![REDIRECT_URI.into(), "http://127.0.0.1:9/cb".into()],
                scopes: vec!["read".into(), "write".into()],
                policy: None,
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.client_secret.is_empty(), !confidential);
    TestClient {
        client_id: client_id.into(),
        secret: response.client_secret,
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = s256_challenge(&verifier);
    (verifier, challenge)
}

/// An authorization request for `client` with an S256 challenge.
pub fn request(client: &TestClient, challenge: &str) -> pb::OAuth2AuthorizationRequest {
    pb::OAuth2AuthorizationRequest {
        response_type: "code".into(),
        client_id: client.client_id.clone(),
        redirect_uri: REDIRECT_URI.into(),
        scope: "read".into(),
        state: "xyz".into(),
        code_challenge: challenge.into(),
        code_challenge_method: "S256".into(),
    }
}

/// Sends an authorization request with the user's decision, as the consent frontend.
pub async fn decide(
    app: &TestApp,
    request: pb::OAuth2AuthorizationRequest,
    decision: pb::Decision,
) -> Result<pb::AuthorizeResponse, tonic::Status> {
    app.authority
        .clone()
        .authorize(with_credential(
            pb::AuthorizeRequest {
                request: Some(pb::authorize_request::Request::Oauth2(request)),
                user_id: "alice".into(),
                decision: decision as i32,
            },
            FRONTEND,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The query parameters of a redirect URL.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One query parameter of a redirect URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Approves `request` and returns the code.
pub async fn approve(app: &TestApp, request: pb::OAuth2AuthorizationRequest) -> String {
    let response = decide(app, request, pb::Decision::Approve).await.unwrap();
    assert_eq!(
        param(&response.redirect_url, "state").as_deref(),
        Some("xyz")
    );
    param(&response.redirect_url, "code").expect("a code")
}

/// Calls ExchangeToken with an OAuth 2.0 request.
pub async fn token(
    app: &TestApp,
    request: pb::OAuth2TokenRequest,
) -> Result<pb::OAuth2Tokens, tonic::Status> {
    app.authority
        .clone()
        .exchange_token(pb::ExchangeTokenRequest {
            request: Some(pb::exchange_token_request::Request::Oauth2(request)),
        })
        .await
        .map(|r| match r.into_inner().issued {
            Some(pb::exchange_token_response::Issued::Oauth2(tokens)) => tokens,
            other => panic!("expected OAuth 2.0 tokens, got {other:?}"),
        })
}

/// The token request that redeems `code`.
pub fn code_request(client: &TestClient, code: &str, verifier: &str) -> pb::OAuth2TokenRequest {
    pb::OAuth2TokenRequest {
        grant_type: "authorization_code".into(),
        code: code.into(),
        redirect_uri: REDIRECT_URI.into(),
        code_verifier: verifier.into(),
        client: Some(client.credentials()),
        ..Default::default()
    }
}

/// The token request that refreshes with `refresh_token`.
pub fn refresh_request(client: &TestClient, refresh_token: &str) -> pb::OAuth2TokenRequest {
    pb::OAuth2TokenRequest {
        grant_type: "refresh_token".into(),
        refresh_token: refresh_token.into(),
        client: Some(client.credentials()),
        ..Default::default()
    }
}

/// A whole grant: approve with PKCE, redeem.
pub async fn grant(app: &TestApp, client: &TestClient) -> pb::OAuth2Tokens {
    let (verifier, challenge) = pkce();
    let code = approve(app, request(client, &challenge)).await;
    token(app, code_request(client, &code, &verifier))
        .await
        .unwrap()
}

/// Validates a bearer token.
pub async fn validate(app: &TestApp, access_token: &str) -> Result<pb::Principal, tonic::Status> {
    app.authority
        .clone()
        .validate_access(pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::BearerToken(
                access_token.into(),
            )),
        })
        .await
        .map(|r| r.into_inner().principal.unwrap())
}

/// Asserts an OAuth 2.0 failure: its gRPC code and its RFC 6749 error word.
#[track_caller]
pub fn assert_oauth2_error<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: Code,
    error: &str,
) -> tonic::Status {
    let status = result.expect_err("the call should have failed");
    assert_eq!(status.code(), code, "wrong code for {error}: {status:?}");
    let details = status.get_error_details();
    let info = details.error_info().unwrap();
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        (error, "oauth2")
    );
    assert_eq!(
        status
            .metadata()
            .get("oauth2-error")
            .and_then(|v| v.to_str().ok()),
        Some(error)
    );
    status
}
