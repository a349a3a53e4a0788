//! Sealing secrets that must stay recoverable.
//!
//! HMAC-SHA1 and PLAINTEXT need the consumer secret and token secret in the clear, so
//! they cannot be hashed; they are sealed with XChaCha20-Poly1305 under the configured
//! key instead. Each ciphertext is bound to its row by associated data (for example
//! `consumer:<key>`), so a ciphertext copied into another row does not open there.
//!
//! Layout: `version (1) || nonce (24) || ciphertext+tag`. The version byte leaves room
//! for key rotation.

use crate::secret::EncryptedSecret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

const VERSION: u8 = 1;

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    // HMAC takes a key of any length: the error arm is unreachable, and is there only
    // because the lints forbid `expect`.
    match <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}
const NONCE_LEN: usize = 24;

/// Why a key or a ciphertext was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The configured key is not 32 bytes of base64.
    #[error("the encryption key must be 32 bytes, base64-encoded ({0})")]
    BadKey(String),
    /// The ciphertext does not open with this key and context.
    #[error("a sealed secret does not open: wrong key, or the row was tampered with")]
    Unsealable,
}

/// Seals and opens secrets with one 256-bit key.
#[derive(Clone)]
pub struct SecretCipher {
    aead: XChaCha20Poly1305,
    /// The root of [`SecretCipher::derive_key`]: HMAC-SHA256 of a fixed label under the
    /// key, so derived keys never touch the sealing key itself.
    derivation_root: [u8; 32],
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

impl SecretCipher {
    /// A cipher from the configured base64 key.
    pub fn from_base64(key: &str) -> Result<Self, CipherError> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|e| CipherError::BadKey(e.to_string()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| CipherError::BadKey(format!("{} bytes", b.len())))?;
        Ok(Self::from_key(key))
    }

    /// A cipher from raw key bytes.
    pub fn from_key(key: [u8; 32]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(&key.into()),
            derivation_root: hmac_sha256(&key, b"latchkey derived keys v1"),
        }
    }

    /// A 256-bit key for one `purpose` (say, signing the web pages' form tokens),
    /// derived from the configured key: every replica that shares the key derives the
    /// same one, and no two purposes share one.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        hmac_sha256(&self.derivation_root, purpose.as_bytes())
    }

    /// A fresh random key, base64-encoded, for `latchkey` to generate a development key.
    pub fn generate_key() -> String {
        STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// Seals `secret`, bound to `context`.
    pub fn seal(&self, secret: &str, context: &str) -> Result<EncryptedSecret, CipherError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CipherError::Unsealable)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(EncryptedSecret(out))
    }

    /// Opens a sealed secret; fails if the key or the context differ.
    pub fn open(
        &self,
        sealed: &EncryptedSecret,
        context: &str,
    ) -> Result<SecretString, CipherError> {
        let bytes = &sealed.0;
        if bytes.len() < 1 + NONCE_LEN || bytes[0] != VERSION {
            return Err(CipherError::Unsealable);
        }
        let (nonce, body) = bytes[1..].split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CipherError::Unsealable)?;
        let text = String::from_utf8(plain).map_err(|_| CipherError::Unsealable)?;
        Ok(SecretString::from(text))
    }
}

/// Opens a secret and hands it to `f` without letting it escape.
pub fn with_opened<T>(
    cipher: &SecretCipher,
    sealed: &EncryptedSecret,
    context: &str,
    f: impl FnOnce(&str) -> T,
) -> Result<T, CipherError> {
    let secret = cipher.open(sealed, context)?;
    Ok(f(secret.expose_secret()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_the_key_and_the_purpose_only() {
        let key = SecretCipher::generate_key();
        let one = SecretCipher::from_base64(&key).unwrap();
        let same = SecretCipher::from_base64(&key).unwrap();
        let other = SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap();
        assert_eq!(one.derive_key("forms"), same.derive_key("forms"));
        assert_ne!(one.derive_key("forms"), one.derive_key("cookies"));
        assert_ne!(one.derive_key("forms"), other.derive_key("forms"));
    }

    #[test]
    fn a_sealed_secret_opens_with_the_same_key_and_context_only() {
        let cipher = SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap();
        let sealed = cipher.seal("kd94hf93k423kf44", "consumer:a").unwrap();
        assert!(!sealed.0.windows(16).any(|w| w == b"kd94hf93k423kf44"));
        assert_eq!(
            cipher.open(&sealed, "consumer:a").unwrap().expose_secret(),
            "kd94hf93k423kf44"
        );
        assert_eq!(
            cipher.open(&sealed, "consumer:b").unwrap_err(),
            CipherError::Unsealable
        );
        let other = SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap();
        assert_eq!(
            other.open(&sealed, "consumer:a").unwrap_err(),
            CipherError::Unsealable
        );
    }

    #[test]
    fn a_short_or_malformed_key_is_refused() {
        assert!(matches!(
            SecretCipher::from_base64("c2hvcnQ="),
            Err(CipherError::BadKey(_))
        ));
        assert!(matches!(
            SecretCipher::from_base64("not base64!"),
            Err(CipherError::BadKey(_))
        ));
    }

    #[test]
    fn truncated_ciphertext_is_refused_without_panicking() {
        let cipher = SecretCipher::from_key([7; 32]);
        assert!(cipher.open(&EncryptedSecret(vec![1, 2, 3]), "x").is_err());
        assert!(cipher.open(&EncryptedSecret(vec![]), "x").is_err());
    }
}
