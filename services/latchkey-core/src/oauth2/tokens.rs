//! After the OAuth 2.0 grant: refresh with rotation, bearer validation, revocation
//! (RFC 7009), introspection (RFC 7662) and a user's grants.
//!
//! Refresh tokens rotate: each use returns a new one and retires the old. A retired
//! refresh token presented again means two parties hold it, so the whole grant (the
//! family: every access and refresh token issued from one code) is revoked, as RFC
//! 9700 section 4.14.2 advises. Two concurrent refreshes with one token are the same
//! case: the store lets exactly one rotate; the other is refused as a reuse and
//! revokes the family, including the tokens the winner just received. A client that
//! retries refreshes in parallel therefore loses its grant: that is deliberate, since
//! the server cannot tell such a retry from a thief racing the client.

use super::grant::{IssuedOAuth2Tokens, OAuth2ClientCredentials, OAuth2TokenRequest};
use crate::authority::{Authority, Caller, validate_user_id};
use crate::credentials::Role;
use crate::error::{AuthorityError, AuthorityResult};
use crate::oauth2::records::{
    OAuth2ClientRecord, OAuth2GrantListing, OAuth2TokenKind, OAuth2TokenRecord,
};
use crate::oauth2::{OAuth2Error, scope};
use crate::records::{AuditAction, AuditEvent};
use crate::secret::TokenHash;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// On whose behalf a bearer access token acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerPrincipal {
    /// The user who granted it.
    pub user_id: String,
    /// The client holding it.
    pub client_id: String,
    /// The access token's id.
    pub token_id: Uuid,
    /// Its grant.
    pub grant_id: Uuid,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Who introspects (RFC 7662 section 2.1: the caller must authenticate).
#[derive(Debug, Clone)]
pub enum Introspector {
    /// A client: it sees only its own tokens as active.
    Client(OAuth2ClientCredentials),
    /// A caller with the service (or admin) credential: sees every token.
    Service(Caller),
}

/// An introspection answer (RFC 7662 section 2.2). Inactive tokens say nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Introspection {
    /// Whether the token is live.
    pub active: bool,
    /// The rest, when active.
    pub token: Option<IntrospectedToken>,
}

/// What an active token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectedToken {
    /// `access_token` or `refresh_token`.
    pub kind: OAuth2TokenKind,
    /// `client_id`.
    pub client_id: String,
    /// `sub` and `username`: the user.
    pub user_id: String,
    /// `scope`.
    pub scopes: Vec<String>,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
}

/// Who asks to revoke an OAuth 2.0 grant through the gRPC API.
#[derive(Debug, Clone, Copy)]
pub enum GrantRevoker<'a> {
    /// A user, through the frontend.
    User(&'a str),
    /// An admin.
    Admin,
}

fn live(token: &OAuth2TokenRecord, now: DateTime<Utc>) -> bool {
    token.revoked_at.is_none() && token.rotated_at.is_none() && now < token.expires_at
}

impl Authority {
    pub(super) async fn refresh(
        &self,
        client: &OAuth2ClientRecord,
        request: &OAuth2TokenRequest,
    ) -> AuthorityResult<IssuedOAuth2Tokens> {
        let grant_error = |detail: &str| AuthorityError::oauth2(OAuth2Error::InvalidGrant, detail);
        if request.refresh_token.is_empty() {
            return Err(AuthorityError::oauth2(
                OAuth2Error::InvalidRequest,
                "refresh_token is required",
            ));
        }
        let token = self
            .store
            .find_oauth2_token(&TokenHash::of(&request.refresh_token))
            .await?
            .filter(|t| t.kind == OAuth2TokenKind::Refresh && t.client_id == client.client_id)
            .ok_or_else(|| grant_error("no such refresh token for this client"))?;
        if token.revoked_at.is_some() {
            return Err(grant_error("the refresh token was revoked"));
        }
        if token.rotated_at.is_some() {
            self.revoke_family(&token, "refresh token reused").await?;
            return Err(grant_error(
                "the refresh token was already used; its grant is revoked",
            ));
        }
        let now = self.now();
        if now >= token.expires_at {
            return Err(grant_error("the refresh token has expired"));
        }
        let grant = self
            .store
            .get_oauth2_grant(token.grant_id)
            .await?
            .ok_or_else(|| grant_error("the refresh token's grant is gone"))?;
        let requested = scope::parse(&request.scope).ok_or_else(|| {
            AuthorityError::oauth2(OAuth2Error::InvalidScope, "the scope is malformed")
        })?;
        let access_scopes = if requested.is_empty() {
            grant.scopes.clone()
        } else if scope::all_within(&requested, &grant.scopes) {
            requested
        } else {
            return Err(AuthorityError::oauth2(
                OAuth2Error::InvalidScope,
                "a refresh may only narrow the granted scope",
            ));
        };
        let (issued, tokens) = self.new_token_pair(client, &grant, &access_scopes, now);
        let mut audit = self.audit(
            AuditAction::OAuth2TokensRefreshed,
            format!("client:{}", client.client_id),
        );
        audit.consumer_key = Some(client.client_id.clone());
        audit.user_id = Some(grant.user_id.clone());
        audit.token_id = Some(grant.id);
        if !self
            .store
            .rotate_refresh_token(token.id, grant.id, now, &tokens, &audit)
            .await?
        {
            // Another rotation won, or the family was revoked meanwhile.
            self.revoke_family(&token, "refresh token reused concurrently")
                .await?;
            return Err(grant_error(
                "the refresh token was already used; its grant is revoked",
            ));
        }
        Ok(issued)
    }

