//! `latchkey.v1.TokenAuthority`: the dance, validation, revocation, a user's grants.
//! A call either protocol can make is converted (in [`super::convert`]) into an input
//! that says which protocol it speaks; each arm then makes one core call.

use super::common::timestamp;
use super::convert::{AuthorizeInput, ExchangeTokenInput, RevokeInput, ValidateAccessInput};
use super::oauth1::{http_request, request_token_state, signed_request};
use super::{Handlers, oauth1, oauth2, observe};
use crate::metrics::TokenEvent;
use latchkey_api::v1 as pb;
use latchkey_api::v1::token_authority_server::TokenAuthority;
use latchkey_core::oauth1::access::AccessKind;
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
                    Ok(oauth1::decided(outcome))
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
                    Issued::Oauth1(oauth1::access_token(issued))
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
                    match principal.kind {
                        AccessKind::Granted => {}
                        AccessKind::TwoLegged => self.0.metrics.two_legged(false),
                        AccessKind::Impersonation => {
                            // Counted and logged, not written to the audit table: the
                            // hot path stays free of writes (see the README).
                            self.0.metrics.two_legged(true);
                            tracing::info!(
                                consumer = %principal.consumer_key,
                                user = principal.user_id.as_deref().unwrap_or(""),
                                "2-legged request impersonating a user"
                            );
                        }
                    }
                    oauth1::principal(principal)
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
            let authority = &self.0.authority;
            let revoked = match RevokeInput::try_from(message)? {
                RevokeInput::Consumer { signed, stated } => {
                    let signed = signed_request(&signed);
                    authority
                        .revoke_as_consumer(&signed, stated.as_ref())
                        .await?
                }
                RevokeInput::OAuth1 { revoker, target } => {
                    authority.revoke(&caller, revoker.oauth1(), &target).await?
                }
                RevokeInput::OAuth2(oauth2::Revocation::Token { client, token }) => {
                    authority.revoke_oauth2_token(&client, &token).await?
                }
                RevokeInput::OAuth2(oauth2::Revocation::Grant { revoker, grant_id }) => {
                    authority
                        .revoke_oauth2_grant(&caller, revoker.oauth2(), grant_id)
                        .await?
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
                    .map(oauth1::authorization)
                    .chain(oauth2_grants.into_iter().map(oauth2::authorization))
                    .collect(),
            })
        })
        .await
    }
}
