//! The web pages over HTTP, as a browser behind an authenticating proxy sends them:
//! statuses, the safety headers, the form token, escaping of consumer-supplied text,
//! who is signed in, and the consent page's part in the dance. The real-browser runs
//! are in tests/interop/test_browser.py.

use latchkey_api::v1 as pb;
use latchkey_server::config::Config;
use latchkey_server::http::{ACCESS_TOKEN_PATH, AUTHORIZE_PATH, REQUEST_TOKEN_PATH};
use latchkey_server::web::{AUTHORIZATIONS_PATH, JIRA_AUTHORIZATIONS_PATH};
use latchkey_tests::TestApp;
use latchkey_tests::app::ADMIN;
use latchkey_tests::consumer::{Extras, TestConsumer};
use latchkey_tests::flows::{describe, hmac_consumer, register};
use latchkey_tests::http::{Answer, client, pod_url, send_signed};
use latchkey_tests::oauth2::{
    REDIRECT_URI, TestClient, code_request, param, pkce, register_client, token, validate,
};

on_both_backends_with!(
    behind_a_proxy,
    with_a_trusted_user_header =>
    allow_on_the_consent_page_sends_the_browser_to_the_callback_with_a_verifier_that_exchanges,
    the_consent_page_is_never_framed_cached_or_scripted,
    a_decision_without_a_good_form_token_is_refused_and_decides_nothing,
    a_consumer_name_with_a_script_tag_is_shown_as_text,
    requests_without_the_user_header_are_refused,
    administration_needs_the_admin_group_or_the_admin_credential,
    unknown_expired_and_used_request_tokens_get_a_clear_page_with_the_right_status,
    an_oob_approval_shows_the_code_in_jiras_words,
    a_user_revokes_a_grant_and_an_admin_sees_and_revokes_a_consumers_tokens,
    an_admin_adds_a_consumer_whose_generated_secret_is_shown_once,
    the_oauth2_consent_page_shows_client_and_scopes_and_allow_returns_a_code_that_redeems,
    oauth2_deny_and_client_mistakes_go_back_to_the_client_with_error_and_state,
    an_oauth2_request_for_an_unknown_client_or_address_is_an_error_page_never_a_redirect,
    an_oauth2_decision_without_a_good_form_token_is_refused_and_issues_no_code,
    jiras_access_tokens_page_leads_a_user_to_my_authorizations,
    an_admin_adds_a_consumer_by_url_after_seeing_what_its_document_says,
    the_oauth2_consent_page_ignores_audience_and_prompt_and_answers_with_iss,
);

on_both_backends_with!(
    development,
    in_development_mode => development_mode_signs_everyone_in_and_says_so_on_every_page,
);

on_both_backends_with!(
    pages_off,
    with_every_page_off => pages_switched_off_are_not_served,
);

const CALLBACK: &str = "https://app.example.com/cb";
const USER_HEADER: &str = "x-forwarded-user";
const GROUPS_HEADER: &str = "x-forwarded-groups";
const ADMINS: &str = "latchkey-admins";

fn with_a_trusted_user_header(config: &mut Config) {
    config.web.user_header = Some("X-Forwarded-User".into());
    config.web.groups_header = Some("X-Forwarded-Groups".into());
    config.web.admin_group = Some(ADMINS.into());
}

fn in_development_mode(config: &mut Config) {
    config.web.development_user = Some("dev".into());
}

fn with_every_page_off(config: &mut Config) {
    config.web.consent_page = false;
    config.web.authorizations_page = false;
    config.web.admin_pages = false;
    config.web.development_user = Some("dev".into());
}

/// A browser: the signed-in user (if any) and the form cookie it was given.
#[derive(Default)]
struct Browser {
    headers: Vec<(&'static str, String)>,
    cookie: Option<String>,
}

impl Browser {
    fn as_user(user: &str) -> Self {
        Browser {
            headers: vec![(USER_HEADER, user.into())],
            cookie: None,
        }
    }

