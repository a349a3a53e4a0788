//! The one mapping from [`AuthorityError`] to an HTTP response, and the form-encoded
//! bodies of success.
//!
//! Protocol failures go out as Jira's provider library (net.oauth) sends them: 400 for
//! a malformed request and 401 for bad credentials (the split of RFC 5849 section 3.2,
//! which the core keeps in [`Problem::is_bad_request`]), with
//! `WWW-Authenticate: OAuth realm="...", oauth_problem="..."` and the same words as an
//! `application/x-www-form-urlencoded` body, companion parameters included. The realm
//! is the public base URL, percent-encoded as net.oauth writes every value. A database
//! outage is a 503 the consumer may retry; an internal fault is a 500 that carries only
//! a reference id, its detail going to the log alone.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::error::{AuthorityError, OAuthFailure, Problem};
use latchkey_core::oauth1::encoding::encode;

/// The media type of every OAuth body, success or failure.
const FORM: &str = "application/x-www-form-urlencoded";

/// `name=value&...`, each side percent-encoded (RFC 5849 section 3.6), as the token
/// endpoints answer.
#[derive(Default)]
pub struct FormBody {
    pairs: Vec<(&'static str, String)>,
}

impl FormBody {
    /// Adds one pair.
    pub fn pair(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.pairs.push((name, value.into()));
        self
    }

    fn encoded(&self) -> String {
        self.pairs
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl IntoResponse for FormBody {
    fn into_response(self) -> Response {
        // Token secrets: no cache may keep them.
        (
            [
                (CONTENT_TYPE, HeaderValue::from_static(FORM)),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            self.encoded(),
        )
            .into_response()
    }
}

/// Maps a core error to the response the consumer sees. `realm` is the public base URL.
pub fn error_response(error: &AuthorityError, realm: &str) -> Response {
    match error {
        AuthorityError::OAuth2(_) => oauth2_error_response(error, ClientAuthScheme::None),
        AuthorityError::OAuth(failure) | AuthorityError::FailedPrecondition(failure) => {
            problem(failure, realm)
        }
        AuthorityError::NotFound {
            problem: Some(word),
            detail,
        } => problem(&OAuthFailure::new(*word, detail.clone()), realm),
        AuthorityError::NotFound { problem: None, .. } => plain(StatusCode::NOT_FOUND, "not found"),
        AuthorityError::PermissionDenied { detail } => problem(
            &OAuthFailure::new(Problem::PermissionDenied, detail.clone()),
            realm,
        ),
        AuthorityError::Unauthenticated { .. } => {
            let mut response = plain(StatusCode::UNAUTHORIZED, "unauthenticated");
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, challenge(&[], realm));
            response
        }
        AuthorityError::InvalidArgument { field, detail } => problem(
            &OAuthFailure::with_parameters(Problem::ParameterRejected, detail.clone(), [*field]),
            realm,
        ),
        AuthorityError::AlreadyExists { .. } => plain(StatusCode::CONFLICT, "already exists"),
        AuthorityError::Unavailable { .. } => retry_shortly(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable; retry later",
        )),
        AuthorityError::Upstream { .. } => plain(StatusCode::BAD_GATEWAY, "upstream failure"),
        AuthorityError::Saturated { .. } => retry_shortly(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many credential checks at once; retry later",
        )),
        AuthorityError::Internal { detail } => {
            let reference = uuid::Uuid::new_v4();
            tracing::error!(%reference, detail = %detail, "internal error");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("internal error; reference {reference}"),
            )
        }
    }
}

/// The status of a problem word: 400 when the request is malformed, 401 otherwise.
pub fn status_of(problem: Problem) -> StatusCode {
    if problem.is_bad_request() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNAUTHORIZED
    }
}

