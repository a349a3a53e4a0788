//! The lifetimes and limits the authority enforces, as configured, and the one place
//! that works out when a token ends. Validation and the sweeper both ask here, so a
//! token the sweeper removes is always one that validation already refuses.
//!
//! An access token ends at the earliest of:
//! - its own `expires_at`, fixed when it is issued from its consumer's lifetime (or
//!   the default), capped by the maximum; shortened only when an admin asks for a
//!   policy change to apply to tokens already issued;
//! - `created_at` plus the maximum lifetime *now* configured: lowering the maximum cuts
//!   every token at once, which is the operator's lever after an incident;
//! - `last_used_at` plus the idle timeout (the consumer's own, else the server's), when
//!   one applies. Idle timeouts are read at validation time, so changing one applies
//!   to tokens already issued.

use super::records::{ConsumerRecord, TokenTimes};
use crate::bounds::{A_CENTURY, PolicyError, check_lifetime};
use chrono::{DateTime, Duration, Utc};

/// With no idle timeout in force, a token's last use is recorded at most this often,
/// which keeps validation nearly write-free while still telling roughly when a token
/// was last used. With an idle timeout, every use is recorded, so the token ends
/// exactly at its policy.
pub const COARSE_LAST_USE: Duration = Duration::hours(1);

/// OAuth 1.0a token lifetimes and protocol limits.
#[derive(Debug, Clone)]
pub struct OAuth1Policy {
    /// How long a request token lives, whatever its state (Jira: 10 minutes).
    pub request_token_ttl: Duration,
    /// Access-token lifetime for consumers without their own (Atlassian: 7 days).
    pub default_access_token_ttl: Duration,
    /// No consumer's access tokens may live longer (Jira application links: 5 years).
    pub max_access_token_ttl: Duration,
    /// An access token unused this long ends, for consumers without their own setting.
    pub access_token_idle_timeout: Option<Duration>,
    /// How far `oauth_timestamp` may stray from now, either way.
    pub timestamp_window: Duration,
    /// Wrong verifiers a request token survives before it dies.
    pub max_verifier_failures: u32,
}

impl Default for OAuth1Policy {
    fn default() -> Self {
        Self {
            request_token_ttl: Duration::minutes(10),
            default_access_token_ttl: Duration::days(7),
            max_access_token_ttl: Duration::days(5 * 365),
            access_token_idle_timeout: None,
            timestamp_window: Duration::minutes(5),
            max_verifier_failures: 3,
        }
    }
}

/// Why an access token ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTokenEnd {
    /// It reached its lifetime, or the maximum lifetime.
    Expired,
    /// It went unused for longer than the idle timeout.
    Idle,
}

impl OAuth1Policy {
    /// Refuses values outside their bounds: every lifetime above 0; the maximum
    /// access-token lifetime at most [`crate::bounds::LONGEST_LIFETIME`]; the default lifetime and the
    /// idle timeout at most that maximum; at least one verifier attempt.
    pub fn check(&self) -> Result<(), PolicyError> {
        let most = ("max_access_token_ttl", self.max_access_token_ttl);
        let s = "oauth1";
        check_lifetime(s, "request_token_ttl", self.request_token_ttl, A_CENTURY)?;
        check_lifetime(s, "timestamp_window", self.timestamp_window, A_CENTURY)?;
        check_lifetime(
            s,
            "max_access_token_ttl",
            self.max_access_token_ttl,
            A_CENTURY,
        )?;
        check_lifetime(
            s,
            "default_access_token_ttl",
            self.default_access_token_ttl,
            most,
        )?;
        if let Some(idle) = self.access_token_idle_timeout {
            check_lifetime(s, "access_token_idle_timeout", idle, most)?;
        }
        if self.max_verifier_failures == 0 {
            return Err(PolicyError {
                section: s,
                field: "max_verifier_failures",
                is_duration: false,
                rule: "must be above 0".into(),
            });
        }
        Ok(())
    }

    /// The lifetime of a consumer's new access tokens: its own, else the default, never
    /// above the maximum.
    pub fn access_token_ttl_for(&self, consumer: &ConsumerRecord) -> Duration {
        consumer
            .access_token_ttl_seconds
            .map(Duration::seconds)
            .unwrap_or(self.default_access_token_ttl)
            .min(self.max_access_token_ttl)
    }

    /// The idle timeout of a consumer's access tokens, given the consumer's own
    /// setting: that, else the server's.
    pub fn idle_timeout(&self, consumer_idle_seconds: Option<i64>) -> Option<Duration> {
        consumer_idle_seconds
            .map(Duration::seconds)
            .or(self.access_token_idle_timeout)
    }

    /// When the token's lifetime ends, idle timeout aside.
    pub fn access_token_expiry(&self, times: TokenTimes) -> DateTime<Utc> {
        times
            .expires_at
            .min(times.created_at + self.max_access_token_ttl)
    }

