//! OAuth administration: list, add, edit, disable and delete consumers, set their token
//! policy, and see and revoke their tokens. One click from every page for an
//! administrator (see [`super::session`] for who that is).
//!
//! Each handler checks the viewer and the form token, turns the form into the core's
//! draft or changes, calls one admin method, and redirects back (post/redirect/get), so
//! a reload never repeats an action. A generated shared secret is shown once, on the
//! page that answers the post that made it, and never again.

use super::grants::when;
use super::page::{Frame, PageError, html};
use super::session::Viewer;
use super::{ADMIN_PATH, Pages, csrf};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_core::authority::Caller;
use latchkey_core::error::AuthorityError;
use latchkey_core::oauth1::access::RevokeActor;
use latchkey_core::oauth1::consumers::{ConsumerChanges, ConsumerDraft, SharedSecretChoice};
use latchkey_core::oauth1::records::RevokeTarget;
use latchkey_core::oauth1::records::{ConsumerRecord, TwoLeggedPolicy};
use secrecy::ExposeSecret;
use serde::Deserialize;

/// A consumer as the list shows it.
pub struct ConsumerRow {
    href: String,
    key: String,
    name: String,
    methods: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "web/admin_list.html")]
struct ListPage {
    frame: Frame,
    consumers: Vec<ConsumerRow>,
    more: bool,
}

#[derive(Template)]
#[template(path = "web/admin_new.html")]
struct NewPage {
    frame: Frame,
    form_token: String,
}

#[derive(Template)]
#[template(path = "web/admin_confirm.html")]
struct ConfirmPage {
    frame: Frame,
    form_token: String,
    url: String,
    key: String,
    name: String,
    description: String,
    public_key: String,
}

#[derive(Template)]
#[template(path = "web/admin_created.html")]
struct CreatedPage {
    frame: Frame,
    href: String,
    key: String,
    name: String,
    generated_secret: Option<String>,
}

/// One live token as the consumer page shows it.
pub struct TokenRow {
    token_id: String,
    user_id: String,
    issued: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "web/admin_consumer.html")]
struct ConsumerPage {
    frame: Frame,
    form_token: String,
    key: String,
    name: String,
    description: String,
    callback_url: String,
    public_key: String,
    has_shared_secret: bool,
    methods: String,
    enabled: bool,
    ttl_seconds: String,
    idle_seconds: String,
    two_legged: bool,
    execute_as: String,
    impersonation: bool,
    tokens: Vec<TokenRow>,
}

/// The add form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewConsumerForm {
    key: String,
    name: String,
    description: String,
    callback_url: String,
    public_key: String,
    shared_secret: String,
    access_token_ttl_seconds: String,
    access_token_idle_seconds: String,
    form_token: String,
}

/// The edit form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UpdateForm {
    key: String,
    name: String,
    description: String,
    callback_url: String,
    public_key: String,
    access_token_ttl_seconds: String,
    access_token_idle_seconds: String,
    apply_to_issued_tokens: Option<String>,
    form_token: String,
}

/// The 2-legged OAuth form: an unchecked box is not sent, so absent means off.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TwoLeggedForm {
    key: String,
    allowed: Option<String>,
    execute_as: String,
    impersonation: Option<String>,
    form_token: String,
}

/// The add-by-URL form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FromUrlForm {
    url: String,
    form_token: String,
}

/// The enable/disable, delete and revoke buttons.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    key: String,
    enabled: String,
    token_id: String,
    form_token: String,
}

/// `?key=` of the consumer page.
#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    key: String,
}

/// The consumer page's URL; the key is query-encoded, so any printable key works.
fn consumer_href(key: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("key", key)
        .finish();
    format!("/web/admin/consumer?{query}")
}

/// Seconds from a form field: blank is `None`.
fn seconds(field: &'static str, text: &str) -> Result<Option<u64>, PageError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        AuthorityError::invalid(field, format!("{field}: a whole number of seconds")).into()
    })
}

