//! Who is signed in, read from each request: Latchkey keeps no sessions of its own.
//!
//! The user comes from the trusted header the authenticating proxy sets, or is the
//! development user. An administrator is a member of the configured admin group, the
//! holder of the admin credential (HTTP Basic password or `Authorization: Bearer`), or
//! anyone in development mode. Nothing here decides what a user may do with a token:
//! the core does, given the user id.

use super::page::PageError;
use super::settings::WebConfig;
use crate::gate::{CredentialGate, Schemes};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use latchkey_core::credentials::Role;
use std::sync::Arc;

/// How this server knows who is signed in.
#[derive(Debug, Clone)]
pub struct SignIn {
    user_header: Option<axum::http::HeaderName>,
    groups_header: Option<axum::http::HeaderName>,
    admin_group: Option<String>,
    development_user: Option<String>,
    gate: Arc<CredentialGate>,
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
    pub fn new(config: &WebConfig, gate: Arc<CredentialGate>) -> Self {
        let header = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| axum::http::HeaderName::from_bytes(n.as_bytes()).ok())
        };
        Self {
            user_header: header(&config.user_header),
            groups_header: header(&config.groups_header),
            admin_group: config.admin_group.clone(),
            development_user: config.development_user.clone(),
            gate,
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
        let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let caller = self
            .gate
            .caller(authorization, Schemes::BearerOrBasicPassword)
            .await?;
        Ok(caller.roles.contains(Role::Admin))
    }
}
