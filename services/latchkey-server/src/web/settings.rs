//! The `[web]` section: which pages are served and how the signed-in user is known.
//!
//! It lives beside the pages it switches, not in `config.rs`, so that the pages can be
//! read (and removed) as one piece; `Config` only holds it.
//!
//! Latchkey owns no user accounts. In production the authenticating proxy in front of
//! it names the user in `user_header` (and the user's groups in `groups_header`); a
//! request without that header is refused. `development_user` instead signs everyone
//! in as one user who is also an administrator: it is off unless set, every page shows
//! a banner while it is on, start-up logs a warning, and the server refuses to start
//! with it where it looks deployed (an https `public_base_url`, or Postgres).

use serde::{Deserialize, Serialize};

/// The web pages on the HTTP listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the consent page on the authorize path when `http.consent_page_url` is
    /// unset. Off: `/authorize` answers 404 saying no consent page is configured.
    pub consent_page: bool,
    /// Serve "My authorizations" at `/web/authorizations`.
    pub authorizations_page: bool,
    /// Serve the OAuth administration at `/web/admin`.
    pub admin_pages: bool,
    /// The header in which the authenticating proxy names the signed-in user, e.g.
    /// `X-Forwarded-User`. The proxy must strip it from what clients send.
    pub user_header: Option<String>,
    /// The header in which the proxy lists the user's groups, comma-separated.
    pub groups_header: Option<String>,
    /// Members of this group (in `groups_header`) may use the administration pages.
    /// Without it, only the admin credential opens them (as HTTP Basic password or
    /// `Authorization: Bearer`).
    pub admin_group: Option<String>,
    /// DEVELOPMENT ONLY: sign every request in as this user, an administrator too.
    pub development_user: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            consent_page: true,
            authorizations_page: true,
            admin_pages: true,
            user_header: None,
            groups_header: None,
            admin_group: None,
            development_user: None,
        }
    }
}

impl WebConfig {
    /// Checks that the header names are header names and that the sign-in modes do not
    /// contradict each other; the message names the offending setting.
    pub fn validate(&self) -> Result<(), String> {
        for (setting, header) in [
            ("web.user_header", &self.user_header),
            ("web.groups_header", &self.groups_header),
        ] {
            if let Some(name) = header {
                axum::http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("{setting}: {name:?} is not an HTTP header name"))?;
            }
        }
        if self.user_header.is_some() && self.development_user.is_some() {
            return Err(
                "web.development_user signs everyone in; it cannot be combined with web.user_header"
                    .into(),
            );
        }
        if self.admin_group.is_some() && self.groups_header.is_none() {
            return Err("web.admin_group needs web.groups_header to read groups from".into());
        }
        if self
            .development_user
            .as_deref()
            .is_some_and(|user| user.trim().is_empty())
        {
            return Err("web.development_user may not be blank".into());
        }
        Ok(())
    }

    /// Refuses `development_user` on a server that looks deployed: one that users
    /// reach over https, or that keeps its data in Postgres (a shared database, so a
    /// fleet). There it would make every visitor an administrator.
    pub fn validate_development_user(
        &self,
        public_base_url: &url::Url,
        sqlite: bool,
    ) -> Result<(), String> {
        if self.development_user.is_none() {
            return Ok(());
        }
        let deployed = if public_base_url.scheme() == "https" {
            "an https public_base_url"
        } else if !sqlite {
            "a Postgres database"
        } else {
            return Ok(());
        };
        Err(format!(
            "web.development_user signs every visitor in as an administrator, for trying \
             Latchkey on one machine only, and this server has {deployed}: unset \
             web.development_user and name users through web.user_header from an \
             authenticating proxy"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_on_and_nobody_is_signed_in_by_default() {
        let config = WebConfig::default();
        assert!(config.consent_page && config.authorizations_page && config.admin_pages);
        assert!(config.user_header.is_none() && config.development_user.is_none());
        config.validate().unwrap();
    }

    #[test]
    fn contradictory_or_malformed_sign_in_settings_are_refused() {
        let both = WebConfig {
            user_header: Some("X-Forwarded-User".into()),
            development_user: Some("dev".into()),
            ..WebConfig::default()
        };
        assert!(both.validate().is_err());
        let bad_header = WebConfig {
            user_header: Some("X Forwarded User".into()),
            ..WebConfig::default()
        };
        assert!(
            bad_header
                .validate()
                .unwrap_err()
                .contains("web.user_header")
        );
        let group_without_header = WebConfig {
            admin_group: Some("admins".into()),
            ..WebConfig::default()
        };
        assert!(group_without_header.validate().is_err());
    }
}
