//! Consumer administration (Jira's OAuth administration page / application links).
//! Admin credential for every call.

use super::consumer_info::ConsumerInfo;
use super::consumer_rules::{parse_absolute_http_url, validate_consumer_key};
use super::records::{ConsumerRecord, TwoLeggedPolicy};
use super::verify::consumer_secret_context;
use crate::authority::{Authority, Caller, validate_user_id};
use crate::credentials::Role;
use crate::error::{AuthorityError, AuthorityResult};
use crate::oauth1::{ConsumerPublicKey, SignatureMethod};
use crate::records::AuditAction;
use crate::secret::{EncryptedSecret, new_token_value};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

/// Where a new consumer's shared secret comes from.
#[derive(Debug, Default)]
pub enum SharedSecretChoice {
    /// No shared secret (RSA-SHA1 only).
    #[default]
    None,
    /// The admin supplied it.
    Given(SecretString),
    /// Latchkey generates one and shows it once.
    Generate,
}

/// A consumer to register.
#[derive(Debug, Default)]
pub struct ConsumerDraft {
    /// `oauth_consumer_key`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Description for the consent screen.
    pub description: String,
    /// Registered callback, if callbacks are restricted.
    pub callback_url: Option<String>,
    /// Pasted RSA public key or certificate.
    pub public_key: Option<String>,
    /// Shared secret.
    pub shared_secret: SharedSecretChoice,
    /// Allowed methods; empty picks from the credentials given.
    pub signature_methods: Vec<SignatureMethod>,
    /// Access-token lifetime in seconds; `None` or 0 for the server default.
    pub access_token_ttl_seconds: Option<u64>,
    /// Access-token idle timeout in seconds; `None` or 0 for the server setting.
    pub access_token_idle_seconds: Option<u64>,
    /// 2-legged OAuth; off unless given.
    pub two_legged: Option<TwoLeggedPolicy>,
}

/// Changes to a consumer; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ConsumerChanges {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New registered callback; `Some("")` removes the restriction.
    pub callback_url: Option<String>,
    /// New public key; `Some("")` removes it.
    pub public_key: Option<String>,
    /// New shared secret; `Some("")` removes it.
    pub shared_secret: Option<SecretString>,
    /// New allowed methods.
    pub signature_methods: Option<Vec<SignatureMethod>>,
    /// New access-token lifetime; `Some(0)` for the server default. Applies to tokens
    /// issued from now on; tokens already issued keep the expiry they were given
    /// unless `apply_to_issued_tokens` is set.
    pub access_token_ttl_seconds: Option<u64>,
    /// New idle timeout; `Some(0)` for the server setting. Idle timeouts are checked
    /// at each use, so this applies to tokens already issued at once.
    pub access_token_idle_seconds: Option<u64>,
    /// New 2-legged OAuth settings, all three at once.
    pub two_legged: Option<TwoLeggedPolicy>,
    /// Also cut every issued, unrevoked token that would outlive the consumer's
    /// lifetime (as it stands after this change) counted from its issue. Tokens are
    /// never lengthened.
    pub apply_to_issued_tokens: bool,
}

/// A registered consumer, with its generated secret if one was made.
#[derive(Debug)]
pub struct RegisteredConsumer {
    /// The stored consumer.
    pub consumer: ConsumerRecord,
    /// The generated shared secret, shown once.
    pub generated_secret: Option<SecretString>,
}

/// A page of consumers.
#[derive(Debug)]
pub struct ConsumerPage {
    /// The consumers, ordered by key.
    pub consumers: Vec<ConsumerRecord>,
    /// The token for the next page; `None` on the last.
    pub next_page_token: Option<String>,
}

impl Caller {
    /// The operator at the command line, who holds the database already.
    pub const OPERATOR: Caller = Caller {
        roles: crate::credentials::Roles::NONE.with_admin(),
    };
}

