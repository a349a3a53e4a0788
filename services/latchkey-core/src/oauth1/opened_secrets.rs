//! Shared secrets and access-token secrets, kept opened beside the records the hot
//! path caches, so that a validation does not unseal the same two secrets on every
//! call.
//!
//! An entry is keyed by its sealing context and remembers the sealed bytes it came
//! from: a secret that changed (a new ciphertext) is opened afresh, so an entry can
//! never answer for another secret. Entries live no longer than the records they sit
//! beside: they age out with the caches' time to live, and they go whenever the
//! caches forget their records (a consumer's change takes its shared secret and every
//! token secret; a revocation takes every token secret), on every replica. The cache
//! is bounded; each secret is a [`SecretString`], whose memory is zeroed when the last
//! holder drops it.

use crate::cipher::{CipherError, SecretCipher};
use crate::secret::EncryptedSecret;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The prefix of every access token's sealing context.
pub(crate) const ACCESS_TOKEN_CONTEXT: &str = "access_token:";

/// The most secrets kept: a consumer's and one per cached access token.
const CAPACITY: usize = 100_000;

#[derive(Debug)]
struct Opened {
    sealed: Vec<u8>,
    secret: Arc<SecretString>,
    at: Instant,
}

/// Opened secrets by sealing context.
#[derive(Debug)]
pub(crate) struct OpenedSecrets {
    entries: RwLock<HashMap<String, Opened>>,
    ttl: Duration,
}

impl OpenedSecrets {
    /// An empty cache whose entries live `ttl` at most.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            ttl,
        }
    }

    /// The secret sealed in `sealed` under `context`: kept, or opened and kept.
    pub(crate) fn open(
        &self,
        cipher: &SecretCipher,
        sealed: &EncryptedSecret,
        context: &str,
    ) -> Result<Arc<SecretString>, CipherError> {
        {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some(opened) = entries
                .get(context)
                .filter(|opened| opened.sealed == sealed.0 && opened.at.elapsed() < self.ttl)
            {
                return Ok(opened.secret.clone());
            }
        }
        let secret = Arc::new(cipher.open(sealed, context)?);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, opened| opened.at.elapsed() < self.ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            context.to_owned(),
            Opened {
                sealed: sealed.0.clone(),
                secret: secret.clone(),
                at: Instant::now(),
            },
        );
        Ok(secret)
    }

    /// Forgets the secret sealed under `context`.
    pub(crate) fn forget(&self, context: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.remove(context);
    }

    /// Forgets every access token's secret.
    pub(crate) fn forget_access_tokens(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|context, _| !context.starts_with(ACCESS_TOKEN_CONTEXT));
    }

    /// Forgets everything.
    pub(crate) fn forget_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether a secret is kept under `context`.
    #[cfg(test)]
    pub(crate) fn holds(&self, context: &str) -> bool {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.contains_key(context)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn cipher() -> SecretCipher {
        SecretCipher::from_key([9; 32])
    }

    #[test]
    fn a_kept_secret_answers_only_for_the_ciphertext_it_came_from() {
        let cipher = cipher();
        let secrets = OpenedSecrets::new(Duration::from_secs(60));
        let first = cipher.seal("first", "consumer:jira").unwrap();
        let opened = secrets.open(&cipher, &first, "consumer:jira").unwrap();
        assert_eq!(opened.expose_secret(), "first");
        // A replaced secret under the same context is opened afresh, never served stale.
        let second = cipher.seal("second", "consumer:jira").unwrap();
        let opened = secrets.open(&cipher, &second, "consumer:jira").unwrap();
        assert_eq!(opened.expose_secret(), "second");
        assert_eq!(secrets.len(), 1);
        // A ciphertext sealed under another context does not open here.
        assert!(secrets.open(&cipher, &second, "consumer:other").is_err());
    }

    #[test]
    fn a_revocation_takes_every_token_secret_and_a_consumer_change_its_own() {
        let cipher = cipher();
        let secrets = OpenedSecrets::new(Duration::from_secs(60));
        let token = format!("{ACCESS_TOKEN_CONTEXT}1");
        let sealed_token = cipher.seal("token secret", &token).unwrap();
        let sealed_consumer = cipher.seal("shared", "consumer:jira").unwrap();
        secrets.open(&cipher, &sealed_token, &token).unwrap();
        secrets
            .open(&cipher, &sealed_consumer, "consumer:jira")
            .unwrap();
        secrets.forget_access_tokens();
        assert_eq!(secrets.len(), 1, "the consumer's secret stays");
        secrets.forget("consumer:jira");
        assert_eq!(secrets.len(), 0);
    }

    #[test]
    fn an_entry_older_than_the_records_it_sits_beside_is_opened_again() {
        let cipher = cipher();
        let secrets = OpenedSecrets::new(Duration::ZERO);
        let sealed = cipher.seal("s", "consumer:jira").unwrap();
        let one = secrets.open(&cipher, &sealed, "consumer:jira").unwrap();
        let two = secrets.open(&cipher, &sealed, "consumer:jira").unwrap();
        assert!(!Arc::ptr_eq(&one, &two), "expired at once, so opened twice");
        let secrets = OpenedSecrets::new(Duration::from_secs(60));
        let one = secrets.open(&cipher, &sealed, "consumer:jira").unwrap();
        let two = secrets.open(&cipher, &sealed, "consumer:jira").unwrap();
        assert!(Arc::ptr_eq(&one, &two), "kept, so opened once");
    }
}
