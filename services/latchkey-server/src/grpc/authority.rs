//! `latchkey.v1.TokenAuthority`: the dance, validation, revocation, a user's grants.
//! A call either protocol can make is converted (in [`super::convert`]) into an input
//! that says which protocol it speaks; each arm then makes one core call.

use super::convert::{
    AuthorizeInput, ExchangeTokenInput, ValidateAccessInput, http_request, request_token_state,
    signed_request, timestamp, wire_decision,
};
use super::{Handlers, oauth2, observe};
use crate::metrics::TokenEvent;
use latchkey_api::v1 as pb;
use latchkey_api::v1::token_authority_server::TokenAuthority;
use latchkey_core::AuthorityError;
use latchkey_core::oauth1::access::RevokeActor;
use latchkey_core::oauth1::records::RevokeTarget;
use secrecy::ExposeSecret;
use tonic::{Request, Response, Status};

/// The TokenAuthority service.
#[derive(Clone)]
pub struct AuthorityService(pub Handlers);

#[tonic::async_trait]
impl TokenAuthority for AuthorityService {
    async fn issue_request_token(
        &self,
        request: Request<pb::IssueRequestTokenRequest>,
    ) -> Result<Response<pb::IssueRequestTokenResponse>, Status> {
        let message = request.into_inner();
        observe(&self.0, "IssueRequestToken", async {
            let issued = self
                .0
                .authority
                .issue_request_token(&http_request(message.request.as_ref())?)
                .await?;
            Ok(pb::IssueRequestTokenResponse {
                token: issued.token.expose_secret().to_owned(),
                token_secret: issued.token_secret.expose_secret().to_owned(),
                callback_confirmed: true,
                expires_at: Some(timestamp(issued.expires_at)),
                authorize_url: issued.authorize_url,
            })
        })
        .await
    }

