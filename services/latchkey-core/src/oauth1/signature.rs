//! Signature verification (RFC 5849 section 3.4) for RSA-SHA1, HMAC-SHA1 and
//! PLAINTEXT. Every comparison of secret material is constant-time. STUB.

use rsa::RsaPublicKey;

/// Verifies an HMAC-SHA1 `signature` (base64, decoded from the request) over
/// `base_string` keyed with `encode(consumer_secret)&encode(token_secret)`.
pub fn verify_hmac_sha1(
    base_string: &str,
    consumer_secret: &str,
    token_secret: &str,
    signature: &str,
) -> bool {
    let _ = (base_string, consumer_secret, token_secret, signature);
    false
}

/// Computes an HMAC-SHA1 signature (base64), for the RFC vectors and for tests.
pub fn sign_hmac_sha1(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let _ = (base_string, consumer_secret, token_secret);
    String::new()
}

/// Verifies a PLAINTEXT signature: `encode(consumer_secret)&encode(token_secret)`.
pub fn verify_plaintext(consumer_secret: &str, token_secret: &str, signature: &str) -> bool {
    let _ = (consumer_secret, token_secret, signature);
    false
}

/// Verifies an RSA-SHA1 (PKCS#1 v1.5, SHA-1) `signature` (base64) over `base_string`.
pub fn verify_rsa_sha1(base_string: &str, key: &RsaPublicKey, signature: &str) -> bool {
    let _ = (base_string, key, signature);
    false
}
