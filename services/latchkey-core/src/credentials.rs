//! Who is calling: the admin, a trusted web frontend, or an internal service.
//!
//! Each role's credential is configured only as an argon2 hash (PHC string). A
//! presented credential is checked with argon2 once; a match is then remembered as the
//! SHA-256 of the credential, so calls on the hot path pay for a hash and a
//! constant-time comparison, never for argon2 again. Only matches are remembered, and
//! only a bounded number of them.
//!
//! Argon2 checks run one at a time. Each takes about 19 MiB and tens of milliseconds:
//! a server restarted under load would otherwise see every in-flight caller present
//! the same new credential at once and run that many checks side by side (64 callers
//! took the resident size past 2 GiB). In line, the first check remembers the
//! credential and every caller queued behind it finds it remembered. Wrong credentials
//! are never remembered, so a caller flooding with them is also held to one check at
//! a time.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
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
#[error("the {role} credential hash is not an argon2 PHC string: {reason}")]
pub struct CredentialConfigError {
    role: &'static str,
    reason: String,
}

const CACHE_LIMIT: usize = 64;

/// The configured credentials and the memory of credentials already checked.
#[derive(Debug)]
pub struct CallerCredentials {
    hashes: Vec<(Role, String)>,
    remembered: RwLock<Vec<([u8; 32], Roles)>>,
    /// Held for each argon2 check: one at a time, see the module documentation.
    argon2_turn: Mutex<()>,
    /// Argon2 checks run since start-up.
    argon2_checks: AtomicU64,
}

impl CallerCredentials {
    /// Reads the configured PHC hashes; any may be absent (that role is then never
    /// granted).
    pub fn new(
        admin: Option<&str>,
        frontend: Option<&str>,
        service: Option<&str>,
    ) -> Result<Self, CredentialConfigError> {
        let mut hashes = Vec::new();
        for (role, name, hash) in [
            (Role::Admin, "admin", admin),
            (Role::Frontend, "frontend", frontend),
            (Role::Service, "service", service),
        ] {
            if let Some(hash) = hash.map(str::trim).filter(|h| !h.is_empty()) {
                PasswordHash::new(hash).map_err(|e| CredentialConfigError {
                    role: name,
                    reason: e.to_string(),
                })?;
                hashes.push((role, hash.to_owned()));
            }
        }
        Ok(Self {
            hashes,
            remembered: RwLock::new(Vec::new()),
            argon2_turn: Mutex::new(()),
            argon2_checks: AtomicU64::new(0),
        })
    }

    /// Argon2 checks run since start-up (each checks every configured hash).
    pub fn argon2_checks(&self) -> u64 {
        self.argon2_checks.load(Ordering::Relaxed)
    }

    /// Whether a credential is configured for `role`.
    pub fn is_configured(&self, role: Role) -> bool {
        self.hashes.iter().any(|(r, _)| *r == role)
    }

    /// The roles of a credential already checked, without argon2; `None` when it has
    /// not been seen (call [`CallerCredentials::verify`] then, off the async runtime).
    pub fn remembered(&self, presented: &str) -> Option<Roles> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let remembered = self.remembered.read().unwrap_or_else(|p| p.into_inner());
        // Scan every entry so the time taken does not depend on which one matched.
        let mut found = None;
        for (known, roles) in remembered.iter() {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(*roles);
            }
        }
        found
    }

    /// Checks `presented` against every configured hash with argon2 (slow by design)
    /// and remembers a match. Blocks while another check runs, then answers from
    /// memory if that check remembered this credential.
    pub fn verify(&self, presented: &str) -> Roles {
        if presented.is_empty() {
            return Roles::NONE;
        }
        let _turn = self.argon2_turn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(roles) = self.remembered(presented) {
            return roles;
        }
        self.argon2_checks.fetch_add(1, Ordering::Relaxed);
        let mut roles = Roles::NONE;
        for (role, hash) in &self.hashes {
            let matches = PasswordHash::new(hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(presented.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            if matches {
                roles = roles.with(*role);
            }
        }
        if roles != Roles::NONE {
            let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
            let mut remembered = self.remembered.write().unwrap_or_else(|p| p.into_inner());
            if !remembered.iter().any(|(known, _)| known == &digest) {
                if remembered.len() >= CACHE_LIMIT {
                    remembered.remove(0);
                }
                remembered.push((digest, roles));
            }
        }
        roles
    }
}

/// Hashes a credential for configuration (`latchkey credential hash`).
pub fn hash_credential(credential: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(credential.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_checked_once_with_argon2_and_then_remembered() {
        let admin = hash_credential("admin-secret").unwrap();
        let frontend = hash_credential("frontend-secret").unwrap();
        let creds = CallerCredentials::new(Some(&admin), Some(&frontend), None).unwrap();
        assert_eq!(creds.remembered("frontend-secret"), None);
        let roles = creds.verify("frontend-secret");
        assert!(roles.contains(Role::Frontend) && !roles.contains(Role::Admin));
        assert_eq!(creds.remembered("frontend-secret"), Some(roles));
        assert_eq!(creds.verify("wrong"), Roles::NONE);
        assert_eq!(creds.remembered("wrong"), None);
        assert!(!creds.is_configured(Role::Service));
    }

    #[test]
    fn callers_presenting_one_new_credential_at_once_share_one_argon2_check() {
        let frontend = hash_credential("frontend-secret").unwrap();
        let creds = CallerCredentials::new(None, Some(&frontend), None).unwrap();
        let roles: Vec<Roles> = std::thread::scope(|scope| {
            let callers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| creds.verify("frontend-secret")))
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert!(
            roles.iter().all(|r| r.contains(Role::Frontend)),
            "{roles:?}"
        );
        assert_eq!(creds.argon2_checks(), 1);
        // A wrong credential is checked every time: nothing about it is remembered.
        assert_eq!(creds.verify("wrong"), Roles::NONE);
        assert_eq!(creds.verify("wrong"), Roles::NONE);
        assert_eq!(creds.argon2_checks(), 3);
    }

    #[test]
    fn a_configured_hash_that_is_not_phc_is_refused_at_start() {
        assert!(CallerCredentials::new(Some("plaintext-password"), None, None).is_err());
    }
}
