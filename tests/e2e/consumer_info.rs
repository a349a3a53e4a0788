//! Adding a consumer by URL, as Jira's Consumers tab does: Latchkey fetches the other
//! application's consumer-info document from a small fixture server and registers what
//! it says; every way the fetch or the document can fail gets a clear answer, and no
//! one without the admin credential can make Latchkey fetch anything.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_api::v1 as pb;
use latchkey_tests::TestApp;
use latchkey_tests::app::{ADMIN, with_credential};
use latchkey_tests::consumer::fixture_private_key;
use rsa::RsaPublicKey;
use rsa::pkcs8::EncodePublicKey;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tonic::Code;

on_both_backends!(
    a_consumer_added_by_url_is_registered_from_its_document,
    every_failed_fetch_or_bad_document_gets_a_clear_error_and_registers_nothing,
);

const INFO: &str = "/plugins/servlet/oauth/consumer-info";

/// A consumer-info document with this key and public key.
fn document(key: &str, public_key: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<consumer><key>{key}</key>\
         <name>Confluence</name><description>Team wiki</description>\
         <publicKey>{public_key}</publicKey></consumer>"
    )
}

fn fixture_public_key() -> String {
    let public = RsaPublicKey::from(&fixture_private_key());
    STANDARD.encode(public.to_public_key_der().unwrap().as_bytes())
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The fixture applications, each under its own prefix, and how many requests came.
pub(crate) async fn applications() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let key = fixture_public_key();
    let good = document("confluence:42", &key);
    let same_host = format!("http://127.0.0.1:{port}/good{INFO}");
    let other_host = format!("http://localhost:{port}/good{INFO}");
    let small_key = {
        let mut rng = rand::thread_rng();
        let weak = rsa::RsaPrivateKey::new(&mut rng, 512).unwrap();
        let public = RsaPublicKey::from(&weak);
        document(
            "weak",
            &STANDARD.encode(public.to_public_key_der().unwrap().as_bytes()),
        )
    };
    let counted = hits.clone();
    let app = Router::new()
        .route(
            &format!("/good{INFO}"),
            get(move || async move { xml(good) }),
        )
        .route(
            &format!("/moved{INFO}"),
            get(move || async move {
                (StatusCode::FOUND, [(header::LOCATION, same_host)]).into_response()
            }),
        )
        .route(
            &format!("/elsewhere{INFO}"),
            get(move || async move {
                (StatusCode::FOUND, [(header::LOCATION, other_host)]).into_response()
            }),
        )
        .route(
            &format!("/malformed{INFO}"),
            get(|| async { xml("<consumer><key>k</key>".into()) }),
        )
        .route(
            &format!("/huge{INFO}"),
            get(|| async { xml("x".repeat(200 * 1024)) }),
        )
        .route(
            &format!("/weak{INFO}"),
            get(move || async move { xml(small_key) }),
        )
        .route(
            &format!("/missing{INFO}"),
            get(|| async { StatusCode::NOT_FOUND }),
        )
        .route(
            &format!("/slow{INFO}"),
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .layer(axum::middleware::map_request(
            move |request: axum::extract::Request| {
                counted.fetch_add(1, Ordering::SeqCst);
                async move { request }
            },
        ));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://127.0.0.1:{port}"), hits)
}

fn by_url(url: &str) -> pb::RegisterConsumerRequest {
    pb::RegisterConsumerRequest {
        consumer_info_url: url.into(),
        ..Default::default()
    }
}

async fn a_consumer_added_by_url_is_registered_from_its_document(app: &TestApp) {
    let (base, hits) = applications().await;
    let mut admin = app.admin.clone();

    // Without the admin credential nothing is fetched at all.
    let refused = admin
        .register_consumer(by_url(&format!("{base}/good")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no fetch for an anonymous caller"
    );

    let registered = admin
        .register_consumer(with_credential(by_url(&format!("{base}/good")), ADMIN))
        .await
        .unwrap()
        .into_inner()
        .consumer
        .unwrap();
    assert_eq!(registered.key, "confluence:42");
    assert_eq!(registered.name, "Confluence");
    assert_eq!(registered.description, "Team wiki");
    assert!(
        registered
            .public_key_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert_eq!(
        registered.signature_methods,
        [pb::SignatureMethod::RsaSha1 as i32]
    );

    // A redirect within the host is followed; fields given win over the document's.
    let mut renamed = by_url(&format!("{base}/moved{INFO}"));
    renamed.key = "confluence:43".into();
    renamed.name = "Our wiki".into();
    let registered = admin
        .register_consumer(with_credential(renamed, ADMIN))
        .await
        .unwrap()
        .into_inner()
        .consumer
        .unwrap();
    assert_eq!(
        (registered.key.as_str(), registered.name.as_str()),
        ("confluence:43", "Our wiki")
    );
}

async fn every_failed_fetch_or_bad_document_gets_a_clear_error_and_registers_nothing(
    app: &TestApp,
) {
    let (base, _) = applications().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut admin = app.admin.clone();
    let cases = [
        (
            format!("{base}/malformed"),
            Code::InvalidArgument,
            "well-formed",
        ),
        (format!("{base}/huge"), Code::InvalidArgument, "larger than"),
        (format!("{base}/weak"), Code::InvalidArgument, "publicKey"),
        (
            format!("{base}/elsewhere"),
            Code::InvalidArgument,
            "another host",
        ),
        (format!("{base}/missing"), Code::Unavailable, "404"),
        (
            format!("http://127.0.0.1:{closed}"),
            Code::Unavailable,
            "connection",
        ),
        (
            format!("{base}/slow"),
            Code::Unavailable,
            "no answer within",
        ),
        (
            "ftp://example.com".to_owned(),
            Code::InvalidArgument,
            "consumer_info_url",
        ),
    ];
    for (url, code, words) in cases {
        let status = admin
            .register_consumer(with_credential(by_url(&url), ADMIN))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{url}: {status:?}");
        assert!(status.message().contains(words), "{url}: {status:?}");
    }
    let listed = admin
        .list_consumers(with_credential(pb::ListConsumersRequest::default(), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.consumers.is_empty(),
        "nothing half-registered: {listed:?}"
    );
}
