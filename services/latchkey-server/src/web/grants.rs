//! "My authorizations": the signed-in user's live grants, each with a Revoke button.
//! Revocation goes through the core as the user, so a user can only ever revoke a
//! grant of their own, whatever token id a form carries.

use super::page::{Frame, PageError, html};
use super::{AUTHORIZATIONS_PATH, Pages, as_frontend, csrf};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::error::AuthorityError;
use latchkey_core::oauth1::access::RevokeActor;
use latchkey_core::oauth1::records::RevokeTarget;
use serde::Deserialize;

/// One grant as the page shows it.
pub struct GrantRow {
    token_id: String,
    consumer_name: String,
    consumer_key: String,
    issued: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "web/authorizations.html")]
struct AuthorizationsPage {
    frame: Frame,
    grants: Vec<GrantRow>,
    form_token: String,
}

/// The form each Revoke button posts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    token_id: String,
    form_token: String,
}

/// A time as every page shows it.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `GET /web/authorizations`.
pub async fn show(State(pages): State<Pages>, headers: HeaderMap) -> Result<Response, PageError> {
    let viewer = pages.sign_in.viewer(&headers).await?;
    let user = pages.sign_in.require_user(&viewer)?;
    let grants = pages
        .authority
        .list_authorizations(&as_frontend(), &user)
        .await?
        .into_iter()
        .map(|grant| GrantRow {
            token_id: grant.token_id.to_string(),
            consumer_name: grant.consumer_name,
            consumer_key: grant.consumer_key,
            issued: when(grant.times.created_at),
            expires: when(grant.times.expires_at),
            last_used: when(grant.times.last_used_at),
        })
        .collect();
    let form_token = pages.forms.issue(&headers, &user);
    let mut response = html(&AuthorizationsPage {
        frame: pages.frame(&viewer),
        grants,
        form_token: form_token.value.clone(),
    })?;
    csrf::set_cookie(response.headers_mut(), &form_token);
    Ok(response)
}

/// `POST /web/authorizations/revoke`.
pub async fn revoke(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    let (_, user) = pages.user_post(&headers, &form.form_token).await?;
    let token_id = uuid::Uuid::parse_str(&form.token_id)
        .map_err(|_| AuthorityError::invalid("token_id", "not a token id"))?;
    pages
        .authority
        .revoke(
            &as_frontend(),
            RevokeActor::User(&user),
            &RevokeTarget::Token(token_id),
        )
        .await?;
    Ok(Redirect::to(AUTHORIZATIONS_PATH).into_response())
}
