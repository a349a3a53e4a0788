//! The OAuth 1.0a halves of `TokenAuthority` and `ConsumerAdmin`: translators between
//! the OAuth 1.0a members of the messages and the core's OAuth 1.0a types, beside
//! their OAuth 2.0 siblings in [`super::oauth2`].

use super::common::{timestamp, wire_decision};
use latchkey_api::v1 as pb;
use latchkey_core::oauth1::access::{AccessKind, Principal};
use latchkey_core::oauth1::dance::{DecisionOutcome, IssuedAccessToken, RequestTokenStatus};
use latchkey_core::oauth1::records::{ConsumerRecord, GrantRecord, RevokeTarget, TwoLeggedPolicy};
use latchkey_core::oauth1::{HttpRequest, SignatureMethod};
use latchkey_core::{AuthorityError, AuthorityResult};
use secrecy::ExposeSecret;

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

/// The answer to an OAuth 1.0a Authorize call.
pub fn decided(outcome: DecisionOutcome) -> pb::AuthorizeResponse {
    pb::AuthorizeResponse {
        decision: wire_decision(Some(outcome.decision)),
        verifier: outcome
            .verifier
            .map(|v| v.expose_secret().to_owned())
            .unwrap_or_default(),
        redirect_url: outcome.redirect_url.unwrap_or_default(),
        out_of_band: outcome.out_of_band,
        ..Default::default()
    }
}

/// An issued access token, shown this once.
pub fn access_token(issued: IssuedAccessToken) -> pb::OAuth1AccessToken {
    pb::OAuth1AccessToken {
        token: issued.token.expose_secret().to_owned(),
        token_secret: issued.token_secret.expose_secret().to_owned(),
        expires_at: Some(timestamp(issued.expires_at)),
        token_id: issued.token_id.to_string(),
    }
}

/// On whose behalf a validated signed request acts.
pub fn principal(principal: Principal) -> pb::Principal {
    let kind = match principal.kind {
        AccessKind::Granted => pb::AccessKind::Granted,
        AccessKind::TwoLegged => pb::AccessKind::TwoLegged,
        AccessKind::Impersonation => pb::AccessKind::Impersonation,
    };
    pb::Principal {
        user_id: principal.user_id.unwrap_or_default(),
        consumer_key: principal.consumer_key,
        token_id: principal
            .token_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        expires_at: principal.expires_at.map(timestamp),
        scopes: Vec::new(),
        kind: kind as i32,
    }
}

/// A consumer's 2-legged settings from the wire; an empty "execute as" user is none.
pub fn two_legged(wire: pb::TwoLeggedOAuth) -> TwoLeggedPolicy {
    TwoLeggedPolicy {
        allowed: wire.allowed,
        execute_as: (!wire.execute_as_user.is_empty()).then_some(wire.execute_as_user),
        impersonation: wire.allow_user_impersonation,
    }
}

/// A listed access token.
pub fn authorization(grant: GrantRecord) -> pb::Authorization {
    pb::Authorization {
        token_id: grant.token_id.to_string(),
        consumer_key: grant.consumer_key,
        consumer_name: grant.consumer_name,
        issued_at: Some(timestamp(grant.times.created_at)),
        expires_at: Some(timestamp(grant.times.expires_at)),
        last_used_at: Some(timestamp(grant.times.last_used_at)),
        kind: pb::AuthorizationKind::Oauth1 as i32,
        scopes: Vec::new(),
    }
}

/// What an OAuth 1.0a revocation names; `None` for an OAuth 2.0 target or none.
pub fn revoke_target(
    target: Option<pb::revoke_request::Target>,
) -> AuthorityResult<Option<RevokeTarget>> {
    use pb::revoke_request::Target;
    Ok(match target {
        Some(Target::TokenId(id)) => Some(RevokeTarget::Token(
            uuid::Uuid::parse_str(&id)
                .map_err(|_| AuthorityError::invalid("token_id", "not a token id"))?,
        )),
        Some(Target::UserGrants(grants)) => Some(RevokeTarget::UserGrants {
            user_id: grants.user_id,
            consumer_key: grants.consumer_key,
        }),
        Some(Target::ConsumerKey(key)) => Some(RevokeTarget::Consumer(key)),
        Some(Target::Oauth2Token(_) | Target::Oauth2GrantId(_)) | None => None,
    })
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
        two_legged: Some(pb::TwoLeggedOAuth {
            allowed: record.two_legged.allowed,
            execute_as_user: record.two_legged.execute_as.unwrap_or_default(),
            allow_user_impersonation: record.two_legged.impersonation,
        }),
        enabled: record.enabled,
        created_at: Some(timestamp(record.created_at)),
        updated_at: Some(timestamp(record.updated_at)),
    }
}