impl Authority {
    /// Registers a consumer.
    pub async fn register_consumer(
        &self,
        caller: &Caller,
        draft: ConsumerDraft,
    ) -> AuthorityResult<RegisteredConsumer> {
        caller.require_any(&[Role::Admin], "RegisterConsumer")?;
        validate_consumer_key(&draft.key).map_err(|d| AuthorityError::invalid("key", d))?;
        let now = self.now();
        let (shared_secret, generated_secret) = match draft.shared_secret {
            SharedSecretChoice::None => (None, None),
            SharedSecretChoice::Given(secret) => (Some(secret), None),
            SharedSecretChoice::Generate => {
                let secret = SecretString::from(new_token_value(self.randomness.as_ref()));
                (Some(secret.clone()), Some(secret))
            }
        };
        let mut consumer = ConsumerRecord {
            key: draft.key,
            name: String::new(),
            description: String::new(),
            callback_url: None,
            public_key_pem: None,
            shared_secret: None,
            signature_methods: Vec::new(),
            access_token_ttl_seconds: None,
            access_token_idle_seconds: None,
            two_legged: TwoLeggedPolicy::default(),
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        let changes = ConsumerChanges {
            name: Some(draft.name),
            description: Some(draft.description),
            callback_url: draft.callback_url,
            public_key: draft.public_key,
            shared_secret,
            signature_methods: Some(draft.signature_methods),
            access_token_ttl_seconds: draft.access_token_ttl_seconds,
            access_token_idle_seconds: draft.access_token_idle_seconds,
            two_legged: draft.two_legged,
            apply_to_issued_tokens: false,
        };
        self.apply_changes(&mut consumer, changes)?;
        let mut audit = self.audit(AuditAction::ConsumerRegistered, "admin");
        audit.consumer_key = Some(consumer.key.clone());
        self.store
            .insert_consumer(&consumer, &audit)
            .await
            .map_err(|e| match e {
                crate::error::StoreError::Conflict(_) => AuthorityError::AlreadyExists {
                    detail: format!("consumer {} already exists", consumer.key),
                },
                other => other.into(),
            })?;
        Ok(RegisteredConsumer {
            consumer,
            generated_secret,
        })
    }

    /// One consumer.
    pub async fn get_consumer(
        &self,
        caller: &Caller,
        key: &str,
    ) -> AuthorityResult<ConsumerRecord> {
        caller.require_any(&[Role::Admin], "GetConsumer")?;
        self.existing_consumer(key).await
    }

    /// A page of consumers ordered by key. `page_size` 0 means 50; above 500 means 500.
    pub async fn list_consumers(
        &self,
        caller: &Caller,
        page_size: u32,
        page_token: &str,
    ) -> AuthorityResult<ConsumerPage> {
        caller.require_any(&[Role::Admin], "ListConsumers")?;
        let limit = match page_size {
            0 => 50,
            n => n.min(500),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            let bytes = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| {
                AuthorityError::invalid("page_token", "not a token this server issued")
            })?;
            Some(String::from_utf8(bytes).map_err(|_| {
                AuthorityError::invalid("page_token", "not a token this server issued")
            })?)
        };
        // One more than asked tells whether another page follows.
        let mut consumers = self
            .store
            .list_consumers(after.as_deref(), u64::from(limit) + 1)
            .await?;
        let next_page_token = if consumers.len() > limit as usize {
            consumers.truncate(limit as usize);
            consumers
                .last()
                .map(|c| URL_SAFE_NO_PAD.encode(c.key.as_bytes()))
        } else {
            None
        };
        Ok(ConsumerPage {
            consumers,
            next_page_token,
        })
    }

    /// Registers the consumer an application describes in its consumer-info document
    /// (add by URL). The admin role is checked before `fetch` runs, so no one else can
    /// make Latchkey fetch anything. Fields of `overrides` that are set win over the
    /// document's key, name, description and public key; the rest of `overrides`
    /// (callback, policy, 2-legged settings) applies as given.
    pub async fn register_consumer_from_info<F>(
        &self,
        caller: &Caller,
        overrides: ConsumerDraft,
        fetch: F,
    ) -> AuthorityResult<RegisteredConsumer>
    where
        F: Future<Output = AuthorityResult<ConsumerInfo>>,
    {
        caller.require_any(&[Role::Admin], "RegisterConsumer")?;
        let from_document = fetch.await?.draft();
        let or = |given: String, found: String| if given.is_empty() { found } else { given };
        let draft = ConsumerDraft {
            key: or(overrides.key, from_document.key),
            name: or(overrides.name, from_document.name),
            description: or(overrides.description, from_document.description),
            public_key: overrides.public_key.or(from_document.public_key),
            ..overrides
        };
        self.register_consumer(caller, draft).await
    }