    async fn describe_request_token(
        &self,
        request: Request<pb::DescribeRequestTokenRequest>,
    ) -> Result<Response<pb::DescribeRequestTokenResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "DescribeRequestToken", async {
            let view = self
                .0
                .authority
                .describe_request_token(&caller, &message.token)
                .await?;
            Ok(pb::DescribeRequestTokenResponse {
                consumer_key: view.consumer_key,
                consumer_name: view.consumer_name,
                consumer_description: view.consumer_description,
                callback: view.callback,
                state: request_token_state(view.status) as i32,
                expires_at: Some(timestamp(view.expires_at)),
            })
        })
        .await
    }

    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "Authorize", async {
            let authority = &self.0.authority;
            match AuthorizeInput::try_from(message)? {
                AuthorizeInput::OAuth1 {
                    token,
                    user_id,
                    decision,
                } => {
                    let outcome = authority
                        .authorize(&caller, &token, &user_id, decision)
                        .await?;
                    Ok(pb::AuthorizeResponse {
                        decision: wire_decision(Some(outcome.decision)),
                        verifier: outcome
                            .verifier
                            .map(|v| v.expose_secret().to_owned())
                            .unwrap_or_default(),
                        redirect_url: outcome.redirect_url.unwrap_or_default(),
                        out_of_band: outcome.out_of_band,
                        ..Default::default()
                    })
                }
                AuthorizeInput::OAuth2 {
                    request,
                    user_id,
                    decision,
                } => {
                    let outcome = authority
                        .authorize_oauth2(&caller, &request, &user_id, decision)
                        .await?;
                    Ok(oauth2::decided(decision, outcome))
                }
            }
        })
        .await
    }

    async fn exchange_token(
        &self,
        request: Request<pb::ExchangeTokenRequest>,
    ) -> Result<Response<pb::ExchangeTokenResponse>, Status> {
        let message = request.into_inner();
        observe(&self.0, "ExchangeToken", async {
            use pb::exchange_token_response::Issued;
            let authority = &self.0.authority;
            let issued = match ExchangeTokenInput::try_from(message)? {
                ExchangeTokenInput::OAuth1(signed) => {
                    let issued = authority.exchange_token(&signed_request(&signed)).await?;
                    Issued::Oauth1(pb::OAuth1AccessToken {
                        token: issued.token.expose_secret().to_owned(),
                        token_secret: issued.token_secret.expose_secret().to_owned(),
                        expires_at: Some(timestamp(issued.expires_at)),
                        token_id: issued.token_id.to_string(),
                    })
                }
                ExchangeTokenInput::OAuth2(request) => {
                    Issued::Oauth2(oauth2::tokens(authority.exchange_oauth2(&request).await?))
                }
            };
            Ok(pb::ExchangeTokenResponse {
                issued: Some(issued),
            })
        })
        .await
    }

    async fn validate_access(
        &self,
        request: Request<pb::ValidateAccessRequest>,
    ) -> Result<Response<pb::ValidateAccessResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "ValidateAccess", async {
            let authority = &self.0.authority;
            let principal = match ValidateAccessInput::try_from(message)? {
                ValidateAccessInput::OAuth1(signed) => {
                    let principal = authority
                        .validate_access(&caller, &signed_request(&signed))
                        .await?;
                    pb::Principal {
                        user_id: principal.user_id,
                        consumer_key: principal.consumer_key,
                        token_id: principal.token_id.to_string(),
                        expires_at: Some(timestamp(principal.expires_at)),
                        scopes: Vec::new(),
                    }
                }
                ValidateAccessInput::Bearer(token) => {
                    oauth2::principal(authority.validate_bearer(&caller, &token).await?)
                }
            };
            Ok(pb::ValidateAccessResponse {
                principal: Some(principal),
            })
        })
        .await
    }

    async fn revoke(
        &self,
        request: Request<pb::RevokeRequest>,
    ) -> Result<Response<pb::RevokeResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "Revoke", async {
            if let Some(
                target @ (pb::revoke_request::Target::Oauth2Token(_)
                | pb::revoke_request::Target::Oauth2GrantId(_)),
            ) = message.target
            {
                let revoked =
                    oauth2::revoke(&self.0.authority, &caller, target, message.actor).await?;
                return Ok(pb::RevokeResponse {
                    revoked: u32::try_from(revoked).unwrap_or(u32::MAX),
                });
            }
            let target = match message.target {
                Some(pb::revoke_request::Target::TokenId(id)) => Some(RevokeTarget::Token(
                    uuid::Uuid::parse_str(&id)
                        .map_err(|_| AuthorityError::invalid("token_id", "not a token id"))?,
                )),
                Some(pb::revoke_request::Target::UserGrants(grants)) => {
                    Some(RevokeTarget::UserGrants {
                        user_id: grants.user_id,
                        consumer_key: grants.consumer_key,
                    })
                }
                Some(pb::revoke_request::Target::ConsumerKey(key)) => {
                    Some(RevokeTarget::Consumer(key))
                }
                Some(
                    pb::revoke_request::Target::Oauth2Token(_)
                    | pb::revoke_request::Target::Oauth2GrantId(_),
                )
                | None => None,
            };
            let named = |target: Option<RevokeTarget>| {
                target.ok_or_else(|| {
                    AuthorityError::invalid("target", "name a token, a user's grants or a consumer")
                })
            };
            let authority = &self.0.authority;
            let revoked = match &message.actor {
                // The signed body names the target; `target` may be left out, and if
                // set must name the same one.
                Some(pb::revoke_request::Actor::Consumer(signed)) => {
                    authority
                        .revoke_as_consumer(&signed_request(signed), target.as_ref())
                        .await?
                }
                Some(pb::revoke_request::Actor::UserId(user_id)) => {
                    let actor = RevokeActor::User(user_id);
                    authority.revoke(&caller, actor, &named(target)?).await?
                }
                Some(pb::revoke_request::Actor::Admin(_)) => {
                    let actor = RevokeActor::Admin;
                    authority.revoke(&caller, actor, &named(target)?).await?
                }
                Some(pb::revoke_request::Actor::Oauth2Client(_)) => {
                    return Err(AuthorityError::invalid(
                        "actor",
                        "an OAuth 2.0 client revokes only with oauth2_token",
                    ));
                }
                None => {
                    return Err(AuthorityError::invalid(
                        "actor",
                        "say who asks: a consumer, a user or an admin",
                    ));
                }
            };
            self.0.metrics.tokens(TokenEvent::Revoked, revoked);
            Ok(pb::RevokeResponse {
                revoked: u32::try_from(revoked).unwrap_or(u32::MAX),
            })
        })
        .await
    }

    async fn list_authorizations(
        &self,
        request: Request<pb::ListAuthorizationsRequest>,
    ) -> Result<Response<pb::ListAuthorizationsResponse>, Status> {
        let caller = self.0.caller(&request).await?;
        let message = request.into_inner();
        observe(&self.0, "ListAuthorizations", async {
            let grants = self
                .0
                .authority
                .list_authorizations(&caller, &message.user_id)
                .await?;
            let oauth2_grants = self
                .0
                .authority
                .list_oauth2_authorizations(&caller, &message.user_id)
                .await?;
            Ok(pb::ListAuthorizationsResponse {
                authorizations: grants
                    .into_iter()
                    .map(|grant| pb::Authorization {
                        token_id: grant.token_id.to_string(),
                        consumer_key: grant.consumer_key,
                        consumer_name: grant.consumer_name,
                        issued_at: Some(timestamp(grant.times.created_at)),
                        expires_at: Some(timestamp(grant.times.expires_at)),
                        last_used_at: Some(timestamp(grant.times.last_used_at)),
                        kind: pb::AuthorizationKind::Oauth1 as i32,
                        scopes: Vec::new(),
                    })
                    .chain(oauth2_grants.into_iter().map(oauth2::authorization))
                    .collect(),
            })
        })
        .await
    }
}
