//! The OAuth 2.0 halves of `TokenAuthority` and `ConsumerAdmin`: translators between
//! the OAuth 2.0 members of the shared messages and the core's OAuth 2.0 types, kept
//! apart so the OAuth 1.0a conversions read on their own.

use super::common::{Revoker, timestamp, wire_decision};
use latchkey_api::v1 as pb;
use latchkey_core::authority::UserDecision;
use latchkey_core::oauth2::clients::OAuth2ClientDraft;
use latchkey_core::oauth2::grant::{
    IssuedOAuth2Tokens, OAuth2AuthorizationRequest, OAuth2AuthorizeOutcome,
    OAuth2ClientCredentials, OAuth2TokenRequest,
};
use latchkey_core::oauth2::records::{OAuth2ClientRecord, OAuth2GrantListing};
use latchkey_core::oauth2::scope;
use latchkey_core::oauth2::tokens::BearerPrincipal;
use latchkey_core::{AuthorityError, AuthorityResult};
use secrecy::{ExposeSecret, SecretString};

/// Client credentials from the wire; an empty secret means none (a public client).
pub fn credentials(client: Option<pb::OAuth2ClientCredentials>) -> OAuth2ClientCredentials {
    let client = client.unwrap_or_default();
    OAuth2ClientCredentials {
        client_id: client.client_id,
        client_secret: (!client.client_secret.is_empty())
            .then(|| SecretString::from(client.client_secret)),
    }
}

/// An authorization request (RFC 6749 section 4.1.1), as the core reads it.
pub fn authorization_request(
    request: pb::OAuth2AuthorizationRequest,
) -> OAuth2AuthorizationRequest {
    OAuth2AuthorizationRequest {
        response_type: request.response_type,
        client_id: request.client_id,
        redirect_uri: request.redirect_uri,
        scope: request.scope,
        state: request.state,
        code_challenge: request.code_challenge,
        code_challenge_method: request.code_challenge_method,
    }
}

/// The answer to an OAuth 2.0 Authorize call.
pub fn decided(
    decision: Option<UserDecision>,
    outcome: OAuth2AuthorizeOutcome,
) -> pb::AuthorizeResponse {
    pb::AuthorizeResponse {
        decision: wire_decision(decision),
        redirect_url: outcome.redirect_url.unwrap_or_default(),
        oauth2_error: outcome
            .error
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        client_name: outcome.client_name,
        scopes: outcome.scopes,
        ..Default::default()
    }
}

/// The wire form of issued tokens (RFC 6749 section 5.1).
pub fn tokens(issued: IssuedOAuth2Tokens) -> pb::OAuth2Tokens {
    pb::OAuth2Tokens {
        access_token: issued.access_token.expose_secret().to_owned(),
        token_type: "Bearer".into(),
        expires_in: u64::try_from(issued.expires_in.num_seconds()).unwrap_or(0),
        refresh_token: issued.refresh_token.expose_secret().to_owned(),
        scope: scope::join(&issued.scopes),
        grant_id: issued.grant_id.to_string(),
        expires_at: Some(timestamp(issued.expires_at)),
    }
}

/// A token request (RFC 6749 sections 4.1.3 and 6), as the core reads it.
pub fn token_request(request: pb::OAuth2TokenRequest) -> OAuth2TokenRequest {
    OAuth2TokenRequest {
        grant_type: request.grant_type,
        code: request.code,
        redirect_uri: request.redirect_uri,
        code_verifier: request.code_verifier,
        refresh_token: request.refresh_token,
        scope: request.scope,
        client: credentials(request.client),
    }
}

/// The wire principal of a bearer token.
pub fn principal(principal: BearerPrincipal) -> pb::Principal {
    pb::Principal {
        user_id: principal.user_id,
        consumer_key: principal.client_id,
        token_id: principal.token_id.to_string(),
        expires_at: Some(timestamp(principal.expires_at)),
        scopes: principal.scopes,
        kind: pb::AccessKind::Granted as i32,
    }
}

