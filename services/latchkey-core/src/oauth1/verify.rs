//! The checks every signed consumer request passes, in two steps.
//!
//! `Authority::begin_signed` reads the request and its consumer: parameters, version,
//! consumer known and enabled, timestamp window, signature method allowed. The caller
//! then finds and checks its token (request or access token), and
//! `Authority::finish_signed` verifies the signature with the consumer's credentials
//! and that token's secret, and only then spends the nonce, so a forged request cannot
//! burn a genuine consumer's nonces.

use super::opened_secrets::ACCESS_TOKEN_CONTEXT;
use super::records::{ConsumerRecord, NonceRecord};
use crate::authority::Authority;
use crate::error::{AuthorityError, AuthorityResult, OAuthFailure, Problem, ProblemAdvice};
use crate::oauth1::signature::{verify_hmac_sha1, verify_plaintext, verify_rsa_sha1};
use crate::oauth1::{
    ConsumerPublicKey, HttpRequest, OAuthRequest, RsaVerifyingKey, SignatureMethod,
};
use crate::secret::EncryptedSecret;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use std::sync::Arc;

/// A request whose consumer is known and allowed, not yet signature-checked.
#[derive(Debug)]
pub(crate) struct SignedRequest {
    pub(crate) oauth: OAuthRequest,
    pub(crate) consumer: ConsumerRecord,
    pub(crate) method: SignatureMethod,
    pub(crate) now: DateTime<Utc>,
}

/// The token secret a signature is keyed with, sealed, and the context it was sealed
/// under.
pub(crate) struct TokenSecret<'a> {
    pub(crate) sealed: &'a EncryptedSecret,
    pub(crate) context: String,
}

/// The sealing context of a consumer's shared secret.
pub(crate) fn consumer_secret_context(consumer_key: &str) -> String {
    format!("consumer:{consumer_key}")
}

impl Authority {
    /// Step one: parse, then check the consumer, the timestamp and the method.
    pub(crate) async fn begin_signed(
        &self,
        http: &HttpRequest<'_>,
    ) -> AuthorityResult<SignedRequest> {
        let oauth = OAuthRequest::parse(http)?;
        let now = self.now();
        let consumer = self
            .consumer_for_request(&oauth.protocol.consumer_key)
            .await?;
        self.check_timestamp(&oauth, now)?;
        let method = self.allowed_method(&oauth, &consumer)?;
        Ok(SignedRequest {
            oauth,
            consumer,
            method,
            now,
        })
    }

    /// Step two: verify the signature, then spend the nonce.
    pub(crate) async fn finish_signed(
        &self,
        request: &SignedRequest,
        token_secret: Option<TokenSecret<'_>>,
    ) -> AuthorityResult<()> {
        // RSA-SHA1 signs with the consumer's private key alone (RFC 5849, 3.4.3): the
        // token secret is opened only for the methods that are keyed with it.
        // An access token's secret is kept opened beside its cached record; a request
        // token's, used once or twice, is opened each time.
        let token_secret = match token_secret {
            Some(secret) if request.method != SignatureMethod::RsaSha1 => Some(
                if secret.context.starts_with(ACCESS_TOKEN_CONTEXT) {
                    self.hot
                        .secrets
                        .open(&self.cipher, secret.sealed, &secret.context)
                } else {
                    self.cipher
                        .open(secret.sealed, &secret.context)
                        .map(Arc::new)
                }
                .map_err(Self::internal)?,
            ),
            _ => None,
        };
        let token_secret = token_secret
            .as_deref()
            .map_or("", ExposeSecret::expose_secret);
        let valid = match request.method {
            SignatureMethod::RsaSha1 => {
                let key = self.consumer_public_key(&request.consumer)?;
                verify_rsa_sha1(
                    &request.oauth.base_string,
                    &key,
                    &request.oauth.protocol.signature,
                )
            }
            SignatureMethod::HmacSha1 | SignatureMethod::Plaintext => {
                let sealed = request.consumer.shared_secret.as_ref().ok_or_else(|| {
                    AuthorityError::oauth(
                        Problem::SignatureMethodRejected,
                        "the consumer has no shared secret",
                    )
                })?;
                let context = consumer_secret_context(&request.consumer.key);
                let consumer_secret = self
                    .hot
                    .secrets
                    .open(&self.cipher, sealed, &context)
                    .map_err(Self::internal)?;
                let consumer_secret = consumer_secret.expose_secret();
                if request.method == SignatureMethod::HmacSha1 {
                    verify_hmac_sha1(
                        &request.oauth.base_string,
                        consumer_secret,
                        token_secret,
                        &request.oauth.protocol.signature,
                    )
                } else {
                    verify_plaintext(
                        consumer_secret,
                        token_secret,
                        &request.oauth.protocol.signature,
                    )
                }
            }
        };
        if !valid {
            return Err(AuthorityError::oauth(
                Problem::SignatureInvalid,
                format!(
                    "{} signature does not verify for consumer {}",
                    request.method.as_str(),
                    request.consumer.key
                ),
            ));
        }
        self.spend_nonce(request).await
    }

