//! Who is signed in, read from each request: Latchkey keeps no sessions of its own.
//!
//! The user comes from the trusted header the authenticating proxy sets, or is the
//! development user. An administrator is a member of the configured admin group, the
//! holder of the admin credential (HTTP Basic password or `Authorization: Bearer`), or
//! anyone in development mode. Nothing here decides what a user may do with a token:
//! the core does, given the user id.

use super::page::PageError;
use super::settings::WebConfig;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::credentials::{CallerCredentials, Role};
use std::sync::Arc;

/// How this server knows who is signed in.
#[derive(Debug, Clone)]
pub struct SignIn {
    user_header: Option<axum::http::HeaderName>,
    groups_header: Option<axum::http::HeaderName>,
    admin_group: Option<String>,
    development_user: Option<String>,
    credentials: Arc<CallerCredentials>,
}

/// The person behind one request.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The signed-in user, if any.
    pub user_id: Option<String>,
    /// May use the administration pages.
    pub is_admin: bool,
}

impl SignIn {
    /// From validated settings; a header name that does not parse counts as unset
    /// (validation has refused it already).
    pub fn new(config: &WebConfig, credentials: Arc<CallerCredentials>) -> Self {
        let header = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| axum::http::HeaderName::from_bytes(n.as_bytes()).ok())
        };
        Self {
            user_header: header(&config.user_header),
            groups_header: header(&config.groups_header),
            admin_group: config.admin_group.clone(),
            development_user: config.development_user.clone(),
            credentials,
        }
    }

    /// Whether everyone is signed in as the development user.
    pub fn is_development(&self) -> bool {
        self.development_user.is_some()
    }

    /// Who sent `headers`; the pages decide what an anonymous viewer gets. Fails only
    /// when a chosen admin credential must be checked and the argon2 pool is full.
    pub async fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, PageError> {
        if let Some(user) = &self.development_user {
            return Ok(Viewer {
                user_id: Some(user.clone()),
                is_admin: true,
            });
        }
        let user_id = self
            .user_header
            .as_ref()
            .and_then(|name| headers.get(name))
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|user| !user.is_empty())
            .map(str::to_owned);
        let in_admin_group = user_id.is_some()
            && match (&self.groups_header, &self.admin_group) {
                (Some(name), Some(group)) => headers
                    .get_all(name)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .flat_map(|value| value.split(','))
                    .any(|member_of| member_of.trim() == group),
                _ => false,
            };
        let is_admin = in_admin_group || self.holds_admin_credential(headers).await?;
        Ok(Viewer { user_id, is_admin })
    }

    /// The user a user page acts for, or why there is none.
    pub fn require_user(&self, viewer: &Viewer) -> Result<String, PageError> {
        match &viewer.user_id {
            Some(user) => Ok(user.clone()),
            None if self.user_header.is_none() => Err(PageError::SignInNotConfigured),
            None => Err(PageError::NotSignedIn),
        }
    }

    /// Passes administrators; asks anyone else for the admin credential.
    pub fn require_admin(&self, viewer: &Viewer) -> Result<(), PageError> {
        if viewer.is_admin {
            Ok(())
        } else {
            Err(PageError::NotAdmin)
        }
    }

    async fn holds_admin_credential(&self, headers: &HeaderMap) -> Result<bool, PageError> {
        let Some(presented) = presented_credential(headers) else {
            return Ok(false);
        };
        let roles = self
            .credentials
            .identify(&presented)
            .await
            .map_err(latchkey_core::AuthorityError::from)?;
        Ok(roles.contains(Role::Admin))
    }
}

/// The credential in `Authorization`: a bearer token, or the password of HTTP Basic
/// (the user name is ignored), which is what a browser's own prompt sends.
fn presented_credential(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
        let (_, password) = decoded.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_credential_comes_from_bearer_or_the_basic_password() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(presented_credential(&headers).unwrap(), "abc");
        let basic = format!("Basic {}", STANDARD.encode("anyone:s3cret:with:colons"));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&basic).unwrap());
        assert_eq!(
            presented_credential(&headers).unwrap(),
            "s3cret:with:colons"
        );
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Digest x"));
        assert!(presented_credential(&headers).is_none());
    }
}