    /// Changes a consumer.
    pub async fn update_consumer(
        &self,
        caller: &Caller,
        key: &str,
        changes: ConsumerChanges,
    ) -> AuthorityResult<ConsumerRecord> {
        caller.require_any(&[Role::Admin], "UpdateConsumer")?;
        let mut consumer = self.existing_consumer(key).await?;
        let apply_to_issued = changes.apply_to_issued_tokens;
        self.apply_changes(&mut consumer, changes)?;
        let shorten_to =
            apply_to_issued.then(|| self.policy.oauth1.access_token_ttl_for(&consumer));
        self.save_consumer(consumer, AuditAction::ConsumerUpdated, shorten_to)
            .await
    }

    /// Enables or disables a consumer.
    pub async fn set_consumer_enabled(
        &self,
        caller: &Caller,
        key: &str,
        enabled: bool,
    ) -> AuthorityResult<ConsumerRecord> {
        caller.require_any(&[Role::Admin], "SetConsumerEnabled")?;
        let mut consumer = self.existing_consumer(key).await?;
        consumer.enabled = enabled;
        let action = if enabled {
            AuditAction::ConsumerEnabled
        } else {
            AuditAction::ConsumerDisabled
        };
        self.save_consumer(consumer, action, None).await
    }

    /// Stamps a changed consumer, stores it with its audit line (cutting issued tokens
    /// to `shorten_issued_to` when given), and returns it; a consumer deleted since it
    /// was read is `NotFound`.
    async fn save_consumer(
        &self,
        mut consumer: ConsumerRecord,
        action: AuditAction,
        shorten_issued_to: Option<chrono::Duration>,
    ) -> AuthorityResult<ConsumerRecord> {
        consumer.updated_at = self.now();
        let mut audit = self.audit(action, "admin");
        audit.consumer_key = Some(consumer.key.clone());
        if let Some(ttl) = shorten_issued_to {
            audit.detail = format!(
                "token policy applied to issued tokens: none may outlive {} s from issue",
                ttl.num_seconds()
            );
        }
        let updated = self
            .store
            .update_consumer(&consumer, shorten_issued_to, &audit)
            .await;
        self.consumer_changed(&consumer.key).await;
        let shortened = updated?.ok_or_else(|| {
            AuthorityError::not_found(None, format!("no consumer {}", consumer.key))
        })?;
        if shortened > 0 {
            tracing::info!(
                consumer = %consumer.key,
                shortened,
                "consumer token policy applied to issued access tokens"
            );
        }
        Ok(consumer)
    }

    /// Deletes a consumer and its tokens; returns how many access tokens went.
    pub async fn delete_consumer(&self, caller: &Caller, key: &str) -> AuthorityResult<u64> {
        caller.require_any(&[Role::Admin], "DeleteConsumer")?;
        let mut audit = self.audit(AuditAction::ConsumerDeleted, "admin");
        audit.consumer_key = Some(key.to_owned());
        let deleted = self.store.delete_consumer(key, &audit).await;
        self.consumer_changed(key).await;
        deleted?.ok_or_else(|| AuthorityError::not_found(None, format!("no consumer {key}")))
    }

    pub(crate) async fn existing_consumer(&self, key: &str) -> AuthorityResult<ConsumerRecord> {
        self.store
            .get_consumer(key)
            .await?
            .ok_or_else(|| AuthorityError::not_found(None, format!("no consumer {key}")))
    }

