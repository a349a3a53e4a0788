//! What both protocols' conversions share: decisions, timestamps, and who revokes.
//! Neither protocol's file is imported here, so both can use it.

use latchkey_api::v1 as pb;
use latchkey_core::authority::UserDecision;
use latchkey_core::oauth1::access::RevokeActor;
use latchkey_core::oauth2::tokens::GrantRevoker;
use latchkey_core::{AuthorityError, AuthorityResult};

/// The user's decision from its wire value; `None` for `DECISION_UNSPECIFIED`.
pub fn decision(value: i32) -> AuthorityResult<Option<UserDecision>> {
    match pb::Decision::try_from(value) {
        Ok(pb::Decision::Approve) => Ok(Some(UserDecision::Approve)),
        Ok(pb::Decision::Deny) => Ok(Some(UserDecision::Deny)),
        Ok(pb::Decision::Unspecified) => Ok(None),
        Err(_) => Err(AuthorityError::invalid("decision", "unknown decision")),
    }
}

/// The wire value of a decision; `DECISION_UNSPECIFIED` for none.
pub fn wire_decision(decision: Option<UserDecision>) -> i32 {
    let decision = match decision {
        Some(UserDecision::Approve) => pb::Decision::Approve,
        Some(UserDecision::Deny) => pb::Decision::Deny,
        None => pb::Decision::Unspecified,
    };
    decision as i32
}

/// Who revokes, in a user's or an admin's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoker {
    /// A user, asserted by the frontend.
    User(String),
    /// An admin.
    Admin,
}

impl Revoker {
    /// As the OAuth 1.0a use case names it.
    pub fn oauth1(&self) -> RevokeActor<'_> {
        match self {
            Revoker::User(user_id) => RevokeActor::User(user_id),
            Revoker::Admin => RevokeActor::Admin,
        }
    }

    /// As the OAuth 2.0 use case names it.
    pub fn oauth2(&self) -> GrantRevoker<'_> {
        match self {
            Revoker::User(user_id) => GrantRevoker::User(user_id),
            Revoker::Admin => GrantRevoker::Admin,
        }
    }
}

/// A protobuf timestamp.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}
