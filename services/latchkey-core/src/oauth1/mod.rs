//! RFC 5849 (OAuth 1.0a) on the wire: reading a consumer's request, building its
//! signature base string, and verifying its signature. Pure functions only: no
//! storage, no clock, no policy (those live in [`crate::authority`]).

pub mod encoding;
pub mod keys;
pub mod request;
pub mod signature;

pub use keys::{ConsumerPublicKey, KeyError};
pub use request::{HttpRequest, OAuthRequest, ProtocolParams};

/// How a request is signed (RFC 5849 section 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    /// PKCS#1 v1.5 over SHA-1 with the consumer's RSA key, as Jira application links use.
    RsaSha1,
    /// HMAC-SHA1 keyed with the consumer secret and token secret.
    HmacSha1,
    /// The secrets themselves; only acceptable over TLS.
    Plaintext,
}

impl SignatureMethod {
    /// The `oauth_signature_method` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::RsaSha1 => "RSA-SHA1",
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::Plaintext => "PLAINTEXT",
        }
    }

    /// Parses the `oauth_signature_method` spelling (case-sensitive, as RFC 5849 names
    /// them).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "RSA-SHA1" => Some(SignatureMethod::RsaSha1),
            "HMAC-SHA1" => Some(SignatureMethod::HmacSha1),
            "PLAINTEXT" => Some(SignatureMethod::Plaintext),
            _ => None,
        }
    }
}
