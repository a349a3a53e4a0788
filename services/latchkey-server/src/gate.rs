//! The one credential gate. Every listener that accepts Latchkey's own credentials
//! (gRPC metadata, OAuth 2.0 introspection by a resource server, the web pages) turns
//! what a caller presents into a [`Caller`] here, so the rules are written once:
//! how the `Authorization` header is read, that a wrong or missing credential makes an
//! anonymous caller rather than an error, and that a chosen (argon2) credential is
//! checked on the process's bounded pool, remembered once it matched.
//!
//! The gate is built from the configuration before any listener binds
//! ([`crate::startup::Application::build`]), and each listener holds it from then on.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::AuthorityError;
use latchkey_core::authority::Caller;
use latchkey_core::credentials::CallerCredentials;

/// Which `Authorization` schemes a listener reads a credential from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schemes {
    /// `Bearer <credential>` only: gRPC and introspection (whose Basic credentials
    /// belong to the OAuth 2.0 client, not to Latchkey's callers).
    Bearer,
    /// `Bearer <credential>`, or the password of HTTP Basic with any user name, which
    /// is what a browser's own prompt sends: the web pages.
    BearerOrBasicPassword,
}

/// Turns presented credentials into callers.
#[derive(Debug)]
pub struct CredentialGate {
    credentials: CallerCredentials,
}

impl CredentialGate {
    /// The gate for the configured credentials.
    pub fn new(credentials: CallerCredentials) -> Self {
        Self { credentials }
    }

    /// Who presents this `Authorization` value: the roles its credential holds, or an
    /// anonymous caller when there is none, it is unreadable or it matches nothing.
    /// Refused only when a chosen credential must be checked and the argon2 pool is
    /// saturated ([`AuthorityError::Saturated`]).
    pub async fn caller(
        &self,
        authorization: Option<&str>,
        schemes: Schemes,
    ) -> Result<Caller, AuthorityError> {
        match authorization.and_then(|value| presented(value, schemes)) {
            Some(credential) => self.identify(&credential).await,
            None => Ok(Caller::ANONYMOUS),
        }
    }

    /// Who presents `credential` itself (already taken out of its header).
    pub async fn identify(&self, credential: &str) -> Result<Caller, AuthorityError> {
        let roles = self.credentials.identify(credential).await?;
        Ok(Caller { roles })
    }
}

/// The bearer credential of an `Authorization` value (the scheme is case-insensitive,
/// RFC 9110 section 11.1).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
}

fn presented(authorization: &str, schemes: Schemes) -> Option<String> {
    if let Some(credential) = bearer(authorization) {
        return Some(credential.to_owned());
    }
    if schemes != Schemes::BearerOrBasicPassword {
        return None;
    }
    let (scheme, rest) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (_, password) = decoded.split_once(':')?;
    Some(password.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use latchkey_core::argon2_pool::Argon2Pool;
    use latchkey_core::credentials::{Role, digest_credential};
    use std::sync::Arc;

    fn gate() -> CredentialGate {
        let credentials = CallerCredentials::new(
            Some(&digest_credential("admin-secret")),
            None,
            Some(&digest_credential("service-secret")),
            Arc::new(Argon2Pool::new()),
        );
        CredentialGate::new(credentials.unwrap())
    }

    #[test]
    fn the_credential_comes_from_bearer_or_where_allowed_the_basic_password() {
        let both = Schemes::BearerOrBasicPassword;
        assert_eq!(presented("Bearer abc", both).unwrap(), "abc");
        assert_eq!(presented("bearer  abc ", Schemes::Bearer).unwrap(), "abc");
        let basic = format!("Basic {}", STANDARD.encode("anyone:s3cret:with:colons"));
        assert_eq!(presented(&basic, both).unwrap(), "s3cret:with:colons");
        assert!(presented(&basic, Schemes::Bearer).is_none());
        assert!(presented("Digest x", both).is_none());
        assert!(presented("Basic !!!", both).is_none());
    }

    #[tokio::test]
    async fn a_wrong_missing_or_unreadable_credential_makes_an_anonymous_caller() {
        let gate = gate();
        let admin = gate
            .caller(Some("Bearer admin-secret"), Schemes::Bearer)
            .await
            .unwrap();
        assert!(admin.roles.contains(Role::Admin));
        assert!(!admin.roles.contains(Role::Service));
        for presented in [None, Some("Bearer wrong"), Some("Token admin-secret")] {
            let caller = gate.caller(presented, Schemes::Bearer).await.unwrap();
            assert_eq!(caller, Caller::ANONYMOUS, "{presented:?}");
        }
        let service = gate.identify("service-secret").await.unwrap();
        assert!(service.roles.contains(Role::Service));
    }
}