    fn as_admin(user: &str) -> Self {
        let mut browser = Browser::as_user(user);
        browser
            .headers
            .push((GROUPS_HEADER, format!("staff, {ADMINS}")));
        browser
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let mut request = request;
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let answer = Answer::read(request.send().await.unwrap()).await;
        if let Some(set) = answer.headers.get("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            self.cookie = Some(pair.to_owned());
        }
        answer
    }

    async fn get(&mut self, app: &TestApp, path: &str) -> Answer {
        self.send(client().get(pod_url(app, path))).await
    }

    async fn post(&mut self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut body = reqwest::Url::parse("http://x/").unwrap();
        body.query_pairs_mut().extend_pairs(form);
        let request = client()
            .post(pod_url(app, path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.query().unwrap_or("").to_owned());
        self.send(request).await
    }
}

/// The value of the first hidden `name` field in a page.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_owned()
}

async fn request_token(app: &TestApp, consumer: &TestConsumer, callback: &str) -> (String, String) {
    let extras = Extras {
        callback: Some(callback),
        ..Extras::default()
    };
    let issued = send_signed(app, consumer, "POST", REQUEST_TOKEN_PATH, &extras).await;
    assert_eq!(issued.status, 200, "{issued:?}");
    let form = issued.form();
    (
        form["oauth_token"].clone(),
        form["oauth_token_secret"].clone(),
    )
}

fn consent_path(token: &str) -> String {
    format!("{AUTHORIZE_PATH}?oauth_token={token}")
}

/// Opens the consent page and presses a button; returns the answer to the post.
async fn answer_consent(
    app: &TestApp,
    browser: &mut Browser,
    token: &str,
    decision: &str,
) -> Answer {
    let page = browser.get(app, &consent_path(token)).await;
    assert_eq!(page.status, 200, "{page:?}");
    let form_token = field(&page.body, "form_token");
    browser
        .post(
            app,
            AUTHORIZE_PATH,
            &[
                ("oauth_token", token),
                ("decision", decision),
                ("form_token", &form_token),
            ],
        )
        .await
}

async fn allow_on_the_consent_page_sends_the_browser_to_the_callback_with_a_verifier_that_exchanges(
    app: &TestApp,
) {
    let consumer = hmac_consumer(app, "web-allow").await;
    let (token, secret) = request_token(app, &consumer, CALLBACK).await;
    let mut browser = Browser::as_user("alice");
    let page = browser.get(app, &consent_path(&token)).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    for shown in ["web-allow app", "A test consumer", "app.example.com", "UTC"] {
        assert!(page.body.contains(shown), "{shown} missing: {}", page.body);
    }

    let answer = answer_consent(app, &mut browser, &token, "allow").await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let location = reqwest::Url::parse(answer.header("location")).unwrap();
    assert_eq!(location.as_str().split('?').next().unwrap(), CALLBACK);
    let query: std::collections::BTreeMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["oauth_token"], token);
    let exchanged = send_signed(
        app,
        &consumer,
        "POST",
        ACCESS_TOKEN_PATH,
        &Extras {
            token: Some((&token, &secret)),
            verifier: Some(&query["oauth_verifier"]),
            ..Extras::default()
        },
    )
    .await;
    assert_eq!(exchanged.status, 200, "{exchanged:?}");

    let (token, _) = request_token(app, &consumer, CALLBACK).await;
    let answer = answer_consent(app, &mut browser, &token, "deny").await;
    assert_eq!(answer.status, 303);
    assert!(
        answer
            .header("location")
            .contains("oauth_problem=user_refused")
    );
    assert_eq!(
        describe(app, &token).await.state(),
        pb::RequestTokenState::Denied
    );
}

async fn the_consent_page_is_never_framed_cached_or_scripted(app: &TestApp) {
    let consumer = hmac_consumer(app, "web-headers").await;
    let (token, _) = request_token(app, &consumer, CALLBACK).await;
    let page = Browser::as_user("alice")
        .get(app, &consent_path(&token))
        .await;
    let policy = page.header("content-security-policy");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(
        policy.contains("form-action 'self' https://app.example.com"),
        "{policy}"
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    let cookie = page.header("set-cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Secure"),
        "the public base URL is https: {cookie}"
    );
    assert!(!page.body.contains("<script"), "no scripts on any page");
    // The request token is in the form body, not in any link the page makes.
    assert_eq!(
        page.body.matches(token.as_str()).count(),
        1,
        "{}",
        page.body
    );
}

