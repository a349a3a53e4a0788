//! Token values and secrets: how they are made, hashed, compared and kept.
//!
//! Token values are 256 bits from the OS RNG, shown to their holder once and stored
//! only as a SHA-256 hash ([`TokenHash`]): 256 random bits need no salt or slow hash,
//! and a database leak yields nothing usable. Secrets that must stay recoverable
//! (token secrets and consumer shared secrets, which HMAC-SHA1 needs in the clear) are
//! kept as [`EncryptedSecret`]s, sealed by [`crate::cipher::SecretCipher`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Where random bytes come from. The default is the OS RNG; tests may swap it.
pub trait Randomness: Send + Sync + 'static {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's RNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn fill(&self, buf: &mut [u8]) {
        rand::rngs::OsRng.fill_bytes(buf);
    }
}

/// A fresh token value: 32 random bytes, base64url without padding (43 characters).
pub fn new_token_value(randomness: &dyn Randomness) -> String {
    let mut bytes = [0u8; 32];
    randomness.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A verification code a person can type: `len` characters from an alphabet without
/// look-alikes (no 0/O, 1/I/L). 10 characters carry about 49 bits, and a request token
/// dies after a few wrong tries, so guessing is hopeless.
pub fn new_typable_code(randomness: &dyn Randomness, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(len);
    let mut byte = [0u8; 1];
    while out.len() < len {
        randomness.fill(&mut byte);
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - (256 % ALPHABET.len());
        if usize::from(byte[0]) < limit {
            out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    out
}

/// The SHA-256 of a token value: what the database keys tokens by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes a presented token value.
    pub fn of(value: &str) -> Self {
        Self(Sha256::digest(value.as_bytes()).into())
    }

    /// Rebuilds a hash read from storage.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares in constant time.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to correlate log lines; the hash is not a secret, but
        // there is no reason to print all of it.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A secret sealed with the configured key; opaque bytes to storage.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSecret(pub Vec<u8>);

impl fmt::Debug for EncryptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedSecret({} bytes)", self.0.len())
    }
}

/// Compares two strings in constant time (for their common length; lengths are not
/// secret here).
pub fn ct_eq_str(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_values_are_43_url_safe_characters_and_differ() {
        let a = new_token_value(&OsRandomness);
        let b = new_token_value(&OsRandomness);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn typable_codes_avoid_look_alike_characters() {
        let code = new_typable_code(&OsRandomness, 200);
        assert_eq!(code.len(), 200);
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
    }

    #[test]
    fn token_hash_debug_prints_only_a_prefix() {
        let hash = TokenHash::of("secret-token");
        let printed = format!("{hash:?}");
        assert!(printed.len() < 30, "{printed}");
        assert!(hash.ct_eq(&TokenHash::of("secret-token")));
        assert!(!hash.ct_eq(&TokenHash::of("secret-tokem")));
    }
}
