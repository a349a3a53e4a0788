//! What every page shares: the frame around it, the headers that keep it safe, and the
//! one mapping from a failure to an HTML error page.
//!
//! Every page is sent with `Content-Security-Policy` (no scripts at all, no framing,
//! forms posting only to this origin unless a page says otherwise),
//! `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` (the consent URL carries a
//! request token) and `Cache-Control: no-store` (pages carry form tokens, grants and,
//! once, a shared secret). Templates are askama's, which escape every value in HTML.

use askama::Template;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::error::{AuthorityError, Problem};

/// The policy of every page but the consent page, which adds its callback's origin to
/// `form-action` because a browser applies it to the redirect that follows a post.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Lets the page's form post lead to `destination`'s origin: browsers apply
/// `form-action` to the redirect that follows a post too, so a consent page adds the
/// origin the decision sends the browser to.
pub fn allow_form_action(response: &mut Response, destination: &url::Url) {
    let origin = destination.origin().ascii_serialization();
    let policy = CONTENT_SECURITY_POLICY_VALUE.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(CONTENT_SECURITY_POLICY, value);
    }
}

/// The parts of the frame around every page.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// Set in development mode: the banner names the user everyone is signed in as.
    pub development_user: Option<String>,
    /// The signed-in user, shown in the header.
    pub user: Option<String>,
    /// Whether to link the administration pages.
    pub admin_link: bool,
    /// Whether to link "My authorizations".
    pub authorizations_link: bool,
}

/// Why a page could not be shown; the one mapping to a response is [`IntoResponse`].
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The proxy named no user.
    #[error("no signed-in user")]
    NotSignedIn,
    /// No way of signing in is configured.
    #[error("no sign-in is configured")]
    SignInNotConfigured,
    /// An administration page, and the viewer is no administrator.
    #[error("not an administrator")]
    NotAdmin,
    /// A form came without a good form token.
    #[error("the form token is missing or wrong")]
    FormRefused,
    /// The core refused or failed.
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    /// A template did not render.
    #[error("rendering: {0}")]
    Render(#[from] askama::Error),
}

/// The error page.
#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage<'a> {
    frame: Frame,
    title: &'a str,
    message: String,
}

impl PageError {
    fn status_title_message(&self) -> (StatusCode, &'static str, String) {
        match self {
            PageError::NotSignedIn => (
                StatusCode::UNAUTHORIZED,
                "Not signed in",
                "This page needs a signed-in user, and the request carried none. Sign in \
                 through your organisation's login and try again."
                    .into(),
            ),
            PageError::SignInNotConfigured => (
                StatusCode::FORBIDDEN,
                "Sign-in is not configured",
                "This Latchkey does not know who you are: an operator sets web.user_header \
                 to the header the authenticating proxy fills in."
                    .into(),
            ),
            PageError::NotAdmin => (
                StatusCode::UNAUTHORIZED,
                "Administrators only",
                "OAuth administration needs membership of the administrators' group or \
                 the admin credential."
                    .into(),
            ),
            PageError::FormRefused => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "The form was not sent from this site's own page, or the page is too old. \
                 Go back, reload the page and try again."
                    .into(),
            ),
            PageError::Authority(error) => authority_page(error),
            PageError::Render(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be shown.".into(),
            ),
        }
    }
}

/// Pages for the core's refusals, in words a person reads.
fn authority_page(error: &AuthorityError) -> (StatusCode, &'static str, String) {
    match error.problem() {
        Some(Problem::TokenRejected) => (
            StatusCode::NOT_FOUND,
            "Unknown request",
            "This authorization request is not known here. Start again from the \
             application that sent you."
                .into(),
        ),
        Some(Problem::TokenExpired) => (
            StatusCode::GONE,
            "This request has expired",
            "The application took too long, or you did. Start again from the application \
             that sent you."
                .into(),
        ),
        Some(Problem::TokenUsed) => (
            StatusCode::CONFLICT,
            "Already answered",
            "This authorization request has been answered already.".into(),
        ),
        Some(problem) if problem.is_bad_request() && matches!(error, AuthorityError::OAuth(_)) => (
            StatusCode::BAD_REQUEST,
            "Incomplete link",
            "This link does not carry a request to authorize. Start again from the \
             application that sent you."
                .into(),
        ),
        Some(Problem::ConsumerKeyRejected) => (
            StatusCode::FORBIDDEN,
            "Application disabled",
            "This application has been disabled by an administrator.".into(),
        ),
        _ => match error {
            AuthorityError::InvalidArgument { detail, .. } => (
                StatusCode::BAD_REQUEST,
                "Please check the form",
                detail.clone(),
            ),
            AuthorityError::AlreadyExists { detail } => {
                (StatusCode::CONFLICT, "Already exists", detail.clone())
            }
            AuthorityError::NotFound { detail, .. } => {
                (StatusCode::NOT_FOUND, "Not found", detail.clone())
            }
            AuthorityError::PermissionDenied { .. } => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "You may not do that.".into(),
            ),
            AuthorityError::Unavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "The database is unavailable.".into(),
            ),
            AuthorityError::Upstream { detail } => (
                StatusCode::BAD_GATEWAY,
                "The other application did not answer",
                detail.clone(),
            ),
            AuthorityError::Saturated { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "Too many sign-in checks are running.".into(),
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be shown.".into(),
            ),
        },
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, mut message) = self.status_title_message();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let reference = uuid::Uuid::new_v4();
            tracing::error!(%reference, error = %self, "web page failed");
            message = format!("{message} Reference {reference}.");
        } else {
            tracing::info!(status = status.as_u16(), error = %self, "web page refused");
        }
        let page = ErrorPage {
            frame: Frame::default(),
            title,
            message,
        };
        let mut response = match page.render() {
            Ok(html) => (status, html_headers(), html).into_response(),
            Err(_) => (status, title).into_response(),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response = crate::http::response::retry_shortly(response);
        }
        if matches!(self, PageError::NotAdmin) {
            // Lets a browser ask for the admin credential with its own prompt.
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Basic realm=\"Latchkey administration\", charset=\"UTF-8\"",
                ),
            );
        }
        response
    }
}

/// A rendered template with the page headers.
pub fn html(template: &impl Template) -> Result<Response, PageError> {
    Ok((html_headers(), template.render()?).into_response())
}

fn html_headers() -> [(axum::http::HeaderName, HeaderValue); 1] {
    [(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    )]
}

/// Adds the safety headers to every page; a page that set its own policy keeps it.
pub async fn safety_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
        );
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
