//! After the dance: validating resource requests (the hot path), revoking tokens, and
//! listing a user's grants. A consumer revokes only with a request signed to mean
//! that revocation ([`super::consumer_revoke`]).

use super::HttpRequest;
use super::consumer_revoke;
use super::dance::access_token_context;
use super::policy::AccessTokenEnd;
use super::records::{
    AccessTokenRecord, ConsumerTokenRecord, GrantRecord, RevocationSelector, RevokeTarget,
};
use super::request::REQUESTOR_ID;
use super::verify::{SignedRequest, TokenSecret};
use crate::authority::cached::Source;
use crate::authority::{Authority, Caller, validate_user_id};
use crate::credentials::Role;
use crate::error::{AuthorityError, AuthorityResult, OAuthFailure, Problem};
use crate::records::AuditAction;
use crate::secret::TokenHash;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// On whose behalf a validated request acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user it acts for: who granted the token; for a 2-legged request the
    /// consumer's "execute as" user, or the user it impersonates. `None` when a
    /// 2-legged request acts for no user.
    pub user_id: Option<String>,
    /// The consumer acting.
    pub consumer_key: String,
    /// How the request came to act for its user.
    pub kind: AccessKind,
    /// The access token's id; `None` for a 2-legged request, which has none.
    pub token_id: Option<Uuid>,
    /// When the token ends; `None` for a 2-legged request.
    pub expires_at: Option<DateTime<Utc>>,
}

/// How a validated request came to act for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    /// With an access token the user granted (the three-legged dance).
    Granted,
    /// 2-legged: the consumer alone, as its configured "execute as" user or as no one.
    TwoLegged,
    /// 2-legged, acting for the user named in `xoauth_requestor_id`.
    Impersonation,
}

/// Who asks for a revocation of a target they name. A consumer is not among them: it
/// proves itself with a signed revocation that names the target itself
/// ([`Authority::revoke_as_consumer`]).
#[derive(Debug, Clone, Copy)]
pub enum RevokeActor<'a> {
    /// A user, asserted by the frontend.
    User(&'a str),
    /// An admin.
    Admin,
}

/// Why an access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Revoked,
    Ended(AccessTokenEnd),
}

/// The party a revocation was authenticated as.
enum Party {
    Consumer(String),
    User(String),
    Admin,
}

impl Party {
    fn audit_name(&self) -> String {
        match self {
            Party::Consumer(key) => format!("consumer:{key}"),
            Party::User(id) => format!("user:{id}"),
            Party::Admin => "admin".into(),
        }
    }
}

impl Authority {
    /// Verifies a resource request signed with an access token and returns its
    /// principal. Requires the service credential when the policy says so.
    pub async fn validate_access(
        &self,
        caller: &Caller,
        http: &HttpRequest<'_>,
    ) -> AuthorityResult<Principal> {
        if self.policy.require_service_credential {
            caller.require_any(&[Role::Service, Role::Admin], "ValidateAccess")?;
        }
        let request = self.begin_signed(http).await?;
        if request
            .oauth
            .protocol
            .token
            .as_deref()
            .is_none_or(str::is_empty)
        {
            return self.two_legged(&request).await;
        }
        if request.oauth.requestor_id.is_some() {
            return Err(OAuthFailure::with_parameters(
                Problem::ParameterRejected,
                "xoauth_requestor_id names a user only in a 2-legged request (no oauth_token)",
                [REQUESTOR_ID],
            )
            .into());
        }
        let token = self.live_access_token_of(&request).await?;
        let idle_setting = request.consumer.access_token_idle_seconds;
        if self
            .policy
            .oauth1
            .should_record_use(token.times(), idle_setting, request.now)
        {
            self.store
                .record_access_token_use(token.id, request.now)
                .await?;
            self.note_access_token_use(&token.token_hash, request.now);
        }
        let principal = Principal {
            expires_at: Some(self.policy.oauth1.access_token_expiry(token.times())),
            user_id: Some(token.user_id),
            consumer_key: token.consumer_key,
            kind: AccessKind::Granted,
            token_id: Some(token.id),
        };
        Ok(principal)
    }

    /// A request signed by the consumer alone (2-legged OAuth), as its link allows:
    /// the signature and nonce are checked as for any request, then the link's
    /// settings decide whom it acts for. A consumer learns whether its link allows
    /// this only with a request that verifies.
    async fn two_legged(&self, request: &SignedRequest) -> AuthorityResult<Principal> {
        self.finish_signed(request, None).await?;
        let link = &request.consumer.two_legged;
        let key = &request.consumer.key;
        if !link.allowed {
            return Err(AuthorityError::oauth(
                Problem::PermissionDenied,
                format!("consumer {key} may not make 2-legged requests"),
            ));
        }
        let (user_id, kind) = match &request.oauth.requestor_id {
            None => (link.execute_as.clone(), AccessKind::TwoLegged),
            Some(_) if !link.impersonation => {
                return Err(AuthorityError::oauth(
                    Problem::PermissionDenied,
                    format!("consumer {key} may not impersonate users"),
                ));
            }
            Some(user_id) => {
                validate_user_id(user_id).map_err(|_| {
                    OAuthFailure::with_parameters(
                        Problem::ParameterRejected,
                        "xoauth_requestor_id must be a user id: 1 to 255 characters, none of them control characters",
                        [REQUESTOR_ID],
                    )
                })?;
                (Some(user_id.clone()), AccessKind::Impersonation)
            }
        };
        Ok(Principal {
            user_id,
            consumer_key: key.clone(),
            kind,
            token_id: None,
            expires_at: None,
        })
    }

