//! The web face: server-rendered pages on the HTTP listener, so that a team can run
//! the whole dance in a browser on day one and an operator can manage consumers
//! without a gRPC client. Each page can be switched off in `[web]` for a team that
//! brings its own frontend.
//!
//! - [`consent_oauth1`]: the consent page on Jira's authorize path, and the verification code
//!   page for `oob` consumers.
//! - [`consent_oauth2`]: the OAuth 2.0 consent page on `/oauth2/authorize`.
//! - [`grants`]: "My authorizations", the signed-in user's live grants.
//! - [`admin`]: OAuth administration: consumers, their token policy and tokens.
//! - [`session`]: who is signed in (a trusted proxy header, or development mode).
//! - [`csrf`]: the form token every form carries.
//! - [`page`]: the safety headers and the one mapping from failures to error pages.
//!
//! The pages are another frontend of the core, running in-process: they call the same
//! [`Authority`] methods a web frontend calls over gRPC, with the frontend role for a
//! user's pages and the admin role once [`session`] has established an administrator.
//! No OAuth rule lives here.

mod admin;
mod consent_oauth1;
mod consent_oauth2;
pub mod csrf;
mod grants;
pub mod page;
pub mod session;
pub mod settings;

pub use settings::WebConfig;

use crate::gate::CredentialGate;
use crate::outbound::Outbound;
use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use csrf::FormGuard;
use latchkey_core::authority::UserDecision;
use latchkey_core::authority::{Authority, Caller};
use latchkey_core::credentials::{Role, Roles};
use latchkey_core::error::AuthorityError;
use page::{Frame, PageError};
use session::{SignIn, Viewer};
use std::sync::Arc;

/// "My authorizations".
pub const AUTHORIZATIONS_PATH: &str = "/web/authorizations";
/// Jira's own path to a user's OAuth access tokens, which Jira users know and have
/// bookmarked: it sends them on to "My authorizations".
pub const JIRA_AUTHORIZATIONS_PATH: &str = "/plugins/servlet/oauth/users/access-tokens";
/// From [`JIRA_AUTHORIZATIONS_PATH`] to [`AUTHORIZATIONS_PATH`], relative, so that it
/// lands under any path prefix an ingress strips (`public_base_url` with a path).
const FROM_JIRA_TO_AUTHORIZATIONS: &str = "../../../../web/authorizations";
/// The list of consumers, the entry to OAuth administration.
pub const ADMIN_PATH: &str = "/web/admin";
const STYLESHEET_PATH: &str = "/web/static/latchkey.css";

/// What every page handler needs.
#[derive(Clone)]
struct Pages {
    authority: Arc<Authority>,
    sign_in: SignIn,
    forms: FormGuard,
    /// For adding a consumer by URL.
    outbound: Outbound,
    authorizations_page: bool,
    admin_pages: bool,
}

impl Pages {
    /// The frame for `viewer`: the banner in development mode, and links to the
    /// pages this viewer may open.
    fn frame(&self, viewer: &Viewer) -> Frame {
        Frame {
            development_user: self
                .sign_in
                .is_development()
                .then(|| viewer.user_id.clone())
                .flatten(),
            user: viewer.user_id.clone(),
            admin_link: self.admin_pages && viewer.is_admin,
            authorizations_link: self.authorizations_page && viewer.user_id.is_some(),
        }
    }
}

impl Pages {
    /// The signed-in user posting a form, and their user id, if the form token is good.
    async fn user_post(
        &self,
        headers: &HeaderMap,
        form_token: &str,
    ) -> Result<(Viewer, String), PageError> {
        let viewer = self.sign_in.viewer(headers).await?;
        let user = self.sign_in.require_user(&viewer)?;
        if !self.forms.accepts(headers, &user, form_token) {
            return Err(PageError::FormRefused);
        }
        Ok((viewer, user))
    }
}

/// The consent pages' Allow and Deny buttons.
fn user_decision(decision: &str) -> Result<UserDecision, PageError> {
    match decision {
        "allow" => Ok(UserDecision::Approve),
        "deny" => Ok(UserDecision::Deny),
        _ => Err(AuthorityError::invalid("decision", "choose Allow or Deny").into()),
    }
}

