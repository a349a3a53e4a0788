//! OAuth 2.0 on the HTTP listener: the four endpoints an OAuth 2.0 client library
//! talks to. Each extracts, calls one [`Authority`] method and maps; errors go through
//! [`response::oauth2_error_response`], the OAuth 2.0 half of the one mapping.
//!
//! - `GET /oauth2/authorize` sends the browser on to the configured consent frontend
//!   with the query unchanged; that frontend checks and decides through `Authorize`.
//!   Without one, the built-in page serves this path (see [`crate::web`]), or, when
//!   that is switched off too, a 404 says what to configure.
//! - `POST /oauth2/token` (RFC 6749 sections 4.1.3, 5 and 6),
//!   `POST /oauth2/revoke` (RFC 7009), `POST /oauth2/introspect` (RFC 7662).
//! - `GET /.well-known/oauth-authorization-server` (RFC 8414): what a strict client
//!   discovers before its first request, PKCE support (RFC 9700) and `iss` (RFC 9207)
//!   included, so that none of it has to be configured by hand. It states what these
//!   handlers really accept, no more.
//!
//! Clients authenticate with `client_secret_basic` (RFC 6749 section 2.3.1: the id and
//! secret form-encoded, then Basic) or `client_secret_post`; a public client sends only
//! `client_id`. Using both methods at once is refused (section 2.3). Introspection also
//! accepts the service credential as `Authorization: Bearer`, for resource servers.
//! Parameters may not repeat (section 3.1), and bodies must be form-encoded.
//!
//! A failed authentication is answered in the scheme the client used
//! ([`response::ClientAuthScheme`]): Basic gets 401 with a Basic challenge, as section
//! 5.2 requires; a bad Bearer credential at introspection gets 401
//! `Bearer error="invalid_token"` (RFC 7662 section 2.3, RFC 6750 section 3).
//!
//! [`Authority`]: latchkey_core::authority::Authority

use super::HttpState;
use super::response::{self, ClientAuthScheme, no_store_json};
use crate::gate;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::oauth2::grant::{OAuth2ClientCredentials, OAuth2TokenRequest, issuer};
use latchkey_core::oauth2::records::OAuth2TokenKind;
use latchkey_core::oauth2::tokens::{Introspection, Introspector};
use latchkey_core::oauth2::{OAuth2Error, scope};
use latchkey_core::{AuthorityError, AuthorityResult};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::time::Instant;

/// `GET /oauth2/authorize`.
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
/// `POST /oauth2/token`.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// `POST /oauth2/revoke`.
pub const REVOKE_PATH: &str = "/oauth2/revoke";
/// `POST /oauth2/introspect`.
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
/// `GET /.well-known/oauth-authorization-server` (RFC 8414 section 3).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// How clients may authenticate at the token, revocation and introspection
/// endpoints: [`client_credentials`] takes Basic or the body, and a public client
/// sends its id alone.
const CLIENT_AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

/// RFC 8414 authorization server metadata. The issuer is the public base URL, the
/// same string as the `iss` of every authorization response; the endpoints hang off
/// it. No `scopes_supported`: scopes are each client's own, with no server-wide set.
pub async fn metadata(State(state): State<HttpState>) -> Response {
    let policy = state.authority.policy();
    let issuer = issuer(&policy.public_base_url);
    let mut pkce_methods = vec!["S256"];
    if policy.oauth2.allow_plain_pkce {
        pkce_methods.push("plain");
    }
    let body = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "revocation_endpoint": format!("{issuer}{REVOKE_PATH}"),
        "introspection_endpoint": format!("{issuer}{INTROSPECT_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "code_challenge_methods_supported": pkce_methods,
        "authorization_response_iss_parameter_supported": true,
    });
    tracing::info!(endpoint = "oauth2-metadata", status = 200, "http");
    response::public_json(body.to_string())
}

/// Sends the browser to the consent page with the authorization request's query.
pub async fn authorize(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    let Some(page) = &state.consent_page_url else {
        return (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "No consent page is configured for this Latchkey, so the authorization request \
             cannot be shown to anyone. An operator sets http.consent_page_url to the web \
             frontend that asks the user and calls Authorize, or switches the built-in \
             page on with web.consent_page.\n",
        )
            .into_response();
    };
    let mut url = (**page).clone();
    let query = query.unwrap_or_default();
    let joined = match url.query() {
        Some(own) if !own.is_empty() && !query.is_empty() => format!("{own}&{query}"),
        Some(own) if !own.is_empty() => own.to_owned(),
        _ => query,
    };
    url.set_query((!joined.is_empty()).then_some(joined.as_str()));
    tracing::info!(endpoint = "oauth2-authorize", status = 303, "http");
    Redirect::to(url.as_str()).into_response()
}

/// The token endpoint.
pub async fn token(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let scheme = ClientAuthScheme::of(&headers);
    observe("oauth2-token", scheme, async {
        let mut form = Form::parse(&headers, &body)?;
        let client = client_credentials(&headers, &mut form)?;
        let request = OAuth2TokenRequest {
            grant_type: form.take("grant_type"),
            code: form.take("code"),
            redirect_uri: form.take("redirect_uri"),
            code_verifier: form.take("code_verifier"),
            refresh_token: form.take("refresh_token"),
            scope: form.take("scope"),
            client,
        };
        let issued = state.authority.exchange_oauth2(&request).await?;
        let body = serde_json::json!({
            "access_token": issued.access_token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": issued.expires_in.num_seconds(),
            "refresh_token": issued.refresh_token.expose_secret(),
            "scope": scope::join(&issued.scopes),
        });
        Ok(no_store_json(body.to_string()))
    })
    .await
}

