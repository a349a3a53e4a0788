//! The OAuth 2.0 consent page on `/oauth2/authorize` (RFC 6749 section 4.1.1), for a
//! team that has no consent frontend of its own.
//!
//! `GET` asks the core to check the authorization request without a decision. A
//! request the core refuses for the user (an unknown client, a redirect URI that is not
//! registered exactly) is an error page here, never a redirect: sending the browser to
//! an unchecked address would make Latchkey an open redirector. A request the core
//! refuses for the client (a bad scope, a missing PKCE challenge) sends the browser
//! back to the client with `error=` and `state`, as the RFC says. Otherwise the page
//! shows the client's name, the scopes it asks for and where the browser goes next,
//! with Allow and Deny.
//!
//! `POST` carries the authorization request back in hidden fields, with the form
//! token, and records the decision through the same core call; the core checks the
//! request again, so a field edited in between is judged like any other request.

use super::page::{Frame, PageError, allow_form_action, html};
use super::{Pages, as_frontend, csrf, user_decision};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::error::AuthorityError;
use latchkey_core::oauth2::grant::{OAuth2AuthorizationRequest, OAuth2AuthorizeOutcome};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "web/consent_oauth2.html")]
struct OAuth2ConsentPage {
    frame: Frame,
    client_name: String,
    client_id: String,
    scopes: Vec<String>,
    /// The redirect URI's host.
    destination: String,
    request: AuthorizationFields,
    form_token: String,
}

/// The authorization request's parameters, as the query brings them and as the form
/// carries them back.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct AuthorizationFields {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    code_challenge: String,
    code_challenge_method: String,
}

impl AuthorizationFields {
    fn request(&self) -> OAuth2AuthorizationRequest {
        OAuth2AuthorizationRequest {
            response_type: self.response_type.clone(),
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.clone(),
            state: self.state.clone(),
            code_challenge: self.code_challenge.clone(),
            code_challenge_method: self.code_challenge_method.clone(),
        }
    }
}

/// The form the page posts: the request, the decision and the form token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OAuth2DecisionForm {
    #[serde(flatten)]
    request: AuthorizationFields,
    decision: String,
    form_token: String,
}

/// `GET /oauth2/authorize`.
pub async fn show(
    State(pages): State<Pages>,
    headers: HeaderMap,
    query: Result<Query<AuthorizationFields>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let viewer = pages.sign_in.viewer(&headers).await?;
    let user = pages.sign_in.require_user(&viewer)?;
    let Query(fields) = query
        .map_err(|_| AuthorityError::invalid("query", "the authorization request is malformed"))?;
    let outcome = pages
        .authority
        .authorize_oauth2(&as_frontend(), &fields.request(), &user, None)
        .await?;
    if let OAuth2AuthorizeOutcome {
        redirect_url: Some(refused),
        ..
    } = &outcome
    {
        // Refused for the client: it hears why at its own redirect URI.
        return Ok(Redirect::to(refused).into_response());
    }
    let redirect = url::Url::parse(&outcome.redirect_uri).ok();
    let form_token = pages.forms.issue(&headers, &user);
    let page = OAuth2ConsentPage {
        frame: pages.frame(&viewer),
        client_name: outcome.client_name,
        client_id: fields.client_id.clone(),
        scopes: outcome.scopes,
        destination: redirect
            .as_ref()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| outcome.redirect_uri.clone()),
        request: fields,
        form_token: form_token.value.clone(),
    };
    let mut response = html(&page)?;
    csrf::set_cookie(response.headers_mut(), &form_token);
    if let Some(redirect) = &redirect {
        allow_form_action(&mut response, redirect);
    }
    Ok(response)
}

/// `POST /oauth2/authorize`: Allow or Deny.
pub async fn decide(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<OAuth2DecisionForm>,
) -> Result<Response, PageError> {
    let (_, user) = pages.user_post(&headers, &form.form_token).await?;
    let decision = user_decision(&form.decision)?;
    let outcome = pages
        .authority
        .authorize_oauth2(
            &as_frontend(),
            &form.request.request(),
            &user,
            Some(decision),
        )
        .await?;
    match outcome.redirect_url {
        Some(url) => Ok(Redirect::to(&url).into_response()),
        // A decision always ends in a redirect; anything else is the core's fault.
        None => Err(AuthorityError::Internal {
            detail: "a decided authorization request has no redirect".into(),
        }
        .into()),
    }
}