    /// Applies and validates changes; the consumer is left consistent or the call fails.
    fn apply_changes(
        &self,
        consumer: &mut ConsumerRecord,
        changes: ConsumerChanges,
    ) -> AuthorityResult<()> {
        if let Some(name) = changes.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 255 {
                return Err(AuthorityError::invalid(
                    "name",
                    "a name has 1 to 255 characters",
                ));
            }
            consumer.name = name.to_owned();
        }
        if let Some(description) = changes.description {
            if description.chars().count() > 4000 {
                return Err(AuthorityError::invalid(
                    "description",
                    "at most 4000 characters",
                ));
            }
            consumer.description = description;
        }
        if let Some(two_legged) = changes.two_legged {
            consumer.two_legged = checked_two_legged(two_legged)?;
        }
        if let Some(callback) = changes.callback_url {
            consumer.callback_url = if callback.is_empty() {
                None
            } else {
                parse_absolute_http_url(&callback)
                    .map_err(|d| AuthorityError::invalid("callback_url", d))?;
                Some(callback)
            };
        }
        if let Some(public_key) = changes.public_key {
            consumer.public_key_pem = if public_key.trim().is_empty() {
                None
            } else {
                let parsed = ConsumerPublicKey::parse(&public_key)
                    .map_err(|e| AuthorityError::invalid("public_key", e.to_string()))?;
                Some(parsed.pem)
            };
        }
        if let Some(secret) = changes.shared_secret {
            let secret = secret.expose_secret();
            consumer.shared_secret = if secret.is_empty() {
                None
            } else {
                if secret.len() > 1024 {
                    return Err(AuthorityError::invalid(
                        "shared_secret",
                        "at most 1024 bytes",
                    ));
                }
                Some(self.seal_consumer_secret(&consumer.key, secret)?)
            };
        }
        if let Some(methods) = changes.signature_methods {
            consumer.signature_methods = methods;
        }
        if consumer.signature_methods.is_empty() {
            if consumer.public_key_pem.is_some() {
                consumer.signature_methods.push(SignatureMethod::RsaSha1);
            }
            if consumer.shared_secret.is_some() {
                consumer.signature_methods.push(SignatureMethod::HmacSha1);
            }
        }
        consumer.signature_methods.dedup();
        if consumer.signature_methods.is_empty() {
            return Err(AuthorityError::invalid(
                "public_key",
                "a consumer needs an RSA public key or a shared secret",
            ));
        }
        for method in &consumer.signature_methods {
            let usable = match method {
                SignatureMethod::RsaSha1 => consumer.public_key_pem.is_some(),
                SignatureMethod::HmacSha1 | SignatureMethod::Plaintext => {
                    consumer.shared_secret.is_some()
                }
            };
            if !usable {
                return Err(AuthorityError::invalid(
                    "signature_methods",
                    format!(
                        "{} needs {}",
                        method.as_str(),
                        if *method == SignatureMethod::RsaSha1 {
                            "a public key"
                        } else {
                            "a shared secret"
                        }
                    ),
                ));
            }
        }
        if let Some(ttl) = changes.access_token_ttl_seconds {
            consumer.access_token_ttl_seconds =
                self.policy_seconds(ttl, "the access-token lifetime")?;
        }
        if let Some(idle) = changes.access_token_idle_seconds {
            consumer.access_token_idle_seconds = self.policy_seconds(idle, "the idle timeout")?;
        }
        Ok(())
    }

    /// A token-policy duration as stored: 0 means the server's setting (`None`); any
    /// other value may not exceed the maximum access-token lifetime.
    fn policy_seconds(&self, seconds: u64, what: &str) -> AuthorityResult<Option<i64>> {
        if seconds == 0 {
            return Ok(None);
        }
        let max = self.policy.oauth1.max_access_token_ttl.num_seconds();
        i64::try_from(seconds)
            .ok()
            .filter(|s| *s <= max)
            .map(Some)
            .ok_or_else(|| {
                AuthorityError::invalid(
                    "token_policy",
                    format!("{what} may not exceed {max} seconds"),
                )
            })
    }

    fn seal_consumer_secret(&self, key: &str, secret: &str) -> AuthorityResult<EncryptedSecret> {
        self.cipher
            .seal(secret, &consumer_secret_context(key))
            .map_err(Self::internal)
    }
}
/// 2-legged settings as stored: an empty "execute as" user is none; any other must be
/// a valid user id.
fn checked_two_legged(mut policy: TwoLeggedPolicy) -> AuthorityResult<TwoLeggedPolicy> {
    policy.execute_as = policy
        .execute_as
        .map(|user| user.trim().to_owned())
        .filter(|user| !user.is_empty());
    if let Some(user) = &policy.execute_as {
        validate_user_id(user).map_err(|_| {
            AuthorityError::invalid(
                "execute_as_user",
                "a user id has 1 to 255 characters, none of them control characters",
            )
        })?;
    }
    Ok(policy)
}