async fn a_decision_without_a_good_form_token_is_refused_and_decides_nothing(app: &TestApp) {
    let consumer = hmac_consumer(app, "web-csrf").await;
    let (token, _) = request_token(app, &consumer, CALLBACK).await;
    let mut alice = Browser::as_user("alice");
    let page = alice.get(app, &consent_path(&token)).await;
    let form_token = field(&page.body, "form_token");

    let mut forger = Browser::as_user("alice");
    let answer = forger
        .post(
            app,
            AUTHORIZE_PATH,
            &[
                ("oauth_token", &token),
                ("decision", "allow"),
                ("form_token", &form_token),
            ],
        )
        .await;
    assert_eq!(answer.status, 403, "no cookie: {answer:?}");
    assert!(answer.body.contains("Form refused"));

    let mut mallory = Browser::as_user("mallory");
    mallory.cookie = alice.cookie.clone();
    let answer = mallory
        .post(
            app,
            AUTHORIZE_PATH,
            &[
                ("oauth_token", &token),
                ("decision", "allow"),
                ("form_token", &form_token),
            ],
        )
        .await;
    assert_eq!(answer.status, 403, "another user's token: {answer:?}");

    alice.headers.push(("sec-fetch-site", "cross-site".into()));
    let answer = alice
        .post(
            app,
            AUTHORIZE_PATH,
            &[
                ("oauth_token", &token),
                ("decision", "allow"),
                ("form_token", &form_token),
            ],
        )
        .await;
    assert_eq!(answer.status, 403, "a cross-site post: {answer:?}");
    assert_eq!(
        describe(app, &token).await.state(),
        pb::RequestTokenState::Pending
    );
}

async fn a_consumer_name_with_a_script_tag_is_shown_as_text(app: &TestApp) {
    let response = register(
        app,
        pb::RegisterConsumerRequest {
            key: "web-xss".into(),
            name: "<script>alert(1)</script> & co".into(),
            description: "\"><img src=x onerror=alert(2)>".into(),
            secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
                true,
            )),
            ..Default::default()
        },
    )
    .await;
    let consumer = TestConsumer::new(
        "web-xss",
        latchkey_tests::consumer::Signer::HmacSha1(response.generated_shared_secret),
        app.clock.clone(),
    );
    let (token, _) = request_token(app, &consumer, CALLBACK).await;
    let consent = Browser::as_user("alice")
        .get(app, &consent_path(&token))
        .await;
    let list = Browser::as_admin("root").get(app, "/web/admin").await;
    for page in [&consent, &list] {
        assert_eq!(page.status, 200);
        // askama writes numeric references: `&#60;` is `<`, `&#38;` is `&`.
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; co"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("<script>"), "{}", page.body);
    }
    assert!(!consent.body.contains("<img"), "{}", consent.body);
}

async fn requests_without_the_user_header_are_refused(app: &TestApp) {
    let consumer = hmac_consumer(app, "web-anon").await;
    let (token, _) = request_token(app, &consumer, CALLBACK).await;
    let mut anonymous = Browser::default();
    for path in [consent_path(&token), "/web/authorizations".into()] {
        let answer = anonymous.get(app, &path).await;
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert!(answer.body.contains("Not signed in"));
        assert!(
            answer
                .header("content-security-policy")
                .contains("frame-ancestors 'none'")
        );
    }
    let answer = anonymous
        .post(
            app,
            AUTHORIZE_PATH,
            &[("oauth_token", &token), ("decision", "allow")],
        )
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        describe(app, &token).await.state(),
        pb::RequestTokenState::Pending
    );
}