fn methods_of(consumer: &ConsumerRecord) -> String {
    consumer
        .signature_methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An administrator's viewer, or why not.
async fn admin_viewer(pages: &Pages, headers: &HeaderMap) -> Result<Viewer, PageError> {
    let viewer = pages.sign_in.viewer(headers).await?;
    pages.sign_in.require_admin(&viewer)?;
    Ok(viewer)
}

/// An administrator's viewer whose form token is good.
async fn admin_post(
    pages: &Pages,
    headers: &HeaderMap,
    form_token: &str,
) -> Result<Viewer, PageError> {
    let viewer = admin_viewer(pages, headers).await?;
    let user = viewer.user_id.clone().unwrap_or_default();
    if !pages.forms.accepts(headers, &user, form_token) {
        return Err(PageError::FormRefused);
    }
    Ok(viewer)
}

/// `GET /web/admin`: every consumer (the first 500).
pub async fn list(State(pages): State<Pages>, headers: HeaderMap) -> Result<Response, PageError> {
    let viewer = admin_viewer(&pages, &headers).await?;
    let page = pages
        .authority
        .list_consumers(&Caller::OPERATOR, 500, "")
        .await?;
    let consumers = page
        .consumers
        .iter()
        .map(|c| ConsumerRow {
            href: consumer_href(&c.key),
            key: c.key.clone(),
            name: c.name.clone(),
            methods: methods_of(c),
            enabled: c.enabled,
        })
        .collect();
    html(&ListPage {
        frame: pages.frame(&viewer),
        consumers,
        more: page.next_page_token.is_some(),
    })
}

/// `GET /web/admin/new`.
pub async fn new_form(
    State(pages): State<Pages>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let viewer = admin_viewer(&pages, &headers).await?;
    let form_token = pages
        .forms
        .issue(&headers, viewer.user_id.as_deref().unwrap_or(""));
    let mut response = html(&NewPage {
        frame: pages.frame(&viewer),
        form_token: form_token.value.clone(),
    })?;
    csrf::set_cookie(response.headers_mut(), &form_token);
    Ok(response)
}

/// `POST /web/admin/new`: registers, then shows a generated secret once.
pub async fn register(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<NewConsumerForm>,
) -> Result<Response, PageError> {
    let viewer = admin_post(&pages, &headers, &form.form_token).await?;
    let draft = ConsumerDraft {
        key: form.key.trim().to_owned(),
        name: form.name,
        description: form.description,
        callback_url: Some(form.callback_url.trim().to_owned()).filter(|c| !c.is_empty()),
        public_key: Some(form.public_key).filter(|k| !k.trim().is_empty()),
        shared_secret: match form.shared_secret.as_str() {
            "generate" => SharedSecretChoice::Generate,
            _ => SharedSecretChoice::None,
        },
        signature_methods: Vec::new(),
        access_token_ttl_seconds: seconds(
            "access_token_ttl_seconds",
            &form.access_token_ttl_seconds,
        )?,
        access_token_idle_seconds: seconds(
            "access_token_idle_seconds",
            &form.access_token_idle_seconds,
        )?,
        two_legged: None,
    };
    let registered = pages
        .authority
        .register_consumer(&Caller::OPERATOR, draft)
        .await?;
    let consumer = registered.consumer;
    html(&CreatedPage {
        frame: pages.frame(&viewer),
        href: consumer_href(&consumer.key),
        key: consumer.key,
        name: consumer.name,
        generated_secret: registered
            .generated_secret
            .map(|secret| secret.expose_secret().to_owned()),
    })
}

/// `POST /web/admin/from-url`: fetches the application's consumer-info document and
/// shows what it says, to be confirmed (the confirmation posts to `/web/admin/new`).
pub async fn from_url(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<FromUrlForm>,
) -> Result<Response, PageError> {
    let viewer = admin_post(&pages, &headers, &form.form_token).await?;
    let info = pages.outbound.consumer_info(&form.url).await?;
    let form_token = pages
        .forms
        .issue(&headers, viewer.user_id.as_deref().unwrap_or(""));
    let mut response = html(&ConfirmPage {
        frame: pages.frame(&viewer),
        form_token: form_token.value.clone(),
        url: form.url,
        key: info.key,
        name: info.name,
        description: info.description,
        public_key: info.public_key_pem,
    })?;
    csrf::set_cookie(response.headers_mut(), &form_token);
    Ok(response)
}

/// `GET /web/admin/consumer?key=`: details, the edit form, and live tokens.
pub async fn show(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Query(query): Query<KeyQuery>,
) -> Result<Response, PageError> {
    let viewer = admin_viewer(&pages, &headers).await?;
    let consumer = pages
        .authority
        .get_consumer(&Caller::OPERATOR, &query.key)
        .await?;
    let tokens = pages
        .authority
        .list_consumer_tokens(&Caller::OPERATOR, &query.key)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            token_id: t.token_id.to_string(),
            user_id: t.user_id,
            issued: when(t.times.created_at),
            expires: when(t.times.expires_at),
            last_used: when(t.times.last_used_at),
        })
        .collect();
    let form_token = pages
        .forms
        .issue(&headers, viewer.user_id.as_deref().unwrap_or(""));
    let optional = |s: Option<i64>| s.map(|s| s.to_string()).unwrap_or_default();
    let mut response = html(&ConsumerPage {
        frame: pages.frame(&viewer),
        form_token: form_token.value.clone(),
        methods: methods_of(&consumer),
        has_shared_secret: consumer.shared_secret.is_some(),
        ttl_seconds: optional(consumer.access_token_ttl_seconds),
        idle_seconds: optional(consumer.access_token_idle_seconds),
        two_legged: consumer.two_legged.allowed,
        execute_as: consumer.two_legged.execute_as.unwrap_or_default(),
        impersonation: consumer.two_legged.impersonation,
        key: consumer.key,
        name: consumer.name,
        description: consumer.description,
        callback_url: consumer.callback_url.unwrap_or_default(),
        public_key: consumer.public_key_pem.unwrap_or_default(),
        enabled: consumer.enabled,
        tokens,
    })?;
    csrf::set_cookie(response.headers_mut(), &form_token);
    Ok(response)
}

