//! The inputs of the calls either protocol can make.
//!
//! A request whose `oneof` picks the protocol becomes one input enum here, so a
//! handler matches on what the call is and makes one core call per arm; an empty
//! `oneof` is refused before any core call, naming it. Each protocol's own
//! conversions are in [`super::oauth1`] and [`super::oauth2`].

use super::common::{Revoker, decision};
use super::{oauth1, oauth2};
use latchkey_api::v1 as pb;
use latchkey_core::authority::UserDecision;
use latchkey_core::oauth1::records::RevokeTarget;
use latchkey_core::oauth2::grant::{OAuth2AuthorizationRequest, OAuth2TokenRequest};
use latchkey_core::{AuthorityError, AuthorityResult};

/// An Authorize call: a decision on an OAuth 1.0a request token or on an OAuth 2.0
/// authorization request (which may also be only checked, with no decision).
pub enum AuthorizeInput {
    OAuth1 {
        token: String,
        user_id: String,
        decision: UserDecision,
    },
    OAuth2 {
        request: OAuth2AuthorizationRequest,
        user_id: String,
        decision: Option<UserDecision>,
    },
}

impl TryFrom<pb::AuthorizeRequest> for AuthorizeInput {
    type Error = AuthorityError;

    fn try_from(message: pb::AuthorizeRequest) -> AuthorityResult<Self> {
        use pb::authorize_request::Request;
        let request = message.request.ok_or_else(|| {
            AuthorityError::invalid(
                "request",
                "the request token or an OAuth 2.0 authorization request is required",
            )
        })?;
        let decided = decision(message.decision)?;
        match request {
            Request::Token(token) => Ok(AuthorizeInput::OAuth1 {
                token,
                user_id: message.user_id,
                decision: decided
                    .ok_or_else(|| AuthorityError::invalid("decision", "approve or deny"))?,
            }),
            Request::Oauth2(request) => Ok(AuthorizeInput::OAuth2 {
                request: oauth2::authorization_request(request),
                user_id: message.user_id,
                decision: decided,
            }),
        }
    }
}

/// An ExchangeToken call: an OAuth 1.0a access-token request or an OAuth 2.0 token
/// request.
pub enum ExchangeTokenInput {
    OAuth1(pb::SignedRequest),
    OAuth2(OAuth2TokenRequest),
}

impl TryFrom<pb::ExchangeTokenRequest> for ExchangeTokenInput {
    type Error = AuthorityError;

    fn try_from(message: pb::ExchangeTokenRequest) -> AuthorityResult<Self> {
        use pb::exchange_token_request::Request;
        match message.request {
            Some(Request::Signed(signed)) => Ok(ExchangeTokenInput::OAuth1(signed)),
            Some(Request::Oauth2(request)) => {
                Ok(ExchangeTokenInput::OAuth2(oauth2::token_request(request)))
            }
            None => Err(AuthorityError::invalid(
                "request",
                "the signed request or an OAuth 2.0 token request is required",
            )),
        }
    }
}

/// A ValidateAccess call: an OAuth 1.0a signed resource request or an OAuth 2.0
/// bearer token.
pub enum ValidateAccessInput {
    OAuth1(pb::SignedRequest),
    Bearer(String),
}

impl TryFrom<pb::ValidateAccessRequest> for ValidateAccessInput {
    type Error = AuthorityError;

    fn try_from(message: pb::ValidateAccessRequest) -> AuthorityResult<Self> {
        use pb::validate_access_request::Request;
        match message.request {
            Some(Request::Signed(signed)) => Ok(ValidateAccessInput::OAuth1(signed)),
            Some(Request::BearerToken(token)) => Ok(ValidateAccessInput::Bearer(token)),
            None => Err(AuthorityError::invalid(
                "request",
                "the signed request or a bearer token is required",
            )),
        }
    }
}

/// A Revoke call: what is revoked, and who asks.
#[derive(Debug)]
pub enum RevokeInput {
    /// A consumer's signed revocation: its signed body names the target; a `target`
    /// stated beside it must name the same one.
    Consumer {
        /// The signed revocation.
        signed: pb::SignedRequest,
        /// The target the message states, if any.
        stated: Option<RevokeTarget>,
    },
    /// OAuth 1.0a tokens a user or an admin names.
    OAuth1 {
        /// Who asks.
        revoker: Revoker,
        /// What.
        target: RevokeTarget,
    },
    /// An OAuth 2.0 token or grant.
    OAuth2(oauth2::Revocation),
}

impl TryFrom<pb::RevokeRequest> for RevokeInput {
    type Error = AuthorityError;

