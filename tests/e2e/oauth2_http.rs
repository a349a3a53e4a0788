//! OAuth 2.0 on the HTTP listener, as a client library sees it: RFC 6749 JSON answers
//! and errors with no-store headers, Basic and form client authentication, RFC 7009
//! revocation, RFC 7662 introspection, and the authorize redirect to the consent page.

use latchkey_server::config::Config;
use latchkey_tests::TestApp;
use latchkey_tests::app::{SERVICE, service_hash};
use latchkey_tests::http::{Answer, client, pod_url};
use latchkey_tests::oauth2::*;
use serde_json::Value;

on_both_backends!(
    the_token_endpoint_answers_rfc_6749_json_for_basic_and_post_client_authentication,
    token_endpoint_errors_are_rfc_6749_json_with_their_status,
);

on_both_backends_with!(
    oauth2_with_service_credential,
    with_service_credential_and_consent_page =>
    revocation_and_introspection_follow_rfc_7009_and_rfc_7662,
    oauth2_authorize_sends_the_browser_to_the_consent_page_with_the_request,
);

fn with_service_credential_and_consent_page(config: &mut Config) {
    config.credentials.service_hash = Some(service_hash());
    config.http.consent_page_url = Some("https://consent.example.com/approve?lang=en".into());
}

/// Posts a form, with Basic credentials when given.
async fn post(
    app: &TestApp,
    path: &str,
    basic: Option<&TestClient>,
    form: &[(&str, &str)],
) -> Answer {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = client()
        .post(pod_url(app, path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(c) = basic {
        request = request.basic_auth(&c.client_id, Some(&c.secret));
    }
    Answer::read(request.send().await.unwrap()).await
}

fn json(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

/// Asserts an RFC 6749 section 5.2 error answer.
#[track_caller]
fn assert_error(answer: &Answer, status: u16, error: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(json(answer)["error"], error, "{answer:?}");
    assert!(
        answer
            .header("content-type")
            .starts_with("application/json")
    );
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.header("pragma"), "no-cache");
}

async fn code_for(app: &TestApp, c: &TestClient) -> (String, String) {
    let (verifier, challenge) = pkce();
    (approve(app, request(c, &challenge)).await, verifier)
}

async fn the_token_endpoint_answers_rfc_6749_json_for_basic_and_post_client_authentication(
    app: &TestApp,
) {
    let c = register_client(app, "http-client", true).await;
    let (code, verifier) = code_for(app, &c).await;
    let answer = post(
        app,
        "/oauth2/token",
        Some(&c),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.header("pragma"), "no-cache");
    let tokens = json(&answer);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "read");
    validate(app, tokens["access_token"].as_str().unwrap())
        .await
        .unwrap();

    // client_secret_post, on a refresh.
    let answer = post(
        app,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &c.client_id),
            ("client_secret", &c.secret),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_ne!(json(&answer)["refresh_token"], tokens["refresh_token"]);

    // A public client sends only its id.
    let public = register_client(app, "http-public", false).await;
    let (code, verifier) = code_for(app, &public).await;
    let answer = post(
        app,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", "http-public"),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

async fn token_endpoint_errors_are_rfc_6749_json_with_their_status(app: &TestApp) {
    let c = register_client(app, "errors", true).await;
    let (code, verifier) = code_for(app, &c).await;
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    assert_eq!(
        post(app, "/oauth2/token", Some(&c), &redeem).await.status,
        200
    );
    assert_error(
        &post(app, "/oauth2/token", Some(&c), &redeem).await,
        400,
        "invalid_grant",
    );

    let wrong = TestClient {
        client_id: c.client_id.clone(),
        secret: "wrong".into(),
    };
    let answer = post(app, "/oauth2/token", Some(&wrong), &redeem).await;
    assert_error(&answer, 401, "invalid_client");
    assert!(answer.header("www-authenticate").starts_with("Basic"));
    assert_error(
        &post(
            app,
            "/oauth2/token",
            None,
            &[("grant_type", "authorization_code")],
        )
        .await,
        401,
        "invalid_client",
    );
    assert_error(
        &post(
            app,
            "/oauth2/token",
            Some(&c),
            &[("grant_type", "password")],
        )
        .await,
        400,
        "unsupported_grant_type",
    );
    assert_error(
        &post(
            app,
            "/oauth2/token",
            Some(&c),
            &[
                ("grant_type", "refresh_token"),
                ("grant_type", "refresh_token"),
            ],
        )
        .await,
        400,
        "invalid_request",
    );
    // Two authentication methods at once.
    assert_error(
        &post(
            app,
            "/oauth2/token",
            Some(&c),
            &[
                ("grant_type", "refresh_token"),
                ("client_secret", &c.secret),
            ],
        )
        .await,
        400,
        "invalid_request",
    );
    // Not a form.
    let answer = Answer::read(
        client()
            .post(pod_url(app, "/oauth2/token"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&answer, 400, "invalid_request");
}

async fn revocation_and_introspection_follow_rfc_7009_and_rfc_7662(app: &TestApp) {
    let c = register_client(app, "introspected", true).await;
    let other = register_client(app, "nosy", true).await;
    let tokens = grant(app, &c).await;
    let access = tokens.access_token.as_str();

    let answer = post(app, "/oauth2/introspect", Some(&c), &[("token", access)]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let body = json(&answer);
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "introspected");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["scope"], "read");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
    // Another client sees nothing; an unauthenticated caller is refused.
    let answer = post(
        app,
        "/oauth2/introspect",
        Some(&other),
        &[("token", access)],
    )
    .await;
    assert_eq!(json(&answer), serde_json::json!({ "active": false }));
    assert_error(
        &post(app, "/oauth2/introspect", None, &[("token", access)]).await,
        401,
        "invalid_client",
    );
    // A resource server with the service credential sees every token.
    let as_service = |credential: &'static str| {
        client()
            .post(pod_url(app, "/oauth2/introspect"))
            .header("content-type", "application/x-www-form-urlencoded")
            .bearer_auth(credential)
            .body(format!("token={access}"))
            .send()
    };
    let answer = Answer::read(as_service(SERVICE).await.unwrap()).await;
    assert_eq!(json(&answer)["active"], true, "{answer:?}");
    let answer = Answer::read(as_service("wrong").await.unwrap()).await;
    assert_error(&answer, 401, "invalid_client");

    // RFC 7009: revoking the refresh token revokes the grant; unknown tokens are fine.
    let revoked = post(
        app,
        "/oauth2/revoke",
        Some(&c),
        &[
            ("token", &tokens.refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let answer = post(app, "/oauth2/introspect", Some(&c), &[("token", access)]).await;
    assert_eq!(json(&answer)["active"], false);
    assert_eq!(
        post(app, "/oauth2/revoke", Some(&c), &[("token", "nonsense")])
            .await
            .status,
        200
    );
    assert_error(
        &post(app, "/oauth2/revoke", Some(&other), &[("token", access)]).await,
        400,
        "unauthorized_client",
    );
}

async fn oauth2_authorize_sends_the_browser_to_the_consent_page_with_the_request(app: &TestApp) {
    let query =
        "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fa.example%2Fcb&state=s%20t";
    let answer = Answer::read(
        client()
            .get(pod_url(app, &format!("/oauth2/authorize?{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(
        answer.header("location"),
        format!("https://consent.example.com/approve?lang=en&{query}")
    );
}
