//! The authority: every use case of the service, one method each, wired to the
//! [`Store`], [`Clock`], [`Randomness`] and [`SecretCipher`] it was given.
//!
//! The wire layers call these methods and translate results; every protocol rule
//! (who may call what, lifetimes, single use, signatures) is decided in the use cases,
//! which live with their protocol: [`crate::oauth1`] and [`crate::oauth2`]. This
//! module holds what they share: the [`Authority`] itself, its [`Caller`], the user's
//! [`UserDecision`], and the caches of hot records (`cached`).

pub(crate) mod cached;

pub use cached::HotCacheCounts;

use crate::argon2_pool::Argon2Pool;
use crate::cipher::SecretCipher;
use crate::clock::Clock;
use crate::credentials::{Role, Roles};
use crate::error::{AuthorityError, AuthorityResult};
use crate::oauth1::keys::KeyCache;
use crate::oauth2::secret_checks::ClientSecretChecks;
use crate::policy::Policy;
use crate::records::{AuditAction, AuditEvent};
use crate::secret::Randomness;
use crate::store::Store;
use chrono::{DateTime, SubsecRound, Utc};
use std::sync::Arc;

/// The user's answer on a consent screen, in either protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDecision {
    /// Grant the consumer or client access.
    Approve,
    /// Refuse it.
    Deny,
}

/// Who is calling, as the wire layer established it from the presented credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    /// The roles the presented credential holds.
    pub roles: Roles,
}

impl Caller {
    /// A caller that presented no valid credential.
    pub const ANONYMOUS: Caller = Caller { roles: Roles::NONE };

    /// Fails with `Unauthenticated` unless the caller holds one of `roles`.
    pub fn require_any(&self, roles: &[Role], call: &str) -> AuthorityResult<()> {
        if roles.iter().any(|role| self.roles.contains(*role)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles
                .iter()
                .map(|r| match r {
                    Role::Admin => "admin",
                    Role::Frontend => "frontend",
                    Role::Service => "service",
                })
                .collect();
            Err(AuthorityError::Unauthenticated {
                detail: format!("{call} requires the {} credential", names.join(" or ")),
            })
        }
    }
}

/// Lookups in the parsed-key cache since start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCacheCounts {
    /// Found parsed.
    pub hits: u64,
    /// Parsed from PEM.
    pub misses: u64,
}

/// The token authority.
pub struct Authority {
    pub(crate) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pub(crate) randomness: Arc<dyn Randomness>,
    pub(crate) cipher: SecretCipher,
    pub(crate) policy: Policy,
    pub(crate) keys: KeyCache,
    pub(crate) hot: Arc<cached::HotRecords>,
    /// The process's argon2 workers, shared with the caller credentials.
    argon2: Arc<Argon2Pool>,
    /// Every OAuth 2.0 client secret check goes through here.
    pub(crate) client_secrets: ClientSecretChecks,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// An authority over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        randomness: Arc<dyn Randomness>,
        cipher: SecretCipher,
        policy: Policy,
    ) -> Self {
        let hot = cached::HotRecords::new(store.change_feed());
        let argon2 = Arc::new(Argon2Pool::new());
        Self {
            store,
            clock,
            randomness,
            cipher,
            policy,
            keys: KeyCache::default(),
            hot,
            client_secrets: ClientSecretChecks::new(argon2.clone()),
            argon2,
        }
    }

    /// A key for one `purpose` of a wire layer, derived from the encryption key, so
    /// that every replica derives the same one (see [`SecretCipher::derive_key`]).
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        self.cipher.derive_key(purpose)
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How often a consumer's parsed RSA key was found in the cache, and how often it
    /// had to be parsed, since start-up.
    pub fn key_cache_counts(&self) -> KeyCacheCounts {
        let counts = self.keys.lookups.counts();
        KeyCacheCounts {
            hits: counts.hits,
            misses: counts.misses,
        }
    }

    /// The process's bounded argon2 pool: the caller credentials check chosen
    /// credentials on it too, so one bound covers every argon2 check.
    pub fn argon2_pool(&self) -> Arc<Argon2Pool> {
        self.argon2.clone()
    }

    /// Now, to the millisecond: the precision the store keeps, so a record read back
    /// equals the one written.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(3)
    }

    pub(crate) fn audit(&self, action: AuditAction, actor: impl Into<String>) -> AuditEvent {
        AuditEvent {
            at: self.now(),
            action,
            actor: actor.into(),
            consumer_key: None,
            user_id: None,
            token_id: None,
            detail: String::new(),
        }
    }

    pub(crate) fn internal(detail: impl std::fmt::Display) -> AuthorityError {
        AuthorityError::Internal {
            detail: detail.to_string(),
        }
    }
}

/// Checks a user id: 1 to 255 characters, no control characters.
pub(crate) fn validate_user_id(user_id: &str) -> AuthorityResult<()> {
    if user_id.is_empty() || user_id.chars().count() > 255 || user_id.chars().any(char::is_control)
    {
        return Err(AuthorityError::invalid(
            "user_id",
            "a user id has 1 to 255 characters, none of them control characters",
        ));
    }
    Ok(())
}
