//! The consent page: leg 2 of the dance in the user's browser.
//!
//! `GET` shows who asks (the consumer's name and description), where the user will be
//! sent (the callback's host, or a code to type for `oob`) and when the request ends,
//! with Allow and Deny. `POST` records the decision through the core and sends the
//! browser to the callback with `oauth_token` and `oauth_verifier` (or
//! `oauth_problem=user_refused`), or shows an `oob` code in Jira's words. The request
//! token travels in the authorize URL (the protocol puts it there) and in the form
//! body, never in any URL this page makes.

use super::page::{Frame, PageError, allow_form_action, html};
use super::{Pages, as_frontend, csrf, user_decision};
use crate::http::oauth1::request_token_in;
use askama::Template;
use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::error::{AuthorityError, Problem};
use latchkey_core::oauth1::dance::RequestTokenStatus;
use secrecy::ExposeSecret;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "web/consent.html")]
struct ConsentPage {
    frame: Frame,
    consumer_name: String,
    consumer_key: String,
    consumer_description: String,
    /// The callback's host; `None` for `oob`.
    destination: Option<String>,
    expires_at: String,
    oauth_token: String,
    form_token: String,
}

#[derive(Template)]
#[template(path = "web/decided.html")]
struct DecidedPage {
    frame: Frame,
    consumer_name: String,
    /// The verification code, when approved out of band.
    code: Option<String>,
}

/// The form the consent page posts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    oauth_token: String,
    decision: String,
    form_token: String,
}

/// `GET` on the authorize path.
pub async fn show(
    State(pages): State<Pages>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let viewer = pages.sign_in.viewer(&headers).await?;
    let user = pages.sign_in.require_user(&viewer)?;
    let token = request_token_in(query.as_deref().unwrap_or(""))?;
    let view = pages
        .authority
        .describe_request_token(&as_frontend(), &token)
        .await?;
    match view.status {
        RequestTokenStatus::Pending => {}
        RequestTokenStatus::Expired => {
            return Err(AuthorityError::precondition(Problem::TokenExpired, "expired").into());
        }
        RequestTokenStatus::Approved | RequestTokenStatus::Denied | RequestTokenStatus::Used => {
            return Err(AuthorityError::precondition(Problem::TokenUsed, "decided").into());
        }
    }
    let callback = url::Url::parse(&view.callback).ok();
    let form_token = pages.forms.issue(&headers, &user);
    let page = ConsentPage {
        frame: pages.frame(&viewer),
        consumer_name: view.consumer_name,
        consumer_key: view.consumer_key,
        consumer_description: view.consumer_description,
        destination: callback
            .as_ref()
            .and_then(|url| url.host_str().map(str::to_owned)),
        expires_at: view.expires_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        oauth_token: token,
        form_token: form_token.value.clone(),
    };
    let mut response = html(&page)?;
    csrf::set_cookie(response.headers_mut(), &form_token);
    if let Some(callback) = &callback {
        allow_form_action(&mut response, callback);
    }
    Ok(response)
}

/// `POST` on the authorize path: Allow or Deny.
pub async fn decide(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Result<Response, PageError> {
    let (viewer, user) = pages.user_post(&headers, &form.form_token).await?;
    let decision = user_decision(&form.decision)?;
    let view = pages
        .authority
        .describe_request_token(&as_frontend(), &form.oauth_token)
        .await?;
    let outcome = pages
        .authority
        .authorize(&as_frontend(), &form.oauth_token, &user, decision)
        .await?;
    if let Some(url) = outcome.redirect_url {
        return Ok(Redirect::to(&url).into_response());
    }
    html(&DecidedPage {
        frame: pages.frame(&viewer),
        consumer_name: view.consumer_name,
        code: outcome.verifier.map(|code| code.expose_secret().to_owned()),
    })
}