    /// Finds the request's access token, checks it is this consumer's, unrevoked and
    /// unexpired, then verifies the signature with its secret.
    async fn live_access_token_of(
        &self,
        request: &SignedRequest,
    ) -> AuthorityResult<AccessTokenRecord> {
        let value = request.oauth.protocol.token.as_deref().ok_or_else(|| {
            OAuthFailure::with_parameters(
                Problem::ParameterAbsent,
                "oauth_token is required",
                ["oauth_token"],
            )
        })?;
        let hash = TokenHash::of(value);
        let (mut token, source) = self
            .hot_access_token(&hash)
            .await?
            .filter(|(t, _)| t.consumer_key == request.consumer.key)
            .ok_or_else(|| {
                AuthorityError::oauth(
                    Problem::TokenRejected,
                    "no such access token for this consumer",
                )
            })?;
        // Revocation and expiry are read from the record on every call: they hold at
        // once, whatever the sweeper has or has not done. A cached record is dropped on
        // every replica when a token is revoked or its lifetime shortened, and the only
        // verdict a stale copy can get wrong is idleness (another replica may have used
        // the token since): that one is checked against the store before it is given.
        let idle_setting = request.consumer.access_token_idle_seconds;
        let mut refusal = self.refusal_of(&token, idle_setting, request.now);
        if refusal == Some(Refusal::Ended(AccessTokenEnd::Idle)) && source == Source::Cache {
            if let Some(fresh) = self.fresh_access_token(&hash).await? {
                token = fresh;
            }
            refusal = self.refusal_of(&token, idle_setting, request.now);
        }
        if let Some(refusal) = refusal {
            let (problem, detail) = match refusal {
                Refusal::Revoked => (Problem::TokenRevoked, "the access token was revoked"),
                Refusal::Ended(AccessTokenEnd::Expired) => {
                    (Problem::TokenExpired, "the access token has expired")
                }
                Refusal::Ended(AccessTokenEnd::Idle) => (
                    Problem::TokenExpired,
                    "the access token went unused for longer than its idle timeout",
                ),
            };
            return Err(AuthorityError::oauth(problem, detail));
        }
        self.finish_signed(
            request,
            Some(TokenSecret {
                sealed: &token.secret,
                context: access_token_context(token.id),
            }),
        )
        .await?;
        Ok(token)
    }

    /// Why `token` may not be used at `now`, if it may not.
    fn refusal_of(
        &self,
        token: &AccessTokenRecord,
        idle_setting: Option<i64>,
        now: DateTime<Utc>,
    ) -> Option<Refusal> {
        if token.revoked_at.is_some() {
            return Some(Refusal::Revoked);
        }
        self.policy
            .oauth1
            .access_token_end(token.times(), idle_setting, now)
            .map(Refusal::Ended)
    }

    /// Revokes the target if the actor may; returns how many live tokens it revoked.
    /// A refused request changes nothing.
    pub async fn revoke(
        &self,
        caller: &Caller,
        actor: RevokeActor<'_>,
        target: &RevokeTarget,
    ) -> AuthorityResult<u64> {
        let party = match actor {
            RevokeActor::Admin => {
                caller.require_any(&[Role::Admin], "Revoke as admin")?;
                Party::Admin
            }
            RevokeActor::User(user_id) => {
                caller.require_any(&[Role::Frontend], "Revoke as a user")?;
                validate_user_id(user_id)?;
                Party::User(user_id.to_owned())
            }
        };
        self.revoke_for(party, target).await
    }

    /// A consumer revokes its own tokens with a signed revocation: a `POST` to the
    /// revoke URL whose signed form body names the target (the rule is in
    /// [`consumer_revoke`]), so that no other request it ever signed can revoke.
    /// `stated` is the target the caller names beside the request (the RPC's
    /// `target`), if any: it is not signed, so it may only agree with the body, never
    /// choose. Returns how many live tokens it revoked; a refused request changes
    /// nothing.
    pub async fn revoke_as_consumer(
        &self,
        http: &HttpRequest<'_>,
        stated: Option<&RevokeTarget>,
    ) -> AuthorityResult<u64> {
        let request = self.begin_signed(http).await?;
        let revoke_url = consumer_revoke::revoke_url(&self.policy.public_base_url);
        let target = consumer_revoke::asked_target(http, &revoke_url)?;
        if stated.is_some_and(|stated| *stated != target) {
            return Err(OAuthFailure::with_parameters(
                Problem::ParameterRejected,
                "the target differs from the one the signed body names",
                ["target"],
            )
            .into());
        }
        if request.oauth.protocol.token.is_some() {
            self.live_access_token_of(&request).await?;
        } else {
            self.finish_signed(&request, None).await?;
        }
        self.revoke_for(Party::Consumer(request.consumer.key), &target)
            .await
    }