    /// Whether, and why, a token of a consumer with this idle setting has ended at
    /// `now`; revocation aside.
    pub fn access_token_end(
        &self,
        times: TokenTimes,
        consumer_idle_seconds: Option<i64>,
        now: DateTime<Utc>,
    ) -> Option<AccessTokenEnd> {
        if now >= self.access_token_expiry(times) {
            return Some(AccessTokenEnd::Expired);
        }
        match self.idle_timeout(consumer_idle_seconds) {
            Some(idle) if now >= times.last_used_at + idle => Some(AccessTokenEnd::Idle),
            _ => None,
        }
    }

    /// Whether a successful use at `now` should be recorded as the token's last use.
    pub fn should_record_use(
        &self,
        times: TokenTimes,
        consumer_idle_seconds: Option<i64>,
        now: DateTime<Utc>,
    ) -> bool {
        let granularity = if self.idle_timeout(consumer_idle_seconds).is_some() {
            Duration::zero()
        } else {
            COARSE_LAST_USE
        };
        now > times.last_used_at && now - times.last_used_at >= granularity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    fn times(expires_in: i64) -> TokenTimes {
        TokenTimes {
            created_at: at(0),
            expires_at: at(expires_in),
            last_used_at: at(0),
        }
    }

    #[test]
    fn a_token_ends_at_its_own_expiry_not_a_millisecond_before() {
        let policy = OAuth1Policy::default();
        let token = times(3600);
        let just_before = at(3600) - Duration::milliseconds(1);
        assert_eq!(policy.access_token_end(token, None, just_before), None);
        assert_eq!(
            policy.access_token_end(token, None, at(3600)),
            Some(AccessTokenEnd::Expired)
        );
    }

    #[test]
    fn a_lowered_maximum_cuts_tokens_already_issued() {
        let policy = OAuth1Policy {
            max_access_token_ttl: Duration::days(30),
            ..OAuth1Policy::default()
        };
        let five_years = times(5 * 365 * 86_400);
        assert_eq!(policy.access_token_expiry(five_years), at(30 * 86_400));
        assert_eq!(
            policy.access_token_end(five_years, None, at(30 * 86_400 - 1)),
            None
        );
        assert_eq!(
            policy.access_token_end(five_years, None, at(30 * 86_400)),
            Some(AccessTokenEnd::Expired)
        );
    }

    #[test]
    fn the_idle_timeout_counts_from_the_last_use_and_the_consumers_own_wins() {
        let policy = OAuth1Policy {
            access_token_idle_timeout: Some(Duration::days(1)),
            ..OAuth1Policy::default()
        };
        let mut token = times(30 * 86_400);
        token.last_used_at = at(10 * 86_400);
        let end = at(11 * 86_400);
        assert_eq!(
            policy.access_token_end(token, None, end - Duration::seconds(1)),
            None
        );
        assert_eq!(
            policy.access_token_end(token, None, end),
            Some(AccessTokenEnd::Idle)
        );
        // A consumer's own idle timeout of an hour wins over the server's day.
        let hour_after_use = at(10 * 86_400 + 3600);
        assert_eq!(
            policy.access_token_end(token, Some(3600), hour_after_use),
            Some(AccessTokenEnd::Idle)
        );
        assert_eq!(
            OAuth1Policy::default().access_token_end(token, None, at(29 * 86_400)),
            None,
            "no idle timeout by default"
        );
    }

    #[test]
    fn a_consumers_lifetime_wins_over_the_default_and_the_maximum_caps_it() {
        let policy = OAuth1Policy {
            default_access_token_ttl: Duration::days(7),
            max_access_token_ttl: Duration::days(365),
            ..OAuth1Policy::default()
        };
        let mut consumer = crate::oauth1::records::ConsumerRecord {
            key: "k".into(),
            name: "n".into(),
            description: String::new(),
            callback_url: None,
            public_key_pem: None,
            shared_secret: None,
            signature_methods: Vec::new(),
            access_token_ttl_seconds: None,
            access_token_idle_seconds: None,
            two_legged: Default::default(),
            enabled: true,
            created_at: at(0),
            updated_at: at(0),
        };
        assert_eq!(policy.access_token_ttl_for(&consumer), Duration::days(7));
        consumer.access_token_ttl_seconds = Some(3600);
        assert_eq!(policy.access_token_ttl_for(&consumer), Duration::hours(1));
        consumer.access_token_ttl_seconds = Some(5 * 365 * 86_400);
        assert_eq!(policy.access_token_ttl_for(&consumer), Duration::days(365));
    }

    #[test]
    fn uses_are_recorded_every_time_under_an_idle_timeout_else_hourly() {
        let policy = OAuth1Policy::default();
        let token = times(30 * 86_400);
        assert!(!policy.should_record_use(token, None, at(0)));
        assert!(!policy.should_record_use(token, None, at(3599)));
        assert!(policy.should_record_use(token, None, at(3600)));
        assert!(policy.should_record_use(token, Some(86_400), at(1)));
        assert!(
            !policy.should_record_use(token, Some(86_400), at(0)),
            "never the same instant twice"
        );
    }
}
