//! Who is calling: the admin, a trusted web frontend, or an internal service.
//!
//! Latchkey generates each role's credential with 256 random bits (`latchkey
//! credential generate`) and is configured with its SHA-256 digest (`sha256:<hex>`).
//! Checking one costs a hash and a constant-time comparison with every configured
//! digest: a wrong credential is refused in microseconds, with no memory-hard work,
//! and the time taken does not depend on which digest was close. Guessing is no
//! threat at 256 bits, so the digest needs no salt and no stretching.
//!
//! A credential a person chose is weak where a generated one is not, so it may be
//! configured as an argon2 PHC hash (`latchkey credential hash`). Those checks go
//! through the process's bounded [`Argon2Pool`]: a flood of wrong guesses is refused
//! with [`Argon2Refusal::Saturated`] once the pool's short queue is full, instead of
//! queueing everyone behind it. A match is remembered as the SHA-256 of the
//! credential, so the rightful caller pays for argon2 once and never waits for the
//! pool again. Wrong credentials are never remembered.

use crate::argon2_pool::{Argon2Pool, Argon2Refusal, FlightKey, PhcHash};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

/// A role a credential grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May administer consumers and revoke anything.
    Admin,
    /// May assert who the user is (consent screen, a user's grants).
    Frontend,
    /// May call ValidateAccess when a service credential is required.
    Service,
}

impl Role {
    fn bit(self) -> u8 {
        match self {
            Role::Admin => 1,
            Role::Frontend => 2,
            Role::Service => 4,
        }
    }
}

/// The roles one presented credential holds (a credential may be configured for several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    /// No role: an anonymous caller.
    pub const NONE: Roles = Roles(0);

    /// Whether `role` is among them.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// These roles plus admin (usable in constants).
    pub const fn with_admin(self) -> Roles {
        Roles(self.0 | 1)
    }

    /// These roles plus `role`.
    pub fn with(self, role: Role) -> Roles {
        Roles(self.0 | role.bit())
    }
}

/// A configured credential could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {role} credential hash is neither sha256:<64 hex digits> nor an argon2 PHC string: {reason}"
)]
pub struct CredentialConfigError {
    role: &'static str,
    reason: String,
}

/// How many argon2-checked credentials are remembered: a handful of roles and
/// rotations, far more than any deployment has.
const REMEMBERED_LIMIT: usize = 64;

/// The prefix of a configured digest.
const DIGEST_PREFIX: &str = "sha256:";

/// The configured credentials and the memory of argon2 checks that matched.
#[derive(Debug)]
pub struct CallerCredentials {
    /// SHA-256 digests of generated credentials.
    digests: Vec<(Role, [u8; 32])>,
    /// Argon2 hashes of chosen credentials, with the role of each.
    chosen: Arc<[PhcHash]>,
    chosen_roles: Vec<Role>,
    remembered: RwLock<Vec<([u8; 32], Roles)>>,
    argon2: Arc<Argon2Pool>,
}

impl CallerCredentials {
    /// Reads the configured hashes (`sha256:<hex>` or argon2 PHC); any may be absent
    /// (that role is then never granted). Argon2 checks run on `argon2`.
    pub fn new(
        admin: Option<&str>,
        frontend: Option<&str>,
        service: Option<&str>,
        argon2: Arc<Argon2Pool>,
    ) -> Result<Self, CredentialConfigError> {
        let mut digests = Vec::new();
        let mut chosen = Vec::new();
        let mut chosen_roles = Vec::new();
        for (role, name, hash) in [
            (Role::Admin, "admin", admin),
            (Role::Frontend, "frontend", frontend),
            (Role::Service, "service", service),
        ] {
            let Some(hash) = hash.map(str::trim).filter(|h| !h.is_empty()) else {
                continue;
            };
            let refused = |reason: String| CredentialConfigError { role: name, reason };
            if let Some(hex_digest) = hash.strip_prefix(DIGEST_PREFIX) {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hex_digest, &mut digest)
                    .map_err(|e| refused(format!("the digest is not 64 hex digits: {e}")))?;
                digests.push((role, digest));
            } else {
                chosen.push(PhcHash::parse(hash).map_err(refused)?);
                chosen_roles.push(role);
            }
        }
        Ok(Self {
            digests,
            chosen: chosen.into(),
            chosen_roles,
            remembered: RwLock::new(Vec::new()),
            argon2,
        })
    }

    /// Argon2 checks run on this process's pool since start-up.
    pub fn argon2_checks(&self) -> u64 {
        self.argon2.checks()
    }

    /// Whether a credential is configured for `role`.
    pub fn is_configured(&self, role: Role) -> bool {
        self.digests.iter().any(|(r, _)| *r == role) || self.chosen_roles.contains(&role)
    }

    /// The roles `presented` holds. Generated credentials and remembered matches are
    /// answered in microseconds; otherwise, when chosen credentials are configured,
    /// argon2 decides on the bounded pool, which may refuse when saturated.
    pub async fn identify(&self, presented: &str) -> Result<Roles, Argon2Refusal> {
        if presented.is_empty() {
            return Ok(Roles::NONE);
        }
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let known = self.digested_roles(&digest);
        if known != Roles::NONE || self.chosen.is_empty() {
            return Ok(known);
        }
        let secret = SecretString::from(presented.to_owned());
        let matched = self
            .argon2
            .check(flight_key(&digest), &secret, self.chosen.clone())
            .await?;
        let roles = self
            .chosen_roles
            .iter()
            .enumerate()
            .filter(|(i, _)| matched & (1 << i) != 0)
            .fold(Roles::NONE, |roles, (_, role)| roles.with(*role));
        if roles != Roles::NONE {
            self.remember(digest, roles);
        }
        Ok(roles)
    }

    /// The roles of a configured digest or a remembered match. Scans every entry so
    /// the time taken does not depend on which one matched.
    fn digested_roles(&self, digest: &[u8; 32]) -> Roles {
        let mut roles = Roles::NONE;
        for (role, known) in &self.digests {
            if bool::from(known.ct_eq(digest)) {
                roles = roles.with(*role);
            }
        }
        let remembered = self.remembered.read().unwrap_or_else(|p| p.into_inner());
        for (known, remembered_roles) in remembered.iter() {
            if bool::from(known.ct_eq(digest)) {
                roles = Roles(roles.0 | remembered_roles.0);
            }
        }
        roles
    }

    fn remember(&self, digest: [u8; 32], roles: Roles) {
        let mut remembered = self.remembered.write().unwrap_or_else(|p| p.into_inner());
        if !remembered.iter().any(|(known, _)| known == &digest) {
            if remembered.len() >= REMEMBERED_LIMIT {
                remembered.remove(0);
            }
            remembered.push((digest, roles));
        }
    }
}

