//! The three legs of the OAuth 1.0a dance (RFC 5849 section 2).
//!
//! 1. [`Authority::issue_request_token`]: a consumer's signed request yields temporary
//!    credentials that live `request_token_ttl`.
//! 2. [`Authority::authorize`]: the user, through a trusted frontend, approves (yielding
//!    a verifier) or denies, exactly once.
//! 3. [`Authority::exchange_token`]: request token + verifier yield an access token,
//!    exactly once, even when many exchanges race.

use super::HttpRequest;
use super::consumer_rules::{OUT_OF_BAND, check_callback};
use super::opened_secrets::ACCESS_TOKEN_CONTEXT;
use super::records::{
    AccessTokenRecord, RequestTokenDecision, RequestTokenRecord, RequestTokenState,
};
use super::verify::TokenSecret;
use crate::authority::{Authority, Caller, UserDecision, validate_user_id};
use crate::credentials::Role;
use crate::error::{AuthorityError, AuthorityResult, OAuthFailure, Problem};
use crate::records::{AuditAction, new_record_id};
use crate::secret::{TokenHash, new_token_value, new_typable_code};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

/// Temporary credentials, shown to the consumer once.
#[derive(Debug)]
pub struct IssuedRequestToken {
    /// `oauth_token`.
    pub token: SecretString,
    /// `oauth_token_secret`.
    pub token_secret: SecretString,
    /// When the request token ends.
    pub expires_at: DateTime<Utc>,
    /// Where the consumer sends the user.
    pub authorize_url: String,
}

/// Where a request token stands, as a consent screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTokenStatus {
    /// Waiting for the user.
    Pending,
    /// Approved, waiting for the exchange.
    Approved,
    /// Denied.
    Denied,
    /// Past its lifetime.
    Expired,
    /// Exchanged, or killed by wrong verifiers.
    Used,
}

/// What a consent screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTokenView {
    /// The consumer's key.
    pub consumer_key: String,
    /// The consumer's name.
    pub consumer_name: String,
    /// The consumer's description.
    pub consumer_description: String,
    /// The callback, or `oob`.
    pub callback: String,
    /// Where the token stands.
    pub status: RequestTokenStatus,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// The outcome of a decision, for the frontend to act on.
#[derive(Debug)]
pub struct DecisionOutcome {
    /// The decision recorded.
    pub decision: UserDecision,
    /// The verifier, on approval.
    pub verifier: Option<SecretString>,
    /// Where to send the browser; `None` for `oob`.
    pub redirect_url: Option<String>,
    /// Whether the verifier is to be shown to the user as a code.
    pub out_of_band: bool,
}

/// Token credentials, shown to the consumer once.
#[derive(Debug)]
pub struct IssuedAccessToken {
    /// `oauth_token`.
    pub token: SecretString,
    /// `oauth_token_secret`.
    pub token_secret: SecretString,
    /// The token's id.
    pub token_id: Uuid,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// How long it lives from issue (Jira reports it as `oauth_expires_in`).
    pub lifetime: chrono::Duration,
}

/// The sealing context of a request token's secret.
pub(crate) fn request_token_context(id: Uuid) -> String {
    format!("request_token:{id}")
}

/// The sealing context of an access token's secret.
pub(crate) fn access_token_context(id: Uuid) -> String {
    format!("{ACCESS_TOKEN_CONTEXT}{id}")
}

impl Authority {
    /// Leg 1: issues a request token to a consumer's signed request.
    pub async fn issue_request_token(
        &self,
        http: &HttpRequest<'_>,
    ) -> AuthorityResult<IssuedRequestToken> {
        let request = self.begin_signed(http).await?;
        let callback = request.oauth.protocol.callback.clone().ok_or_else(|| {
            OAuthFailure::with_parameters(
                Problem::ParameterAbsent,
                "oauth_callback is required (a URL or oob)",
                ["oauth_callback"],
            )
        })?;
        check_callback(&callback, request.consumer.callback_url.as_deref()).map_err(|detail| {
            OAuthFailure::with_parameters(
                Problem::ParameterRejected,
                format!("oauth_callback: {detail}"),
                ["oauth_callback"],
            )
        })?;
        self.finish_signed(&request, None).await?;

        let id = new_record_id();
        let token = new_token_value(self.randomness.as_ref());
        let secret = new_token_value(self.randomness.as_ref());
        let now = request.now;
        let record = RequestTokenRecord {
            id,
            token_hash: TokenHash::of(&token),
            consumer_key: request.consumer.key.clone(),
            secret: self
                .cipher
                .seal(&secret, &request_token_context(id))
                .map_err(Self::internal)?,
            callback,
            state: RequestTokenState::Pending,
            user_id: None,
            verifier_hash: None,
            verifier_failures: 0,
            created_at: now,
            expires_at: now + self.policy.oauth1.request_token_ttl,
            decided_at: None,
        };
        let mut audit = self.audit(
            AuditAction::RequestTokenIssued,
            format!("consumer:{}", record.consumer_key),
        );
        audit.consumer_key = Some(record.consumer_key.clone());
        audit.token_id = Some(id);
        self.store.insert_request_token(&record, &audit).await?;
        let authorize_url = format!(
            "{}/plugins/servlet/oauth/authorize?oauth_token={token}",
            self.policy.public_base_url.trim_end_matches('/')
        );
        Ok(IssuedRequestToken {
            token: token.into(),
            token_secret: secret.into(),
            expires_at: record.expires_at,
            authorize_url,
        })
    }

