//! The policy the authority enforces: what both protocols share, and each protocol's
//! own lifetimes and limits ([`crate::oauth1::policy`], [`crate::oauth2::policy`]).

use crate::oauth1::policy::OAuth1Policy;
use crate::oauth2::policy::OAuth2Policy;

/// Everything the authority is configured with.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Base of the URLs handed to consumers and clients, e.g. `https://auth.example.com`.
    pub public_base_url: String,
    /// Whether ValidateAccess demands the service credential.
    pub require_service_credential: bool,
    /// OAuth 1.0a lifetimes and limits.
    pub oauth1: OAuth1Policy,
    /// OAuth 2.0 lifetimes and switches.
    pub oauth2: OAuth2Policy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            public_base_url: "http://localhost:8080".into(),
            require_service_credential: false,
            oauth1: OAuth1Policy::default(),
            oauth2: OAuth2Policy::default(),
        }
    }
}
