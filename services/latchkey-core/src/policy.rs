//! The policy the authority enforces: what both protocols share, and each protocol's
//! own lifetimes and limits ([`crate::oauth1::policy`], [`crate::oauth2::policy`]).
//!
//! Every default and every bound is defined here, once: the server's configuration
//! starts from these defaults and asks [`Policy::check`] whether a value is allowed
//! (the bounds both protocols share are in [`crate::bounds`]).

use crate::bounds::PolicyError;
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

impl Policy {
    /// Refuses values outside the bounds each protocol sets.
    pub fn check(&self) -> Result<(), PolicyError> {
        self.oauth1.check()?;
        self.oauth2.check()
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sweep::SweepSettings;
    use chrono::Duration;

    #[test]
    fn the_defaults_are_within_their_own_bounds() {
        assert_eq!(Policy::default().check(), Ok(()));
        assert_eq!(SweepSettings::default().check(), Ok(()));
    }

    #[test]
    fn a_value_out_of_bounds_is_refused_naming_its_field() {
        let mut policy = Policy::default();
        policy.oauth1.default_access_token_ttl =
            policy.oauth1.max_access_token_ttl + Duration::seconds(1);
        let error = policy.check().unwrap_err();
        assert_eq!(
            (error.section, error.field),
            ("oauth1", "default_access_token_ttl")
        );
        assert!(error.is_duration);

        let mut policy = Policy::default();
        policy.oauth2.code_ttl = Duration::minutes(11);
        assert_eq!(policy.check().unwrap_err().field, "code_ttl");

        let mut policy = Policy::default();
        policy.oauth1.max_verifier_failures = 0;
        let error = policy.check().unwrap_err();
        assert_eq!(error.field, "max_verifier_failures");
        assert!(!error.is_duration);

        let sweep = SweepSettings {
            batch_size: 0,
            ..SweepSettings::default()
        };
        assert_eq!(sweep.check().unwrap_err().field, "batch_size");
    }
}
