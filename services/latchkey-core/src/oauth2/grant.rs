//! The OAuth 2.0 authorization-code grant (RFC 6749 section 4.1, RFC 7636, RFC 9700).
//!
//! - [`Authority::authorize_oauth2`]: the consent frontend passes the authorization
//!   request as the browser brought it, with the user's decision. An unknown client or
//!   a redirect URI that is not registered exactly is an error for the user (`Err`):
//!   redirecting there would make Latchkey an open redirector. Every other problem,
//!   and a denial, goes back to the client's redirect URI with `error=` and `state`.
//!   Without a decision the request is only checked and described. Every redirect,
//!   success or error, carries `iss` (RFC 9207): [`issuer`], the same string the
//!   server's RFC 8414 metadata names, so a client talking to several servers can
//!   tell which one answered (mix-up defence). Parameters the request does not define
//!   here are ignored, as RFC 6749 section 3.1 requires.
//! - [`Authority::exchange_oauth2`]: the token endpoint, for `authorization_code` here
//!   and `refresh_token` in [`super::tokens`].
//!
//! Clients authenticate through [`crate::oauth2::secret_checks`], which runs argon2
//! off the async runtime, a bounded number at a time, and gives an unknown client id
//! the same work as a wrong secret.
//!
//! A code is bound to the redirect URI the authorization request named. When the
//! request left `redirect_uri` out (the client registered exactly one), the token
//! request may leave it out too or send that registered URI: RFC 6749 section 4.1.3
//! asks for equality only with a URI the authorization request included, and the
//! registered one is where the code went. Any other URI is refused.
//!
//! A code is single use. Its redemption is one guarded update in the store, so of any
//! number of concurrent redemptions on any replicas exactly one gets tokens. Any other
//! use of a redeemed code (a replay, or the loser of that race) revokes the grant the
//! code started (RFC 6749 section 4.1.2: the code may have leaked).

use crate::authority::UserDecision;
use crate::authority::{Authority, Caller, validate_user_id};
use crate::credentials::Role;
use crate::error::{AuthorityError, AuthorityResult};
use crate::oauth2::pkce::{self, PkceMethod};
use crate::oauth2::records::{
    AuthorizationCodeRecord, OAuth2ClientRecord, OAuth2GrantRecord, OAuth2TokenKind,
    OAuth2TokenRecord,
};
use crate::oauth2::{OAuth2Error, scope};
use crate::records::{AuditAction, new_record_id};
use crate::secret::{TokenHash, new_token_value};
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use uuid::Uuid;

/// An authorization request as the browser brought it (RFC 6749 section 4.1.1).
#[derive(Debug, Clone, Default)]
pub struct OAuth2AuthorizationRequest {
    /// `response_type`; must be `code`.
    pub response_type: String,
    /// `client_id`.
    pub client_id: String,
    /// `redirect_uri`; may be empty when the client registered exactly one.
    pub redirect_uri: String,
    /// `scope`, space-delimited; empty for every scope the client may ask for.
    pub scope: String,
    /// `state`, returned unchanged.
    pub state: String,
    /// `code_challenge`.
    pub code_challenge: String,
    /// `code_challenge_method`.
    pub code_challenge_method: String,
}

/// What became of an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2AuthorizeOutcome {
    /// The client's display name, for the consent screen.
    pub client_name: String,
    /// The scopes asked for (all the client may ask for when none were named).
    pub scopes: Vec<String>,
    /// The registered redirect URI the answer goes to, for the consent screen.
    pub redirect_uri: String,
    /// Where to send the browser; `None` when the request was only checked.
    pub redirect_url: Option<String>,
    /// The error sent to the client's redirect URI, if any.
    pub error: Option<OAuth2Error>,
}