    fn try_from(message: pb::RevokeRequest) -> AuthorityResult<Self> {
        use pb::revoke_request::{Actor, Target};
        if let Some(target @ (Target::Oauth2Token(_) | Target::Oauth2GrantId(_))) = message.target {
            return oauth2::revocation(target, message.actor).map(RevokeInput::OAuth2);
        }
        let target = oauth1::revoke_target(message.target)?;
        let named = |target: Option<RevokeTarget>| {
            target.ok_or_else(|| {
                AuthorityError::invalid("target", "name a token, a user's grants or a consumer")
            })
        };
        match message.actor {
            Some(Actor::Consumer(signed)) => Ok(RevokeInput::Consumer {
                signed,
                stated: target,
            }),
            Some(Actor::UserId(user_id)) => Ok(RevokeInput::OAuth1 {
                revoker: Revoker::User(user_id),
                target: named(target)?,
            }),
            Some(Actor::Admin(_)) => Ok(RevokeInput::OAuth1 {
                revoker: Revoker::Admin,
                target: named(target)?,
            }),
            Some(Actor::Oauth2Client(_)) => Err(AuthorityError::invalid(
                "actor",
                "an OAuth 2.0 client revokes only with oauth2_token",
            )),
            None => Err(AuthorityError::invalid(
                "actor",
                "say who asks: a consumer, a user or an admin",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn refused_field<T>(result: AuthorityResult<T>) -> &'static str {
        match result {
            Err(AuthorityError::InvalidArgument { field, .. }) => field,
            Err(other) => panic!("expected INVALID_ARGUMENT, got {other:?}"),
            Ok(_) => panic!("expected INVALID_ARGUMENT, got a conversion"),
        }
    }

    #[test]
    fn a_request_naming_neither_protocol_is_refused_naming_request() {
        let authorize = pb::AuthorizeRequest {
            request: None,
            user_id: "alice".into(),
            decision: pb::Decision::Approve as i32,
        };
        assert_eq!(
            refused_field(AuthorizeInput::try_from(authorize)),
            "request"
        );
        let exchange = pb::ExchangeTokenRequest { request: None };
        assert_eq!(
            refused_field(ExchangeTokenInput::try_from(exchange)),
            "request"
        );
        let validate = pb::ValidateAccessRequest { request: None };
        assert_eq!(
            refused_field(ValidateAccessInput::try_from(validate)),
            "request"
        );
    }

    #[test]
    fn only_oauth2_may_leave_the_decision_unspecified() {
        use pb::authorize_request::Request;
        let asking = |request, decision: i32| pb::AuthorizeRequest {
            request: Some(request),
            user_id: "alice".into(),
            decision,
        };
        let unspecified = pb::Decision::Unspecified as i32;
        let oauth1 = asking(Request::Token("t".into()), unspecified);
        assert_eq!(refused_field(AuthorizeInput::try_from(oauth1)), "decision");
        let oauth2 = asking(Request::Oauth2(Default::default()), unspecified);
        let Ok(AuthorizeInput::OAuth2 { decision, .. }) = AuthorizeInput::try_from(oauth2) else {
            panic!("an OAuth 2.0 request converts");
        };
        assert_eq!(decision, None);
        for request in [
            Request::Token("t".into()),
            Request::Oauth2(Default::default()),
        ] {
            assert_eq!(
                refused_field(AuthorizeInput::try_from(asking(request, 7))),
                "decision"
            );
        }
    }

    #[test]
    fn a_decision_goes_back_to_the_wire_as_it_came() {
        use super::super::common::wire_decision;
        for wire in [
            pb::Decision::Unspecified,
            pb::Decision::Approve,
            pb::Decision::Deny,
        ] {
            assert_eq!(wire_decision(decision(wire as i32).unwrap()), wire as i32);
        }
    }

    #[test]
    fn a_revocation_names_its_target_unless_a_signed_body_does() {
        use pb::revoke_request::{Actor, Target};
        let revoke = |target: Option<Target>, actor: Option<Actor>| {
            RevokeInput::try_from(pb::RevokeRequest { target, actor })
        };
        let signed = || Some(Actor::Consumer(pb::SignedRequest::default()));
        assert!(matches!(
            revoke(None, signed()),
            Ok(RevokeInput::Consumer { stated: None, .. })
        ));
        let key = || Some(Target::ConsumerKey("jira".into()));
        let Ok(RevokeInput::OAuth1 { revoker, target }) =
            revoke(key(), Some(Actor::UserId("alice".into())))
        else {
            panic!("a user's revocation converts");
        };
        assert_eq!(revoker, Revoker::User("alice".into()));
        assert_eq!(target, RevokeTarget::Consumer("jira".into()));
        let admin = || Some(Actor::Admin(pb::AdminActor {}));
        assert_eq!(refused_field(revoke(None, admin())), "target");
        assert_eq!(refused_field(revoke(key(), None)), "actor");
        let client = || Some(Actor::Oauth2Client(pb::OAuth2ClientCredentials::default()));
        assert_eq!(refused_field(revoke(key(), client())), "actor");
        // A malformed id is refused before anyone is asked who revokes.
        let bad_id = || Some(Target::TokenId("not-a-uuid".into()));
        assert_eq!(refused_field(revoke(bad_id(), None)), "token_id");
    }

    #[test]
    fn an_oauth2_token_is_revoked_by_its_client_and_a_grant_by_its_user_or_an_admin() {
        use pb::revoke_request::{Actor, Target};
        let revoke = |target: Target, actor: Option<Actor>| {
            RevokeInput::try_from(pb::RevokeRequest {
                target: Some(target),
                actor,
            })
        };
        let token = || Target::Oauth2Token("t".into());
        let client = Some(Actor::Oauth2Client(pb::OAuth2ClientCredentials {
            client_id: "app".into(),
            client_secret: String::new(),
        }));
        let Ok(RevokeInput::OAuth2(oauth2::Revocation::Token {
            client,
            token: value,
        })) = revoke(token(), client)
        else {
            panic!("a client's token revocation converts");
        };
        assert_eq!((client.client_id.as_str(), value.as_str()), ("app", "t"));
        assert!(
            client.client_secret.is_none(),
            "an empty secret is a public client"
        );
        let user = || Some(Actor::UserId("alice".into()));
        assert_eq!(refused_field(revoke(token(), user())), "actor");
        let grant = Target::Oauth2GrantId("9f0c3c0e-5d4b-4a8e-9a43-0a4c1e0f6b2d".into());
        assert!(matches!(
            revoke(grant.clone(), user()),
            Ok(RevokeInput::OAuth2(oauth2::Revocation::Grant {
                revoker: Revoker::User(_),
                ..
            }))
        ));
        assert_eq!(refused_field(revoke(grant, None)), "actor");
        let bad = Target::Oauth2GrantId("nope".into());
        assert_eq!(refused_field(revoke(bad, user())), "oauth2_grant_id");
    }
}
