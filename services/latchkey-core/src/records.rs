//! What both protocols write: the audit log's lines, and the time-ordered ids of
//! token, code and grant rows. Each protocol's own rows are in
//! [`crate::oauth1::records`] and [`crate::oauth2::records`].

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
