//! A consumer's HTTP request, turned into the [`HttpRequest`] the core verifies.
//!
//! The URL is `public_base_url` + the path and query as this process received them.
//! The consumer signed the URL it addressed; behind an ingress or load balancer that is
//! not the `Host` or scheme this process sees, so neither is ever read. An ingress
//! must therefore pass the path through unchanged, or strip exactly the path of
//! `public_base_url`.
//!
//! Parameters come from the `Authorization` header, the query and, when the content
//! type is `application/x-www-form-urlencoded`, the body (RFC 5849 section 3.5); the
//! core collects them. Any other body takes no part in the signature and is ignored.
//! What cannot be read as text (a header or form body that is not ASCII or UTF-8, a
//! repeated `Authorization`) is a `parameter_rejected`, so it is a 400, never a 500.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, Method};
use latchkey_core::error::{OAuthFailure, Problem};
use latchkey_core::oauth1::HttpRequest;

/// The media type whose body carries OAuth parameters.
const FORM: &str = "application/x-www-form-urlencoded";

/// A request as received: what the signature may cover, not yet read as text.
pub struct ReceivedRequest {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for ReceivedRequest {
    /// Only reading the body fails here (413 over the limit, 400 when it breaks off).
    type Rejection = axum::extract::rejection::BytesRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        // An absolute-form target (`POST http://host/path`) has its authority dropped
        // here too: only the path and query are the consumer's.
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state).await?;
        Ok(ReceivedRequest {
            method,
            path_and_query,
            headers,
            body,
        })
    }
}

/// The request with its URL as the consumer addressed it: borrow it as an
/// [`HttpRequest`] with [`SignedHttpRequest::as_http_request`].
pub struct SignedHttpRequest<'a> {
    received: &'a ReceivedRequest,
    url: String,
}

impl ReceivedRequest {
    /// The path and query as received (the query may hold tokens: never log it).
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(path, _)| path)
    }

    /// The query string, empty when there is none.
    pub fn query(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or("", |(_, query)| query)
    }

    /// The request as addressed under `public_base_url` (no trailing slash).
    pub fn addressed_under(&self, public_base_url: &str) -> SignedHttpRequest<'_> {
        SignedHttpRequest {
            received: self,
            url: format!("{public_base_url}{}", self.path_and_query),
        }
    }
}

impl SignedHttpRequest<'_> {
    /// The request as the core reads it, or `parameter_rejected` when a header or the
    /// form body is not text.
    pub fn as_http_request(&self) -> Result<HttpRequest<'_>, OAuthFailure> {
        let headers = &self.received.headers;
        let authorization = single_text_header(headers, &AUTHORIZATION)?.unwrap_or("");
        let form_body = match single_text_header(headers, &CONTENT_TYPE)? {
            Some(content_type) if is_form(content_type) => std::str::from_utf8(&self.received.body)
                .map_err(|_| {
                    OAuthFailure::new(Problem::ParameterRejected, "the form body is not UTF-8")
                })?,
            _ => "",
        };
        Ok(HttpRequest {
            method: self.received.method.as_str(),
            url: &self.url,
            authorization,
            form_body,
        })
    }
}

/// A header that may occur once and must be visible ASCII.
fn single_text_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h str>, OAuthFailure> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthFailure::new(
            Problem::ParameterRejected,
            format!("the {name} header is sent more than once"),
        ));
    }
    value.to_str().map(Some).map_err(|_| {
        OAuthFailure::new(
            Problem::ParameterRejected,
            format!("the {name} header is not visible ASCII"),
        )
    })
}

/// `application/x-www-form-urlencoded`, with or without parameters such as charset.
fn is_form(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(FORM))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn received(headers: &[(HeaderName, &[u8])], body: &[u8]) -> ReceivedRequest {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(name.clone(), HeaderValue::from_bytes(value).unwrap());
        }
        ReceivedRequest {
            method: Method::POST,
            path_and_query: "/oauth/request-token?a=1".into(),
            headers: map,
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn the_url_is_the_public_base_url_and_the_path_and_query_received() {
        let request = received(&[], b"");
        let signed = request.addressed_under("https://auth.example.com/prefix");
        let http = signed.as_http_request().unwrap();
        assert_eq!(
            http.url,
            "https://auth.example.com/prefix/oauth/request-token?a=1"
        );
        assert_eq!(request.path(), "/oauth/request-token");
        assert_eq!(request.query(), "a=1");
    }

    #[test]
    fn only_a_form_body_is_read() {
        for content_type in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-Urlencoded ; charset=UTF-8",
        ] {
            let request = received(&[(CONTENT_TYPE, content_type.as_bytes())], b"b=2");
            let signed = request.addressed_under("https://x");
            assert_eq!(signed.as_http_request().unwrap().form_body, "b=2");
        }
        let request = received(&[(CONTENT_TYPE, b"application/json")], b"{}");
        let signed = request.addressed_under("https://x");
        assert_eq!(signed.as_http_request().unwrap().form_body, "");
    }

    #[test]
    fn unreadable_or_repeated_headers_and_bodies_are_rejected() {
        let cases = [
            received(&[(AUTHORIZATION, b"OAuth a=\"\xff\"")], b""),
            received(
                &[(AUTHORIZATION, b"OAuth a=\"1\""), (AUTHORIZATION, b"x")],
                b"",
            ),
            received(&[(CONTENT_TYPE, FORM.as_bytes())], b"a=\xff"),
        ];
        for request in &cases {
            let failure = request
                .addressed_under("https://x")
                .as_http_request()
                .unwrap_err();
            assert_eq!(failure.problem, Problem::ParameterRejected);
        }
    }
}
