//! The gate every OAuth 2.0 client secret check goes through.
//!
//! Latchkey generates every client secret with 256 random bits and stores its SHA-256
//! digest (`sha256:<hex>`, see [`crate::credentials::digest_credential`]): a check is
//! one hash and a constant-time comparison, so a wrong secret costs the server
//! microseconds and no memory. At 256 bits no guess succeeds, so the digest needs no
//! salt or stretching.
//!
//! Clients registered before digests keep their argon2 PHC hash. Those checks go
//! through the process's bounded [`Argon2Pool`] (a fixed number at once, memory
//! reused, a full queue refused with [`Argon2Refusal::Saturated`]), and a match is
//! remembered so later requests pay for one SHA-256 and a constant-time scan.
//!
//! What is remembered is a SHA-256 digest, never a secret, over the client id, the
//! stored PHC hash and the presented secret, each prefixed by its length so no field
//! can run into the next. The PHC string carries the client's random salt, so no
//! precomputed table maps digests back to secrets, and a new hash (a rotated secret, a
//! client registered again) can never match an entry made under the old one. Only
//! matches are remembered, at most [`REMEMBERED_LIMIT`] of them, oldest evicted first.
//!
//! A request for an unknown client is compared against a digest nobody knows, the
//! same microseconds as a generated secret's check. Client ids are not secrets (RFC 6749
//! section 2.2), so no argon2 is spent to hide which exist.

use crate::argon2_pool::{Argon2Pool, Argon2Refusal, PhcHash};
use rand::Rng as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

/// How many verified (client, secret) pairs are remembered: enough for every client
/// of a typical deployment, and 32 KiB at most.
pub const REMEMBERED_LIMIT: usize = 1024;

/// The prefix of a stored digest.
const DIGEST_PREFIX: &str = "sha256:";

/// A SHA-256 over (client id, PHC hash, presented secret).
type CheckDigest = [u8; 32];

/// Client secret checks: digests at once, argon2 on the bounded pool. See the module
/// documentation.
pub struct ClientSecretChecks {
    argon2: Arc<Argon2Pool>,
    remembered: RememberedMatches,
    /// What unknown clients are compared against.
    unknown_client_digest: [u8; 32],
}

impl std::fmt::Debug for ClientSecretChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretChecks")
            .field("argon2_checks", &self.argon2.checks())
            .finish_non_exhaustive()
    }
}

impl ClientSecretChecks {
    /// Checks whose argon2 work runs on `argon2`, remembering up to
    /// [`REMEMBERED_LIMIT`] matches.
    pub fn new(argon2: Arc<Argon2Pool>) -> Self {
        Self::with_limit(argon2, REMEMBERED_LIMIT)
    }

    fn with_limit(argon2: Arc<Argon2Pool>, remembered: usize) -> Self {
        Self {
            argon2,
            remembered: RememberedMatches::new(remembered),
            unknown_client_digest: rand::rngs::OsRng.r#gen(),
        }
    }

    /// Whether `presented` is the secret of `client_id`, whose stored hash is
    /// `stored` (a `sha256:` digest or an argon2 PHC string). A digest is compared at
    /// once; an argon2 hash is answered from memory when this exact pair already
    /// matched, else on the bounded pool, which may refuse when saturated.
    pub async fn matches(
        &self,
        client_id: &str,
        presented: &SecretString,
        stored: &str,
    ) -> Result<bool, Argon2Refusal> {
        if let Some(hex_digest) = stored.strip_prefix(DIGEST_PREFIX) {
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(hex_digest, &mut digest).is_err() {
                return Ok(false);
            }
            return Ok(digest_matches(&digest, presented));
        }
        let digest = check_digest(client_id, stored, presented.expose_secret());
        if self.remembered.contains(&digest) {
            return Ok(true);
        }
        let Ok(hash) = PhcHash::parse(stored) else {
            return Ok(false);
        };
        let matched = self
            .argon2
            .check(digest, presented, vec![hash].into())
            .await?
            == 1;
        if matched {
            self.remembered.remember(digest);
        }
        Ok(matched)
    }

    /// The same work as a generated secret's check, for a client id that no enabled
    /// client has. Never matches, never remembers.
    pub fn check_unknown_client(&self, presented: &SecretString) {
        let _ = digest_matches(&self.unknown_client_digest, presented);
    }

    #[cfg(test)]
    fn remembered_len(&self) -> usize {
        self.remembered.len()
    }
}

fn digest_matches(digest: &[u8; 32], presented: &SecretString) -> bool {
    let computed: [u8; 32] = Sha256::digest(presented.expose_secret().as_bytes()).into();
    bool::from(computed.ct_eq(digest))
}