async fn administration_needs_the_admin_group_or_the_admin_credential(app: &TestApp) {
    let answer = Browser::as_user("alice").get(app, "/web/admin").await;
    assert_eq!(answer.status, 401);
    assert!(answer.header("www-authenticate").starts_with("Basic "));
    let answer = Browser::as_admin("root").get(app, "/web/admin").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("OAuth administration"));

    let basic = format!("Basic {}", base64_of(&format!("anyone:{ADMIN}")));
    let mut operator = Browser::default();
    operator.headers.push(("authorization", basic));
    assert_eq!(operator.get(app, "/web/admin").await.status, 200);
    let mut wrong = Browser::default();
    wrong
        .headers
        .push(("authorization", format!("Basic {}", base64_of("x:nope"))));
    assert_eq!(wrong.get(app, "/web/admin").await.status, 401);
    let mut bearer = Browser::default();
    bearer
        .headers
        .push(("authorization", format!("Bearer {ADMIN}")));
    assert_eq!(bearer.get(app, "/web/admin/new").await.status, 200);
}

fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn unknown_expired_and_used_request_tokens_get_a_clear_page_with_the_right_status(
    app: &TestApp,
) {
    let mut alice = Browser::as_user("alice");
    let unknown = alice.get(app, &consent_path("no-such-token")).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("Unknown request"), "{}", unknown.body);
    let missing = alice.get(app, AUTHORIZE_PATH).await;
    assert_eq!(missing.status, 400, "{missing:?}");

    let consumer = hmac_consumer(app, "web-states").await;
    let (used, _) = request_token(app, &consumer, CALLBACK).await;
    assert_eq!(
        answer_consent(app, &mut alice, &used, "allow").await.status,
        303
    );
    let again = alice.get(app, &consent_path(&used)).await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("Already answered"));

    let (expired, _) = request_token(app, &consumer, CALLBACK).await;
    app.advance(chrono::Duration::seconds(601));
    let late = alice.get(app, &consent_path(&expired)).await;
    assert_eq!(late.status, 410);
    assert!(late.body.contains("expired"), "{}", late.body);
}

async fn an_oob_approval_shows_the_code_in_jiras_words(app: &TestApp) {
    let consumer = hmac_consumer(app, "web-oob").await;
    let (token, _) = request_token(app, &consumer, "oob").await;
    let mut alice = Browser::as_user("alice");
    let page = alice.get(app, &consent_path(&token)).await;
    assert!(page.body.contains("verification code"), "{}", page.body);
    let answer = answer_consent(app, &mut alice, &token, "allow").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("cache-control"), "no-store");
    let start = answer.body.find("Your verification code is '").unwrap();
    let sentence = &answer.body[start..];
    assert!(
        sentence.contains("'. You will need to enter this exact text when prompted."),
        "{sentence}"
    );
}

async fn a_user_revokes_a_grant_and_an_admin_sees_and_revokes_a_consumers_tokens(app: &TestApp) {
    let consumer = hmac_consumer(app, "web-grants").await;
    let mut alice = Browser::as_user("alice");
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let (token, secret) = request_token(app, &consumer, CALLBACK).await;
        let answer = answer_consent(app, &mut alice, &token, "allow").await;
        let location = reqwest::Url::parse(answer.header("location")).unwrap();
        let verifier = location
            .query_pairs()
            .find(|(name, _)| name == "oauth_verifier")
            .unwrap()
            .1
            .into_owned();
        let exchanged = send_signed(
            app,
            &consumer,
            "POST",
            ACCESS_TOKEN_PATH,
            &Extras {
                token: Some((&token, &secret)),
                verifier: Some(&verifier),
                ..Extras::default()
            },
        )
        .await;
        let form = exchanged.form();
        tokens.push((
            form["oauth_token"].clone(),
            form["oauth_token_secret"].clone(),
        ));
    }

    let page = alice.get(app, "/web/authorizations").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.body.matches("class=\"revoke\"").count(),
        2,
        "{}",
        page.body
    );
    let token_id = field(&page.body, "token_id");
    let form_token = field(&page.body, "form_token");
    let bob_sees = Browser::as_user("bob")
        .get(app, "/web/authorizations")
        .await;
    assert!(bob_sees.body.contains("No application can act for you"));
    let answer = alice
        .post(
            app,
            "/web/authorizations/revoke",
            &[("token_id", &token_id), ("form_token", &form_token)],
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(answer.header("location"), "/web/authorizations");
    let page = alice.get(app, "/web/authorizations").await;
    assert_eq!(page.body.matches("class=\"revoke\"").count(), 1);

    let mut grpc = app.authority.clone();
    let refused = [
        grpc.validate_access(consumer.resource(&tokens[0].0, &tokens[0].1))
            .await
            .is_err(),
        grpc.validate_access(consumer.resource(&tokens[1].0, &tokens[1].1))
            .await
            .is_err(),
    ];
    assert_eq!(
        refused.iter().filter(|r| **r).count(),
        1,
        "exactly the revoked one fails"
    );

    let mut admin = Browser::as_admin("root");
    let page = admin.get(app, "/web/admin/consumer?key=web-grants").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        page.body.matches("<td>alice</td>").count(),
        1,
        "{}",
        page.body
    );
    let form_token = field(&page.body, "form_token");
    let answer = admin
        .post(
            app,
            "/web/admin/consumer/revoke",
            &[("key", "web-grants"), ("form_token", &form_token)],
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let page = admin.get(app, "/web/admin/consumer?key=web-grants").await;
    assert!(page.body.contains("No live tokens"), "{}", page.body);
}