/// `POST /web/admin/consumer/update`: details and token policy. Blank policy fields
/// mean the server's settings.
pub async fn update(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<UpdateForm>,
) -> Result<Response, PageError> {
    admin_post(&pages, &headers, &form.form_token).await?;
    let changes = ConsumerChanges {
        name: Some(form.name),
        description: Some(form.description),
        callback_url: Some(form.callback_url.trim().to_owned()),
        public_key: Some(form.public_key),
        shared_secret: None,
        signature_methods: None,
        access_token_ttl_seconds: Some(
            seconds("access_token_ttl_seconds", &form.access_token_ttl_seconds)?.unwrap_or(0),
        ),
        access_token_idle_seconds: Some(
            seconds("access_token_idle_seconds", &form.access_token_idle_seconds)?.unwrap_or(0),
        ),
        two_legged: None,
        apply_to_issued_tokens: form.apply_to_issued_tokens.is_some(),
    };
    pages
        .authority
        .update_consumer(&Caller::OPERATOR, &form.key, changes)
        .await?;
    Ok(Redirect::to(&consumer_href(&form.key)).into_response())
}

/// `POST /web/admin/consumer/two-legged`: the incoming link's 2-legged settings.
pub async fn set_two_legged(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<TwoLeggedForm>,
) -> Result<Response, PageError> {
    admin_post(&pages, &headers, &form.form_token).await?;
    let changes = ConsumerChanges {
        two_legged: Some(TwoLeggedPolicy {
            allowed: form.allowed.is_some(),
            execute_as: Some(form.execute_as),
            impersonation: form.impersonation.is_some(),
        }),
        ..ConsumerChanges::default()
    };
    pages
        .authority
        .update_consumer(&Caller::OPERATOR, &form.key, changes)
        .await?;
    Ok(Redirect::to(&consumer_href(&form.key)).into_response())
}

/// `POST /web/admin/consumer/enabled`.
pub async fn set_enabled(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    admin_post(&pages, &headers, &form.form_token).await?;
    pages
        .authority
        .set_consumer_enabled(&Caller::OPERATOR, &form.key, form.enabled == "true")
        .await?;
    Ok(Redirect::to(&consumer_href(&form.key)).into_response())
}

/// `POST /web/admin/consumer/delete`: the consumer and all its tokens.
pub async fn delete(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    admin_post(&pages, &headers, &form.form_token).await?;
    pages
        .authority
        .delete_consumer(&Caller::OPERATOR, &form.key)
        .await?;
    Ok(Redirect::to(ADMIN_PATH).into_response())
}

/// `POST /web/admin/consumer/revoke`: one token, or all of the consumer's when no
/// token id is given.
pub async fn revoke(
    State(pages): State<Pages>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    admin_post(&pages, &headers, &form.form_token).await?;
    let target = if form.token_id.is_empty() {
        RevokeTarget::Consumer(form.key.clone())
    } else {
        RevokeTarget::Token(
            uuid::Uuid::parse_str(&form.token_id)
                .map_err(|_| AuthorityError::invalid("token_id", "not a token id"))?,
        )
    };
    pages
        .authority
        .revoke(&Caller::OPERATOR, RevokeActor::Admin, &target)
        .await?;
    Ok(Redirect::to(&consumer_href(&form.key)).into_response())
}