    async fn revoke_family(&self, token: &OAuth2TokenRecord, why: &str) -> AuthorityResult<u64> {
        let mut audit = self.audit(
            AuditAction::OAuth2GrantRevoked,
            format!("client:{}", token.client_id),
        );
        audit.consumer_key = Some(token.client_id.clone());
        audit.user_id = Some(token.user_id.clone());
        audit.token_id = Some(token.grant_id);
        audit.detail = why.to_owned();
        self.revoke_oauth2_grant_now(token.grant_id, &audit).await
    }

    /// Revokes a grant and its tokens, and forgets cached tokens.
    pub(super) async fn revoke_oauth2_grant_now(
        &self,
        grant_id: Uuid,
        audit: &AuditEvent,
    ) -> AuthorityResult<u64> {
        self.revoking(self.store.revoke_oauth2_grant(grant_id, self.now(), audit))
            .await
    }

    /// Validates a bearer access token (RFC 6750). Requires the service credential
    /// when the policy says so, as OAuth 1.0a validation does.
    pub async fn validate_bearer(
        &self,
        caller: &Caller,
        access_token: &str,
    ) -> AuthorityResult<BearerPrincipal> {
        if self.policy.require_service_credential {
            caller.require_any(&[Role::Service, Role::Admin], "ValidateAccess")?;
        }
        let invalid = |detail: &str| AuthorityError::oauth2(OAuth2Error::InvalidToken, detail);
        // Every refusal a cached copy gives is final: revocation and expiry only ever
        // come sooner, and a revocation empties the caches on every replica.
        let token = self
            .hot_oauth2_token(&TokenHash::of(access_token))
            .await?
            .filter(|t| t.kind == OAuth2TokenKind::Access)
            .ok_or_else(|| invalid("no such access token"))?;
        if token.revoked_at.is_some() {
            return Err(invalid("the access token was revoked"));
        }
        if self.now() >= token.expires_at {
            return Err(invalid("the access token has expired"));
        }
        let enabled = self
            .hot_oauth2_client(&token.client_id)
            .await?
            .is_some_and(|c| c.enabled);
        if !enabled {
            return Err(invalid("the token's client is disabled or gone"));
        }
        Ok(BearerPrincipal {
            user_id: token.user_id,
            client_id: token.client_id,
            token_id: token.id,
            grant_id: token.grant_id,
            scopes: token.scopes,
            expires_at: token.expires_at,
        })
    }

