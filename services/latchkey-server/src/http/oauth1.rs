//! The three endpoints of the dance, and revocation by a consumer. Each extracts,
//! calls one [`Authority`] method (or, for `authorize`, only redirects) and maps;
//! [`observe`] logs one line per request and maps errors through
//! [`response::error_response`].
//!
//! [`Authority`]: latchkey_core::authority::Authority

use super::HttpState;
use super::received::ReceivedRequest;
use super::response::{self, FormBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::AuthorityResult;
use latchkey_core::error::{OAuthFailure, Problem};
use secrecy::ExposeSecret;
use std::time::Instant;

/// Leg 1: temporary credentials, `oauth_callback_confirmed=true`.
pub async fn request_token(State(state): State<HttpState>, request: ReceivedRequest) -> Response {
    observe("request-token", &request, &state, async {
        let signed = request.addressed_under(&state.public_base_url);
        let issued = state
            .authority
            .issue_request_token(&signed.as_http_request()?)
            .await?;
        Ok(FormBody::default()
            .pair("oauth_token", issued.token.expose_secret())
            .pair("oauth_token_secret", issued.token_secret.expose_secret())
            .pair("oauth_callback_confirmed", "true"))
    })
    .await
}

/// Leg 3: token credentials, with `oauth_expires_in` as Jira adds it.
pub async fn access_token(State(state): State<HttpState>, request: ReceivedRequest) -> Response {
    observe("access-token", &request, &state, async {
        let signed = request.addressed_under(&state.public_base_url);
        let issued = state
            .authority
            .exchange_token(&signed.as_http_request()?)
            .await?;
        Ok(FormBody::default()
            .pair("oauth_token", issued.token.expose_secret())
            .pair("oauth_token_secret", issued.token_secret.expose_secret())
            .pair(
                "oauth_expires_in",
                issued.lifetime.num_seconds().to_string(),
            ))
    })
    .await
}

/// A consumer revokes its own tokens: a signed `POST` whose form body names the
/// target (`token_id`, `consumer_key`, or `user_id` with `consumer_key`; see
/// [`consumer_revoke`]). Answers `revoked=<n>`, how many live tokens it ended.
///
/// [`consumer_revoke`]: latchkey_core::authority::consumer_revoke
pub async fn revoke(State(state): State<HttpState>, request: ReceivedRequest) -> Response {
    observe("revoke", &request, &state, async {
        let signed = request.addressed_under(&state.public_base_url);
        let revoked = state
            .authority
            .revoke_as_consumer(&signed.as_http_request()?, None)
            .await?;
        Ok(FormBody::default().pair("revoked", revoked.to_string()))
    })
    .await
}

/// Leg 2 starts here: the consumer sends the user's browser to this URL, and it goes on
/// to the consent page, which decides through the `Authorize` RPC. With no consent
/// page configured there is nowhere to go, and the page says so.
pub async fn authorize(State(state): State<HttpState>, request: ReceivedRequest) -> Response {
    observe("authorize", &request, &state, async {
        let token = request_token_in(request.query())?;
        Ok(match &state.consent_page_url {
            Some(page) => {
                let mut url = (**page).clone();
                url.query_pairs_mut().append_pair("oauth_token", &token);
                Redirect::to(url.as_str()).into_response()
            }
            None => (
                StatusCode::NOT_FOUND,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "No consent page is configured for this Latchkey, so the request token \
                 cannot be authorized here. An operator sets http.consent_page_url to the \
                 web frontend that asks the user and calls Authorize, or turns on \
                 web.consent_page for the built-in one.\n",
            )
                .into_response(),
        })
    })
    .await
}

/// The one `oauth_token` in an authorize URL's query.
pub(crate) fn request_token_in(query: &str) -> AuthorityResult<String> {
    let mut tokens = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "oauth_token")
        .map(|(_, value)| value.into_owned());
    match (tokens.next(), tokens.next()) {
        (Some(token), None) if !token.is_empty() => Ok(token),
        (None, _) | (Some(_), None) => Err(OAuthFailure::with_parameters(
            Problem::ParameterAbsent,
            "the authorize URL carries no oauth_token",
            ["oauth_token"],
        )
        .into()),
        (Some(_), Some(_)) => Err(OAuthFailure::with_parameters(
            Problem::ParameterRejected,
            "the authorize URL carries oauth_token more than once",
            ["oauth_token"],
        )
        .into()),
    }
}

/// Runs one request, logs its outcome, and maps its error. The log line names the path
/// but never the query, which carries tokens.
async fn observe<T: IntoResponse>(
    endpoint: &'static str,
    request: &ReceivedRequest,
    state: &HttpState,
    call: impl Future<Output = AuthorityResult<T>>,
) -> Response {
    let started = Instant::now();
    let result = call.await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let path = request.path();
    match result {
        Ok(success) => {
            let response = success.into_response();
            let status = response.status().as_u16();
            tracing::info!(endpoint, path, status, elapsed_ms, "http");
            response
        }
        Err(error) => {
            let response = response::error_response(&error, &state.public_base_url);
            let status = response.status().as_u16();
            let problem = error.problem().map(|p| p.as_str()).unwrap_or("");
            // `error` carries only non-secret detail (keys, states, reasons).
            tracing::info!(endpoint, path, status, problem, detail = %error, elapsed_ms, "http");
            response
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_must_carry_exactly_one_token() {
        assert_eq!(request_token_in("oauth_token=abc&x=1").unwrap(), "abc");
        for query in ["", "x=1", "oauth_token=", "oauth_token=a&oauth_token=b"] {
            let problem = request_token_in(query).unwrap_err().problem();
            assert!(
                matches!(
                    problem,
                    Some(Problem::ParameterAbsent | Problem::ParameterRejected)
                ),
                "{query}"
            );
        }
    }
}