/// The pool's key for a caller-credential question: a digest of the digest, so it
/// cannot collide with a client secret's key.
fn flight_key(digest: &[u8; 32]) -> FlightKey {
    let mut hasher = Sha256::new();
    hasher.update(b"latchkey caller credential\0");
    hasher.update(digest);
    hasher.finalize().into()
}

/// The digest form of a generated credential, as configured: `sha256:<hex>`.
pub fn digest_credential(credential: &str) -> String {
    format!(
        "{DIGEST_PREFIX}{}",
        hex::encode(Sha256::digest(credential.as_bytes()))
    )
}

/// Hashes a credential a person chose with argon2 (`latchkey credential hash`).
pub fn hash_credential(credential: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(credential.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn pool() -> Arc<Argon2Pool> {
        Arc::new(Argon2Pool::with_limits(1, 1))
    }

    #[tokio::test]
    async fn a_generated_credential_is_known_by_its_digest_without_argon2() {
        let admin = digest_credential("admin-secret");
        let frontend = digest_credential("frontend-secret");
        let creds = CallerCredentials::new(Some(&admin), Some(&frontend), None, pool()).unwrap();
        let roles = creds.identify("frontend-secret").await.unwrap();
        assert!(roles.contains(Role::Frontend) && !roles.contains(Role::Admin));
        assert_eq!(creds.identify("wrong").await, Ok(Roles::NONE));
        assert_eq!(creds.identify("").await, Ok(Roles::NONE));
        assert_eq!(creds.argon2_checks(), 0);
        assert!(!creds.is_configured(Role::Service));
    }

    #[tokio::test]
    async fn a_flood_of_wrong_credentials_never_runs_argon2_when_only_digests_are_configured() {
        let service = digest_credential("service-secret");
        let creds = CallerCredentials::new(None, None, Some(&service), pool()).unwrap();
        for n in 0..1000 {
            let wrong = format!("wrong-{n}");
            assert_eq!(creds.identify(&wrong).await, Ok(Roles::NONE));
        }
        assert_eq!(creds.argon2_checks(), 0);
    }

    #[tokio::test]
    async fn a_chosen_credential_is_checked_once_with_argon2_and_then_remembered() {
        let admin = hash_credential("chosen admin passphrase").unwrap();
        let creds = CallerCredentials::new(Some(&admin), None, None, pool()).unwrap();
        let roles = creds.identify("chosen admin passphrase").await.unwrap();
        assert!(roles.contains(Role::Admin));
        assert_eq!(creds.identify("chosen admin passphrase").await, Ok(roles));
        assert_eq!(creds.argon2_checks(), 1);
        // A wrong credential is checked every time: nothing about it is remembered.
        assert_eq!(creds.identify("wrong").await, Ok(Roles::NONE));
        assert_eq!(creds.identify("wrong").await, Ok(Roles::NONE));
        assert_eq!(creds.argon2_checks(), 3);
    }

    #[tokio::test]
    async fn wrong_guesses_beyond_the_queue_are_refused_and_never_block_a_remembered_credential() {
        let admin = hash_credential("chosen admin passphrase").unwrap();
        let creds = Arc::new(CallerCredentials::new(Some(&admin), None, None, pool()).unwrap());
        creds.identify("chosen admin passphrase").await.unwrap();
        let guesses: Vec<_> = (0..16)
            .map(|n| {
                let creds = creds.clone();
                tokio::spawn(async move { creds.identify(&format!("guess-{n}")).await })
            })
            .collect();
        // While the guesses fill the pool, the remembered credential answers at once.
        let roles = creds.identify("chosen admin passphrase").await.unwrap();
        assert!(roles.contains(Role::Admin));
        let mut saturated = 0;
        for guess in guesses {
            match guess.await.unwrap() {
                Ok(roles) => assert_eq!(roles, Roles::NONE),
                Err(Argon2Refusal::Saturated) => saturated += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert!(
            saturated >= 10,
            "only {saturated} of 16 guesses were refused"
        );
    }

    #[test]
    fn a_configured_hash_that_is_neither_a_digest_nor_phc_is_refused_at_start() {
        for bad in ["plaintext-password", "sha256:abc", "sha256:"] {
            assert!(
                CallerCredentials::new(Some(bad), None, None, pool()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_digest_is_the_hex_sha256_of_the_credential() {
        assert_eq!(
            digest_credential("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