/// An OAuth 2.0 revocation.
#[derive(Debug)]
pub enum Revocation {
    /// A token, by the client that holds it (RFC 7009).
    Token {
        /// The client.
        client: OAuth2ClientCredentials,
        /// The token's value.
        token: String,
    },
    /// A grant, by its user or an admin.
    Grant {
        /// Who asks.
        revoker: Revoker,
        /// The grant.
        grant_id: uuid::Uuid,
    },
}

/// A Revoke of an OAuth 2.0 token (by its client) or grant (by its user or an
/// admin).
pub fn revocation(
    target: pb::revoke_request::Target,
    actor: Option<pb::revoke_request::Actor>,
) -> AuthorityResult<Revocation> {
    use pb::revoke_request::{Actor, Target};
    match (target, actor) {
        (Target::Oauth2Token(token), Some(Actor::Oauth2Client(client))) => Ok(Revocation::Token {
            client: credentials(Some(client)),
            token,
        }),
        (Target::Oauth2Token(_), _) => Err(AuthorityError::invalid(
            "actor",
            "an OAuth 2.0 token is revoked by its client (oauth2_client); users and admins \
             revoke by oauth2_grant_id",
        )),
        (Target::Oauth2GrantId(id), actor) => {
            let grant_id = uuid::Uuid::parse_str(&id)
                .map_err(|_| AuthorityError::invalid("oauth2_grant_id", "not a grant id"))?;
            let revoker = match actor {
                Some(Actor::UserId(user_id)) => Revoker::User(user_id),
                Some(Actor::Admin(_)) => Revoker::Admin,
                _ => {
                    return Err(AuthorityError::invalid(
                        "actor",
                        "a grant is revoked by its user or an admin",
                    ));
                }
            };
            Ok(Revocation::Grant { revoker, grant_id })
        }
        _ => Err(AuthorityError::invalid("target", "not an OAuth 2.0 target")),
    }
}

/// A listed OAuth 2.0 grant.
pub fn authorization(listing: OAuth2GrantListing) -> pb::Authorization {
    let grant = listing.grant;
    pb::Authorization {
        token_id: grant.id.to_string(),
        consumer_key: grant.client_id,
        consumer_name: listing.client_name,
        issued_at: Some(timestamp(grant.created_at)),
        expires_at: Some(timestamp(grant.expires_at)),
        last_used_at: Some(timestamp(grant.refreshed_at)),
        kind: pb::AuthorizationKind::Oauth2 as i32,
        scopes: grant.scopes,
    }
}

/// A client as the admin API shows it.
pub fn client(record: OAuth2ClientRecord) -> pb::OAuth2Client {
    let seconds = |s: Option<i64>| s.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
    pb::OAuth2Client {
        confidential: record.is_confidential(),
        policy: Some(pb::OAuth2ClientPolicy {
            access_token_ttl_seconds: seconds(record.access_token_ttl_seconds),
            refresh_token_idle_seconds: seconds(record.refresh_token_idle_seconds),
            refresh_token_max_seconds: seconds(record.refresh_token_max_seconds),
        }),
        client_id: record.client_id,
        name: record.name,
        redirect_uris: record.redirect_uris,
        scopes: record.scopes,
        enabled: record.enabled,
        created_at: Some(timestamp(record.created_at)),
        updated_at: Some(timestamp(record.updated_at)),
    }
}

/// A registration request as the core's draft.
pub fn draft(request: pb::RegisterOAuth2ClientRequest) -> OAuth2ClientDraft {
    let policy = request.policy.unwrap_or_default();
    OAuth2ClientDraft {
        client_id: request.client_id,
        name: request.name,
        confidential: request.confidential,
        redirect_uris: request.redirect_uris,
        scopes: request.scopes,
        access_token_ttl_seconds: policy.access_token_ttl_seconds,
        refresh_token_idle_seconds: policy.refresh_token_idle_seconds,
        refresh_token_max_seconds: policy.refresh_token_max_seconds,
    }
}