/// RFC 7009 revocation: 200 whether or not the token was known.
pub async fn revoke(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let scheme = ClientAuthScheme::of(&headers);
    observe("oauth2-revoke", scheme, async {
        let mut form = Form::parse(&headers, &body)?;
        let client = client_credentials(&headers, &mut form)?;
        // The hint only speeds a lookup up; one lookup finds either kind here.
        let _hint = form.take("token_type_hint");
        state
            .authority
            .revoke_oauth2_token(&client, &form.take("token"))
            .await?;
        Ok(no_store_json(String::new()))
    })
    .await
}

/// RFC 7662 introspection, for the client that holds the token or for a resource
/// server with the service credential.
pub async fn introspect(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scheme = ClientAuthScheme::of(&headers);
    observe("oauth2-introspect", scheme, async {
        let mut form = Form::parse(&headers, &body)?;
        let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let introspector = match authorization.and_then(gate::bearer) {
            Some(presented) => Introspector::Service(state.gate.identify(presented).await?),
            None => Introspector::Client(client_credentials(&headers, &mut form)?),
        };
        let answer = state
            .authority
            .introspect_oauth2(&introspector, &form.take("token"))
            .await?;
        Ok(no_store_json(introspection_json(answer).to_string()))
    })
    .await
}

fn introspection_json(answer: Introspection) -> serde_json::Value {
    match answer.token {
        Some(token) if answer.active => {
            let mut body = serde_json::json!({
                "active": true,
                "scope": scope::join(&token.scopes),
                "client_id": token.client_id,
                "username": token.user_id,
                "sub": token.user_id,
                "iat": token.issued_at.timestamp(),
                "exp": token.expires_at.timestamp(),
            });
            if token.kind == OAuth2TokenKind::Access {
                body["token_type"] = "Bearer".into();
            }
            body
        }
        _ => serde_json::json!({ "active": false }),
    }
}

fn invalid_request(detail: impl Into<String>) -> AuthorityError {
    AuthorityError::oauth2(OAuth2Error::InvalidRequest, detail)
}

/// A form body with each parameter at most once.
struct Form(HashMap<String, String>);

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> AuthorityResult<Form> {
        let form_encoded = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form_encoded {
            return Err(invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if params
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(invalid_request(format!("{name} is repeated")));
            }
        }
        Ok(Form(params))
    }

    /// The parameter's value; empty when absent.
    fn take(&mut self, name: &str) -> String {
        self.0.remove(name).unwrap_or_default()
    }
}

/// The client's credentials from Basic or from the body, never both.
fn client_credentials(
    headers: &HeaderMap,
    form: &mut Form,
) -> AuthorityResult<OAuth2ClientCredentials> {
    let body_id = form.take("client_id");
    let body_secret = form.take("client_secret");
    let basic = match headers.get(AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| invalid_request("unreadable Authorization header"))?;
            let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(AuthorityError::oauth2(
                    OAuth2Error::InvalidClient,
                    "only Basic client authentication is accepted in the header",
                ));
            }
            Some(basic_credentials(encoded.trim())?)
        }
    };
    match basic {
        Some((id, secret)) => {
            if !body_secret.is_empty() || (!body_id.is_empty() && body_id != id) {
                return Err(invalid_request(
                    "use one client authentication method, not Basic and the body",
                ));
            }
            Ok(OAuth2ClientCredentials {
                client_id: id,
                client_secret: (!secret.is_empty()).then(|| SecretString::from(secret)),
            })
        }
        None => Ok(OAuth2ClientCredentials {
            client_id: body_id,
            client_secret: (!body_secret.is_empty()).then(|| SecretString::from(body_secret)),
        }),
    }
}

/// RFC 6749 section 2.3.1: `base64(form-encode(id) ":" form-encode(secret))`.
fn basic_credentials(encoded: &str) -> AuthorityResult<(String, String)> {
    let refused =
        || AuthorityError::oauth2(OAuth2Error::InvalidClient, "malformed Basic credentials");
    let decoded = STANDARD.decode(encoded).map_err(|_| refused())?;
    let text = String::from_utf8(decoded).map_err(|_| refused())?;
    let (id, secret) = text.split_once(':').ok_or_else(refused)?;
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((decode(id), decode(secret)))
}

/// Runs one request, logs its outcome (never a token), and maps its error.
async fn observe(
    endpoint: &'static str,
    scheme: ClientAuthScheme,
    call: impl Future<Output = AuthorityResult<Response>>,
) -> Response {
    let started = Instant::now();
    let result = call.await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            tracing::info!(endpoint, status, elapsed_ms, "http");
            response
        }
        Err(error) => {
            let response = response::oauth2_error_response(&error, scheme);
            let status = response.status().as_u16();
            tracing::info!(endpoint, status, detail = %error, elapsed_ms, "http");
            response
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded_after_base64() {
        let encoded = STANDARD.encode("my%3Aclient:s3cr%2Bt+x");
        let (id, secret) = basic_credentials(&encoded).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("my:client", "s3cr+t x"));
        assert!(basic_credentials("!!!").is_err());
    }
}
