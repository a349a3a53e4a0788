//! Jira's OAuth endpoints over HTTP: paths and aliases, form-encoded answers, problems
//! reported as Jira reports them, where parameters may travel, limits, the authorize
//! redirect, and the public base URL that the signature covers.
//!
//! Requests are signed for the public URL (`https://auth.example.com/...`) and sent to
//! the server's own address, as an ingress would forward them.

use latchkey_api::v1 as pb;
use latchkey_server::config::Config;
use latchkey_server::http::{
    ACCESS_TOKEN_ALIAS, ACCESS_TOKEN_PATH, AUTHORIZE_ALIAS, AUTHORIZE_PATH, REQUEST_TOKEN_ALIAS,
    REQUEST_TOKEN_PATH,
};
use latchkey_tests::consumer::{Extras, Signer, TestConsumer};
use latchkey_tests::flows::{decide, hmac_consumer};
use latchkey_tests::http::{Answer, client, header_as_form, pod_url, public_url, send_signed};
use latchkey_tests::{TestApp, logs};

on_both_backends!(
    the_dance_over_http_on_jiras_paths_answers_form_encoded_tokens,
    the_short_aliases_serve_the_same_endpoints,
    parameters_may_travel_in_the_header_the_form_body_or_the_query,
    failures_carry_jiras_status_and_the_problem_in_header_and_body,
    a_malformed_header_or_body_is_a_400_never_a_500,
    an_oversize_body_is_refused_with_413,
    the_signature_covers_the_public_base_url_not_the_address_the_server_sees,
);

on_both_backends_with!(
    no_consent_page,
    without_the_built_in_consent_page => without_a_consent_page_authorize_says_none_is_configured,
);

on_both_backends_with!(
    consent_page,
    with_a_consent_page => authorize_sends_the_browser_to_the_consent_page_with_the_token,
);

on_both_backends_with!(
    short_timeout,
    with_a_one_second_timeout => a_request_that_stalls_is_answered_408,
);

on_both_backends_with!(
    path_prefix,
    under_a_path_prefix => a_public_base_url_with_a_path_covers_the_prefix_an_ingress_strips,
);

const CALLBACK: &str = "https://app.example.com/cb";

fn with_callback(callback: &str) -> Extras<'_> {
    Extras {
        callback: Some(callback),
        ..Extras::default()
    }
}

