//! Conversions between `latchkey.v1` messages and core types.
//!
//! A request whose `oneof` picks the protocol becomes one input enum here, so a
//! handler matches on what the call is and makes one core call per arm; an empty
//! `oneof` is refused before any core call, naming it.

use super::oauth2;
use latchkey_api::v1 as pb;
use latchkey_core::authority::UserDecision;
use latchkey_core::oauth1::dance::RequestTokenStatus;
use latchkey_core::oauth1::records::ConsumerRecord;
use latchkey_core::oauth1::{HttpRequest, SignatureMethod};
use latchkey_core::oauth2::grant::{OAuth2AuthorizationRequest, OAuth2TokenRequest};
use latchkey_core::{AuthorityError, AuthorityResult};

/// The signed request inside a message, or `INVALID_ARGUMENT` naming the field.
pub fn http_request(request: Option<&pb::SignedRequest>) -> AuthorityResult<HttpRequest<'_>> {
    request
        .map(signed_request)
        .ok_or_else(|| AuthorityError::invalid("request", "the signed request is required"))
}

/// A consumer's signed HTTP request, as the core reads it.
pub fn signed_request(request: &pb::SignedRequest) -> HttpRequest<'_> {
    HttpRequest {
        method: &request.method,
        url: &request.url,
        authorization: &request.authorization,
        form_body: &request.form_body,
    }
}

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

/// A protobuf timestamp.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// The wire enum of a request token's status.
pub fn request_token_state(status: RequestTokenStatus) -> pb::RequestTokenState {
    match status {
        RequestTokenStatus::Pending => pb::RequestTokenState::Pending,
        RequestTokenStatus::Approved => pb::RequestTokenState::Approved,
        RequestTokenStatus::Denied => pb::RequestTokenState::Denied,
        RequestTokenStatus::Expired => pb::RequestTokenState::Expired,
        RequestTokenStatus::Used => pb::RequestTokenState::Used,
    }
}

/// Signature methods from their wire numbers.
pub fn signature_methods(values: &[i32]) -> AuthorityResult<Vec<SignatureMethod>> {
    values
        .iter()
        .map(|value| match pb::SignatureMethod::try_from(*value) {
            Ok(pb::SignatureMethod::RsaSha1) => Ok(SignatureMethod::RsaSha1),
            Ok(pb::SignatureMethod::HmacSha1) => Ok(SignatureMethod::HmacSha1),
            Ok(pb::SignatureMethod::Plaintext) => Ok(SignatureMethod::Plaintext),
            _ => Err(AuthorityError::invalid(
                "signature_methods",
                format!("unknown signature method {value}"),
            )),
        })
        .collect()
}

fn signature_method(method: SignatureMethod) -> pb::SignatureMethod {
    match method {
        SignatureMethod::RsaSha1 => pb::SignatureMethod::RsaSha1,
        SignatureMethod::HmacSha1 => pb::SignatureMethod::HmacSha1,
        SignatureMethod::Plaintext => pb::SignatureMethod::Plaintext,
    }
}

/// A consumer as the admin API shows it: never its secret.
pub fn consumer(record: ConsumerRecord) -> pb::Consumer {
    pb::Consumer {
        key: record.key,
        name: record.name,
        description: record.description,
        callback_url: record.callback_url.unwrap_or_default(),
        public_key_pem: record.public_key_pem.unwrap_or_default(),
        has_shared_secret: record.shared_secret.is_some(),
        signature_methods: record
            .signature_methods
            .into_iter()
            .map(|m| signature_method(m) as i32)
            .collect(),
        token_policy: Some(pb::TokenPolicy {
            access_token_ttl_seconds: record
                .access_token_ttl_seconds
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            idle_timeout_seconds: record
                .access_token_idle_seconds
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
        }),
        enabled: record.enabled,
        created_at: Some(timestamp(record.created_at)),
        updated_at: Some(timestamp(record.updated_at)),
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
        for wire in [
            pb::Decision::Unspecified,
            pb::Decision::Approve,
            pb::Decision::Deny,
        ] {
            assert_eq!(wire_decision(decision(wire as i32).unwrap()), wire as i32);
        }
    }
}