fn problem(failure: &OAuthFailure, realm: &str) -> Response {
    let mut pairs = vec![("oauth_problem", failure.problem.as_str().to_owned())];
    pairs.extend(failure.companion_parameters());
    let body = FormBody { pairs };
    let mut response = (
        status_of(failure.problem),
        [(CONTENT_TYPE, HeaderValue::from_static(FORM))],
        body.encoded(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, challenge(&body.pairs, realm));
    response
}

/// `OAuth realm="...", name="value", ...`, every value percent-encoded.
fn challenge(pairs: &[(&'static str, String)], realm: &str) -> HeaderValue {
    let mut header = format!("OAuth realm=\"{}\"", encode(realm));
    for (name, value) in pairs {
        header.push_str(&format!(", {name}=\"{}\"", encode(value)));
    }
    // Percent-encoding leaves only visible ASCII, so this cannot fail; fall back to a
    // bare challenge all the same rather than panic.
    HeaderValue::from_str(&header).unwrap_or_else(|_| HeaderValue::from_static("OAuth"))
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        message.to_owned(),
    )
        .into_response()
}

/// How a client tried to authenticate at an OAuth 2.0 endpoint, from its
/// `Authorization` header alone, so that a refusal answers in that scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthScheme {
    /// No `Authorization` header: `client_secret_post`, or a public client's bare id.
    None,
    /// `Authorization: Basic` (`client_secret_basic`), or a scheme these endpoints do
    /// not take, which a Basic challenge answers with the one they do.
    Basic,
    /// `Authorization: Bearer`: a resource server's credential at introspection.
    Bearer,
}

impl ClientAuthScheme {
    /// The scheme of `headers`' `Authorization`.
    pub fn of(headers: &axum::http::HeaderMap) -> Self {
        match headers.get(axum::http::header::AUTHORIZATION) {
            None => Self::None,
            Some(value) => match value.to_str().ok().and_then(crate::gate::bearer) {
                Some(_) => Self::Bearer,
                None => Self::Basic,
            },
        }
    }
}

/// The OAuth 2.0 endpoints' mapping (RFC 6749 section 5.2): a JSON object with `error`
/// and `error_description`, 400 or 401. `invalid_client` follows the scheme the
/// client used. After Basic (or another scheme in the header) it is 401 with a Basic
/// challenge, as section 5.2 requires. Without an `Authorization` header
/// (`client_secret_post`, or a public client) it is 400, the section's default: its
/// 401 is optional, and a 401 must carry a challenge (RFC 9110 section 15.5.2), which
/// would name a scheme the client did not use. A Bearer credential that fails at
/// introspection is 401 `Bearer error="invalid_token"` (RFC 7662 section 2.3 and
/// RFC 6750 section 3), whether it is unknown or lacks the right. Non-protocol
/// failures keep their meaning: an outage is 503 `temporarily_unavailable`, a fault
/// 500 `server_error` with only a reference id.
pub fn oauth2_error_response(error: &AuthorityError, scheme: ClientAuthScheme) -> Response {
    use latchkey_core::oauth2::OAuth2Error as E;
    let invalid_client_status = if scheme == ClientAuthScheme::None {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNAUTHORIZED
    };
    let (status, word, description) = match error {
        AuthorityError::OAuth2(failure) => {
            let status = match failure.error {
                E::InvalidClient => invalid_client_status,
                E::InvalidToken => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, failure.error.as_str(), failure.detail.clone())
        }
        AuthorityError::Unauthenticated { detail }
        | AuthorityError::PermissionDenied { detail }
            if scheme == ClientAuthScheme::Bearer =>
        {
            (StatusCode::UNAUTHORIZED, "invalid_token", detail.clone())
        }
        AuthorityError::Unauthenticated { detail } => {
            (invalid_client_status, "invalid_client", detail.clone())
        }
        AuthorityError::InvalidArgument { field, detail } => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{field}: {detail}"),
        ),
        AuthorityError::Unavailable { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the database is unavailable; retry later".to_owned(),
        ),
        AuthorityError::Upstream { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "an upstream application did not answer; retry later".to_owned(),
        ),
        AuthorityError::Saturated { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many secret checks at once; retry later".to_owned(),
        ),
        AuthorityError::Internal { detail } => {
            let reference = uuid::Uuid::new_v4();
            tracing::error!(%reference, detail = %detail, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("internal error; reference {reference}"),
            )
        }
        other => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            other.to_string(),
        ),
    };
    // RFC 6749 section 5.2 allows only printable ASCII without quote or backslash.
    let description: String = description
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '\'',
        })
        .collect();
    let body = serde_json::json!({ "error": word, "error_description": description });
    let mut response = (status, no_store_json(body.to_string())).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if word == "invalid_token" {
            "Bearer error=\"invalid_token\""
        } else {
            "Basic realm=\"latchkey\""
        };
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response = retry_shortly(response);
    }
    response
}