    async fn consumer_for_request(&self, key: &str) -> AuthorityResult<ConsumerRecord> {
        let consumer = self.hot_consumer(key).await?.ok_or_else(|| {
            AuthorityError::oauth(Problem::ConsumerKeyUnknown, "no consumer has this key")
        })?;
        if !consumer.enabled {
            return Err(AuthorityError::oauth(
                Problem::ConsumerKeyRejected,
                format!("consumer {} is disabled", consumer.key),
            ));
        }
        Ok(consumer)
    }

    fn check_timestamp(&self, oauth: &OAuthRequest, now: DateTime<Utc>) -> AuthorityResult<()> {
        let Some(timestamp) = oauth.protocol.timestamp.as_deref() else {
            // Only PLAINTEXT may omit it (checked when parsing).
            return Ok(());
        };
        let window = self.policy.oauth1.timestamp_window.num_seconds();
        let low = now.timestamp() - window;
        let high = now.timestamp() + window;
        let within = timestamp
            .parse::<i64>()
            .is_ok_and(|t| (low..=high).contains(&t));
        if within {
            return Ok(());
        }
        Err(AuthorityError::OAuth(OAuthFailure {
            problem: Problem::TimestampRefused,
            detail: format!("oauth_timestamp {timestamp} is outside {low}-{high}"),
            advice: ProblemAdvice {
                acceptable_timestamps: Some(format!("{low}-{high}")),
                ..Default::default()
            },
        }))
    }

    fn allowed_method(
        &self,
        oauth: &OAuthRequest,
        consumer: &ConsumerRecord,
    ) -> AuthorityResult<SignatureMethod> {
        let sent = &oauth.protocol.signature_method;
        let method = SignatureMethod::parse(sent).ok_or_else(|| {
            AuthorityError::oauth(
                Problem::SignatureMethodRejected,
                format!("unknown signature method {sent:?}"),
            )
        })?;
        if !consumer.signature_methods.contains(&method) {
            return Err(AuthorityError::oauth(
                Problem::SignatureMethodRejected,
                format!(
                    "consumer {} may not sign with {}",
                    consumer.key,
                    method.as_str()
                ),
            ));
        }
        if method == SignatureMethod::Plaintext && !oauth.is_https {
            return Err(AuthorityError::oauth(
                Problem::SignatureMethodRejected,
                "PLAINTEXT is accepted only over https",
            ));
        }
        Ok(method)
    }

    fn consumer_public_key(
        &self,
        consumer: &ConsumerRecord,
    ) -> AuthorityResult<Arc<RsaVerifyingKey>> {
        let pem = consumer.public_key_pem.as_deref().ok_or_else(|| {
            AuthorityError::oauth(
                Problem::SignatureMethodRejected,
                "the consumer has no RSA public key",
            )
        })?;
        if let Some(key) = self.keys.get(&consumer.key, pem) {
            return Ok(key);
        }
        let parsed = ConsumerPublicKey::parse(pem).map_err(Self::internal)?;
        let key = Arc::new(RsaVerifyingKey::from(&parsed.key));
        self.keys.put(&consumer.key, pem, key.clone());
        Ok(key)
    }

    async fn spend_nonce(&self, request: &SignedRequest) -> AuthorityResult<()> {
        let protocol = &request.oauth.protocol;
        let (Some(nonce), Some(timestamp)) =
            (protocol.nonce.as_deref(), protocol.timestamp.as_deref())
        else {
            // PLAINTEXT over TLS may carry neither; there is nothing to spend.
            return Ok(());
        };
        if nonce.is_empty() || nonce.len() > 255 {
            return Err(OAuthFailure::with_parameters(
                Problem::ParameterRejected,
                "oauth_nonce must have 1 to 255 characters",
                ["oauth_nonce"],
            )
            .into());
        }
        let timestamp: i64 = timestamp.parse().map_err(|_| {
            OAuthFailure::with_parameters(
                Problem::ParameterRejected,
                "bad oauth_timestamp",
                ["oauth_timestamp"],
            )
        })?;
        // The timestamp check compares whole seconds, so it accepts this timestamp
        // until `timestamp + window + 1 s`; from then on it refuses a replay, and the
        // nonce need not be kept longer.
        let expires_at = DateTime::<Utc>::from_timestamp(timestamp, 0)
            .map(|t| t + self.policy.oauth1.timestamp_window + chrono::Duration::seconds(1))
            .ok_or_else(|| {
                AuthorityError::oauth(Problem::TimestampRefused, "oauth_timestamp out of range")
            })?;
        let record = NonceRecord {
            consumer_key: request.consumer.key.clone(),
            nonce: nonce.to_owned(),
            timestamp,
            expires_at,
        };
        if self.store.use_nonce(&record, request.now).await? {
            Ok(())
        } else {
            Err(AuthorityError::oauth(
                Problem::NonceUsed,
                format!("consumer {} already used this nonce", request.consumer.key),
            ))
        }
    }
}