/// How a client authenticates at the token, revocation and introspection endpoints.
#[derive(Debug, Clone)]
pub struct OAuth2ClientCredentials {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`; `None` for a public client.
    pub client_secret: Option<SecretString>,
}

/// A token request (RFC 6749 sections 4.1.3 and 6).
#[derive(Debug, Clone)]
pub struct OAuth2TokenRequest {
    /// `grant_type`.
    pub grant_type: String,
    /// `code`.
    pub code: String,
    /// `redirect_uri`.
    pub redirect_uri: String,
    /// `code_verifier`.
    pub code_verifier: String,
    /// `refresh_token`.
    pub refresh_token: String,
    /// `scope`.
    pub scope: String,
    /// The client's credentials.
    pub client: OAuth2ClientCredentials,
}

/// Tokens issued by the token endpoint, shown to the client once.
#[derive(Debug)]
pub struct IssuedOAuth2Tokens {
    /// The bearer access token.
    pub access_token: SecretString,
    /// The refresh token that replaces the one presented, if any.
    pub refresh_token: SecretString,
    /// How long the access token lives.
    pub expires_in: Duration,
    /// When the access token ends.
    pub expires_at: DateTime<Utc>,
    /// The access token's scopes.
    pub scopes: Vec<String>,
    /// The grant the tokens belong to.
    pub grant_id: Uuid,
}

/// The issuer identifier (RFC 8414 section 2, RFC 9207): the public base URL as
/// configured, without a trailing slash. The metadata's `issuer` and every
/// authorization response's `iss` are this one string.
pub fn issuer(public_base_url: &str) -> &str {
    public_base_url.trim_end_matches('/')
}

fn redirect_with(base: &str, pairs: &[(&str, &str)]) -> AuthorityResult<String> {
    let mut url = url::Url::parse(base).map_err(Authority::internal)?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
    }
    Ok(url.to_string())
}

/// RFC 6749 section 4.1.3: the token request's `redirect_uri` must equal the one the
/// authorization request included. When that request left it out, the code went to
/// the client's only registered URI, so leaving it out again or sending exactly that
/// URI both match; anything else does not.
fn redirect_uri_matches(
    code: &AuthorizationCodeRecord,
    client: &OAuth2ClientRecord,
    sent: &str,
) -> bool {
    if !code.redirect_uri.is_empty() {
        return code.redirect_uri == sent;
    }
    match (sent, client.redirect_uris.as_slice()) {
        ("", _) => true,
        (sent, [only]) => only == sent,
        _ => false,
    }
}

fn grant_error(detail: impl Into<String>) -> AuthorityError {
    AuthorityError::oauth2(OAuth2Error::InvalidGrant, detail)
}

impl Authority {
    /// Checks an authorization request and, with a decision, records it. Frontend
    /// credential. See the module documentation for which failures are `Err`.
    pub async fn authorize_oauth2(
        &self,
        caller: &Caller,
        request: &OAuth2AuthorizationRequest,
        user_id: &str,
        decision: Option<UserDecision>,
    ) -> AuthorityResult<OAuth2AuthorizeOutcome> {
        caller.require_any(&[Role::Frontend], "Authorize")?;
        if decision.is_some() {
            validate_user_id(user_id)?;
        }
        let client = self
            .store
            .get_oauth2_client(&request.client_id)
            .await?
            .filter(|c| c.enabled)
            .ok_or_else(|| {
                AuthorityError::invalid("client_id", "no enabled OAuth 2.0 client has this id")
            })?;
        let redirect_uri = match request.redirect_uri.as_str() {
            "" => match client.redirect_uris.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(AuthorityError::invalid(
                        "redirect_uri",
                        "redirect_uri is required: the client registered several",
                    ));
                }
            },
            given if client.redirect_uris.iter().any(|r| r == given) => given.to_owned(),
            _ => {
                return Err(AuthorityError::invalid(
                    "redirect_uri",
                    "the redirect_uri is not registered for this client",
                ));
            }
        };
        let issuer = issuer(&self.policy.public_base_url);
        let mut outcome = OAuth2AuthorizeOutcome {
            client_name: client.name.clone(),
            scopes: Vec::new(),
            redirect_uri: redirect_uri.clone(),
            redirect_url: None,
            error: None,
        };
        let checked = self.check_authorization_request(&client, request);
        let (scopes, pkce) = match checked {
            Ok(checked) => checked,
            Err((error, detail)) => {
                tracing::info!(client_id = %client.client_id, error = %error, detail, "authorization request refused");
                outcome.error = Some(error);
                outcome.redirect_url = Some(redirect_with(
                    &redirect_uri,
                    &[
                        ("error", error.as_str()),
                        ("error_description", detail),
                        ("state", &request.state),
                        ("iss", issuer),
                    ],
                )?);
                return Ok(outcome);
            }
        };
        outcome.scopes = scopes.clone();
        match decision {
            None => Ok(outcome),
            Some(UserDecision::Deny) => {
                outcome.error = Some(OAuth2Error::AccessDenied);
                outcome.redirect_url = Some(redirect_with(
                    &redirect_uri,
                    &[
                        ("error", OAuth2Error::AccessDenied.as_str()),
                        ("state", &request.state),
                        ("iss", issuer),
                    ],
                )?);
                Ok(outcome)
            }
            Some(UserDecision::Approve) => {
                let code = new_token_value(self.randomness.as_ref());
                let now = self.now();
                let record = AuthorizationCodeRecord {
                    id: new_record_id(),
                    code_hash: TokenHash::of(&code),
                    client_id: client.client_id.clone(),
                    user_id: user_id.to_owned(),
                    redirect_uri: request.redirect_uri.clone(),
                    scopes,
                    pkce,
                    created_at: now,
                    expires_at: now + self.policy.oauth2.code_ttl,
                    redeemed_at: None,
                    grant_id: None,
                };
                let mut audit =
                    self.audit(AuditAction::OAuth2CodeIssued, format!("user:{user_id}"));
                audit.consumer_key = Some(client.client_id.clone());
                audit.user_id = Some(user_id.to_owned());
                audit.token_id = Some(record.id);
                self.store
                    .insert_authorization_code(&record, &audit)
                    .await?;
                outcome.redirect_url = Some(redirect_with(
                    &redirect_uri,
                    &[("code", &code), ("state", &request.state), ("iss", issuer)],
                )?);
                Ok(outcome)
            }
        }
    }

    /// The checks whose failures go back to the client: response type, scope, PKCE.
    #[allow(clippy::type_complexity)]
    fn check_authorization_request(
        &self,
        client: &OAuth2ClientRecord,
        request: &OAuth2AuthorizationRequest,
    ) -> Result<(Vec<String>, Option<(String, PkceMethod)>), (OAuth2Error, &'static str)> {
        match request.response_type.as_str() {
            "code" => {}
            "" => return Err((OAuth2Error::InvalidRequest, "response_type is required")),
            _ => {
                return Err((
                    OAuth2Error::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        let requested = scope::parse(&request.scope)
            .ok_or((OAuth2Error::InvalidScope, "the scope is malformed"))?;
        let scopes = if requested.is_empty() {
            client.scopes.clone()
        } else if scope::all_within(&requested, &client.scopes) {
            requested
        } else {
            return Err((
                OAuth2Error::InvalidScope,
                "a requested scope is not allowed for this client",
            ));
        };
        let pkce = match (
            request.code_challenge.as_str(),
            request.code_challenge_method.as_str(),
        ) {
            ("", "") if client.is_confidential() => None,
            ("", "") => {
                return Err((
                    OAuth2Error::InvalidRequest,
                    "a public client must send a PKCE code_challenge (S256)",
                ));
            }
            ("", _) => {
                return Err((
                    OAuth2Error::InvalidRequest,
                    "code_challenge_method without code_challenge",
                ));
            }
            (challenge, method) => {
                let method = PkceMethod::parse(method).ok_or((
                    OAuth2Error::InvalidRequest,
                    "code_challenge_method must be S256",
                ))?;
                if method == PkceMethod::Plain && !self.policy.oauth2.allow_plain_pkce {
                    return Err((
                        OAuth2Error::InvalidRequest,
                        "transform algorithm not supported: use code_challenge_method=S256",
                    ));
                }
                if !pkce::well_formed(challenge) {
                    return Err((
                        OAuth2Error::InvalidRequest,
                        "the code_challenge is malformed",
                    ));
                }
                Some((challenge.to_owned(), method))
            }
        };
        Ok((scopes, pkce))
    }

    /// Authenticates a client at a token-side endpoint (RFC 6749 section 2.3). Every
    /// failure is `invalid_client`, whatever the reason, so nothing tells which ids
    /// exist.
    pub(super) async fn authenticate_oauth2_client(
        &self,
        credentials: &OAuth2ClientCredentials,
    ) -> AuthorityResult<OAuth2ClientRecord> {
        let refused =
            || AuthorityError::oauth2(OAuth2Error::InvalidClient, "client authentication failed");
        if credentials.client_id.is_empty() {
            return Err(refused());
        }
        let Some(client) = self
            .store
            .get_oauth2_client(&credentials.client_id)
            .await?
            .filter(|c| c.enabled)
        else {
            // The same work as a generated secret's check.
            if let Some(secret) = &credentials.client_secret {
                self.client_secrets.check_unknown_client(secret);
            }
            return Err(refused());
        };
        let authenticated = match (&client.secret_hash, &credentials.client_secret) {
            (Some(hash), Some(secret)) => {
                self.client_secrets
                    .matches(&client.client_id, secret, hash)
                    .await?
            }
            // A public client identifies itself; presenting a secret it does not have
            // is a mistake worth refusing.
            (None, None) => true,
            _ => false,
        };
        if !authenticated {
            return Err(refused());
        }
        Ok(client)
    }

    /// The token endpoint (RFC 6749 sections 4.1.3 and 6).
    pub async fn exchange_oauth2(
        &self,
        request: &OAuth2TokenRequest,
    ) -> AuthorityResult<IssuedOAuth2Tokens> {
        let client = self.authenticate_oauth2_client(&request.client).await?;
        match request.grant_type.as_str() {
            "authorization_code" => self.redeem_code(&client, request).await,
            "refresh_token" => self.refresh(&client, request).await,
            "" => Err(AuthorityError::oauth2(
                OAuth2Error::InvalidRequest,
                "grant_type is required",
            )),
            _ => Err(AuthorityError::oauth2(
                OAuth2Error::UnsupportedGrantType,
                "grant_type must be authorization_code or refresh_token",
            )),
        }
    }

    async fn redeem_code(
        &self,
        client: &OAuth2ClientRecord,
        request: &OAuth2TokenRequest,
    ) -> AuthorityResult<IssuedOAuth2Tokens> {
        if request.code.is_empty() {
            return Err(AuthorityError::oauth2(
                OAuth2Error::InvalidRequest,
                "code is required",
            ));
        }
        let code = self
            .store
            .find_authorization_code(&TokenHash::of(&request.code))
            .await?
            .filter(|c| c.client_id == client.client_id)
            .ok_or_else(|| grant_error("no such code for this client"))?;
        let now = self.now();
        if code.redeemed_at.is_some() {
            self.revoke_family_of_code(&code).await?;
            return Err(grant_error(
                "the code was already used; the tokens issued from it are revoked",
            ));
        }
        if now >= code.expires_at {
            return Err(grant_error("the code has expired"));
        }
        if !redirect_uri_matches(&code, client, &request.redirect_uri) {
            return Err(grant_error(
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&code.pkce, request.code_verifier.as_str()) {
            (None, "") => {}
            (None, _) => {
                return Err(grant_error(
                    "code_verifier sent, but the authorization request had no code_challenge",
                ));
            }
            (Some(_), "") => return Err(grant_error("code_verifier is required")),
            (Some((challenge, method)), verifier) => {
                if !pkce::verifies(*method, challenge, verifier) {
                    return Err(grant_error("the code_verifier does not match"));
                }
            }
        }

        let grant = OAuth2GrantRecord {
            id: new_record_id(),
            client_id: client.client_id.clone(),
            user_id: code.user_id.clone(),
            scopes: code.scopes.clone(),
            code_id: code.id,
            created_at: now,
            expires_at: now + self.policy.oauth2.refresh_max_for(client),
            refreshed_at: now,
            revoked_at: None,
        };
        let (issued, tokens) = self.new_token_pair(client, &grant, &code.scopes, now);
        let mut audit = self.audit(
            AuditAction::OAuth2CodeRedeemed,
            format!("client:{}", client.client_id),
        );
        audit.consumer_key = Some(client.client_id.clone());
        audit.user_id = Some(code.user_id.clone());
        audit.token_id = Some(grant.id);
        if !self
            .store
            .redeem_authorization_code(code.id, now, &grant, &tokens, &audit)
            .await?
        {
            // Another redemption won (or the code expired this instant): treat it as
            // the replay it is.
            if let Some(code) = self.store.find_authorization_code(&code.code_hash).await? {
                self.revoke_family_of_code(&code).await?;
            }
            return Err(grant_error(
                "the code was already used; the tokens issued from it are revoked",
            ));
        }
        Ok(issued)
    }

    /// A fresh access and refresh token for `grant`.
    pub(super) fn new_token_pair(
        &self,
        client: &OAuth2ClientRecord,
        grant: &OAuth2GrantRecord,
        access_scopes: &[String],
        now: DateTime<Utc>,
    ) -> (IssuedOAuth2Tokens, [OAuth2TokenRecord; 2]) {
        let access = new_token_value(self.randomness.as_ref());
        let refresh = new_token_value(self.randomness.as_ref());
        let access_ttl = self.policy.oauth2.access_token_ttl_for(client);
        let refresh_end = (now + self.policy.oauth2.refresh_idle_for(client)).min(grant.expires_at);
        let record = |kind, value: &str, scopes: &[String], expires_at| OAuth2TokenRecord {
            id: new_record_id(),
            token_hash: TokenHash::of(value),
            kind,
            grant_id: grant.id,
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            scopes: scopes.to_vec(),
            created_at: now,
            expires_at,
            revoked_at: None,
            rotated_at: None,
        };
        let tokens = [
            record(
                OAuth2TokenKind::Access,
                &access,
                access_scopes,
                now + access_ttl,
            ),
            record(
                OAuth2TokenKind::Refresh,
                &refresh,
                &grant.scopes,
                refresh_end,
            ),
        ];
        let issued = IssuedOAuth2Tokens {
            access_token: access.into(),
            refresh_token: refresh.into(),
            expires_in: access_ttl,
            expires_at: now + access_ttl,
            scopes: access_scopes.to_vec(),
            grant_id: grant.id,
        };
        (issued, tokens)
    }

    async fn revoke_family_of_code(&self, code: &AuthorizationCodeRecord) -> AuthorityResult<()> {
        let Some(grant_id) = code.grant_id else {
            return Ok(());
        };
        let mut audit = self.audit(
            AuditAction::OAuth2GrantRevoked,
            format!("client:{}", code.client_id),
        );
        audit.consumer_key = Some(code.client_id.clone());
        audit.user_id = Some(code.user_id.clone());
        audit.token_id = Some(grant_id);
        audit.detail = "authorization code reused".into();
        self.revoke_oauth2_grant_now(grant_id, &audit).await?;
        Ok(())
    }
}
