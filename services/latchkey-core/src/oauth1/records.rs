//! The OAuth 1.0a rows the core reads and writes through [`super::store`]: plain
//! data, no behaviour, no database types. Times are UTC instants; the store decides how to keep
//! them (both backends keep milliseconds since the epoch, which sort and compare the
//! same way in Postgres and SQLite).

use crate::oauth1::SignatureMethod;
use crate::secret::{EncryptedSecret, TokenHash};
use chrono::{DateTime, Utc};
use uuid::Uuid;

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
    /// What it may do without a user's token (2-legged OAuth).
    pub two_legged: TwoLeggedPolicy,
    /// A disabled consumer's requests fail with `consumer_key_rejected`.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a consumer may do without a user's token (2-legged OAuth), as Jira's
/// "Incoming Authentication" screen sets it. Everything is off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwoLeggedPolicy {
    /// "Allow 2-Legged OAuth": it may sign requests with no `oauth_token`.
    pub allowed: bool,
    /// "Execute as": the user such a request acts as; `None` for no user.
    pub execute_as: Option<String>,
    /// "Allow user impersonation through 2-Legged OAuth": such a request may name the
    /// user it acts for in `xoauth_requestor_id`.
    pub impersonation: bool,
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
    /// [`super::policy::COARSE_LAST_USE`]).
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
    pub times: TokenTimes,
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
    pub times: TokenTimes,
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

/// What a revocation call names: the caller's words, which [`RevocationSelector`]
/// narrows to rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// One access token.
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

/// The instants of an access token's life that its end depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTimes {
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// Its own expiry.
    pub expires_at: DateTime<Utc>,
    /// Its last recorded use.
    pub last_used_at: DateTime<Utc>,
}

impl AccessTokenRecord {
    /// The instants its end depends on.
    pub fn times(&self) -> TokenTimes {
        TokenTimes {
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
        }
    }
}