    /// Revokes the target if the authenticated party may.
    async fn revoke_for(&self, party: Party, target: &RevokeTarget) -> AuthorityResult<u64> {
        let (selector, consumer_key, user_id) = match target {
            RevokeTarget::Token(id) => {
                let token = self.store.get_access_token(*id).await?.ok_or_else(|| {
                    AuthorityError::not_found(
                        Some(Problem::TokenRejected),
                        "no access token has this id",
                    )
                })?;
                let allowed = match &party {
                    Party::Admin => true,
                    Party::User(user) => *user == token.user_id,
                    Party::Consumer(key) => *key == token.consumer_key,
                };
                if !allowed {
                    return Err(AuthorityError::permission_denied(format!(
                        "{} may not revoke another party's token",
                        party.audit_name()
                    )));
                }
                (
                    RevocationSelector::Token(*id),
                    token.consumer_key,
                    Some(token.user_id),
                )
            }
            RevokeTarget::UserGrants {
                user_id,
                consumer_key,
            } => {
                let allowed = match &party {
                    Party::Admin => true,
                    Party::User(user) => user == user_id,
                    Party::Consumer(key) => key == consumer_key,
                };
                if !allowed {
                    return Err(AuthorityError::permission_denied(format!(
                        "{} may not revoke another party's grants",
                        party.audit_name()
                    )));
                }
                self.existing_consumer(consumer_key).await?;
                (
                    RevocationSelector::UserGrants {
                        user_id: user_id.clone(),
                        consumer_key: consumer_key.clone(),
                    },
                    consumer_key.clone(),
                    Some(user_id.clone()),
                )
            }
            RevokeTarget::Consumer(consumer_key) => {
                let allowed = match &party {
                    Party::Admin => true,
                    Party::User(_) => false,
                    Party::Consumer(key) => key == consumer_key,
                };
                if !allowed {
                    return Err(AuthorityError::permission_denied(format!(
                        "{} may not revoke all of consumer {consumer_key}'s tokens",
                        party.audit_name()
                    )));
                }
                self.existing_consumer(consumer_key).await?;
                (
                    RevocationSelector::Consumer(consumer_key.clone()),
                    consumer_key.clone(),
                    None,
                )
            }
        };
        let mut audit = self.audit(AuditAction::AccessTokensRevoked, party.audit_name());
        audit.consumer_key = Some(consumer_key);
        audit.user_id = user_id;
        if let RevocationSelector::Token(id) = &selector {
            audit.token_id = Some(*id);
        }
        self.revoking(
            self.store
                .revoke_access_tokens(&selector, self.now(), &audit),
        )
        .await
    }

    /// A user's live grants. Frontend or admin credential.
    pub async fn list_authorizations(
        &self,
        caller: &Caller,
        user_id: &str,
    ) -> AuthorityResult<Vec<GrantRecord>> {
        caller.require_any(&[Role::Frontend, Role::Admin], "ListAuthorizations")?;
        validate_user_id(user_id)?;
        let now = self.now();
        let mut grants = self.store.list_live_grants(user_id, now).await?;
        grants.retain(|grant| {
            self.policy
                .oauth1
                .access_token_end(grant.times, grant.consumer_idle_seconds, now)
                .is_none()
        });
        for grant in &mut grants {
            grant.times.expires_at = self.policy.oauth1.access_token_expiry(grant.times);
        }
        Ok(grants)
    }

    /// A consumer's live access tokens, newest first, at most [`CONSUMER_TOKENS_SHOWN`]
    /// of them. Admin credential. "Live" is the policy's word, as for a user's grants:
    /// a token past its idle timeout or the maximum lifetime is not listed.
    pub async fn list_consumer_tokens(
        &self,
        caller: &Caller,
        consumer_key: &str,
    ) -> AuthorityResult<Vec<ConsumerTokenRecord>> {
        caller.require_any(&[Role::Admin], "ListConsumerTokens")?;
        let consumer = self.existing_consumer(consumer_key).await?;
        let now = self.now();
        let mut tokens = self
            .store
            .list_live_consumer_tokens(consumer_key, now, CONSUMER_TOKENS_SHOWN)
            .await?;
        let idle_setting = consumer.access_token_idle_seconds;
        tokens.retain(|token| {
            self.policy
                .oauth1
                .access_token_end(token.times, idle_setting, now)
                .is_none()
        });
        for token in &mut tokens {
            token.times.expires_at = self.policy.oauth1.access_token_expiry(token.times);
        }
        Ok(tokens)
    }
}

/// The most tokens [`Authority::list_consumer_tokens`] returns: a page for a person to
/// read, not an export. Revoking all of a consumer's tokens needs no list.
pub const CONSUMER_TOKENS_SHOWN: u64 = 500;
