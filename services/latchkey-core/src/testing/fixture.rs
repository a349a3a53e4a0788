//! An authority over a [`MemoryStore`] with a [`ManualClock`], a known cipher and
//! the default policy, and the steps most tests take before the one they test.
#![allow(clippy::expect_used)]

use super::consumer::{Signer, TestConsumer};
use super::memory_store::MemoryStore;
use crate::authority::{Authority, Caller, UserDecision};
use crate::cipher::SecretCipher;
use crate::clock::{Clock, ManualClock};
use crate::credentials::{Role, Roles};
use crate::oauth1::consumers::{ConsumerDraft, SharedSecretChoice};
use crate::oauth1::dance::{IssuedAccessToken, IssuedRequestToken};
use crate::policy::Policy;
use crate::secret::OsRandomness;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// The credential of the administration page.
pub(crate) fn admin() -> Caller {
    Caller {
        roles: Roles::NONE.with(Role::Admin),
    }
}

/// The credential of the trusted web frontend, which asserts who the user is.
pub(crate) fn frontend() -> Caller {
    Caller {
        roles: Roles::NONE.with(Role::Frontend),
    }
}

/// The credential of an internal service that validates requests.
pub(crate) fn service() -> Caller {
    Caller {
        roles: Roles::NONE.with(Role::Service),
    }
}

/// The shared secret of the HMAC-SHA1 consumers the fixture registers.
pub(crate) const CONSUMER_SECRET: &str = "kd94hf93k423kf44";

/// The user who approves in the fixture's dances.
pub(crate) const USER: &str = "ann";

/// A private key made only for tests; the consumer registers its public half.
const CONSUMER_PRIVATE_KEY: &str = include_str!("../../../../tests/fixtures/consumer-key.pem");

/// An authority and what it runs on.
pub(crate) struct Fixture {
    pub(crate) authority: Authority,
    pub(crate) store: Arc<MemoryStore>,
    pub(crate) clock: Arc<ManualClock>,
}

/// An access token as its consumer holds it.
pub(crate) struct Access {
    pub(crate) token: String,
    pub(crate) secret: String,
    pub(crate) issued: IssuedAccessToken,
}

/// The query parameter `name` of a redirect URL.
pub(crate) fn query_parameter(redirect_url: &str, name: &str) -> Option<String> {
    url::Url::parse(redirect_url)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

impl Fixture {
    /// Under the default policy.
    pub(crate) fn new() -> Self {
        Self::with_policy(Policy::default())
    }

    pub(crate) fn with_policy(policy: Policy) -> Self {
        let start = Utc
            .with_ymd_and_hms(2030, 1, 1, 9, 0, 0)
            .single()
            .expect("a valid instant");
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(start));
        let authority = Authority::new(
            store.clone(),
            clock.clone(),
            Arc::new(OsRandomness),
            SecretCipher::from_key([7; 32]),
            policy,
        );
        Self {
            authority,
            store,
            clock,
        }
    }

    /// Another authority over the same store and clock: the service restarted with
    /// `policy`.
    pub(crate) fn restarted_with(&self, policy: Policy) -> Authority {
        Authority::new(
            self.store.clone(),
            self.clock.clone(),
            Arc::new(OsRandomness),
            SecretCipher::from_key([7; 32]),
            policy,
        )
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A draft for an HMAC-SHA1 consumer with [`CONSUMER_SECRET`].
    pub(crate) fn hmac_draft(key: &str) -> ConsumerDraft {
        ConsumerDraft {
            key: key.to_owned(),
            name: format!("{key} app"),
            shared_secret: SharedSecretChoice::Given(SecretString::from(CONSUMER_SECRET)),
            ..ConsumerDraft::default()
        }
    }

    /// Registers `draft` (which must give [`CONSUMER_SECRET`]) and signs as it.
    pub(crate) async fn consumer_from(&self, draft: ConsumerDraft) -> TestConsumer {
        let registered = self
            .authority
            .register_consumer(&admin(), draft)
            .await
            .expect("the consumer registers");
        self.signing_as(
            &registered.consumer.key,
            Signer::HmacSha1(CONSUMER_SECRET.into()),
        )
    }

    /// Registers an HMAC-SHA1 consumer with no callback restriction.
    pub(crate) async fn hmac_consumer(&self, key: &str) -> TestConsumer {
        self.consumer_from(Self::hmac_draft(key)).await
    }

    /// Registers an RSA-SHA1 consumer from the test key's public half.
    pub(crate) async fn rsa_consumer(&self, key: &str) -> TestConsumer {
        let private = RsaPrivateKey::from_pkcs8_pem(CONSUMER_PRIVATE_KEY).expect("the test key");
        let public = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a PEM");
        self.authority
            .register_consumer(
                &admin(),
                ConsumerDraft {
                    key: key.to_owned(),
                    name: format!("{key} app"),
                    public_key: Some(public),
                    ..ConsumerDraft::default()
                },
            )
            .await
            .expect("the consumer registers");
        self.signing_as(key, Signer::RsaSha1(Box::new(private)))
    }

    /// Signs as consumer `key` with `signer`, at this fixture's clock.
    pub(crate) fn signing_as(&self, key: &str, signer: Signer) -> TestConsumer {
        TestConsumer {
            key: key.to_owned(),
            signer,
            clock: self.clock.clone(),
        }
    }

    /// Leg 1 with `callback`.
    pub(crate) async fn request_token(
        &self,
        consumer: &TestConsumer,
        callback: &str,
    ) -> IssuedRequestToken {
        let signed = consumer.request_token(callback);
        self.authority
            .issue_request_token(&signed.http())
            .await
            .expect("a request token")
    }

    /// Leg 2: [`USER`] approves; returns the verifier.
    pub(crate) async fn approve(&self, token: &IssuedRequestToken) -> String {
        self.approve_as(token, USER).await
    }

    /// Leg 2: `user` approves; returns the verifier.
    pub(crate) async fn approve_as(&self, token: &IssuedRequestToken, user: &str) -> String {
        let outcome = self
            .authority
            .authorize(
                &frontend(),
                token.token.expose_secret(),
                user,
                UserDecision::Approve,
            )
            .await
            .expect("the approval");
        outcome
            .verifier
            .expect("a verifier")
            .expose_secret()
            .to_owned()
    }

    /// All three legs: an access token [`USER`] granted `consumer`.
    pub(crate) async fn access(&self, consumer: &TestConsumer) -> Access {
        self.access_as(consumer, USER).await
    }

    /// All three legs: an access token `user` granted `consumer`.
    pub(crate) async fn access_as(&self, consumer: &TestConsumer, user: &str) -> Access {
        let request = self.request_token(consumer, "oob").await;
        let verifier = self.approve_as(&request, user).await;
        let signed = consumer.exchange(
            request.token.expose_secret(),
            request.token_secret.expose_secret(),
            &verifier,
        );
        let issued = self
            .authority
            .exchange_token(&signed.http())
            .await
            .expect("an access token");
        Access {
            token: issued.token.expose_secret().to_owned(),
            secret: issued.token_secret.expose_secret().to_owned(),
            issued,
        }
    }
}
