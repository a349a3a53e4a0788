//! The rows the core reads and writes through [`crate::store::Store`]: plain data, no
//! behaviour, no database types. Times are UTC instants; the store decides how to keep
//! them (both backends keep milliseconds since the epoch, which sort and compare the
//! same way in Postgres and SQLite).

use crate::oauth1::SignatureMethod;
use crate::secret::{EncryptedSecret, TokenHash};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A new id for a token, code or grant row: a UUID version 7, whose first 48 bits are
/// the time in milliseconds.
///
/// Rows made one after another get ids that sort one after another, so each insert
/// lands at the right-hand edge of the primary key's b-tree, and the sweeper, which
/// removes the oldest rows first, takes them from the left-hand edge: a few pages per
/// batch rather than one random page per row. The id is no secret and grants nothing;
/// the time it carries is in the row's `created_at` already.
pub fn new_record_id() -> Uuid {
    Uuid::now_v7()
}

/// A registered consumer (an application link, in Jira's words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// `oauth_consumer_key`; the primary key.
    pub key: String,
    /// Shown on the consent screen.
    pub name: String,
    /// Shown on the consent screen.
    pub description: String,
    /// When set, every `oauth_callback` must lie under it.
    pub callback_url: Option<String>,
    /// The RSA public key, normalised to SubjectPublicKeyInfo PEM.
    pub public_key_pem: Option<String>,
    /// The shared secret for HMAC-SHA1 and PLAINTEXT, sealed.
    pub shared_secret: Option<EncryptedSecret>,
    /// Methods this consumer may sign with.
    pub signature_methods: Vec<SignatureMethod>,
    /// Lifetime of its new access tokens in seconds; `None` for the server default.
    pub access_token_ttl_seconds: Option<i64>,
    /// Idle timeout of its access tokens in seconds; `None` for the server setting.
    pub access_token_idle_seconds: Option<i64>,
    /// A disabled consumer's requests fail with `consumer_key_rejected`.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where a request token is in its life. The stored state never says "expired":
/// expiry is `expires_at` compared with the clock, so it holds with no sweeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTokenState {
    /// Waiting for the user.
    Pending,
    /// The user approved; waiting for the exchange.
    Approved,
    /// The user denied.
    Denied,
    /// Exchanged for an access token.
    Exchanged,
    /// Killed after too many wrong verifiers.
    Dead,
}

impl RequestTokenState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestTokenState::Pending => "pending",
            RequestTokenState::Approved => "approved",
            RequestTokenState::Denied => "denied",
            RequestTokenState::Exchanged => "exchanged",
            RequestTokenState::Dead => "dead",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => RequestTokenState::Pending,
            "approved" => RequestTokenState::Approved,
            "denied" => RequestTokenState::Denied,
            "exchanged" => RequestTokenState::Exchanged,
            "dead" => RequestTokenState::Dead,
            _ => return None,
        })
    }
}

/// A request token (temporary credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTokenRecord {
    /// Internal id.
    pub id: Uuid,
    /// SHA-256 of the token value; unique.
    pub token_hash: TokenHash,
    /// The consumer it was issued to.
    pub consumer_key: String,
    /// The token secret, sealed.
    pub secret: EncryptedSecret,
    /// `oauth_callback` as the consumer sent it: an absolute URL or `oob`.
    pub callback: String,
    /// Where it is in its life.
    pub state: RequestTokenState,
    /// Who decided, once decided.
    pub user_id: Option<String>,
    /// SHA-256 of the verifier, once approved.
    pub verifier_hash: Option<TokenHash>,
    /// Wrong verifiers presented so far.
    pub verifier_failures: u32,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it ends, whatever its state.
    pub expires_at: DateTime<Utc>,
    /// When the user decided.
    pub decided_at: Option<DateTime<Utc>>,
}

/// The user's decision on a request token, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTokenDecision {
    /// Approved by `user_id`; `verifier_hash` is what the exchange must match.
    Approve {
        /// The approving user.
        user_id: String,
        /// SHA-256 of the verifier handed to the user.
        verifier_hash: TokenHash,
    },
    /// Denied by `user_id`.
    Deny {
        /// The denying user.
        user_id: String,
    },
}

/// An access token (token credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// Internal id; what Revoke and ListAuthorizations name a token by.
    pub id: Uuid,
    /// SHA-256 of the token value; unique.
    pub token_hash: TokenHash,
    /// The consumer it was issued to.
    pub consumer_key: String,
    /// The user who granted it.
    pub user_id: String,
    /// The token secret, sealed.
    pub secret: EncryptedSecret,
    /// The request token it was exchanged from; unique, so one request token can never
    /// yield two access tokens, whatever the races.
    pub request_token_id: Uuid,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last validated a request (its issue time until then). Recorded on every
    /// use while an idle timeout applies, else at most hourly (see
    /// [`crate::policy::COARSE_LAST_USE`]).
    pub last_used_at: DateTime<Utc>,
}

/// A used `oauth_nonce`, kept while its timestamp is inside the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRecord {
    /// The consumer that used it.
    pub consumer_key: String,
    /// The nonce.
    pub nonce: String,
    /// The request's `oauth_timestamp`.
    pub timestamp: i64,
    /// When the record may be forgotten: the first instant at which its timestamp is
    /// outside the window, so a replay is refused by the timestamp check instead.
    pub expires_at: DateTime<Utc>,
}

