//! OAuth 2.0 lifetimes, as configured in `[oauth2]`, and a client's own overrides.
//!
//! - A code lives `code_ttl` (default 1 minute, at most 10: RFC 6749 section 4.1.2).
//! - An access token lives the client's lifetime, else `access_token_ttl` (1 hour).
//! - A refresh token ends after `refresh_token_idle` without use (90 days): each
//!   rotation issues a new one that lives that long again, but never past its grant's
//!   absolute end, `refresh_token_max` after the code was redeemed (365 days).

use super::records::OAuth2ClientRecord;
use crate::bounds::{A_CENTURY, PolicyError, check_lifetime};
use chrono::Duration;

/// The longest a code may live.
pub const MAX_CODE_TTL: Duration = Duration::minutes(10);

/// OAuth 2.0 lifetimes and switches.
#[derive(Debug, Clone)]
pub struct OAuth2Policy {
    /// How long an authorization code lives.
    pub code_ttl: Duration,
    /// Access-token lifetime for clients without their own.
    pub access_token_ttl: Duration,
    /// A refresh token unused this long ends.
    pub refresh_token_idle: Duration,
    /// No refresh token outlives its grant's start plus this.
    pub refresh_token_max: Duration,
    /// Whether PKCE `plain` is accepted (it is not by default).
    pub allow_plain_pkce: bool,
}

impl Default for OAuth2Policy {
    fn default() -> Self {
        Self {
            code_ttl: Duration::minutes(1),
            access_token_ttl: Duration::hours(1),
            refresh_token_idle: Duration::days(90),
            refresh_token_max: Duration::days(365),
            allow_plain_pkce: false,
        }
    }
}

impl OAuth2Policy {
    /// Refuses values outside their bounds: a code lives at most [`MAX_CODE_TTL`];
    /// other lifetimes are above 0 and at most [`crate::bounds::LONGEST_LIFETIME`], and a refresh
    /// token's idle timeout at most its absolute lifetime.
    pub fn check(&self) -> Result<(), PolicyError> {
        let s = "oauth2";
        check_lifetime(s, "code_ttl", self.code_ttl, ("10 minutes", MAX_CODE_TTL))?;
        check_lifetime(s, "access_token_ttl", self.access_token_ttl, A_CENTURY)?;
        check_lifetime(s, "refresh_token_max", self.refresh_token_max, A_CENTURY)?;
        let most = ("refresh_token_max", self.refresh_token_max);
        check_lifetime(s, "refresh_token_idle", self.refresh_token_idle, most)
    }

    /// The access-token lifetime for `client`.
    pub fn access_token_ttl_for(&self, client: &OAuth2ClientRecord) -> Duration {
        client
            .access_token_ttl_seconds
            .map(Duration::seconds)
            .unwrap_or(self.access_token_ttl)
    }

    /// The refresh-token idle timeout for `client`.
    pub fn refresh_idle_for(&self, client: &OAuth2ClientRecord) -> Duration {
        client
            .refresh_token_idle_seconds
            .map(Duration::seconds)
            .unwrap_or(self.refresh_token_idle)
    }

    /// The absolute refresh-token lifetime for `client`.
    pub fn refresh_max_for(&self, client: &OAuth2ClientRecord) -> Duration {
        client
            .refresh_token_max_seconds
            .map(Duration::seconds)
            .unwrap_or(self.refresh_token_max)
    }
}