fn check_digest(client_id: &str, phc_hash: &str, presented: &str) -> CheckDigest {
    let mut hasher = Sha256::new();
    hasher.update(b"latchkey oauth2 client secret check\0");
    for field in [client_id, phc_hash, presented] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

/// Digests of pairs that matched, oldest first.
struct RememberedMatches {
    digests: RwLock<VecDeque<CheckDigest>>,
    limit: usize,
}

impl RememberedMatches {
    fn new(limit: usize) -> Self {
        Self {
            digests: RwLock::new(VecDeque::new()),
            limit: limit.max(1),
        }
    }

    fn contains(&self, digest: &CheckDigest) -> bool {
        let digests = self.digests.read().unwrap_or_else(|p| p.into_inner());
        // Scan every entry so the time taken does not depend on which one matched.
        let mut found = subtle::Choice::from(0);
        for known in digests.iter() {
            found |= known.ct_eq(digest);
        }
        bool::from(found)
    }

    fn remember(&self, digest: CheckDigest) {
        let mut digests = self.digests.write().unwrap_or_else(|p| p.into_inner());
        if digests.contains(&digest) {
            return;
        }
        while digests.len() >= self.limit {
            digests.pop_front();
        }
        digests.push_back(digest);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.digests.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::credentials::{digest_credential, hash_credential};

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_owned())
    }

    fn checks(remembered: usize) -> (ClientSecretChecks, Arc<Argon2Pool>) {
        let pool = Arc::new(Argon2Pool::with_limits(1, 1));
        (
            ClientSecretChecks::with_limit(pool.clone(), remembered),
            pool,
        )
    }

    #[tokio::test]
    async fn a_generated_secret_is_checked_by_its_digest_without_argon2() {
        let (checks, pool) = checks(8);
        let stored = digest_credential("s3cret");
        assert_eq!(
            checks.matches("app", &secret("s3cret"), &stored).await,
            Ok(true)
        );
        assert_eq!(
            checks.matches("app", &secret("wrong"), &stored).await,
            Ok(false)
        );
        assert_eq!(
            checks.matches("app", &secret("s3cret"), "sha256:zz").await,
            Ok(false)
        );
        checks.check_unknown_client(&secret("anything"));
        assert_eq!(pool.checks(), 0);
        assert_eq!(checks.remembered_len(), 0);
    }

    #[tokio::test]
    async fn eight_callers_presenting_one_new_argon2_secret_at_once_share_one_check() {
        let (checks, pool) = checks(8);
        let checks = Arc::new(checks);
        let hash = Arc::new(hash_credential("s3cret").unwrap());
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (checks, hash) = (checks.clone(), hash.clone());
                tokio::spawn(async move { checks.matches("app", &secret("s3cret"), &hash).await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Ok(true));
        }
        assert_eq!(pool.checks(), 1);
        assert_eq!(checks.remembered_len(), 1);
    }

    #[tokio::test]
    async fn a_wrong_argon2_secret_is_refused_and_never_remembered() {
        let (checks, pool) = checks(8);
        let hash = hash_credential("s3cret").unwrap();
        assert_eq!(
            checks.matches("app", &secret("nope"), &hash).await,
            Ok(false)
        );
        assert_eq!(
            checks.matches("app", &secret("nope"), &hash).await,
            Ok(false)
        );
        assert_eq!(pool.checks(), 2);
        assert_eq!(checks.remembered_len(), 0);
    }

    #[tokio::test]
    async fn a_remembered_secret_is_refused_once_the_stored_hash_changes() {
        let (checks, pool) = checks(8);
        let old = hash_credential("s3cret").unwrap();
        assert_eq!(
            checks.matches("app", &secret("s3cret"), &old).await,
            Ok(true)
        );
        assert_eq!(
            checks.matches("app", &secret("s3cret"), &old).await,
            Ok(true)
        );
        assert_eq!(pool.checks(), 1);
        let rotated = hash_credential("n3w").unwrap();
        assert_eq!(
            checks.matches("app", &secret("s3cret"), &rotated).await,
            Ok(false)
        );
        assert_eq!(
            checks.matches("app", &secret("n3w"), &rotated).await,
            Ok(true)
        );
        assert_eq!(pool.checks(), 3);
    }

    #[tokio::test]
    async fn a_secret_remembered_for_one_client_does_not_pass_for_another() {
        let (checks, pool) = checks(8);
        let hash = hash_credential("s3cret").unwrap();
        assert_eq!(
            checks.matches("one", &secret("s3cret"), &hash).await,
            Ok(true)
        );
        assert_eq!(
            checks.matches("two", &secret("s3cret"), &hash).await,
            Ok(true)
        );
        assert_eq!(pool.checks(), 2);
    }

    #[tokio::test]
    async fn remembering_more_matches_than_the_limit_forgets_the_oldest() {
        let (checks, pool) = checks(2);
        let hash = hash_credential("s3cret").unwrap();
        for client in ["a", "b", "c"] {
            assert_eq!(
                checks.matches(client, &secret("s3cret"), &hash).await,
                Ok(true)
            );
        }
        assert_eq!(checks.remembered_len(), 2);
        assert_eq!(
            checks.matches("c", &secret("s3cret"), &hash).await,
            Ok(true)
        );
        assert_eq!(pool.checks(), 3);
        assert_eq!(
            checks.matches("a", &secret("s3cret"), &hash).await,
            Ok(true)
        );
        assert_eq!(pool.checks(), 4);
    }

    #[tokio::test]
    async fn a_burst_of_different_wrong_argon2_secrets_is_refused_past_the_queue() {
        let (checks, pool) = checks(8);
        let checks = Arc::new(checks);
        let hash = Arc::new(hash_credential("s3cret").unwrap());
        let callers: Vec<_> = (0..12)
            .map(|n| {
                let (checks, hash) = (checks.clone(), hash.clone());
                tokio::spawn(async move {
                    checks
                        .matches("app", &secret(&format!("wrong-{n}")), &hash)
                        .await
                })
            })
            .collect();
        let mut saturated = 0;
        for caller in callers {
            match caller.await.unwrap() {
                Ok(false) => {}
                Err(Argon2Refusal::Saturated) => saturated += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(saturated >= 10, "{saturated} refused");
        assert!(pool.checks() <= 2);
    }
}
