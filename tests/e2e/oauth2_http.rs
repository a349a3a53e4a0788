//! OAuth 2.0 on the HTTP listener, as a client library sees it: RFC 6749 JSON answers
//! and errors with no-store headers, Basic and form client authentication, refusals in
//! the scheme the client used, RFC 7009 revocation, RFC 7662 introspection, RFC 8414
//! metadata, RFC 9207 `iss`, and the authorize redirect to the consent page.

use latchkey_api::v1 as pb;
use latchkey_server::config::Config;
use latchkey_tests::TestApp;
use latchkey_tests::app::{ADMIN, FRONTEND, SERVICE, service_hash, with_credential};
use latchkey_tests::http::{Answer, PUBLIC_BASE_URL, client, pod_url};
use latchkey_tests::oauth2::*;
use serde_json::Value;

on_both_backends!(
    the_token_endpoint_answers_rfc_6749_json_for_basic_and_post_client_authentication,
    token_endpoint_errors_are_rfc_6749_json_with_their_status,
    a_refused_client_hears_the_scheme_it_authenticated_with,
    the_metadata_names_the_issuer_the_endpoints_and_only_what_is_accepted,
    every_authorization_response_carries_the_issuer_as_iss,
    a_token_request_may_send_the_registered_uri_the_authorization_request_left_out,
);

on_both_backends_with!(
    oauth2_with_plain_pkce,
    with_plain_pkce_and_a_trailing_slash =>
    the_metadata_lists_plain_pkce_only_when_it_is_allowed,
);

on_both_backends_with!(
    oauth2_with_service_credential,
    with_service_credential_and_consent_page =>
    revocation_and_introspection_follow_rfc_7009_and_rfc_7662,
    oauth2_authorize_sends_the_browser_to_the_consent_page_with_the_request,
    atlassians_audience_and_prompt_reach_the_consent_page_and_break_nothing,
);

fn with_plain_pkce_and_a_trailing_slash(config: &mut Config) {
    config.oauth2.allow_plain_pkce = true;
    config.public_base_url = format!("{PUBLIC_BASE_URL}/");
}

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
        400,
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
        400,
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
    // RFC 7662 section 2.3: a bad Bearer credential is RFC 6750's invalid_token, and
    // so is a good one without the right to introspect.
    for credential in ["wrong", FRONTEND] {
        let answer = Answer::read(as_service(credential).await.unwrap()).await;
        assert_error(&answer, 401, "invalid_token");
        assert_eq!(
            answer.header("www-authenticate"),
            "Bearer error=\"invalid_token\""
        );
    }

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

