//! A consumer's RSA public key, from what an admin pastes. STUB.

use rsa::RsaPublicKey;

/// Why pasted key material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// A parsed consumer public key and its normalised PEM (SubjectPublicKeyInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerPublicKey {
    /// The key, ready to verify with.
    pub key: RsaPublicKey,
    /// `-----BEGIN PUBLIC KEY-----` PEM of the key, what the store keeps.
    pub pem: String,
}

impl ConsumerPublicKey {
    /// Accepts a PEM public key (SubjectPublicKeyInfo or PKCS#1), an X.509 certificate
    /// (PEM), or bare base64 of a SubjectPublicKeyInfo DER as Jira's screen takes it.
    /// Refuses keys under 1024 bits.
    pub fn parse(text: &str) -> Result<ConsumerPublicKey, KeyError> {
        let _ = text;
        Err(KeyError("not implemented".into()))
    }
}