/// How long a client should wait before retrying a 503: an outage or a full argon2
/// queue is usually over within a second.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// Adds `Retry-After` to a 503.
pub fn retry_shortly(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response
}

/// A JSON body that holds nothing secret and changes only with the configuration,
/// such as RFC 8414 metadata: any cache may keep it for an hour.
pub fn public_json(body: String) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// A JSON body no cache may keep (RFC 6749 section 5.1: `Cache-Control: no-store`,
/// `Pragma: no-cache`).
pub fn no_store_json(body: String) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header(response: &Response) -> &str {
        response
            .headers()
            .get(WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap()
    }

    #[test]
    fn a_bad_request_problem_is_400_and_an_unauthorized_one_401() {
        let realm = "https://jira.example.com";
        let response = error_response(
            &AuthorityError::oauth(Problem::SignatureMethodRejected, "x"),
            realm,
        );
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = error_response(&AuthorityError::oauth(Problem::NonceUsed, "x"), realm);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&response),
            "OAuth realm=\"https%3A%2F%2Fjira.example.com\", oauth_problem=\"nonce_used\""
        );
    }

    #[test]
    fn companion_parameters_go_in_the_header_and_the_body() {
        let failure = OAuthFailure::with_parameters(
            Problem::ParameterAbsent,
            "x",
            ["oauth_token", "oauth_verifier"],
        );
        let response = error_response(&AuthorityError::OAuth(failure), "http://x");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            header(&response).ends_with(
                "oauth_problem=\"parameter_absent\", \
                 oauth_parameters_absent=\"oauth_token%26oauth_verifier\""
            ),
            "{}",
            header(&response)
        );
    }

    #[test]
    fn an_internal_error_hides_its_detail_and_an_outage_may_be_retried() {
        let response = error_response(
            &AuthorityError::Internal {
                detail: "secret path /etc/key".into(),
            },
            "http://x",
        );
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = error_response(
            &AuthorityError::Unavailable {
                detail: "down".into(),
            },
            "http://x",
        );
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(RETRY_AFTER));
    }

    #[test]
    fn a_refused_client_hears_the_scheme_it_used() {
        use latchkey_core::oauth2::OAuth2Error;
        let invalid_client = AuthorityError::oauth2(OAuth2Error::InvalidClient, "x");
        let basic = oauth2_error_response(&invalid_client, ClientAuthScheme::Basic);
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&basic), "Basic realm=\"latchkey\"");
        let post = oauth2_error_response(&invalid_client, ClientAuthScheme::None);
        assert_eq!(post.status(), StatusCode::BAD_REQUEST);
        assert!(!post.headers().contains_key(WWW_AUTHENTICATE));
        for refused in [
            AuthorityError::Unauthenticated { detail: "x".into() },
            AuthorityError::permission_denied("x"),
        ] {
            let bearer = oauth2_error_response(&refused, ClientAuthScheme::Bearer);
            assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(header(&bearer), "Bearer error=\"invalid_token\"");
        }
    }

    #[test]
    fn a_form_body_encodes_both_sides() {
        let body = FormBody::default()
            .pair("oauth_token", "a b&c")
            .pair("oauth_callback_confirmed", "true");
        assert_eq!(
            body.encoded(),
            "oauth_token=a%20b%26c&oauth_callback_confirmed=true"
        );
    }
}