async fn a_refused_client_hears_the_scheme_it_authenticated_with(app: &TestApp) {
    let c = register_client(app, "schemes", true).await;
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    // client_secret_basic: 401 with the Basic challenge RFC 6749 section 5.2 requires.
    let wrong = TestClient {
        client_id: c.client_id.clone(),
        secret: "wrong".into(),
    };
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
        let form: &[(&str, &str)] = if path == "/oauth2/token" {
            &refresh
        } else {
            &[("token", "x")]
        };
        let answer = post(app, path, Some(&wrong), form).await;
        assert_error(&answer, 401, "invalid_client");
        assert_eq!(
            answer.header("www-authenticate"),
            "Basic realm=\"latchkey\""
        );

        // client_secret_post, or a public client's id alone: no Basic challenge, and
        // so the section's default 400 (a 401 must carry a challenge).
        let mut posted = form.to_vec();
        posted.extend([("client_id", "schemes"), ("client_secret", "wrong")]);
        let answer = post(app, path, None, &posted).await;
        assert_error(&answer, 400, "invalid_client");
        assert_eq!(answer.header("www-authenticate"), "", "{path}");
        let mut bare = form.to_vec();
        bare.push(("client_id", "schemes"));
        let answer = post(app, path, None, &bare).await;
        assert_error(&answer, 400, "invalid_client");
        assert_eq!(answer.header("www-authenticate"), "", "{path}");
    }
    // A scheme the token endpoint does not take: the challenge names the one it does.
    let answer = Answer::read(
        client()
            .post(pod_url(app, "/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .bearer_auth("a-token")
            .body("grant_type=refresh_token&refresh_token=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&answer, 401, "invalid_client");
    assert_eq!(
        answer.header("www-authenticate"),
        "Basic realm=\"latchkey\""
    );
}

async fn metadata(app: &TestApp) -> Value {
    let answer = Answer::read(
        client()
            .get(pod_url(app, "/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer
            .header("content-type")
            .starts_with("application/json")
    );
    assert_eq!(answer.header("cache-control"), "public, max-age=3600");
    json(&answer)
}

async fn the_metadata_names_the_issuer_the_endpoints_and_only_what_is_accepted(app: &TestApp) {
    let methods = serde_json::json!(["client_secret_basic", "client_secret_post", "none"]);
    assert_eq!(
        metadata(app).await,
        serde_json::json!({
            "issuer": PUBLIC_BASE_URL,
            "authorization_endpoint": format!("{PUBLIC_BASE_URL}/oauth2/authorize"),
            "token_endpoint": format!("{PUBLIC_BASE_URL}/oauth2/token"),
            "revocation_endpoint": format!("{PUBLIC_BASE_URL}/oauth2/revoke"),
            "introspection_endpoint": format!("{PUBLIC_BASE_URL}/oauth2/introspect"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        })
    );
}

async fn the_metadata_lists_plain_pkce_only_when_it_is_allowed(app: &TestApp) {
    let body = metadata(app).await;
    assert_eq!(
        body["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
    // The issuer is the configured base URL without its trailing slash, and so is iss.
    assert_eq!(body["issuer"], PUBLIC_BASE_URL);
    let c = register_client(app, "plain", false).await;
    let (_, challenge) = pkce();
    let response = decide(app, request(&c, &challenge), pb::Decision::Approve)
        .await
        .unwrap();
    assert_eq!(
        param(&response.redirect_url, "iss").as_deref(),
        Some(PUBLIC_BASE_URL)
    );
}

async fn every_authorization_response_carries_the_issuer_as_iss(app: &TestApp) {
    let c = register_client(app, "issued", false).await;
    let (_, challenge) = pkce();
    let approved = decide(app, request(&c, &challenge), pb::Decision::Approve);
    let denied = decide(app, request(&c, &challenge), pb::Decision::Deny);
    let bad_scope = pb::OAuth2AuthorizationRequest {
        scope: "admin".into(),
        ..request(&c, &challenge)
    };
    let refused = decide(app, bad_scope, pb::Decision::Approve);
    let expected = [
        ("code", None),
        ("error", Some("access_denied")),
        ("error", Some("invalid_scope")),
    ];
    for (response, (name, value)) in [approved.await, denied.await, refused.await]
        .into_iter()
        .zip(expected)
    {
        let url = response.unwrap().redirect_url;
        assert!(param(&url, name).is_some(), "{url}");
        if let Some(value) = value {
            assert_eq!(param(&url, name).as_deref(), Some(value), "{url}");
        }
        assert_eq!(
            param(&url, "iss").as_deref(),
            Some(PUBLIC_BASE_URL),
            "{url}"
        );
        assert_eq!(param(&url, "state").as_deref(), Some("xyz"), "{url}");
    }
}

async fn a_token_request_may_send_the_registered_uri_the_authorization_request_left_out(
    app: &TestApp,
) {
    let secret = app
        .admin
        .clone()
        .register_o_auth2_client(with_credential(
            pb::RegisterOAuth2ClientRequest {
                client_id: "one-uri".into(),
                name: "one-uri app".into(),
                confidential: true,
                redirect_uris: vec![REDIRECT_URI.into()],
                scopes: vec!["read".into()],
                policy: None,
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner()
        .client_secret;
    let c = TestClient {
        client_id: "one-uri".into(),
        secret,
    };
    for (sent, status) in [
        (REDIRECT_URI, 200),
        ("", 200),
        ("https://client.example.com/other", 400),
    ] {
        let (verifier, challenge) = pkce();
        let left_out = pb::OAuth2AuthorizationRequest {
            redirect_uri: String::new(),
            ..request(&c, &challenge)
        };
        let code = approve(app, left_out).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        if !sent.is_empty() {
            form.push(("redirect_uri", sent));
        }
        let answer = post(app, "/oauth2/token", Some(&c), &form).await;
        assert_eq!(answer.status, status, "{sent}: {answer:?}");
        if status == 400 {
            assert_error(&answer, 400, "invalid_grant");
        }
    }
}

async fn atlassians_audience_and_prompt_reach_the_consent_page_and_break_nothing(app: &TestApp) {
    let c = register_client(app, "atlassian-like", true).await;
    let (verifier, challenge) = pkce();
    let query = format!(
        "audience=api.atlassian.com&client_id=atlassian-like&scope=read\
         &redirect_uri=https%3A%2F%2Fclient.example.com%2Fcallback&state=xyz\
         &response_type=code&prompt=consent&code_challenge={challenge}\
         &code_challenge_method=S256"
    );
    let answer = Answer::read(
        client()
            .get(pod_url(app, &format!("/oauth2/authorize?{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let location = answer.header("location");
    assert_eq!(
        location,
        format!("https://consent.example.com/approve?lang=en&{query}")
    );
    // The frontend passes on what Authorize defines; the rest (RFC 6749 section 3.1:
    // unknown parameters are ignored) changes nothing.
    let known = |name: &str| param(location, name).unwrap_or_default();
    let forwarded = pb::OAuth2AuthorizationRequest {
        response_type: known("response_type"),
        client_id: known("client_id"),
        redirect_uri: known("redirect_uri"),
        scope: known("scope"),
        state: known("state"),
        code_challenge: known("code_challenge"),
        code_challenge_method: known("code_challenge_method"),
    };
    let code = approve(app, forwarded).await;
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
}