    /// What the consent screen shows about a request token. Frontend credential.
    pub async fn describe_request_token(
        &self,
        caller: &Caller,
        token: &str,
    ) -> AuthorityResult<RequestTokenView> {
        caller.require_any(&[Role::Frontend, Role::Admin], "DescribeRequestToken")?;
        let record = self.request_token_by_value(token).await?;
        let consumer = self
            .store
            .get_consumer(&record.consumer_key)
            .await?
            .ok_or_else(|| {
                AuthorityError::not_found(
                    Some(Problem::TokenRejected),
                    "the token's consumer is gone",
                )
            })?;
        let status = match record.state {
            RequestTokenState::Exchanged | RequestTokenState::Dead => RequestTokenStatus::Used,
            _ if self.now() >= record.expires_at => RequestTokenStatus::Expired,
            RequestTokenState::Pending => RequestTokenStatus::Pending,
            RequestTokenState::Approved => RequestTokenStatus::Approved,
            RequestTokenState::Denied => RequestTokenStatus::Denied,
        };
        Ok(RequestTokenView {
            consumer_key: consumer.key,
            consumer_name: consumer.name,
            consumer_description: consumer.description,
            callback: record.callback,
            status,
            expires_at: record.expires_at,
        })
    }

    /// Leg 2: records the user's decision. Frontend credential. A token is decided once.
    pub async fn authorize(
        &self,
        caller: &Caller,
        token: &str,
        user_id: &str,
        decision: UserDecision,
    ) -> AuthorityResult<DecisionOutcome> {
        caller.require_any(&[Role::Frontend], "Authorize")?;
        validate_user_id(user_id)?;
        let record = self.request_token_by_value(token).await?;
        let now = self.now();
        if now >= record.expires_at {
            return Err(AuthorityError::precondition(
                Problem::TokenExpired,
                "the request token has expired",
            ));
        }
        if record.state != RequestTokenState::Pending {
            return Err(AuthorityError::precondition(
                Problem::TokenUsed,
                "the request token was already decided",
            ));
        }
        // The cache ValidateAccess trusts: a consumer change empties it on this
        // replica at once and on the others through the change feed.
        let consumer = self.hot_consumer(&record.consumer_key).await?;
        if !consumer.is_some_and(|c| c.enabled) {
            return Err(AuthorityError::precondition(
                Problem::ConsumerKeyRejected,
                "the consumer is disabled or gone",
            ));
        }

        let out_of_band = record.callback == OUT_OF_BAND;
        let verifier = match decision {
            UserDecision::Approve if out_of_band => {
                Some(new_typable_code(self.randomness.as_ref(), 10))
            }
            UserDecision::Approve => Some(new_token_value(self.randomness.as_ref())),
            UserDecision::Deny => None,
        };
        let (stored, action) = match &verifier {
            Some(verifier) => (
                RequestTokenDecision::Approve {
                    user_id: user_id.to_owned(),
                    verifier_hash: TokenHash::of(verifier),
                },
                AuditAction::RequestTokenApproved,
            ),
            None => (
                RequestTokenDecision::Deny {
                    user_id: user_id.to_owned(),
                },
                AuditAction::RequestTokenDenied,
            ),
        };
        let mut audit = self.audit(action, format!("user:{user_id}"));
        audit.consumer_key = Some(record.consumer_key.clone());
        audit.user_id = Some(user_id.to_owned());
        audit.token_id = Some(record.id);
        if !self
            .store
            .decide_request_token(record.id, &stored, now, &audit)
            .await?
        {
            // Another decision won the race, or the token expired in between.
            return Err(AuthorityError::precondition(
                Problem::TokenUsed,
                "the request token was already decided",
            ));
        }

        let redirect_url = if out_of_band {
            None
        } else {
            let mut url = url::Url::parse(&record.callback).map_err(Self::internal)?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("oauth_token", token);
                match &verifier {
                    Some(verifier) => query.append_pair("oauth_verifier", verifier),
                    None => query.append_pair("oauth_problem", Problem::UserRefused.as_str()),
                };
            }
            Some(url.to_string())
        };
        Ok(DecisionOutcome {
            decision,
            verifier: verifier.map(SecretString::from),
            redirect_url,
            out_of_band,
        })
    }

    /// Leg 3: exchanges an approved request token and its verifier for an access token.
    pub async fn exchange_token(
        &self,
        http: &HttpRequest<'_>,
    ) -> AuthorityResult<IssuedAccessToken> {
        let request = self.begin_signed(http).await?;
        let protocol = &request.oauth.protocol;
        let absent: Vec<&str> = [
            ("oauth_token", protocol.token.is_none()),
            ("oauth_verifier", protocol.verifier.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, missing)| missing.then_some(name))
        .collect();
        let (Some(token), Some(verifier)) =
            (protocol.token.as_deref(), protocol.verifier.as_deref())
        else {
            return Err(OAuthFailure::with_parameters(
                Problem::ParameterAbsent,
                "the exchange needs the request token and verifier",
                absent,
            )
            .into());
        };
        let record = self
            .store
            .find_request_token(&TokenHash::of(token))
            .await?
            .filter(|r| r.consumer_key == request.consumer.key)
            .ok_or_else(|| {
                AuthorityError::oauth(
                    Problem::TokenRejected,
                    "no such request token for this consumer",
                )
            })?;
        self.finish_signed(
            &request,
            Some(TokenSecret {
                sealed: &record.secret,
                context: request_token_context(record.id),
            }),
        )
        .await?;
        let now = request.now;
        match record.state {
            RequestTokenState::Exchanged => {
                return Err(AuthorityError::oauth(
                    Problem::TokenUsed,
                    "the request token was already exchanged",
                ));
            }
            RequestTokenState::Dead => {
                return Err(AuthorityError::oauth(
                    Problem::TokenRejected,
                    "the request token died after wrong verifiers",
                ));
            }
            _ if now >= record.expires_at => {
                return Err(AuthorityError::oauth(
                    Problem::TokenExpired,
                    "the request token has expired",
                ));
            }
            RequestTokenState::Pending => {
                return Err(AuthorityError::oauth(
                    Problem::PermissionUnknown,
                    "the user has not decided yet",
                ));
            }
            RequestTokenState::Denied => {
                return Err(AuthorityError::oauth(
                    Problem::PermissionDenied,
                    "the user denied access",
                ));
            }
            RequestTokenState::Approved => {}
        }
        let verifier_matches = record
            .verifier_hash
            .is_some_and(|expected| expected.ct_eq(&TokenHash::of(verifier)));
        if !verifier_matches {
            let mut audit = self.audit(
                AuditAction::VerifierRejected,
                format!("consumer:{}", record.consumer_key),
            );
            audit.consumer_key = Some(record.consumer_key.clone());
            audit.token_id = Some(record.id);
            let failures = self
                .store
                .record_verifier_failure(
                    record.id,
                    self.policy.oauth1.max_verifier_failures,
                    &audit,
                )
                .await?;
            let detail = if failures >= self.policy.oauth1.max_verifier_failures {
                "wrong oauth_verifier; the request token is now dead".to_owned()
            } else {
                format!(
                    "wrong oauth_verifier ({failures} of {} allowed)",
                    self.policy.oauth1.max_verifier_failures
                )
            };
            return Err(AuthorityError::oauth(Problem::TokenRejected, detail));
        }

        let user_id = record
            .user_id
            .clone()
            .ok_or_else(|| Self::internal("approved request token without a user"))?;
        let ttl = self.policy.oauth1.access_token_ttl_for(&request.consumer);
        let id = new_record_id();
        let token = new_token_value(self.randomness.as_ref());
        let secret = new_token_value(self.randomness.as_ref());
        let access = AccessTokenRecord {
            id,
            token_hash: TokenHash::of(&token),
            consumer_key: record.consumer_key.clone(),
            user_id: user_id.clone(),
            secret: self
                .cipher
                .seal(&secret, &access_token_context(id))
                .map_err(Self::internal)?,
            request_token_id: record.id,
            created_at: now,
            expires_at: now + ttl,
            revoked_at: None,
            last_used_at: now,
        };
        let mut audit = self.audit(
            AuditAction::AccessTokenIssued,
            format!("consumer:{}", record.consumer_key),
        );
        audit.consumer_key = Some(record.consumer_key.clone());
        audit.user_id = Some(user_id);
        audit.token_id = Some(id);
        if !self
            .store
            .exchange_request_token(record.id, now, &access, &audit)
            .await?
        {
            return Err(AuthorityError::oauth(
                Problem::TokenUsed,
                "the request token was already exchanged",
            ));
        }
        Ok(IssuedAccessToken {
            token: token.into(),
            token_secret: secret.into(),
            token_id: id,
            expires_at: access.expires_at,
            lifetime: ttl,
        })
    }

    async fn request_token_by_value(&self, token: &str) -> AuthorityResult<RequestTokenRecord> {
        if token.is_empty() {
            return Err(AuthorityError::invalid(
                "token",
                "the request token is required",
            ));
        }
        self.store
            .find_request_token(&TokenHash::of(token))
            .await?
            .ok_or_else(|| {
                AuthorityError::not_found(Some(Problem::TokenRejected), "no such request token")
            })
    }
}