async fn the_dance_over_http_on_jiras_paths_answers_form_encoded_tokens(app: &TestApp) {
    let consumer = hmac_consumer(app, "jira-http").await;
    let since = logs::position();

    let issued = send_signed(
        app,
        &consumer,
        "POST",
        REQUEST_TOKEN_PATH,
        &with_callback(CALLBACK),
    )
    .await;
    assert_eq!(issued.status, 200, "{issued:?}");
    assert_eq!(
        issued.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(issued.header("cache-control"), "no-store");
    assert!(issued.body.starts_with("oauth_token="), "{}", issued.body);
    let form = issued.form();
    assert_eq!(
        form.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "oauth_callback_confirmed",
            "oauth_token",
            "oauth_token_secret"
        ]
    );
    assert_eq!(form["oauth_callback_confirmed"], "true");
    let (token, secret) = (&form["oauth_token"], &form["oauth_token_secret"]);

    let verifier = decide(app, token, "alice", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    let exchanged = send_signed(
        app,
        &consumer,
        "POST",
        ACCESS_TOKEN_PATH,
        &Extras {
            token: Some((token, secret)),
            verifier: Some(&verifier),
            ..Extras::default()
        },
    )
    .await;
    assert_eq!(exchanged.status, 200, "{exchanged:?}");
    let access = exchanged.form();
    assert_eq!(
        access["oauth_expires_in"], "604800",
        "Jira reports the lifetime"
    );
    let (access_token, access_secret) = (&access["oauth_token"], &access["oauth_token_secret"]);
    assert_ne!(access_token, token);

    let mut grpc = app.authority.clone();
    let principal = grpc
        .validate_access(consumer.resource(access_token, access_secret))
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    assert_eq!(principal.user_id, "alice");
    assert_eq!(principal.consumer_key, "jira-http");

    let lines = logs::captured_since(since);
    assert!(lines.contains(r#""endpoint":"request-token""#), "{lines}");
    assert!(lines.contains(r#""endpoint":"access-token""#), "{lines}");
    for value in [token, secret, &verifier, access_token, access_secret] {
        assert!(!lines.contains(value.as_str()), "a token value was logged");
    }
}

async fn the_short_aliases_serve_the_same_endpoints(app: &TestApp) {
    let consumer = hmac_consumer(app, "aliased").await;
    let issued = send_signed(
        app,
        &consumer,
        "POST",
        REQUEST_TOKEN_ALIAS,
        &with_callback("oob"),
    )
    .await;
    assert_eq!(issued.status, 200, "{issued:?}");
    let form = issued.form();
    let (token, secret) = (&form["oauth_token"], &form["oauth_token_secret"]);
    let answer = get(app, &format!("{AUTHORIZE_ALIAS}?oauth_token={token}")).await;
    assert_eq!(
        answer.status, 403,
        "the built-in consent page, with no sign-in configured"
    );
    let verifier = decide(app, token, "ann", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    let exchanged = send_signed(
        app,
        &consumer,
        "POST",
        ACCESS_TOKEN_ALIAS,
        &Extras {
            token: Some((token, secret)),
            verifier: Some(&verifier),
            ..Extras::default()
        },
    )
    .await;
    assert_eq!(exchanged.status, 200, "{exchanged:?}");

    // Jira's servlet takes GET as well; the method is part of what was signed.
    let by_get = send_signed(
        app,
        &consumer,
        "GET",
        REQUEST_TOKEN_PATH,
        &with_callback("oob"),
    )
    .await;
    assert_eq!(by_get.status, 200, "{by_get:?}");
    assert_eq!(get(app, "/plugins/servlet/oauth/other").await.status, 404);
    let delete = client()
        .delete(pod_url(app, REQUEST_TOKEN_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);
}

async fn parameters_may_travel_in_the_header_the_form_body_or_the_query(app: &TestApp) {
    let consumer = hmac_consumer(app, "placed").await;
    let oob = with_callback("oob");
    let url = pod_url(app, REQUEST_TOKEN_PATH);
    let form_type = "application/x-www-form-urlencoded";

    let signed = consumer.sign("POST", &public_url(REQUEST_TOKEN_PATH), &oob);
    let in_body = client()
        .post(&url)
        .header("content-type", form_type)
        .body(header_as_form(&signed.authorization))
        .send()
        .await
        .unwrap();
    let in_body = Answer::read(in_body).await;
    assert_eq!(in_body.status, 200, "{in_body:?}");

    let signed = consumer.sign("POST", &public_url(REQUEST_TOKEN_PATH), &oob);
    let query = header_as_form(&signed.authorization);
    let in_query = Answer::read(
        client()
            .post(format!("{url}?{query}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(in_query.status, 200, "{in_query:?}");

    // A parameter of the consumer's own in the query is signed with the rest.
    let signed = consumer.sign(
        "POST",
        &public_url(REQUEST_TOKEN_PATH),
        &Extras {
            callback: Some("oob"),
            query: vec![("locale", "en GB")],
            ..Extras::default()
        },
    );
    assert!(signed.url.ends_with("?locale=en%20GB"), "{}", signed.url);
    let with_query = Answer::read(
        client()
            .post(format!("{url}?locale=en%20GB"))
            .header("authorization", &signed.authorization)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(with_query.status, 200, "{with_query:?}");

    // A form body is part of the signature; any other body is not.
    for (content_type, status) in [("text/plain", 200), (form_type, 401)] {
        let signed = consumer.sign("POST", &public_url(REQUEST_TOKEN_PATH), &oob);
        let answer = Answer::read(
            client()
                .post(&url)
                .header("authorization", &signed.authorization)
                .header("content-type", content_type)
                .body("unsigned=1")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, status, "{content_type}: {answer:?}");
        if status == 401 {
            assert_eq!(answer.problem(), "signature_invalid");
        }
    }
}

async fn failures_carry_jiras_status_and_the_problem_in_header_and_body(app: &TestApp) {
    let consumer = hmac_consumer(app, "failing").await;
    let oob = with_callback("oob");
    let path = REQUEST_TOKEN_PATH;

    let stranger = TestConsumer::new("nobody", Signer::HmacSha1("s".into()), app.clock.clone());
    let answer = send_signed(app, &stranger, "POST", path, &oob).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.problem(), "consumer_key_unknown");
    assert_eq!(
        answer.header("www-authenticate"),
        "OAuth realm=\"https%3A%2F%2Fauth.example.com\", oauth_problem=\"consumer_key_unknown\""
    );
    assert_eq!(answer.body, "oauth_problem=consumer_key_unknown");
    assert_eq!(
        answer.header("content-type"),
        "application/x-www-form-urlencoded"
    );

    let forger = TestConsumer::new(
        "failing",
        Signer::HmacSha1("not-the-secret".into()),
        app.clock.clone(),
    );
    let answer = send_signed(app, &forger, "POST", path, &oob).await;
    assert_eq!(
        (answer.status, answer.problem().as_str()),
        (401, "signature_invalid")
    );

    let once = Extras {
        callback: Some("oob"),
        nonce: Some("only-once-nonce"),
        ..Extras::default()
    };
    assert_eq!(
        send_signed(app, &consumer, "POST", path, &once)
            .await
            .status,
        200
    );
    let replay = send_signed(app, &consumer, "POST", path, &once).await;
    assert_eq!(
        (replay.status, replay.problem().as_str()),
        (401, "nonce_used")
    );

    let bare = Answer::read(client().post(pod_url(app, path)).send().await.unwrap()).await;
    assert_eq!(
        (bare.status, bare.problem().as_str()),
        (400, "parameter_absent")
    );
    assert!(
        bare.form()["oauth_parameters_absent"]
            .contains("oauth_consumer_key&oauth_signature_method"),
        "{bare:?}"
    );
    assert!(
        bare.header("www-authenticate")
            .contains("oauth_parameters_absent=\"oauth_consumer_key%26oauth_signature_method"),
        "{bare:?}"
    );

    let no_callback = send_signed(app, &consumer, "POST", path, &Extras::default()).await;
    assert_eq!(no_callback.status, 400);
    assert_eq!(
        no_callback.form()["oauth_parameters_absent"],
        "oauth_callback"
    );

    let stale = Extras {
        callback: Some("oob"),
        timestamp: Some(u64::try_from(app.now_seconds()).unwrap() - 3600),
        ..Extras::default()
    };
    let stale = send_signed(app, &consumer, "POST", path, &stale).await;
    assert_eq!(
        (stale.status, stale.problem().as_str()),
        (400, "timestamp_refused")
    );
    let now = app.now_seconds();
    assert_eq!(
        stale.form()["oauth_acceptable_timestamps"],
        format!("{}-{}", now - 300, now + 300)
    );

    // A denied request token cannot be exchanged; a wrong verifier is refused.
    let issued = send_signed(app, &consumer, "POST", path, &with_callback(CALLBACK)).await;
    let form = issued.form();
    let (token, secret) = (&form["oauth_token"], &form["oauth_token_secret"]);
    decide(app, token, "dora", pb::Decision::Deny)
        .await
        .unwrap();
    let exchange = |verifier| Extras {
        token: Some((token, secret)),
        verifier: Some(verifier),
        ..Extras::default()
    };
    let denied = send_signed(app, &consumer, "POST", ACCESS_TOKEN_PATH, &exchange("x")).await;
    assert_eq!(
        (denied.status, denied.problem().as_str()),
        (401, "permission_denied")
    );

    let issued = send_signed(app, &consumer, "POST", path, &with_callback(CALLBACK)).await;
    let form = issued.form();
    let (token, secret) = (&form["oauth_token"], &form["oauth_token_secret"]);
    decide(app, token, "dora", pb::Decision::Approve)
        .await
        .unwrap();
    let wrong = send_signed(
        app,
        &consumer,
        "POST",
        ACCESS_TOKEN_PATH,
        &Extras {
            token: Some((token, secret)),
            verifier: Some("wrong"),
            ..Extras::default()
        },
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.problem().as_str()),
        (401, "token_rejected")
    );
}

async fn a_malformed_header_or_body_is_a_400_never_a_500(app: &TestApp) {
    let url = pod_url(app, REQUEST_TOKEN_PATH);
    let form_type = "application/x-www-form-urlencoded";
    let not_ascii =
        reqwest::header::HeaderValue::from_bytes(b"OAuth oauth_nonce=\"\xff\"").unwrap();
    let requests = [
        (
            "unquoted value",
            client()
                .post(&url)
                .header("authorization", "OAuth oauth_consumer_key=k"),
        ),
        (
            "unclosed quote",
            client()
                .post(&url)
                .header("authorization", "OAuth oauth_consumer_key=\"k"),
        ),
        (
            "bad escape in the header",
            client()
                .post(&url)
                .header("authorization", "OAuth oauth_consumer_key=\"%zz\""),
        ),
        (
            "header not ASCII",
            client().post(&url).header("authorization", not_ascii),
        ),
        (
            "two Authorization headers",
            client()
                .post(&url)
                .header("authorization", "OAuth oauth_consumer_key=\"a\"")
                .header("authorization", "OAuth oauth_consumer_key=\"b\""),
        ),
        (
            "bad escape in the body",
            client()
                .post(&url)
                .header("content-type", form_type)
                .body("oauth_consumer_key=%zz"),
        ),
        (
            "body not UTF-8",
            client()
                .post(&url)
                .header("content-type", form_type)
                .body(vec![b'a', b'=', 0xff, 0xfe]),
        ),
        (
            "bad escape in the query",
            client().post(format!("{url}?oauth_nonce=%zz")),
        ),
        (
            "a parameter twice",
            client()
                .post(format!("{url}?oauth_nonce=a"))
                .header("content-type", form_type)
                .body("oauth_nonce=b"),
        ),
    ];
    for (case, request) in requests {
        let answer = Answer::read(request.send().await.unwrap()).await;
        assert_eq!(answer.status, 400, "{case}: {answer:?}");
        assert_eq!(answer.problem(), "parameter_rejected", "{case}");
    }
}

async fn an_oversize_body_is_refused_with_413(app: &TestApp) {
    let limit = app.config.http.body_limit_bytes;
    let response = client()
        .post(pod_url(app, REQUEST_TOKEN_PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a".repeat(limit + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let at_limit = Answer::read(
        client()
            .post(pod_url(app, REQUEST_TOKEN_PATH))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("a={}", "b".repeat(limit - 2)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (at_limit.status, at_limit.problem().as_str()),
        (400, "parameter_absent"),
        "a body at the limit is read"
    );
}

fn without_the_built_in_consent_page(config: &mut Config) {
    config.web.consent_page = false;
}

async fn without_a_consent_page_authorize_says_none_is_configured(app: &TestApp) {
    let answer = get(app, &format!("{AUTHORIZE_PATH}?oauth_token=abc")).await;
    assert_eq!(answer.status, 404);
    assert!(answer.header("content-type").starts_with("text/plain"));
    assert!(
        answer.body.contains("http.consent_page_url"),
        "{}",
        answer.body
    );
}

fn with_a_consent_page(config: &mut Config) {
    config.http.consent_page_url = Some("https://consent.example.com/approve?lang=en".into());
}

async fn authorize_sends_the_browser_to_the_consent_page_with_the_token(app: &TestApp) {
    let consumer = hmac_consumer(app, "browser").await;
    let issued = send_signed(
        app,
        &consumer,
        "POST",
        REQUEST_TOKEN_PATH,
        &with_callback(CALLBACK),
    )
    .await;
    let token = &issued.form()["oauth_token"];
    for path in [AUTHORIZE_PATH, AUTHORIZE_ALIAS] {
        let answer = get(app, &format!("{path}?oauth_token={token}")).await;
        assert_eq!(answer.status, 303, "{answer:?}");
        assert_eq!(
            answer.header("location"),
            format!("https://consent.example.com/approve?lang=en&oauth_token={token}")
        );
    }
    let answer = get(app, AUTHORIZE_PATH).await;
    assert_eq!(
        (answer.status, answer.problem().as_str()),
        (400, "parameter_absent")
    );
    assert_eq!(answer.form()["oauth_parameters_absent"], "oauth_token");
}

async fn the_signature_covers_the_public_base_url_not_the_address_the_server_sees(app: &TestApp) {
    let consumer = hmac_consumer(app, "ingress").await;
    let oob = with_callback("oob");
    let url = pod_url(app, REQUEST_TOKEN_PATH);

    let for_the_pod = consumer.sign("POST", &url, &oob);
    let answer = Answer::read(
        client()
            .post(&url)
            .header("authorization", &for_the_pod.authorization)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.problem().as_str()),
        (401, "signature_invalid")
    );

    // Whatever Host the server sees, the consumer signed the public URL.
    let for_the_public = consumer.sign("POST", &public_url(REQUEST_TOKEN_PATH), &oob);
    let answer = Answer::read(
        client()
            .post(&url)
            .header("host", "latchkey.internal:8080")
            .header("authorization", &for_the_public.authorization)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

fn with_a_one_second_timeout(config: &mut Config) {
    config.http.request_timeout_seconds = 1;
}

async fn a_request_that_stalls_is_answered_408(app: &TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.http_port))
        .await
        .unwrap();
    // The body announced never comes.
    let head = format!(
        "POST {REQUEST_TOKEN_PATH} HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered within the timeout and a margin")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

fn under_a_path_prefix(config: &mut Config) {
    config.public_base_url = "https://gateway.example.com/latchkey/".into();
}

async fn a_public_base_url_with_a_path_covers_the_prefix_an_ingress_strips(app: &TestApp) {
    let consumer = hmac_consumer(app, "prefixed").await;
    let public = format!("https://gateway.example.com/latchkey{REQUEST_TOKEN_PATH}");
    let signed = consumer.sign("POST", &public, &with_callback("oob"));
    let answer = Answer::read(
        client()
            .post(pod_url(app, REQUEST_TOKEN_PATH))
            .header("authorization", &signed.authorization)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

async fn get(app: &TestApp, path_and_query: &str) -> Answer {
    Answer::read(
        client()
            .get(pod_url(app, path_and_query))
            .send()
            .await
            .unwrap(),
    )
    .await
}