async fn an_admin_adds_a_consumer_whose_generated_secret_is_shown_once(app: &TestApp) {
    let mut admin = Browser::as_admin("root");
    let page = admin.get(app, "/web/admin/new").await;
    let form_token = field(&page.body, "form_token");
    let answer = admin
        .post(
            app,
            "/web/admin/new",
            &[
                ("key", "made-on-the-page"),
                ("name", "Made on the page"),
                ("shared_secret", "generate"),
                ("access_token_ttl_seconds", "3600"),
                ("form_token", &form_token),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("cache-control"), "no-store");
    let start = answer.body.find("id=\"shared-secret\">").unwrap() + "id=\"shared-secret\">".len();
    let secret = answer.body[start..][..answer.body[start..].find('<').unwrap()].to_owned();
    let consumer = TestConsumer::new(
        "made-on-the-page",
        latchkey_tests::consumer::Signer::HmacSha1(secret.clone()),
        app.clock.clone(),
    );
    request_token(app, &consumer, CALLBACK).await;
    let page = admin
        .get(app, "/web/admin/consumer?key=made-on-the-page")
        .await;
    assert!(
        !page.body.contains(&secret),
        "the secret is shown once only"
    );
    assert!(page.body.contains("value=\"3600\""), "{}", page.body);

    let form_token = field(&page.body, "form_token");
    let answer = admin
        .post(
            app,
            "/web/admin/consumer/enabled",
            &[
                ("key", "made-on-the-page"),
                ("enabled", "false"),
                ("form_token", &form_token),
            ],
        )
        .await;
    assert_eq!(answer.status, 303);
    let page = admin
        .get(app, "/web/admin/consumer?key=made-on-the-page")
        .await;
    assert!(page.body.contains("<strong>disabled</strong>"));
    let answer = admin
        .post(
            app,
            "/web/admin/consumer/delete",
            &[("key", "made-on-the-page"), ("form_token", &form_token)],
        )
        .await;
    assert_eq!(answer.status, 303);
    let page = admin
        .get(app, "/web/admin/consumer?key=made-on-the-page")
        .await;
    assert_eq!(page.status, 404);

    let duplicate = admin
        .post(
            app,
            "/web/admin/new",
            &[("key", ""), ("name", "x"), ("form_token", &form_token)],
        )
        .await;
    assert_eq!(duplicate.status, 400, "{duplicate:?}");
}

async fn development_mode_signs_everyone_in_and_says_so_on_every_page(app: &TestApp) {
    let consumer = hmac_consumer(app, "web-dev").await;
    let (token, _) = request_token(app, &consumer, CALLBACK).await;
    let mut anyone = Browser::default();
    for path in [
        consent_path(&token),
        "/web/authorizations".into(),
        "/web/admin".into(),
    ] {
        let page = anyone.get(app, &path).await;
        assert_eq!(page.status, 200, "{path}: {page:?}");
        assert!(page.body.contains("DEVELOPMENT MODE"), "{path}");
    }
}

async fn pages_switched_off_are_not_served(app: &TestApp) {
    let client = client();
    for path in [
        "/web/authorizations",
        JIRA_AUTHORIZATIONS_PATH,
        "/web/admin",
        "/web/admin/new",
    ] {
        let answer = Answer::read(client.get(pod_url(app, path)).send().await.unwrap()).await;
        assert_eq!(answer.status, 404, "{path}");
    }
    let answer = Answer::read(
        client
            .get(pod_url(app, &consent_path("abc")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("http.consent_page_url"));
    let answer = Answer::read(
        client
            .get(pod_url(
                app,
                "/oauth2/authorize?response_type=code&client_id=x",
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("http.consent_page_url"), "{answer:?}");
    assert!(answer.body.contains("web.consent_page"), "{answer:?}");
}

/// The query of an OAuth 2.0 authorization request, each pair encoded.
fn oauth2_query(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or("").to_owned()
}

/// `client`'s authorization request for `scope` with an S256 challenge, as pairs.
fn oauth2_request<'a>(
    client: &'a TestClient,
    scope: &'a str,
    challenge: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", &client.client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", "st&te 1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Opens the OAuth 2.0 consent page for `request` and presses a button, posting back
/// every hidden field the page holds; returns the answer to the post.
async fn answer_oauth2_consent(
    app: &TestApp,
    browser: &mut Browser,
    request: &[(&str, &str)],
    decision: &str,
) -> Answer {
    let page = browser
        .get(app, &format!("/oauth2/authorize?{}", oauth2_query(request)))
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    let mut form: Vec<(&str, String)> = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "form_token",
    ]
    .into_iter()
    .map(|name| (name, html_unescape(&field(&page.body, name))))
    .collect();
    form.push(("decision", decision.into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post(app, "/oauth2/authorize", &form).await
}

/// Undoes the HTML escaping of an attribute value.
fn html_unescape(value: &str) -> String {
    value
        .replace("&#38;", "&")
        .replace("&#x26;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

async fn the_oauth2_consent_page_shows_client_and_scopes_and_allow_returns_a_code_that_redeems(
    app: &TestApp,
) {
    let client = register_client(app, "web2-allow", true).await;
    let (verifier, challenge) = pkce();
    let request = oauth2_request(&client, "read write", &challenge);
    let mut alice = Browser::as_user("alice");
    let page = alice
        .get(
            app,
            &format!("/oauth2/authorize?{}", oauth2_query(&request)),
        )
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    for shown in [
        "web2-allow app",
        "<code>read</code>",
        "<code>write</code>",
        "client.example.com",
        "Signed in as alice",
    ] {
        assert!(page.body.contains(shown), "{shown} missing: {}", page.body);
    }
    let policy = page.header("content-security-policy");
    assert!(
        policy.contains("form-action 'self' https://client.example.com"),
        "{policy}"
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("cache-control"), "no-store");

    let answer = answer_oauth2_consent(app, &mut alice, &request, "allow").await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let location = answer.header("location");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(param(location, "state").as_deref(), Some("st&te 1"));
    let code = param(location, "code").expect("a code");
    let tokens = token(app, code_request(&client, &code, &verifier))
        .await
        .unwrap();
    assert_eq!(tokens.scope, "read write");
    let principal = validate(app, &tokens.access_token).await.unwrap();
    assert_eq!(principal.user_id, "alice");

    // Only one scope asked for: only that one is shown and granted.
    let (_, challenge) = pkce();
    let narrow = oauth2_request(&client, "read", &challenge);
    let page = alice
        .get(app, &format!("/oauth2/authorize?{}", oauth2_query(&narrow)))
        .await;
    assert!(page.body.contains("<code>read</code>"), "{}", page.body);
    assert!(!page.body.contains("<code>write</code>"), "{}", page.body);
}

/// Atlassian's clients add `audience` and `prompt=consent`; RFC 6749 section 3.1 says
/// to ignore what is not defined, so the page and the code are as without them.
async fn the_oauth2_consent_page_ignores_audience_and_prompt_and_answers_with_iss(app: &TestApp) {
    let client = register_client(app, "web2-atlassian", true).await;
    let (verifier, challenge) = pkce();
    let mut request = oauth2_request(&client, "read", &challenge);
    request.extend([("audience", "api.atlassian.com"), ("prompt", "consent")]);
    let mut alice = Browser::as_user("alice");
    let answer = answer_oauth2_consent(app, &mut alice, &request, "allow").await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let location = answer.header("location");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(
        param(location, "iss").as_deref(),
        Some(latchkey_tests::http::PUBLIC_BASE_URL)
    );
    let code = param(location, "code").expect("a code");
    token(app, code_request(&client, &code, &verifier))
        .await
        .unwrap();
}

async fn oauth2_deny_and_client_mistakes_go_back_to_the_client_with_error_and_state(app: &TestApp) {
    let client = register_client(app, "web2-deny", false).await;
    let (_, challenge) = pkce();
    let mut alice = Browser::as_user("alice");
    let request = oauth2_request(&client, "read", &challenge);
    let answer = answer_oauth2_consent(app, &mut alice, &request, "deny").await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let location = answer.header("location");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(param(location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(location, "state").as_deref(), Some("st&te 1"));
    assert_eq!(param(location, "code"), None);

    // Mistakes of the client's own go back to it at once, before any page is shown.
    let no_pkce: Vec<_> = oauth2_request(&client, "read", "")
        .into_iter()
        .filter(|(name, _)| !name.starts_with("code_challenge"))
        .collect();
    for (request, error) in [
        (
            oauth2_request(&client, "admin", &challenge),
            "invalid_scope",
        ),
        (no_pkce, "invalid_request"),
    ] {
        let answer = alice
            .get(
                app,
                &format!("/oauth2/authorize?{}", oauth2_query(&request)),
            )
            .await;
        assert_eq!(answer.status, 303, "{error}: {answer:?}");
        let location = answer.header("location");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        assert_eq!(param(location, "error").as_deref(), Some(error));
        assert_eq!(param(location, "state").as_deref(), Some("st&te 1"));
    }
}

async fn an_oauth2_request_for_an_unknown_client_or_address_is_an_error_page_never_a_redirect(
    app: &TestApp,
) {
    let client = register_client(app, "web2-errors", true).await;
    let (_, challenge) = pkce();
    let unknown = TestClient {
        client_id: "no-such-client".into(),
        secret: String::new(),
    };
    let mut elsewhere = oauth2_request(&client, "read", &challenge);
    elsewhere[2] = ("redirect_uri", "https://attacker.example/cb");
    let mut alice = Browser::as_user("alice");
    for request in [oauth2_request(&unknown, "read", &challenge), elsewhere] {
        let answer = alice
            .get(
                app,
                &format!("/oauth2/authorize?{}", oauth2_query(&request)),
            )
            .await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert_eq!(answer.header("location"), "", "never a redirect");
        assert!(answer.header("content-type").starts_with("text/html"));
        assert!(!answer.body.contains("attacker.example"), "{}", answer.body);
    }
    // A repeated parameter is refused too (RFC 6749 section 3.1).
    let repeated = format!(
        "/oauth2/authorize?{}&client_id=other",
        oauth2_query(&oauth2_request(&client, "read", &challenge))
    );
    assert_eq!(alice.get(app, &repeated).await.status, 400);

    let mut nobody = Browser::default();
    let query = oauth2_query(&oauth2_request(&client, "read", &challenge));
    let answer = nobody.get(app, &format!("/oauth2/authorize?{query}")).await;
    assert_eq!(answer.status, 401, "{answer:?}");
}

async fn an_oauth2_decision_without_a_good_form_token_is_refused_and_issues_no_code(app: &TestApp) {
    let client = register_client(app, "web2-csrf", true).await;
    let (_, challenge) = pkce();
    let request = oauth2_request(&client, "read", &challenge);
    let mut alice = Browser::as_user("alice");
    let page = alice
        .get(
            app,
            &format!("/oauth2/authorize?{}", oauth2_query(&request)),
        )
        .await;
    let form_token = field(&page.body, "form_token");
    let mut form = request.clone();
    form.push(("decision", "allow"));

    // Another browser (no form cookie) with alice's form token, and alice with none.
    let mut forger = Browser::as_user("alice");
    let mut forged = form.clone();
    forged.push(("form_token", &form_token));
    let answer = forger.post(app, "/oauth2/authorize", &forged).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.header("location"), "");
    let answer = alice.post(app, "/oauth2/authorize", &form).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.header("location"), "");
    // A form token of alice's is no good for bob.
    let mut bob = Browser::as_user("bob");
    bob.cookie = alice.cookie.clone();
    let answer = bob.post(app, "/oauth2/authorize", &forged).await;
    assert_eq!(answer.status, 403, "{answer:?}");

    // Alice's own form still works: nothing above used it up or decided anything.
    let mut good = form.clone();
    good.push(("form_token", &form_token));
    let answer = alice.post(app, "/oauth2/authorize", &good).await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert!(param(answer.header("location"), "code").is_some());
}

async fn jiras_access_tokens_page_leads_a_user_to_my_authorizations(app: &TestApp) {
    let mut browser = Browser::as_user("alice");
    let answer = browser.get(app, JIRA_AUTHORIZATIONS_PATH).await;
    assert_eq!(answer.status, 303, "{answer:?}");
    let from = reqwest::Url::parse(&pod_url(app, JIRA_AUTHORIZATIONS_PATH)).unwrap();
    let landed = from.join(answer.header("location")).unwrap();
    assert_eq!(landed.path(), AUTHORIZATIONS_PATH);
    let page = browser.send(client().get(landed)).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains("alice"),
        "the page is alice's: {}",
        page.body
    );
}

/// The text of the `name` textarea in a page, unescaped.
fn textarea(page: &str, name: &str) -> String {
    let start = page.find(&format!("name=\"{name}\"")).unwrap();
    let open = start + page[start..].find('>').unwrap() + 1;
    let close = open + page[open..].find("</textarea>").unwrap();
    page[open..close]
        .replace("&#x2f;", "/")
        .replace("&#43;", "+")
        .replace("&amp;", "&")
}

async fn an_admin_adds_a_consumer_by_url_after_seeing_what_its_document_says(app: &TestApp) {
    let (base, _) = crate::consumer_info::applications().await;
    let mut admin = Browser::as_admin("root");
    let page = admin.get(app, "/web/admin/new").await;
    assert!(page.body.contains("Add by URL"), "{}", page.body);
    let form_token = field(&page.body, "form_token");
    let url = format!("{base}/good");
    let found = admin
        .post(
            app,
            "/web/admin/from-url",
            &[("url", &url), ("form_token", &form_token)],
        )
        .await;
    assert_eq!(found.status, 200, "{found:?}");
    assert!(found.body.contains("confluence:42"), "{}", found.body);
    assert!(found.body.contains("Team wiki"), "{}", found.body);
    let listed = |app: &TestApp| {
        let mut client = app.admin.clone();
        async move {
            client
                .list_consumers(latchkey_tests::app::with_credential(
                    pb::ListConsumersRequest::default(),
                    ADMIN,
                ))
                .await
                .unwrap()
                .into_inner()
                .consumers
        }
    };
    assert!(
        listed(app).await.is_empty(),
        "nothing is added before confirmation"
    );

    let form_token = field(&found.body, "form_token");
    let public_key = textarea(&found.body, "public_key");
    let description = textarea(&found.body, "description");
    let added = admin
        .post(
            app,
            "/web/admin/new",
            &[
                ("key", &field(&found.body, "key")),
                ("name", &field(&found.body, "name")),
                ("description", &description),
                ("public_key", &public_key),
                ("shared_secret", "none"),
                ("form_token", &form_token),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    let consumers = listed(app).await;
    assert_eq!(consumers.len(), 1);
    assert_eq!(consumers[0].key, "confluence:42");
    assert_eq!(
        consumers[0].signature_methods,
        [pb::SignatureMethod::RsaSha1 as i32]
    );

    // A document that cannot work is an error page, never a half-added consumer.
    let form_token = field(&page.body, "form_token");
    let url = format!("{base}/malformed");
    let refused = admin
        .post(
            app,
            "/web/admin/from-url",
            &[("url", &url), ("form_token", &form_token)],
        )
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.body.contains("well-formed"), "{}", refused.body);
}
