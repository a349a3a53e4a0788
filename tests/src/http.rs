//! Talking to the HTTP listener as a consumer and a browser would: a client that does
//! not follow redirects, the URLs a consumer signs and the one it connects to, and the
//! form-encoded bodies OAuth answers with.

use crate::app::TestApp;
use crate::consumer::{Extras, TestConsumer};
use std::collections::BTreeMap;

/// What every test server is configured with as `public_base_url`.
pub const PUBLIC_BASE_URL: &str = "https://auth.example.com";

/// The URL a consumer addresses behind the ingress: what it signs.
pub fn public_url(path: &str) -> String {
    format!("{PUBLIC_BASE_URL}{path}")
}

/// The URL the test connects to: the server's own address, as an ingress would.
pub fn pod_url(app: &TestApp, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", app.http_port)
}

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Answer {
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The body as `name=value` pairs, decoded.
    pub fn form(&self) -> BTreeMap<String, String> {
        form_pairs(&self.body)
    }

    /// The `oauth_problem` of the body, which must agree with the one in
    /// `WWW-Authenticate`.
    #[track_caller]
    pub fn problem(&self) -> String {
        let problem = self
            .form()
            .get("oauth_problem")
            .cloned()
            .unwrap_or_default();
        let challenge = self.header("www-authenticate");
        assert!(
            challenge.contains(&format!("oauth_problem=\"{problem}\"")),
            "WWW-Authenticate {challenge:?} does not name {problem:?}"
        );
        problem
    }
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn form_pairs(body: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The parameters of an `OAuth ...` Authorization header as a form body or query
/// string: the same parameters, so the same signature, in another place.
pub fn header_as_form(authorization: &str) -> String {
    authorization
        .trim_start_matches("OAuth ")
        .split(',')
        .map(|pair| {
            let (name, value) = pair.trim().split_once('=').unwrap();
            format!("{name}={}", value.trim_matches('"'))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends a request signed for `public_url(path)` to the pod, parameters in the header.
pub async fn send_signed(
    app: &TestApp,
    consumer: &TestConsumer,
    method: &str,
    path: &str,
    extras: &Extras<'_>,
) -> Answer {
    let signed = consumer.sign(method, &public_url(path), extras);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = client()
        .request(method, pod_url(app, path))
        .header("authorization", signed.authorization)
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}