/// One live grant, as a user's profile page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The access token's id.
    pub token_id: Uuid,
    /// The consumer.
    pub consumer_key: String,
    /// The consumer's display name.
    pub consumer_name: String,
    /// The consumer's own idle timeout in seconds, if it has one.
    pub consumer_idle_seconds: Option<i64>,
    /// When the token was issued, when it expires, when it was last used. The store
    /// gives the stored expiry; the authority replaces it with the policy's.
    pub times: crate::policy::TokenTimes,
}

/// One live access token of a consumer, as the administration page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerTokenRecord {
    /// The access token's id.
    pub token_id: Uuid,
    /// The user who granted it.
    pub user_id: String,
    /// When it was issued, when it expires, when it was last used. The store gives the
    /// stored expiry; the authority replaces it with the policy's.
    pub times: crate::policy::TokenTimes,
}

/// Which access tokens a revocation covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationSelector {
    /// One token.
    Token(Uuid),
    /// One user's tokens for one consumer.
    UserGrants {
        /// The user.
        user_id: String,
        /// The consumer.
        consumer_key: String,
    },
    /// Every token of one consumer.
    Consumer(String),
}

/// What happened, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A consumer was registered.
    ConsumerRegistered,
    /// A consumer was changed.
    ConsumerUpdated,
    /// A consumer was enabled.
    ConsumerEnabled,
    /// A consumer was disabled.
    ConsumerDisabled,
    /// A consumer was deleted with its tokens.
    ConsumerDeleted,
    /// A request token was issued.
    RequestTokenIssued,
    /// A user approved a request token.
    RequestTokenApproved,
    /// A user denied a request token.
    RequestTokenDenied,
    /// A wrong verifier was presented.
    VerifierRejected,
    /// A request token died after too many wrong verifiers.
    RequestTokenKilled,
    /// A request token was exchanged for an access token.
    AccessTokenIssued,
    /// Access tokens were revoked.
    AccessTokensRevoked,
    /// An OAuth 2.0 client was registered.
    OAuth2ClientRegistered,
    /// An OAuth 2.0 client's secret was replaced.
    OAuth2ClientSecretRotated,
    /// An OAuth 2.0 client was deleted with its grants.
    OAuth2ClientDeleted,
    /// A user approved an OAuth 2.0 authorization request; a code was issued.
    OAuth2CodeIssued,
    /// A code was redeemed for a new grant's first tokens.
    OAuth2CodeRedeemed,
    /// A refresh token was rotated.
    OAuth2TokensRefreshed,
    /// A grant was revoked with every token in it.
    OAuth2GrantRevoked,
    /// One OAuth 2.0 token was revoked.
    OAuth2TokenRevoked,
}

impl AuditAction {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ConsumerRegistered => "consumer.registered",
            AuditAction::ConsumerUpdated => "consumer.updated",
            AuditAction::ConsumerEnabled => "consumer.enabled",
            AuditAction::ConsumerDisabled => "consumer.disabled",
            AuditAction::ConsumerDeleted => "consumer.deleted",
            AuditAction::RequestTokenIssued => "request_token.issued",
            AuditAction::RequestTokenApproved => "request_token.approved",
            AuditAction::RequestTokenDenied => "request_token.denied",
            AuditAction::VerifierRejected => "request_token.verifier_rejected",
            AuditAction::RequestTokenKilled => "request_token.killed",
            AuditAction::AccessTokenIssued => "access_token.issued",
            AuditAction::AccessTokensRevoked => "access_token.revoked",
            AuditAction::OAuth2ClientRegistered => "oauth2_client.registered",
            AuditAction::OAuth2ClientSecretRotated => "oauth2_client.secret_rotated",
            AuditAction::OAuth2ClientDeleted => "oauth2_client.deleted",
            AuditAction::OAuth2CodeIssued => "oauth2_code.issued",
            AuditAction::OAuth2CodeRedeemed => "oauth2_code.redeemed",
            AuditAction::OAuth2TokensRefreshed => "oauth2_token.refreshed",
            AuditAction::OAuth2GrantRevoked => "oauth2_grant.revoked",
            AuditAction::OAuth2TokenRevoked => "oauth2_token.revoked",
        }
    }
}

/// One line of the audit log: who did what to which token, when. Written in the same
/// transaction as the change it records, so the log and the tables never disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub action: AuditAction,
    /// Who: `admin`, `user:<id>`, `consumer:<key>`, `cli`.
    pub actor: String,
    /// The consumer concerned.
    pub consumer_key: Option<String>,
    /// The user concerned.
    pub user_id: Option<String>,
    /// The token concerned (request or access token id).
    pub token_id: Option<Uuid>,
    /// Free text; never a secret.
    pub detail: String,
}

/// Which ended access tokens a sweep batch removes. Each variant is one index range,
/// so a batch never scans the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndedAccessTokens {
    /// `expires_at` at or before the instant.
    ExpiredBy(DateTime<Utc>),
    /// Revoked at or before the instant.
    RevokedBy(DateTime<Utc>),
    /// Issued at or before the instant (past a lowered maximum lifetime).
    IssuedBy(DateTime<Utc>),
    /// One consumer's tokens last used at or before the instant (idle).
    UnusedBy {
        /// The consumer.
        consumer_key: String,
        /// The instant.
        at: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_sort_in_the_order_they_were_made_and_never_repeat() {
        let ids: Vec<Uuid> = (0..10_000).map(|_| new_record_id()).collect();
        // Thousands within one millisecond still sort in order: the ids carry a
        // counter after the time, not only random bits.
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
    }
}