/// The caller a user's pages act as: the frontend, which asserts the user.
fn as_frontend() -> Caller {
    Caller {
        roles: Roles::NONE.with(Role::Frontend),
    }
}

/// The configured pages, ready to be routed.
#[derive(Clone)]
pub struct WebPages {
    pages: Pages,
    consent_page: bool,
}

impl WebPages {
    /// Pages over `authority`. Logs a warning when development mode is on.
    pub fn new(
        config: &WebConfig,
        authority: Arc<Authority>,
        gate: Arc<CredentialGate>,
        outbound: Outbound,
        public_base_url: &str,
    ) -> Self {
        if let Some(user) = &config.development_user {
            tracing::warn!(
                user = %user,
                "DEVELOPMENT MODE: every web request is signed in as this user, with \
                 administration rights. Never run this in front of real users."
            );
        }
        let forms = FormGuard::new(
            authority.derived_key("web form tokens"),
            public_base_url.starts_with("https:"),
        );
        Self {
            pages: Pages {
                authority,
                sign_in: SignIn::new(config, gate),
                forms,
                outbound,
                authorizations_page: config.authorizations_page,
                admin_pages: config.admin_pages,
            },
            consent_page: config.consent_page,
        }
    }

    /// Whether the built-in consent page is on.
    pub fn serves_consent(&self) -> bool {
        self.consent_page
    }

    /// The OAuth 1.0a consent page on each of `oauth1_paths` (Jira's authorize path
    /// and its alias) and the OAuth 2.0 one on `oauth2_path`.
    pub fn consent_routes(&self, oauth1_paths: &[&'static str], oauth2_path: &str) -> Router {
        let mut router = Router::new().route(
            oauth2_path,
            get(consent_oauth2::show).post(consent_oauth2::decide),
        );
        for path in oauth1_paths {
            router = router.route(path, get(consent_oauth1::show).post(consent_oauth1::decide));
        }
        self.finish(router)
    }

    /// Every other page that is switched on.
    pub fn routes(&self) -> Router {
        let mut router = Router::new()
            .route("/web", get(|| async { Redirect::to(AUTHORIZATIONS_PATH) }))
            .route(STYLESHEET_PATH, get(stylesheet));
        if self.pages.authorizations_page {
            router = router
                .route(AUTHORIZATIONS_PATH, get(grants::show))
                .route(
                    JIRA_AUTHORIZATIONS_PATH,
                    get(|| async { Redirect::to(FROM_JIRA_TO_AUTHORIZATIONS) }),
                )
                .route("/web/authorizations/revoke", post(grants::revoke));
        }
        if self.pages.admin_pages {
            router = router
                .route(ADMIN_PATH, get(admin::list))
                .route("/web/admin/new", get(admin::new_form).post(admin::register))
                .route("/web/admin/from-url", post(admin::from_url))
                .route("/web/admin/consumer", get(admin::show))
                .route("/web/admin/consumer/update", post(admin::update))
                .route(
                    "/web/admin/consumer/two-legged",
                    post(admin::set_two_legged),
                )
                .route("/web/admin/consumer/enabled", post(admin::set_enabled))
                .route("/web/admin/consumer/delete", post(admin::delete))
                .route("/web/admin/consumer/revoke", post(admin::revoke));
        }
        self.finish(router)
    }

    fn finish(&self, router: Router<Pages>) -> Router {
        router
            .with_state(self.pages.clone())
            .layer(axum::middleware::map_response(page::safety_headers))
    }
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/web/latchkey.css"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jiras_path_leads_to_my_authorizations_under_any_prefix() {
        for prefix in ["", "/auth", "/a/b"] {
            let jira = url::Url::parse(&format!("https://h{prefix}{JIRA_AUTHORIZATIONS_PATH}"));
            let landed = jira.unwrap().join(FROM_JIRA_TO_AUTHORIZATIONS).unwrap();
            assert_eq!(landed.path(), format!("{prefix}{AUTHORIZATIONS_PATH}"));
        }
    }
}
