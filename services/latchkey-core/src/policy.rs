//! The lifetimes and limits the authority enforces, as configured.

use chrono::Duration;

/// Token lifetimes and protocol limits.
#[derive(Debug, Clone)]
pub struct Policy {
    /// How long a request token lives, whatever its state (Jira: 10 minutes).
    pub request_token_ttl: Duration,
    /// Access-token lifetime for consumers without their own (Atlassian: 7 days).
    pub default_access_token_ttl: Duration,
    /// No consumer's access tokens may live longer (Jira application links: 5 years).
    pub max_access_token_ttl: Duration,
    /// How far `oauth_timestamp` may stray from now, either way.
    pub timestamp_window: Duration,
    /// Wrong verifiers a request token survives before it dies.
    pub max_verifier_failures: u32,
    /// Base of the authorize URL handed to consumers, e.g. `https://auth.example.com`.
    pub public_base_url: String,
    /// Whether ValidateAccess demands the service credential.
    pub require_service_credential: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            request_token_ttl: Duration::minutes(10),
            default_access_token_ttl: Duration::days(7),
            max_access_token_ttl: Duration::days(5 * 365),
            timestamp_window: Duration::minutes(5),
            max_verifier_failures: 3,
            public_base_url: "http://localhost:8080".into(),
            require_service_credential: false,
        }
    }
}