    /// RFC 7009: a client revokes one of its tokens. A refresh token takes its whole
    /// grant with it; an access token goes alone. An unknown token is not an error
    /// (section 2.2); a token of another client is refused. Returns how many live
    /// tokens were revoked.
    pub async fn revoke_oauth2_token(
        &self,
        credentials: &OAuth2ClientCredentials,
        token_value: &str,
    ) -> AuthorityResult<u64> {
        let client = self.authenticate_oauth2_client(credentials).await?;
        if token_value.is_empty() {
            return Err(AuthorityError::oauth2(
                OAuth2Error::InvalidRequest,
                "token is required",
            ));
        }
        let Some(token) = self
            .store
            .find_oauth2_token(&TokenHash::of(token_value))
            .await?
        else {
            return Ok(0);
        };
        if token.client_id != client.client_id {
            return Err(AuthorityError::oauth2(
                OAuth2Error::UnauthorizedClient,
                "the token was not issued to this client",
            ));
        }
        match token.kind {
            OAuth2TokenKind::Refresh => self.revoke_family(&token, "refresh token revoked").await,
            OAuth2TokenKind::Access => {
                let mut audit = self.audit(
                    AuditAction::OAuth2TokenRevoked,
                    format!("client:{}", client.client_id),
                );
                audit.consumer_key = Some(client.client_id.clone());
                audit.user_id = Some(token.user_id.clone());
                audit.token_id = Some(token.id);
                self.revoking(self.store.revoke_oauth2_token(token.id, self.now(), &audit))
                    .await
            }
        }
    }

    /// A user (through the frontend) or an admin revokes a grant by the id
    /// ListAuthorizations gives, with every token in it.
    pub async fn revoke_oauth2_grant(
        &self,
        caller: &Caller,
        revoker: GrantRevoker<'_>,
        grant_id: Uuid,
    ) -> AuthorityResult<u64> {
        let actor = match revoker {
            GrantRevoker::Admin => {
                caller.require_any(&[Role::Admin], "Revoke as admin")?;
                "admin".to_owned()
            }
            GrantRevoker::User(user_id) => {
                caller.require_any(&[Role::Frontend], "Revoke as a user")?;
                validate_user_id(user_id)?;
                format!("user:{user_id}")
            }
        };
        let grant = self
            .store
            .get_oauth2_grant(grant_id)
            .await?
            .ok_or_else(|| AuthorityError::not_found(None, "no OAuth 2.0 grant has this id"))?;
        if let GrantRevoker::User(user_id) = revoker
            && grant.user_id != user_id
        {
            return Err(AuthorityError::permission_denied(
                "a user may revoke only their own grants",
            ));
        }
        let mut audit = self.audit(AuditAction::OAuth2GrantRevoked, actor);
        audit.consumer_key = Some(grant.client_id.clone());
        audit.user_id = Some(grant.user_id.clone());
        audit.token_id = Some(grant.id);
        self.revoke_oauth2_grant_now(grant.id, &audit).await
    }

    /// RFC 7662 introspection.
    pub async fn introspect_oauth2(
        &self,
        introspector: &Introspector,
        token_value: &str,
    ) -> AuthorityResult<Introspection> {
        let own_client = match introspector {
            Introspector::Client(credentials) => Some(
                self.authenticate_oauth2_client(credentials)
                    .await?
                    .client_id,
            ),
            Introspector::Service(caller) => {
                caller.require_any(&[Role::Service, Role::Admin], "introspection")?;
                None
            }
        };
        if token_value.is_empty() {
            return Err(AuthorityError::oauth2(
                OAuth2Error::InvalidRequest,
                "token is required",
            ));
        }
        let Some(token) = self
            .store
            .find_oauth2_token(&TokenHash::of(token_value))
            .await?
        else {
            return Ok(Introspection::default());
        };
        let visible = own_client.is_none_or(|id| id == token.client_id);
        let enabled = self
            .store
            .get_oauth2_client(&token.client_id)
            .await?
            .is_some_and(|c| c.enabled);
        if !visible || !enabled || !live(&token, self.now()) {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            token: Some(IntrospectedToken {
                kind: token.kind,
                client_id: token.client_id,
                user_id: token.user_id,
                scopes: token.scopes,
                issued_at: token.created_at,
                expires_at: token.expires_at,
            }),
        })
    }

    /// A user's live OAuth 2.0 grants. Frontend or admin credential.
    pub async fn list_oauth2_authorizations(
        &self,
        caller: &Caller,
        user_id: &str,
    ) -> AuthorityResult<Vec<OAuth2GrantListing>> {
        caller.require_any(&[Role::Frontend, Role::Admin], "ListAuthorizations")?;
        validate_user_id(user_id)?;
        Ok(self
            .store
            .list_live_oauth2_grants(user_id, self.now())
            .await?)
    }
}
